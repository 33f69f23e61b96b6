using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// FXSAVE/FXRSTOR, XGETBV/XSETBV and XSAVE/XSAVEOPT/XRSTOR in the standard (non-compacted) format, for
/// the two state components this processor has: x87 (XCR0 bit 0) and SSE (bit 1).
/// <para>
/// CPUID leaf 0DH must report, with this implementation:
/// sub-leaf 0: EAX = 3 (x87 | SSE), EDX = 0, ECX = 576 (512-byte legacy region + 64-byte header; no
/// extended components), EBX = 576 for any valid XCR0 (both 1 and 3 need the legacy region and header);
/// sub-leaf 1: EAX = 1 (XSAVEOPT; no XSAVEC, XGETBV ECX = 1, XSAVES/XFD), EBX = ECX = EDX = 0;
/// sub-leaves ≥ 2: all zero. Leaf 1 ECX.XSAVE (bit 26) = 1, ECX.OSXSAVE (bit 27) = CR4.OSXSAVE.
/// </para>
/// <para>
/// The x87 instruction and data pointers and FOP are not tracked and are saved as zero; the x87 and SSE
/// components are always reported in use (XSTATE_BV bits set for every requested component), which the
/// SDM permits (Vol. 1 §13.6 "Processor Tracking of XSAVE-Managed State").
/// </para>
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>XCR0 bits this processor supports: x87 and SSE.</summary>
    internal const ulong XcrSupported = 3;

    /// <summary>Size of the standard-format XSAVE area for the supported components.</summary>
    internal const int XsaveAreaSize = 576;

    private static void RegisterXsave(HandlerFn[] t)
    {
        Set(t, &Fxsave, Code.Fxsave_m512byte, Code.Fxsave64_m512byte);
        Set(t, &Fxrstor, Code.Fxrstor_m512byte, Code.Fxrstor64_m512byte);
        Set(t, &Xgetbv, Code.Xgetbv);
        Set(t, &Xsetbv, Code.Xsetbv);
        Set(t, &Xsave, Code.Xsave_mem, Code.Xsave64_mem, Code.Xsaveopt_mem, Code.Xsaveopt64_mem);
        Set(t, &Xrstor, Code.Xrstor_mem, Code.Xrstor64_mem);
    }

    // ------------------------------------------------------------------ legacy region (SDM Vol. 2A "FXSAVE" Tables 3-53/3-56)

    /// <summary>Number of XMM registers in the image: 16 in 64-bit mode, 8 elsewhere.</summary>
    private static int ImageXmmCount(Vcpu cpu) => cpu.State.Is64 ? 16 : 8;

    /// <summary>Checks that the whole area (at most two pages: it is aligned and ≤ 4 KiB) can be written.</summary>
    private static bool ProbeArea(Vcpu cpu, int seg, ulong ea, int size, bool write)
    {
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        ulong last = (ea + (ulong)size - 8) & wrap;
        return write
            ? cpu.ReadMemForWrite(seg, ea, 8, out _) && cpu.ReadMemForWrite(seg, last, 8, out _)
            : cpu.ReadMem(seg, ea, 8, out _) && cpu.ReadMem(seg, last, 8, out _);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Write8(Vcpu cpu, int seg, ulong ea, int offset, ulong v) =>
        cpu.WriteMem(seg, (ea + (ulong)offset) & Vcpu.SizeMask(cpu.AddrSize / 8), 8, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Read8(Vcpu cpu, int seg, ulong ea, int offset, out ulong v) =>
        cpu.ReadMem(seg, (ea + (ulong)offset) & Vcpu.SizeMask(cpu.AddrSize / 8), 8, out v);

    /// <summary>Bytes 0–23 and 32–159: FCW, FSW, abridged FTW, FOP/FIP/FDP (zero), ST(0)…ST(7).</summary>
    private static bool SaveX87Image(Vcpu cpu, int seg, ulong ea)
    {
        ref CpuState s = ref cpu.State;
        ulong head = s.Fcw | ((ulong)GetFsw(ref s) << 16) | ((ulong)s.Ftw << 32);
        if (!Write8(cpu, seg, ea, 0, head) || !Write8(cpu, seg, ea, 8, 0) || !Write8(cpu, seg, ea, 16, 0))
        {
            return false;
        }
        for (int k = 0; k < 8; k++)
        {
            DoubleToExtended(St(ref s, k), out ulong m, out ushort se);
            if (!Write8(cpu, seg, ea, 32 + 16 * k, m) || !Write8(cpu, seg, ea, 40 + 16 * k, se))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Bytes 16–23 (FDP) are shared with the MXCSR write, so MXCSR and MXCSR_MASK go as one quadword at 24.</summary>
    private static bool SaveMxcsrImage(Vcpu cpu, int seg, ulong ea) =>
        Write8(cpu, seg, ea, 24, cpu.State.Mxcsr | ((ulong)MxcsrMask << 32));

    private static bool SaveXmmImage(Vcpu cpu, int seg, ulong ea)
    {
        int n = ImageXmmCount(cpu);
        for (int k = 0; k < n; k++)
        {
            Vector128<ulong> x = cpu.State.Xmm[k];
            if (!Write8(cpu, seg, ea, 160 + 16 * k, x.GetElement(0)) || !Write8(cpu, seg, ea, 168 + 16 * k, x.GetElement(1)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>x87 part of an image, read completely before anything is loaded.</summary>
    private struct X87Image
    {
        public ushort Fcw;
        public ushort Fsw;
        public byte Ftw;
        public X87Regs St;
    }

    private static bool ReadX87Image(Vcpu cpu, int seg, ulong ea, out X87Image img)
    {
        img = default;
        if (!Read8(cpu, seg, ea, 0, out ulong head))
        {
            return false;
        }
        img.Fcw = (ushort)head;
        img.Fsw = (ushort)(head >> 16);
        img.Ftw = (byte)(head >> 32);
        FpEnv env = default;
        for (int k = 0; k < 8; k++)
        {
            if (!Read8(cpu, seg, ea, 32 + 16 * k, out ulong m) || !Read8(cpu, seg, ea, 40 + 16 * k, out ulong se))
            {
                return false;
            }
            img.St[k] = ExtendedToDouble(m, (ushort)se, ref env);
        }
        return true;
    }

    private static void LoadX87Image(ref CpuState s, ref X87Image img)
    {
        s.Fcw = (ushort)((img.Fcw & 0x1F3F) | 0x40);
        SetFsw(ref s, img.Fsw);
        s.Ftw = img.Ftw;
        for (int k = 0; k < 8; k++)
        {
            s.Fpr[Phys(ref s, k)] = img.St[k];
        }
        UpdateEs(ref s);
    }

    private static bool ReadXmmImage(Vcpu cpu, int seg, ulong ea, ref XmmFile regs)
    {
        int n = ImageXmmCount(cpu);
        for (int k = 0; k < n; k++)
        {
            if (!Read8(cpu, seg, ea, 160 + 16 * k, out ulong lo) || !Read8(cpu, seg, ea, 168 + 16 * k, out ulong hi))
            {
                return false;
            }
            regs[k] = Vector128.Create(lo, hi);
        }
        return true;
    }

    private static void LoadXmmImage(Vcpu cpu, ref XmmFile regs)
    {
        int n = ImageXmmCount(cpu);
        for (int k = 0; k < n; k++)
        {
            cpu.State.Xmm[k] = regs[k];
        }
    }

    // ------------------------------------------------------------------ FXSAVE / FXRSTOR

    /// <summary>
    /// SDM Vol. 2A "FXSAVE": #NM if CR0.TS or CR0.EM; #GP(0) unless 16-byte aligned. Writes bytes 0–287
    /// (0–415 in 64-bit mode); the reserved and software-available bytes above are left alone.
    /// </summary>
    private static void Fxsave(Vcpu cpu, in Instruction i)
    {
        if ((cpu.State.Cr0 & (CpuState.Cr0Em | CpuState.Cr0Ts)) != 0)
        {
            cpu.Raise(Vectors.NM);
            return;
        }
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!IsAligned(cpu, seg, ea, 16))
        {
            cpu.RaiseGp();
            return;
        }
        if (!ProbeArea(cpu, seg, ea, 512, write: true))
        {
            return;
        }
        _ = SaveX87Image(cpu, seg, ea) && SaveMxcsrImage(cpu, seg, ea) && SaveXmmImage(cpu, seg, ea);
    }

    /// <summary>SDM Vol. 2A "FXRSTOR": #GP(0) if misaligned or if the image's MXCSR sets a reserved bit.</summary>
    private static void Fxrstor(Vcpu cpu, in Instruction i)
    {
        if ((cpu.State.Cr0 & (CpuState.Cr0Em | CpuState.Cr0Ts)) != 0)
        {
            cpu.Raise(Vectors.NM);
            return;
        }
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!IsAligned(cpu, seg, ea, 16))
        {
            cpu.RaiseGp();
            return;
        }
        if (!ProbeArea(cpu, seg, ea, 512, write: false) || !Read8(cpu, seg, ea, 24, out ulong mx))
        {
            return;
        }
        uint mxcsr = (uint)mx;
        if ((mxcsr & ~MxcsrMask) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        XmmFile xmm = default;
        if (!ReadX87Image(cpu, seg, ea, out X87Image x87) || !ReadXmmImage(cpu, seg, ea, ref xmm))
        {
            return;
        }
        LoadX87Image(ref cpu.State, ref x87);
        cpu.State.Mxcsr = mxcsr;
        LoadXmmImage(cpu, ref xmm);
    }

    // ------------------------------------------------------------------ XGETBV / XSETBV

    /// <summary>SDM Vol. 2C "XGETBV": #UD if CR4.OSXSAVE = 0; #GP(0) for any ECX but 0 (XCR0; XINUSE via ECX = 1 is not offered).</summary>
    private static void Xgetbv(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr4 & CpuState.Cr4Osxsave) == 0)
        {
            cpu.RaiseUd();
            return;
        }
        if ((uint)s.Gpr[1] != 0)
        {
            cpu.RaiseGp();
            return;
        }
        s.Gpr[0] = (uint)s.Xcr0;
        s.Gpr[2] = (uint)(s.Xcr0 >> 32);
    }

    /// <summary>
    /// SDM Vol. 2C "XSETBV": #UD if CR4.OSXSAVE = 0; #GP(0) if CPL ≠ 0, ECX ≠ 0, bit 0 (x87) clear, or any
    /// unsupported bit set (only x87 and SSE exist here, so XCR0 is 1 or 3).
    /// </summary>
    private static void Xsetbv(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr4 & CpuState.Cr4Osxsave) == 0)
        {
            cpu.RaiseUd();
            return;
        }
        ulong value = (uint)s.Gpr[0] | ((ulong)(uint)s.Gpr[2] << 32);
        if (s.Cpl != 0 || s.V86 || (uint)s.Gpr[1] != 0 || (value & 1) == 0 || (value & ~XcrSupported) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        s.Xcr0 = value;
    }

    // ------------------------------------------------------------------ XSAVE / XRSTOR

    /// <summary>SDM Vol. 2C "XSAVE": #UD if CR4.OSXSAVE = 0, #NM if CR0.TS = 1, #GP(0) unless 64-byte aligned.</summary>
    private static bool XsaveChecks(Vcpu cpu, in Instruction i, out int seg, out ulong ea)
    {
        seg = Vcpu.SegIndex(i.MemorySegment);
        ea = cpu.EffectiveAddress(in i);
        if ((cpu.State.Cr4 & CpuState.Cr4Osxsave) == 0)
        {
            return cpu.RaiseUd();
        }
        if ((cpu.State.Cr0 & CpuState.Cr0Ts) != 0)
        {
            return cpu.Raise(Vectors.NM);
        }
        if (!IsAligned(cpu, seg, ea, 64))
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    /// <summary>Requested-feature bitmap: XCR0 AND EDX:EAX (SDM Vol. 1 §13.8 "Operation of XSAVE").</summary>
    private static ulong Rfbm(ref CpuState s) => s.Xcr0 & ((uint)s.Gpr[0] | ((ulong)(uint)s.Gpr[2] << 32));

    /// <summary>
    /// XSAVE and XSAVEOPT (standard form, SDM Vol. 1 §13.8 "Operation of XSAVE"): saves each requested
    /// component, MXCSR when SSE (or AVX) is requested, and updates XSTATE_BV[i] for the requested i; the
    /// rest of the header is not written. XSAVEOPT's optimizations are optional, so it behaves as XSAVE.
    /// </summary>
    private static void Xsave(Vcpu cpu, in Instruction i)
    {
        if (!XsaveChecks(cpu, in i, out int seg, out ulong ea))
        {
            return;
        }
        ulong rfbm = Rfbm(ref cpu.State);
        if (!ProbeArea(cpu, seg, ea, XsaveAreaSize, write: true) || !Read8(cpu, seg, ea, 512, out ulong xstateBv))
        {
            return;
        }
        if ((rfbm & 1) != 0 && !SaveX87Image(cpu, seg, ea))
        {
            return;
        }
        if ((rfbm & 6) != 0 && !SaveMxcsrImage(cpu, seg, ea))
        {
            return;
        }
        if ((rfbm & 2) != 0 && !SaveXmmImage(cpu, seg, ea))
        {
            return;
        }
        Write8(cpu, seg, ea, 512, (xstateBv & ~rfbm) | (rfbm & XcrSupported));
    }

    /// <summary>
    /// XRSTOR (standard form, SDM Vol. 1 §13.8 "Operation of XRSTOR"): #GP(0) if XSTATE_BV sets a bit not in
    /// XCR0, if XCOMP_BV or bytes 63:24 of the header are non-zero (no compaction here), or if MXCSR (loaded
    /// when SSE or AVX is requested) sets a reserved bit. Each requested component is loaded when its
    /// XSTATE_BV bit is set and initialized otherwise.
    /// </summary>
    private static void Xrstor(Vcpu cpu, in Instruction i)
    {
        if (!XsaveChecks(cpu, in i, out int seg, out ulong ea))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong rfbm = Rfbm(ref s);
        if (!ProbeArea(cpu, seg, ea, XsaveAreaSize, write: false) || !Read8(cpu, seg, ea, 512, out ulong xstateBv))
        {
            return;
        }
        for (int off = 520; off < 576; off += 8)
        {
            if (!Read8(cpu, seg, ea, off, out ulong reserved))
            {
                return;
            }
            if (reserved != 0)
            {
                cpu.RaiseGp();
                return;
            }
        }
        if ((xstateBv & ~s.Xcr0) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        uint mxcsr = s.Mxcsr;
        if ((rfbm & 6) != 0)
        {
            if (!Read8(cpu, seg, ea, 24, out ulong mx))
            {
                return;
            }
            if (((uint)mx & ~MxcsrMask) != 0)
            {
                cpu.RaiseGp();
                return;
            }
            mxcsr = (uint)mx;
        }
        bool loadX87 = (rfbm & xstateBv & 1) != 0;
        bool loadSse = (rfbm & xstateBv & 2) != 0;
        X87Image x87 = default;
        XmmFile xmm = default;
        if ((loadX87 && !ReadX87Image(cpu, seg, ea, out x87)) || (loadSse && !ReadXmmImage(cpu, seg, ea, ref xmm)))
        {
            return;
        }
        if ((rfbm & 1) != 0)
        {
            if (loadX87)
            {
                LoadX87Image(ref s, ref x87);
            }
            else
            {
                // x87 initial configuration (SDM Vol. 1 §13.6): FCW 037FH, FSW 0, all empty, registers zero.
                ResetX87(ref s);
                for (int k = 0; k < 8; k++)
                {
                    s.Fpr[k] = 0;
                }
            }
        }
        s.Mxcsr = mxcsr;
        if ((rfbm & 2) != 0)
        {
            // Not loaded: the SSE initial configuration, XMM registers zero (MXCSR comes from memory anyway).
            LoadXmmImage(cpu, ref xmm);
        }
    }
}
