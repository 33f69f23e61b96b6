using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Emulator.Cpu;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Emulator.Tests.Cpu.Instructions.SseTests;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>SoftFp (SseSoftFloat.cs): directed rounding and #P checked against exact integer arithmetic.</summary>
public class SseSoftFloatTests
{
    // ------------------------------------------------------------------ directed rounding against exact arithmetic

    /// <summary>x = m · 2^e exactly.</summary>
    private static (BigInteger M, int E) Exact(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exp = (int)((bits >> 52) & 0x7FF);
        long frac = bits & 0xFFFFFFFFFFFFFL;
        BigInteger m = exp == 0 ? frac : frac | (1L << 52);
        int e = (exp == 0 ? 1 : exp) - 1075;
        return (bits < 0 ? -m : m, e);
    }

    /// <summary>Sign of (exact op result) − c, computed with integers.</summary>
    private static int ExactCompare(int op, double a, double b, double c)
    {
        var (ma, ea) = Exact(a);
        var (mb, eb) = Exact(b);
        var (mc, ec) = Exact(c);
        switch (op)
        {
            case 0:
            {
                int e = Math.Min(ea, Math.Min(eb, ec));
                return ((ma << (ea - e)) + (mb << (eb - e)) - (mc << (ec - e))).Sign;
            }
            case 1:
            {
                int e = Math.Min(ea + eb, ec);
                return ((ma * mb << (ea + eb - e)) - (mc << (ec - e))).Sign;
            }
            case 2:
            {
                // a/b − c has the sign of (a − c·b)·sign(b).
                int e = Math.Min(ea, ec + eb);
                return ((ma << (ea - e)) - (mc * mb << (ec + eb - e))).Sign * mb.Sign;
            }
            default:
            {
                int e = Math.Min(ea, 2 * ec);
                return ((ma << (ea - e)) - (mc * mc << (2 * ec - e))).Sign;
            }
        }
    }

    private static double RandomFinite(Random rng)
    {
        int kind = rng.Next(5);
        double x = kind switch
        {
            0 => Math.ScaleB(rng.NextDouble() + 0.5, rng.Next(-1074, 1024)),
            1 => Math.ScaleB(rng.NextDouble(), -1022 - rng.Next(60)),
            2 => (1 + rng.Next(1000)) * Math.ScaleB(1.0, rng.Next(-60, 60)),
            3 => BitConverter.UInt64BitsToDouble((ulong)rng.NextInt64(0x7FEFFFFFFFFFFFFF)),
            _ => Math.ScaleB(1 + rng.NextDouble(), rng.Next(-540, -500)),
        };
        return rng.Next(2) == 0 ? -x : x;
    }

    [Test]
    public void SoftFp_DirectedRounding_BracketsExactResult()
    {
        var rng = new Random(2024);
        for (int n = 0; n < 20000; n++)
        {
            int op = rng.Next(4);
            double a = RandomFinite(rng), b = RandomFinite(rng);
            if (op == 3)
            {
                a = Math.Abs(a);
            }
            if (op == 2 && b == 0)
            {
                continue;
            }
            double[] r = new double[4];
            uint[] flags = new uint[4];
            for (int rc = 0; rc < 4; rc++)
            {
                var env = new FpEnv { Rc = rc, Masks = 0x3F };
                r[rc] = op switch
                {
                    0 => SoftFp.Add(a, b, ref env),
                    1 => SoftFp.Mul(a, b, ref env),
                    2 => SoftFp.Div(a, b, ref env),
                    _ => SoftFp.Sqrt(a, ref env),
                };
                flags[rc] = env.Flags;
            }
            string what = $"op {op} a {a:R} b {b:R}";
            if (double.IsInfinity(r[0]))
            {
                Assert.That(flags[0] & 0x28, Is.EqualTo(0x28u), what);
                continue;
            }
            double down = r[1], up = r[2];
            if (double.IsInfinity(up) || double.IsInfinity(down))
            {
                continue;
            }
            Assert.That(ExactCompare(op, a, b, down), Is.GreaterThanOrEqualTo(0), "round-down ≤ exact: " + what);
            Assert.That(ExactCompare(op, a, b, up), Is.LessThanOrEqualTo(0), "round-up ≥ exact: " + what);
            bool exact = ExactCompare(op, a, b, r[0]) == 0;
            if (exact)
            {
                Assert.That(up, Is.EqualTo(down), what);
            }
            else
            {
                Assert.That(up, Is.EqualTo(Math.BitIncrement(down)), "one ulp apart: " + what);
                Assert.That(r[0] == up || r[0] == down, Is.True, what);
            }
            Assert.That(flags[0] & 0x20, Is.EqualTo(exact ? 0u : 0x20u), "#P: " + what);
            Assert.That(r[3], Is.EqualTo(down > 0 || (down == 0 && up > 0) ? down : up), "toward zero: " + what);
            double host = op switch
            {
                0 => a + b,
                1 => a * b,
                2 => a / b,
                _ => Math.Sqrt(a),
            };
            Assert.That(BitConverter.DoubleToUInt64Bits(r[0]), Is.EqualTo(BitConverter.DoubleToUInt64Bits(host)), "nearest = host: " + what);
        }
    }

    private static float RandomFiniteSingle(Random rng)
    {
        float x = rng.Next(4) switch
        {
            0 => MathF.ScaleB((float)rng.NextDouble() + 0.5f, rng.Next(-149, 128)),
            1 => MathF.ScaleB((float)rng.NextDouble(), -126 - rng.Next(24)),
            2 => (1 + rng.Next(1000)) * MathF.ScaleB(1f, rng.Next(-30, 30)),
            _ => BitConverter.UInt32BitsToSingle((uint)rng.Next(0x7F7FFFFF)),
        };
        return rng.Next(2) == 0 ? -x : x;
    }

    [Test]
    public void SoftFp_SingleDirectedRounding_BracketsExactResult()
    {
        var rng = new Random(77);
        for (int n = 0; n < 20000; n++)
        {
            int op = rng.Next(4);
            float a = RandomFiniteSingle(rng), b = RandomFiniteSingle(rng);
            if (float.IsInfinity(a) || float.IsInfinity(b) || (op == 2 && b == 0))
            {
                continue;
            }
            if (op == 3)
            {
                a = Math.Abs(a);
            }
            float[] r = new float[3];
            for (int rc = 0; rc < 3; rc++)
            {
                var env = new FpEnv { Rc = rc, Masks = 0x3F };
                r[rc] = op switch
                {
                    0 => SoftFp.Add(a, b, ref env),
                    1 => SoftFp.Mul(a, b, ref env),
                    2 => SoftFp.Div(a, b, ref env),
                    _ => SoftFp.Sqrt(a, ref env),
                };
            }
            if (float.IsInfinity(r[1]) || float.IsInfinity(r[2]) || float.IsNaN(r[0]))
            {
                continue;
            }
            string what = $"op {op} a {a:R} b {b:R}";
            Assert.That(ExactCompare(op, a, b, r[1]), Is.GreaterThanOrEqualTo(0), "round-down: " + what);
            Assert.That(ExactCompare(op, a, b, r[2]), Is.LessThanOrEqualTo(0), "round-up: " + what);
            Assert.That(r[2] == r[1] || r[2] == MathF.BitIncrement(r[1]), Is.True, what);
            float host = op switch
            {
                0 => a + b,
                1 => a * b,
                2 => a / b,
                _ => MathF.Sqrt(a),
            };
            Assert.That(r[0], Is.EqualTo(host), "nearest = host: " + what);
        }
    }
}
