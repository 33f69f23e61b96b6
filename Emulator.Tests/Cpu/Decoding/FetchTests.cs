namespace Emulator.Tests.Cpu.Decoding;

/// <summary>SDM Vol. 3A §5.3 "Limit Checking" on instruction fetch, through the decoded-instruction cache.</summary>
public class FetchTests
{
    [Test]
    public void CachedFetch_BeyondShrunkCsLimit_RaisesGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.LoadBytes([0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90]);
        for (int i = 0; i < 8; i++)
        {
            h.Cpu.Run(1);
        }
        // A far jump to a smaller code segment would do this: the cached NOPs past the limit must not run.
        h.Cpu.State.Seg[1].Limit = 0x10003;
        h.Cpu.InvalidateFetch();
        h.Cpu.State.Rip = 0x10000;
        h.Cpu.State.Idtr.Limit = 0;
        for (int i = 0; i < 8; i++)
        {
            h.Cpu.Run(1);
        }
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.InstructionCount, Is.EqualTo(12), "the four NOPs within the limit ran, no more");
    }

    [Test]
    public void InstructionStraddlingCsLimit_RaisesGp_AndDoesNotExecute()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.LoadBytes([0xB8, 1, 2, 3, 4, 0x90]); // mov eax, imm32: bytes 0x10000..0x10004
        h.Cpu.State.Seg[1].Limit = 0x10002;
        h.Cpu.State.Idtr.Limit = 0;
        h.Cpu.InvalidateFetch();
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Gpr[0], Is.Not.EqualTo(0x04030201UL));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }
}
