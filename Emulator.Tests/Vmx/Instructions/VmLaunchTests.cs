using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Vmx.Instructions;

/// <summary>
/// VMLAUNCH/VMRESUME up to VM entry (SDM Vol. 3C "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine"), VMCALL in VMX
/// root operation, and INVEPT/INVVPID/VMFUNC without EPT, VPID or VM functions.
/// </summary>
[TestFixture]
internal sealed class VmLaunchTests
{
    [Test]
    public void Vmlaunch_NoCurrentVmcs_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmlaunch()), Is.EqualTo(CpuState.FlagCf));
        Assert.That(bed.Exec(a => a.vmresume()), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void Vmlaunch_LaunchedVmcs_VmFailValid4()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset] = 1;
        Assert.That(bed.Exec(a => a.vmlaunch()), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(4UL));
    }

    [Test]
    public void Vmresume_ClearVmcs_VmFailValid5()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmresume()), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(5UL));
    }

    [Test]
    public void Vmlaunch_AfterMovSs_VmFailValid26()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Cpu.Rflags = 2 | VmxTestBed.Arith;
        bed.H.Load(a =>
        {
            // A null SS is loadable at CPL 0 in 64-bit mode; what matters is the MOV SS.
            a.xor(ebx, ebx);
            a.mov(ss, bx);
            a.vmlaunch();
        }).Run();
        Assert.That(bed.H.Flags & VmxTestBed.Arith, Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(26UL));
    }

    [Test]
    public void Vmlaunch_ClearVmcs_ReachesEnterGuest()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmlaunch()), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(7UL), "EnterGuest: an empty VMCS fails the control checks");
    }

    [Test]
    public void Vmresume_LaunchedVmcs_ReachesEnterGuest()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.Vmx.CachedVmcs12[Vmcs12Layout.LaunchStateOffset] = 1;
        Assert.That(bed.Exec(a => a.vmresume()), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(7UL));
    }

    [Test]
    public void Vmlaunch_Cpl3_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmlaunch()), Is.EqualTo(13));
    }

    [Test]
    public void Vmlaunch_NotInVmxOperation_RaisesUd()
    {
        using var bed = new VmxTestBed();
        Assert.That(bed.Fault(a => a.vmlaunch()), Is.EqualTo(6));
    }

    [Test]
    public void Vmcall_InVmxRootWithCurrentVmcs_VmFailValid1()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(bed.Exec(a => a.vmcall()), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(1UL));
    }

    [Test]
    public void Vmcall_InVmxRootWithoutCurrentVmcs_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Exec(a => a.vmcall()), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void Vmcall_OutsideVmxOperation_RaisesUd()
    {
        using var bed = new VmxTestBed();
        Assert.That(bed.Fault(a => a.vmcall()), Is.EqualTo(6));
    }

    [Test]
    public void Vmcall_Cpl3InVmxRoot_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmcall()), Is.EqualTo(13));
    }

    [Test]
    public void InveptInvvpidVmfunc_WithoutEptVpidOrVmFunctions_RaiseUd()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(bed.Fault(a => a.invept(rbx, __xmmword_ptr[rax]), VmxTestBed.Operand), Is.EqualTo(6));
        Assert.That(bed.Fault(a => a.invvpid(rbx, __xmmword_ptr[rax]), VmxTestBed.Operand), Is.EqualTo(6));
        Assert.That(bed.Fault(a => a.vmfunc()), Is.EqualTo(6));
    }
}
