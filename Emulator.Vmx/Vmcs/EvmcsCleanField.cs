namespace Emulator.Vmx.Vmcs;

/// <summary>
/// Clean-field groups of the enlightened VMCS (<c>hv_clean_fields</c>, eVMCS offset 0x338),
/// TLFS "Nested Virtualization", "Clean Fields"; names are Linux's
/// <c>HV_VMX_ENLIGHTENED_CLEAN_FIELD_*</c> in PascalCase. A set bit means the group is unchanged
/// since the last VM entry and L0 may skip reloading it; L1 clears the bit when it writes any
/// field of the group, and L0 sets all bits after consuming them (KVM's reading; the TLFS text
/// contradicts itself on the default).
/// </summary>
[Flags]
internal enum EvmcsCleanField : ushort
{
    /// <summary>Always reloaded: guest RIP, TPR threshold and all VM-exit information fields.</summary>
    None = 0,
    IoBitmap = 1 << 0,
    MsrBitmap = 1 << 1,
    ControlGrp2 = 1 << 2,
    ControlGrp1 = 1 << 3,
    ControlProc = 1 << 4,
    ControlEvent = 1 << 5,
    ControlEntry = 1 << 6,
    ControlExcpn = 1 << 7,
    Crdr = 1 << 8,
    ControlXlat = 1 << 9,
    GuestBasic = 1 << 10,
    GuestGrp1 = 1 << 11,
    GuestGrp2 = 1 << 12,
    HostPointer = 1 << 13,
    HostGrp1 = 1 << 14,
    Enlightenmentscontrol = 1 << 15,

    /// <summary>
    /// Fields with no group of their own in the TLFS: reloaded when any clean bit is clear.
    /// </summary>
    All = 0xFFFF,
}
