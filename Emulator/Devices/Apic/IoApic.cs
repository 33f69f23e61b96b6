using Emulator.Cpu.Bus;
using Emulator.Platform;

namespace Emulator.Devices.Apic;

/// <summary>
/// The I/O APIC at 0xFEC00000 as QEMU models it (Intel 82093AA datasheet, version 0x20 as in the ICH): 24
/// redirection entries behind IOREGSEL (+0x00) and IOWIN (+0x10), and the directed-EOI register (+0x40) of
/// version 0x20. An edge-triggered entry sends its message on a rising edge of its input (an edge while
/// masked is lost); a level-triggered one sends while the input is asserted and its remote IRR is clear, sets
/// remote IRR when a local APIC accepts, and sends again after the EOI if the input is still asserted.
/// Inputs carry the asserted level, as QEMU's do: the polarity bit is kept but does not invert them
/// (guests program PCI lines active-low while devices raise them as 1, which QEMU ignores too).
/// </summary>
internal sealed class IoApic : IMmioDevice, IIrqController
{
    public const ulong DefaultBase = 0xFEC0_0000;
    public const int PinCount = 24;

    /// <summary>Version register: version 0x20, maximum redirection entry 23.</summary>
    internal const uint VersionValue = 0x20 | ((PinCount - 1) << 16);

    internal const int RegId = 0x00;
    internal const int RegVersion = 0x01;
    internal const int RegArbitration = 0x02;
    internal const int RegRedirection = 0x10;

    internal const ulong Masked = 1UL << 16;
    internal const ulong LevelTriggered = 1UL << 15;
    internal const ulong RemoteIrr = 1UL << 14;
    private const ulong DeliveryStatus = 1UL << 12;
    private const ulong LogicalDestination = 1UL << 11;

    /// <summary>Low-dword bits software sets: vector, delivery mode, destination mode, polarity, trigger mode, mask.</summary>
    private const ulong LowWritable = 0xFFF | (1UL << 13) | LevelTriggered | Masked;

    private readonly ApicBus _bus;
    private readonly ulong[] _redirection = new ulong[PinCount];

    /// <summary>Input levels, one bit per pin.</summary>
    private uint _inputs;
    private uint _select;
    private uint _id;

    public IoApic(ApicBus bus)
    {
        _bus = bus;
        bus.IoApic = this;
        Reset();
    }

    /// <summary>Reset: id 0, every entry masked (the inputs keep their levels).</summary>
    public void Reset()
    {
        _select = 0;
        _id = 0;
        for (int i = 0; i < PinCount; i++)
        {
            _redirection[i] = Masked;
        }
    }

    /// <summary>A redirection entry, for tests and tracing.</summary>
    internal ulong Entry(int pin) => _redirection[pin];

    // ------------------------------------------------------------------ MMIO

    public ulong Read(ulong offset, int size)
    {
        uint value;
        switch (offset & ~3UL)
        {
            case 0x00:
                value = _select;
                break;
            case 0x10:
                value = ReadRegister(_select);
                break;
            default:
                return 0;
        }
        ulong v = (ulong)value >> (int)((offset & 3) * 8);
        return size >= 4 ? v : v & ((1UL << (size * 8)) - 1);
    }

    public void Write(ulong offset, int size, ulong value)
    {
        switch (offset)
        {
            case 0x00:
                _select = (byte)value;
                break;
            case 0x10 when size >= 4:
                WriteRegister(_select, (uint)value);
                break;
            case 0x40 when size >= 4:
                // Directed EOI (version 0x20): the vector whose remote IRR to clear.
                Eoi((int)(value & 0xFF));
                break;
        }
    }

    internal uint ReadRegister(uint index)
    {
        switch (index)
        {
            case RegId:
            case RegArbitration:
                // The arbitration id follows the id (82093AA §3.2.3 "IOAPICARB").
                return _id << 24;
            case RegVersion:
                return VersionValue;
            case >= RegRedirection and < RegRedirection + 2 * PinCount:
                {
                    ulong e = _redirection[(index - RegRedirection) >> 1];
                    return (index & 1) == 0 ? (uint)e : (uint)(e >> 32);
                }
            default:
                return 0;
        }
    }

    internal void WriteRegister(uint index, uint value)
    {
        switch (index)
        {
            case RegId:
                // Only bits 27:24 are implemented.
                _id = (value >> 24) & 0xF;
                return;
            case >= RegRedirection and < RegRedirection + 2 * PinCount:
                {
                    int pin = (int)(index - RegRedirection) >> 1;
                    ulong e = _redirection[pin];
                    if ((index & 1) == 0)
                    {
                        e = (e & (0xFFFF_FFFF_0000_0000UL | RemoteIrr | DeliveryStatus)) | (value & LowWritable);
                        if ((e & LevelTriggered) == 0)
                        {
                            // An edge-triggered entry has no remote IRR; Linux relies on that to emulate an EOI
                            // on I/O APICs without the EOI register (QEMU and KVM clear it likewise).
                            e &= ~RemoteIrr;
                        }
                    }
                    else
                    {
                        e = (e & 0xFFFF_FFFFUL) | ((ulong)value << 32);
                    }
                    _redirection[pin] = e;
                    // Unmasking (or re-targeting) a level-triggered entry whose input is asserted delivers it.
                    Service(pin);
                    return;
                }
        }
    }

    // ------------------------------------------------------------------ inputs and EOI

    /// <summary>Drives input <paramref name="line"/> (0–23) to <paramref name="level"/>.</summary>
    public void SetIrq(int line, bool level)
    {
        if ((uint)line >= PinCount)
        {
            return;
        }
        uint bit = 1u << line;
        bool old = (_inputs & bit) != 0;
        if (!level)
        {
            _inputs &= ~bit;
            return;
        }
        _inputs |= bit;
        if ((_redirection[line] & LevelTriggered) != 0)
        {
            Service(line);
        }
        else if (!old)
        {
            SendEdge(line);
        }
    }

    /// <summary>An EOI for <paramref name="vector"/> (broadcast by a local APIC or written to the EOI register).</summary>
    public void Eoi(int vector)
    {
        for (int pin = 0; pin < PinCount; pin++)
        {
            ulong e = _redirection[pin];
            if ((e & RemoteIrr) != 0 && (int)(e & 0xFF) == vector)
            {
                _redirection[pin] = e & ~RemoteIrr;
                Service(pin);
            }
        }
    }

    private void SendEdge(int pin)
    {
        ulong e = _redirection[pin];
        if ((e & Masked) == 0)
        {
            Send(e, levelTriggered: false);
        }
    }

    /// <summary>Delivers a level-triggered entry if its input is asserted, it is unmasked and its remote IRR is clear.</summary>
    private void Service(int pin)
    {
        ulong e = _redirection[pin];
        if ((e & (LevelTriggered | Masked | RemoteIrr)) != LevelTriggered || (_inputs & (1u << pin)) == 0)
        {
            return;
        }
        int mode = (int)(e >> 8) & 7;
        if (Send(e, levelTriggered: true) && mode is DeliveryMode.Fixed or DeliveryMode.LowestPriority)
        {
            _redirection[pin] |= RemoteIrr;
        }
    }

    private bool Send(ulong e, bool levelTriggered)
    {
        int mode = (int)(e >> 8) & 7;
        if (mode is 3 or DeliveryMode.StartUp)
        {
            // Reserved for the I/O APIC.
            return false;
        }
        return _bus.DeliverFromIoApic(mode, (int)(e & 0xFF), (e & LogicalDestination) != 0, (uint)(e >> 56), levelTriggered);
    }
}
