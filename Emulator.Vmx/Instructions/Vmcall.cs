using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Instructions;

namespace Emulator.Vmx;

/// <summary>VMCALL, INVEPT, INVVPID and VMFUNC in VMX root operation and outside VMX operation.</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>SDM Vol. 3C "VMCALL—Call to VM Monitor" (KVM's <c>handle_vmcall</c> for L1).</summary>
    private void HandleVmcall(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;

        // "IF not in VMX operation THEN #UD; ELSIF in VMX non-root operation THEN VM exit; ELSIF (RFLAGS.VM = 1)
        // or (IA32_EFER.LMA = 1 and CS.L = 0) THEN #UD; ELSIF CPL > 0 THEN #GP(0)". Outside VMX operation the
        // hypercalls of the Hyper-V enlightenments will take VMCALL first, in a later step.
        if (!VmxOn)
        {
            cpu.RaiseUd();
            return;
        }

        if (GuestMode)
        {
            NestedVmExitOnInstruction(cpu);
            return;
        }

        if (s.V86 || IsCompatibilityMode(in s))
        {
            cpu.RaiseUd();
            return;
        }

        if (s.Cpl > 0)
        {
            cpu.RaiseGp();
            return;
        }

        // "ELSIF dual-monitor treatment of SMIs and SMM is active THEN perform an SMM VM exit; ELSIF
        // IA32_SMM_MONITOR_CTL[0] = 0 THEN VMfail(VMCALL executed in VMX root operation)": there is no
        // dual-monitor treatment (IA32_VMX_BASIC[49] = 0), so the valid bit of IA32_SMM_MONITOR_CTL is 0.
        VmFail(cpu, VmInstructionError.VmcallInVmxRootOperation);
    }

    /// <summary>
    /// SDM Vol. 3C "INVEPT—Invalidate Translations Derived from EPT", Exceptions: "#UD ... If the logical processor
    /// does not support EPT". "enable EPT" is not offered (IA32_VMX_PROCBASED_CTLS2[33] = 0), so #UD in every mode.
    /// </summary>
    private static void HandleInvept(Vcpu cpu) => cpu.RaiseUd();

    /// <summary>
    /// SDM Vol. 3C "INVVPID—Invalidate Translations Based on VPID", Exceptions: "#UD ... If the logical processor
    /// does not support VPIDs". "enable VPID" is not offered (IA32_VMX_PROCBASED_CTLS2[37] = 0), so #UD.
    /// </summary>
    private static void HandleInvvpid(Vcpu cpu) => cpu.RaiseUd();

    /// <summary>
    /// SDM Vol. 3C "VMFUNC—Invoke VM function": "#UD If executed outside VMX non-root operation", and "enable VM
    /// functions" is not offered either.
    /// </summary>
    private static void HandleVmfunc(Vcpu cpu) => cpu.RaiseUd();
}
