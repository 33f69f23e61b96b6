using System.Numerics;
using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT
/// (SDM Vol. 1 §7.3.2 "Binary Arithmetic Instructions", §7.3.4 "Logical Instructions").
/// Flags go through the lazy-flags API; LOCK validity is decided by the decoder (Iced decodes
/// a LOCK prefix on a register destination or on CMP/TEST as <see cref="Code.INVALID"/>, which
/// raises #UD as SDM Vol. 2A §2.1.1 "Instruction Prefixes" requires).
/// </summary>
internal static unsafe partial class Handlers
{
    static partial void RegisterAlu(HandlerFn[] t)
    {
        Set(t, &Add, Code.Add_rm8_r8, Code.Add_rm16_r16, Code.Add_rm32_r32, Code.Add_rm64_r64,
            Code.Add_r8_rm8, Code.Add_r16_rm16, Code.Add_r32_rm32, Code.Add_r64_rm64,
            Code.Add_AL_imm8, Code.Add_AX_imm16, Code.Add_EAX_imm32, Code.Add_RAX_imm32,
            Code.Add_rm8_imm8, Code.Add_rm8_imm8_82, Code.Add_rm16_imm16, Code.Add_rm32_imm32, Code.Add_rm64_imm32,
            Code.Add_rm16_imm8, Code.Add_rm32_imm8, Code.Add_rm64_imm8);
        Set(t, &Or, Code.Or_rm8_r8, Code.Or_rm16_r16, Code.Or_rm32_r32, Code.Or_rm64_r64,
            Code.Or_r8_rm8, Code.Or_r16_rm16, Code.Or_r32_rm32, Code.Or_r64_rm64,
            Code.Or_AL_imm8, Code.Or_AX_imm16, Code.Or_EAX_imm32, Code.Or_RAX_imm32,
            Code.Or_rm8_imm8, Code.Or_rm8_imm8_82, Code.Or_rm16_imm16, Code.Or_rm32_imm32, Code.Or_rm64_imm32,
            Code.Or_rm16_imm8, Code.Or_rm32_imm8, Code.Or_rm64_imm8);
        Set(t, &Adc, Code.Adc_rm8_r8, Code.Adc_rm16_r16, Code.Adc_rm32_r32, Code.Adc_rm64_r64,
            Code.Adc_r8_rm8, Code.Adc_r16_rm16, Code.Adc_r32_rm32, Code.Adc_r64_rm64,
            Code.Adc_AL_imm8, Code.Adc_AX_imm16, Code.Adc_EAX_imm32, Code.Adc_RAX_imm32,
            Code.Adc_rm8_imm8, Code.Adc_rm8_imm8_82, Code.Adc_rm16_imm16, Code.Adc_rm32_imm32, Code.Adc_rm64_imm32,
            Code.Adc_rm16_imm8, Code.Adc_rm32_imm8, Code.Adc_rm64_imm8);
        Set(t, &Sbb, Code.Sbb_rm8_r8, Code.Sbb_rm16_r16, Code.Sbb_rm32_r32, Code.Sbb_rm64_r64,
            Code.Sbb_r8_rm8, Code.Sbb_r16_rm16, Code.Sbb_r32_rm32, Code.Sbb_r64_rm64,
            Code.Sbb_AL_imm8, Code.Sbb_AX_imm16, Code.Sbb_EAX_imm32, Code.Sbb_RAX_imm32,
            Code.Sbb_rm8_imm8, Code.Sbb_rm8_imm8_82, Code.Sbb_rm16_imm16, Code.Sbb_rm32_imm32, Code.Sbb_rm64_imm32,
            Code.Sbb_rm16_imm8, Code.Sbb_rm32_imm8, Code.Sbb_rm64_imm8);
        Set(t, &And, Code.And_rm8_r8, Code.And_rm16_r16, Code.And_rm32_r32, Code.And_rm64_r64,
            Code.And_r8_rm8, Code.And_r16_rm16, Code.And_r32_rm32, Code.And_r64_rm64,
            Code.And_AL_imm8, Code.And_AX_imm16, Code.And_EAX_imm32, Code.And_RAX_imm32,
            Code.And_rm8_imm8, Code.And_rm8_imm8_82, Code.And_rm16_imm16, Code.And_rm32_imm32, Code.And_rm64_imm32,
            Code.And_rm16_imm8, Code.And_rm32_imm8, Code.And_rm64_imm8);
        Set(t, &Sub, Code.Sub_rm8_r8, Code.Sub_rm16_r16, Code.Sub_rm32_r32, Code.Sub_rm64_r64,
            Code.Sub_r8_rm8, Code.Sub_r16_rm16, Code.Sub_r32_rm32, Code.Sub_r64_rm64,
            Code.Sub_AL_imm8, Code.Sub_AX_imm16, Code.Sub_EAX_imm32, Code.Sub_RAX_imm32,
            Code.Sub_rm8_imm8, Code.Sub_rm8_imm8_82, Code.Sub_rm16_imm16, Code.Sub_rm32_imm32, Code.Sub_rm64_imm32,
            Code.Sub_rm16_imm8, Code.Sub_rm32_imm8, Code.Sub_rm64_imm8);
        Set(t, &Xor, Code.Xor_rm8_r8, Code.Xor_rm16_r16, Code.Xor_rm32_r32, Code.Xor_rm64_r64,
            Code.Xor_r8_rm8, Code.Xor_r16_rm16, Code.Xor_r32_rm32, Code.Xor_r64_rm64,
            Code.Xor_AL_imm8, Code.Xor_AX_imm16, Code.Xor_EAX_imm32, Code.Xor_RAX_imm32,
            Code.Xor_rm8_imm8, Code.Xor_rm8_imm8_82, Code.Xor_rm16_imm16, Code.Xor_rm32_imm32, Code.Xor_rm64_imm32,
            Code.Xor_rm16_imm8, Code.Xor_rm32_imm8, Code.Xor_rm64_imm8);
        Set(t, &Cmp, Code.Cmp_rm8_r8, Code.Cmp_rm16_r16, Code.Cmp_rm32_r32, Code.Cmp_rm64_r64,
            Code.Cmp_r8_rm8, Code.Cmp_r16_rm16, Code.Cmp_r32_rm32, Code.Cmp_r64_rm64,
            Code.Cmp_AL_imm8, Code.Cmp_AX_imm16, Code.Cmp_EAX_imm32, Code.Cmp_RAX_imm32,
            Code.Cmp_rm8_imm8, Code.Cmp_rm8_imm8_82, Code.Cmp_rm16_imm16, Code.Cmp_rm32_imm32, Code.Cmp_rm64_imm32,
            Code.Cmp_rm16_imm8, Code.Cmp_rm32_imm8, Code.Cmp_rm64_imm8);
        Set(t, &Test, Code.Test_rm8_r8, Code.Test_rm16_r16, Code.Test_rm32_r32, Code.Test_rm64_r64,
            Code.Test_AL_imm8, Code.Test_AX_imm16, Code.Test_EAX_imm32, Code.Test_RAX_imm32,
            Code.Test_rm8_imm8, Code.Test_rm8_imm8_F6r1, Code.Test_rm16_imm16, Code.Test_rm32_imm32, Code.Test_rm64_imm32,
            Code.Test_rm16_imm16_F7r1, Code.Test_rm32_imm32_F7r1, Code.Test_rm64_imm32_F7r1);
        Set(t, &Inc, Code.Inc_r16, Code.Inc_r32, Code.Inc_rm8, Code.Inc_rm16, Code.Inc_rm32, Code.Inc_rm64);
        Set(t, &Dec, Code.Dec_r16, Code.Dec_r32, Code.Dec_rm8, Code.Dec_rm16, Code.Dec_rm32, Code.Dec_rm64);
        Set(t, &Neg, Code.Neg_rm8, Code.Neg_rm16, Code.Neg_rm32, Code.Neg_rm64);
        Set(t, &Not, Code.Not_rm8, Code.Not_rm16, Code.Not_rm32, Code.Not_rm64);
    }

    private enum AluOp
    {
        Add,
        Or,
        Adc,
        Sbb,
        And,
        Sub,
        Xor,
        Cmp,
        Test,
    }

    // SDM Vol. 2A "ADD—Add": OF, SF, ZF, AF, CF, PF set according to the result.
    internal static void Add(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Add);

    // SDM Vol. 2A "ADC—Add With Carry".
    internal static void Adc(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Adc);

    // SDM Vol. 2B "SUB—Subtract".
    internal static void Sub(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Sub);

    // SDM Vol. 2B "SBB—Integer Subtraction With Borrow".
    internal static void Sbb(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Sbb);

    // SDM Vol. 2A "CMP—Compare Two Operands": flags as SUB, no write.
    internal static void Cmp(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Cmp);

    // SDM Vol. 2A "AND—Logical AND": OF, CF cleared; SF, ZF, PF by result; AF undefined (cleared, see LazyFlags).
    internal static void And(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.And);

    // SDM Vol. 2B "OR—Logical Inclusive OR".
    internal static void Or(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Or);

    // SDM Vol. 2C "XOR—Logical Exclusive OR".
    internal static void Xor(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Xor);

    // SDM Vol. 2B "TEST—Logical Compare": flags as AND, no write.
    internal static void Test(Vcpu cpu, in Instruction i) => Binary(cpu, in i, AluOp.Test);

    /// <summary>Two-operand ALU core; inlined into each handler so <paramref name="op"/> folds away.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Binary(Vcpu cpu, in Instruction i, AluOp op)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadOp(in i, 1, size, out ulong b))
        {
            return;
        }
        ulong a;
        bool writes = op is not (AluOp.Cmp or AluOp.Test);
        if (writes)
        {
            if (!cpu.ReadRmw(in i, size, out a))
            {
                return;
            }
        }
        else if (!cpu.ReadOp(in i, 0, size, out a))
        {
            return;
        }

        ref CpuState s = ref cpu.State;
        bool carry = op is AluOp.Adc or AluOp.Sbb && s.Cf;
        ulong r = op switch
        {
            AluOp.Add => a + b,
            AluOp.Adc => a + b + (carry ? 1UL : 0),
            AluOp.Sub or AluOp.Cmp => a - b,
            AluOp.Sbb => a - b - (carry ? 1UL : 0),
            AluOp.And or AluOp.Test => a & b,
            AluOp.Or => a | b,
            _ => a ^ b,
        };
        if (writes && !cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        switch (op)
        {
            case AluOp.Add:
                s.SetLazy(FlagOp.Add, size, r, a, b);
                break;
            case AluOp.Adc:
                s.SetLazy(FlagOp.Adc, size, r, a, b);
                s.Lazy.CarryIn = carry;
                break;
            case AluOp.Sub:
            case AluOp.Cmp:
                s.SetLazy(FlagOp.Sub, size, r, a, b);
                break;
            case AluOp.Sbb:
                s.SetLazy(FlagOp.Sbb, size, r, a, b);
                s.Lazy.CarryIn = carry;
                break;
            default:
                s.SetLazy(FlagOp.Logic, size, r, 0, 0);
                break;
        }
    }

    // SDM Vol. 2A "INC—Increment by 1": CF not affected; OF, SF, ZF, AF, PF by result.
    internal static void Inc(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        ulong r = a + 1;
        if (!cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        cpu.State.SetLazyKeepCf(FlagOp.Inc, size, r, a);
    }

    // SDM Vol. 2A "DEC—Decrement by 1": CF not affected.
    internal static void Dec(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        ulong r = a - 1;
        if (!cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        cpu.State.SetLazyKeepCf(FlagOp.Dec, size, r, a);
    }

    // SDM Vol. 2B "NEG—Two's Complement Negation": CF = (source != 0); others as 0 - source.
    internal static void Neg(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        ulong r = 0 - a;
        if (!cpu.WriteOp0(in i, size, r))
        {
            return;
        }
        // As SUB 0, a: borrow (CF) is exactly a != 0 at every size.
        cpu.State.SetLazy(FlagOp.Sub, size, r, 0, a);
    }

    // SDM Vol. 2B "NOT—One's Complement Negation": no flags affected.
    internal static void Not(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (!cpu.ReadRmw(in i, size, out ulong a))
        {
            return;
        }
        cpu.WriteOp0(in i, size, ~a);
    }

    // ------------------------------------------------------------------ eager flag helpers

    /// <summary>SF, ZF and PF of a <paramref name="size"/>-byte result (SDM Vol. 1 §3.4.3.1 "Status Flags").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SzpFlags(ulong result, int size)
    {
        ulong f = ((result >> (size * 8 - 1)) & 1) != 0 ? CpuState.FlagSf : 0;
        if ((result & Vcpu.SizeMask(size)) == 0)
        {
            f |= CpuState.FlagZf;
        }
        if ((BitOperations.PopCount(result & 0xFF) & 1) == 0)
        {
            f |= CpuState.FlagPf;
        }
        return f;
    }

    /// <summary>
    /// Replaces all six arithmetic flags. Equivalent to <c>SetArith(ArithMask, flags)</c> without
    /// materializing the lazy flags first, since none of the old values survive.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetAllArith(ref CpuState s, ulong flags)
    {
        s.Lazy.Op = FlagOp.None;
        s.Rflags = (s.Rflags & ~CpuState.ArithMask) | (flags & CpuState.ArithMask);
    }
}
