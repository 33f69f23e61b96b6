using System.Runtime.Intrinsics;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>SSE/SSE2 data movement: full-register moves, scalar and half moves, GPR transfers, masks, non-temporal stores.</summary>
internal static unsafe partial class Handlers
{
    private static void RegisterSseMove(HandlerFn[] t)
    {
        Set(t, &Movaps_load, Code.Movaps_xmm_xmmm128, Code.Movapd_xmm_xmmm128, Code.Movdqa_xmm_xmmm128, Code.Movntdqa_xmm_m128);
        Set(t, &Movups_load, Code.Movups_xmm_xmmm128, Code.Movupd_xmm_xmmm128, Code.Movdqu_xmm_xmmm128, Code.Lddqu_xmm_m128);
        Set(t, &Movaps_store, Code.Movaps_xmmm128_xmm, Code.Movapd_xmmm128_xmm, Code.Movdqa_xmmm128_xmm,
            Code.Movntps_m128_xmm, Code.Movntpd_m128_xmm, Code.Movntdq_m128_xmm);
        Set(t, &Movups_store, Code.Movups_xmmm128_xmm, Code.Movupd_xmmm128_xmm, Code.Movdqu_xmmm128_xmm);
        Set(t, &Movss_xmm_xmmm32, Code.Movss_xmm_xmmm32);
        Set(t, &Movss_xmmm32_xmm, Code.Movss_xmmm32_xmm);
        Set(t, &Movsd_xmm_xmmm64, Code.Movsd_xmm_xmmm64);
        Set(t, &Movsd_xmmm64_xmm, Code.Movsd_xmmm64_xmm);
        Set(t, &Movd_xmm_rm, Code.Movd_xmm_rm32, Code.Movq_xmm_rm64);
        Set(t, &Movd_rm_xmm, Code.Movd_rm32_xmm, Code.Movq_rm64_xmm);
        Set(t, &Movq_xmm_xmmm64, Code.Movq_xmm_xmmm64);
        Set(t, &Movq_xmmm64_xmm, Code.Movq_xmmm64_xmm);
        Set(t, &Movhps_xmm_m64, Code.Movhps_xmm_m64, Code.Movhpd_xmm_m64);
        Set(t, &Movhps_m64_xmm, Code.Movhps_m64_xmm, Code.Movhpd_m64_xmm);
        Set(t, &Movlps_xmm_m64, Code.Movlps_xmm_m64, Code.Movlpd_xmm_m64);
        Set(t, &Movlps_m64_xmm, Code.Movlps_m64_xmm, Code.Movlpd_m64_xmm);
        Set(t, &Movhlps, Code.Movhlps_xmm_xmm);
        Set(t, &Movlhps, Code.Movlhps_xmm_xmm);
        Set(t, &Movmskps, Code.Movmskps_r32_xmm, Code.Movmskps_r64_xmm);
        Set(t, &Movmskpd, Code.Movmskpd_r32_xmm, Code.Movmskpd_r64_xmm);
        Set(t, &Pmovmskb, Code.Pmovmskb_r32_xmm, Code.Pmovmskb_r64_xmm);
        Set(t, &Movnti, Code.Movnti_m32_r32, Code.Movnti_m64_r64);
        Set(t, &Maskmovdqu, Code.Maskmovdqu_rDI_xmm_xmm);
    }

    private static void Movaps_load(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> v))
        {
            Op0Xmm(cpu, in i) = v;
        }
    }

    private static void Movups_load(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu) && ReadXmmM128(cpu, in i, 1, false, out Vector128<ulong> v))
        {
            Op0Xmm(cpu, in i) = v;
        }
    }

    private static void Movaps_store(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        Vector128<ulong> v = OpXmm(cpu, in i, 1);
        if (i.Op0Kind == OpKind.Register)
        {
            Op0Xmm(cpu, in i) = v;
            return;
        }
        WriteM128(cpu, in i, true, v);
    }

    private static void Movups_store(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        Vector128<ulong> v = OpXmm(cpu, in i, 1);
        if (i.Op0Kind == OpKind.Register)
        {
            Op0Xmm(cpu, in i) = v;
            return;
        }
        WriteM128(cpu, in i, false, v);
    }

    /// <summary>SDM Vol. 2B "MOVSS": register source merges the low doubleword; memory source zeroes bits 127:32.</summary>
    private static void Movss_xmm_xmmm32(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc32(cpu, in i, out uint v))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        d = i.Op1Kind == OpKind.Register
            ? d.AsUInt32().WithElement(0, v).AsUInt64()
            : Vector128.CreateScalar(v).AsUInt64();
    }

    private static void Movss_xmmm32_xmm(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        uint v = OpXmm(cpu, in i, 1).AsUInt32().GetElement(0);
        if (i.Op0Kind == OpKind.Register)
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.AsUInt32().WithElement(0, v).AsUInt64();
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 4, v);
    }

    private static void Movsd_xmm_xmmm64(Vcpu cpu, in Instruction i)
    {
        if (!SseSrc64(cpu, in i, out ulong v))
        {
            return;
        }
        ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
        d = i.Op1Kind == OpKind.Register ? d.WithElement(0, v) : Vector128.CreateScalar(v);
    }

    private static void Movsd_xmmm64_xmm(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        ulong v = OpXmm(cpu, in i, 1).GetElement(0);
        if (i.Op0Kind == OpKind.Register)
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, v);
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, v);
    }

    /// <summary>MOVD/MOVQ xmm, r/m32|r/m64: zero-extends into the whole register.</summary>
    private static void Movd_xmm_rm(Vcpu cpu, in Instruction i)
    {
        int size = i.Code == Code.Movd_xmm_rm32 ? 4 : 8;
        if (SseUsable(cpu) && cpu.ReadOp(in i, 1, size, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.CreateScalar(v);
        }
    }

    private static void Movd_rm_xmm(Vcpu cpu, in Instruction i)
    {
        int size = i.Code == Code.Movd_rm32_xmm ? 4 : 8;
        if (SseUsable(cpu))
        {
            cpu.WriteOp0(in i, size, OpXmm(cpu, in i, 1).GetElement(0) & Vcpu.SizeMask(size));
        }
    }

    /// <summary>MOVQ xmm1, xmm2/m64 (F3 0F 7E): bits 127:64 cleared.</summary>
    private static void Movq_xmm_xmmm64(Vcpu cpu, in Instruction i)
    {
        if (SseSrc64(cpu, in i, out ulong v))
        {
            Op0Xmm(cpu, in i) = Vector128.CreateScalar(v);
        }
    }

    /// <summary>MOVQ xmm2/m64, xmm1 (66 0F D6): a register destination has bits 127:64 cleared.</summary>
    private static void Movq_xmmm64_xmm(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        ulong v = OpXmm(cpu, in i, 1).GetElement(0);
        if (i.Op0Kind == OpKind.Register)
        {
            Op0Xmm(cpu, in i) = Vector128.CreateScalar(v);
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, v);
    }

    private static void Movhps_xmm_m64(Vcpu cpu, in Instruction i)
    {
        if (SseSrc64(cpu, in i, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(1, v);
        }
    }

    private static void Movhps_m64_xmm(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, OpXmm(cpu, in i, 1).GetElement(1));
        }
    }

    private static void Movlps_xmm_m64(Vcpu cpu, in Instruction i)
    {
        if (SseSrc64(cpu, in i, out ulong v))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, v);
        }
    }

    private static void Movlps_m64_xmm(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, OpXmm(cpu, in i, 1).GetElement(0));
        }
    }

    private static void Movhlps(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(0, OpXmm(cpu, in i, 1).GetElement(1));
        }
    }

    private static void Movlhps(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = d.WithElement(1, OpXmm(cpu, in i, 1).GetElement(0));
        }
    }

    private static void Movmskps(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteGpr(i.Op0Register, OpXmm(cpu, in i, 1).AsUInt32().ExtractMostSignificantBits());
        }
    }

    private static void Movmskpd(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteGpr(i.Op0Register, OpXmm(cpu, in i, 1).ExtractMostSignificantBits());
        }
    }

    private static void Pmovmskb(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteGpr(i.Op0Register, OpXmm(cpu, in i, 1).AsByte().ExtractMostSignificantBits());
        }
    }

    /// <summary>SDM Vol. 2B "MOVNTI": an SSE2 instruction on GPRs, so CR0.EM/TS and CR4.OSFXSR do not apply.</summary>
    private static void Movnti(Vcpu cpu, in Instruction i)
    {
        int size = i.Code == Code.Movnti_m32_r32 ? 4 : 8;
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), size, cpu.ReadGpr(i.Op1Register));
    }

    /// <summary>
    /// SDM Vol. 2B "MASKMOVDQU": stores the bytes of xmm1 whose mask byte in xmm2 has bit 7 set to DS:rDI.
    /// Every selected byte is probed for writing first, so a fault leaves memory unchanged.
    /// </summary>
    private static void Maskmovdqu(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu))
        {
            return;
        }
        Vector128<byte> data = OpXmm(cpu, in i, 1).AsByte();
        uint mask = OpXmm(cpu, in i, 2).AsByte().ExtractMostSignificantBits();
        // Iced reports the destination as OpKind.MemorySegRDI: DS (or the override) : rDI by address size.
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        ulong ea = cpu.State.Gpr[7] & wrap;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int k = System.Numerics.BitOperations.TrailingZeroCount(m);
            if (!cpu.ReadMemForWrite(seg, (ea + (ulong)k) & wrap, 1, out _))
            {
                return;
            }
        }
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int k = System.Numerics.BitOperations.TrailingZeroCount(m);
            cpu.WriteMem(seg, (ea + (ulong)k) & wrap, 1, data.GetElement(k));
        }
    }
}
