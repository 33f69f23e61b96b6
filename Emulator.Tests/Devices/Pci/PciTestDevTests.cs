using System.Buffers.Binary;
using System.Text;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Devices.Pci;

namespace Emulator.Tests.Devices.Pci;

/// <summary>QEMU's pci-testdev: identity, BAR sizing and decoding, and the test protocol kvm-unit-tests runs.</summary>
public class PciTestDevTests
{
    private const int Slot = PciTestDev.DefaultSlot;

    private sealed class Rig : IDisposable
    {
        public readonly PhysicalMemory Memory = new(16 << 20);
        public readonly IoBus Io = new();
        public readonly PciBus Bus = new();
        public readonly PciTestDev Device = new();

        public Rig()
        {
            Bus.Add(Device, Slot);
            Io.Register(PciBus.ConfigAddressPort, 1, Bus);
            Io.Register(PciBus.ConfigDataPort, PciBus.ConfigDataLength, Bus);
            Io.Register(PciBus.IoWindowStart, PciBus.IoWindowLength, Bus.IoWindow);
            Memory.AddMmio(PciBus.MmioWindowStart, PciBus.MmioWindowEnd - PciBus.MmioWindowStart, Bus.MmioWindow);
        }

        public uint ReadConfig(int reg, int size = 4)
        {
            Io.Out(0xCF8, 4, PciBus.ConfigEnable | (Slot << 11) | (uint)(reg & ~3));
            return Io.In((ushort)(0xCFC + (reg & 3)), size);
        }

        public void WriteConfig(int reg, uint value, int size = 4)
        {
            Io.Out(0xCF8, 4, PciBus.ConfigEnable | (Slot << 11) | (uint)(reg & ~3));
            Io.Out((ushort)(0xCFC + (reg & 3)), size, value);
        }

        public void Dispose() => Memory.Dispose();
    }

    /// <summary>The BAR's window as the guest sees it: memory through PhysicalMemory, I/O through the port bus.</summary>
    private interface IWindow
    {
        byte ReadB(uint offset);

        uint ReadL(uint offset);

        void WriteB(uint offset, byte value);

        void Write(uint offset, int size, uint value);
    }

    private sealed class MemWindow(PhysicalMemory memory, ulong baseAddress) : IWindow
    {
        public byte ReadB(uint offset) => (byte)memory.Read(baseAddress + offset, 1);

        public uint ReadL(uint offset) => (uint)memory.Read(baseAddress + offset, 4);

        public void WriteB(uint offset, byte value) => memory.Write(baseAddress + offset, 1, value);

        public void Write(uint offset, int size, uint value) => memory.Write(baseAddress + offset, size, value);
    }

    private sealed class IoWindow(IoBus io, ushort baseAddress) : IWindow
    {
        public byte ReadB(uint offset) => (byte)io.In((ushort)(baseAddress + offset), 1);

        public uint ReadL(uint offset) => io.In((ushort)(baseAddress + offset), 4);

        public void WriteB(uint offset, byte value) => io.Out((ushort)(baseAddress + offset), 1, value);

        public void Write(uint offset, int size, uint value) => io.Out((ushort)(baseAddress + offset), size, value);
    }

    /// <summary>kvm-unit-tests lib/pci-testdev.c pci_testdev_one: select, check count 0, write 16 times, check count.</summary>
    private static bool RunOne(IWindow w, byte test)
    {
        w.WriteB(PciTestDev.HdrTest, test);
        if (w.ReadL(PciTestDev.HdrCount) != 0)
        {
            return false;
        }
        byte width = w.ReadB(PciTestDev.HdrWidth);
        if (width != 1 && width != 2 && width != 4)
        {
            return false;
        }
        uint sig = w.ReadL(PciTestDev.HdrData);
        uint off = w.ReadL(PciTestDev.HdrOffset);
        for (int i = 0; i < 16; i++)
        {
            w.Write(off, width, sig);
        }
        uint count = w.ReadL(PciTestDev.HdrCount);
        return count == 0 || count == 16;
    }

    private static string Name(IWindow w)
    {
        var sb = new StringBuilder();
        for (uint i = 0; ; i++)
        {
            byte c = w.ReadB(PciTestDev.HdrName + i);
            if (c == 0)
            {
                return sb.ToString();
            }
            sb.Append((char)c);
        }
    }

    [Test]
    public void Identity_AsQemu()
    {
        using var rig = new Rig();
        Assert.That(rig.ReadConfig(0x00), Is.EqualTo(0x0005_1B36u), "vendor and device");
        Assert.That(rig.ReadConfig(0x08), Is.EqualTo(0x00FF_0000u), "revision 0, prog-if 0, sub-class 0xFF, class 0x00");
        Assert.That(rig.ReadConfig(0x0E, 1), Is.Zero, "header type 0, single function");
        Assert.That(rig.ReadConfig(0x2C), Is.EqualTo(0x1100_1AF4u), "QEMU's default subsystem IDs");
        Assert.That(rig.ReadConfig(0x3D, 1), Is.Zero, "no interrupt pin");
        Assert.That(rig.ReadConfig(0x30), Is.Zero, "no expansion ROM");
    }

    [Test]
    public void ReadOnlyFields_Writes_AreIgnored()
    {
        using var rig = new Rig();
        rig.WriteConfig(0x00, 0x1234_5678);
        rig.WriteConfig(0x08, 0xFFFF_FFFF);
        Assert.That(rig.ReadConfig(0x00), Is.EqualTo(0x0005_1B36u));
        Assert.That(rig.ReadConfig(0x08), Is.EqualTo(0x00FF_0000u));
        rig.WriteConfig(0x40, 0xCAFE_F00D);
        Assert.That(rig.ReadConfig(0x40), Is.EqualTo(0xCAFE_F00Du), "device-specific area is writable, as in QEMU");
    }

    [Test]
    public void Firmware_AssignedBarsAndEnabledDecoding()
    {
        using var rig = new Rig();
        Assert.That(rig.ReadConfig(0x10), Is.EqualTo(0xFEBF_F000u), "BAR0: 4 KiB memory below the I/O APIC");
        Assert.That(rig.ReadConfig(0x14), Is.EqualTo(0x0000_C001u), "BAR1: 256 ports at 0xC000, I/O space bit");
        Assert.That(rig.ReadConfig(0x04, 2) & 3, Is.EqualTo(3u), "command: I/O and memory space enabled");
        Assert.That(rig.Device.BarBase(PciTestDev.MemoryBar), Is.EqualTo(0xFEBF_F000ul));
        Assert.That(rig.Device.BarBase(PciTestDev.IoBar), Is.EqualTo(0xC000ul));
    }

    [TestCase(0, 0xFFFF_F000u)]
    [TestCase(1, 0xFFFF_FF01u)]
    [TestCase(2, 0u)]
    [TestCase(3, 0u)]
    [TestCase(4, 0u)]
    [TestCase(5, 0u)]
    public void BarSizing_WriteAllOnes_ReadsSizeMask(int bar, uint expected)
    {
        using var rig = new Rig();
        int reg = 0x10 + 4 * bar;
        uint old = rig.ReadConfig(reg);
        rig.WriteConfig(reg, 0xFFFF_FFFF);
        Assert.That(rig.ReadConfig(reg), Is.EqualTo(expected));
        Assert.That(rig.Device.BarBase(bar), Is.EqualTo(PciDevice.Unmapped), "the sizing pattern decodes nothing");
        rig.WriteConfig(reg, old);
        Assert.That(rig.ReadConfig(reg), Is.EqualTo(old));
    }

    [Test]
    public void Protocol_BothBars_RunsQemusThreeTestsEach()
    {
        using var rig = new Rig();
        var windows = new (IWindow Window, string Prefix)[]
        {
            (new MemWindow(rig.Memory, 0xFEBF_F000), "mmio-"),
            (new IoWindow(rig.Io, 0xC000), "portio-"),
        };
        foreach ((IWindow w, string prefix) in windows)
        {
            var names = new List<string>();
            byte i = 0;
            while (RunOne(w, i))
            {
                names.Add(Name(w));
                i++;
            }
            Assert.That(names, Is.EqualTo(new[] { prefix + "no-eventfd", prefix + "wildcard-eventfd", prefix + "datamatch-eventfd" }));
        }
    }

    [Test]
    public void Protocol_NoEventfd_CountsEveryWriteAtItsOffset()
    {
        using var rig = new Rig();
        var w = new MemWindow(rig.Memory, 0xFEBF_F000);
        w.WriteB(0, 0);
        Assert.That(w.ReadB(PciTestDev.HdrTest), Is.Zero);
        Assert.That(w.ReadL(PciTestDev.HdrOffset), Is.EqualTo(2048u));
        Assert.That(w.ReadB(PciTestDev.HdrData), Is.EqualTo(PciTestDev.DataMatch));
        for (int n = 0; n < 5; n++)
        {
            w.WriteB(2048, PciTestDev.DataMatch);
        }
        w.WriteB(2048, 0x11);
        w.WriteB(2047, PciTestDev.DataMatch);
        Assert.That(w.ReadL(PciTestDev.HdrCount), Is.EqualTo(5u), "only matching byte writes at the offset count");
    }

    [Test]
    public void Protocol_EventfdTests_WritesConsumedBeforeTheDevice()
    {
        using var rig = new Rig();
        var w = new IoWindow(rig.Io, 0xC000);
        w.WriteB(0, 1);
        Assert.That(w.ReadB(PciTestDev.HdrTest), Is.EqualTo(4), "the header's test field is the global index");
        Assert.That(w.ReadL(PciTestDev.HdrOffset), Is.EqualTo(128u + 4));
        Assert.That(w.ReadB(PciTestDev.HdrData), Is.EqualTo(PciTestDev.NoMatch));
        w.WriteB(132, 0x77);
        Assert.That(w.ReadL(PciTestDev.HdrCount), Is.Zero);
        Assert.That(rig.Device.EventfdSignals, Is.EqualTo(1));
        // A word write does not match the 1-byte eventfd: split into bytes, the one at the offset counts.
        w.Write(132, 2, 0x7777);
        Assert.That(w.ReadL(PciTestDev.HdrCount), Is.EqualTo(1u));
    }

    [Test]
    public void Protocol_TestNumberOutOfRange_DeselectsAndReadsZero()
    {
        using var rig = new Rig();
        var w = new MemWindow(rig.Memory, 0xFEBF_F000);
        w.WriteB(0, 2);
        Assert.That(w.ReadB(PciTestDev.HdrWidth), Is.EqualTo(1));
        w.WriteB(0, 3);
        Assert.That(w.ReadL(0), Is.Zero);
        Assert.That(w.ReadB(PciTestDev.HdrWidth), Is.Zero);
    }

    [Test]
    public void BarMoved_DecodesAtTheNewAddressOnly()
    {
        using var rig = new Rig();
        rig.WriteConfig(0x10, 0xE000_0000);
        rig.WriteConfig(0x14, 0xD001);
        var mem = new MemWindow(rig.Memory, 0xE000_0000);
        mem.WriteB(0, 1);
        Assert.That(mem.ReadB(PciTestDev.HdrWidth), Is.EqualTo(1));
        Assert.That(rig.Memory.Read(0xFEBF_F001, 1), Is.EqualTo(0xFFul), "old memory address decodes nothing");
        Assert.That(rig.Io.In(0xC001, 1), Is.EqualTo(0xFFu), "old port decodes nothing");
        Assert.That(rig.Io.In(0xD001, 1), Is.EqualTo(1u), "new port");
    }

    [Test]
    public void CommandEnablesCleared_StopDecoding()
    {
        using var rig = new Rig();
        var mem = new MemWindow(rig.Memory, 0xFEBF_F000);
        mem.WriteB(0, 0);
        rig.WriteConfig(0x04, 0, 2);
        Assert.That(rig.Memory.Read(0xFEBF_F001, 1), Is.EqualTo(0xFFul));
        Assert.That(rig.Io.In(0xC001, 1), Is.EqualTo(0xFFu));
        rig.WriteConfig(0x04, PciDevice.CommandMemory, 2);
        Assert.That(rig.Memory.Read(0xFEBF_F001, 1), Is.EqualTo(1ul), "memory decoding back");
        Assert.That(rig.Io.In(0xC001, 1), Is.EqualTo(0xFFu), "I/O still off");
    }

    [Test]
    public void Status_ErrorBits_WriteOneToClear_OthersReadOnly()
    {
        using var rig = new Rig();
        rig.WriteConfig(0x06, 0xFFFF, 2);
        Assert.That(rig.ReadConfig(0x06, 2), Is.Zero);
    }

    [Test]
    public void ConfigHeader_ByteWritesToBar_AssembleTheAddress()
    {
        using var rig = new Rig();
        rig.WriteConfig(0x10, 0x00, 1);
        rig.WriteConfig(0x11, 0x20, 1);
        rig.WriteConfig(0x12, 0x00, 1);
        rig.WriteConfig(0x13, 0xE0, 1);
        Assert.That(rig.ReadConfig(0x10), Is.EqualTo(0xE000_2000u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(rig.Device.Config[0x10..]), Is.EqualTo(0xE000_2000u));
        Assert.That(rig.Device.BarBase(0), Is.EqualTo(0xE000_2000ul));
    }
}
