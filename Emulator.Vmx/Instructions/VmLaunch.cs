using Emulator.Cpu;
using Emulator.Vmx.Entry;
using Emulator.Vmx.Instructions;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>VMLAUNCH and VMRESUME up to VM entry (KVM's <c>nested_vmx_run</c>).</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>vmcs12 launch state "launched" (KVM's <c>launch_state</c> = 1); 0 is "clear".</summary>
    private const uint LaunchStateLaunched = 1;

    /// <summary>
    /// SDM Vol. 3C "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine", Operation, up to "Check settings of VMX
    /// controls and host-state area", which <see cref="EnterGuest"/> starts.
    /// </summary>
    private void NestedVmxRun(Vcpu cpu, bool launch)
    {
        if (!CheckPermission(cpu))
        {
            return;
        }

        // "ELSIF current-VMCS pointer is not valid THEN VMfailInvalid; ELSIF current VMCS is a shadow VMCS THEN
        // VMfailInvalid". VMPTRLD never makes a shadow VMCS current (VMCS shadowing is not offered).
        if (CurrentVmptr == InvalidGpa)
        {
            VmFailInvalid(cpu);
            return;
        }

        // "ELSIF events are being blocked by MOV SS THEN VMfailValid(VM entry with events blocked by MOV SS)".
        if (cpu.BlockingByMovSs)
        {
            VmFailValid(cpu, VmInstructionError.EntryEventsBlockedByMovSs);
            return;
        }

        // "ELSIF (VMLAUNCH and launch state of current VMCS is not "clear") THEN VMfailValid(VMLAUNCH with
        // non-clear VMCS); ELSIF (VMRESUME and launch state of current VMCS is not "launched") THEN
        // VMfailValid(VMRESUME with non-launched VMCS)".
        bool launched = Vmcs12LaunchState == LaunchStateLaunched;
        if (launch && launched)
        {
            VmFailValid(cpu, VmInstructionError.VmlaunchNonclearVmcs);
            return;
        }

        if (!launch && !launched)
        {
            VmFailValid(cpu, VmInstructionError.VmresumeNonlaunchedVmcs);
            return;
        }

        EnterGuest(cpu, launch);
    }

    /// <summary>The launch state of the current vmcs12.</summary>
    private uint Vmcs12LaunchState => (uint)VmcsFieldAccessor.Read(_cachedVmcs12, Vmcs12Layout.LaunchStateOffset, VmcsFieldWidth.U32);

    /// <summary>
    /// VM entry from "Check settings of VMX controls and host-state area" on (SDM Vol. 3C chapter "VM Entries"):
    /// the control and host-state checks, the guest-state checks, loading the guest state and MSRs, and running
    /// L2. Control failures are VMfailValid(7), host-state failures VMfailValid(8), guest-state failures a
    /// VM-entry-failure exit to L1 (<see cref="NestedVmxEntryFailure"/>). A successful entry does not VMsucceed:
    /// RFLAGS is L2's, and the CPU runs L2 from the guest RIP in VMX non-root operation (or from the handler of the
    /// injected event). The VM-entry MSR-load list is not processed yet.
    /// </summary>
    internal void EnterGuest(Vcpu cpu, bool launch)
    {
        var checks = new VmEntryChecks(_cachedVmcs12, Capabilities, cpu);

        // SDM Vol. 3C §27.2 "Checks on VMX Controls and Host-State Area".
        LastEntryCheck = checks.CheckControls();
        if (!LastEntryCheck.Passed)
        {
            VmFailValid(cpu, VmInstructionError.EntryInvalidControlField);
            return;
        }

        LastEntryCheck = checks.CheckHostState();
        if (!LastEntryCheck.Passed)
        {
            VmFailValid(cpu, VmInstructionError.EntryInvalidHostStateField);
            return;
        }

        // SDM Vol. 3C §27.3.1 "Checks on the Guest State Area".
        LastEntryCheck = checks.CheckGuestState();
        if (!LastEntryCheck.Passed)
        {
            NestedVmxEntryFailure(cpu, ExitReason.InvalidState, LastEntryCheck.Qualification);
            return;
        }

        // SDM Vol. 3C §27.3.2 "Loading Guest State" and §27.3.3/§27.3.4 (non-register state, TLB).
        LoadVmcs12GuestState(cpu);

        // SDM "VMLAUNCH/VMRESUME", Operation: "IF VMLAUNCH THEN launch state of VMCS ← "launched"".
        if (launch)
        {
            VmcsFieldAccessor.Write(_cachedVmcs12, Vmcs12Layout.LaunchStateOffset, VmcsFieldWidth.U32, LaunchStateLaunched);
        }

        GuestMode = true;

        // SDM Vol. 3C §25.6.6 "Guest/Host Masks and Read Shadows for CR0 and CR4" take effect in L2, and
        // SDM Vol. 3C §26.6.5 "Time-Stamp Counter Offset and Multiplier": with "use TSC offsetting", L2's RDTSC,
        // RDTSCP and RDMSR IA32_TIME_STAMP_COUNTER read L1's TSC plus TSC_OFFSET.
        _l1TscOffset = cpu.State.TscOffset;
        cpu.Cr0GuestHostMask = Vmcs12Layout.Read(_cachedVmcs12, VmcsField.Cr0GuestHostMask);
        cpu.Cr0ReadShadow = Vmcs12Layout.Read(_cachedVmcs12, VmcsField.Cr0ReadShadow);
        cpu.Cr4GuestHostMask = Vmcs12Layout.Read(_cachedVmcs12, VmcsField.Cr4GuestHostMask);
        cpu.Cr4ReadShadow = Vmcs12Layout.Read(_cachedVmcs12, VmcsField.Cr4ReadShadow);
        if ((Vmcs12Proc & CpuBasedControls.UseTscOffsetting) != 0)
        {
            cpu.State.TscOffset = _l1TscOffset + Vmcs12Layout.Read(_cachedVmcs12, VmcsField.TscOffset);
        }

        // SDM Vol. 3C §27.6 "Event Injection", in VMX non-root operation (a fault while delivering it is L2's).
        InjectPendingEvent(cpu);
    }
}
