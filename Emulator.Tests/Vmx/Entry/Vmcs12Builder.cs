using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Entry;

/// <summary>
/// A vmcs12 that passes every VM-entry check: a 64-bit host that is the test bed's own Long64 state, and a
/// 64-bit guest with flat valid segments. Tests break one field of it.
/// </summary>
internal static class Vmcs12Builder
{
    public const uint PinCtl = (uint)PinBasedControls.AlwaysOnWithoutTrueMsr;
    public const uint ProcCtl = (uint)(CpuBasedControls.AlwaysOnWithoutTrueMsr & ~(CpuBasedControls.Cr3LoadExiting | CpuBasedControls.Cr3StoreExiting));
    public const uint ExitCtl = (uint)((VmExitControls.AlwaysOnWithoutTrueMsr & ~VmExitControls.SaveDebugControls) | VmExitControls.HostAddrSpaceSize);
    public const uint EntryCtl = (uint)((VmEntryControls.AlwaysOnWithoutTrueMsr & ~VmEntryControls.LoadDebugControls) | VmEntryControls.Ia32eMode);

    public const ulong Cr0 = CpuState.Cr0Pe | CpuState.Cr0Mp | CpuState.Cr0Et | CpuState.Cr0Ne | CpuState.Cr0Wp | CpuState.Cr0Pg;
    public const ulong Cr4 = CpuState.Cr4Pae | CpuState.Cr4Osfxsr | CpuState.Cr4Osxmmexcpt | CpuState.Cr4Vmxe;

    public const ulong HostRip = CpuHarness.CodeAddress + 0x800;
    public const ulong HostRsp = 0x6_F000;
    public const ulong HostTrBase = 0x5000;
    public const ulong HostGdtrBase = 0x6000;
    public const ulong HostIdtrBase = 0x7000;
    public const ulong HostFsBase = 0x1234_5000;
    public const ulong HostGsBase = 0xFFFF_8000_0000_0000;

    public const uint CodeAr64 = 0xA09B;   // present, S, type B, L, G
    public const uint CodeAr32 = 0xC09B;   // present, S, type B, D, G
    public const uint DataAr = 0xC093;     // present, S, type 3, B, G
    public const uint TrAr = 0x8B;         // present, busy 64-bit TSS
    public const uint Unusable = 0x1_0000;

    public static VmxTestBed NewBed()
    {
        var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Fill(bed.Vmx);
        return bed;
    }

    public static void W(VcpuVmx vmx, VmcsField field, ulong value) => Vmcs12Layout.Write(vmx.CachedVmcs12, field, value);

    public static ulong R(VcpuVmx vmx, VmcsField field) => Vmcs12Layout.Read(vmx.CachedVmcs12, field);

    public static void Fill(VcpuVmx vmx) => Fill((f, v) => W(vmx, f, v));

    /// <summary>The same vmcs12 as a list of field writes, for L1 code that VMWRITEs it.</summary>
    public static void Fill(Action<VmcsField, ulong> w)
    {
        w(VmcsField.PinBasedVmExecControl, PinCtl);
        w(VmcsField.CpuBasedVmExecControl, ProcCtl);
        w(VmcsField.VmExitControls, ExitCtl);
        w(VmcsField.VmEntryControls, EntryCtl);

        w(VmcsField.HostCr0, Cr0);
        w(VmcsField.HostCr3, CpuHarness.PageTables);
        w(VmcsField.HostCr4, Cr4);
        w(VmcsField.HostCsSelector, 0x08);
        foreach (VmcsField f in (ReadOnlySpan<VmcsField>)[VmcsField.HostSsSelector, VmcsField.HostDsSelector,
            VmcsField.HostEsSelector, VmcsField.HostFsSelector, VmcsField.HostGsSelector])
        {
            w(f, 0x10);
        }

        w(VmcsField.HostTrSelector, 0x18);
        w(VmcsField.HostFsBase, HostFsBase);
        w(VmcsField.HostGsBase, HostGsBase);
        w(VmcsField.HostTrBase, HostTrBase);
        w(VmcsField.HostGdtrBase, HostGdtrBase);
        w(VmcsField.HostIdtrBase, HostIdtrBase);
        w(VmcsField.HostRip, HostRip);
        w(VmcsField.HostRsp, HostRsp);

        w(VmcsField.GuestCr0, Cr0);
        w(VmcsField.GuestCr3, CpuHarness.PageTables);
        w(VmcsField.GuestCr4, Cr4);
        w(VmcsField.GuestDr7, 0x400);
        w(VmcsField.GuestRflags, 2);
        w(VmcsField.GuestRip, 0x40_0000);
        w(VmcsField.GuestRsp, 0x50_0000);
        for (int i = 0; i < 6; i++)
        {
            w((VmcsField)((int)VmcsField.GuestEsSelector + (2 * i)), i == 1 ? 0x08UL : 0x10UL);
            w((VmcsField)((int)VmcsField.GuestEsLimit + (2 * i)), 0xFFFF_FFFF);
            w((VmcsField)((int)VmcsField.GuestEsArBytes + (2 * i)), i == 1 ? CodeAr64 : DataAr);
        }

        w(VmcsField.GuestLdtrArBytes, Unusable);
        w(VmcsField.GuestTrSelector, 0x18);
        w(VmcsField.GuestTrBase, 0x9000);
        w(VmcsField.GuestTrLimit, 0x67);
        w(VmcsField.GuestTrArBytes, TrAr);
        w(VmcsField.GuestGdtrBase, 0xA000);
        w(VmcsField.GuestGdtrLimit, 0x27);
        w(VmcsField.GuestIdtrBase, 0xB000);
        w(VmcsField.GuestIdtrLimit, 0xFFF);
        w(VmcsField.VmcsLinkPointer, VcpuVmx.InvalidGpa);
    }
}
