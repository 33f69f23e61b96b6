using System.Buffers.Binary;

// Not Emulator.Firmware: a namespace of that name would shadow the Emulator.Loading.Firmware class for
// code in namespace Emulator (Machine.cs calls Firmware.Install), so the folder's types live here.
namespace Emulator.Acpi;

/// <summary>One address range of the PC memory map (ACPI 6.x §15 "System Address Map Interfaces").</summary>
internal readonly record struct E820Entry(ulong Base, ulong Length, uint Type);

/// <summary>
/// The memory map the firmware reports (INT 15h E820, the multiboot mmap, fw_cfg "etc/e820"): base memory
/// below the EBDA, the EBDA and the BIOS segment reserved, RAM from 1 MiB to the PCI hole, the flash area
/// below 4 GiB reserved, RAM above 4 GiB. 0xA0000–0xEFFFF is left out (VGA window, option ROMs, and the
/// ACPI tables <see cref="AcpiTables"/> builds at 0xE0000): a range that is not listed is not RAM.
/// </summary>
internal static class E820Map
{
    /// <summary>ACPI 6.x §15 "System Address Map Interfaces", "Address Range Types": AddressRangeMemory.</summary>
    public const uint Ram = 1;

    /// <summary>AddressRangeReserved.</summary>
    public const uint Reserved = 2;

    /// <summary>Size of one entry as QEMU's "etc/e820" stores it: u64 address, u64 length, u32 type (packed, LE).</summary>
    public const int EntrySize = 20;

    private const ulong FourGiB = 0x1_0000_0000;

    /// <summary>The map for RAM [0, <paramref name="lowRamEnd"/>) plus [4 GiB, <paramref name="highRamEnd"/>) when non-zero.</summary>
    public static E820Entry[] Build(ulong lowRamEnd, ulong highRamEnd)
    {
        var map = new List<E820Entry>
        {
            new(0, 0x9FC00, Ram),
            new(0x9FC00, 0x400, Reserved),
            new(0xF0000, 0x10000, Reserved),
        };
        if (lowRamEnd > 0x10_0000)
        {
            map.Add(new(0x10_0000, lowRamEnd - 0x10_0000, Ram));
        }
        map.Add(new(0xFFFC_0000, 0x4_0000, Reserved));
        if (highRamEnd > FourGiB)
        {
            map.Add(new(FourGiB, highRamEnd - FourGiB, Ram));
        }
        return [.. map];
    }

    /// <summary>
    /// QEMU's own "etc/e820" (hw/i386/pc.c): RAM only, one entry for all RAM below 4 GiB from address 0 and
    /// one above 4 GiB; the firmware carves the BIOS holes out when it builds the map it hands to the OS.
    /// </summary>
    public static E820Entry[] BuildFwCfg(ulong lowRamEnd, ulong highRamEnd)
    {
        var map = new List<E820Entry> { new(0, lowRamEnd, Ram) };
        if (highRamEnd > FourGiB)
        {
            map.Add(new(FourGiB, highRamEnd - FourGiB, Ram));
        }
        return [.. map];
    }

    /// <summary>The entries in QEMU's "etc/e820" layout (struct e820_entry, packed little-endian).</summary>
    public static byte[] ToFwCfgFile(IReadOnlyList<E820Entry> map)
    {
        var bytes = new byte[EntrySize * map.Count];
        for (int i = 0; i < map.Count; i++)
        {
            Span<byte> e = bytes.AsSpan(EntrySize * i, EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], map[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], map[i].Type);
        }
        return bytes;
    }

    /// <summary>
    /// The entries as the multiboot mmap stores them (Multiboot 0.6.96 §3.3 "Boot information format"):
    /// each preceded by its size (20) as a u32, so 24 bytes per entry.
    /// </summary>
    public static byte[] ToMultibootMmap(IReadOnlyList<E820Entry> map)
    {
        var bytes = new byte[(EntrySize + 4) * map.Count];
        for (int i = 0; i < map.Count; i++)
        {
            Span<byte> e = bytes.AsSpan((EntrySize + 4) * i, EntrySize + 4);
            BinaryPrimitives.WriteUInt32LittleEndian(e, EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e[4..], map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[12..], map[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[20..], map[i].Type);
        }
        return bytes;
    }
}
