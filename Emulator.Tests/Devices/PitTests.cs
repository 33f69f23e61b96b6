using Emulator.Cpu.Bus;
using Emulator.Devices;
using Emulator.Platform;

namespace Emulator.Tests.Devices;

/// <summary>
/// A virtual clock, an interrupt router whose PIC side records every rising ISA IRQ edge with its virtual
/// time, and an I/O bus: what the timed devices plug into. <see cref="RunTo"/> plays the scheduler,
/// jumping from one timer deadline to the next.
/// </summary>
internal sealed class TimedDeviceBench : IIrqController
{
    public VirtualClock Clock { get; } = new();
    public InterruptRouter Irqs { get; } = new();
    public IoBus Io { get; } = new();
    public List<(int Irq, long Ns)> Rises { get; } = new(1024);
    public bool[] Levels { get; } = new bool[16];
    public bool Record { get; set; } = true;

    public TimedDeviceBench() => Irqs.Pic = this;

    public void SetIrq(int line, bool level)
    {
        if (level && !Levels[line] && Record)
        {
            Rises.Add((line, Clock.Now));
        }
        Levels[line] = level;
    }

    public long Now => Clock.Now;

    public void RunTo(long ns)
    {
        while (true)
        {
            long deadline = Clock.NextDeadline();
            if (deadline > ns)
            {
                break;
            }
            Clock.RoundStartNs = deadline;
            Clock.FireDue(deadline);
        }
        Clock.RoundStartNs = ns;
    }

    public long[] RiseTimes(int irq) => Rises.Where(r => r.Irq == irq).Select(r => r.Ns).ToArray();

    public void Out(ushort port, byte value) => Io.Out(port, 1, value);

    public byte In(ushort port) => (byte)Io.In(port, 1);
}

/// <summary>The 8254 at the port level (Intel 8254 datasheet) and port 0x61.</summary>
public class PitTests
{
    private TimedDeviceBench _bench = null!;
    private Pit8254 _pit = null!;
    private SystemControlPort _port61 = null!;

    [SetUp]
    public void SetUp()
    {
        _bench = new TimedDeviceBench();
        _pit = new Pit8254(_bench.Clock, _bench.Irqs);
        _pit.Register(_bench.Io);
        _port61 = new SystemControlPort(_bench.Clock, _pit);
        _port61.Register(_bench.Io);
    }

    private static long T(long tick) => Pit8254.TimeOfTick(tick);

    private static long Tick(long ns) => Pit8254.TicksAt(ns);

    /// <summary>Programs a counter with a control word and a 16-bit count (LSB then MSB); returns the pulse that loads it.</summary>
    private long Program(int channel, int mode, int count, bool bcd = false)
    {
        _bench.Out(0x43, (byte)((channel << 6) | 0x30 | (mode << 1) | (bcd ? 1 : 0)));
        _bench.Out((ushort)(0x40 + channel), (byte)count);
        _bench.Out((ushort)(0x40 + channel), (byte)(count >> 8));
        return Tick(_bench.Now) + 1;
    }

    private int LatchedCount(int channel)
    {
        _bench.Out(0x43, (byte)(channel << 6));
        int lo = _bench.In((ushort)(0x40 + channel));
        return lo | (_bench.In((ushort)(0x40 + channel)) << 8);
    }

    private byte Status(int channel)
    {
        _bench.Out(0x43, (byte)(0xE0 | (2 << channel)));
        return _bench.In((ushort)(0x40 + channel));
    }

    private static bool OutBit(byte status) => (status & 0x80) != 0;

    // ------------------------------------------------------------------ clock arithmetic

    [Test]
    public void TicksAt_OneSecondAndOneHour_ExactWithoutDrift()
    {
        Assert.That(Tick(1_000_000_000), Is.EqualTo(1_193_182));
        Assert.That(Tick(3_600_000_000_000), Is.EqualTo(1_193_182L * 3600));
        Assert.That(Tick(86_400_000_000_000 * 365), Is.EqualTo(1_193_182L * 86_400 * 365));
    }

    [TestCase(1L)]
    [TestCase(65_536L)]
    [TestCase(1_193_181L)]
    [TestCase(1_193_183L)]
    [TestCase(123_456_789_012L)]
    public void TimeOfTick_IsFirstNanosecondOfThatPulse(long tick)
    {
        Assert.That(Tick(T(tick)), Is.EqualTo(tick));
        Assert.That(Tick(T(tick) - 1), Is.EqualTo(tick - 1));
    }

    // ------------------------------------------------------------------ power-on state

    [Test]
    public void PowerOn_Channel0_Mode2Count65536_IrqAt18Point2Hz()
    {
        _bench.RunTo(1_000_000_000);
        long[] rises = _bench.RiseTimes(0);
        Assert.That(rises, Has.Length.EqualTo(1_193_182 / 65_536));
        for (int k = 0; k < rises.Length; k++)
        {
            Assert.That(rises[k], Is.EqualTo(T(65_536L * (k + 1))), $"edge {k}");
        }
        byte status = Status(0);
        Assert.That(status & 0x3F, Is.EqualTo(0x34), "LSB/MSB, mode 2, binary");
    }

    [Test]
    public void PowerOn_Channel2_GateLow_OutHigh()
    {
        Assert.That(_pit.Gate(2), Is.False);
        Assert.That(_bench.In(0x61) & 0x21, Is.EqualTo(0x20));
    }

    // ------------------------------------------------------------------ mode 2

    [Test]
    public void Mode2_CountN_IrqEveryNPulsesFromLoad()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 2, 1000);
        _bench.Rises.Clear();
        _bench.RunTo(T(load + 5000));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(load + 1000), T(load + 2000), T(load + 3000), T(load + 4000), T(load + 5000) }));
    }

    [Test]
    public void Mode2_Count_DecrementsAndReloads_OutLowOnlyAtOne()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 2, 10);
        _bench.RunTo(T(load));
        Assert.That(LatchedCount(0), Is.EqualTo(10));
        _bench.RunTo(T(load + 3));
        Assert.That(LatchedCount(0), Is.EqualTo(7));
        _bench.RunTo(T(load + 9));
        Assert.That(LatchedCount(0), Is.EqualTo(1));
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.RunTo(T(load + 10));
        Assert.That(LatchedCount(0), Is.EqualTo(10));
        Assert.That(OutBit(Status(0)), Is.True);
    }

    [Test]
    public void Mode2_NewCountWithoutControlWord_TakesOverAtEndOfPeriod()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 2, 1000);
        _bench.RunTo(T(load + 300));
        _bench.Out(0x40, 0xF4);
        _bench.Out(0x40, 0x01);
        _bench.Rises.Clear();
        _bench.RunTo(T(load + 1000 + 1500));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(load + 1000), T(load + 1500), T(load + 2000), T(load + 2500) }));
    }

    // ------------------------------------------------------------------ mode 3

    [Test]
    public void Mode3_EvenCount_HalfHighHalfLow_IrqEachPeriod()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 3, 100);
        _bench.Rises.Clear();
        _bench.RunTo(T(load + 49));
        Assert.That(OutBit(Status(0)), Is.True);
        Assert.That(LatchedCount(0), Is.EqualTo(2), "mode 3 counts by twos");
        _bench.RunTo(T(load + 50));
        Assert.That(OutBit(Status(0)), Is.False);
        Assert.That(LatchedCount(0), Is.EqualTo(100));
        _bench.RunTo(T(load + 300));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(load + 100), T(load + 200), T(load + 300) }));
    }

    [Test]
    public void Mode3_OddCount_HighOneLongerThanLow()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 3, 5);
        bool[] outs = new bool[10];
        int[] counts = new int[10];
        for (int e = 0; e < 10; e++)
        {
            _bench.RunTo(T(load + e));
            outs[e] = OutBit(Status(0));
            counts[e] = LatchedCount(0);
        }
        Assert.That(outs, Is.EqualTo(new[] { true, true, true, false, false, true, true, true, false, false }));
        Assert.That(counts, Is.EqualTo(new[] { 5, 4, 2, 5, 2, 5, 4, 2, 5, 2 }));
    }

    [Test]
    public void Mode3_NewCountInHighHalf_LoadedAtEndOfHalfCycle()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 3, 100);
        _bench.RunTo(T(load + 10));
        _bench.Out(0x40, 40);
        _bench.Out(0x40, 0);
        _bench.Rises.Clear();
        _bench.RunTo(T(load + 49));
        Assert.That(OutBit(Status(0)), Is.True);
        _bench.RunTo(T(load + 50));
        Assert.That(OutBit(Status(0)), Is.False, "the old high half-cycle completes");
        _bench.RunTo(T(load + 150));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(load + 70), T(load + 110), T(load + 150) }),
            "then a 20-pulse low half of the new count, and 40-pulse periods");
    }

    // ------------------------------------------------------------------ mode 0

    [Test]
    public void Mode0_OutRisesNPlusOnePulsesAfterWrite_OneIrq()
    {
        _bench.RunTo(5_000);
        long written = Tick(_bench.Now);
        long load = Program(0, 0, 500);
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.Rises.Clear();
        _bench.RunTo(T(written + 500));
        Assert.That(OutBit(Status(0)), Is.False);
        Assert.That(LatchedCount(0), Is.EqualTo(1));
        _bench.RunTo(T(load + 10_000));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(written + 501) }));
        Assert.That(OutBit(Status(0)), Is.True);
        Assert.That(LatchedCount(0), Is.EqualTo((500 - 10_000) & 0xFFFF), "the counter wraps and keeps counting");
    }

    [Test]
    public void Mode0_FirstByteOfTwo_StopsCountingAndDropsOut()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 0, 10);
        _bench.RunTo(T(load + 20));
        Assert.That(OutBit(Status(0)), Is.True);
        _bench.Out(0x40, 0x00);
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.RunTo(T(load + 200));
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.Out(0x40, 0x01);
        long reload = Tick(_bench.Now) + 1;
        _bench.RunTo(T(reload + 255));
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.RunTo(T(reload + 256));
        Assert.That(OutBit(Status(0)), Is.True);
    }

    [Test]
    public void Reprogram_Mode0LowToMode2_OutRiseRaisesIrq()
    {
        _bench.RunTo(1_000);
        Program(0, 0, 1000);
        _bench.Rises.Clear();
        _bench.Out(0x43, 0x34);
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { _bench.Now }));
    }

    // ------------------------------------------------------------------ modes 1, 4, 5 (counter 2's gate)

    [Test]
    public void Mode1_GateTrigger_OutLowForNPulses()
    {
        Program(2, 1, 50);
        _bench.RunTo(10_000);
        Assert.That(OutBit(Status(2)), Is.True, "waits for a trigger");
        _bench.Out(0x61, 0x01);
        long load = Tick(_bench.Now) + 1;
        _bench.RunTo(T(load));
        Assert.That(OutBit(Status(2)), Is.False);
        Assert.That(LatchedCount(2), Is.EqualTo(50));
        _bench.RunTo(T(load + 49));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.RunTo(T(load + 50));
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Mode4_SoftwareStrobe_OutLowForOnePulse()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 4, 20);
        _bench.Rises.Clear();
        _bench.RunTo(T(load + 19));
        Assert.That(OutBit(Status(0)), Is.True);
        _bench.RunTo(T(load + 20));
        Assert.That(OutBit(Status(0)), Is.False);
        _bench.RunTo(T(load + 1000));
        Assert.That(_bench.RiseTimes(0), Is.EqualTo(new[] { T(load + 21) }));
    }

    [Test]
    public void Mode5_GateTriggered_StrobeAfterNPulses()
    {
        Program(2, 5, 30);
        _bench.RunTo(50_000);
        _bench.Out(0x61, 0x01);
        long load = Tick(_bench.Now) + 1;
        _bench.RunTo(T(load + 29));
        Assert.That(OutBit(Status(2)), Is.True);
        _bench.RunTo(T(load + 30));
        Assert.That(OutBit(Status(2)), Is.False);
        _bench.RunTo(T(load + 31));
        Assert.That(OutBit(Status(2)), Is.True);
    }

    [Test]
    public void Mode0_Channel2GateLow_SuspendsCounting()
    {
        _bench.Out(0x61, 0x01);
        long load = Program(2, 0, 100);
        _bench.RunTo(T(load + 40));
        _bench.Out(0x61, 0x00);
        _bench.RunTo(T(load + 1000));
        Assert.That(LatchedCount(2), Is.EqualTo(60));
        _bench.Out(0x61, 0x01);
        long resumed = Tick(_bench.Now);
        _bench.RunTo(T(resumed + 59));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.RunTo(T(resumed + 60));
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Mode0_Channel2CountWrittenWithGateLow_GateRaisedAtOnce_OutAfterNPlus1()
    {
        // Gate low while programming, then gate high before the count's load pulse.
        _bench.RunTo(1_000);
        _bench.Out(0x61, 0x00);
        long written = Tick(_bench.Now);
        Program(2, 0, 100);
        _bench.Out(0x61, 0x01);
        _bench.RunTo(T(written + 100));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.RunTo(T(written + 101));
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Mode0_Channel2GateRaisedAfterLoad_CountsFromTheRise()
    {
        _bench.RunTo(1_000);
        Program(2, 0, 100);
        _bench.RunTo(50_000);
        _bench.Out(0x61, 0x01);
        long raised = Tick(_bench.Now);
        Assert.That(LatchedCount(2), Is.EqualTo(100));
        _bench.RunTo(T(raised + 99));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.RunTo(T(raised + 100));
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Mode2_Channel2GateLow_ForcesOutHighAndRestartsOnRise()
    {
        _bench.Out(0x61, 0x01);
        long load = Program(2, 2, 10);
        _bench.RunTo(T(load + 9));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.Out(0x61, 0x00);
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
        _bench.RunTo(T(load + 100));
        _bench.Out(0x61, 0x01);
        long reload = Tick(_bench.Now) + 1;
        _bench.RunTo(T(reload + 5));
        Assert.That(LatchedCount(2), Is.EqualTo(5));
    }

    [Test]
    public void Port61_Channel2Mode0Calibration_OutBitSetsAfterCount()
    {
        // The classic delay calibration: gate on, speaker off, mode 0 on counter 2, poll bit 5.
        _bench.Out(0x61, (byte)((_bench.In(0x61) & ~0x02) | 0x01));
        _bench.Out(0x43, 0xB0);
        _bench.Out(0x42, 0x9B);
        _bench.Out(0x42, 0x2E);
        long written = Tick(_bench.Now);
        _bench.RunTo(T(written + 0x2E9B));
        Assert.That(_bench.In(0x61) & 0x20, Is.Zero);
        _bench.RunTo(T(written + 0x2E9B + 1));
        Assert.That(_bench.In(0x61) & 0x20, Is.EqualTo(0x20));
    }

    // ------------------------------------------------------------------ access, latch and read-back

    [Test]
    public void Access_LsbOnlyAndMsbOnly()
    {
        _bench.Out(0x43, 0x50);
        _bench.Out(0x41, 0x34);
        _bench.RunTo(T(Tick(_bench.Now) + 1));
        _bench.Out(0x43, 0x40);
        Assert.That(_bench.In(0x41), Is.EqualTo(0x34));
        _bench.Out(0x43, 0x60);
        _bench.Out(0x41, 0x12);
        _bench.RunTo(T(Tick(_bench.Now) + 1));
        _bench.Out(0x43, 0x40);
        Assert.That(_bench.In(0x41), Is.EqualTo(0x12));
    }

    [Test]
    public void CounterLatch_HoldsValueUntilBothBytesRead()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 0, 0x1234);
        _bench.RunTo(T(load + 0x34));
        _bench.Out(0x43, 0x00);
        _bench.RunTo(T(load + 0x200));
        _bench.Out(0x43, 0x00);
        Assert.That(_bench.In(0x40), Is.EqualTo(0x00));
        Assert.That(_bench.In(0x40), Is.EqualTo(0x12), "the second latch command was ignored");
        Assert.That(_bench.In(0x40) | (_bench.In(0x40) << 8), Is.EqualTo(0x1234 - 0x200), "unlatched reads follow the counter");
    }

    [Test]
    public void ReadBack_StatusThenCount()
    {
        _bench.RunTo(1_000);
        long load = Program(1, 3, 0x0800, bcd: false);
        _bench.RunTo(T(load + 10));
        _bench.Out(0x43, 0xC4);
        Assert.That(_bench.In(0x41), Is.EqualTo(0x80 | 0x30 | (3 << 1)), "OUT high, no null count, LSB/MSB, mode 3, binary");
        Assert.That(_bench.In(0x41) | (_bench.In(0x41) << 8), Is.EqualTo(0x0800 - 20));
    }

    [Test]
    public void ReadBack_NullCount_SetUntilCountLoaded()
    {
        _bench.RunTo(1_000);
        _bench.Out(0x43, 0x34);
        Assert.That(Status(0) & 0x40, Is.EqualTo(0x40));
        _bench.Out(0x40, 0x10);
        _bench.Out(0x40, 0x00);
        Assert.That(Status(0) & 0x40, Is.EqualTo(0x40));
        _bench.RunTo(T(Tick(_bench.Now) + 1));
        Assert.That(Status(0) & 0x40, Is.Zero);
    }

    [Test]
    public void ReadBack_ModeBitsAsWritten()
    {
        _bench.Out(0x43, 0x7C);
        Assert.That(Status(1) & 0x3F, Is.EqualTo(0x3C), "mode x11 reads back with its don't-care bit");
    }

    [Test]
    public void Bcd_CountsInDecimal()
    {
        _bench.RunTo(1_000);
        long load = Program(0, 0, 0x1000, bcd: true);
        _bench.RunTo(T(load + 1));
        Assert.That(LatchedCount(0), Is.EqualTo(0x0999));
        _bench.RunTo(T(load + 1001));
        Assert.That(LatchedCount(0), Is.EqualTo(0x9999), "BCD wraps at 10000");
    }

    [Test]
    public void ControlPort_ReadsZero()
    {
        Assert.That(_bench.In(0x43), Is.Zero);
    }

    // ------------------------------------------------------------------ timers

    [Test]
    public void Timer_DeadlinePassedBeforeReprogram_EdgeStillDelivered()
    {
        long load = Program(0, 2, 100);
        // The vCPU runs past the edge within its slice before timers get their turn.
        _bench.Clock.RoundStartNs = T(load + 150);
        _bench.Rises.Clear();
        Program(0, 2, 5000);
        Assert.That(_bench.RiseTimes(0), Has.Length.EqualTo(1));
    }

    [Test]
    public void Timer_ClockJumpsPastManyEdges_CoalescesAndRearmsAfterNow()
    {
        long load = Program(0, 2, 100);
        _bench.Rises.Clear();
        long target = T(load + 100_050);
        _bench.Clock.RoundStartNs = target;
        _bench.Clock.FireDue(target);
        Assert.That(_bench.RiseTimes(0), Has.Length.EqualTo(1));
        Assert.That(_bench.Clock.NextDeadline(), Is.EqualTo(T(load + 100_100)));
    }

    [Test]
    public void SameProgramming_TwoRuns_IdenticalEdges()
    {
        long[] Run()
        {
            SetUp();
            _bench.RunTo(777);
            Program(0, 3, 1234);
            _bench.RunTo(50_000_000);
            Program(0, 2, 999);
            _bench.RunTo(100_000_000);
            return _bench.RiseTimes(0);
        }
        long[] first = Run();
        Assert.That(Run(), Is.EqualTo(first));
        Assert.That(first, Has.Length.GreaterThan(100));
    }

    [Test]
    public void PortAccessAndTimerEvents_DoNotAllocate()
    {
        _bench.Record = false;
        Program(0, 2, 50);
        long t = 1_000;
        void Cycle()
        {
            t += 100_000;
            _bench.RunTo(t);
            LatchedCount(0);
            Status(0);
            _bench.In(0x61);
            _bench.Out(0x61, 1);
            _bench.Out(0x61, 0);
            Program(2, 0, 1000);
        }
        Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Cycle();
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    // ------------------------------------------------------------------ port 0x61

    [Test]
    public void Port61_RefreshBit_TogglesEvery15085Ns()
    {
        _bench.RunTo(0);
        int a = _bench.In(0x61) & 0x10;
        _bench.RunTo(15_085);
        int b = _bench.In(0x61) & 0x10;
        _bench.RunTo(30_170);
        int c = _bench.In(0x61) & 0x10;
        Assert.That((a, b, c), Is.EqualTo((0, 0x10, 0)));
    }

    [Test]
    public void Port61_LowBits_ReadBackAndDriveGate()
    {
        _bench.Out(0x61, 0xFF);
        Assert.That(_bench.In(0x61) & 0xCF, Is.EqualTo(0x0F));
        Assert.That(_pit.Gate(2), Is.True);
        Assert.That(_port61.SpeakerEnabled, Is.True);
        _bench.Out(0x61, 0x00);
        Assert.That(_pit.Gate(2), Is.False);
    }
}
