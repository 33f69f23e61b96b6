using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Vmx.Instructions;

/// <summary>VMX discovery and enabling, VMXON and VMXOFF (SDM Vol. 3C "VMXON—Enter VMX Operation", "VMXOFF—Leave VMX Operation").</summary>
[TestFixture]
internal sealed class VmxOperationTests
{
    private const int Ud = 6;
    private const int Gp = 13;

    // ------------------------------------------------------------------ without VMX

    [TestCase(new byte[] { 0xF3, 0x0F, 0xC7, 0x30 }, TestName = "NoVmx_Vmxon_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x01, 0xC4 }, TestName = "NoVmx_Vmxoff_RaisesUd")]
    [TestCase(new byte[] { 0x66, 0x0F, 0xC7, 0x30 }, TestName = "NoVmx_Vmclear_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0xC7, 0x30 }, TestName = "NoVmx_Vmptrld_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0xC7, 0x38 }, TestName = "NoVmx_Vmptrst_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x78, 0xC8 }, TestName = "NoVmx_Vmread_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x79, 0xC8 }, TestName = "NoVmx_Vmwrite_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x01, 0xC2 }, TestName = "NoVmx_Vmlaunch_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x01, 0xC3 }, TestName = "NoVmx_Vmresume_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x01, 0xC1 }, TestName = "NoVmx_Vmcall_RaisesUd")]
    [TestCase(new byte[] { 0x66, 0x0F, 0x38, 0x80, 0x00 }, TestName = "NoVmx_Invept_RaisesUd")]
    [TestCase(new byte[] { 0x66, 0x0F, 0x38, 0x81, 0x00 }, TestName = "NoVmx_Invvpid_RaisesUd")]
    [TestCase(new byte[] { 0x0F, 0x01, 0xD4 }, TestName = "NoVmx_Vmfunc_RaisesUd")]
    public void NoVmx_VmxInstruction_RaisesUd(byte[] code)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = CpuHarness.DataAddress;
        h.LoadBytes(code);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(Ud));
        Assert.That(h.Cpu.Rip, Is.EqualTo(CpuHarness.CodeAddress));
    }

    [Test]
    public void NoVmx_Discovery_IsOff()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Cpuid(1, 0, out _, out _, out uint ecx, out _);
        Assert.That(ecx & (1u << 5), Is.Zero, "CPUID.1:ECX.VMX");
        Assert.That(h.Cpu.ReadMsr(0x480, out _), Is.False, "IA32_VMX_BASIC #GP");
        Assert.That(h.Cpu.WriteMsr(0x3A, 5), Is.False, "FEATURE_CONTROL bit 2 reserved");
        Assert.That(h.Cpu.WriteCr4(h.Cpu.State.Cr4 | CpuState.Cr4Vmxe), Is.False, "CR4.VMXE reserved");
    }

    // ------------------------------------------------------------------ discovery and enabling

    [Test]
    public void Vmx_Discovery_IsOn()
    {
        using var bed = new VmxTestBed();
        Vcpu cpu = bed.H.Cpu;
        cpu.Cpuid(1, 0, out _, out _, out uint ecx, out _);
        Assert.That(ecx & (1u << 5), Is.Not.Zero, "CPUID.1:ECX.VMX");
        Assert.That(cpu.ReadMsr(0x480, out ulong basic), Is.True);
        Assert.That((uint)basic, Is.EqualTo(Vmcs12Layout.Revision));
        Assert.That(cpu.WriteMsr(0x480, basic), Is.False, "capability MSRs are read-only");
        Assert.That(cpu.ReadMsr(0x492, out _), Is.False, "no tertiary controls, no IA32_VMX_PROCBASED_CTLS3");
        Assert.That(cpu.ReadMsr(0x493, out _), Is.False);
    }

    [Test]
    public void FeatureControl_Bits_FollowSdm()
    {
        using var bed = new VmxTestBed();
        Vcpu cpu = bed.H.Cpu;
        cpu.State.FeatureControl = 0;
        Assert.That(cpu.WriteMsr(0x3A, 2), Is.False, "bit 1 (VMXON inside SMX) reserved without SMX");
        Assert.That(cpu.WriteMsr(0x3A, 4), Is.True);
        Assert.That(cpu.WriteMsr(0x3A, 5), Is.True, "lock");
        Assert.That(cpu.WriteMsr(0x3A, 5), Is.False, "locked until reset");
        Assert.That(cpu.ReadMsr(0x3A, out ulong v) ? v : 0, Is.EqualTo(5UL));
    }

    // ------------------------------------------------------------------ VMXON

    [Test]
    public void Vmxon_Valid_EntersVmxRootOperation()
    {
        using var bed = new VmxTestBed();
        ulong flags = bed.Exec(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion));
        Assert.That(flags, Is.Zero, "VMsucceed");
        Assert.That(bed.Vmx.VmxOn, Is.True);
        Assert.That(bed.Vmx.VmxonPtr, Is.EqualTo(VmxTestBed.VmxonRegion));
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VcpuVmx.InvalidGpa));
    }

    [Test]
    public void Vmxon_Cr4VmxeClear_RaisesUd()
    {
        using var bed = new VmxTestBed();
        bed.H.Cpu.State.Cr4 &= ~CpuState.Cr4Vmxe;
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(Ud));
        Assert.That(bed.Vmx.VmxOn, Is.False);
    }

    [Test]
    public void Vmxon_CompatibilityMode_RaisesUd()
    {
        using var bed = new VmxTestBed();
        bed.H.Cpu.State.Seg[(int)SegReg.Cs].Attr = (bed.H.Cpu.State.Seg[(int)SegReg.Cs].Attr & ~Segment.AttrL) | Segment.AttrDb;
        bed.H.Cpu.InvalidateFetch();
        bed.H[Register.RAX] = bed.Ptr(VmxTestBed.VmxonRegion);
        bed.H.LoadBytes([0xF3, 0x0F, 0xC7, 0x30]); // vmxon [eax]
        bed.H.Cpu.Run(1);
        Assert.That(bed.H.Cpu.LastEventVector, Is.EqualTo(Ud));
        Assert.That(bed.Vmx.VmxOn, Is.False);
    }

    [Test]
    public void Vmxon_Cpl3_RaisesGp()
    {
        using var bed = new VmxTestBed();
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(Gp));
    }

    [TestCase(0UL, TestName = "Vmxon_FeatureControlClear_RaisesGp")]
    [TestCase(4UL, TestName = "Vmxon_FeatureControlUnlocked_RaisesGp")]
    [TestCase(1UL, TestName = "Vmxon_FeatureControlLockedWithoutVmxOutsideSmx_RaisesGp")]
    public void Vmxon_FeatureControl_RaisesGp(ulong featureControl)
    {
        using var bed = new VmxTestBed();
        bed.H.Cpu.State.FeatureControl = featureControl;
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(Gp));
        Assert.That(bed.Vmx.VmxOn, Is.False);
    }

    [Test]
    public void Vmxon_Cr0NeClear_ViolatesFixed0_RaisesGp()
    {
        using var bed = new VmxTestBed();
        bed.H.Cpu.State.Cr0 &= ~CpuState.Cr0Ne;
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(Gp));
    }

    [Test]
    public void Vmxon_NonCanonicalOperand_RaisesGp()
    {
        using var bed = new VmxTestBed();
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), 0x8000_0000_0000_0000), Is.EqualTo(Gp));
    }

    [TestCase(VmxTestBed.VmxonRegion + 8, TestName = "Vmxon_UnalignedRegion_VmFailInvalid")]
    [TestCase(1UL << 40, TestName = "Vmxon_RegionBeyondMaxPhysAddr_VmFailInvalid")]
    public void Vmxon_BadRegionAddress_VmFailInvalid(ulong region)
    {
        using var bed = new VmxTestBed();
        Assert.That(bed.Exec(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(region)), Is.EqualTo(CpuState.FlagCf));
        Assert.That(bed.Vmx.VmxOn, Is.False);
    }

    [TestCase(Vmcs12Layout.Revision + 1, TestName = "Vmxon_WrongRevision_VmFailInvalid")]
    [TestCase(Vmcs12Layout.Revision | Vmcs12Layout.ShadowVmcsIndicator, TestName = "Vmxon_RevisionBit31Set_VmFailInvalid")]
    public void Vmxon_BadRevision_VmFailInvalid(uint revision)
    {
        using var bed = new VmxTestBed();
        bed.H.Memory.Write(VmxTestBed.VmxonRegion, 4, revision);
        Assert.That(bed.Exec(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(CpuState.FlagCf));
        Assert.That(bed.Vmx.VmxOn, Is.False);
    }

    [Test]
    public void Vmxon_InVmxRootWithoutCurrentVmcs_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void Vmxon_InVmxRootWithCurrentVmcs_VmFailValid15()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(15UL));
    }

    [Test]
    public void Vmxon_InVmxRootAtCpl3_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmxon(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(Gp));
    }

    // ------------------------------------------------------------------ fixed bits in VMX operation

    [Test]
    public void MovCr4_ClearVmxeInVmxOperation_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H[Register.RBX] = bed.H.Cpu.State.Cr4 & ~CpuState.Cr4Vmxe;
        bed.H.Load(a => a.mov(cr4, rbx));
        bed.H.Cpu.Run(1);
        Assert.That(bed.H.Cpu.LastEventVector, Is.EqualTo(Gp));
        Assert.That(bed.H.Cpu.State.Cr4 & CpuState.Cr4Vmxe, Is.Not.Zero);
    }

    [Test]
    public void MovCr0_ClearNeInVmxOperation_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H[Register.RBX] = bed.H.Cpu.State.Cr0 & ~CpuState.Cr0Ne;
        bed.H.Load(a => a.mov(cr0, rbx));
        bed.H.Cpu.Run(1);
        Assert.That(bed.H.Cpu.LastEventVector, Is.EqualTo(Gp));
        Assert.That(bed.H.Cpu.State.Cr0 & CpuState.Cr0Ne, Is.Not.Zero);
    }

    [Test]
    public void MovCr4_ClearVmxeAfterVmxoff_Succeeds()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmxoff()), Is.Zero);
        bed.H[Register.RBX] = bed.H.Cpu.State.Cr4 & ~CpuState.Cr4Vmxe;
        bed.H.Load(a => a.mov(cr4, rbx)).Run();
        Assert.That(bed.H.Cpu.State.Cr4 & CpuState.Cr4Vmxe, Is.Zero);
    }

    // ------------------------------------------------------------------ VMXOFF

    [Test]
    public void Vmxoff_InVmxRoot_LeavesVmxOperation()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmxoff()), Is.Zero, "VMsucceed");
        Assert.That(bed.Vmx.VmxOn, Is.False);
        Assert.That(bed.Fault(a => a.vmxoff()), Is.EqualTo(Ud), "a second VMXOFF is outside VMX operation");
    }

    [Test]
    public void Vmxoff_WithCurrentVmcs_WritesVmcs12BackToMemory()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRip;
        bed.H[Register.RCX] = 0x1234_5678;
        Assert.That(bed.Exec(a => a.vmwrite(rbx, rcx)), Is.Zero);
        Assert.That(bed.Exec(a => a.vmxoff()), Is.Zero);
        ulong offset = VmcsFieldTable.GetInfo(VmcsField.GuestRip).Vmcs12Offset;
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs1 + offset, 8), Is.EqualTo(0x1234_5678UL));
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VcpuVmx.InvalidGpa));
    }

    [Test]
    public void Vmxoff_Cpl3_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmxoff()), Is.EqualTo(Gp));
        Assert.That(bed.Vmx.VmxOn, Is.True);
    }

    [Test]
    public void Vmxoff_CompatibilityMode_RaisesUd()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Cpu.State.Seg[(int)SegReg.Cs].Attr = (bed.H.Cpu.State.Seg[(int)SegReg.Cs].Attr & ~Segment.AttrL) | Segment.AttrDb;
        bed.H.Cpu.InvalidateFetch();
        bed.H.LoadBytes([0x0F, 0x01, 0xC4]);
        bed.H.Cpu.Run(1);
        Assert.That(bed.H.Cpu.LastEventVector, Is.EqualTo(Ud));
        Assert.That(bed.Vmx.VmxOn, Is.True);
    }
}
