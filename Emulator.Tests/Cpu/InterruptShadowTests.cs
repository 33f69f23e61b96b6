using Emulator.Cpu;

namespace Emulator.Tests.Cpu;

/// <summary>SDM Vol. 2B "STI": interrupts are recognised only after the instruction that follows STI retires.</summary>
public class InterruptShadowTests
{
    private sealed class AlwaysPending : IInterruptSource
    {
        public bool HasPending => true;

        public int Acknowledge() => 0x20;
    }

    [Test]
    public void StiShadow_RunReturnsBetweenStiAndNextInstruction_ShadowStillHolds()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h.Memory.Write(0x20 * 4, 4, 0x0000_0500); // IVT 0x20 -> 0000:0500
        h.Memory.Write(0x500, 1, 0xF4);
        h.LoadBytes([0xFB, 0x90, 0x90, 0x90]); // sti; nop; nop; nop
        h.Cpu.Interrupts = new AlwaysPending();
        h.Cpu.Run(1); // sti
        h.Cpu.Run(1); // the nop in the shadow runs, then the interrupt is taken
        ulong sp = h.Cpu.State.Gpr[4] & 0xFFFF;
        ulong ss = h.Cpu.State.Seg[2].Base;
        Assert.That(h.Memory.Read(ss + sp, 2), Is.EqualTo(2UL), "pushed IP: the instruction after STI ran first");
    }
}
