using Emulator.Cpu;
using Emulator.Tests.Cpu;
using Emulator.Tests.Vmx.Entry;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using F = Emulator.Vmx.Vmcs.VmcsField;

namespace Emulator.Tests.Vmx.Exits;

/// <summary>
/// Round trips for the exits events and event windows cause (SDM Vol. 3C §26.2 "Other Causes of VM Exits",
/// "Interrupt-Window Exiting and Virtual-Interrupt Delivery", "NMI-Window Exiting") and their exit information
/// (§28.2.2 "Information for VM Exits Due to Vectored Events"): L1 VMWRITEs Vmcs12Builder's vmcs12 with the
/// fields under test and launches L2; the first exit returns to L1's NOP.
/// </summary>
[TestFixture]
internal sealed class EventExitTests
{
    private const ulong L2Code = L1Launcher.L2Code;
    private const uint Valid = 1u << 31;
    private const ulong IfSet = 0x202;
    private const int Vector = 0x40;

    private sealed class FakeSource : IInterruptSource
    {
        public bool Pending = true;
        public int Acks;

        public bool HasPending => Pending;

        public int Acknowledge()
        {
            Acks++;
            Pending = false;
            return Vector;
        }
    }

    private static VmxTestBed Run(Action<VmxTestBed>? setup, Action<Assembler> l2, params (F Field, ulong Value)[] fields)
    {
        VmxTestBed bed = Build(setup, l2, fields);
        bed.H.Run();
        return bed;
    }

    /// <summary>Builds L1 and L2 as <see cref="Run"/> does, without running them.</summary>
    private static VmxTestBed Build(Action<VmxTestBed>? setup, Action<Assembler> l2, params (F Field, ulong Value)[] fields) =>
        L1Launcher.Build(setup, l2, fields, orProcBasedControls: false);

    private static ulong R(VmxTestBed bed, F field) => Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, field);

    private static (F, ulong) Pin(PinBasedControls bits) => (F.PinBasedVmExecControl, Vmcs12Builder.PinCtl | (ulong)bits);

    private static (F, ulong) Proc(CpuBasedControls bits) => (F.CpuBasedVmExecControl, Vmcs12Builder.ProcCtl | (ulong)bits);

    private static (F, ulong) Flags(ulong rflags) => (F.GuestRflags, rflags);

    private static void AssertExit(VmxTestBed bed, ushort reason, ulong rip, ulong intrInfo = 0)
    {
        Assert.That(bed.Vmx.GuestMode, Is.False, bed.H.Cpu.LastStopMessage);
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)reason), "exit reason");
        Assert.That(R(bed, F.ExitQualification), Is.Zero, "exit qualification");
        Assert.That(R(bed, F.VmExitInstructionLen), Is.Zero, "instruction length");
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(rip), "guest RIP");
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo(intrInfo), "VM-exit interruption information");
    }

    private static void Nops(Assembler a)
    {
        a.nop();
        a.nop();
        a.nop();
        a.vmcall();
    }

    // ------------------------------------------------------------------ external-interrupt exiting (reason 1)

    [Test]
    public void ExternalInterrupt_WithoutAck_ExitsAtEntryAndLeavesItPending()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, Pin(PinBasedControls.ExtIntrExiting), Flags(IfSet));
        AssertExit(bed, ExitReason.ExternalInterrupt, L2Code);
        Assert.That(src.Acks, Is.Zero);
        Assert.That(src.Pending, Is.True);
    }

    [Test]
    public void ExternalInterrupt_WithAckOnExit_RecordsVectorAsTypeZero()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, Pin(PinBasedControls.ExtIntrExiting), Flags(IfSet),
            (F.VmExitControls, Vmcs12Builder.ExitCtl | (ulong)VmExitControls.AckIntrOnExit));
        AssertExit(bed, ExitReason.ExternalInterrupt, L2Code, Valid | Vector);
        Assert.That(src.Acks, Is.EqualTo(1));
        Assert.That(bed.H.Cpu.Rflags & 0x200, Is.Zero, "L1 runs with the host RFLAGS");
    }

    [Test]
    public void ExternalInterrupt_ExitsEvenWithIfClear()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, Pin(PinBasedControls.ExtIntrExiting), Flags(2));
        AssertExit(bed, ExitReason.ExternalInterrupt, L2Code);
        Assert.That(R(bed, F.GuestRflags) & 0x200, Is.Zero);
    }

    [Test]
    public void ExternalInterrupt_HeldOffByBlockingBySti()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, Pin(PinBasedControls.ExtIntrExiting), Flags(IfSet),
            (F.GuestInterruptibilityInfo, 1));
        AssertExit(bed, ExitReason.ExternalInterrupt, L2Code + 1);
    }

    [Test]
    public void ExternalInterrupt_L2HaltedWithIfClear_WaitsAndExitsWhenOneArrives()
    {
        var src = new FakeSource { Pending = false };
        using VmxTestBed bed = Build(b => b.H.Cpu.Interrupts = src, a =>
        {
            a.hlt();
            a.vmcall();
        }, Pin(PinBasedControls.ExtIntrExiting), Flags(2));
        StopReason stop = StopReason.None;
        for (int n = 0; n < 10_000 && stop != StopReason.Halted && stop != StopReason.HaltedForever; n++)
        {
            stop = bed.H.Cpu.Run(1);
        }

        Assert.That(stop, Is.EqualTo(StopReason.Halted), "HLT with IF = 0 under external-interrupt exiting waits");
        Assert.That(bed.Vmx.GuestMode, Is.True);
        src.Pending = true;
        bed.H.Run();
        AssertExit(bed, ExitReason.ExternalInterrupt, L2Code + 1);
        Assert.That(R(bed, F.GuestActivityState), Is.EqualTo(1UL), "HLT activity state saved");
    }

    [Test]
    public void ExternalInterrupt_WithoutControlAndIfClear_L2RunsOn()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, Flags(2));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Vmcall));
        Assert.That(src.Pending, Is.True);
    }

    // ------------------------------------------------------------------ interrupt-window exiting (reason 7)

    [Test]
    public void InterruptWindow_OpenAtEntry_ExitsBeforeFirstInstruction()
    {
        using VmxTestBed bed = Run(null, Nops, Proc(CpuBasedControls.IntrWindowExiting), Flags(IfSet));
        AssertExit(bed, ExitReason.InterruptWindow, L2Code);
    }

    [Test]
    public void InterruptWindow_OpensAfterStiShadow()
    {
        using VmxTestBed bed = Run(null, a =>
        {
            a.nop();
            a.sti();
            a.nop();
            a.nop();
            a.vmcall();
        }, Proc(CpuBasedControls.IntrWindowExiting), Flags(2));
        AssertExit(bed, ExitReason.InterruptWindow, L2Code + 3);
        Assert.That(R(bed, F.GuestInterruptibilityInfo), Is.Zero);
    }

    [Test]
    public void InterruptWindow_OpensRightAfterPopfSetsIf()
    {
        using VmxTestBed bed = Run(null, a =>
        {
            a.push(0x202);
            a.popfq();
            a.nop();
            a.vmcall();
        }, Proc(CpuBasedControls.IntrWindowExiting), Flags(2));

        // PUSH imm32 (5 bytes) and POPFQ (1): POPF sets no interrupt shadow.
        AssertExit(bed, ExitReason.InterruptWindow, L2Code + 6);
    }

    [Test]
    public void InterruptWindow_IfClear_NoExit()
    {
        using VmxTestBed bed = Run(null, Nops, Proc(CpuBasedControls.IntrWindowExiting), Flags(2));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Vmcall));
    }

    [Test]
    public void InterruptWindow_L2Halts_StillExitsInHltActivity()
    {
        using VmxTestBed bed = Run(null, a =>
        {
            a.sti();
            a.hlt();
            a.vmcall();
        }, Proc(CpuBasedControls.IntrWindowExiting), Flags(2));
        AssertExit(bed, ExitReason.InterruptWindow, L2Code + 2);
        Assert.That(R(bed, F.GuestActivityState), Is.EqualTo(1UL), "HLT activity state saved");
        Assert.That(bed.H.Cpu.Halted, Is.False, "L1 runs");
    }

    [Test]
    public void InterruptWindow_EntryInHltActivity_Exits()
    {
        using VmxTestBed bed = Run(null, Nops, Proc(CpuBasedControls.IntrWindowExiting), Flags(IfSet), (F.GuestActivityState, 1));
        AssertExit(bed, ExitReason.InterruptWindow, L2Code);
        Assert.That(R(bed, F.GuestActivityState), Is.EqualTo(1UL));
    }

    // ------------------------------------------------------------------ NMI exiting (reason 0) and NMI-window exiting (reason 8)

    [Test]
    public void Nmi_WithNmiExiting_ExitsWithNmiTypeAndStaysBlocked()
    {
        // L1 holds the NMI off (blocking by NMI); L2's interruptibility state has none.
        using VmxTestBed bed = Run(b =>
        {
            b.H.Cpu.NmiBlocked = true;
            b.H.Cpu.NmiPending = true;
        }, Nops, Pin(PinBasedControls.NmiExiting));
        AssertExit(bed, ExitReason.ExceptionNmi, L2Code, Valid | (2u << 8) | 2);
        Assert.That(bed.H.Cpu.NmiPending, Is.False);
        Assert.That(bed.H.Cpu.NmiBlocked, Is.True);
    }

    [Test]
    public void Nmi_BlockedInL2_NoExit()
    {
        using VmxTestBed bed = Run(b =>
        {
            b.H.Cpu.NmiBlocked = true;
            b.H.Cpu.NmiPending = true;
        }, Nops, Pin(PinBasedControls.NmiExiting), (F.GuestInterruptibilityInfo, 8));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Vmcall));
        Assert.That(bed.H.Cpu.NmiPending, Is.True);
    }

    [Test]
    public void NmiWindow_NoVirtualNmiBlocking_ExitsAtEntry()
    {
        using VmxTestBed bed = Run(null, Nops, Pin(PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis),
            Proc(CpuBasedControls.NmiWindowExiting));
        AssertExit(bed, ExitReason.NmiWindow, L2Code);
    }

    [Test]
    public void NmiWindow_VirtualNmiBlocked_NoExit()
    {
        using VmxTestBed bed = Run(null, Nops, Pin(PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis),
            Proc(CpuBasedControls.NmiWindowExiting), (F.GuestInterruptibilityInfo, 8));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Vmcall));
    }

    // ------------------------------------------------------------------ IDT-vectoring information (§28.2.4)

    /// <summary>Outside the harness's identity-mapped first GiB: L2's IDT there makes every delivery #PF.</summary>
    private const ulong Unmapped = 0x8000_0000;

    private static readonly (F, ulong) UnmappedIdt = (F.GuestIdtrBase, Unmapped);
    private static readonly (F, ulong) PfBitmap = (F.ExceptionBitmap, 1UL << 14);
    private const uint PfInfo = Valid | (3u << 8) | (1u << 11) | 14;

    private static void AssertPfDuringDelivery(VmxTestBed bed, int vector, ulong rip, ulong vectoring, ulong length = 0)
    {
        Assert.That(bed.Vmx.GuestMode, Is.False, bed.H.Cpu.LastStopMessage);
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.ExceptionNmi), "exit reason");
        Assert.That(R(bed, F.VmExitIntrInfo), Is.EqualTo((ulong)PfInfo), "the #PF is the exiting event");
        Assert.That(R(bed, F.VmExitIntrErrorCode), Is.Zero, "supervisor read of a not-present gate");
        Assert.That(R(bed, F.ExitQualification), Is.EqualTo(Unmapped + (ulong)(16 * vector)), "the gate's address");
        Assert.That(R(bed, F.IdtVectoringInfoField), Is.EqualTo(vectoring), "IDT-vectoring information");
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo(length), "instruction length");
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(rip), "guest RIP");
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringInjectedExternalInterrupt()
    {
        using VmxTestBed bed = Run(null, Nops, UnmappedIdt, PfBitmap, Flags(IfSet), (F.VmEntryIntrInfoField, Valid | Vector));
        AssertPfDuringDelivery(bed, Vector, L2Code, Valid | Vector);
        Assert.That(R(bed, F.VmEntryIntrInfoField) & Valid, Is.Zero, "entry interruption information invalidated");
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringInjectedSoftwareInterrupt_RecordsLength()
    {
        using VmxTestBed bed = Run(null, Nops, UnmappedIdt, PfBitmap, (F.VmEntryIntrInfoField, Valid | (4u << 8) | Vector),
            (F.VmEntryInstructionLen, 2));
        AssertPfDuringDelivery(bed, Vector, L2Code, Valid | (4u << 8) | Vector, 2);
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringHardwareException()
    {
        using VmxTestBed bed = Run(null, a => a.ud2(), UnmappedIdt, PfBitmap);
        AssertPfDuringDelivery(bed, 6, L2Code, Valid | (3u << 8) | 6);
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringExceptionWithErrorCode()
    {
        using VmxTestBed bed = Run(null, a =>
        {
            a.mov(rax, 0x8000_0000_0000_0000);
            a.mov(rbx, __qword_ptr[rax]);
        }, UnmappedIdt, PfBitmap);
        AssertPfDuringDelivery(bed, 13, L2Code + 10, Valid | (3u << 8) | (1u << 11) | 13);
        Assert.That(R(bed, F.IdtVectoringErrorCode), Is.Zero, "#GP(0)");
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringIntN_RecordsTypeFourAndLength()
    {
        using VmxTestBed bed = Run(null, a => a.@int(Vector), UnmappedIdt, PfBitmap);
        AssertPfDuringDelivery(bed, Vector, L2Code, Valid | (4u << 8) | Vector, 2);
    }

    [Test]
    public void IdtVectoring_PfWhileDeliveringHardwareInterrupt()
    {
        var src = new FakeSource();
        using VmxTestBed bed = Run(b => b.H.Cpu.Interrupts = src, Nops, UnmappedIdt, PfBitmap, Flags(IfSet));
        AssertPfDuringDelivery(bed, Vector, L2Code, Valid | Vector);
        Assert.That(src.Acks, Is.EqualTo(1));
    }

    [Test]
    public void IdtVectoring_InvalidForAnExceptionExitOutsideDelivery()
    {
        using VmxTestBed bed = Run(null, a => a.ud2(), (F.ExceptionBitmap, 1UL << 6));
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.ExceptionNmi));
        Assert.That(R(bed, F.IdtVectoringInfoField), Is.Zero);
    }

}
