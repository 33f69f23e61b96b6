using Emulator.Cpu.Bus;
using Emulator.Devices;

namespace Emulator.Tests.Devices;

/// <summary>The 8259A pair at the port level (Intel 8259A datasheet; PIIX ELCR).</summary>
public class PicTests
{
    private Pic8259 _pic = null!;
    private IoBus _io = null!;

    [SetUp]
    public void SetUp()
    {
        _pic = new Pic8259();
        _io = new IoBus();
        _pic.Register(_io);
    }

    private void Out(ushort port, byte value) => _io.Out(port, 1, value);

    private byte In(ushort port) => (byte)_io.In(port, 1);

    /// <summary>The usual protected-mode programming: vectors 0x20/0x28, cascade on IR2, 8086 mode, all unmasked.</summary>
    private void Initialise(byte icw4Master = 0x01, byte icw4Slave = 0x01)
    {
        Out(0x20, 0x11);
        Out(0xA0, 0x11);
        Out(0x21, 0x20);
        Out(0xA1, 0x28);
        Out(0x21, 0x04);
        Out(0xA1, 0x02);
        Out(0x21, icw4Master);
        Out(0xA1, icw4Slave);
        Out(0x21, 0x00);
        Out(0xA1, 0x00);
    }

    private byte Isr(ushort port)
    {
        Out(port, 0x0B);
        byte v = In(port);
        Out(port, 0x0A);
        return v;
    }

    private byte Irr(ushort port)
    {
        Out(port, 0x0A);
        return In(port);
    }

    private void Pulse(int irq)
    {
        _pic.SetIrq(irq, true);
        _pic.SetIrq(irq, false);
    }

    // ------------------------------------------------------------------ BIOS state

    [Test]
    public void Reset_AsSeaBiosLeavesIt_MasksAndElcr()
    {
        Assert.That(In(0x21), Is.EqualTo(Pic8259.BiosMasterMask));
        Assert.That(In(0xA1), Is.EqualTo(Pic8259.BiosSlaveMask));
        Assert.That(In(0x4D0), Is.EqualTo(0x00));
        Assert.That(In(0x4D1), Is.EqualTo(0x0C));
        Assert.That(_pic.IntrPending, Is.False);
    }

    [Test]
    public void Reset_Irq0_DeliversVector08()
    {
        Pulse(0);
        Assert.That(_pic.IntrPending, Is.True);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x08));
        Assert.That(Isr(0x20), Is.EqualTo(0x01));
    }

    [Test]
    public void Reset_Irq8_DeliversVector70ThroughCascade()
    {
        Pulse(8);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x70));
        Assert.That(Isr(0xA0), Is.EqualTo(0x01));
        Assert.That(Isr(0x20), Is.EqualTo(0x04));
    }

    [Test]
    public void Reset_MaskedIrq3_NoIntr()
    {
        Pulse(3);
        Assert.That(_pic.IntrPending, Is.False);
        Assert.That(Irr(0x20) & 0x08, Is.Not.Zero, "the request is latched in IRR although masked");
    }

    // ------------------------------------------------------------------ initialisation

    [Test]
    public void Initialise_NewVectorBases_UsedForBothChips()
    {
        Initialise();
        Pulse(1);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x21));
        Pulse(12);
        Out(0x20, 0x20);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x2C));
    }

    [Test]
    public void Icw1_ClearsMaskInServiceAndRequests()
    {
        Pulse(0);
        _pic.AcknowledgeIntr();
        Pulse(1);
        Out(0x20, 0x11);
        Out(0x21, 0x08);
        Out(0x21, 0x04);
        Out(0x21, 0x01);
        Assert.That(In(0x21), Is.Zero);
        Assert.That(Isr(0x20), Is.Zero);
        Assert.That(Irr(0x20), Is.Zero);
    }

    [Test]
    public void Icw1_LineAlreadyHigh_NeedsNewEdge()
    {
        Initialise();
        _pic.SetIrq(3, true);
        Initialise();
        Assert.That(_pic.IntrPending, Is.False, "the edge-sense latch is reset by ICW1");
        _pic.SetIrq(3, false);
        _pic.SetIrq(3, true);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x23));
    }

    [Test]
    public void Icw1_SingleModeWithoutIcw4_SkipsIcw3AndIcw4()
    {
        Out(0x20, 0x12);
        Out(0x21, 0x40);
        Out(0x21, 0xFE);
        Assert.That(In(0x21), Is.EqualTo(0xFE), "the third write is OCW1");
        Pulse(0);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x40));
    }

    // ------------------------------------------------------------------ triggering

    [Test]
    public void EdgeTriggered_LineHeldHigh_RequestsOnce()
    {
        Initialise();
        _pic.SetIrq(4, true);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x24));
        Out(0x20, 0x20);
        Assert.That(_pic.IntrPending, Is.False);
        _pic.SetIrq(4, false);
        _pic.SetIrq(4, true);
        Assert.That(_pic.IntrPending, Is.True);
    }

    [Test]
    public void EdgeTriggered_PulseWhileMasked_DeliveredOnUnmask()
    {
        Initialise();
        Out(0x21, 0x10);
        Pulse(4);
        Assert.That(_pic.IntrPending, Is.False);
        Out(0x21, 0x00);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x24));
    }

    [Test]
    public void LevelTriggered_PerElcr_RequestFollowsLine()
    {
        Initialise();
        Out(0x4D1, 0x02);
        _pic.SetIrq(9, true);
        Assert.That(_pic.IntrPending, Is.True);
        _pic.SetIrq(9, false);
        Assert.That(Irr(0xA0), Is.Zero);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x2F), "the master latched the cascade edge: the slave answers spuriously");
    }

    [Test]
    public void LevelTriggered_StillHighAfterEoi_RequestsAgain()
    {
        Initialise();
        Out(0x4D1, 0x02);
        _pic.SetIrq(9, true);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x29));
        Out(0xA0, 0x20);
        Out(0x20, 0x20);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x29));
    }

    [Test]
    public void LevelTriggered_Icw1Ltim_AppliesToAllInputs()
    {
        Out(0x20, 0x19);
        Out(0x21, 0x20);
        Out(0x21, 0x04);
        Out(0x21, 0x01);
        Out(0x21, 0x00);
        _pic.SetIrq(1, true);
        _pic.SetIrq(1, false);
        Assert.That(_pic.IntrPending, Is.False);
    }

    [Test]
    public void Elcr_ReservedInputs_ReadAsZero()
    {
        Out(0x4D0, 0xFF);
        Out(0x4D1, 0xFF);
        Assert.That(In(0x4D0), Is.EqualTo(0xF8), "IRQ 0, 1, 2 are always edge");
        Assert.That(In(0x4D1), Is.EqualTo(0xDE), "IRQ 8 and 13 are always edge");
    }

    // ------------------------------------------------------------------ priority and EOI

    [Test]
    public void Priority_FullyNested_LowerNumberWinsAndBlocksLower()
    {
        Initialise();
        Pulse(3);
        Pulse(1);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x21));
        Assert.That(_pic.IntrPending, Is.False, "IRQ 3 waits while IRQ 1 is in service");
        Pulse(0);
        Assert.That(_pic.IntrPending, Is.True, "IRQ 0 nests above IRQ 1");
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x20));
        Assert.That(Isr(0x20), Is.EqualTo(0x03));
    }

    [Test]
    public void NonSpecificEoi_ClearsHighestPriorityInService()
    {
        Initialise();
        Pulse(1);
        _pic.AcknowledgeIntr();
        Pulse(0);
        _pic.AcknowledgeIntr();
        Out(0x20, 0x20);
        Assert.That(Isr(0x20), Is.EqualTo(0x02));
    }

    [Test]
    public void SpecificEoi_ClearsNamedLevel()
    {
        Initialise();
        Pulse(1);
        _pic.AcknowledgeIntr();
        Pulse(0);
        _pic.AcknowledgeIntr();
        Out(0x20, 0x61);
        Assert.That(Isr(0x20), Is.EqualTo(0x01));
    }

    [Test]
    public void RotateOnNonSpecificEoi_ServicedLevelBecomesLowest()
    {
        Initialise();
        Pulse(1);
        _pic.AcknowledgeIntr();
        Out(0x20, 0xA0);
        Pulse(1);
        Pulse(4);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x24), "after rotation IR2 has the highest priority");
    }

    [Test]
    public void RotateOnSpecificEoi_NamedLevelBecomesLowest()
    {
        Initialise();
        Pulse(5);
        _pic.AcknowledgeIntr();
        Out(0x20, 0xE5);
        Assert.That(Isr(0x20), Is.Zero);
        Pulse(5);
        Pulse(7);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x27));
    }

    [Test]
    public void SetPriority_LevelBecomesLowest()
    {
        Initialise();
        Out(0x20, 0xC3);
        Pulse(0);
        Pulse(4);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x24));
    }

    [Test]
    public void AutoEoi_AcknowledgeLeavesNothingInService()
    {
        Initialise(icw4Master: 0x03);
        Pulse(1);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x21));
        Assert.That(Isr(0x20), Is.Zero);
        Pulse(3);
        Assert.That(_pic.IntrPending, Is.True);
    }

    [Test]
    public void AutoEoi_WithRotate_RotatesOnAcknowledge()
    {
        Initialise(icw4Master: 0x03);
        Out(0x20, 0x80);
        Pulse(3);
        _pic.AcknowledgeIntr();
        Pulse(3);
        Pulse(5);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x25));
    }

    // ------------------------------------------------------------------ OCW3

    [Test]
    public void Ocw3_SelectsIrrOrIsr()
    {
        Initialise();
        Pulse(6);
        Pulse(1);
        _pic.AcknowledgeIntr();
        Assert.That(Irr(0x20), Is.EqualTo(0x40));
        Assert.That(Isr(0x20), Is.EqualTo(0x02));
        Assert.That(In(0x21), Is.Zero, "the data port reads IMR");
    }

    [Test]
    public void Poll_ReturnsLevelAndPutsItInService()
    {
        Initialise();
        Pulse(5);
        Out(0x20, 0x0C);
        Assert.That(In(0x20), Is.EqualTo(0x85));
        Assert.That(Isr(0x20), Is.EqualTo(0x20));
        Assert.That(_pic.IntrPending, Is.False);
    }

    [Test]
    public void Poll_NothingPending_ReadsZeroOnce()
    {
        Initialise();
        Out(0xA0, 0x0C);
        Assert.That(In(0xA1), Is.Zero);
        Assert.That(In(0xA1), Is.Zero, "the next read is IMR again");
    }

    [Test]
    public void SpecialMaskMode_EnablesLowerPriorityLevels()
    {
        Initialise();
        Pulse(1);
        _pic.AcknowledgeIntr();
        Out(0x21, 0x02);
        Out(0x20, 0x68);
        Pulse(5);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x25));
        Out(0x20, 0x48);
        Out(0x20, 0x65);
        Out(0x20, 0x61);
        Assert.That(Isr(0x20), Is.Zero);
    }

    // ------------------------------------------------------------------ cascade and spurious

    [Test]
    public void Cascade_SlaveIrq_BothChipsInService()
    {
        Initialise();
        Pulse(12);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x2C));
        Assert.That(Isr(0xA0), Is.EqualTo(0x10));
        Assert.That(Isr(0x20), Is.EqualTo(0x04));
        Out(0xA0, 0x20);
        Out(0x20, 0x20);
        Assert.That(Isr(0xA0) | Isr(0x20), Is.Zero);
    }

    [Test]
    public void Cascade_SlaveMasked_NoIntr()
    {
        Initialise();
        Out(0xA1, 0x10);
        Pulse(12);
        Assert.That(_pic.IntrPending, Is.False);
        Out(0xA1, 0x00);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x2C));
    }

    [Test]
    public void Spurious_MasterRequestGone_ReturnsIr7VectorWithoutInService()
    {
        Initialise();
        Out(0x4D0, 0x08);
        _pic.SetIrq(3, true);
        Assert.That(_pic.IntrPending, Is.True);
        _pic.SetIrq(3, false);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x27));
        Assert.That(Isr(0x20), Is.Zero);
    }

    [Test]
    public void Spurious_SlaveRequestGone_ReturnsIr15VectorWithCascadeInService()
    {
        Initialise();
        Out(0x4D1, 0x04);
        _pic.SetIrq(10, true);
        Assert.That(_pic.IntrPending, Is.True);
        _pic.SetIrq(10, false);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x2F));
        Assert.That(Isr(0xA0), Is.Zero);
        Assert.That(Isr(0x20), Is.EqualTo(0x04), "the master saw a real request on IR2");
    }

    [Test]
    public void SpecialFullyNested_HigherSlaveRequestNestsOnCascade()
    {
        Initialise(icw4Master: 0x11);
        Pulse(9);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x29));
        Pulse(8);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x28));
    }

    [Test]
    public void FullyNested_HigherSlaveRequestWaitsForCascadeEoi()
    {
        Initialise();
        Pulse(9);
        _pic.AcknowledgeIntr();
        Pulse(8);
        Assert.That(_pic.IntrPending, Is.False);
        Out(0x20, 0x20);
        Assert.That(_pic.AcknowledgeIntr(), Is.EqualTo(0x28));
    }

    // ------------------------------------------------------------------ notification and cost

    [Test]
    public void InterruptChanged_RaisedOnEveryIntrTransition()
    {
        Initialise();
        int changes = 0;
        _pic.InterruptChanged = () => changes++;
        Pulse(0);
        Assert.That(changes, Is.EqualTo(1));
        _pic.AcknowledgeIntr();
        Assert.That(changes, Is.EqualTo(2));
        Pulse(1);
        Assert.That(changes, Is.EqualTo(2), "IRQ 1 waits behind IRQ 0");
        Out(0x20, 0x20);
        Assert.That(changes, Is.EqualTo(3));
    }

    [Test]
    public void PortAccessAndInterruptCycle_DoNotAllocate()
    {
        Initialise();
        void Cycle()
        {
            Pulse(12);
            _pic.AcknowledgeIntr();
            Out(0xA0, 0x20);
            Out(0x20, 0x20);
            Isr(0x20);
        }
        Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Cycle();
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
