using System.Text;
using Iced.Intel;

namespace Emulator.Tests.Cpu.Differential;

/// <summary>Per-flag tally of how the host sets a flag the SDM leaves undefined.</summary>
internal sealed class UndefinedTally
{
    public static readonly (ulong Bit, string Name)[] FlagNames =
        [(DiffCase.Cf, "CF"), (DiffCase.Pf, "PF"), (DiffCase.Af, "AF"), (DiffCase.Zf, "ZF"), (DiffCase.Sf, "SF"), (DiffCase.Of, "OF")];

    public readonly int[] Samples = new int[6];
    public readonly int[] MatchEmulator = new int[6];
    public readonly int[] Unchanged = new int[6];

    public void Add(ulong undefined, ulong input, ulong host, ulong emu)
    {
        for (int f = 0; f < 6; f++)
        {
            ulong bit = FlagNames[f].Bit;
            if ((undefined & bit) == 0)
            {
                continue;
            }
            Samples[f]++;
            if (((host ^ emu) & bit) == 0)
            {
                MatchEmulator[f]++;
            }
            if (((host ^ input) & bit) == 0)
            {
                Unchanged[f]++;
            }
        }
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        for (int f = 0; f < 6; f++)
        {
            if (Samples[f] == 0)
            {
                continue;
            }
            sb.Append($" {FlagNames[f].Name}: emu {100 * MatchEmulator[f] / Samples[f]}% unchanged {100 * Unchanged[f] / Samples[f]}% (n={Samples[f]});");
        }
        return sb.ToString();
    }
}

/// <summary>
/// Runs a <see cref="DiffCase"/> on the host CPU and in the emulator (64-bit mode) over the same
/// deterministic random inputs and reports every difference in GPRs, defined flags and memory.
/// </summary>
internal sealed unsafe class DifferentialEngine : IDisposable
{
    public const int Seed = 0x5EED_1234;

    private readonly NativeRunner _native = new();
    private readonly ulong[] _in = new ulong[16];
    private readonly byte[] _hostData = new byte[NativeRunner.DataSize];

    /// <summary>Emulator physical address of the data buffer (RSI = this + <see cref="NativeRunner.DataCenter"/>).</summary>
    private const ulong EmuData = CpuHarness.DataAddress;

    /// <summary>Bytes each side of RSI re-randomized per input.</summary>
    private const int Window = 64;

    public static byte[] Assemble(Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        return a.ToBytes(0);
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> inputs; returns up to <paramref name="maxReports"/> mismatch
    /// descriptions. With <paramref name="compareUndefined"/> the undefined flags are compared too;
    /// <paramref name="tally"/>, if given, records how the host set them.
    /// </summary>
    public List<string> Run(DiffCase c, int iterations, bool compareUndefined = false, UndefinedTally? tally = null, int maxReports = 8)
    {
        byte[] code = Assemble(c.Build);
        _native.Load(code);
        using var h = new CpuHarness(CpuMode.Long64, 4 << 20);
        h.LoadBytes(code);
        var rng = new Random(Seed ^ StableHash(c.Name));
        var reports = new List<string>();
        ref NativeState ns = ref _native.State;
        ulong hostRsi = (ulong)_native.Data + NativeRunner.DataCenter;
        ulong emuRsi = EmuData + NativeRunner.DataCenter;

        var hostData = new Span<byte>(_native.Data, NativeRunner.DataSize);
        bool resync = true;
        int n = 0;
        for (int attempts = 0; n < iterations && attempts < iterations * 20; attempts++)
        {
            ulong flagsIn = 0;
            if (!c.Generate(rng, _in, ref flagsIn))
            {
                continue;
            }
            n++;
            if (c.UsesMemory)
            {
                // Fresh random bytes around RSI each time; the whole buffer only when the two
                // sides may have diverged (first run, or after a memory mismatch).
                int start = resync ? 0 : NativeRunner.DataCenter - Window;
                Span<byte> window = _hostData.AsSpan(start, resync ? NativeRunner.DataSize : 2 * Window);
                rng.NextBytes(window);
                window.CopyTo(hostData[start..]);
                h.Memory.TryWriteBytes(EmuData + (ulong)start, window);
                resync = false;
            }

            for (int r = 0; r < 16; r++)
            {
                ns.Gpr[r] = _in[r];
            }
            if (c.UsesMemory)
            {
                ns.Gpr[6] = hostRsi;
            }
            ns.Rflags = flagsIn;
            _native.Run();

            ref var s = ref h.Cpu.State;
            for (int r = 0; r < 16; r++)
            {
                if (r != 4)
                {
                    s.Gpr[r] = _in[r];
                }
            }
            if (c.UsesMemory)
            {
                s.Gpr[6] = emuRsi;
            }
            h.Cpu.Rflags = flagsIn;
            s.Rip = h.StartRip;
            h.Run();

            ulong undefined = c.UndefinedFor(_in, flagsIn);
            ulong hostFlags = ns.Rflags & DiffCase.Arith;
            ulong emuFlags = h.Flags & DiffCase.Arith;
            tally?.Add(undefined, flagsIn, hostFlags, emuFlags);
            ulong compareMask = compareUndefined ? DiffCase.Arith : DiffCase.Arith & ~undefined;

            StringBuilder? diff = null;
            for (int r = 0; r < 16; r++)
            {
                if (r == 4)
                {
                    continue;
                }
                ulong hv = ns.Gpr[r];
                ulong ev = s.Gpr[r];
                if (c.UsesMemory && r == 6)
                {
                    hv -= hostRsi;
                    ev -= emuRsi;
                }
                if (hv != ev)
                {
                    (diff ??= new StringBuilder()).Append($" {RegName(r)}: host {hv:X16} emu {ev:X16};");
                }
            }
            if (((hostFlags ^ emuFlags) & compareMask) != 0)
            {
                (diff ??= new StringBuilder()).Append($" flags: host {hostFlags:X3} emu {emuFlags:X3} (compared {compareMask:X3});");
            }
            if (c.UsesMemory)
            {
                var emuData = new ReadOnlySpan<byte>(h.Memory.HostPointer(EmuData), NativeRunner.DataSize);
                int at = hostData.CommonPrefixLength(emuData);
                if (at < NativeRunner.DataSize)
                {
                    resync = true;
                    (diff ??= new StringBuilder()).Append($" memory differs at rsi{at - NativeRunner.DataCenter:+#;-#;+0}: host {hostData[at]:X2} emu {emuData[at]:X2};");
                }
            }
            if (diff is not null && reports.Count < maxReports)
            {
                reports.Add($"{c.Name} with {DescribeInputs(_in, flagsIn)} →{diff}");
            }
        }
        if (n < iterations)
        {
            reports.Add($"{c.Name}: the generator accepted only {n} of {iterations} inputs");
        }
        return reports;
    }

    private static readonly string[] s_names =
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

    private static string RegName(int r) => s_names[r];

    private static string DescribeInputs(ulong[] gpr, ulong flags) =>
        $"rax={gpr[0]:X} rcx={gpr[1]:X} rdx={gpr[2]:X} rbx={gpr[3]:X} rsi={gpr[6]:X} rdi={gpr[7]:X} r8={gpr[8]:X} flags={flags:X3}";

    /// <summary>FNV-1a: string.GetHashCode is randomized per process, this is not.</summary>
    private static int StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s)
        {
            h = (h ^ ch) * 16777619;
        }
        return (int)h;
    }

    public void Dispose() => _native.Dispose();
}
