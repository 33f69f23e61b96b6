using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>MSR indices (SDM Vol. 4 §2.1 "Architectural MSRs").</summary>
internal static class Msr
{
    public const uint Tsc = 0x10;
    public const uint PlatformId = 0x17;
    public const uint ApicBase = 0x1B;
    public const uint FeatureControl = 0x3A;
    public const uint TscAdjust = 0x3B;
    public const uint BiosSignId = 0x8B;
    public const uint PlatformInfo = 0xCE;
    public const uint MtrrCap = 0xFE;
    public const uint SysenterCs = 0x174;
    public const uint SysenterEsp = 0x175;
    public const uint SysenterEip = 0x176;
    public const uint McgCap = 0x179;
    public const uint McgStatus = 0x17A;
    public const uint MiscEnable = 0x1A0;
    public const uint DebugCtl = 0x1D9;
    public const uint MtrrPhysBase0 = 0x200;
    public const uint MtrrPhysMask7 = 0x20F;
    public const uint MtrrFix64K00000 = 0x250;
    public const uint MtrrFix16K80000 = 0x258;
    public const uint MtrrFix16KA0000 = 0x259;
    public const uint MtrrFix4KC0000 = 0x268;
    public const uint MtrrFix4KF8000 = 0x26F;
    public const uint Pat = 0x277;
    public const uint MtrrDefType = 0x2FF;
    public const uint Efer = 0xC000_0080;
    public const uint Star = 0xC000_0081;
    public const uint Lstar = 0xC000_0082;
    public const uint Cstar = 0xC000_0083;
    public const uint Fmask = 0xC000_0084;
    public const uint FsBase = 0xC000_0100;
    public const uint GsBase = 0xC000_0101;
    public const uint KernelGsBase = 0xC000_0102;
    public const uint TscAux = 0xC000_0103;
}

/// <summary>Result of an MSR access offered to a platform device.</summary>
public enum MsrResult
{
    /// <summary>Not this device's MSR: the processor handles it (or raises #GP).</summary>
    NotHandled,
    Ok,

    /// <summary>The device rejects the access: #GP(0).</summary>
    Fault,
}

/// <summary>Platform MSRs (x2APIC registers 0x800–0x8FF, TSC deadline…), offered every RDMSR/WRMSR first.</summary>
public interface IMsrDevice
{
    MsrResult ReadMsr(Vcpu cpu, uint index, out ulong value);

    MsrResult WriteMsr(Vcpu cpu, uint index, ulong value);
}

/// <summary>
/// Told of every accepted write of IA32_APIC_BASE, so that the platform's local APIC follows its enable bit,
/// x2APIC mode and base address (SDM Vol. 3A §12.4.4 "Local APIC Status and Location").
/// </summary>
public interface IApicBaseObserver
{
    void ApicBaseChanged(ulong oldValue, ulong newValue);
}

/// <summary>
/// Model-specific registers (SDM Vol. 2B "RDMSR"/"WRMSR", Vol. 4 "Model-Specific Registers"): #GP for
/// unknown MSRs and for reserved bits; the time-stamp counter; deterministic RDRAND.
/// </summary>
public sealed partial class Vcpu
{
    internal const ulong MiscEnableFastStrings = 1;
    internal const ulong MiscEnableBtsUnavailable = 1 << 11;
    internal const ulong MiscEnablePebsUnavailable = 1 << 12;
    internal const ulong MiscEnableLimitCpuid = 1 << 22;
    internal const ulong MiscEnableXdDisable = 1UL << 34;

    /// <summary>Bits of MISC_ENABLE that WRMSR may set: fast strings, TCC, EIST, limit CPUID, xTPR, XD disable.</summary>
    private const ulong MiscEnableWritable = MiscEnableFastStrings | (1 << 3) | (1 << 16) | MiscEnableLimitCpuid | (1 << 23) | MiscEnableXdDisable;

    /// <summary>Read-only bits of MISC_ENABLE (performance monitoring available, BTS/PEBS unavailable).</summary>
    private const ulong MiscEnableReadOnly = (1 << 7) | MiscEnableBtsUnavailable | MiscEnablePebsUnavailable;

    /// <summary>
    /// The time-stamp counter is <c>TscBase + InstructionCount</c> (+ the VMX TSC offset in
    /// <c>State.TscOffset</c>): deterministic, one tick per retired instruction. WRMSR IA32_TSC moves <see cref="TscBase"/>.
    /// </summary>
    public long TscBase;

    /// <summary>IA32_TSC_ADJUST (SDM Vol. 3B §19.17.3 "Time-Stamp Counter Adjustment").</summary>
    internal ulong TscAdjust;

    /// <summary>
    /// The local APIC's task-priority register, the one storage that CR8 and the APIC's TPR share (SDM Vol. 3A
    /// §12.8.6.1 "Interaction of Task Priorities between CR8 and APIC": CR8[3:0] is TPR[7:4]).
    /// </summary>
    internal byte ApicTpr;

    /// <summary>CR8: the task-priority class, TPR[7:4]; writing it clears TPR[3:0].</summary>
    public byte Tpr
    {
        get => (byte)(ApicTpr >> 4);
        internal set => ApicTpr = (byte)(value << 4);
    }

    /// <summary>The platform's local APIC, told of IA32_APIC_BASE writes; null = none.</summary>
    public IApicBaseObserver? ApicBaseObserver { get; set; }

    /// <summary>Platform MSRs (the local APIC's x2APIC registers); null = none.</summary>
    public IMsrDevice? MsrDevice { get; set; }

    /// <summary>State of the deterministic RDRAND/RDSEED generator (splitmix64, seeded per vCPU).</summary>
    internal ulong RandomState;

    internal ulong MtrrDefType;
    internal readonly ulong[] MtrrFixed = new ulong[11];
    internal readonly ulong[] MtrrVariable = new ulong[16];
    internal ulong McgStatus;

    /// <summary>Microcode revision reported in IA32_BIOS_SIGN_ID[63:32].</summary>
    internal const ulong MicrocodeRevision = 1;

    /// <summary>Reset values of the state this file and the system instructions own (called by <see cref="Reset"/>).</summary>
    private void ResetSystemState()
    {
        State.Gpr[2] = CpuidSignature;
        State.MiscEnable = MiscEnableFastStrings;
        State.FeatureControl = 0;
        TscBase = 0;
        TscAdjust = 0;
        Tpr = 0;
        RandomState = 0x5EED_0000_0000_0000UL ^ ((ulong)Index * 0x9E37_79B9_7F4A_7C15UL);
        MtrrDefType = 0;
        Array.Clear(MtrrFixed);
        Array.Clear(MtrrVariable);
        McgStatus = 0;
        ExecBreakpoints = false;
        DataBreakpoints = false;
        IoBreakpoints = false;
        _rfSkipCount = -1;
        _movSsCount = -2;
        _debugDeferCount = -1;
        CancelDebugTraps();
    }

    /// <summary>Current guest TSC value: 1 GHz, one tick per nanosecond of this vCPU's time (<see cref="LocalTimeNs"/>).</summary>
    internal ulong ReadTsc() => (ulong)(TscBase + LocalTimeNs) + State.TscOffset;

    /// <summary>Next value of the deterministic random generator (splitmix64).</summary>
    internal ulong NextRandom()
    {
        ulong z = RandomState += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    private const ulong PhysMaskMsr = (1UL << MaxPhysAddrBits) - 1;

    /// <summary>Memory types valid in MTRRs: UC, WC, WT, WP, WB (SDM Vol. 3A §13.11.2 "Setting Memory Ranges with MTRRs").</summary>
    private static bool ValidMtrrType(ulong t) => t is 0 or 1 or 4 or 5 or 6;

    /// <summary>Memory types valid in the PAT: UC, WC, WT, WP, WB, UC- (SDM Vol. 3A §13.12.2 "IA32_PAT MSR").</summary>
    private static bool ValidPatType(ulong t) => t is 0 or 1 or 4 or 5 or 6 or 7;

    /// <summary>Every byte of <paramref name="v"/> is a valid PAT (or MTRR) memory type.</summary>
    private static bool EveryByte(ulong v, bool pat)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong t = (v >> (i * 8)) & 0xFF;
            if (pat ? !ValidPatType(t) : !ValidMtrrType(t))
            {
                return false;
            }
        }
        return true;
    }

    private static int FixedMtrrIndex(uint index) => index switch
    {
        Msr.MtrrFix64K00000 => 0,
        Msr.MtrrFix16K80000 => 1,
        Msr.MtrrFix16KA0000 => 2,
        >= Msr.MtrrFix4KC0000 and <= Msr.MtrrFix4KF8000 => 3 + (int)(index - Msr.MtrrFix4KC0000),
        _ => -1,
    };

    /// <summary>RDMSR: false means #GP(0).</summary>
    internal bool ReadMsr(uint index, out ulong value)
    {
        if (MsrDevice is { } dev)
        {
            MsrResult r = dev.ReadMsr(this, index, out value);
            if (r != MsrResult.NotHandled)
            {
                return r == MsrResult.Ok;
            }
        }
        if (Vmx is { } vmx)
        {
            // The VMX capability MSRs (0x480–0x492) belong to the extension; without one they #GP as unknown MSRs.
            MsrResult r = vmx.ReadMsr(this, index, out value);
            if (r != MsrResult.NotHandled)
            {
                return r == MsrResult.Ok;
            }
        }
        ref CpuState s = ref State;
        value = 0;
        switch (index)
        {
            case Msr.Tsc: value = ReadTsc(); return true;
            case Msr.PlatformId: return true;
            case Msr.ApicBase: value = s.ApicBase; return true;
            case Msr.FeatureControl: value = s.FeatureControl; return true;
            case Msr.TscAdjust: value = TscAdjust; return true;
            case Msr.BiosSignId: value = MicrocodeRevision << 32; return true;
            case Msr.PlatformInfo:
                // Maximum non-turbo ratio 10 (bits 15:8).
                value = 10 << 8;
                return true;
            case Msr.MtrrCap:
                // 8 variable ranges, fixed ranges, write-combining; no SMRR.
                value = 8 | (1 << 8) | (1 << 10);
                return true;
            case Msr.SysenterCs: value = s.SysenterCs; return true;
            case Msr.SysenterEsp: value = s.SysenterEsp; return true;
            case Msr.SysenterEip: value = s.SysenterEip; return true;
            case Msr.McgCap: value = 0; return true; // no banks, no MCG_CTL
            case Msr.McgStatus: value = McgStatus; return true;
            case Msr.MiscEnable: value = s.MiscEnable | MiscEnableReadOnly; return true;
            case Msr.DebugCtl: value = s.DebugCtl; return true;
            case >= Msr.MtrrPhysBase0 and <= Msr.MtrrPhysMask7: value = MtrrVariable[index - Msr.MtrrPhysBase0]; return true;
            case Msr.Pat: value = s.Pat; return true;
            case Msr.MtrrDefType: value = MtrrDefType; return true;
            case Msr.Efer: value = s.Efer; return true;
            case Msr.Star: value = s.Star; return true;
            case Msr.Lstar: value = s.Lstar; return true;
            case Msr.Cstar: value = s.Cstar; return true;
            case Msr.Fmask: value = s.Sfmask; return true;
            case Msr.FsBase: value = s.Seg[(int)SegReg.Fs].Base; return true;
            case Msr.GsBase: value = s.Seg[(int)SegReg.Gs].Base; return true;
            case Msr.KernelGsBase: value = s.KernelGsBase; return true;
            case Msr.TscAux: value = s.TscAux; return true;
        }
        int fixedIndex = FixedMtrrIndex(index);
        if (fixedIndex >= 0)
        {
            value = MtrrFixed[fixedIndex];
            return true;
        }
        return false;
    }

    /// <summary>WRMSR: false means #GP(0) and nothing changed.</summary>
    internal bool WriteMsr(uint index, ulong value)
    {
        if (MsrDevice is { } dev)
        {
            MsrResult r = dev.WriteMsr(this, index, value);
            if (r != MsrResult.NotHandled)
            {
                return r == MsrResult.Ok;
            }
        }
        if (Vmx is { } vmx)
        {
            MsrResult r = vmx.WriteMsr(this, index, value);
            if (r != MsrResult.NotHandled)
            {
                return r == MsrResult.Ok;
            }
        }
        ref CpuState s = ref State;
        switch (index)
        {
            case Msr.Tsc:
                {
                    // Writing the TSC moves IA32_TSC_ADJUST by the same amount (SDM Vol. 3B §19.17.3).
                    ulong old = ReadTsc();
                    TscBase += (long)(value - old);
                    TscAdjust += value - old;
                    return true;
                }
            case Msr.ApicBase:
                {
                    // BSP (bit 8) is read-only; EXTD (bit 10) only with x2APIC; base below MAXPHYADDR.
                    ulong reserved = 0xFF | (1UL << 9) | (X2ApicSupported ? 0 : 1UL << 10) | ~PhysMaskMsr;
                    if ((value & reserved) != 0)
                    {
                        return false;
                    }
                    // SDM Vol. 3A §12.12.5 "x2APIC State Transitions": EXTD without EN is invalid, and so are
                    // x2APIC → xAPIC and disabled → x2APIC (leaving x2APIC mode goes through disabled).
                    ulong oldMode = s.ApicBase & (3UL << 10);
                    ulong newMode = value & (3UL << 10);
                    if (newMode == 1UL << 10
                        || (oldMode == 3UL << 10 && newMode == 1UL << 11)
                        || (oldMode == 0 && newMode == 3UL << 10))
                    {
                        return false;
                    }
                    ulong old = s.ApicBase;
                    s.ApicBase = (value & ~(1UL << 8)) | (s.ApicBase & (1UL << 8));
                    ApicBaseObserver?.ApicBaseChanged(old, s.ApicBase);
                    return true;
                }
            case Msr.FeatureControl:
                {
                    // Locked: no further writes until reset (SDM Vol. 3C §24.7 "Enabling and Entering VMX Operation").
                    // Bit 0 lock; bit 2 "enable VMX outside SMX operation" only with VMX; bit 1 "enable VMX inside
                    // SMX operation" is reserved, as this processor has no SMX (CPUID.1:ECX.SMX = 0, SDM Vol. 4
                    // Table 2-2 "IA-32 Architectural MSRs", IA32_FEATURE_CONTROL).
                    ulong allowed = 1 | (VmxSupported ? 4UL : 0);
                    if ((s.FeatureControl & 1) != 0 || (value & ~allowed) != 0)
                    {
                        return false;
                    }
                    s.FeatureControl = value;
                    return true;
                }
            case Msr.TscAdjust:
                TscBase += (long)(value - TscAdjust);
                TscAdjust = value;
                return true;
            case Msr.BiosSignId:
                return true;
            case Msr.SysenterCs:
                s.SysenterCs = value & 0xFFFF_FFFF;
                return true;
            case Msr.SysenterEsp:
            case Msr.SysenterEip:
                // Must be canonical on processors that support Intel 64 (SDM Vol. 2B "WRMSR").
                if (!IsCanonical(value))
                {
                    return false;
                }
                if (index == Msr.SysenterEsp)
                {
                    s.SysenterEsp = value;
                }
                else
                {
                    s.SysenterEip = value;
                }
                return true;
            case Msr.McgStatus:
                if (value != 0)
                {
                    return false;
                }
                McgStatus = 0;
                return true;
            case Msr.MiscEnable:
                if ((value & ~(MiscEnableWritable | MiscEnableReadOnly)) != 0)
                {
                    return false;
                }
                s.MiscEnable = value & MiscEnableWritable;
                return true;
            case Msr.DebugCtl:
                // LBR (0) and BTF (1) only; BTF changes single-stepping (see DebugTraps.cs). LBRs are not recorded.
                if ((value & ~3UL) != 0)
                {
                    return false;
                }
                s.DebugCtl = value;
                return true;
            case >= Msr.MtrrPhysBase0 and <= Msr.MtrrPhysMask7:
                {
                    bool isBase = ((index - Msr.MtrrPhysBase0) & 1) == 0;
                    ulong reserved = isBase ? 0xF00 | ~PhysMaskMsr : 0x7FF | ~PhysMaskMsr;
                    if ((value & reserved) != 0 || (isBase && !ValidMtrrType(value & 0xFF)))
                    {
                        return false;
                    }
                    MtrrVariable[index - Msr.MtrrPhysBase0] = value;
                    return true;
                }
            case Msr.Pat:
                if (!EveryByte(value, pat: true))
                {
                    return false;
                }
                s.Pat = value;
                return true;
            case Msr.MtrrDefType:
                if ((value & ~0xCFFUL) != 0 || !ValidMtrrType(value & 0xFF))
                {
                    return false;
                }
                MtrrDefType = value;
                return true;
            case Msr.Efer:
                return WriteEfer(value);
            case Msr.Star:
                s.Star = value;
                return true;
            case Msr.Lstar:
            case Msr.Cstar:
            case Msr.FsBase:
            case Msr.GsBase:
            case Msr.KernelGsBase:
                if (!IsCanonical(value))
                {
                    return false;
                }
                switch (index)
                {
                    case Msr.Lstar: s.Lstar = value; break;
                    case Msr.Cstar: s.Cstar = value; break;
                    case Msr.FsBase: s.Seg[(int)SegReg.Fs].Base = value; break;
                    case Msr.GsBase: s.Seg[(int)SegReg.Gs].Base = value; break;
                    default: s.KernelGsBase = value; break;
                }
                return true;
            case Msr.Fmask:
                if ((value >> 32) != 0)
                {
                    return false;
                }
                s.Sfmask = value;
                return true;
            case Msr.TscAux:
                if ((value >> 32) != 0)
                {
                    return false;
                }
                s.TscAux = value;
                return true;
        }
        int fixedIndex = FixedMtrrIndex(index);
        if (fixedIndex >= 0)
        {
            if (!EveryByte(value, pat: false))
            {
                return false;
            }
            MtrrFixed[fixedIndex] = value;
            return true;
        }
        return false;
    }

    /// <summary>
    /// IA32_EFER (SDM Vol. 3A §2.2.1 "Extended Feature Enable Register"): SCE, LME, NXE writable; LMA is
    /// read-only (writes ignored); LME may not change while paging is on; NXE is reserved under XD disable.
    /// </summary>
    internal bool WriteEfer(ulong value)
    {
        ref CpuState s = ref State;
        ulong writable = CpuState.EferSce | CpuState.EferLme | CpuState.EferLma
            | ((s.MiscEnable & MiscEnableXdDisable) == 0 ? CpuState.EferNxe : 0);
        if ((value & ~writable) != 0)
        {
            return false;
        }
        if (s.PagingEnabled && ((value ^ s.Efer) & CpuState.EferLme) != 0)
        {
            return false;
        }
        ulong updated = (value & ~CpuState.EferLma) | (s.Efer & CpuState.EferLma);
        if (((updated ^ s.Efer) & CpuState.EferNxe) != 0)
        {
            // Cached translations carry NX as interpreted under the old NXE.
            FlushTlbAll();
        }
        s.Efer = updated;
        InvalidateFetch();
        return true;
    }
}
