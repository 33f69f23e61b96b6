using Emulator.Cpu;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>Event injection at the end of VM entry (KVM's <c>vmx_inject_irq</c>/<c>vmx_inject_nmi</c>/<c>vmx_inject_exception</c> for L2).</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>Interruption types, bits 10:8 of the interruption-information fields (SDM Vol. 3C §25.8.3).</summary>
    private const uint IntrTypeExternal = 0;
    private const uint IntrTypeNmi = 2;
    private const uint IntrTypeHardException = 3;
    private const uint IntrTypeSoftInterrupt = 4;
    private const uint IntrTypePrivilegedSoftException = 5;
    private const uint IntrTypeSoftException = 6;

    /// <summary>Bit 11 of an interruption-information field: "deliver error code".</summary>
    private const uint IntrInfoDeliverErrorCode = 1u << 11;

    /// <summary>
    /// SDM Vol. 3C §27.6 "Event Injection": with the valid bit of the VM-entry interruption information set, the
    /// event is delivered through L2's IDT after the guest state is loaded, as if it occurred right then; the
    /// return address is the guest RIP, or guest RIP + VM-entry instruction length for software interrupts and
    /// software exceptions (§27.6.1.1 "Details of Vectored-Event Injection"). An injected NMI blocks NMIs; the
    /// activity state becomes active. Type 7 (other event, the pending MTF VM exit) is not offered, and is ignored.
    /// </summary>
    private void InjectPendingEvent(Vcpu cpu)
    {
        ReadOnlySpan<byte> vmcs12 = _cachedVmcs12;
        uint info = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryIntrInfoField);
        if ((info & IntrInfoValid) == 0)
        {
            return;
        }

        int vector = (int)(info & 0xFF);
        bool hasError = (info & IntrInfoDeliverErrorCode) != 0;
        uint error = hasError ? (uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryExceptionErrorCode) : 0;
        EventKind kind;
        switch ((info >> 8) & 7)
        {
            case IntrTypeExternal:
                kind = EventKind.External;
                break;
            case IntrTypeNmi:
                kind = EventKind.Nmi;
                cpu.NmiBlocked = true;
                break;
            case IntrTypeHardException:
                kind = EventKind.Exception;
                break;
            case IntrTypeSoftInterrupt:
                kind = EventKind.Software;
                break;
            case IntrTypePrivilegedSoftException:
                kind = EventKind.PrivilegedSoftware;
                break;
            case IntrTypeSoftException:
                kind = EventKind.SoftwareException;
                break;
            default:
                return;
        }

        // The interpreter delivers relative to State.Rip (faults, external events) and NextRip (software events).
        ulong guestRip = cpu.NextRip;
        cpu.State.Rip = guestRip;
        if (kind is EventKind.Software or EventKind.SoftwareException or EventKind.PrivilegedSoftware)
        {
            cpu.NextRip = guestRip + Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryInstructionLen);
        }

        // An injected event is delivered, never intercepted by the exception bitmap (SDM Vol. 3C §27.6.1
        // "Vectored-Event Injection"); a fault while delivering it is L2's and may exit.
        _injecting = true;
        try
        {
            cpu.DeliverEvent(vector, kind, hasError, error);
        }
        finally
        {
            _injecting = false;
        }
    }
}
