using Emulator.Cpu;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu;

/// <summary>The instruction loop allocates nothing once warm (DESIGN.md "Allocation-free is checked, not hoped").</summary>
public class InterpreterAllocationTests
{
    [Test]
    public void InstructionLoop_AfterWarmUp_AllocatesNothing()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            Label top = a.CreateLabel();
            a.mov(rsi, CpuHarness.DataAddress);
            a.Label(ref top);
            a.add(rax, rcx);
            a.mov(__qword_ptr[rsi], rax);
            a.xor(rax, __qword_ptr[rsi + 8]);
            a.push(rax);
            a.pop(rbx);
            a.cmp(rbx, 5);
            a.jmp(top);
        });
        // Warm up: decode cache, TLB, JIT tiers.
        for (int i = 0; i < 20; i++)
        {
            Assert.That(h.Cpu.Run(100_000), Is.EqualTo(StopReason.Budget), h.Cpu.LastStopMessage);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        StopReason r = h.Cpu.Run(1_000_000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(r, Is.EqualTo(StopReason.Budget));
        Assert.That(after - before, Is.Zero, "bytes allocated by 1,000,000 instructions");
    }
}
