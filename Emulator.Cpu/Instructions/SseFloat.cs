using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE/SSE2 floating point: arithmetic, MIN/MAX, compares and COMIS*, SQRT, RCP/RSQRT and the float shuffles.
/// Arithmetic goes through <see cref="SoftFp"/> for MXCSR rounding, DAZ/FTZ and exception flags; an unmasked
/// exception leaves the destination unchanged and raises #XM (or #UD with CR4.OSXMMEXCPT = 0).
/// </summary>
internal static unsafe partial class Handlers
{
    private enum FpOp
    {
        Add,
        Sub,
        Mul,
        Div,
        Min,
        Max,
    }

    private static void RegisterSseFloat(HandlerFn[] t)
    {
        Set(t, &Addps, Code.Addps_xmm_xmmm128);
        Set(t, &Addpd, Code.Addpd_xmm_xmmm128);
        Set(t, &Addss, Code.Addss_xmm_xmmm32);
        Set(t, &Addsd, Code.Addsd_xmm_xmmm64);
        Set(t, &Subps, Code.Subps_xmm_xmmm128);
        Set(t, &Subpd, Code.Subpd_xmm_xmmm128);
        Set(t, &Subss, Code.Subss_xmm_xmmm32);
        Set(t, &Subsd, Code.Subsd_xmm_xmmm64);
        Set(t, &Mulps, Code.Mulps_xmm_xmmm128);
        Set(t, &Mulpd, Code.Mulpd_xmm_xmmm128);
        Set(t, &Mulss, Code.Mulss_xmm_xmmm32);
        Set(t, &Mulsd, Code.Mulsd_xmm_xmmm64);
        Set(t, &Divps, Code.Divps_xmm_xmmm128);
        Set(t, &Divpd, Code.Divpd_xmm_xmmm128);
        Set(t, &Divss, Code.Divss_xmm_xmmm32);
        Set(t, &Divsd, Code.Divsd_xmm_xmmm64);
        Set(t, &Minps, Code.Minps_xmm_xmmm128);
        Set(t, &Minpd, Code.Minpd_xmm_xmmm128);
        Set(t, &Minss, Code.Minss_xmm_xmmm32);
        Set(t, &Minsd, Code.Minsd_xmm_xmmm64);
        Set(t, &Maxps, Code.Maxps_xmm_xmmm128);
        Set(t, &Maxpd, Code.Maxpd_xmm_xmmm128);
        Set(t, &Maxss, Code.Maxss_xmm_xmmm32);
        Set(t, &Maxsd, Code.Maxsd_xmm_xmmm64);
        Set(t, &Sqrtps, Code.Sqrtps_xmm_xmmm128);
        Set(t, &Sqrtpd, Code.Sqrtpd_xmm_xmmm128);
        Set(t, &Sqrtss, Code.Sqrtss_xmm_xmmm32);
        Set(t, &Sqrtsd, Code.Sqrtsd_xmm_xmmm64);
        Set(t, &Cmpps, Code.Cmpps_xmm_xmmm128_imm8);
        Set(t, &Cmppd, Code.Cmppd_xmm_xmmm128_imm8);
        Set(t, &Cmpss, Code.Cmpss_xmm_xmmm32_imm8);
        Set(t, &Cmpsd, Code.Cmpsd_xmm_xmmm64_imm8);
        Set(t, &Comiss, Code.Comiss_xmm_xmmm32);
        Set(t, &Ucomiss, Code.Ucomiss_xmm_xmmm32);
        Set(t, &Comisd, Code.Comisd_xmm_xmmm64);
        Set(t, &Ucomisd, Code.Ucomisd_xmm_xmmm64);
        Set(t, &Rcpps, Code.Rcpps_xmm_xmmm128);
        Set(t, &Rcpss, Code.Rcpss_xmm_xmmm32);
        Set(t, &Rsqrtps, Code.Rsqrtps_xmm_xmmm128);
        Set(t, &Rsqrtss, Code.Rsqrtss_xmm_xmmm32);
        Set(t, &Shufps, Code.Shufps_xmm_xmmm128_imm8);
        Set(t, &Shufpd, Code.Shufpd_xmm_xmmm128_imm8);
    }

    // ------------------------------------------------------------------ lane operations

    /// <summary>
    /// SDM Vol. 2B "MINPS"/"MAXPS": dest &lt; src ? dest : src (resp. &gt;), so equal values (±0 included) and
    /// any NaN return the second operand unchanged; every NaN operand raises #I.
    /// </summary>
    internal static float MinMax(float a, float b, bool max, ref FpEnv env)
    {
        a = SoftFp.Daz(a, ref env);
        b = SoftFp.Daz(b, ref env);
        if (float.IsNaN(a) || float.IsNaN(b))
        {
            env.Flags |= FpFlag.Invalid;
            return b;
        }
        if (float.IsSubnormal(a) || float.IsSubnormal(b))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return max ? (a > b ? a : b) : (a < b ? a : b);
    }

    internal static double MinMax(double a, double b, bool max, ref FpEnv env)
    {
        a = SoftFp.Daz(a, ref env);
        b = SoftFp.Daz(b, ref env);
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            env.Flags |= FpFlag.Invalid;
            return b;
        }
        if (double.IsSubnormal(a) || double.IsSubnormal(b))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return max ? (a > b ? a : b) : (a < b ? a : b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Binary(FpOp op, float a, float b, ref FpEnv env) => op switch
    {
        FpOp.Add => SoftFp.Add(a, b, ref env),
        FpOp.Sub => SoftFp.Sub(a, b, ref env),
        FpOp.Mul => SoftFp.Mul(a, b, ref env),
        FpOp.Div => SoftFp.Div(a, b, ref env),
        FpOp.Min => MinMax(a, b, false, ref env),
        _ => MinMax(a, b, true, ref env),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Binary(FpOp op, double a, double b, ref FpEnv env) => op switch
    {
        FpOp.Add => SoftFp.Add(a, b, ref env),
        FpOp.Sub => SoftFp.Sub(a, b, ref env),
        FpOp.Mul => SoftFp.Mul(a, b, ref env),
        FpOp.Div => SoftFp.Div(a, b, ref env),
        FpOp.Min => MinMax(a, b, false, ref env),
        _ => MinMax(a, b, true, ref env),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackedSingle(Vcpu cpu, in Instruction i, FpOp op)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<float> a = d.AsSingle(), b = src.AsSingle();
        Vector128<float> r = Vector128.Create(
            Binary(op, a.GetElement(0), b.GetElement(0), ref env),
            Binary(op, a.GetElement(1), b.GetElement(1), ref env),
            Binary(op, a.GetElement(2), b.GetElement(2), ref env),
            Binary(op, a.GetElement(3), b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackedDouble(Vcpu cpu, in Instruction i, FpOp op)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> a = d.AsDouble(), b = src.AsDouble();
        Vector128<double> r = Vector128.Create(
            Binary(op, a.GetElement(0), b.GetElement(0), ref env),
            Binary(op, a.GetElement(1), b.GetElement(1), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarSingle(Vcpu cpu, in Instruction i, FpOp op)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float r = Binary(op, d.AsSingle().GetElement(0), BitConverter.UInt32BitsToSingle(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = d.AsSingle().WithElement(0, r).AsUInt64();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarDouble(Vcpu cpu, in Instruction i, FpOp op)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double r = Binary(op, d.AsDouble().GetElement(0), BitConverter.UInt64BitsToDouble(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));
        }
    }

    private static void Addps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Add);

    private static void Addpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Add);

    private static void Addss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Add);

    private static void Addsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Add);

    private static void Subps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Sub);

    private static void Subpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Sub);

    private static void Subss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Sub);

    private static void Subsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Sub);

    private static void Mulps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Mul);

    private static void Mulpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Mul);

    private static void Mulss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Mul);

    private static void Mulsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Mul);

    private static void Divps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Div);

    private static void Divpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Div);

    private static void Divss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Div);

    private static void Divsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Div);

    private static void Minps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Min);

    private static void Minpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Min);

    private static void Minss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Min);

    private static void Minsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Min);

    private static void Maxps(Vcpu cpu, in Instruction i) => PackedSingle(cpu, in i, FpOp.Max);

    private static void Maxpd(Vcpu cpu, in Instruction i) => PackedDouble(cpu, in i, FpOp.Max);

    private static void Maxss(Vcpu cpu, in Instruction i) => ScalarSingle(cpu, in i, FpOp.Max);

    private static void Maxsd(Vcpu cpu, in Instruction i) => ScalarDouble(cpu, in i, FpOp.Max);

    // ------------------------------------------------------------------ square root

    private static void Sqrtps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<float> b = src.AsSingle();
        Vector128<float> r = Vector128.Create(
            SoftFp.Sqrt(b.GetElement(0), ref env),
            SoftFp.Sqrt(b.GetElement(1), ref env),
            SoftFp.Sqrt(b.GetElement(2), ref env),
            SoftFp.Sqrt(b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void Sqrtpd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> b = src.AsDouble();
        Vector128<double> r = Vector128.Create(SoftFp.Sqrt(b.GetElement(0), ref env), SoftFp.Sqrt(b.GetElement(1), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void Sqrtss(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float r = SoftFp.Sqrt(BitConverter.UInt32BitsToSingle(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, r).AsUInt64();
        }
    }

    private static void Sqrtsd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double r = SoftFp.Sqrt(BitConverter.UInt64BitsToDouble(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));
        }
    }

    // ------------------------------------------------------------------ compares

    /// <summary>
    /// SDM Vol. 2A "CMPPS" Table 3-1 (legacy imm8[2:0]): EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD. LT/LE/NLT/NLE
    /// signal #I on any NaN, the others only on an SNaN. Operands are non-NaN-checked doubles (singles widen exactly).
    /// </summary>
    private static bool ComparePredicate(int pred, double a, double b, bool signaling, ref FpEnv env)
    {
        bool unordered = double.IsNaN(a) || double.IsNaN(b);
        if (unordered && (signaling || (pred & 3) is 1 or 2))
        {
            env.Flags |= FpFlag.Invalid;
        }
        bool r = (pred & 3) switch
        {
            0 => a == b,
            1 => a < b,
            2 => a <= b,
            _ => unordered,
        };
        return (pred & 4) != 0 ? !r : r;
    }

    internal static uint CompareSingle(int pred, float a, float b, ref FpEnv env)
    {
        a = SoftFp.Daz(a, ref env);
        b = SoftFp.Daz(b, ref env);
        if (float.IsSubnormal(a) || float.IsSubnormal(b))
        {
            if (!float.IsNaN(a) && !float.IsNaN(b))
            {
                env.Flags |= FpFlag.Denormal;
            }
        }
        return ComparePredicate(pred, a, b, SoftFp.IsSignaling(a) || SoftFp.IsSignaling(b), ref env) ? uint.MaxValue : 0;
    }

    internal static ulong CompareDouble(int pred, double a, double b, ref FpEnv env)
    {
        a = SoftFp.Daz(a, ref env);
        b = SoftFp.Daz(b, ref env);
        if (double.IsSubnormal(a) || double.IsSubnormal(b))
        {
            if (!double.IsNaN(a) && !double.IsNaN(b))
            {
                env.Flags |= FpFlag.Denormal;
            }
        }
        return ComparePredicate(pred, a, b, SoftFp.IsSignaling(a) || SoftFp.IsSignaling(b), ref env) ? ulong.MaxValue : 0;
    }

    private static void Cmpps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int pred = i.Immediate8 & 7;
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<float> a = d.AsSingle(), b = src.AsSingle();
        Vector128<uint> r = Vector128.Create(
            CompareSingle(pred, a.GetElement(0), b.GetElement(0), ref env),
            CompareSingle(pred, a.GetElement(1), b.GetElement(1), ref env),
            CompareSingle(pred, a.GetElement(2), b.GetElement(2), ref env),
            CompareSingle(pred, a.GetElement(3), b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    private static void Cmppd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int pred = i.Immediate8 & 7;
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> a = d.AsDouble(), b = src.AsDouble();
        Vector128<ulong> r = Vector128.Create(
            CompareDouble(pred, a.GetElement(0), b.GetElement(0), ref env),
            CompareDouble(pred, a.GetElement(1), b.GetElement(1), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r;
        }
    }

    private static void Cmpss(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        uint r = CompareSingle(i.Immediate8 & 7, d.AsSingle().GetElement(0), BitConverter.UInt32BitsToSingle(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = d.AsUInt32().WithElement(0, r).AsUInt64();
        }
    }

    private static void Cmpsd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        ulong r = CompareDouble(i.Immediate8 & 7, d.AsDouble().GetElement(0), BitConverter.UInt64BitsToDouble(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = d.WithElement(0, r);
        }
    }

    /// <summary>
    /// SDM Vol. 2A "COMISS"/"UCOMISS": unordered → ZF=PF=CF=1, greater → 000, less → CF, equal → ZF; OF, SF
    /// and AF cleared. COMIS* signal #I on any NaN, UCOMIS* only on an SNaN.
    /// </summary>
    private static void OrderedCompareFlags(Vcpu cpu, double a, double b, bool signaling, bool quietSignals, ref FpEnv env)
    {
        ulong flags;
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            flags = CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf;
            if (signaling || quietSignals)
            {
                env.Flags |= FpFlag.Invalid;
            }
        }
        else
        {
            flags = a > b ? 0 : a < b ? CpuState.FlagCf : CpuState.FlagZf;
        }
        if (CommitMxcsr(cpu, ref env))
        {
            cpu.State.SetArith(CpuState.ArithMask, flags);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ComissCore(Vcpu cpu, in Instruction i, bool quietSignals)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float a = SoftFp.Daz(Op0Xmm(cpu, in i).AsSingle().GetElement(0), ref env);
        float b = SoftFp.Daz(BitConverter.UInt32BitsToSingle(src), ref env);
        if ((float.IsSubnormal(a) || float.IsSubnormal(b)) && !float.IsNaN(a) && !float.IsNaN(b))
        {
            env.Flags |= FpFlag.Denormal;
        }
        OrderedCompareFlags(cpu, a, b, SoftFp.IsSignaling(a) || SoftFp.IsSignaling(b), quietSignals, ref env);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ComisdCore(Vcpu cpu, in Instruction i, bool quietSignals)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double a = SoftFp.Daz(Op0Xmm(cpu, in i).AsDouble().GetElement(0), ref env);
        double b = SoftFp.Daz(BitConverter.UInt64BitsToDouble(src), ref env);
        if ((double.IsSubnormal(a) || double.IsSubnormal(b)) && !double.IsNaN(a) && !double.IsNaN(b))
        {
            env.Flags |= FpFlag.Denormal;
        }
        OrderedCompareFlags(cpu, a, b, SoftFp.IsSignaling(a) || SoftFp.IsSignaling(b), quietSignals, ref env);
    }

    private static void Comiss(Vcpu cpu, in Instruction i) => ComissCore(cpu, in i, true);

    private static void Ucomiss(Vcpu cpu, in Instruction i) => ComissCore(cpu, in i, false);

    private static void Comisd(Vcpu cpu, in Instruction i) => ComisdCore(cpu, in i, true);

    private static void Ucomisd(Vcpu cpu, in Instruction i) => ComisdCore(cpu, in i, false);

    // ------------------------------------------------------------------ reciprocal approximations

    /// <summary>
    /// RCPPS/RCPSS. Hardware returns a table approximation with relative error ≤ 1.5·2⁻¹²; this emulator returns
    /// the correctly rounded 1/x, which meets that bound and is the same on every host (low bits differ from
    /// Intel's table). As on hardware: no MXCSR flags, denormal inputs act as zero (±∞), results below the
    /// normal range flush to ±0, NaNs are quieted.
    /// </summary>
    internal static float Reciprocal(float x)
    {
        if (float.IsNaN(x))
        {
            return SoftFp.Quiet(x);
        }
        if (x == 0 || float.IsSubnormal(x))
        {
            return float.IsNegative(x) ? float.NegativeInfinity : float.PositiveInfinity;
        }
        float r = 1f / x;
        return float.IsSubnormal(r) ? (float.IsNegative(r) ? -0f : 0f) : r;
    }

    /// <summary>RSQRTPS/RSQRTSS: correctly rounded 1/√x (see <see cref="Reciprocal"/>); negative non-zero inputs give the QNaN indefinite.</summary>
    internal static float ReciprocalSqrt(float x)
    {
        if (float.IsNaN(x))
        {
            return SoftFp.Quiet(x);
        }
        if (x == 0 || float.IsSubnormal(x))
        {
            return float.IsNegative(x) ? float.NegativeInfinity : float.PositiveInfinity;
        }
        if (x < 0)
        {
            return SoftFp.IndefiniteSingle;
        }
        return (float)(1.0 / Math.Sqrt(x));
    }

    private static void Rcpps(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            Vector128<float> b = src.AsSingle();
            Op0Xmm(cpu, in i) = Vector128.Create(Reciprocal(b.GetElement(0)), Reciprocal(b.GetElement(1)), Reciprocal(b.GetElement(2)), Reciprocal(b.GetElement(3))).AsUInt64();
        }
    }

    private static void Rcpss(Vcpu cpu, in Instruction i)
    {
        if (SseSrc32(cpu, in i, out uint src))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, Reciprocal(BitConverter.UInt32BitsToSingle(src))).AsUInt64();
        }
    }

    private static void Rsqrtps(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            Vector128<float> b = src.AsSingle();
            Op0Xmm(cpu, in i) = Vector128.Create(ReciprocalSqrt(b.GetElement(0)), ReciprocalSqrt(b.GetElement(1)), ReciprocalSqrt(b.GetElement(2)), ReciprocalSqrt(b.GetElement(3))).AsUInt64();
        }
    }

    private static void Rsqrtss(Vcpu cpu, in Instruction i)
    {
        if (SseSrc32(cpu, in i, out uint src))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, ReciprocalSqrt(BitConverter.UInt32BitsToSingle(src))).AsUInt64();
        }
    }

    // ------------------------------------------------------------------ shuffles

    private static void Shufps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int imm = i.Immediate8;
        Vector128<uint> a = d.AsUInt32(), b = src.AsUInt32();
        d = Vector128.Create(a.GetElement(imm & 3), a.GetElement((imm >> 2) & 3), b.GetElement((imm >> 4) & 3), b.GetElement(imm >> 6)).AsUInt64();
    }

    private static void Shufpd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int imm = i.Immediate8;
        d = Vector128.Create(d.GetElement(imm & 1), src.GetElement((imm >> 1) & 1));
    }
}
