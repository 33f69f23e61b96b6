using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Emulator.Cpu.State;

/// <summary>General-purpose registers in x86 encoding order: rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8–r15.</summary>
[InlineArray(16)]
internal struct GprFile
{
    private ulong _element0;
}

[InlineArray(8)]
internal struct SegmentFile
{
    private Segment _element0;
}

[InlineArray(16)]
internal struct XmmFile
{
    private Vector128<ulong> _element0;
}

[InlineArray(8)]
internal struct DebugRegs
{
    private ulong _element0;
}

[InlineArray(8)]
internal struct X87Regs
{
    private double _element0;
}

internal struct DescriptorTable
{
    public ulong Base;
    public uint Limit;
}

/// <summary>
/// Architectural state of one logical processor: one blittable struct, passed by <c>ref</c>.
/// Arithmetic flags are lazy (see <see cref="LazyFlags"/>); read <see cref="Rflags"/> through
/// <see cref="GetRflags"/>.
/// </summary>
internal struct CpuState
{
    public GprFile Gpr;
    public ulong Rip;

    /// <summary>RFLAGS with the six arithmetic flags valid only when <see cref="Lazy"/>.Op is None.</summary>
    public ulong Rflags;
    public LazyFlags Lazy;

    public SegmentFile Seg;
    public DescriptorTable Gdtr;
    public DescriptorTable Idtr;

    public ulong Cr0;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Efer;
    public ulong Xcr0;
    public DebugRegs Dr;

    /// <summary>Current privilege level (SS.DPL / CS.DPL, SDM Vol. 3A §5.5 "Privilege Levels").</summary>
    public int Cpl;

    public XmmFile Xmm;
    public uint Mxcsr;

    public X87Regs Fpr;
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftw;
    public int FpTop;

    // MSR-backed state (SDM Vol. 4 "Model-Specific Registers").
    public ulong Star;
    public ulong Lstar;
    public ulong Cstar;
    public ulong Sfmask;
    public ulong KernelGsBase;
    public ulong SysenterCs;
    public ulong SysenterEsp;
    public ulong SysenterEip;
    public ulong TscAux;
    public ulong Pat;
    public ulong MiscEnable;
    public ulong ApicBase;
    public ulong FeatureControl;
    public ulong DebugCtl;
    public ulong TscOffset;

    public const ulong FlagCf = 1 << 0;
    public const ulong FlagPf = 1 << 2;
    public const ulong FlagAf = 1 << 4;
    public const ulong FlagZf = 1 << 6;
    public const ulong FlagSf = 1 << 7;
    public const ulong FlagTf = 1 << 8;
    public const ulong FlagIf = 1 << 9;
    public const ulong FlagDf = 1 << 10;
    public const ulong FlagOf = 1 << 11;
    public const ulong FlagIopl = 3 << 12;
    public const ulong FlagNt = 1 << 14;
    public const ulong FlagRf = 1 << 16;
    public const ulong FlagVm = 1 << 17;
    public const ulong FlagAc = 1 << 18;
    public const ulong FlagVif = 1 << 19;
    public const ulong FlagVip = 1 << 20;
    public const ulong FlagId = 1 << 21;
    public const ulong ArithMask = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    public const ulong Cr0Pe = 1 << 0;
    public const ulong Cr0Mp = 1 << 1;
    public const ulong Cr0Em = 1 << 2;
    public const ulong Cr0Ts = 1 << 3;
    public const ulong Cr0Et = 1 << 4;
    public const ulong Cr0Ne = 1 << 5;
    public const ulong Cr0Wp = 1 << 16;
    public const ulong Cr0Am = 1 << 18;
    public const ulong Cr0Nw = 1 << 29;
    public const ulong Cr0Cd = 1 << 30;
    public const ulong Cr0Pg = 1UL << 31;

    public const ulong Cr4Vme = 1 << 0;
    public const ulong Cr4Pvi = 1 << 1;
    public const ulong Cr4Tsd = 1 << 2;
    public const ulong Cr4De = 1 << 3;
    public const ulong Cr4Pse = 1 << 4;
    public const ulong Cr4Pae = 1 << 5;
    public const ulong Cr4Mce = 1 << 6;
    public const ulong Cr4Pge = 1 << 7;
    public const ulong Cr4Pce = 1 << 8;
    public const ulong Cr4Osfxsr = 1 << 9;
    public const ulong Cr4Osxmmexcpt = 1 << 10;
    public const ulong Cr4Umip = 1 << 11;
    public const ulong Cr4La57 = 1 << 12;
    public const ulong Cr4Vmxe = 1 << 13;
    public const ulong Cr4Smxe = 1 << 14;
    public const ulong Cr4Fsgsbase = 1 << 16;
    public const ulong Cr4Pcide = 1 << 17;
    public const ulong Cr4Osxsave = 1 << 18;
    public const ulong Cr4Smep = 1 << 20;
    public const ulong Cr4Smap = 1 << 21;
    public const ulong Cr4Pke = 1 << 22;

    public const ulong EferSce = 1 << 0;
    public const ulong EferLme = 1 << 8;
    public const ulong EferLma = 1 << 10;
    public const ulong EferNxe = 1 << 11;

    public readonly bool ProtectedMode => (Cr0 & Cr0Pe) != 0;
    public readonly bool PagingEnabled => (Cr0 & Cr0Pg) != 0;
    public readonly bool LongModeActive => (Efer & EferLma) != 0;
    public readonly bool V86 => (Rflags & FlagVm) != 0;

    /// <summary>True in 64-bit mode (IA-32e with CS.L = 1).</summary>
    public readonly bool Is64 => (Efer & EferLma) != 0 && (Seg[(int)SegReg.Cs].Attr & Segment.AttrL) != 0;

    /// <summary>Code size in bits: 16, 32 or 64.</summary>
    public readonly int CodeBits =>
        Is64 ? 64 : ((Cr0 & Cr0Pe) != 0 && (Rflags & FlagVm) == 0 && (Seg[(int)SegReg.Cs].Attr & Segment.AttrDb) != 0 ? 32 : 16);

    /// <summary>Stack address size in bits (SS.B), 64 in 64-bit mode.</summary>
    public readonly int StackBits =>
        Is64 ? 64 : ((Cr0 & Cr0Pe) != 0 && (Rflags & FlagVm) == 0 && (Seg[(int)SegReg.Ss].Attr & Segment.AttrDb) != 0 ? 32 : 16);

    public readonly ulong Iopl => (Rflags >> 12) & 3;

    // ---------------------------------------------------------------- lazy flags

    /// <summary>Materialized RFLAGS (bit 1 always set).</summary>
    public ulong GetRflags()
    {
        if (Lazy.Op != FlagOp.None)
        {
            Rflags = (Rflags & ~ArithMask) | Lazy.Compute(Rflags);
            Lazy.Op = FlagOp.None;
        }
        return Rflags | 2;
    }

    /// <summary>Sets RFLAGS wholesale (arithmetic flags included); callers mask what may change.</summary>
    public void SetRflags(ulong value)
    {
        Lazy.Op = FlagOp.None;
        Rflags = (value & 0x3F7FD5) | 2;
    }

    /// <summary>Sets only the arithmetic flags given in <paramref name="mask"/>.</summary>
    public void SetArith(ulong mask, ulong values)
    {
        GetRflags();
        Rflags = (Rflags & ~mask) | (values & mask);
    }

    public void SetLazy(FlagOp op, int size, ulong result, ulong src1, ulong src2)
    {
        Lazy.Op = op;
        Lazy.Size = (byte)size;
        Lazy.Result = result;
        Lazy.Src1 = src1;
        Lazy.Src2 = src2;
    }

    /// <summary>INC/DEC keep CF: fold the current CF into Rflags before the lazy state changes.</summary>
    public void SetLazyKeepCf(FlagOp op, int size, ulong result, ulong src1)
    {
        if (Lazy.Op != FlagOp.None)
        {
            Rflags = (Rflags & ~FlagCf) | (Lazy.Compute(Rflags) & FlagCf);
        }
        Lazy.Op = op;
        Lazy.Size = (byte)size;
        Lazy.Result = result;
        Lazy.Src1 = src1;
        Lazy.Src2 = 1;
    }

    public readonly bool Cf => Lazy.Op == FlagOp.None ? (Rflags & FlagCf) != 0 : Lazy.GetCf(Rflags);
    public readonly bool Zf => Lazy.Op == FlagOp.None ? (Rflags & FlagZf) != 0 : Lazy.GetZf();
    public readonly bool Sf => Lazy.Op == FlagOp.None ? (Rflags & FlagSf) != 0 : Lazy.GetSf();
    public readonly bool Of => Lazy.Op == FlagOp.None ? (Rflags & FlagOf) != 0 : Lazy.GetOf();
    public readonly bool Pf => Lazy.Op == FlagOp.None ? (Rflags & FlagPf) != 0 : Lazy.GetPf();

    /// <summary>Evaluates condition code <paramref name="cc"/> (0 = O … 15 = G), SDM Vol. 1 Appendix B "EFLAGS Condition Codes".</summary>
    public readonly bool Condition(int cc)
    {
        if (Lazy.Op == FlagOp.Sub)
        {
            // CMP/SUB then Jcc/SETcc/CMOVcc: compare the operands directly.
            return Lazy.SubCondition(cc);
        }
        return ConditionFromFlags(cc);
    }

    /// <summary>Condition evaluated from the individual flags (any flag state).</summary>
    public readonly bool ConditionFromFlags(int cc)
    {
        bool r = (cc >> 1) switch
        {
            0 => Of,
            1 => Cf,
            2 => Zf,
            3 => Cf || Zf,
            4 => Sf,
            5 => Pf,
            6 => Sf != Of,
            _ => Zf || (Sf != Of),
        };
        return r ^ ((cc & 1) != 0);
    }
}
