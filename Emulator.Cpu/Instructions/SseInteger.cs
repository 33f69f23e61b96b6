using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE2 packed integer instructions on XMM registers. Lane-wise operations use the portable
/// <see cref="Vector128"/> API (exact for integers on every host); the few without a portable equivalent
/// use <see cref="Sse2"/> behind <c>IsSupported</c> with a scalar fallback (<c>*Scalar</c>, tested against
/// the intrinsic).
/// </summary>
internal static unsafe partial class Handlers
{
    private enum PShift
    {
        Left,
        RightLogical,
        RightArithmetic,
    }

    private static void RegisterSseInteger(HandlerFn[] t)
    {
        Set(t, &Paddb, Code.Paddb_xmm_xmmm128);
        Set(t, &Paddw, Code.Paddw_xmm_xmmm128);
        Set(t, &Paddd, Code.Paddd_xmm_xmmm128);
        Set(t, &Paddq, Code.Paddq_xmm_xmmm128);
        Set(t, &Psubb, Code.Psubb_xmm_xmmm128);
        Set(t, &Psubw, Code.Psubw_xmm_xmmm128);
        Set(t, &Psubd, Code.Psubd_xmm_xmmm128);
        Set(t, &Psubq, Code.Psubq_xmm_xmmm128);
        Set(t, &Paddsb, Code.Paddsb_xmm_xmmm128);
        Set(t, &Paddsw, Code.Paddsw_xmm_xmmm128);
        Set(t, &Paddusb, Code.Paddusb_xmm_xmmm128);
        Set(t, &Paddusw, Code.Paddusw_xmm_xmmm128);
        Set(t, &Psubsb, Code.Psubsb_xmm_xmmm128);
        Set(t, &Psubsw, Code.Psubsw_xmm_xmmm128);
        Set(t, &Psubusb, Code.Psubusb_xmm_xmmm128);
        Set(t, &Psubusw, Code.Psubusw_xmm_xmmm128);
        Set(t, &Pmullw, Code.Pmullw_xmm_xmmm128);
        Set(t, &Pmulhw, Code.Pmulhw_xmm_xmmm128);
        Set(t, &Pmulhuw, Code.Pmulhuw_xmm_xmmm128);
        Set(t, &Pmuludq, Code.Pmuludq_xmm_xmmm128);
        Set(t, &Pmaddwd, Code.Pmaddwd_xmm_xmmm128);
        Set(t, &Pcmpeqb, Code.Pcmpeqb_xmm_xmmm128);
        Set(t, &Pcmpeqw, Code.Pcmpeqw_xmm_xmmm128);
        Set(t, &Pcmpeqd, Code.Pcmpeqd_xmm_xmmm128);
        Set(t, &Pcmpgtb, Code.Pcmpgtb_xmm_xmmm128);
        Set(t, &Pcmpgtw, Code.Pcmpgtw_xmm_xmmm128);
        Set(t, &Pcmpgtd, Code.Pcmpgtd_xmm_xmmm128);
        Set(t, &Pminub, Code.Pminub_xmm_xmmm128);
        Set(t, &Pmaxub, Code.Pmaxub_xmm_xmmm128);
        Set(t, &Pminsw, Code.Pminsw_xmm_xmmm128);
        Set(t, &Pmaxsw, Code.Pmaxsw_xmm_xmmm128);
        Set(t, &Pavgb, Code.Pavgb_xmm_xmmm128);
        Set(t, &Pavgw, Code.Pavgw_xmm_xmmm128);
        Set(t, &Psadbw, Code.Psadbw_xmm_xmmm128);
        Set(t, &Pand, Code.Pand_xmm_xmmm128, Code.Andps_xmm_xmmm128, Code.Andpd_xmm_xmmm128);
        Set(t, &Pandn, Code.Pandn_xmm_xmmm128, Code.Andnps_xmm_xmmm128, Code.Andnpd_xmm_xmmm128);
        Set(t, &Por, Code.Por_xmm_xmmm128, Code.Orps_xmm_xmmm128, Code.Orpd_xmm_xmmm128);
        Set(t, &Pxor, Code.Pxor_xmm_xmmm128, Code.Xorps_xmm_xmmm128, Code.Xorpd_xmm_xmmm128);
        Set(t, &Psllw_xmm_xmmm128, Code.Psllw_xmm_xmmm128);
        Set(t, &Pslld_xmm_xmmm128, Code.Pslld_xmm_xmmm128);
        Set(t, &Psllq_xmm_xmmm128, Code.Psllq_xmm_xmmm128);
        Set(t, &Psrlw_xmm_xmmm128, Code.Psrlw_xmm_xmmm128);
        Set(t, &Psrld_xmm_xmmm128, Code.Psrld_xmm_xmmm128);
        Set(t, &Psrlq_xmm_xmmm128, Code.Psrlq_xmm_xmmm128);
        Set(t, &Psraw_xmm_xmmm128, Code.Psraw_xmm_xmmm128);
        Set(t, &Psrad_xmm_xmmm128, Code.Psrad_xmm_xmmm128);
        Set(t, &Psllw_xmm_imm8, Code.Psllw_xmm_imm8);
        Set(t, &Pslld_xmm_imm8, Code.Pslld_xmm_imm8);
        Set(t, &Psllq_xmm_imm8, Code.Psllq_xmm_imm8);
        Set(t, &Psrlw_xmm_imm8, Code.Psrlw_xmm_imm8);
        Set(t, &Psrld_xmm_imm8, Code.Psrld_xmm_imm8);
        Set(t, &Psrlq_xmm_imm8, Code.Psrlq_xmm_imm8);
        Set(t, &Psraw_xmm_imm8, Code.Psraw_xmm_imm8);
        Set(t, &Psrad_xmm_imm8, Code.Psrad_xmm_imm8);
        Set(t, &Pslldq, Code.Pslldq_xmm_imm8);
        Set(t, &Psrldq, Code.Psrldq_xmm_imm8);
        Set(t, &Punpcklbw, Code.Punpcklbw_xmm_xmmm128);
        Set(t, &Punpcklwd, Code.Punpcklwd_xmm_xmmm128);
        Set(t, &Punpckldq, Code.Punpckldq_xmm_xmmm128, Code.Unpcklps_xmm_xmmm128);
        Set(t, &Punpcklqdq, Code.Punpcklqdq_xmm_xmmm128, Code.Unpcklpd_xmm_xmmm128);
        Set(t, &Punpckhbw, Code.Punpckhbw_xmm_xmmm128);
        Set(t, &Punpckhwd, Code.Punpckhwd_xmm_xmmm128);
        Set(t, &Punpckhdq, Code.Punpckhdq_xmm_xmmm128, Code.Unpckhps_xmm_xmmm128);
        Set(t, &Punpckhqdq, Code.Punpckhqdq_xmm_xmmm128, Code.Unpckhpd_xmm_xmmm128);
        Set(t, &Packsswb, Code.Packsswb_xmm_xmmm128);
        Set(t, &Packssdw, Code.Packssdw_xmm_xmmm128);
        Set(t, &Packuswb, Code.Packuswb_xmm_xmmm128);
        Set(t, &Pshufd, Code.Pshufd_xmm_xmmm128_imm8);
        Set(t, &Pshuflw, Code.Pshuflw_xmm_xmmm128_imm8);
        Set(t, &Pshufhw, Code.Pshufhw_xmm_xmmm128_imm8);
        Set(t, &Pinsrw, Code.Pinsrw_xmm_r32m16_imm8, Code.Pinsrw_xmm_r64m16_imm8);
        Set(t, &Pextrw, Code.Pextrw_r32_xmm_imm8, Code.Pextrw_r64_xmm_imm8);
    }

    // ------------------------------------------------------------------ add / subtract

    private static void Paddb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsByte() + b.AsByte()).AsUInt64();
        }
    }

    private static void Paddw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt16() + b.AsUInt16()).AsUInt64();
        }
    }

    private static void Paddd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt32() + b.AsUInt32()).AsUInt64();
        }
    }

    private static void Paddq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d += b;
        }
    }

    private static void Psubb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsByte() - b.AsByte()).AsUInt64();
        }
    }

    private static void Psubw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt16() - b.AsUInt16()).AsUInt64();
        }
    }

    private static void Psubd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt32() - b.AsUInt32()).AsUInt64();
        }
    }

    private static void Psubq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d -= b;
        }
    }

    private static void Paddsb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.AddSaturate(d.AsSByte(), b.AsSByte()).AsUInt64();
        }
    }

    private static void Paddsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.AddSaturate(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    private static void Paddusb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.AddSaturate(d.AsByte(), b.AsByte()).AsUInt64();
        }
    }

    private static void Paddusw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.AddSaturate(d.AsUInt16(), b.AsUInt16()).AsUInt64();
        }
    }

    private static void Psubsb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.SubtractSaturate(d.AsSByte(), b.AsSByte()).AsUInt64();
        }
    }

    private static void Psubsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.SubtractSaturate(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    private static void Psubusb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.SubtractSaturate(d.AsByte(), b.AsByte()).AsUInt64();
        }
    }

    private static void Psubusw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.SubtractSaturate(d.AsUInt16(), b.AsUInt16()).AsUInt64();
        }
    }

    // ------------------------------------------------------------------ multiply

    private static void Pmullw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = (d.AsUInt16() * b.AsUInt16()).AsUInt64();
        }
    }

    private static void Pmulhw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PmulhwOp(d, b);
        }
    }

    private static void Pmulhuw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PmulhuwOp(d, b);
        }
    }

    /// <summary>PMULUDQ: unsigned 32×32→64 of the even doublewords.</summary>
    private static void Pmuludq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<ulong> low = Vector128.Create(0xFFFF_FFFFUL);
            d = (d & low) * (b & low);
        }
    }

    private static void Pmaddwd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PmaddwdOp(d, b);
        }
    }

    internal static Vector128<ulong> PmulhwOp(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.MultiplyHigh(a.AsInt16(), b.AsInt16()).AsUInt64() : PmulhwScalar(a, b);

    internal static Vector128<ulong> PmulhwScalar(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<short> x = a.AsInt16(), y = b.AsInt16(), r = default;
        for (int k = 0; k < 8; k++)
        {
            r = r.WithElement(k, (short)((x.GetElement(k) * y.GetElement(k)) >> 16));
        }
        return r.AsUInt64();
    }

    internal static Vector128<ulong> PmulhuwOp(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.MultiplyHigh(a.AsUInt16(), b.AsUInt16()).AsUInt64() : PmulhuwScalar(a, b);

    internal static Vector128<ulong> PmulhuwScalar(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<ushort> x = a.AsUInt16(), y = b.AsUInt16(), r = default;
        for (int k = 0; k < 8; k++)
        {
            r = r.WithElement(k, (ushort)((uint)(x.GetElement(k) * y.GetElement(k)) >> 16));
        }
        return r.AsUInt64();
    }

    internal static Vector128<ulong> PmaddwdOp(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16()).AsUInt64() : PmaddwdScalar(a, b);

    /// <summary>The single overflow case, 2 × (−32768)², wraps to 0x80000000 as on hardware.</summary>
    internal static Vector128<ulong> PmaddwdScalar(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<short> x = a.AsInt16(), y = b.AsInt16();
        Vector128<int> r = default;
        for (int k = 0; k < 4; k++)
        {
            int lo = x.GetElement(2 * k) * y.GetElement(2 * k);
            int hi = x.GetElement(2 * k + 1) * y.GetElement(2 * k + 1);
            r = r.WithElement(k, unchecked(lo + hi));
        }
        return r.AsUInt64();
    }

    // ------------------------------------------------------------------ compare / min / max / average

    private static void Pcmpeqb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Equals(d.AsByte(), b.AsByte()).AsUInt64();
        }
    }

    private static void Pcmpeqw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Equals(d.AsUInt16(), b.AsUInt16()).AsUInt64();
        }
    }

    private static void Pcmpeqd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Equals(d.AsUInt32(), b.AsUInt32()).AsUInt64();
        }
    }

    private static void Pcmpgtb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.GreaterThan(d.AsSByte(), b.AsSByte()).AsUInt64();
        }
    }

    private static void Pcmpgtw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.GreaterThan(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    private static void Pcmpgtd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.GreaterThan(d.AsInt32(), b.AsInt32()).AsUInt64();
        }
    }

    private static void Pminub(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsByte(), b.AsByte()).AsUInt64();
        }
    }

    private static void Pmaxub(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsByte(), b.AsByte()).AsUInt64();
        }
    }

    private static void Pminsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Min(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    private static void Pmaxsw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Max(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    /// <summary>PAVGB: (a + b + 1) >> 1 without widening, as (a | b) − ((a ^ b) >> 1).</summary>
    private static void Pavgb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<byte> x = d.AsByte(), y = b.AsByte();
            d = ((x | y) - ((x ^ y) >> 1)).AsUInt64();
        }
    }

    private static void Pavgw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<ushort> x = d.AsUInt16(), y = b.AsUInt16();
            d = ((x | y) - ((x ^ y) >> 1)).AsUInt64();
        }
    }

    /// <summary>PSADBW: sum of absolute byte differences of each quadword, zero-extended into it.</summary>
    private static void Psadbw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<byte> x = d.AsByte(), y = b.AsByte();
            Vector128<ulong> diff = (Vector128.Max(x, y) - Vector128.Min(x, y)).AsUInt64();
            d = Vector128.Create(SumBytes(diff.GetElement(0)), SumBytes(diff.GetElement(1)));
        }
    }

    private static ulong SumBytes(ulong x)
    {
        x = (x & 0x00FF_00FF_00FF_00FF) + ((x >> 8) & 0x00FF_00FF_00FF_00FF);
        x = (x & 0x0000_FFFF_0000_FFFF) + ((x >> 16) & 0x0000_FFFF_0000_FFFF);
        return (x & 0xFFFF_FFFF) + (x >> 32);
    }

    // ------------------------------------------------------------------ logical (also ANDPS/ANDNPS/ORPS/XORPS and PD)

    private static void Pand(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            Op0Xmm(cpu, in i) &= b;
        }
    }

    /// <summary>PANDN: dest = ~dest &amp; src.</summary>
    private static void Pandn(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.AndNot(b, d);
        }
    }

    private static void Por(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            Op0Xmm(cpu, in i) |= b;
        }
    }

    private static void Pxor(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            Op0Xmm(cpu, in i) ^= b;
        }
    }

    // ------------------------------------------------------------------ shifts

    /// <summary>
    /// SDM Vol. 2B "PSLLW/PSLLD/PSLLQ", "PSRAW/PSRAD", "PSRLW/PSRLD/PSRLQ": the count is the whole 64-bit
    /// value (or imm8); counts past the lane width give zero, or the sign fill for arithmetic shifts.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> PackedShift(Vector128<ulong> v, PShift kind, int width, ulong count)
    {
        if (count >= (ulong)width)
        {
            if (kind != PShift.RightArithmetic)
            {
                return Vector128<ulong>.Zero;
            }
            count = (ulong)width - 1;
        }
        int c = (int)count;
        return (kind, width) switch
        {
            (PShift.Left, 16) => Vector128.ShiftLeft(v.AsUInt16(), c).AsUInt64(),
            (PShift.Left, 32) => Vector128.ShiftLeft(v.AsUInt32(), c).AsUInt64(),
            (PShift.Left, _) => Vector128.ShiftLeft(v, c),
            (PShift.RightLogical, 16) => Vector128.ShiftRightLogical(v.AsUInt16(), c).AsUInt64(),
            (PShift.RightLogical, 32) => Vector128.ShiftRightLogical(v.AsUInt32(), c).AsUInt64(),
            (PShift.RightLogical, _) => Vector128.ShiftRightLogical(v, c),
            (_, 16) => Vector128.ShiftRightArithmetic(v.AsInt16(), c).AsUInt64(),
            _ => Vector128.ShiftRightArithmetic(v.AsInt32(), c).AsUInt64(),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShiftByXmm(Vcpu cpu, in Instruction i, PShift kind, int width)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PackedShift(d, kind, width, b.GetElement(0));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShiftByImm(Vcpu cpu, in Instruction i, PShift kind, int width)
    {
        if (SseUsable(cpu))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = PackedShift(d, kind, width, i.Immediate8);
        }
    }

    private static void Psllw_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.Left, 16);

    private static void Pslld_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.Left, 32);

    private static void Psllq_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.Left, 64);

    private static void Psrlw_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.RightLogical, 16);

    private static void Psrld_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.RightLogical, 32);

    private static void Psrlq_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.RightLogical, 64);

    private static void Psraw_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.RightArithmetic, 16);

    private static void Psrad_xmm_xmmm128(Vcpu cpu, in Instruction i) => ShiftByXmm(cpu, in i, PShift.RightArithmetic, 32);

    private static void Psllw_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.Left, 16);

    private static void Pslld_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.Left, 32);

    private static void Psllq_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.Left, 64);

    private static void Psrlw_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.RightLogical, 16);

    private static void Psrld_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.RightLogical, 32);

    private static void Psrlq_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.RightLogical, 64);

    private static void Psraw_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.RightArithmetic, 16);

    private static void Psrad_xmm_imm8(Vcpu cpu, in Instruction i) => ShiftByImm(cpu, in i, PShift.RightArithmetic, 32);

    /// <summary>Whole-register byte shifts; counts above 15 clear the register.</summary>
    private static Vector128<ulong> ByteShiftLeft(Vector128<ulong> v, int bytes)
    {
        if (bytes > 15)
        {
            return Vector128<ulong>.Zero;
        }
        UInt128 x = new UInt128(v.GetElement(1), v.GetElement(0)) << (bytes * 8);
        return Vector128.Create((ulong)x, (ulong)(x >> 64));
    }

    private static Vector128<ulong> ByteShiftRight(Vector128<ulong> v, int bytes)
    {
        if (bytes > 15)
        {
            return Vector128<ulong>.Zero;
        }
        UInt128 x = new UInt128(v.GetElement(1), v.GetElement(0)) >> (bytes * 8);
        return Vector128.Create((ulong)x, (ulong)(x >> 64));
    }

    private static void Pslldq(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = ByteShiftLeft(d, i.Immediate8);
        }
    }

    private static void Psrldq(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = ByteShiftRight(d, i.Immediate8);
        }
    }

    // ------------------------------------------------------------------ unpack / pack

    private static void Punpcklbw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 1, false);
        }
    }

    private static void Punpcklwd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 2, false);
        }
    }

    private static void Punpckldq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 4, false);
        }
    }

    private static void Punpcklqdq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Create(d.GetElement(0), b.GetElement(0));
        }
    }

    private static void Punpckhbw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 1, true);
        }
    }

    private static void Punpckhwd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 2, true);
        }
    }

    private static void Punpckhdq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = UnpackOp(d, b, 4, true);
        }
    }

    private static void Punpckhqdq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.Create(d.GetElement(1), b.GetElement(1));
        }
    }

    /// <summary>PUNPCKL*/PUNPCKH* for element sizes 1, 2, 4: interleave the low (or high) halves of a and b.</summary>
    internal static Vector128<ulong> UnpackOp(Vector128<ulong> a, Vector128<ulong> b, int size, bool high)
    {
        if (Sse2.IsSupported)
        {
            return (size, high) switch
            {
                (1, false) => Sse2.UnpackLow(a.AsByte(), b.AsByte()).AsUInt64(),
                (2, false) => Sse2.UnpackLow(a.AsUInt16(), b.AsUInt16()).AsUInt64(),
                (4, false) => Sse2.UnpackLow(a.AsUInt32(), b.AsUInt32()).AsUInt64(),
                (1, true) => Sse2.UnpackHigh(a.AsByte(), b.AsByte()).AsUInt64(),
                (2, true) => Sse2.UnpackHigh(a.AsUInt16(), b.AsUInt16()).AsUInt64(),
                _ => Sse2.UnpackHigh(a.AsUInt32(), b.AsUInt32()).AsUInt64(),
            };
        }
        return UnpackScalar(a, b, size, high);
    }

    internal static Vector128<ulong> UnpackScalar(Vector128<ulong> a, Vector128<ulong> b, int size, bool high)
    {
        UInt128 x = new UInt128(a.GetElement(1), a.GetElement(0));
        UInt128 y = new UInt128(b.GetElement(1), b.GetElement(0));
        int bits = size * 8;
        int count = 8 / size;
        int start = high ? count : 0;
        UInt128 mask = (UInt128.One << bits) - 1;
        UInt128 r = UInt128.Zero;
        for (int k = 0; k < count; k++)
        {
            r |= ((x >> ((start + k) * bits)) & mask) << (2 * k * bits);
            r |= ((y >> ((start + k) * bits)) & mask) << ((2 * k + 1) * bits);
        }
        return Vector128.Create((ulong)r, (ulong)(r >> 64));
    }

    private static void Packsswb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.NarrowWithSaturation(d.AsInt16(), b.AsInt16()).AsUInt64();
        }
    }

    private static void Packssdw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.NarrowWithSaturation(d.AsInt32(), b.AsInt32()).AsUInt64();
        }
    }

    /// <summary>PACKUSWB: signed words saturated to unsigned bytes.</summary>
    private static void Packuswb(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            Vector128<short> lo = Vector128.Create((short)0), hi = Vector128.Create((short)255);
            Vector128<short> x = Vector128.Clamp(d.AsInt16(), lo, hi), y = Vector128.Clamp(b.AsInt16(), lo, hi);
            d = Vector128.Narrow(x.AsUInt16(), y.AsUInt16()).AsUInt64();
        }
    }

    // ------------------------------------------------------------------ shuffles and word insert/extract

    private static void Pshufd(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            uint imm = i.Immediate8;
            Vector128<uint> idx = Vector128.Create(imm & 3, (imm >> 2) & 3, (imm >> 4) & 3, imm >> 6);
            Op0Xmm(cpu, in i) = Vector128.Shuffle(b.AsUInt32(), idx).AsUInt64();
        }
    }

    private static void Pshuflw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ushort imm = i.Immediate8;
            Vector128<ushort> idx = Vector128.Create((ushort)(imm & 3), (ushort)((imm >> 2) & 3), (ushort)((imm >> 4) & 3), (ushort)(imm >> 6), 4, 5, 6, 7);
            Op0Xmm(cpu, in i) = Vector128.Shuffle(b.AsUInt16(), idx).AsUInt64();
        }
    }

    private static void Pshufhw(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> b))
        {
            ushort imm = i.Immediate8;
            Vector128<ushort> idx = Vector128.Create(0, 1, 2, 3, (ushort)(4 + (imm & 3)), (ushort)(4 + ((imm >> 2) & 3)), (ushort)(4 + ((imm >> 4) & 3)), (ushort)(4 + (imm >> 6)));
            Op0Xmm(cpu, in i) = Vector128.Shuffle(b.AsUInt16(), idx).AsUInt64();
        }
    }

    /// <summary>PINSRW xmm, r32/m16, imm8: word index imm8[2:0].</summary>
    private static void Pinsrw(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu) && cpu.ReadOp(in i, 1, 2, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsUInt16().WithElement(i.Immediate8 & 7, (ushort)v).AsUInt64();
        }
    }

    /// <summary>PEXTRW r32/r64, xmm, imm8: zero-extended word imm8[2:0].</summary>
    private static void Pextrw(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteGpr(i.Op0Register, OpXmm(cpu, in i, 1).AsUInt16().GetElement(i.Immediate8 & 7));
        }
    }
}
