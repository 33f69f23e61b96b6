using System.Buffers.Binary;
using System.Numerics;

namespace Emulator.Devices.Pci;

/// <summary>What a base address register decodes.</summary>
internal enum PciBarKind
{
    /// <summary>32-bit, non-prefetchable memory space (BAR bits 3:0 = 0000).</summary>
    Memory32,

    /// <summary>I/O space (BAR bit 0 = 1).</summary>
    Io,
}

/// <summary>
/// A conventional PCI function with a type 0 header (PCI Local Bus Specification 3.0 §6.1 "Configuration
/// Space Organization"), modelled on QEMU's PCIDevice: 256 bytes of configuration space with a write mask
/// per byte (read-only IDs and class, writable command bits, BARs that decode only their size's high bits,
/// the device-specific area 0x40–0xFF writable), write-one-to-clear status bits, and BAR decoding that
/// follows the command register's I/O and memory enables.
/// </summary>
internal abstract class PciDevice
{
    public const int ConfigSize = 256;

    // Type 0 header offsets.
    public const int VendorId = 0x00;
    public const int DeviceId = 0x02;
    public const int Command = 0x04;
    public const int Status = 0x06;
    public const int RevisionId = 0x08;
    public const int ClassProgIf = 0x09;
    public const int ClassSub = 0x0A;
    public const int ClassBase = 0x0B;
    public const int CacheLineSize = 0x0C;
    public const int HeaderType = 0x0E;
    public const int Bar0 = 0x10;
    public const int SubsystemVendorId = 0x2C;
    public const int SubsystemId = 0x2E;
    public const int InterruptLine = 0x3C;
    public const int InterruptPin = 0x3D;
    public const int HeaderEnd = 0x40;

    // Command register bits.
    public const ushort CommandIo = 1 << 0;
    public const ushort CommandMemory = 1 << 1;
    public const ushort CommandMaster = 1 << 2;
    public const ushort CommandParity = 1 << 6;
    public const ushort CommandSerr = 1 << 8;
    public const ushort CommandIntxDisable = 1 << 10;

    public const int BarCount = 6;

    /// <summary>QEMU's default subsystem IDs (pci_set_default_subsystem_id): Red Hat/Qumranet, QEMU.</summary>
    public const ushort DefaultSubsystemVendorId = 0x1AF4;
    public const ushort DefaultSubsystemId = 0x1100;

    /// <summary>Returned by <see cref="BarBase"/> for a BAR that decodes nothing.</summary>
    public const ulong Unmapped = ulong.MaxValue;

    private readonly byte[] _config = new byte[ConfigSize];
    private readonly byte[] _wmask = new byte[ConfigSize];
    private readonly byte[] _w1cmask = new byte[ConfigSize];
    private readonly PciBarKind[] _barKind = new PciBarKind[BarCount];
    private readonly uint[] _barSize = new uint[BarCount];
    private readonly ulong[] _barBase = [Unmapped, Unmapped, Unmapped, Unmapped, Unmapped, Unmapped];

    protected PciDevice(ushort vendorId, ushort deviceId, byte revision, byte baseClass, byte subClass, byte progIf)
    {
        Span<byte> c = _config;
        BinaryPrimitives.WriteUInt16LittleEndian(c[VendorId..], vendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(c[DeviceId..], deviceId);
        c[RevisionId] = revision;
        c[ClassProgIf] = progIf;
        c[ClassSub] = subClass;
        c[ClassBase] = baseClass;
        BinaryPrimitives.WriteUInt16LittleEndian(c[SubsystemVendorId..], DefaultSubsystemVendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(c[SubsystemId..], DefaultSubsystemId);

        // pci_init_wmask: command enables, cache line size, interrupt line, and the whole device-specific area.
        BinaryPrimitives.WriteUInt16LittleEndian(_wmask.AsSpan(Command),
            CommandIo | CommandMemory | CommandMaster | CommandParity | CommandSerr | CommandIntxDisable);
        _wmask[CacheLineSize] = 0xFF;
        _wmask[InterruptLine] = 0xFF;
        _wmask.AsSpan(HeaderEnd).Fill(0xFF);
        // pci_init_w1cmask: the error bits of the status register.
        BinaryPrimitives.WriteUInt16LittleEndian(_w1cmask.AsSpan(Status), 0xF900);
    }

    /// <summary>The configuration space as it reads now (tests, tracing).</summary>
    public ReadOnlySpan<byte> Config => _config;

    public ushort CommandRegister => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Command));

    /// <summary>
    /// Declares BAR <paramref name="index"/> of <paramref name="size"/> bytes (a power of two, at least 16 for
    /// memory and 4 for I/O): its low bits read as the type and its address bits below the size stay zero, so
    /// writing all ones reads back the size mask (PCI 3.0 §6.2.5.1 "Address Maps").
    /// </summary>
    protected void DefineBar(int index, PciBarKind kind, uint size)
    {
        if (!BitOperations.IsPow2(size) || size < (kind == PciBarKind.Io ? 4u : 16u))
        {
            throw new ArgumentOutOfRangeException(nameof(size), "a BAR's size is a power of two, at least 16 (memory) or 4 (I/O)");
        }
        _barKind[index] = kind;
        _barSize[index] = size;
        int at = Bar0 + 4 * index;
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(at), kind == PciBarKind.Io ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(_wmask.AsSpan(at), ~(size - 1) & (kind == PciBarKind.Io ? ~3u : ~0xFu));
    }

    protected void SetConfigByte(int offset, byte value) => _config[offset] = value;

    public uint BarSize(int index) => _barSize[index];

    public PciBarKind BarKind(int index) => _barKind[index];

    /// <summary>The address BAR <paramref name="index"/> decodes now, or <see cref="Unmapped"/>.</summary>
    public ulong BarBase(int index) => _barBase[index];

    /// <summary>Reads <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="offset"/>, little-endian, bytes past 0xFF reading 0.</summary>
    public virtual uint ReadConfig(int offset, int size)
    {
        uint v = 0;
        for (int i = 0; i < size && offset + i < ConfigSize; i++)
        {
            v |= (uint)_config[offset + i] << (8 * i);
        }
        return v;
    }

    /// <summary>Writes through the write mask; write-one-to-clear bits clear where a one is written.</summary>
    public virtual void WriteConfig(int offset, int size, uint value)
    {
        bool remap = false;
        for (int i = 0; i < size && offset + i < ConfigSize; i++)
        {
            int at = offset + i;
            byte b = (byte)(value >> (8 * i));
            byte old = _config[at];
            _config[at] = (byte)(((old & ~_wmask[at]) | (b & _wmask[at])) & ~(b & _w1cmask[at]));
            remap |= (at >= Command && at < Command + 2) || (at >= Bar0 && at < Bar0 + 4 * BarCount);
        }
        if (remap)
        {
            UpdateMappings();
        }
    }

    /// <summary>
    /// Recomputes what each BAR decodes, as QEMU's pci_bar_address: nothing while the command register's
    /// enable for its space is clear, at address 0, or when the range would wrap past the end of the 32-bit
    /// (memory) or 16-bit (I/O port) space, as the all-ones pattern of BAR sizing does.
    /// </summary>
    private void UpdateMappings()
    {
        ushort command = CommandRegister;
        for (int i = 0; i < BarCount; i++)
        {
            uint size = _barSize[i];
            ulong mapped = Unmapped;
            if (size != 0)
            {
                bool io = _barKind[i] == PciBarKind.Io;
                uint raw = BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(Bar0 + 4 * i));
                ulong baseAddress = raw & ~(size - 1) & (io ? ~3u : ~0xFu);
                ulong last = baseAddress + size - 1;
                bool enabled = (command & (io ? CommandIo : CommandMemory)) != 0;
                if (enabled && baseAddress != 0 && last < (io ? 0x1_0000UL : 0xFFFF_FFFFUL))
                {
                    mapped = baseAddress;
                }
            }
            _barBase[i] = mapped;
        }
    }

    /// <summary>True when BAR <paramref name="bar"/> is an I/O BAR that decodes <paramref name="port"/>.</summary>
    public bool TryDecodeIo(ushort port, out int bar, out uint offset)
    {
        for (int i = 0; i < BarCount; i++)
        {
            if (_barKind[i] == PciBarKind.Io && _barBase[i] != Unmapped && port - _barBase[i] < _barSize[i])
            {
                bar = i;
                offset = (uint)(port - _barBase[i]);
                return true;
            }
        }
        bar = -1;
        offset = 0;
        return false;
    }

    /// <summary>True when BAR <paramref name="bar"/> is a memory BAR that decodes physical address <paramref name="pa"/>.</summary>
    public bool TryDecodeMemory(ulong pa, out int bar, out ulong offset)
    {
        for (int i = 0; i < BarCount; i++)
        {
            if (_barKind[i] == PciBarKind.Memory32 && _barBase[i] != Unmapped && pa - _barBase[i] < _barSize[i])
            {
                bar = i;
                offset = pa - _barBase[i];
                return true;
            }
        }
        bar = -1;
        offset = 0;
        return false;
    }

    /// <summary>An access of <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="offset"/> into BAR <paramref name="bar"/>.</summary>
    public abstract ulong BarRead(int bar, ulong offset, int size);

    public abstract void BarWrite(int bar, ulong offset, int size, ulong value);
}
