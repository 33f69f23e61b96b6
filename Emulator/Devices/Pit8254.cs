using Emulator.Cpu.Bus;
using Emulator.Platform;
using Timer = Emulator.Platform.Timer;

namespace Emulator.Devices;

/// <summary>
/// The 8254 programmable interval timer at 0x40–0x43, clocked at 1.193182 MHz, as the Intel datasheet
/// ("8254 Programmable Interval Timer") describes it: three counters, modes 0–5, LSB/MSB/LSB-then-MSB
/// access, binary or BCD counting, the counter latch and read-back commands. Counter 0's OUT drives
/// IRQ 0; counter 2's GATE and OUT are bits 0 and 5 of port 0x61 (<see cref="SystemControlPort"/>).
/// </summary>
/// <remarks>
/// <para>Time is the <see cref="VirtualClock"/>: CLK pulse k happens at virtual nanosecond
/// ceil(k · 10⁹ / 1193182), counted from time 0, so counts never drift. A counter is a closed form
/// of the pulses since its count was loaded; nothing is stepped. A count written between pulses k and
/// k+1 is loaded on pulse k+1, which gives the datasheet's "N+1 CLK pulses after the count is written"
/// for modes 0 and 4.</para>
/// <para>Counter 0's rising OUT edges reach the interrupt router as pulses on IRQ 0, each at the
/// exact nanosecond of its CLK pulse through one <see cref="Timer"/>. Counters 0 and 1 have GATE tied
/// high, so modes 1 and 5 never trigger on them, as on a PC.</para>
/// <para>Power-on state is what SeaBIOS leaves: counter 0 in mode 2, LSB-then-MSB, binary, count 0
/// (65536: 18.2 Hz), counting from time 0; counters 1 and 2 in mode 3 with count 65536 (QEMU's reset
/// state), counter 2 held by its low GATE.</para>
/// </remarks>
internal sealed class Pit8254 : BytePortDevice
{
    public const ushort BasePort = 0x40;
    public const ushort ControlPort = 0x43;
    public const long FrequencyHz = 1_193_182;
    public const int Irq = 0;

    // 1193182 / 10⁹ reduced: pulses = ns · 596591 / 500000000.
    private const long RateNum = 596_591;
    private const long RateDen = 500_000_000;

    private readonly VirtualClock _clock;
    private readonly InterruptRouter _irqs;
    private readonly Channel[] _channels = [new(), new(), new()];
    private readonly Timer _timer;

    public Pit8254(VirtualClock clock, InterruptRouter irqs)
    {
        _clock = clock;
        _irqs = irqs;
        _timer = clock.CreateTimer(OnTimer);
        _channels[0].PowerOn(mode: 2, gate: true, running: true);
        _channels[1].PowerOn(mode: 3, gate: true, running: true);
        _channels[2].PowerOn(mode: 3, gate: false, running: false);
        Rearm(TicksAt(clock.Now));
    }

    public void Register(IoBus io) => io.Register(BasePort, 4, this);

    /// <summary>CLK pulses that have happened at or before <paramref name="ns"/>.</summary>
    internal static long TicksAt(long ns) => FixedRate.TicksAt(ns, RateNum, RateDen);

    /// <summary>The virtual nanosecond of CLK pulse <paramref name="tick"/>.</summary>
    internal static long TimeOfTick(long tick) => FixedRate.TimeOfTick(tick, RateNum, RateDen);

    /// <summary>OUT of counter <paramref name="channel"/> now.</summary>
    public bool Output(int channel) => _channels[channel].Out(TicksAt(_clock.Now));

    public bool Gate(int channel) => _channels[channel].Gate;

    /// <summary>Drives GATE of <paramref name="channel"/> (only counter 2's is wired, to port 0x61 bit 0).</summary>
    public void SetGate(int channel, bool level)
    {
        Channel c = _channels[channel];
        if (c.Gate == level)
        {
            return;
        }
        Change(channel, out long tick, out bool outBefore);
        c.SetGate(level, tick);
        Changed(channel, tick, outBefore);
    }

    // ------------------------------------------------------------------ ports

    protected override byte ReadByte(ushort port)
    {
        int index = port - BasePort;
        if ((uint)index >= 3)
        {
            // The control word register is write-only (QEMU reads it as 0).
            return index == 3 ? (byte)0 : (byte)0xFF;
        }
        return _channels[index].Read(TicksAt(_clock.Now));
    }

    protected override void WriteByte(ushort port, byte value)
    {
        int index = port - BasePort;
        if ((uint)index < 3)
        {
            Change(index, out long tick, out bool outBefore);
            _channels[index].Write(value, tick);
            Changed(index, tick, outBefore);
            return;
        }
        if (index != 3)
        {
            return;
        }
        int select = value >> 6;
        if (select == 3)
        {
            // Read-back command (8254 datasheet "Read-Back Command"): COUNT# is bit 5, STATUS# bit 4, CNT2–CNT0 bits 3–1.
            long now = TicksAt(_clock.Now);
            for (int i = 0; i < 3; i++)
            {
                if ((value & (2 << i)) == 0)
                {
                    continue;
                }
                if ((value & 0x20) == 0)
                {
                    _channels[i].LatchCount(now);
                }
                if ((value & 0x10) == 0)
                {
                    _channels[i].LatchStatus(now);
                }
            }
            return;
        }
        if ((value & 0x30) == 0)
        {
            // Counter latch command (8254 datasheet "Counter Latch Command").
            _channels[select].LatchCount(TicksAt(_clock.Now));
            return;
        }
        Change(select, out long t, out bool before);
        _channels[select].ControlWord(value, t);
        Changed(select, t, before);
    }

    // ------------------------------------------------------------------ counter 0 and IRQ 0

    /// <summary>
    /// Before counter <paramref name="channel"/> changes: an IRQ 0 edge whose CLK pulse has already passed
    /// (the vCPU runs ahead of timer delivery within a slice) is delivered first, so a reprogramming never
    /// swallows it.
    /// </summary>
    private void Change(int channel, out long tick, out bool outBefore)
    {
        long now = _clock.Now;
        tick = TicksAt(now);
        if (channel == 0 && _timer.Armed && _timer.Deadline <= now)
        {
            _timer.Cancel();
            _irqs.PulseIsaIrq(Irq);
        }
        outBefore = _channels[channel].Out(tick);
    }

    /// <summary>After a change: OUT 0 rising at once (e.g. mode 0 → mode 2) is an edge too; then re-arm.</summary>
    private void Changed(int channel, long tick, bool outBefore)
    {
        if (channel != 0)
        {
            return;
        }
        if (!outBefore && _channels[0].Out(tick))
        {
            _irqs.PulseIsaIrq(Irq);
        }
        Rearm(tick);
    }

    private void Rearm(long tick)
    {
        long next = _channels[0].NextRise(tick);
        if (next == long.MaxValue)
        {
            _timer.Cancel();
        }
        else
        {
            _timer.Arm(TimeOfTick(next));
        }
    }

    private void OnTimer(long deadline)
    {
        _irqs.PulseIsaIrq(Irq);
        // Edges that fell behind (the clock jumped past several) coalesce, as they would in the PIC's IRR.
        Rearm(TicksAt(Math.Max(deadline, _clock.Now)));
    }

    // ------------------------------------------------------------------ one counter

    private enum CounterState
    {
        /// <summary>After a control word (or a mode-0 first byte): no count, OUT at its initial level.</summary>
        Idle,

        /// <summary>Modes 1 and 5: count written, waiting for a GATE rising edge.</summary>
        WaitTrigger,

        Running,

        /// <summary>GATE low in modes 0, 2, 3, 4: counting suspended.</summary>
        Stopped,
    }

    private sealed class Channel
    {
        private int _mode;
        private int _modeBits;
        private int _access;
        private bool _bcd;
        private CounterState _state;

        /// <summary>The count register (last count written), 1..65536 (1..10000 in BCD).</summary>
        private int _cr;

        /// <summary>The count the counting element runs with and the pulse that loaded it.</summary>
        private int _n;
        private long _loadTick;

        /// <summary>A new count that takes over at <see cref="_pendingTick"/> (modes 2, 3), with its own load pulse.</summary>
        private long _pendingTick = long.MaxValue;
        private long _pendingLoadTick;

        /// <summary>Pulses counted when GATE stopped the counter.</summary>
        private long _frozenElapsed;

        /// <summary>What the counting element holds while no count is loaded (read back as is).</summary>
        private int _heldCe;

        private bool _writeMsbNext;
        private byte _writeLsb;
        private bool _readMsbNext;
        private bool _countLatched;
        private bool _latchMsbNext;
        private ushort _latchedCount;
        private bool _statusLatched;
        private byte _latchedStatus;

        public bool Gate { get; private set; }

        private int Modulus => _bcd ? 10_000 : 0x1_0000;

        public void PowerOn(int mode, bool gate, bool running)
        {
            _mode = mode;
            _modeBits = mode;
            _access = 3;
            Gate = gate;
            _cr = _n = 0x1_0000;
            _loadTick = 0;
            _state = running ? CounterState.Running : CounterState.Stopped;
        }

        private void Normalize(long tick)
        {
            if (tick >= _pendingTick)
            {
                _n = _cr;
                _loadTick = _pendingLoadTick;
                _pendingTick = long.MaxValue;
            }
        }

        // ------------------------------------------------ closed forms of one counting sequence

        /// <summary>OUT after <paramref name="e"/> pulses since the count <paramref name="n"/> was loaded (8254 datasheet "Mode Definitions").</summary>
        private static bool OutAfter(int mode, int n, long e)
        {
            if (e < 0)
            {
                return mode != 0;
            }
            return mode switch
            {
                0 or 1 => e >= n,
                2 => e % n != n - 1,
                3 => e % n < (n + 1) / 2,
                _ => e != n,
            };
        }

        /// <summary>The counting element after <paramref name="e"/> ≥ 0 pulses (mode 3 counts by twos; odd counts as the datasheet's Mode 3 text).</summary>
        private int CeAfter(int mode, int n, long e)
        {
            int m = Modulus;
            switch (mode)
            {
                case 2:
                    return (int)((n - e % n) % m);
                case 3:
                {
                    int p = (int)(e % n);
                    int high = (n + 1) / 2;
                    int ce;
                    if ((n & 1) == 0)
                    {
                        ce = p < high ? n - 2 * p : n - 2 * (p - high);
                    }
                    else if (p < high)
                    {
                        ce = p == 0 ? n : n + 1 - 2 * p;
                    }
                    else
                    {
                        int q = p - high;
                        ce = q == 0 ? n : n - 1 - 2 * q;
                    }
                    return ce % m;
                }
                default:
                {
                    long v = (n - e) % m;
                    return (int)(v < 0 ? v + m : v);
                }
            }
        }

        /// <summary>First pulse after <paramref name="t"/> at which OUT rises in a sequence loaded at <paramref name="load"/>.</summary>
        private static long RiseAfter(int mode, int n, long load, long t)
        {
            long e = t - load;
            switch (mode)
            {
                case 0:
                case 1:
                    return e < n ? load + n : long.MaxValue;
                case 2:
                case 3:
                    if (n == 1)
                    {
                        return long.MaxValue;
                    }
                    return load + (e < 0 ? 1 : e / n + 1) * n;
                default:
                    return e < n + 1 ? load + n + 1 : long.MaxValue;
            }
        }

        // ------------------------------------------------ observed state

        public bool Out(long tick)
        {
            Normalize(tick);
            return _state switch
            {
                CounterState.Idle => _mode != 0,
                CounterState.WaitTrigger => true,
                CounterState.Stopped => _mode is 2 or 3 || OutAfter(_mode, _n, _frozenElapsed),
                _ => OutAfter(_mode, _n, tick - _loadTick),
            };
        }

        private int Ce(long tick)
        {
            Normalize(tick);
            switch (_state)
            {
                case CounterState.Running:
                    long e = tick - _loadTick;
                    return e < 0 ? _heldCe : CeAfter(_mode, _n, e);
                case CounterState.Stopped:
                    return CeAfter(_mode, _n, _frozenElapsed);
                default:
                    return _heldCe;
            }
        }

        private ushort CeRegister(long tick)
        {
            int ce = Ce(tick);
            return _bcd ? ToBcd(ce) : (ushort)ce;
        }

        private bool NullCount(long tick)
        {
            Normalize(tick);
            return _state switch
            {
                CounterState.Running => tick < _loadTick || _pendingTick != long.MaxValue,
                CounterState.Stopped => false,
                _ => true,
            };
        }

        public long NextRise(long tick)
        {
            Normalize(tick);
            if (_state != CounterState.Running)
            {
                return long.MaxValue;
            }
            long rise = RiseAfter(_mode, _n, _loadTick, tick);
            if (_pendingTick == long.MaxValue || rise < _pendingTick)
            {
                return rise;
            }
            bool before = OutAfter(_mode, _n, _pendingTick - 1 - _loadTick);
            bool after = OutAfter(_mode, _cr, _pendingTick - _pendingLoadTick);
            return !before && after ? _pendingTick : RiseAfter(_mode, _cr, _pendingLoadTick, _pendingTick);
        }

        // ------------------------------------------------ commands

        public void ControlWord(byte value, long tick)
        {
            // 8254 datasheet "Control Word Format": writing it resets the counter's control logic and
            // puts OUT in the mode's initial state; no count is loaded until one is written.
            _heldCe = Ce(tick);
            _access = (value >> 4) & 3;
            _modeBits = (value >> 1) & 7;
            _mode = _modeBits > 5 ? _modeBits - 4 : _modeBits;
            _bcd = (value & 1) != 0;
            _state = CounterState.Idle;
            _pendingTick = long.MaxValue;
            _writeMsbNext = false;
            _readMsbNext = false;
            _countLatched = false;
            _statusLatched = false;
        }

        public void LatchCount(long tick)
        {
            // A second latch before the first is read is ignored.
            if (!_countLatched)
            {
                _countLatched = true;
                _latchMsbNext = false;
                _latchedCount = CeRegister(tick);
            }
        }

        public void LatchStatus(long tick)
        {
            if (!_statusLatched)
            {
                _statusLatched = true;
                _latchedStatus = (byte)((Out(tick) ? 0x80 : 0) | (NullCount(tick) ? 0x40 : 0) |
                    (_access << 4) | (_modeBits << 1) | (_bcd ? 1 : 0));
            }
        }

        public byte Read(long tick)
        {
            if (_statusLatched)
            {
                _statusLatched = false;
                return _latchedStatus;
            }
            if (_countLatched)
            {
                bool msb = _access == 2 || (_access == 3 && _latchMsbNext);
                if (_access == 3 && !_latchMsbNext)
                {
                    _latchMsbNext = true;
                }
                else
                {
                    _countLatched = false;
                }
                return (byte)(msb ? _latchedCount >> 8 : _latchedCount);
            }
            ushort ce = CeRegister(tick);
            bool high = _access == 2 || (_access == 3 && _readMsbNext);
            if (_access == 3)
            {
                _readMsbNext = !_readMsbNext;
            }
            return (byte)(high ? ce >> 8 : ce);
        }

        public void Write(byte value, long tick)
        {
            switch (_access)
            {
                case 1:
                    LoadCount(value, tick);
                    break;
                case 2:
                    LoadCount(value << 8, tick);
                    break;
                case 3:
                    if (!_writeMsbNext)
                    {
                        _writeMsbNext = true;
                        _writeLsb = value;
                        if (_mode == 0)
                        {
                            // Mode 0: writing the first byte stops counting and sets OUT low at once.
                            _heldCe = Ce(tick);
                            _state = CounterState.Idle;
                            _pendingTick = long.MaxValue;
                        }
                    }
                    else
                    {
                        _writeMsbNext = false;
                        LoadCount(_writeLsb | (value << 8), tick);
                    }
                    break;
            }
        }

        /// <summary>A complete count written to the count register; when the counting element takes it depends on the mode.</summary>
        private void LoadCount(int raw, long tick)
        {
            int n = _bcd ? FromBcd(raw) : raw;
            if (n == 0)
            {
                n = Modulus;
            }
            Normalize(tick);
            _cr = n;
            switch (_mode)
            {
                case 0:
                case 4:
                    // Loaded on the next CLK pulse and counting restarts from it (GATE low: loaded, not counting).
                    _heldCe = Ce(tick);
                    _n = n;
                    _pendingTick = long.MaxValue;
                    _loadTick = tick + 1;
                    _frozenElapsed = 0;
                    _state = Gate ? CounterState.Running : CounterState.Stopped;
                    break;
                case 1:
                case 5:
                    // Taken at the next trigger; a running one-shot is not disturbed.
                    if (_state == CounterState.Idle)
                    {
                        _state = CounterState.WaitTrigger;
                    }
                    break;
                default:
                    if (_state == CounterState.Running && tick >= _loadTick)
                    {
                        ScheduleReload(tick);
                    }
                    else if (_state == CounterState.Running)
                    {
                        _n = n;
                    }
                    else
                    {
                        _heldCe = Ce(tick);
                        _n = n;
                        _pendingTick = long.MaxValue;
                        _loadTick = tick + 1;
                        _frozenElapsed = 0;
                        _state = Gate ? CounterState.Running : CounterState.Stopped;
                    }
                    break;
            }
        }

        /// <summary>
        /// Modes 2 and 3: a new count does not disturb the current sequence; it is loaded at the end of the
        /// current period (mode 2) or half-cycle (mode 3). A mode-3 count that starts on a low half-cycle
        /// is placed so that its own low half begins there.
        /// </summary>
        private void ScheduleReload(long tick)
        {
            long e = tick - _loadTick;
            long periodStart = _loadTick + e - e % _n;
            if (_mode == 2)
            {
                _pendingTick = periodStart + _n;
                _pendingLoadTick = _pendingTick;
                return;
            }
            int high = (_n + 1) / 2;
            if (e % _n < high)
            {
                _pendingTick = periodStart + high;
                _pendingLoadTick = _pendingTick - (_cr + 1) / 2;
            }
            else
            {
                _pendingTick = periodStart + _n;
                _pendingLoadTick = _pendingTick;
            }
        }

        public void SetGate(bool level, long tick)
        {
            Normalize(tick);
            Gate = level;
            if (level)
            {
                switch (_mode)
                {
                    case 0:
                    case 4:
                        if (_state == CounterState.Stopped)
                        {
                            // Counting resumes with the next pulse from where it stopped; a count written
                            // while GATE was low is still loaded on its own pulse, which does not count.
                            _loadTick = tick < _loadTick ? _loadTick : tick - _frozenElapsed;
                            _state = CounterState.Running;
                        }
                        break;
                    default:
                        // Modes 1, 5 (trigger) and 2, 3 (restart): the count register is loaded on the next pulse.
                        if (_state != CounterState.Idle)
                        {
                            _heldCe = Ce(tick);
                            _n = _cr;
                            _loadTick = tick + 1;
                            _pendingTick = long.MaxValue;
                            _state = CounterState.Running;
                        }
                        break;
                }
                return;
            }
            if (_state == CounterState.Running && _mode is 0 or 2 or 3 or 4)
            {
                // GATE low suspends counting; in modes 2 and 3 it also forces OUT high.
                _frozenElapsed = Math.Max(0, tick - _loadTick);
                _pendingTick = long.MaxValue;
                _state = CounterState.Stopped;
            }
        }

        private static int FromBcd(int raw) =>
            ((raw >> 12) & 0xF) * 1000 + ((raw >> 8) & 0xF) * 100 + ((raw >> 4) & 0xF) * 10 + (raw & 0xF);

        private static ushort ToBcd(int v) =>
            (ushort)(((v / 1000 % 10) << 12) | ((v / 100 % 10) << 8) | ((v / 10 % 10) << 4) | (v % 10));
    }
}
