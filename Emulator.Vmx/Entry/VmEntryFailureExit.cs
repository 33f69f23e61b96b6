using Emulator.Cpu;
using Emulator.Vmx.Entry;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>A VM entry that fails after the control and host-state checks (KVM's <c>vmentry_fail_vmexit</c>).</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>The outcome of the last VM entry's checks, with the failed condition: for tests, the trace and the debugger.</summary>
    internal VmEntryCheckResult LastEntryCheck { get; private set; }

    /// <summary>
    /// SDM Vol. 3C §27.8 "VM-Entry Failures During or After Loading Guest State": the exit reason (bit 31 set) and
    /// the exit qualification go into vmcs12, nothing else of the exit-information fields changes, the VMCS stays
    /// "clear", and the host state is loaded as on a VM exit.
    /// </summary>
    private void NestedVmxEntryFailure(Vcpu cpu, ushort basicReason, VmEntryFailureCode qualification)
    {
        ExitReason reason = ExitReason.EntryFailure(basicReason);
        Vmcs12Layout.Write(_cachedVmcs12, VmcsField.VmExitReason, reason.Full);
        Vmcs12Layout.Write(_cachedVmcs12, VmcsField.ExitQualification, (ulong)qualification);
        LoadVmcs12HostState(cpu);
    }
}
