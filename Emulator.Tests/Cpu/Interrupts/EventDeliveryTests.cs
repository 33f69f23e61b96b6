using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Interrupts;

/// <summary>Exception and interrupt delivery in each mode (SDM Vol. 3A chapter 6 "Interrupt and Exception Handling").</summary>
public class EventDeliveryTests
{
    private const ulong RfBit = 1 << 16;

    private static ulong Stack(CpuHarness h, int slot, int size = 8) =>
        h.Memory.Read(h.Cpu.State.Seg[(int)SegReg.Ss].Base + h.Cpu.State.Gpr[4] + (ulong)(slot * size), size);

    // ------------------------------------------------------------------ real mode

    [Test]
    public void RealMode_IntN_PushesFlagsCsIpAndIretReturns()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.mov(bx, 0x1234);
            a.iret();
        });
        g.SetIvt(0x21, handler);
        h.Load(a =>
        {
            a.sti();
            a.@int(0x21);
            a.mov(cx, 7);
        }).Run();
        Assert.That(h[Register.BX], Is.EqualTo(0x1234));
        Assert.That(h[Register.CX], Is.EqualTo(7));
        Assert.That(h.Flags & CpuState.FlagIf, Is.Not.Zero, "IRET restores IF");
        Assert.That(h[Register.SP], Is.EqualTo(0));
    }

    [Test]
    public void RealMode_DivideError_PushesFaultingIp()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a => a.hlt());
        g.SetIvt(0, handler);
        h.Load(a =>
        {
            a.xor(cx, cx);
            a.div(cx);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(0));
        Assert.That(Stack(h, 0, 2), Is.EqualTo(2), "IP of DIV");
        Assert.That(Stack(h, 1, 2), Is.EqualTo(CpuHarness.CodeAddress >> 4), "CS");
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Cs].Base, Is.EqualTo(handler & ~0xFUL));
    }

    // ------------------------------------------------------------------ 32-bit protected mode

    [Test]
    public void Protected32_IntN_RoundTripThroughInterruptGate()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.pushfd();
            a.pop(ebx);
            a.iretd();
        });
        g.SetGate(0x40, handler);
        h.Load(a =>
        {
            a.sti();
            a.@int(0x40);
            a.mov(ecx, 5);
        }).Run();
        Assert.That(h[Register.EBX] & CpuState.FlagIf, Is.Zero, "interrupt gate clears IF");
        Assert.That(h.Flags & CpuState.FlagIf, Is.Not.Zero);
        Assert.That(h[Register.ECX], Is.EqualTo(5));
        Assert.That(h[Register.ESP], Is.EqualTo(CpuHarness.StackTop));
    }

    [Test]
    public void Protected32_TrapGate_KeepsIf()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.pushfd();
            a.pop(ebx);
            a.iretd();
        });
        g.SetGate(0x40, handler, type: 0xF);
        h.Load(a =>
        {
            a.sti();
            a.@int(0x40);
        }).Run();
        Assert.That(h[Register.EBX] & CpuState.FlagIf, Is.Not.Zero);
    }

    [Test]
    public void Protected32_GeneralProtection_PushesSelectorErrorAndFaultingEip()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(13, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.mov(eax, 0x1237);
            a.mov(ds, ax);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(Stack(h, 0, 4), Is.EqualTo(0x1234), "error code: index and TI, RPL dropped");
        Assert.That(Stack(h, 1, 4), Is.EqualTo(CpuHarness.CodeAddress + 5), "EIP of MOV DS");
        Assert.That(Stack(h, 2, 4), Is.EqualTo(GuestSystem.KernelCs));
        Assert.That(Stack(h, 3, 4) & RfBit, Is.Not.Zero, "faults push RF = 1");
        Assert.That(h[Register.ESP], Is.EqualTo(CpuHarness.StackTop - 16));
    }

    [Test]
    public void Protected32_PrivilegeChange_UsesTssStackAndPushesOuterSsEsp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(0x80, g.Handler(a => a.hlt()), dpl: 3);
        g.EnterUser();
        h.Load(a => a.@int(0x80));
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        ref CpuState s = ref h.Cpu.State;
        Assert.That(s.Cpl, Is.EqualTo(0));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(GuestSystem.KernelDs));
        Assert.That(s.Gpr[4], Is.EqualTo(GuestSystem.KernelStackTop - 20));
        Assert.That(Stack(h, 0, 4), Is.EqualTo(CpuHarness.CodeAddress + 2), "EIP after INT");
        Assert.That(Stack(h, 1, 4), Is.EqualTo(GuestSystem.UserCs32));
        Assert.That(Stack(h, 3, 4), Is.EqualTo(GuestSystem.UserStackTop));
        Assert.That(Stack(h, 4, 4), Is.EqualTo(GuestSystem.UserDs));
    }

    [Test]
    public void Protected32_IretToOuterLevel_RestoresUserStackAndNullsKernelSegments()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.mov(ax, GuestSystem.KernelDs);
            a.mov(es, ax);
            a.mov(ebx, 0xBEEF);
            a.iretd();
        });
        g.SetGate(0x80, handler, dpl: 3);
        g.EnterUser();
        h.Load(a =>
        {
            a.@int(0x80);
            a.nop();
        }).Run();
        ref CpuState s = ref h.Cpu.State;
        Assert.That(h[Register.EBX], Is.EqualTo(0xBEEF));
        Assert.That(s.Cpl, Is.EqualTo(3));
        Assert.That(s.Gpr[4], Is.EqualTo(GuestSystem.UserStackTop));
        Assert.That(s.Seg[(int)SegReg.Es].Selector, Is.EqualTo(0), "DPL-0 data segment nulled on return to ring 3");
    }

    [Test]
    public void Protected32_SoftwareIntThroughDpl0Gate_FromRing3_IsGpWithIdtErrorCode()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(0x41, g.Handler(a => a.hlt()));
        g.SetGate(13, g.Handler(a => a.hlt()));
        g.EnterUser();
        h.Load(a => a.@int(0x41));
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(0x41));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(13));
        Assert.That(Stack(h, 0, 4), Is.EqualTo(0x41 * 8 + 2), "IDT bit set, EXT clear for INT n");
        Assert.That(Stack(h, 1, 4), Is.EqualTo(CpuHarness.CodeAddress), "points at INT");
    }

    [Test]
    public void Protected32_TaskGate_SwitchesTaskAndIretReturns()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong task = g.Handler(a =>
        {
            a.mov(__dword_ptr[(int)GuestSystem.Scratch], 0x5A5A);
            a.iretd();
        });
        // Second TSS: the handler task with its own stack; EFLAGS bit 1 only.
        h.Memory.Write(GuestSystem.Tss2 + 0x20, 4, task);
        h.Memory.Write(GuestSystem.Tss2 + 0x24, 4, 2);
        h.Memory.Write(GuestSystem.Tss2 + 0x38, 4, 0x58000);
        h.Memory.Write(GuestSystem.Tss2 + 0x4C, 2, GuestSystem.KernelCs);
        foreach (int off in new[] { 0x48, 0x50, 0x54, 0x58, 0x5C })
        {
            h.Memory.Write(GuestSystem.Tss2 + (ulong)off, 2, GuestSystem.KernelDs);
        }
        g.WriteTssDescriptor(GuestSystem.Tss2Sel, GuestSystem.Tss2, 0x67, long64: false);
        g.SetGate(0x50, 0, type: 5, selector: GuestSystem.Tss2Sel);
        h.Load(a =>
        {
            a.mov(ecx, 1);
            a.@int(0x50);
            a.mov(edx, 2);
        }).Run();
        Assert.That(h.Memory.Read(GuestSystem.Scratch, 4), Is.EqualTo(0x5A5A), "the handler task ran");
        Assert.That(h[Register.EDX], Is.EqualTo(2));
        Assert.That(h[Register.ECX], Is.EqualTo(1), "restored from the outgoing TSS");
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Tr].Selector, Is.EqualTo(GuestSystem.TssSel));
        Assert.That(h.Memory.Read(GuestSystem.Tss2, 2), Is.EqualTo(GuestSystem.TssSel), "back link");
        Assert.That((g.GetGdt(GuestSystem.Tss2Sel) >> 40) & 0xF, Is.EqualTo(9), "IRET cleared the handler task's busy bit");
        Assert.That(h.Cpu.State.Cr0 & CpuState.Cr0Ts, Is.Not.Zero);
    }

    // ------------------------------------------------------------------ IA-32e mode

    [Test]
    public void Long64_IntN_RoundTripWithIretq()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.mov(rbx, 0x1122334455667788);
            a.iretq();
        });
        g.SetGate(0x40, handler);
        h.Load(a =>
        {
            a.@int(0x40);
            a.mov(ecx, 9);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(0x1122334455667788));
        Assert.That(h[Register.RCX], Is.EqualTo(9));
        Assert.That(h[Register.RSP], Is.EqualTo(CpuHarness.StackTop));
    }

    [Test]
    public void Long64_PageFault_PushesErrorCodeAndSetsCr2()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(14, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.mov(rax, 0x40001234);
            a.mov(__qword_ptr[rax], rbx);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.State.Cr2, Is.EqualTo(0x40001234));
        Assert.That(Stack(h, 0), Is.EqualTo(2), "not present, write, supervisor");
        Assert.That(Stack(h, 1), Is.EqualTo(h.EndRip - 3), "RIP of the faulting MOV");
        Assert.That(Stack(h, 2), Is.EqualTo(GuestSystem.KernelCs));
        Assert.That(Stack(h, 4), Is.EqualTo(CpuHarness.StackTop), "RSP always pushed");
        Assert.That(Stack(h, 5), Is.EqualTo(0x10), "SS always pushed");
    }

    [Test]
    public void Long64_StackIsAlignedTo16()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(0x40, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.sub(rsp, 8);
            a.@int(0x40);
        });
        h.RunToStop();
        Assert.That(h[Register.RSP], Is.EqualTo(CpuHarness.StackTop - 16 - 40));
        Assert.That(Stack(h, 3), Is.EqualTo(CpuHarness.StackTop - 8), "the unaligned RSP is what is saved");
    }

    [Test]
    public void Long64_Ist_SwitchesStackEvenWithoutPrivilegeChange()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(2, g.Handler(a => a.hlt()), ist: 1);
        h.Load(a => a.@int(2));
        h.RunToStop();
        Assert.That(h[Register.RSP], Is.EqualTo((GuestSystem.IstStackTop & ~0xFUL) - 40));
        Assert.That(Stack(h, 3), Is.EqualTo(CpuHarness.StackTop));
    }

    [Test]
    public void Long64_FromRing3_LoadsRsp0AndNullSs()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(0x80, g.Handler(a => a.hlt()), dpl: 3);
        g.EnterUser();
        h.Load(a => a.@int(0x80));
        h.RunToStop();
        ref CpuState s = ref h.Cpu.State;
        Assert.That(s.Cpl, Is.EqualTo(0));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(0), "null SS with RPL = new CPL");
        Assert.That(s.Gpr[4], Is.EqualTo(GuestSystem.KernelStackTop - 40));
        Assert.That(Stack(h, 1), Is.EqualTo(GuestSystem.UserCs64));
        Assert.That(Stack(h, 3), Is.EqualTo(GuestSystem.UserStackTop));
        Assert.That(Stack(h, 4), Is.EqualTo(GuestSystem.UserDs));
    }

    [Test]
    public void Long64_IretqToRing3AndBack()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong user = g.Handler(a =>
        {
            a.mov(ecx, 3);
            a.@int(0x80);
        });
        g.SetGate(0x80, g.Handler(a => a.hlt()), dpl: 3);
        h.Load(a =>
        {
            a.push(GuestSystem.UserDs);
            a.push((int)GuestSystem.UserStackTop);
            a.push(0x202);
            a.push(GuestSystem.UserCs64);
            a.push((int)user);
            a.iretq();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h[Register.RCX], Is.EqualTo(3));
        Assert.That(Stack(h, 0), Is.EqualTo(user + 7), "RIP after INT 0x80 in user code");
        Assert.That(Stack(h, 2) & CpuState.FlagIf, Is.Not.Zero);
    }

    [Test]
    public void Long64_NotPresentGate_IsNpWithIdtAndExtBits()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(6, 0x1234, present: false);
        g.SetGate(11, g.Handler(a => a.hlt()));
        h.Load(a => a.ud2());
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(11));
        Assert.That(Stack(h, 0), Is.EqualTo(6 * 8 + 2 + 1));
    }

    [Test]
    public void Long64_VectorBeyondIdtLimit_IsGpWithIdtErrorCode()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(13, g.Handler(a => a.hlt()));
        h.Cpu.State.Idtr.Limit = 0x40 * 16 - 1;
        h.Load(a => a.@int(0x50));
        h.RunToStop();
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(13));
        Assert.That(Stack(h, 0), Is.EqualTo(0x50 * 8 + 2));
    }

    [Test]
    public void Long64_GpDuringGpDelivery_IsDoubleFault()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(13, 0x1000, selector: 0); // null code selector: #GP while delivering #GP
        g.SetGate(8, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.mov(eax, 0x1234);
            a.mov(ds, ax);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13), "the original event is recorded");
        Assert.That(h.Cpu.LastEventError, Is.EqualTo(0x1234));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(8));
        Assert.That(Stack(h, 0), Is.EqualTo(0), "#DF error code is 0");
        Assert.That(Stack(h, 1), Is.EqualTo(CpuHarness.CodeAddress + 5));
    }

    [Test]
    public void Long64_PageFaultDuringPageFaultDelivery_IsDoubleFault()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(14, g.Handler(a => a.hlt()));
        g.SetGate(8, g.Handler(a => a.hlt()), ist: 1);
        h.Load(a =>
        {
            a.mov(rsp, 0x40002000); // unmapped: pushing the #PF frame faults again
            a.mov(__qword_ptr[rsp], rax);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(8));
    }

    [Test]
    public void Long64_FaultWhileDeliveringDoubleFault_IsTripleFault()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(13, 0x1000, selector: 0);
        h.Load(a =>
        {
            a.mov(eax, 0x1234);
            a.mov(ds, ax);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.TripleFault));
        Assert.That(h.Cpu.LastStopMessage, Does.Contain("triple fault"));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }

    [Test]
    public void Long64_Int3_PushesNextRip()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(3, g.Handler(a => a.hlt()), dpl: 3);
        h.Load(a =>
        {
            a.nop();
            a.int3();
        });
        h.RunToStop();
        Assert.That(Stack(h, 0), Is.EqualTo(CpuHarness.CodeAddress + 2));
        Assert.That(Stack(h, 2) & RfBit, Is.Zero, "traps push RF as it was");
    }

    [Test]
    public void Long64_CompatibilityModeCode_DeliversTo64BitHandler()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(0x40, g.Handler(a => a.hlt()));
        // Run the snippet as 32-bit compatibility-mode code.
        h.Cpu.State.Seg[(int)SegReg.Cs].LoadDescriptor(GuestSystem.KernelCs32, g.GetGdt(GuestSystem.KernelCs32));
        h.Cpu.InvalidateFetch();
        var asm = new Assembler(32);
        asm.@int(0x40);
        h.LoadBytes(asm.ToBytes(CpuHarness.CodeAddress));
        h.RunToStop();
        Assert.That(h.Cpu.State.Is64, Is.True);
        Assert.That(Stack(h, 1), Is.EqualTo(GuestSystem.KernelCs32));
    }

    [Test]
    public void InterruptAndExceptionRoundTrips_DoNotAllocate()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(0x40, g.Handler(a => a.iretq()));
        // #GP handler: skip the 2-byte MOV DS, drop the error code, return.
        g.SetGate(13, g.Handler(a =>
        {
            a.add(__qword_ptr[rsp + 8], 2);
            a.add(rsp, 8);
            a.iretq();
        }));
        h.Load(a =>
        {
            Label top = a.CreateLabel();
            a.mov(eax, 0x1234);
            a.Label(ref top);
            a.@int(0x40);
            a.mov(ds, eax); // 8E D8: two bytes, no operand-size prefix
            a.jmp(top);
        });
        Assert.That(h.Cpu.Run(500_000), Is.EqualTo(StopReason.Budget));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(h.Cpu.Run(200_000), Is.EqualTo(StopReason.Budget));
        // About 60,000 events ran: one allocation per event would be megabytes. The runtime's tiered-PGO
        // instrumentation can allocate a few bytes on this thread while methods are still instrumented
        // (0 with DOTNET_TieredPGO=0), so a small constant is tolerated.
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1024));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(13).Or.EqualTo(0x40));
    }
}
