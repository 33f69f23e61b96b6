using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// The VMX instructions (SDM Vol. 3C "VMX Instruction Reference"): forwarded to the vCPU's virtualization
/// extension, or #UD when it has none ("IF (not in VMX operation) ... THEN #UD" for all of them; VMXON's
/// "CR4.VMXE = 0" cannot be met either, as CR4.VMXE is reserved without VMX).
/// </summary>
internal static unsafe partial class Handlers
{
    private static void RegisterVmx(HandlerFn[] t)
    {
        Set(t, &Vmxon, Code.Vmxon_m64);
        Set(t, &Vmxoff, Code.Vmxoff);
        Set(t, &Vmclear, Code.Vmclear_m64);
        Set(t, &Vmptrld, Code.Vmptrld_m64);
        Set(t, &Vmptrst, Code.Vmptrst_m64);
        Set(t, &Vmread, Code.Vmread_rm32_r32, Code.Vmread_rm64_r64);
        Set(t, &Vmwrite, Code.Vmwrite_r32_rm32, Code.Vmwrite_r64_rm64);
        Set(t, &Vmlaunch, Code.Vmlaunch);
        Set(t, &Vmresume, Code.Vmresume);
        Set(t, &Vmcall, Code.Vmcall);
        Set(t, &Invept, Code.Invept_r32_m128, Code.Invept_r64_m128);
        Set(t, &Invvpid, Code.Invvpid_r32_m128, Code.Invvpid_r64_m128);
        Set(t, &Vmfunc, Code.Vmfunc);
    }

    private static void Vmxon(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmxon, in i);

    private static void Vmxoff(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmxoff, in i);

    private static void Vmclear(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmclear, in i);

    private static void Vmptrld(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmptrld, in i);

    private static void Vmptrst(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmptrst, in i);

    private static void Vmread(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmread, in i);

    private static void Vmwrite(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmwrite, in i);

    private static void Vmlaunch(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmlaunch, in i);

    private static void Vmresume(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmresume, in i);

    private static void Vmcall(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmcall, in i);

    private static void Invept(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Invept, in i);

    private static void Invvpid(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Invvpid, in i);

    private static void Vmfunc(Vcpu cpu, in Instruction i) => ForwardVmx(cpu, VmxInstruction.Vmfunc, in i);

    private static void ForwardVmx(Vcpu cpu, VmxInstruction instruction, in Instruction i)
    {
        if (cpu.Vmx is { } vmx)
        {
            vmx.Execute(cpu, instruction, in i);
        }
        else
        {
            cpu.RaiseUd();
        }
    }
}
