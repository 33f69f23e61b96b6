using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>
/// VM exits caused by events and event windows rather than by an instruction (SDM Vol. 3C §26.2 "Other Causes of
/// VM Exits"; "Interrupt-Window Exiting and Virtual-Interrupt Delivery"; "NMI-Window Exiting"), with the exit
/// information of §28.2.2 "Information for VM Exits Due to Vectored Events".
/// </summary>
internal sealed partial class VcpuVmx
{
    private PinBasedControls Vmcs12Pin => (PinBasedControls)(uint)Vmcs12Layout.Read(_cachedVmcs12, VmcsField.PinBasedVmExecControl);

    /// <summary>
    /// The CPU's question at an event boundary (<see cref="IVirtualizationExtension.InterceptEvents"/>), in this
    /// order: an unblocked NMI with "NMI exiting" (reason 0, interruption type 2, vector 2; NMIs stay blocked after
    /// the exit); the NMI window with "NMI-window exiting" (no virtual-NMI blocking, no blocking by STI or MOV SS;
    /// reason 8); the interrupt window with "interrupt-window exiting" (RFLAGS.IF = 1, no blocking by STI or MOV SS;
    /// reason 7), also right after VM entry and from the HLT activity state; a pending external interrupt with
    /// "external-interrupt exiting", whatever RFLAGS.IF (reason 1): with "acknowledge interrupt on exit" the
    /// interrupt is acknowledged and its vector recorded (interruption type 0, valid), otherwise it stays pending
    /// and the interruption information is invalid. Blocking by STI or MOV SS holds every one of them off.
    /// </summary>
    public bool InterceptEvents(Vcpu cpu)
    {
        if (!GuestMode || cpu.InterruptShadow || cpu.ShadowArmed)
        {
            return false;
        }

        PinBasedControls pin = Vmcs12Pin;
        CpuBasedControls proc = Vmcs12Proc;
        if (cpu.NmiPending && !cpu.NmiBlocked && (pin & PinBasedControls.NmiExiting) != 0)
        {
            cpu.NmiPending = false;
            NestedVmExit(cpu, ExitReason.ExceptionNmi, 0, interruptionInfo: NmiVector | (IntrTypeNmi << 8) | IntrInfoValid);
            cpu.NmiBlocked = true;
            return true;
        }

        if ((proc & CpuBasedControls.NmiWindowExiting) != 0 && !cpu.NmiBlocked)
        {
            NestedVmExit(cpu, ExitReason.NmiWindow, 0);
            return true;
        }

        if ((proc & CpuBasedControls.IntrWindowExiting) != 0 && (cpu.State.Rflags & CpuState.FlagIf) != 0)
        {
            NestedVmExit(cpu, ExitReason.InterruptWindow, 0);
            return true;
        }

        if ((pin & PinBasedControls.ExtIntrExiting) != 0 && cpu.Interrupts is { } src && src.HasPending)
        {
            uint info = 0;
            var exit = (VmExitControls)(uint)Vmcs12Layout.Read(_cachedVmcs12, VmcsField.VmExitControls);
            if ((exit & VmExitControls.AckIntrOnExit) != 0)
            {
                int vector = src.Acknowledge();
                if (vector < 0)
                {
                    return false;
                }

                info = (uint)vector | (IntrTypeExternal << 8) | IntrInfoValid;
            }

            NestedVmExit(cpu, ExitReason.ExternalInterrupt, 0, interruptionInfo: info);
            return true;
        }

        return false;
    }

    /// <inheritdoc/>
    public bool ExternalInterruptsExit(Vcpu cpu) => GuestMode && (Vmcs12Pin & PinBasedControls.ExtIntrExiting) != 0;

    private const uint NmiVector = 2;
}
