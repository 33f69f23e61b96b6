using System.Numerics;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Platform;

namespace Emulator.Devices.Apic;

/// <summary>
/// One vCPU's local APIC (SDM Vol. 3A chapter 12 "Advanced Programmable Interrupt Controller (APIC)"):
/// priorities, IRR/ISR/TMR, EOI, the local vector table, the timer (LocalApic.Timer.cs), the ICR, and the
/// x2APIC MSR interface (LocalApic.X2Apic.cs). It is the vCPU's <see cref="IInterruptSource"/>; the xAPIC page
/// is reached through <see cref="ApicMmio"/>, other APICs and the I/O APIC through the <see cref="ApicBus"/>.
/// The TPR is the vCPU's <see cref="Vcpu.ApicTpr"/>, the storage CR8 shares; IA32_APIC_BASE is the vCPU's MSR,
/// which reports its changes here (<see cref="IApicBaseObserver"/>).
/// </summary>
internal sealed partial class LocalApic : IInterruptSource, IMsrDevice, IApicBaseObserver
{
    public const ulong DefaultBase = 0xFEE0_0000;

    internal const ulong BaseBsp = 1UL << 8;
    internal const ulong BaseExtd = 1UL << 10;
    internal const ulong BaseEnable = 1UL << 11;

    /// <summary>
    /// Version register (SDM Vol. 3A §12.4.8 "Local APIC Version Register"): integrated APIC version 0x14, max LVT
    /// entry 5 (timer, thermal, performance, LINT0, LINT1, error: no CMCI entry, as IA32_MCG_CAP[10] is 0), and
    /// bit 24: EOI-broadcast suppression is supported.
    /// </summary>
    internal const uint VersionValue = 0x14 | (5 << 16) | (1 << 24);

    internal const uint SvrEnable = 1 << 8;
    internal const uint SvrSuppressEoiBroadcast = 1 << 12;

    /// <summary>SVR bits software may set: vector, APIC software enable, focus processor checking, EOI-broadcast suppression.</summary>
    private const uint SvrWritable = 0xFF | SvrEnable | (1 << 9) | SvrSuppressEoiBroadcast;

    /// <summary>xAPIC ICR low bits software may set: vector, delivery mode, destination mode, level, trigger mode, shorthand.</summary>
    private const uint IcrWritable = 0xFFF | (1 << 14) | (1 << 15) | (3 << 18);

    internal const uint LvtMasked = 1 << 16;
    private const uint LvtDeliveryStatus = 1 << 12;
    private const uint LvtRemoteIrr = 1 << 14;
    private const uint LvtLevelTriggered = 1 << 15;

    internal const int LvtTimer = 0;
    internal const int LvtThermal = 1;
    internal const int LvtPerf = 2;
    internal const int LvtLint0 = 3;
    internal const int LvtLint1 = 4;
    internal const int LvtError = 5;

    /// <summary>Writable bits of each LVT entry (SDM Vol. 3A §12.5.1 figure "Local Vector Table (LVT)").</summary>
    private static ReadOnlySpan<uint> LvtWritable =>
    [
        0xFF | LvtMasked | (3 << 17), // timer: vector, mask, timer mode (bit 18 = TSC-deadline)
        0x7FF | LvtMasked, // thermal: vector, delivery mode, mask
        0x7FF | LvtMasked, // performance counters
        0x7FF | (1 << 13) | LvtLevelTriggered | LvtMasked, // LINT0: + polarity, trigger mode
        0x7FF | (1 << 13) | LvtLevelTriggered | LvtMasked, // LINT1
        0xFF | LvtMasked, // error: vector, mask
    ];

    private readonly Vcpu _vcpu;
    private readonly VirtualClock _clock;
    private readonly ApicBus _bus;
    private readonly IExtIntSource? _extInt;

    private byte _xapicId;
    private uint _ldr;
    private uint _dfr;
    private uint _svr;
    private readonly uint[] _irr = new uint[8];
    private readonly uint[] _isr = new uint[8];
    private readonly uint[] _tmr = new uint[8];

    /// <summary>ESR as software reads it: the errors latched by the last ESR write.</summary>
    private uint _esr;

    /// <summary>Errors detected since the last ESR write.</summary>
    private uint _esrPending;

    private uint _icrLow;

    /// <summary>ICR bits 63:32: the destination in bits 31:24 (xAPIC) or all 32 bits (x2APIC).</summary>
    private uint _icrHigh;

    private readonly uint[] _lvt = new uint[6];
    private bool _lint0Level;
    private bool _lint1Level;

    /// <summary>An ExtINT message from the I/O APIC waits for its INTA cycle at the 8259.</summary>
    private bool _extIntMessage;

    /// <param name="vcpu">The processor this APIC belongs to; the APIC registers itself as its IA32_APIC_BASE observer.</param>
    /// <param name="apicId">Initial APIC id (the vCPU index): the x2APIC id, and the xAPIC id after reset.</param>
    /// <param name="extInt">The 8259's INTR output as LINT0 sees it (the BSP's APIC only).</param>
    public LocalApic(Vcpu vcpu, int apicId, VirtualClock clock, ApicBus bus, IExtIntSource? extInt = null)
    {
        _vcpu = vcpu;
        ApicId = apicId;
        _clock = clock;
        _bus = bus;
        _extInt = extInt;
        _timer = clock.CreateTimer(OnTimerExpired);
        ResetRegisters(resetId: true);
        vcpu.ApicBaseObserver = this;
        bus.Register(this);
    }

    public Vcpu Vcpu => _vcpu;

    /// <summary>Initial APIC id: the x2APIC id; the xAPIC id register starts with it.</summary>
    public int ApicId { get; }

    private ulong ApicBase => _vcpu.State.ApicBase;

    /// <summary>IA32_APIC_BASE.EN: the APIC is globally enabled.</summary>
    public bool HardwareEnabled => (ApicBase & BaseEnable) != 0;

    /// <summary>IA32_APIC_BASE.EN and EXTD: x2APIC mode.</summary>
    public bool X2ApicMode => (ApicBase & (BaseEnable | BaseExtd)) == (BaseEnable | BaseExtd);

    /// <summary>SVR bit 8.</summary>
    public bool SoftwareEnabled => (_svr & SvrEnable) != 0;

    /// <summary>The xAPIC id register's bits 31:24 (software may change it in xAPIC mode).</summary>
    internal byte XapicId => _xapicId;

    /// <summary>xAPIC logical id, LDR[31:24].</summary>
    internal uint XapicLogicalId => _ldr >> 24;

    /// <summary>DFR model: flat (1111b) or cluster (0000b).</summary>
    internal bool FlatModel => (_dfr >> 28) == 0xF;

    /// <summary>The x2APIC LDR, derived from the x2APIC id (SDM Vol. 3A §12.12.10.2 "Deriving Logical x2APIC ID from the Local x2APIC ID").</summary>
    internal uint X2ApicLdr => (((uint)ApicId >> 4) << 16) | (1u << (ApicId & 0xF));

    /// <summary>
    /// Power-on reset of the APIC's registers (SDM Vol. 3A §12.4.7.1 "Local APIC State After Power-Up or Reset");
    /// the vCPU's own <see cref="Vcpu.Reset"/> restores IA32_APIC_BASE.
    /// </summary>
    public void Reset() => ResetRegisters(resetId: true);

    /// <summary>
    /// The state QEMU's BIOS leaves the bootstrap processor's APIC in before a kernel runs: software-enabled
    /// with spurious vector 0xFF, LINT0 in ExtINT mode so that the 8259 reaches the processor ("virtual wire"),
    /// LINT1 delivering NMI (SDM Vol. 3A §12.5.1 "Local Vector Table").
    /// </summary>
    public void EnterVirtualWireMode()
    {
        _svr = SvrEnable | 0xFF;
        _lvt[LvtLint0] = (DeliveryMode.ExtInt << 8) | LvtLevelTriggered;
        _lvt[LvtLint1] = DeliveryMode.Nmi << 8;
        NotifyIfPending();
    }

    /// <summary>
    /// Reset state of the registers; <paramref name="resetId"/> false for INIT, which keeps the APIC id
    /// (SDM Vol. 3A §12.4.7.3 "Local APIC State After an INIT Reset ("Wait-for-SIPI" State)").
    /// </summary>
    private void ResetRegisters(bool resetId)
    {
        if (resetId)
        {
            _xapicId = (byte)ApicId;
        }
        _vcpu.ApicTpr = 0;
        _ldr = 0;
        _dfr = 0xFFFF_FFFF;
        _svr = 0xFF;
        Array.Clear(_irr);
        Array.Clear(_isr);
        Array.Clear(_tmr);
        _esr = 0;
        _esrPending = 0;
        _icrLow = 0;
        _icrHigh = 0;
        for (int i = 0; i < _lvt.Length; i++)
        {
            _lvt[i] = LvtMasked;
        }
        _extIntMessage = false;
        ResetTimer();
    }

    // ------------------------------------------------------------------ IA32_APIC_BASE

    /// <summary>
    /// IA32_APIC_BASE changed (the CPU has checked the transition, SDM Vol. 3A §12.12.5 "x2APIC State Transitions"):
    /// a global disable puts the APIC in its reset state, which it keeps when re-enabled (SVR bit 8 clear);
    /// entering x2APIC mode loses the xAPIC id, the LDR and ICR[63:32]; a new base address gets an MMIO window.
    /// </summary>
    public void ApicBaseChanged(ulong oldValue, ulong newValue)
    {
        bool wasEnabled = (oldValue & BaseEnable) != 0;
        bool enabled = (newValue & BaseEnable) != 0;
        if (wasEnabled && !enabled)
        {
            // SDM Vol. 3A §12.4.3 "Enabling or Disabling the Local APIC": the APIC may return to its power-up state.
            ResetRegisters(resetId: true);
        }
        else if ((oldValue & BaseExtd) == 0 && (newValue & BaseExtd) != 0)
        {
            // SDM Vol. 3A §12.12.5.1 "x2APIC States", "State Changes From xAPIC Mode to x2APIC Mode".
            _icrHigh = 0;
        }
        ulong page = newValue & ~0xFFFUL;
        if (enabled && page != (oldValue & ~0xFFFUL))
        {
            _bus.EnsureMmio(page);
        }
        NotifyIfPending();
    }

    /// <summary>The xAPIC page at <paramref name="pageBase"/> is this APIC's: enabled, in xAPIC mode, based there.</summary>
    internal bool MmioEnabledAt(ulong pageBase) =>
        (ApicBase & (BaseEnable | BaseExtd)) == BaseEnable && (ApicBase & ~0xFFFUL) == pageBase;

    // ------------------------------------------------------------------ priorities

    private static int Highest(uint[] bits)
    {
        for (int i = 7; i >= 0; i--)
        {
            uint w = bits[i];
            if (w != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(w);
            }
        }
        return -1;
    }

    private static bool Test(uint[] bits, int vector) => (bits[vector >> 5] & (1u << vector)) != 0;

    private static void Set(uint[] bits, int vector) => bits[vector >> 5] |= 1u << vector;

    private static void Clear(uint[] bits, int vector) => bits[vector >> 5] &= ~(1u << vector);

    /// <summary>Highest vector requested (IRR), -1 if none.</summary>
    internal int HighestIrr => Highest(_irr);

    /// <summary>Highest vector in service (ISR), -1 if none.</summary>
    internal int HighestIsr => Highest(_isr);

    /// <summary>
    /// Processor priority (SDM Vol. 3A §12.8.3.1 "Task and Processor Priorities"): the TPR if its class is at
    /// least the highest in-service class, else that class.
    /// </summary>
    internal int Ppr
    {
        get
        {
            int tpr = _vcpu.ApicTpr;
            int isrv = Highest(_isr);
            int isrClass = isrv < 0 ? 0 : isrv & 0xF0;
            return (tpr & 0xF0) >= isrClass ? tpr : isrClass;
        }
    }

    /// <summary>
    /// Arbitration priority (SDM Vol. 3A §12.6.2.4 figure "Arbitration Priority Register (APR)"): TPR if its
    /// class is at least the highest requested class and above the highest in-service class, else
    /// max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]) as a class.
    /// </summary>
    internal int Apr
    {
        get
        {
            int tpr = _vcpu.ApicTpr;
            int irrv = Highest(_irr);
            int isrv = Highest(_isr);
            int tprClass = tpr >> 4;
            int irrClass = irrv < 0 ? 0 : irrv >> 4;
            int isrClass = isrv < 0 ? 0 : isrv >> 4;
            if (tprClass >= irrClass && tprClass > isrClass)
            {
                return tpr;
            }
            return Math.Max(tprClass & isrClass, irrClass) << 4;
        }
    }

    /// <summary>The highest requested vector's class is above the processor-priority class (SDM Vol. 3A §12.8.3.1).</summary>
    private bool IrrDeliverable()
    {
        int v = Highest(_irr);
        return v >= 0 && (v & 0xF0) > (Ppr & 0xF0);
    }

    /// <summary>The 8259's INTR reaches the processor: LINT0 in unmasked ExtINT mode, or an I/O APIC ExtINT message.</summary>
    private bool ExtIntPending
    {
        get
        {
            if (_extInt is not { IntrPending: true })
            {
                return false;
            }
            uint lint0 = _lvt[LvtLint0];
            return _extIntMessage || ((lint0 & LvtMasked) == 0 && ((lint0 >> 8) & 7) == DeliveryMode.ExtInt);
        }
    }

    /// <summary>
    /// An interrupt awaits the processor: a requested vector above the processor priority, or the 8259 through
    /// ExtINT (which ignores priorities). A globally disabled APIC passes the 8259's INTR straight through.
    /// </summary>
    public bool HasPending
    {
        get
        {
            if (!HardwareEnabled)
            {
                return _extInt is { IntrPending: true };
            }
            return ExtIntPending || IrrDeliverable();
        }
    }

    /// <summary>
    /// INTA: an ExtINT is acknowledged at the 8259, which supplies the vector; otherwise the highest requested
    /// vector moves from IRR to ISR. If the request went away (the TPR was raised in between), the spurious
    /// vector (SDM Vol. 3A §12.9 "Spurious Interrupt").
    /// </summary>
    public int Acknowledge()
    {
        if (!HardwareEnabled)
        {
            return _extInt is { IntrPending: true } ? _extInt.AcknowledgeIntr() : -1;
        }
        if (ExtIntPending)
        {
            _extIntMessage = false;
            return _extInt!.AcknowledgeIntr();
        }
        int v = Highest(_irr);
        if (v < 0 || (v & 0xF0) <= (Ppr & 0xF0))
        {
            return (int)(_svr & 0xFF);
        }
        Clear(_irr, v);
        Set(_isr, v);
        return v;
    }

    private void NotifyIfPending()
    {
        if (HasPending)
        {
            _vcpu.Notify();
        }
    }

    /// <summary>The 8259's INTR output changed (the BSP's APIC): wake the vCPU if it now has an interrupt.</summary>
    public void ExtIntChanged() => NotifyIfPending();

    private void SetTpr(byte value)
    {
        _vcpu.ApicTpr = value;
        NotifyIfPending();
    }

    // ------------------------------------------------------------------ acceptance, EOI, errors

    /// <summary>
    /// Accepts an interrupt message from the bus (an IPI or an I/O APIC message; SDM Vol. 3A §12.6.1 "Sending
    /// Interprocessor Interrupts (IPIs)" and §12.8.1 "Interrupt Handling with the Pentium 4 and Intel Xeon
    /// Processors"). Returns whether the APIC took it.
    /// </summary>
    internal bool Accept(int mode, int vector, bool levelTriggered, bool assert)
    {
        switch (mode)
        {
            case DeliveryMode.Fixed:
            case DeliveryMode.LowestPriority:
                // A level-triggered de-assert message carries no interrupt; a software-disabled APIC takes none.
                if ((levelTriggered && !assert) || !SoftwareEnabled)
                {
                    return false;
                }
                return AcceptVector(vector, levelTriggered);
            case DeliveryMode.Smi:
                return true;
            case DeliveryMode.Nmi:
                _vcpu.NmiPending = true;
                _vcpu.Notify();
                return true;
            case DeliveryMode.Init:
                // INIT level de-assert only synchronises arbitration ids (SDM Vol. 3A §12.6.1, "INIT Level De-assert").
                if (levelTriggered && !assert)
                {
                    return false;
                }
                ResetRegisters(resetId: false);
                _vcpu.DeliverInit();
                return true;
            case DeliveryMode.StartUp:
                _vcpu.DeliverSipi(vector);
                return true;
            case DeliveryMode.ExtInt:
                _extIntMessage = true;
                NotifyIfPending();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Sets the IRR bit and the TMR bit for the trigger mode; vectors 0–15 are illegal (ESR bit 6).</summary>
    private bool AcceptVector(int vector, bool levelTriggered)
    {
        if (vector < 16)
        {
            RaiseError(ApicError.ReceiveIllegalVector);
            return false;
        }
        Set(_irr, vector);
        if (levelTriggered)
        {
            Set(_tmr, vector);
        }
        else
        {
            Clear(_tmr, vector);
        }
        if (IrrDeliverable())
        {
            _vcpu.Notify();
        }
        return true;
    }

    /// <summary>
    /// EOI (SDM Vol. 3A §12.8.5 "Signaling Interrupt Servicing Completion"): clears the highest ISR bit; a
    /// level-triggered vector (TMR) is broadcast to the I/O APIC unless SVR bit 12 suppresses it.
    /// </summary>
    private void Eoi()
    {
        int v = Highest(_isr);
        if (v < 0)
        {
            return;
        }
        Clear(_isr, v);
        if (Test(_tmr, v))
        {
            LintEoi(v);
            if ((_svr & SvrSuppressEoiBroadcast) == 0)
            {
                _bus.BroadcastEoi(v);
            }
        }
        NotifyIfPending();
    }

    /// <summary>Records an error (SDM Vol. 3A §12.5.3 "Error Handling"); a new one raises the LVT error interrupt.</summary>
    private void RaiseError(uint error)
    {
        if ((_esrPending & error) != 0)
        {
            return;
        }
        _esrPending |= error;
        uint lvt = _lvt[LvtError];
        if ((lvt & LvtMasked) == 0)
        {
            AcceptVector((int)(lvt & 0xFF), levelTriggered: false);
        }
    }

    /// <summary>A write to the ESR latches the errors found since the previous write and clears them.</summary>
    private void LatchErrors()
    {
        _esr = _esrPending;
        _esrPending = 0;
    }

    // ------------------------------------------------------------------ local interrupts

    /// <summary>Raises the local interrupt of LVT entry <paramref name="index"/> (SDM Vol. 3A §12.5.1 "Local Vector Table").</summary>
    private void DeliverLvt(int index)
    {
        uint lvt = _lvt[index];
        if ((lvt & LvtMasked) != 0)
        {
            return;
        }
        // The timer and error entries have no delivery-mode field: always fixed.
        int mode = index is LvtTimer or LvtError ? DeliveryMode.Fixed : (int)(lvt >> 8) & 7;
        switch (mode)
        {
            case DeliveryMode.Fixed:
                AcceptVector((int)(lvt & 0xFF), levelTriggered: false);
                break;
            case DeliveryMode.Nmi:
                _vcpu.NmiPending = true;
                _vcpu.Notify();
                break;
            case DeliveryMode.Init:
                ResetRegisters(resetId: false);
                _vcpu.DeliverInit();
                break;
            case DeliveryMode.ExtInt:
                NotifyIfPending();
                break;
        }
    }

    /// <summary>
    /// Drives the LINT0 or LINT1 pin. Edge-sensitive entries fire on a rising edge; a fixed level-triggered entry
    /// fires while asserted and its remote IRR is clear, which EOI clears. LINT0 in ExtINT mode is the 8259's INTR,
    /// polled through the <see cref="IExtIntSource"/> instead. With the APIC globally disabled, LINT1 is the NMI pin.
    /// </summary>
    public void SetLint(int pin, bool level)
    {
        if ((uint)pin > 1)
        {
            return;
        }
        bool old = pin == 0 ? _lint0Level : _lint1Level;
        if (pin == 0)
        {
            _lint0Level = level;
        }
        else
        {
            _lint1Level = level;
        }
        if (!HardwareEnabled)
        {
            if (pin == 1 && level && !old)
            {
                _vcpu.NmiPending = true;
                _vcpu.Notify();
            }
            return;
        }
        int index = LvtLint0 + pin;
        uint lvt = _lvt[index];
        if ((lvt & LvtMasked) != 0)
        {
            return;
        }
        if (((lvt >> 8) & 7) == DeliveryMode.Fixed && (lvt & LvtLevelTriggered) != 0)
        {
            if (level && (lvt & LvtRemoteIrr) == 0 && AcceptVector((int)(lvt & 0xFF), levelTriggered: true))
            {
                _lvt[index] = lvt | LvtRemoteIrr;
            }
            return;
        }
        if (level && !old)
        {
            DeliverLvt(index);
        }
    }

    /// <summary>EOI of a level-triggered vector clears the remote IRR of a LINT entry with that vector; a pin still asserted fires again.</summary>
    private void LintEoi(int vector)
    {
        for (int index = LvtLint0; index <= LvtLint1; index++)
        {
            uint lvt = _lvt[index];
            if ((lvt & LvtRemoteIrr) != 0 && (lvt & 0xFF) == (uint)vector)
            {
                _lvt[index] = lvt & ~LvtRemoteIrr;
                if (index == LvtLint0 ? _lint0Level : _lint1Level)
                {
                    SetLint(index - LvtLint0, level: true);
                }
            }
        }
    }

    // ------------------------------------------------------------------ register file

    /// <summary>Reads a register by its xAPIC offset (bits 11:4); reserved offsets set ESR bit 7 and read 0.</summary>
    internal uint ReadRegister(int reg)
    {
        switch (reg)
        {
            case ApicReg.Id:
                return (uint)_xapicId << 24;
            case ApicReg.Version:
                return VersionValue;
            case ApicReg.Tpr:
                return _vcpu.ApicTpr;
            case ApicReg.Apr:
                return (uint)Apr;
            case ApicReg.Ppr:
                return (uint)Ppr;
            case ApicReg.Eoi:
            case ApicReg.Rrd:
                return 0;
            case ApicReg.Ldr:
                return _ldr;
            case ApicReg.Dfr:
                return _dfr;
            case ApicReg.Svr:
                return _svr;
            case >= ApicReg.Isr and < ApicReg.Tmr:
                return _isr[(reg - ApicReg.Isr) >> 4];
            case >= ApicReg.Tmr and < ApicReg.Irr:
                return _tmr[(reg - ApicReg.Tmr) >> 4];
            case >= ApicReg.Irr and < ApicReg.Esr:
                return _irr[(reg - ApicReg.Irr) >> 4];
            case ApicReg.Esr:
                return _esr;
            case ApicReg.IcrLow:
                // Delivery status (bit 12) is always idle: an IPI is delivered during the write that sends it.
                return _icrLow;
            case ApicReg.IcrHigh:
                return _icrHigh;
            case >= ApicReg.LvtTimer and <= ApicReg.LvtError:
                return _lvt[(reg - ApicReg.LvtTimer) >> 4];
            case ApicReg.TimerInitial:
                return _timerInitial;
            case ApicReg.TimerCurrent:
                return CurrentCount(_clock.Now);
            case ApicReg.TimerDivide:
                return _timerDivide;
            default:
                RaiseError(ApicError.IllegalRegisterAddress);
                return 0;
        }
    }

    /// <summary>Writes a register by its xAPIC offset; read-only registers ignore writes, reserved offsets set ESR bit 7.</summary>
    internal void WriteRegister(int reg, uint value)
    {
        switch (reg)
        {
            case ApicReg.Id:
                _xapicId = (byte)(value >> 24);
                return;
            case ApicReg.Tpr:
                SetTpr((byte)value);
                return;
            case ApicReg.Eoi:
                Eoi();
                return;
            case ApicReg.Ldr:
                _ldr = value & 0xFF00_0000;
                return;
            case ApicReg.Dfr:
                _dfr = (value & 0xF000_0000) | 0x0FFF_FFFF;
                return;
            case ApicReg.Svr:
                WriteSvr(value);
                return;
            case ApicReg.Esr:
                LatchErrors();
                return;
            case ApicReg.IcrLow:
                _icrLow = value & IcrWritable;
                SendIpi(_icrLow, _icrHigh >> 24, x2ApicFormat: false);
                return;
            case ApicReg.IcrHigh:
                _icrHigh = value & 0xFF00_0000;
                return;
            case >= ApicReg.LvtTimer and <= ApicReg.LvtError:
                WriteLvt((reg - ApicReg.LvtTimer) >> 4, value);
                return;
            case ApicReg.TimerInitial:
                WriteTimerInitial(value);
                return;
            case ApicReg.TimerDivide:
                WriteTimerDivide(value);
                return;
            case ApicReg.Version:
            case ApicReg.Apr:
            case ApicReg.Ppr:
            case ApicReg.Rrd:
            case >= ApicReg.Isr and < ApicReg.Esr:
            case ApicReg.TimerCurrent:
                return;
            default:
                RaiseError(ApicError.IllegalRegisterAddress);
                return;
        }
    }

    /// <summary>
    /// SVR (SDM Vol. 3A §12.9 "Spurious Interrupt"): clearing bit 8 software-disables the APIC, which masks every
    /// LVT entry (SDM Vol. 3A §12.4.7.2 "Local APIC State After It Has Been Software Disabled").
    /// </summary>
    private void WriteSvr(uint value)
    {
        _svr = value & SvrWritable;
        if (!SoftwareEnabled)
        {
            for (int i = 0; i < _lvt.Length; i++)
            {
                _lvt[i] |= LvtMasked;
            }
        }
        NotifyIfPending();
    }

    /// <summary>An LVT entry: reserved and read-only bits are kept; the mask cannot be cleared while software-disabled.</summary>
    private void WriteLvt(int index, uint value)
    {
        uint v = value & LvtWritable[index];
        if (!SoftwareEnabled)
        {
            v |= LvtMasked;
        }
        if (index is LvtLint0 or LvtLint1)
        {
            v |= _lvt[index] & LvtRemoteIrr;
        }
        if (index == LvtTimer)
        {
            WriteLvtTimer(v);
            return;
        }
        _lvt[index] = v;
        if (index == LvtLint0)
        {
            NotifyIfPending();
        }
    }

    /// <summary>
    /// Sends the IPI an ICR write describes (SDM Vol. 3A §12.6.1 "Interrupt Command Register (ICR)"): the target
    /// APICs accept it before the write completes, so delivery status never reads busy.
    /// </summary>
    private void SendIpi(uint low, uint destination, bool x2ApicFormat)
    {
        int vector = (int)(low & 0xFF);
        int mode = (int)(low >> 8) & 7;
        if (mode is 3 or DeliveryMode.ExtInt)
        {
            // Reserved delivery modes for an IPI.
            return;
        }
        if ((mode is DeliveryMode.Fixed or DeliveryMode.LowestPriority) && vector < 16)
        {
            // SDM Vol. 3A §12.5.3 "Error Handling": "Send Illegal Vector"; the receivers reject it too.
            RaiseError(ApicError.SendIllegalVector);
        }
        bool logical = (low & (1 << 11)) != 0;
        bool assert = (low & (1 << 14)) != 0;
        bool levelTriggered = (low & (1 << 15)) != 0;
        int shorthand = (int)(low >> 18) & 3;
        _bus.Deliver(this, shorthand, logical, destination, x2ApicFormat, mode, vector, levelTriggered, assert);
    }

    // ------------------------------------------------------------------ xAPIC MMIO

    /// <summary>
    /// A read of the xAPIC page: registers are 32 bits on 16-byte boundaries (SDM Vol. 3A §12.4.1 "The Local
    /// APIC Block Diagram"); narrower reads see their bytes, bytes 4–15 of each slot read 0.
    /// </summary>
    internal ulong MmioRead(ulong offset, int size)
    {
        int sub = (int)offset & 0xF;
        if (sub >= 4)
        {
            return 0;
        }
        ulong value = ReadRegister((int)offset & 0xFF0) >> (sub * 8);
        return size >= 4 ? value : value & ((1UL << (size * 8)) - 1);
    }

    /// <summary>A write of the xAPIC page: only aligned 32-bit (or 64-bit, low half) stores reach a register.</summary>
    internal void MmioWrite(ulong offset, int size, ulong value)
    {
        if ((offset & 0xF) != 0 || size < 4)
        {
            return;
        }
        WriteRegister((int)offset & 0xFF0, (uint)value);
    }
}
