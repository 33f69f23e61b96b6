using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx.Capabilities;

/// <summary>
/// The VMX capability MSRs of the virtual CPU, in one place (SDM Vol. 3D Appendix A "VMX Capability Reporting
/// Facility"; reference §1.10). They advertise what this emulator's VMX implements, no more: a control is offered
/// (allowed-1) only if VM entry, the exits and the nested transitions honour it. A control MSR holds the allowed-0
/// settings (bits that must be 1) in its low dword and the allowed-1 settings (bits that may be 1) in its high
/// dword; TRUE_* forms may let software clear some default-1 bits (KVM's nested profile: CR3-load/-store exiting,
/// save/load debug controls).
/// </summary>
internal sealed class VmxCapabilities
{
    // --- IA32_VMX_BASIC (A.1 "Basic VMX Information") ---------------------------------------------------------
    private const int BasicRegionSizeShift = 32;   // bits 44:32: VMXON/VMCS region size
    private const int BasicMemTypeShift = 50;      // bits 53:50: memory type of VMCS-related structures
    private const ulong MemTypeWriteBack = 6;
    public const ulong BasicInsOutsInfo = 1UL << 54;  // VM exits report INS/OUTS instruction information
    public const ulong BasicTrueControls = 1UL << 55; // the TRUE_* control MSRs exist

    // --- allowed-1 settings offered ---------------------------------------------------------------------------

    /// <summary>Pin-based: external-interrupt and NMI exiting, virtual NMIs. No preemption timer, no posted interrupts yet.</summary>
    private const PinBasedControls PinAllowed1 = PinBasedControls.AlwaysOnWithoutTrueMsr
        | PinBasedControls.ExtIntrExiting | PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis;

    /// <summary>
    /// Primary processor-based: the instruction and event exits an interpreter can take at the instruction,
    /// TSC offsetting, I/O and MSR bitmaps, monitor trap flag, secondary controls. No TPR shadow (no virtual-APIC
    /// page yet), no tertiary controls.
    /// </summary>
    private const CpuBasedControls ProcAllowed1 = CpuBasedControls.AlwaysOnWithoutTrueMsr
        | CpuBasedControls.IntrWindowExiting | CpuBasedControls.UseTscOffsetting | CpuBasedControls.HltExiting
        | CpuBasedControls.InvlpgExiting | CpuBasedControls.MwaitExiting | CpuBasedControls.RdpmcExiting
        | CpuBasedControls.RdtscExiting | CpuBasedControls.Cr3LoadExiting | CpuBasedControls.Cr3StoreExiting
        | CpuBasedControls.Cr8LoadExiting | CpuBasedControls.Cr8StoreExiting | CpuBasedControls.NmiWindowExiting
        | CpuBasedControls.MovDrExiting | CpuBasedControls.UncondIoExiting | CpuBasedControls.UseIoBitmaps
        | CpuBasedControls.MonitorTrapFlag | CpuBasedControls.UseMsrBitmaps | CpuBasedControls.MonitorExiting
        | CpuBasedControls.PauseExiting | CpuBasedControls.ActivateSecondaryControls;

    /// <summary>
    /// Secondary: descriptor-table exiting, RDTSCP and INVPCID enables (the CPU has both instructions), WBINVD
    /// exiting. No EPT, VPID, unrestricted guest, APIC virtualization, VM functions or VMCS shadowing yet.
    /// </summary>
    private const SecondaryControls Proc2Allowed1 = SecondaryControls.DescriptorTableExiting
        | SecondaryControls.EnableRdtscp | SecondaryControls.WbinvdExiting | SecondaryControls.EnableInvpcid;

    /// <summary>Exit: 64-bit host, acknowledge interrupt on exit, save/load IA32_PAT and IA32_EFER.</summary>
    private const VmExitControls ExitAllowed1 = VmExitControls.AlwaysOnWithoutTrueMsr
        | VmExitControls.HostAddrSpaceSize | VmExitControls.AckIntrOnExit | VmExitControls.SaveIa32Pat
        | VmExitControls.LoadIa32Pat | VmExitControls.SaveIa32Efer | VmExitControls.LoadIa32Efer;

    /// <summary>Entry: IA-32e mode guest, load IA32_PAT and IA32_EFER. No entry to SMM, no dual-monitor treatment.</summary>
    private const VmEntryControls EntryAllowed1 = VmEntryControls.AlwaysOnWithoutTrueMsr
        | VmEntryControls.Ia32eMode | VmEntryControls.LoadIa32Pat | VmEntryControls.LoadIa32Efer;

    // --- allowed-0 settings of the TRUE_* MSRs (default-1 bits that may be cleared, as KVM's nested VMX) -------
    private const PinBasedControls TruePinAllowed0 = PinBasedControls.AlwaysOnWithoutTrueMsr;
    private const CpuBasedControls TrueProcAllowed0 = CpuBasedControls.AlwaysOnWithoutTrueMsr
        & ~(CpuBasedControls.Cr3LoadExiting | CpuBasedControls.Cr3StoreExiting);
    private const VmExitControls TrueExitAllowed0 = VmExitControls.AlwaysOnWithoutTrueMsr & ~VmExitControls.SaveDebugControls;
    private const VmEntryControls TrueEntryAllowed0 = VmEntryControls.AlwaysOnWithoutTrueMsr & ~VmEntryControls.LoadDebugControls;

    // --- IA32_VMX_MISC (A.6 "Miscellaneous Data") -------------------------------------------------------------
    public const ulong MiscSaveEferLma = 1UL << 5;       // VM exits store EFER.LMA into "IA-32e mode guest"
    public const ulong MiscActivityHlt = 1UL << 6;       // activity state HLT
    private const int MiscCr3TargetCountShift = 16;      // bits 24:16: number of CR3-target values
    public const int Cr3TargetCount = 4;                 // the four CR3-target fields of the field table
    public const ulong MiscVmwriteAnyField = 1UL << 29;  // VMWRITE may write VM-exit information fields

    // --- CR0/CR4 in VMX operation (A.7 "VMX-Fixed Bits in CR0", A.8 "VMX-Fixed Bits in CR4") -----------------

    /// <summary>PE, NE and PG must be 1 in VMX operation (no unrestricted guest yet).</summary>
    public const ulong Cr0Fixed0Value = CpuState.Cr0Pe | CpuState.Cr0Ne | CpuState.Cr0Pg;

    /// <summary>Every bit of CR0 31:0 may be 1, as on hardware; MOV to CR0 ignores the undefined ones anyway.</summary>
    public const ulong Cr0Fixed1Value = 0xFFFF_FFFF;

    /// <summary>CR4.VMXE must stay 1 in VMX operation.</summary>
    public const ulong Cr4Fixed0Value = CpuState.Cr4Vmxe;

    public VmxCapabilities(ulong cr4Supported, bool vmwriteAnyField = true)
    {
        VmwriteAnyField = vmwriteAnyField;
        Cr4Fixed1 = cr4Supported | CpuState.Cr4Vmxe;
        Basic = Vmcs12Layout.Revision                              // bits 30:0 revision id, bit 31 0
            | ((ulong)Vmcs12Layout.Size << BasicRegionSizeShift)   // bits 44:32 region size; bit 48 (32-bit
                                                                   // addresses) 0, bit 49 (dual-monitor SMM) 0
            | (MemTypeWriteBack << BasicMemTypeShift)              // bits 53:50 write-back
            | BasicInsOutsInfo
            | BasicTrueControls;
        Misc = MiscSaveEferLma | MiscActivityHlt                   // bits 4:0 preemption-timer rate 0 (no timer);
            | ((ulong)Cr3TargetCount << MiscCr3TargetCountShift)   // bits 27:25 0: 512 MSR-list entries;
            | (vmwriteAnyField ? MiscVmwriteAnyField : 0);         // bits 63:32 MSEG revision 0
    }

    /// <summary>
    /// IA32_VMX_MISC bit 29: VMWRITE may write VM-exit information fields. On by default, as KVM offers it;
    /// off, VMWRITE to them fails with error 13 ("VMWRITE to read-only VMCS component").
    /// </summary>
    public bool VmwriteAnyField { get; }

    public ulong Basic { get; }

    public ulong Misc { get; }

    /// <summary>IA32_VMX_CR4_FIXED1: the CR4 bits the processor supports, VMXE included.</summary>
    public ulong Cr4Fixed1 { get; }

    public static ulong PinbasedCtls => Control((uint)PinBasedControls.AlwaysOnWithoutTrueMsr, (uint)PinAllowed1);

    public static ulong ProcbasedCtls => Control((uint)CpuBasedControls.AlwaysOnWithoutTrueMsr, (uint)ProcAllowed1);

    public static ulong ExitCtls => Control((uint)VmExitControls.AlwaysOnWithoutTrueMsr, (uint)ExitAllowed1);

    public static ulong EntryCtls => Control((uint)VmEntryControls.AlwaysOnWithoutTrueMsr, (uint)EntryAllowed1);

    public static ulong TruePinbasedCtls => Control((uint)TruePinAllowed0, (uint)PinAllowed1);

    public static ulong TrueProcbasedCtls => Control((uint)TrueProcAllowed0, (uint)ProcAllowed1);

    public static ulong TrueExitCtls => Control((uint)TrueExitAllowed0, (uint)ExitAllowed1);

    public static ulong TrueEntryCtls => Control((uint)TrueEntryAllowed0, (uint)EntryAllowed1);

    /// <summary>No secondary control is fixed to 1 (SDM Vol. 3D §A.3.3 "Secondary Processor-Based VM-Execution Controls").</summary>
    public static ulong ProcbasedCtls2 => Control(0, (uint)Proc2Allowed1);

    /// <summary>IA32_VMX_VMCS_ENUM: the highest field index of the field table, in bits 9:1.</summary>
    public static ulong VmcsEnum => VmcsFieldTable.VmcsEnumMsr;

    /// <summary>No EPT and no VPID yet: no capability bit. Reads as 0, as KVM's nested VMX without them.</summary>
    public const ulong EptVpidCap = 0;

    /// <summary>No VM function (and "enable VM functions" is not offered).</summary>
    public const ulong Vmfunc = 0;

    /// <summary>
    /// RDMSR of a capability MSR. IA32_VMX_PROCBASED_CTLS3 does not exist, because "activate tertiary controls"
    /// is not offered (SDM Vol. 3D §A.3.4 "Tertiary Processor-Based VM-Execution Controls"): false (#GP).
    /// </summary>
    public bool TryRead(uint index, out ulong value)
    {
        value = index switch
        {
            VmxMsr.Basic => Basic,
            VmxMsr.PinbasedCtls => PinbasedCtls,
            VmxMsr.ProcbasedCtls => ProcbasedCtls,
            VmxMsr.ExitCtls => ExitCtls,
            VmxMsr.EntryCtls => EntryCtls,
            VmxMsr.Misc => Misc,
            VmxMsr.Cr0Fixed0 => Cr0Fixed0Value,
            VmxMsr.Cr0Fixed1 => Cr0Fixed1Value,
            VmxMsr.Cr4Fixed0 => Cr4Fixed0Value,
            VmxMsr.Cr4Fixed1 => Cr4Fixed1,
            VmxMsr.VmcsEnum => VmcsEnum,
            VmxMsr.ProcbasedCtls2 => ProcbasedCtls2,
            VmxMsr.EptVpidCap => EptVpidCap,
            VmxMsr.TruePinbasedCtls => TruePinbasedCtls,
            VmxMsr.TrueProcbasedCtls => TrueProcbasedCtls,
            VmxMsr.TrueExitCtls => TrueExitCtls,
            VmxMsr.TrueEntryCtls => TrueEntryCtls,
            VmxMsr.Vmfunc => Vmfunc,
            _ => 0,
        };
        return index is >= VmxMsr.Basic and <= VmxMsr.Vmfunc;
    }

    /// <summary>True for the MSR range this extension answers for (0x480–0x492).</summary>
    public static bool IsCapabilityMsr(uint index) => index is >= VmxMsr.Basic and <= VmxMsr.ProcbasedCtls3;

    /// <summary>
    /// KVM's <c>fixed_bits_valid</c>: every FIXED0 bit is set and every set bit is allowed by FIXED1
    /// (SDM Vol. 3C §24.8 "Restrictions on VMX Operation").
    /// </summary>
    public static bool FixedBitsValid(ulong value, ulong fixed0, ulong fixed1) => ((value & fixed1) | fixed0) == value;

    public static bool IsCr0Valid(ulong cr0) => FixedBitsValid(cr0, Cr0Fixed0Value, Cr0Fixed1Value);

    public bool IsCr4Valid(ulong cr4) => FixedBitsValid(cr4, Cr4Fixed0Value, Cr4Fixed1);

    private static ulong Control(uint allowed0, uint allowed1) => allowed0 | ((ulong)allowed1 << 32);
}
