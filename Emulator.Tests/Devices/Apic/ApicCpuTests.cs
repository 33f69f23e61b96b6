using Emulator.Cpu;
using Emulator.Devices.Apic;
using Emulator.Platform;
using Emulator.Tests.Cpu;
using Emulator.Tests.Cpu.Interrupts;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Devices.Apic;

/// <summary>The APIC wired to a running vCPU: interrupts reach the instruction loop at the right boundary.</summary>
public class ApicCpuTests
{
    private const uint Page = 0xFEE0_0000;
    private const uint Counter = (uint)GuestSystem.Scratch;

    private sealed class Setup : IDisposable
    {
        public readonly CpuHarness H = new(CpuMode.Protected32);
        public readonly VirtualClock Clock = new();
        public readonly ApicBus Bus;
        public readonly LocalApic Apic;
        public readonly GuestSystem G;

        public Setup()
        {
            Bus = new ApicBus(Clock);
            Bus.AttachMmio(H.Memory);
            Apic = new LocalApic(H.Cpu, 0, Clock, Bus);
            H.Cpu.Interrupts = Apic;
            H.Cpu.MsrDevice = Apic;
            Clock.Current = H.Cpu;
            G = new GuestSystem(H);
        }

        /// <summary>A handler for <paramref name="vector"/> that counts at [Counter] and sends EOI.</summary>
        public void CountingHandler(int vector)
        {
            ulong at = G.Handler(a =>
            {
                a.inc(__dword_ptr[Counter]);
                a.mov(__dword_ptr[Page + ApicReg.Eoi], 0);
                a.iretd();
            });
            G.SetGate(vector, at);
        }

        public uint Count => (uint)H.Memory.Read(Counter, 4);

        public void Dispose() => H.Dispose();
    }

    [Test]
    public void SelfIpi_WithInterruptsEnabled_IsTakenAfterTheIcrWrite()
    {
        using var s = new Setup();
        s.CountingHandler(0x40);
        s.H.Load(a =>
        {
            a.mov(__dword_ptr[Page + ApicReg.Svr], 0x1FF);
            a.sti();
            a.nop();
            a.mov(__dword_ptr[Page + ApicReg.IcrLow], 0x40040);
            a.mov(ebx, __dword_ptr[Counter]);
        }).Run();
        Assert.That(s.H[Register.EBX], Is.EqualTo(1UL), "delivered before the next instruction");
        Assert.That(s.Count, Is.EqualTo(1u));
        Assert.That(s.Apic.HighestIsr, Is.EqualTo(-1));
    }

    [Test]
    public void Tpr_MasksUntilLowered()
    {
        using var s = new Setup();
        s.CountingHandler(0x45);
        s.H.Load(a =>
        {
            a.mov(__dword_ptr[Page + ApicReg.Svr], 0x1FF);
            a.mov(__dword_ptr[Page + ApicReg.Tpr], 0x50);
            a.sti();
            a.mov(__dword_ptr[Page + ApicReg.IcrLow], 0x40045);
            a.nop();
            a.mov(ebx, __dword_ptr[Counter]);
            a.mov(__dword_ptr[Page + ApicReg.Tpr], 0);
            a.mov(ecx, __dword_ptr[Counter]);
        }).Run();
        Assert.That(s.H[Register.EBX], Is.EqualTo(0UL));
        Assert.That(s.H[Register.ECX], Is.EqualTo(1UL));
    }

    [Test]
    public void TscDeadline_PastDeadline_IsTakenBeforeTheNextInstructionCompletes()
    {
        using var s = new Setup();
        s.H.Cpu.X2ApicSupported = true;
        s.CountingHandler(0xEF);
        s.H.Load(a =>
        {
            a.mov(__dword_ptr[Page + ApicReg.Svr], 0x1FF);
            a.mov(__dword_ptr[Page + ApicReg.LvtTimer], 0x4_00EF);
            a.sti();
            a.rdtsc();
            a.mov(ecx, 0x6E0);
            a.wrmsr();
            a.nop();
            a.mov(ebx, __dword_ptr[Counter]);
        }).Run();
        Assert.That(s.H[Register.EBX], Is.EqualTo(1UL));
    }

    [Test]
    public void Hlt_TimerInterrupt_WakesTheVcpu()
    {
        using var s = new Setup();
        s.CountingHandler(0x41);
        s.H.Load(a =>
        {
            a.mov(__dword_ptr[Page + ApicReg.Svr], 0x1FF);
            a.mov(__dword_ptr[Page + ApicReg.TimerDivide], 0xB);
            a.mov(__dword_ptr[Page + ApicReg.LvtTimer], 0x41);
            a.mov(__dword_ptr[Page + ApicReg.TimerInitial], 100);
            a.sti();
            a.hlt();
            a.mov(ebx, __dword_ptr[Counter]);
        });
        Vcpu cpu = s.H.Cpu;
        StopReason r = StopReason.None;
        bool halted = false;
        for (int i = 0; i < 1_000 && cpu.Rip != s.H.EndRip; i++)
        {
            r = cpu.Run(1);
            if (r == StopReason.Halted)
            {
                halted = true;
                long deadline = s.Clock.NextDeadline();
                Assert.That(deadline, Is.Not.EqualTo(long.MaxValue));
                cpu.TimeOffsetNs += deadline - cpu.LocalTimeNs;
                s.Clock.FireDue(s.Clock.Now);
            }
        }
        Assert.That(halted, Is.True);
        Assert.That(cpu.Rip, Is.EqualTo(s.H.EndRip), r.ToString());
        Assert.That(s.H[Register.EBX], Is.EqualTo(1UL));
    }

    [Test]
    public void RegisterAccessIpiAndTimer_DoNotAllocate()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(0, ApicReg.TimerDivide, 0xB);
        rig.Write(0, ApicReg.LvtTimer, 0x40 | (1 << 17));
        rig.IoApic.SetIrq(3, false);
        void Work()
        {
            for (int i = 0; i < 100; i++)
            {
                rig.Write(0, ApicReg.TimerInitial, 50);
                rig.Advance(60);
                rig.Take(0);
                rig.Eoi(0);
                rig.Read(0, ApicReg.TimerCurrent);
                rig.SendIpi(0, 0x4041, destination: 1);
                rig.Take(1);
                rig.Eoi(1);
                rig.WriteMsr(0, 0x6E0, 0);
                rig.IoApic.SetIrq(3, true);
                rig.IoApic.SetIrq(3, false);
                rig.Memory.Write(IoApic.DefaultBase, 4, 0x10);
                rig.Memory.Read(IoApic.DefaultBase + 0x10, 4);
            }
        }
        Work();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Work();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
