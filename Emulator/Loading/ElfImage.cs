using System.Buffers.Binary;

namespace Emulator.Loading;

/// <summary>A loadable segment of an ELF image (by physical address, as QEMU's loader uses p_paddr).</summary>
internal readonly record struct ElfSegment(ulong PhysAddr, ulong VirtAddr, long FileOffset, ulong FileSize, ulong MemSize);

/// <summary>Minimal ELF32/ELF64 little-endian x86 parser: header and PT_LOAD program headers.</summary>
internal sealed class ElfImage
{
    private const uint PtLoad = 1;

    public bool Is64 { get; }
    public ulong Entry { get; }
    public IReadOnlyList<ElfSegment> Segments { get; }

    private ElfImage(bool is64, ulong entry, List<ElfSegment> segments)
    {
        Is64 = is64;
        Entry = entry;
        Segments = segments;
    }

    public static bool IsElf(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && data[0] == 0x7F && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F';

    public static ElfImage Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 52)
        {
            throw new ImageException("truncated ELF header");
        }
        byte cls = data[4];
        if (cls != 1 && cls != 2)
        {
            throw new ImageException($"unsupported ELF class {cls}");
        }
        if (data[5] != 1)
        {
            throw new ImageException("ELF image is not little-endian");
        }
        bool is64 = cls == 2;
        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(data[18..]);
        if (machine != 3 && machine != 62)
        {
            throw new ImageException($"ELF machine {machine} is not x86 (3) or x86-64 (62)");
        }
        ulong entry;
        ulong phoff;
        int phentsize, phnum;
        if (is64)
        {
            if (data.Length < 64)
            {
                throw new ImageException("truncated ELF64 header");
            }
            entry = BinaryPrimitives.ReadUInt64LittleEndian(data[24..]);
            phoff = BinaryPrimitives.ReadUInt64LittleEndian(data[32..]);
            phentsize = BinaryPrimitives.ReadUInt16LittleEndian(data[54..]);
            phnum = BinaryPrimitives.ReadUInt16LittleEndian(data[56..]);
        }
        else
        {
            entry = BinaryPrimitives.ReadUInt32LittleEndian(data[24..]);
            phoff = BinaryPrimitives.ReadUInt32LittleEndian(data[28..]);
            phentsize = BinaryPrimitives.ReadUInt16LittleEndian(data[42..]);
            phnum = BinaryPrimitives.ReadUInt16LittleEndian(data[44..]);
        }
        int minEntry = is64 ? 56 : 32;
        if (phnum == 0)
        {
            throw new ImageException("ELF image has no program headers");
        }
        if (phentsize < minEntry || phoff > (ulong)data.Length || (ulong)phnum * (ulong)phentsize > (ulong)data.Length - phoff)
        {
            throw new ImageException("truncated or malformed ELF program headers");
        }
        var segments = new List<ElfSegment>();
        for (int n = 0; n < phnum; n++)
        {
            ReadOnlySpan<byte> ph = data[(int)(phoff + (ulong)(n * phentsize))..];
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(ph);
            if (type != PtLoad)
            {
                continue;
            }
            ulong offset, vaddr, paddr, filesz, memsz;
            if (is64)
            {
                offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
                vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
                paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
                filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
                memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
            }
            else
            {
                offset = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
                vaddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[8..]);
                paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
                filesz = BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
                memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            }
            if (filesz > memsz)
            {
                throw new ImageException($"ELF segment {n}: file size 0x{filesz:x} exceeds memory size 0x{memsz:x}");
            }
            if (offset > (ulong)data.Length || filesz > (ulong)data.Length - offset)
            {
                throw new ImageException($"truncated ELF image: segment {n} needs bytes up to 0x{offset + filesz:x}, file has 0x{data.Length:x}");
            }
            segments.Add(new ElfSegment(paddr, vaddr, (long)offset, filesz, memsz));
        }
        if (segments.Count == 0)
        {
            throw new ImageException("ELF image has no loadable (PT_LOAD) segments");
        }
        return new ElfImage(is64, entry, segments);
    }
}
