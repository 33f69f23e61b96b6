using Emulator.Devices.Apic;

namespace Emulator.Tests.Devices.Apic;

/// <summary>The APIC timer at 1 GHz before the divider, fired by the virtual clock at the exact expiry.</summary>
public class ApicTimerTests
{
    private const uint Periodic = 1 << 17;
    private const uint TscDeadline = 2 << 17;
    private const uint Masked = 1 << 16;
    private const uint DivideBy1 = 0xB;

    private static ApicRig Rig()
    {
        var rig = new ApicRig(1).Enable();
        rig.Advance(1_000);
        return rig;
    }

    private static bool Fired(ApicRig rig, int vector = 0x40) => rig.Bit(0, ApicReg.Irr, vector);

    private static void TakeAndEoi(ApicRig rig)
    {
        rig.Take(0);
        rig.Eoi(0);
    }

    [Test]
    public void OneShot_FiresAtExactlyInitialCountTimesDivisor()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        long start = rig.Now;
        rig.Write(0, ApicReg.TimerInitial, 1000);
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(start + 1000));
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(1000u));
        rig.Advance(250);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(750u));
        rig.Advance(749);
        Assert.That(Fired(rig), Is.False);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(1u));
        rig.Advance(1);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
        Assert.That(rig.Read(0, ApicReg.TimerInitial), Is.EqualTo(1000u));
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(long.MaxValue), "one-shot: no reload");
    }

    [TestCase(0x0u, 2)]
    [TestCase(0x1u, 4)]
    [TestCase(0x2u, 8)]
    [TestCase(0x3u, 16)]
    [TestCase(0x8u, 32)]
    [TestCase(0x9u, 64)]
    [TestCase(0xAu, 128)]
    [TestCase(0xBu, 1)]
    public void Divider_ScalesTheCountRate(uint dcr, int divisor)
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, dcr);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        long start = rig.Now;
        rig.Write(0, ApicReg.TimerInitial, 100);
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(start + 100L * divisor));
        rig.Advance(10L * divisor);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(90u));
    }

    [Test]
    public void Periodic_FiresEveryPeriodAndReloads()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        long start = rig.Now;
        rig.Write(0, ApicReg.TimerInitial, 500);
        for (int i = 1; i <= 3; i++)
        {
            rig.Advance(499);
            Assert.That(Fired(rig), Is.False, $"period {i}");
            rig.Advance(1);
            Assert.That(Fired(rig), Is.True, $"period {i}");
            Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(500u));
            Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(start + 500L * (i + 1)));
            TakeAndEoi(rig);
        }
        rig.Advance(100);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(400u));
    }

    [Test]
    public void Periodic_LongUnobservedGap_CoalescesIntoOneInterruptAndStaysInPhase()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        long start = rig.Now;
        rig.Write(0, ApicReg.TimerInitial, 100);
        rig.Advance(1_050);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(start + 1_100));
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(50u));
    }

    [Test]
    public void InitialCountZero_StopsTheTimer()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 1000);
        rig.Write(0, ApicReg.TimerInitial, 0);
        rig.Advance(10_000);
        Assert.That(Fired(rig), Is.False);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
    }

    [Test]
    public void Masked_CountsButDoesNotInterrupt()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Masked);
        rig.Write(0, ApicReg.TimerInitial, 100);
        rig.Advance(40);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(60u));
        rig.Advance(60);
        Assert.That(Fired(rig), Is.False);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
    }

    [Test]
    public void OneShotToPeriodic_KeepsCountingAndThenReloads()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 1000);
        rig.Advance(600);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(400u));
        rig.Advance(400);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(1000u));
    }

    [Test]
    public void PeriodicToOneShot_FinishesThePeriodThenStops()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        rig.Write(0, ApicReg.TimerInitial, 1000);
        rig.Advance(2_700);
        TakeAndEoi(rig);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(300u));
        rig.Advance(300);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(long.MaxValue));
    }

    [Test]
    public void ExpiredOneShotToPeriodic_StaysAtZero()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 100);
        rig.Advance(1_000);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
        Assert.That(rig.Read(0, ApicReg.TimerInitial), Is.EqualTo(100u));
    }

    [Test]
    public void DivideChange_KeepsTheCurrentCount()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 1000);
        rig.Advance(400);
        rig.Write(0, ApicReg.TimerDivide, 0x0);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(600u));
        long now = rig.Now;
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(now + 1200));
    }

    [Test]
    public void LateTimerAtModeChange_FiresBeforeTheChange()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.TimerDivide, DivideBy1);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 100);
        // Time passes without the clock firing timers (host-time lateness).
        rig.Cpus[0].TimeOffsetNs += 150;
        rig.Write(0, ApicReg.LvtTimer, 0x40 | Periodic);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
    }

    // ------------------------------------------------------------------ TSC-deadline mode

    [Test]
    public void TscDeadline_FiresWhenTheTscReachesTheDeadline()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        ulong tsc = rig.Cpus[0].ReadTsc();
        long now = rig.Now;
        Assert.That(rig.WriteMsr(0, 0x6E0, tsc + 500), Is.True);
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(now + 500));
        rig.ReadMsr(0, 0x6E0, out ulong armed);
        Assert.That(armed, Is.EqualTo(tsc + 500));
        rig.Advance(499);
        Assert.That(Fired(rig), Is.False);
        rig.Advance(1);
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Cpus[0].ReadTsc(), Is.EqualTo(tsc + 500));
        rig.ReadMsr(0, 0x6E0, out ulong after);
        Assert.That(after, Is.EqualTo(0UL));
    }

    [Test]
    public void TscDeadline_FollowsTscBase()
    {
        using var rig = Rig();
        rig.Cpus[0].TscBase = 1_000_000;
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        long now = rig.Now;
        rig.WriteMsr(0, 0x6E0, 1_000_000 + (ulong)now + 77);
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(now + 77));
    }

    [Test]
    public void TscDeadline_AlreadyPassed_FiresDuringTheWrite()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.Cpus[0].Attention = 0;
        rig.WriteMsr(0, 0x6E0, rig.Cpus[0].ReadTsc());
        Assert.That(Fired(rig), Is.True);
        Assert.That(rig.Cpus[0].Attention, Is.Not.Zero);
        rig.ReadMsr(0, 0x6E0, out ulong after);
        Assert.That(after, Is.EqualTo(0UL));
    }

    [Test]
    public void TscDeadline_WriteZero_Disarms()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.WriteMsr(0, 0x6E0, rig.Cpus[0].ReadTsc() + 100);
        rig.WriteMsr(0, 0x6E0, 0);
        rig.Advance(1_000);
        Assert.That(Fired(rig), Is.False);
    }

    [Test]
    public void TscDeadline_InitialCountWrite_IsIgnoredAndCountReadsZero()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.Write(0, ApicReg.TimerInitial, 100);
        Assert.That(rig.Read(0, ApicReg.TimerInitial), Is.EqualTo(0u));
        Assert.That(rig.Read(0, ApicReg.TimerCurrent), Is.EqualTo(0u));
        Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(long.MaxValue));
    }

    [Test]
    public void TscDeadlineMsr_OutsideDeadlineMode_ReadsZeroAndIgnoresWrites()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.WriteMsr(0, 0x6E0, rig.Cpus[0].ReadTsc() + 100);
        rig.ReadMsr(0, 0x6E0, out ulong v);
        Assert.That(v, Is.EqualTo(0UL));
        rig.Advance(1_000);
        Assert.That(Fired(rig), Is.False);
    }

    [Test]
    public void LeavingTscDeadlineMode_DisarmsTheTimer()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.WriteMsr(0, 0x6E0, rig.Cpus[0].ReadTsc() + 100);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Advance(1_000);
        Assert.That(Fired(rig), Is.False);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.ReadMsr(0, 0x6E0, out ulong v);
        Assert.That(v, Is.EqualTo(0UL));
    }

    [Test]
    public void EnteringTscDeadlineMode_StopsTheCountDown()
    {
        using var rig = Rig();
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        rig.Write(0, ApicReg.TimerInitial, 100);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | TscDeadline);
        rig.Advance(1_000);
        Assert.That(Fired(rig), Is.False);
        Assert.That(rig.Read(0, ApicReg.TimerInitial), Is.EqualTo(0u));
    }
}
