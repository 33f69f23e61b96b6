using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Interrupts;

/// <summary>Debug exceptions (SDM Vol. 3B §18.3 "Debug Exceptions").</summary>
public class DebugTrapTests
{
    private const int Counter = (int)GuestSystem.Scratch;

    /// <summary>A #DB handler that counts, optionally sets RF in the frame, and returns.</summary>
    private static GuestSystem WithCountingDbHandler(CpuHarness h, bool setRf = false, int ist = 0)
    {
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a =>
        {
            a.inc(__qword_ptr[Counter]);
            if (setRf)
            {
                a.or(__qword_ptr[rsp + 16], 0x10000);
            }
            a.iretq();
        }), ist: ist);
        return g;
    }

    private static void SetTf(Assembler a)
    {
        a.pushfq();
        a.or(__qword_ptr[rsp], 0x100);
        a.popfq();
    }

    [Test]
    public void SingleStep_TrapsAfterEveryInstructionThatStartsWithTf()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        WithCountingDbHandler(h);
        h.Load(a =>
        {
            SetTf(a);                         // no trap after the POPF that sets TF
            a.nop();                          // 1
            a.nop();                          // 2
            a.pushfq();                       // 3
            a.and(__qword_ptr[rsp], ~0x100);  // 4
            a.popfq();                        // 5: TF was set when it started
            a.nop();
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(5));
        Assert.That(h.Cpu.State.Dr[6] & (1 << 14), Is.Not.Zero, "DR6.BS");
        Assert.That(h.Flags & CpuState.FlagTf, Is.Zero);
    }

    [Test]
    public void SingleStep_PushesNextRipAndClearsTfInHandler()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            SetTf(a);
            a.nop();
            a.nop();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        ulong rsp = h.Cpu.State.Gpr[4];
        Assert.That(h.Memory.Read(rsp, 8), Is.EqualTo(h.EndRip - 1), "RIP after the first NOP");
        Assert.That(h.Memory.Read(rsp + 16, 8) & CpuState.FlagTf, Is.Not.Zero);
        Assert.That(h.Flags & CpuState.FlagTf, Is.Zero);
    }

    [Test]
    public void SingleStep_WithDebugCtlBtf_TrapsOnlyOnBranches()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        WithCountingDbHandler(h);
        h.Cpu.State.DebugCtl = 2;
        h.Load(a =>
        {
            Label l1 = a.CreateLabel();
            Label l2 = a.CreateLabel();
            SetTf(a);
            a.nop();
            a.jmp(l1);         // 1
            a.nop();
            a.Label(ref l1);
            a.nop();
            a.xor(eax, eax);
            a.jnz(l2);         // not taken: no trap
            a.jz(l2);          // 2
            a.nop();
            a.Label(ref l2);
            a.pushfq();
            a.and(__qword_ptr[rsp], ~0x100);
            a.popfq();
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(2));
    }

    [Test]
    public void InstructionBreakpoint_FaultsBeforeTheInstruction_RfLetsItRun()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a =>
        {
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[Counter + 8], rax);
            a.inc(__qword_ptr[Counter]);
            a.or(__qword_ptr[rsp + 16], 0x10000);
            a.iretq();
        }));
        h.Load(a =>
        {
            a.nop();
            a.mov(ecx, 1);
            a.nop();
        });
        ref CpuState s = ref h.Cpu.State;
        s.Dr[0] = CpuHarness.CodeAddress + 1;
        s.Dr[7] = 0x401;
        h.Cpu.UpdateBreakpoints();
        h.Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(1));
        Assert.That(h.Memory.Read(GuestSystem.Scratch + 8, 8), Is.EqualTo(CpuHarness.CodeAddress + 1), "fault: RIP of the instruction");
        Assert.That(h[Register.ECX], Is.EqualTo(1));
        Assert.That(s.Dr[6] & 0xF, Is.EqualTo(1), "DR6.B0");
        Assert.That(h.Flags & (1 << 16), Is.Zero, "RF cleared after the instruction");
    }

    [Test]
    public void InstructionBreakpoint_SetThroughMovDr_Fires()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.mov(eax, (uint)(CpuHarness.CodeAddress + 20));
            a.mov(dr0, eax);
            a.mov(eax, 0x402); // G0
            a.mov(dr7, eax);
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.nop();
            a.nop();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Memory.Read(h.Cpu.State.Gpr[4], 4), Is.EqualTo(CpuHarness.CodeAddress + 20));
    }

    [Test]
    public void Int1_DeliversDebugTrapWithoutGateDplCheck()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a => a.hlt()));
        g.EnterUser();
        h.Load(a => a.int1());
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(1));
        Assert.That(h.Memory.Read(h.Cpu.State.Gpr[4], 8), Is.EqualTo(h.EndRip));
    }

    [Test]
    public void DataBreakpoint_Write_TrapsAfterOverlappingWritesOnly()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a =>
        {
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[Counter + 8], rax);
            a.inc(__qword_ptr[Counter]);
            a.iretq();
        }));
        ref CpuState s = ref h.Cpu.State;
        s.Dr[1] = GuestSystem.Scratch + 0x100;
        s.Dr[7] = 0x400 | (1 << 2) | (0xD << 20); // L1, R/W1 = 01 (write), LEN1 = 11 (4 bytes)
        h.Cpu.UpdateBreakpoints();
        h.Load(a =>
        {
            a.mov(__dword_ptr[Counter + 0x100], eax);  // hit
            a.mov(ebx, __dword_ptr[Counter + 0x100]);  // read: no hit
            a.mov(__dword_ptr[Counter + 0x104], eax);  // next dword: no hit
            a.mov(__word_ptr[Counter + 0xFF], ax);     // overlaps the first byte: hit
            a.nop();
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(2));
        Assert.That(h.Memory.Read(GuestSystem.Scratch + 8, 8), Is.EqualTo(h.EndRip - 1), "trap: RIP after the write");
        Assert.That(s.Dr[6] & 0xF, Is.EqualTo(2), "DR6.B1");
    }

    [Test]
    public void DataBreakpoint_ReadWrite_CatchesStackPushes()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        // The handler runs on its IST stack, away from the watched slot (its own frame would hit it otherwise).
        WithCountingDbHandler(h, ist: 1);
        ref CpuState s = ref h.Cpu.State;
        s.Dr[0] = CpuHarness.StackTop - 8;
        s.Dr[7] = 0x400 | 1 | (0xB << 16); // L0, R/W0 = 11, LEN0 = 10 (8 bytes)
        h.Cpu.UpdateBreakpoints();
        h.Load(a =>
        {
            a.push(rax); // write: hit
            a.pop(rbx);  // read: hit
            a.nop();
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(2));
    }

    [Test]
    public void SingleStep_AfterMovSs_IsDelayedByOneInstruction()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a =>
        {
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[Counter + 8], rax);
            a.inc(__qword_ptr[Counter]);
            a.and(__qword_ptr[rsp + 16], ~0x100); // stop stepping
            a.iretq();
        }));
        h.Load(a =>
        {
            a.mov(eax, ss);
            SetTf(a);
            a.mov(ss, eax);  // the trap it would cause waits
            a.nop();         // one #DB after this instruction
            a.nop();
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 8), Is.EqualTo(1));
        Assert.That(h.Memory.Read(GuestSystem.Scratch + 8, 8), Is.EqualTo(h.EndRip - 1));
        Assert.That(h.Cpu.State.Dr[6] & (1 << 14), Is.Not.Zero);
    }
}
