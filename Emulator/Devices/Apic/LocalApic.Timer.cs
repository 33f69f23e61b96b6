using Emulator.Platform;
using Timer = Emulator.Platform.Timer;

namespace Emulator.Devices.Apic;

/// <summary>
/// The APIC timer (SDM Vol. 3A §12.5.4 "APIC Timer"): one-shot, periodic and TSC-deadline modes. The timer
/// clock is 1 GHz before the divide configuration (one tick per virtual nanosecond, as QEMU's APIC counts),
/// so the current count is computed from <see cref="VirtualClock.Now"/> and a <see cref="Timer"/> is armed
/// at the exact expiry; nothing runs per tick.
/// </summary>
internal sealed partial class LocalApic
{
    private const int TimerOneShot = 0;
    private const int TimerPeriodic = 1;
    private const int TimerTscDeadline = 2;

    private readonly Timer _timer;
    private uint _timerInitial;

    /// <summary>Divide configuration register: bits 0, 1 and 3.</summary>
    private uint _timerDivide;

    /// <summary>log2 of the divisor: 1 ns × 2^shift per count.</summary>
    private int _timerShift;

    /// <summary>When the current count-down started (in periodic mode: the current period).</summary>
    private long _timerStartNs;

    /// <summary>One-shot or periodic count-down in progress; false once a one-shot count reached 0.</summary>
    private bool _timerCounting;

    /// <summary>IA32_TSC_DEADLINE: the armed deadline in TSC ticks, 0 when disarmed.</summary>
    private ulong _tscDeadline;

    private int TimerMode => (int)(_lvt[LvtTimer] >> 17) & 3;

    private void ResetTimer()
    {
        _timer.Cancel();
        _timerInitial = 0;
        _timerDivide = 0;
        _timerShift = 1;
        _timerStartNs = 0;
        _timerCounting = false;
        _tscDeadline = 0;
    }

    /// <summary>Divide configuration (SDM figure "Divide Configuration Register"): bits 3,1,0 = 111 is ÷1, else ÷2^(value+1).</summary>
    private static int DivideShift(uint dcr) => (int)(((dcr & 3) | ((dcr >> 1) & 4)) + 1) & 7;

    /// <summary>Current-count register at time <paramref name="now"/>: 0 when stopped and in TSC-deadline mode.</summary>
    private uint CurrentCount(long now)
    {
        if (!_timerCounting || _timerInitial == 0 || TimerMode == TimerTscDeadline)
        {
            return 0;
        }
        long ticks = Math.Max(0, now - _timerStartNs) >> _timerShift;
        if (TimerMode == TimerPeriodic)
        {
            return _timerInitial - (uint)(ticks % _timerInitial);
        }
        return ticks >= _timerInitial ? 0 : _timerInitial - (uint)ticks;
    }

    /// <summary>A timer whose deadline has passed but which has not fired yet (host time) fires now, before a change.</summary>
    private void SettleTimer(long now)
    {
        if (_timer.Armed && _timer.Deadline <= now)
        {
            _timer.Cancel();
            OnTimerExpired(_timer.Deadline);
        }
    }

    /// <summary>The count reached 0 (or the TSC the deadline): interrupt, then reload (periodic) or stop.</summary>
    private void OnTimerExpired(long at)
    {
        switch (TimerMode)
        {
            case TimerTscDeadline:
                // SDM Vol. 3A §12.5.4.1 "TSC-Deadline Mode": the MSR reads 0 once the timer fired.
                _tscDeadline = 0;
                break;
            case TimerPeriodic when _timerInitial != 0:
                {
                    long period = (long)_timerInitial << _timerShift;
                    long next = at + period;
                    long now = _clock.Now;
                    if (next <= now)
                    {
                        // Periods nobody observed: their interrupts would have coalesced in the IRR bit anyway.
                        next += ((now - next) / period + 1) * period;
                    }
                    _timerStartNs = next - period;
                    _timer.Arm(next);
                    break;
                }
            default:
                _timerCounting = false;
                break;
        }
        DeliverLvt(LvtTimer);
    }

    /// <summary>
    /// LVT timer write: one-shot ↔ periodic keeps the count going (the armed expiry is the end of the current
    /// period either way); entering or leaving TSC-deadline mode disarms the timer (SDM Vol. 3A §12.5.4.1).
    /// </summary>
    private void WriteLvtTimer(uint value)
    {
        SettleTimer(_clock.Now);
        bool wasDeadline = TimerMode == TimerTscDeadline;
        _lvt[LvtTimer] = value;
        if (wasDeadline != (TimerMode == TimerTscDeadline))
        {
            _timer.Cancel();
            _timerCounting = false;
            _timerInitial = 0;
            _tscDeadline = 0;
        }
    }

    /// <summary>Initial-count write: starts (or with 0 stops) the count-down; ignored in TSC-deadline mode.</summary>
    private void WriteTimerInitial(uint value)
    {
        if (TimerMode == TimerTscDeadline)
        {
            return;
        }
        _timer.Cancel();
        _timerInitial = value;
        _timerCounting = value != 0;
        if (value == 0)
        {
            return;
        }
        _timerStartNs = _clock.Now;
        _timer.Arm(_timerStartNs + ((long)value << _timerShift));
    }

    /// <summary>Divide-configuration write: a running count keeps its value and goes on at the new rate.</summary>
    private void WriteTimerDivide(uint value)
    {
        long now = _clock.Now;
        SettleTimer(now);
        uint count = CurrentCount(now);
        _timerDivide = value & 0xB;
        int shift = DivideShift(_timerDivide);
        if (shift == _timerShift)
        {
            return;
        }
        _timerShift = shift;
        if (count != 0)
        {
            _timerStartNs = now - ((long)(_timerInitial - count) << shift);
            _timer.Arm(_timerStartNs + ((long)_timerInitial << shift));
        }
    }

    /// <summary>IA32_TSC_DEADLINE reads 0 outside TSC-deadline mode.</summary>
    private ulong ReadTscDeadline() => HardwareEnabled && TimerMode == TimerTscDeadline ? _tscDeadline : 0;

    /// <summary>
    /// IA32_TSC_DEADLINE write (SDM Vol. 3A §12.5.4.1): arms the timer for when the TSC reaches the value, fires at
    /// once for a value already passed, disarms with 0; ignored outside TSC-deadline mode. The TSC runs at
    /// 1 GHz of the vCPU's time, so the deadline converts to virtual time one to one.
    /// </summary>
    private void WriteTscDeadline(ulong value)
    {
        if (!HardwareEnabled || TimerMode != TimerTscDeadline)
        {
            return;
        }
        _timer.Cancel();
        _tscDeadline = value;
        if (value == 0)
        {
            return;
        }
        ulong tsc = _vcpu.ReadTsc();
        if (value <= tsc)
        {
            OnTimerExpired(_clock.Now);
            return;
        }
        ulong delta = Math.Min(value - tsc, (ulong)long.MaxValue / 2);
        _timer.Arm(_clock.Now + (long)delta);
    }
}
