using System.Diagnostics;
using Emulator.Acpi;
using Emulator.Cpu;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Emulator.Devices;
using Emulator.Devices.Apic;
using Emulator.Devices.Pci;
using Emulator.Loading;
using Emulator.Platform;

namespace Emulator;

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    /// <summary>The guest wrote to isa-debug-exit (or powered off): <see cref="RunResult.ExitCode"/> is its status.</summary>
    GuestExit,
    TripleFault,
    InstructionLimit,
    Timeout,
    HaltedForever,

    /// <summary>An emulator bug surfaced as a .NET exception; the guest state at the stop is reported.</summary>
    InternalError,
}

public readonly record struct RunResult(RunOutcome Outcome, int ExitCode, string Message, long Instructions);

/// <summary>
/// The PC: RAM, the port and MMIO buses, the devices and the vCPUs, run by a deterministic round-robin
/// scheduler: every round, each runnable vCPU runs up to a quantum of instructions, bounded by the next
/// timer deadline; idle rounds jump virtual time to the next deadline.
/// </summary>
public sealed class Machine : IDisposable
{
    /// <summary>Process exit codes that are not the guest's own (documented in README.md); guest codes are odd.</summary>
    public const int ExitBadOption = 2;
    public const int ExitBadImage = 4;
    public const int ExitTripleFault = 6;
    public const int ExitLimit = 8;
    public const int ExitHalted = 10;
    public const int ExitInternalError = 12;

    public const int MaxCpus = 64;

    /// <summary>Instructions per vCPU per round: short enough for spinlocks and IPIs, long enough to be cheap.</summary>
    private const long SmpQuantum = 10_000;
    private const long UniQuantum = 1 << 20;

    private readonly MachineOptions _options;
    private readonly Stream _serial;
    private readonly long _quantum;
    private int? _guestExitCode;

    public PhysicalMemory Memory { get; }
    public IoBus Io { get; } = new();
    public VirtualClock Clock { get; } = new();
    public InterruptRouter Irqs { get; } = new();
    public Vcpu[] Cpus { get; }

    /// <summary>The bootstrap processor.</summary>
    public Vcpu Cpu => Cpus[0];

    public Machine(MachineOptions options)
    {
        _options = options;
        if (options.Smp < 1 || options.Smp > MaxCpus)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"--smp must be 1 to {MaxCpus}");
        }
        Memory = new PhysicalMemory(options.MemorySize);
        // With host time a slice cannot be cut exactly at a timer deadline, so keep slices short (~0.1 ms).
        _quantum = options.Smp == 1 && !options.HostClock ? UniQuantum : SmpQuantum;
        Clock.Virtual = !options.HostClock;
        Stopwatch? host = options.HostClock ? Stopwatch.StartNew() : null;
        Cpus = new Vcpu[options.Smp];
        for (int i = 0; i < Cpus.Length; i++)
        {
            Cpus[i] = new Vcpu(Memory, Io, i)
            {
                UnimplementedLog = options.UnimplementedLog,
                ProcessorCount = options.Smp,
                HostClock = host,
                IcountShift = options.IcountShift,
            };
            // Application processors wait for INIT/SIPI (SDM Vol. 3A §9.4 "Multiple-Processor (MP) Initialization").
            Cpus[i].WaitingForSipi = i != 0;
        }
        _serial = options.SerialOutput ?? Console.OpenStandardOutput();
        Io.Register(0x3F8, 8, new Uart16550(0x3F8, _serial));
        var exit = new DebugExit(GuestExit);
        Io.Register(DebugExit.Port, 4, exit);
        Io.Register(DebugExit.ShutdownPort, 1, exit);
        Io.StrictPorts = options.StrictPorts;
        Io.UnknownPort = (port, write) => CurrentCpu.Interrupt();
        Firmware.Install(Memory);
        BiosInterruptStubs.Install(Memory);
        InstallInterruptControllers();
        InstallTimers(options);
        InstallFirmwareDevices(options);
        InstallPciMmioWindow();
    }

    /// <summary>The local APICs.</summary>
    internal LocalApic[] Apics { get; private set; } = [];

    /// <summary>
    /// 8259 pair, I/O APIC and one local APIC per vCPU, left as SeaBIOS leaves them: the PIC programmed with
    /// the BIOS vectors and wired to the BSP's LINT0 in virtual-wire mode (ExtINT), LINT1 as NMI.
    /// </summary>
    private void InstallInterruptControllers()
    {
        var pic = new Pic8259();
        pic.Register(Io);
        Irqs.Pic = pic;
        var apicBus = new ApicBus(Clock);
        apicBus.AttachMmio(Memory);
        var ioApic = new IoApic(apicBus);
        Memory.AddMmio(IoApic.DefaultBase, 0x1000, ioApic);
        Irqs.IoApic = ioApic;
        Apics = new LocalApic[Cpus.Length];
        for (int i = 0; i < Cpus.Length; i++)
        {
            var apic = new LocalApic(Cpus[i], i, Clock, apicBus, i == 0 ? pic : null);
            Cpus[i].Interrupts = apic;
            Cpus[i].MsrDevice = apic;
            Cpus[i].X2ApicSupported = true;
            Cpus[i].TscDeadlineSupported = true;
            Apics[i] = apic;
        }
        Apics[0].EnterVirtualWireMode();
        pic.InterruptChanged = Apics[0].ExtIntChanged;
    }

    /// <summary>PIT (ticking at 18.2 Hz as the BIOS leaves it), port 0x61, CMOS/RTC and the ACPI PM block.</summary>
    private void InstallTimers(MachineOptions options)
    {
        var pit = new Pit8254(Clock, Irqs);
        pit.Register(Io);
        new SystemControlPort(Clock, pit).Register(Io);
        ulong high = Memory.HighRamEnd == 0 ? 0 : Memory.HighRamEnd - (1UL << 32);
        new CmosRtc(Clock, Irqs, Memory.LowRamEnd, high, options.Smp).Register(Io);
        // S5 and the reset register end the run as QEMU with -no-reboot does: status 0.
        new AcpiPm(Clock, Irqs, poweroff: () => GuestExit(0), reset: () => GuestExit(0)).Register(Io);
    }

    /// <summary>fw_cfg, the ACPI tables, the PCI bus and QEMU's optional test devices.</summary>
    private void InstallFirmwareDevices(MachineOptions options)
    {
        var fwCfg = new FwCfg(Memory.LowRamEnd, Memory.HighRamEnd, options.Smp, Memory);
        Io.Register(FwCfg.IoBase, FwCfg.IoLength, fwCfg);
        Io.Register(FwCfg.DmaIoBase, FwCfg.DmaIoLength, fwCfg);
        AcpiTables.Build(Memory, options.Smp);

        if (options.Devices.Contains("pc-testdev"))
        {
            var testdev = new PcTestDev(Irqs);
            Io.Register(PcTestDev.LatchPort, PcTestDev.LatchPortsLength, testdev);
            Io.Register(PcTestDev.IrqPortBase, PcTestDev.IrqLines, testdev);
            Memory.AddMmio(PcTestDev.IomemBase, PcTestDev.IomemLength, testdev);
        }

        // An otherwise empty PCI bus (mechanism #1): absent functions read all ones. 0xCF9 is the ACPI reset register.
        var pci = new PciBus();
        if (options.Devices.Contains("pci-testdev"))
        {
            pci.Add(new PciTestDev(), PciTestDev.DefaultSlot);
        }
        Io.Register(PciBus.ConfigAddressPort, 1, pci);
        Io.Register(PciBus.ConfigDataPort, PciBus.ConfigDataLength, pci);
        Io.Register(PciBus.IoWindowStart, PciBus.IoWindowLength, pci.IoWindow);
        _pciMmioWindow = pci.MmioWindow;
    }

    private IMmioDevice? _pciMmioWindow;

    /// <summary>The PCI BAR window goes last, after every other MMIO device (RAM wins where they overlap anyway).</summary>
    private void InstallPciMmioWindow()
    {
        if (_pciMmioWindow is { } w)
        {
            Memory.AddMmio(PciBus.MmioWindowStart, PciBus.MmioWindowEnd - PciBus.MmioWindowStart, w);
            _pciMmioWindow = null;
        }
    }

    /// <summary>The vCPU running now (the BSP between rounds).</summary>
    private Vcpu CurrentCpu => Clock.Current ?? Cpus[0];

    /// <summary>Total instructions retired by all vCPUs.</summary>
    public long Instructions
    {
        get
        {
            long n = 0;
            foreach (Vcpu c in Cpus)
            {
                n += c.InstructionCount;
            }
            return n;
        }
    }

    private void GuestExit(int code)
    {
        _guestExitCode ??= code;
        CurrentCpu.Interrupt();
    }

    /// <summary>Loads an image file; throws <see cref="ImageException"/> with a one-line reason.</summary>
    public void LoadImage(string path)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot read {path}: {e.Message}");
        }
        LoadImage(data, path);
    }

    public void LoadImage(byte[] data, string name)
    {
        if (data.Length == 0)
        {
            throw new ImageException($"{name} is empty");
        }
        if (_options.FlatAddress is ulong addr)
        {
            if (!Memory.IsRam(addr, (ulong)data.Length))
            {
                throw new ImageException($"flat image of 0x{data.Length:x} bytes at 0x{addr:x} does not fit in RAM");
            }
            Memory.TryWriteBytes(addr, data);
            if (_options.FlatMode == FlatMode.Real)
            {
                if (addr + (ulong)data.Length > 0x10_0000)
                {
                    throw new ImageException("a real-mode flat image must lie below 1 MiB");
                }
                Firmware.EnterReal(Cpu, addr);
            }
            else
            {
                Firmware.EnterProtected(Cpu, addr);
            }
            return;
        }
        var modules = new List<(string, byte[])>();
        foreach (string spec in _options.Initrd)
        {
            // QEMU: each comma-separated entry is "file [args]"; the whole entry is the module string.
            string file = spec.Split(' ', 2)[0];
            try
            {
                modules.Add((spec, File.ReadAllBytes(file)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageException($"cannot read initrd {file}: {e.Message}");
            }
        }
        BootInfo boot = MultibootLoader.Load(Memory, data, name, _options.Append, modules);
        Firmware.EnterMultiboot(Cpu, boot);
    }

    /// <summary>Runs until the guest exits or a bound is reached.</summary>
    public RunResult Run()
    {
        var wall = Stopwatch.StartNew();
        long limit = _options.MaxInstructions ?? long.MaxValue;
        try
        {
            while (true)
            {
                long total = Instructions;
                if (total >= limit)
                {
                    return Stop(RunOutcome.InstructionLimit, ExitLimit, $"instruction limit reached ({limit} instructions)");
                }
                if (RunRound(limit - total) is RunResult done)
                {
                    return done;
                }
                if (_options.Timeout is TimeSpan t && wall.Elapsed > t)
                {
                    return Stop(RunOutcome.Timeout, ExitLimit, $"timeout after {t.TotalSeconds:0.###} s");
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The host never dies of a guest: an emulator bug ends the run with a message, not a crash.
            return Stop(RunOutcome.InternalError, ExitInternalError, $"internal emulator error: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Clock.Current = null;
            _serial.Flush();
        }
    }

    /// <summary>One scheduling round; returns a result when the run ends.</summary>
    private RunResult? RunRound(long remaining)
    {
        long start = Clock.Virtual ? Clock.RoundStartNs : Cpus[0].LocalTimeNs;
        long deadline = Clock.NextDeadline();
        long slice = Math.Min(_quantum, remaining);
        long sliceNs = slice << _options.IcountShift;
        if (deadline != long.MaxValue)
        {
            sliceNs = Math.Clamp(deadline - start, 1, sliceNs);
        }
        Clock.SliceEndNs = start + sliceNs;
        bool anyRan = false;
        bool anyWakeable = false;
        long aheadUntil = long.MaxValue;
        foreach (Vcpu cpu in Cpus)
        {
            // Idle vCPUs catch up to the round's start; time never moves backwards, so a vCPU that ran past a
            // slice end shortened later in the previous round sits out until the others catch up.
            if (Clock.Virtual && cpu.LocalTimeNs < start)
            {
                cpu.SetLocalTime(start);
            }
            long budget = Clock.Virtual ? cpu.InstructionCountAt(Clock.SliceEndNs) - cpu.InstructionCount : slice;
            if (budget <= 0)
            {
                // Ahead of this round's end: runnable, it just waits for time to catch up.
                aheadUntil = Math.Min(aheadUntil, cpu.LocalTimeNs);
                continue;
            }
            Clock.Current = cpu;
            long before = cpu.InstructionCount;
            StopReason r = cpu.Run(budget);
            Clock.Current = null;
            anyRan |= cpu.InstructionCount != before;
            if (_guestExitCode is int code)
            {
                return Stop(RunOutcome.GuestExit, code, "");
            }
            switch (r)
            {
                case StopReason.TripleFault:
                    return Stop(RunOutcome.TripleFault, ExitTripleFault, $"cpu {cpu.Index}: {cpu.LastStopMessage ?? "triple fault"}");
                case StopReason.Requested when _options.StrictPorts:
                    return Stop(RunOutcome.HaltedForever, ExitHalted, $"cpu {cpu.Index}: access to an unclaimed I/O port (--strict-ports)");
                case StopReason.Halted:
                    // HLT with IF=1: an interrupt (timer, IPI, device) can wake it.
                    anyWakeable |= cpu.Interrupts is not null || deadline != long.MaxValue;
                    break;
                case StopReason.HaltedForever:
                case StopReason.WaitForSipi:
                    break;
                default:
                    anyWakeable = true;
                    break;
            }
        }

        long end;
        if (anyRan)
        {
            end = Clock.Virtual ? Clock.SliceEndNs : Cpus[0].LocalTimeNs;
        }
        else
        {
            // Every vCPU idles or is ahead: jump to the next timer or to the earliest vCPU that is ahead,
            // or stop if nothing can ever wake one.
            deadline = Clock.NextDeadline();
            if (aheadUntil == long.MaxValue && (!anyWakeable || deadline == long.MaxValue))
            {
                return Stop(RunOutcome.HaltedForever, ExitHalted, DescribeIdle());
            }
            if (Clock.Virtual)
            {
                end = Math.Max(start + 1, Math.Min(anyWakeable ? deadline : long.MaxValue, aheadUntil));
            }
            else
            {
                // Host time: wait for the deadline instead of jumping to it; sleep while it is far (the OS
                // oversleeps by a millisecond or so), then spin so that timers fire in order and on time.
                const long SleepMarginNs = 2_000_000;
                long wait = deadline - Cpus[0].LocalTimeNs;
                if (wait > SleepMarginNs)
                {
                    Thread.Sleep(TimeSpan.FromTicks(Math.Min((wait - SleepMarginNs) / 100, TimeSpan.TicksPerMillisecond * 10)));
                }
                while (Cpus[0].LocalTimeNs < deadline && deadline - Cpus[0].LocalTimeNs <= SleepMarginNs)
                {
                    Thread.SpinWait(50);
                }
                end = Math.Min(Cpus[0].LocalTimeNs, deadline);
            }
        }
        Clock.RoundStartNs = end;
        Clock.SliceEndNs = long.MaxValue;
        Clock.FireDue(end);
        return null;
    }

    private string DescribeIdle()
    {
        Vcpu bsp = Cpus[0];
        return bsp.Halted && (bsp.State.Rflags & CpuState.FlagIf) == 0
            ? "HLT with interrupts disabled on every vCPU"
            : "every vCPU is halted and no device can interrupt";
    }

    private RunResult Stop(RunOutcome outcome, int code, string message)
    {
        if (outcome != RunOutcome.GuestExit)
        {
            message = $"{message}; {DescribeRegisters()}";
        }
        return new RunResult(outcome, code, message, Instructions);
    }

    /// <summary>One-line register summary of the BSP for stop messages.</summary>
    public string DescribeRegisters()
    {
        ref CpuState s = ref Cpu.State;
        return $"rip={s.Rip:x} rsp={s.Gpr[4]:x} rax={s.Gpr[0]:x} rbx={s.Gpr[3]:x} rcx={s.Gpr[1]:x} rdx={s.Gpr[2]:x} " +
            $"rflags={s.GetRflags():x} cr0={s.Cr0:x} cr3={s.Cr3:x} cr4={s.Cr4:x} efer={s.Efer:x} cs={s.Seg[1].Selector:x} " +
            $"instructions={Instructions}";
    }

    public void Dispose() => Memory.Dispose();
}
