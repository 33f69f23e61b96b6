using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Tests.Vmx.Entry;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using F = Emulator.Vmx.Vmcs.VmcsField;

namespace Emulator.Tests.Vmx.Exits;

/// <summary>
/// Round trips through the interpreter for the exits the controls decide (SDM Vol. 3C §26.1.3 "Instructions That
/// Cause VM Exits Conditionally", §26.2 "Other Causes of VM Exits") and their exit information (§28.2 "Recording
/// VM-Exit Information and Updating VM-Entry Control Fields"): L1 enables VMX, VMWRITEs Vmcs12Builder's vmcs12 plus
/// the controls under test, and launches L2, whose first exit returns to L1's NOP.
/// </summary>
[TestFixture]
internal sealed class ConditionalExitTests
{
    private const ulong L2Code = L1Launcher.L2Code;
    private const ulong IoBitmapA = 0x32_0000;
    private const ulong IoBitmapB = 0x32_1000;

    /// <summary>Outside the harness's identity-mapped first GiB: not present.</summary>
    private const ulong Unmapped = 0x8000_0000;

    private const uint Valid = 1u << 31;
    private const uint ErrorValid = 1u << 11;

    /// <summary>
    /// Runs L2 (<paramref name="l2"/>) under a vmcs12 whose fields <paramref name="fields"/> overrides (or-ing the
    /// processor-based controls), until the first exit brings L1 to its NOP.
    /// </summary>
    private static VmxTestBed Run(Action<Assembler> l2, params (F Field, ulong Value)[] fields) => Run(null, l2, fields);

    /// <summary>As <see cref="Run(Action{Assembler}, ValueTuple{F, ulong}[])"/>, with <paramref name="memory"/> writing guest memory first.</summary>
    private static VmxTestBed Run(Action<VmxTestBed>? memory, Action<Assembler> l2, params (F Field, ulong Value)[] fields)
    {
        VmxTestBed bed = L1Launcher.Build(memory, l2, fields, orProcBasedControls: true);
        bed.H.Run();
        return bed;
    }

    private static ulong R(VmxTestBed bed, F field) => Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, field);

    private static (F, ulong) Proc(CpuBasedControls bits) => (F.CpuBasedVmExecControl, (ulong)bits);

    private static (F, ulong) Proc2(SecondaryControls bits) => (F.SecondaryVmExecControl, (ulong)bits);

    private static void AssertExit(VmxTestBed bed, ushort reason, ulong qualification, ulong length, ulong rip = L2Code)
    {
        Assert.That(bed.Vmx.GuestMode, Is.False, bed.H.Cpu.LastStopMessage);
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)reason));
        Assert.That(R(bed, F.ExitQualification), Is.EqualTo(qualification), "exit qualification");
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo(length), "instruction length");
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(rip), "guest RIP of the instruction that exited");
    }

    // ------------------------------------------------------------------ exceptions (reason 0)

    [Test]
    public void Ud_WithBitmapBit6_ExitsWithHardwareExceptionInfo()
    {
        using VmxTestBed bed = Run(a => a.ud2(), (F.ExceptionBitmap, 1UL << 6));
        AssertExit(bed, ExitReason.ExceptionNmi, 0, 0);
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)(Valid | (3u << 8) | 6)));
    }

    [Test]
    public void Gp_WithBitmapBit13_ExitsWithErrorCode()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(ax, 0x2B);    // not a valid selector in L2's GDT: #GP(0x28)
                a.mov(ds, ax);
            },
            (F.ExceptionBitmap, 1UL << 13));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.ExceptionNmi));
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)(Valid | ErrorValid | (3u << 8) | 13)));
        Assert.That(R(bed, F.VmExitIntrErrorCode), Is.EqualTo(0x28UL));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 4), "RIP of the faulting MOV DS");
    }

    [Test]
    public void Int3_WithBitmapBit3_ExitsAsSoftwareExceptionWithLength()
    {
        using VmxTestBed bed = Run(a => a.int3(), (F.ExceptionBitmap, 1UL << 3));
        AssertExit(bed, ExitReason.ExceptionNmi, 0, 1);
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)(Valid | (6u << 8) | 3)));
    }

    [Test]
    public void Ud_BitmapClear_NoExceptionExit()
    {
        // IDTR limit 0: the #UD cannot be delivered, #GP, #DF, #GP: a triple fault, which exits (reason 2).
        using VmxTestBed bed = Run(a => a.ud2(), (F.ExceptionBitmap, 0), (F.GuestIdtrLimit, 0));
        AssertExit(bed, ExitReason.TripleFault, 0, 0);
        Assert.That(R(bed, F.VmExitIntrInfo), Is.Zero);
        Assert.That(bed.H.Cpu.LastStopMessage ?? string.Empty, Does.Not.Contain("triple fault"));
    }

    /// <summary>
    /// #PF: bit 14 with PFEC_MASK / PFEC_MATCH decides; the qualification is the faulting address and CR2 keeps
    /// its old value (SDM Vol. 3C §28.1 "Architectural State Before a VM Exit").
    /// </summary>
    [TestCase(true, 0u, 0u, true)]       // bit 14 set, (PFEC & 0) == 0: exits
    [TestCase(true, 2u, 2u, false)]      // bit 14 set, a read (PFEC 0) does not match W: no exit
    [TestCase(false, 0u, 1u, true)]      // bit 14 clear, mismatch: exits
    [TestCase(false, 0u, 0u, false)]     // bit 14 clear, match: no exit
    public void PageFault_BitmapBit14WithMaskAndMatch(bool bit14, uint mask, uint match, bool exits)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(eax, 0x1234);
                a.mov(cr2, rax);
                a.mov(rax, Unmapped);
                a.mov(rbx, __qword_ptr[rax]);
            },
            (F.ExceptionBitmap, bit14 ? 1UL << 14 : 0),
            (F.PageFaultErrorCodeMask, mask),
            (F.PageFaultErrorCodeMatch, match),
            (F.GuestIdtrLimit, 0));
        Assert.That(bed.Vmx.GuestMode, Is.False);
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 18), "RIP of the faulting load (5 + 3 + 10)");
        if (exits)
        {
            Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.ExceptionNmi));
            Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)(Valid | ErrorValid | (3u << 8) | 14)));
            Assert.That(R(bed, F.VmExitIntrErrorCode), Is.Zero, "not present, read, supervisor");
            Assert.That(R(bed, F.ExitQualification), Is.EqualTo(Unmapped));
            Assert.That(bed.H.Cpu.State.Cr2, Is.EqualTo(0x1234UL), "CR2 not written by a #PF that exits");
        }
        else
        {
            Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.TripleFault), "delivered, then escalated");
            Assert.That(bed.H.Cpu.State.Cr2, Is.EqualTo(Unmapped));
        }
    }

    [Test]
    public void InjectedException_IsDeliveredNotIntercepted()
    {
        using VmxTestBed bed = Run(
            a => a.hlt(),
            (F.ExceptionBitmap, 1UL << 13),
            (F.VmEntryIntrInfoField, Valid | (3u << 8) | 13 | ErrorValid),
            (F.GuestIdtrLimit, 0));

        // No gate: delivery of the injected #GP fails and escalates to a triple fault, not an exception exit.
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.TripleFault));
    }

    // ------------------------------------------------------------------ instructions

    [Test]
    public void Rdtsc_WithRdtscExiting_Exits16()
    {
        using VmxTestBed bed = Run(a => a.rdtsc(), Proc(CpuBasedControls.RdtscExiting));
        AssertExit(bed, ExitReason.Rdtsc, 0, 2);
    }

    [Test]
    public void Rdtscp_WithRdtscExitingAndEnableRdtscp_Exits51()
    {
        using VmxTestBed bed = Run(
            a => a.rdtscp(),
            Proc(CpuBasedControls.RdtscExiting | CpuBasedControls.ActivateSecondaryControls),
            Proc2(SecondaryControls.EnableRdtscp));
        AssertExit(bed, ExitReason.Rdtscp, 0, 3);
    }

    [Test]
    public void Rdtscp_WithoutEnableRdtscp_IsUd()
    {
        using VmxTestBed bed = Run(a => a.rdtscp(), Proc(CpuBasedControls.RdtscExiting), (F.ExceptionBitmap, 1UL << 6));
        AssertExit(bed, ExitReason.ExceptionNmi, 0, 0);
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)(Valid | (3u << 8) | 6)));
    }

    /// <summary>SDM Vol. 3C §26.6.5 "Time-Stamp Counter Offset and Multiplier": L2 reads L1's TSC plus TSC_OFFSET; the exit takes the offset away.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void Rdtsc_TscOffsetting_AddsOffsetInL2Only(bool offsetting)
    {
        const ulong offset = 1UL << 50;
        using VmxTestBed bed = Run(
            a =>
            {
                a.rdtsc();
                a.cpuid();
            },
            Proc(offsetting ? CpuBasedControls.UseTscOffsetting : 0),
            (F.TscOffset, offset));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Cpuid));
        ulong l2Tsc = (bed.H.Cpu.State.Gpr[2] << 32) | (uint)bed.H.Cpu.State.Gpr[0];
        Assert.That(l2Tsc >= offset, Is.EqualTo(offsetting));
        Assert.That(bed.H.Cpu.State.TscOffset, Is.Zero, "L1's offset again after the exit");
    }

    [Test]
    public void Invlpg_WithInvlpgExiting_QualificationIsLinearAddress()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(eax, 0x1234_5678);
                a.invlpg(__[rax + 8]);
            },
            Proc(CpuBasedControls.InvlpgExiting));
        AssertExit(bed, ExitReason.Invlpg, 0x1234_5680, 4, L2Code + 5);
    }

    [Test]
    public void Invlpg_WithoutInvlpgExiting_RunsInL2()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.invlpg(__[rax]);
                a.cpuid();
            });
        AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 3);
    }

    [TestCase(0, ExitReason.Rdpmc, 2)]
    [TestCase(1, ExitReason.PauseInstruction, 2)]
    [TestCase(2, ExitReason.Wbinvd, 2)]
    [TestCase(3, ExitReason.Invd, 2)]
    public void SimpleInstruction_WithItsControl_Exits(int which, ushort reason, int length)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                switch (which)
                {
                    case 0: a.rdpmc(); break;
                    case 1: a.pause(); break;
                    case 2: a.wbinvd(); break;
                    default: a.invd(); break;
                }
            },
            Proc(CpuBasedControls.RdpmcExiting | CpuBasedControls.PauseExiting | CpuBasedControls.ActivateSecondaryControls),
            Proc2(SecondaryControls.WbinvdExiting));
        AssertExit(bed, reason, 0, (ulong)length);
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    public void SimpleInstruction_WithoutItsControl_RunsInL2(int which)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                switch (which)
                {
                    case 0: a.pause(); break;
                    case 1: a.wbinvd(); break;
                    default: a.rdtsc(); break;
                }

                a.cpuid();
            });
        AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 2);
    }

    // ------------------------------------------------------------------ control-register accesses (reason 28)

    private const ulong Ts = CpuState.Cr0Ts;
    private const ulong Mp = CpuState.Cr0Mp;

    /// <summary>SDM Vol. 3C §28.2.1 table "Exit Qualification for Control-Register Accesses": MOV to CR0 from RBX (GPR 3).</summary>
    [Test]
    public void MovToCr0_ChangingMaskedBitFromShadow_Exits()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(rbx, cr0);
                a.or(rbx, (int)Ts);
                a.mov(cr0, rbx);
            },
            (F.Cr0GuestHostMask, Ts),
            (F.Cr0ReadShadow, 0));
        AssertExit(bed, ExitReason.CrAccess, 0x300, 3, L2Code + 7);
        Assert.That(R(bed, F.GuestCr0) & Ts, Is.Zero, "the MOV did not execute");
    }

    /// <summary>
    /// SDM Vol. 3C §26.3: MOV from CR0 and SMSW read a masked bit from the shadow; a MOV to CR0 that leaves masked
    /// bits equal to the shadow does not exit and does not modify them; unmasked bits change.
    /// </summary>
    [Test]
    public void Cr0_ReadShadowAndMaskedBitsKept_NoExit()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(rax, cr0);
                a.smsw(rbx);
                a.and(rax, unchecked((int)~Mp));
                a.mov(cr0, rax);
                a.cpuid();
            },
            (F.Cr0GuestHostMask, Ts),
            (F.Cr0ReadShadow, Ts));
        ref CpuState s = ref bed.H.Cpu.State;
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Cpuid));
        Assert.That(s.Gpr[0] & Ts, Is.EqualTo(Ts), "MOV from CR0: TS from the read shadow");
        Assert.That(s.Gpr[3] & Ts, Is.EqualTo(Ts), "SMSW: TS from the read shadow");
        Assert.That(R(bed, F.GuestCr0) & Ts, Is.Zero, "masked TS kept its real value");
        Assert.That(R(bed, F.GuestCr0) & Mp, Is.Zero, "unmasked MP written");
    }

    [Test]
    public void Cr4_MaskAndShadow_ReadFromShadowWriteExitsOnDifference()
    {
        const ulong osfxsr = CpuState.Cr4Osfxsr;
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(rax, cr4);
                a.mov(r12, rax);
                a.mov(cr4, rax);            // OSFXSR = shadow (0): no exit, real OSFXSR stays 1
                a.or(rax, (int)osfxsr);
                a.mov(cr4, rax);            // differs from the shadow: exits
            },
            (F.Cr4GuestHostMask, osfxsr),
            (F.Cr4ReadShadow, 0));
        AssertExit(bed, ExitReason.CrAccess, 4, 3, L2Code + 15);
        Assert.That(bed.H.Cpu.State.Gpr[12] & osfxsr, Is.Zero, "MOV from CR4 read the shadow");
        Assert.That(R(bed, F.GuestCr4) & osfxsr, Is.EqualTo(osfxsr));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Clts_ExitsOnlyIfTsInMaskAndShadow(bool shadowTs)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.clts();
                a.cpuid();
            },
            (F.GuestCr0, Vmcs12Builder.Cr0 | Ts),
            (F.Cr0GuestHostMask, Ts),
            (F.Cr0ReadShadow, shadowTs ? Ts : 0));
        if (shadowTs)
        {
            AssertExit(bed, ExitReason.CrAccess, 0x20, 2);
        }
        else
        {
            AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 2);
        }

        Assert.That(R(bed, F.GuestCr0) & Ts, Is.EqualTo(Ts), "masked TS never cleared by CLTS");
    }

    /// <summary>LMSW: qualification bits 5:4 = 3, bit 6 memory operand, bits 31:16 the source.</summary>
    [TestCase(0x3, false, false)]   // masked PE/MP equal to the shadow
    [TestCase(0x1, false, true)]    // MP differs from the shadow
    [TestCase(0x1, true, true)]     // same, memory operand
    public void Lmsw_ExitsWhenMaskedBitsDifferFromShadow(int source, bool memory, bool exits)
    {
        using VmxTestBed bed = Run(
            mem => mem.H.Memory.Write(0x33_0000, 2, (ulong)source),
            a =>
            {
                a.mov(eax, 0x33_0000);
                a.mov(ecx, source);
                if (memory)
                {
                    a.lmsw(__word_ptr[rax]);
                }
                else
                {
                    a.lmsw(cx);
                }

                a.cpuid();
            },
            (F.Cr0GuestHostMask, CpuState.Cr0Pe | Mp),
            (F.Cr0ReadShadow, CpuState.Cr0Pe | Mp));
        if (exits)
        {
            AssertExit(bed, ExitReason.CrAccess, ((ulong)source << 16) | 0x30 | (memory ? 0x40UL : 0), memory ? 3UL : 4UL, L2Code + 10);
        }
        else
        {
            AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 14);
        }
    }

    /// <summary>CR3-load exiting with the CR3-target list: a target value loads in L2, any other exits.</summary>
    [Test]
    public void MovToCr3_TargetListAvoidsExit()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(eax, (uint)CpuHarness.PageTables);
                a.mov(cr3, rax);
                a.mov(esi, 0x20_1000);
                a.mov(cr3, rsi);
            },
            Proc(CpuBasedControls.Cr3LoadExiting),
            (F.Cr3TargetCount, 2),
            (F.Cr3TargetValue0, 0x40_0000),
            (F.Cr3TargetValue1, CpuHarness.PageTables));
        AssertExit(bed, ExitReason.CrAccess, 0x603, 3, L2Code + 13);
    }

    [Test]
    public void MovFromCr3_WithCr3StoreExiting_Exits()
    {
        using VmxTestBed bed = Run(a => a.mov(rcx, cr3), Proc(CpuBasedControls.Cr3StoreExiting));
        AssertExit(bed, ExitReason.CrAccess, 0x113, 3);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Cr8_LoadAndStoreExiting(bool load)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                if (load)
                {
                    a.mov(cr8, rdx);
                }
                else
                {
                    a.mov(r9, cr8);
                }
            },
            Proc(load ? CpuBasedControls.Cr8LoadExiting : CpuBasedControls.Cr8StoreExiting));
        AssertExit(bed, ExitReason.CrAccess, load ? 0x208UL : 0x918UL, 4);
    }

    [Test]
    public void CrAccess_WithoutControls_RunsInL2()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(rax, cr3);
                a.mov(cr3, rax);
                a.mov(rbx, cr8);
                a.clts();
                a.cpuid();
            });
        AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 12);
    }

    /// <summary>SDM Vol. 3C §28.2.1 table "Exit Qualification for MOV DR": DR number, bit 4 = MOV from DR, GPR in 11:8.</summary>
    [TestCase(true, 0x0517UL)]    // MOV RBP, DR7
    [TestCase(false, 0x0A03UL)]   // MOV DR3, R10
    public void MovDr_WithMovDrExiting_Exits(bool fromDr, ulong qualification)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                if (fromDr)
                {
                    a.mov(rbp, dr7);
                }
                else
                {
                    a.mov(dr3, r10);
                }
            },
            Proc(CpuBasedControls.MovDrExiting));
        AssertExit(bed, ExitReason.DrAccess, qualification, fromDr ? 3UL : 4UL);
    }

    [Test]
    public void MovDr_WithoutMovDrExiting_RunsInL2()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(rax, dr7);
                a.cpuid();
            });
        AssertExit(bed, ExitReason.Cpuid, 0, 2, L2Code + 3);
    }

    // ------------------------------------------------------------------ I/O (reason 30)

    /// <summary>SDM Vol. 3C §28.2.1 table "Exit Qualification for I/O Instructions".</summary>
    [TestCase(0, 0x0080_0040UL, 2)]     // OUT 80h, AL: size 1, OUT, immediate
    [TestCase(1, 0x03F8_000BUL, 1)]     // IN EAX, DX (3F8h): size 4, IN, DX
    [TestCase(2, 0x03F8_0031UL, 3)]     // REP OUTSW: size 2, OUT, string, REP
    [TestCase(3, 0x03F8_0018UL, 1)]     // INSB: size 1, IN, string
    public void Io_UnconditionalExiting_Qualification(int which, ulong qualification, int length)
    {
        using VmxTestBed bed = Run(
            a =>
            {
                a.mov(edx, 0x3F8);
                a.mov(ecx, 4);
                a.mov(esi, 0x1000);
                a.mov(edi, 0x1000);
                switch (which)
                {
                    case 0: a.@out(0x80, al); break;
                    case 1: a.@in(eax, dx); break;
                    case 2: a.rep.outsw(); break;
                    default: a.insb(); break;
                }
            },
            Proc(CpuBasedControls.UncondIoExiting));
        AssertExit(bed, ExitReason.IoInstruction, qualification, (ulong)length, L2Code + 20);
        Assert.That(bed.H.Cpu.State.Gpr[1], Is.EqualTo(4UL), "nothing of the instruction executed");
    }

    /// <summary>SDM Vol. 3C §26.1.3: with I/O bitmaps, an access exits if the bit of any of its ports is set (bitmap B from 8000H).</summary>
    [TestCase(0x70, 1, false)]
    [TestCase(0x70, 2, true)]      // covers port 71h
    [TestCase(0x71, 1, true)]
    [TestCase(0x8000, 4, true)]    // covers port 8001h in bitmap B
    [TestCase(0x8002, 2, false)]
    public void Io_Bitmaps_AnyByteOfTheAccess(int port, int size, bool exits)
    {
        using VmxTestBed bed = RunIo(port, size);
        if (exits)
        {
            Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.IoInstruction));
            Assert.That(R(bed, F.ExitQualification), Is.EqualTo(((ulong)port << 16) | 8 | (uint)(size - 1)));
            Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 5));
        }
        else
        {
            Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Cpuid));
        }
    }

    private static VmxTestBed RunIo(int port, int size)
    {
        return Run(
            bed =>
            {
                bed.H.Memory.Write(IoBitmapA + (0x71 >> 3), 1, 1UL << (0x71 & 7));
                bed.H.Memory.Write(IoBitmapB + (0x0001 >> 3), 1, 1UL << (0x0001 & 7));
            },
            a =>
            {
                a.mov(edx, (uint)port);
                switch (size)
                {
                    case 1: a.@in(al, dx); break;
                    case 2: a.@in(ax, dx); break;
                    default: a.@in(eax, dx); break;
                }

                a.cpuid();
            },
            Proc(CpuBasedControls.UseIoBitmaps | CpuBasedControls.UncondIoExiting),
            (F.IoBitmapA, IoBitmapA),
            (F.IoBitmapB, IoBitmapB));
    }

    // ------------------------------------------------------------------ allocation

    /// <summary>
    /// The new exit paths allocate nothing: L2 loops on INT3 (exception bitmap), OUT (I/O exiting), RDTSC (RDTSC
    /// exiting) and MOV to CR0 changing a masked bit; L1 counts, steps over each and resumes, 3,000 exits per run.
    /// </summary>
    [Test]
    public void ConditionalExitLoop_AllocatesNothing()
    {
        using VmxTestBed bed = Run(
            a =>
            {
                Label top = a.CreateLabel();
                a.Label(ref top);
                a.int3();
                a.@out(0x80, al);
                a.rdtsc();
                a.mov(rbx, cr0);
                a.or(rbx, (int)Ts);
                a.mov(cr0, rbx);
                a.jmp(top);
            },
            Proc(CpuBasedControls.UncondIoExiting | CpuBasedControls.RdtscExiting),
            (F.ExceptionBitmap, 1UL << 3),
            (F.Cr0GuestHostMask, Ts),
            (F.Cr0ReadShadow, 0));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.ExceptionNmi));
        bed.H.Load(a =>
        {
            Label handler = a.CreateLabel();
            Label done = a.CreateLabel();
            a.xor(r15d, r15d);
            a.lea(rax, __[handler]);
            a.mov(ecx, (uint)F.HostRip);
            a.vmwrite(rcx, rax);
            a.Label(ref handler);
            a.inc(r15);
            a.cmp(r15, 3000);
            a.je(done);
            a.mov(ecx, (uint)F.GuestRip);
            a.vmread(rax, rcx);
            a.mov(ecx, (uint)F.VmExitInstructionLen);
            a.vmread(rbx, rcx);
            a.add(rax, rbx);
            a.mov(ecx, (uint)F.GuestRip);
            a.vmwrite(rcx, rax);
            a.vmresume();
            a.ud2();
            a.Label(ref done);
            a.hlt();
        });

        StopReason RunLoop()
        {
            bed.H.Cpu.State.Rip = CpuHarness.CodeAddress;
            bed.H.Cpu.Halted = false;
            return bed.H.Cpu.Run(100_000_000);
        }

        for (int i = 0; i < 30; i++)
        {
            Assert.That(RunLoop(), Is.EqualTo(StopReason.HaltedForever), bed.H.Cpu.LastStopMessage);
        }

        long exitsBefore = bed.Vmx.NestedVmExitCount;
        long before = GC.GetAllocatedBytesForCurrentThread();
        StopReason stop = RunLoop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(stop, Is.EqualTo(StopReason.HaltedForever), bed.H.Cpu.LastStopMessage);
        Assert.That(bed.Vmx.NestedVmExitCount - exitsBefore, Is.EqualTo(2999));
        Assert.That(bed.H.Cpu.State.Gpr[15], Is.EqualTo(3000UL));
        Assert.That(allocated, Is.Zero);
    }

}
