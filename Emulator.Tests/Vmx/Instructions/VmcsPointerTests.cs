using Emulator.Cpu.State;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Vmx.Instructions;

/// <summary>SDM Vol. 3C "VMCLEAR", "VMPTRLD", "VMPTRST": the current-VMCS pointer and the vmcs12 cache.</summary>
[TestFixture]
internal sealed class VmcsPointerTests
{
    private static readonly ulong GuestRipOffset = VmcsFieldTable.GetInfo(VmcsField.GuestRip).Vmcs12Offset;

    [Test]
    public void Vmptrld_Valid_MakesVmcsCurrentAndVmptrstStoresIt()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Memory.Write(VmxTestBed.Vmcs1 + GuestRipOffset, 8, 0xABCD);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VmxTestBed.Vmcs1));
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.GuestRip), Is.EqualTo(0xABCDUL), "loaded from memory");
        Assert.That(bed.Exec(a => a.vmptrst(__qword_ptr[rax]), VmxTestBed.Operand + 8), Is.Zero);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Operand + 8, 8), Is.EqualTo(VmxTestBed.Vmcs1));
    }

    [Test]
    public void Vmptrst_NoCurrentVmcs_StoresAllOnes()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmptrst(__qword_ptr[rax]), VmxTestBed.Operand), Is.Zero);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Operand, 8), Is.EqualTo(ulong.MaxValue));
    }

    [Test]
    public void Vmptrst_NotInVmxOperation_RaisesUd()
    {
        using var bed = new VmxTestBed();
        Assert.That(bed.Fault(a => a.vmptrst(__qword_ptr[rax]), VmxTestBed.Operand), Is.EqualTo(6));
    }

    [TestCase(VmxTestBed.Vmcs2 + 0x10, TestName = "Vmptrld_Unaligned_NoCurrent_VmFailInvalid")]
    [TestCase(1UL << 40, TestName = "Vmptrld_BeyondMaxPhysAddr_NoCurrent_VmFailInvalid")]
    [TestCase(VmxTestBed.VmxonRegion, TestName = "Vmptrld_VmxonPointer_NoCurrent_VmFailInvalid")]
    public void Vmptrld_BadPointerWithoutCurrentVmcs_VmFailInvalid(ulong vmptr)
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmptrld(__qword_ptr[rax]), bed.Ptr(vmptr)), Is.EqualTo(CpuState.FlagCf));
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VcpuVmx.InvalidGpa));
    }

    [TestCase(VmxTestBed.Vmcs2 + 0x10, 9UL, TestName = "Vmptrld_Unaligned_VmFailValid9")]
    [TestCase(1UL << 40, 9UL, TestName = "Vmptrld_BeyondMaxPhysAddr_VmFailValid9")]
    [TestCase(VmxTestBed.VmxonRegion, 10UL, TestName = "Vmptrld_VmxonPointer_VmFailValid10")]
    public void Vmptrld_BadPointer_VmFailValid(ulong vmptr, ulong error)
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmptrld(__qword_ptr[rax]), bed.Ptr(vmptr)), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(error));
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VmxTestBed.Vmcs1), "the current VMCS stays");
    }

    [TestCase(Vmcs12Layout.Revision ^ 1, TestName = "Vmptrld_WrongRevision_VmFailValid11")]
    [TestCase(Vmcs12Layout.Revision | Vmcs12Layout.ShadowVmcsIndicator, TestName = "Vmptrld_ShadowIndicatorWithoutShadowing_VmFailValid11")]
    public void Vmptrld_BadRevision_VmFailValid11(uint revision)
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Memory.Write(VmxTestBed.Vmcs2, 4, revision);
        Assert.That(bed.Exec(a => a.vmptrld(__qword_ptr[rax]), bed.Ptr(VmxTestBed.Vmcs2)), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(11UL));
    }

    [Test]
    public void Vmptrld_WrongRevisionWithoutCurrent_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Memory.Write(VmxTestBed.Vmcs2, 4, 0);
        Assert.That(bed.Exec(a => a.vmptrld(__qword_ptr[rax]), bed.Ptr(VmxTestBed.Vmcs2)), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void Vmptrld_AnotherVmcs_WritesTheOldOneBack()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRip;
        bed.H[Register.RCX] = 0x4000;
        Assert.That(bed.Exec(a => a.vmwrite(rbx, rcx)), Is.Zero);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs1 + GuestRipOffset, 8), Is.Zero, "cached while current");
        bed.Vmptrld(VmxTestBed.Vmcs2);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs1 + GuestRipOffset, 8), Is.EqualTo(0x4000UL));
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.GuestRip), Is.Zero);
    }

    [Test]
    public void Vmptrld_SameVmcs_KeepsTheCache()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRip;
        bed.H[Register.RCX] = 0x4000;
        Assert.That(bed.Exec(a => a.vmwrite(rbx, rcx)), Is.Zero);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.GuestRip), Is.EqualTo(0x4000UL));
    }

    [Test]
    public void Vmclear_CurrentVmcs_WritesBackClearsLaunchStateAndCurrentPointer()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset] = 1;
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRip;
        bed.H[Register.RCX] = 0x5000;
        Assert.That(bed.Exec(a => a.vmwrite(rbx, rcx)), Is.Zero);
        Assert.That(bed.Exec(a => a.vmclear(__qword_ptr[rax]), bed.Ptr(VmxTestBed.Vmcs1)), Is.Zero);
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VcpuVmx.InvalidGpa));
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs1 + GuestRipOffset, 8), Is.EqualTo(0x5000UL));
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs1 + Vmcs12Layout.LaunchStateOffset, 4), Is.Zero);
    }

    [Test]
    public void Vmclear_NotCurrentVmcs_ClearsLaunchStateInMemoryAndKeepsCurrent()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Memory.Write(VmxTestBed.Vmcs2 + Vmcs12Layout.LaunchStateOffset, 4, 1);
        Assert.That(bed.Exec(a => a.vmclear(__qword_ptr[rax]), bed.Ptr(VmxTestBed.Vmcs2)), Is.Zero);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Vmcs2 + Vmcs12Layout.LaunchStateOffset, 4), Is.Zero);
        Assert.That(bed.Vmx.CurrentVmptr, Is.EqualTo(VmxTestBed.Vmcs1));
    }

    [TestCase(VmxTestBed.Vmcs2 + 0x800, 2UL, TestName = "Vmclear_Unaligned_VmFailValid2")]
    [TestCase(1UL << 40, 2UL, TestName = "Vmclear_BeyondMaxPhysAddr_VmFailValid2")]
    [TestCase(VmxTestBed.VmxonRegion, 3UL, TestName = "Vmclear_VmxonPointer_VmFailValid3")]
    public void Vmclear_BadPointer_VmFailValid(ulong vmptr, ulong error)
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmclear(__qword_ptr[rax]), bed.Ptr(vmptr)), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(error));
    }

    [Test]
    public void Vmclear_BadPointerWithoutCurrent_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmclear(__qword_ptr[rax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void Vmclear_Cpl3_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmclear(__qword_ptr[rax]), bed.Ptr(VmxTestBed.Vmcs1)), Is.EqualTo(13));
    }
}
