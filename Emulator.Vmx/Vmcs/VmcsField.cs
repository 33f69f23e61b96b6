namespace Emulator.Vmx.Vmcs;

/// <summary>
/// VMCS field encodings, SDM Vol. 3C Appendix B "Field Encoding in VMCS", named after Linux's
/// <c>enum vmcs_field</c> (arch/x86/include/asm/vmx.h) in PascalCase. Fields the SDM defines but
/// Linux's enum lacks are marked [SDM] and named after the SDM's wording. Every 64-bit field
/// has its <c>...High</c> alias (encoding | 1) for the upper 32 bits, as in Linux's enum.
/// Width, type and access type are the encoding's bits (<see cref="VmcsFieldEncoding"/>); the
/// vmcs12 and eVMCS offsets are in <see cref="VmcsFieldTable"/>.
/// </summary>
internal enum VmcsField : ushort
{
    // SDM Appendix B.1.1 "16-Bit Control Fields"
    VirtualProcessorId = 0x0000,
    PostedIntrNv = 0x0002,
    EptpIndex = 0x0004, // [SDM] "EPTP index" (#VE)
    LastPidPointerIndex = 0x0008,

    // SDM Appendix B.1.2 "16-Bit Guest-State Fields"
    GuestEsSelector = 0x0800,
    GuestCsSelector = 0x0802,
    GuestSsSelector = 0x0804,
    GuestDsSelector = 0x0806,
    GuestFsSelector = 0x0808,
    GuestGsSelector = 0x080A,
    GuestLdtrSelector = 0x080C,
    GuestTrSelector = 0x080E,
    GuestIntrStatus = 0x0810,
    GuestPmlIndex = 0x0812,

    // SDM Appendix B.1.3 "16-Bit Host-State Fields"
    HostEsSelector = 0x0C00,
    HostCsSelector = 0x0C02,
    HostSsSelector = 0x0C04,
    HostDsSelector = 0x0C06,
    HostFsSelector = 0x0C08,
    HostGsSelector = 0x0C0A,
    HostTrSelector = 0x0C0C,

    // SDM Appendix B.2.1 "64-Bit Control Fields"
    IoBitmapA = 0x2000,
    IoBitmapAHigh = 0x2001,
    IoBitmapB = 0x2002,
    IoBitmapBHigh = 0x2003,
    MsrBitmap = 0x2004,
    MsrBitmapHigh = 0x2005,
    VmExitMsrStoreAddr = 0x2006,
    VmExitMsrStoreAddrHigh = 0x2007,
    VmExitMsrLoadAddr = 0x2008,
    VmExitMsrLoadAddrHigh = 0x2009,
    VmEntryMsrLoadAddr = 0x200A,
    VmEntryMsrLoadAddrHigh = 0x200B,
    ExecutiveVmcsPointer = 0x200C, // [SDM] "Executive-VMCS pointer" (dual-monitor SMM)
    ExecutiveVmcsPointerHigh = 0x200D,
    PmlAddress = 0x200E,
    PmlAddressHigh = 0x200F,
    TscOffset = 0x2010,
    TscOffsetHigh = 0x2011,
    VirtualApicPageAddr = 0x2012,
    VirtualApicPageAddrHigh = 0x2013,
    ApicAccessAddr = 0x2014,
    ApicAccessAddrHigh = 0x2015,
    PostedIntrDescAddr = 0x2016,
    PostedIntrDescAddrHigh = 0x2017,
    VmFunctionControl = 0x2018,
    VmFunctionControlHigh = 0x2019,
    EptPointer = 0x201A,
    EptPointerHigh = 0x201B,
    EoiExitBitmap0 = 0x201C,
    EoiExitBitmap0High = 0x201D,
    EoiExitBitmap1 = 0x201E,
    EoiExitBitmap1High = 0x201F,
    EoiExitBitmap2 = 0x2020,
    EoiExitBitmap2High = 0x2021,
    EoiExitBitmap3 = 0x2022,
    EoiExitBitmap3High = 0x2023,
    EptpListAddress = 0x2024,
    EptpListAddressHigh = 0x2025,
    VmreadBitmap = 0x2026,
    VmreadBitmapHigh = 0x2027,
    VmwriteBitmap = 0x2028,
    VmwriteBitmapHigh = 0x2029,
    VeInformationAddress = 0x202A,
    VeInformationAddressHigh = 0x202B,
    XssExitBitmap = 0x202C,
    XssExitBitmapHigh = 0x202D,
    EnclsExitingBitmap = 0x202E,
    EnclsExitingBitmapHigh = 0x202F,
    Spptp = 0x2030, // [SDM] "Sub-page-permission-table pointer"
    SpptpHigh = 0x2031,
    TscMultiplier = 0x2032,
    TscMultiplierHigh = 0x2033,
    TertiaryVmExecControl = 0x2034,
    TertiaryVmExecControlHigh = 0x2035,
    EnclvExitingBitmap = 0x2036, // [SDM] "ENCLV-exiting bitmap"
    EnclvExitingBitmapHigh = 0x2037,
    SharedEptPointer = 0x203C, // TDX; Linux's enum has no _HIGH, the encoding rule gives one
    SharedEptPointerHigh = 0x203D,
    PidPointerTable = 0x2042,
    PidPointerTableHigh = 0x2043,

    // SDM Appendix B.2.2 "64-Bit Read-Only Data Field"
    GuestPhysicalAddress = 0x2400,
    GuestPhysicalAddressHigh = 0x2401,

    // SDM Appendix B.2.3 "64-Bit Guest-State Fields"
    VmcsLinkPointer = 0x2800,
    VmcsLinkPointerHigh = 0x2801,
    GuestIa32Debugctl = 0x2802,
    GuestIa32DebugctlHigh = 0x2803,
    GuestIa32Pat = 0x2804,
    GuestIa32PatHigh = 0x2805,
    GuestIa32Efer = 0x2806,
    GuestIa32EferHigh = 0x2807,
    GuestIa32PerfGlobalCtrl = 0x2808,
    GuestIa32PerfGlobalCtrlHigh = 0x2809,
    GuestPdptr0 = 0x280A,
    GuestPdptr0High = 0x280B,
    GuestPdptr1 = 0x280C,
    GuestPdptr1High = 0x280D,
    GuestPdptr2 = 0x280E,
    GuestPdptr2High = 0x280F,
    GuestPdptr3 = 0x2810,
    GuestPdptr3High = 0x2811,
    GuestBndcfgs = 0x2812,
    GuestBndcfgsHigh = 0x2813,
    GuestIa32RtitCtl = 0x2814,
    GuestIa32RtitCtlHigh = 0x2815,
    GuestIa32LbrCtl = 0x2816, // [SDM] "Guest IA32_LBR_CTL" (also in the eVMCS)
    GuestIa32LbrCtlHigh = 0x2817,
    GuestIa32Pkrs = 0x2818, // [SDM] "Guest IA32_PKRS"
    GuestIa32PkrsHigh = 0x2819,

    // SDM Appendix B.2.4 "64-Bit Host-State Fields"
    HostIa32Pat = 0x2C00,
    HostIa32PatHigh = 0x2C01,
    HostIa32Efer = 0x2C02,
    HostIa32EferHigh = 0x2C03,
    HostIa32PerfGlobalCtrl = 0x2C04,
    HostIa32PerfGlobalCtrlHigh = 0x2C05,
    HostIa32Pkrs = 0x2C06, // [SDM] "Host IA32_PKRS"
    HostIa32PkrsHigh = 0x2C07,

    // SDM Appendix B.3.1 "32-Bit Control Fields"
    PinBasedVmExecControl = 0x4000,
    CpuBasedVmExecControl = 0x4002,
    ExceptionBitmap = 0x4004,
    PageFaultErrorCodeMask = 0x4006,
    PageFaultErrorCodeMatch = 0x4008,
    Cr3TargetCount = 0x400A,
    VmExitControls = 0x400C,
    VmExitMsrStoreCount = 0x400E,
    VmExitMsrLoadCount = 0x4010,
    VmEntryControls = 0x4012,
    VmEntryMsrLoadCount = 0x4014,
    VmEntryIntrInfoField = 0x4016,
    VmEntryExceptionErrorCode = 0x4018,
    VmEntryInstructionLen = 0x401A,
    TprThreshold = 0x401C,
    SecondaryVmExecControl = 0x401E,
    PleGap = 0x4020,
    PleWindow = 0x4022,
    NotifyWindow = 0x4024,

    // SDM Appendix B.3.2 "32-Bit Read-Only Data Fields"
    VmInstructionError = 0x4400,
    VmExitReason = 0x4402,
    VmExitIntrInfo = 0x4404,
    VmExitIntrErrorCode = 0x4406,
    IdtVectoringInfoField = 0x4408,
    IdtVectoringErrorCode = 0x440A,
    VmExitInstructionLen = 0x440C,
    VmxInstructionInfo = 0x440E,

    // SDM Appendix B.3.3 "32-Bit Guest-State Fields"
    GuestEsLimit = 0x4800,
    GuestCsLimit = 0x4802,
    GuestSsLimit = 0x4804,
    GuestDsLimit = 0x4806,
    GuestFsLimit = 0x4808,
    GuestGsLimit = 0x480A,
    GuestLdtrLimit = 0x480C,
    GuestTrLimit = 0x480E,
    GuestGdtrLimit = 0x4810,
    GuestIdtrLimit = 0x4812,
    GuestEsArBytes = 0x4814,
    GuestCsArBytes = 0x4816,
    GuestSsArBytes = 0x4818,
    GuestDsArBytes = 0x481A,
    GuestFsArBytes = 0x481C,
    GuestGsArBytes = 0x481E,
    GuestLdtrArBytes = 0x4820,
    GuestTrArBytes = 0x4822,
    GuestInterruptibilityInfo = 0x4824,
    GuestActivityState = 0x4826,
    GuestSmbase = 0x4828, // [SDM] "Guest SMBASE"
    GuestSysenterCs = 0x482A,
    VmxPreemptionTimerValue = 0x482E,

    // SDM Appendix B.3.4 "32-Bit Host-State Field"
    HostIa32SysenterCs = 0x4C00,

    // SDM Appendix B.4.1 "Natural-Width Control Fields"
    Cr0GuestHostMask = 0x6000,
    Cr4GuestHostMask = 0x6002,
    Cr0ReadShadow = 0x6004,
    Cr4ReadShadow = 0x6006,
    Cr3TargetValue0 = 0x6008,
    Cr3TargetValue1 = 0x600A,
    Cr3TargetValue2 = 0x600C,
    Cr3TargetValue3 = 0x600E,

    // SDM Appendix B.4.2 "Natural-Width Read-Only Data Fields"
    ExitQualification = 0x6400,
    IoRcx = 0x6402, // [SDM] "I/O RCX"
    IoRsi = 0x6404, // [SDM] "I/O RSI"
    IoRdi = 0x6406, // [SDM] "I/O RDI"
    IoRip = 0x6408, // [SDM] "I/O RIP"
    GuestLinearAddress = 0x640A,

    // SDM Appendix B.4.3 "Natural-Width Guest-State Fields"
    GuestCr0 = 0x6800,
    GuestCr3 = 0x6802,
    GuestCr4 = 0x6804,
    GuestEsBase = 0x6806,
    GuestCsBase = 0x6808,
    GuestSsBase = 0x680A,
    GuestDsBase = 0x680C,
    GuestFsBase = 0x680E,
    GuestGsBase = 0x6810,
    GuestLdtrBase = 0x6812,
    GuestTrBase = 0x6814,
    GuestGdtrBase = 0x6816,
    GuestIdtrBase = 0x6818,
    GuestDr7 = 0x681A,
    GuestRsp = 0x681C,
    GuestRip = 0x681E,
    GuestRflags = 0x6820,
    GuestPendingDbgExceptions = 0x6822,
    GuestSysenterEsp = 0x6824,
    GuestSysenterEip = 0x6826,
    GuestSCet = 0x6828,
    GuestSsp = 0x682A,
    GuestIntrSspTable = 0x682C,

    // SDM Appendix B.4.4 "Natural-Width Host-State Fields"
    HostCr0 = 0x6C00,
    HostCr3 = 0x6C02,
    HostCr4 = 0x6C04,
    HostFsBase = 0x6C06,
    HostGsBase = 0x6C08,
    HostTrBase = 0x6C0A,
    HostGdtrBase = 0x6C0C,
    HostIdtrBase = 0x6C0E,
    HostIa32SysenterEsp = 0x6C10,
    HostIa32SysenterEip = 0x6C12,
    HostRsp = 0x6C14,
    HostRip = 0x6C16,
    HostSCet = 0x6C18,
    HostSsp = 0x6C1A,
    HostIntrSspTable = 0x6C1C,
}
