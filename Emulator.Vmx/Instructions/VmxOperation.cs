using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Capabilities;
using Emulator.Vmx.Instructions;
using Emulator.Vmx.Vmcs;
using Iced.Intel;

namespace Emulator.Vmx;

/// <summary>Entering and leaving VMX operation: VMXON and VMXOFF.</summary>
internal sealed partial class VcpuVmx
{
    private const ulong FeatureControlLocked = 1 << 0;
    private const ulong FeatureControlVmxonOutsideSmx = 1 << 2;

    /// <summary>SDM Vol. 3C "VMXON—Enter VMX Operation" (KVM's <c>handle_vmxon</c>).</summary>
    private void HandleVmxon(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;

        // "IF (register operand) or (CR0.PE = 0) or (CR4.VMXE = 0) or (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and
        // CS.L = 0) THEN #UD". The register form does not decode as VMXON.
        if (!s.ProtectedMode || (s.Cr4 & CpuState.Cr4Vmxe) == 0 || s.V86 || IsCompatibilityMode(in s))
        {
            cpu.RaiseUd();
            return;
        }

        if (VmxOn)
        {
            // "ELSIF in VMX non-root operation THEN VMexit; ELSIF CPL > 0 THEN #GP(0);
            // ELSE VMfail("VMXON executed in VMX root operation")".
            if (GuestMode)
            {
                NestedVmExitOnInstruction(cpu);
                return;
            }

            if (s.Cpl > 0)
            {
                cpu.RaiseGp();
                return;
            }

            VmFail(cpu, VmInstructionError.VmxonInVmxRootOperation);
            return;
        }

        // "IF (CPL > 0) or (in A20M mode) or (the values of CR0 and CR4 are not supported in VMX operation) or
        // (bit 0 (lock bit) of IA32_FEATURE_CONTROL MSR is clear) or (in SMX operation and bit 1 ... is clear) or
        // (outside SMX operation and bit 2 ... is clear) THEN #GP(0)". This processor has no A20M and no SMX.
        if (s.Cpl > 0
            || !VmxCapabilities.IsCr0Valid(s.Cr0)
            || !Capabilities.IsCr4Valid(s.Cr4)
            || (s.FeatureControl & FeatureControlLocked) == 0
            || (s.FeatureControl & FeatureControlVmxonOutsideSmx) == 0)
        {
            cpu.RaiseGp();
            return;
        }

        if (!cpu.ReadOp(in i, 0, sizeof(ulong), out ulong vmxonPtr))
        {
            return;
        }

        // "IF addr is not 4KB-aligned or addr sets any bits beyond the physical-address width THEN VMfailInvalid".
        if (!PageAddressValid(vmxonPtr))
        {
            VmFailInvalid(cpu);
            return;
        }

        // "IF rev[30:0] ≠ VMCS revision identifier supported by processor OR rev[31] = 1 THEN VMfailInvalid".
        uint revision = (uint)cpu.Memory.Read(vmxonPtr + Vmcs12Layout.RevisionIdOffset, sizeof(uint));
        if (revision != Vmcs12Layout.Revision)
        {
            VmFailInvalid(cpu);
            return;
        }

        // "current-VMCS pointer := FFFFFFFF_FFFFFFFFH; enter VMX operation; block INIT signals; block and disable
        // A20M; clear address-range monitoring". INIT blocking arrives with the INIT handling of VMX operation.
        CurrentVmptr = InvalidGpa;
        VmxonPtr = vmxonPtr;
        VmxOn = true;
        VmSucceed(cpu);
    }

    /// <summary>SDM Vol. 3C "VMXOFF—Leave VMX Operation" (KVM's <c>handle_vmxoff</c>).</summary>
    private void HandleVmxoff(Vcpu cpu)
    {
        if (!CheckPermission(cpu))
        {
            return;
        }

        // "ELSIF dual-monitor treatment of SMIs and SMM is active THEN VMfail(23)": never, as IA32_VMX_BASIC[49]
        // offers no dual-monitor treatment.
        // The SDM wants software to VMCLEAR its VMCSs first and leaves the data of a still-current one undefined;
        // like KVM (free_nested), write it back so that nothing L1 wrote is lost.
        ReleaseVmcs12(cpu);
        VmxOn = false;
        VmxonPtr = InvalidGpa;
        VmSucceed(cpu);
    }
}
