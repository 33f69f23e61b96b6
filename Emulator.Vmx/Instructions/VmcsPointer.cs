using Emulator.Cpu;
using Emulator.Vmx.Instructions;
using Emulator.Vmx.Vmcs;
using Iced.Intel;

namespace Emulator.Vmx;

/// <summary>
/// The current-VMCS pointer: VMCLEAR, VMPTRLD, VMPTRST. vmcs12 is cached in <see cref="CachedVmcs12"/> while it is
/// current (DESIGN "Hot path"), loaded by VMPTRLD and written back to guest memory when it stops being current.
/// </summary>
internal sealed partial class VcpuVmx
{
    /// <summary>SDM Vol. 3C "VMCLEAR—Clear Virtual-Machine Control Structure" (KVM's <c>handle_vmclear</c>).</summary>
    private void HandleVmclear(Vcpu cpu, in Instruction i)
    {
        if (!CheckPermission(cpu) || !cpu.ReadOp(in i, 0, sizeof(ulong), out ulong vmptr))
        {
            return;
        }

        if (!PageAddressValid(vmptr))
        {
            VmFail(cpu, VmInstructionError.VmclearInvalidAddress);
            return;
        }

        if (vmptr == VmxonPtr)
        {
            VmFail(cpu, VmInstructionError.VmclearVmxonPointer);
            return;
        }

        // "ensure that data for VMCS referenced by the operand is in memory; ... launch state := clear;
        // IF operand addr = current-VMCS pointer THEN current-VMCS pointer := FFFFFFFF_FFFFFFFFH".
        if (vmptr == CurrentVmptr)
        {
            ReleaseVmcs12(cpu);
        }

        // A VMCS that is not current lives only in guest memory; like KVM, a region outside RAM is not an error.
        cpu.Memory.Write(vmptr + Vmcs12Layout.LaunchStateOffset, sizeof(uint), 0);
        VmSucceed(cpu);
    }

    /// <summary>SDM Vol. 3C "VMPTRLD—Load Pointer to Virtual-Machine Control Structure" (KVM's <c>handle_vmptrld</c>).</summary>
    private void HandleVmptrld(Vcpu cpu, in Instruction i)
    {
        if (!CheckPermission(cpu) || !cpu.ReadOp(in i, 0, sizeof(ulong), out ulong vmptr))
        {
            return;
        }

        if (!PageAddressValid(vmptr))
        {
            VmFail(cpu, VmInstructionError.VmptrldInvalidAddress);
            return;
        }

        if (vmptr == VmxonPtr)
        {
            VmFail(cpu, VmInstructionError.VmptrldVmxonPointer);
            return;
        }

        if (vmptr == CurrentVmptr)
        {
            // Already current: the cache is the truth, re-reading guest memory would lose it.
            VmSucceed(cpu);
            return;
        }

        // "IF rev[30:0] ≠ VMCS revision identifier supported by processor OR rev[31] = 1 AND processor does not
        // support 1-setting of 'VMCS shadowing' THEN VMfail(VMPTRLD with incorrect VMCS revision identifier)".
        // VMCS shadowing is not offered, so a set shadow-VMCS indicator always fails.
        uint revision = (uint)cpu.Memory.Read(vmptr + Vmcs12Layout.RevisionIdOffset, sizeof(uint));
        if (revision != Vmcs12Layout.Revision)
        {
            VmFail(cpu, VmInstructionError.VmptrldIncorrectVmcsRevisionId);
            return;
        }

        ReleaseVmcs12(cpu);
        cpu.Memory.ReadBytes(vmptr, _cachedVmcs12);
        CurrentVmptr = vmptr;
        VmSucceed(cpu);
    }

    /// <summary>SDM Vol. 3C "VMPTRST—Store Pointer to Virtual-Machine Control Structure" (KVM's <c>handle_vmptrst</c>).</summary>
    private void HandleVmptrst(Vcpu cpu, in Instruction i)
    {
        // "64-bit in-memory destination operand := current-VMCS pointer" (FFFFFFFF_FFFFFFFFH when there is none).
        if (!CheckPermission(cpu) || !cpu.WriteOp0(in i, sizeof(ulong), CurrentVmptr))
        {
            return;
        }

        VmSucceed(cpu);
    }

    /// <summary>
    /// Writes the cached vmcs12 back to guest memory and forgets it (KVM's <c>nested_release_vmcs12</c>). Guest
    /// memory that is not RAM keeps nothing, as KVM ignores such write errors.
    /// </summary>
    private void ReleaseVmcs12(Vcpu cpu)
    {
        if (CurrentVmptr == InvalidGpa)
        {
            return;
        }

        cpu.Memory.TryWriteBytes(CurrentVmptr, _cachedVmcs12);
        CurrentVmptr = InvalidGpa;
    }
}
