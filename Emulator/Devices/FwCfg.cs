using System.Buffers.Binary;
using System.Text;
using Emulator.Acpi;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;

namespace Emulator.Devices;

/// <summary>
/// QEMU's firmware configuration device, I/O-port flavour as the PC machine has it (hw/nvram/fw_cfg.c,
/// hw/i386/fw_cfg.c; QEMU docs/specs/fw_cfg.rst): a 16-bit selector write at 0x510 (or 0x511), 8-bit data
/// reads at 0x511 (or 0x510) that walk the selected item and read 0 past its end, and the DMA interface at
/// 0x514 (the FWCfgDmaAccess address as two big-endian 32-bit halves, the transfer starting on the low
/// half). Items are QEMU's for a PC: signature, id, uuid, RAM size, CPU counts, NUMA, the file directory
/// with "bios-geometry", "bootorder", "etc/boot-fail-wait" and "etc/e820".
/// </summary>
internal sealed class FwCfg : IPortDevice
{
    public const ushort IoBase = 0x510;
    public const int IoLength = 2;
    public const ushort DmaIoBase = 0x514;
    public const int DmaIoLength = 8;

    // Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h).
    public const ushort KeySignature = 0x00;
    public const ushort KeyId = 0x01;
    public const ushort KeyUuid = 0x02;
    public const ushort KeyRamSize = 0x03;
    public const ushort KeyNoGraphic = 0x04;
    public const ushort KeyNbCpus = 0x05;
    public const ushort KeyNuma = 0x0D;
    public const ushort KeyBootMenu = 0x0E;
    public const ushort KeyMaxCpus = 0x0F;
    public const ushort KeyFileDir = 0x19;
    public const ushort KeyFileFirst = 0x20;
    public const ushort KeyArchLocal = 0x8000;
    public const ushort KeyIrq0Override = KeyArchLocal | 0x02;

    /// <summary>FW_CFG_VERSION: the traditional (port) interface; FW_CFG_VERSION_DMA: the DMA interface.</summary>
    public const uint IdTraditional = 1;
    public const uint IdDma = 2;

    // FWCfgDmaAccess.control bits.
    public const uint DmaCtlError = 0x01;
    public const uint DmaCtlRead = 0x02;
    public const uint DmaCtlSkip = 0x04;
    public const uint DmaCtlSelect = 0x08;
    public const uint DmaCtlWrite = 0x10;

    /// <summary>"QEMU CFG", what reads of the DMA address register return (big-endian).</summary>
    public const ulong DmaSignature = 0x51454D5520434647;

    /// <summary>FWCfgFile: be32 size, be16 select, be16 reserved, char name[56].</summary>
    public const int FileEntrySize = 64;
    public const int FileNameLength = 56;

    private const ushort EntryMask = 0x3FFF;
    private const ushort Invalid = 0xFFFF;

    /// <summary>QEMU's default x-file-slots; selectors run up to FW_CFG_FILE_FIRST + slots (exclusive).</summary>
    private const int FileSlots = 0x20;
    private const int MaxEntry = KeyFileFirst + FileSlots;

    private static readonly byte[] s_zeros = new byte[4096];

    private readonly byte[]?[] _generic = new byte[]?[MaxEntry];
    private readonly byte[]?[] _arch = new byte[]?[MaxEntry];
    private readonly PhysicalMemory? _dma;
    private ushort _current;
    private uint _offset;
    private ulong _dmaAddress;

    /// <summary>
    /// <paramref name="lowRamEnd"/> and <paramref name="highRamEnd"/> as <see cref="PhysicalMemory"/> reports
    /// them; <paramref name="dmaMemory"/> enables (and advertises) the DMA interface; <paramref name="memoryMap"/>
    /// defaults to <see cref="E820Map.BuildFwCfg"/> of the same RAM (QEMU's RAM-only entries).
    /// </summary>
    public FwCfg(ulong lowRamEnd, ulong highRamEnd, int cpuCount, PhysicalMemory? dmaMemory,
        IReadOnlyList<E820Entry>? memoryMap = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuCount, 255);
        _dma = dmaMemory;
        ulong ramSize = lowRamEnd + (highRamEnd > 0x1_0000_0000 ? highRamEnd - 0x1_0000_0000 : 0);

        // fw_cfg_common_realize: signature, uuid (all zeros without -uuid), nographic, boot menu, id.
        Add(KeySignature, "QEMU"u8.ToArray());
        Add(KeyUuid, new byte[16]);
        Add(KeyNoGraphic, U16(1));
        Add(KeyBootMenu, U16(0));
        Add(KeyId, U32(IdTraditional | (dmaMemory is not null ? IdDma : 0)));

        // fw_cfg_arch_create (x86): CPU counts, RAM size, IRQ0 override, e820, NUMA with no nodes. The APIC
        // IDs are 0..n-1, so QEMU's apic_id_limit (what MAX_CPUS carries) is the CPU count.
        Add(KeyNbCpus, U16((ushort)cpuCount));
        Add(KeyMaxCpus, U16((ushort)cpuCount));
        Add(KeyRamSize, U64(ramSize));
        Add(KeyIrq0Override, U32(1));
        Add(KeyNuma, new byte[8 * (1 + cpuCount)]);

        // Files, sorted by name as QEMU does for current machine types (fw_cfg_add_file_callback).
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["bios-geometry"] = [],
            ["bootorder"] = [],
            // fw_cfg_reboot: no -boot reboot-timeout, so -1.
            ["etc/boot-fail-wait"] = U32(uint.MaxValue),
            ["etc/e820"] = E820Map.ToFwCfgFile(memoryMap ?? E820Map.BuildFwCfg(lowRamEnd, highRamEnd)),
        };
        var dir = new byte[4 + FileEntrySize * FileSlots];
        BinaryPrimitives.WriteUInt32BigEndian(dir, (uint)files.Count);
        int index = 0;
        foreach ((string name, byte[] data) in files)
        {
            ushort select = (ushort)(KeyFileFirst + index);
            Span<byte> f = dir.AsSpan(4 + FileEntrySize * index, FileEntrySize);
            BinaryPrimitives.WriteUInt32BigEndian(f, (uint)data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(f[4..], select);
            Encoding.ASCII.GetBytes(name, f[8..]);
            Add(select, data);
            index++;
        }
        Add(KeyFileDir, dir);

        // fw_cfg_reset selects the signature.
        Select(KeySignature);
    }

    /// <summary>The item under <paramref name="key"/> (null when there is none), for tests and tracing.</summary>
    public byte[]? Item(ushort key) => (key & EntryMask) < MaxEntry ? Table(key)[key & EntryMask] : null;

    public uint In(ushort port, int size)
    {
        if (port >= DmaIoBase)
        {
            return _dma is not null ? DmaRegisterRead(port - DmaIoBase, size) : AllOnes(size);
        }
        // fw_cfg_comb_valid: only byte reads are valid; the memory core reads 0 for the others.
        return size == 1 ? ReadData() : 0;
    }

    public void Out(ushort port, int size, uint value)
    {
        if (port >= DmaIoBase)
        {
            if (_dma is not null)
            {
                DmaRegisterWrite(port - DmaIoBase, size, value);
            }
            return;
        }
        // fw_cfg_comb_write: a 16-bit write at either port selects; data writes were removed in QEMU 2.4.
        if (size == 2)
        {
            Select((ushort)value);
        }
    }

    private byte[]?[] Table(ushort key) => (key & KeyArchLocal) != 0 ? _arch : _generic;

    private void Add(ushort key, byte[] data) => Table(key)[key & EntryMask] = data;

    /// <summary>fw_cfg_select: keys beyond the last slot select nothing; every select rewinds the offset.</summary>
    private void Select(ushort key)
    {
        _offset = 0;
        _current = (key & EntryMask) >= MaxEntry ? Invalid : key;
    }

    private byte[]? CurrentItem => _current == Invalid ? null : Table(_current)[_current & EntryMask];

    private uint ReadData()
    {
        byte[]? e = CurrentItem;
        if (e is null || _offset >= (uint)e.Length)
        {
            return 0;
        }
        return e[_offset++];
    }

    /// <summary>fw_cfg_dma_mem_read: the signature "QEMU CFG", each byte at its offset (a big-endian register).</summary>
    private static uint DmaRegisterRead(int offset, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++)
        {
            int at = offset + i;
            uint b = at < 8 ? (uint)(byte)(DmaSignature >> (8 * (7 - at))) : 0u;
            v |= b << (8 * i);
        }
        return v;
    }

    /// <summary>
    /// fw_cfg_dma_mem_write: the register is big-endian, so the guest's little-endian 32-bit value is
    /// byte-swapped; only 32-bit writes at +0 (high half) and +4 (low half, starts the transfer) are valid.
    /// </summary>
    private void DmaRegisterWrite(int offset, int size, uint value)
    {
        if (size != 4)
        {
            return;
        }
        uint half = BinaryPrimitives.ReverseEndianness(value);
        if (offset == 0)
        {
            _dmaAddress = (ulong)half << 32;
        }
        else if (offset == 4)
        {
            _dmaAddress |= half;
            DmaTransfer();
        }
    }

    /// <summary>fw_cfg_dma_transfer: runs one FWCfgDmaAccess {be32 control, be32 length, be64 address}.</summary>
    private void DmaTransfer()
    {
        PhysicalMemory mem = _dma!;
        ulong descriptor = _dmaAddress;
        _dmaAddress = 0;
        Span<byte> d = stackalloc byte[16];
        if (!mem.IsRam(descriptor, 16))
        {
            WriteControl(mem, descriptor, DmaCtlError);
            return;
        }
        mem.ReadBytes(descriptor, d);
        uint control = BinaryPrimitives.ReadUInt32BigEndian(d);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(d[4..]);
        ulong address = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);

        if ((control & DmaCtlSelect) != 0)
        {
            Select((ushort)(control >> 16));
        }
        bool read = false, write = false;
        if ((control & DmaCtlRead) != 0)
        {
            read = true;
        }
        else if ((control & DmaCtlWrite) != 0)
        {
            write = true;
        }
        else if ((control & DmaCtlSkip) == 0)
        {
            length = 0;
        }

        uint status = 0;
        byte[]? e = CurrentItem;
        while (length > 0 && (status & DmaCtlError) == 0)
        {
            uint len;
            if (e is null || _offset >= (uint)e.Length)
            {
                // Past the end (or nothing selected): a read fills with zeros, a skip does nothing.
                len = length;
                if (read && !ZeroFill(mem, address, len))
                {
                    status |= DmaCtlError;
                }
                if (write)
                {
                    status |= DmaCtlError;
                }
            }
            else
            {
                len = Math.Min(length, (uint)e.Length - _offset);
                if (read && !mem.TryWriteBytes(address, e.AsSpan((int)_offset, (int)len)))
                {
                    status |= DmaCtlError;
                }
                // No item here is writable (QEMU's allow_write is false for all of them).
                if (write)
                {
                    status |= DmaCtlError;
                }
                _offset += len;
            }
            address += len;
            length -= len;
        }
        WriteControl(mem, descriptor, status);
    }

    /// <summary>dma_memory_set(0) into RAM, through <see cref="PhysicalMemory.TryWriteBytes"/> so cached code sees it.</summary>
    private static bool ZeroFill(PhysicalMemory mem, ulong address, uint length)
    {
        if (!mem.IsRam(address, length))
        {
            return false;
        }
        for (ulong done = 0; done < length;)
        {
            int chunk = (int)Math.Min((ulong)s_zeros.Length, length - done);
            mem.TryWriteBytes(address + done, s_zeros.AsSpan(0, chunk));
            done += (ulong)chunk;
        }
        return true;
    }

    private static void WriteControl(PhysicalMemory mem, ulong descriptor, uint control)
    {
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(c, control);
        mem.TryWriteBytes(descriptor, c);
    }

    private static uint AllOnes(int size) => size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;

    private static byte[] U16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return b;
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }
}
