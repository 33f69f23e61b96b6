using Emulator.Cpu.Bus;
using Emulator.Platform;

namespace Emulator.Devices;

/// <summary>
/// Port 0x61, the AT's system control port B (IBM PC AT Technical Reference, "System Timer" and
/// "Speaker"): bit 0 drives 8254 counter 2's GATE, bit 1 enables the speaker data, bits 2–3 are the
/// parity/channel-check enables (kept, nothing to check), bit 4 is the refresh-request toggle, bit 5
/// reads counter 2's OUT, bits 6–7 (check status) read 0.
/// </summary>
/// <remarks>
/// Bit 4 toggles every 15.085 µs of virtual time (QEMU's PIT_REFRESH_PERIOD_NS, the DRAM refresh rate
/// of counter 1 as a PC BIOS programs it), so delay loops that count its transitions see time pass
/// at the rate the virtual clock runs.
/// </remarks>
internal sealed class SystemControlPort : IPortDevice
{
    public const ushort Port = 0x61;
    public const long RefreshPeriodNs = 15_085;

    private readonly VirtualClock _clock;
    private readonly Pit8254 _pit;
    private byte _value;

    public SystemControlPort(VirtualClock clock, Pit8254 pit)
    {
        _clock = clock;
        _pit = pit;
    }

    public void Register(IoBus io) => io.Register(Port, 1, this);

    /// <summary>Bit 1: the speaker is driven from counter 2's OUT.</summary>
    public bool SpeakerEnabled => (_value & 2) != 0;

    public uint In(ushort port, int size)
    {
        uint value = (uint)(_value & 0x0F);
        if ((_clock.Now / RefreshPeriodNs & 1) != 0)
        {
            value |= 0x10;
        }
        if (_pit.Output(2))
        {
            value |= 0x20;
        }
        // Wider reads see unclaimed ports above 0x61 as all ones.
        return size == 1 ? value : value | (size == 4 ? 0xFFFF_FF00 : 0xFF00);
    }

    public void Out(ushort port, int size, uint value)
    {
        _value = (byte)(value & 0x0F);
        _pit.SetGate(2, (value & 1) != 0);
    }
}
