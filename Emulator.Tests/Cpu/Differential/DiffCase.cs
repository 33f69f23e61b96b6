using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace Emulator.Tests.Cpu.Differential;

/// <summary>Instruction-set extension a differential case needs on the host.</summary>
public enum HostIsa
{
    Base,
    Popcnt,
    Lzcnt,
    Bmi1,
    Bmi2,
    Adx,
    Movbe,
    Sse42,
}

/// <summary>Fills the input registers (encoding order, RSP ignored) and RFLAGS; false rejects the draw.</summary>
public delegate bool DiffGenerator(Random rng, ulong[] gpr, ref ulong rflags);

/// <summary>Arithmetic flags the SDM leaves undefined for these inputs.</summary>
public delegate ulong UndefinedFlags(ulong[] gpr, ulong rflags);

/// <summary>
/// One snippet run natively and in the emulator over random inputs: its code, how inputs are drawn,
/// which flags are undefined for a given input, and what the host must support.
/// </summary>
public sealed class DiffCase
{
    public const ulong Cf = 1 << 0;
    public const ulong Pf = 1 << 2;
    public const ulong Af = 1 << 4;
    public const ulong Zf = 1 << 6;
    public const ulong Sf = 1 << 7;
    public const ulong Of = 1 << 11;
    public const ulong Arith = Cf | Pf | Af | Zf | Sf | Of;

    public DiffCase(string name, Action<Assembler> build)
    {
        Name = name;
        Build = build;
    }

    public string Name { get; }

    public Action<Assembler> Build { get; }

    public HostIsa Isa { get; init; }

    /// <summary>Input generator; the default draws every register from <see cref="Operands.Next"/>.</summary>
    public DiffGenerator Generate { get; init; } = Operands.Default;

    /// <summary>Undefined flags for an input; the default is a fixed <see cref="UndefinedMask"/>.</summary>
    public UndefinedFlags? Undefined { get; init; }

    public ulong UndefinedMask { get; init; }

    /// <summary>RSI points into a data buffer; memory contents are compared too.</summary>
    public bool UsesMemory { get; init; }

    public ulong UndefinedFor(ulong[] gpr, ulong rflags) => Undefined?.Invoke(gpr, rflags) ?? UndefinedMask;

    public bool HostSupports => Isa switch
    {
        HostIsa.Popcnt => Popcnt.IsSupported,
        HostIsa.Lzcnt => Lzcnt.IsSupported,
        HostIsa.Bmi1 => Bmi1.IsSupported,
        HostIsa.Bmi2 => Bmi2.IsSupported,
        HostIsa.Sse42 => Sse42.IsSupported,
        HostIsa.Adx => HostCpu.HasAdx,
        HostIsa.Movbe => HostCpu.HasMovbe,
        _ => true,
    };

    public override string ToString() => Name;
}

/// <summary>Host CPUID facts .NET does not expose as IsSupported properties.</summary>
internal static class HostCpu
{
    public static bool HasAdx => X86Base.IsSupported && (X86Base.CpuId(7, 0).Ebx & (1 << 19)) != 0;

    public static bool HasMovbe => X86Base.IsSupported && (X86Base.CpuId(1, 0).Ecx & (1 << 22)) != 0;

    public static string Vendor
    {
        get
        {
            if (!X86Base.IsSupported)
            {
                return "";
            }
            (int _, int ebx, int ecx, int edx) = X86Base.CpuId(0, 0);
            Span<byte> b = stackalloc byte[12];
            BitConverter.TryWriteBytes(b, ebx);
            BitConverter.TryWriteBytes(b[4..], edx);
            BitConverter.TryWriteBytes(b[8..], ecx);
            return System.Text.Encoding.ASCII.GetString(b);
        }
    }

    public static bool IsIntel => Vendor == "GenuineIntel";
}

/// <summary>Random operands biased toward the values where flags change: 0, ±1, sign and carry edges.</summary>
public static class Operands
{
    private static readonly ulong[] s_edges =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF,
        0xFFFF_FFFF_FFFF_FFFE, 0x0F, 0x10, 0xF0,
    ];

    public static ulong Next(Random rng)
    {
        int kind = rng.Next(10);
        ulong r = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63);
        return kind switch
        {
            0 or 1 or 2 => r,
            3 => (ulong)rng.Next(0, 70),
            4 or 5 => s_edges[rng.Next(s_edges.Length)],
            6 => s_edges[rng.Next(s_edges.Length)] + (ulong)rng.Next(-2, 3),
            7 => (ulong)(long)(sbyte)r,
            8 => (ulong)(long)(int)r,
            _ => r & (rng.Next(4) switch { 0 => 0xFFUL, 1 => 0xFFFFUL, 2 => 0xFFFF_FFFFUL, _ => ulong.MaxValue }),
        };
    }

    public static ulong NextFlags(Random rng) => 0x202 | ((ulong)rng.Next() & DiffCase.Arith);

    public static bool Default(Random rng, ulong[] gpr, ref ulong rflags)
    {
        for (int r = 0; r < 16; r++)
        {
            gpr[r] = Next(rng);
        }
        rflags = NextFlags(rng);
        return true;
    }

    /// <summary>A shift count in CL: mostly 0..69 (every interesting masked count), sometimes any byte.</summary>
    public static bool ShiftCount(Random rng, ulong[] gpr, ref ulong rflags)
    {
        Default(rng, gpr, ref rflags);
        ulong cl = rng.Next(4) == 0 ? (ulong)rng.Next(256) : (ulong)rng.Next(70);
        gpr[1] = (gpr[1] & ~0xFFUL) | cl;
        return true;
    }
}
