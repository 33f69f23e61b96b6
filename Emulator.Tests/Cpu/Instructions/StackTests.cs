using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class StackTests
{
    private const ulong Top = CpuHarness.StackTop;

    /// <summary>The harness's initial stack pointer as a number that pushes count down from (SP = 0 in real mode, SS base 60000h).</summary>
    private static ulong Sp0(CpuHarness h) => h.Mode == CpuMode.Real16 ? 0x1_0000 : Top;

    /// <summary>Expected stack pointer after <paramref name="pushed"/> bytes more were pushed than popped.</summary>
    private static ulong SpAfter(CpuHarness h, ulong pushed) => (Sp0(h) - pushed) & (h.Mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue);

    private static ulong Sp(CpuHarness h) => h.Mode == CpuMode.Real16 ? h[Register.SP] : h[Register.RSP];

    private static void StopOnFault(CpuHarness h) => h.Cpu.State.Idtr.Limit = 0;

    private static int NativeSize(CpuMode mode) => mode switch
    {
        CpuMode.Real16 => 2,
        CpuMode.Protected32 => 4,
        _ => 8,
    };

    [Test]
    public void PushPop_NativeRegister_MovesStackPointerByOperandSize([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        int n = NativeSize(mode);
        h[Register.RAX] = 0x1122_3344_5566_7788UL & (n == 8 ? ulong.MaxValue : (1UL << (n * 8)) - 1);
        h.Load(a =>
        {
            switch (mode)
            {
                case CpuMode.Real16: a.push(ax); break;
                case CpuMode.Protected32: a.push(eax); break;
                default: a.push(rax); break;
            }
        }).Run();
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - (ulong)n));
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(h[Register.RAX]));

        ulong ip = h.EndRip;
        h.Load(a =>
        {
            switch (mode)
            {
                case CpuMode.Real16: a.pop(bx); break;
                case CpuMode.Protected32: a.pop(ebx); break;
                default: a.pop(rbx); break;
            }
        }).Run();
        Assert.That(Sp(h), Is.EqualTo(SpAfter(h, 0)), $"after pop at {ip:X}");
        Assert.That(h[Register.RBX], Is.EqualTo(h[Register.RAX]));
    }

    [Test]
    public void PushPop_OtherOperandSize_Uses66Prefix([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RAX] = 0xAABB_CCDD;
        h[Register.RCX] = 0;
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.push(eax);
            }
            else
            {
                a.push(ax);
            }
        }).Run();
        ulong size = mode == CpuMode.Real16 ? 4UL : 2UL;
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - size));
        Assert.That(h.Memory.Read(Top - size, (int)size), Is.EqualTo(0xAABB_CCDDUL & (size == 4 ? 0xFFFF_FFFFUL : 0xFFFF)));
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.pop(ecx);
            }
            else
            {
                a.pop(cx);
            }
        }).Run();
        Assert.That(Sp(h), Is.EqualTo(SpAfter(h, 0)));
        Assert.That(h[Register.RCX], Is.EqualTo(0xAABB_CCDDUL & (size == 4 ? 0xFFFF_FFFFUL : 0xFFFF)));
    }

    [Test]
    public void RealMode_PushAtSpZero_WrapsTo0xFFFE()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h[Register.RAX] = 0x1234;
        h.Load(a => a.push(ax)).Run();
        Assert.That(h[Register.RSP], Is.EqualTo(0xFFFEUL));
        Assert.That(h.Memory.Read(0x6FFFE, 2), Is.EqualTo(0x1234UL));
    }

    [Test]
    public void Push_Immediates_SignExtendToOperandSize([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Load(a =>
        {
            a.push(-2);
            a.push(0x1234);
        }).Run();
        int n = NativeSize(mode);
        ulong mask = n == 8 ? ulong.MaxValue : (1UL << (n * 8)) - 1;
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(0xFFFF_FFFF_FFFF_FFFEUL & mask));
        Assert.That(h.Memory.Read(Top - (ulong)(2 * n), n), Is.EqualTo(0x1234UL));
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - (ulong)(2 * n)));
    }

    [Test]
    public void Push_Imm32In64BitMode_SignExtendsTo64()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.push(unchecked((int)0x8000_0000))).Run();
        Assert.That(h.Memory.Read(Top - 8, 8), Is.EqualTo(0xFFFF_FFFF_8000_0000UL));
    }

    [Test]
    public void PushStackPointer_PushesValueBeforeThePush([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Load(a =>
        {
            switch (mode)
            {
                case CpuMode.Real16: a.push(sp); break;
                case CpuMode.Protected32: a.push(esp); break;
                default: a.push(rsp); break;
            }
        }).Run();
        int n = NativeSize(mode);
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(SpAfter(h, 0)));
    }

    [Test]
    public void PopStackPointer_LoadsThePoppedValue()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Top, 8, 0x5_0000);
        h.Load(a => a.pop(rsp)).Run();
        Assert.That(h[Register.RSP], Is.EqualTo(0x5_0000UL));
    }

    [Test]
    public void PushMemory_AddressedThroughRsp_UsesRspBeforeThePush()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Top, 8, 0xDEAD_BEEF_0000_0001);
        h.Load(a => a.push(__qword_ptr[rsp])).Run();
        Assert.That(h.Memory.Read(Top - 8, 8), Is.EqualTo(0xDEAD_BEEF_0000_0001UL));
    }

    [Test]
    public void PopMemory_AddressedThroughRsp_UsesIncrementedRsp([Values(CpuMode.Protected32, CpuMode.Long64)] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Load(a =>
        {
            a.push(0x1111);
            a.push(0x2222);
            if (mode == CpuMode.Long64)
            {
                a.pop(__qword_ptr[rsp]);
            }
            else
            {
                a.pop(__dword_ptr[esp]);
            }
        }).Run();
        ulong n = (ulong)NativeSize(mode);
        Assert.That(h[Register.RSP], Is.EqualTo(Top - n));
        Assert.That(h.Memory.Read(Top - n, (int)n), Is.EqualTo(0x2222UL));
    }

    [Test]
    public void PopMemory_WriteFaults_LeavesRspUnchanged()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h[Register.RBX] = 0x8000_0000_0000_0000;
        h[Register.RSP] = Top - 8;
        h.Load(a => a.pop(__qword_ptr[rbx]));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.RSP], Is.EqualTo(Top - 8));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
    }

    [Test]
    public void PopRegister_Rm64Form_Works()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Top, 8, 77);
        h.LoadBytes([0x8F, 0xC1]).Run(); // pop rcx via 8F /0
        Assert.That(h[Register.RCX], Is.EqualTo(77UL));
        Assert.That(h[Register.RSP], Is.EqualTo(Top + 8));
    }

    // ------------------------------------------------------------------ PUSHA / POPA

    [Test]
    public void PushaPopa_16And32Bit_SaveAndRestoreAllButSp([Values(CpuMode.Real16, CpuMode.Protected32)] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        for (int r = 0; r < 8; r++)
        {
            if (r != 4)
            {
                h.Cpu.State.Gpr[r] = 0x1000_0000UL * (ulong)(r + 1) + (ulong)r;
            }
        }
        ulong sp0 = h.Cpu.State.Gpr[4];
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.pusha();
            }
            else
            {
                a.pushad();
            }
        }).Run();
        int n = NativeSize(mode);
        ulong mask = n == 2 ? 0xFFFFUL : 0xFFFF_FFFFUL;
        for (int r = 0; r < 8; r++)
        {
            ulong expected = r == 4 ? sp0 & mask : h.Cpu.State.Gpr[r] & mask;
            Assert.That(h.Memory.Read(Top - (ulong)((r + 1) * n), n), Is.EqualTo(expected), $"slot of register {r}");
        }
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - (ulong)(8 * n)));

        // Clobber everything but the stack pointer, and plant a bogus SP image that POPA must skip.
        for (int r = 0; r < 8; r++)
        {
            if (r != 4)
            {
                h.Cpu.State.Gpr[r] = 0;
            }
        }
        h.Memory.Write(Top - (ulong)(5 * n), n, 0x1234);
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.popa();
            }
            else
            {
                a.popad();
            }
        }).Run();
        for (int r = 0; r < 8; r++)
        {
            if (r != 4)
            {
                Assert.That(h.Cpu.State.Gpr[r], Is.EqualTo((0x1000_0000UL * (ulong)(r + 1) + (ulong)r) & mask), $"register {r}");
            }
        }
        Assert.That(Sp(h), Is.EqualTo(SpAfter(h, 0)));
    }

    [Test]
    public void Pusha_64BitMode_RaisesUd()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h.LoadBytes([0x60]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    // ------------------------------------------------------------------ ENTER / LEAVE

    [Test]
    public void Enter_Level0_PushesFrameAndAllocates([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        int n = NativeSize(mode);
        h[Register.RBP] = 0x4321;
        h.Load(a => a.enter(0x20, 0)).Run();
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(0x4321UL));
        ulong bp = h.Mode == CpuMode.Real16 ? h[Register.BP] : h[Register.RBP];
        Assert.That(bp, Is.EqualTo(Sp0(h) - (ulong)n));
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - (ulong)n - 0x20));
    }

    [Test]
    public void Enter_Level3_CopiesOuterFramePointers([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        int n = NativeSize(mode);
        ulong frame = Top - 0x100;                                  // linear address of the caller's frame
        ulong frameOffset = frame - (Top - Sp0(h));                 // the same as an SS offset
        h.Memory.Write(frame - (ulong)n, n, 0xA1);
        h.Memory.Write(frame - (ulong)(2 * n), n, 0xA2);
        h[Register.RBP] = frameOffset;
        h.Load(a => a.enter(8, 3)).Run();
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(frameOffset), "old rBP");
        Assert.That(h.Memory.Read(Top - (ulong)(2 * n), n), Is.EqualTo(0xA1UL));
        Assert.That(h.Memory.Read(Top - (ulong)(3 * n), n), Is.EqualTo(0xA2UL));
        Assert.That(h.Memory.Read(Top - (ulong)(4 * n), n), Is.EqualTo(Sp0(h) - (ulong)n), "new frame pointer");
        ulong bp = h.Mode == CpuMode.Real16 ? h[Register.BP] : h[Register.RBP];
        Assert.That(bp, Is.EqualTo(Sp0(h) - (ulong)n));
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) - (ulong)(4 * n) - 8));
    }

    [Test]
    public void Enter_Level1_PushesOnlyTheNewFramePointer()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RBP] = 0x1234;
        h.Load(a => a.enter(0, 1)).Run();
        Assert.That(h.Memory.Read(Top - 8, 8), Is.EqualTo(0x1234UL));
        Assert.That(h.Memory.Read(Top - 16, 8), Is.EqualTo(Top - 8));
        Assert.That(h[Register.RSP], Is.EqualTo(Top - 16));
        Assert.That(h[Register.RBP], Is.EqualTo(Top - 8));
    }

    [Test]
    public void EnterLeave_RoundTrip_RestoresRbpAndRsp([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RBP] = 0x777;
        ulong sp0 = h.Cpu.State.Gpr[4];
        h.Load(a =>
        {
            a.enter(0x40, 2);
            a.leave();
        }).Run();
        Assert.That(h[Register.RBP], Is.EqualTo(0x777UL));
        Assert.That(h.Cpu.State.Gpr[4], Is.EqualTo(sp0));
    }

    [Test]
    public void Leave_16BitOperandIn64BitMode_PopsBpOnly()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Top - 0x10, 2, 0xBEEF);
        h[Register.RBP] = Top - 0x10;
        h.LoadBytes([0x66, 0xC9]).Run(); // leavew
        Assert.That(h[Register.RSP], Is.EqualTo(Top - 0x0E));
        Assert.That(h[Register.RBP], Is.EqualTo((Top - 0x10) & ~0xFFFFUL | 0xBEEF));
    }
}
