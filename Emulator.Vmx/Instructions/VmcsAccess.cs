using Emulator.Cpu;
using Emulator.Vmx.Instructions;
using Emulator.Vmx.Vmcs;
using Iced.Intel;

namespace Emulator.Vmx;

/// <summary>
/// VMREAD and VMWRITE on the cached vmcs12: a table lookup and a span access, allocation-free (DESIGN "Hot path").
/// The operand size is 64 bits in 64-bit mode and 32 bits outside it; a field narrower than the operand is
/// zero-extended on VMREAD, a field wider than it gets the operand zero-extended on VMWRITE.
/// </summary>
internal sealed partial class VcpuVmx
{
    /// <summary>SDM Vol. 3C "VMREAD—Read Field from Virtual-Machine Control Structure" (KVM's <c>handle_vmread</c>).</summary>
    private void HandleVmread(Vcpu cpu, in Instruction i)
    {
        if (!CheckPermission(cpu))
        {
            return;
        }

        // "ELSIF (in VMX root operation AND current-VMCS pointer is not valid) OR (in VMX non-root operation AND
        // VMCS link pointer is not valid) THEN VMfailInvalid". Non-root VMREAD has exited above (no VMCS shadowing).
        if (CurrentVmptr == InvalidGpa)
        {
            VmFailInvalid(cpu);
            return;
        }

        // The encoding is the whole register: bits 63:32 (64-bit mode) or 31:16 set name no field.
        ulong encoding = cpu.ReadGpr(i.Op1Register);
        if (!Vmcs12Layout.TryRead(_cachedVmcs12, encoding, out ulong value))
        {
            VmFailValid(cpu, VmInstructionError.UnsupportedVmcsComponent);
            return;
        }

        int size = cpu.State.Is64 ? sizeof(ulong) : sizeof(uint);
        if (!cpu.WriteOp0(in i, size, value))
        {
            return;
        }

        VmSucceed(cpu);
    }

    /// <summary>SDM Vol. 3C "VMWRITE—Write Field to Virtual-Machine Control Structure" (KVM's <c>handle_vmwrite</c>).</summary>
    private void HandleVmwrite(Vcpu cpu, in Instruction i)
    {
        if (!CheckPermission(cpu))
        {
            return;
        }

        if (CurrentVmptr == InvalidGpa)
        {
            VmFailInvalid(cpu);
            return;
        }

        // The source is read before the field is checked, as KVM does: a faulting source faults even for a bad
        // encoding.
        int size = cpu.State.Is64 ? sizeof(ulong) : sizeof(uint);
        if (!cpu.ReadOp(in i, 1, size, out ulong value))
        {
            return;
        }

        ulong encoding = cpu.ReadGpr(i.Op0Register);
        short offset = VmcsFieldTable.GetVmcs12Offset(encoding);
        if (offset < 0)
        {
            VmFailValid(cpu, VmInstructionError.UnsupportedVmcsComponent);
            return;
        }

        // "ELSIF VMCS field indexed by secondary source operand is a VM-exit information field AND processor does
        // not support writing to such fields THEN VMfailValid(VMWRITE to read-only VMCS component)".
        var field = new VmcsFieldEncoding((ushort)encoding);
        if (field.IsReadOnly && !Capabilities.VmwriteAnyField)
        {
            VmFailValid(cpu, VmInstructionError.VmwriteReadOnlyVmcsComponent);
            return;
        }

        VmcsFieldAccessor.Write(_cachedVmcs12, (ushort)offset, field.AccessWidth, value);
        VmSucceed(cpu);
    }
}
