using System.Runtime.Intrinsics;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE/SSE2 conversions between integers, single and double precision. Rounded forms use MXCSR.RC, the CVTT*
/// forms truncate; NaN or out-of-range float→integer results are the integer indefinite (SDM Vol. 1 §4.8.3.7
/// "Integer Indefinite") with #I.
/// </summary>
internal static unsafe partial class Handlers
{
    private static void RegisterSseConvert(HandlerFn[] t)
    {
        Set(t, &Cvtsi2ss, Code.Cvtsi2ss_xmm_rm32, Code.Cvtsi2ss_xmm_rm64);
        Set(t, &Cvtsi2sd, Code.Cvtsi2sd_xmm_rm32, Code.Cvtsi2sd_xmm_rm64);
        Set(t, &Cvtss2si, Code.Cvtss2si_r32_xmmm32, Code.Cvtss2si_r64_xmmm32);
        Set(t, &Cvttss2si, Code.Cvttss2si_r32_xmmm32, Code.Cvttss2si_r64_xmmm32);
        Set(t, &Cvtsd2si, Code.Cvtsd2si_r32_xmmm64, Code.Cvtsd2si_r64_xmmm64);
        Set(t, &Cvttsd2si, Code.Cvttsd2si_r32_xmmm64, Code.Cvttsd2si_r64_xmmm64);
        Set(t, &Cvtss2sd, Code.Cvtss2sd_xmm_xmmm32);
        Set(t, &Cvtsd2ss, Code.Cvtsd2ss_xmm_xmmm64);
        Set(t, &Cvtdq2ps, Code.Cvtdq2ps_xmm_xmmm128);
        Set(t, &Cvtps2dq, Code.Cvtps2dq_xmm_xmmm128);
        Set(t, &Cvttps2dq, Code.Cvttps2dq_xmm_xmmm128);
        Set(t, &Cvtdq2pd, Code.Cvtdq2pd_xmm_xmmm64);
        Set(t, &Cvtpd2dq, Code.Cvtpd2dq_xmm_xmmm128);
        Set(t, &Cvttpd2dq, Code.Cvttpd2dq_xmm_xmmm128);
        Set(t, &Cvtps2pd, Code.Cvtps2pd_xmm_xmmm64);
        Set(t, &Cvtpd2ps, Code.Cvtpd2ps_xmm_xmmm128);
    }

    /// <summary>Integer source of CVTSI2SS/SD (r/m32 sign-extended, or r/m64).</summary>
    private static bool ReadIntSource(Vcpu cpu, in Instruction i, out long v)
    {
        int size = i.Code is Code.Cvtsi2ss_xmm_rm32 or Code.Cvtsi2sd_xmm_rm32 ? 4 : 8;
        bool ok = cpu.ReadOp(in i, 1, size, out ulong raw);
        v = (long)Vcpu.SignExtend(raw, size);
        return ok;
    }

    /// <summary>Integer width of a CVT*2SI destination (32 unless REX.W).</summary>
    private static int IntDestBits(in Instruction i) => i.Op0Register.IsGPR64() ? 64 : 32;

    private static void Cvtsi2ss(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu) || !ReadIntSource(cpu, in i, out long x))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float r = SoftFp.Int64ToSingle(x, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, r).AsUInt64();
        }
    }

    private static void Cvtsi2sd(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu) || !ReadIntSource(cpu, in i, out long x))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double r = SoftFp.Int64ToDouble(x, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));
        }
    }

    private static void SingleToGpr(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int bits = IntDestBits(in i);
        long r = SoftFp.DoubleToInt(SoftFp.Daz(BitConverter.UInt32BitsToSingle(src), ref env), bits, truncate, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            cpu.WriteGpr(i.Op0Register, (ulong)r);
        }
    }

    private static void DoubleToGpr(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int bits = IntDestBits(in i);
        long r = SoftFp.DoubleToInt(SoftFp.Daz(BitConverter.UInt64BitsToDouble(src), ref env), bits, truncate, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            cpu.WriteGpr(i.Op0Register, (ulong)r);
        }
    }

    private static void Cvtss2si(Vcpu cpu, in Instruction i) => SingleToGpr(cpu, in i, false);

    private static void Cvttss2si(Vcpu cpu, in Instruction i) => SingleToGpr(cpu, in i, true);

    private static void Cvtsd2si(Vcpu cpu, in Instruction i) => DoubleToGpr(cpu, in i, false);

    private static void Cvttsd2si(Vcpu cpu, in Instruction i) => DoubleToGpr(cpu, in i, true);

    private static void Cvtss2sd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double r = SoftFp.SingleToDouble(BitConverter.UInt32BitsToSingle(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));
        }
    }

    private static void Cvtsd2ss(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float r = SoftFp.DoubleToSingle(BitConverter.UInt64BitsToDouble(src), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, r).AsUInt64();
        }
    }

    private static void Cvtdq2ps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<int> b = src.AsInt32();
        Vector128<float> r = Vector128.Create(
            SoftFp.Int64ToSingle(b.GetElement(0), ref env),
            SoftFp.Int64ToSingle(b.GetElement(1), ref env),
            SoftFp.Int64ToSingle(b.GetElement(2), ref env),
            SoftFp.Int64ToSingle(b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void PackedSingleToInt32(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<float> b = src.AsSingle();
        Vector128<int> r = Vector128.Create(
            (int)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(0), ref env), 32, truncate, ref env),
            (int)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(1), ref env), 32, truncate, ref env),
            (int)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(2), ref env), 32, truncate, ref env),
            (int)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(3), ref env), 32, truncate, ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void Cvtps2dq(Vcpu cpu, in Instruction i) => PackedSingleToInt32(cpu, in i, false);

    private static void Cvttps2dq(Vcpu cpu, in Instruction i) => PackedSingleToInt32(cpu, in i, true);

    /// <summary>CVTDQ2PD xmm, xmm/m64: exact.</summary>
    private static void Cvtdq2pd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc64(cpu, in i, out ulong src))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((double)(int)src, (double)(int)(src >> 32)).AsUInt64();
        }
    }

    /// <summary>CVTPD2DQ / CVTTPD2DQ: two results in the low quadword, the high quadword cleared.</summary>
    private static void PackedDoubleToInt32(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> b = src.AsDouble();
        uint lo = (uint)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(0), ref env), 32, truncate, ref env);
        uint hi = (uint)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(1), ref env), 32, truncate, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = Vector128.CreateScalar(lo | ((ulong)hi << 32));
        }
    }

    private static void Cvtpd2dq(Vcpu cpu, in Instruction i) => PackedDoubleToInt32(cpu, in i, false);

    private static void Cvttpd2dq(Vcpu cpu, in Instruction i) => PackedDoubleToInt32(cpu, in i, true);

    private static void Cvtps2pd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double lo = SoftFp.SingleToDouble(BitConverter.UInt32BitsToSingle((uint)src), ref env);
        double hi = SoftFp.SingleToDouble(BitConverter.UInt32BitsToSingle((uint)(src >> 32)), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = Vector128.Create(lo, hi).AsUInt64();
        }
    }

    private static void Cvtpd2ps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> b = src.AsDouble();
        float lo = SoftFp.DoubleToSingle(b.GetElement(0), ref env);
        float hi = SoftFp.DoubleToSingle(b.GetElement(1), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = Vector128.Create(lo, hi, 0f, 0f).AsUInt64();
        }
    }
}
