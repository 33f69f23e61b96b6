using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Floating-point exception flags. The same six bits sit at MXCSR[5:0] and at x87 FSW[5:0]; the mask bits are
/// MXCSR[12:7] and FCW[5:0] in the same order (SDM Vol. 1 §4.9.1 "Floating-Point Exception Conditions").
/// </summary>
internal static class FpFlag
{
    public const uint Invalid = 1;
    public const uint Denormal = 2;
    public const uint ZeroDivide = 4;
    public const uint Overflow = 8;
    public const uint Underflow = 16;
    public const uint Precision = 32;
}

/// <summary>Rounding and flush modes for one instruction, and the exception flags it raised.</summary>
internal struct FpEnv
{
    /// <summary>Rounding control: 0 nearest-even, 1 down, 2 up, 3 toward zero (MXCSR.RC and FCW.RC agree).</summary>
    public int Rc;

    /// <summary>Masked exceptions, <see cref="FpFlag"/> layout.</summary>
    public uint Masks;

    /// <summary>MXCSR.DAZ: denormal inputs read as signed zero, no #D.</summary>
    public bool Daz;

    /// <summary>MXCSR.FTZ: tiny results become signed zero when underflow is masked.</summary>
    public bool Ftz;

    /// <summary>x87 rules: two NaNs pick the larger significand; operands are not checked for denormals (they are 80-bit normals).</summary>
    public bool X87;

    /// <summary>Exception flags raised so far.</summary>
    public uint Flags;

    public static FpEnv FromMxcsr(uint mxcsr) => new()
    {
        Rc = (int)(mxcsr >> 13) & 3,
        Masks = (mxcsr >> 7) & 0x3F,
        Daz = (mxcsr & 0x40) != 0,
        Ftz = (mxcsr & 0x8000) != 0,
    };

    public static FpEnv FromFcw(uint fcw) => new()
    {
        Rc = (int)(fcw >> 10) & 3,
        Masks = fcw & 0x3F,
        X87 = true,
    };
}

/// <summary>
/// IEEE 754 binary32/binary64 arithmetic with x86 semantics on top of the host's round-to-nearest arithmetic:
/// x86 NaN propagation and the negative "real indefinite" QNaN (SDM Vol. 1 §4.8.3.7 "QNaN Floating-Point
/// Indefinite", Table 4-7 "Rules for Handling NaNs"), the four rounding modes and the six exception flags.
/// Each operation computes the nearest result and the sign of its exact error (TwoSum, or an FMA residual,
/// scaled away from the subnormal range so the sign survives); directed rounding then steps one ulp, and the
/// error sign gives #P. Tininess is detected after rounding, as x86 does. Single precision is computed in
/// double and narrowed: double rounding is innocuous for + − × ÷ √ since 53 ≥ 2·24 + 2, and the error sign
/// carries through the narrowing.
/// </summary>
internal static class SoftFp
{
    private const double MinNormal = 2.2250738585072014E-308;
    private const float MinNormalF = 1.17549435E-38f;

    /// <summary>Below this magnitude a residual might round to zero: residuals are computed on scaled operands.</summary>
    private static readonly double s_tiny = Math.ScaleB(1.0, -900);
    private const int ResidualScale = 200;

    public const uint IndefiniteF = 0xFFC0_0000;
    public const ulong IndefiniteD = 0xFFF8_0000_0000_0000;

    // ------------------------------------------------------------------ encodings

    public static bool IsSignaling(float x)
    {
        uint b = BitConverter.SingleToUInt32Bits(x);
        return (b & 0x7FC0_0000) == 0x7F80_0000 && (b & 0x003F_FFFF) != 0;
    }

    public static bool IsSignaling(double x)
    {
        ulong b = BitConverter.DoubleToUInt64Bits(x);
        return (b & 0x7FF8_0000_0000_0000) == 0x7FF0_0000_0000_0000 && (b & 0x0007_FFFF_FFFF_FFFF) != 0;
    }

    public static float Quiet(float x) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(x) | 0x0040_0000);

    public static double Quiet(double x) => BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(x) | 0x0008_0000_0000_0000);

    public static float IndefiniteSingle => BitConverter.UInt32BitsToSingle(IndefiniteF);

    public static double IndefiniteDouble => BitConverter.UInt64BitsToDouble(IndefiniteD);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Daz(float x, ref FpEnv env) => env.Daz && float.IsSubnormal(x) ? (float.IsNegative(x) ? -0f : 0f) : x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Daz(double x, ref FpEnv env) => env.Daz && double.IsSubnormal(x) ? (double.IsNegative(x) ? -0.0 : 0.0) : x;

    /// <summary>NaN double → NaN single keeping sign and the top payload bits, quiet (what CVTSD2SS does).</summary>
    public static float NarrowNaN(double d)
    {
        ulong b = BitConverter.DoubleToUInt64Bits(d);
        return BitConverter.UInt32BitsToSingle((uint)(b >> 63 << 31) | 0x7FC0_0000 | (uint)((b >> 29) & 0x003F_FFFF));
    }

    /// <summary>NaN single → NaN double keeping sign and payload, quiet.</summary>
    public static double WidenNaN(float f)
    {
        uint b = BitConverter.SingleToUInt32Bits(f);
        return BitConverter.UInt64BitsToDouble(((ulong)(b >> 31) << 63) | 0x7FF8_0000_0000_0000 | ((ulong)(b & 0x003F_FFFF) << 29));
    }

    private static int Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

    private static double Invalid(ref FpEnv env)
    {
        env.Flags |= FpFlag.Invalid;
        return IndefiniteDouble;
    }

    // ------------------------------------------------------------------ NaN operands

    /// <summary>Table 4-7: an SNaN operand raises #I; SSE returns the first NaN operand quieted, x87 the larger-significand QNaN.</summary>
    public static double PropagateNaN(double a, double b, ref FpEnv env)
    {
        bool sa = IsSignaling(a), sb = IsSignaling(b);
        if (sa || sb)
        {
            env.Flags |= FpFlag.Invalid;
        }
        if (env.X87 && double.IsNaN(a) && double.IsNaN(b))
        {
            if (sa != sb)
            {
                return sa ? b : a;
            }
            ulong ma = BitConverter.DoubleToUInt64Bits(a) & 0x000F_FFFF_FFFF_FFFF;
            ulong mb = BitConverter.DoubleToUInt64Bits(b) & 0x000F_FFFF_FFFF_FFFF;
            return Quiet(mb > ma ? b : a);
        }
        return Quiet(double.IsNaN(a) ? a : b);
    }

    public static float PropagateNaN(float a, float b, ref FpEnv env)
    {
        if (IsSignaling(a) || IsSignaling(b))
        {
            env.Flags |= FpFlag.Invalid;
        }
        return Quiet(float.IsNaN(a) ? a : b);
    }

    /// <summary>DAZ, NaN operands and #D for a two-operand double operation; false when <paramref name="nan"/> is the result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Prepare(ref double a, ref double b, ref FpEnv env, out double nan)
    {
        if (env.Daz)
        {
            a = Daz(a, ref env);
            b = Daz(b, ref env);
        }
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            nan = PropagateNaN(a, b, ref env);
            return false;
        }
        if (!env.X87 && (double.IsSubnormal(a) || double.IsSubnormal(b)))
        {
            env.Flags |= FpFlag.Denormal;
        }
        nan = 0;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Prepare(ref float a, ref float b, ref FpEnv env, out float nan)
    {
        if (env.Daz)
        {
            a = Daz(a, ref env);
            b = Daz(b, ref env);
        }
        if (float.IsNaN(a) || float.IsNaN(b))
        {
            nan = PropagateNaN(a, b, ref env);
            return false;
        }
        if (float.IsSubnormal(a) || float.IsSubnormal(b))
        {
            env.Flags |= FpFlag.Denormal;
        }
        nan = 0;
        return true;
    }

    // ------------------------------------------------------------------ rounding

    /// <summary>
    /// Applies the rounding mode to the nearest result <paramref name="q"/> whose exact value lies on the
    /// <paramref name="err"/> side of it, and raises #P, #O and #U (SDM Vol. 1 §4.9.1.4 "Numeric Overflow
    /// Exception", §4.9.1.5 "Numeric Underflow Exception", §4.9.1.6 "Inexact-Result (Precision) Exception").
    /// </summary>
    public static T Round<T>(T q, int err, T minNormal, ref FpEnv env)
        where T : IBinaryFloatingPointIeee754<T>
    {
        T r = q;
        if (err != 0)
        {
            env.Flags |= FpFlag.Precision;
            switch (env.Rc)
            {
                case 1:
                    if (err < 0)
                    {
                        r = T.BitDecrement(q);
                    }
                    break;
                case 2:
                    if (err > 0)
                    {
                        r = T.BitIncrement(q);
                    }
                    break;
                case 3:
                    if (err < 0 && q > T.Zero)
                    {
                        r = T.BitDecrement(q);
                    }
                    else if (err > 0 && q < T.Zero)
                    {
                        r = T.BitIncrement(q);
                    }
                    break;
            }
            if (T.IsInfinity(q) || T.IsInfinity(r))
            {
                env.Flags |= FpFlag.Overflow;
                return r;
            }
        }
        // x87 register results are 80-bit values on hardware, far from underflow at double's range: no #U there.
        if (!env.X87 && T.Abs(r) < minNormal && (r != T.Zero || err != 0))
        {
            if ((env.Masks & FpFlag.Underflow) == 0)
            {
                env.Flags |= FpFlag.Underflow;
            }
            else if (env.Ftz)
            {
                env.Flags |= FpFlag.Underflow | FpFlag.Precision;
                return T.CopySign(T.Zero, q);
            }
            else if (err != 0)
            {
                env.Flags |= FpFlag.Underflow;
            }
        }
        return r;
    }

    /// <summary>Rounds a double result (nearest <paramref name="d"/>, exact error sign <paramref name="err"/>) to single precision.</summary>
    public static float NarrowRound(double d, int err, ref FpEnv env)
    {
        float f = (float)d;
        if (double.IsNaN(d))
        {
            return NarrowNaN(d);
        }
        if (double.IsInfinity(d))
        {
            return f;
        }
        int e = float.IsInfinity(f) ? -Math.Sign(f) : (double)f != d ? Sign(d - f) : err;
        return Round(f, e, MinNormalF, ref env);
    }

    // ------------------------------------------------------------------ exact cores (finite/infinite, non-NaN operands)

    private static double AddCore(double a, double b, ref FpEnv env, out int err)
    {
        err = 0;
        double s = a + b;
        if (double.IsNaN(s))
        {
            return Invalid(ref env);
        }
        if (double.IsInfinity(a) || double.IsInfinity(b))
        {
            return s;
        }
        if (s == 0)
        {
            // IEEE 754 §6.3: an exact zero sum is +0 in every mode but round-down, where it is −0 unless both are +0.
            return env.Rc == 1 && (double.IsNegative(a) || double.IsNegative(b)) ? -0.0 : s;
        }
        if (double.IsInfinity(s))
        {
            err = -Math.Sign(s);
            return s;
        }
        double bv = s - a;
        err = Sign((a - (s - bv)) + (b - bv));
        return s;
    }

    private static double MulCore(double a, double b, ref FpEnv env, out int err)
    {
        err = 0;
        double p = a * b;
        if (double.IsNaN(p))
        {
            return Invalid(ref env);
        }
        if (double.IsInfinity(a) || double.IsInfinity(b) || a == 0 || b == 0)
        {
            return p;
        }
        if (double.IsInfinity(p))
        {
            err = -Math.Sign(p);
        }
        else if (p == 0)
        {
            err = Sign(a) * Sign(b);
        }
        else if (Math.Abs(p) < s_tiny)
        {
            // Scale the smaller factor (|x|² ≤ |p|, so it cannot overflow) to keep the residual normal.
            (double x, double y) = Math.Abs(a) <= Math.Abs(b) ? (a, b) : (b, a);
            err = Sign(Math.FusedMultiplyAdd(Math.ScaleB(x, ResidualScale), y, -Math.ScaleB(p, ResidualScale)));
        }
        else
        {
            err = Sign(Math.FusedMultiplyAdd(a, b, -p));
        }
        return p;
    }

    private static double DivCore(double a, double b, ref FpEnv env, out int err)
    {
        err = 0;
        if (b == 0)
        {
            if (a == 0)
            {
                return Invalid(ref env);
            }
            if (!double.IsInfinity(a))
            {
                env.Flags |= FpFlag.ZeroDivide;
            }
            return a / b;
        }
        if (double.IsInfinity(a))
        {
            return double.IsInfinity(b) ? Invalid(ref env) : a / b;
        }
        double q = a / b;
        if (double.IsInfinity(b) || a == 0)
        {
            return q;
        }
        if (double.IsInfinity(q))
        {
            err = -Math.Sign(q);
        }
        else if (Math.Abs(q) < s_tiny || Math.Abs(a) < s_tiny)
        {
            err = Sign(Math.FusedMultiplyAdd(-Math.ScaleB(q, ResidualScale), b, Math.ScaleB(a, ResidualScale))) * Math.Sign(b);
        }
        else
        {
            err = Sign(Math.FusedMultiplyAdd(-q, b, a)) * Math.Sign(b);
        }
        return q;
    }

    private static double SqrtCore(double a, ref FpEnv env, out int err)
    {
        err = 0;
        if (a == 0 || double.IsPositiveInfinity(a))
        {
            return a;
        }
        if (a < 0)
        {
            return Invalid(ref env);
        }
        double q = Math.Sqrt(a);
        err = a < 1
            ? Sign(Math.FusedMultiplyAdd(-Math.ScaleB(q, ResidualScale / 2), Math.ScaleB(q, ResidualScale / 2), Math.ScaleB(a, ResidualScale)))
            : Sign(Math.FusedMultiplyAdd(-q, q, a));
        return q;
    }

    // ------------------------------------------------------------------ double operations

    public static double Add(double a, double b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out double nan))
        {
            return nan;
        }
        double q = AddCore(a, b, ref env, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    public static double Sub(double a, double b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out double nan))
        {
            return nan;
        }
        double q = AddCore(a, -b, ref env, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    public static double Mul(double a, double b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out double nan))
        {
            return nan;
        }
        double q = MulCore(a, b, ref env, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    public static double Div(double a, double b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out double nan))
        {
            return nan;
        }
        double q = DivCore(a, b, ref env, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    public static double Sqrt(double a, ref FpEnv env)
    {
        a = Daz(a, ref env);
        if (double.IsNaN(a))
        {
            return PropagateNaN(a, a, ref env);
        }
        if (!env.X87 && double.IsSubnormal(a))
        {
            env.Flags |= FpFlag.Denormal;
        }
        double q = SqrtCore(a, ref env, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    // ------------------------------------------------------------------ single operations (computed in double, narrowed)

    public static float Add(float a, float b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out float nan))
        {
            return nan;
        }
        double q = AddCore(a, b, ref env, out int err);
        return NarrowRound(q, err, ref env);
    }

    public static float Sub(float a, float b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out float nan))
        {
            return nan;
        }
        double q = AddCore(a, -(double)b, ref env, out int err);
        return NarrowRound(q, err, ref env);
    }

    public static float Mul(float a, float b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out float nan))
        {
            return nan;
        }
        double q = MulCore(a, b, ref env, out int err);
        return NarrowRound(q, err, ref env);
    }

    public static float Div(float a, float b, ref FpEnv env)
    {
        if (!Prepare(ref a, ref b, ref env, out float nan))
        {
            return nan;
        }
        double q = DivCore(a, b, ref env, out int err);
        return NarrowRound(q, err, ref env);
    }

    public static float Sqrt(float a, ref FpEnv env)
    {
        a = Daz(a, ref env);
        if (float.IsNaN(a))
        {
            return PropagateNaN(a, a, ref env);
        }
        if (float.IsSubnormal(a))
        {
            env.Flags |= FpFlag.Denormal;
        }
        double q = SqrtCore(a, ref env, out int err);
        return NarrowRound(q, err, ref env);
    }

    // ------------------------------------------------------------------ conversions

    /// <summary>CVTSD2SS: double → single with MXCSR rounding (Invalid, Denormal, Overflow, Underflow, Precision).</summary>
    public static float DoubleToSingle(double d, ref FpEnv env)
    {
        d = Daz(d, ref env);
        if (double.IsNaN(d))
        {
            if (IsSignaling(d))
            {
                env.Flags |= FpFlag.Invalid;
            }
            return NarrowNaN(d);
        }
        if (double.IsSubnormal(d))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return NarrowRound(d, 0, ref env);
    }

    /// <summary>CVTSS2SD: exact, except that an SNaN is quieted with #I.</summary>
    public static double SingleToDouble(float f, ref FpEnv env)
    {
        f = Daz(f, ref env);
        if (float.IsNaN(f))
        {
            if (IsSignaling(f))
            {
                env.Flags |= FpFlag.Invalid;
            }
            return WidenNaN(f);
        }
        if (float.IsSubnormal(f))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return f;
    }

    /// <summary>
    /// Signed integer → binary floating point with <paramref name="mantissaBits"/> significand bits (24 or 53),
    /// rounded by integer arithmetic so no double rounding can occur: returns the nearest value and the error sign.
    /// </summary>
    private static double IntToFloat(long x, int mantissaBits, out int err)
    {
        err = 0;
        if (x == 0)
        {
            return 0;
        }
        ulong m = x < 0 ? (ulong)-x : (ulong)x;
        int width = 64 - BitOperations.LeadingZeroCount(m);
        int shift = width - mantissaBits;
        double v;
        if (shift <= 0)
        {
            v = m;
        }
        else
        {
            ulong keep = m >> shift;
            ulong rem = m & ((1UL << shift) - 1);
            ulong half = 1UL << (shift - 1);
            if (rem > half || (rem == half && (keep & 1) != 0))
            {
                keep++;
                err = -1;
            }
            else if (rem != 0)
            {
                err = 1;
            }
            v = Math.ScaleB((double)keep, shift);
        }
        if (x < 0)
        {
            err = -err;
            return -v;
        }
        return v;
    }

    /// <summary>CVTSI2SD (and FILD, exact there): integer → double with the rounding mode.</summary>
    public static double Int64ToDouble(long x, ref FpEnv env)
    {
        double q = IntToFloat(x, 53, out int err);
        return Round(q, err, MinNormal, ref env);
    }

    /// <summary>CVTSI2SS / CVTDQ2PS: integer → single with the rounding mode.</summary>
    public static float Int64ToSingle(long x, ref FpEnv env)
    {
        float q = (float)IntToFloat(x, 24, out int err);
        return Round(q, err, MinNormalF, ref env);
    }

    /// <summary>
    /// Floating point → signed integer of <paramref name="bits"/> (16, 32 or 64): rounded by the mode, or truncated
    /// (CVTT*, FISTTP). NaN or out of range gives the integer indefinite 1 &lt;&lt; (bits − 1) with #I; an inexact
    /// in-range result raises #P (SDM Vol. 1 §4.8.3.7 / §11.5.2.1 "Invalid Operation Exception (#I)").
    /// </summary>
    public static long DoubleToInt(double x, int bits, bool truncate, ref FpEnv env)
    {
        long indefinite = long.MinValue >> (64 - bits);
        if (double.IsNaN(x))
        {
            env.Flags |= FpFlag.Invalid;
            return indefinite;
        }
        double r = truncate ? Math.Truncate(x) : RoundToIntegral(x, env.Rc);
        double limit = Math.ScaleB(1.0, bits - 1);
        if (!(r >= -limit && r < limit))
        {
            env.Flags |= FpFlag.Invalid;
            return indefinite;
        }
        if (r != x)
        {
            env.Flags |= FpFlag.Precision;
        }
        return (long)r;
    }

    /// <summary>Rounds to an integral value by rounding control <paramref name="rc"/> (no flags).</summary>
    public static double RoundToIntegral(double x, int rc) => rc switch
    {
        0 => Math.Round(x, MidpointRounding.ToEven),
        1 => Math.Floor(x),
        2 => Math.Ceiling(x),
        _ => Math.Truncate(x),
    };
}
