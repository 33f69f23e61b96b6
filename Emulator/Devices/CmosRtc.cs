using Emulator.Cpu.Bus;
using Emulator.Platform;
using Timer = Emulator.Platform.Timer;

namespace Emulator.Devices;

/// <summary>
/// The MC146818-compatible real-time clock and its 128 bytes of CMOS RAM at 0x70 (index; bit 7 masks
/// NMI) and 0x71 (data), as the Motorola MC146818A datasheet ("Real-Time Clock Plus RAM") describes it:
/// time and date in BCD or binary and 12- or 24-hour format per register B, register A's update-in-progress
/// flag, divider and rate select, register C's interrupt flags (cleared by reading it), register D's valid
/// RAM bit, and the periodic, alarm and update-ended interrupts on IRQ 8.
/// </summary>
/// <remarks>
/// <para>Time is deterministic: a fixed start date (<see cref="DefaultStart"/> unless given) at virtual
/// time 0, advanced by the <see cref="VirtualClock"/>. The 32.768 kHz divider chain runs from virtual
/// time 0 (a divider reset through register A restarts it, the first update half a second later).</para>
/// <para>Flags are derived from time when read; the one timer runs only while an enabled interrupt
/// can still raise IRQF (a periodic interrupt nobody acknowledges costs nothing). Without AIE, the
/// alarm is compared with the latest second only.</para>
/// <para>CMOS contents follow QEMU's pc_cmos_init: base memory (0x15/0x16), extended memory in KiB up
/// to 64 MiB (0x17/0x18 and 0x30/0x31), memory between 16 MiB and 4 GiB in 64 KiB units (0x34/0x35),
/// memory above 4 GiB in 64 KiB units (0x5B–0x5D), CPU count − 1 (0x5F), equipment byte (0x14), and
/// the century at 0x32.</para>
/// </remarks>
internal sealed class CmosRtc : BytePortDevice
{
    public const ushort IndexPort = 0x70;
    public const ushort DataPort = 0x71;
    public const int Irq = 8;
    public const byte CenturyRegister = 0x32;

    public const int RegSeconds = 0x00;
    public const int RegSecondsAlarm = 0x01;
    public const int RegMinutes = 0x02;
    public const int RegMinutesAlarm = 0x03;
    public const int RegHours = 0x04;
    public const int RegHoursAlarm = 0x05;
    public const int RegDayOfWeek = 0x06;
    public const int RegDayOfMonth = 0x07;
    public const int RegMonth = 0x08;
    public const int RegYear = 0x09;
    public const int RegA = 0x0A;
    public const int RegB = 0x0B;
    public const int RegC = 0x0C;
    public const int RegD = 0x0D;

    public const byte AUip = 0x80;
    public const byte BSet = 0x80;
    public const byte BPie = 0x40;
    public const byte BAie = 0x20;
    public const byte BUie = 0x10;
    public const byte BBinary = 0x04;
    public const byte B24Hour = 0x02;
    public const byte CIrqf = 0x80;
    public const byte CPf = 0x40;
    public const byte CAf = 0x20;
    public const byte CUf = 0x10;

    /// <summary>Register A as SeaBIOS leaves it: 32.768 kHz time base running, 1024 Hz periodic rate.</summary>
    public const byte BiosRegA = 0x26;

    /// <summary>Register B as SeaBIOS leaves it: 24-hour BCD, no interrupts.</summary>
    public const byte BiosRegB = 0x02;

    private const long NsPerSecond = 1_000_000_000;

    /// <summary>UIP is set for the 244 µs before each update (MC146818A "Update Cycle"; QEMU's UIP_HOLD_LENGTH).</summary>
    private const long UipHoldNs = 244_141;

    // 32768 / 10⁹ reduced: divider ticks = ns · 64 / 1953125.
    private const long TickNum = 64;
    private const long TickDen = 1_953_125;

    public static readonly DateTime DefaultStart = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly VirtualClock _clock;
    private readonly InterruptRouter _irqs;
    private readonly Timer _timer;
    private readonly byte[] _cmos = new byte[128];
    private int _index;

    /// <summary>Seconds since the Unix epoch at second number <see cref="_secondBase"/> of the divider (frozen while it is stopped).</summary>
    private long _timeBase;
    private long _secondBase;
    private long _dividerStartNs;
    private int _dayOfWeekOffset;
    private long _lastSecond;
    private long _lastPeriodic;
    private bool _irqLevel;

    public CmosRtc(VirtualClock clock, InterruptRouter irqs, ulong ramBelow4G, ulong ramAbove4G,
        int cpuCount = 1, DateTime? start = null)
    {
        _clock = clock;
        _irqs = irqs;
        _timer = clock.CreateTimer(OnTimer);
        _cmos[RegA] = BiosRegA;
        _cmos[RegB] = BiosRegB;
        _cmos[RegD] = 0x80;
        // Equipment byte: FPU present, PS/2 mouse.
        _cmos[0x14] = 0x06;
        SetWord(0x15, (uint)Math.Min(ramBelow4G / 1024, 640));
        uint extended = ramBelow4G > 0x10_0000 ? (uint)Math.Min((ramBelow4G - 0x10_0000) / 1024, 0xFFFF) : 0;
        SetWord(0x17, extended);
        SetWord(0x30, extended);
        uint above16M = ramBelow4G > 0x100_0000 ? (uint)Math.Min((ramBelow4G - 0x100_0000) / 0x1_0000, 0xFFFF) : 0;
        SetWord(0x34, above16M);
        ulong above4G = ramAbove4G / 0x1_0000;
        _cmos[0x5B] = (byte)above4G;
        _cmos[0x5C] = (byte)(above4G >> 8);
        _cmos[0x5D] = (byte)(above4G >> 16);
        _cmos[0x5F] = (byte)(cpuCount - 1);
        DateTime s = start ?? DefaultStart;
        _timeBase = FloorDiv((s.ToUniversalTime() - DateTime.UnixEpoch).Ticks, TimeSpan.TicksPerSecond);
        long now = clock.Now;
        _secondBase = SecondIndex(now);
        _lastSecond = _secondBase;
        _lastPeriodic = PeriodicIndex(now);
    }

    public void Register(IoBus io) => io.Register(IndexPort, 2, this);

    /// <summary>Bit 7 of the last index written: NMI disabled.</summary>
    public bool NmiMasked { get; private set; }

    /// <summary>The RTC's current time as seconds since the Unix epoch (for tests and diagnostics).</summary>
    public long UnixTime => (_cmos[RegB] & BSet) != 0 ? ParseTime() : CurrentTime(_clock.Now);

    private void SetWord(int index, uint value)
    {
        _cmos[index] = (byte)value;
        _cmos[index + 1] = (byte)(value >> 8);
    }

    // ------------------------------------------------------------------ ports

    protected override byte ReadByte(ushort port)
    {
        if (port != DataPort)
        {
            // The index register is write-only (QEMU reads it as all ones).
            return 0xFF;
        }
        long now = _clock.Now;
        switch (_index)
        {
            case RegSeconds:
            case RegMinutes:
            case RegHours:
            case RegDayOfWeek:
            case RegDayOfMonth:
            case RegMonth:
            case RegYear:
            case CenturyRegister:
                if ((_cmos[RegB] & BSet) == 0)
                {
                    RenderTime(CurrentTime(now));
                }
                return _cmos[_index];
            case RegA:
                return (byte)(_cmos[RegA] | (UpdateInProgress(now) ? AUip : 0));
            case RegC:
            {
                // Reading C clears every flag and releases IRQ 8 (MC146818A "Register C").
                UpdateFlags(now);
                byte c = _cmos[RegC];
                _cmos[RegC] = 0;
                SetIrqLine(false);
                Rearm(now);
                return c;
            }
            case RegD:
                return 0x80;
            default:
                return _cmos[_index];
        }
    }

    protected override void WriteByte(ushort port, byte value)
    {
        if (port == IndexPort)
        {
            _index = value & 0x7F;
            NmiMasked = (value & 0x80) != 0;
            return;
        }
        if (port != DataPort)
        {
            return;
        }
        long now = _clock.Now;
        switch (_index)
        {
            case RegSeconds:
            case RegMinutes:
            case RegHours:
            case RegDayOfWeek:
            case RegDayOfMonth:
            case RegMonth:
            case RegYear:
            case CenturyRegister:
                if ((_cmos[RegB] & BSet) != 0)
                {
                    _cmos[_index] = value;
                    return;
                }
                // Setting one field while the clock runs: the others keep their values, the divider its phase.
                UpdateFlags(now);
                RenderTime(CurrentTime(now));
                _cmos[_index] = value;
                _timeBase = ParseTime();
                _secondBase = SecondIndex(now);
                _lastSecond = _secondBase;
                Rearm(now);
                return;
            case RegA:
                WriteRegisterA(value, now);
                return;
            case RegB:
                WriteRegisterB(value, now);
                return;
            case RegC:
            case RegD:
                return;
            default:
                _cmos[_index] = value;
                return;
        }
    }

    private void WriteRegisterA(byte value, long now)
    {
        UpdateFlags(now);
        bool wasRunning = DividerRunning;
        long time = CurrentTime(now);
        _cmos[RegA] = (byte)(value & 0x7F);
        if (wasRunning && !DividerRunning)
        {
            _timeBase = time;
        }
        else if (!wasRunning && DividerRunning)
        {
            // MC146818A "Divider Bits": leaving reset, the first update comes 500 ms later.
            _dividerStartNs = now - NsPerSecond / 2;
            _secondBase = SecondIndex(now);
            _lastSecond = _secondBase;
        }
        _lastPeriodic = PeriodicIndex(now);
        UpdateIrqf();
        Rearm(now);
    }

    private void WriteRegisterB(byte value, long now)
    {
        UpdateFlags(now);
        bool wasSet = (_cmos[RegB] & BSet) != 0;
        bool set = (value & BSet) != 0;
        if (!wasSet && set)
        {
            // SET stops updates (the registers keep the time they show) and clears UIE.
            RenderTime(CurrentTime(now));
            value &= unchecked((byte)~BUie);
        }
        _cmos[RegB] = value;
        if (wasSet && !set)
        {
            _timeBase = ParseTime();
            _secondBase = SecondIndex(now);
            _lastSecond = _secondBase;
        }
        UpdateIrqf();
        Rearm(now);
    }

    // ------------------------------------------------------------------ time base

    private bool DividerRunning => (_cmos[RegA] & 0x70) == 0x20;

    private long SecondIndex(long now) => FloorDiv(now - _dividerStartNs, NsPerSecond);

    private long DividerTicks(long now)
    {
        long q = Math.DivRem(now - _dividerStartNs, TickDen, out long r);
        return q * TickNum + r * TickNum / TickDen;
    }

    private long TimeOfDividerTick(long tick)
    {
        long q = Math.DivRem(tick, TickNum, out long r);
        return _dividerStartNs + q * TickDen + (r * TickDen + TickNum - 1) / TickNum;
    }

    /// <summary>Divider ticks (32.768 kHz) per periodic interrupt for rate select RS (MC146818A "Periodic Interrupt Rate"), 0 when off.</summary>
    private int PeriodTicks
    {
        get
        {
            int rs = _cmos[RegA] & 0x0F;
            return rs == 0 ? 0 : rs < 3 ? 1 << (rs + 6) : 1 << (rs - 1);
        }
    }

    private long PeriodicIndex(long now)
    {
        int period = PeriodTicks;
        return period == 0 ? 0 : DividerTicks(now) / period;
    }

    private long CurrentTime(long now) =>
        DividerRunning ? _timeBase + SecondIndex(now) - _secondBase : _timeBase;

    private bool UpdateInProgress(long now)
    {
        if (!DividerRunning || (_cmos[RegB] & BSet) != 0)
        {
            return false;
        }
        long phase = (now - _dividerStartNs) % NsPerSecond;
        return phase >= NsPerSecond - UipHoldNs;
    }

    // ------------------------------------------------------------------ flags and IRQ 8

    /// <summary>Accounts for periodic ticks and updates since the last look (MC146818A "Register C").</summary>
    private void UpdateFlags(long now)
    {
        if (!DividerRunning)
        {
            return;
        }
        if (PeriodTicks != 0)
        {
            long p = PeriodicIndex(now);
            if (p > _lastPeriodic)
            {
                _lastPeriodic = p;
                _cmos[RegC] |= CPf;
            }
        }
        if ((_cmos[RegB] & BSet) == 0)
        {
            long s = SecondIndex(now);
            if (s > _lastSecond)
            {
                _lastSecond = s;
                _cmos[RegC] |= CUf;
                if (AlarmMatches(CurrentTime(now)))
                {
                    _cmos[RegC] |= CAf;
                }
            }
        }
        UpdateIrqf();
    }

    /// <summary>IRQF = PF·PIE + AF·AIE + UF·UIE, and IRQ 8 follows it.</summary>
    private void UpdateIrqf()
    {
        int enabled = _cmos[RegC] & _cmos[RegB] & (CPf | CAf | CUf);
        if (enabled != 0)
        {
            _cmos[RegC] |= CIrqf;
            SetIrqLine(true);
        }
        else
        {
            _cmos[RegC] &= unchecked((byte)~CIrqf);
            SetIrqLine(false);
        }
    }

    private void SetIrqLine(bool level)
    {
        if (_irqLevel != level)
        {
            _irqLevel = level;
            _irqs.SetIsaIrq(Irq, level);
        }
    }

    private void Rearm(long now)
    {
        long next = long.MaxValue;
        if (DividerRunning)
        {
            byte b = _cmos[RegB];
            byte c = _cmos[RegC];
            int period = PeriodTicks;
            if ((b & BPie) != 0 && period != 0 && (c & CPf) == 0)
            {
                next = TimeOfDividerTick((PeriodicIndex(now) + 1) * period);
            }
            bool wantUpdate = ((b & BUie) != 0 && (c & CUf) == 0) || ((b & BAie) != 0 && (c & CAf) == 0);
            if ((b & BSet) == 0 && wantUpdate)
            {
                next = Math.Min(next, _dividerStartNs + (SecondIndex(now) + 1) * NsPerSecond);
            }
        }
        if (next == long.MaxValue)
        {
            _timer.Cancel();
        }
        else
        {
            _timer.Arm(next);
        }
    }

    private void OnTimer(long deadline)
    {
        long now = Math.Max(deadline, _clock.Now);
        UpdateFlags(now);
        Rearm(now);
    }

    /// <summary>Alarm bytes match the time's fields; a byte with bits 7–6 both set matches anything.</summary>
    private bool AlarmMatches(long time)
    {
        long secondOfDay = time - FloorDiv(time, 86_400) * 86_400;
        int h = (int)(secondOfDay / 3600);
        int m = (int)(secondOfDay / 60 % 60);
        int s = (int)(secondOfDay % 60);
        return AlarmField(_cmos[RegSecondsAlarm], Encode(s)) &&
            AlarmField(_cmos[RegMinutesAlarm], Encode(m)) &&
            AlarmField(_cmos[RegHoursAlarm], EncodeHour(h));
    }

    private static bool AlarmField(byte alarm, byte value) => (alarm & 0xC0) == 0xC0 || alarm == value;

    // ------------------------------------------------------------------ register formats

    private bool Binary => (_cmos[RegB] & BBinary) != 0;

    private byte Encode(int v) => Binary ? (byte)v : (byte)(((v / 10) << 4) | (v % 10));

    private int Decode(int v) => Binary ? v : (v >> 4) * 10 + (v & 0xF);

    private byte EncodeHour(int h)
    {
        if ((_cmos[RegB] & B24Hour) != 0)
        {
            return Encode(h);
        }
        int h12 = h % 12 == 0 ? 12 : h % 12;
        return (byte)(Encode(h12) | (h >= 12 ? 0x80 : 0));
    }

    private int DecodeHour(int raw)
    {
        if ((_cmos[RegB] & B24Hour) != 0)
        {
            return Decode(raw);
        }
        int h = Decode(raw & 0x7F) % 12;
        return (raw & 0x80) != 0 ? h + 12 : h;
    }

    private void RenderTime(long time)
    {
        long days = FloorDiv(time, 86_400);
        long secondOfDay = time - days * 86_400;
        CivilFromDays(days, out long year, out int month, out int day);
        _cmos[RegSeconds] = Encode((int)(secondOfDay % 60));
        _cmos[RegMinutes] = Encode((int)(secondOfDay / 60 % 60));
        _cmos[RegHours] = EncodeHour((int)(secondOfDay / 3600));
        _cmos[RegDayOfWeek] = (byte)(Mod(days + 4 + _dayOfWeekOffset, 7) + 1);
        _cmos[RegDayOfMonth] = Encode(day);
        _cmos[RegMonth] = Encode(month);
        _cmos[RegYear] = Encode((int)Mod(year, 100));
        _cmos[CenturyRegister] = Encode((int)Mod(FloorDiv(year, 100), 100));
    }

    /// <summary>The time the registers show; out-of-range fields carry over rather than fail.</summary>
    private long ParseTime()
    {
        long year = Decode(_cmos[CenturyRegister]) * 100L + Decode(_cmos[RegYear]);
        int month = Math.Clamp(Decode(_cmos[RegMonth]), 1, 12);
        int day = Math.Clamp(Decode(_cmos[RegDayOfMonth]), 1, 31);
        long days = DaysFromCivil(year, month, day);
        // Day of week is a separate counter on the MC146818: keep what the guest wrote.
        _dayOfWeekOffset = (int)Mod(_cmos[RegDayOfWeek] - 1 - (days + 4), 7);
        return days * 86_400 + DecodeHour(_cmos[RegHours]) * 3600L + Decode(_cmos[RegMinutes]) * 60L + Decode(_cmos[RegSeconds]);
    }

    private static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static long Mod(long a, long b) => a - FloorDiv(a, b) * b;

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").</summary>
    private static long DaysFromCivil(long y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        long era = FloorDiv(y, 400);
        long yoe = y - era * 400;
        long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146_097 + doe - 719_468;
    }

    private static void CivilFromDays(long z, out long year, out int month, out int day)
    {
        z += 719_468;
        long era = FloorDiv(z, 146_097);
        long doe = z - era * 146_097;
        long yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        day = (int)(doy - (153 * mp + 2) / 5 + 1);
        month = (int)(mp < 10 ? mp + 3 : mp - 9);
        year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    }
}
