using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu.Interrupts;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>Segment loads and far transfers (SDM Vol. 3A chapter 5 "Protection").</summary>
public class SegmentTests
{
    private const int Data = (int)CpuHarness.DataAddress;

    private static void AssertFault(CpuHarness h, int vector, uint? error = null)
    {
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(vector), h.Cpu.LastStopMessage);
        if (error is { } e)
        {
            Assert.That(h.Cpu.LastEventError, Is.EqualTo(e));
        }
    }

    private static void LoadDs(Assembler a, int selector)
    {
        a.mov(eax, selector);
        a.mov(ds, ax);
    }

    // ------------------------------------------------------------------ MOV Sreg

    [Test]
    public void MovDs_LoadsDescriptorAndSetsAccessedBit()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0x12000, 0xFFF, 0x12, 0, flags: 0x4));
        h.Load(a => LoadDs(a, GuestSystem.Spare)).Run();
        ref Segment ds = ref h.Cpu.State.Seg[(int)SegReg.Ds];
        Assert.That(ds.Base, Is.EqualTo(0x12000));
        Assert.That(ds.Limit, Is.EqualTo(0xFFF));
        Assert.That((g.GetGdt(GuestSystem.Spare) >> 40) & 1, Is.EqualTo(1), "accessed");
    }

    [Test]
    public void MovDs_SelectorBeyondGdtLimit_IsGpWithSelector()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a => LoadDs(a, 0x1003));
        AssertFault(h, 13, 0x1000);
    }

    [Test]
    public void MovDs_NotPresent_IsNp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFFFF, 0x12, 0, present: false));
        h.Load(a => LoadDs(a, GuestSystem.Spare));
        AssertFault(h, 11, GuestSystem.Spare);
    }

    [Test]
    public void MovDs_ExecuteOnlyCode_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFFFF, 0x18, 0));
        h.Load(a => LoadDs(a, GuestSystem.Spare));
        AssertFault(h, 13, GuestSystem.Spare);
    }

    [Test]
    public void MovDs_ReadableConformingCodeAtRing3_IsAllowed()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFFFF, 0x1E, 0));
        g.EnterUser();
        h.Load(a => LoadDs(a, GuestSystem.Spare | 3)).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Ds].Selector, Is.EqualTo(GuestSystem.Spare | 3));
    }

    [Test]
    public void MovDs_KernelDataAtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h).EnterUser();
        h.Load(a => LoadDs(a, GuestSystem.KernelDs | 3));
        AssertFault(h, 13, GuestSystem.KernelDs);
    }

    [Test]
    public void MovSs_RplNotCpl_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.mov(eax, GuestSystem.Ring1Ds);
            a.mov(ss, ax);
        });
        AssertFault(h, 13, GuestSystem.Ring1Ds & ~3u);
    }

    [Test]
    public void MovSs_NotPresent_IsStackFault()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFFFF, 0x12, 0, present: false));
        h.Load(a =>
        {
            a.mov(eax, GuestSystem.Spare);
            a.mov(ss, ax);
        });
        AssertFault(h, 12, GuestSystem.Spare);
    }

    [Test]
    public void MovSs_Null_IsGpOutside64BitMode()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovSs_NullIn64BitModeAtRing0_IsAllowed_AtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
            a.push(rax);
            a.pop(rbx);
        }).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(0));

        using var h2 = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h2).EnterUser();
        h2.Load(a =>
        {
            a.mov(eax, 3);
            a.mov(ss, ax);
        });
        AssertFault(h2, 13, 0);
    }

    [Test]
    public void NullDs_In32BitMode_FaultsOnUse()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a =>
        {
            LoadDs(a, 0);
            a.mov(ebx, __dword_ptr[Data]);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovFs_NullIn64BitMode_ClearsBase()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h);
        h.Cpu.State.Seg[(int)SegReg.Fs].Base = 0x1234;
        h.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(fs, ax);
        }).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Fs].Base, Is.EqualTo(0));
    }

    [Test]
    public void MovFromSreg_ZeroExtendsIntoA32BitRegister()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = ulong.MaxValue;
        h.Load(a => a.mov(eax, ds)).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0x10));
    }

    [Test]
    public void MovSs_BlocksInterruptsForOneInstruction()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.mov(eax, GuestSystem.KernelDs);
            a.mov(ss, ax);
            a.nop();
        });
        h.Cpu.Run(2);
        Assert.That(h.Cpu.InterruptShadow, Is.True);
    }

    // ------------------------------------------------------------------ PUSH/POP Sreg, far pointers

    [Test]
    public void PushPopFsGs_In64BitMode()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.mov(rax, 0x1111_2222_3333_4444);
            a.push(rax);
            a.pop(rax);
            a.push(fs);
            a.pop(gs);
        }).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Gs].Selector, Is.EqualTo(0x10));
        Assert.That(h.Memory.Read(CpuHarness.StackTop - 8, 8), Is.EqualTo(0x1111_2222_3333_0010UL), "16-bit write into the slot");
        Assert.That(h[Register.RSP], Is.EqualTo(CpuHarness.StackTop));
    }

    [Test]
    public void LdsAndLss_LoadOffsetAndSelector()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Memory.Write(CpuHarness.DataAddress, 4, 0x5000);
        h.Memory.Write(CpuHarness.DataAddress + 4, 2, GuestSystem.KernelDs);
        h.Load(a =>
        {
            a.lss(esp, __fword_ptr[Data]);
            a.les(ebx, __fword_ptr[Data]);
        }).Run();
        Assert.That(h[Register.ESP], Is.EqualTo(0x5000));
        Assert.That(h[Register.EBX], Is.EqualTo(0x5000));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Es].Selector, Is.EqualTo(GuestSystem.KernelDs));
    }

    // ------------------------------------------------------------------ far JMP, CALL, RET

    [Test]
    public void FarJmp_RealMode_LoadsCsBase()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h.Memory.TryWriteBytes(0x20010, [0xF4]); // hlt
        h.Load(a => a.jmp(0x2000, 0x10));
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Cs].Base, Is.EqualTo(0x20000));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(0x2000));
    }

    [Test]
    public void FarCallAndRetf_SamePrivilege_32Bit()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong target = g.Handler(a =>
        {
            a.mov(ebx, __dword_ptr[esp + 4]);
            a.retf();
        });
        h.Load(a =>
        {
            a.call(GuestSystem.KernelCs32, (uint)target);
            a.mov(ecx, 1);
        }).Run();
        Assert.That(h[Register.EBX], Is.EqualTo(GuestSystem.KernelCs));
        Assert.That(h[Register.ECX], Is.EqualTo(1));
        Assert.That(h[Register.ESP], Is.EqualTo(CpuHarness.StackTop));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(GuestSystem.KernelCs));
    }

    [Test]
    public void FarCallIndirectAndRetfq_64Bit()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong target = g.Handler(a => a.db([0x48, 0xCB])); // RETFQ
        h.Memory.Write(CpuHarness.DataAddress, 8, target);
        h.Memory.Write(CpuHarness.DataAddress + 8, 2, GuestSystem.KernelCs);
        h.Load(a =>
        {
            a.call(__tword_ptr[Data]);
            a.mov(ecx, 1);
        }).Run();
        Assert.That(h[Register.ECX], Is.EqualTo(1));
        Assert.That(h[Register.RSP], Is.EqualTo(CpuHarness.StackTop));
    }

    [Test]
    public void FarJmp_ToDataSegment_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a => a.jmp(GuestSystem.KernelDs, 0));
        AssertFault(h, 13, GuestSystem.KernelDs);
    }

    [Test]
    public void FarJmp_ToNonConformingCodeOfAnotherLevel_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a => a.jmp(GuestSystem.UserCs32, 0));
        AssertFault(h, 13, GuestSystem.UserCs32 & ~3u);
    }

    [Test]
    public void FarJmp_ToNotPresentCode_IsNp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFFFF, 0x1A, 0, present: false));
        h.Load(a => a.jmp(GuestSystem.Spare, 0));
        AssertFault(h, 11, GuestSystem.Spare);
    }

    [Test]
    public void FarJmp_BeyondCodeLimit_IsGp0()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SegmentDescriptor(0, 0xFFF, 0x1A, 0, flags: 0x4));
        h.Load(a => a.jmp(GuestSystem.Spare, 0x2000));
        AssertFault(h, 13, 0);
    }

    [Test]
    public void CallGate_FromRing3_SwitchesStackCopiesParametersAndRetfReturns()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong target = g.Handler(a =>
        {
            a.mov(eax, __dword_ptr[esp + 8]);
            a.mov(ebx, __dword_ptr[esp + 12]);
            a.mov(ecx, __dword_ptr[esp + 16]);
            a.mov(edx, ss);
            a.retf(8);
        });
        // 32-bit call gate, DPL 3, two parameters, to ring-0 code.
        ulong gate = (target & 0xFFFF) | ((ulong)GuestSystem.KernelCs << 16) | (2UL << 32) | (0xECUL << 40) | ((target >> 16) << 48);
        g.SetGdt(GuestSystem.Spare, gate);
        g.EnterUser();
        h.Load(a =>
        {
            a.push(0x11);
            a.push(0x22);
            a.call((ushort)(GuestSystem.Spare | 3), 0);
            a.mov(esi, esp);
        }).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0x22), "parameter 0 (last pushed)");
        Assert.That(h[Register.EBX], Is.EqualTo(0x11));
        Assert.That(h[Register.ECX], Is.EqualTo(GuestSystem.UserStackTop - 8), "caller's ESP");
        Assert.That(h[Register.EDX], Is.EqualTo(GuestSystem.KernelDs));
        Assert.That(h[Register.ESI], Is.EqualTo(GuestSystem.UserStackTop), "RETF 8 released the parameters");
        Assert.That(h.Cpu.State.Cpl, Is.EqualTo(3));
    }

    [Test]
    public void CallGate64_FromRing3_UsesRsp0AndNullSs()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong target = g.Handler(a =>
        {
            a.mov(rax, __qword_ptr[rsp + 8]);
            a.mov(rbx, __qword_ptr[rsp + 16]);
            a.mov(ecx, ss);
            a.mov(rdx, rsp);
            a.db([0x48, 0xCB]); // RETFQ
        });
        ulong gate = (target & 0xFFFF) | ((ulong)GuestSystem.KernelCs << 16) | (0xECUL << 40) | (((target >> 16) & 0xFFFF) << 48);
        g.SetGdt(GuestSystem.Spare, gate);
        g.SetGdt(GuestSystem.Spare + 8, target >> 32);
        h.Memory.Write(CpuHarness.DataAddress + 4, 2, GuestSystem.Spare | 3);
        g.EnterUser();
        h.Load(a =>
        {
            a.call(__fword_ptr[Data]);
            a.mov(esi, 1);
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(GuestSystem.UserCs64), "CS pushed as 8 bytes");
        Assert.That(h[Register.RBX], Is.EqualTo(GuestSystem.UserStackTop), "caller's RSP");
        Assert.That(h[Register.RCX], Is.EqualTo(0), "null SS");
        Assert.That(h[Register.RDX], Is.EqualTo(GuestSystem.KernelStackTop - 32));
        Assert.That(h[Register.ESI], Is.EqualTo(1));
        Assert.That(h.Cpu.State.Cpl, Is.EqualTo(3));
        Assert.That(h[Register.RSP], Is.EqualTo(GuestSystem.UserStackTop));
    }

    [Test]
    public void FarJmp_ToTss_SwitchesTask()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong task = g.Handler(a => a.hlt());
        h.Memory.Write(GuestSystem.Tss2 + 0x20, 4, task);
        h.Memory.Write(GuestSystem.Tss2 + 0x24, 4, 2);
        h.Memory.Write(GuestSystem.Tss2 + 0x28, 4, 0xABCD); // EAX
        h.Memory.Write(GuestSystem.Tss2 + 0x4C, 2, GuestSystem.KernelCs);
        foreach (int off in new[] { 0x48, 0x50, 0x54, 0x58, 0x5C })
        {
            h.Memory.Write(GuestSystem.Tss2 + (ulong)off, 2, GuestSystem.KernelDs);
        }
        g.WriteTssDescriptor(GuestSystem.Tss2Sel, GuestSystem.Tss2, 0x67, long64: false);
        h.Load(a =>
        {
            a.mov(ebx, 0x77);
            a.jmp(GuestSystem.Tss2Sel, 0);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h[Register.EAX], Is.EqualTo(0xABCD));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Tr].Selector, Is.EqualTo(GuestSystem.Tss2Sel));
        Assert.That(h.Memory.Read(GuestSystem.Tss + 0x34, 4), Is.EqualTo(0x77), "EBX saved in the old TSS");
        Assert.That((g.GetGdt(GuestSystem.TssSel) >> 40) & 0xF, Is.EqualTo(9), "JMP clears the old task's busy bit");
        Assert.That((g.GetGdt(GuestSystem.Tss2Sel) >> 40) & 0xF, Is.EqualTo(0xB));
        Assert.That(h.Flags & CpuState.FlagNt, Is.Zero, "JMP does not nest");
    }

    // ------------------------------------------------------------------ IRET and virtual-8086 mode

    [Test]
    public void Iret_ToVirtual8086AndBackThroughInterrupt()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(0x30, g.Handler(a => a.hlt()), dpl: 3);
        // V86 code at 2000:0000: mov ax, ds; int 30h.
        h.Memory.TryWriteBytes(0x20000, [0x8C, 0xD8, 0xCD, 0x30]);
        h.Load(a =>
        {
            a.push(0x4000); // GS
            a.push(0x4000); // FS
            a.push(0x3000); // DS
            a.push(0x4000); // ES
            a.push(0x5000); // SS
            a.push(0x0100); // ESP
            a.push(0x23202); // EFLAGS: VM, IOPL 3, IF
            a.push(0x2000); // CS
            a.push(0); // EIP
            a.iretd();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        ref CpuState s = ref h.Cpu.State;
        Assert.That(h[Register.AX], Is.EqualTo(0x3000), "ran in virtual-8086 mode");
        Assert.That(s.V86, Is.False);
        Assert.That(s.Cpl, Is.EqualTo(0));
        ulong sp = s.Gpr[4];
        Assert.That(sp, Is.EqualTo(GuestSystem.KernelStackTop - 36));
        Assert.That(h.Memory.Read(sp, 4), Is.EqualTo(4), "EIP after INT");
        Assert.That(h.Memory.Read(sp + 8, 4) & CpuState.FlagVm, Is.Not.Zero);
        Assert.That(h.Memory.Read(sp + 16, 4), Is.EqualTo(0x5000), "SS");
        Assert.That(h.Memory.Read(sp + 24, 4), Is.EqualTo(0x3000), "DS");
        Assert.That(s.Seg[(int)SegReg.Ds].Selector, Is.EqualTo(0), "data segments nulled on entry");
    }

    // ------------------------------------------------------------------ INTO, LAR, LSL, VERR, VERW, ARPL, SWAPGS

    [Test]
    public void Into_WithOverflow_DeliversOf()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGate(4, g.Handler(a => a.hlt()), dpl: 3);
        h.Load(a =>
        {
            a.mov(al, 0x7F);
            a.add(al, 1);
            a.into();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastDeliveredVector, Is.EqualTo(4));
        Assert.That(h.Memory.Read(h.Cpu.State.Gpr[4], 4), Is.EqualTo(h.EndRip), "trap: EIP after INTO");
    }

    [Test]
    public void LarAndLsl_ValidAndInvalidSelectors()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SystemDescriptor(0, 0, 0xE, 0)); // an interrupt gate: not for LAR
        h.Load(a =>
        {
            a.mov(ecx, GuestSystem.KernelDs);
            a.lar(eax, ecx);
            a.setz(r8b);
            a.lsl(ebx, ecx);
            a.mov(ecx, GuestSystem.TssSel);
            a.lsl(edx, ecx);
            a.setz(r9b);
            a.mov(ecx, GuestSystem.Spare);
            a.lar(esi, ecx);
            a.setz(r10b);
            a.xor(ecx, ecx);
            a.lsl(edi, ecx);
            a.setz(r11b);
        }).Run();
        Assert.That(h[Register.R8L], Is.EqualTo(1));
        Assert.That(h[Register.EAX] & 0x00F0_FF00, Is.EqualTo(0x00C0_9200 & 0x00F0_FF00).Or.EqualTo(0x00C0_9300));
        Assert.That(h[Register.EBX], Is.EqualTo(0xFFFF_FFFF));
        Assert.That(h[Register.R9L], Is.EqualTo(1), "64-bit TSS is valid for LSL");
        Assert.That(h[Register.EDX], Is.EqualTo(GuestSystem.TssLimit));
        Assert.That(h[Register.R10L], Is.EqualTo(0));
        Assert.That(h[Register.R11L], Is.EqualTo(0), "null selector");
    }

    [Test]
    public void LarAtRing3_OnKernelData_ClearsZf()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h).EnterUser();
        h.Load(a =>
        {
            a.mov(ecx, GuestSystem.KernelDs);
            a.lar(eax, ecx);
            a.setz(bl);
        }).Run();
        Assert.That(h[Register.BL], Is.EqualTo(0));
    }

    [Test]
    public void VerrVerw()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        new GuestSystem(h);
        h.Load(a =>
        {
            a.mov(ecx, GuestSystem.KernelDs);
            a.verw(cx);
            a.setz(al);
            a.mov(ecx, GuestSystem.KernelCs);
            a.verw(cx);
            a.setz(bl);
            a.verr(cx);
            a.setz(dl);
        }).Run();
        Assert.That(h[Register.AL], Is.EqualTo(1));
        Assert.That(h[Register.BL], Is.EqualTo(0), "code is never writable");
        Assert.That(h[Register.DL], Is.EqualTo(1), "readable code");
    }

    [Test]
    public void Arpl_RaisesRpl()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.EAX] = 0xFFFF_0010;
        h[Register.ECX] = 3;
        h.Load(a =>
        {
            a.arpl(ax, cx);
            a.setz(bl);
            a.arpl(ax, cx);
            a.setz(dl);
        }).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0xFFFF_0013));
        Assert.That(h[Register.BL], Is.EqualTo(1));
        Assert.That(h[Register.DL], Is.EqualTo(0));
    }

    [Test]
    public void Swapgs_AtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a => a.swapgs());
        AssertFault(h, 13, 0);
    }
}
