using Emulator.Cpu;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>x87 FPU handlers: loads and stores, arithmetic, compares, status word, stack faults, environment images.</summary>
public class X87Tests
{
    private const ulong Data = CpuHarness.DataAddress;
    private const ushort C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;

    private static void PutDouble(CpuHarness h, ulong pa, double v) => h.Memory.Write(pa, 8, BitConverter.DoubleToUInt64Bits(v));

    private static double GetDouble(CpuHarness h, ulong pa) => BitConverter.UInt64BitsToDouble(h.Memory.Read(pa, 8));

    private static ushort Fsw(CpuHarness h) => Handlers.GetFsw(ref h.Cpu.State);

    private static double St(CpuHarness h, int i) => h.Cpu.State.Fpr[(h.Cpu.State.FpTop + i) & 7];

    /// <summary>Loads <paramref name="values"/> so that the last one ends up in ST(0).</summary>
    private static CpuHarness WithStack(params double[] values)
    {
        var h = new CpuHarness();
        ref CpuState s = ref h.Cpu.State;
        foreach (double v in values)
        {
            s.FpTop = (s.FpTop + 7) & 7;
            s.Fpr[s.FpTop] = v;
            s.Ftw |= (byte)(1 << s.FpTop);
        }
        h[Register.RAX] = Data;
        return h;
    }

    [Test]
    public void Fninit_ResetsControlStatusAndTags()
    {
        using var h = new CpuHarness();
        ref CpuState s = ref h.Cpu.State;
        s.Fcw = 0;
        s.Fsw = 0xC7FF;
        s.FpTop = 3;
        s.Ftw = 0xFF;
        h[Register.RAX] = Data;
        h[Register.RBX] = ulong.MaxValue;
        h.Load(a =>
        {
            a.fninit();
            a.fnstcw(__word_ptr[rax]);
            a.fnstsw(ax);
        }).Run();
        Assert.That(h.Memory.Read(Data, 2), Is.EqualTo(0x37FUL));
        Assert.That(h[Register.RAX] & 0xFFFF, Is.Zero);
        Assert.That(s.Ftw, Is.Zero);
        Assert.That(s.FpTop, Is.Zero);
    }

    [Test]
    public void FldFaddpFstp_AddsDoublesAndEmptiesStack()
    {
        using var h = new CpuHarness();
        PutDouble(h, Data, 1.5);
        PutDouble(h, Data + 8, 2.25);
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.fninit();
            a.fld(__qword_ptr[rax]);
            a.fld(__qword_ptr[rax + 8]);
            a.faddp(st1, st0);
            a.fstp(__qword_ptr[rax + 16]);
        }).Run();
        Assert.That(GetDouble(h, Data + 16), Is.EqualTo(3.75));
        Assert.That(h.Cpu.State.Ftw, Is.Zero);
        Assert.That(h.Cpu.State.FpTop, Is.Zero);
    }

    public enum RegOp
    {
        FsubSt0Sti,
        FsubStiSt0,
        FsubrStiSt0,
        FdivSt0Sti,
        FdivrSt0Sti,
        Fsubp,
        Fsubrp,
        Fdivp,
        Fdivrp,
        Fmulp,
    }

    /// <summary>ST(0) = 4, ST(1) = 10: Intel operand order (dest ← dest op src; the R forms reverse).</summary>
    [TestCase(RegOp.FsubSt0Sti, 0, -6.0)]
    [TestCase(RegOp.FsubStiSt0, 1, 6.0)]
    [TestCase(RegOp.FsubrStiSt0, 1, -6.0)]
    [TestCase(RegOp.FdivSt0Sti, 0, 0.4)]
    [TestCase(RegOp.FdivrSt0Sti, 0, 2.5)]
    [TestCase(RegOp.Fsubp, 0, 6.0)]
    [TestCase(RegOp.Fsubrp, 0, -6.0)]
    [TestCase(RegOp.Fdivp, 0, 2.5)]
    [TestCase(RegOp.Fdivrp, 0, 0.4)]
    [TestCase(RegOp.Fmulp, 0, 40.0)]
    public void RegisterArithmetic_FollowsIntelOperandOrder(RegOp op, int resultIndex, double expected)
    {
        using var h = WithStack(10, 4);
        h.Load(a =>
        {
            switch (op)
            {
                case RegOp.FsubSt0Sti: a.fsub(st0, st1); break;
                case RegOp.FsubStiSt0: a.fsub(st1, st0); break;
                case RegOp.FsubrStiSt0: a.fsubr(st1, st0); break;
                case RegOp.FdivSt0Sti: a.fdiv(st0, st1); break;
                case RegOp.FdivrSt0Sti: a.fdivr(st0, st1); break;
                case RegOp.Fsubp: a.fsubp(st1, st0); break;
                case RegOp.Fsubrp: a.fsubrp(st1, st0); break;
                case RegOp.Fdivp: a.fdivp(st1, st0); break;
                case RegOp.Fdivrp: a.fdivrp(st1, st0); break;
                default: a.fmulp(st1, st0); break;
            }
        }).Run();
        Assert.That(St(h, resultIndex), Is.EqualTo(expected));
        int depth = op >= RegOp.Fsubp ? 1 : 2;
        Assert.That(System.Numerics.BitOperations.PopCount(h.Cpu.State.Ftw), Is.EqualTo(depth));
    }

    [Test]
    public void MemoryArithmetic_SingleDoubleAndIntegerOperands()
    {
        using var h = WithStack(10);
        h.Memory.Write(Data, 4, BitConverter.SingleToUInt32Bits(0.5f));
        PutDouble(h, Data + 8, 3.0);
        h.Memory.Write(Data + 16, 2, unchecked((ushort)-2));
        h.Memory.Write(Data + 20, 4, 7);
        h.Load(a =>
        {
            a.fadd(__dword_ptr[rax]);
            a.fmul(__qword_ptr[rax + 8]);
            a.fisub(__word_ptr[rax + 16]);
            a.fidivr(__dword_ptr[rax + 20]);
        }).Run();
        Assert.That(St(h, 0), Is.EqualTo(7.0 / 33.5));
    }

    [Test]
    public void FildFistp_RoundTripIntegers()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 4, unchecked((uint)-7));
        h.Memory.Write(Data + 8, 8, 0x0123456789ABCDEF);
        h.Memory.Write(Data + 16, 2, 0x7FFF);
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.fninit();
            a.fild(__dword_ptr[rax]);
            a.fistp(__word_ptr[rax + 32]);
            a.fild(__qword_ptr[rax + 8]);
            a.fistp(__qword_ptr[rax + 40]);
            a.fild(__word_ptr[rax + 16]);
            a.fist(__dword_ptr[rax + 48]);
        }).Run();
        Assert.That(h.Memory.Read(Data + 32, 2), Is.EqualTo(0xFFF9UL));
        Assert.That(h.Memory.Read(Data + 40, 8), Is.EqualTo(0x0123456789ABCDF0UL), "FILD m64 rounds to 53 bits (documented approximation)");
        Assert.That(h.Memory.Read(Data + 48, 4), Is.EqualTo(0x7FFFUL));
        Assert.That(St(h, 0), Is.EqualTo(32767.0));
    }

    [TestCase(0, 2.5, 2)]
    [TestCase(0, 3.5, 4)]
    [TestCase(1, 2.5, 2)]
    [TestCase(1, -2.5, -3)]
    [TestCase(2, 2.1, 3)]
    [TestCase(3, -2.9, -2)]
    public void Fistp_UsesFcwRoundingControl(int rc, double x, int expected)
    {
        using var h = WithStack(x);
        h.Memory.Write(Data, 2, (ulong)(0x37F | (rc << 10)));
        h.Load(a =>
        {
            a.fldcw(__word_ptr[rax]);
            a.fistp(__dword_ptr[rax + 8]);
        }).Run();
        Assert.That((int)h.Memory.Read(Data + 8, 4), Is.EqualTo(expected));
        Assert.That(Fsw(h) & 0x20, Is.EqualTo(x == Math.Round(x) ? 0 : 0x20), "#P");
    }

    [TestCase(2.7, 2)]
    [TestCase(-2.7, -2)]
    public void Fisttp_Truncates(double x, int expected)
    {
        using var h = WithStack(x);
        h.Load(a => a.fisttp(__dword_ptr[rax])).Run();
        Assert.That((int)h.Memory.Read(Data, 4), Is.EqualTo(expected));
        Assert.That(h.Cpu.State.Ftw, Is.Zero);
    }

    [Test]
    public void Fistp_Overflow_StoresIndefiniteWithIe()
    {
        using var h = WithStack(1e10);
        h.Load(a => a.fistp(__word_ptr[rax])).Run();
        Assert.That(h.Memory.Read(Data, 2), Is.EqualTo(0x8000UL));
        Assert.That(Fsw(h) & 0x3F, Is.EqualTo(1));
    }

    [TestCase(1.0, 2.0, C0)]
    [TestCase(3.0, 2.0, 0)]
    [TestCase(2.0, 2.0, C3)]
    [TestCase(double.NaN, 2.0, C3 | C2 | C0)]
    public void Fcom_SetsConditionCodes(double top, double src, int cc)
    {
        using var h = WithStack(top);
        PutDouble(h, Data, src);
        h.Cpu.State.Fsw = C1;
        h.Load(a =>
        {
            a.fcom(__qword_ptr[rax]);
            a.fnstsw(ax);
        }).Run();
        ushort sw = (ushort)h[Register.RAX];
        Assert.That(sw & (C0 | C1 | C2 | C3), Is.EqualTo(cc));
        Assert.That(sw & 1, Is.EqualTo(double.IsNaN(top) ? 1 : 0), "FCOM signals #IA on a QNaN");
    }

    [Test]
    public void Fucompp_QNaN_DoesNotSignal_AndPopsTwice()
    {
        using var h = WithStack(1, double.NaN);
        h.Load(a => a.fucompp()).Run();
        Assert.That(Fsw(h) & (C0 | C2 | C3 | 1), Is.EqualTo(C0 | C2 | C3));
        Assert.That(h.Cpu.State.Ftw, Is.Zero);
    }

    [TestCase(1.0, 2.0, CpuState.FlagCf)]
    [TestCase(3.0, 2.0, 0UL)]
    [TestCase(2.0, 2.0, CpuState.FlagZf)]
    [TestCase(double.NaN, 2.0, CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf)]
    public void Fucomip_SetsEflagsAndPops(double top, double next, ulong flags)
    {
        using var h = WithStack(next, top);
        h.Cpu.State.SetRflags(CpuState.ArithMask | 2);
        h.Load(a => a.fucomip(st0, st1)).Run();
        Assert.That(h.Flags & CpuState.ArithMask, Is.EqualTo(flags));
        Assert.That(System.Numerics.BitOperations.PopCount(h.Cpu.State.Ftw), Is.EqualTo(1));
        Assert.That(Fsw(h) & 1, Is.Zero);
    }

    [Test]
    public void Fcomi_QNaN_SignalsInvalid()
    {
        using var h = WithStack(1, double.NaN);
        h.Load(a => a.fcomi(st0, st1)).Run();
        Assert.That(Fsw(h) & 1, Is.EqualTo(1));
    }

    [Test]
    public void Fxch_FchsFabsFsqrt()
    {
        using var h = WithStack(-9, 16);
        h.Load(a =>
        {
            a.fsqrt();
            a.fchs();
            a.fxch(st0, st1);
            a.fabs();
        }).Run();
        Assert.That(St(h, 0), Is.EqualTo(9.0));
        Assert.That(St(h, 1), Is.EqualTo(-4.0));
    }

    [Test]
    public void Constants_LoadExpectedValues()
    {
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.fninit();
            a.fld1();
            a.fldz();
            a.fldpi();
            a.fldl2e();
            a.fldl2t();
            a.fldlg2();
            a.fldln2();
        }).Run();
        Assert.That(St(h, 0), Is.EqualTo(Math.Log(2)).Within(1e-16));
        Assert.That(St(h, 1), Is.EqualTo(Math.Log10(2)).Within(1e-16));
        Assert.That(St(h, 2), Is.EqualTo(Math.Log2(10)).Within(1e-15));
        Assert.That(St(h, 3), Is.EqualTo(1 / Math.Log(2)).Within(1e-15));
        Assert.That(St(h, 4), Is.EqualTo(Math.PI));
        Assert.That(St(h, 5), Is.EqualTo(0.0));
        Assert.That(St(h, 6), Is.EqualTo(1.0));
    }

    [Test]
    public void StackOverflow_MaskedPushesIndefiniteWithIeSfC1()
    {
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.fninit();
            for (int k = 0; k < 9; k++)
            {
                a.fld1();
            }
        }).Run();
        Assert.That(Fsw(h) & 0x7FF, Is.EqualTo(C1 | 0x40 | 1));
        Assert.That(BitConverter.DoubleToUInt64Bits(St(h, 0)), Is.EqualTo(0xFFF8000000000000UL));
    }

    [Test]
    public void StackUnderflow_MaskedStoresIndefiniteWithIeSf()
    {
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.fninit();
            a.fld1();
            a.fadd(st0, st1);
        }).Run();
        Assert.That(Fsw(h) & (0x7F | C1), Is.EqualTo(0x41));
        Assert.That(double.IsNaN(St(h, 0)), Is.True);
    }

    [Test]
    public void UnmaskedZeroDivide_SetsEs_ThenNextWaitingInstructionRaisesMf()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 2, 0x37B);
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.fninit();
            a.fldcw(__word_ptr[rax]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);
            a.fnstsw(__word_ptr[rax + 8]);
            a.fld1();
        });
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(16));
        Assert.That(h.Memory.Read(Data + 8, 2) & 0x80FF, Is.EqualTo(0x8084UL), "ZE, ES and B set");
        Assert.That(St(h, 0), Is.EqualTo(0.0), "unmasked #Z leaves the stack unchanged");
        Assert.That(St(h, 1), Is.EqualTo(1.0));
    }

    [Test]
    public void MaskedZeroDivide_GivesInfinity()
    {
        using var h = WithStack(1, 0);
        h.Load(a => a.fdivp(st1, st0)).Run();
        Assert.That(St(h, 0), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Fsw(h) & 0xFF, Is.EqualTo(4));
    }

    [Test]
    public void Fnclex_ClearsExceptionFlags()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Fsw = 0xC7FF & ~0x3800;
        h.Load(a => a.fnclex()).Run();
        Assert.That(h.Cpu.State.Fsw, Is.EqualTo((ushort)(C3 | C2 | C1 | C0)));
    }

    [Test]
    public void Fld_Fstp_M80_RoundTrip()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x8000000000000000);
        h.Memory.Write(Data + 8, 2, 0xBFFF);
        PutDouble(h, Data + 16, Math.PI);
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.fninit();
            a.fld(__tword_ptr[rax]);
            a.fstp(__qword_ptr[rax + 32]);
            a.fld(__qword_ptr[rax + 16]);
            a.fstp(__tword_ptr[rax + 48]);
        }).Run();
        Assert.That(GetDouble(h, Data + 32), Is.EqualTo(-1.0));
        Assert.That(h.Memory.Read(Data + 48, 8), Is.EqualTo(0xC90FDAA22168C000UL));
        Assert.That(h.Memory.Read(Data + 56, 2), Is.EqualTo(0x4000UL));
    }

    [Test]
    public void ExtendedConversions_SpecialValues()
    {
        double[] values = [0.0, -0.0, double.Epsilon, -2.2250738585072014E-308, double.MaxValue, double.PositiveInfinity,
            double.NegativeInfinity, BitConverter.UInt64BitsToDouble(0x7FF0000000000001), BitConverter.UInt64BitsToDouble(0xFFF8000000000000), 1e-300, 12345.678];
        foreach (double v in values)
        {
            Handlers.DoubleToExtended(v, out ulong m, out ushort se);
            var env = new FpEnv();
            double back = Handlers.ExtendedToDouble(m, se, ref env);
            Assert.That(BitConverter.DoubleToUInt64Bits(back), Is.EqualTo(BitConverter.DoubleToUInt64Bits(v)), $"{v}");
            Assert.That(env.Flags, Is.Zero);
        }
        Handlers.DoubleToExtended(double.Epsilon, out ulong dm, out ushort dse);
        Assert.That((dm, dse), Is.EqualTo((0x8000000000000000UL, (ushort)(16383 - 1074))));

        var e = new FpEnv();
        Assert.That(Handlers.ExtendedToDouble(0x4000000000000000, 0x3FFF, ref e), Is.NaN, "unnormal");
        Assert.That(e.Flags, Is.EqualTo(1u));
        e = new FpEnv();
        Assert.That(Handlers.ExtendedToDouble(0xFFFFFFFFFFFFFFFF, 0x3FFF, ref e), Is.EqualTo(2.0), "rounds to nearest");
        Assert.That(Handlers.ExtendedToDouble(0x8000000000000000, 0x7FFE, ref e), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Handlers.ExtendedToDouble(0x8000000000000000, 0x0001, ref e), Is.EqualTo(0.0));
    }

    [Test]
    public void FstM32_RoundsByFcw()
    {
        using var h = WithStack(0.1);
        h.Memory.Write(Data + 16, 2, 0x37F | (1 << 10));
        h.Load(a =>
        {
            a.fst(__dword_ptr[rax]);
            a.fldcw(__word_ptr[rax + 16]);
            a.fstp(__dword_ptr[rax + 4]);
        }).Run();
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(0x3DCCCCCDUL));
        Assert.That(h.Memory.Read(Data + 4, 4), Is.EqualTo(0x3DCCCCCCUL));
        Assert.That(Fsw(h) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Fnstenv_Fldenv_RoundTrip_AndMasksExceptions()
    {
        using var h = WithStack(5, 0);
        ref CpuState s = ref h.Cpu.State;
        s.Fcw = 0x0273;
        s.Fsw = 0x0021 | C2;
        h.Load(a =>
        {
            a.fnstenv(__[rax]);
            a.fninit();
            a.fldenv(__[rax]);
        }).Run();
        Assert.That(h.Memory.Read(Data, 2), Is.EqualTo(0x0273UL));
        Assert.That(h.Memory.Read(Data + 4, 2), Is.EqualTo((ulong)(0x0021 | C2 | (6 << 11))));
        // Physical 6 = ST(0) = 0 (tag 01), physical 7 = ST(1) = 5 (tag 00), others empty.
        Assert.That(h.Memory.Read(Data + 8, 2), Is.EqualTo(0x1FFFUL));
        Assert.That(s.Fcw, Is.EqualTo((ushort)0x0273));
        Assert.That(Fsw(h) & 0x7FFF, Is.EqualTo(0x0021 | C2 | (6 << 11)));
        Assert.That(s.Ftw, Is.EqualTo((byte)0xC0));
        Assert.That(St(h, 1), Is.EqualTo(5.0));
    }

    [Test]
    public void Fnsave_Frstor_RoundTrip()
    {
        using var h = WithStack(1.25, -3.5, 1e300);
        h.Cpu.State.Fcw = 0x0F7F;
        h.Load(a =>
        {
            a.fnsave(__[rax]);
            a.fld1();
            a.frstor(__[rax]);
        }).Run();
        Assert.That(h.Cpu.State.Fcw, Is.EqualTo((ushort)0x0F7F));
        Assert.That(St(h, 0), Is.EqualTo(1e300));
        Assert.That(St(h, 1), Is.EqualTo(-3.5));
        Assert.That(St(h, 2), Is.EqualTo(1.25));
        Assert.That(h.Cpu.State.Ftw, Is.EqualTo((byte)0xE0));
        Assert.That(h.Cpu.State.FpTop, Is.EqualTo(5));
        // ST(0) image at byte 28 (32-bit operand size).
        Assert.That(h.Memory.Read(Data + 36, 2), Is.EqualTo((ulong)(0x3FFF + 996)));
    }

    [Test]
    public void X87_Cr0Ts_RaisesNm()
    {
        using var h = WithStack(1);
        h.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        h.Load(a => a.fadd(st0, st0));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(7));
    }

    [Test]
    public void X87_Cr0Em_RaisesNm()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 |= CpuState.Cr0Em;
        h.Load(a => a.fninit());
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(7));
    }

    [Test]
    public void Fwait_NmOnlyWithMpAndTs()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 = (h.Cpu.State.Cr0 | CpuState.Cr0Ts) & ~CpuState.Cr0Mp;
        h.Load(a => a.wait()).Run();
        h.Cpu.State.Cr0 |= CpuState.Cr0Mp;
        h.Cpu.State.Rip = CpuHarness.CodeAddress;
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(7));
    }

    [Test]
    public void Fcmov_MovesOnCondition()
    {
        using var h = WithStack(7, 1);
        h.Cpu.State.SetRflags(CpuState.FlagCf | 2);
        h.Load(a =>
        {
            a.fcmovnb(st0, st1);
            a.fcmovb(st0, st1);
        }).Run();
        Assert.That(St(h, 0), Is.EqualTo(7.0));
    }

    [Test]
    public void Fprem_Fprem1_RemainderAndQuotientBits()
    {
        using var h = WithStack(2, 5.5);
        h.Load(a => a.fprem()).Run();
        Assert.That(St(h, 0), Is.EqualTo(1.5));
        Assert.That(Fsw(h) & (C0 | C1 | C2 | C3), Is.EqualTo(C3), "quotient 2: Q1 in C3");

        using var g = WithStack(2, 5.5);
        g.Load(a => a.fprem1()).Run();
        Assert.That(St(g, 0), Is.EqualTo(-0.5));
        Assert.That(Fsw(g) & (C0 | C1 | C2 | C3), Is.EqualTo(C3 | C1), "quotient 3: Q1 in C3, Q0 in C1");
    }

    [Test]
    public void Frndint_UsesRoundingControl()
    {
        using var h = WithStack(-2.5);
        h.Cpu.State.Fcw = 0x37F | (2 << 10);
        h.Load(a => a.frndint()).Run();
        Assert.That(St(h, 0), Is.EqualTo(-2.0));
        Assert.That(Fsw(h) & 0x20, Is.EqualTo(0x20));
    }

    [TestCase(1.5, C2)]
    [TestCase(-0.0, C3 | C1)]
    [TestCase(double.NegativeInfinity, C2 | C0 | C1)]
    [TestCase(double.NaN, C0 | C1)]
    public void Fxam_ClassifiesSt0(double v, int cc)
    {
        using var h = WithStack(v);
        h.Load(a => a.fxam()).Run();
        Assert.That(Fsw(h) & (C0 | C1 | C2 | C3), Is.EqualTo(cc));
    }

    [Test]
    public void Fxam_Empty()
    {
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.fninit();
            a.fxam();
        }).Run();
        Assert.That(Fsw(h) & (C0 | C2 | C3), Is.EqualTo(C3 | C0));
    }

    [Test]
    public void Fscale_Fxtract()
    {
        using var h = WithStack(4, 3);
        h.Load(a =>
        {
            a.fscale();
            a.fxtract();
        }).Run();
        Assert.That(St(h, 0), Is.EqualTo(1.5));
        Assert.That(St(h, 1), Is.EqualTo(5.0));
        Assert.That(St(h, 2), Is.EqualTo(4.0));
    }

    [Test]
    public void Fbstp_Fbld_RoundTrip()
    {
        using var h = WithStack(-1234567.0);
        h.Load(a =>
        {
            a.fbstp(__tword_ptr[rax]);
            a.fbld(__tword_ptr[rax]);
        }).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x1234567UL));
        Assert.That(h.Memory.Read(Data + 8, 2), Is.EqualTo(0x8000UL));
        Assert.That(St(h, 0), Is.EqualTo(-1234567.0));
    }

    [Test]
    public void Transcendentals_ApproximateLibm()
    {
        using var h = WithStack(0.5);
        h.Load(a => a.fsincos()).Run();
        Assert.That(St(h, 0), Is.EqualTo(Math.Cos(0.5)).Within(1e-15));
        Assert.That(St(h, 1), Is.EqualTo(Math.Sin(0.5)).Within(1e-15));

        using var g = WithStack(3, 8);
        g.Load(a => a.fyl2x()).Run();
        Assert.That(St(g, 0), Is.EqualTo(9.0).Within(1e-15));
        Assert.That(System.Numerics.BitOperations.PopCount(g.Cpu.State.Ftw), Is.EqualTo(1));
    }

    [Test]
    public void FfreeFincstpFdecstp()
    {
        using var h = WithStack(1, 2);
        h.Load(a =>
        {
            a.ffree(st1);
            a.fincstp();
            a.fdecstp();
        }).Run();
        Assert.That(System.Numerics.BitOperations.PopCount(h.Cpu.State.Ftw), Is.EqualTo(1));
        Assert.That(St(h, 0), Is.EqualTo(2.0));
    }

    [Test]
    public void X87_Protected32_Works()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        PutDouble(h, Data, 2.0);
        h[Register.EAX] = Data;
        h.Load(a =>
        {
            a.fninit();
            a.fld(__qword_ptr[eax]);
            a.fmul(st0, st0);
            a.fstp(__qword_ptr[eax + 8]);
        }).Run();
        Assert.That(GetDouble(h, Data + 8), Is.EqualTo(4.0));
    }
}
