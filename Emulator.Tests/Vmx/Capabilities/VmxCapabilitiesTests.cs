using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx;
using Emulator.Vmx.Capabilities;
using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Capabilities;

/// <summary>The capability MSRs agree with each other, with the field table and with the SDM's rules (Vol. 3D Appendix A).</summary>
[TestFixture]
internal sealed class VmxCapabilitiesTests
{
    private static ulong Rdmsr(uint index)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Vmx = new VcpuVmx(h.Cpu);
        Assert.That(h.Cpu.ReadMsr(index, out ulong value), Is.True, $"RDMSR 0x{index:X}");
        return value;
    }

    [TestCase(VmxMsr.PinbasedCtls, (uint)PinBasedControls.AlwaysOnWithoutTrueMsr)]
    [TestCase(VmxMsr.ProcbasedCtls, (uint)CpuBasedControls.AlwaysOnWithoutTrueMsr)]
    [TestCase(VmxMsr.ExitCtls, (uint)VmExitControls.AlwaysOnWithoutTrueMsr)]
    [TestCase(VmxMsr.EntryCtls, (uint)VmEntryControls.AlwaysOnWithoutTrueMsr)]
    [TestCase(VmxMsr.ProcbasedCtls2, 0u)]
    public void ControlMsr_Allowed0WithinAllowed1AndDefault1Forced(uint index, uint default1)
    {
        ulong msr = Rdmsr(index);
        uint allowed0 = (uint)msr;
        uint allowed1 = (uint)(msr >> 32);
        Assert.That(allowed0 & ~allowed1, Is.Zero, "allowed-0 ⊆ allowed-1");
        Assert.That(allowed0, Is.EqualTo(default1), "the non-TRUE MSR reports the default-1 class as must-be-1");
    }

    [TestCase(VmxMsr.TruePinbasedCtls, VmxMsr.PinbasedCtls)]
    [TestCase(VmxMsr.TrueProcbasedCtls, VmxMsr.ProcbasedCtls)]
    [TestCase(VmxMsr.TrueExitCtls, VmxMsr.ExitCtls)]
    [TestCase(VmxMsr.TrueEntryCtls, VmxMsr.EntryCtls)]
    public void TrueControlMsr_IsTheNonTrueFormWithFewerMustBeOneBits(uint trueIndex, uint index)
    {
        ulong t = Rdmsr(trueIndex);
        ulong n = Rdmsr(index);
        Assert.That((uint)t & ~(uint)n, Is.Zero, "TRUE allowed-0 ⊆ non-TRUE allowed-0");
        Assert.That((uint)t & ~(uint)(t >> 32), Is.Zero, "TRUE allowed-0 ⊆ allowed-1");
        Assert.That(t >> 32, Is.EqualTo(n >> 32), "same allowed-1");
    }

    [Test]
    public void TrueControls_ClearExactlyKvmsDefault1Bits()
    {
        Assert.That((uint)Rdmsr(VmxMsr.ProcbasedCtls) ^ (uint)Rdmsr(VmxMsr.TrueProcbasedCtls),
            Is.EqualTo((uint)(CpuBasedControls.Cr3LoadExiting | CpuBasedControls.Cr3StoreExiting)));
        Assert.That((uint)Rdmsr(VmxMsr.ExitCtls) ^ (uint)Rdmsr(VmxMsr.TrueExitCtls), Is.EqualTo((uint)VmExitControls.SaveDebugControls));
        Assert.That((uint)Rdmsr(VmxMsr.EntryCtls) ^ (uint)Rdmsr(VmxMsr.TrueEntryCtls), Is.EqualTo((uint)VmEntryControls.LoadDebugControls));
        Assert.That((uint)Rdmsr(VmxMsr.PinbasedCtls), Is.EqualTo((uint)Rdmsr(VmxMsr.TruePinbasedCtls)));
    }

    [Test]
    public void Basic_DescribesTheVmcs12Layout()
    {
        ulong basic = Rdmsr(VmxMsr.Basic);
        Assert.That(basic & 0x7FFF_FFFF, Is.EqualTo((ulong)Vmcs12Layout.Revision), "bits 30:0 revision");
        Assert.That((basic >> 31) & 1, Is.Zero, "bit 31");
        Assert.That((basic >> 32) & 0x1FFF, Is.EqualTo(4096UL), "bits 44:32 region size");
        Assert.That((basic >> 48) & 1, Is.Zero, "bit 48: full physical-address width");
        Assert.That((basic >> 49) & 1, Is.Zero, "bit 49: no dual-monitor treatment");
        Assert.That((basic >> 50) & 0xF, Is.EqualTo(6UL), "bits 53:50 write-back");
        Assert.That((basic >> 54) & 1, Is.EqualTo(1UL), "bit 54 INS/OUTS information");
        Assert.That((basic >> 55) & 1, Is.EqualTo(1UL), "bit 55 TRUE controls");
        Assert.That(basic >> 56, Is.Zero);
    }

    [Test]
    public void ProcbasedCtls_OffersSecondaryButNotTertiaryControls()
    {
        ulong allowed1 = Rdmsr(VmxMsr.ProcbasedCtls) >> 32;
        Assert.That(allowed1 & (ulong)CpuBasedControls.ActivateSecondaryControls, Is.Not.Zero);
        Assert.That(allowed1 & (ulong)CpuBasedControls.ActivateTertiaryControls, Is.Zero);
        ulong secondary = Rdmsr(VmxMsr.ProcbasedCtls2) >> 32;
        Assert.That(secondary & (ulong)(SecondaryControls.EnableEpt | SecondaryControls.EnableVpid | SecondaryControls.UnrestrictedGuest
            | SecondaryControls.EnableVmFunctions | SecondaryControls.ShadowVmcs), Is.Zero, "not yet");
        Assert.That(Rdmsr(VmxMsr.EptVpidCap), Is.Zero);
        Assert.That(Rdmsr(VmxMsr.Vmfunc), Is.Zero);
    }

    [Test]
    public void VmcsEnum_IsTheFieldTablesHighestIndex()
    {
        int highest = 0;
        foreach (VmcsFieldInfo row in VmcsFieldTable.Fields)
        {
            highest = Math.Max(highest, row.Encoding.Index);
        }

        Assert.That(Rdmsr(VmxMsr.VmcsEnum), Is.EqualTo((ulong)highest << 1));
    }

    [Test]
    public void Misc_AdvertisesVmwriteAnyFieldHltAndFourCr3Targets()
    {
        ulong misc = Rdmsr(VmxMsr.Misc);
        Assert.That(misc & 0x1F, Is.Zero, "no preemption timer");
        Assert.That((misc >> 5) & 1, Is.EqualTo(1UL), "EFER.LMA saved");
        Assert.That((misc >> 6) & 7, Is.EqualTo(1UL), "activity state HLT only");
        Assert.That((misc >> 16) & 0x1FF, Is.EqualTo(4UL), "CR3-target count");
        Assert.That((misc >> 25) & 7, Is.Zero, "512 MSR-list entries");
        Assert.That((misc >> 29) & 1, Is.EqualTo(1UL), "VMWRITE to any field");
        Assert.That(misc >> 32, Is.Zero, "MSEG revision");
        Assert.That(new VmxCapabilities(0, vmwriteAnyField: false).Misc & VmxCapabilities.MiscVmwriteAnyField, Is.Zero);
    }

    [Test]
    public void FixedBits_Fixed0WithinFixed1AndTheVmxTestBedStateIsValid()
    {
        ulong cr0Fixed0 = Rdmsr(VmxMsr.Cr0Fixed0);
        ulong cr0Fixed1 = Rdmsr(VmxMsr.Cr0Fixed1);
        ulong cr4Fixed0 = Rdmsr(VmxMsr.Cr4Fixed0);
        ulong cr4Fixed1 = Rdmsr(VmxMsr.Cr4Fixed1);
        Assert.That(cr0Fixed0, Is.EqualTo(CpuState.Cr0Pe | CpuState.Cr0Ne | CpuState.Cr0Pg));
        Assert.That(cr0Fixed0 & ~cr0Fixed1, Is.Zero);
        Assert.That(cr4Fixed0, Is.EqualTo(CpuState.Cr4Vmxe));
        Assert.That(cr4Fixed0 & ~cr4Fixed1, Is.Zero);

        using var h = new CpuHarness(CpuMode.Long64);
        Vcpu cpu = h.Cpu;
        cpu.Vmx = new VcpuVmx(cpu);
        Assert.That(cr4Fixed1, Is.EqualTo(cpu.Cr4Supported), "FIXED1 = the CR4 bits MOV to CR4 accepts");
    }
}
