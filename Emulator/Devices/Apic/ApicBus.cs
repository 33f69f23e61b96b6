using Emulator.Cpu.Memory;
using Emulator.Platform;

namespace Emulator.Devices.Apic;

/// <summary>
/// The APIC bus (system bus messages in the SDM's terms): the local APICs by vCPU, the I/O APIC, and the
/// routing of interrupt messages to their destinations (SDM Vol. 3A §12.6.2 "Determining IPI Destination").
/// Physical destinations match the APIC id (0xFF, or 0xFFFFFFFF in x2APIC format, is a broadcast); logical ones
/// the LDR in the flat or cluster model of the DFR (xAPIC) or x2APIC cluster addressing. Lowest-priority
/// delivery goes to the one matching, software-enabled APIC with the lowest arbitration priority (APR), the
/// lowest APIC id among equals: deterministic, as the scheduler is.
/// </summary>
internal sealed class ApicBus
{
    private LocalApic?[] _apics = [];
    private readonly List<ulong> _mmioPages = [];
    private PhysicalMemory? _memory;

    public ApicBus(VirtualClock clock) => Clock = clock;

    public VirtualClock Clock { get; }

    /// <summary>The I/O APIC that level-triggered EOIs are broadcast to (set by its constructor).</summary>
    public IoApic? IoApic { get; set; }

    /// <summary>The local APIC of vCPU <paramref name="cpuIndex"/>, or null.</summary>
    public LocalApic? this[int cpuIndex] => (uint)cpuIndex < (uint)_apics.Length ? _apics[cpuIndex] : null;

    /// <summary>Called by the <see cref="LocalApic"/> constructor.</summary>
    internal void Register(LocalApic apic)
    {
        int index = apic.Vcpu.Index;
        if (index >= _apics.Length)
        {
            Array.Resize(ref _apics, index + 1);
        }
        _apics[index] = apic;
    }

    /// <summary>Maps the xAPIC page at its default address 0xFEE00000 (a relocated APIC base gets its own page later).</summary>
    public void AttachMmio(PhysicalMemory memory)
    {
        _memory = memory;
        EnsureMmio(LocalApic.DefaultBase);
    }

    /// <summary>Maps an xAPIC page at <paramref name="pageBase"/> once (IA32_APIC_BASE may move the APIC; rare).</summary>
    internal void EnsureMmio(ulong pageBase)
    {
        if (_memory is null || _mmioPages.Contains(pageBase))
        {
            return;
        }
        _mmioPages.Add(pageBase);
        _memory.AddMmio(pageBase, 0x1000, new ApicMmio(this, pageBase));
    }

    /// <summary>
    /// Delivers an interrupt message to every APIC it addresses (<paramref name="source"/> null for the I/O APIC;
    /// <paramref name="shorthand"/>: 0 none, 1 self, 2 all including self, 3 all excluding self). Returns whether
    /// any APIC accepted it.
    /// </summary>
    internal bool Deliver(LocalApic? source, int shorthand, bool logical, uint destination, bool x2ApicFormat,
        int mode, int vector, bool levelTriggered, bool assert)
    {
        if (mode == DeliveryMode.LowestPriority)
        {
            LocalApic? target = null;
            int best = int.MaxValue;
            foreach (LocalApic? a in _apics)
            {
                if (a is not null && a.SoftwareEnabled && IsTarget(a, source, shorthand, logical, destination, x2ApicFormat))
                {
                    int apr = a.Apr;
                    if (apr < best || (apr == best && a.ApicId < target!.ApicId))
                    {
                        best = apr;
                        target = a;
                    }
                }
            }
            return target is not null && target.Accept(mode, vector, levelTriggered, assert);
        }
        bool accepted = false;
        foreach (LocalApic? a in _apics)
        {
            if (a is not null && IsTarget(a, source, shorthand, logical, destination, x2ApicFormat))
            {
                accepted |= a.Accept(mode, vector, levelTriggered, assert);
            }
        }
        return accepted;
    }

    /// <summary>A message from the I/O APIC: 8-bit destination, no shorthand.</summary>
    internal bool DeliverFromIoApic(int mode, int vector, bool logical, uint destination, bool levelTriggered) =>
        Deliver(null, 0, logical, destination, x2ApicFormat: false, mode, vector, levelTriggered, assert: true);

    /// <summary>EOI of a level-triggered vector: the I/O APIC clears the remote IRR of the entries with that vector.</summary>
    internal void BroadcastEoi(int vector) => IoApic?.Eoi(vector);

    private static bool IsTarget(LocalApic a, LocalApic? source, int shorthand, bool logical, uint destination, bool x2ApicFormat)
    {
        // A globally disabled APIC is not on the bus (SDM Vol. 3A §12.4.3 "Enabling or Disabling the Local APIC").
        if (!a.HardwareEnabled)
        {
            return false;
        }
        return shorthand switch
        {
            1 => a == source,
            2 => true,
            3 => a != source,
            _ => Matches(a, logical, destination, x2ApicFormat),
        };
    }

    /// <summary>
    /// Destination matching (SDM Vol. 3A §12.6.2.1 "Physical Destination Mode", §12.6.2.2 "Logical Destination
    /// Mode", §12.12.10 "Logical Destination Mode in x2APIC Mode"). An xAPIC-format message (8-bit destination, from the
    /// I/O APIC or an xAPIC-mode sender) to an APIC in x2APIC mode is read as an x2APIC destination, 0xFF staying
    /// a broadcast, as KVM does for mixed modes.
    /// </summary>
    internal static bool Matches(LocalApic a, bool logical, uint destination, bool x2ApicFormat)
    {
        if (destination == (x2ApicFormat ? 0xFFFF_FFFF : 0xFFu))
        {
            return true;
        }
        if (!logical)
        {
            return a.X2ApicMode ? destination == (uint)a.ApicId : destination == a.XapicId;
        }
        if (a.X2ApicMode)
        {
            uint ldr = a.X2ApicLdr;
            return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xFFFF) != 0;
        }
        uint id = a.XapicLogicalId;
        uint d = destination & 0xFF;
        if (a.FlatModel)
        {
            return (id & d) != 0;
        }
        // Cluster model: cluster in bits 7:4 (15 = all clusters), one bit per member in bits 3:0.
        return ((d >> 4) == 0xF || (d >> 4) == (id >> 4)) && (d & id & 0xF) != 0;
    }
}
