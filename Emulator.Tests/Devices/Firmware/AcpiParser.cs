using System.Buffers.Binary;
using System.Text;
using Emulator.Cpu.Memory;

// Not ...Devices.Firmware: that namespace would shadow Emulator.Loading.Firmware for tests in Emulator.Tests.Devices.*.
namespace Emulator.Tests.Devices.FirmwareTests;

/// <summary>One ACPI table read back from guest memory.</summary>
internal sealed record AcpiTable(ulong Address, byte[] Bytes)
{
    public string Signature => Encoding.ASCII.GetString(Bytes, 0, 4);

    public uint Length => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(4));

    public byte Revision => Bytes[8];

    public byte U8(int offset) => Bytes[offset];

    public ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(offset));

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(offset));

    public ulong U64(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(offset));
}

/// <summary>
/// Finds and reads the ACPI tables the way a guest does, independently of the builder: the RSDP by the
/// BIOS-area scan (ACPI 6.x §5.2.5.1 "Finding the RSDP on IA-PC Systems"), then RSDT/XSDT, then each table
/// by its header's length. Checksums are checked by the tests, not assumed.
/// </summary>
internal sealed class AcpiParser
{
    private readonly PhysicalMemory _memory;

    public AcpiParser(PhysicalMemory memory, ulong scanStart = 0xE0000, ulong scanEnd = 0x100000)
    {
        _memory = memory;
        for (ulong a = scanStart; a + 36 <= scanEnd; a += 16)
        {
            byte[] candidate = ReadBytes(a, 20);
            if (Encoding.ASCII.GetString(candidate, 0, 8) == "RSD PTR " && Sum(candidate) == 0)
            {
                RsdpAddress = a;
                Rsdp = ReadBytes(a, candidate[15] >= 2 ? (int)BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(a + 20, 4)) : 20);
                return;
            }
        }
    }

    /// <summary>Where the scan found the RSDP, or null.</summary>
    public ulong? RsdpAddress { get; }

    public byte[] Rsdp { get; } = [];

    public uint RsdtAddress => BinaryPrimitives.ReadUInt32LittleEndian(Rsdp.AsSpan(16));

    public ulong XsdtAddress => BinaryPrimitives.ReadUInt64LittleEndian(Rsdp.AsSpan(24));

    public byte[] ReadBytes(ulong address, int length)
    {
        var b = new byte[length];
        _memory.ReadBytes(address, b);
        return b;
    }

    public AcpiTable Table(ulong address)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(address + 4, 4));
        return new AcpiTable(address, ReadBytes(address, (int)length));
    }

    /// <summary>The tables a root table (RSDT: 4-byte entries, XSDT: 8-byte entries) points at.</summary>
    public List<AcpiTable> Entries(AcpiTable root)
    {
        int size = root.Signature == "XSDT" ? 8 : 4;
        var list = new List<AcpiTable>();
        for (int off = 36; off + size <= root.Bytes.Length; off += size)
        {
            list.Add(Table(size == 8 ? root.U64(off) : root.U32(off)));
        }
        return list;
    }

    public AcpiTable Rsdt => Table(RsdtAddress);

    public AcpiTable Xsdt => Table(XsdtAddress);

    public AcpiTable Find(string signature) => Entries(Xsdt).Single(t => t.Signature == signature);

    /// <summary>The MADT's interrupt controller structures as (type, bytes).</summary>
    public static List<byte[]> MadtEntries(AcpiTable madt)
    {
        var list = new List<byte[]>();
        for (int p = 44; p < madt.Bytes.Length;)
        {
            int len = madt.Bytes[p + 1];
            Assert.That(len, Is.GreaterThanOrEqualTo(2), $"MADT entry at +{p} has length {len}");
            list.Add(madt.Bytes[p..(p + len)]);
            p += len;
        }
        return list;
    }

    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte s = 0;
        foreach (byte b in bytes)
        {
            s += b;
        }
        return s;
    }
}
