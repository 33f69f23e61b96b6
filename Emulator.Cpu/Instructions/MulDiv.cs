using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// MUL, IMUL (one-, two- and three-operand forms), DIV and IDIV
/// (SDM Vol. 1 §7.3.2.3 "Multiply and Divide Instructions").
/// </summary>
/// <remarks>
/// Undefined flags. MUL/IMUL define only CF and OF. For SF, ZF, AF and PF we follow what public
/// reports show for Intel Core parts: SF and PF from the low half of the product (the part written
/// to AL/AX/EAX/RAX or to the destination register), ZF and AF cleared. DIV/IDIV leave all six
/// flags undefined; we leave them unchanged, as Bochs does. Neither choice could be checked on
/// Intel silicon here (the differential test masks these flags; its survey shows an AMD Zen host
/// leaving SF/ZF/AF/PF unchanged after MUL/IMUL and all six unchanged after DIV/IDIV).
/// </remarks>
internal static unsafe partial class Handlers
{
    static partial void RegisterMulDiv(HandlerFn[] t)
    {
        Set(t, &Mul, Code.Mul_rm8, Code.Mul_rm16, Code.Mul_rm32, Code.Mul_rm64);
        Set(t, &Imul_rm, Code.Imul_rm8, Code.Imul_rm16, Code.Imul_rm32, Code.Imul_rm64);
        Set(t, &Imul_r_rm, Code.Imul_r16_rm16, Code.Imul_r32_rm32, Code.Imul_r64_rm64);
        Set(t, &Imul_r_rm_imm, Code.Imul_r16_rm16_imm16, Code.Imul_r32_rm32_imm32, Code.Imul_r64_rm64_imm32,
            Code.Imul_r16_rm16_imm8, Code.Imul_r32_rm32_imm8, Code.Imul_r64_rm64_imm8);
        Set(t, &Div, Code.Div_rm8, Code.Div_rm16, Code.Div_rm32, Code.Div_rm64);
        Set(t, &Idiv, Code.Idiv_rm8, Code.Idiv_rm16, Code.Idiv_rm32, Code.Idiv_rm64);
    }

    /// <summary>CF and OF as given, SF/PF from the low half, ZF/AF clear (see the remarks above).</summary>
    private static void SetMulFlags(ref CpuState s, ulong low, int size, bool overflow)
    {
        ulong f = SzpFlags(low, size) & ~CpuState.FlagZf;
        if (overflow)
        {
            f |= CpuState.FlagCf | CpuState.FlagOf;
        }
        SetAllArith(ref s, f);
    }

    // SDM Vol. 2B "MUL—Unsigned Multiply": AX ← AL * r/m8, DX:AX ← AX * r/m16, EDX:EAX, RDX:RAX;
    // CF = OF = (upper half != 0).
    internal static void Mul(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadOp(in i, 0, size, out ulong b))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong a = s.Gpr[0] & Vcpu.SizeMask(size);
        ulong lo, hi;
        switch (size)
        {
            case 1:
                lo = a * b;
                hi = lo >> 8;
                lo &= 0xFF;
                cpu.WriteGpr(Register.AX, (hi << 8) | lo);
                break;
            case 2:
                lo = a * b;
                hi = lo >> 16;
                lo &= 0xFFFF;
                cpu.WriteGpr(Register.AX, lo);
                cpu.WriteGpr(Register.DX, hi);
                break;
            case 4:
                lo = a * b;
                hi = lo >> 32;
                lo = (uint)lo;
                cpu.WriteGpr(Register.EAX, lo);
                cpu.WriteGpr(Register.EDX, hi);
                break;
            default:
                hi = Math.BigMul(a, b, out lo);
                s.Gpr[0] = lo;
                s.Gpr[2] = hi;
                break;
        }
        SetMulFlags(ref s, lo, size, hi != 0);
    }

    // SDM Vol. 2A "IMUL—Signed Multiply", one-operand form: CF = OF = (the upper half is not the
    // sign extension of the lower half).
    internal static void Imul_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadOp(in i, 0, size, out ulong bu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        long a = (long)Vcpu.SignExtend(s.Gpr[0], size);
        long b = (long)Vcpu.SignExtend(bu, size);
        ulong lo;
        bool overflow;
        switch (size)
        {
            case 1:
            {
                long p = a * b;
                lo = (byte)p;
                overflow = p != (sbyte)p;
                cpu.WriteGpr(Register.AX, (ulong)p & 0xFFFF);
                break;
            }
            case 2:
            {
                long p = a * b;
                lo = (ushort)p;
                overflow = p != (short)p;
                cpu.WriteGpr(Register.AX, lo);
                cpu.WriteGpr(Register.DX, (ulong)(p >> 16) & 0xFFFF);
                break;
            }
            case 4:
            {
                long p = a * b;
                lo = (uint)p;
                overflow = p != (int)p;
                cpu.WriteGpr(Register.EAX, lo);
                cpu.WriteGpr(Register.EDX, (ulong)(p >> 32) & 0xFFFF_FFFF);
                break;
            }
            default:
            {
                long hi = Math.BigMul(a, b, out long low);
                lo = (ulong)low;
                overflow = hi != (low >> 63);
                s.Gpr[0] = lo;
                s.Gpr[2] = (ulong)hi;
                break;
            }
        }
        SetMulFlags(ref s, lo, size, overflow);
    }

    // SDM Vol. 2A "IMUL—Signed Multiply", two-operand form: r ← r * r/m, truncated.
    internal static void Imul_r_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong b))
        {
            return;
        }
        ImulTruncated(cpu, in i, size, cpu.ReadGpr(i.Op0Register), b);
    }

    // SDM Vol. 2A "IMUL—Signed Multiply", three-operand form: r ← r/m * imm (imm8 sign-extended).
    internal static void Imul_r_rm_imm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        if (!cpu.ReadOp(in i, 1, size, out ulong a))
        {
            return;
        }
        ImulTruncated(cpu, in i, size, a, i.GetImmediate(2));
    }

    private static void ImulTruncated(Vcpu cpu, in Instruction i, int size, ulong au, ulong bu)
    {
        long a = (long)Vcpu.SignExtend(au, size);
        long b = (long)Vcpu.SignExtend(bu, size);
        ulong lo;
        bool overflow;
        if (size == 8)
        {
            long hi = Math.BigMul(a, b, out long low);
            lo = (ulong)low;
            overflow = hi != (low >> 63);
        }
        else
        {
            long p = a * b;
            lo = (ulong)p & Vcpu.SizeMask(size);
            overflow = p != (long)Vcpu.SignExtend(lo, size);
        }
        cpu.WriteGpr(i.Op0Register, lo);
        SetMulFlags(ref cpu.State, lo, size, overflow);
    }

    // SDM Vol. 2A "DIV—Unsigned Divide": #DE if the divisor is 0 or the quotient does not fit the
    // destination; flags undefined (left unchanged).
    internal static void Div(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadOp(in i, 0, size, out ulong divisor))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong mask = Vcpu.SizeMask(size);
        ulong lo, hi;
        if (size == 1)
        {
            lo = s.Gpr[0] & 0xFF;
            hi = (s.Gpr[0] >> 8) & 0xFF;
        }
        else
        {
            lo = s.Gpr[0] & mask;
            hi = s.Gpr[2] & mask;
        }
        // The quotient fits in one half exactly when the upper half of the dividend is below the
        // divisor; this also catches a zero divisor.
        if (hi >= divisor)
        {
            cpu.Raise(Vectors.DE);
            return;
        }
        ulong q, r;
        if (size == 8)
        {
            if (hi == 0)
            {
                (q, r) = Math.DivRem(lo, divisor);
            }
            else
            {
                UInt128 dividend = new(hi, lo);
                (UInt128 q128, UInt128 r128) = UInt128.DivRem(dividend, divisor);
                q = (ulong)q128;
                r = (ulong)r128;
            }
        }
        else
        {
            ulong dividend = (hi << (size * 8)) | lo;
            (q, r) = Math.DivRem(dividend, divisor);
        }
        WriteDivResult(cpu, size, q, r);
    }

    // SDM Vol. 2A "IDIV—Signed Divide": #DE if the divisor is 0 or the quotient is out of range
    // (which includes the most negative dividend divided by -1); quotient truncates toward zero,
    // the remainder has the sign of the dividend.
    internal static void Idiv(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadOp(in i, 0, size, out ulong divisorBits))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        long divisor = (long)Vcpu.SignExtend(divisorBits, size);
        if (divisor == 0)
        {
            cpu.Raise(Vectors.DE);
            return;
        }
        long q, r;
        if (size == 8)
        {
            ulong lo = s.Gpr[0];
            ulong hi = s.Gpr[2];
            if (hi == (ulong)((long)lo >> 63))
            {
                // The dividend fits in 64 bits: only long.MinValue / -1 overflows.
                long dividend = (long)lo;
                if (dividend == long.MinValue && divisor == -1)
                {
                    cpu.Raise(Vectors.DE);
                    return;
                }
                (q, r) = Math.DivRem(dividend, divisor);
            }
            else
            {
                // |dividend| >= 2^63 > |divisor| * 1, so divisor = -1 always overflows; otherwise
                // Int128 division cannot throw.
                if (divisor == -1)
                {
                    cpu.Raise(Vectors.DE);
                    return;
                }
                Int128 dividend = (Int128)new UInt128(hi, lo);
                (Int128 q128, Int128 r128) = Int128.DivRem(dividend, divisor);
                if (q128 < long.MinValue || q128 > long.MaxValue)
                {
                    cpu.Raise(Vectors.DE);
                    return;
                }
                q = (long)q128;
                r = (long)r128;
            }
        }
        else
        {
            long dividend = size switch
            {
                1 => (short)s.Gpr[0],
                2 => (int)(((s.Gpr[2] & 0xFFFF) << 16) | (s.Gpr[0] & 0xFFFF)),
                _ => (long)(((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF)),
            };
            if (dividend == long.MinValue && divisor == -1)
            {
                cpu.Raise(Vectors.DE);
                return;
            }
            (q, r) = Math.DivRem(dividend, divisor);
            if (q != (long)Vcpu.SignExtend((ulong)q, size))
            {
                cpu.Raise(Vectors.DE);
                return;
            }
        }
        ulong mask = Vcpu.SizeMask(size);
        WriteDivResult(cpu, size, (ulong)q & mask, (ulong)r & mask);
    }

    private static void WriteDivResult(Vcpu cpu, int size, ulong q, ulong r)
    {
        switch (size)
        {
            case 1:
                cpu.WriteGpr(Register.AX, (r << 8) | q);
                break;
            case 2:
                cpu.WriteGpr(Register.AX, q);
                cpu.WriteGpr(Register.DX, r);
                break;
            case 4:
                cpu.WriteGpr(Register.EAX, q);
                cpu.WriteGpr(Register.EDX, r);
                break;
            default:
                cpu.State.Gpr[0] = q;
                cpu.State.Gpr[2] = r;
                break;
        }
    }
}
