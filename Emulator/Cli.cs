using System.Globalization;
using Emulator.Loading;

namespace Emulator;

/// <summary>The <c>emulator</c> command line.</summary>
internal static class Cli
{
    public const string Usage = """
        usage: emulator run IMAGE [options]
               emulator --help | --version

        Boots IMAGE (a Multiboot v1 ELF32/ELF64 image, as QEMU's -kernel takes it, or a flat binary with
        --flat) on a PC with a 16550 UART at 0x3F8 and isa-debug-exit at 0xF4. The guest's serial output
        goes to stdout; the exit status is the guest's (a write of v to port 0xF4 exits with (v << 1) | 1).

        options:
          -m, --memory SIZE        RAM size, e.g. 128M (default), 512M, 2G; a bare number is MiB as in QEMU
          --smp N                  number of vCPUs (default 1); APs wait for INIT/SIPI
          --device NAME            add a QEMU test device: pc-testdev, pci-testdev
          --clock virtual|host     time from retired instructions (default, deterministic) or the host clock
          --icount shift=N         one instruction = 2^N ns of virtual time (default 3: 8 ns), as QEMU's -icount
          --append STRING          kernel command line (the guest sees "IMAGE STRING", as with QEMU)
          --initrd FILE[,FILE...]  multiboot modules, one per comma-separated "file [args]" entry
          --serial FILE            write serial output to FILE instead of stdout ("stdio" = stdout)
          --flat ADDR              load IMAGE as a flat binary at physical ADDR (e.g. 0x7c00)
          --flat-mode real|protected
                                   mode a flat binary starts in (default real: CS:IP = ADDR)
          --max-instructions N     stop after N instructions (exit status 8)
          --timeout SECONDS        stop after this much wall time (exit status 8)
          --strict-ports           stop on an access to an unclaimed I/O port (exit status 10)
          --log-unimplemented      log instructions that raise #UD because they are not implemented
          --stats                  print instructions, wall time and instructions/s to stderr at the end

        exit status: the guest's (odd: (v << 1) | 1 from port 0xF4; 0 after a poweroff through port 0x8900),
          2 bad option, 4 bad image, 6 triple fault, 8 instruction limit or timeout,
          10 guest halted with nothing to wake it, 12 internal emulator error (a bug: please report it)
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Stream? serial = null)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? Machine.ExitBadOption : 0;
        }
        if (args[0] == "--version")
        {
            stdout.WriteLine($"emulator {typeof(Cli).Assembly.GetName().Version}");
            return 0;
        }
        if (args[0] != "run")
        {
            stderr.WriteLine($"emulator: unknown command '{args[0]}' (try --help)");
            return Machine.ExitBadOption;
        }

        var options = new MachineOptions();
        string? image = null;
        bool stats = false;
        FileStream? serialFile = null;
        try
        {
            for (int i = 1; i < args.Length; i++)
            {
                string a = args[i];
                string Value()
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new OptionException($"option {a} needs a value");
                    }
                    return args[++i];
                }
                switch (a)
                {
                    case "-m" or "--memory":
                        options.MemorySize = ParseSize(Value());
                        break;
                    case "--smp":
                        ulong smp = ParseNumber(Value(), a);
                        if (smp < 1 || smp > Machine.MaxCpus)
                        {
                            throw new OptionException($"--smp must be 1 to {Machine.MaxCpus}, not {smp}");
                        }
                        options.Smp = (int)smp;
                        break;
                    case "--device":
                        string dev = Value();
                        if (dev is not ("pc-testdev" or "pci-testdev" or "isa-debug-exit"))
                        {
                            throw new OptionException($"unknown device '{dev}' (known: pc-testdev, pci-testdev; isa-debug-exit is always present)");
                        }
                        options.Devices.Add(dev);
                        break;
                    case "--clock":
                        options.HostClock = Value() switch
                        {
                            "virtual" => false,
                            "host" => true,
                            var v => throw new OptionException($"--clock must be virtual or host, not '{v}'"),
                        };
                        break;
                    case "--icount":
                        string ic = Value();
                        string shiftText = ic.StartsWith("shift=", StringComparison.Ordinal) ? ic[6..] : ic;
                        if (!int.TryParse(shiftText, NumberStyles.None, CultureInfo.InvariantCulture, out int shift) || shift > 10)
                        {
                            throw new OptionException($"--icount needs shift=N with N from 0 to 10, not '{ic}'");
                        }
                        options.IcountShift = shift;
                        break;
                    case "--append":
                        options.Append = Value();
                        break;
                    case "--initrd":
                        options.Initrd.AddRange(Value().Split(',', StringSplitOptions.RemoveEmptyEntries));
                        break;
                    case "--serial":
                        string path = Value();
                        if (path != "stdio")
                        {
                            serialFile = OpenSerial(path);
                        }
                        break;
                    case "--flat":
                        options.FlatAddress = ParseNumber(Value(), a);
                        break;
                    case "--flat-mode":
                        options.FlatMode = Value() switch
                        {
                            "real" => FlatMode.Real,
                            "protected" => FlatMode.Protected,
                            var v => throw new OptionException($"--flat-mode must be real or protected, not '{v}'"),
                        };
                        break;
                    case "--max-instructions":
                        ulong n = ParseNumber(Value(), a);
                        options.MaxInstructions = n > long.MaxValue ? long.MaxValue : (long)n;
                        break;
                    case "--timeout":
                        string t = Value();
                        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double secs) || secs <= 0)
                        {
                            throw new OptionException($"--timeout needs a positive number of seconds, not '{t}'");
                        }
                        options.Timeout = TimeSpan.FromSeconds(secs);
                        break;
                    case "--strict-ports":
                        options.StrictPorts = true;
                        break;
                    case "--stats":
                        stats = true;
                        break;
                    case "--log-unimplemented":
                        options.UnimplementedLog = stderr;
                        break;
                    default:
                        if (a.StartsWith('-'))
                        {
                            throw new OptionException($"unknown option {a} (try --help)");
                        }
                        if (image is not null)
                        {
                            throw new OptionException($"more than one image given ('{image}' and '{a}')");
                        }
                        image = a;
                        break;
                }
            }
            if (image is null)
            {
                throw new OptionException("no image given (usage: emulator run IMAGE [options])");
            }
        }
        catch (OptionException e)
        {
            serialFile?.Dispose();
            stderr.WriteLine($"emulator: {e.Message}");
            return Machine.ExitBadOption;
        }

        options.SerialOutput = serialFile ?? serial;
        try
        {
            using var machine = new Machine(options);
            try
            {
                machine.LoadImage(image);
            }
            catch (ImageException e)
            {
                stderr.WriteLine($"emulator: {image}: {e.Message}");
                return Machine.ExitBadImage;
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            RunResult result = machine.Run();
            if (stats)
            {
                double secs = clock.Elapsed.TotalSeconds;
                stderr.WriteLine(FormattableString.Invariant(
                    $"emulator: {result.Instructions} instructions in {secs:0.000} s ({result.Instructions / secs / 1e6:0.0} M instructions/s)"));
            }
            if (result.Outcome != RunOutcome.GuestExit)
            {
                stderr.WriteLine($"emulator: {result.Outcome}: {result.Message}");
            }
            return result.ExitCode;
        }
        finally
        {
            serialFile?.Dispose();
        }
    }

    private static FileStream OpenSerial(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new OptionException($"cannot open serial output {path}: {e.Message}");
        }
    }

    /// <summary>QEMU's -m syntax: a number with an optional K/M/G/T suffix; no suffix means MiB.</summary>
    internal static ulong ParseSize(string text)
    {
        string t = text.Trim();
        ulong unit = 1UL << 20;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            unit = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1UL << 10,
                'M' => 1UL << 20,
                'G' => 1UL << 30,
                'T' => 1UL << 40,
                'B' => 1,
                _ => throw new OptionException($"bad memory size '{text}' (use e.g. 128M or 2G)"),
            };
            t = t[..^1];
        }
        if (!ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) || n == 0)
        {
            throw new OptionException($"bad memory size '{text}' (use e.g. 128M or 2G)");
        }
        ulong size = n * unit;
        if (size / unit != n || size < (2UL << 20) || size > (64UL << 30))
        {
            throw new OptionException($"memory size '{text}' out of range (2M to 64G)");
        }
        if ((size & 0xFFF) != 0)
        {
            throw new OptionException($"memory size '{text}' is not a multiple of 4 KiB");
        }
        return size;
    }

    internal static ulong ParseNumber(string text, string option)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
        {
            throw new OptionException($"{option} needs a number (decimal or 0x hex), not '{text}'");
        }
        return v;
    }

    private sealed class OptionException(string message) : Exception(message);
}
