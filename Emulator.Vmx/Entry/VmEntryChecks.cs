using System.Runtime.CompilerServices;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Capabilities;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx.Entry;

/// <summary>
/// The checks VMLAUNCH/VMRESUME make on vmcs12 before loading anything (SDM Vol. 3C §27.2 "Checks on VMX Controls
/// and Host-State Area" and §27.3.1 "Checks on the Guest State Area"), as KVM's
/// <c>nested_vmx_check_controls</c>, <c>nested_vmx_check_host_state</c> and <c>nested_vmx_check_guest_state</c>.
/// Each SDM subsection is one small function, a flat list of <c>if (Cc(condition)) return …;</c> in SDM order;
/// <see cref="Cc"/> records the failed condition's text (a compile-time literal), so nothing allocates.
/// Checks whose subject this CPU does not offer (EPT, VPID, APIC virtualization, posted interrupts, PML, VM
/// functions, VMCS shadowing, the preemption timer, SMM, CET, PKRS, BNDCFGS, RTIT, PERF_GLOBAL_CTRL, unrestricted
/// guest, the shutdown and wait-for-SIPI activity states) are covered by the allowed-1 settings: a control that
/// would enable them already fails <see cref="ControlValid"/>.
/// </summary>
internal ref struct VmEntryChecks
{
    // VM-entry interruption-information field (SDM Vol. 3C §25.8.3 "VM-Entry Controls for Event Injection").
    private const uint IntrInfoValid = 1u << 31;
    private const uint IntrInfoDeliverErrorCode = 1u << 11;
    private const uint IntrInfoReserved = 0x7FFF_F000; // bits 30:12
    private const uint TypeExternalInterrupt = 0;
    private const uint TypeReserved = 1;
    private const uint TypeNmi = 2;
    private const uint TypeHardwareException = 3;
    private const uint TypeSoftwareInterrupt = 4;
    private const uint TypeSoftwareException = 6;
    private const uint TypeOtherEvent = 7;

    // Guest non-register state (SDM Vol. 3C §25.4.2 "Guest Non-Register State").
    private const uint ActivityActive = 0;
    private const uint ActivityHlt = 1;
    private const uint ActivityWaitForSipi = 3;
    private const int MiscActivityShift = 5; // IA32_VMX_MISC bits 6, 7, 8: activity states 1, 2, 3
    private const uint BlockingBySti = 1u << 0;
    private const uint BlockingByMovSs = 1u << 1;
    private const uint BlockingBySmi = 1u << 2;
    private const uint BlockingByNmi = 1u << 3;
    private const uint InterruptibilityReserved = 0xFFFF_FFF0; // 31:5, and bit 4 (enclave) without SGX
    private const ulong PendingDebugBs = 1UL << 14;
    private const ulong PendingDebugReserved = ~0x500FUL; // all but B3:0, enabled breakpoint (12), BS (14); no RTM

    // Segment access rights (SDM Vol. 3C Table 25-2 "Format of Access Rights").
    private const uint ArS = Segment.AttrS;
    private const uint ArP = Segment.AttrP;
    private const uint ArReserved11To8 = 0xF00;
    private const uint ArReserved31To17 = 0xFFFE_0000;
    private const uint ArUnusable = Segment.AttrUnusable;
    private const uint ArV86 = 0xF3;
    private const ushort SelectorTi = 4;
    private const ushort SelectorRplTi = 7;

    private const ulong RflagsReserved = 0xFFFF_FFFF_FFC0_8028UL; // 63:22, 15, 5, 3 (bit 1 is checked separately)
    private const ulong EferValid = CpuState.EferSce | CpuState.EferLme | CpuState.EferLma | CpuState.EferNxe;
    private const ulong DebugctlValid = 3; // LBR and BTF: what WRMSR IA32_DEBUGCTL accepts on this CPU
    private const ulong DebugctlBtf = 2;
    private const int MsrEntrySize = 16;

    private readonly ReadOnlySpan<byte> _vmcs12;
    private readonly VmxCapabilities _caps;
    private readonly Vcpu _cpu;
    private string? _failed;
    private string? _subject;

    public VmEntryChecks(ReadOnlySpan<byte> vmcs12, VmxCapabilities capabilities, Vcpu cpu)
    {
        _vmcs12 = vmcs12;
        _caps = capabilities;
        _cpu = cpu;
    }

    // ---------------------------------------------------------------------------------------------------------
    // SDM Vol. 3C §27.2.1 "Checks on VMX Controls" (KVM's nested_vmx_check_controls): VMfailValid(7)

    public VmEntryCheckResult CheckControls()
    {
        _subject = null;
        VmEntryCheckResult r = CheckExecutionControls();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckExitControls();
        return r.Passed ? CheckEntryControls() : r;
    }

    /// <summary>SDM Vol. 3C §27.2.1.1 "VM-Execution Control Fields".</summary>
    private VmEntryCheckResult CheckExecutionControls()
    {
        bool trueControls = (_caps.Basic & VmxCapabilities.BasicTrueControls) != 0;
        ulong pinCaps = trueControls ? VmxCapabilities.TruePinbasedCtls : VmxCapabilities.PinbasedCtls;
        ulong procCaps = trueControls ? VmxCapabilities.TrueProcbasedCtls : VmxCapabilities.ProcbasedCtls;
        PinBasedControls pin = Pin;
        CpuBasedControls proc = Proc;
        bool secondary = (proc & CpuBasedControls.ActivateSecondaryControls) != 0;
        uint proc2 = (uint)Read(VmcsField.SecondaryVmExecControl);

        if (Cc(!ControlValid((uint)pin, pinCaps))) return ControlFailure;
        if (Cc(!ControlValid((uint)proc, procCaps))) return ControlFailure;
        if (Cc(secondary && !ControlValid(proc2, VmxCapabilities.ProcbasedCtls2))) return ControlFailure;
        if (Cc(Read(VmcsField.Cr3TargetCount) > Cr3TargetCountMax)) return ControlFailure;
        if (Cc((proc & CpuBasedControls.UseIoBitmaps) != 0 && !PageAddressValid(Read(VmcsField.IoBitmapA)))) return ControlFailure;
        if (Cc((proc & CpuBasedControls.UseIoBitmaps) != 0 && !PageAddressValid(Read(VmcsField.IoBitmapB)))) return ControlFailure;
        if (Cc((proc & CpuBasedControls.UseMsrBitmaps) != 0 && !PageAddressValid(Read(VmcsField.MsrBitmap)))) return ControlFailure;
        if (Cc((pin & PinBasedControls.NmiExiting) == 0 && (pin & PinBasedControls.VirtualNmis) != 0)) return ControlFailure;
        if (Cc((pin & PinBasedControls.VirtualNmis) == 0 && (proc & CpuBasedControls.NmiWindowExiting) != 0)) return ControlFailure;
        return Passed;
    }

    /// <summary>
    /// SDM Vol. 3C §27.2.1.2 "VM-Exit Control Fields". The list count limit (512 · (IA32_VMX_MISC[27:25] + 1),
    /// SDM Vol. 3D §A.6 "Miscellaneous Data") is "undefined behaviour" on hardware; here it fails the controls.
    /// </summary>
    private VmEntryCheckResult CheckExitControls()
    {
        bool trueControls = (_caps.Basic & VmxCapabilities.BasicTrueControls) != 0;
        ulong exitCaps = trueControls ? VmxCapabilities.TrueExitCtls : VmxCapabilities.ExitCtls;
        VmExitControls exit = Exit;
        ulong storeCount = Read(VmcsField.VmExitMsrStoreCount);
        ulong storeAddr = Read(VmcsField.VmExitMsrStoreAddr);
        ulong exitLoadCount = Read(VmcsField.VmExitMsrLoadCount);
        ulong exitLoadAddr = Read(VmcsField.VmExitMsrLoadAddr);

        if (Cc(!ControlValid((uint)exit, exitCaps))) return ControlFailure;
        if (Cc((Pin & PinBasedControls.VmxPreemptionTimer) == 0 && (exit & VmExitControls.SaveVmxPreemptionTimer) != 0)) return ControlFailure;
        if (Cc(storeCount > MsrListCountMax)) return ControlFailure;
        if (Cc(storeCount != 0 && (storeAddr & 0xF) != 0)) return ControlFailure;
        if (Cc(storeCount != 0 && !PhysicalRangeValid(storeAddr, storeCount * MsrEntrySize))) return ControlFailure;
        if (Cc(exitLoadCount > MsrListCountMax)) return ControlFailure;
        if (Cc(exitLoadCount != 0 && (exitLoadAddr & 0xF) != 0)) return ControlFailure;
        if (Cc(exitLoadCount != 0 && !PhysicalRangeValid(exitLoadAddr, exitLoadCount * MsrEntrySize))) return ControlFailure;
        return Passed;
    }

    /// <summary>
    /// SDM Vol. 3C §27.2.1.3 "VM-Entry Control Fields": the controls, the event-injection fields and the VM-entry
    /// MSR-load list. IA32_VMX_BASIC[56] is 0 (an error code goes with exactly the exceptions that push one) and
    /// IA32_VMX_MISC[30] is 0 (software events need an instruction length of 1–15).
    /// </summary>
    private VmEntryCheckResult CheckEntryControls()
    {
        bool trueControls = (_caps.Basic & VmxCapabilities.BasicTrueControls) != 0;
        ulong entryCaps = trueControls ? VmxCapabilities.TrueEntryCtls : VmxCapabilities.EntryCtls;
        uint entry = (uint)Entry;
        uint intrInfo = (uint)Read(VmcsField.VmEntryIntrInfoField);
        bool valid = (intrInfo & IntrInfoValid) != 0;
        uint type = (intrInfo >> 8) & 7;
        uint vector = intrInfo & 0xFF;
        bool deliverErrorCode = (intrInfo & IntrInfoDeliverErrorCode) != 0;
        bool errorCodeExpected = type == TypeHardwareException && (Read(VmcsField.GuestCr0) & CpuState.Cr0Pe) != 0
            && PushesErrorCode(vector);
        ulong instructionLength = Read(VmcsField.VmEntryInstructionLen);
        ulong entryLoadCount = Read(VmcsField.VmEntryMsrLoadCount);
        ulong entryLoadAddr = Read(VmcsField.VmEntryMsrLoadAddr);

        if (Cc(!ControlValid(entry, entryCaps))) return ControlFailure;
        if (Cc(valid && type == TypeReserved)) return ControlFailure;
        if (Cc(valid && type == TypeOtherEvent && !MonitorTrapFlagSupported)) return ControlFailure;
        if (Cc(valid && type == TypeNmi && vector != 2)) return ControlFailure;
        if (Cc(valid && type == TypeHardwareException && vector > 31)) return ControlFailure;
        if (Cc(valid && type == TypeOtherEvent && vector != 0)) return ControlFailure;
        if (Cc(valid && deliverErrorCode != errorCodeExpected)) return ControlFailure;
        if (Cc(valid && (intrInfo & IntrInfoReserved) != 0)) return ControlFailure;
        if (Cc(valid && deliverErrorCode && (Read(VmcsField.VmEntryExceptionErrorCode) & 0xFFFF_0000) != 0)) return ControlFailure;
        if (Cc(valid && type is >= TypeSoftwareInterrupt and <= TypeSoftwareException && instructionLength > 15)) return ControlFailure;
        if (Cc(valid && type is >= TypeSoftwareInterrupt and <= TypeSoftwareException && instructionLength == 0 && !ZeroLengthInjectionAllowed)) return ControlFailure;
        if (Cc(entryLoadCount > MsrListCountMax)) return ControlFailure;
        if (Cc(entryLoadCount != 0 && (entryLoadAddr & 0xF) != 0)) return ControlFailure;
        if (Cc(entryLoadCount != 0 && !PhysicalRangeValid(entryLoadAddr, entryLoadCount * MsrEntrySize))) return ControlFailure;
        return Passed;
    }

    // ---------------------------------------------------------------------------------------------------------
    // SDM Vol. 3C §27.2.2–§27.2.4 (KVM's nested_vmx_check_host_state and nested_vmx_check_address_space_size):
    // VMfailValid(8)

    public VmEntryCheckResult CheckHostState()
    {
        _subject = null;
        VmEntryCheckResult r = CheckHostControlRegistersAndMsrs();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckHostSegmentAndDescriptorTableRegisters();
        return r.Passed ? CheckAddressSpaceSize() : r;
    }

    /// <summary>SDM Vol. 3C §27.2.2 "Checks on Host Control Registers, MSRs, and SSP".</summary>
    private VmEntryCheckResult CheckHostControlRegistersAndMsrs()
    {
        VmExitControls exit = Exit;
        bool hostAddressSpaceSize = (exit & VmExitControls.HostAddrSpaceSize) != 0;
        bool loadEfer = (exit & VmExitControls.LoadIa32Efer) != 0;
        ulong efer = Read(VmcsField.HostIa32Efer);

        if (Cc(!VmxCapabilities.IsCr0Valid(Read(VmcsField.HostCr0)))) return HostFailure;
        if (Cc(!_caps.IsCr4Valid(Read(VmcsField.HostCr4)))) return HostFailure;
        if (Cc((Read(VmcsField.HostCr3) >> Vcpu.MaxPhysAddrBits) != 0)) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostIa32SysenterEsp)))) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostIa32SysenterEip)))) return HostFailure;
        if (Cc((exit & VmExitControls.LoadIa32Pat) != 0 && !PatValid(Read(VmcsField.HostIa32Pat)))) return HostFailure;
        if (Cc(loadEfer && (efer & ~EferValid) != 0)) return HostFailure;
        if (Cc(loadEfer && ((efer & CpuState.EferLma) != 0) != hostAddressSpaceSize)) return HostFailure;
        if (Cc(loadEfer && ((efer & CpuState.EferLme) != 0) != hostAddressSpaceSize)) return HostFailure;
        return Passed;
    }

    /// <summary>SDM Vol. 3C §27.2.3 "Checks on Host Segment and Descriptor-Table Registers".</summary>
    private VmEntryCheckResult CheckHostSegmentAndDescriptorTableRegisters()
    {
        bool hostAddressSpaceSize = (Exit & VmExitControls.HostAddrSpaceSize) != 0;
        ulong cs = Read(VmcsField.HostCsSelector);
        ulong ss = Read(VmcsField.HostSsSelector);
        ulong tr = Read(VmcsField.HostTrSelector);

        if (Cc((Read(VmcsField.HostEsSelector) & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((cs & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((ss & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((Read(VmcsField.HostDsSelector) & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((Read(VmcsField.HostFsSelector) & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((Read(VmcsField.HostGsSelector) & SelectorRplTi) != 0)) return HostFailure;
        if (Cc((tr & SelectorRplTi) != 0)) return HostFailure;
        if (Cc(cs == 0)) return HostFailure;
        if (Cc(tr == 0)) return HostFailure;
        if (Cc(ss == 0 && !hostAddressSpaceSize)) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostFsBase)))) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostGsBase)))) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostGdtrBase)))) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostIdtrBase)))) return HostFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.HostTrBase)))) return HostFailure;
        return Passed;
    }

    /// <summary>SDM Vol. 3C §27.2.4 "Checks Related to Address-Space Size".</summary>
    private VmEntryCheckResult CheckAddressSpaceSize()
    {
        bool ia32eMode = _cpu.State.LongModeActive;
        bool hostAddressSpaceSize = (Exit & VmExitControls.HostAddrSpaceSize) != 0;
        bool ia32eModeGuest = (Entry & VmEntryControls.Ia32eMode) != 0;
        ulong cr4 = Read(VmcsField.HostCr4);
        ulong rip = Read(VmcsField.HostRip);

        if (Cc(!ia32eMode && ia32eModeGuest)) return HostFailure;
        if (Cc(!ia32eMode && hostAddressSpaceSize)) return HostFailure;
        if (Cc(ia32eMode && !hostAddressSpaceSize)) return HostFailure;
        if (Cc(!hostAddressSpaceSize && ia32eModeGuest)) return HostFailure;
        if (Cc(!hostAddressSpaceSize && (cr4 & CpuState.Cr4Pcide) != 0)) return HostFailure;
        if (Cc(!hostAddressSpaceSize && (rip >> 32) != 0)) return HostFailure;
        if (Cc(hostAddressSpaceSize && (cr4 & CpuState.Cr4Pae) == 0)) return HostFailure;
        if (Cc(hostAddressSpaceSize && !Vcpu.IsCanonical(rip))) return HostFailure;
        return Passed;
    }

    // ---------------------------------------------------------------------------------------------------------
    // SDM Vol. 3C §27.3.1 "Checks on the Guest State Area" (KVM's nested_vmx_check_guest_state plus what KVM
    // leaves to hardware): VM-entry failure, exit reason 33 | bit 31

    public VmEntryCheckResult CheckGuestState()
    {
        _subject = null;
        VmEntryCheckResult r = CheckGuestControlRegistersDebugRegistersAndMsrs();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckGuestSegmentRegisters();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckGuestDescriptorTableRegisters();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckGuestRipAndRflags();
        if (!r.Passed)
        {
            return r;
        }

        r = CheckGuestNonRegisterState();
        return r.Passed ? CheckGuestPdptes() : r;
    }

    /// <summary>
    /// SDM Vol. 3C §27.3.1.1 "Checks on Guest Control Registers, Debug Registers, and MSRs". No unrestricted
    /// guest: CR0.PE and CR0.PG are fixed to 1 like on VMXON.
    /// </summary>
    private VmEntryCheckResult CheckGuestControlRegistersDebugRegistersAndMsrs()
    {
        VmEntryControls entry = Entry;
        bool ia32eModeGuest = (entry & VmEntryControls.Ia32eMode) != 0;
        bool loadDebugControls = (entry & VmEntryControls.LoadDebugControls) != 0;
        bool loadEfer = (entry & VmEntryControls.LoadIa32Efer) != 0;
        ulong cr0 = Read(VmcsField.GuestCr0);
        ulong cr4 = Read(VmcsField.GuestCr4);
        ulong efer = Read(VmcsField.GuestIa32Efer);

        if (Cc(!VmxCapabilities.IsCr0Valid(cr0))) return GuestFailure;
        if (Cc((cr0 & CpuState.Cr0Pg) != 0 && (cr0 & CpuState.Cr0Pe) == 0)) return GuestFailure;
        if (Cc(!_caps.IsCr4Valid(cr4))) return GuestFailure;
        if (Cc(loadDebugControls && (Read(VmcsField.GuestIa32Debugctl) & ~DebugctlValid) != 0)) return GuestFailure;
        if (Cc(ia32eModeGuest && (cr0 & CpuState.Cr0Pg) == 0)) return GuestFailure;
        if (Cc(ia32eModeGuest && (cr4 & CpuState.Cr4Pae) == 0)) return GuestFailure;
        if (Cc(!ia32eModeGuest && (cr4 & CpuState.Cr4Pcide) != 0)) return GuestFailure;
        if (Cc((Read(VmcsField.GuestCr3) >> Vcpu.MaxPhysAddrBits) != 0)) return GuestFailure;
        if (Cc(loadDebugControls && (Read(VmcsField.GuestDr7) >> 32) != 0)) return GuestFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestSysenterEsp)))) return GuestFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestSysenterEip)))) return GuestFailure;
        if (Cc((entry & VmEntryControls.LoadIa32Pat) != 0 && !PatValid(Read(VmcsField.GuestIa32Pat)))) return GuestFailure;
        if (Cc(loadEfer && (efer & ~EferValid) != 0)) return GuestFailure;
        if (Cc(loadEfer && ((efer & CpuState.EferLma) != 0) != ia32eModeGuest)) return GuestFailure;
        if (Cc(loadEfer && (cr0 & CpuState.Cr0Pg) != 0 && ((efer & CpuState.EferLme) != 0) != ia32eModeGuest)) return GuestFailure;
        return Passed;
    }

    /// <summary>
    /// SDM Vol. 3C §27.3.1.2 "Checks on Guest Segment Registers": selectors, bases, limits and access rights, for
    /// virtual-8086 guests and for protected-mode (and IA-32e) guests; no unrestricted guest.
    /// </summary>
    private VmEntryCheckResult CheckGuestSegmentRegisters()
    {
        bool v86 = (Read(VmcsField.GuestRflags) & CpuState.FlagVm) != 0;
        bool ia32eModeGuest = (Entry & VmEntryControls.Ia32eMode) != 0;
        GuestSegment cs = ReadSegment(SegReg.Cs);
        GuestSegment ss = ReadSegment(SegReg.Ss);
        GuestSegment tr = ReadSegment(SegReg.Tr);
        GuestSegment ldtr = ReadSegment(SegReg.Ldtr);
        GuestSegment ds = ReadSegment(SegReg.Ds);
        GuestSegment es = ReadSegment(SegReg.Es);

        // Selector fields.
        if (Cc((tr.Selector & SelectorTi) != 0)) return GuestFailure;
        if (Cc(ldtr.Usable && (ldtr.Selector & SelectorTi) != 0)) return GuestFailure;
        if (Cc(!v86 && ss.Rpl != cs.Rpl)) return GuestFailure;

        // Base-address fields that do not depend on the mode (64-bit processors).
        if (Cc(!Vcpu.IsCanonical(tr.Base))) return GuestFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestFsBase)))) return GuestFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestGsBase)))) return GuestFailure;
        if (Cc(ldtr.Usable && !Vcpu.IsCanonical(ldtr.Base))) return GuestFailure;
        if (Cc((cs.Base >> 32) != 0)) return GuestFailure;
        if (Cc(ss.Usable && (ss.Base >> 32) != 0)) return GuestFailure;
        if (Cc(ds.Usable && (ds.Base >> 32) != 0)) return GuestFailure;
        if (Cc(es.Usable && (es.Base >> 32) != 0)) return GuestFailure;

        VmEntryCheckResult r = v86 ? CheckGuestV86Segments() : CheckGuestCodeAndStackSegments(cs, ss, ia32eModeGuest);
        if (!r.Passed)
        {
            return r;
        }

        if (!v86)
        {
            for (SegReg data = SegReg.Es; data <= SegReg.Gs; data++)
            {
                if (data is SegReg.Cs or SegReg.Ss)
                {
                    continue;
                }

                r = CheckGuestDataSegment(ReadSegment(data), data);
                if (!r.Passed)
                {
                    return r;
                }
            }
        }

        r = CheckGuestTr(tr, ia32eModeGuest);
        return r.Passed ? CheckGuestLdtr(ldtr) : r;
    }

    /// <summary>Virtual-8086 guest: CS, SS, DS, ES, FS, GS are real-mode style segments.</summary>
    private VmEntryCheckResult CheckGuestV86Segments()
    {
        for (SegReg i = SegReg.Es; i <= SegReg.Gs; i++)
        {
            GuestSegment seg = ReadSegment(i);
            _subject = SubjectName(i);
            if (Cc(seg.Base != (ulong)seg.Selector << 4)) return GuestFailure;
            if (Cc(seg.Limit != 0xFFFF)) return GuestFailure;
            if (Cc(seg.Ar != ArV86)) return GuestFailure;
        }

        _subject = null;
        return Passed;
    }

    /// <summary>Access rights of CS and SS outside virtual-8086 mode.</summary>
    private VmEntryCheckResult CheckGuestCodeAndStackSegments(GuestSegment cs, GuestSegment ss, bool ia32eModeGuest)
    {
        _subject = "CS";
        if (Cc(cs.Type is not (9 or 11 or 13 or 15))) return GuestFailure;
        if (Cc((cs.Ar & ArS) == 0)) return GuestFailure;
        if (Cc(cs.Type is 9 or 11 && cs.Dpl != ss.Dpl)) return GuestFailure;
        if (Cc(cs.Type is 13 or 15 && cs.Dpl > ss.Dpl)) return GuestFailure;
        if (Cc((cs.Ar & ArP) == 0)) return GuestFailure;
        if (Cc((cs.Ar & ArReserved11To8) != 0)) return GuestFailure;
        if (Cc(ia32eModeGuest && (cs.Ar & Segment.AttrL) != 0 && (cs.Ar & Segment.AttrDb) != 0)) return GuestFailure;
        if (Cc(!cs.GranularityValid)) return GuestFailure;
        if (Cc((cs.Ar & ArReserved31To17) != 0)) return GuestFailure;

        _subject = "SS";
        if (Cc(ss.Usable && ss.Type is not (3 or 7))) return GuestFailure;
        if (Cc(ss.Usable && (ss.Ar & ArS) == 0)) return GuestFailure;
        if (Cc(ss.Dpl != ss.Rpl)) return GuestFailure;
        if (Cc(ss.Usable && (ss.Ar & ArP) == 0)) return GuestFailure;
        if (Cc(ss.Usable && (ss.Ar & ArReserved11To8) != 0)) return GuestFailure;
        if (Cc(ss.Usable && !ss.GranularityValid)) return GuestFailure;
        if (Cc(ss.Usable && (ss.Ar & ArReserved31To17) != 0)) return GuestFailure;

        _subject = null;
        return Passed;
    }

    /// <summary>Access rights of DS, ES, FS, GS outside virtual-8086 mode; only usable registers are checked.</summary>
    private VmEntryCheckResult CheckGuestDataSegment(GuestSegment seg, SegReg reg)
    {
        _subject = SubjectName(reg);
        if (Cc(seg.Usable && (seg.Ar & 1) == 0)) return GuestFailure;
        if (Cc(seg.Usable && (seg.Ar & 0xA) == 0x8)) return GuestFailure;
        if (Cc(seg.Usable && (seg.Ar & ArS) == 0)) return GuestFailure;
        if (Cc(seg.Usable && seg.Type <= 11 && seg.Dpl < seg.Rpl)) return GuestFailure;
        if (Cc(seg.Usable && (seg.Ar & ArP) == 0)) return GuestFailure;
        if (Cc(seg.Usable && (seg.Ar & ArReserved11To8) != 0)) return GuestFailure;
        if (Cc(seg.Usable && !seg.GranularityValid)) return GuestFailure;
        if (Cc(seg.Usable && (seg.Ar & ArReserved31To17) != 0)) return GuestFailure;
        _subject = null;
        return Passed;
    }

    /// <summary>TR: a busy TSS (16- or 32-bit outside IA-32e mode, 64-bit inside), always usable.</summary>
    private VmEntryCheckResult CheckGuestTr(GuestSegment tr, bool ia32eModeGuest)
    {
        _subject = "TR";
        if (Cc(!ia32eModeGuest && tr.Type is not (3 or 11))) return GuestFailure;
        if (Cc(ia32eModeGuest && tr.Type != 11)) return GuestFailure;
        if (Cc((tr.Ar & ArS) != 0)) return GuestFailure;
        if (Cc((tr.Ar & ArP) == 0)) return GuestFailure;
        if (Cc((tr.Ar & ArReserved11To8) != 0)) return GuestFailure;
        if (Cc(!tr.GranularityValid)) return GuestFailure;
        if (Cc((tr.Ar & ArUnusable) != 0)) return GuestFailure;
        if (Cc((tr.Ar & ArReserved31To17) != 0)) return GuestFailure;
        _subject = null;
        return Passed;
    }

    /// <summary>LDTR, if usable: an LDT descriptor.</summary>
    private VmEntryCheckResult CheckGuestLdtr(GuestSegment ldtr)
    {
        _subject = "LDTR";
        if (Cc(ldtr.Usable && ldtr.Type != 2)) return GuestFailure;
        if (Cc(ldtr.Usable && (ldtr.Ar & ArS) != 0)) return GuestFailure;
        if (Cc(ldtr.Usable && (ldtr.Ar & ArP) == 0)) return GuestFailure;
        if (Cc(ldtr.Usable && (ldtr.Ar & ArReserved11To8) != 0)) return GuestFailure;
        if (Cc(ldtr.Usable && !ldtr.GranularityValid)) return GuestFailure;
        if (Cc(ldtr.Usable && (ldtr.Ar & ArReserved31To17) != 0)) return GuestFailure;
        _subject = null;
        return Passed;
    }

    /// <summary>SDM Vol. 3C §27.3.1.3 "Checks on Guest Descriptor-Table Registers".</summary>
    private VmEntryCheckResult CheckGuestDescriptorTableRegisters()
    {
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestGdtrBase)))) return GuestFailure;
        if (Cc(!Vcpu.IsCanonical(Read(VmcsField.GuestIdtrBase)))) return GuestFailure;
        if (Cc((Read(VmcsField.GuestGdtrLimit) >> 16) != 0)) return GuestFailure;
        if (Cc((Read(VmcsField.GuestIdtrLimit) >> 16) != 0)) return GuestFailure;
        return Passed;
    }

    /// <summary>SDM Vol. 3C §27.3.1.4 "Checks on Guest RIP, RFLAGS, and SSP" (no CET: no SSP).</summary>
    private VmEntryCheckResult CheckGuestRipAndRflags()
    {
        bool ia32eModeGuest = (Entry & VmEntryControls.Ia32eMode) != 0;
        bool csL = (Read(VmcsField.GuestCsArBytes) & Segment.AttrL) != 0;
        ulong rip = Read(VmcsField.GuestRip);
        ulong rflags = Read(VmcsField.GuestRflags);
        uint intrInfo = (uint)Read(VmcsField.VmEntryIntrInfoField);
        bool injectingExternalInterrupt = (intrInfo & IntrInfoValid) != 0 && ((intrInfo >> 8) & 7) == TypeExternalInterrupt;

        if (Cc((!ia32eModeGuest || !csL) && (rip >> 32) != 0)) return GuestFailure;
        if (Cc(ia32eModeGuest && csL && !Vcpu.IsCanonical(rip))) return GuestFailure;
        if (Cc((rflags & RflagsReserved) != 0)) return GuestFailure;
        if (Cc((rflags & 2) == 0)) return GuestFailure;
        if (Cc((ia32eModeGuest || (Read(VmcsField.GuestCr0) & CpuState.Cr0Pe) == 0) && (rflags & CpuState.FlagVm) != 0)) return GuestFailure;
        if (Cc(injectingExternalInterrupt && (rflags & CpuState.FlagIf) == 0)) return GuestFailure;
        return Passed;
    }

    /// <summary>
    /// SDM Vol. 3C §27.3.1.5 "Checks on Guest Non-Register State": activity state, interruptibility state,
    /// pending debug exceptions, VMCS link pointer (qualification 4). Never in SMM; no SGX, no RTM, no VMCS shadowing.
    /// </summary>
    private VmEntryCheckResult CheckGuestNonRegisterState()
    {
        uint activity = (uint)Read(VmcsField.GuestActivityState);
        uint interruptibility = (uint)Read(VmcsField.GuestInterruptibilityInfo);
        uint intrInfo = (uint)Read(VmcsField.VmEntryIntrInfoField);
        bool valid = (intrInfo & IntrInfoValid) != 0;
        uint type = (intrInfo >> 8) & 7;
        uint vector = intrInfo & 0xFF;
        ulong rflags = Read(VmcsField.GuestRflags);
        ulong pendingDebug = Read(VmcsField.GuestPendingDbgExceptions);
        bool blockingOrHlt = (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0 || activity == ActivityHlt;
        bool singleStepPending = (rflags & CpuState.FlagTf) != 0 && (Read(VmcsField.GuestIa32Debugctl) & DebugctlBtf) == 0;
        ulong link = Read(VmcsField.VmcsLinkPointer);
        bool linkUsed = link != VcpuVmx.InvalidGpa;

        if (Cc(activity > ActivityWaitForSipi)) return GuestFailure;
        if (Cc(activity != ActivityActive && (_caps.Misc & (1UL << (int)(activity + MiscActivityShift))) == 0)) return GuestFailure;
        if (Cc(activity == ActivityHlt && ReadSegment(SegReg.Ss).Dpl != 0)) return GuestFailure;
        if (Cc(activity != ActivityActive && (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0)) return GuestFailure;
        if (Cc(valid && activity == ActivityHlt && !InjectableInHlt(type, vector))) return GuestFailure;
        if (Cc((interruptibility & InterruptibilityReserved) != 0)) return GuestFailure;
        if (Cc((interruptibility & (BlockingBySti | BlockingByMovSs)) == (BlockingBySti | BlockingByMovSs))) return GuestFailure;
        if (Cc((rflags & CpuState.FlagIf) == 0 && (interruptibility & BlockingBySti) != 0)) return GuestFailure;
        if (Cc(valid && type == TypeExternalInterrupt && (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0)) return GuestFailure;
        if (Cc(valid && type == TypeNmi && (interruptibility & BlockingByMovSs) != 0)) return GuestFailure;
        if (Cc((interruptibility & BlockingBySmi) != 0)) return GuestFailure;
        if (Cc(valid && type == TypeNmi && (Pin & PinBasedControls.VirtualNmis) != 0 && (interruptibility & BlockingByNmi) != 0)) return GuestFailure;
        if (Cc((pendingDebug & PendingDebugReserved) != 0)) return GuestFailure;
        if (Cc(blockingOrHlt && singleStepPending && (pendingDebug & PendingDebugBs) == 0)) return GuestFailure;
        if (Cc(blockingOrHlt && !singleStepPending && (pendingDebug & PendingDebugBs) != 0)) return GuestFailure;
        if (Cc(linkUsed && (link & 0xFFF) != 0)) return LinkPointerFailure;
        if (Cc(linkUsed && (link >> Vcpu.MaxPhysAddrBits) != 0)) return LinkPointerFailure;
        if (Cc(linkUsed && (uint)_cpu.Memory.Read(link, sizeof(uint)) != Vmcs12Layout.Revision)) return LinkPointerFailure;
        return Passed;
    }

    /// <summary>
    /// SDM Vol. 3C §27.3.1.6 "Checks on Guest Page-Directory-Pointer-Table Entries": PAE paging without EPT
    /// loads the four PDPTEs from guest CR3 at entry; a present one with a reserved bit fails with qualification 2.
    /// </summary>
    private VmEntryCheckResult CheckGuestPdptes()
    {
        ulong cr0 = Read(VmcsField.GuestCr0);
        ulong cr4 = Read(VmcsField.GuestCr4);
        bool paePaging = (cr0 & CpuState.Cr0Pg) != 0 && (cr4 & CpuState.Cr4Pae) != 0 && (Entry & VmEntryControls.Ia32eMode) == 0;

        if (Cc(paePaging && !PdptesValid(Read(VmcsField.GuestCr3)))) return PdpteFailure;
        return Passed;
    }

    // ---------------------------------------------------------------------------------------------------------

    private readonly PinBasedControls Pin => (PinBasedControls)(uint)Read(VmcsField.PinBasedVmExecControl);

    private readonly CpuBasedControls Proc => (CpuBasedControls)(uint)Read(VmcsField.CpuBasedVmExecControl);

    private readonly VmExitControls Exit => (VmExitControls)(uint)Read(VmcsField.VmExitControls);

    private readonly VmEntryControls Entry => (VmEntryControls)(uint)Read(VmcsField.VmEntryControls);

    /// <summary>IA32_VMX_MISC bits 24:16.</summary>
    private readonly ulong Cr3TargetCountMax => (_caps.Misc >> 16) & 0x1FF;

    /// <summary>512 · (IA32_VMX_MISC[27:25] + 1), SDM Vol. 3D §A.6 "Miscellaneous Data".</summary>
    private readonly ulong MsrListCountMax => 512 * (((_caps.Misc >> 25) & 7) + 1);

    /// <summary>IA32_VMX_MISC bit 30.</summary>
    private readonly bool ZeroLengthInjectionAllowed => (_caps.Misc & (1UL << 30)) != 0;

    /// <summary>Event type 7 (pending MTF VM exit) needs the monitor trap flag to be offered.</summary>
    private static bool MonitorTrapFlagSupported => ((VmxCapabilities.ProcbasedCtls >> 32) & (uint)CpuBasedControls.MonitorTrapFlag) != 0;

    private readonly VmEntryCheckResult Passed => default;

    private readonly VmEntryCheckResult ControlFailure => new(VmEntryFailure.Control, _failed, _subject, VmEntryFailureCode.Default);

    private readonly VmEntryCheckResult HostFailure => new(VmEntryFailure.HostState, _failed, _subject, VmEntryFailureCode.Default);

    private readonly VmEntryCheckResult GuestFailure => new(VmEntryFailure.GuestState, _failed, _subject, VmEntryFailureCode.Default);

    private readonly VmEntryCheckResult LinkPointerFailure => new(VmEntryFailure.GuestState, _failed, _subject, VmEntryFailureCode.VmcsLinkPointer);

    private readonly VmEntryCheckResult PdpteFailure => new(VmEntryFailure.GuestState, _failed, _subject, VmEntryFailureCode.Pdpte);

    /// <summary>
    /// KVM's <c>CC()</c>: true if the check fails, remembering which one. <paramref name="condition"/> is a literal
    /// the compiler inserts, so recording it allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Cc(bool failed, [CallerArgumentExpression(nameof(failed))] string condition = "")
    {
        if (failed)
        {
            _failed = condition;
        }

        return failed;
    }

    private readonly ulong Read(VmcsField field) => Vmcs12Layout.Read(_vmcs12, field);

    /// <summary>The guest-state fields of one segment register; ES…TR have consecutive encodings in SegReg order.</summary>
    private readonly GuestSegment ReadSegment(SegReg reg)
    {
        int i = (int)reg * 2;
        return new GuestSegment(
            (ushort)Read((VmcsField)((int)VmcsField.GuestEsSelector + i)),
            Read((VmcsField)((int)VmcsField.GuestEsBase + i)),
            (uint)Read((VmcsField)((int)VmcsField.GuestEsLimit + i)),
            (uint)Read((VmcsField)((int)VmcsField.GuestEsArBytes + i)));
    }

    private static string SubjectName(SegReg reg) => reg switch
    {
        SegReg.Es => "ES",
        SegReg.Cs => "CS",
        SegReg.Ss => "SS",
        SegReg.Ds => "DS",
        SegReg.Fs => "FS",
        SegReg.Gs => "GS",
        SegReg.Ldtr => "LDTR",
        _ => "TR",
    };

    /// <summary>KVM's <c>vmx_control_verify</c>: the allowed-0 bits (low dword) set, nothing outside allowed-1 (high dword).</summary>
    internal static bool ControlValid(uint control, ulong capability)
        => VmxCapabilities.FixedBitsValid(control, (uint)capability, (uint)(capability >> 32));

    /// <summary>4-KByte aligned and within MAXPHYADDR (KVM's <c>page_address_valid</c>).</summary>
    private static bool PageAddressValid(ulong gpa) => (gpa & 0xFFF) == 0 && (gpa >> Vcpu.MaxPhysAddrBits) == 0;

    /// <summary>First and last byte of [<paramref name="gpa"/>, +<paramref name="size"/>) within MAXPHYADDR.</summary>
    private static bool PhysicalRangeValid(ulong gpa, ulong size)
    {
        ulong last = gpa + size - 1;
        return last >= gpa && (gpa >> Vcpu.MaxPhysAddrBits) == 0 && (last >> Vcpu.MaxPhysAddrBits) == 0;
    }

    /// <summary>Every byte a PAT memory type: UC, WC, WT, WP, WB, UC- (SDM Vol. 3A §13.12.2 "IA32_PAT MSR").</summary>
    private static bool PatValid(ulong pat)
    {
        for (int i = 0; i < 64; i += 8)
        {
            if (((pat >> i) & 0xFF) is not (0 or 1 or 4 or 5 or 6 or 7))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>#DF, #TS, #NP, #SS, #GP, #PF, #AC: the exceptions that push an error code (IA32_VMX_BASIC[56] = 0, no CET).</summary>
    private static bool PushesErrorCode(uint vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    /// <summary>In the HLT state only an external interrupt, NMI, #DB, #MC or a pending MTF exit can be injected.</summary>
    private static bool InjectableInHlt(uint type, uint vector)
        => type is TypeExternalInterrupt or TypeNmi or TypeOtherEvent
            || (type == TypeHardwareException && vector is 1 or 18);

    /// <summary>A present PAE PDPTE sets none of bits 2:1, 8:5 and MAXPHYADDR–63 (SDM Vol. 3A Table 4-8).</summary>
    private readonly bool PdptesValid(ulong cr3)
    {
        ulong table = cr3 & 0xFFFF_FFE0;
        for (ulong i = 0; i < 4; i++)
        {
            ulong e = _cpu.Memory.Read(table + (i * 8), sizeof(ulong));
            if ((e & 1) != 0 && ((e & 0x1E6) != 0 || (e >> Vcpu.MaxPhysAddrBits) != 0))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>One guest segment register as vmcs12 holds it (access rights in the VMX layout).</summary>
    private readonly struct GuestSegment(ushort selector, ulong @base, uint limit, uint ar)
    {
        public ushort Selector { get; } = selector;

        public ulong Base { get; } = @base;

        public uint Limit { get; } = limit;

        public uint Ar { get; } = ar;

        public bool Usable => (Ar & ArUnusable) == 0;

        public int Type => (int)(Ar & 0xF);

        public int Dpl => (int)((Ar >> 5) & 3);

        public int Rpl => Selector & 3;

        /// <summary>Limit 11:0 not all ones ⇒ G = 0; limit 31:20 not all zeros ⇒ G = 1.</summary>
        public bool GranularityValid => ((Limit & 0xFFF) == 0xFFF || (Ar & Segment.AttrG) == 0)
            && ((Limit & 0xFFF0_0000) == 0 || (Ar & Segment.AttrG) != 0);
    }
}
