using Emulator.Cpu;

namespace Emulator.Platform;

/// <summary>
/// The machine's time in nanoseconds. Deterministic by default: time is the running vCPU's
/// <see cref="Vcpu.LocalTimeNs"/> (one retired instruction = 2^shift ns), and the scheduler jumps it forward to the
/// next timer deadline when every vCPU idles. Devices read <see cref="Now"/> and arm <see cref="Timer"/>s;
/// timers fire between scheduling slices, never in the middle of an instruction.
/// </summary>
public sealed class VirtualClock
{
    private readonly List<Timer> _timers = [];

    /// <summary>The vCPU running now (set by the scheduler), whose time devices see.</summary>
    internal Vcpu? Current;

    /// <summary>Time of the scheduler's current round; <see cref="Now"/> when no vCPU runs.</summary>
    internal long RoundStartNs;

    public long Now => Current?.LocalTimeNs ?? RoundStartNs;

    /// <summary>Creates a timer whose callback gets the time it fires at (devices create theirs once, at start-up).</summary>
    public Timer CreateTimer(Action<long> callback)
    {
        var t = new Timer(this, callback);
        _timers.Add(t);
        return t;
    }

    /// <summary>End of the scheduler's current round: later vCPUs of the round run no further than this.</summary>
    internal long SliceEndNs = long.MaxValue;

    /// <summary>Deterministic mode: time is instruction-derived, so a timer armed inside a slice can end it exactly.</summary>
    internal bool Virtual = true;

    /// <summary>A timer was armed: a deadline inside the running slice ends the slice there.</summary>
    internal void OnArmed(long deadline)
    {
        if (deadline < SliceEndNs)
        {
            SliceEndNs = deadline;
            if (Virtual && Current is { } cpu)
            {
                cpu.ShortenRun(cpu.InstructionCountAt(deadline));
            }
        }
    }

    /// <summary>Earliest armed deadline, or <see cref="long.MaxValue"/>.</summary>
    internal long NextDeadline()
    {
        long next = long.MaxValue;
        foreach (Timer t in _timers)
        {
            if (t.Armed && t.Deadline < next)
            {
                next = t.Deadline;
            }
        }
        return next;
    }

    /// <summary>Fires every timer due at or before <paramref name="now"/>, earliest first (callbacks may re-arm).</summary>
    internal void FireDue(long now)
    {
        while (true)
        {
            Timer? due = null;
            foreach (Timer t in _timers)
            {
                if (t.Armed && t.Deadline <= now && (due is null || t.Deadline < due.Deadline))
                {
                    due = t;
                }
            }
            if (due is null)
            {
                return;
            }
            due.Armed = false;
            due.Callback(due.Deadline);
        }
    }
}

/// <summary>A one-shot timer in virtual nanoseconds; re-arm from the callback for periodic behaviour.</summary>
public sealed class Timer
{
    internal readonly Action<long> Callback;
    private readonly VirtualClock _clock;

    internal Timer(VirtualClock clock, Action<long> callback)
    {
        _clock = clock;
        Callback = callback;
    }

    public bool Armed { get; internal set; }

    public long Deadline { get; private set; }

    public void Arm(long deadlineNs)
    {
        Deadline = deadlineNs;
        Armed = true;
        _clock.OnArmed(deadlineNs);
    }

    public void Cancel() => Armed = false;
}
