namespace Emulator.Platform;

/// <summary>An interrupt controller with numbered input lines (8259 pair: ISA IRQ 0–15; I/O APIC: pins 0–23).</summary>
public interface IIrqController
{
    /// <summary>Drives input <paramref name="line"/> to <paramref name="level"/>; an edge is a low→high change.</summary>
    void SetIrq(int line, bool level);
}

/// <summary>The legacy INTR path: the 8259's output as the local APIC's LINT0 (ExtINT) sees it.</summary>
public interface IExtIntSource
{
    /// <summary>True when the 8259 asserts INTR.</summary>
    bool IntrPending { get; }

    /// <summary>INTA cycle: returns the vector (a spurious IRQ 7/15 vector when the request went away).</summary>
    int AcknowledgeIntr();
}

/// <summary>
/// Routes ISA IRQ lines as a PC does: each to the 8259 pair and to the I/O APIC, IRQ 0 to I/O APIC pin 2
/// (the interrupt source override the MADT describes), the others to the pin of the same number.
/// </summary>
public sealed class InterruptRouter
{
    private readonly bool[] _levels = new bool[24];

    public IIrqController? Pic { get; set; }
    public IIrqController? IoApic { get; set; }

    public void SetIsaIrq(int irq, bool level)
    {
        if ((uint)irq >= 16 || _levels[irq] == level)
        {
            return;
        }
        _levels[irq] = level;
        Pic?.SetIrq(irq, level);
        IoApic?.SetIrq(irq == 0 ? 2 : irq, level);
    }

    /// <summary>An edge-triggered pulse (PIT output, RTC): raise then lower.</summary>
    public void PulseIsaIrq(int irq)
    {
        SetIsaIrq(irq, true);
        SetIsaIrq(irq, false);
    }

    /// <summary>
    /// Drives a global system interrupt line: 0–15 are the ISA IRQs (to both controllers, IRQ 0 as GSI 2),
    /// 16–23 exist only on the I/O APIC (QEMU's pc-testdev lines 0x2000–0x2017 use this).
    /// </summary>
    public void SetGsi(int gsi, bool level)
    {
        if (gsi < 16)
        {
            SetIsaIrq(gsi, level);
            return;
        }
        if ((uint)gsi >= 24 || _levels[gsi] == level)
        {
            return;
        }
        _levels[gsi] = level;
        IoApic?.SetIrq(gsi, level);
    }

    public bool IsaLevel(int irq) => (uint)irq < 16 && _levels[irq];
}
