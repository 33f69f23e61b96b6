using BenchmarkDotNet.Attributes;
using Emulator.Loading;
using Iced.Intel;

namespace Emulator.Benchmarks;

/// <summary>
/// Guest instructions per second on the <c>compute</c> image, and Iced's decode-only speed on the same
/// code as the ceiling the decoded-instruction cache must beat. Results are per guest instruction.
/// </summary>
[MemoryDiagnoser]
public class InterpreterBenchmarks
{
    private const int Instructions = 20_000_000;
    private const int DecodeInstructions = 1_000_000;

    private Machine? _machine;
    private byte[] _code = [];
    private ulong _codeIp;

    private static string ImagePath(string name)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "emulator.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return Path.Combine(dir ?? ".", "images", "build", name);
    }

    [GlobalSetup(Target = nameof(DecodeOnly))]
    public void Setup()
    {
        // The 64-bit text of compute.elf (an ELF64 build of the same image) for the decode-only ceiling.
        byte[] elf = File.ReadAllBytes(ImagePath("compute.elf"));
        ElfImage image = ElfImage.Parse(elf);
        ElfSegment text = image.Segments[0];
        _code = elf.AsSpan((int)text.FileOffset, (int)text.FileSize).ToArray();
        _codeIp = text.VirtAddr;
    }

    /// <summary>Boots compute.elf once; iterations continue the same guest, so caches are warm (steady state).</summary>
    [GlobalSetup(Target = nameof(Interpret))]
    public void BootCompute()
    {
        Setup();
        _machine = new Machine(new MachineOptions { SerialOutput = Stream.Null, Append = "iterations=100000000" });
        _machine.LoadImage(ImagePath("compute.elf"));
    }

    [GlobalCleanup(Target = nameof(Interpret))]
    public void Cleanup() => _machine?.Dispose();

    /// <summary>Guest instructions retired through the interpreter.</summary>
    [Benchmark(OperationsPerInvoke = Instructions)]
    public long Interpret()
    {
        Machine m = _machine!;
        long before = m.Cpu.InstructionCount;
        m.Cpu.Run(Instructions);
        if (m.Cpu.InstructionCount - before < Instructions)
        {
            throw new InvalidOperationException($"compute.elf stopped after {m.Cpu.InstructionCount} instructions: raise its iterations");
        }
        return m.Cpu.InstructionCount;
    }

    /// <summary>Iced decoding alone over the compute image's code, restarting at the end.</summary>
    [Benchmark(OperationsPerInvoke = DecodeInstructions)]
    public ulong DecodeOnly()
    {
        var reader = new ByteArrayCodeReader(_code);
        var decoder = Decoder.Create(64, reader, _codeIp);
        ulong sum = 0;
        for (int n = 0; n < DecodeInstructions; n++)
        {
            if (!reader.CanReadByte)
            {
                reader.Position = 0;
                decoder.IP = _codeIp;
            }
            decoder.Decode(out Instruction instr);
            sum += (ulong)instr.Code;
        }
        return sum;
    }
}
