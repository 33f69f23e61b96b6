using System.Diagnostics;
using Emulator.Cpu;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Emulator.Devices;
using Emulator.Loading;

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

/// <summary>The PC: RAM, the port and MMIO buses, the devices and one vCPU.</summary>
public sealed class Machine : IDisposable
{
    /// <summary>Process exit codes that are not the guest's own (documented in README.md); guest codes are odd.</summary>
    public const int ExitBadOption = 2;
    public const int ExitBadImage = 4;
    public const int ExitTripleFault = 6;
    public const int ExitLimit = 8;
    public const int ExitHalted = 10;
    public const int ExitInternalError = 12;

    private const long SliceInstructions = 1 << 20;

    private readonly MachineOptions _options;
    private readonly Stream _serial;
    private int? _guestExitCode;

    public PhysicalMemory Memory { get; }
    public IoBus Io { get; } = new();
    public Vcpu Cpu { get; }

    public Machine(MachineOptions options)
    {
        _options = options;
        Memory = new PhysicalMemory(options.MemorySize);
        Cpu = new Vcpu(Memory, Io) { UnimplementedLog = options.UnimplementedLog };
        _serial = options.SerialOutput ?? Console.OpenStandardOutput();
        Io.Register(0x3F8, 8, new Uart16550(0x3F8, _serial));
        var exit = new DebugExit(GuestExit);
        Io.Register(DebugExit.Port, 4, exit);
        Io.Register(DebugExit.ShutdownPort, 1, exit);
        Io.StrictPorts = options.StrictPorts;
        Io.UnknownPort = (port, write) => Cpu.Interrupt();
        Firmware.Install(Memory);
    }

    private void GuestExit(int code)
    {
        _guestExitCode ??= code;
        Cpu.Interrupt();
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
        var clock = Stopwatch.StartNew();
        long limit = _options.MaxInstructions ?? long.MaxValue;
        try
        {
            while (true)
            {
                long remaining = limit - Cpu.InstructionCount;
                if (remaining <= 0)
                {
                    return Stop(RunOutcome.InstructionLimit, ExitLimit, $"instruction limit reached ({limit} instructions)");
                }
                StopReason r = Cpu.Run(Math.Min(SliceInstructions, remaining));
                if (_guestExitCode is int code)
                {
                    return Stop(RunOutcome.GuestExit, code, "");
                }
                switch (r)
                {
                    case StopReason.TripleFault:
                        return Stop(RunOutcome.TripleFault, ExitTripleFault, Cpu.LastStopMessage ?? "triple fault");
                    case StopReason.HaltedForever:
                        return Stop(RunOutcome.HaltedForever, ExitHalted, Cpu.LastStopMessage ?? "halted");
                    case StopReason.Halted when Cpu.Interrupts is null:
                        return Stop(RunOutcome.HaltedForever, ExitHalted, "HLT with interrupts enabled, but no device can interrupt");
                    case StopReason.Requested when _options.StrictPorts:
                        return Stop(RunOutcome.HaltedForever, ExitHalted, "access to an unclaimed I/O port (--strict-ports)");
                }
                if (_options.Timeout is TimeSpan t && clock.Elapsed > t)
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
            _serial.Flush();
        }
    }

    private RunResult Stop(RunOutcome outcome, int code, string message)
    {
        if (outcome != RunOutcome.GuestExit)
        {
            message = $"{message}; {DescribeRegisters()}";
        }
        return new RunResult(outcome, code, message, Cpu.InstructionCount);
    }

    /// <summary>One-line register summary for stop messages.</summary>
    public string DescribeRegisters()
    {
        ref CpuState s = ref Cpu.State;
        return $"rip={s.Rip:x} rsp={s.Gpr[4]:x} rax={s.Gpr[0]:x} rbx={s.Gpr[3]:x} rcx={s.Gpr[1]:x} rdx={s.Gpr[2]:x} " +
            $"rflags={s.GetRflags():x} cr0={s.Cr0:x} cr3={s.Cr3:x} cr4={s.Cr4:x} efer={s.Efer:x} cs={s.Seg[1].Selector:x} " +
            $"instructions={Cpu.InstructionCount}";
    }

    public void Dispose() => Memory.Dispose();
}
