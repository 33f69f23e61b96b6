using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// x87 arithmetic, compares, stack manipulation and the transcendental instructions; state, loads, stores
/// and the environment images are in <c>X87.cs</c>, which also documents the double-precision approximation.
/// </summary>
internal static unsafe partial class Handlers
{
    // ------------------------------------------------------------------ arithmetic

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ArithMem(Vcpu cpu, in Instruction i, X87Op op, FpMem kind)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        if (!ReadFpMem(cpu, in i, kind, ref env, out double b))
        {
            return;
        }
        double r;
        StackFault fault = StackFault.None;
        if (StEmpty(ref s, 0))
        {
            fault = StackFault.Underflow;
            r = SoftFp.IndefiniteDouble;
        }
        else
        {
            r = Arith(op, St(ref s, 0), b, ref env);
        }
        if (X87Commit(ref s, ref env, fault))
        {
            SetSt(ref s, 0, r);
        }
    }

    /// <summary>Register forms: dest = dest op src (FSUBR/FDIVR: src op dest), optionally popping.</summary>
    private static void ArithReg(Vcpu cpu, in Instruction i, X87Op op, bool pop)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int dst = i.Op0Register - Register.ST0;
        int src = i.Op1Register - Register.ST0;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        double r;
        StackFault fault = StackFault.None;
        if (StEmpty(ref s, dst) || StEmpty(ref s, src))
        {
            fault = StackFault.Underflow;
            r = SoftFp.IndefiniteDouble;
        }
        else
        {
            r = Arith(op, St(ref s, dst), St(ref s, src), ref env);
        }
        if (X87Commit(ref s, ref env, fault))
        {
            SetSt(ref s, dst, r);
            if (pop)
            {
                PopSt(ref s);
            }
        }
    }

    private static void Fadd_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Add, FpMem.F32);

    private static void Fadd_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Add, FpMem.F64);

    private static void Fiadd_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Add, FpMem.I16);

    private static void Fiadd_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Add, FpMem.I32);

    private static void Fmul_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Mul, FpMem.F32);

    private static void Fmul_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Mul, FpMem.F64);

    private static void Fimul_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Mul, FpMem.I16);

    private static void Fimul_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Mul, FpMem.I32);

    private static void Fsub_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Sub, FpMem.F32);

    private static void Fsub_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Sub, FpMem.F64);

    private static void Fisub_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Sub, FpMem.I16);

    private static void Fisub_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Sub, FpMem.I32);

    private static void Fsubr_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Subr, FpMem.F32);

    private static void Fsubr_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Subr, FpMem.F64);

    private static void Fisubr_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Subr, FpMem.I16);

    private static void Fisubr_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Subr, FpMem.I32);

    private static void Fdiv_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Div, FpMem.F32);

    private static void Fdiv_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Div, FpMem.F64);

    private static void Fidiv_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Div, FpMem.I16);

    private static void Fidiv_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Div, FpMem.I32);

    private static void Fdivr_m32fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Divr, FpMem.F32);

    private static void Fdivr_m64fp(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Divr, FpMem.F64);

    private static void Fidivr_m16int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Divr, FpMem.I16);

    private static void Fidivr_m32int(Vcpu cpu, in Instruction i) => ArithMem(cpu, in i, X87Op.Divr, FpMem.I32);

    private static void Fadd_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Add, false);

    private static void Fmul_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Mul, false);

    private static void Fsub_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Sub, false);

    private static void Fsubr_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Subr, false);

    private static void Fdiv_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Div, false);

    private static void Fdivr_st(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Divr, false);

    private static void Faddp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Add, true);

    private static void Fmulp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Mul, true);

    private static void Fsubp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Sub, true);

    private static void Fsubrp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Subr, true);

    private static void Fdivp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Div, true);

    private static void Fdivrp(Vcpu cpu, in Instruction i) => ArithReg(cpu, in i, X87Op.Divr, true);

    // ------------------------------------------------------------------ compares

    /// <summary>
    /// SDM Vol. 2A "FCOM/FCOMP/FCOMPP" and "FUCOM…": C3 C2 C0 = 000 (ST0 &gt; src), 001 (&lt;), 100 (=), 111
    /// (unordered); C1 cleared. FCOM signals #IA on any NaN, FUCOM only on an SNaN.
    /// </summary>
    private static ushort CompareCodes(double a, double b, bool quietSignals, ref FpEnv env)
    {
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            if (quietSignals || SoftFp.IsSignaling(a) || SoftFp.IsSignaling(b))
            {
                env.Flags |= FpFlag.Invalid;
            }
            return FswC3 | FswC2 | FswC0;
        }
        return a > b ? (ushort)0 : a < b ? FswC0 : FswC3;
    }

    /// <summary>Compares ST(0) with <paramref name="b"/> into C3/C2/C0 and pops <paramref name="pops"/> times when allowed.</summary>
    private static void CompareSt0(ref CpuState s, bool srcEmpty, double b, bool quietSignals, int pops, ref FpEnv env)
    {
        ushort cc;
        StackFault fault = StackFault.None;
        if (srcEmpty || StEmpty(ref s, 0))
        {
            fault = StackFault.Underflow;
            cc = FswC3 | FswC2 | FswC0;
        }
        else
        {
            cc = CompareCodes(St(ref s, 0), b, quietSignals, ref env);
        }
        if (!X87Commit(ref s, ref env, fault))
        {
            return;
        }
        s.Fsw = (ushort)((s.Fsw & ~FswCc) | cc);
        for (int k = 0; k < pops; k++)
        {
            PopSt(ref s);
        }
    }

    private static void FcomMem(Vcpu cpu, in Instruction i, FpMem kind, int pops)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
        if (ReadFpMem(cpu, in i, kind, ref env, out double b))
        {
            CompareSt0(ref cpu.State, false, b, true, pops, ref env);
        }
    }

    private static void FcomReg(Vcpu cpu, int src, bool quietSignals, int pops)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        CompareSt0(ref s, StEmpty(ref s, src), St(ref s, src), quietSignals, pops, ref env);
    }

    private static void Fcom_m32fp(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.F32, 0);

    private static void Fcom_m64fp(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.F64, 0);

    private static void Fcomp_m32fp(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.F32, 1);

    private static void Fcomp_m64fp(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.F64, 1);

    private static void Ficom_m16int(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.I16, 0);

    private static void Ficom_m32int(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.I32, 0);

    private static void Ficomp_m16int(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.I16, 1);

    private static void Ficomp_m32int(Vcpu cpu, in Instruction i) => FcomMem(cpu, in i, FpMem.I32, 1);

    private static void Fcom_sti(Vcpu cpu, in Instruction i) => FcomReg(cpu, i.Op1Register - Register.ST0, true, 0);

    private static void Fcomp_sti(Vcpu cpu, in Instruction i) => FcomReg(cpu, i.Op1Register - Register.ST0, true, 1);

    private static void Fcompp(Vcpu cpu, in Instruction i) => FcomReg(cpu, 1, true, 2);

    private static void Fucom(Vcpu cpu, in Instruction i) => FcomReg(cpu, i.Op1Register - Register.ST0, false, 0);

    private static void Fucomp(Vcpu cpu, in Instruction i) => FcomReg(cpu, i.Op1Register - Register.ST0, false, 1);

    private static void Fucompp(Vcpu cpu, in Instruction i) => FcomReg(cpu, 1, false, 2);

    /// <summary>
    /// SDM Vol. 2A "FCOMI/FCOMIP/FUCOMI/FUCOMIP": ZF PF CF as for COMISS (unordered 111, &lt; CF, = ZF), OF SF AF
    /// cleared, C1 cleared. FCOMI signals #IA on any NaN, FUCOMI only on an SNaN.
    /// </summary>
    private static void FcomiCore(Vcpu cpu, in Instruction i, bool quietSignals, bool pop)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int src = i.Op1Register - Register.ST0;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        StackFault fault = StackFault.None;
        ulong flags = CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf;
        if (StEmpty(ref s, 0) || StEmpty(ref s, src))
        {
            fault = StackFault.Underflow;
        }
        else
        {
            ushort cc = CompareCodes(St(ref s, 0), St(ref s, src), quietSignals, ref env);
            flags = ((cc & FswC3) != 0 ? CpuState.FlagZf : 0) | ((cc & FswC2) != 0 ? CpuState.FlagPf : 0) | ((cc & FswC0) != 0 ? CpuState.FlagCf : 0);
        }
        if (!X87Commit(ref s, ref env, fault))
        {
            return;
        }
        s.SetArith(CpuState.ArithMask, flags);
        if (pop)
        {
            PopSt(ref s);
        }
    }

    private static void Fcomi(Vcpu cpu, in Instruction i) => FcomiCore(cpu, in i, true, false);

    private static void Fcomip(Vcpu cpu, in Instruction i) => FcomiCore(cpu, in i, true, true);

    private static void Fucomi(Vcpu cpu, in Instruction i) => FcomiCore(cpu, in i, false, false);

    private static void Fucomip(Vcpu cpu, in Instruction i) => FcomiCore(cpu, in i, false, true);

    /// <summary>FTST: compares ST(0) with +0.0; any NaN signals #IA.</summary>
    private static void Ftst(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
            CompareSt0(ref cpu.State, false, 0.0, true, 0, ref env);
        }
    }

    /// <summary>
    /// SDM Vol. 2A "FXAM—Examine Floating-Point": C1 = sign; C3 C2 C0 = 001 NaN, 010 normal,
    /// 011 infinity, 100 zero, 101 empty. Double subnormals are normal numbers in the 80-bit format.
    /// </summary>
    private static void Fxam(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        double v = St(ref s, 0);
        ushort cc = double.IsNegative(v) ? FswC1 : (ushort)0;
        if (StEmpty(ref s, 0))
        {
            cc |= FswC3 | FswC0;
        }
        else if (double.IsNaN(v))
        {
            cc |= FswC0;
        }
        else if (double.IsInfinity(v))
        {
            cc |= FswC2 | FswC0;
        }
        else if (v == 0)
        {
            cc |= FswC3;
        }
        else
        {
            cc |= FswC2;
        }
        s.Fsw = (ushort)((s.Fsw & ~FswCc) | cc);
    }

    /// <summary>FCMOVcc: B (CF), E (ZF), BE (CF|ZF), U (PF) and their negations (SDM Vol. 2A "FCMOVcc").</summary>
    private static void Fcmov(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int src = i.Op1Register - Register.ST0;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        if (StEmpty(ref s, 0) || StEmpty(ref s, src))
        {
            if (X87Commit(ref s, ref env, StackFault.Underflow))
            {
                SetSt(ref s, 0, SoftFp.IndefiniteDouble);
            }
            return;
        }
        bool cond = i.Code switch
        {
            Code.Fcmovb_st0_sti => s.Cf,
            Code.Fcmove_st0_sti => s.Zf,
            Code.Fcmovbe_st0_sti => s.Cf || s.Zf,
            Code.Fcmovu_st0_sti => s.Pf,
            Code.Fcmovnb_st0_sti => !s.Cf,
            Code.Fcmovne_st0_sti => !s.Zf,
            Code.Fcmovnbe_st0_sti => !s.Cf && !s.Zf,
            _ => !s.Pf,
        };
        X87Commit(ref s, ref env, StackFault.None);
        if (cond)
        {
            SetSt(ref s, 0, St(ref s, src));
        }
    }

    // ------------------------------------------------------------------ stack manipulation

    private static void Fxch(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int k = i.Op1Register - Register.ST0;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool e0 = StEmpty(ref s, 0), ek = StEmpty(ref s, k);
        if (!X87Commit(ref s, ref env, e0 || ek ? StackFault.Underflow : StackFault.None))
        {
            return;
        }
        double a = e0 ? SoftFp.IndefiniteDouble : St(ref s, 0);
        double b = ek ? SoftFp.IndefiniteDouble : St(ref s, k);
        SetSt(ref s, 0, b);
        SetSt(ref s, k, a);
    }

    private static void Fincstp(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.State.FpTop = (cpu.State.FpTop + 1) & 7;
            cpu.State.Fsw &= unchecked((ushort)~FswC1);
        }
    }

    private static void Fdecstp(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.State.FpTop = (cpu.State.FpTop + 7) & 7;
            cpu.State.Fsw &= unchecked((ushort)~FswC1);
        }
    }

    private static void Ffree(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            ref CpuState s = ref cpu.State;
            s.Ftw &= (byte)~(1 << Phys(ref s, i.Op0Register - Register.ST0));
        }
    }

    /// <summary>FFREEP (DF C0+i): undocumented but implemented by every x87 since the 387: FFREE then pop.</summary>
    private static void Ffreep(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            ref CpuState s = ref cpu.State;
            s.Ftw &= (byte)~(1 << Phys(ref s, i.Op0Register - Register.ST0));
            PopSt(ref s);
        }
    }

    // ------------------------------------------------------------------ unary on ST(0)

    /// <summary>Runs a unary operation on ST(0) with the usual stack-underflow handling.</summary>
    private static void UnarySt0(Vcpu cpu, delegate*<double, ref FpEnv, double> op)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        double r = empty ? SoftFp.IndefiniteDouble : op(St(ref s, 0), ref env);
        if (X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            SetSt(ref s, 0, r);
        }
    }

    private static double ChsOp(double x, ref FpEnv env) => BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(x) ^ (1UL << 63));

    private static double AbsOp(double x, ref FpEnv env) => BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(x) & ~(1UL << 63));

    private static double SqrtOp(double x, ref FpEnv env) => SoftFp.Sqrt(x, ref env);

    /// <summary>FRNDINT: rounds by FCW.RC, #P when the value changes; an SNaN signals #IA.</summary>
    private static double RndintOp(double x, ref FpEnv env)
    {
        if (double.IsNaN(x))
        {
            return SoftFp.PropagateNaN(x, x, ref env);
        }
        double r = SoftFp.RoundToIntegral(x, env.Rc);
        if (r != x)
        {
            env.Flags |= FpFlag.Precision;
        }
        return r;
    }

    /// <summary>F2XM1: 2^x − 1 for −1 ≤ x ≤ 1 (host libm, not bit-exact).</summary>
    private static double F2xm1Op(double x, ref FpEnv env)
    {
        if (double.IsNaN(x))
        {
            return SoftFp.PropagateNaN(x, x, ref env);
        }
        if (x == 0 || double.IsInfinity(x))
        {
            return double.IsNegativeInfinity(x) ? -1.0 : x;
        }
        env.Flags |= FpFlag.Precision;
        return Math.Abs(x) < 1e-5 ? x * Math.Log(2) * (1 + x * Math.Log(2) / 2) : Math.Pow(2, x) - 1;
    }

    private static void Fchs(Vcpu cpu, in Instruction i) => UnarySt0(cpu, &ChsOp);

    private static void Fabs(Vcpu cpu, in Instruction i) => UnarySt0(cpu, &AbsOp);

    private static void Fsqrt(Vcpu cpu, in Instruction i) => UnarySt0(cpu, &SqrtOp);

    private static void Frndint(Vcpu cpu, in Instruction i) => UnarySt0(cpu, &RndintOp);

    private static void F2xm1(Vcpu cpu, in Instruction i) => UnarySt0(cpu, &F2xm1Op);

    /// <summary>Runs ST(1) = f(ST(1), ST(0)) then pops (FYL2X, FYL2XP1, FPATAN), or ST(0) = f(ST(0), ST(1)) (FSCALE, FPREM).</summary>
    private static bool Binary01(Vcpu cpu, delegate*<double, double, ref FpEnv, double> op, bool intoSt1)
    {
        if (!FpuUsable(cpu))
        {
            return false;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0) || StEmpty(ref s, 1);
        double r = SoftFp.IndefiniteDouble;
        if (!empty)
        {
            r = intoSt1 ? op(St(ref s, 1), St(ref s, 0), ref env) : op(St(ref s, 0), St(ref s, 1), ref env);
        }
        if (!X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            return false;
        }
        if (intoSt1)
        {
            SetSt(ref s, 1, r);
            PopSt(ref s);
        }
        else
        {
            SetSt(ref s, 0, r);
        }
        return true;
    }

    /// <summary>Common NaN and inexact handling for the libm-backed operations.</summary>
    private static bool LibmOperands(double a, double b, ref FpEnv env, out double nan)
    {
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            nan = SoftFp.PropagateNaN(a, b, ref env);
            return false;
        }
        nan = 0;
        return true;
    }

    /// <summary>FYL2X: ST(1) · log2(ST(0)); log of a negative number is #IA, of zero #Z.</summary>
    private static double Yl2xOp(double y, double x, ref FpEnv env)
    {
        if (!LibmOperands(y, x, ref env, out double nan))
        {
            return nan;
        }
        if (x < 0 || (x == 0 && y == 0) || (x == 1 && double.IsInfinity(y)) || (double.IsPositiveInfinity(x) && y == 0))
        {
            env.Flags |= FpFlag.Invalid;
            return SoftFp.IndefiniteDouble;
        }
        if (x == 0)
        {
            env.Flags |= FpFlag.ZeroDivide;
            return double.IsNegative(y) ? double.PositiveInfinity : double.NegativeInfinity;
        }
        env.Flags |= FpFlag.Precision;
        return y * Math.Log2(x);
    }

    /// <summary>FYL2XP1: ST(1) · log2(ST(0) + 1) for small ST(0).</summary>
    private static double Yl2xp1Op(double y, double x, ref FpEnv env)
    {
        if (!LibmOperands(y, x, ref env, out double nan))
        {
            return nan;
        }
        if (x < -1)
        {
            env.Flags |= FpFlag.Invalid;
            return SoftFp.IndefiniteDouble;
        }
        env.Flags |= FpFlag.Precision;
        double l = Math.Abs(x) < 1e-4 ? x * (1 - x / 2 + x * x / 3) / Math.Log(2) : Math.Log2(1 + x);
        return y * l;
    }

    /// <summary>FPATAN: arctan(ST(1) / ST(0)) with the quadrant of atan2.</summary>
    private static double PatanOp(double y, double x, ref FpEnv env)
    {
        if (!LibmOperands(y, x, ref env, out double nan))
        {
            return nan;
        }
        env.Flags |= FpFlag.Precision;
        return Math.Atan2(y, x);
    }

    /// <summary>FSCALE: ST(0) · 2^trunc(ST(1)).</summary>
    private static double ScaleOp(double x, double n, ref FpEnv env)
    {
        if (!LibmOperands(x, n, ref env, out double nan))
        {
            return nan;
        }
        if (double.IsInfinity(n))
        {
            if ((x == 0 && n > 0) || (double.IsInfinity(x) && n < 0))
            {
                env.Flags |= FpFlag.Invalid;
                return SoftFp.IndefiniteDouble;
            }
            return n > 0 ? (x == 0 ? x : Math.CopySign(double.PositiveInfinity, x)) : (double.IsInfinity(x) ? x : Math.CopySign(0.0, x));
        }
        if (x == 0 || double.IsInfinity(x))
        {
            return x;
        }
        int e = (int)Math.Clamp(Math.Truncate(n), -4200, 4200);
        double r = Math.ScaleB(x, e);
        if (double.IsInfinity(r))
        {
            env.Flags |= FpFlag.Overflow | FpFlag.Precision;
        }
        else if (Math.ScaleB(r, -e) != x)
        {
            env.Flags |= FpFlag.Precision;
        }
        return r;
    }

    private static void Fyl2x(Vcpu cpu, in Instruction i) => Binary01(cpu, &Yl2xOp, true);

    private static void Fyl2xp1(Vcpu cpu, in Instruction i) => Binary01(cpu, &Yl2xp1Op, true);

    private static void Fpatan(Vcpu cpu, in Instruction i) => Binary01(cpu, &PatanOp, true);

    private static void Fscale(Vcpu cpu, in Instruction i) => Binary01(cpu, &ScaleOp, false);

    /// <summary>
    /// FPREM (truncating quotient, like fmod) and FPREM1 (IEEE remainder): the remainder is computed exactly
    /// in one step, so C2 = 0; C0, C3, C1 receive quotient bits 2, 1, 0 (SDM Vol. 2A "FPREM").
    /// </summary>
    private static void PremCore(Vcpu cpu, bool ieee)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0) || StEmpty(ref s, 1);
        double r = SoftFp.IndefiniteDouble;
        int q = 0;
        if (!empty)
        {
            double x = St(ref s, 0), y = St(ref s, 1);
            if (double.IsNaN(x) || double.IsNaN(y))
            {
                r = SoftFp.PropagateNaN(x, y, ref env);
            }
            else if (double.IsInfinity(x) || y == 0)
            {
                env.Flags |= FpFlag.Invalid;
            }
            else if (double.IsInfinity(y) || x == 0)
            {
                r = x;
            }
            else
            {
                r = ieee ? Math.IEEERemainder(x, y) : x % y;
                if (r == 0)
                {
                    r = Math.CopySign(0.0, x);
                }
                double y8 = Math.Abs(y) * 8;
                double m = double.IsInfinity(y8) ? x : x % y8;
                q = (int)Math.Round(Math.Abs((m - r) / y)) & 7;
            }
        }
        if (!X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            return;
        }
        SetSt(ref s, 0, r);
        ushort cc = (ushort)(((q & 4) != 0 ? FswC0 : 0) | ((q & 2) != 0 ? FswC3 : 0) | ((q & 1) != 0 ? FswC1 : 0));
        s.Fsw = (ushort)((s.Fsw & ~FswCc) | cc);
    }

    private static void Fprem(Vcpu cpu, in Instruction i) => PremCore(cpu, false);

    private static void Fprem1(Vcpu cpu, in Instruction i) => PremCore(cpu, true);

    /// <summary>FXTRACT: ST(0) → exponent (left in ST(1)) and significand in [1, 2) (pushed); zero gives −∞ with #Z.</summary>
    private static void Fxtract(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        bool full = !StEmpty(ref s, 7);
        double x = St(ref s, 0);
        double exp, sig;
        if (empty || full)
        {
            exp = sig = SoftFp.IndefiniteDouble;
        }
        else if (double.IsNaN(x))
        {
            exp = sig = SoftFp.PropagateNaN(x, x, ref env);
        }
        else if (x == 0)
        {
            env.Flags |= FpFlag.ZeroDivide;
            exp = double.NegativeInfinity;
            sig = x;
        }
        else if (double.IsInfinity(x))
        {
            exp = double.PositiveInfinity;
            sig = x;
        }
        else
        {
            int e = Math.ILogB(x);
            exp = e;
            sig = Math.ScaleB(x, -e);
        }
        if (!X87Commit(ref s, ref env, empty ? StackFault.Underflow : full ? StackFault.Overflow : StackFault.None))
        {
            return;
        }
        SetSt(ref s, 0, exp);
        int p = (s.FpTop + 7) & 7;
        s.FpTop = p;
        s.Fpr[p] = sig;
        s.Ftw |= (byte)(1 << p);
    }

    /// <summary>
    /// FSIN/FCOS/FPTAN/FSINCOS: |x| ≥ 2^63 is out of range (C2 = 1, ST(0) unchanged); ±∞ is #IA.
    /// Host libm results, not bit-exact.
    /// </summary>
    private static bool TrigOperand(ref CpuState s, ref FpEnv env, out double x, out double nan, out bool outOfRange)
    {
        x = St(ref s, 0);
        nan = 0;
        outOfRange = false;
        if (double.IsNaN(x))
        {
            nan = SoftFp.PropagateNaN(x, x, ref env);
            return false;
        }
        if (double.IsInfinity(x))
        {
            env.Flags |= FpFlag.Invalid;
            nan = SoftFp.IndefiniteDouble;
            return false;
        }
        if (Math.Abs(x) >= 9.2233720368547758E18)
        {
            outOfRange = true;
            return false;
        }
        if (x != 0)
        {
            env.Flags |= FpFlag.Precision;
        }
        return true;
    }

    private static void Trig(Vcpu cpu, int kind)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool pushes = kind >= 2;
        StackFault fault = StEmpty(ref s, 0) ? StackFault.Underflow : pushes && !StEmpty(ref s, 7) ? StackFault.Overflow : StackFault.None;
        double r0 = SoftFp.IndefiniteDouble, r1 = SoftFp.IndefiniteDouble;
        bool outOfRange = false;
        if (fault == StackFault.None)
        {
            if (TrigOperand(ref s, ref env, out double x, out double nan, out outOfRange))
            {
                switch (kind)
                {
                    case 0: r0 = Math.Sin(x); break;
                    case 1: r0 = Math.Cos(x); break;
                    case 2: r0 = Math.Tan(x); r1 = 1.0; break;
                    default: (r0, r1) = (Math.Sin(x), Math.Cos(x)); break;
                }
            }
            else
            {
                r0 = r1 = nan;
            }
        }
        if (!X87Commit(ref s, ref env, fault))
        {
            return;
        }
        if (outOfRange)
        {
            s.Fsw |= FswC2;
            return;
        }
        s.Fsw &= unchecked((ushort)~FswC2);
        SetSt(ref s, 0, r0);
        if (pushes)
        {
            int p = (s.FpTop + 7) & 7;
            s.FpTop = p;
            s.Fpr[p] = r1;
            s.Ftw |= (byte)(1 << p);
        }
    }

    private static void Fsin(Vcpu cpu, in Instruction i) => Trig(cpu, 0);

    private static void Fcos(Vcpu cpu, in Instruction i) => Trig(cpu, 1);

    private static void Fptan(Vcpu cpu, in Instruction i) => Trig(cpu, 2);

    /// <summary>FSINCOS: ST(0) ← sin, then cos pushed (ends with ST(0) = cos, ST(1) = sin).</summary>
    private static void Fsincos(Vcpu cpu, in Instruction i) => Trig(cpu, 3);
}
