using Emulator.Cpu.Bus;

namespace Emulator.Devices;

/// <summary>
/// A 16550A UART as guests program it (COM1 at 0x3F8). Transmit is immediate, so LSR always reports
/// THRE and TEMT: a driver that polls LSR bit 5 before each byte never waits. No receive path yet.
/// </summary>
internal sealed class Uart16550 : IPortDevice
{
    private readonly ushort _base;
    private readonly Stream _output;
    private byte _ier;
    private byte _lcr;
    private byte _mcr;
    private byte _scr;
    private byte _dll = 1;
    private byte _dlm;
    private byte _fcr;

    public Uart16550(ushort basePort, Stream output)
    {
        _base = basePort;
        _output = output;
    }

    private bool Dlab => (_lcr & 0x80) != 0;

    public uint In(ushort port, int size)
    {
        switch (port - _base)
        {
            case 0:
                return Dlab ? _dll : 0u;
            case 1:
                return Dlab ? _dlm : _ier;
            case 2:
                // IIR: no interrupt pending; FIFOs enabled bits follow FCR bit 0.
                return (_fcr & 1) != 0 ? 0xC1u : 0x01u;
            case 3:
                return _lcr;
            case 4:
                return _mcr;
            case 5:
                // LSR: THR empty (bit 5) and transmitter empty (bit 6).
                return 0x60;
            case 6:
                // MSR: in loopback mode reflect MCR outputs, otherwise CTS/DSR/DCD asserted.
                return (_mcr & 0x10) != 0 ? (uint)(((_mcr & 0x0C) << 4) | ((_mcr & 0x03) << 4)) : 0xB0u;
            default:
                return _scr;
        }
    }

    public void Out(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        switch (port - _base)
        {
            case 0:
                if (Dlab)
                {
                    _dll = b;
                }
                else if ((_mcr & 0x10) == 0)
                {
                    _output.WriteByte(b);
                    if (b == (byte)'\n')
                    {
                        _output.Flush();
                    }
                }
                break;
            case 1:
                if (Dlab)
                {
                    _dlm = b;
                }
                else
                {
                    _ier = (byte)(b & 0x0F);
                }
                break;
            case 2:
                _fcr = b;
                break;
            case 3:
                _lcr = b;
                break;
            case 4:
                _mcr = (byte)(b & 0x1F);
                break;
            case 7:
                _scr = b;
                break;
        }
    }
}
