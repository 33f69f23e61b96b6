using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Platform;

/// <summary>The machine's scheduler: idle time jumps to the next timer instead of spinning.</summary>
public class SchedulerTests
{
    private static (RunResult, string, Machine) RunFlat(byte[] code, Action<MachineOptions>? configure = null)
    {
        var serial = new MemoryStream();
        var options = new MachineOptions { SerialOutput = serial, FlatAddress = 0x7C00, MaxInstructions = 10_000_000 };
        configure?.Invoke(options);
        var m = new Machine(options);
        m.LoadImage(code, "flat");
        RunResult r = m.Run();
        return (r, Encoding.ASCII.GetString(serial.ToArray()), m);
    }

    [Test]
    public void Hlt_WithBiosPitTicking_WakesOnTimerAndCostsNoInstructions()
    {
        // Real mode, IF=1: wait for 18 BIOS ticks (about one second of virtual time) with HLT, then exit.
        //   sti; l: hlt; cmp dword [0x46c], 18; jb l; mov al,0; out 0xf4,al
        byte[] code = [0xFB, 0xF4, 0x66, 0x83, 0x3E, 0x6C, 0x04, 0x12, 0x72, 0xF7, 0xB0, 0x00, 0xE6, 0xF4];
        (RunResult r, _, Machine m) = RunFlat(code);
        using (m)
        {
            Assert.That(r.Outcome, Is.EqualTo(RunOutcome.GuestExit), r.Message);
            Assert.That(r.ExitCode, Is.EqualTo(1));
            Assert.That(m.Clock.Now, Is.GreaterThan(900_000_000L), "about a second of virtual time passed");
            Assert.That(r.Instructions, Is.LessThan(5_000), "the halted vCPU did not spin");
        }
    }

    [Test]
    public void CliHlt_EveryVcpuIdle_EndsWithHaltedStatus()
    {
        byte[] code = [0xFA, 0xF4]; // cli; hlt
        (RunResult r, _, Machine m) = RunFlat(code, o => o.Smp = 2);
        using (m)
        {
            Assert.That(r.Outcome, Is.EqualTo(RunOutcome.HaltedForever));
            Assert.That(r.ExitCode, Is.EqualTo(Machine.ExitHalted));
            Assert.That(r.Message, Does.Contain("HLT with interrupts disabled"));
        }
    }

    [Test]
    public void AcpiS5_PowersOff_WithStatusZero()
    {
        // mov dx,0x604; mov ax, SLP_EN | SLP_TYP(0) << 10; out dx,ax
        byte[] code = [0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20, 0xEF, 0xEB, 0xFE];
        (RunResult r, _, Machine m) = RunFlat(code);
        using (m)
        {
            Assert.That(r.Outcome, Is.EqualTo(RunOutcome.GuestExit), r.Message);
            Assert.That(r.ExitCode, Is.Zero);
        }
    }

    [Test]
    public void HostClock_BootsSmpImage_WithTwoVcpus()
    {
        // Host time is not deterministic; the smp image's checks (IPIs, HLT wake-ups, spinlocks) hold anyway.
        (RunResult r, string serial) = Emulator.Tests.Images.ImageBootTests.Boot("smp.elf", o =>
        {
            o.HostClock = true;
            o.Smp = 2;
        });
        Assert.That(serial, Does.Not.Contain("FAIL"), serial);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.Message);
    }

    [Test]
    public void HostClock_AcpiImage_PmTimerReadsNeverTear()
    {
        // With host time the clock moves within an instruction: a 32-bit PM timer read must sample it once.
        (RunResult r, string serial) = Emulator.Tests.Images.ImageBootTests.Boot("acpi.elf", o =>
        {
            o.HostClock = true;
            o.Smp = 2;
        });
        Assert.That(serial, Does.Not.Contain("FAIL"), serial);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.Message);
    }

    [Test]
    public void IcountShift_ScalesVirtualTimePerInstruction([Values(0, 3, 5)] int shift)
    {
        // A tight loop of 1,000,000 instructions: virtual time = count << shift (plus the few set-up instructions).
        //   mov ecx, 333333; l: dec ecx; jnz l  (2 instructions per iteration) ; mov al,0; out 0xf4,al
        byte[] code = [0x66, 0xB9, 0x15, 0x16, 0x05, 0x00, 0x66, 0x49, 0x75, 0xFC, 0xB0, 0x00, 0xE6, 0xF4];
        (RunResult r, _, Machine m) = RunFlat(code, o => o.IcountShift = shift);
        using (m)
        {
            Assert.That(r.ExitCode, Is.EqualTo(1), r.Message);
            Assert.That(m.Cpu.LocalTimeNs, Is.EqualTo(m.Cpu.InstructionCount << shift));
        }
    }

    /// <summary>A timer armed by a later vCPU shortens the round; vCPUs that already ran must not go back in time.</summary>
    [Test]
    public void Smp_TimerArmedByLaterVcpu_TscNeverGoesBackwards()
    {
        // BSP: check that RDTSC never decreases; exit with 0x55 if it does.
        var bsp = new Assembler(16);
        Label loop = bsp.CreateLabel(), ok = bsp.CreateLabel(), bad = bsp.CreateLabel();
        bsp.xor(esi, esi);
        bsp.xor(edi, edi);
        bsp.Label(ref loop);
        bsp.rdtsc();
        bsp.cmp(edx, edi);
        bsp.jb(bad);
        bsp.ja(ok);
        bsp.cmp(eax, esi);
        bsp.jb(bad);
        bsp.Label(ref ok);
        bsp.mov(esi, eax);
        bsp.mov(edi, edx);
        bsp.jmp(loop);
        bsp.Label(ref bad);
        bsp.mov(al, 0x55);
        bsp.@out(0xF4, al);
        bsp.jmp(bad);
        // AP: keep arming PIT channel 0 with a short one-shot count.
        var ap = new Assembler(16);
        Label again = ap.CreateLabel(), spin = ap.CreateLabel();
        ap.Label(ref again);
        ap.mov(al, 0x30);
        ap.@out(0x43, al);
        ap.mov(al, 20);
        ap.@out(0x40, al);
        ap.mov(al, 0);
        ap.@out(0x40, al);
        ap.mov(ecx, 3000);
        ap.Label(ref spin);
        ap.dec(ecx);
        ap.jnz(spin);
        ap.jmp(again);

        var options = new MachineOptions { SerialOutput = new MemoryStream(), FlatAddress = 0x7C00, MaxInstructions = 3_000_000, Smp = 2 };
        using var m = new Machine(options);
        m.LoadImage(bsp.ToBytes(0x7C00), "flat");
        m.Memory.TryWriteBytes(0x9000, ap.ToBytes(0));
        m.Cpus[1].DeliverSipi(9);
        RunResult r = m.Run();
        Assert.That(r.Outcome, Is.EqualTo(RunOutcome.InstructionLimit), $"the BSP saw its TSC go backwards: {r.Message}");
    }

    /// <summary>
    /// An AP that programs a fast periodic PIT and parks in CLI/HLT keeps cutting rounds short, so the BSP is
    /// often ahead of the round's end: it must still run to its exit, not be taken for halted.
    /// </summary>
    [Test]
    public void Smp_OnlyRunnableVcpuAheadOfRound_IsNotTakenForHalted()
    {
        var bsp = new Assembler(16);
        Label loop = bsp.CreateLabel();
        bsp.mov(ecx, 300_000);
        bsp.Label(ref loop);
        bsp.dec(ecx);
        bsp.jnz(loop);
        bsp.mov(al, 0);
        bsp.@out(0xF4, al);
        var ap = new Assembler(16);
        ap.mov(al, 0x34); // channel 0, lobyte/hibyte, mode 2
        ap.@out(0x43, al);
        ap.mov(al, 20);
        ap.@out(0x40, al);
        ap.mov(al, 0);
        ap.@out(0x40, al);
        ap.cli();
        ap.hlt();

        var options = new MachineOptions { SerialOutput = new MemoryStream(), FlatAddress = 0x7C00, MaxInstructions = 5_000_000, Smp = 2 };
        using var m = new Machine(options);
        m.LoadImage(bsp.ToBytes(0x7C00), "flat");
        m.Memory.TryWriteBytes(0x9000, ap.ToBytes(0));
        m.Cpus[1].DeliverSipi(9);
        RunResult r = m.Run();
        Assert.That(r.Outcome, Is.EqualTo(RunOutcome.GuestExit), r.Message);
        Assert.That(r.ExitCode, Is.EqualTo(1));
    }
}
