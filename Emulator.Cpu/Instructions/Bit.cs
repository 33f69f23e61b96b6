using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Bit and byte instructions: BT BTS BTR BTC, BSF BSR, POPCNT LZCNT TZCNT, BSWAP MOVBE, BMI1
/// (ANDN BEXTR BLSI BLSMSK BLSR TZCNT), BMI2 (BZHI PDEP PEXT MULX), ADX (ADCX ADOX) and CRC32
/// (SDM Vol. 1 §7.3.7 "Bit and Byte Instructions").
/// </summary>
/// <remarks>
/// Undefined flags, as Bochs models Intel parts (the differential test masks them): BT/BTS/BTR/BTC
/// change only CF. BSF/BSR with a zero source set ZF and change nothing else, and the destination
/// keeps its whole old value (AMD documents it, Intel parts do the same in practice); with a non-zero
/// source CF, OF, SF and AF are cleared and PF is the parity of the index. LZCNT/TZCNT clear OF,
/// SF, AF and PF. The BMI1 instructions and BZHI set SF/ZF/PF from the result, clear AF and OF,
/// and set CF as the SDM defines per instruction. The survey on an AMD Zen host agrees except:
/// BSF/BSR with a zero source give PF = 1 and clear CF/OF/SF/AF, LZCNT/TZCNT keep OF, and BEXTR
/// sets AF.
/// </remarks>
internal static unsafe partial class Handlers
{
    static partial void RegisterBit(HandlerFn[] t)
    {
        Set(t, &Bt, Code.Bt_rm16_r16, Code.Bt_rm32_r32, Code.Bt_rm64_r64, Code.Bt_rm16_imm8, Code.Bt_rm32_imm8, Code.Bt_rm64_imm8);
        Set(t, &Bts, Code.Bts_rm16_r16, Code.Bts_rm32_r32, Code.Bts_rm64_r64, Code.Bts_rm16_imm8, Code.Bts_rm32_imm8, Code.Bts_rm64_imm8);
        Set(t, &Btr, Code.Btr_rm16_r16, Code.Btr_rm32_r32, Code.Btr_rm64_r64, Code.Btr_rm16_imm8, Code.Btr_rm32_imm8, Code.Btr_rm64_imm8);
        Set(t, &Btc, Code.Btc_rm16_r16, Code.Btc_rm32_r32, Code.Btc_rm64_r64, Code.Btc_rm16_imm8, Code.Btc_rm32_imm8, Code.Btc_rm64_imm8);
        Set(t, &Bsf, Code.Bsf_r16_rm16, Code.Bsf_r32_rm32, Code.Bsf_r64_rm64);
        Set(t, &Bsr, Code.Bsr_r16_rm16, Code.Bsr_r32_rm32, Code.Bsr_r64_rm64);
        Set(t, &Popcnt, Code.Popcnt_r16_rm16, Code.Popcnt_r32_rm32, Code.Popcnt_r64_rm64);
        Set(t, &Lzcnt, Code.Lzcnt_r16_rm16, Code.Lzcnt_r32_rm32, Code.Lzcnt_r64_rm64);
        Set(t, &Tzcnt, Code.Tzcnt_r16_rm16, Code.Tzcnt_r32_rm32, Code.Tzcnt_r64_rm64);
        Set(t, &Bswap, Code.Bswap_r16, Code.Bswap_r32, Code.Bswap_r64);
        Set(t, &Movbe_r_m, Code.Movbe_r16_m16, Code.Movbe_r32_m32, Code.Movbe_r64_m64);
        Set(t, &Movbe_m_r, Code.Movbe_m16_r16, Code.Movbe_m32_r32, Code.Movbe_m64_r64);
        Set(t, &Andn, Code.VEX_Andn_r32_r32_rm32, Code.VEX_Andn_r64_r64_rm64);
        Set(t, &Bextr, Code.VEX_Bextr_r32_rm32_r32, Code.VEX_Bextr_r64_rm64_r64);
        Set(t, &Blsi, Code.VEX_Blsi_r32_rm32, Code.VEX_Blsi_r64_rm64);
        Set(t, &Blsmsk, Code.VEX_Blsmsk_r32_rm32, Code.VEX_Blsmsk_r64_rm64);
        Set(t, &Blsr, Code.VEX_Blsr_r32_rm32, Code.VEX_Blsr_r64_rm64);
        Set(t, &Bzhi, Code.VEX_Bzhi_r32_rm32_r32, Code.VEX_Bzhi_r64_rm64_r64);
        Set(t, &Pdep, Code.VEX_Pdep_r32_r32_rm32, Code.VEX_Pdep_r64_r64_rm64);
        Set(t, &Pext, Code.VEX_Pext_r32_r32_rm32, Code.VEX_Pext_r64_r64_rm64);
        Set(t, &Mulx, Code.VEX_Mulx_r32_r32_rm32, Code.VEX_Mulx_r64_r64_rm64);
        Set(t, &Adcx, Code.Adcx_r32_rm32, Code.Adcx_r64_rm64);
        Set(t, &Adox, Code.Adox_r32_rm32, Code.Adox_r64_rm64);
        Set(t, &Crc32, Code.Crc32_r32_rm8, Code.Crc32_r32_rm16, Code.Crc32_r32_rm32, Code.Crc32_r64_rm8, Code.Crc32_r64_rm64);
    }

    // ------------------------------------------------------------------ BT, BTS, BTR, BTC

    private enum BitOp
    {
        Test,
        Set,
        Reset,
        Complement,
    }

    // SDM Vol. 2A "BT—Bit Test": CF ← the selected bit.
    internal static void Bt(Vcpu cpu, in Instruction i) => BitTest(cpu, in i, BitOp.Test);

    // SDM Vol. 2A "BTS—Bit Test and Set".
    internal static void Bts(Vcpu cpu, in Instruction i) => BitTest(cpu, in i, BitOp.Set);

    // SDM Vol. 2A "BTR—Bit Test and Reset".
    internal static void Btr(Vcpu cpu, in Instruction i) => BitTest(cpu, in i, BitOp.Reset);

    // SDM Vol. 2A "BTC—Bit Test and Complement".
    internal static void Btc(Vcpu cpu, in Instruction i) => BitTest(cpu, in i, BitOp.Complement);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BitTest(Vcpu cpu, in Instruction i, BitOp op)
    {
        int size = Vcpu.OpSize0(in i);
        int bits = size * 8;
        bool immediate = i.Op1Kind != OpKind.Register;
        ulong offset = immediate ? i.GetImmediate(1) : cpu.ReadGpr(i.Op1Register);
        ulong a;
        int bit;
        int seg = 0;
        ulong ea = 0;
        if (i.Op0Kind == OpKind.Register)
        {
            // A register bit base: the offset is taken modulo the operand width.
            a = cpu.ReadGpr(i.Op0Register);
            bit = (int)offset & (bits - 1);
        }
        else
        {
            seg = Vcpu.SegIndex(i.MemorySegment);
            ea = cpu.EffectiveAddress(in i);
            if (immediate)
            {
                // SDM "BT—Bit Test": an immediate offset is taken modulo the operand width.
                bit = (int)offset & (bits - 1);
            }
            else
            {
                // SDM "BT—Bit Test" bit-string addressing: a register offset is signed, selects the
                // operand-sized unit at ea + (offset SAR log2(width)) * size, then the bit within it.
                long signedOffset = (long)Vcpu.SignExtend(offset, size);
                ea += (ulong)((signedOffset >> BitOperations.Log2((uint)bits)) * size);
                ea = cpu.AddrSize switch
                {
                    64 => ea,
                    32 => (uint)ea,
                    _ => (ushort)ea,
                };
                bit = (int)signedOffset & (bits - 1);
            }
            bool ok = op == BitOp.Test
                ? cpu.ReadMem(seg, ea, size, out a)
                : cpu.ReadMemForWrite(seg, ea, size, out a);
            if (!ok)
            {
                return;
            }
        }

        ulong m = 1UL << bit;
        bool cf = (a & m) != 0;
        if (op != BitOp.Test)
        {
            ulong r = op switch
            {
                BitOp.Set => a | m,
                BitOp.Reset => a & ~m,
                _ => a ^ m,
            };
            if (i.Op0Kind == OpKind.Register)
            {
                cpu.WriteGpr(i.Op0Register, r);
            }
            else if (!cpu.WriteMem(seg, ea, size, r))
            {
                return;
            }
        }
        cpu.State.SetArith(CpuState.FlagCf, cf ? CpuState.FlagCf : 0);
    }

    // ------------------------------------------------------------------ scans and counts

    // SDM Vol. 2A "BSF—Bit Scan Forward": ZF = (source == 0); destination undefined on 0 (kept).
    internal static void Bsf(Vcpu cpu, in Instruction i) => BitScan(cpu, in i, forward: true);

    // SDM Vol. 2A "BSR—Bit Scan Reverse".
    internal static void Bsr(Vcpu cpu, in Instruction i) => BitScan(cpu, in i, forward: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BitScan(Vcpu cpu, in Instruction i, bool forward)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong src))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        if (src == 0)
        {
            s.SetArith(CpuState.FlagZf, CpuState.FlagZf);
            return;
        }
        ulong index = (ulong)(forward ? BitOperations.TrailingZeroCount(src) : BitOperations.Log2(src));
        cpu.WriteGpr(i.Op0Register, index);
        // ZF = 0 for a non-zero source even when the index is 0.
        SetAllArith(ref s, SzpFlags(index, size) & ~CpuState.FlagZf);
    }

    // SDM Vol. 2B "POPCNT—Return the Count of Number of Bits Set to 1": ZF = (source == 0), the
    // other five flags cleared.
    internal static void Popcnt(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong src))
        {
            return;
        }
        cpu.WriteGpr(i.Op0Register, (ulong)BitOperations.PopCount(src));
        SetAllArith(ref cpu.State, src == 0 ? CpuState.FlagZf : 0);
    }

    // SDM Vol. 2A "LZCNT—Count the Number of Leading Zero Bits": CF = (source == 0),
    // ZF = (result == 0); OF, SF, AF, PF undefined (cleared).
    internal static void Lzcnt(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong src))
        {
            return;
        }
        ulong count = (ulong)(BitOperations.LeadingZeroCount(src) - (64 - size * 8));
        cpu.WriteGpr(i.Op0Register, count);
        SetAllArith(ref cpu.State, (src == 0 ? CpuState.FlagCf : 0) | (count == 0 ? CpuState.FlagZf : 0));
    }

    // SDM Vol. 2B "TZCNT—Count the Number of Trailing Zero Bits": CF = (source == 0),
    // ZF = (result == 0); OF, SF, AF, PF undefined (cleared).
    internal static void Tzcnt(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong src))
        {
            return;
        }
        ulong count = src == 0 ? (ulong)(size * 8) : (ulong)BitOperations.TrailingZeroCount(src);
        cpu.WriteGpr(i.Op0Register, count);
        SetAllArith(ref cpu.State, (src == 0 ? CpuState.FlagCf : 0) | (count == 0 ? CpuState.FlagZf : 0));
    }

    // ------------------------------------------------------------------ byte order

    // SDM Vol. 2A "BSWAP—Byte Swap". With a 16-bit operand the result is undefined; Intel and AMD
    // parts swap the zero-extended word as a doubleword and keep the low half, i.e. write 0.
    internal static void Bswap(Vcpu cpu, in Instruction i)
    {
        Register r = i.Op0Register;
        ulong v = cpu.ReadGpr(r);
        ulong swapped = Vcpu.GprSize(r) switch
        {
            2 => 0,
            4 => BinaryPrimitives.ReverseEndianness((uint)v),
            _ => BinaryPrimitives.ReverseEndianness(v),
        };
        cpu.WriteGpr(r, swapped);
    }

    private static ulong ByteSwap(ulong v, int size) => size switch
    {
        2 => BinaryPrimitives.ReverseEndianness((ushort)v),
        4 => BinaryPrimitives.ReverseEndianness((uint)v),
        _ => BinaryPrimitives.ReverseEndianness(v),
    };

    // SDM Vol. 2B "MOVBE—Move Data After Swapping Bytes": register ← swap(memory).
    internal static void Movbe_r_m(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong v))
        {
            return;
        }
        cpu.WriteGpr(i.Op0Register, ByteSwap(v, size));
    }

    // SDM Vol. 2B "MOVBE—Move Data After Swapping Bytes": memory ← swap(register).
    internal static void Movbe_m_r(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op1Register);
        cpu.WriteOp0(in i, size, ByteSwap(cpu.ReadGpr(i.Op1Register), size));
    }

    // ------------------------------------------------------------------ BMI1

    /// <summary>SF/ZF/PF from the result, OF and AF clear, CF as given (BMI1 and BZHI).</summary>
    private static void SetBmiFlags(ref CpuState s, ulong result, int size, bool cf)
    {
        SetAllArith(ref s, SzpFlags(result, size) | (cf ? CpuState.FlagCf : 0));
    }

    // SDM Vol. 2A "ANDN—Logical AND NOT": dest ← ~src1 & src2; SF, ZF by result, OF = CF = 0.
    internal static void Andn(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!VexAllowed(cpu) || !cpu.ReadOp(in i, 2, size, out ulong b))
        {
            return;
        }
        ulong r = ~cpu.ReadGpr(i.Op1Register) & b & Vcpu.SizeMask(size);
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, false);
    }

    // SDM Vol. 2A "BEXTR—Bit Field Extract": start = control[7:0], length = control[15:8];
    // ZF by result, CF = OF = 0.
    internal static void Bextr(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong src))
        {
            return;
        }
        ulong control = cpu.ReadGpr(i.Op2Register);
        int start = (int)(control & 0xFF);
        int length = (int)((control >> 8) & 0xFF);
        int bits = size * 8;
        ulong r = start >= bits ? 0 : src >> start;
        if (length < bits)
        {
            r &= (1UL << length) - 1;
        }
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, false);
    }

    // SDM Vol. 2A "BLSI—Extract Lowest Set Isolated Bit": dest ← -src & src; CF = (src != 0).
    internal static void Blsi(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong src))
        {
            return;
        }
        ulong r = (0 - src) & src;
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, src != 0);
    }

    // SDM Vol. 2A "BLSMSK—Get Mask Up to Lowest Set Bit": dest ← (src - 1) ^ src; CF = (src == 0), ZF = 0.
    internal static void Blsmsk(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong src))
        {
            return;
        }
        ulong r = ((src - 1) ^ src) & Vcpu.SizeMask(size);
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, src == 0);
    }

    // SDM Vol. 2A "BLSR—Reset Lowest Set Bit": dest ← (src - 1) & src; CF = (src == 0).
    internal static void Blsr(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong src))
        {
            return;
        }
        ulong r = (src - 1) & src;
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, src == 0);
    }

    // ------------------------------------------------------------------ BMI2

    // SDM Vol. 2A "BZHI—Zero High Bits Starting with Specified Bit Position": n = index[7:0];
    // CF = (n > width - 1).
    internal static void Bzhi(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong src))
        {
            return;
        }
        int n = (int)(cpu.ReadGpr(i.Op2Register) & 0xFF);
        bool cf = n >= size * 8;
        ulong r = cf ? src : src & ((1UL << n) - 1);
        cpu.WriteGpr(i.Op0Register, r);
        SetBmiFlags(ref cpu.State, r, size, cf);
    }

    // SDM Vol. 2B "PDEP—Parallel Bits Deposit": no flags.
    internal static void Pdep(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!VexAllowed(cpu) || !cpu.ReadOp(in i, 2, size, out ulong mask))
        {
            return;
        }
        cpu.WriteGpr(i.Op0Register, ParallelBitDeposit(cpu.ReadGpr(i.Op1Register), mask));
    }

    // SDM Vol. 2B "PEXT—Parallel Bits Extract": no flags.
    internal static void Pext(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!VexAllowed(cpu) || !cpu.ReadOp(in i, 2, size, out ulong mask))
        {
            return;
        }
        cpu.WriteGpr(i.Op0Register, ParallelBitExtract(cpu.ReadGpr(i.Op1Register), mask));
    }

    /// <summary>PDEP on 64 bits (a 32-bit operand is the same with zero upper halves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ParallelBitDeposit(ulong src, ulong mask) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.ParallelBitDeposit(src, mask) : ParallelBitDepositScalar(src, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ParallelBitExtract(ulong src, ulong mask) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.ParallelBitExtract(src, mask) : ParallelBitExtractScalar(src, mask);

    /// <summary>Portable PDEP: source bits, low first, go to the set positions of the mask.</summary>
    internal static ulong ParallelBitDepositScalar(ulong src, ulong mask)
    {
        ulong r = 0;
        for (ulong bit = 1; mask != 0; bit <<= 1)
        {
            if ((src & bit) != 0)
            {
                r |= mask & (0 - mask);
            }
            mask &= mask - 1;
        }
        return r;
    }

    /// <summary>Portable PEXT: the bits at the set positions of the mask, packed low.</summary>
    internal static ulong ParallelBitExtractScalar(ulong src, ulong mask)
    {
        ulong r = 0;
        for (ulong bit = 1; mask != 0; bit <<= 1)
        {
            if ((src & mask & (0 - mask)) != 0)
            {
                r |= bit;
            }
            mask &= mask - 1;
        }
        return r;
    }

    // SDM Vol. 2B "MULX—Unsigned Multiply Without Affecting Flags": dest1:dest2 ← EDX/RDX * src.
    // When both destinations are the same register it receives the high half.
    internal static void Mulx(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!VexAllowed(cpu) || !cpu.ReadOp(in i, 2, size, out ulong b))
        {
            return;
        }
        ulong a = cpu.State.Gpr[2] & Vcpu.SizeMask(size);
        ulong hi, lo;
        if (size == 8)
        {
            hi = Math.BigMul(a, b, out lo);
        }
        else
        {
            ulong p = a * b;
            hi = p >> 32;
            lo = (uint)p;
        }
        cpu.WriteGpr(i.Op1Register, lo);
        cpu.WriteGpr(i.Op0Register, hi);
    }

    // ------------------------------------------------------------------ ADX

    // SDM Vol. 2A "ADCX—Unsigned Integer Addition of Two Operands With Carry Flag": only CF.
    internal static void Adcx(Vcpu cpu, in Instruction i) => AddCarryFlag(cpu, in i, CpuState.FlagCf);

    // SDM Vol. 2A "ADOX—Unsigned Integer Addition of Two Operands With Overflow Flag": OF as the carry.
    internal static void Adox(Vcpu cpu, in Instruction i) => AddCarryFlag(cpu, in i, CpuState.FlagOf);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddCarryFlag(Vcpu cpu, in Instruction i, ulong flag)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong b))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong cin = (flag == CpuState.FlagCf ? s.Cf : s.Of) ? 1UL : 0;
        ulong a = cpu.ReadGpr(i.Op0Register);
        ulong r;
        bool carry;
        if (size == 8)
        {
            r = a + b;
            carry = r < a;
            r += cin;
            carry |= r < cin;
        }
        else
        {
            ulong wide = a + b + cin;
            r = (uint)wide;
            carry = (wide >> 32) != 0;
        }
        cpu.WriteGpr(i.Op0Register, r);
        s.SetArith(flag, carry ? flag : 0);
    }

    // ------------------------------------------------------------------ CRC32

    // SDM Vol. 2A "CRC32—Accumulate CRC32 Value": CRC-32C (polynomial 11EDC6F41H) of the source,
    // accumulated into the low doubleword of the destination; a 64-bit destination is zero-extended.
    // No flags.
    internal static void Crc32(Vcpu cpu, in Instruction i)
    {
        int srcSize = i.Op1Kind == OpKind.Register ? Vcpu.GprSize(i.Op1Register) : Vcpu.MemSize[(int)i.MemorySize];
        if (!cpu.ReadOp(in i, 1, srcSize, out ulong v))
        {
            return;
        }
        uint crc = (uint)cpu.ReadGpr(i.Op0Register);
        crc = srcSize switch
        {
            1 => BitOperations.Crc32C(crc, (byte)v),
            2 => BitOperations.Crc32C(crc, (ushort)v),
            4 => BitOperations.Crc32C(crc, (uint)v),
            _ => BitOperations.Crc32C(crc, v),
        };
        cpu.WriteGpr(i.Op0Register, crc);
    }
}
