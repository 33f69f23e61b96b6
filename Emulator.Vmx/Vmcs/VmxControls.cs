namespace Emulator.Vmx.Vmcs;

// Control bits of the VMCS's execution, exit and entry control fields (SDM Vol. 3C §25.6 "VM-Execution Control
// Fields", §25.7.1 "VM-Exit Controls", §25.8.1 "VM-Entry Controls"; reference §1.9). Names are KVM's
// (arch/x86/include/asm/vmx.h) without the prefix. Only bits this emulator offers or must know are listed.

/// <summary>Pin-based VM-execution controls (field 0x4000).</summary>
[Flags]
internal enum PinBasedControls : uint
{
    ExtIntrExiting = 1u << 0,
    NmiExiting = 1u << 3,
    VirtualNmis = 1u << 5,
    VmxPreemptionTimer = 1u << 6,
    PostedIntr = 1u << 7,

    /// <summary>Bits 1, 2, 4: reserved and fixed to 1 (SDM Vol. 3D §A.3.1 "Pin-Based VM-Execution Controls").</summary>
    AlwaysOnWithoutTrueMsr = 0x0000_0016,
}

/// <summary>Primary processor-based VM-execution controls (field 0x4002).</summary>
[Flags]
internal enum CpuBasedControls : uint
{
    IntrWindowExiting = 1u << 2,
    UseTscOffsetting = 1u << 3,
    HltExiting = 1u << 7,
    InvlpgExiting = 1u << 9,
    MwaitExiting = 1u << 10,
    RdpmcExiting = 1u << 11,
    RdtscExiting = 1u << 12,
    Cr3LoadExiting = 1u << 15,
    Cr3StoreExiting = 1u << 16,
    ActivateTertiaryControls = 1u << 17,
    Cr8LoadExiting = 1u << 19,
    Cr8StoreExiting = 1u << 20,
    TprShadow = 1u << 21,
    NmiWindowExiting = 1u << 22,
    MovDrExiting = 1u << 23,
    UncondIoExiting = 1u << 24,
    UseIoBitmaps = 1u << 25,
    MonitorTrapFlag = 1u << 27,
    UseMsrBitmaps = 1u << 28,
    MonitorExiting = 1u << 29,
    PauseExiting = 1u << 30,
    ActivateSecondaryControls = 1u << 31,

    /// <summary>Bits 1, 4–6, 8, 13–16, 26 (SDM Vol. 3D §A.3.2 "Primary Processor-Based VM-Execution Controls").</summary>
    AlwaysOnWithoutTrueMsr = 0x0401_E172,
}

/// <summary>Secondary processor-based VM-execution controls (field 0x401E).</summary>
[Flags]
internal enum SecondaryControls : uint
{
    VirtualizeApicAccesses = 1u << 0,
    EnableEpt = 1u << 1,
    DescriptorTableExiting = 1u << 2,
    EnableRdtscp = 1u << 3,
    VirtualizeX2ApicMode = 1u << 4,
    EnableVpid = 1u << 5,
    WbinvdExiting = 1u << 6,
    UnrestrictedGuest = 1u << 7,
    EnableInvpcid = 1u << 12,
    EnableVmFunctions = 1u << 13,
    ShadowVmcs = 1u << 14,
}

/// <summary>Primary VM-exit controls (field 0x400C).</summary>
[Flags]
internal enum VmExitControls : uint
{
    SaveDebugControls = 1u << 2,
    HostAddrSpaceSize = 1u << 9,
    LoadIa32PerfGlobalCtrl = 1u << 12,
    AckIntrOnExit = 1u << 15,
    SaveIa32Pat = 1u << 18,
    LoadIa32Pat = 1u << 19,
    SaveIa32Efer = 1u << 20,
    LoadIa32Efer = 1u << 21,
    SaveVmxPreemptionTimer = 1u << 22,

    /// <summary>Bits 0–8, 10, 11, 13, 14, 16, 17 (SDM Vol. 3D §A.4.1 "Primary VM-Exit Controls").</summary>
    AlwaysOnWithoutTrueMsr = 0x0003_6DFF,
}

/// <summary>VM-entry controls (field 0x4012).</summary>
[Flags]
internal enum VmEntryControls : uint
{
    LoadDebugControls = 1u << 2,
    Ia32eMode = 1u << 9,
    EntryToSmm = 1u << 10,
    DeactivateDualMonitorTreatment = 1u << 11,
    LoadIa32PerfGlobalCtrl = 1u << 13,
    LoadIa32Pat = 1u << 14,
    LoadIa32Efer = 1u << 15,

    /// <summary>Bits 0–8, 12 (SDM Vol. 3D §A.5 "VM-Entry Controls").</summary>
    AlwaysOnWithoutTrueMsr = 0x0000_11FF,
}
