using System.Numerics;

namespace Emulator.Cpu.State;

internal enum FlagOp : byte
{
    None,
    Add,
    Adc,
    Sub,
    Sbb,
    Logic,
    Inc,
    Dec,
}

/// <summary>
/// Arithmetic flags kept as the last result and operands; a flag is derived only when read.
/// AF after logic instructions is undefined (SDM Vol. 2 "AND"/"OR"/"XOR"); we clear it, as Intel parts do.
/// </summary>
internal struct LazyFlags
{
    public ulong Result;
    public ulong Src1;
    public ulong Src2;
    public FlagOp Op;
    public byte Size;

    private readonly ulong Mask => Size == 8 ? ulong.MaxValue : (1UL << (Size * 8)) - 1;
    private readonly int SignShift => Size * 8 - 1;

    public readonly bool GetZf() => (Result & Mask) == 0;

    public readonly bool GetSf() => ((Result >> SignShift) & 1) != 0;

    public readonly bool GetPf() => (BitOperations.PopCount(Result & 0xFF) & 1) == 0;

    public readonly bool GetAf() => Op != FlagOp.Logic && (((Src1 ^ Src2 ^ Result) >> 4) & 1) != 0;

    public readonly bool GetCf(ulong rflags)
    {
        ulong m = Mask;
        ulong a = Src1 & m, b = Src2 & m, r = Result & m;
        return Op switch
        {
            FlagOp.Add => r < a,
            FlagOp.Adc => CarryIn ? r <= a : r < a,
            FlagOp.Sub => a < b,
            FlagOp.Sbb => CarryIn ? a <= b : a < b,
            FlagOp.Logic => false,
            _ => (rflags & CpuState.FlagCf) != 0, // INC/DEC keep CF
        };
    }

    /// <summary>The carry-in of ADC/SBB, needed to tell r == a apart.</summary>
    public bool CarryIn;

    public readonly bool GetOf()
    {
        int s = SignShift;
        return Op switch
        {
            FlagOp.Add or FlagOp.Adc or FlagOp.Inc => ((((Src1 ^ Result) & (Src2 ^ Result)) >> s) & 1) != 0,
            FlagOp.Sub or FlagOp.Sbb or FlagOp.Dec => ((((Src1 ^ Src2) & (Src1 ^ Result)) >> s) & 1) != 0,
            _ => false,
        };
    }

    /// <summary>Condition code after SUB/CMP (Op == Sub), from the operands: unsigned and signed compares.</summary>
    public readonly bool SubCondition(int cc)
    {
        int shift = 64 - Size * 8;
        ulong a = (Src1 << shift) >> shift, b = (Src2 << shift) >> shift;
        long sa = (long)(Src1 << shift) >> shift, sb = (long)(Src2 << shift) >> shift;
        bool r = (cc >> 1) switch
        {
            0 => GetOf(),
            1 => a < b,
            2 => a == b,
            3 => a <= b,
            4 => GetSf(),
            5 => GetPf(),
            6 => sa < sb,
            _ => sa <= sb,
        };
        return r ^ ((cc & 1) != 0);
    }

    public readonly ulong Compute(ulong rflags)
    {
        ulong f = 0;
        if (GetCf(rflags))
        {
            f |= CpuState.FlagCf;
        }
        if (GetPf())
        {
            f |= CpuState.FlagPf;
        }
        if (GetAf())
        {
            f |= CpuState.FlagAf;
        }
        if (GetZf())
        {
            f |= CpuState.FlagZf;
        }
        if (GetSf())
        {
            f |= CpuState.FlagSf;
        }
        if (GetOf())
        {
            f |= CpuState.FlagOf;
        }
        return f;
    }
}
