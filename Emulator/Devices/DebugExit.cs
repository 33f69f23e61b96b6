using Emulator.Cpu.Bus;

namespace Emulator.Devices;

/// <summary>
/// QEMU's isa-debug-exit (iobase 0xF4, iosize 4): a write of v ends the run with exit status
/// (v &lt;&lt; 1) | 1. Also the old Bochs/QEMU poweroff port 0x8900, which powers off on the string "Shutdown".
/// </summary>
internal sealed class DebugExit : IPortDevice
{
    public const ushort Port = 0xF4;
    public const ushort ShutdownPort = 0x8900;

    private readonly Action<int> _exit;
    private int _shutdownProgress;

    public DebugExit(Action<int> exit) => _exit = exit;

    public uint In(ushort port, int size) => size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;

    public void Out(ushort port, int size, uint value)
    {
        if (port == ShutdownPort)
        {
            const string magic = "Shutdown";
            _shutdownProgress = (char)(byte)value == magic[_shutdownProgress] ? _shutdownProgress + 1 : ((char)(byte)value == 'S' ? 1 : 0);
            if (_shutdownProgress == magic.Length)
            {
                _shutdownProgress = 0;
                _exit(0);
            }
            return;
        }
        uint v = size switch
        {
            1 => value & 0xFF,
            2 => value & 0xFFFF,
            _ => value,
        };
        _exit((int)(((v << 1) | 1) & 0xFF));
    }
}
