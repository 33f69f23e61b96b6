using Emulator.Cpu.Bus;
using Emulator.Platform;

namespace Emulator.Devices;

/// <summary>
/// The PC's cascaded pair of 8259A programmable interrupt controllers: master at 0x20/0x21 (IRQ 0–7),
/// slave at 0xA0/0xA1 (IRQ 8–15) on the master's IR2, and the PIIX edge/level control registers (ELCR)
/// at 0x4D0/0x4D1. The master's INT output is the processor's INTR (<see cref="IExtIntSource"/>).
/// Behaviour follows the Intel 8259A datasheet ("Programmable Interrupt Controller (8259A/8259A-2)"):
/// the initialization sequence (ICW1–ICW4), OCW1–OCW3, fully nested and special fully nested modes,
/// automatic EOI, priority rotation, special mask mode, poll mode and spurious IR7.
/// </summary>
/// <remarks>
/// Reset state is what QEMU's SeaBIOS leaves after POST: both chips initialised for 8086 mode with
/// vector bases 0x08 and 0x70, the slave on IR2, and the IRQs SeaBIOS enables unmasked — master mask
/// <see cref="BiosMasterMask"/> (IRQ 0 timer, 1 keyboard, 2 cascade, 6 floppy), slave mask
/// <see cref="BiosSlaveMask"/> (IRQ 8 RTC, 12 mouse, 13 FPU, 14 ATA) — and the ELCR as SeaBIOS programs
/// the PIIX PCI interrupt routing (IRQ 10 and 11 level-triggered).
/// </remarks>
internal sealed class Pic8259 : BytePortDevice, IIrqController, IExtIntSource
{
    public const ushort MasterPort = 0x20;
    public const ushort SlavePort = 0xA0;
    public const ushort ElcrPort = 0x4D0;

    public const byte BiosMasterVectorBase = 0x08;
    public const byte BiosSlaveVectorBase = 0x70;
    public const byte BiosMasterMask = 0xB8;
    public const byte BiosSlaveMask = 0x8E;
    public const ushort BiosElcr = 0x0C00;

    /// <summary>The slave's INT output drives the master's IR2.</summary>
    public const int CascadeIrq = 2;

    private readonly Chip _master = new(isMaster: true, elcrMask: 0xF8);
    private readonly Chip _slave = new(isMaster: false, elcrMask: 0xDE);

    /// <summary>ISA IRQ 2, which QEMU wires to the master's IR2 alongside the slave's INT (ORed here).</summary>
    private bool _externalIrq2;
    private bool _intr;

    /// <summary>Raised whenever INTR (the master's INT output) changes; the platform wakes the vCPU.</summary>
    public Action? InterruptChanged { get; set; }

    public Pic8259()
    {
        _master.InitialiseAsBios(BiosMasterVectorBase, 1 << CascadeIrq, BiosMasterMask, unchecked((byte)BiosElcr));
        _slave.InitialiseAsBios(BiosSlaveVectorBase, CascadeIrq, BiosSlaveMask, (byte)(BiosElcr >> 8));
    }

    public void Register(IoBus io)
    {
        io.Register(MasterPort, 2, this);
        io.Register(SlavePort, 2, this);
        io.Register(ElcrPort, 2, this);
    }

    /// <summary>True when the master asserts INT.</summary>
    public bool IntrPending => _intr;

    // ------------------------------------------------------------------ IRQ inputs

    /// <summary>Drives ISA IRQ <paramref name="line"/> (0–15); edge or level sensing per chip and ELCR.</summary>
    public void SetIrq(int line, bool level)
    {
        if ((uint)line >= 16)
        {
            return;
        }
        if (line >= 8)
        {
            _slave.SetInput(line - 8, level);
        }
        else if (line == CascadeIrq)
        {
            _externalIrq2 = level;
        }
        else
        {
            _master.SetInput(line, level);
        }
        Update();
    }

    /// <summary>
    /// The INTA cycle (8259A datasheet "Interrupt Sequence"): the highest-priority request goes in service
    /// and its vector is returned. When the request went away before the acknowledge, the chip answers
    /// with IR7's vector without setting ISR; a spurious slave request still puts the master's cascade
    /// input IR2 in service, since the master did see a request on it.
    /// </summary>
    public int AcknowledgeIntr()
    {
        int vector;
        int irq = _master.HighestPending();
        if (irq < 0)
        {
            vector = _master.VectorBase + 7;
        }
        else
        {
            if (irq == CascadeIrq && !_master.IsSingle)
            {
                int slaveIrq = _slave.HighestPending();
                if (slaveIrq >= 0)
                {
                    _slave.Acknowledge(slaveIrq);
                    vector = _slave.VectorBase + slaveIrq;
                }
                else
                {
                    vector = _slave.VectorBase + 7;
                }
            }
            else
            {
                vector = _master.VectorBase + irq;
            }
            _master.Acknowledge(irq);
        }
        Update();
        return vector;
    }

    /// <summary>Propagates the slave's INT to the master's IR2 and the master's INT to the CPU.</summary>
    private void Update()
    {
        bool cascade = _slave.HighestPending() >= 0 || _externalIrq2;
        if (_master.InputLevel(CascadeIrq) != cascade)
        {
            _master.SetInput(CascadeIrq, cascade);
        }
        bool intr = _master.HighestPending() >= 0;
        if (intr != _intr)
        {
            _intr = intr;
            InterruptChanged?.Invoke();
        }
    }

    // ------------------------------------------------------------------ ports

    protected override byte ReadByte(ushort port)
    {
        switch (port)
        {
            case MasterPort:
            case MasterPort + 1:
            case SlavePort:
            case SlavePort + 1:
                Chip chip = port >= SlavePort ? _slave : _master;
                if (chip.Poll)
                {
                    byte poll = chip.ReadPoll();
                    Update();
                    return poll;
                }
                return (port & 1) == 0 ? chip.ReadStatus() : chip.Imr;
            case ElcrPort:
                return _master.Elcr;
            case ElcrPort + 1:
                return _slave.Elcr;
            default:
                return 0xFF;
        }
    }

    protected override void WriteByte(ushort port, byte value)
    {
        switch (port)
        {
            case MasterPort:
            case SlavePort:
                (port == SlavePort ? _slave : _master).WriteCommand(value);
                break;
            case MasterPort + 1:
            case SlavePort + 1:
                (port == SlavePort + 1 ? _slave : _master).WriteData(value);
                break;
            case ElcrPort:
                _master.WriteElcr(value);
                break;
            case ElcrPort + 1:
                _slave.WriteElcr(value);
                break;
            default:
                return;
        }
        Update();
    }

    // ------------------------------------------------------------------ one 8259A

    /// <summary>One 8259A: IRR, ISR, IMR, the priority resolver and the command state machine.</summary>
    private sealed class Chip
    {
        private readonly bool _isMaster;
        private readonly byte _elcrMask;

        /// <summary>Current levels of the IR inputs (the edge-sense latch of the datasheet's Figure "IR Triggering Timing").</summary>
        private byte _inputs;
        private byte _irr;
        private byte _isr;

        /// <summary>The IR level with the highest priority (0 unless rotated).</summary>
        private int _priorityBase;
        private bool _readIsr;
        private bool _specialMask;
        private bool _rotateOnAutoEoi;
        private bool _specialFullyNested;
        private bool _levelTriggered;
        private bool _needIcw4;

        /// <summary>0: operational; 2, 3, 4: the next data-port write is that ICW.</summary>
        private int _initState;

        public Chip(bool isMaster, byte elcrMask)
        {
            _isMaster = isMaster;
            _elcrMask = elcrMask;
        }

        public byte Imr { get; private set; }
        public byte Elcr { get; private set; }
        public byte VectorBase { get; private set; }
        public byte Icw3 { get; private set; }
        public bool AutoEoi { get; private set; }
        public bool IsSingle { get; private set; }
        public bool Poll { get; private set; }

        public void InitialiseAsBios(byte vectorBase, byte icw3, byte mask, byte elcr)
        {
            Reset();
            VectorBase = vectorBase;
            Icw3 = icw3;
            Imr = mask;
            Elcr = (byte)(elcr & _elcrMask);
        }

        public bool InputLevel(int irq) => (_inputs & (1 << irq)) != 0;

        private bool IsLevel(int irq) => _levelTriggered || (Elcr & (1 << irq)) != 0;

        /// <summary>
        /// Edge mode latches a request on a low-to-high transition; level mode follows the line
        /// (8259A datasheet "Edge and Level Triggered Modes"; PIIX ELCR per input).
        /// </summary>
        public void SetInput(int irq, bool level)
        {
            byte bit = (byte)(1 << irq);
            bool was = (_inputs & bit) != 0;
            if (level)
            {
                _inputs |= bit;
                if (!was || IsLevel(irq))
                {
                    _irr |= bit;
                }
            }
            else
            {
                _inputs &= (byte)~bit;
                if (IsLevel(irq))
                {
                    _irr &= (byte)~bit;
                }
            }
        }

        /// <summary>Priority (0 = highest) of the highest set bit of <paramref name="mask"/>, or 8 when none.</summary>
        private int Priority(int mask)
        {
            if (mask == 0)
            {
                return 8;
            }
            int p = 0;
            while ((mask & (1 << ((p + _priorityBase) & 7))) == 0)
            {
                p++;
            }
            return p;
        }

        /// <summary>
        /// The priority resolver: the IR that INT would signal now, or −1. Fully nested mode blocks
        /// requests of lower or equal priority than the highest in service; special fully nested mode
        /// (master only) lets the cascade input through again; special mask mode
        /// (8259A datasheet "Special Mask Mode") enables every unmasked level not in service.
        /// </summary>
        public int HighestPending()
        {
            int requests = _irr & ~Imr;
            if (_specialMask)
            {
                requests &= ~_isr;
            }
            int priority = Priority(requests);
            if (priority == 8)
            {
                return -1;
            }
            if (!_specialMask)
            {
                int inService = _isr;
                if (_specialFullyNested && _isMaster)
                {
                    inService &= ~(1 << CascadeIrq);
                }
                if (priority >= Priority(inService))
                {
                    return -1;
                }
            }
            return (priority + _priorityBase) & 7;
        }

        /// <summary>INTA for <paramref name="irq"/>: set ISR (unless AEOI), clear an edge request.</summary>
        public void Acknowledge(int irq)
        {
            byte bit = (byte)(1 << irq);
            if (AutoEoi)
            {
                if (_rotateOnAutoEoi)
                {
                    _priorityBase = (irq + 1) & 7;
                }
            }
            else
            {
                _isr |= bit;
            }
            // A level-triggered request stays in IRR for as long as the line is high.
            if (!IsLevel(irq))
            {
                _irr &= (byte)~bit;
            }
        }

        /// <summary>Poll command (OCW3 P=1): the next read is an acknowledge returning I and W2–W0.</summary>
        public byte ReadPoll()
        {
            Poll = false;
            int irq = HighestPending();
            if (irq < 0)
            {
                return 0;
            }
            Acknowledge(irq);
            return (byte)(0x80 | irq);
        }

        public byte ReadStatus() => _readIsr ? _isr : _irr;

        public void WriteElcr(byte value) => Elcr = (byte)(value & _elcrMask);

        private void Reset()
        {
            _inputs = 0;
            _irr = 0;
            _isr = 0;
            Imr = 0;
            _priorityBase = 0;
            _readIsr = false;
            Poll = false;
            _specialMask = false;
            AutoEoi = false;
            _rotateOnAutoEoi = false;
            _specialFullyNested = false;
            _levelTriggered = false;
            _needIcw4 = false;
            IsSingle = false;
            _initState = 0;
        }

        public void WriteCommand(byte value)
        {
            if ((value & 0x10) != 0)
            {
                // ICW1 (8259A datasheet "Initialization Command Words"): the edge-sense circuit is reset,
                // IMR cleared, IR7 gets the lowest priority, special mask mode off, IRR selected for
                // status reads. The line levels themselves stay (only new edges count from now on).
                byte inputs = _inputs;
                byte levelRequests = (byte)(_irr & Elcr & inputs);
                Reset();
                _inputs = inputs;
                _irr = levelRequests;
                _levelTriggered = (value & 0x08) != 0;
                IsSingle = (value & 0x02) != 0;
                _needIcw4 = (value & 0x01) != 0;
                if (_levelTriggered)
                {
                    _irr = inputs;
                }
                _initState = 2;
                return;
            }
            if ((value & 0x08) != 0)
            {
                // OCW3: ESMM/SMM (bits 6, 5), poll (bit 2), RR/RIS (bits 1, 0).
                if ((value & 0x40) != 0)
                {
                    _specialMask = (value & 0x20) != 0;
                }
                if ((value & 0x04) != 0)
                {
                    Poll = true;
                }
                if ((value & 0x02) != 0)
                {
                    _readIsr = (value & 0x01) != 0;
                }
                return;
            }
            // OCW2: R, SL, EOI (bits 7–5) and the level L2–L0.
            int level = value & 7;
            switch (value >> 5)
            {
                case 0b000:
                    _rotateOnAutoEoi = false;
                    break;
                case 0b100:
                    _rotateOnAutoEoi = true;
                    break;
                case 0b001:
                case 0b101:
                {
                    int p = Priority(_isr);
                    if (p != 8)
                    {
                        int irq = (p + _priorityBase) & 7;
                        _isr &= (byte)~(1 << irq);
                        if ((value >> 5) == 0b101)
                        {
                            _priorityBase = (irq + 1) & 7;
                        }
                    }
                    break;
                }
                case 0b011:
                    _isr &= (byte)~(1 << level);
                    break;
                case 0b111:
                    _isr &= (byte)~(1 << level);
                    _priorityBase = (level + 1) & 7;
                    break;
                case 0b110:
                    // Set priority: L becomes the lowest-priority level.
                    _priorityBase = (level + 1) & 7;
                    break;
            }
        }

        public void WriteData(byte value)
        {
            switch (_initState)
            {
                case 2:
                    // ICW2: T7–T3 of the vector (8086 mode).
                    VectorBase = (byte)(value & 0xF8);
                    _initState = IsSingle ? (_needIcw4 ? 4 : 0) : 3;
                    break;
                case 3:
                    Icw3 = value;
                    _initState = _needIcw4 ? 4 : 0;
                    break;
                case 4:
                    // ICW4: SFNM (bit 4), AEOI (bit 1); buffered mode and µPM do not change behaviour here.
                    _specialFullyNested = (value & 0x10) != 0;
                    AutoEoi = (value & 0x02) != 0;
                    _initState = 0;
                    break;
                default:
                    Imr = value;
                    break;
            }
        }
    }
}
