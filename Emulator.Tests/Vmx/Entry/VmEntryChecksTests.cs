using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx;
using Emulator.Vmx.Capabilities;
using Emulator.Vmx.Entry;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Emulator.Tests.Vmx.Entry.Vmcs12Builder;
using F = Emulator.Vmx.Vmcs.VmcsField;

namespace Emulator.Tests.Vmx.Entry;

/// <summary>
/// VM-entry checks (SDM Vol. 3C §27.2 "Checks on VMX Controls and Host-State Area", §27.3.1 "Checks on the Guest
/// State Area"): a valid vmcs12 passes all of them; breaking one field fails exactly the check that names it.
/// </summary>
[TestFixture]
internal sealed class VmEntryChecksTests
{
    private const VmEntryFailure Control = VmEntryFailure.Control;
    private const VmEntryFailure Host = VmEntryFailure.HostState;
    private const VmEntryFailure Guest = VmEntryFailure.GuestState;
    private const ulong NonCanonical = 0x0000_8000_0000_0000;
    private const ulong BeyondMaxPhys = 1UL << 40;
    private const uint ProcSecondary = ProcCtl | (uint)CpuBasedControls.ActivateSecondaryControls;
    private const uint ProcIoBitmaps = ProcCtl | (uint)CpuBasedControls.UseIoBitmaps;
    private const uint ProcMsrBitmaps = ProcCtl | (uint)CpuBasedControls.UseMsrBitmaps;
    private const uint PinNmi = PinCtl | (uint)PinBasedControls.NmiExiting;
    private const uint PinVnmi = PinNmi | (uint)PinBasedControls.VirtualNmis;
    private const uint ExitPat = ExitCtl | (uint)VmExitControls.LoadIa32Pat;
    private const uint ExitEfer = ExitCtl | (uint)VmExitControls.LoadIa32Efer;
    private const uint EntryDebug = EntryCtl | (uint)VmEntryControls.LoadDebugControls;
    private const uint EntryPat = EntryCtl | (uint)VmEntryControls.LoadIa32Pat;
    private const uint EntryEfer = EntryCtl | (uint)VmEntryControls.LoadIa32Efer;
    private const ulong Lme = CpuState.EferLme;
    private const ulong Lma = CpuState.EferLma;

    /// <summary>Runs the three groups in VMLAUNCH's order and returns the first failure.</summary>
    private static VmEntryCheckResult CheckAll(VmxTestBed bed)
    {
        var checks = new VmEntryChecks(bed.Vmx.CachedVmcs12, bed.Vmx.Capabilities, bed.H.Cpu);
        VmEntryCheckResult r = checks.CheckControls();
        if (!r.Passed)
        {
            return r;
        }

        r = checks.CheckHostState();
        return r.Passed ? checks.CheckGuestState() : r;
    }

    private static TestCaseData C(string name, VmEntryFailure failure, string condition, params (F Field, ulong Value)[] writes)
        => C(name, failure, condition, null, VmEntryFailureCode.Default, writes);

    private static TestCaseData C(string name, VmEntryFailure failure, string condition, string? subject, params (F Field, ulong Value)[] writes)
        => C(name, failure, condition, subject, VmEntryFailureCode.Default, writes);

    private static TestCaseData C(string name, VmEntryFailure failure, string condition, string? subject, VmEntryFailureCode code, params (F Field, ulong Value)[] writes)
        => new TestCaseData(writes, failure, condition, subject, code).SetName("Check_" + name + "_Fails" + failure);

    private static IEnumerable<TestCaseData> BrokenFields()
    {
        // §27.2.1.1 "VM-Execution Control Fields"
        yield return C("PinDefault1Clear", Control, "!ControlValid((uint)pin, pinCaps)", (F.PinBasedVmExecControl, 0));
        yield return C("PinPreemptionTimerNotOffered", Control, "!ControlValid((uint)pin, pinCaps)", (F.PinBasedVmExecControl, PinCtl | (uint)PinBasedControls.VmxPreemptionTimer));
        yield return C("ProcDefault1Clear", Control, "!ControlValid((uint)proc, procCaps)", (F.CpuBasedVmExecControl, 0));
        yield return C("ProcTprShadowNotOffered", Control, "!ControlValid((uint)proc, procCaps)", (F.CpuBasedVmExecControl, ProcCtl | (uint)CpuBasedControls.TprShadow));
        yield return C("SecondaryEptNotOffered", Control, "secondary && !ControlValid(proc2, VmxCapabilities.ProcbasedCtls2)", (F.CpuBasedVmExecControl, ProcSecondary), (F.SecondaryVmExecControl, (ulong)SecondaryControls.EnableEpt));
        yield return C("Cr3TargetCountFive", Control, "Read(VmcsField.Cr3TargetCount) > Cr3TargetCountMax", (F.Cr3TargetCount, 5));
        yield return C("IoBitmapAUnaligned", Control, "(proc & CpuBasedControls.UseIoBitmaps) != 0 && !PageAddressValid(Read(VmcsField.IoBitmapA))", (F.CpuBasedVmExecControl, ProcIoBitmaps), (F.IoBitmapA, 0x1800), (F.IoBitmapB, 0x2000));
        yield return C("IoBitmapBBeyondMaxPhys", Control, "(proc & CpuBasedControls.UseIoBitmaps) != 0 && !PageAddressValid(Read(VmcsField.IoBitmapB))", (F.CpuBasedVmExecControl, ProcIoBitmaps), (F.IoBitmapA, 0x1000), (F.IoBitmapB, BeyondMaxPhys));
        yield return C("MsrBitmapUnaligned", Control, "(proc & CpuBasedControls.UseMsrBitmaps) != 0 && !PageAddressValid(Read(VmcsField.MsrBitmap))", (F.CpuBasedVmExecControl, ProcMsrBitmaps), (F.MsrBitmap, 0x3004));
        yield return C("VirtualNmisWithoutNmiExiting", Control, "(pin & PinBasedControls.NmiExiting) == 0 && (pin & PinBasedControls.VirtualNmis) != 0", (F.PinBasedVmExecControl, PinCtl | (uint)PinBasedControls.VirtualNmis));
        yield return C("NmiWindowWithoutVirtualNmis", Control, "(pin & PinBasedControls.VirtualNmis) == 0 && (proc & CpuBasedControls.NmiWindowExiting) != 0", (F.PinBasedVmExecControl, PinNmi), (F.CpuBasedVmExecControl, ProcCtl | (uint)CpuBasedControls.NmiWindowExiting));

        // §27.2.1.2 "VM-ExitCtl Control Fields"
        yield return C("ExitDefault1Clear", Control, "!ControlValid((uint)exit, exitCaps)", (F.VmExitControls, 0));
        yield return C("ExitMsrStoreCount513", Control, "storeCount > MsrListCountMax", (F.VmExitMsrStoreCount, 513));
        yield return C("ExitMsrStoreAddrUnaligned", Control, "storeCount != 0 && (storeAddr & 0xF) != 0", (F.VmExitMsrStoreCount, 1), (F.VmExitMsrStoreAddr, 0x1008));
        yield return C("ExitMsrStoreListPastMaxPhys", Control, "storeCount != 0 && !PhysicalRangeValid(storeAddr, storeCount * MsrEntrySize)", (F.VmExitMsrStoreCount, 2), (F.VmExitMsrStoreAddr, BeyondMaxPhys - 16));
        yield return C("ExitMsrLoadAddrUnaligned", Control, "exitLoadCount != 0 && (exitLoadAddr & 0xF) != 0", (F.VmExitMsrLoadCount, 1), (F.VmExitMsrLoadAddr, 0x1004));

        // §27.2.1.3 "VM-EntryCtl Control Fields"
        yield return C("EntryDefault1Clear", Control, "!ControlValid(entry, entryCaps)", (F.VmEntryControls, 0));
        yield return C("EntrySmmNotOffered", Control, "!ControlValid(entry, entryCaps)", (F.VmEntryControls, EntryCtl | (uint)VmEntryControls.EntryToSmm));
        yield return C("InjectReservedType", Control, "valid && type == TypeReserved", (F.VmEntryIntrInfoField, 0x8000_0120));
        yield return C("InjectNmiVector3", Control, "valid && type == TypeNmi && vector != 2", (F.VmEntryIntrInfoField, 0x8000_0203));
        yield return C("InjectExceptionVector32", Control, "valid && type == TypeHardwareException && vector > 31", (F.VmEntryIntrInfoField, 0x8000_0320));
        yield return C("InjectOtherEventVector1", Control, "valid && type == TypeOtherEvent && vector != 0", (F.VmEntryIntrInfoField, 0x8000_0701));
        yield return C("InjectGpWithoutErrorCode", Control, "valid && deliverErrorCode != errorCodeExpected", (F.VmEntryIntrInfoField, 0x8000_030D));
        yield return C("InjectUdWithErrorCode", Control, "valid && deliverErrorCode != errorCodeExpected", (F.VmEntryIntrInfoField, 0x8000_0B06));
        yield return C("InjectReservedBit12", Control, "valid && (intrInfo & IntrInfoReserved) != 0", (F.VmEntryIntrInfoField, 0x8000_1020), (F.GuestRflags, 0x202));
        yield return C("InjectErrorCodeBit16", Control, "valid && deliverErrorCode && (Read(VmcsField.VmEntryExceptionErrorCode) & 0xFFFF_0000) != 0", (F.VmEntryIntrInfoField, 0x8000_0B0D), (F.VmEntryExceptionErrorCode, 0x1_0000));
        yield return C("InjectSoftwareInterruptLength16", Control, "valid && type is >= TypeSoftwareInterrupt and <= TypeSoftwareException && instructionLength > 15", (F.VmEntryIntrInfoField, 0x8000_0480), (F.VmEntryInstructionLen, 16));
        yield return C("InjectSoftwareExceptionLength0", Control, "valid && type is >= TypeSoftwareInterrupt and <= TypeSoftwareException && instructionLength == 0 && !ZeroLengthInjectionAllowed", (F.VmEntryIntrInfoField, 0x8000_0603));
        yield return C("EntryMsrLoadCount513", Control, "entryLoadCount > MsrListCountMax", (F.VmEntryMsrLoadCount, 513));
        yield return C("EntryMsrLoadAddrUnaligned", Control, "entryLoadCount != 0 && (entryLoadAddr & 0xF) != 0", (F.VmEntryMsrLoadCount, 1), (F.VmEntryMsrLoadAddr, 0x2001));

        // §27.2.2 "Checks on Host Control Registers, MSRs, and SSP"
        yield return C("HostCr0WithoutNe", Host, "!VmxCapabilities.IsCr0Valid(Read(VmcsField.HostCr0))", (F.HostCr0, Cr0 & ~CpuState.Cr0Ne));
        yield return C("HostCr4WithoutVmxe", Host, "!_caps.IsCr4Valid(Read(VmcsField.HostCr4))", (F.HostCr4, Cr4 & ~CpuState.Cr4Vmxe));
        yield return C("HostCr3BeyondMaxPhys", Host, "(Read(VmcsField.HostCr3) >> Vcpu.MaxPhysAddrBits) != 0", (F.HostCr3, BeyondMaxPhys));
        yield return C("HostSysenterEspNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostIa32SysenterEsp))", (F.HostIa32SysenterEsp, NonCanonical));
        yield return C("HostSysenterEipNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostIa32SysenterEip))", (F.HostIa32SysenterEip, NonCanonical));
        yield return C("HostPatType2", Host, "(exit & VmExitControls.LoadIa32Pat) != 0 && !PatValid(Read(VmcsField.HostIa32Pat))", (F.VmExitControls, ExitPat), (F.HostIa32Pat, 0x0007_0406_0002_0106));
        yield return C("HostEferReservedBit", Host, "loadEfer && (efer & ~EferValid) != 0", (F.VmExitControls, ExitEfer), (F.HostIa32Efer, Lme | Lma | 2));
        yield return C("HostEferLmaClear", Host, "loadEfer && ((efer & CpuState.EferLma) != 0) != hostAddressSpaceSize", (F.VmExitControls, ExitEfer), (F.HostIa32Efer, Lme));
        yield return C("HostEferLmeClear", Host, "loadEfer && ((efer & CpuState.EferLme) != 0) != hostAddressSpaceSize", (F.VmExitControls, ExitEfer), (F.HostIa32Efer, Lma));

        // §27.2.3 "Checks on Host Segment and Descriptor-Table Registers"
        yield return C("HostEsRpl3", Host, "(Read(VmcsField.HostEsSelector) & SelectorRplTi) != 0", (F.HostEsSelector, 0x13));
        yield return C("HostCsTi", Host, "(cs & SelectorRplTi) != 0", (F.HostCsSelector, 0x0C));
        yield return C("HostSsRpl1", Host, "(ss & SelectorRplTi) != 0", (F.HostSsSelector, 0x11));
        yield return C("HostDsTi", Host, "(Read(VmcsField.HostDsSelector) & SelectorRplTi) != 0", (F.HostDsSelector, 0x14));
        yield return C("HostFsRpl2", Host, "(Read(VmcsField.HostFsSelector) & SelectorRplTi) != 0", (F.HostFsSelector, 0x12));
        yield return C("HostGsTi", Host, "(Read(VmcsField.HostGsSelector) & SelectorRplTi) != 0", (F.HostGsSelector, 0x14));
        yield return C("HostTrRpl1", Host, "(tr & SelectorRplTi) != 0", (F.HostTrSelector, 0x19));
        yield return C("HostCsNull", Host, "cs == 0", (F.HostCsSelector, 0));
        yield return C("HostTrNull", Host, "tr == 0", (F.HostTrSelector, 0));
        yield return C("HostFsBaseNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostFsBase))", (F.HostFsBase, NonCanonical));
        yield return C("HostGsBaseNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostGsBase))", (F.HostGsBase, NonCanonical));
        yield return C("HostGdtrBaseNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostGdtrBase))", (F.HostGdtrBase, NonCanonical));
        yield return C("HostIdtrBaseNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostIdtrBase))", (F.HostIdtrBase, NonCanonical));
        yield return C("HostTrBaseNonCanonical", Host, "!Vcpu.IsCanonical(Read(VmcsField.HostTrBase))", (F.HostTrBase, NonCanonical));

        // §27.2.4 "Checks Related to Address-Space Size" (L1 runs in IA-32e mode)
        yield return C("HostAddressSpaceSizeClearInIa32eMode", Host, "ia32eMode && !hostAddressSpaceSize", (F.VmExitControls, ExitCtl & ~(uint)VmExitControls.HostAddrSpaceSize));
        yield return C("HostCr4WithoutPae", Host, "hostAddressSpaceSize && (cr4 & CpuState.Cr4Pae) == 0", (F.HostCr4, Cr4 & ~CpuState.Cr4Pae));
        yield return C("HostRipNonCanonical", Host, "hostAddressSpaceSize && !Vcpu.IsCanonical(rip)", (F.HostRip, NonCanonical));

        // §27.3.1.1 "Checks on Guest Control Registers, Debug Registers, and MSRs"
        yield return C("GuestCr0WithoutPg", Guest, "!VmxCapabilities.IsCr0Valid(cr0)", (F.GuestCr0, Cr0 & ~CpuState.Cr0Pg));
        yield return C("GuestCr4WithoutVmxe", Guest, "!_caps.IsCr4Valid(cr4)", (F.GuestCr4, Cr4 & ~CpuState.Cr4Vmxe));
        yield return C("GuestDebugctlReserved", Guest, "loadDebugControls && (Read(VmcsField.GuestIa32Debugctl) & ~DebugctlValid) != 0", (F.VmEntryControls, EntryDebug), (F.GuestIa32Debugctl, 4));
        yield return C("GuestIa32eWithoutPae", Guest, "ia32eModeGuest && (cr4 & CpuState.Cr4Pae) == 0", (F.GuestCr4, Cr4 & ~CpuState.Cr4Pae));
        yield return C("GuestCr3BeyondMaxPhys", Guest, "(Read(VmcsField.GuestCr3) >> Vcpu.MaxPhysAddrBits) != 0", (F.GuestCr3, BeyondMaxPhys));
        yield return C("GuestDr7High", Guest, "loadDebugControls && (Read(VmcsField.GuestDr7) >> 32) != 0", (F.VmEntryControls, EntryDebug), (F.GuestDr7, 1UL << 32));
        yield return C("GuestSysenterEspNonCanonical", Guest, "!Vcpu.IsCanonical(Read(VmcsField.GuestSysenterEsp))", (F.GuestSysenterEsp, NonCanonical));
        yield return C("GuestPatType3", Guest, "(entry & VmEntryControls.LoadIa32Pat) != 0 && !PatValid(Read(VmcsField.GuestIa32Pat))", (F.VmEntryControls, EntryPat), (F.GuestIa32Pat, 3));
        yield return C("GuestEferLmaClear", Guest, "loadEfer && ((efer & CpuState.EferLma) != 0) != ia32eModeGuest", (F.VmEntryControls, EntryEfer), (F.GuestIa32Efer, Lme));
        yield return C("GuestEferLmeClear", Guest, "loadEfer && (cr0 & CpuState.Cr0Pg) != 0 && ((efer & CpuState.EferLme) != 0) != ia32eModeGuest", (F.VmEntryControls, EntryEfer), (F.GuestIa32Efer, Lma));

        // §27.3.1.2 "Checks on Guest Segment Registers"
        yield return C("GuestTrTi", Guest, "(tr.Selector & SelectorTi) != 0", (F.GuestTrSelector, 0x1C));
        yield return C("GuestSsRplNotCsRpl", Guest, "!v86 && ss.Rpl != cs.Rpl", (F.GuestSsSelector, 0x13));
        yield return C("GuestTrBaseNonCanonical", Guest, "!Vcpu.IsCanonical(tr.Base)", (F.GuestTrBase, NonCanonical));
        yield return C("GuestCsBaseHigh", Guest, "(cs.Base >> 32) != 0", (F.GuestCsBase, 1UL << 32));
        yield return C("GuestDsBaseHigh", Guest, "ds.Usable && (ds.Base >> 32) != 0", (F.GuestDsBase, 1UL << 32));
        yield return C("GuestCsDataType", Guest, "cs.Type is not (9 or 11 or 13 or 15)", "CS", (F.GuestCsArBytes, 0xA093));
        yield return C("GuestCsDplNotSsDpl", Guest, "cs.Type is 9 or 11 && cs.Dpl != ss.Dpl", "CS", (F.GuestCsArBytes, 0xA0FB));
        yield return C("GuestCsNotPresent", Guest, "(cs.Ar & ArP) == 0", "CS", (F.GuestCsArBytes, 0xA01B));
        yield return C("GuestCsLongAndDefaultBig", Guest, "ia32eModeGuest && (cs.Ar & Segment.AttrL) != 0 && (cs.Ar & Segment.AttrDb) != 0", "CS", (F.GuestCsArBytes, 0xE09B));
        yield return C("GuestCsLimitPagesWithoutG", Guest, "!cs.GranularityValid", "CS", (F.GuestCsArBytes, CodeAr64 & ~0x8000UL));
        yield return C("GuestSsCodeType", Guest, "ss.Usable && ss.Type is not (3 or 7)", "SS", (F.GuestSsArBytes, 0xC09B));
        yield return C("GuestSsDplNotRpl", Guest, "ss.Dpl != ss.Rpl", "SS", (F.GuestCsArBytes, 0xA09F), (F.GuestSsArBytes, 0xC0F3));
        yield return C("GuestDsNotAccessed", Guest, "seg.Usable && (seg.Ar & 1) == 0", "DS", (F.GuestDsArBytes, 0xC092));
        yield return C("GuestGsExecuteOnlyCode", Guest, "seg.Usable && (seg.Ar & 0xA) == 0x8", "GS", (F.GuestGsArBytes, 0xC099));
        yield return C("GuestEsDplBelowRpl", Guest, "seg.Usable && seg.Type <= 11 && seg.Dpl < seg.Rpl", "ES", (F.GuestEsSelector, 0x13));
        yield return C("GuestFsReservedBit8", Guest, "seg.Usable && (seg.Ar & ArReserved11To8) != 0", "FS", (F.GuestFsArBytes, 0xC193));
        yield return C("GuestTr32BitInIa32e", Guest, "ia32eModeGuest && tr.Type != 11", "TR", (F.GuestTrArBytes, 0x83));
        yield return C("GuestTrUnusable", Guest, "(tr.Ar & ArUnusable) != 0", "TR", (F.GuestTrArBytes, TrAr | Unusable));
        yield return C("GuestLdtrUsableTssType", Guest, "ldtr.Usable && ldtr.Type != 2", "LDTR", (F.GuestLdtrArBytes, 0x83));

        // §27.3.1.3 "Checks on Guest Descriptor-Table Registers"
        yield return C("GuestGdtrLimitHigh", Guest, "(Read(VmcsField.GuestGdtrLimit) >> 16) != 0", (F.GuestGdtrLimit, 0x1_0000));
        yield return C("GuestIdtrBaseNonCanonical", Guest, "!Vcpu.IsCanonical(Read(VmcsField.GuestIdtrBase))", (F.GuestIdtrBase, NonCanonical));

        // §27.3.1.4 "Checks on Guest RIP, RFLAGS, and SSP"
        yield return C("GuestRipNonCanonical", Guest, "ia32eModeGuest && csL && !Vcpu.IsCanonical(rip)", (F.GuestRip, NonCanonical));
        yield return C("GuestRflagsReserved3", Guest, "(rflags & RflagsReserved) != 0", (F.GuestRflags, 0xA));
        yield return C("GuestRflagsBit1Clear", Guest, "(rflags & 2) == 0", (F.GuestRflags, 0));
        yield return C("GuestInjectInterruptWithIfClear", Guest, "injectingExternalInterrupt && (rflags & CpuState.FlagIf) == 0", (F.VmEntryIntrInfoField, 0x8000_0020));

        // §27.3.1.5 "Checks on Guest Non-Register State"
        yield return C("GuestActivity4", Guest, "activity > ActivityWaitForSipi", (F.GuestActivityState, 4));
        yield return C("GuestActivityShutdownNotOffered", Guest, "activity != ActivityActive && (_caps.Misc & (1UL << (int)(activity + MiscActivityShift))) == 0", (F.GuestActivityState, 2));
        yield return C("GuestHltInStiShadow", Guest, "activity != ActivityActive && (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0", (F.GuestActivityState, 1), (F.GuestRflags, 0x202), (F.GuestInterruptibilityInfo, 1));
        yield return C("GuestHltInjectGp", Guest, "valid && activity == ActivityHlt && !InjectableInHlt(type, vector)", (F.GuestActivityState, 1), (F.VmEntryIntrInfoField, 0x8000_0B0D));
        yield return C("GuestInterruptibilityBit4", Guest, "(interruptibility & InterruptibilityReserved) != 0", (F.GuestInterruptibilityInfo, 0x10));
        yield return C("GuestStiAndMovSsBlocking", Guest, "(interruptibility & (BlockingBySti | BlockingByMovSs)) == (BlockingBySti | BlockingByMovSs)", (F.GuestRflags, 0x202), (F.GuestInterruptibilityInfo, 3));
        yield return C("GuestStiBlockingWithIfClear", Guest, "(rflags & CpuState.FlagIf) == 0 && (interruptibility & BlockingBySti) != 0", (F.GuestInterruptibilityInfo, 1));
        yield return C("GuestInjectInterruptInMovSsShadow", Guest, "valid && type == TypeExternalInterrupt && (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0", (F.GuestRflags, 0x202), (F.GuestInterruptibilityInfo, 2), (F.VmEntryIntrInfoField, 0x8000_0020));
        yield return C("GuestInjectNmiInMovSsShadow", Guest, "valid && type == TypeNmi && (interruptibility & BlockingByMovSs) != 0", (F.GuestInterruptibilityInfo, 2), (F.VmEntryIntrInfoField, 0x8000_0202));
        yield return C("GuestSmiBlocking", Guest, "(interruptibility & BlockingBySmi) != 0", (F.GuestInterruptibilityInfo, 4));
        yield return C("GuestInjectVirtualNmiWhileBlocked", Guest, "valid && type == TypeNmi && (Pin & PinBasedControls.VirtualNmis) != 0 && (interruptibility & BlockingByNmi) != 0", (F.PinBasedVmExecControl, PinVnmi), (F.GuestInterruptibilityInfo, 8), (F.VmEntryIntrInfoField, 0x8000_0202));
        yield return C("GuestPendingDebugReserved", Guest, "(pendingDebug & PendingDebugReserved) != 0", (F.GuestPendingDbgExceptions, 0x10));
        yield return C("GuestPendingBsWithoutTf", Guest, "blockingOrHlt && !singleStepPending && (pendingDebug & PendingDebugBs) != 0", (F.GuestRflags, 0x202), (F.GuestInterruptibilityInfo, 1), (F.GuestPendingDbgExceptions, 0x4000));
        yield return C("GuestTfWithoutPendingBs", Guest, "blockingOrHlt && singleStepPending && (pendingDebug & PendingDebugBs) == 0", (F.GuestRflags, 0x302), (F.GuestInterruptibilityInfo, 1));
        yield return C("GuestLinkPointerUnaligned", Guest, "linkUsed && (link & 0xFFF) != 0", null, VmEntryFailureCode.VmcsLinkPointer, (F.VmcsLinkPointer, 0x10_2001));
        yield return C("GuestLinkPointerBeyondMaxPhys", Guest, "linkUsed && (link >> Vcpu.MaxPhysAddrBits) != 0", null, VmEntryFailureCode.VmcsLinkPointer, (F.VmcsLinkPointer, BeyondMaxPhys));
        yield return C("GuestLinkPointerWrongRevision", Guest, "linkUsed && (uint)_cpu.Memory.Read(link, sizeof(uint)) != Vmcs12Layout.Revision", null, VmEntryFailureCode.VmcsLinkPointer, (F.VmcsLinkPointer, 0x10_3000));
    }

    [Test]
    public void Builder_Controls_AreTheTrueMsrsAllowed0Settings()
    {
        Assert.That(PinCtl, Is.EqualTo((uint)VmxCapabilities.TruePinbasedCtls));
        Assert.That(ProcCtl, Is.EqualTo((uint)VmxCapabilities.TrueProcbasedCtls));
        Assert.That(ExitCtl, Is.EqualTo((uint)VmxCapabilities.TrueExitCtls | (uint)VmExitControls.HostAddrSpaceSize));
        Assert.That(EntryCtl, Is.EqualTo((uint)VmxCapabilities.TrueEntryCtls | (uint)VmEntryControls.Ia32eMode));
    }

    [Test]
    public void Check_ValidVmcs12_PassesEveryCheck()
    {
        using VmxTestBed bed = NewBed();
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Passed, Is.True, r.ToString());
        Assert.That(r.Condition, Is.Null);
    }

    [TestCaseSource(nameof(BrokenFields))]
    public void Check_OneFieldBroken_FailsNamedCondition((F Field, ulong Value)[] writes, VmEntryFailure failure, string condition, string? subject, VmEntryFailureCode code)
    {
        using VmxTestBed bed = NewBed();
        foreach ((F field, ulong value) in writes)
        {
            W(bed.Vmx, field, value);
        }

        VmEntryCheckResult r = CheckAll(bed);
        Assert.Multiple(() =>
        {
            Assert.That(r.Failure, Is.EqualTo(failure), r.ToString());
            Assert.That(r.Condition, Is.EqualTo(condition));
            Assert.That(r.Subject, Is.EqualTo(subject));
            Assert.That(r.Qualification, Is.EqualTo(code));
        });
    }

    [Test]
    public void Check_HostSsNullWith64BitHost_Passes()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.HostSsSelector, 0);
        Assert.That(CheckAll(bed).Passed, Is.True);
    }

    [Test]
    public void Check_UnusableDataSegmentWithGarbage_Passes()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestDsArBytes, Unusable | 0xF00);
        W(bed.Vmx, F.GuestDsBase, 1UL << 40);
        Assert.That(CheckAll(bed).Passed, Is.True, CheckAll(bed).ToString());
    }

    [Test]
    public void Check_LinkPointerToVmcs_Passes()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmcsLinkPointer, VmxTestBed.Vmcs2);
        Assert.That(CheckAll(bed).Passed, Is.True);
    }

    [Test]
    public void Check_InjectGpWithErrorCodeAndPageFault_Passes()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmEntryIntrInfoField, 0x8000_0B0E);
        W(bed.Vmx, F.VmEntryExceptionErrorCode, 0xFFFF);
        Assert.That(CheckAll(bed).Passed, Is.True, CheckAll(bed).ToString());
    }

    [Test]
    public void Check_L1OutsideIa32eModeWithIa32eGuest_FailsHostState()
    {
        using VmxTestBed bed = NewBed();
        bed.H.Cpu.State.Efer &= ~CpuState.EferLma;
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Failure, Is.EqualTo(VmEntryFailure.HostState));
        Assert.That(r.Condition, Is.EqualTo("!ia32eMode && ia32eModeGuest"));
    }

    /// <summary>A 32-bit PAE guest (no IA-32e mode) whose PDPTEs are read from guest CR3 at VM entry.</summary>
    private static VmxTestBed NewPaeGuestBed(ulong pdpte0)
    {
        const ulong pdpt = 0x10_4000;
        VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmEntryControls, EntryCtl & ~(uint)VmEntryControls.Ia32eMode);
        W(bed.Vmx, F.GuestCsArBytes, CodeAr32);
        W(bed.Vmx, F.GuestCr3, pdpt);
        bed.H.Memory.Write(pdpt, 8, pdpte0);
        return bed;
    }

    [Test]
    public void Check_PaeGuestWithValidPdptes_Passes()
    {
        using VmxTestBed bed = NewPaeGuestBed(0x10_5001);
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Passed, Is.True, r.ToString());
    }

    [Test]
    public void Check_PaeGuestPdpteReservedBit_FailsWithQualification2()
    {
        using VmxTestBed bed = NewPaeGuestBed(0x10_5003);
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Failure, Is.EqualTo(VmEntryFailure.GuestState));
        Assert.That(r.Condition, Is.EqualTo("paePaging && !PdptesValid(Read(VmcsField.GuestCr3))"));
        Assert.That(r.Qualification, Is.EqualTo(VmEntryFailureCode.Pdpte));
    }

    /// <summary>A virtual-8086 guest: 32-bit protected mode with RFLAGS.VM, real-mode style segments.</summary>
    private static VmxTestBed NewV86GuestBed()
    {
        VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmEntryControls, EntryCtl & ~(uint)VmEntryControls.Ia32eMode);
        W(bed.Vmx, F.GuestCr4, Cr4 & ~CpuState.Cr4Pae);
        W(bed.Vmx, F.GuestRflags, 0x2_0002);
        for (int i = 0; i < 6; i++)
        {
            ushort selector = (ushort)(0x1000 + i);
            W(bed.Vmx, (F)((int)F.GuestEsSelector + (2 * i)), selector);
            W(bed.Vmx, (F)((int)F.GuestEsBase + (2 * i)), (ulong)selector << 4);
            W(bed.Vmx, (F)((int)F.GuestEsLimit + (2 * i)), 0xFFFF);
            W(bed.Vmx, (F)((int)F.GuestEsArBytes + (2 * i)), 0xF3);
        }

        return bed;
    }

    [Test]
    public void Check_V86Guest_Passes()
    {
        using VmxTestBed bed = NewV86GuestBed();
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Passed, Is.True, r.ToString());
    }

    [Test]
    public void Check_V86GuestCsLimit_FailsNamingCs()
    {
        using VmxTestBed bed = NewV86GuestBed();
        W(bed.Vmx, F.GuestCsLimit, 0xFFFFF);
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Failure, Is.EqualTo(VmEntryFailure.GuestState));
        Assert.That(r.Condition, Is.EqualTo("seg.Limit != 0xFFFF"));
        Assert.That(r.Subject, Is.EqualTo("CS"));
    }

    [Test]
    public void Check_V86WithIa32eGuest_FailsRflagsVm()
    {
        using VmxTestBed bed = NewV86GuestBed();
        W(bed.Vmx, F.VmEntryControls, EntryCtl);
        W(bed.Vmx, F.GuestCr4, Cr4);
        VmEntryCheckResult r = CheckAll(bed);
        Assert.That(r.Condition, Is.EqualTo("(ia32eModeGuest || (Read(VmcsField.GuestCr0) & CpuState.Cr0Pe) == 0) && (rflags & CpuState.FlagVm) != 0"));
    }

    // ------------------------------------------------------------------------------------------ through VMLAUNCH

    private static ulong Vmlaunch(VmxTestBed bed)
    {
        bed.H.Cpu.Rflags = 2 | VmxTestBed.Arith;
        bed.H.Load(a => a.vmlaunch());
        bed.H.Cpu.Run(1);
        return bed.H.Flags & VmxTestBed.Arith;
    }

    [Test]
    public void Vmlaunch_ValidVmcs12_PassesChecksThenEntersGuest()
    {
        using VmxTestBed bed = NewBed();
        Assert.That(Vmlaunch(bed), Is.EqualTo(0UL), "RFLAGS is the guest's (2), not a VMfail");
        Assert.That(bed.Vmx.GuestMode, Is.True);
        Assert.That(bed.H.Cpu.State.Rip, Is.EqualTo(R(bed.Vmx, F.GuestRip)));
        Assert.That(bed.H.Cpu.State.Gpr[4], Is.EqualTo(R(bed.Vmx, F.GuestRsp)));
        Assert.That(bed.H.Cpu.State.GetRflags(), Is.EqualTo(2UL));
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Cs].Attr, Is.EqualTo(CodeAr64));
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Ldtr].Attr & Unusable, Is.Not.Zero);
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Tr].Base, Is.EqualTo(0x9000UL));
        Assert.That(bed.H.Cpu.State.Gdtr.Base, Is.EqualTo(0xA000UL));
        Assert.That(bed.H.Cpu.State.Idtr.Limit, Is.EqualTo(0xFFFu));
        Assert.That(bed.H.Cpu.State.Cpl, Is.Zero);
        Assert.That(bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset], Is.EqualTo((byte)1), "VMLAUNCH marks it launched");
        Assert.That(bed.Vmx.LastEntryCheck.Passed, Is.True, bed.Vmx.LastEntryCheck.ToString());
    }

    [Test]
    public void Vmlaunch_InvalidPinControls_VmFailValid7()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.PinBasedVmExecControl, 0);
        Assert.That(Vmlaunch(bed), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(7UL));
        Assert.That(bed.Vmx.LastEntryCheck.Condition, Is.EqualTo("!ControlValid((uint)pin, pinCaps)"));
        Assert.That(bed.H.Cpu.State.Rip, Is.EqualTo(bed.H.EndRip));
    }

    [Test]
    public void Vmresume_InjectNmiWrongVector_VmFailValid7()
    {
        using VmxTestBed bed = NewBed();
        bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset] = 1;
        W(bed.Vmx, F.VmEntryIntrInfoField, 0x8000_0203);
        bed.H.Cpu.Rflags = 2 | VmxTestBed.Arith;
        bed.H.Load(a => a.vmresume());
        bed.H.Cpu.Run(1);
        Assert.That(bed.H.Flags & VmxTestBed.Arith, Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(7UL));
    }

    [Test]
    public void Vmlaunch_HostCr3BeyondMaxPhys_VmFailValid8()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.HostCr3, BeyondMaxPhys);
        Assert.That(Vmlaunch(bed), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(8UL));
    }

    [Test]
    public void Vmlaunch_HostCsNull_VmFailValid8()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.HostCsSelector, 0);
        Assert.That(Vmlaunch(bed), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(8UL));
        Assert.That(bed.Vmx.LastEntryCheck.Condition, Is.EqualTo("cs == 0"));
    }

    [Test]
    public void Vmlaunch_ControlAndHostBothBroken_ControlsWin()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.HostCsSelector, 0);
        W(bed.Vmx, F.Cr3TargetCount, 5);
        Vmlaunch(bed);
        Assert.That(bed.Error, Is.EqualTo(7UL));
    }

    [Test]
    public void Vmlaunch_InvalidGuestState_EntryFailureExitLoadsHostState()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestRflags, 0);
        W(bed.Vmx, F.HostIa32SysenterCs, 0x08);
        W(bed.Vmx, F.HostIa32SysenterEip, 0xFFFF_8000_0000_1000);
        ref CpuState s = ref bed.H.Cpu.State;
        s.Dr[7] = 0x4FF;
        s.DebugCtl = 1;
        s.Cr3 = CpuHarness.PageTables + 0x1000; // a stale CR3 the exit must replace
        s.Seg[(int)SegReg.Ldtr].Selector = 0x28;
        s.Seg[(int)SegReg.Ldtr].Attr = 0x82;

        ulong flags = Vmlaunch(bed);
        CpuState st = s;

        Assert.Multiple(() =>
        {
            Assert.That(R(bed.Vmx, F.VmExitReason), Is.EqualTo(0x8000_0021UL));
            Assert.That(R(bed.Vmx, F.ExitQualification), Is.EqualTo(0UL));
            Assert.That(bed.Error, Is.EqualTo(0UL), "no VMfail");
            Assert.That(bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset], Is.EqualTo(0), "still clear");
            Assert.That(flags, Is.EqualTo(0UL));
            Assert.That(st.GetRflags(), Is.EqualTo(2UL));
            Assert.That(st.Rip, Is.EqualTo(HostRip));
            Assert.That(st.Gpr[4], Is.EqualTo(HostRsp));
            Assert.That(st.Cr3, Is.EqualTo(CpuHarness.PageTables));
            Assert.That(st.Cr0, Is.EqualTo(Cr0));
            Assert.That(st.Cr4, Is.EqualTo(Cr4));
            Assert.That(st.Efer & (CpuState.EferLme | CpuState.EferLma), Is.EqualTo(CpuState.EferLme | CpuState.EferLma));
            Assert.That(st.Dr[7], Is.EqualTo(0x400UL));
            Assert.That(st.DebugCtl, Is.EqualTo(0UL));
            Assert.That(st.SysenterCs, Is.EqualTo(0x08UL));
            Assert.That(st.SysenterEip, Is.EqualTo(0xFFFF_8000_0000_1000));
            Assert.That(st.Cpl, Is.EqualTo(0));

            Segment cs = st.Seg[(int)SegReg.Cs];
            Assert.That((cs.Selector, cs.Base, cs.Limit, cs.Attr), Is.EqualTo(((ushort)0x08, 0UL, 0xFFFF_FFFFu, CodeAr64)));
            foreach (SegReg data in (ReadOnlySpan<SegReg>)[SegReg.Ss, SegReg.Ds, SegReg.Es])
            {
                Segment seg = st.Seg[(int)data];
                Assert.That((seg.Selector, seg.Base, seg.Limit, seg.Attr), Is.EqualTo(((ushort)0x10, 0UL, 0xFFFF_FFFFu, DataAr)), data.ToString());
            }

            Assert.That(st.Seg[(int)SegReg.Fs].Base, Is.EqualTo(HostFsBase));
            Assert.That(st.Seg[(int)SegReg.Gs].Base, Is.EqualTo(HostGsBase));
            Segment tr = st.Seg[(int)SegReg.Tr];
            Assert.That((tr.Selector, tr.Base, tr.Limit, tr.Attr), Is.EqualTo(((ushort)0x18, HostTrBase, 0x67u, TrAr)));
            Segment ldtr = st.Seg[(int)SegReg.Ldtr];
            Assert.That((ldtr.Selector, ldtr.Attr), Is.EqualTo(((ushort)0, Unusable)));
            Assert.That((st.Gdtr.Base, st.Gdtr.Limit), Is.EqualTo((HostGdtrBase, 0xFFFFu)));
            Assert.That((st.Idtr.Base, st.Idtr.Limit), Is.EqualTo((HostIdtrBase, 0xFFFFu)));
            Assert.That(st.Is64, Is.True);
        });
    }

    [Test]
    public void Vmlaunch_NullHostDataSelectors_LoadsThemUnusable()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestRflags, 0);
        W(bed.Vmx, F.HostDsSelector, 0);
        W(bed.Vmx, F.HostSsSelector, 0);
        Vmlaunch(bed);
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Ds].Attr & Unusable, Is.EqualTo(Unusable));
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Ss].Attr & Unusable, Is.EqualTo(Unusable));
        Assert.That(bed.H.Cpu.State.Seg[(int)SegReg.Es].Attr & Unusable, Is.EqualTo(0u));
    }

    [Test]
    public void Vmlaunch_LoadPatAndEferExitControls_LoadsHostPatAndEfer()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestRflags, 0);
        W(bed.Vmx, F.VmExitControls, ExitPat | (uint)VmExitControls.LoadIa32Efer);
        W(bed.Vmx, F.HostIa32Pat, 0x0007_0406_0007_0406);
        W(bed.Vmx, F.HostIa32Efer, Lme | Lma);
        Vmlaunch(bed);
        Assert.That(bed.H.Cpu.State.Pat, Is.EqualTo(0x0007_0406_0007_0406UL));
        Assert.That(bed.H.Cpu.State.Efer, Is.EqualTo(Lme | Lma), "SCE and NXE gone: EFER is the host field");
    }

    [Test]
    public void Vmlaunch_BadLinkPointer_EntryFailureQualification4()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmcsLinkPointer, 0x10_3000);
        Vmlaunch(bed);
        Assert.That(R(bed.Vmx, F.VmExitReason), Is.EqualTo(0x8000_0021UL));
        Assert.That(R(bed.Vmx, F.ExitQualification), Is.EqualTo(4UL));
        Assert.That(bed.H.Cpu.State.Rip, Is.EqualTo(HostRip));
    }

    [Test]
    public void Vmlaunch_EntryFailureExit_HostRunsOn()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestRflags, 0);
        W(bed.Vmx, F.HostRip, bed.H.EndRip);
        bed.H.Load(a =>
        {
            a.vmlaunch();
            a.mov(AssemblerRegisters.eax, 0x1234);
        });
        W(bed.Vmx, F.HostRip, CpuHarness.CodeAddress + 3); // VMLAUNCH is 3 bytes: "exit" to the MOV
        bed.H.Run();
        Assert.That(bed.H[Register.RAX], Is.EqualTo(0x1234UL));
    }

    // ------------------------------------------------------------------------------------------ allocation

    [Test]
    public void Check_ValidVmcs12TenThousandTimes_AllocatesNothing()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.VmcsLinkPointer, VmxTestBed.Vmcs2);
        Span<byte> vmcs12 = bed.Vmx.CachedVmcs12;
        RunChecks(vmcs12, bed, 20_000); // warm-up: JIT tiers and OSR of the loop
        long before = GC.GetAllocatedBytesForCurrentThread();
        int passed = RunChecks(vmcs12, bed, 10_000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(passed, Is.EqualTo(10_000));
        Assert.That(after - before, Is.EqualTo(0));
    }

    [Test]
    public void Check_FailingCheckTenThousandTimes_AllocatesNothing()
    {
        using VmxTestBed bed = NewBed();
        W(bed.Vmx, F.GuestRflags, 0);
        Span<byte> vmcs12 = bed.Vmx.CachedVmcs12;
        RunChecks(vmcs12, bed, 20_000); // warm-up: JIT tiers and OSR of the loop
        long before = GC.GetAllocatedBytesForCurrentThread();
        int passed = RunChecks(vmcs12, bed, 10_000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(passed, Is.EqualTo(0));
        Assert.That(after - before, Is.EqualTo(0));
    }

    private static int RunChecks(Span<byte> vmcs12, VmxTestBed bed, int count)
    {
        int passed = 0;
        for (int i = 0; i < count; i++)
        {
            var checks = new VmEntryChecks(vmcs12, bed.Vmx.Capabilities, bed.H.Cpu);
            if (checks.CheckControls().Passed && checks.CheckHostState().Passed && checks.CheckGuestState().Passed)
            {
                passed++;
            }
        }

        return passed;
    }
}
