using Emulator.Devices;

namespace Emulator.Tests.Devices;

/// <summary>The PIIX4 ACPI PM block at the port level (ACPI specification, "ACPI Hardware Specification").</summary>
public class AcpiPmTests
{
    private const long Second = 1_000_000_000;
    private const long Carry = 1L << 23;

    private TimedDeviceBench _bench = null!;
    private AcpiPm _pm = null!;
    private int _poweroffs;
    private int _resets;

    [SetUp]
    public void SetUp()
    {
        _bench = new TimedDeviceBench();
        _poweroffs = 0;
        _resets = 0;
        _pm = new AcpiPm(_bench.Clock, _bench.Irqs, () => _poweroffs++, () => _resets++);
        _pm.Register(_bench.Io);
    }

    private static long T(long tick) => AcpiPm.TimeOfTick(tick);

    private uint Timer() => _bench.Io.In(AcpiPm.PmTimerBlock, 4);

    private ushort Status() => (ushort)_bench.Io.In(AcpiPm.Pm1aEventBlock, 2);

    private void EnableAcpiAndTimerSci()
    {
        _bench.Out(AcpiPm.SmiCommandPort, AcpiPm.AcpiEnable);
        _bench.Io.Out(AcpiPm.Pm1aEventBlock + 2, 2, AcpiPm.TmrEn);
    }

    // ------------------------------------------------------------------ PM timer

    [Test]
    public void TicksAt_OneSecondAndOneDay_ExactWithoutDrift()
    {
        Assert.That(AcpiPm.TicksAt(Second), Is.EqualTo(3_579_545));
        Assert.That(AcpiPm.TicksAt(86_400 * Second), Is.EqualTo(3_579_545L * 86_400));
    }

    [TestCase(1L)]
    [TestCase(715_909L)]
    [TestCase(1L << 24)]
    [TestCase(987_654_321_123L)]
    public void TimeOfTick_IsFirstNanosecondOfThatTick(long tick)
    {
        Assert.That(AcpiPm.TicksAt(T(tick)), Is.EqualTo(tick));
        Assert.That(AcpiPm.TicksAt(T(tick) - 1), Is.EqualTo(tick - 1));
    }

    [Test]
    public void Timer_CountsAt3579545Hz()
    {
        Assert.That(Timer(), Is.Zero);
        _bench.RunTo(Second);
        Assert.That(Timer(), Is.EqualTo(3_579_545u));
        _bench.RunTo(T(1000) - 1);
        Assert.That(Timer(), Is.EqualTo(999u));
    }

    [Test]
    public void Timer_Is24Bits_Wraps()
    {
        _bench.RunTo(T((1L << 24) - 1));
        Assert.That(Timer(), Is.EqualTo(0xFF_FFFFu));
        _bench.RunTo(T(1L << 24));
        Assert.That(Timer(), Is.Zero);
    }

    [Test]
    public void Timer_ByteReads_ComposeTheSameValue()
    {
        _bench.RunTo(T(0x12_3456));
        uint bytes = 0;
        for (int i = 0; i < 4; i++)
        {
            bytes |= (uint)_bench.In((ushort)(AcpiPm.PmTimerBlock + i)) << (8 * i);
        }
        Assert.That(bytes, Is.EqualTo(0x12_3456u));
    }

    [Test]
    public void Timer_WritesIgnored()
    {
        _bench.RunTo(T(500));
        _bench.Io.Out(AcpiPm.PmTimerBlock, 4, 0);
        Assert.That(Timer(), Is.EqualTo(500u));
    }

    // ------------------------------------------------------------------ TMR_STS and SCI

    [Test]
    public void TmrSts_SetWhenBit23Changes_ClearedByWritingOne()
    {
        _bench.RunTo(T(Carry) - 1);
        Assert.That(Status() & AcpiPm.TmrSts, Is.Zero);
        _bench.RunTo(T(Carry));
        Assert.That(Status() & AcpiPm.TmrSts, Is.EqualTo(AcpiPm.TmrSts));
        _bench.Io.Out(AcpiPm.Pm1aEventBlock, 2, 0);
        Assert.That(Status() & AcpiPm.TmrSts, Is.EqualTo(AcpiPm.TmrSts), "writing zero leaves it");
        _bench.Io.Out(AcpiPm.Pm1aEventBlock, 2, AcpiPm.TmrSts);
        Assert.That(Status() & AcpiPm.TmrSts, Is.Zero);
        _bench.RunTo(T(2 * Carry) - 1);
        Assert.That(Status() & AcpiPm.TmrSts, Is.Zero);
        _bench.RunTo(T(2 * Carry));
        Assert.That(Status() & AcpiPm.TmrSts, Is.EqualTo(AcpiPm.TmrSts), "set on the clear-to-set change too");
    }

    [Test]
    public void Sci_TimerEnabledInAcpiMode_Irq9AtExactCarry()
    {
        EnableAcpiAndTimerSci();
        _bench.RunTo(T(2 * Carry) + 1);
        Assert.That(_bench.RiseTimes(AcpiPm.SciIrq), Is.EqualTo(new[] { T(Carry) }));
        Assert.That(_bench.Levels[AcpiPm.SciIrq], Is.True, "the SCI is a level");
        _bench.Io.Out(AcpiPm.Pm1aEventBlock, 2, AcpiPm.TmrSts);
        Assert.That(_bench.Levels[AcpiPm.SciIrq], Is.False);
        _bench.RunTo(T(3 * Carry));
        Assert.That(_bench.RiseTimes(AcpiPm.SciIrq), Is.EqualTo(new[] { T(Carry), T(3 * Carry) }));
    }

    [Test]
    public void Sci_WithoutSciEn_NoIrqAndNoTimer()
    {
        _bench.Io.Out(AcpiPm.Pm1aEventBlock + 2, 2, AcpiPm.TmrEn);
        Assert.That(_bench.Clock.NextDeadline(), Is.EqualTo(long.MaxValue));
        _bench.RunTo(T(Carry));
        Assert.That(_bench.Rises, Is.Empty);
        Assert.That(Status() & AcpiPm.TmrSts, Is.EqualTo(AcpiPm.TmrSts));
    }

    [Test]
    public void Sci_StatusAlreadySet_RaisedWhenEnabled()
    {
        _bench.RunTo(T(Carry));
        EnableAcpiAndTimerSci();
        Assert.That(_bench.Levels[AcpiPm.SciIrq], Is.True);
        _bench.Io.Out(AcpiPm.Pm1aEventBlock + 2, 2, 0);
        Assert.That(_bench.Levels[AcpiPm.SciIrq], Is.False);
    }

    [Test]
    public void SmiCommand_AcpiEnableAndDisable_ToggleSciEn()
    {
        Assert.That(_bench.Io.In(AcpiPm.Pm1aControlBlock, 2) & AcpiPm.SciEn, Is.Zero, "legacy mode after the BIOS");
        _bench.Out(AcpiPm.SmiCommandPort, AcpiPm.AcpiEnable);
        Assert.That(_bench.Io.In(AcpiPm.Pm1aControlBlock, 2) & AcpiPm.SciEn, Is.EqualTo(AcpiPm.SciEn));
        _bench.Out(AcpiPm.SmiCommandPort, AcpiPm.AcpiDisable);
        Assert.That(_bench.Io.In(AcpiPm.Pm1aControlBlock, 2) & AcpiPm.SciEn, Is.Zero);
        Assert.That(_bench.In(AcpiPm.SmiCommandPort), Is.EqualTo(AcpiPm.AcpiDisable));
    }

    [Test]
    public void EventBlock_DwordRead_StatusAndEnable()
    {
        _bench.Io.Out(AcpiPm.Pm1aEventBlock + 2, 2, AcpiPm.PwrBtnEn | AcpiPm.TmrEn);
        _bench.RunTo(T(Carry));
        Assert.That(_bench.Io.In(AcpiPm.Pm1aEventBlock, 4), Is.EqualTo((uint)AcpiPm.TmrSts | ((uint)(AcpiPm.PwrBtnEn | AcpiPm.TmrEn) << 16)));
    }

    // ------------------------------------------------------------------ sleep and reset

    [Test]
    public void SleepS5_SlpTypAndSlpEn_PowersOff()
    {
        _bench.Io.Out(AcpiPm.Pm1aControlBlock, 2, (uint)(AcpiPm.SlpTypS5 << 10) | AcpiPm.SlpEn | AcpiPm.SciEn);
        Assert.That(_poweroffs, Is.EqualTo(1));
        Assert.That(_bench.Io.In(AcpiPm.Pm1aControlBlock, 2) & AcpiPm.SlpEn, Is.Zero, "SLP_EN is write-only");
    }

    [Test]
    public void SleepS5_SlpTypWithoutSlpEn_Nothing()
    {
        _bench.Io.Out(AcpiPm.Pm1aControlBlock, 2, (uint)(AcpiPm.SlpTypS5 << 10));
        Assert.That(_poweroffs, Is.Zero);
    }

    [Test]
    public void SleepOtherState_NotImplemented_KeepsRunning()
    {
        _bench.Io.Out(AcpiPm.Pm1aControlBlock, 2, (1u << 10) | AcpiPm.SlpEn);
        Assert.That(_poweroffs, Is.Zero);
        Assert.That(_bench.Io.In(AcpiPm.Pm1aControlBlock, 2), Is.EqualTo(1u << 10));
    }

    [TestCase(0x06)]
    [TestCase(0x0E)]
    [TestCase(0x04)]
    public void ResetRegister_RstCpu_Resets(int value)
    {
        _bench.Out(AcpiPm.ResetRegister, (byte)value);
        Assert.That(_resets, Is.EqualTo(1));
    }

    [Test]
    public void ResetRegister_SysRstAlone_Kept()
    {
        _bench.Out(AcpiPm.ResetRegister, 0x02);
        Assert.That(_resets, Is.Zero);
        Assert.That(_bench.In(AcpiPm.ResetRegister), Is.EqualTo(0x02));
    }

    [Test]
    public void FadtConstants_AsQemu()
    {
        Assert.That((AcpiPm.Pm1aEventBlock, AcpiPm.Pm1EventLength), Is.EqualTo(((ushort)0x600, (byte)4)));
        Assert.That((AcpiPm.Pm1aControlBlock, AcpiPm.Pm1ControlLength), Is.EqualTo(((ushort)0x604, (byte)2)));
        Assert.That((AcpiPm.PmTimerBlock, AcpiPm.PmTimerLength), Is.EqualTo(((ushort)0x608, (byte)4)));
        Assert.That((AcpiPm.ResetRegister, AcpiPm.ResetValue, AcpiPm.SciIrq), Is.EqualTo(((ushort)0xCF9, (byte)6, 9)));
    }

    // ------------------------------------------------------------------ determinism and cost

    [Test]
    public void SameProgramming_TwoRuns_IdenticalSci()
    {
        long[] Run()
        {
            SetUp();
            EnableAcpiAndTimerSci();
            for (long t = 0; t < 20 * Second; t += Second / 3)
            {
                _bench.RunTo(t);
                _bench.Io.Out(AcpiPm.Pm1aEventBlock, 2, AcpiPm.TmrSts);
            }
            return _bench.RiseTimes(AcpiPm.SciIrq);
        }
        long[] first = Run();
        Assert.That(Run(), Is.EqualTo(first));
        Assert.That(first, Has.Length.EqualTo(8));
    }

    [Test]
    public void PortAccessAndTimerEvents_DoNotAllocate()
    {
        _bench.Record = false;
        EnableAcpiAndTimerSci();
        long t = 0;
        void Cycle()
        {
            t += Second / 2;
            _bench.RunTo(t);
            Timer();
            Status();
            _bench.Io.Out(AcpiPm.Pm1aEventBlock, 2, AcpiPm.TmrSts);
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
