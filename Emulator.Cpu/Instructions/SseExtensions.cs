using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE3, SSSE3 (XMM forms) and SSE4.1 on the legacy encodings: the horizontal and add/subtract float
/// operations, duplicating moves, byte shuffles and alignment, sign/absolute value, blends, PTEST,
/// zero/sign extension, the remaining integer min/max/multiply/compare forms, ROUND*, DPPS/DPPD,
/// MPSADBW, PHMINPOSUW and the byte/dword/qword insert and extract instructions.
/// </summary>
internal static unsafe partial class Handlers
{
    private static void RegisterSseExtensions(HandlerFn[] t)
    {
        // SSE3
        Set(t, &Movsldup, Code.Movsldup_xmm_xmmm128);
        Set(t, &Movshdup, Code.Movshdup_xmm_xmmm128);
        Set(t, &Movddup, Code.Movddup_xmm_xmmm64);
        Set(t, &Haddps, Code.Haddps_xmm_xmmm128);
        Set(t, &Hsubps, Code.Hsubps_xmm_xmmm128);
        Set(t, &Haddpd, Code.Haddpd_xmm_xmmm128);
        Set(t, &Hsubpd, Code.Hsubpd_xmm_xmmm128);
        Set(t, &Addsubps, Code.Addsubps_xmm_xmmm128);
        Set(t, &Addsubpd, Code.Addsubpd_xmm_xmmm128);

        // SSSE3
        Set(t, &Pshufb, Code.Pshufb_xmm_xmmm128);
        Set(t, &Palignr, Code.Palignr_xmm_xmmm128_imm8);
        Set(t, &Pabsb, Code.Pabsb_xmm_xmmm128);
        Set(t, &Pabsw, Code.Pabsw_xmm_xmmm128);
        Set(t, &Pabsd, Code.Pabsd_xmm_xmmm128);
        Set(t, &Psignb, Code.Psignb_xmm_xmmm128);
        Set(t, &Psignw, Code.Psignw_xmm_xmmm128);
        Set(t, &Psignd, Code.Psignd_xmm_xmmm128);
        Set(t, &Phaddw, Code.Phaddw_xmm_xmmm128);
        Set(t, &Phaddd, Code.Phaddd_xmm_xmmm128);
        Set(t, &Phaddsw, Code.Phaddsw_xmm_xmmm128);
        Set(t, &Phsubw, Code.Phsubw_xmm_xmmm128);
        Set(t, &Phsubd, Code.Phsubd_xmm_xmmm128);
        Set(t, &Phsubsw, Code.Phsubsw_xmm_xmmm128);
        Set(t, &Pmaddubsw, Code.Pmaddubsw_xmm_xmmm128);
        Set(t, &Pmulhrsw, Code.Pmulhrsw_xmm_xmmm128);

        // SSE4.1
        Set(t, &Pblendvb, Code.Pblendvb_xmm_xmmm128);
        Set(t, &Blendvps, Code.Blendvps_xmm_xmmm128);
        Set(t, &Blendvpd, Code.Blendvpd_xmm_xmmm128);
        Set(t, &Blendps, Code.Blendps_xmm_xmmm128_imm8);
        Set(t, &Blendpd, Code.Blendpd_xmm_xmmm128_imm8);
        Set(t, &Pblendw, Code.Pblendw_xmm_xmmm128_imm8);
        Set(t, &Ptest, Code.Ptest_xmm_xmmm128);
        Set(t, &Pmovsxbw, Code.Pmovsxbw_xmm_xmmm64);
        Set(t, &Pmovsxbd, Code.Pmovsxbd_xmm_xmmm32);
        Set(t, &Pmovsxbq, Code.Pmovsxbq_xmm_xmmm16);
        Set(t, &Pmovsxwd, Code.Pmovsxwd_xmm_xmmm64);
        Set(t, &Pmovsxwq, Code.Pmovsxwq_xmm_xmmm32);
        Set(t, &Pmovsxdq, Code.Pmovsxdq_xmm_xmmm64);
        Set(t, &Pmovzxbw, Code.Pmovzxbw_xmm_xmmm64);
        Set(t, &Pmovzxbd, Code.Pmovzxbd_xmm_xmmm32);
        Set(t, &Pmovzxbq, Code.Pmovzxbq_xmm_xmmm16);
        Set(t, &Pmovzxwd, Code.Pmovzxwd_xmm_xmmm64);
        Set(t, &Pmovzxwq, Code.Pmovzxwq_xmm_xmmm32);
        Set(t, &Pmovzxdq, Code.Pmovzxdq_xmm_xmmm64);
        Set(t, &Pmuldq, Code.Pmuldq_xmm_xmmm128);
        Set(t, &Pmulld, Code.Pmulld_xmm_xmmm128);
        Set(t, &Pcmpeqq, Code.Pcmpeqq_xmm_xmmm128);
        Set(t, &Packusdw, Code.Packusdw_xmm_xmmm128);
        Set(t, &Pminsb, Code.Pminsb_xmm_xmmm128);
        Set(t, &Pminsd, Code.Pminsd_xmm_xmmm128);
        Set(t, &Pminuw, Code.Pminuw_xmm_xmmm128);
        Set(t, &Pminud, Code.Pminud_xmm_xmmm128);
        Set(t, &Pmaxsb, Code.Pmaxsb_xmm_xmmm128);
        Set(t, &Pmaxsd, Code.Pmaxsd_xmm_xmmm128);
        Set(t, &Pmaxuw, Code.Pmaxuw_xmm_xmmm128);
        Set(t, &Pmaxud, Code.Pmaxud_xmm_xmmm128);
        Set(t, &Phminposuw, Code.Phminposuw_xmm_xmmm128);
        Set(t, &Roundps, Code.Roundps_xmm_xmmm128_imm8);
        Set(t, &Roundpd, Code.Roundpd_xmm_xmmm128_imm8);
        Set(t, &Roundss, Code.Roundss_xmm_xmmm32_imm8);
        Set(t, &Roundsd, Code.Roundsd_xmm_xmmm64_imm8);
        Set(t, &Dpps, Code.Dpps_xmm_xmmm128_imm8);
        Set(t, &Dppd, Code.Dppd_xmm_xmmm128_imm8);
        Set(t, &Mpsadbw, Code.Mpsadbw_xmm_xmmm128_imm8);
        Set(t, &Pextrb, Code.Pextrb_r32m8_xmm_imm8, Code.Pextrb_r64m8_xmm_imm8);
        Set(t, &Pextrw_rm, Code.Pextrw_r32m16_xmm_imm8, Code.Pextrw_r64m16_xmm_imm8);
        Set(t, &Pextrd, Code.Pextrd_rm32_xmm_imm8, Code.Extractps_rm32_xmm_imm8, Code.Extractps_r64m32_xmm_imm8);
        Set(t, &Pextrq, Code.Pextrq_rm64_xmm_imm8);
        Set(t, &Pinsrb, Code.Pinsrb_xmm_r32m8_imm8, Code.Pinsrb_xmm_r64m8_imm8);
        Set(t, &Pinsrd, Code.Pinsrd_xmm_rm32_imm8);
        Set(t, &Pinsrq, Code.Pinsrq_xmm_rm64_imm8);
        Set(t, &Insertps, Code.Insertps_xmm_xmmm32_imm8);
    }

    // ------------------------------------------------------------------ SSE3

    private static void Movsldup(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Op0Xmm(cpu, in i) = Vector128.Shuffle(s.AsUInt32(), Vector128.Create(0u, 0, 2, 2)).AsUInt64();
        }
    }

    private static void Movshdup(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Op0Xmm(cpu, in i) = Vector128.Shuffle(s.AsUInt32(), Vector128.Create(1u, 1, 3, 3)).AsUInt64();
        }
    }

    private static void Movddup(Vcpu cpu, in Instruction i)
    {
        if (SseSrc64(cpu, in i, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create(v);
        }
    }

    /// <summary>HADDPS/HSUBPS: (d0∘d1, d2∘d3, s0∘s1, s2∘s3).</summary>
    private static void HorizontalSingle(Vcpu cpu, in Instruction i, bool subtract)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        FpOp op = subtract ? FpOp.Sub : FpOp.Add;
        Vector128<float> a = d.AsSingle(), b = src.AsSingle();
        Vector128<float> r = Vector128.Create(
            Binary(op, a.GetElement(0), a.GetElement(1), ref env),
            Binary(op, a.GetElement(2), a.GetElement(3), ref env),
            Binary(op, b.GetElement(0), b.GetElement(1), ref env),
            Binary(op, b.GetElement(2), b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    private static void HorizontalDouble(Vcpu cpu, in Instruction i, bool subtract)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        FpOp op = subtract ? FpOp.Sub : FpOp.Add;
        Vector128<double> a = d.AsDouble(), b = src.AsDouble();
        Vector128<double> r = Vector128.Create(
            Binary(op, a.GetElement(0), a.GetElement(1), ref env),
            Binary(op, b.GetElement(0), b.GetElement(1), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    private static void Haddps(Vcpu cpu, in Instruction i) => HorizontalSingle(cpu, in i, false);

    private static void Hsubps(Vcpu cpu, in Instruction i) => HorizontalSingle(cpu, in i, true);

    private static void Haddpd(Vcpu cpu, in Instruction i) => HorizontalDouble(cpu, in i, false);

    private static void Hsubpd(Vcpu cpu, in Instruction i) => HorizontalDouble(cpu, in i, true);

    /// <summary>ADDSUBPS: even lanes subtract, odd lanes add.</summary>
    private static void Addsubps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<float> a = d.AsSingle(), b = src.AsSingle();
        Vector128<float> r = Vector128.Create(
            SoftFp.Sub(a.GetElement(0), b.GetElement(0), ref env),
            SoftFp.Add(a.GetElement(1), b.GetElement(1), ref env),
            SoftFp.Sub(a.GetElement(2), b.GetElement(2), ref env),
            SoftFp.Add(a.GetElement(3), b.GetElement(3), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    private static void Addsubpd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> a = d.AsDouble(), b = src.AsDouble();
        Vector128<double> r = Vector128.Create(
            SoftFp.Sub(a.GetElement(0), b.GetElement(0), ref env),
            SoftFp.Add(a.GetElement(1), b.GetElement(1), ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            d = r.AsUInt64();
        }
    }

    // ------------------------------------------------------------------ SSSE3

    /// <summary>PSHUFB: byte i = dest[src[i] &amp; 15], or 0 when src[i] bit 7 is set (indices ≥ 16 select zero in <see cref="Vector128.Shuffle(Vector128{byte}, Vector128{byte})"/>).</summary>
    private static void Pshufb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Shuffle(d.AsByte(), s.AsByte() & Vector128.Create((byte)0x8F)).AsUInt64();
        }
    }

    /// <summary>PALIGNR: (dest:src) >> (imm8 · 8), low 128 bits; counts of 32 bytes or more give zero.</summary>
    private static void Palignr(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int n = i.Immediate8;
        if (n >= 32)
        {
            d = Vector128<ulong>.Zero;
        }
        else if (n >= 16)
        {
            d = ByteShiftRight(d, n - 16);
        }
        else if (n == 0)
        {
            d = s;
        }
        else
        {
            d = ByteShiftRight(s, n) | ByteShiftLeft(d, 16 - n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> AbsWrapping<T>(Vector128<T> x)
        where T : unmanaged => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<T>.Zero), Vector128<T>.Zero - x, x);

    /// <summary>PSIGN*: negate where the source is negative, zero where it is zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Sign<T>(Vector128<T> d, Vector128<T> s)
        where T : unmanaged
    {
        Vector128<T> negated = Vector128.ConditionalSelect(Vector128.LessThan(s, Vector128<T>.Zero), Vector128<T>.Zero - d, d);
        return Vector128.AndNot(negated, Vector128.Equals(s, Vector128<T>.Zero));
    }

    private static void Pabsb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Op0Xmm(cpu, in i) = AbsWrapping(s.AsSByte()).AsUInt64();
        }
    }

    private static void Pabsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Op0Xmm(cpu, in i) = AbsWrapping(s.AsInt16()).AsUInt64();
        }
    }

    private static void Pabsd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Op0Xmm(cpu, in i) = AbsWrapping(s.AsInt32()).AsUInt64();
        }
    }

    private static void Psignb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Sign(d.AsSByte(), s.AsSByte()).AsUInt64();
        }
    }

    private static void Psignw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Sign(d.AsInt16(), s.AsInt16()).AsUInt64();
        }
    }

    private static void Psignd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Sign(d.AsInt32(), s.AsInt32()).AsUInt64();
        }
    }

    /// <summary>PHADDW/PHSUBW/PHADDSW/PHSUBSW: adjacent word pairs of dest, then of src; kind 0 add, 1 sub, 2 add saturating, 3 sub saturating.</summary>
    private static Vector128<ulong> HorizontalWords(Vector128<ulong> a, Vector128<ulong> b, int kind)
    {
        Vector128<short> x = a.AsInt16(), y = b.AsInt16(), r = default;
        for (int k = 0; k < 8; k++)
        {
            Vector128<short> v = k < 4 ? x : y;
            int j = 2 * (k & 3);
            int p = v.GetElement(j), q = v.GetElement(j + 1);
            int sum = (kind & 1) == 0 ? p + q : p - q;
            r = r.WithElement(k, kind >= 2 ? (short)Math.Clamp(sum, short.MinValue, short.MaxValue) : (short)sum);
        }
        return r.AsUInt64();
    }

    private static Vector128<ulong> HorizontalDwords(Vector128<ulong> a, Vector128<ulong> b, bool subtract)
    {
        Vector128<uint> x = a.AsUInt32(), y = b.AsUInt32();
        return Vector128.Create(
            subtract ? x.GetElement(0) - x.GetElement(1) : x.GetElement(0) + x.GetElement(1),
            subtract ? x.GetElement(2) - x.GetElement(3) : x.GetElement(2) + x.GetElement(3),
            subtract ? y.GetElement(0) - y.GetElement(1) : y.GetElement(0) + y.GetElement(1),
            subtract ? y.GetElement(2) - y.GetElement(3) : y.GetElement(2) + y.GetElement(3)).AsUInt64();
    }

    private static void Phaddw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalWords(d, s, 0);
        }
    }

    private static void Phsubw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalWords(d, s, 1);
        }
    }

    private static void Phaddsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalWords(d, s, 2);
        }
    }

    private static void Phsubsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalWords(d, s, 3);
        }
    }

    private static void Phaddd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalDwords(d, s, false);
        }
    }

    private static void Phsubd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = HorizontalDwords(d, s, true);
        }
    }

    /// <summary>PMADDUBSW: unsigned dest bytes × signed src bytes, adjacent products added with signed word saturation.</summary>
    private static Vector128<ulong> PmaddubswOp(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<byte> x = a.AsByte();
        Vector128<sbyte> y = b.AsSByte();
        Vector128<short> r = default;
        for (int k = 0; k < 8; k++)
        {
            int sum = x.GetElement(2 * k) * y.GetElement(2 * k) + x.GetElement(2 * k + 1) * y.GetElement(2 * k + 1);
            r = r.WithElement(k, (short)Math.Clamp(sum, short.MinValue, short.MaxValue));
        }
        return r.AsUInt64();
    }

    /// <summary>PMULHRSW: ((d · s &gt;&gt; 14) + 1) &gt;&gt; 1 per signed word.</summary>
    private static Vector128<ulong> PmulhrswOp(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<short> x = a.AsInt16(), y = b.AsInt16(), r = default;
        for (int k = 0; k < 8; k++)
        {
            r = r.WithElement(k, (short)((((x.GetElement(k) * y.GetElement(k)) >> 14) + 1) >> 1));
        }
        return r.AsUInt64();
    }

    private static void Pmaddubsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PmaddubswOp(d, s);
        }
    }

    private static void Pmulhrsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PmulhrswOp(d, s);
        }
    }

    // ------------------------------------------------------------------ SSE4.1 blends and test

    /// <summary>Variable blends take the mask from the sign bits of the implicit XMM0.</summary>
    private static void Pblendvb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<byte> mask = Vector128.ShiftRightArithmetic(cpu.State.Xmm[0].AsSByte(), 7).AsByte();
            d = Vector128.ConditionalSelect(mask, s.AsByte(), d.AsByte()).AsUInt64();
        }
    }

    private static void Blendvps(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<uint> mask = Vector128.ShiftRightArithmetic(cpu.State.Xmm[0].AsInt32(), 31).AsUInt32();
            d = Vector128.ConditionalSelect(mask, s.AsUInt32(), d.AsUInt32()).AsUInt64();
        }
    }

    private static void Blendvpd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<ulong> mask = Vector128.ShiftRightArithmetic(cpu.State.Xmm[0].AsInt64(), 63).AsUInt64();
            d = Vector128.ConditionalSelect(mask, s, d);
        }
    }

    /// <summary>Lane mask from the low <paramref name="lanes"/> bits of imm8: all-ones lanes where the bit is set.</summary>
    private static Vector128<T> ImmMask<T>(int imm, int lanes)
        where T : unmanaged
    {
        Vector128<T> m = Vector128<T>.Zero;
        for (int k = 0; k < lanes; k++)
        {
            if ((imm & (1 << k)) != 0)
            {
                m = m.WithElement(k, Vector128<T>.AllBitsSet.GetElement(0));
            }
        }
        return m;
    }

    private static void Blendps(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.ConditionalSelect(ImmMask<uint>(i.Immediate8, 4), s.AsUInt32(), d.AsUInt32()).AsUInt64();
        }
    }

    private static void Blendpd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.ConditionalSelect(ImmMask<ulong>(i.Immediate8, 2), s, d);
        }
    }

    private static void Pblendw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.ConditionalSelect(ImmMask<ushort>(i.Immediate8, 8), s.AsUInt16(), d.AsUInt16()).AsUInt64();
        }
    }

    /// <summary>SDM Vol. 2B "PTEST": ZF = (dest AND src) = 0, CF = (NOT dest AND src) = 0; AF, OF, PF, SF cleared.</summary>
    private static void Ptest(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            Vector128<ulong> d = Op0Xmm(cpu, in i);
            ulong flags = ((d & s) == Vector128<ulong>.Zero ? CpuState.FlagZf : 0)
                | (Vector128.AndNot(s, d) == Vector128<ulong>.Zero ? CpuState.FlagCf : 0);
            cpu.State.SetArith(CpuState.ArithMask, flags);
        }
    }

    // ------------------------------------------------------------------ SSE4.1 sign / zero extension

    /// <summary>Source of PMOVSX/PMOVZX: the low <paramref name="size"/> bytes of an XMM register or memory (no alignment).</summary>
    private static bool ExtendSource(Vcpu cpu, in Instruction i, int size, out ulong v)
    {
        if (!SseUsable(cpu))
        {
            v = 0;
            return false;
        }
        if (i.Op1Kind == OpKind.Register)
        {
            v = OpXmm(cpu, in i, 1).GetElement(0);
            return true;
        }
        return cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), size, out v);
    }

    private static void Pmovsxbw(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.CreateScalar(v).AsSByte()).AsUInt64();
        }
    }

    private static void Pmovsxbd(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 4, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalar(v).AsSByte())).AsUInt64();
        }
    }

    private static void Pmovsxbq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 2, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((long)(sbyte)v, (sbyte)(v >> 8)).AsUInt64();
        }
    }

    private static void Pmovsxwd(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.CreateScalar(v).AsInt16()).AsUInt64();
        }
    }

    private static void Pmovsxwq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 4, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((long)(short)v, (short)(v >> 16)).AsUInt64();
        }
    }

    private static void Pmovsxdq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((long)(int)v, (int)(v >> 32)).AsUInt64();
        }
    }

    private static void Pmovzxbw(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.CreateScalar(v).AsByte()).AsUInt64();
        }
    }

    private static void Pmovzxbd(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 4, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalar(v).AsByte())).AsUInt64();
        }
    }

    private static void Pmovzxbq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 2, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((ulong)(byte)v, (byte)(v >> 8));
        }
    }

    private static void Pmovzxwd(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.WidenLower(Vector128.CreateScalar(v).AsUInt16()).AsUInt64();
        }
    }

    private static void Pmovzxwq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 4, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((ulong)(ushort)v, (ushort)(v >> 16));
        }
    }

    private static void Pmovzxdq(Vcpu cpu, in Instruction i)
    {
        if (ExtendSource(cpu, in i, 8, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.Create((ulong)(uint)v, v >> 32);
        }
    }

    // ------------------------------------------------------------------ SSE4.1 integer arithmetic

    /// <summary>PMULDQ: signed 32×32→64 of the even doublewords.</summary>
    private static void Pmuldq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<int> x = d.AsInt32(), y = s.AsInt32();
            d = Vector128.Create((long)x.GetElement(0) * y.GetElement(0), (long)x.GetElement(2) * y.GetElement(2)).AsUInt64();
        }
    }

    private static void Pmulld(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt32() * s.AsUInt32()).AsUInt64();
        }
    }

    private static void Pcmpeqq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Equals(d, s);
        }
    }

    /// <summary>PACKUSDW: signed doublewords saturated to unsigned words.</summary>
    private static void Packusdw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<int> lo = Vector128<int>.Zero, hi = Vector128.Create(65535);
            Vector128<int> x = Vector128.Clamp(d.AsInt32(), lo, hi), y = Vector128.Clamp(s.AsInt32(), lo, hi);
            d = Vector128.Narrow(x.AsUInt32(), y.AsUInt32()).AsUInt64();
        }
    }

    private static void Pminsb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsSByte(), s.AsSByte()).AsUInt64();
        }
    }

    private static void Pminsd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsInt32(), s.AsInt32()).AsUInt64();
        }
    }

    private static void Pminuw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsUInt16(), s.AsUInt16()).AsUInt64();
        }
    }

    private static void Pminud(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsUInt32(), s.AsUInt32()).AsUInt64();
        }
    }

    private static void Pmaxsb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsSByte(), s.AsSByte()).AsUInt64();
        }
    }

    private static void Pmaxsd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsInt32(), s.AsInt32()).AsUInt64();
        }
    }

    private static void Pmaxuw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsUInt16(), s.AsUInt16()).AsUInt64();
        }
    }

    private static void Pmaxud(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsUInt32(), s.AsUInt32()).AsUInt64();
        }
    }

    /// <summary>PHMINPOSUW: smallest unsigned word (lowest index on ties) in word 0, its index in word 1, the rest zero.</summary>
    private static void Phminposuw(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            return;
        }
        Vector128<ushort> w = s.AsUInt16();
        int best = 0;
        for (int k = 1; k < 8; k++)
        {
            if (w.GetElement(k) < w.GetElement(best))
            {
                best = k;
            }
        }
        Op0Xmm(cpu, in i) = Vector128.CreateScalar(w.GetElement(best) | ((ulong)best << 16));
    }

    /// <summary>
    /// MPSADBW: eight sums of absolute differences between 4-byte windows of dest (starting at byte
    /// imm8[2]·4 + i) and the src block imm8[1:0]·4.
    /// </summary>
    private static void Mpsadbw(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        int imm = i.Immediate8;
        int dOff = (imm & 4) != 0 ? 4 : 0, sOff = (imm & 3) * 4;
        Vector128<byte> x = d.AsByte(), y = s.AsByte();
        Vector128<ushort> r = default;
        for (int k = 0; k < 8; k++)
        {
            int sum = 0;
            for (int j = 0; j < 4; j++)
            {
                sum += Math.Abs(x.GetElement(dOff + k + j) - y.GetElement(sOff + j));
            }
            r = r.WithElement(k, (ushort)sum);
        }
        d = r.AsUInt64();
    }

    // ------------------------------------------------------------------ SSE4.1 rounding and dot products

    /// <summary>
    /// ROUND*: imm8[2] = 1 uses MXCSR.RC, else imm8[1:0]; imm8[3] suppresses #P. An SNaN raises #I and is
    /// quieted (SDM Vol. 2B "ROUNDPS").
    /// </summary>
    private static double RoundLane(double x, int imm, ref FpEnv env)
    {
        if (double.IsNaN(x))
        {
            return SoftFp.PropagateNaN(x, x, ref env);
        }
        double r = SoftFp.RoundToIntegral(x, (imm & 4) != 0 ? env.Rc : imm & 3);
        if (r != x && (imm & 8) == 0)
        {
            env.Flags |= FpFlag.Precision;
        }
        return r;
    }

    private static float RoundLane(float x, int imm, ref FpEnv env)
    {
        if (float.IsNaN(x))
        {
            return SoftFp.PropagateNaN(x, x, ref env);
        }
        return (float)RoundLane((double)x, imm, ref env);
    }

    private static void Roundps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int imm = i.Immediate8;
        Vector128<float> b = src.AsSingle();
        Vector128<float> r = Vector128.Create(
            RoundLane(SoftFp.Daz(b.GetElement(0), ref env), imm, ref env),
            RoundLane(SoftFp.Daz(b.GetElement(1), ref env), imm, ref env),
            RoundLane(SoftFp.Daz(b.GetElement(2), ref env), imm, ref env),
            RoundLane(SoftFp.Daz(b.GetElement(3), ref env), imm, ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void Roundpd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int imm = i.Immediate8;
        Vector128<double> b = src.AsDouble();
        Vector128<double> r = Vector128.Create(
            RoundLane(SoftFp.Daz(b.GetElement(0), ref env), imm, ref env),
            RoundLane(SoftFp.Daz(b.GetElement(1), ref env), imm, ref env));
        if (CommitMxcsr(cpu, ref env))
        {
            Op0Xmm(cpu, in i) = r.AsUInt64();
        }
    }

    private static void Roundss(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc32(cpu, in i, out uint src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float r = RoundLane(SoftFp.Daz(BitConverter.UInt32BitsToSingle(src), ref env), i.Immediate8, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsSingle().WithElement(0, r).AsUInt64();
        }
    }

    private static void Roundsd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        double r = RoundLane(SoftFp.Daz(BitConverter.UInt64BitsToDouble(src), ref env), i.Immediate8, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));
        }
    }

    /// <summary>
    /// DPPS (SDM Vol. 2A "DPPS" DP_primitive): products of the lanes selected by imm8[7:4] (others +0.0),
    /// summed as (p0 + p1) + (p2 + p3), written to the lanes selected by imm8[3:0] (others zero).
    /// </summary>
    private static void Dpps(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int imm = i.Immediate8;
        Vector128<float> a = d.AsSingle(), b = src.AsSingle();
        float p0 = (imm & 0x10) != 0 ? SoftFp.Mul(a.GetElement(0), b.GetElement(0), ref env) : 0f;
        float p1 = (imm & 0x20) != 0 ? SoftFp.Mul(a.GetElement(1), b.GetElement(1), ref env) : 0f;
        float p2 = (imm & 0x40) != 0 ? SoftFp.Mul(a.GetElement(2), b.GetElement(2), ref env) : 0f;
        float p3 = (imm & 0x80) != 0 ? SoftFp.Mul(a.GetElement(3), b.GetElement(3), ref env) : 0f;
        float sum = SoftFp.Add(SoftFp.Add(p0, p1, ref env), SoftFp.Add(p2, p3, ref env), ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = Vector128.ConditionalSelect(ImmMask<uint>(imm, 4), Vector128.Create(sum).AsUInt32(), Vector128<uint>.Zero).AsUInt64();
        }
    }

    private static void Dppd(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc(cpu, in i, out Vector128<ulong> src))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        int imm = i.Immediate8;
        Vector128<double> a = d.AsDouble(), b = src.AsDouble();
        double p0 = (imm & 0x10) != 0 ? SoftFp.Mul(a.GetElement(0), b.GetElement(0), ref env) : 0.0;
        double p1 = (imm & 0x20) != 0 ? SoftFp.Mul(a.GetElement(1), b.GetElement(1), ref env) : 0.0;
        double sum = SoftFp.Add(p0, p1, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            d = Vector128.ConditionalSelect(ImmMask<ulong>(imm, 2), Vector128.Create(sum).AsUInt64(), Vector128<ulong>.Zero);
        }
    }

    // ------------------------------------------------------------------ SSE4.1 insert / extract

    /// <summary>PEXTRB r32/r64/m8: byte imm8[3:0], zero-extended into a register.</summary>
    private static void Pextrb(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ulong v = OpXmm(cpu, in i, 1).AsByte().GetElement(i.Immediate8 & 15);
            WriteExtract(cpu, in i, 1, v);
        }
    }

    private static void Pextrw_rm(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ulong v = OpXmm(cpu, in i, 1).AsUInt16().GetElement(i.Immediate8 & 7);
            WriteExtract(cpu, in i, 2, v);
        }
    }

    /// <summary>PEXTRD and EXTRACTPS: doubleword imm8[1:0] to r/m32 (the r64 form of EXTRACTPS zero-extends).</summary>
    private static void Pextrd(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ulong v = OpXmm(cpu, in i, 1).AsUInt32().GetElement(i.Immediate8 & 3);
            WriteExtract(cpu, in i, 4, v);
        }
    }

    private static void Pextrq(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            WriteExtract(cpu, in i, 8, OpXmm(cpu, in i, 1).GetElement(i.Immediate8 & 1));
        }
    }

    /// <summary>A register destination is written whole (zero-extended); memory gets <paramref name="size"/> bytes.</summary>
    private static void WriteExtract(Vcpu cpu, in Instruction i, int size, ulong v)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(i.Op0Register, v);
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), size, v);
    }

    private static void Pinsrb(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu) && cpu.ReadOp(in i, 1, 1, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsByte().WithElement(i.Immediate8 & 15, (byte)v).AsUInt64();
        }
    }

    private static void Pinsrd(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu) && cpu.ReadOp(in i, 1, 4, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsUInt32().WithElement(i.Immediate8 & 3, (uint)v).AsUInt64();
        }
    }

    private static void Pinsrq(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu) && cpu.ReadOp(in i, 1, 8, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(i.Immediate8 & 1, v);
        }
    }

    /// <summary>
    /// INSERTPS: the source doubleword (register: imm8[7:6]; memory: the m32) goes to dest lane imm8[5:4],
    /// then the lanes in imm8[3:0] are zeroed.
    /// </summary>
    private static void Insertps(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        int imm = i.Immediate8;
        uint v;
        if (i.Op1Kind == OpKind.Register)
        {
            v = OpXmm(cpu, in i, 1).AsUInt32().GetElement(imm >> 6);
        }
        else if (cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 4, out ulong m))
        {
            v = (uint)m;
        }
        else
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        Vector128<uint> r = d.AsUInt32().WithElement((imm >> 4) & 3, v);
        d = Vector128.AndNot(r, ImmMask<uint>(imm, 4)).AsUInt64();
    }
}
