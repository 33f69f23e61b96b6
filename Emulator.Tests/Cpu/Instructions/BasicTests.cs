using Emulator.Cpu;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class BasicTests
{
    [Test]
    public void Nop_InEveryMode_AdvancesRip([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Load(a =>
        {
            a.nop();
            a.nop();
            a.pause();
        }).Run();
        Assert.That(h.Cpu.InstructionCount, Is.EqualTo(3));
    }

    [Test]
    public void Ud2_RaisesInvalidOpcode()
    {
        using var h = new CpuHarness();
        h.Load(a => a.ud2());
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    [Test]
    public void SelfModifyingCode_RedecodesWrittenPage()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        // Run a nop at CodeAddress, patch it to ud2 from the host, run again: the cache must not keep the nop.
        h.Load(a => a.nop());
        h.Run();
        h.Memory.TryWriteBytes(CpuHarness.CodeAddress, [0x0F, 0x0B]);
        h.Cpu.State.Rip = CpuHarness.CodeAddress;
        h.Cpu.Run(1);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }
}
