using System.Buffers.Binary;
using System.Text;
using Emulator.Cpu.Memory;
using Emulator.Loading;

namespace Emulator.Tests.Loading;

/// <summary>Multiboot v1 loading with QEMU's conventions, on synthetic images.</summary>
public class MultibootLoaderTests
{
    private static byte[] MultibootHeader(uint flags, params uint[] extra)
    {
        var h = new byte[12 + 4 * extra.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(h, MultibootLoader.HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), unchecked(0u - MultibootLoader.HeaderMagic - flags));
        for (int i = 0; i < extra.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12 + 4 * i), extra[i]);
        }
        return h;
    }

    /// <summary>An ELF32 (or ELF64) image with one PT_LOAD of <paramref name="payload"/> at <paramref name="paddr"/> plus bss.</summary>
    internal static byte[] Elf(bool is64, ulong paddr, byte[] payload, ulong bss, ulong entry)
    {
        int ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;
        int dataOff = 0x100;
        var img = new byte[dataOff + payload.Length];
        img[0] = 0x7F; img[1] = (byte)'E'; img[2] = (byte)'L'; img[3] = (byte)'F';
        img[4] = (byte)(is64 ? 2 : 1); img[5] = 1; img[6] = 1;
        Span<byte> s = img;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], (ushort)(is64 ? 62 : 3));
        if (is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], entry);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[54..], (ushort)phsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);
            Span<byte> ph = s[ehsize..];
            BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)dataOff);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)payload.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)payload.Length + bss);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)entry);
            BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[42..], (ushort)phsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 1);
            Span<byte> ph = s[ehsize..];
            BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], (uint)dataOff);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], (uint)paddr);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], (uint)paddr);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)payload.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)(payload.Length + (int)bss));
        }
        payload.CopyTo(img, dataOff);
        return img;
    }

    private static string ReadCString(PhysicalMemory m, ulong addr)
    {
        var sb = new StringBuilder();
        for (ulong a = addr; ; a++)
        {
            byte b = (byte)m.Read(a, 1);
            if (b == 0)
            {
                return sb.ToString();
            }
            sb.Append((char)b);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Elf_LoadsByPhysicalAddress_ZeroesBss_FillsInfo(bool is64)
    {
        using var m = new PhysicalMemory(64 << 20);
        byte[] payload = [.. MultibootHeader(0x3), .. Enumerable.Repeat((byte)0x90, 20)];
        m.Write(0x400000 + (ulong)payload.Length, 8, 0xDEAD_BEEF); // must be zeroed as bss
        BootInfo boot = MultibootLoader.Load(m, Elf(is64, 0x400000, payload, 0x2000, 0x40000C), "k.elf", "a=1", []);

        Assert.Multiple(() =>
        {
            Assert.That(boot.Entry, Is.EqualTo(0x40000C));
            Assert.That(boot.Eax, Is.EqualTo(0x2BADB002));
            Assert.That(boot.Ebx, Is.EqualTo(0x9500));
            Assert.That(m.Read(0x400000, 4), Is.EqualTo(MultibootLoader.HeaderMagic));
            Assert.That(m.Read(0x400000 + (ulong)payload.Length, 8), Is.Zero, "bss zeroed");
            ulong info = boot.Ebx;
            uint flags = (uint)m.Read(info, 4);
            Assert.That(flags & 0x4F, Is.EqualTo(0x4F), "mem, boot device, cmdline, mods, mmap");
            Assert.That(m.Read(info + 4, 4), Is.EqualTo(639));
            Assert.That(m.Read(info + 8, 4), Is.EqualTo((64 << 10) - 1024), "mem_upper = KiB above 1 MiB");
            Assert.That(ReadCString(m, m.Read(info + 16, 4)), Is.EqualTo("k.elf a=1"));
            Assert.That(m.Read(info + 20, 4), Is.Zero, "no modules");
            Assert.That(m.Read(info + 48, 4), Is.EqualTo(0x9000), "mmap_addr");
            Assert.That(ReadCString(m, m.Read(info + 64, 4)), Is.EqualTo("qemu"));
        });
    }

    [Test]
    public void MemoryMap_DescribesLowAndHighRam()
    {
        using var m = new PhysicalMemory(4UL << 30);
        byte[] payload = MultibootHeader(0x3);
        MultibootLoader.Load(m, Elf(false, 0x400000, payload, 0, 0x400000), "k", "", []);
        uint length = (uint)m.Read(0x9500 + 44, 4);
        var ram = new List<(ulong, ulong)>();
        for (ulong at = 0x9000; at < 0x9000 + length;)
        {
            uint size = (uint)m.Read(at, 4);
            ulong b = m.Read(at + 4, 8), l = m.Read(at + 12, 8);
            if (m.Read(at + 20, 4) == 1)
            {
                ram.Add((b, l));
            }
            at += size + 4;
        }
        ulong total = 0;
        foreach ((ulong _, ulong l) in ram)
        {
            total += l;
        }
        Assert.That(ram, Does.Contain((0x1_0000_0000UL, (4UL << 30) - PhysicalMemory.LowMemoryLimit)), "RAM above 4 GiB");
        Assert.That(total, Is.EqualTo((4UL << 30) - 0x100000 + 0x9FC00), "all RAM but the BIOS hole");
    }

    [Test]
    public void Modules_PlacedPageAlignedAfterImage_WithNames()
    {
        using var m = new PhysicalMemory(64 << 20);
        byte[] payload = MultibootHeader(0x3);
        byte[] mod1 = Encoding.ASCII.GetBytes("first module");
        byte[] mod2 = new byte[5000];
        mod2[4999] = 0x7E;
        BootInfo boot = MultibootLoader.Load(m, Elf(false, 0x400000, payload, 0x1234, 0x400000), "k", "",
            [("one.bin arg", mod1), ("two.bin", mod2)]);
        ulong info = boot.Ebx;
        Assert.That(m.Read(info + 20, 4), Is.EqualTo(2));
        ulong mods = m.Read(info + 24, 4);
        ulong start1 = m.Read(mods, 4), end1 = m.Read(mods + 4, 4);
        ulong start2 = m.Read(mods + 16, 4), end2 = m.Read(mods + 20, 4);
        Assert.Multiple(() =>
        {
            Assert.That(start1, Is.EqualTo(0x402000), "page-aligned after image + bss");
            Assert.That(end1 - start1, Is.EqualTo((ulong)mod1.Length));
            Assert.That(ReadCString(m, m.Read(mods + 8, 4)), Is.EqualTo("one.bin arg"));
            Assert.That(start2 & 0xFFF, Is.Zero);
            Assert.That(start2, Is.GreaterThanOrEqualTo(end1));
            Assert.That(m.Read(end2 - 1, 1), Is.EqualTo(0x7E));
            Assert.That(ReadCString(m, m.Read(mods + 24, 4)), Is.EqualTo("two.bin"));
        });
    }

    [Test]
    public void AoutKludge_LoadsFromHeaderFields()
    {
        using var m = new PhysicalMemory(64 << 20);
        // Flat file whose multiboot header sits at offset 0x20 and says: header_addr 0x100020,
        // load 0x100000 .. 0x100100, bss to 0x101000, entry 0x100040.
        var file = new byte[0x100];
        byte[] hdr = MultibootHeader(0x10003, 0x100020, 0x100000, 0x100100, 0x101000, 0x100040);
        hdr.CopyTo(file, 0x20);
        file[0x40] = 0xF4;
        m.Write(0x100800, 4, 0xFFFF_FFFF);
        BootInfo boot = MultibootLoader.Load(m, file, "flat", "", []);
        Assert.Multiple(() =>
        {
            Assert.That(boot.Entry, Is.EqualTo(0x100040));
            Assert.That(m.Read(0x100040, 1), Is.EqualTo(0xF4));
            Assert.That(m.Read(0x100020, 4), Is.EqualTo(MultibootLoader.HeaderMagic));
            Assert.That(m.Read(0x100800, 4), Is.Zero, "bss zeroed");
        });
    }

    [Test]
    public void HeaderBeyondFirst8K_IsNotFound()
    {
        var file = new byte[0x3000];
        MultibootHeader(0x3).CopyTo(file, 0x2000);
        Assert.That(MultibootLoader.FindHeader(file), Is.EqualTo(-1));
        MultibootHeader(0x3).CopyTo(file, 0x1FF0);
        Assert.That(MultibootLoader.FindHeader(file), Is.EqualTo(0x1FF0));
    }

    [Test]
    public void BadChecksum_IsNotAHeader()
    {
        byte[] h = MultibootHeader(0x3);
        h[8] ^= 1;
        Assert.That(MultibootLoader.FindHeader(h), Is.EqualTo(-1));
    }

    [Test]
    public void UnknownRequiredFlag_IsRefused()
    {
        using var m = new PhysicalMemory(64 << 20);
        byte[] payload = MultibootHeader(0x3 | 0x100);
        var e = Assert.Throws<ImageException>(() => MultibootLoader.Load(m, Elf(false, 0x400000, payload, 0, 0x400000), "k", "", []));
        Assert.That(e!.Message, Does.Contain("unsupported features"));
    }

    [Test]
    public void Elf64EntryAbove4G_IsRefused()
    {
        using var m = new PhysicalMemory(64 << 20);
        byte[] payload = MultibootHeader(0x3);
        var e = Assert.Throws<ImageException>(() => MultibootLoader.Load(m, Elf(true, 0x400000, payload, 0, 0xFFFF_FFFF_8000_0000), "k", "", []));
        Assert.That(e!.Message, Does.Contain("above 4 GiB"));
    }
}
