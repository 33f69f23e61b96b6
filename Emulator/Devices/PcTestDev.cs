using System.Buffers.Binary;
using Emulator.Cpu.Bus;
using Emulator.Platform;

namespace Emulator.Devices;

/// <summary>
/// QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device kvm-unit-tests drive:
/// <list type="bullet">
/// <item>I/O 0xE0–0xE3: a 32-bit latch, any access size at any byte, reading back what was written;</item>
/// <item>I/O 0xE4: the flush-page port (32-bit writes; QEMU mprotects the host page, a no-op here);</item>
/// <item>I/O 0xE8–0xEB: the same latch, accessed a byte at a time (QEMU's impl size 1);</item>
/// <item>I/O 0x2000–0x2017: a byte write of v sets line n to (v != 0), as <see cref="InterruptRouter.SetGsi"/>;</item>
/// <item>MMIO 0xFF000000–0xFF00FFFF: 64 KiB that behave as RAM for every access size, so that instructions
/// touching it run through the MMIO path.</item>
/// </list>
/// </summary>
internal sealed class PcTestDev : IPortDevice, IMmioDevice
{
    public const ushort LatchPort = 0xE0;
    public const ushort FlushPort = 0xE4;
    public const ushort ByteLatchPort = 0xE8;

    /// <summary>Register 0xE0–0xEB with one call.</summary>
    public const int LatchPortsLength = 12;

    public const ushort IrqPortBase = 0x2000;
    public const int IrqLines = 24;

    public const ulong IomemBase = 0xFF00_0000;
    public const int IomemLength = 0x1_0000;

    private readonly InterruptRouter _router;
    private readonly byte[] _iomem = new byte[IomemLength];
    private uint _latch;

    public PcTestDev(InterruptRouter router) => _router = router;

    /// <summary>The 0xE0/0xE8 latch (tests).</summary>
    public uint Latch => _latch;

    /// <summary>The last page address written to the flush port (tests; QEMU only re-protects the host page).</summary>
    public uint LastFlushedPage { get; private set; }

    public uint In(ushort port, int size)
    {
        if (port >= IrqPortBase)
        {
            // The IRQ ports are write-only.
            return size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;
        }
        uint v = 0;
        for (int i = 0; i < size; i++)
        {
            v |= (uint)LatchByte(port + i) << (8 * i);
        }
        return v;
    }

    public void Out(ushort port, int size, uint value)
    {
        if (port >= IrqPortBase)
        {
            // test_irq_ops: valid.max_access_size 1, so wider writes are rejected.
            int line = port - IrqPortBase;
            if (size == 1 && (uint)line < IrqLines)
            {
                _router.SetGsi(line, (byte)value != 0);
            }
            return;
        }
        if (port == FlushPort)
        {
            // test_flush_ops: 32-bit writes only.
            if (size == 4)
            {
                LastFlushedPage = value & ~0xFFFu;
            }
            return;
        }
        // test_ioport_write: the bytes land at (port & 3) upwards; bytes past the latch's four ports are lost.
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            if (IsLatchPort(p))
            {
                int shift = 8 * (p & 3);
                _latch = (_latch & ~(0xFFu << shift)) | ((uint)(byte)(value >> (8 * i)) << shift);
            }
        }
    }

    private static bool IsLatchPort(int port) =>
        (port >= LatchPort && port < LatchPort + 4) || (port >= ByteLatchPort && port < ByteLatchPort + 4);

    private byte LatchByte(int port) => IsLatchPort(port) ? (byte)(_latch >> (8 * (port & 3))) : (byte)0xFF;

    /// <summary>test_iomem_read: little-endian bytes of the buffer; bytes past its end read as unmapped.</summary>
    public ulong Read(ulong offset, int size)
    {
        if (offset + (ulong)size <= IomemLength)
        {
            ReadOnlySpan<byte> b = _iomem.AsSpan((int)offset, size);
            return size switch
            {
                1 => b[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(b),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(b),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
            };
        }
        ulong v = 0;
        for (int i = 0; i < size; i++)
        {
            ulong at = offset + (ulong)i;
            v |= (ulong)(at < IomemLength ? _iomem[at] : (byte)0xFF) << (8 * i);
        }
        return v;
    }

    /// <summary>test_iomem_write: stores the value's little-endian bytes.</summary>
    public void Write(ulong offset, int size, ulong value)
    {
        for (int i = 0; i < size; i++)
        {
            ulong at = offset + (ulong)i;
            if (at < IomemLength)
            {
                _iomem[at] = (byte)(value >> (8 * i));
            }
        }
    }
}
