using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE through SSE4.2 and MMX on the legacy (non-VEX) encodings: the shared availability checks, XMM
/// operand access and MXCSR. The instruction groups live in <c>SseMove.cs</c>, <c>SseInteger.cs</c>,
/// <c>SseFloat.cs</c>, <c>SseConvert.cs</c>, <c>SseExtensions.cs</c> (SSE3/SSSE3/SSE4.1),
/// <c>SseString.cs</c> (SSE4.2) and <c>SseMmx.cs</c> (MMX and the MMX-register forms of SSE/SSE2/SSSE3);
/// FXSAVE/XSAVE are in <c>Xsave.cs</c>. IEEE arithmetic with MXCSR rounding and flags is
/// <see cref="SoftFp"/> (<c>SseSoftFloat.cs</c>).
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>MXCSR bits that may be set (MXCSR_MASK, DAZ supported): SDM Vol. 1 §11.6.6 "Guidelines for Writing to the MXCSR Register".</summary>
    internal const uint MxcsrMask = 0xFFFF;

    static partial void RegisterSse(HandlerFn[] t)
    {
        RegisterSseMove(t);
        RegisterSseInteger(t);
        RegisterSseFloat(t);
        RegisterSseConvert(t);
        RegisterSseExtensions(t);
        RegisterSseString(t);
        RegisterSseMmx(t);
        RegisterXsave(t);
        Set(t, &Ldmxcsr, Code.Ldmxcsr_m32);
        Set(t, &Stmxcsr, Code.Stmxcsr_m32);
    }

    // ------------------------------------------------------------------ availability

    /// <summary>
    /// SDM Vol. 2A §2.5 "Instruction Exception Specification" (legacy SSE): #UD if CR0.EM = 1 or
    /// CR4.OSFXSR = 0, then #NM if CR0.TS = 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SseUsable(Vcpu cpu)
    {
        if ((cpu.State.Cr0 & (CpuState.Cr0Em | CpuState.Cr0Ts)) == 0 && (cpu.State.Cr4 & CpuState.Cr4Osfxsr) != 0)
        {
            return true;
        }
        return SseUnusable(cpu);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool SseUnusable(Vcpu cpu)
    {
        if ((cpu.State.Cr0 & CpuState.Cr0Em) != 0 || (cpu.State.Cr4 & CpuState.Cr4Osfxsr) == 0)
        {
            return cpu.RaiseUd();
        }
        return cpu.Raise(Vectors.NM);
    }

    // ------------------------------------------------------------------ operands

    /// <summary>Index 0–15 of an XMM register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int XmmIndex(Register r) => r - Register.XMM0;

    /// <summary>The XMM register of operand 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ref Vector128<ulong> Op0Xmm(Vcpu cpu, in Instruction i) => ref cpu.State.Xmm[i.Op0Register - Register.XMM0];

    /// <summary>The XMM register of operand <paramref name="op"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ref Vector128<ulong> OpXmm(Vcpu cpu, in Instruction i, int op) => ref cpu.State.Xmm[i.GetOpRegister(op) - Register.XMM0];

    /// <summary>True when <paramref name="ea"/> in segment <paramref name="seg"/> is <paramref name="align"/>-aligned (linear address).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsAligned(Vcpu cpu, int seg, ulong ea, uint align)
    {
        ulong lin = cpu.State.Is64 && seg < (int)SegReg.Fs ? ea : cpu.State.Seg[seg].Base + ea;
        return (lin & (align - 1)) == 0;
    }

    /// <summary>
    /// Reads the 16-byte memory operand. Aligned forms raise #GP(0) on a misaligned address, whatever the
    /// segment (SDM Vol. 2A §2.5 "Instruction Exception Specification", exception types 1 and 4: legacy-SSE
    /// m128 operands must be 16-byte aligned except for the explicitly unaligned moves).
    /// </summary>
    internal static bool ReadM128(Vcpu cpu, in Instruction i, bool aligned, out Vector128<ulong> v)
    {
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (aligned && !IsAligned(cpu, seg, ea, 16))
        {
            v = default;
            return cpu.RaiseGp();
        }
        if (!cpu.ReadMem128(seg, ea, out ulong lo, out ulong hi))
        {
            v = default;
            return false;
        }
        v = Vector128.Create(lo, hi);
        return true;
    }

    /// <summary>Writes the 16-byte memory operand (all-or-nothing), #GP(0) if misaligned for aligned forms.</summary>
    internal static bool WriteM128(Vcpu cpu, in Instruction i, bool aligned, Vector128<ulong> v)
    {
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (aligned && !IsAligned(cpu, seg, ea, 16))
        {
            return cpu.RaiseGp();
        }
        return cpu.WriteMem128(seg, ea, v.GetElement(0), v.GetElement(1));
    }

    /// <summary>Reads operand <paramref name="op"/> as xmm/m128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool ReadXmmM128(Vcpu cpu, in Instruction i, int op, bool aligned, out Vector128<ulong> v)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            v = cpu.State.Xmm[i.GetOpRegister(op) - Register.XMM0];
            return true;
        }
        return ReadM128(cpu, in i, aligned, out v);
    }

    /// <summary>Availability check, then operand 1 as an aligned xmm/m128: the shape of most packed SSE instructions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SseSrc(Vcpu cpu, in Instruction i, out Vector128<ulong> src)
    {
        if (!SseUsable(cpu))
        {
            src = default;
            return false;
        }
        return ReadXmmM128(cpu, in i, 1, true, out src);
    }

    /// <summary>Availability check, then operand 1 as xmm/m64 (low quadword of a register).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SseSrc64(Vcpu cpu, in Instruction i, out ulong src)
    {
        if (!SseUsable(cpu))
        {
            src = 0;
            return false;
        }
        if (i.Op1Kind == OpKind.Register)
        {
            src = cpu.State.Xmm[i.Op1Register - Register.XMM0].GetElement(0);
            return true;
        }
        return cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, out src);
    }

    /// <summary>Availability check, then operand 1 as xmm/m32 (low doubleword of a register).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SseSrc32(Vcpu cpu, in Instruction i, out uint src)
    {
        if (!SseUsable(cpu))
        {
            src = 0;
            return false;
        }
        if (i.Op1Kind == OpKind.Register)
        {
            src = cpu.State.Xmm[i.Op1Register - Register.XMM0].AsUInt32().GetElement(0);
            return true;
        }
        bool ok = cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 4, out ulong v);
        src = (uint)v;
        return ok;
    }

    // ------------------------------------------------------------------ MXCSR

    /// <summary>
    /// Folds the flags an instruction raised into MXCSR and reports unmasked ones: #XM if CR4.OSXMMEXCPT = 1,
    /// else #UD (SDM Vol. 1 §11.5.2 "SIMD Floating-Point Exception Conditions", Vol. 3A §6.15 "Interrupt 19—SIMD
    /// Floating-Point Exception"). The destination must be written only when this returns true.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool CommitMxcsr(Vcpu cpu, ref FpEnv env)
    {
        uint flags = env.Flags;
        if (flags == 0)
        {
            return true;
        }
        cpu.State.Mxcsr |= flags;
        if ((flags & ~env.Masks & 0x3F) == 0)
        {
            return true;
        }
        return RaiseSimdFp(cpu);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool RaiseSimdFp(Vcpu cpu) =>
        (cpu.State.Cr4 & CpuState.Cr4Osxmmexcpt) != 0 ? cpu.Raise(Vectors.XM) : cpu.RaiseUd();

    /// <summary>SDM Vol. 2B "LDMXCSR—Load MXCSR Register": #GP(0) when a reserved bit (outside MXCSR_MASK) is set.</summary>
    private static void Ldmxcsr(Vcpu cpu, in Instruction i)
    {
        if (!SseUsable(cpu) || !cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 4, out ulong v))
        {
            return;
        }
        if ((v & ~(ulong)MxcsrMask) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        cpu.State.Mxcsr = (uint)v;
    }

    private static void Stmxcsr(Vcpu cpu, in Instruction i)
    {
        if (SseUsable(cpu))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 4, cpu.State.Mxcsr);
        }
    }
}
