using System.Buffers.Binary;
using System.Text;
using Emulator.Acpi;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Devices;

namespace Emulator.Tests.Devices.FirmwareTests;

/// <summary>QEMU's fw_cfg through its I/O ports, as guests drive it (QEMU docs/specs/fw_cfg.rst).</summary>
public class FwCfgTests
{
    private const ulong Descriptor = 0x1000;
    private const ulong Buffer = 0x2000;

    private sealed class Rig : IDisposable
    {
        public readonly PhysicalMemory Memory = new(128 << 20);
        public readonly IoBus Io = new();
        public readonly FwCfg Device;

        public Rig(int cpus = 1, bool dma = true)
        {
            Device = new FwCfg(Memory.LowRamEnd, Memory.HighRamEnd, cpus, dma ? Memory : null);
            Io.Register(FwCfg.IoBase, FwCfg.IoLength, Device);
            if (dma)
            {
                Io.Register(FwCfg.DmaIoBase, FwCfg.DmaIoLength, Device);
            }
        }

        public void Select(ushort key) => Io.Out(0x510, 2, key);

        public byte[] Read(int n)
        {
            var b = new byte[n];
            for (int i = 0; i < n; i++)
            {
                b[i] = (byte)Io.In(0x511, 1);
            }
            return b;
        }

        public byte[] ReadKey(ushort key, int n)
        {
            Select(key);
            return Read(n);
        }

        /// <summary>Writes a FWCfgDmaAccess at <see cref="Descriptor"/> and starts it the way Linux and SeaBIOS do.</summary>
        public uint Dma(uint control, uint length, ulong address)
        {
            Span<byte> d = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32BigEndian(d, control);
            BinaryPrimitives.WriteUInt32BigEndian(d[4..], length);
            BinaryPrimitives.WriteUInt64BigEndian(d[8..], address);
            Memory.TryWriteBytes(Descriptor, d);
            // The register is big-endian: the guest writes each half byte-swapped.
            Io.Out(0x514, 4, BinaryPrimitives.ReverseEndianness((uint)(Descriptor >> 32)));
            Io.Out(0x518, 4, BinaryPrimitives.ReverseEndianness((uint)Descriptor));
            return BinaryPrimitives.ReverseEndianness((uint)Memory.Read(Descriptor, 4));
        }

        public byte[] Bytes(ulong address, int n)
        {
            var b = new byte[n];
            Memory.ReadBytes(address, b);
            return b;
        }

        public void Dispose() => Memory.Dispose();
    }

    [Test]
    public void Signature_AtReset_SelectedAndReadsQemu()
    {
        using var rig = new Rig();
        Assert.That(Encoding.ASCII.GetString(rig.Read(4)), Is.EqualTo("QEMU"));
    }

    [Test]
    public void Signature_ReadPastEnd_ReadsZero()
    {
        using var rig = new Rig();
        Assert.That(rig.ReadKey(FwCfg.KeySignature, 8), Is.EqualTo("QEMU\0\0\0\0"u8.ToArray()));
    }

    [Test]
    public void Select_Again_RewindsToTheStart()
    {
        using var rig = new Rig();
        rig.ReadKey(FwCfg.KeySignature, 3);
        Assert.That(rig.ReadKey(FwCfg.KeySignature, 1), Is.EqualTo("Q"u8.ToArray()));
    }

    [Test]
    public void Select_WordWriteToDataPort_AlsoSelects()
    {
        // fw_cfg_comb_write: the two ports form one region; a 16-bit write at either selects.
        using var rig = new Rig(cpus: 3);
        rig.Io.Out(0x511, 2, FwCfg.KeyNbCpus);
        Assert.That(rig.Read(2), Is.EqualTo(new byte[] { 3, 0 }));
    }

    [Test]
    public void DataPort_WideReadOrByteWrite_IsIgnored()
    {
        using var rig = new Rig();
        rig.Select(FwCfg.KeySignature);
        Assert.That(rig.Io.In(0x511, 2), Is.Zero);
        rig.Io.Out(0x511, 1, 0x55);
        Assert.That(rig.Read(1), Is.EqualTo("Q"u8.ToArray()), "neither advanced the offset nor changed the item");
    }

    [TestCase(false, 1u)]
    [TestCase(true, 3u)]
    public void Id_AdvertisesDmaOnlyWhenImplemented(bool dma, uint expected)
    {
        using var rig = new Rig(dma: dma);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(rig.ReadKey(FwCfg.KeyId, 4)), Is.EqualTo(expected));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void NbCpusAndMaxCpus_ReadCpuCountAsU16(int cpus)
    {
        using var rig = new Rig(cpus);
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(rig.ReadKey(FwCfg.KeyNbCpus, 2)), Is.EqualTo(cpus));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(rig.ReadKey(FwCfg.KeyMaxCpus, 2)), Is.EqualTo(cpus));
        Assert.That(rig.Read(1), Is.EqualTo(new byte[] { 0 }), "two bytes long");
    }

    [Test]
    public void RamSize_LowRam_ReadsTotalAsU64()
    {
        using var rig = new Rig();
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(rig.ReadKey(FwCfg.KeyRamSize, 8)), Is.EqualTo(128UL << 20));
    }

    [Test]
    public void RamSize_WithRamAbove4G_CountsBothParts()
    {
        // 6 GiB as PhysicalMemory splits it: 3.5 GiB low, 2.5 GiB from 4 GiB.
        var fw = new FwCfg(0xE000_0000, 0x1_A000_0000, 1, null);
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(fw.Item(FwCfg.KeyRamSize)), Is.EqualTo(6UL << 30));
    }

    [Test]
    public void ArchLocalIrq0Override_ReadsOne()
    {
        using var rig = new Rig();
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(rig.ReadKey(FwCfg.KeyIrq0Override, 4)), Is.EqualTo(1u));
    }

    [TestCase((ushort)0x0010)]
    [TestCase((ushort)0x003F)]
    [TestCase((ushort)0x0040)]
    [TestCase((ushort)0x1234)]
    [TestCase((ushort)0xFFFF)]
    public void UnknownKey_ReadsZeroLength(ushort key)
    {
        using var rig = new Rig();
        Assert.That(rig.ReadKey(key, 4), Is.EqualTo(new byte[4]));
    }

    private static List<(string Name, uint Size, ushort Select)> Directory(byte[] dir)
    {
        uint count = BinaryPrimitives.ReadUInt32BigEndian(dir);
        var files = new List<(string, uint, ushort)>();
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> f = dir.AsSpan(4 + 64 * i, 64);
            string name = Encoding.ASCII.GetString(f[8..]).TrimEnd('\0');
            files.Add((name, BinaryPrimitives.ReadUInt32BigEndian(f), BinaryPrimitives.ReadUInt16BigEndian(f[4..])));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f[6..]), Is.Zero, "reserved");
        }
        return files;
    }

    [Test]
    public void FileDir_ListsFilesSortedByName_WithSizesAndSelectors()
    {
        using var rig = new Rig();
        var files = Directory(rig.ReadKey(FwCfg.KeyFileDir, 4 + 64 * 32));
        Assert.That(files.Select(f => f.Name), Is.EqualTo(new[] { "bios-geometry", "bootorder", "etc/boot-fail-wait", "etc/e820" }));
        Assert.That(files.Select(f => (int)f.Select), Is.EqualTo(new[] { 0x20, 0x21, 0x22, 0x23 }));
        foreach ((string name, uint size, ushort select) in files)
        {
            Assert.That(rig.Device.Item(select)!.Length, Is.EqualTo((int)size), name);
        }
        Assert.That(files.Single(f => f.Name == "bootorder").Size, Is.Zero);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(rig.ReadKey(0x22, 4)), Is.EqualTo(uint.MaxValue), "boot-fail-wait -1");
    }

    [Test]
    public void E820File_IsQemusRamOnlyMap_AddingUpToRamSize()
    {
        using var rig = new Rig();
        var file = Directory(rig.ReadKey(FwCfg.KeyFileDir, 4 + 64 * 32)).Single(f => f.Name == "etc/e820");
        byte[] data = rig.ReadKey(file.Select, (int)file.Size);
        E820Entry[] expected = E820Map.BuildFwCfg(rig.Memory.LowRamEnd, rig.Memory.HighRamEnd);
        Assert.That(data.Length, Is.EqualTo(20 * expected.Length));
        ulong ram = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            ReadOnlySpan<byte> e = data.AsSpan(20 * i, 20);
            var entry = new E820Entry(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(e[16..]));
            Assert.That(entry, Is.EqualTo(expected[i]));
            Assert.That(entry.Type, Is.EqualTo(E820Map.Ram), "QEMU's etc/e820 lists RAM only");
            ram += entry.Length;
        }
        Assert.That(ram, Is.EqualTo(rig.Memory.Size), "the RAM entries add up to RAM_SIZE, as guests check");
    }

    [Test]
    public void E820Map_WithHighRam_ListsRamAbove4G()
    {
        E820Entry[] map = E820Map.Build(0xE000_0000, 0x1_2000_0000);
        Assert.That(map, Does.Contain(new E820Entry(0x1_0000_0000, 0x2000_0000, E820Map.Ram)));
        Assert.That(map, Does.Contain(new E820Entry(0x10_0000, 0xE000_0000 - 0x10_0000, E820Map.Ram)));
        Assert.That(E820Map.ToMultibootMmap(map).Length, Is.EqualTo(24 * map.Length));
    }

    [Test]
    public void DmaRegister_Read_ReturnsQemuCfgSignature()
    {
        using var rig = new Rig();
        var sig = new byte[8];
        for (int i = 0; i < 8; i++)
        {
            sig[i] = (byte)rig.Io.In((ushort)(0x514 + i), 1);
        }
        Assert.That(Encoding.ASCII.GetString(sig), Is.EqualTo("QEMU CFG"));
        Assert.That(rig.Io.In(0x514, 4), Is.EqualTo(BinaryPrimitives.ReadUInt32LittleEndian("QEMU"u8)));
    }

    [Test]
    public void Dma_SelectAndRead_CopiesItemAndClearsControl()
    {
        using var rig = new Rig(cpus: 4);
        uint control = rig.Dma(((uint)FwCfg.KeyNbCpus << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlRead, 2, Buffer);
        Assert.That(control, Is.Zero);
        Assert.That(rig.Memory.Read(Buffer, 2), Is.EqualTo(4));
    }

    [Test]
    public void Dma_ReadPastEnd_FillsWithZeros()
    {
        using var rig = new Rig();
        rig.Memory.TryWriteBytes(Buffer, Enumerable.Repeat((byte)0xEE, 8).ToArray());
        rig.Dma(((uint)FwCfg.KeySignature << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlRead, 8, Buffer);
        Assert.That(rig.Bytes(Buffer, 8), Is.EqualTo("QEMU\0\0\0\0"u8.ToArray()));
    }

    [Test]
    public void Dma_Skip_AdvancesTheOffsetThePortsUse()
    {
        using var rig = new Rig();
        uint control = rig.Dma(((uint)FwCfg.KeySignature << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlSkip, 2, 0);
        Assert.That(control, Is.Zero);
        Assert.That(rig.Read(2), Is.EqualTo("MU"u8.ToArray()));
    }

    [Test]
    public void Dma_WithoutSelect_ContinuesTheCurrentItem()
    {
        using var rig = new Rig();
        rig.ReadKey(FwCfg.KeySignature, 1);
        rig.Dma(FwCfg.DmaCtlRead, 3, Buffer);
        Assert.That(rig.Bytes(Buffer, 3), Is.EqualTo("EMU"u8.ToArray()));
    }

    [Test]
    public void Dma_Write_ReadOnlyItem_SetsError()
    {
        using var rig = new Rig();
        uint control = rig.Dma(((uint)FwCfg.KeyNbCpus << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlWrite, 2, Buffer);
        Assert.That(control, Is.EqualTo(FwCfg.DmaCtlError));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(rig.Device.Item(FwCfg.KeyNbCpus)), Is.EqualTo(1), "item unchanged");
    }

    [Test]
    public void Dma_TargetOutsideRam_SetsError()
    {
        using var rig = new Rig();
        uint control = rig.Dma(((uint)FwCfg.KeyFileDir << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlRead, 64, 0xF000_0000);
        Assert.That(control, Is.EqualTo(FwCfg.DmaCtlError));
    }

    [Test]
    public void Dma_FileDirectoryThenFile_MatchesPortReads()
    {
        using var rig = new Rig(cpus: 2);
        int dirLength = 4 + 64 * 32;
        rig.Dma(((uint)FwCfg.KeyFileDir << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlRead, (uint)dirLength, Buffer);
        byte[] dir = rig.Bytes(Buffer, dirLength);
        Assert.That(dir, Is.EqualTo(rig.ReadKey(FwCfg.KeyFileDir, dirLength)));
        var e820 = Directory(dir).Single(f => f.Name == "etc/e820");
        rig.Dma(((uint)e820.Select << 16) | FwCfg.DmaCtlSelect | FwCfg.DmaCtlRead, e820.Size, Buffer + 0x1000);
        Assert.That(rig.Bytes(Buffer + 0x1000, (int)e820.Size), Is.EqualTo(rig.ReadKey(e820.Select, (int)e820.Size)));
    }

    [Test]
    public void Dma_Disabled_PortsReadAllOnes()
    {
        using var rig = new Rig(dma: false);
        rig.Io.Register(FwCfg.DmaIoBase, FwCfg.DmaIoLength, rig.Device);
        Assert.That(rig.Io.In(0x514, 4), Is.EqualTo(uint.MaxValue));
    }
}
