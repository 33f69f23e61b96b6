namespace Emulator.Platform;

/// <summary>
/// Exact conversion between virtual nanoseconds and the ticks of a fixed-frequency counter
/// (Hz = <c>num · 10⁹ / den</c>): tick k happens at nanosecond ceil(k · den / num), with no drift, in integer
/// arithmetic that cannot overflow for centuries of virtual time.
/// </summary>
internal static class FixedRate
{
    /// <summary>Ticks at or before <paramref name="ns"/>.</summary>
    public static long TicksAt(long ns, long num, long den)
    {
        long q = Math.DivRem(ns, den, out long r);
        return q * num + r * num / den;
    }

    /// <summary>The nanosecond of tick <paramref name="tick"/>.</summary>
    public static long TimeOfTick(long tick, long num, long den)
    {
        long q = Math.DivRem(tick, num, out long r);
        return q * den + (r * den + num - 1) / num;
    }
}
