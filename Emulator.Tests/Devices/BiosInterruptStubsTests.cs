using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Devices;
using Emulator.Loading;
using Emulator.Tests.Cpu;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Devices;

/// <summary>The BIOS IRQ handlers run on the real CPU in real mode, against the real 8259 pair.</summary>
public class BiosInterruptStubsTests
{
    private CpuHarness _h = null!;
    private TimedDeviceBench _bench = null!;
    private Pic8259 _pic = null!;

    /// <summary>The 8259's INTR as the CPU's interrupt source (the platform puts the local APIC's LINT0 in between).</summary>
    private sealed class PicInterrupts(Pic8259 pic) : IInterruptSource
    {
        public bool HasPending => pic.IntrPending;

        public int Acknowledge() => pic.AcknowledgeIntr();
    }

    [SetUp]
    public void SetUp()
    {
        _h = new CpuHarness(CpuMode.Real16);
        Firmware.Install(_h.Memory);
        BiosInterruptStubs.Install(_h.Memory);
        _bench = new TimedDeviceBench();
        _pic = new Pic8259();
        _pic.Register(_h.Io);
        _bench.Irqs.Pic = _pic;
        _h.Cpu.Interrupts = new PicInterrupts(_pic);
    }

    [TearDown]
    public void TearDown() => _h.Dispose();

    private byte Isr(ushort port)
    {
        _h.Io.Out(port, 1, 0x0B);
        byte v = (byte)_h.Io.In(port, 1);
        _h.Io.Out(port, 1, 0x0A);
        return v;
    }

    private void UnmaskAll()
    {
        _h.Io.Out(0x21, 1, 0);
        _h.Io.Out(0xA1, 1, 0);
    }

    private void Pulse(int irq)
    {
        _pic.SetIrq(irq, true);
        _pic.SetIrq(irq, false);
    }

    /// <summary>Opens an interrupt window: the pending IRQ is taken after the instruction that follows STI.</summary>
    private void TakeInterrupts(Action<Assembler>? before = null)
    {
        _h.Load(a =>
        {
            before?.Invoke(a);
            a.sti();
            a.nop();
            a.nop();
            a.cli();
        }).Run();
    }

    private uint Ticks => (uint)_h.Memory.Read(BiosInterruptStubs.TickCountAddress, 4);

    // ------------------------------------------------------------------ IVT

    [Test]
    public void Install_PointsIrqVectorsAtTheStubs_OthersUntouched()
    {
        Assert.That(_h.Memory.Read(0x08 * 4, 4), Is.EqualTo(0xF000_E000));
        for (int v = 0x09; v <= 0x0F; v++)
        {
            Assert.That(_h.Memory.Read((ulong)v * 4, 4) >> 16, Is.EqualTo(0xF000), $"vector {v:X2}");
        }
        for (int v = 0x70; v <= 0x77; v++)
        {
            Assert.That(_h.Memory.Read((ulong)v * 4, 4) >> 16, Is.EqualTo(0xF000), $"vector {v:X2}");
        }
        Assert.That(_h.Memory.Read(0x10 * 4, 4), Is.EqualTo(0xF000_FF53));
        Assert.That(_h.Memory.Read(0x1C * 4, 4), Is.EqualTo(0xF000_FF53));
    }

    // ------------------------------------------------------------------ INT 08h

    [Test]
    public void Irq0_IncrementsTickCount_EoisAndPreservesRegisters()
    {
        Pulse(0);
        TakeInterrupts(a =>
        {
            a.mov(ax, 0x1234);
            a.mov(ds, ax);
            a.mov(eax, 0xDEAD_BEEF);
        });
        Assert.That(Ticks, Is.EqualTo(1));
        Assert.That(_h.Memory.Read(BiosInterruptStubs.MidnightFlagAddress, 1), Is.Zero);
        Assert.That(Isr(0x20), Is.Zero);
        Assert.That(_h[Register.EAX], Is.EqualTo(0xDEAD_BEEF));
        Assert.That(_h.Cpu.State.Seg[(int)SegReg.Ds].Selector, Is.EqualTo(0x1234));
        Assert.That(_h.Cpu.State.Gpr[4] & 0xFFFF, Is.Zero, "the stack is balanced");
    }

    [Test]
    public void Irq0_AtTicksPerDay_WrapsAndSetsMidnightFlag()
    {
        _h.Memory.Write(BiosInterruptStubs.TickCountAddress, 4, BiosInterruptStubs.TicksPerDay - 1);
        Pulse(0);
        TakeInterrupts();
        Assert.That(Ticks, Is.Zero);
        Assert.That(_h.Memory.Read(BiosInterruptStubs.MidnightFlagAddress, 1), Is.EqualTo(1));
    }

    [Test]
    public void Irq0_ChainsToInt1C()
    {
        // INT 1Ch handler at 0000:0600: inc byte cs:[0500h]; iret
        _h.Memory.TryWriteBytes(0x600, [0x2E, 0xFE, 0x06, 0x00, 0x05, 0xCF]);
        _h.Memory.Write(0x1C * 4, 4, 0x0000_0600);
        Pulse(0);
        TakeInterrupts();
        Pulse(0);
        TakeInterrupts();
        Assert.That(_h.Memory.Read(0x500, 1), Is.EqualTo(2));
        Assert.That(Ticks, Is.EqualTo(2));
    }

    [Test]
    public void PitTicking_ThroughPicIntoInt08_CountsTicks()
    {
        var pit = new Pit8254(_bench.Clock, _bench.Irqs);
        pit.Register(_h.Io);
        for (int i = 1; i <= 3; i++)
        {
            _bench.RunTo(Pit8254.TimeOfTick(65_536L * i));
            TakeInterrupts();
            Assert.That(Ticks, Is.EqualTo(i));
        }
    }

    // ------------------------------------------------------------------ other IRQs

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(6)]
    [TestCase(7)]
    public void MasterIrq_HandlerSendsEoi(int irq)
    {
        UnmaskAll();
        Pulse(irq);
        TakeInterrupts();
        Assert.That(Isr(0x20), Is.Zero);
        Assert.That(_pic.IntrPending, Is.False);
    }

    [TestCase(9)]
    [TestCase(12)]
    [TestCase(13)]
    [TestCase(14)]
    [TestCase(15)]
    public void SlaveIrq_HandlerSendsEoiToBothChips(int irq)
    {
        UnmaskAll();
        Pulse(irq);
        TakeInterrupts();
        Assert.That(Isr(0xA0), Is.Zero);
        Assert.That(Isr(0x20), Is.Zero);
    }

    [Test]
    public void Irq8_ReadsRtcRegisterC_SoTheRtcInterruptsAgain()
    {
        var rtc = new CmosRtc(_bench.Clock, _bench.Irqs, 16UL << 20, 0);
        rtc.Register(_h.Io);
        _h.Io.Out(0x70, 1, 0x0B);
        _h.Io.Out(0x71, 1, 0x42);
        _bench.RunTo(_bench.Clock.NextDeadline());
        Assert.That(_pic.IntrPending, Is.True);
        TakeInterrupts();
        Assert.That(Isr(0xA0) | Isr(0x20), Is.Zero);
        _bench.RunTo(_bench.Clock.NextDeadline());
        Assert.That(_pic.IntrPending, Is.True, "a second periodic interrupt arrives");
    }

    [Test]
    public void SpuriousIrq7_NotInService_OtherInterruptKeepsItsIsr()
    {
        UnmaskAll();
        Pulse(3);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x0B));
        _h.Load(a => a.@int(0x0F)).Run();
        Assert.That(Isr(0x20), Is.EqualTo(0x08), "IRQ 3's in-service bit survives a spurious IRQ 7");
        Assert.That(_h.Io.In(0x20, 1), Is.EqualTo(0), "IRR is selected again");
    }

    [Test]
    public void SpuriousIrq15_EoisOnlyTheMasterCascade()
    {
        UnmaskAll();
        Pulse(12);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x74));
        _h.Load(a => a.@int(0x77)).Run();
        Assert.That(Isr(0xA0), Is.EqualTo(0x10), "the slave's IRQ 12 stays in service");
        Assert.That(Isr(0x20), Is.Zero);
    }

    [Test]
    public void SpuriousIrq15_FromThePic_LeavesNothingInService()
    {
        UnmaskAll();
        _h.Io.Out(0x4D1, 1, 0x04);
        _pic.SetIrq(10, true);
        _pic.SetIrq(10, false);
        TakeInterrupts();
        Assert.That(Isr(0xA0) | Isr(0x20), Is.Zero);
    }
}
