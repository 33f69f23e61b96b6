using System.Buffers.Binary;
using System.Text;

namespace Emulator.Devices.Pci;

/// <summary>
/// QEMU's pci-testdev (hw/misc/pci-testdev.c): Red Hat vendor 0x1B36, device 0x0005, revision 0, class
/// code PCI_CLASS_OTHERS written as QEMU writes it (sub-class 0xFF, base class 0x00: lspci's "Unclassified
/// device [00ff]"), no interrupt pin. BAR0 is 4 KiB of memory, BAR1 256 I/O ports. Each BAR runs three
/// tests, selected by writing the test number to offset 0; the selected test's header (PCITestDevHdr:
/// u8 test, u8 width, pad, le32 offset, u8 data, pad, le32 count, name) reads back byte by byte, and
/// writes at its offset are counted — except those an ioeventfd would have consumed, which QEMU (TCG and
/// KVM alike) never lets reach the device: any byte write for "wildcard-eventfd", a byte write of the
/// data value for "datamatch-eventfd". Accesses are handled a byte at a time, as QEMU's impl sizes say.
/// </summary>
internal sealed class PciTestDev : PciDevice
{
    public const ushort RedHatVendorId = 0x1B36;
    public const ushort TestDeviceId = 0x0005;

    /// <summary>Where the machine plugs it: 00:02.0, the first free slot of QEMU's pc with -vga none -nodefaults.</summary>
    public const int DefaultSlot = 2;

    public const int MemoryBar = 0;
    public const int IoBar = 1;
    public const uint MemoryBarSize = 2 * IoTestMemSize;
    public const uint IoBarSize = 2 * IoTestIoSize;

    // PCITestDevHdr offsets.
    public const int HdrTest = 0;
    public const int HdrWidth = 1;
    public const int HdrOffset = 4;
    public const int HdrData = 8;
    public const int HdrCount = 12;
    public const int HdrName = 16;

    public const byte DataMatch = 0xFA;
    public const byte NoMatch = 0xCE;

    private const uint IoTestIoSize = 128;
    private const uint IoTestMemSize = 2048;
    private const int TestsPerBar = 3;
    private static readonly string[] s_testNames = ["no-eventfd", "wildcard-eventfd", "datamatch-eventfd"];

    private readonly IoTest[] _tests = new IoTest[2 * TestsPerBar];
    private int _current = -1;

    public PciTestDev()
        : base(RedHatVendorId, TestDeviceId, revision: 0, baseClass: 0x00, subClass: 0xFF, progIf: 0)
    {
        SetConfigByte(InterruptPin, 0);
        DefineBar(MemoryBar, PciBarKind.Memory32, MemoryBarSize);
        DefineBar(IoBar, PciBarKind.Io, IoBarSize);
        for (int i = 0; i < _tests.Length; i++)
        {
            bool mem = i < TestsPerBar;
            string name = (mem ? "mmio-" : "portio-") + s_testNames[i % TestsPerBar];
            var hdr = new byte[HdrName + name.Length + 1];
            hdr[HdrTest] = (byte)i;
            hdr[HdrWidth] = 1;
            BinaryPrimitives.WriteUInt32LittleEndian(hdr.AsSpan(HdrOffset), (mem ? IoTestMemSize : IoTestIoSize) + (uint)i);
            bool matchData = i % TestsPerBar != 1;
            hdr[HdrData] = matchData ? DataMatch : NoMatch;
            Encoding.ASCII.GetBytes(name, hdr.AsSpan(HdrName));
            _tests[i] = new IoTest(hdr, HasNotifier: i % TestsPerBar != 0, matchData);
        }
    }

    /// <summary>How many writes an ioeventfd consumed (QEMU would signal the notifier), for tests.</summary>
    public int EventfdSignals { get; private set; }

    public override ulong BarRead(int bar, ulong offset, int size)
    {
        ulong v = 0;
        for (int i = 0; i < size; i++)
        {
            v |= (ulong)ReadByte(offset + (ulong)i) << (8 * i);
        }
        return v;
    }

    public override void BarWrite(int bar, ulong offset, int size, ulong value)
    {
        // memory_region_dispatch_write checks the ioeventfds with the whole access before splitting it.
        if (_current >= 0)
        {
            IoTest t = _tests[_current];
            if (t.HasNotifier && offset == t.Offset && size == 1 && (!t.MatchData || (byte)value == t.Header[HdrData]))
            {
                EventfdSignals++;
                return;
            }
        }
        int type = bar == MemoryBar ? 0 : 1;
        for (int i = 0; i < size; i++)
        {
            WriteByte(offset + (ulong)i, (byte)(value >> (8 * i)), type);
        }
    }

    /// <summary>pci_testdev_read: the selected test's header, 0 for the last byte and beyond, 0 with no test.</summary>
    private byte ReadByte(ulong addr)
    {
        if (_current < 0)
        {
            return 0;
        }
        byte[] hdr = _tests[_current].Header;
        return addr + 1 >= (ulong)hdr.Length ? (byte)0 : hdr[addr];
    }

    /// <summary>pci_testdev_write with a 1-byte access: offset 0 selects a test, the test's offset counts.</summary>
    private void WriteByte(ulong addr, byte value, int type)
    {
        if (addr == HdrTest)
        {
            _current = -1;
            if (value >= TestsPerBar)
            {
                return;
            }
            _current = type * TestsPerBar + value;
            BinaryPrimitives.WriteUInt32LittleEndian(_tests[_current].Header.AsSpan(HdrCount), 0);
            return;
        }
        if (_current < 0)
        {
            return;
        }
        IoTest t = _tests[_current];
        if (addr != t.Offset || (t.MatchData && value != t.Header[HdrData]))
        {
            return;
        }
        Span<byte> count = t.Header.AsSpan(HdrCount);
        BinaryPrimitives.WriteUInt32LittleEndian(count, BinaryPrimitives.ReadUInt32LittleEndian(count) + 1);
    }

    private sealed record IoTest(byte[] Header, bool HasNotifier, bool MatchData)
    {
        public uint Offset => BinaryPrimitives.ReadUInt32LittleEndian(Header.AsSpan(HdrOffset));
    }
}
