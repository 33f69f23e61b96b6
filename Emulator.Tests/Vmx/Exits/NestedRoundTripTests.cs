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
/// The smallest real round trip through the interpreter: L1 enables VMX, VMWRITEs a valid vmcs12 and launches L2;
/// L2's CPUID and HLT exit to L1 (SDM Vol. 3C chapters "VM Entries" and "VM Exits"), L1 advances the guest RIP
/// and resumes. Like KVM's selftests, L1 and L2 are small assembly programs.
/// </summary>
[TestFixture]
internal sealed class NestedRoundTripTests
{
    /// <summary>L2's code: outside L1's snippet, at a fixed address the guest RIP names.</summary>
    private const ulong L2Code = 0x30_0000;

    /// <summary>The (encoding, value) list L1 VMWRITEs, terminated by an all-ones encoding.</summary>
    private const ulong FieldTable = 0x31_0000;

    private const ulong VmxonPtr = CpuHarness.DataAddress;
    private const ulong VmcsPtr = CpuHarness.DataAddress + 8;

    /// <summary>
    /// A test bed with L2's code at <see cref="L2Code"/> and Vmcs12Builder's vmcs12 (guest RIP = L2's code, HLT
    /// exiting on) as a VMWRITE table in memory.
    /// </summary>
    private static VmxTestBed NewBed(Action<Assembler> l2)
    {
        var bed = new VmxTestBed();
        var asm = new Assembler(64);
        l2(asm);
        bed.H.Memory.TryWriteBytes(L2Code, asm.ToBytes(L2Code));

        ulong at = FieldTable;
        Vmcs12Builder.Fill((field, value) =>
        {
            if (field == F.CpuBasedVmExecControl)
            {
                value |= (ulong)CpuBasedControls.HltExiting;
            }
            else if (field == F.GuestRip)
            {
                value = L2Code;
            }

            bed.H.Memory.Write(at, 8, (ulong)field);
            bed.H.Memory.Write(at + 8, 8, value);
            at += 16;
        });
        bed.H.Memory.Write(at, 8, ulong.MaxValue);
        bed.H.Memory.Write(VmxonPtr, 8, VmxTestBed.VmxonRegion);
        bed.H.Memory.Write(VmcsPtr, 8, VmxTestBed.Vmcs1);
        return bed;
    }

    /// <summary>L1: VMXON, VMCLEAR, VMPTRLD, then VMWRITE every field of the table.</summary>
    private static void EnableAndFill(Assembler a)
    {
        Label fill = a.CreateLabel();
        Label filled = a.CreateLabel();
        a.mov(rax, VmxonPtr);
        a.vmxon(__qword_ptr[rax]);
        a.mov(rax, VmcsPtr);
        a.vmclear(__qword_ptr[rax]);
        a.vmptrld(__qword_ptr[rax]);
        a.mov(rsi, FieldTable);
        a.Label(ref fill);
        a.mov(rcx, __qword_ptr[rsi]);
        a.cmp(rcx, -1);
        a.je(filled);
        a.vmwrite(rcx, __qword_ptr[rsi + 8]);
        a.add(rsi, 16);
        a.jmp(fill);
        a.Label(ref filled);
        a.nop();
    }

    /// <summary>VMWRITE <paramref name="field"/> := the address of <paramref name="label"/>.</summary>
    private static void WriteLabel(Assembler a, F field, Label label)
    {
        a.lea(rax, __[label]);
        a.mov(ecx, (uint)field);
        a.vmwrite(rcx, rax);
    }

    /// <summary>L1's exit handler tail: GUEST_RIP += VM_EXIT_INSTRUCTION_LEN (rax, rbx, rcx clobbered).</summary>
    private static void AdvanceGuestRip(Assembler a)
    {
        a.mov(ecx, (uint)F.GuestRip);
        a.vmread(rax, rcx);
        a.mov(ecx, (uint)F.VmExitInstructionLen);
        a.vmread(rbx, rcx);
        a.add(rax, rbx);
        a.mov(ecx, (uint)F.GuestRip);
        a.vmwrite(rcx, rax);
    }

    private static ulong R(VmxTestBed bed, F field) => Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, field);

    [Test]
    public void L2Cpuid_ExitsToHostRip_ThenVmresumeAndHltExits()
    {
        using VmxTestBed bed = NewBed(a =>
        {
            a.cpuid();
            a.hlt();
        });
        ref CpuState s = ref bed.H.Cpu.State;

        // L1 launches L2 with HOST_RIP = a NOP at the end of its snippet, after which the harness stops.
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            EnableAndFill(a);
            WriteLabel(a, F.HostRip, exit);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();

        Assert.That(bed.Vmx.GuestMode, Is.False);
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Cpuid));
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo(2UL));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code), "RIP of the CPUID that exited");
        Assert.That(R(bed, F.GuestRsp), Is.EqualTo(0x50_0000UL));
        Assert.That(R(bed, F.GuestCsArBytes), Is.EqualTo((ulong)Vmcs12Builder.CodeAr64));
        Assert.That(R(bed, F.GuestLdtrArBytes) & Vmcs12Builder.Unusable, Is.Not.Zero, "LDTR saved unusable");
        Assert.That(R(bed, F.GuestTrSelector), Is.EqualTo(0x18UL));
        Assert.That(R(bed, F.GuestGdtrBase), Is.EqualTo(0xA000UL));
        Assert.That(R(bed, F.GuestActivityState), Is.Zero);
        Assert.That(R(bed, F.IdtVectoringInfoField), Is.Zero);
        
        // L1's state is vmcs12's host state.
        Assert.That(s.Gpr[4], Is.EqualTo(Vmcs12Builder.HostRsp));
        Assert.That(s.Cr3, Is.EqualTo(CpuHarness.PageTables));
        Assert.That(s.Seg[(int)SegReg.Cs].Selector, Is.EqualTo((ushort)0x08));
        Assert.That(s.Seg[(int)SegReg.Ss].Selector, Is.EqualTo((ushort)0x10));
        Assert.That(s.Seg[(int)SegReg.Fs].Base, Is.EqualTo(Vmcs12Builder.HostFsBase));
        Assert.That(s.Gdtr.Base, Is.EqualTo(Vmcs12Builder.HostGdtrBase));
        Assert.That(s.GetRflags(), Is.EqualTo(2UL));
        Assert.That(s.Is64, Is.True);

        // L1 steps over the CPUID and resumes; L2's HLT exits with HLT exiting on.
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            AdvanceGuestRip(a);
            WriteLabel(a, F.HostRip, exit);
            a.vmresume();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();

        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Hlt));
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo(1UL));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 2));
        Assert.That(bed.H.Cpu.Halted, Is.False, "HLT exiting: L2 never halted, L1 runs");
        Assert.That(bed.Vmx.NestedVmExitCount, Is.EqualTo(2));
    }

    /// <summary>SDM Vol. 3C §26.1.2 "Instructions That Cause VM Exits Unconditionally": every VMX instruction in L2.</summary>
    [TestCase(0, ExitReason.Vmcall, 3)]
    [TestCase(1, ExitReason.Vmoff, 3)]
    [TestCase(2, ExitReason.Vmread, 3)]
    [TestCase(3, ExitReason.Vmwrite, 3)]
    [TestCase(4, ExitReason.Vmptrld, 3)]
    [TestCase(5, ExitReason.Vmclear, 4)]
    [TestCase(6, ExitReason.Vmptrst, 3)]
    [TestCase(7, ExitReason.Vmlaunch, 3)]
    [TestCase(8, ExitReason.Vmresume, 3)]
    [TestCase(9, ExitReason.Vmon, 4)]
    public void L2VmxInstruction_ExitsWithItsReason(int which, ushort reason, int length)
    {
        using VmxTestBed bed = NewBed(a =>
        {
            switch (which)
            {
                case 0: a.vmcall(); break;
                case 1: a.vmxoff(); break;
                case 2: a.vmread(rax, rcx); break;
                case 3: a.vmwrite(rcx, rax); break;
                case 4: a.vmptrld(__qword_ptr[rax]); break;
                case 5: a.vmclear(__qword_ptr[rax]); break;
                case 6: a.vmptrst(__qword_ptr[rax]); break;
                case 7: a.vmlaunch(); break;
                case 8: a.vmresume(); break;
                default: a.vmxon(__qword_ptr[rax]); break;
            }
        });
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            EnableAndFill(a);
            WriteLabel(a, F.HostRip, exit);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)reason));
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo((ulong)length));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code));
        Assert.That(bed.Vmx.GuestMode, Is.False);
        Assert.That(bed.Vmx.VmxOn, Is.True, "the exit happened instead of the instruction");
    }

    [TestCase(false, 0x10u, ExitReason.MsrRead)]
    [TestCase(true, 0x10u, ExitReason.MsrWrite)]
    public void L2Msr_WithoutMsrBitmaps_ExitsUnconditionally(bool write, uint msr, ushort reason)
    {
        using VmxTestBed bed = NewBed(a =>
        {
            a.mov(ecx, msr);
            if (write)
            {
                a.wrmsr();
            }
            else
            {
                a.rdmsr();
            }
        });
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            EnableAndFill(a);
            WriteLabel(a, F.HostRip, exit);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)reason));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 5));
        Assert.That(R(bed, F.VmExitInstructionLen), Is.EqualTo(2UL));
    }

    [Test]
    public void L2Rdmsr_MsrBitmap_ExitsOnlyForSetBits()
    {
        const ulong bitmap = 0x32_0000;
        using VmxTestBed bed = NewBed(a =>
        {
            a.mov(ecx, 0x10u);              // IA32_TIME_STAMP_COUNTER: bit clear, runs in L2
            a.rdmsr();
            a.mov(ecx, 0xC000_0080u);       // IA32_EFER: bit set in the read-high bitmap, exits
            a.rdmsr();
        });
        bed.H.Memory.Write(bitmap + 1024 + (0x80 >> 3), 1, 1UL << (0x80 & 7));
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            EnableAndFill(a);
            a.mov(ecx, (uint)F.CpuBasedVmExecControl);
            a.vmread(rax, rcx);
            a.or(eax, (int)CpuBasedControls.UseMsrBitmaps);
            a.vmwrite(rcx, rax);
            a.mov(ecx, (uint)F.MsrBitmap);
            a.mov(eax, (uint)bitmap);
            a.vmwrite(rcx, rax);
            WriteLabel(a, F.HostRip, exit);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();
        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.MsrRead));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(L2Code + 12), "the second RDMSR, after MOV ECX, RDMSR, MOV ECX (5 + 2 + 5)");
        Assert.That(bed.Vmx.NestedVmExitCount, Is.EqualTo(1));
    }

    /// <summary>
    /// SDM Vol. 3C §27.6 "Event Injection": the injected event is delivered through L2's IDT (a 64-bit interrupt
    /// gate whose handler executes CPUID, which exits), with L2's guest RIP as the return address and the error code
    /// pushed for a hardware exception that delivers one; the exit clears the valid bit of the injection field.
    /// </summary>
    [TestCase(0x40u, 0u, false, 40)]   // external interrupt: SS, RSP, RFLAGS, CS, RIP
    [TestCase(13u, 3u, true, 48)]      // #GP(0x18): plus the error code
    [TestCase(2u, 2u, false, 40)]      // NMI
    public void VmEntry_InjectedEvent_DeliveredThroughL2Idt(uint vector, uint type, bool errorCode, int frameBytes)
    {
        const ulong handler = L2Code + 0x100;
        const ulong idt = 0xB000;
        const ulong gdt = 0xA000;
        using VmxTestBed bed = NewBed(a => a.hlt());
        bed.H.Memory.Write(handler, 2, 0xA20F); // CPUID
        bed.H.Memory.Write(gdt + 8, 8, 0x00AF_9B00_0000_FFFFUL);
        ulong gateLow = (handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
        bed.H.Memory.Write(idt + (vector * 16), 8, gateLow);
        bed.H.Memory.Write(idt + (vector * 16) + 8, 8, handler >> 32);
        uint info = (1u << 31) | (type << 8) | vector | (errorCode ? 1u << 11 : 0);
        bed.H.Load(a =>
        {
            Label exit = a.CreateLabel();
            EnableAndFill(a);
            a.mov(ecx, (uint)F.VmEntryIntrInfoField);
            a.mov(eax, info);
            a.vmwrite(rcx, rax);
            a.mov(ecx, (uint)F.VmEntryExceptionErrorCode);
            a.mov(eax, 0x18);
            a.vmwrite(rcx, rax);

            // An injected external interrupt needs RFLAGS.IF = 1 (SDM Vol. 3C §27.3.1.5 "Checks on Guest Non-Register State").
            a.mov(ecx, (uint)F.GuestRflags);
            a.mov(eax, 0x202);
            a.vmwrite(rcx, rax);
            WriteLabel(a, F.HostRip, exit);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        bed.H.Run();

        Assert.That(R(bed, F.VmExitReason), Is.EqualTo((ulong)ExitReason.Cpuid));
        Assert.That(R(bed, F.GuestRip), Is.EqualTo(handler));
        ulong rsp = R(bed, F.GuestRsp);
        Assert.That(rsp, Is.EqualTo(0x50_0000UL - (ulong)frameBytes));
        Assert.That(bed.H.Memory.Read(rsp + (errorCode ? 8UL : 0), 8), Is.EqualTo(L2Code), "return RIP = guest RIP");
        if (errorCode)
        {
            Assert.That(bed.H.Memory.Read(rsp, 8), Is.EqualTo(0x18UL));
        }

        Assert.That(R(bed, F.VmEntryIntrInfoField) >> 31, Is.Zero, "valid bit cleared by the exit");
        Assert.That(R(bed, F.GuestInterruptibilityInfo) & VcpuVmx.BlockingByNmi, type == 2 ? Is.Not.Zero : Is.Zero);
    }

    /// <summary>
    /// L1 launches an L2 that loops on CPUID, counts CPUID exits in R15, resumes until <paramref name="exits"/>,
    /// then HLTs with IF = 0 (the run stops as HaltedForever). VMCLEAR/VMPTRLD first, so the snippet can re-run.
    /// </summary>
    private static void LoadCpuidLoop(VmxTestBed bed, int exits)
    {
        bed.H.Load(a =>
        {
            Label handler = a.CreateLabel();
            Label done = a.CreateLabel();
            Label bad = a.CreateLabel();
            a.xor(r15d, r15d);
            a.mov(rax, VmcsPtr);
            a.vmclear(__qword_ptr[rax]);
            a.vmptrld(__qword_ptr[rax]);
            WriteLabel(a, F.HostRip, handler);
            a.mov(ecx, (uint)F.GuestRip);
            a.mov(eax, (uint)L2Code);
            a.vmwrite(rcx, rax);
            a.vmlaunch();
            a.jmp(bad);
            a.Label(ref handler);
            a.mov(ecx, (uint)F.VmExitReason);
            a.vmread(rax, rcx);
            a.cmp(eax, ExitReason.Cpuid);
            a.jne(bad);
            a.inc(r15);
            a.cmp(r15, exits);
            a.je(done);
            AdvanceGuestRip(a);
            a.vmresume();
            a.Label(ref bad);
            a.mov(r14d, 0xBAD);
            a.Label(ref done);
            a.hlt();
        });
    }

    private static VmxTestBed NewLoopBed()
    {
        VmxTestBed bed = NewBed(a =>
        {
            Label top = a.CreateLabel();
            a.Label(ref top);
            a.cpuid();
            a.jmp(top);
        });
        bed.H.Load(EnableAndFill).Run();
        return bed;
    }

    /// <summary>Runs the loop once; no assertion inside, so that nothing of NUnit's is measured.</summary>
    private static StopReason RunLoop(VmxTestBed bed)
    {
        bed.H.Cpu.State.Rip = CpuHarness.CodeAddress;
        bed.H.Cpu.Halted = false;
        return bed.H.Cpu.Run(100_000_000);
    }

    [Test]
    public void L2CpuidLoop_1000ExitsWithVmresume_CountsExactly1000()
    {
        using VmxTestBed bed = NewLoopBed();
        LoadCpuidLoop(bed, 1000);
        long before = bed.Vmx.NestedVmExitCount;
        Assert.That(RunLoop(bed), Is.EqualTo(StopReason.HaltedForever), bed.H.Cpu.LastStopMessage);
        Assert.That(bed.H[Register.R14], Is.Zero, "every exit was a CPUID exit and every entry succeeded");
        Assert.That(bed.H[Register.R15], Is.EqualTo(1000UL));
        Assert.That(bed.Vmx.NestedVmExitCount - before, Is.EqualTo(1000));
    }

    [Test]
    public void L2CpuidLoop_10000RoundTrips_AllocateNothing()
    {
        using VmxTestBed bed = NewLoopBed();
        LoadCpuidLoop(bed, 10_000);

        // Warm up past tiered compilation (the JIT's own allocations during tier-up are not the exit path's).
        for (int i = 0; i < 30; i++)
        {
            Assert.That(RunLoop(bed), Is.EqualTo(StopReason.HaltedForever), bed.H.Cpu.LastStopMessage);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        StopReason stop = RunLoop(bed);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(stop, Is.EqualTo(StopReason.HaltedForever), bed.H.Cpu.LastStopMessage);
        Assert.That(bed.H[Register.R14], Is.Zero);
        Assert.That(bed.Vmx.GuestMode, Is.False);

        Assert.That(bed.H[Register.R15], Is.EqualTo(10_000UL));
        Assert.That(allocated, Is.Zero);
    }
}
