using Emulator.Devices;

namespace Emulator.Tests.Devices;

/// <summary>The RTC and CMOS at the port level (Motorola MC146818A datasheet; QEMU's CMOS layout).</summary>
public class CmosRtcTests
{
    private const long Second = 1_000_000_000;

    private TimedDeviceBench _bench = null!;
    private CmosRtc _rtc = null!;

    [SetUp]
    public void SetUp() => Create(128UL << 20, 0);

    private void Create(ulong below4G, ulong above4G, int cpus = 1, DateTime? start = null)
    {
        _bench = new TimedDeviceBench();
        _rtc = new CmosRtc(_bench.Clock, _bench.Irqs, below4G, above4G, cpus, start);
        _rtc.Register(_bench.Io);
    }

    private byte Read(int index)
    {
        _bench.Out(0x70, (byte)index);
        return _bench.In(0x71);
    }

    private void Write(int index, byte value)
    {
        _bench.Out(0x70, (byte)index);
        _bench.Out(0x71, value);
    }

    private (int H, int M, int S) Clock() => (Read(4), Read(2), Read(0));

    private (int Century, int Year, int Month, int Day) Date() => (Read(0x32), Read(9), Read(8), Read(7));

    /// <summary>Time of divider tick <paramref name="tick"/> (32.768 kHz from virtual time 0).</summary>
    private static long DividerTime(long tick) => (tick * 1_953_125 + 63) / 64;

    // ------------------------------------------------------------------ time and date

    [Test]
    public void Start_DefaultDate_2026_01_01_Midnight_Bcd24h()
    {
        Assert.That(Clock(), Is.EqualTo((0x00, 0x00, 0x00)));
        Assert.That(Date(), Is.EqualTo((0x20, 0x26, 0x01, 0x01)));
        Assert.That(Read(6), Is.EqualTo(5), "2026-01-01 is a Thursday (Sunday = 1)");
        Assert.That(Read(0x0A), Is.EqualTo(0x26));
        Assert.That(Read(0x0B), Is.EqualTo(0x02));
        Assert.That(Read(0x0D), Is.EqualTo(0x80), "VRT");
    }

    [Test]
    public void VirtualTime_AdvancesTheClockOnSecondBoundaries()
    {
        _bench.RunTo(3661 * Second - 1);
        Assert.That(Clock(), Is.EqualTo((0x01, 0x01, 0x00)));
        _bench.RunTo(3661 * Second);
        Assert.That(Clock(), Is.EqualTo((0x01, 0x01, 0x01)));
    }

    [Test]
    public void VirtualTime_CrossesMonthAndYear()
    {
        Create(128UL << 20, 0, start: new DateTime(2099, 12, 31, 23, 59, 59, DateTimeKind.Utc));
        _bench.RunTo(Second);
        Assert.That(Clock(), Is.EqualTo((0x00, 0x00, 0x00)));
        Assert.That(Date(), Is.EqualTo((0x21, 0x00, 0x01, 0x01)));
        Assert.That(Read(6), Is.EqualTo((int)new DateTime(2100, 1, 1).DayOfWeek + 1));
    }

    [Test]
    public void Start_LeapDay_RollsToMarch()
    {
        Create(128UL << 20, 0, start: new DateTime(2024, 2, 28, 23, 59, 59, DateTimeKind.Utc));
        _bench.RunTo(Second);
        Assert.That(Date(), Is.EqualTo((0x20, 0x24, 0x02, 0x29)));
        _bench.RunTo(Second + 86_400 * Second);
        Assert.That(Date(), Is.EqualTo((0x20, 0x24, 0x03, 0x01)));
    }

    [Test]
    public void BinaryMode_RegistersInBinary()
    {
        Write(0x0B, 0x06);
        _bench.RunTo(45_296 * Second);
        Assert.That(Clock(), Is.EqualTo((12, 34, 56)));
        Assert.That(Date(), Is.EqualTo((20, 26, 1, 1)));
    }

    [Test]
    public void TwelveHourMode_PmInBit7()
    {
        Write(0x0B, 0x00);
        Assert.That(Read(4), Is.EqualTo(0x12), "midnight is 12 AM");
        _bench.RunTo(12 * 3600 * Second);
        Assert.That(Read(4), Is.EqualTo(0x92), "noon is 12 PM");
        _bench.RunTo(13 * 3600 * Second);
        Assert.That(Read(4), Is.EqualTo(0x81));
    }

    [Test]
    public void SetBit_FreezesUpdates_NewTimeRunsFromClear()
    {
        _bench.RunTo(5 * Second);
        Write(0x0B, 0x82);
        _bench.RunTo(7 * Second);
        Assert.That(Read(0), Is.EqualTo(0x05), "no updates while SET");
        Write(0, 0x58);
        Write(2, 0x59);
        Write(4, 0x23);
        Write(7, 0x31);
        Write(8, 0x12);
        Write(9, 0x99);
        Write(0x32, 0x19);
        Assert.That(Read(0), Is.EqualTo(0x58));
        Write(0x0B, 0x02);
        _bench.RunTo(9 * Second);
        Assert.That(Clock(), Is.EqualTo((0x00, 0x00, 0x00)));
        Assert.That(Date(), Is.EqualTo((0x20, 0x00, 0x01, 0x01)));
        Assert.That(_rtc.UnixTime, Is.EqualTo(946_684_800));
    }

    [Test]
    public void WriteWithoutSet_ChangesOneFieldKeepsPhase()
    {
        _bench.RunTo(10 * Second + Second / 4);
        Write(2, 0x30);
        Assert.That(Clock(), Is.EqualTo((0x00, 0x30, 0x10)));
        _bench.RunTo(11 * Second - 1);
        Assert.That(Read(0), Is.EqualTo(0x10));
        _bench.RunTo(11 * Second);
        Assert.That(Read(0), Is.EqualTo(0x11));
    }

    [Test]
    public void DayOfWeek_WrittenValue_KeepsCountingFromIt()
    {
        Write(6, 0x02);
        _bench.RunTo(86_400 * Second);
        Assert.That(Read(6), Is.EqualTo(3));
    }

    // ------------------------------------------------------------------ register A

    [Test]
    public void Uip_SetFor244UsBeforeEachUpdate()
    {
        _bench.RunTo(Second - 244_142);
        Assert.That(Read(0x0A) & 0x80, Is.Zero);
        _bench.RunTo(Second - 244_141);
        Assert.That(Read(0x0A) & 0x80, Is.EqualTo(0x80));
        Assert.That(Read(0), Is.Zero, "the registers still hold the old second during UIP");
        _bench.RunTo(Second);
        Assert.That(Read(0x0A) & 0x80, Is.Zero);
        Assert.That(Read(0), Is.EqualTo(1));
    }

    [Test]
    public void DividerReset_FreezesTime_FirstUpdateHalfASecondAfterRelease()
    {
        _bench.RunTo(3 * Second + 100);
        Write(0x0A, 0x76);
        _bench.RunTo(10 * Second);
        Assert.That(Read(0), Is.EqualTo(0x03));
        Write(0x0A, 0x26);
        _bench.RunTo(10 * Second + Second / 2 - 1);
        Assert.That(Read(0), Is.EqualTo(0x03));
        _bench.RunTo(10 * Second + Second / 2);
        Assert.That(Read(0), Is.EqualTo(0x04));
    }

    // ------------------------------------------------------------------ interrupts

    [Test]
    public void PeriodicInterrupt_1024Hz_Irq8AtExactDividerTicks()
    {
        Write(0x0B, 0x42);
        var times = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            _bench.Rises.Clear();
            _bench.RunTo(_bench.Clock.NextDeadline());
            times.AddRange(_bench.RiseTimes(8));
            Assert.That(Read(0x0C), Is.EqualTo(0xC0), "IRQF and PF");
        }
        Assert.That(times, Is.EqualTo(new[] { DividerTime(32), DividerTime(64), DividerTime(96), DividerTime(128), DividerTime(160) }));
    }

    [TestCase(1, 128)]
    [TestCase(2, 256)]
    [TestCase(3, 4)]
    [TestCase(6, 32)]
    [TestCase(15, 16384)]
    public void PeriodicInterrupt_RateSelect_PeriodInDividerTicks(int rs, int ticks)
    {
        Write(0x0A, (byte)(0x20 | rs));
        Write(0x0B, 0x42);
        _bench.RunTo(DividerTime(ticks) - 1);
        Assert.That(_bench.Levels[8], Is.False);
        _bench.RunTo(DividerTime(ticks));
        Assert.That(_bench.Levels[8], Is.True);
    }

    [Test]
    public void PeriodicFlag_WithoutPie_SetButNoIrq()
    {
        _bench.RunTo(2_000_000);
        Assert.That(Read(0x0C), Is.EqualTo(0x40));
        Assert.That(Read(0x0C), Is.Zero, "reading C clears it");
        Assert.That(_bench.Rises, Is.Empty);
    }

    [Test]
    public void UnacknowledgedIrq_NoFurtherEdgesUntilCRead()
    {
        Write(0x0B, 0x42);
        _bench.RunTo(100_000_000);
        Assert.That(_bench.RiseTimes(8), Has.Length.EqualTo(1));
        Assert.That(_bench.Clock.NextDeadline(), Is.EqualTo(long.MaxValue), "no timer work while IRQF is pending");
        Read(0x0C);
        Assert.That(_bench.Levels[8], Is.False);
        _bench.RunTo(101_000_000);
        Assert.That(_bench.RiseTimes(8), Has.Length.EqualTo(2));
    }

    [Test]
    public void EnablingPie_WithPfAlreadySet_RaisesAtOnce()
    {
        _bench.RunTo(2_000_000);
        Write(0x0B, 0x42);
        Assert.That(_bench.Levels[8], Is.True);
        Write(0x0B, 0x02);
        Assert.That(_bench.Levels[8], Is.False, "IRQF = PF·PIE");
    }

    [Test]
    public void UpdateEndedInterrupt_EverySecond()
    {
        Write(0x0B, 0x12);
        _bench.RunTo(Second);
        Assert.That(Read(0x0C), Is.EqualTo(0x90 | 0x40));
        _bench.RunTo(2 * Second);
        Assert.That(_bench.RiseTimes(8), Is.EqualTo(new[] { Second, 2 * Second }));
    }

    [Test]
    public void SetBit_ClearsUie()
    {
        Write(0x0B, 0x12);
        Write(0x0B, 0x92);
        Assert.That(Read(0x0B), Is.EqualTo(0x82));
    }

    [Test]
    public void AlarmInterrupt_AtMatchingSecond()
    {
        Write(1, 0x05);
        Write(3, 0x00);
        Write(5, 0x00);
        Write(0x0B, 0x22);
        _bench.RunTo(10 * Second);
        Assert.That(_bench.RiseTimes(8), Is.EqualTo(new[] { 5 * Second }));
        Assert.That(Read(0x0C) & 0xA0, Is.EqualTo(0xA0));
    }

    [Test]
    public void AlarmInterrupt_DontCareSeconds_EverySecond()
    {
        Write(1, 0xC0);
        Write(3, 0xFF);
        Write(5, 0xC0);
        Write(0x0B, 0x22);
        _bench.RunTo(Second);
        Assert.That(Read(0x0C) & 0xA0, Is.EqualTo(0xA0));
        _bench.RunTo(2 * Second);
        Assert.That(_bench.RiseTimes(8), Is.EqualTo(new[] { Second, 2 * Second }));
    }

    // ------------------------------------------------------------------ index port and CMOS memory

    [Test]
    public void IndexBit7_MasksNmi()
    {
        _bench.Out(0x70, 0x8F);
        Assert.That(_rtc.NmiMasked, Is.True);
        _bench.Out(0x70, 0x0F);
        Assert.That(_rtc.NmiMasked, Is.False);
        Assert.That(_bench.In(0x70), Is.EqualTo(0xFF), "the index register is write-only");
    }

    [Test]
    public void IndexBit7_DoesNotChangeTheRegisterSelected()
    {
        Write(0x40, 0x5A);
        _bench.Out(0x70, 0xC0);
        Assert.That(_bench.In(0x71), Is.EqualTo(0x5A));
    }

    [Test]
    public void Memory128MiB_QemuSizeFields()
    {
        Assert.That(Read(0x15) | (Read(0x16) << 8), Is.EqualTo(640));
        Assert.That(Read(0x17) | (Read(0x18) << 8), Is.EqualTo(0xFFFF), "capped at 64 MiB");
        Assert.That(Read(0x30) | (Read(0x31) << 8), Is.EqualTo(0xFFFF));
        Assert.That(Read(0x34) | (Read(0x35) << 8), Is.EqualTo((128 - 16) * 16));
        Assert.That(Read(0x5B) | (Read(0x5C) << 8) | (Read(0x5D) << 16), Is.Zero);
        Assert.That(Read(0x5F), Is.Zero, "one CPU");
        Assert.That(Read(0x14), Is.EqualTo(0x06));
    }

    [Test]
    public void Memory32MiB_ExtendedInKiB()
    {
        Create(32UL << 20, 0);
        Assert.That(Read(0x17) | (Read(0x18) << 8), Is.EqualTo(31 * 1024));
        Assert.That(Read(0x34) | (Read(0x35) << 8), Is.EqualTo(16 * 16));
    }

    [Test]
    public void Memory8GiB_AboveFourGiBIn64KiBUnits()
    {
        Create(0xE000_0000, (8UL << 30) - 0xE000_0000, cpus: 4);
        Assert.That(Read(0x34) | (Read(0x35) << 8), Is.EqualTo((0xE000_0000 - 0x100_0000) / 0x1_0000));
        Assert.That(Read(0x5B) | (Read(0x5C) << 8) | (Read(0x5D) << 16), Is.EqualTo(((8L << 30) - 0xE000_0000) / 0x1_0000));
        Assert.That(Read(0x5F), Is.EqualTo(3));
    }

    [Test]
    public void GeneralRam_KeepsWrites()
    {
        for (int i = 0x0E; i < 0x80; i++)
        {
            if (i != 0x32)
            {
                Write(i, (byte)(i ^ 0xA5));
            }
        }
        for (int i = 0x0E; i < 0x80; i++)
        {
            if (i != 0x32)
            {
                Assert.That(Read(i), Is.EqualTo((byte)(i ^ 0xA5)), $"index {i:X2}");
            }
        }
    }

    // ------------------------------------------------------------------ determinism and cost

    [Test]
    public void SameProgramming_TwoRuns_IdenticalInterrupts()
    {
        long[] Run()
        {
            SetUp();
            Write(0x0A, 0x23);
            Write(0x0B, 0x52);
            for (long t = 0; t < 50_000_000; t += 1_000_000)
            {
                _bench.RunTo(t);
                Read(0x0C);
            }
            return _bench.RiseTimes(8);
        }
        long[] first = Run();
        Assert.That(Run(), Is.EqualTo(first));
        Assert.That(first, Has.Length.EqualTo(49));
    }

    [Test]
    public void PortAccessAndTimerEvents_DoNotAllocate()
    {
        _bench.Record = false;
        Write(0x0A, 0x23);
        Write(0x0B, 0x72);
        long t = 0;
        void Cycle()
        {
            t += 100_000;
            _bench.RunTo(t);
            Read(0x0C);
            Read(0);
            Read(0x0A);
            Write(0x40, 1);
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
