using Emulator.Cpu.Bus;

namespace Emulator.Devices;

/// <summary>
/// A device whose registers are bytes (8259, 8254, MC146818, ACPI PM): a 16- or 32-bit access is the
/// byte accesses at consecutive ports, low byte first, as the ISA bus splits it.
/// </summary>
internal abstract class BytePortDevice : IPortDevice
{
    public virtual uint In(ushort port, int size)
    {
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= (uint)ReadByte((ushort)(port + i)) << (8 * i);
        }
        return value;
    }

    public void Out(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            WriteByte((ushort)(port + i), (byte)(value >> (8 * i)));
        }
    }

    protected abstract byte ReadByte(ushort port);

    protected abstract void WriteByte(ushort port, byte value);
}
