using System.Numerics;
using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR, SHLD SHRD, and the flagless BMI2 forms
/// SHLX SHRX SARX RORX (SDM Vol. 1 §7.3.5 "Shift and Rotate Instructions").
/// </summary>
/// <remarks>
/// <para>The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes no
/// flags and writes nothing, except that a 32-bit register destination is still zero-extended
/// (the register is written), as on Intel and AMD parts.</para>
/// <para>Undefined flags (SDM Vol. 2B "SAL/SAR/SHL/SHR—Shift", "RCL/RCR/ROL/ROR—Rotate",
/// "SHLD—Double Precision Shift Left", "SHRD—Double Precision Shift Right"): we use one formula
/// for every non-zero count, the one the SDM gives for a count of 1, as Bochs models Intel parts:
/// SHL/SHLD/ROL/RCL OF = CF XOR MSB(result); SHR/SHRD/ROR/RCR OF = MSB(result) XOR
/// MSB-1(result) (for SHR that is 0 for counts above 1); SAR OF = 0. A SHL/SHR count at or above
/// the operand width (8- and 16-bit only) shifts a wide register: the result is 0 and CF is the
/// bit shifted out last, 0 once the count exceeds the width. A 16-bit SHLD/SHRD count above 16
/// shifts the 48-bit concatenation dest:src:src (SHRD: src:src:dest), as P6 and later parts do.
/// The differential survey on an AMD Zen host agrees with all of these; it differs only where
/// this model follows Bochs: AMD sets AF to 1 after SHL/SHR/SAR/SHLD/SHRD (we clear it), and
/// computes OF for an 8/16-bit RCL/RCR whose count is a non-zero multiple of 9/17 (we leave it).</para>
/// </remarks>
internal static unsafe partial class Handlers
{
    static partial void RegisterShift(HandlerFn[] t)
    {
        Set(t, &Rol, Code.Rol_rm8_imm8, Code.Rol_rm16_imm8, Code.Rol_rm32_imm8, Code.Rol_rm64_imm8,
            Code.Rol_rm8_1, Code.Rol_rm16_1, Code.Rol_rm32_1, Code.Rol_rm64_1,
            Code.Rol_rm8_CL, Code.Rol_rm16_CL, Code.Rol_rm32_CL, Code.Rol_rm64_CL);
        Set(t, &Ror, Code.Ror_rm8_imm8, Code.Ror_rm16_imm8, Code.Ror_rm32_imm8, Code.Ror_rm64_imm8,
            Code.Ror_rm8_1, Code.Ror_rm16_1, Code.Ror_rm32_1, Code.Ror_rm64_1,
            Code.Ror_rm8_CL, Code.Ror_rm16_CL, Code.Ror_rm32_CL, Code.Ror_rm64_CL);
        Set(t, &Rcl, Code.Rcl_rm8_imm8, Code.Rcl_rm16_imm8, Code.Rcl_rm32_imm8, Code.Rcl_rm64_imm8,
            Code.Rcl_rm8_1, Code.Rcl_rm16_1, Code.Rcl_rm32_1, Code.Rcl_rm64_1,
            Code.Rcl_rm8_CL, Code.Rcl_rm16_CL, Code.Rcl_rm32_CL, Code.Rcl_rm64_CL);
        Set(t, &Rcr, Code.Rcr_rm8_imm8, Code.Rcr_rm16_imm8, Code.Rcr_rm32_imm8, Code.Rcr_rm64_imm8,
            Code.Rcr_rm8_1, Code.Rcr_rm16_1, Code.Rcr_rm32_1, Code.Rcr_rm64_1,
            Code.Rcr_rm8_CL, Code.Rcr_rm16_CL, Code.Rcr_rm32_CL, Code.Rcr_rm64_CL);
        Set(t, &Shl, Code.Shl_rm8_imm8, Code.Shl_rm16_imm8, Code.Shl_rm32_imm8, Code.Shl_rm64_imm8,
            Code.Shl_rm8_1, Code.Shl_rm16_1, Code.Shl_rm32_1, Code.Shl_rm64_1,
            Code.Shl_rm8_CL, Code.Shl_rm16_CL, Code.Shl_rm32_CL, Code.Shl_rm64_CL,
            Code.Sal_rm8_imm8, Code.Sal_rm16_imm8, Code.Sal_rm32_imm8, Code.Sal_rm64_imm8,
            Code.Sal_rm8_1, Code.Sal_rm16_1, Code.Sal_rm32_1, Code.Sal_rm64_1,
            Code.Sal_rm8_CL, Code.Sal_rm16_CL, Code.Sal_rm32_CL, Code.Sal_rm64_CL);
        Set(t, &Shr, Code.Shr_rm8_imm8, Code.Shr_rm16_imm8, Code.Shr_rm32_imm8, Code.Shr_rm64_imm8,
            Code.Shr_rm8_1, Code.Shr_rm16_1, Code.Shr_rm32_1, Code.Shr_rm64_1,
            Code.Shr_rm8_CL, Code.Shr_rm16_CL, Code.Shr_rm32_CL, Code.Shr_rm64_CL);
        Set(t, &Sar, Code.Sar_rm8_imm8, Code.Sar_rm16_imm8, Code.Sar_rm32_imm8, Code.Sar_rm64_imm8,
            Code.Sar_rm8_1, Code.Sar_rm16_1, Code.Sar_rm32_1, Code.Sar_rm64_1,
            Code.Sar_rm8_CL, Code.Sar_rm16_CL, Code.Sar_rm32_CL, Code.Sar_rm64_CL);
        Set(t, &Shld, Code.Shld_rm16_r16_imm8, Code.Shld_rm32_r32_imm8, Code.Shld_rm64_r64_imm8,
            Code.Shld_rm16_r16_CL, Code.Shld_rm32_r32_CL, Code.Shld_rm64_r64_CL);
        Set(t, &Shrd, Code.Shrd_rm16_r16_imm8, Code.Shrd_rm32_r32_imm8, Code.Shrd_rm64_r64_imm8,
            Code.Shrd_rm16_r16_CL, Code.Shrd_rm32_r32_CL, Code.Shrd_rm64_r64_CL);
        Set(t, &Shlx, Code.VEX_Shlx_r32_rm32_r32, Code.VEX_Shlx_r64_rm64_r64);
        Set(t, &Shrx, Code.VEX_Shrx_r32_rm32_r32, Code.VEX_Shrx_r64_rm64_r64);
        Set(t, &Sarx, Code.VEX_Sarx_r32_rm32_r32, Code.VEX_Sarx_r64_rm64_r64);
        Set(t, &Rorx, Code.VEX_Rorx_r32_rm32_imm8, Code.VEX_Rorx_r64_rm64_imm8);
    }

    private enum ShiftOp
    {
        Rol,
        Ror,
        Rcl,
        Rcr,
        Shl,
        Shr,
        Sar,
    }

    internal static void Rol(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Rol);

    internal static void Ror(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Ror);

    internal static void Rcl(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Rcl);

    internal static void Rcr(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Rcr);

    internal static void Shl(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Shl);

    internal static void Shr(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Shr);

    internal static void Sar(Vcpu cpu, in Instruction i) => ShiftRotate(cpu, in i, ShiftOp.Sar);

    /// <summary><paramref name="x"/> shifted by <paramref name="n"/> in 0..64 (C# masks shift counts to 6 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ShlWide(ulong x, int n) => n >= 64 ? 0 : x << n;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ShrWide(ulong x, int n) => n >= 64 ? 0 : x >> n;

    /// <summary>Group-2 shift/rotate core; inlined into each handler so <paramref name="op"/> folds away.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShiftRotate(Vcpu cpu, in Instruction i, ShiftOp op)
    {
        int size = Vcpu.OpSize0(in i);
        // The count operand is imm8, the constant 1 or CL; all read as one byte.
        cpu.ReadOp(in i, 1, 1, out ulong countOp);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        int bits = size * 8;
        int count = (int)countOp & (size == 8 ? 0x3F : 0x1F);
        if (count == 0)
        {
            ZeroExtendNoOp(cpu, in i, size, a);
            return;
        }

        ref CpuState s = ref cpu.State;
        ulong mask = Vcpu.SizeMask(size);
        int msb = bits - 1;
        ulong r;
        ulong cf;
        ulong of;
        switch (op)
        {
            case ShiftOp.Shl:
                r = (a << count) & mask;
                cf = count <= bits ? (a >> (bits - count)) & 1 : 0;
                of = cf ^ (r >> msb);
                break;
            case ShiftOp.Shr:
                r = a >> count;
                cf = (a >> (count - 1)) & 1;
                of = count == 1 ? a >> msb : 0;
                break;
            case ShiftOp.Sar:
            {
                long sa = (long)Vcpu.SignExtend(a, size);
                r = (ulong)(sa >> count) & mask;
                cf = (ulong)(sa >> (count - 1)) & 1;
                of = 0;
                break;
            }
            case ShiftOp.Rol:
            {
                // SDM "RCL/RCR/ROL/ROR—Rotate": the rotation is count mod width, but CF and OF are
                // updated for any non-zero masked count.
                int c = count & (bits - 1);
                r = c == 0 ? a : ((a << c) | (a >> (bits - c))) & mask;
                cf = r & 1;
                of = cf ^ (r >> msb);
                break;
            }
            case ShiftOp.Ror:
            {
                int c = count & (bits - 1);
                r = c == 0 ? a : ((a >> c) | (a << (bits - c))) & mask;
                cf = r >> msb;
                of = cf ^ ((r >> (msb - 1)) & 1);
                break;
            }
            case ShiftOp.Rcl:
            {
                // The rotation runs through CF: width + 1 bits (mod 9 / mod 17 for 8/16-bit).
                int c = size switch
                {
                    1 => count % 9,
                    2 => count % 17,
                    _ => count,
                };
                if (c == 0)
                {
                    return;
                }
                ulong cin = s.Cf ? 1UL : 0;
                r = ((a << c) | (cin << (c - 1)) | ShrWide(a, bits + 1 - c)) & mask;
                cf = (a >> (bits - c)) & 1;
                of = cf ^ (r >> msb);
                break;
            }
            default:
            {
                int c = size switch
                {
                    1 => count % 9,
                    2 => count % 17,
                    _ => count,
                };
                if (c == 0)
                {
                    return;
                }
                ulong cin = s.Cf ? 1UL : 0;
                r = ((a >> c) | (cin << (bits - c)) | ShlWide(a, bits + 1 - c)) & mask;
                cf = (a >> (c - 1)) & 1;
                of = (r >> msb) ^ ((r >> (msb - 1)) & 1);
                break;
            }
        }
        if (!cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        ulong f = (cf != 0 ? CpuState.FlagCf : 0) | ((of & 1) != 0 ? CpuState.FlagOf : 0);
        if (op is ShiftOp.Rol or ShiftOp.Ror or ShiftOp.Rcl or ShiftOp.Rcr)
        {
            // Rotates affect only CF and OF.
            s.SetArith(CpuState.FlagCf | CpuState.FlagOf, f);
        }
        else
        {
            SetAllArith(ref s, f | SzpFlags(r, size));
        }
    }

    /// <summary>A masked count of 0 writes nothing, but a 32-bit register destination is zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ZeroExtendNoOp(Vcpu cpu, in Instruction i, int size, ulong value)
    {
        if (size == 4 && i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(i.Op0Register, value);
        }
    }

    // SDM Vol. 2B "SHLD—Double Precision Shift Left": dest shifted left, bits from src fill in.
    internal static void Shld(Vcpu cpu, in Instruction i) => DoubleShift(cpu, in i, left: true);

    // SDM Vol. 2B "SHRD—Double Precision Shift Right".
    internal static void Shrd(Vcpu cpu, in Instruction i) => DoubleShift(cpu, in i, left: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DoubleShift(Vcpu cpu, in Instruction i, bool left)
    {
        int size = Vcpu.OpSize0(in i);
        cpu.ReadOp(in i, 2, 1, out ulong countOp);
        ulong b = cpu.ReadGpr(i.Op1Register);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        int count = (int)countOp & (size == 8 ? 0x3F : 0x1F);
        if (count == 0)
        {
            ZeroExtendNoOp(cpu, in i, size, a);
            return;
        }
        int bits = size * 8;
        ulong mask = Vcpu.SizeMask(size);
        ulong r, cf, of;
        if (size == 2)
        {
            // Counts up to 31 on a 16-bit operand: shift the 48-bit value dest:src:src (SHLD) or
            // src:src:dest (SHRD); for counts up to 16 this is the architectural result.
            if (left)
            {
                ulong x = (a << 32) | (b << 16) | b;
                r = (x >> (32 - count)) & 0xFFFF;
                cf = (x >> (48 - count)) & 1;
                of = cf ^ (r >> 15);
            }
            else
            {
                ulong x = (b << 32) | (b << 16) | a;
                r = (x >> count) & 0xFFFF;
                cf = (x >> (count - 1)) & 1;
                of = (r >> 15) ^ ((r >> 14) & 1);
            }
        }
        else if (left)
        {
            r = ((a << count) | (b >> (bits - count))) & mask;
            cf = (a >> (bits - count)) & 1;
            of = cf ^ (r >> (bits - 1));
        }
        else
        {
            r = ((a >> count) | (b << (bits - count))) & mask;
            cf = (a >> (count - 1)) & 1;
            of = (r >> (bits - 1)) ^ ((r >> (bits - 2)) & 1);
        }
        if (!cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        ulong f = (cf != 0 ? CpuState.FlagCf : 0) | ((of & 1) != 0 ? CpuState.FlagOf : 0);
        SetAllArith(ref cpu.State, f | SzpFlags(r, size));
    }

    // SDM Vol. 2B "SARX/SHLX/SHRX—Shift Without Affecting Flags": count from the VEX.vvvv register,
    // masked to 5 or 6 bits; no flags.
    internal static void Shlx(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong a))
        {
            return;
        }
        int count = (int)cpu.ReadGpr(i.Op2Register) & (size == 8 ? 0x3F : 0x1F);
        cpu.WriteGpr(i.Op0Register, a << count);
    }

    internal static void Shrx(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong a))
        {
            return;
        }
        int count = (int)cpu.ReadGpr(i.Op2Register) & (size == 8 ? 0x3F : 0x1F);
        cpu.WriteGpr(i.Op0Register, a >> count);
    }

    internal static void Sarx(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong a))
        {
            return;
        }
        int count = (int)cpu.ReadGpr(i.Op2Register) & (size == 8 ? 0x3F : 0x1F);
        cpu.WriteGpr(i.Op0Register, (ulong)((long)Vcpu.SignExtend(a, size) >> count));
    }

    // SDM Vol. 2B "RORX—Rotate Right Logical Without Affecting Flags".
    internal static void Rorx(Vcpu cpu, in Instruction i)
    {
        if (!VexAllowed(cpu) || !ReadBmiSource(cpu, in i, out int size, out ulong a))
        {
            return;
        }
        int count = (int)i.GetImmediate(2);
        ulong r = size == 8
            ? BitOperations.RotateRight(a, count & 0x3F)
            : BitOperations.RotateRight((uint)a, count & 0x1F);
        cpu.WriteGpr(i.Op0Register, r);
    }

    /// <summary>
    /// VEX-encoded instructions are not recognized in real-address and virtual-8086 mode: #UD
    /// (SDM Vol. 2A "Type 13 Class Exception Conditions", which the BMI1/BMI2 pages refer to).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool VexAllowed(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode || s.V86)
        {
            cpu.RaiseUd();
            return false;
        }
        return true;
    }

    /// <summary>Reads operand 1 (register or memory) of a BMI instruction whose destination is a GPR.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ReadBmiSource(Vcpu cpu, in Instruction i, out int size, out ulong value)
    {
        size = Vcpu.GprSize(i.Op0Register);
        return cpu.ReadOp(in i, 1, size, out value);
    }
}
