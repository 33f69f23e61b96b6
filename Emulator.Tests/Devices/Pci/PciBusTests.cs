using Emulator.Cpu.Bus;
using Emulator.Devices.Pci;

namespace Emulator.Tests.Devices.Pci;

/// <summary>Configuration mechanism #1 over an empty bus and with QEMU's pci-testdev plugged in.</summary>
public class PciBusTests
{
    private static IoBus Wire(PciBus bus)
    {
        var io = new IoBus();
        io.Register(PciBus.ConfigAddressPort, 1, bus);
        io.Register(PciBus.ConfigDataPort, PciBus.ConfigDataLength, bus);
        io.Register(PciBus.IoWindowStart, PciBus.IoWindowLength, bus.IoWindow);
        return io;
    }

    private static uint Address(int bus, int dev, int fn, int reg) =>
        PciBus.ConfigEnable | (uint)(bus << 16) | (uint)(dev << 11) | (uint)(fn << 8) | (uint)reg;

    [Test]
    public void EmptyBus_EveryFunctionOfBus0_ReadsAllOnes()
    {
        IoBus io = Wire(new PciBus());
        for (int devfn = 0; devfn < 256; devfn++)
        {
            io.Out(0xCF8, 4, PciBus.ConfigEnable | (uint)(devfn << 8));
            Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu), $"devfn {devfn:x2}");
            Assert.That(io.In(0xCFC, 2), Is.EqualTo(0xFFFFu), "vendor ID as a word");
            Assert.That(io.In(0xCFE, 2), Is.EqualTo(0xFFFFu), "device ID as a word");
            Assert.That(io.In(0xCFF, 1), Is.EqualTo(0xFFu));
        }
    }

    [Test]
    public void EmptyBus_Writes_AreIgnored()
    {
        IoBus io = Wire(new PciBus());
        io.Out(0xCF8, 4, Address(0, 0, 0, 0x04));
        io.Out(0xCFC, 2, 0x0007);
        io.Out(0xCF8, 4, Address(0, 0, 0, 0x10));
        io.Out(0xCFC, 4, 0xFFFF_FFFF);
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu));
        io.Out(0xCF8, 4, Address(0, 0, 0, 0x04));
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu));
    }

    [TestCase(0x8000_0000u)]
    [TestCase(0x8012_3456u)]
    [TestCase(0x0000_F800u)]
    [TestCase(0xFFFF_FFFFu)]
    public void ConfigAddress_DwordWrite_ReadsBack(uint value)
    {
        IoBus io = Wire(new PciBus());
        io.Out(0xCF8, 4, value);
        Assert.That(io.In(0xCF8, 4), Is.EqualTo(value));
        Assert.That(io.In(0xCF8, 1), Is.EqualTo(value & 0xFF));
    }

    [Test]
    public void ConfigAddress_ByteOrWordWrite_IsIgnored()
    {
        // 0xCF9 is the reset control register, not part of CONFIG_ADDRESS: only dword writes at 0xCF8 count.
        IoBus io = Wire(new PciBus());
        io.Out(0xCF8, 4, 0x8000_1000);
        io.Out(0xCF8, 1, 0x55);
        io.Out(0xCF8, 2, 0x5555);
        Assert.That(io.In(0xCF8, 4), Is.EqualTo(0x8000_1000u));
    }

    [Test]
    public void Device_EnableBitClearOrOtherBus_ReadsAllOnes()
    {
        var bus = new PciBus();
        bus.Add(new PciTestDev(), PciTestDev.DefaultSlot);
        IoBus io = Wire(bus);
        io.Out(0xCF8, 4, Address(0, PciTestDev.DefaultSlot, 0, 0) & ~PciBus.ConfigEnable);
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu), "enable bit clear");
        io.Out(0xCF8, 4, Address(1, PciTestDev.DefaultSlot, 0, 0));
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu), "bus 1");
        io.Out(0xCF8, 4, Address(0, PciTestDev.DefaultSlot, 1, 0));
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0xFFFF_FFFFu), "function 1");
        io.Out(0xCF8, 4, Address(0, PciTestDev.DefaultSlot, 0, 0));
        Assert.That(io.In(0xCFC, 4), Is.EqualTo(0x0005_1B36u), "the device itself");
    }

    [Test]
    public void ConfigData_SubDwordAccess_UsesThePortsLowBits()
    {
        var bus = new PciBus();
        bus.Add(new PciTestDev(), 3);
        IoBus io = Wire(bus);
        io.Out(0xCF8, 4, Address(0, 3, 0, 0));
        Assert.That(io.In(0xCFC, 2), Is.EqualTo(0x1B36u));
        Assert.That(io.In(0xCFE, 2), Is.EqualTo(0x0005u));
        Assert.That(io.In(0xCFD, 1), Is.EqualTo(0x1Bu));
        io.Out(0xCF8, 4, Address(0, 3, 0, 0x08));
        Assert.That(io.In(0xCFE, 1), Is.EqualTo(0xFFu), "sub-class");
        Assert.That(io.In(0xCFF, 1), Is.EqualTo(0x00u), "base class");
    }

    [Test]
    public void ConfigAddress_LowBitsSet_AreOredIntoTheOffset()
    {
        // QEMU keeps CONFIG_ADDRESS bits 1:0 and ORs them with the data port's; old kvm-unit-tests rely on it.
        var bus = new PciBus();
        bus.Add(new PciTestDev(), 3);
        IoBus io = Wire(bus);
        io.Out(0xCF8, 4, Address(0, 3, 0, 0x02));
        Assert.That(io.In(0xCFC, 2), Is.EqualTo(0x0005u), "device ID at offset 2");
    }

    [Test]
    public void Add_SameSlotTwice_Throws()
    {
        var bus = new PciBus();
        bus.Add(new PciTestDev(), 4);
        Assert.Throws<InvalidOperationException>(() => bus.Add(new PciTestDev(), 4));
    }
}
