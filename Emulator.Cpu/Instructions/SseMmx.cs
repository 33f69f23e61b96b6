using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// MMX and the MMX-register forms added by SSE, SSE2 and SSSE3 (SDM Vol. 1 Chapter 9 "Programming with Intel
/// MMX Technology").
/// <para>
/// MMi aliases physical x87 register i (SDM Vol. 1 §9.5 "Compatibility with x87 FPU Architecture"). The
/// register file holds doubles, so an MMX value is kept as the raw 64-bit pattern of <c>Fpr[i]</c>.
/// Approximation: hardware also sets bits 79:64 of the 80-bit register to all ones; here an x87 instruction
/// reading an MMX-written register sees the pattern as a double, and FXSAVE/FNSAVE/XSAVE store the 80-bit
/// encoding of that double (restoring such an image gives back the same 64 bits). Every MMX instruction but
/// EMMS sets TOP = 0 and all tags valid once it cannot fault any more; EMMS empties all tags.
/// </para>
/// <para>
/// Faults (SDM Vol. 2 "Exceptions Type 22"/"Type 21"): #UD if CR0.EM = 1, #NM if CR0.TS = 1, #MF if an
/// unmasked x87 exception is pending (CR0.NE = 1). The forms that also touch XMM registers add the SSE
/// checks (CR4.OSFXSR). MMX memory operands need no alignment, except the m128 source of CVT(T)PD2PI.
/// </para>
/// </summary>
internal static unsafe partial class Handlers
{
    private static void RegisterSseMmx(HandlerFn[] t)
    {
        // MMX
        Set(t, &Paddb_mm, Code.Paddb_mm_mmm64);
        Set(t, &Paddw_mm, Code.Paddw_mm_mmm64);
        Set(t, &Paddd_mm, Code.Paddd_mm_mmm64);
        Set(t, &Paddq_mm, Code.Paddq_mm_mmm64);
        Set(t, &Psubb_mm, Code.Psubb_mm_mmm64);
        Set(t, &Psubw_mm, Code.Psubw_mm_mmm64);
        Set(t, &Psubd_mm, Code.Psubd_mm_mmm64);
        Set(t, &Psubq_mm, Code.Psubq_mm_mmm64);
        Set(t, &Paddsb_mm, Code.Paddsb_mm_mmm64);
        Set(t, &Paddsw_mm, Code.Paddsw_mm_mmm64);
        Set(t, &Paddusb_mm, Code.Paddusb_mm_mmm64);
        Set(t, &Paddusw_mm, Code.Paddusw_mm_mmm64);
        Set(t, &Psubsb_mm, Code.Psubsb_mm_mmm64);
        Set(t, &Psubsw_mm, Code.Psubsw_mm_mmm64);
        Set(t, &Psubusb_mm, Code.Psubusb_mm_mmm64);
        Set(t, &Psubusw_mm, Code.Psubusw_mm_mmm64);
        Set(t, &Pmullw_mm, Code.Pmullw_mm_mmm64);
        Set(t, &Pmulhw_mm, Code.Pmulhw_mm_mmm64);
        Set(t, &Pmaddwd_mm, Code.Pmaddwd_mm_mmm64);
        Set(t, &Pcmpeqb_mm, Code.Pcmpeqb_mm_mmm64);
        Set(t, &Pcmpeqw_mm, Code.Pcmpeqw_mm_mmm64);
        Set(t, &Pcmpeqd_mm, Code.Pcmpeqd_mm_mmm64);
        Set(t, &Pcmpgtb_mm, Code.Pcmpgtb_mm_mmm64);
        Set(t, &Pcmpgtw_mm, Code.Pcmpgtw_mm_mmm64);
        Set(t, &Pcmpgtd_mm, Code.Pcmpgtd_mm_mmm64);
        Set(t, &Pand_mm, Code.Pand_mm_mmm64);
        Set(t, &Pandn_mm, Code.Pandn_mm_mmm64);
        Set(t, &Por_mm, Code.Por_mm_mmm64);
        Set(t, &Pxor_mm, Code.Pxor_mm_mmm64);
        Set(t, &Psllw_mm, Code.Psllw_mm_mmm64);
        Set(t, &Pslld_mm, Code.Pslld_mm_mmm64);
        Set(t, &Psllq_mm, Code.Psllq_mm_mmm64);
        Set(t, &Psrlw_mm, Code.Psrlw_mm_mmm64);
        Set(t, &Psrld_mm, Code.Psrld_mm_mmm64);
        Set(t, &Psrlq_mm, Code.Psrlq_mm_mmm64);
        Set(t, &Psraw_mm, Code.Psraw_mm_mmm64);
        Set(t, &Psrad_mm, Code.Psrad_mm_mmm64);
        Set(t, &Psllw_mm_imm8, Code.Psllw_mm_imm8);
        Set(t, &Pslld_mm_imm8, Code.Pslld_mm_imm8);
        Set(t, &Psllq_mm_imm8, Code.Psllq_mm_imm8);
        Set(t, &Psrlw_mm_imm8, Code.Psrlw_mm_imm8);
        Set(t, &Psrld_mm_imm8, Code.Psrld_mm_imm8);
        Set(t, &Psrlq_mm_imm8, Code.Psrlq_mm_imm8);
        Set(t, &Psraw_mm_imm8, Code.Psraw_mm_imm8);
        Set(t, &Psrad_mm_imm8, Code.Psrad_mm_imm8);
        Set(t, &Punpcklbw_mm, Code.Punpcklbw_mm_mmm32);
        Set(t, &Punpcklwd_mm, Code.Punpcklwd_mm_mmm32);
        Set(t, &Punpckldq_mm, Code.Punpckldq_mm_mmm32);
        Set(t, &Punpckhbw_mm, Code.Punpckhbw_mm_mmm64);
        Set(t, &Punpckhwd_mm, Code.Punpckhwd_mm_mmm64);
        Set(t, &Punpckhdq_mm, Code.Punpckhdq_mm_mmm64);
        Set(t, &Packsswb_mm, Code.Packsswb_mm_mmm64);
        Set(t, &Packssdw_mm, Code.Packssdw_mm_mmm64);
        Set(t, &Packuswb_mm, Code.Packuswb_mm_mmm64);
        Set(t, &Movd_mm_rm, Code.Movd_mm_rm32, Code.Movq_mm_rm64);
        Set(t, &Movd_rm_mm, Code.Movd_rm32_mm, Code.Movq_rm64_mm);
        Set(t, &Movq_mm_mmm64, Code.Movq_mm_mmm64);
        Set(t, &Movq_mmm64_mm, Code.Movq_mmm64_mm, Code.Movntq_m64_mm);
        Set(t, &Emms, Code.Emms);

        // SSE and SSE2 on MMX registers
        Set(t, &Pminub_mm, Code.Pminub_mm_mmm64);
        Set(t, &Pmaxub_mm, Code.Pmaxub_mm_mmm64);
        Set(t, &Pminsw_mm, Code.Pminsw_mm_mmm64);
        Set(t, &Pmaxsw_mm, Code.Pmaxsw_mm_mmm64);
        Set(t, &Pavgb_mm, Code.Pavgb_mm_mmm64);
        Set(t, &Pavgw_mm, Code.Pavgw_mm_mmm64);
        Set(t, &Pmulhuw_mm, Code.Pmulhuw_mm_mmm64);
        Set(t, &Psadbw_mm, Code.Psadbw_mm_mmm64);
        Set(t, &Pmuludq_mm, Code.Pmuludq_mm_mmm64);
        Set(t, &Pshufw, Code.Pshufw_mm_mmm64_imm8);
        Set(t, &Pinsrw_mm, Code.Pinsrw_mm_r32m16_imm8, Code.Pinsrw_mm_r64m16_imm8);
        Set(t, &Pextrw_mm, Code.Pextrw_r32_mm_imm8, Code.Pextrw_r64_mm_imm8);
        Set(t, &Pmovmskb_mm, Code.Pmovmskb_r32_mm, Code.Pmovmskb_r64_mm);
        Set(t, &Maskmovq, Code.Maskmovq_rDI_mm_mm);
        Set(t, &Cvtpi2ps, Code.Cvtpi2ps_xmm_mmm64);
        Set(t, &Cvtpi2pd, Code.Cvtpi2pd_xmm_mmm64);
        Set(t, &Cvtps2pi, Code.Cvtps2pi_mm_xmmm64);
        Set(t, &Cvttps2pi, Code.Cvttps2pi_mm_xmmm64);
        Set(t, &Cvtpd2pi, Code.Cvtpd2pi_mm_xmmm128);
        Set(t, &Cvttpd2pi, Code.Cvttpd2pi_mm_xmmm128);
        Set(t, &Movq2dq, Code.Movq2dq_xmm_mm);
        Set(t, &Movdq2q, Code.Movdq2q_mm_xmm);

        // SSSE3 on MMX registers
        Set(t, &Pshufb_mm, Code.Pshufb_mm_mmm64);
        Set(t, &Palignr_mm, Code.Palignr_mm_mmm64_imm8);
        Set(t, &Pabsb_mm, Code.Pabsb_mm_mmm64);
        Set(t, &Pabsw_mm, Code.Pabsw_mm_mmm64);
        Set(t, &Pabsd_mm, Code.Pabsd_mm_mmm64);
        Set(t, &Psignb_mm, Code.Psignb_mm_mmm64);
        Set(t, &Psignw_mm, Code.Psignw_mm_mmm64);
        Set(t, &Psignd_mm, Code.Psignd_mm_mmm64);
        Set(t, &Phaddw_mm, Code.Phaddw_mm_mmm64);
        Set(t, &Phaddd_mm, Code.Phaddd_mm_mmm64);
        Set(t, &Phaddsw_mm, Code.Phaddsw_mm_mmm64);
        Set(t, &Phsubw_mm, Code.Phsubw_mm_mmm64);
        Set(t, &Phsubd_mm, Code.Phsubd_mm_mmm64);
        Set(t, &Phsubsw_mm, Code.Phsubsw_mm_mmm64);
        Set(t, &Pmaddubsw_mm, Code.Pmaddubsw_mm_mmm64);
        Set(t, &Pmulhrsw_mm, Code.Pmulhrsw_mm_mmm64);
    }

    // ------------------------------------------------------------------ state

    /// <summary>MMi: the 64-bit pattern of physical x87 register i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ref ulong Mm(ref CpuState s, int i) => ref Unsafe.As<double, ulong>(ref s.Fpr[i]);

    /// <summary>#UD (CR0.EM), #NM (CR0.TS), then #MF for a pending unmasked x87 exception.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MmxUsable(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr0 & (CpuState.Cr0Em | CpuState.Cr0Ts)) == 0 && (s.Fsw & FswEs) == 0)
        {
            return true;
        }
        return MmxUnusable(cpu);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool MmxUnusable(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr0 & CpuState.Cr0Em) != 0)
        {
            return cpu.RaiseUd();
        }
        if ((s.Cr0 & CpuState.Cr0Ts) != 0)
        {
            return cpu.Raise(Vectors.NM);
        }
        if ((s.Fsw & FswEs) != 0 && (s.Cr0 & CpuState.Cr0Ne) != 0)
        {
            return cpu.Raise(Vectors.MF);
        }
        return true;
    }

    /// <summary>The x87 → MMX transition (SDM Vol. 1 §9.5.1 "MMX Instructions and the x87 FPU Tag Word").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MmxEnter(ref CpuState s)
    {
        s.FpTop = 0;
        s.Ftw = 0xFF;
    }

    /// <summary>Checks, then operand 1 as mm/m64 (or m32 for the low unpacks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MmxSrc(Vcpu cpu, in Instruction i, out ulong v, int memSize = 8)
    {
        v = 0;
        if (!MmxUsable(cpu))
        {
            return false;
        }
        if (i.Op1Kind == OpKind.Register)
        {
            v = Mm(ref cpu.State, i.Op1Register - Register.MM0);
            return true;
        }
        return cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), memSize, out v);
    }

    /// <summary>mm ← op(mm, mm/m64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MmxBinary(Vcpu cpu, in Instruction i, delegate*<ulong, ulong, ulong> op, int memSize = 8)
    {
        if (!MmxSrc(cpu, in i, out ulong b, memSize))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ref ulong d = ref Mm(ref s, i.Op0Register - Register.MM0);
        ulong r = op(d, b);
        MmxEnter(ref s);
        d = r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector64<T> V64<T>(ulong x)
        where T : unmanaged => Vector64.Create(x).As<ulong, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Q<T>(Vector64<T> v)
        where T : unmanaged => v.AsUInt64().ToScalar();

    /// <summary>Runs an XMM lane operation on the low quadwords (lanes never cross the 64-bit boundary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Low(Vector128<ulong> v) => v.GetElement(0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> X128(ulong x) => Vector128.CreateScalar(x);

    // ------------------------------------------------------------------ lane operations

    private static ulong PaddbQ(ulong a, ulong b) => Q(V64<byte>(a) + V64<byte>(b));

    private static ulong PaddwQ(ulong a, ulong b) => Q(V64<ushort>(a) + V64<ushort>(b));

    private static ulong PadddQ(ulong a, ulong b) => Q(V64<uint>(a) + V64<uint>(b));

    private static ulong PaddqQ(ulong a, ulong b) => a + b;

    private static ulong PsubbQ(ulong a, ulong b) => Q(V64<byte>(a) - V64<byte>(b));

    private static ulong PsubwQ(ulong a, ulong b) => Q(V64<ushort>(a) - V64<ushort>(b));

    private static ulong PsubdQ(ulong a, ulong b) => Q(V64<uint>(a) - V64<uint>(b));

    private static ulong PsubqQ(ulong a, ulong b) => a - b;

    private static ulong PaddsbQ(ulong a, ulong b) => Q(Vector64.AddSaturate(V64<sbyte>(a), V64<sbyte>(b)));

    private static ulong PaddswQ(ulong a, ulong b) => Q(Vector64.AddSaturate(V64<short>(a), V64<short>(b)));

    private static ulong PaddusbQ(ulong a, ulong b) => Q(Vector64.AddSaturate(V64<byte>(a), V64<byte>(b)));

    private static ulong PadduswQ(ulong a, ulong b) => Q(Vector64.AddSaturate(V64<ushort>(a), V64<ushort>(b)));

    private static ulong PsubsbQ(ulong a, ulong b) => Q(Vector64.SubtractSaturate(V64<sbyte>(a), V64<sbyte>(b)));

    private static ulong PsubswQ(ulong a, ulong b) => Q(Vector64.SubtractSaturate(V64<short>(a), V64<short>(b)));

    private static ulong PsubusbQ(ulong a, ulong b) => Q(Vector64.SubtractSaturate(V64<byte>(a), V64<byte>(b)));

    private static ulong PsubuswQ(ulong a, ulong b) => Q(Vector64.SubtractSaturate(V64<ushort>(a), V64<ushort>(b)));

    private static ulong PmullwQ(ulong a, ulong b) => Q(V64<ushort>(a) * V64<ushort>(b));

    private static ulong PmulhwQ(ulong a, ulong b) => Low(PmulhwOp(X128(a), X128(b)));

    private static ulong PmulhuwQ(ulong a, ulong b) => Low(PmulhuwOp(X128(a), X128(b)));

    private static ulong PmaddwdQ(ulong a, ulong b) => Low(PmaddwdOp(X128(a), X128(b)));

    private static ulong PmuludqQ(ulong a, ulong b) => (ulong)(uint)a * (uint)b;

    private static ulong PcmpeqbQ(ulong a, ulong b) => Q(Vector64.Equals(V64<byte>(a), V64<byte>(b)));

    private static ulong PcmpeqwQ(ulong a, ulong b) => Q(Vector64.Equals(V64<ushort>(a), V64<ushort>(b)));

    private static ulong PcmpeqdQ(ulong a, ulong b) => Q(Vector64.Equals(V64<uint>(a), V64<uint>(b)));

    private static ulong PcmpgtbQ(ulong a, ulong b) => Q(Vector64.GreaterThan(V64<sbyte>(a), V64<sbyte>(b)));

    private static ulong PcmpgtwQ(ulong a, ulong b) => Q(Vector64.GreaterThan(V64<short>(a), V64<short>(b)));

    private static ulong PcmpgtdQ(ulong a, ulong b) => Q(Vector64.GreaterThan(V64<int>(a), V64<int>(b)));

    private static ulong PandQ(ulong a, ulong b) => a & b;

    private static ulong PandnQ(ulong a, ulong b) => ~a & b;

    private static ulong PorQ(ulong a, ulong b) => a | b;

    private static ulong PxorQ(ulong a, ulong b) => a ^ b;

    private static ulong PminubQ(ulong a, ulong b) => Q(Vector64.Min(V64<byte>(a), V64<byte>(b)));

    private static ulong PmaxubQ(ulong a, ulong b) => Q(Vector64.Max(V64<byte>(a), V64<byte>(b)));

    private static ulong PminswQ(ulong a, ulong b) => Q(Vector64.Min(V64<short>(a), V64<short>(b)));

    private static ulong PmaxswQ(ulong a, ulong b) => Q(Vector64.Max(V64<short>(a), V64<short>(b)));

    private static ulong PavgbQ(ulong a, ulong b)
    {
        Vector64<byte> x = V64<byte>(a), y = V64<byte>(b);
        return Q((x | y) - ((x ^ y) >> 1));
    }

    private static ulong PavgwQ(ulong a, ulong b)
    {
        Vector64<ushort> x = V64<ushort>(a), y = V64<ushort>(b);
        return Q((x | y) - ((x ^ y) >> 1));
    }

    private static ulong PsadbwQ(ulong a, ulong b)
    {
        Vector64<byte> x = V64<byte>(a), y = V64<byte>(b);
        return SumBytes(Q(Vector64.Max(x, y) - Vector64.Min(x, y)));
    }

    private static ulong PsllwQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.Left, 16, b));

    private static ulong PslldQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.Left, 32, b));

    private static ulong PsllqQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.Left, 64, b));

    private static ulong PsrlwQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.RightLogical, 16, b));

    private static ulong PsrldQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.RightLogical, 32, b));

    private static ulong PsrlqQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.RightLogical, 64, b));

    private static ulong PsrawQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.RightArithmetic, 16, b));

    private static ulong PsradQ(ulong a, ulong b) => Low(PackedShift(X128(a), PShift.RightArithmetic, 32, b));

    /// <summary>PUNPCKL*: interleave the low halves (the source is only 32 bits wide).</summary>
    private static ulong PunpcklbwQ(ulong a, ulong b) => Low(UnpackOp(X128(a), X128(b), 1, false));

    private static ulong PunpcklwdQ(ulong a, ulong b) => Low(UnpackOp(X128(a), X128(b), 2, false));

    private static ulong PunpckldqQ(ulong a, ulong b) => Low(UnpackOp(X128(a), X128(b), 4, false));

    private static ulong PunpckhbwQ(ulong a, ulong b) => Low(UnpackOp(X128(a >> 32), X128(b >> 32), 1, false));

    private static ulong PunpckhwdQ(ulong a, ulong b) => Low(UnpackOp(X128(a >> 32), X128(b >> 32), 2, false));

    private static ulong PunpckhdqQ(ulong a, ulong b) => Low(UnpackOp(X128(a >> 32), X128(b >> 32), 4, false));

    /// <summary>PACK*: dest elements narrow into the low half, source elements into the high half.</summary>
    private static ulong PacksswbQ(ulong a, ulong b) => Low(Vector128.NarrowWithSaturation(Vector128.Create(a, b).AsInt16(), Vector128<short>.Zero).AsUInt64());

    private static ulong PackssdwQ(ulong a, ulong b) => Low(Vector128.NarrowWithSaturation(Vector128.Create(a, b).AsInt32(), Vector128<int>.Zero).AsUInt64());

    private static ulong PackuswbQ(ulong a, ulong b)
    {
        Vector128<short> x = Vector128.Clamp(Vector128.Create(a, b).AsInt16(), Vector128<short>.Zero, Vector128.Create((short)255));
        return Low(Vector128.Narrow(x.AsUInt16(), Vector128<ushort>.Zero).AsUInt64());
    }

    private static ulong PabsbQ(ulong a, ulong b) => Low(AbsWrapping(X128(b).AsSByte()).AsUInt64());

    private static ulong PabswQ(ulong a, ulong b) => Low(AbsWrapping(X128(b).AsInt16()).AsUInt64());

    private static ulong PabsdQ(ulong a, ulong b) => Low(AbsWrapping(X128(b).AsInt32()).AsUInt64());

    private static ulong PsignbQ(ulong a, ulong b) => Low(Sign(X128(a).AsSByte(), X128(b).AsSByte()).AsUInt64());

    private static ulong PsignwQ(ulong a, ulong b) => Low(Sign(X128(a).AsInt16(), X128(b).AsInt16()).AsUInt64());

    private static ulong PsigndQ(ulong a, ulong b) => Low(Sign(X128(a).AsInt32(), X128(b).AsInt32()).AsUInt64());

    private static ulong PmaddubswQ(ulong a, ulong b) => Low(PmaddubswOp(X128(a), X128(b)));

    private static ulong PmulhrswQ(ulong a, ulong b) => Low(PmulhrswOp(X128(a), X128(b)));

    /// <summary>PSHUFB mm: byte i = dest[src[i] &amp; 7], or 0 when src[i] bit 7 is set.</summary>
    private static ulong PshufbQ(ulong a, ulong b) => Low(Vector128.Shuffle(X128(a).AsByte(), X128(b).AsByte() & Vector128.Create((byte)0x87)).AsUInt64());

    /// <summary>PHADD*/PHSUB* mm: pairs of dest then pairs of src, packed (the 128-bit form on (dest, src) gives exactly that).</summary>
    private static ulong PhaddwQ(ulong a, ulong b) => Low(HorizontalWords(Vector128.Create(a, b), Vector128<ulong>.Zero, 0));

    private static ulong PhsubwQ(ulong a, ulong b) => Low(HorizontalWords(Vector128.Create(a, b), Vector128<ulong>.Zero, 1));

    private static ulong PhaddswQ(ulong a, ulong b) => Low(HorizontalWords(Vector128.Create(a, b), Vector128<ulong>.Zero, 2));

    private static ulong PhsubswQ(ulong a, ulong b) => Low(HorizontalWords(Vector128.Create(a, b), Vector128<ulong>.Zero, 3));

    private static ulong PhadddQ(ulong a, ulong b) => Low(HorizontalDwords(Vector128.Create(a, b), Vector128<ulong>.Zero, false));

    private static ulong PhsubdQ(ulong a, ulong b) => Low(HorizontalDwords(Vector128.Create(a, b), Vector128<ulong>.Zero, true));

    // ------------------------------------------------------------------ handlers: arithmetic and logic

    private static void Paddb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddbQ);

    private static void Paddw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddwQ);

    private static void Paddd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PadddQ);

    private static void Paddq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddqQ);

    private static void Psubb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubbQ);

    private static void Psubw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubwQ);

    private static void Psubd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubdQ);

    private static void Psubq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubqQ);

    private static void Paddsb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddsbQ);

    private static void Paddsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddswQ);

    private static void Paddusb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PaddusbQ);

    private static void Paddusw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PadduswQ);

    private static void Psubsb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubsbQ);

    private static void Psubsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubswQ);

    private static void Psubusb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubusbQ);

    private static void Psubusw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsubuswQ);

    private static void Pmullw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmullwQ);

    private static void Pmulhw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmulhwQ);

    private static void Pmulhuw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmulhuwQ);

    private static void Pmaddwd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmaddwdQ);

    private static void Pmuludq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmuludqQ);

    private static void Pcmpeqb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpeqbQ);

    private static void Pcmpeqw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpeqwQ);

    private static void Pcmpeqd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpeqdQ);

    private static void Pcmpgtb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpgtbQ);

    private static void Pcmpgtw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpgtwQ);

    private static void Pcmpgtd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PcmpgtdQ);

    private static void Pand_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PandQ);

    private static void Pandn_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PandnQ);

    private static void Por_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PorQ);

    private static void Pxor_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PxorQ);

    private static void Pminub_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PminubQ);

    private static void Pmaxub_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmaxubQ);

    private static void Pminsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PminswQ);

    private static void Pmaxsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmaxswQ);

    private static void Pavgb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PavgbQ);

    private static void Pavgw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PavgwQ);

    private static void Psadbw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsadbwQ);

    private static void Psllw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsllwQ);

    private static void Pslld_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PslldQ);

    private static void Psllq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsllqQ);

    private static void Psrlw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsrlwQ);

    private static void Psrld_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsrldQ);

    private static void Psrlq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsrlqQ);

    private static void Psraw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsrawQ);

    private static void Psrad_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsradQ);

    private static void Punpcklbw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpcklbwQ, 4);

    private static void Punpcklwd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpcklwdQ, 4);

    private static void Punpckldq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpckldqQ, 4);

    private static void Punpckhbw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpckhbwQ);

    private static void Punpckhwd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpckhwdQ);

    private static void Punpckhdq_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PunpckhdqQ);

    private static void Packsswb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PacksswbQ);

    private static void Packssdw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PackssdwQ);

    private static void Packuswb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PackuswbQ);

    private static void Pshufb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PshufbQ);

    private static void Pabsb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PabsbQ);

    private static void Pabsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PabswQ);

    private static void Pabsd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PabsdQ);

    private static void Psignb_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsignbQ);

    private static void Psignw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsignwQ);

    private static void Psignd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PsigndQ);

    private static void Phaddw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhaddwQ);

    private static void Phaddd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhadddQ);

    private static void Phaddsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhaddswQ);

    private static void Phsubw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhsubwQ);

    private static void Phsubd_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhsubdQ);

    private static void Phsubsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PhsubswQ);

    private static void Pmaddubsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmaddubswQ);

    private static void Pmulhrsw_mm(Vcpu cpu, in Instruction i) => MmxBinary(cpu, in i, &PmulhrswQ);

    /// <summary>Shift by imm8: operand 0 is the only register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MmxShiftImm(Vcpu cpu, in Instruction i, PShift kind, int width)
    {
        if (!MmxUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ref ulong d = ref Mm(ref s, i.Op0Register - Register.MM0);
        ulong r = Low(PackedShift(X128(d), kind, width, i.Immediate8));
        MmxEnter(ref s);
        d = r;
    }

    private static void Psllw_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.Left, 16);

    private static void Pslld_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.Left, 32);

    private static void Psllq_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.Left, 64);

    private static void Psrlw_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.RightLogical, 16);

    private static void Psrld_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.RightLogical, 32);

    private static void Psrlq_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.RightLogical, 64);

    private static void Psraw_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.RightArithmetic, 16);

    private static void Psrad_mm_imm8(Vcpu cpu, in Instruction i) => MmxShiftImm(cpu, in i, PShift.RightArithmetic, 32);

    /// <summary>PALIGNR mm: (dest:src) >> (imm8 · 8), low 64 bits; 16 or more bytes give zero.</summary>
    private static void Palignr_mm(Vcpu cpu, in Instruction i)
    {
        if (!MmxSrc(cpu, in i, out ulong b))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ref ulong d = ref Mm(ref s, i.Op0Register - Register.MM0);
        int n = i.Immediate8;
        ulong r = n >= 16 ? 0 : (ulong)(new UInt128(d, b) >> (8 * n));
        MmxEnter(ref s);
        d = r;
    }

    /// <summary>PSHUFW: word k = src word imm8[2k+1:2k].</summary>
    private static void Pshufw(Vcpu cpu, in Instruction i)
    {
        if (!MmxSrc(cpu, in i, out ulong b))
        {
            return;
        }
        int imm = i.Immediate8;
        ulong r = 0;
        for (int k = 0; k < 4; k++)
        {
            r |= ((b >> (16 * ((imm >> (2 * k)) & 3))) & 0xFFFF) << (16 * k);
        }
        ref CpuState s = ref cpu.State;
        MmxEnter(ref s);
        Mm(ref s, i.Op0Register - Register.MM0) = r;
    }

    private static void Pinsrw_mm(Vcpu cpu, in Instruction i)
    {
        if (!MmxUsable(cpu) || !cpu.ReadOp(in i, 1, 2, out ulong v))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ref ulong d = ref Mm(ref s, i.Op0Register - Register.MM0);
        int shift = 16 * (i.Immediate8 & 3);
        ulong r = (d & ~(0xFFFFUL << shift)) | ((v & 0xFFFF) << shift);
        MmxEnter(ref s);
        d = r;
    }

    private static void Pextrw_mm(Vcpu cpu, in Instruction i)
    {
        if (MmxUsable(cpu))
        {
            ref CpuState s = ref cpu.State;
            ulong v = (Mm(ref s, i.Op1Register - Register.MM0) >> (16 * (i.Immediate8 & 3))) & 0xFFFF;
            MmxEnter(ref s);
            cpu.WriteGpr(i.Op0Register, v);
        }
    }

    private static void Pmovmskb_mm(Vcpu cpu, in Instruction i)
    {
        if (MmxUsable(cpu))
        {
            ref CpuState s = ref cpu.State;
            uint mask = V64<byte>(Mm(ref s, i.Op1Register - Register.MM0)).ExtractMostSignificantBits();
            MmxEnter(ref s);
            cpu.WriteGpr(i.Op0Register, mask);
        }
    }

    // ------------------------------------------------------------------ handlers: moves

    /// <summary>MOVD/MOVQ mm, r/m32|r/m64 (MOVD zero-extends).</summary>
    private static void Movd_mm_rm(Vcpu cpu, in Instruction i)
    {
        int size = i.Code == Code.Movd_mm_rm32 ? 4 : 8;
        if (MmxUsable(cpu) && cpu.ReadOp(in i, 1, size, out ulong v))
        {
            ref CpuState s = ref cpu.State;
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = v & Vcpu.SizeMask(size);
        }
    }

    private static void Movd_rm_mm(Vcpu cpu, in Instruction i)
    {
        int size = i.Code == Code.Movd_rm32_mm ? 4 : 8;
        if (MmxUsable(cpu))
        {
            ref CpuState s = ref cpu.State;
            if (cpu.WriteOp0(in i, size, Mm(ref s, i.Op1Register - Register.MM0) & Vcpu.SizeMask(size)))
            {
                MmxEnter(ref s);
            }
        }
    }

    private static void Movq_mm_mmm64(Vcpu cpu, in Instruction i)
    {
        if (MmxSrc(cpu, in i, out ulong v))
        {
            ref CpuState s = ref cpu.State;
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = v;
        }
    }

    /// <summary>MOVQ mm/m64, mm and MOVNTQ m64, mm.</summary>
    private static void Movq_mmm64_mm(Vcpu cpu, in Instruction i)
    {
        if (!MmxUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong v = Mm(ref s, i.Op1Register - Register.MM0);
        if (i.Op0Kind == OpKind.Register)
        {
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = v;
            return;
        }
        if (cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, v))
        {
            MmxEnter(ref s);
        }
    }

    /// <summary>EMMS: all tags empty (SDM Vol. 2A "EMMS—Empty MMX Technology State").</summary>
    private static void Emms(Vcpu cpu, in Instruction i)
    {
        if (MmxUsable(cpu))
        {
            cpu.State.Ftw = 0;
        }
    }

    /// <summary>MASKMOVQ: bytes of mm1 whose mask byte in mm2 has bit 7 set go to DS:rDI; all are probed first.</summary>
    private static void Maskmovq(Vcpu cpu, in Instruction i)
    {
        if (!MmxUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong data = Mm(ref s, i.Op1Register - Register.MM0);
        uint mask = V64<byte>(Mm(ref s, i.Op2Register - Register.MM0)).ExtractMostSignificantBits();
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        ulong ea = s.Gpr[7] & wrap;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            if (!cpu.ReadMemForWrite(seg, (ea + (ulong)System.Numerics.BitOperations.TrailingZeroCount(m)) & wrap, 1, out _))
            {
                return;
            }
        }
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int k = System.Numerics.BitOperations.TrailingZeroCount(m);
            cpu.WriteMem(seg, (ea + (ulong)k) & wrap, 1, (byte)(data >> (8 * k)));
        }
        MmxEnter(ref s);
    }

    // ------------------------------------------------------------------ handlers: XMM ↔ MMX

    /// <summary>SSE checks plus the MMX ones (a register MMX operand also reports a pending x87 exception).</summary>
    private static bool SseMmxUsable(Vcpu cpu, bool mmxOperand) => SseUsable(cpu) && (!mmxOperand || MmxUsable(cpu));

    /// <summary>
    /// CVTPI2PS xmm, mm/m64: two doublewords to single precision (MXCSR rounding) in the low half; the high
    /// half is kept. A memory source makes no MMX transition.
    /// </summary>
    private static void Cvtpi2ps(Vcpu cpu, in Instruction i)
    {
        bool reg = i.Op1Kind == OpKind.Register;
        if (!SseMmxUsable(cpu, reg))
        {
            return;
        }
        ulong v;
        if (reg)
        {
            v = Mm(ref cpu.State, i.Op1Register - Register.MM0);
        }
        else if (!cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, out v))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        float lo = SoftFp.Int64ToSingle((int)v, ref env), hi = SoftFp.Int64ToSingle((int)(v >> 32), ref env);
        if (!CommitMxcsr(cpu, ref env))
        {
            return;
        }
        if (reg)
        {
            MmxEnter(ref cpu.State);
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        d = d.WithElement(0, BitConverter.SingleToUInt32Bits(lo) | ((ulong)BitConverter.SingleToUInt32Bits(hi) << 32));
    }

    /// <summary>CVTPI2PD xmm, mm/m64: exact.</summary>
    private static void Cvtpi2pd(Vcpu cpu, in Instruction i)
    {
        bool reg = i.Op1Kind == OpKind.Register;
        if (!SseMmxUsable(cpu, reg))
        {
            return;
        }
        ulong v;
        if (reg)
        {
            v = Mm(ref cpu.State, i.Op1Register - Register.MM0);
            MmxEnter(ref cpu.State);
        }
        else if (!cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, out v))
        {
            return;
        }
        Op0Xmm(cpu, in i) = Vector128.Create((double)(int)v, (int)(v >> 32)).AsUInt64();
    }

    private static void SingleToMm(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseMmxUsable(cpu, true) || !SseSrc64(cpu, in i, out ulong v))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        uint lo = (uint)SoftFp.DoubleToInt(SoftFp.Daz(BitConverter.UInt32BitsToSingle((uint)v), ref env), 32, truncate, ref env);
        uint hi = (uint)SoftFp.DoubleToInt(SoftFp.Daz(BitConverter.UInt32BitsToSingle((uint)(v >> 32)), ref env), 32, truncate, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref CpuState s = ref cpu.State;
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = lo | ((ulong)hi << 32);
        }
    }

    private static void Cvtps2pi(Vcpu cpu, in Instruction i) => SingleToMm(cpu, in i, false);

    private static void Cvttps2pi(Vcpu cpu, in Instruction i) => SingleToMm(cpu, in i, true);

    private static void DoubleToMm(Vcpu cpu, in Instruction i, bool truncate)
    {
        if (!SseMmxUsable(cpu, true) || !ReadXmmM128(cpu, in i, 1, true, out Vector128<ulong> src))
        {
            return;
        }
        FpEnv env = FpEnv.FromMxcsr(cpu.State.Mxcsr);
        Vector128<double> b = src.AsDouble();
        uint lo = (uint)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(0), ref env), 32, truncate, ref env);
        uint hi = (uint)SoftFp.DoubleToInt(SoftFp.Daz(b.GetElement(1), ref env), 32, truncate, ref env);
        if (CommitMxcsr(cpu, ref env))
        {
            ref CpuState s = ref cpu.State;
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = lo | ((ulong)hi << 32);
        }
    }

    private static void Cvtpd2pi(Vcpu cpu, in Instruction i) => DoubleToMm(cpu, in i, false);

    private static void Cvttpd2pi(Vcpu cpu, in Instruction i) => DoubleToMm(cpu, in i, true);

    /// <summary>MOVQ2DQ xmm, mm: zero-extends into the XMM register.</summary>
    private static void Movq2dq(Vcpu cpu, in Instruction i)
    {
        if (SseMmxUsable(cpu, true))
        {
            ref CpuState s = ref cpu.State;
            ulong v = Mm(ref s, i.Op1Register - Register.MM0);
            MmxEnter(ref s);
            Op0Xmm(cpu, in i) = Vector128.CreateScalar(v);
        }
    }

    private static void Movdq2q(Vcpu cpu, in Instruction i)
    {
        if (SseMmxUsable(cpu, true))
        {
            ref CpuState s = ref cpu.State;
            ulong v = OpXmm(cpu, in i, 1).GetElement(0);
            MmxEnter(ref s);
            Mm(ref s, i.Op0Register - Register.MM0) = v;
        }
    }
}
