using Emulator.Cpu.Bus;
using Emulator.Platform;
using Timer = Emulator.Platform.Timer;

namespace Emulator.Devices;

/// <summary>
/// The ACPI fixed hardware of QEMU's PIIX4 power-management function, at the I/O addresses QEMU's FADT
/// gives it: the PM1a event block (status and enable, 0x600), the PM1a control block (0x604), the power
/// management timer (0x608), the APM control/status ports that switch ACPI mode (0xB2/0xB3), and the
/// PIIX reset control register (0xCF9). Register layouts are the ACPI specification's
/// ("ACPI Hardware Specification": "PM1 Event Grouping", "PM1 Control Grouping", "Power Management Timer").
/// </summary>
/// <remarks>
/// <para>The PM timer is a 24-bit counter (FADT TMR_VAL_EXT clear) at 3.579545 MHz: tick k happens at
/// virtual nanosecond ceil(k · 10⁹ / 3579545) from time 0. TMR_STS is set each time bit 23 changes.
/// The SCI (ISA IRQ 9, level, active high) is asserted while SCI_EN is set and an enabled status bit
/// is set, as the spec routes fixed events to SCI only in ACPI mode.</para>
/// <para>S5 (SLP_TYP = <see cref="SlpTypS5"/>, QEMU's value) with SLP_EN calls the power-off callback;
/// other sleep states are not implemented and the write has no effect. A write with bit 2 (RST_CPU) set
/// to 0xCF9 calls the reset callback, as QEMU's PIIX does.</para>
/// </remarks>
internal sealed class AcpiPm : BytePortDevice
{
    /// <summary>FADT PM1a_EVT_BLK and PM1_EVT_LEN: status word at +0, enable word at +2.</summary>
    public const ushort Pm1aEventBlock = 0x600;
    public const byte Pm1EventLength = 4;

    /// <summary>FADT PM1a_CNT_BLK and PM1_CNT_LEN.</summary>
    public const ushort Pm1aControlBlock = 0x604;
    public const byte Pm1ControlLength = 2;

    /// <summary>FADT PM_TMR_BLK and PM_TMR_LEN (FADT flags TMR_VAL_EXT = 0: 24-bit).</summary>
    public const ushort PmTimerBlock = 0x608;
    public const byte PmTimerLength = 4;

    /// <summary>FADT RESET_REG (System I/O, 8 bits wide) and RESET_VALUE; set RESET_REG_SUP in the FADT flags.</summary>
    public const ushort ResetRegister = 0xCF9;
    public const byte ResetValue = 0x06;

    /// <summary>FADT SCI_INT: ISA IRQ 9 (the MADT overrides it as level, active high, as QEMU's does).</summary>
    public const int SciIrq = 9;

    /// <summary>FADT SMI_CMD, ACPI_ENABLE and ACPI_DISABLE: writing these to the APM control port toggles SCI_EN.</summary>
    public const ushort SmiCommandPort = 0xB2;
    public const byte AcpiEnable = 0xF1;
    public const byte AcpiDisable = 0xF0;

    /// <summary>The SLP_TYPa value of \_S5 in the DSDT (QEMU's PIIX4 value).</summary>
    public const int SlpTypS5 = 0;

    public const long TimerFrequencyHz = 3_579_545;

    public const ushort TmrSts = 1 << 0;
    public const ushort BmSts = 1 << 4;
    public const ushort GblSts = 1 << 5;
    public const ushort PwrBtnSts = 1 << 8;
    public const ushort SlpBtnSts = 1 << 9;
    public const ushort RtcSts = 1 << 10;
    public const ushort WakSts = 1 << 15;

    public const ushort TmrEn = 1 << 0;
    public const ushort GblEn = 1 << 5;
    public const ushort PwrBtnEn = 1 << 8;
    public const ushort SlpBtnEn = 1 << 9;
    public const ushort RtcEn = 1 << 10;

    public const ushort SciEn = 1 << 0;
    public const ushort BmRld = 1 << 1;
    public const ushort GblRls = 1 << 2;
    public const ushort SlpEn = 1 << 13;

    private const ushort SciEvents = TmrSts | GblSts | PwrBtnSts | SlpBtnSts | RtcSts;
    private const int TimerCarryBit = 23;

    // 3579545 / 10⁹ reduced: ticks = ns · 715909 / 200000000.
    private const long RateNum = 715_909;
    private const long RateDen = 200_000_000;

    private readonly VirtualClock _clock;
    private readonly InterruptRouter _irqs;
    private readonly Action _poweroff;
    private readonly Action _reset;
    private readonly Timer _timer;

    private ushort _status;
    private ushort _enable;
    private ushort _control;
    private long _lastCarry;
    private bool _sci;
    private byte _apmControl;
    private byte _apmStatus;
    private byte _resetControl;

    public AcpiPm(VirtualClock clock, InterruptRouter irqs, Action poweroff, Action reset)
    {
        _clock = clock;
        _irqs = irqs;
        _poweroff = poweroff;
        _reset = reset;
        _timer = clock.CreateTimer(OnTimer);
        _lastCarry = TicksAt(clock.Now) >> TimerCarryBit;
    }

    public void Register(IoBus io)
    {
        io.Register(Pm1aEventBlock, PmTimerBlock + PmTimerLength - Pm1aEventBlock, this);
        io.Register(SmiCommandPort, 2, this);
        io.Register(ResetRegister, 1, this);
    }

    /// <summary>PM timer ticks at or before <paramref name="ns"/>.</summary>
    internal static long TicksAt(long ns) => FixedRate.TicksAt(ns, RateNum, RateDen);

    /// <summary>The virtual nanosecond of PM timer tick <paramref name="tick"/>.</summary>
    internal static long TimeOfTick(long tick) => FixedRate.TimeOfTick(tick, RateNum, RateDen);

    /// <summary>The 24-bit PM timer value now.</summary>
    public uint TimerValue => (uint)(TicksAt(_clock.Now) & 0xFF_FFFF);

    // ------------------------------------------------------------------ ports

    /// <summary>
    /// A 32-bit read of the PM timer samples the counter once: four byte samples could tear across a carry
    /// when time moves between them (with the host clock it does).
    /// </summary>
    public override uint In(ushort port, int size) =>
        port == PmTimerBlock && size == 4 ? TimerValue : base.In(port, size);

    protected override byte ReadByte(ushort port)
    {
        int offset = port - Pm1aEventBlock;
        switch (offset)
        {
            case 0:
            case 1:
                UpdateTimerStatus(_clock.Now);
                return (byte)(_status >> (8 * offset));
            case 2:
            case 3:
                return (byte)(_enable >> (8 * (offset - 2)));
            case 4:
            case 5:
                // SLP_EN and GBL_RLS are write-only and read as zero.
                return (byte)(_control >> (8 * (offset - 4)));
            case 8:
            case 9:
            case 10:
            case 11:
                return (byte)(TimerValue >> (8 * (offset - 8)));
        }
        return port switch
        {
            SmiCommandPort => _apmControl,
            SmiCommandPort + 1 => _apmStatus,
            ResetRegister => _resetControl,
            _ => (byte)(offset is 6 or 7 ? 0 : 0xFF),
        };
    }

    protected override void WriteByte(ushort port, byte value)
    {
        long now = _clock.Now;
        int offset = port - Pm1aEventBlock;
        switch (offset)
        {
            case 0:
            case 1:
                // Status bits are cleared by writing ones.
                UpdateTimerStatus(now);
                _status &= (ushort)~(value << (8 * offset));
                break;
            case 2:
            case 3:
                UpdateTimerStatus(now);
                _enable = Merge(_enable, offset - 2, value);
                break;
            case 4:
                UpdateTimerStatus(now);
                _control = (ushort)((_control & 0xFF00) | (value & ~GblRls & 0xFF));
                break;
            case 5:
                _control = (ushort)((_control & 0x00FF) | ((value << 8) & ~SlpEn));
                if ((value << 8 & SlpEn) != 0)
                {
                    Sleep((_control >> 10) & 7);
                }
                return;
            default:
                WriteOther(port, value, now);
                return;
        }
        UpdateSci();
        Rearm(now);
    }

    private void WriteOther(ushort port, byte value, long now)
    {
        switch (port)
        {
            case SmiCommandPort:
                // QEMU's PIIX4 handles the ACPI mode switch itself (ACPI spec "Legacy/ACPI Select and the SCI Interrupt").
                _apmControl = value;
                if (value == AcpiEnable || value == AcpiDisable)
                {
                    UpdateTimerStatus(now);
                    _control = value == AcpiEnable ? (ushort)(_control | SciEn) : (ushort)(_control & ~SciEn);
                    UpdateSci();
                    Rearm(now);
                }
                break;
            case SmiCommandPort + 1:
                _apmStatus = value;
                break;
            case ResetRegister:
                if ((value & 0x04) != 0)
                {
                    _reset();
                    return;
                }
                _resetControl = (byte)(value & 0x02);
                break;
        }
    }

    private void Sleep(int slpTyp)
    {
        if (slpTyp == SlpTypS5)
        {
            _poweroff();
        }
    }

    private static ushort Merge(ushort word, int byteIndex, byte value) =>
        byteIndex == 0 ? (ushort)((word & 0xFF00) | value) : (ushort)((word & 0x00FF) | (value << 8));

    // ------------------------------------------------------------------ TMR_STS and SCI

    /// <summary>TMR_STS: set whenever bit 23 of the counter changes (ACPI "PM1 Status Registers").</summary>
    private void UpdateTimerStatus(long now)
    {
        long carry = TicksAt(now) >> TimerCarryBit;
        if (carry > _lastCarry)
        {
            _lastCarry = carry;
            _status |= TmrSts;
        }
    }

    private void UpdateSci()
    {
        bool level = (_control & SciEn) != 0 && (_status & _enable & SciEvents) != 0;
        if (level != _sci)
        {
            _sci = level;
            _irqs.SetIsaIrq(SciIrq, level);
        }
    }

    /// <summary>Arms the timer for the next bit-23 change only when it would raise the SCI.</summary>
    private void Rearm(long now)
    {
        if ((_enable & TmrEn) != 0 && (_control & SciEn) != 0 && (_status & TmrSts) == 0)
        {
            _timer.Arm(TimeOfTick(((TicksAt(now) >> TimerCarryBit) + 1) << TimerCarryBit));
        }
        else
        {
            _timer.Cancel();
        }
    }

    private void OnTimer(long deadline)
    {
        long now = Math.Max(deadline, _clock.Now);
        UpdateTimerStatus(now);
        UpdateSci();
        Rearm(now);
    }
}
