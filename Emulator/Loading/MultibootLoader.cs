using System.Buffers.Binary;
using System.Text;
using Emulator.Acpi;
using Emulator.Cpu.Memory;

namespace Emulator.Loading;

/// <summary>What the loader leaves for the CPU: the entry point and the registers the spec defines.</summary>
internal readonly record struct BootInfo(ulong Entry, uint Eax, uint Ebx);

/// <summary>
/// Multiboot v1 loader with QEMU's conventions (hw/i386/multiboot.c): header in the first 8 KiB, ELF32
/// or ELF64 program headers loaded by physical address unless the a.out kludge (flags bit 16) is set,
/// the info structure at 0x9500 with the memory map at 0x9000, the command line as
/// "&lt;image name&gt; &lt;append&gt;", and each initrd file as one module placed page-aligned after the image.
/// </summary>
internal static class MultibootLoader
{
    public const uint HeaderMagic = 0x1BADB002;
    public const uint BootMagic = 0x2BADB002;
    public const ulong InfoAddress = 0x9500;
    public const ulong MmapAddress = 0x9000;
    private const ulong StringsAddress = 0x9800;
    private const ulong StringsEnd = 0x9F000;
    private const int SearchLength = 8192;

    /// <summary>Offset of a valid multiboot header within the first 8 KiB, or -1.</summary>
    public static int FindHeader(ReadOnlySpan<byte> image)
    {
        int limit = Math.Min(image.Length, SearchLength) - 12;
        for (int off = 0; off <= limit; off += 4)
        {
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(image[off..]);
            if (magic != HeaderMagic)
            {
                continue;
            }
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image[(off + 4)..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(image[(off + 8)..]);
            if (magic + flags + checksum == 0)
            {
                return off;
            }
        }
        return -1;
    }

    public static BootInfo Load(PhysicalMemory memory, ReadOnlySpan<byte> image, string imageName, string append,
        IReadOnlyList<(string Name, byte[] Data)> modules)
    {
        int hdr = FindHeader(image);
        if (hdr < 0)
        {
            throw new ImageException(ElfImage.IsElf(image)
                ? "no multiboot header in the first 8 KiB of the ELF image"
                : "not an ELF image and no multiboot header found (use --flat ADDR for a flat binary)");
        }
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 4)..]);
        // Bits 0-15 are requirements: QEMU refuses an image that demands an unknown one (bit 2 video is ignored).
        if ((flags & 0xFFF8) != 0)
        {
            throw new ImageException($"multiboot header requests unsupported features (flags 0x{flags:x})");
        }

        ulong entry;
        ulong imageEnd;
        if ((flags & 0x10000) != 0)
        {
            // The a.out kludge: header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr.
            if (image.Length < hdr + 32)
            {
                throw new ImageException("truncated multiboot header (a.out kludge fields)");
            }
            uint headerAddr = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 12)..]);
            uint loadAddr = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 16)..]);
            uint loadEnd = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 20)..]);
            uint bssEnd = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 24)..]);
            uint entryAddr = BinaryPrimitives.ReadUInt32LittleEndian(image[(hdr + 28)..]);
            if (headerAddr < loadAddr || headerAddr - loadAddr > (uint)hdr)
            {
                throw new ImageException($"multiboot a.out kludge: header_addr 0x{headerAddr:x} inconsistent with load_addr 0x{loadAddr:x}");
            }
            long fileOffset = hdr - (headerAddr - loadAddr);
            long length = loadEnd == 0 ? image.Length - fileOffset : (long)loadEnd - loadAddr;
            if (length < 0 || fileOffset + length > image.Length)
            {
                throw new ImageException($"truncated image: a.out kludge wants 0x{length:x} bytes from offset 0x{fileOffset:x}, file has 0x{image.Length:x}");
            }
            if (!memory.TryWriteBytes(loadAddr, image.Slice((int)fileOffset, (int)length)))
            {
                throw new ImageException($"image load range 0x{loadAddr:x}-0x{loadAddr + length:x} is outside RAM");
            }
            imageEnd = (ulong)loadAddr + (ulong)length;
            if (bssEnd > imageEnd)
            {
                if (!memory.TryZero(imageEnd, bssEnd - imageEnd))
                {
                    throw new ImageException($"bss 0x{imageEnd:x}-0x{bssEnd:x} is outside RAM");
                }
                imageEnd = bssEnd;
            }
            entry = entryAddr;
        }
        else
        {
            if (!ElfImage.IsElf(image))
            {
                throw new ImageException("multiboot header without the a.out kludge, but the image is not ELF");
            }
            ElfImage elf = ElfImage.Parse(image);
            imageEnd = 0;
            foreach (ElfSegment seg in elf.Segments)
            {
                if (!memory.IsRam(seg.PhysAddr, seg.MemSize))
                {
                    throw new ImageException($"ELF segment at 0x{seg.PhysAddr:x}-0x{seg.PhysAddr + seg.MemSize:x} is outside RAM ({memory.Size >> 20} MiB)");
                }
                memory.TryWriteBytes(seg.PhysAddr, image.Slice((int)seg.FileOffset, (int)seg.FileSize));
                memory.TryZero(seg.PhysAddr + seg.FileSize, seg.MemSize - seg.FileSize);
                imageEnd = Math.Max(imageEnd, seg.PhysAddr + seg.MemSize);
            }
            entry = elf.Entry;
            if (entry > uint.MaxValue)
            {
                throw new ImageException($"ELF entry point 0x{entry:x} is above 4 GiB: multiboot enters in 32-bit protected mode");
            }
        }

        var strings = new StringArea(memory);
        string cmdline = append.Length > 0 ? imageName + " " + append : imageName;
        uint cmdlineAddr = strings.Add(cmdline);
        uint loaderNameAddr = strings.Add("qemu");

        // Modules: page-aligned after the image, with their descriptors in the string area.
        ulong modAddr = (imageEnd + 0xFFF) & ~0xFFFUL;
        uint modsAddr = 0;
        if (modules.Count > 0)
        {
            var descs = new byte[16 * modules.Count];
            for (int m = 0; m < modules.Count; m++)
            {
                (string name, byte[] data) = modules[m];
                if (!memory.TryWriteBytes(modAddr, data) || !memory.IsRam(modAddr, (ulong)data.Length))
                {
                    throw new ImageException($"module {name} (0x{data.Length:x} bytes) does not fit in RAM at 0x{modAddr:x}");
                }
                uint nameAddr = strings.Add(name);
                BinaryPrimitives.WriteUInt32LittleEndian(descs.AsSpan(16 * m), (uint)modAddr);
                BinaryPrimitives.WriteUInt32LittleEndian(descs.AsSpan(16 * m + 4), (uint)(modAddr + (ulong)data.Length));
                BinaryPrimitives.WriteUInt32LittleEndian(descs.AsSpan(16 * m + 8), nameAddr);
                modAddr = (modAddr + (ulong)data.Length + 0xFFF) & ~0xFFFUL;
            }
            modsAddr = strings.AddBytes(descs);
        }

        // Memory map as QEMU's e820 describes a PC: base memory, BIOS areas reserved, RAM above 1 MiB and 4 GiB.
        byte[] mm = E820Map.ToMultibootMmap(E820Map.Build(memory.LowRamEnd, memory.HighRamEnd));
        memory.TryWriteBytes(MmapAddress, mm);

        // Multiboot information structure (Multiboot 0.6.96 §3.3 "Boot information format").
        var info = new byte[88];
        const uint InfoMem = 1, InfoBootDevice = 2, InfoCmdline = 4, InfoMods = 8, InfoMmap = 0x40, InfoLoaderName = 0x200;
        BinaryPrimitives.WriteUInt32LittleEndian(info, InfoMem | InfoBootDevice | InfoCmdline | InfoMods | InfoMmap | InfoLoaderName);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(4), 639);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(8), (uint)((memory.LowRamEnd - 0x100000) / 1024));
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(12), 0x8000FFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(16), cmdlineAddr);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(20), (uint)modules.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(24), modsAddr);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(44), (uint)mm.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(48), (uint)MmapAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(64), loaderNameAddr);
        memory.TryWriteBytes(InfoAddress, info);

        return new BootInfo(entry, BootMagic, (uint)InfoAddress);
    }

    /// <summary>Bump allocator for strings and small tables in low memory.</summary>
    private sealed class StringArea(PhysicalMemory memory)
    {
        private ulong _next = StringsAddress;

        public uint Add(string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s + "\0");
            return AddBytes(bytes);
        }

        public uint AddBytes(byte[] bytes)
        {
            if (_next + (ulong)bytes.Length > StringsEnd)
            {
                throw new ImageException("command line and module names are too long for the multiboot info area");
            }
            ulong at = _next;
            memory.TryWriteBytes(at, bytes);
            _next = (_next + (ulong)bytes.Length + 3) & ~3UL;
            return (uint)at;
        }
    }
}
