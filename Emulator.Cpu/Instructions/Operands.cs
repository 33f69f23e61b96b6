using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu;

/// <summary>Operand access for handlers: registers by Iced <see cref="Register"/>, memory by effective address.</summary>
public sealed unsafe partial class Vcpu
{
    /// <summary>Per Iced register: GPR index in bits 3:0, kind in bits 7:4 (1 = r8 low, 2 = r8 high, 3 = r16, 4 = r32, 5 = r64).</summary>
    private static readonly byte[] s_regInfo = BuildRegInfo();

    /// <summary>Size in bytes of each Iced <see cref="MemorySize"/>.</summary>
    internal static readonly byte[] MemSize = BuildMemSize();

    private static byte[] BuildRegInfo()
    {
        var info = new byte[Enum.GetValues<Register>().Length];
        for (int r = 0; r < info.Length; r++)
        {
            var reg = (Register)r;
            int kind = reg.IsGPR8() ? 1 : reg.IsGPR16() ? 3 : reg.IsGPR32() ? 4 : reg.IsGPR64() ? 5 : 0;
            if (kind == 0)
            {
                continue;
            }
            int index = reg.GetFullRegister() - Register.RAX;
            if (reg is Register.AH or Register.CH or Register.DH or Register.BH)
            {
                kind = 2;
            }
            info[r] = (byte)(index | (kind << 4));
        }
        return info;
    }

    private static byte[] BuildMemSize()
    {
        var sizes = new byte[Enum.GetValues<MemorySize>().Length];
        for (int m = 0; m < sizes.Length; m++)
        {
            int s = ((MemorySize)m).GetSize();
            sizes[m] = (byte)Math.Min(s, 255);
        }
        return sizes;
    }

    /// <summary>GPR index (0–15) of a general-purpose register.</summary>
    internal static int GprIndex(Register r) => s_regInfo[(int)r] & 15;

    /// <summary>Size in bytes of a general-purpose register.</summary>
    internal static int GprSize(Register r) => (s_regInfo[(int)r] >> 4) switch
    {
        1 or 2 => 1,
        3 => 2,
        4 => 4,
        _ => 8,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadGpr(Register r)
    {
        int info = s_regInfo[(int)r];
        ulong v = State.Gpr[info & 15];
        return (info >> 4) switch
        {
            1 => (byte)v,
            2 => (byte)(v >> 8),
            3 => (ushort)v,
            4 => (uint)v,
            _ => v,
        };
    }

    /// <summary>Writes a GPR with x86-64 rules: 32-bit writes zero-extend, 8/16-bit writes merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteGpr(Register r, ulong v)
    {
        int info = s_regInfo[(int)r];
        ref ulong g = ref State.Gpr[info & 15];
        switch (info >> 4)
        {
            case 1: g = (g & ~0xFFUL) | (byte)v; break;
            case 2: g = (g & ~0xFF00UL) | ((ulong)(byte)v << 8); break;
            case 3: g = (g & ~0xFFFFUL) | (ushort)v; break;
            case 4: g = (uint)v; break;
            default: g = v; break;
        }
    }

    /// <summary>Effective address of the memory operand (SDM Vol. 1 §3.7.5 "Specifying an Offset"), wrapped to the address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong EffectiveAddress(in Instruction i)
    {
        ulong ea = i.MemoryDisplacement64;
        Register b = i.MemoryBase;
        if (b != Register.None)
        {
            if (b is Register.RIP or Register.EIP)
            {
                // Iced resolved the target against the decode-time IP; rebase it on this execution's RIP.
                ea = ea - i.NextIP + NextRip;
            }
            else
            {
                ea += State.Gpr[s_regInfo[(int)b] & 15];
            }
        }
        Register x = i.MemoryIndex;
        if (x != Register.None)
        {
            ea += State.Gpr[s_regInfo[(int)x] & 15] << ScaleShift(i.MemoryIndexScale);
        }
        return AddrSize switch
        {
            64 => ea,
            32 => (uint)ea,
            _ => (ushort)ea,
        };
    }

    private static int ScaleShift(int scale) => scale switch
    {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };

    /// <summary>Segment register index (ES=0 … GS=5) of the memory operand, overrides included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SegIndex(Register seg) => seg - Register.ES;

    /// <summary>Reads operand <paramref name="op"/> of <paramref name="size"/> bytes (register, memory or immediate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadOp(in Instruction i, int op, int size, out ulong v)
    {
        switch (i.GetOpKind(op))
        {
            case OpKind.Register:
                v = ReadGpr(i.GetOpRegister(op));
                return true;
            case OpKind.Memory:
                return ReadMem(SegIndex(i.MemorySegment), EffectiveAddress(in i), size, out v);
            default:
                v = i.GetImmediate(op) & SizeMask(size);
                return true;
        }
    }

    /// <summary>Reads operand 0 for read-modify-write (a memory destination is checked for writing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadRmw(in Instruction i, int size, out ulong v)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            v = ReadGpr(i.Op0Register);
            return true;
        }
        return ReadMemForWrite(SegIndex(i.MemorySegment), EffectiveAddress(in i), size, out v);
    }

    /// <summary>Writes operand 0 (register or memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool WriteOp0(in Instruction i, int size, ulong v)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            WriteGpr(i.Op0Register, v);
            return true;
        }
        return WriteMem(SegIndex(i.MemorySegment), EffectiveAddress(in i), size, v);
    }

    /// <summary>Operand size in bytes of operand 0 (register or memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int OpSize0(in Instruction i) =>
        i.Op0Kind == OpKind.Register ? GprSize(i.Op0Register) : MemSize[(int)i.MemorySize];

    internal static ulong SizeMask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    /// <summary>Sign-extends the low <paramref name="size"/> bytes of <paramref name="v"/>.</summary>
    internal static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(long)(sbyte)v,
        2 => (ulong)(long)(short)v,
        4 => (ulong)(long)(int)v,
        _ => v,
    };

    // ------------------------------------------------------------------ stack

    /// <summary>Stack pointer width for implicit stack accesses (SS.B, or 64 in 64-bit mode).</summary>
    internal ulong StackMask => State.StackBits switch
    {
        64 => ulong.MaxValue,
        32 => 0xFFFF_FFFF,
        _ => 0xFFFF,
    };

    /// <summary>Pushes <paramref name="size"/> bytes (SDM Vol. 1 §6.2 "Stacks"); RSP changes only if the write succeeds.</summary>
    internal bool Push(ulong value, int size)
    {
        ulong mask = StackMask;
        ulong rsp = State.Gpr[4];
        ulong newSp = (rsp - (ulong)size) & mask;
        if (!WriteMem((int)SegReg.Ss, newSp, size, value))
        {
            return false;
        }
        State.Gpr[4] = (rsp & ~mask) | newSp;
        return true;
    }

    /// <summary>Pops <paramref name="size"/> bytes; RSP changes only if the read succeeds.</summary>
    internal bool Pop(int size, out ulong value)
    {
        ulong mask = StackMask;
        ulong rsp = State.Gpr[4];
        if (!ReadMem((int)SegReg.Ss, rsp & mask, size, out value))
        {
            return false;
        }
        State.Gpr[4] = (rsp & ~mask) | ((rsp + (ulong)size) & mask);
        return true;
    }

    /// <summary>Reads the stack at <paramref name="offset"/> bytes above RSP without popping.</summary>
    internal bool PeekStack(ulong offset, int size, out ulong value) =>
        ReadMem((int)SegReg.Ss, (State.Gpr[4] + offset) & StackMask, size, out value);
}
