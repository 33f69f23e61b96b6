using System.Text;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu.Interrupts;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>System instructions: control/debug registers, TLB maintenance, MSRs, CPUID, fast system calls.</summary>
public class SystemTests
{
    /// <summary>Runs a snippet expected to fault and checks the original event (no handlers: it ends in a triple fault).</summary>
    private static void AssertFault(CpuHarness h, int vector, uint? error = null)
    {
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(vector), h.Cpu.LastStopMessage);
        if (error is { } e)
        {
            Assert.That(h.Cpu.LastEventError, Is.EqualTo(e));
        }
    }

    // ------------------------------------------------------------------ descriptor-table registers

    [Test]
    public void LgdtSgdt_RoundTrip([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        bool is64 = mode == CpuMode.Long64;
        ulong baseValue = is64 ? 0xFFFF_8000_1234_5678UL : 0x1234_5678;
        int data = mode == CpuMode.Real16 ? 0x8000 : (int)CpuHarness.DataAddress;
        h.Memory.Write(CpuHarness.DataAddress, 2, 0x3FF);
        h.Memory.Write(CpuHarness.DataAddress + 2, 8, baseValue);
        if (mode == CpuMode.Real16)
        {
            h.Cpu.State.Seg[(int)SegReg.Ds].LoadReal((ushort)((CpuHarness.DataAddress - 0x8000) >> 4));
        }
        h.Load(a =>
        {
            a.lgdt(__[data]);
            a.sgdt(__[data + 16]);
        }).Run();
        ulong expectedBase = mode == CpuMode.Real16 ? baseValue & 0xFF_FFFF : baseValue;
        Assert.That(h.Cpu.State.Gdtr.Base, Is.EqualTo(mode == CpuMode.Long64 ? baseValue : (uint)baseValue & (mode == CpuMode.Real16 ? 0xFF_FFFFu : uint.MaxValue)));
        Assert.That(h.Cpu.State.Gdtr.Limit, Is.EqualTo(0x3FF));
        Assert.That(h.Memory.Read(CpuHarness.DataAddress + 16, 2), Is.EqualTo(0x3FF));
        Assert.That(h.Memory.Read(CpuHarness.DataAddress + 18, is64 ? 8 : 4), Is.EqualTo(expectedBase & (is64 ? ulong.MaxValue : 0xFFFF_FFFF)));
    }

    [Test]
    public void Lidt_NonCanonicalBaseIn64BitMode_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(CpuHarness.DataAddress + 2, 8, 0x8000_0000_0000_0000UL);
        h.Load(a => a.lidt(__[(int)CpuHarness.DataAddress]));
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Sgdt_AtRing3WithUmip_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        h.Cpu.State.Cr4 |= CpuState.Cr4Umip;
        g.EnterUser();
        h.Load(a => a.sgdt(__[(int)CpuHarness.DataAddress]));
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Ltr_MarksTssBusy_AndStrReadsIt()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h, withTss: false);
        g.WriteTssDescriptor(GuestSystem.TssSel, GuestSystem.Tss, GuestSystem.TssLimit, long64: true);
        h.Load(a =>
        {
            a.mov(ax, GuestSystem.TssSel);
            a.ltr(ax);
            a.str(ecx);
        }).Run();
        Assert.That((g.GetGdt(GuestSystem.TssSel) >> 40) & 0xF, Is.EqualTo(0xB));
        Assert.That(h[Register.ECX], Is.EqualTo(GuestSystem.TssSel));
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Tr].Base, Is.EqualTo(GuestSystem.Tss));
    }

    [Test]
    public void Ltr_BusyTss_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        h.Load(a =>
        {
            a.mov(ax, GuestSystem.TssSel);
            a.ltr(ax);
        });
        AssertFault(h, 13, GuestSystem.TssSel);
    }

    [Test]
    public void Lldt_LoadsLdtAndSldtReadsIt()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, GuestSystem.SystemDescriptor(0x5000, 0xFF, 2, 0));
        h.Load(a =>
        {
            a.mov(ax, GuestSystem.Spare);
            a.lldt(ax);
            a.sldt(ebx);
        }).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Ldtr].Base, Is.EqualTo(0x5000));
        Assert.That(h[Register.EBX], Is.EqualTo(GuestSystem.Spare));
    }

    [Test]
    public void Lldt_InRealMode_IsUd()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        var g = new GuestSystem(h);
        g.SetIvt(6, g.Handler(a => a.hlt()));
        h.Load(a => a.lldt(ax));
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    // ------------------------------------------------------------------ control registers

    [Test]
    public void MovCr0_PagingWithoutProtection_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Load(a =>
        {
            a.mov(eax, 0x8000_0010u);
            a.mov(cr0, eax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr0_NwWithoutCd_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Load(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 1 << 29);
            a.mov(cr0, eax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr0_ClearingPagingIn64BitMode_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, cr0);
            a.btr(eax, 31);
            a.mov(cr0, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr0_FromRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a => a.mov(rax, cr0));
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr4_ReservedBit_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, cr4);
            a.bts(rax, 22); // PKE: not offered
            a.mov(cr4, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr4_VmxeWithoutVmx_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, cr4);
            a.bts(rax, 13);
            a.mov(cr4, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr4_ClearingPaeInLongMode_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, cr4);
            a.btr(rax, 5);
            a.mov(cr4, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr4_PcideWithNonZeroCr3Pcid_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.Cr3 |= 5;
        h.Load(a =>
        {
            a.mov(rax, cr4);
            a.bts(rax, 17);
            a.mov(cr4, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr3_BitsAboveMaxPhysAddr_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, cr3);
            a.bts(rax, 45);
            a.mov(cr3, rax);
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void MovCr8_RoundTripAndReservedBits()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(eax, 9);
            a.mov(cr8, rax);
            a.mov(rbx, cr8);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(9));
        Assert.That(h.Cpu.Tpr, Is.EqualTo(9));

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2.Load(a =>
        {
            a.mov(eax, 0x10);
            a.mov(cr8, rax);
        });
        AssertFault(h2, 13, 0);
    }

    [Test]
    public void EnteringLongMode_FromProtectedMode_SetsLmaAndFarJumpReaches64BitCode()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        g.SetGdt(GuestSystem.Spare, 0x00AF_9A00_0000_FFFFUL);
        // Identity map of the first GiB with 2 MiB pages.
        const ulong pml4 = 0x300000;
        h.Memory.Write(pml4, 8, (pml4 + 0x1000) | 3);
        h.Memory.Write(pml4 + 0x1000, 8, (pml4 + 0x2000) | 3);
        for (ulong n = 0; n < 512; n++)
        {
            h.Memory.Write(pml4 + 0x2000 + n * 8, 8, (n << 21) | 0x83);
        }
        ulong target64 = g.Handler(a =>
        {
            a.mov(rbx, 0x1_0000_0001);
            a.hlt();
        }, bitness: 64);
        h.Load(a =>
        {
            a.mov(eax, (uint)pml4);
            a.mov(cr3, eax);
            a.mov(eax, cr4);
            a.or(eax, 1 << 5);
            a.mov(cr4, eax);
            a.mov(ecx, 0xC0000080);
            a.rdmsr();
            a.or(eax, 1 << 8);
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, 0x8000_0000u);
            a.mov(cr0, eax);
            a.mov(ecx, 0xC0000080);
            a.rdmsr();
            a.mov(esi, eax);
            a.jmp(GuestSystem.Spare, (uint)target64);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h[Register.ESI] & (1 << 10), Is.Not.Zero, "EFER.LMA");
        Assert.That(h[Register.RBX], Is.EqualTo(0x1_0000_0001));
        Assert.That(h.Cpu.State.Is64, Is.True);
    }

    [Test]
    public void PaePaging_BadPdpte_MakesMovCr0Gp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        const ulong pdpt = 0x300000;
        h.Memory.Write(pdpt, 8, 0x301000 | 1 | (1 << 5)); // present with reserved bit 5
        h.Cpu.State.Cr3 = pdpt;
        h.Cpu.State.Cr4 |= CpuState.Cr4Pae;
        h.Load(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 0x8000_0000u);
            a.mov(cr0, eax);
        });
        AssertFault(h, 13, 0);
        Assert.That(h.Cpu.State.Cr0 & CpuState.Cr0Pg, Is.Zero);
    }

    // ------------------------------------------------------------------ TLB maintenance

    private const ulong Pd = 0x102000, Pt = 0x103000;
    private const ulong FrameA = 0x400000, FrameB = 0x401000;
    private const int Va = 0x4000_0000;

    /// <summary>Long mode with VA 0x40000000 mapped through a 4 KiB PTE to frame A (frames hold 0xA, 0xB).</summary>
    private static CpuHarness TlbHarness(ulong pteFlags = 3)
    {
        var h = new CpuHarness(CpuMode.Long64);
        ulong pdpt = h.Memory.Read(CpuHarness.PageTables, 8) & ~0xFFFUL;
        h.Memory.Write(pdpt + 8, 8, Pd | 3);
        h.Memory.Write(Pd, 8, Pt | 3);
        h.Memory.Write(Pt, 8, FrameA | pteFlags);
        h.Memory.Write(FrameA, 8, 0xA);
        h.Memory.Write(FrameB, 8, 0xB);
        return h;
    }

    /// <summary>Reads VA into RBX (filling the TLB), points the PTE at frame B, reads again into RCX, runs <paramref name="flush"/>, reads into RDX.</summary>
    private static void StaleThenFlush(Assembler a, ulong pteFlags, Action<Assembler> flush)
    {
        a.mov(rbx, __qword_ptr[Va]);
        a.mov(rax, FrameB | pteFlags);
        a.mov(__qword_ptr[(int)Pt], rax);
        a.mov(rcx, __qword_ptr[Va]);
        flush(a);
        a.mov(rdx, __qword_ptr[Va]);
    }

    private static void AssertStaleThen(CpuHarness h, ulong after)
    {
        Assert.That(h[Register.RBX], Is.EqualTo(0xA));
        Assert.That(h[Register.RCX], Is.EqualTo(0xA), "no flush yet: the TLB still has the old translation");
        Assert.That(h[Register.RDX], Is.EqualTo(after));
    }

    [Test]
    public void Invlpg_FlushesThePage()
    {
        using CpuHarness h = TlbHarness();
        h.Load(a => StaleThenFlush(a, 3, f => f.invlpg(__[Va]))).Run();
        AssertStaleThen(h, 0xB);
    }

    [Test]
    public void Invlpg_FlushesAGlobalPage()
    {
        using CpuHarness h = TlbHarness(0x103);
        h.Cpu.State.Cr4 |= CpuState.Cr4Pge;
        h.Load(a => StaleThenFlush(a, 0x103, f => f.invlpg(__[Va]))).Run();
        AssertStaleThen(h, 0xB);
    }

    [Test]
    public void MovCr3_FlushesNonGlobalEntries()
    {
        using CpuHarness h = TlbHarness();
        h.Load(a => StaleThenFlush(a, 3, f =>
        {
            f.mov(rax, cr3);
            f.mov(cr3, rax);
        })).Run();
        AssertStaleThen(h, 0xB);
    }

    [Test]
    public void MovCr3_KeepsGlobalEntries_TogglingPgeFlushesThem()
    {
        using CpuHarness h = TlbHarness(0x103);
        h.Cpu.State.Cr4 |= CpuState.Cr4Pge;
        h.Load(a =>
        {
            StaleThenFlush(a, 0x103, f =>
            {
                f.mov(rax, cr3);
                f.mov(cr3, rax);
            });
            a.mov(rax, cr4);
            a.btr(rax, 7);
            a.mov(cr4, rax);
            a.bts(rax, 7);
            a.mov(cr4, rax);
            a.mov(rsi, __qword_ptr[Va]);
        }).Run();
        AssertStaleThen(h, 0xA);
        Assert.That(h[Register.RSI], Is.EqualTo(0xB));
    }

    [Test]
    public void MovCr3_WithPcidNoFlushBit_KeepsEntries()
    {
        using CpuHarness h = TlbHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Pcide;
        h.Load(a =>
        {
            StaleThenFlush(a, 3, f =>
            {
                f.mov(rax, cr3);
                f.bts(rax, 63);
                f.mov(cr3, rax);
            });
            a.mov(rax, cr3);
            a.mov(cr3, rax);
            a.mov(rsi, __qword_ptr[Va]);
        }).Run();
        AssertStaleThen(h, 0xA);
        Assert.That(h[Register.RSI], Is.EqualTo(0xB), "without bit 63 the PCID's entries go");
    }

    [Test]
    public void MovCr3_SwitchingPcid_KeepsTheOtherPcidsEntries()
    {
        using CpuHarness h = TlbHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Pcide;
        h.Load(a =>
        {
            StaleThenFlush(a, 3, f =>
            {
                // Switch to PCID 1 (flushing PCID 1 only), then back to PCID 0 without flushing.
                f.mov(rax, cr3);
                f.or(rax, 1);
                f.mov(cr3, rax);
                f.and(rax, ~0xFFF);
                f.bts(rax, 63);
                f.mov(cr3, rax);
            });
        }).Run();
        AssertStaleThen(h, 0xA);
    }

    private static void Invpcid(Assembler a, int type, int pcid, ulong address)
    {
        a.mov(__qword_ptr[(int)CpuHarness.DataAddress], pcid);
        a.mov(rax, address);
        a.mov(__qword_ptr[(int)CpuHarness.DataAddress + 8], rax);
        a.mov(eax, type);
        a.invpcid(rax, __[(int)CpuHarness.DataAddress]);
    }

    [TestCase(0, 0xBUL)]
    [TestCase(1, 0xBUL)]
    [TestCase(2, 0xBUL)]
    [TestCase(3, 0xBUL)]
    public void Invpcid_EachType_FlushesANonGlobalEntry(int type, ulong expected)
    {
        using CpuHarness h = TlbHarness();
        h.Load(a => StaleThenFlush(a, 3, f => Invpcid(f, type, 0, Va))).Run();
        AssertStaleThen(h, expected);
    }

    // Type 0 may or may not drop a global translation (SDM Vol. 2A "INVPCID": "In some cases, the instruction
    // may invalidate global translations"), so it is not pinned down here.
    [TestCase(1, 0xAUL)]
    [TestCase(2, 0xBUL)]
    [TestCase(3, 0xAUL)]
    public void Invpcid_GlobalEntry_OnlyAllContextsIncludingGlobalsFlushesIt(int type, ulong expected)
    {
        using CpuHarness h = TlbHarness(0x103);
        h.Cpu.State.Cr4 |= CpuState.Cr4Pge;
        h.Load(a => StaleThenFlush(a, 0x103, f => Invpcid(f, type, 0, Va))).Run();
        AssertStaleThen(h, expected);
    }

    [Test]
    public void Invpcid_BadTypeOrPcidWithoutPcide_IsGp()
    {
        using CpuHarness h = TlbHarness();
        h.Load(a => Invpcid(a, 4, 0, 0));
        AssertFault(h, 13, 0);

        using CpuHarness h2 = TlbHarness();
        h2.Load(a => Invpcid(a, 1, 5, 0));
        AssertFault(h2, 13, 0);
    }

    // ------------------------------------------------------------------ debug registers

    [Test]
    public void MovDr4_AliasesDr6UnlessCr4De()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.mov(rax, dr4)).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF0FF0));

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2.Cpu.State.Cr4 |= CpuState.Cr4De;
        h2.Load(a => a.mov(rax, dr4));
        AssertFault(h2, 6);
    }

    [Test]
    public void MovDr_WithGeneralDetect_IsDebugFaultWithBd()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a => a.hlt()));
        h.Cpu.State.Dr[7] = 0x400 | (1 << 13);
        h.Load(a =>
        {
            a.nop();
            a.mov(rax, dr0);
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.State.Dr[6] & (1 << 13), Is.Not.Zero, "DR6.BD");
        Assert.That(h.Cpu.State.Dr[7] & (1 << 13), Is.Zero, "GD cleared");
        Assert.That(h.Memory.Read(h.Cpu.State.Gpr[4], 8), Is.EqualTo(CpuHarness.CodeAddress + 1), "fault");
    }

    [Test]
    public void MovDr6Dr7_FixedBits()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(dr6, rax);
            a.mov(dr7, rax);
            a.mov(rbx, dr6);
            a.mov(rcx, dr7);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(0xFFFF0FF0));
        Assert.That(h[Register.RCX], Is.EqualTo(0x400));
    }

    // ------------------------------------------------------------------ CR0 short forms, privileged no-ops

    [Test]
    public void CltsLmswSmsw()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        h.Load(a =>
        {
            a.clts();
            a.smsw(ebx);
            a.mov(ax, 0xE); // MP EM TS, and PE clear: LMSW cannot clear PE
            a.lmsw(ax);
            a.smsw(ecx);
        }).Run();
        Assert.That(h[Register.EBX] & (uint)CpuState.Cr0Ts, Is.Zero);
        Assert.That(h[Register.ECX] & 0xF, Is.EqualTo(0xF));
    }

    [Test]
    public void Wbinvd_AtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a => a.wbinvd());
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Hlt_AtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a => a.hlt());
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Cli_AtRing3_NeedsIopl3()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a => a.cli());
        AssertFault(h, 13, 0);

        using var h2 = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h2).EnterUser();
        h2.Cpu.State.Rflags |= CpuState.FlagIopl | CpuState.FlagIf;
        h2.Load(a => a.cli()).Run();
        Assert.That(h2.Flags & CpuState.FlagIf, Is.Zero);
    }

    [Test]
    public void Sti_ArmsTheShadowOnlyWhenIfWasClear()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.sti());
        h.Cpu.Run(1);
        Assert.That(h.Cpu.ShadowArmed || h.Cpu.InterruptShadow, Is.True);

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2.Cpu.State.Rflags |= CpuState.FlagIf;
        h2.Load(a => a.sti());
        h2.Cpu.Run(1);
        Assert.That(h2.Cpu.ShadowArmed, Is.False);
    }

    // ------------------------------------------------------------------ MSRs and the TSC

    private static void Wrmsr(Assembler a, uint msr, ulong value)
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    [TestCase(0xC0000080u, 1UL << 1)] // EFER reserved bit
    [TestCase(0x12345u, 0UL)] // unknown MSR
    [TestCase(0xC0000100u, 0x8000_0000_0000_0000UL)] // FS_BASE non-canonical
    [TestCase(0xC0000082u, 0x0000_8000_0000_0000UL)] // LSTAR non-canonical
    [TestCase(0x277u, 0x0007040600070402UL)] // PAT type 2 is reserved
    [TestCase(0x2FFu, 0x1000UL)] // MTRRdefType reserved bit
    [TestCase(0x200u, 0x2UL)] // MTRR base with a reserved type
    [TestCase(0xC0000103u, 1UL << 32)] // TSC_AUX reserved bits
    [TestCase(0x1D9u, 1UL << 5)] // DEBUGCTL unsupported bit
    [TestCase(0x3Au, 1UL << 2)] // FEATURE_CONTROL VMX bit while VMX is not offered
    public void Wrmsr_InvalidValueOrMsr_IsGp(uint msr, ulong value)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => Wrmsr(a, msr, value));
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Rdmsr_UnknownMsr_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(ecx, 0x4B564D00);
            a.rdmsr();
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Rdmsr_AtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Load(a =>
        {
            a.mov(ecx, 0xC0000080);
            a.rdmsr();
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void Wrmsr_EferLmeChangeWithPagingOn_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(ecx, 0xC0000080);
            a.rdmsr();
            a.btr(eax, 8);
            a.wrmsr();
        });
        AssertFault(h, 13, 0);
    }

    [Test]
    public void FeatureControl_LockedAfterFirstWrite()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            Wrmsr(a, 0x3A, 1);
            Wrmsr(a, 0x3A, 1);
        });
        AssertFault(h, 13, 0);
        Assert.That(h.Cpu.State.FeatureControl, Is.EqualTo(1));
    }

    [Test]
    public void GsBaseMsr_WrittenIn32BitProtectedMode_IsTheGsBase()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Load(a => Wrmsr(a, 0xC0000101, 0x1234_5000)).Run();
        Assert.That(h.Cpu.State.Seg[(int)SegReg.Gs].Base, Is.EqualTo(0x1234_5000));
    }

    [Test]
    public void MsrRoundTrips()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        (uint msr, ulong value)[] cases =
        [
            (0x277, 0x0007_0406_0007_0106UL), (0x174, 0x08), (0x175, 0xFFFF_8000_0000_1000UL),
            (0x2FF, 0xC06), (0x250, 0x0606_0606_0606_0606UL), (0x201, 0xFF_FFFF_F800UL),
            (0xC0000084, 0x4700), (0xC0000102, 0xFFFF_8888_0000_0000UL), (0xC0000103, 7), (0x1D9, 2),
        ];
        h.Load(a =>
        {
            foreach ((uint msr, ulong value) in cases)
            {
                Wrmsr(a, msr, value);
            }
        }).Run();
        foreach ((uint msr, ulong value) in cases)
        {
            Assert.That(h.Cpu.ReadMsr(msr, out ulong v), Is.True);
            Assert.That(v, Is.EqualTo(value), $"MSR 0x{msr:X}");
        }
        Assert.That(h.Cpu.ReadMsr(0xFE, out ulong cap), Is.True);
        Assert.That(cap & 0xFF, Is.EqualTo(8), "MTRRcap VCNT");
        Assert.That(h.Cpu.ReadMsr(0x1B, out ulong apic), Is.True);
        Assert.That(apic, Is.EqualTo(0xFEE00900UL), "APIC base: BSP, enabled");
    }

    [Test]
    public void Tsc_IsInstructionCountBasedAndWritable()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.rdtsc();
            a.mov(esi, eax);
            a.nop();
            a.nop();
            a.rdtsc();
            a.mov(edi, eax);
            Wrmsr(a, 0x10, 1_000_000);
            a.rdtsc();
        }).Run();
        Assert.That(h[Register.EDI] - h[Register.ESI], Is.EqualTo(4), "one tick per retired instruction");
        Assert.That(h[Register.EAX], Is.EqualTo(1_000_000 + 1), "WRMSR TSC, then RDTSC one instruction later");
        Assert.That(h.Cpu.ReadMsr(0x3B, out ulong adjust), Is.True);
        Assert.That(adjust, Is.Not.Zero, "TSC_ADJUST follows a TSC write");
    }

    [Test]
    public void Rdtsc_WithTsdAtRing3_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        new GuestSystem(h).EnterUser();
        h.Cpu.State.Cr4 |= CpuState.Cr4Tsd;
        h.Load(a => a.rdtsc());
        AssertFault(h, 13, 0);
    }

    [Test]
    public void RdtscpAndRdpid_ReadTscAux()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.TscAux = 0x42;
        h.Load(a =>
        {
            a.rdtscp();
            a.rdpid(rbx);
        }).Run();
        Assert.That(h[Register.RCX], Is.EqualTo(0x42));
        Assert.That(h[Register.RBX], Is.EqualTo(0x42));
    }

    [Test]
    public void Rdrand_IsDeterministicPerVcpuAndSetsCf()
    {
        ulong First()
        {
            using var h = new CpuHarness(CpuMode.Long64);
            h.Load(a =>
            {
                a.rdrand(rax);
                a.rdseed(ebx);
            }).Run();
            Assert.That(h.Flags & CpuState.FlagCf, Is.Not.Zero);
            return h[Register.RAX];
        }
        Assert.That(First(), Is.EqualTo(First()));
    }

    // ------------------------------------------------------------------ CPUID

    private static (uint A, uint B, uint C, uint D) Cpuid(uint leaf, uint sub = 0)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = leaf;
        h[Register.RCX] = sub;
        h.Load(a => a.cpuid()).Run();
        return ((uint)h[Register.RAX], (uint)h[Register.RBX], (uint)h[Register.RCX], (uint)h[Register.RDX]);
    }

    private static string Ascii(params uint[] words) =>
        Encoding.ASCII.GetString(words.SelectMany(BitConverter.GetBytes).ToArray()).TrimEnd('\0');

    [Test]
    public void Cpuid_Leaf0_IsGenuineIntel()
    {
        var r = Cpuid(0);
        Assert.That(Ascii(r.B, r.D, r.C), Is.EqualTo("GenuineIntel"));
        Assert.That(r.A, Is.GreaterThanOrEqualTo(0xD));
    }

    [Test]
    public void Cpuid_Leaf1_DescribesTheModel()
    {
        var r = Cpuid(1);
        Assert.That(r.A, Is.EqualTo(0x506E3));
        Assert.That((r.B >> 8) & 0xFF, Is.EqualTo(8), "CLFLUSH line size 64");
        Assert.That(r.B >> 24, Is.EqualTo(0), "APIC id");
        foreach (int bit in new[] { 0, 3, 4, 5, 6, 8, 9, 11, 12, 13, 15, 16, 17, 19, 24, 25, 26 })
        {
            Assert.That(r.D & (1u << bit), Is.Not.Zero, $"EDX bit {bit}");
        }
        Assert.That(r.D & (1u << 1), Is.Zero, "no VME");
        Assert.That(r.C & (1u << 5), Is.Zero, "VMX not offered yet");
        Assert.That(r.C & (1u << 3), Is.Zero, "no MONITOR");
        Assert.That(r.C & (1u << 31), Is.Zero, "no hypervisor bit");
        Assert.That(r.C & (1u << 17), Is.Not.Zero, "PCID");
        Assert.That(r.C & (1u << 30), Is.Not.Zero, "RDRAND");
        Assert.That(r.C & (1u << 27), Is.Zero, "OSXSAVE follows CR4");
    }

    [Test]
    public void Cpuid_Leaf7_AndExtendedLeaves()
    {
        var l7 = Cpuid(7);
        Assert.That(l7.B & ((1u << 0) | (1u << 7) | (1u << 10)), Is.EqualTo((1u << 0) | (1u << 7) | (1u << 10)), "FSGSBASE SMEP INVPCID");
        Assert.That(l7.C & ((1u << 2) | (1u << 22)), Is.EqualTo((1u << 2) | (1u << 22)), "UMIP RDPID");
        var e0 = Cpuid(0x8000_0000);
        Assert.That(e0.A, Is.EqualTo(0x8000_0008));
        var e1 = Cpuid(0x8000_0001);
        uint want = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
        Assert.That(e1.D & want, Is.EqualTo(want), "SYSCALL NX Page1GB RDTSCP LM");
        var e8 = Cpuid(0x8000_0008);
        Assert.That(e8.A & 0xFFFF, Is.EqualTo(40 | (48 << 8)));
        var b2 = Cpuid(0x8000_0002);
        var b3 = Cpuid(0x8000_0003);
        var b4 = Cpuid(0x8000_0004);
        Assert.That(Ascii(b2.A, b2.B, b2.C, b2.D, b3.A, b3.B, b3.C, b3.D, b4.A, b4.B, b4.C, b4.D), Does.StartWith("Emulator"));
    }

    [Test]
    public void Cpuid_TopologyLeaf_ReportsX2ApicId()
    {
        var sub0 = Cpuid(0xB, 0);
        Assert.That((sub0.C >> 8) & 0xFF, Is.EqualTo(1), "SMT level");
        var sub2 = Cpuid(0xB, 2);
        Assert.That((sub2.C >> 8) & 0xFF, Is.EqualTo(0), "invalid level ends the list");
    }

    [Test]
    public void Cpuid_LeafAboveMaximum_ReturnsHighestBasicLeaf()
    {
        Assert.That(Cpuid(0x4000_0000), Is.EqualTo(Cpuid(0x1F)));
        Assert.That(Cpuid(0x8000_0010), Is.EqualTo(Cpuid(0x1F)));
    }

    [Test]
    public void Cpuid_ExtensionBits_FollowImplementedHandlers()
    {
        CpuidFeatures f = CpuidFeatures.Instance;
        Assert.That(f.Missing.ContainsKey(CpuidFeature.MONITOR), Is.True, "MONITOR/MWAIT are not implemented");
        Assert.That(f.Missing.ContainsKey(CpuidFeature.RDRAND), Is.False);
        Assert.That(f.Missing.ContainsKey(CpuidFeature.FSGSBASE), Is.False);
        Assert.That(f.Missing.ContainsKey(CpuidFeature.INVPCID), Is.False);
        foreach ((CpuidFeature feature, List<Code> codes) in f.Missing.OrderBy(kv => kv.Key.ToString()))
        {
            TestContext.Out.WriteLine($"{feature}: {codes.Count} missing ({string.Join(", ", codes.Take(6))}{(codes.Count > 6 ? ", …" : "")})");
        }
    }

    // ------------------------------------------------------------------ fast system calls

    [Test]
    public void SyscallSysret_RoundTripFromRing3()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.mov(ebx, 0x77);
            a.mov(r8, rcx);
            a.mov(r9, r11);
            a.sysretq();
        });
        ref CpuState s = ref h.Cpu.State;
        s.Star = (0x18UL << 48) | (0x08UL << 32);
        s.Lstar = handler;
        s.Sfmask = CpuState.FlagIf | CpuState.FlagDf;
        g.EnterUser();
        s.Rflags |= CpuState.FlagIf | CpuState.FlagDf;
        h.Load(a =>
        {
            a.syscall();
            a.mov(edx, 1);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(0x77));
        Assert.That(h[Register.R8], Is.EqualTo(CpuHarness.CodeAddress + 2), "RCX = return RIP");
        Assert.That(h[Register.R9] & (CpuState.FlagIf | CpuState.FlagDf), Is.EqualTo(CpuState.FlagIf | CpuState.FlagDf), "R11 = RFLAGS");
        Assert.That(h[Register.EDX], Is.EqualTo(1));
        Assert.That(s.Cpl, Is.EqualTo(3));
        Assert.That(s.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(0x2B));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(0x23));
        Assert.That(h.Flags & CpuState.FlagIf, Is.Not.Zero, "restored from R11");
    }

    [Test]
    public void Syscall_MasksFlagsAndEntersRing0()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a => a.hlt());
        ref CpuState s = ref h.Cpu.State;
        s.Star = 0x08UL << 32;
        s.Lstar = handler;
        s.Sfmask = CpuState.FlagIf;
        g.EnterUser();
        s.Rflags |= CpuState.FlagIf;
        h.Load(a => a.syscall());
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(s.Cpl, Is.EqualTo(0));
        Assert.That(s.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(0x08));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(0x10));
    }

    [Test]
    public void Syscall_WithoutSce_IsUd()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.Efer &= ~CpuState.EferSce;
        h.Load(a => a.syscall());
        AssertFault(h, 6);
    }

    [Test]
    public void Sysret_ToNonCanonicalRip_IsGpInRing0()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        var g = new GuestSystem(h);
        g.SetGate(13, g.Handler(a => a.hlt()));
        h.Load(a =>
        {
            a.mov(rcx, 0x0000_8000_0000_0000);
            a.sysretq();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Memory.Read(h.Cpu.State.Gpr[4] + 16, 8), Is.EqualTo(GuestSystem.KernelCs), "delivered from ring 0");
    }

    [Test]
    public void SysenterSysexit_RoundTripIn32BitMode()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        var g = new GuestSystem(h);
        ulong handler = g.Handler(a =>
        {
            a.mov(ebx, 0x66);
            a.mov(edx, (uint)(CpuHarness.CodeAddress + 2));
            a.mov(ecx, (uint)GuestSystem.UserStackTop);
            a.sysexit();
        });
        ref CpuState s = ref h.Cpu.State;
        s.SysenterCs = 0x08;
        s.SysenterEsp = GuestSystem.KernelStackTop;
        s.SysenterEip = handler;
        g.EnterUser();
        h.Load(a =>
        {
            a.sysenter();
            a.mov(esi, esp);
        }).Run();
        Assert.That(h[Register.EBX], Is.EqualTo(0x66));
        Assert.That(h[Register.ESI], Is.EqualTo(GuestSystem.UserStackTop));
        Assert.That(s.Cpl, Is.EqualTo(3));
        Assert.That(s.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(GuestSystem.UserCs32));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo(GuestSystem.UserDs));
    }

    // ------------------------------------------------------------------ FS/GS base

    [Test]
    public void FsGsBase_NeedCr4Fsgsbase()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.rdfsbase(rax));
        AssertFault(h, 6);

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2.Cpu.State.Cr4 |= CpuState.Cr4Fsgsbase;
        h2.Load(a =>
        {
            a.mov(rax, 0x7FFF_1234_5000);
            a.wrgsbase(rax);
            a.rdgsbase(rbx);
            a.swapgs();
            a.rdgsbase(rcx);
        }).Run();
        Assert.That(h2[Register.RBX], Is.EqualTo(0x7FFF_1234_5000));
        Assert.That(h2[Register.RCX], Is.EqualTo(0), "SWAPGS exchanged with KERNEL_GS_BASE");
        Assert.That(h2.Cpu.State.KernelGsBase, Is.EqualTo(0x7FFF_1234_5000));
    }
}
