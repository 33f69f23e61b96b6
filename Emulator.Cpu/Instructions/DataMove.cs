using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Data transfer: MOV (r/m, immediate and moffs forms), MOVZX MOVSX MOVSXD, LEA, XCHG, XADD, CMPXCHG,
/// CMPXCHG8B/16B, CMOVcc, SETcc, CBW CWDE CDQE CWD CDQ CQO, XLAT
/// (SDM Vol. 1 §7.3.1 "Data Transfer Instructions"). MOV to or from segment, control and debug
/// registers lives with the segment and system handlers.
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>Condition code 0..15 (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G) per Iced code; Jcc, CMOVcc, SETcc.</summary>
    private static readonly byte[] s_conditionOf = BuildConditionTable();

    private static byte[] BuildConditionTable()
    {
        var table = new byte[Enum.GetValues<Code>().Length];
        for (int c = 0; c < table.Length; c++)
        {
            ConditionCode cc = ((Code)c).ConditionCode();
            table[c] = cc == ConditionCode.None ? (byte)0 : (byte)(cc - ConditionCode.o);
        }
        return table;
    }

    static partial void RegisterDataMove(HandlerFn[] t)
    {
        Set(t, &Mov_rm_r, Code.Mov_rm8_r8, Code.Mov_rm16_r16, Code.Mov_rm32_r32, Code.Mov_rm64_r64,
            Code.Mov_moffs8_AL, Code.Mov_moffs16_AX, Code.Mov_moffs32_EAX, Code.Mov_moffs64_RAX);
        Set(t, &Mov_r_rm, Code.Mov_r8_rm8, Code.Mov_r16_rm16, Code.Mov_r32_rm32, Code.Mov_r64_rm64,
            Code.Mov_AL_moffs8, Code.Mov_AX_moffs16, Code.Mov_EAX_moffs32, Code.Mov_RAX_moffs64);
        Set(t, &Mov_r_imm, Code.Mov_r8_imm8, Code.Mov_r16_imm16, Code.Mov_r32_imm32, Code.Mov_r64_imm64);
        Set(t, &Mov_rm_imm, Code.Mov_rm8_imm8, Code.Mov_rm16_imm16, Code.Mov_rm32_imm32, Code.Mov_rm64_imm32);
        Set(t, &Movzx, Code.Movzx_r16_rm8, Code.Movzx_r32_rm8, Code.Movzx_r64_rm8,
            Code.Movzx_r16_rm16, Code.Movzx_r32_rm16, Code.Movzx_r64_rm16);
        Set(t, &Movsx, Code.Movsx_r16_rm8, Code.Movsx_r32_rm8, Code.Movsx_r64_rm8,
            Code.Movsx_r16_rm16, Code.Movsx_r32_rm16, Code.Movsx_r64_rm16,
            Code.Movsxd_r16_rm16, Code.Movsxd_r32_rm32, Code.Movsxd_r64_rm32);
        Set(t, &Lea, Code.Lea_r16_m, Code.Lea_r32_m, Code.Lea_r64_m);
        Set(t, &Xchg, Code.Xchg_rm8_r8, Code.Xchg_rm16_r16, Code.Xchg_rm32_r32, Code.Xchg_rm64_r64,
            Code.Xchg_r16_AX, Code.Xchg_r32_EAX, Code.Xchg_r64_RAX);
        Set(t, &Xadd, Code.Xadd_rm8_r8, Code.Xadd_rm16_r16, Code.Xadd_rm32_r32, Code.Xadd_rm64_r64);
        Set(t, &Cmpxchg, Code.Cmpxchg_rm8_r8, Code.Cmpxchg_rm16_r16, Code.Cmpxchg_rm32_r32, Code.Cmpxchg_rm64_r64);
        Set(t, &Cmpxchg8b, Code.Cmpxchg8b_m64);
        Set(t, &Cmpxchg16b, Code.Cmpxchg16b_m128);
        Set(t, &Cmovcc,
            Code.Cmovo_r16_rm16, Code.Cmovo_r32_rm32, Code.Cmovo_r64_rm64,
            Code.Cmovno_r16_rm16, Code.Cmovno_r32_rm32, Code.Cmovno_r64_rm64,
            Code.Cmovb_r16_rm16, Code.Cmovb_r32_rm32, Code.Cmovb_r64_rm64,
            Code.Cmovae_r16_rm16, Code.Cmovae_r32_rm32, Code.Cmovae_r64_rm64,
            Code.Cmove_r16_rm16, Code.Cmove_r32_rm32, Code.Cmove_r64_rm64,
            Code.Cmovne_r16_rm16, Code.Cmovne_r32_rm32, Code.Cmovne_r64_rm64,
            Code.Cmovbe_r16_rm16, Code.Cmovbe_r32_rm32, Code.Cmovbe_r64_rm64,
            Code.Cmova_r16_rm16, Code.Cmova_r32_rm32, Code.Cmova_r64_rm64,
            Code.Cmovs_r16_rm16, Code.Cmovs_r32_rm32, Code.Cmovs_r64_rm64,
            Code.Cmovns_r16_rm16, Code.Cmovns_r32_rm32, Code.Cmovns_r64_rm64,
            Code.Cmovp_r16_rm16, Code.Cmovp_r32_rm32, Code.Cmovp_r64_rm64,
            Code.Cmovnp_r16_rm16, Code.Cmovnp_r32_rm32, Code.Cmovnp_r64_rm64,
            Code.Cmovl_r16_rm16, Code.Cmovl_r32_rm32, Code.Cmovl_r64_rm64,
            Code.Cmovge_r16_rm16, Code.Cmovge_r32_rm32, Code.Cmovge_r64_rm64,
            Code.Cmovle_r16_rm16, Code.Cmovle_r32_rm32, Code.Cmovle_r64_rm64,
            Code.Cmovg_r16_rm16, Code.Cmovg_r32_rm32, Code.Cmovg_r64_rm64);
        Set(t, &Setcc, Code.Seto_rm8, Code.Setno_rm8, Code.Setb_rm8, Code.Setae_rm8, Code.Sete_rm8, Code.Setne_rm8,
            Code.Setbe_rm8, Code.Seta_rm8, Code.Sets_rm8, Code.Setns_rm8, Code.Setp_rm8, Code.Setnp_rm8,
            Code.Setl_rm8, Code.Setge_rm8, Code.Setle_rm8, Code.Setg_rm8);
        Set(t, &Cbw, Code.Cbw);
        Set(t, &Cwde, Code.Cwde);
        Set(t, &Cdqe, Code.Cdqe);
        Set(t, &Cwd, Code.Cwd);
        Set(t, &Cdq, Code.Cdq);
        Set(t, &Cqo, Code.Cqo);
        Set(t, &Xlat, Code.Xlat_m8);
    }

    /// <summary>Size in bytes of operand 1 (register or memory).</summary>
    private static int OpSize1(in Instruction i) =>
        i.Op1Kind == OpKind.Register ? Vcpu.GprSize(i.Op1Register) : Vcpu.MemSize[(int)i.MemorySize];

    // ------------------------------------------------------------------ MOV

    /// <summary>MOV r/m, r and MOV moffs, accumulator.</summary>
    private static void Mov_rm_r(Vcpu cpu, in Instruction i)
    {
        ulong v = cpu.ReadGpr(i.Op1Register);
        if (i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(i.Op0Register, v);
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), Vcpu.GprSize(i.Op1Register), v);
    }

    /// <summary>MOV r, r/m and MOV accumulator, moffs.</summary>
    private static void Mov_r_rm(Vcpu cpu, in Instruction i)
    {
        Register dst = i.Op0Register;
        if (i.Op1Kind == OpKind.Register)
        {
            cpu.WriteGpr(dst, cpu.ReadGpr(i.Op1Register));
            return;
        }
        if (cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), Vcpu.GprSize(dst), out ulong v))
        {
            cpu.WriteGpr(dst, v);
        }
    }

    private static void Mov_r_imm(Vcpu cpu, in Instruction i) => cpu.WriteGpr(i.Op0Register, i.GetImmediate(1));

    /// <summary>MOV r/m, imm (the 64-bit form sign-extends imm32; Iced's Immediate32to64 already did).</summary>
    private static void Mov_rm_imm(Vcpu cpu, in Instruction i)
    {
        ulong v = i.GetImmediate(1);
        if (i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(i.Op0Register, v);
            return;
        }
        cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), Vcpu.MemSize[(int)i.MemorySize], v);
    }

    // ------------------------------------------------------------------ MOVZX / MOVSX / MOVSXD

    private static void Movzx(Vcpu cpu, in Instruction i)
    {
        if (cpu.ReadOp(in i, 1, OpSize1(in i), out ulong v))
        {
            cpu.WriteGpr(i.Op0Register, v);
        }
    }

    /// <summary>
    /// MOVSX and MOVSXD. SDM Vol. 2B "MOVSX/MOVSXD—Move With Sign-Extension": MOVSXD without REX.W
    /// (r32, r/m32 and r16, r/m16) is a plain move; the 32-bit destination still zero-extends in 64-bit mode.
    /// </summary>
    private static void Movsx(Vcpu cpu, in Instruction i)
    {
        int size = OpSize1(in i);
        if (cpu.ReadOp(in i, 1, size, out ulong v))
        {
            cpu.WriteGpr(i.Op0Register, Vcpu.SignExtend(v, size));
        }
    }

    // ------------------------------------------------------------------ LEA

    /// <summary>
    /// SDM Vol. 2A "LEA—Load Effective Address": the offset is computed at the address size and then
    /// truncated or zero-extended to the operand size. EffectiveAddress wraps to the address size; the
    /// register write truncates (16) or zero-extends (32).
    /// </summary>
    private static void Lea(Vcpu cpu, in Instruction i)
    {
        if (i.Op1Kind != OpKind.Memory)
        {
            cpu.RaiseUd();
            return;
        }
        cpu.WriteGpr(i.Op0Register, cpu.EffectiveAddress(in i));
    }

    // ------------------------------------------------------------------ XCHG / XADD

    /// <summary>
    /// XCHG. Both operands are read before either is written, so XCHG AH, AL and the same register twice
    /// behave. `87 C0` (xchg eax, eax) zero-extends RAX through the 32-bit write; `90` decodes as NOP and never
    /// reaches here (SDM Vol. 2C "XCHG—Exchange Register/Memory With Register").
    /// </summary>
    private static void Xchg(Vcpu cpu, in Instruction i)
    {
        Register r1 = i.Op1Register;
        ulong v1 = cpu.ReadGpr(r1);
        if (i.Op0Kind == OpKind.Register)
        {
            Register r0 = i.Op0Register;
            ulong v0 = cpu.ReadGpr(r0);
            cpu.WriteGpr(r0, v1);
            cpu.WriteGpr(r1, v0);
            return;
        }
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int size = Vcpu.GprSize(r1);
        if (!cpu.ReadMemForWrite(seg, ea, size, out ulong m) || !cpu.WriteMem(seg, ea, size, v1))
        {
            return;
        }
        cpu.WriteGpr(r1, m);
    }

    /// <summary>SDM Vol. 2C "XADD—Exchange and Add": TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP (DEST last, so xadd r, r keeps the sum).</summary>
    private static void Xadd(Vcpu cpu, in Instruction i)
    {
        Register src = i.Op1Register;
        int size = Vcpu.GprSize(src);
        ulong s = cpu.ReadGpr(src);
        if (!cpu.ReadRmw(in i, size, out ulong d))
        {
            return;
        }
        ulong sum = (d + s) & Vcpu.SizeMask(size);
        if (i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(src, d);
            cpu.WriteGpr(i.Op0Register, sum);
        }
        else
        {
            if (!cpu.WriteOp0(in i, size, sum))
            {
                return;
            }
            cpu.WriteGpr(src, d);
        }
        cpu.State.SetLazy(FlagOp.Add, size, sum, d, s);
    }

    // ------------------------------------------------------------------ CMPXCHG

    /// <summary>
    /// SDM Vol. 2A "CMPXCHG—Compare and Exchange". Flags as CMP accumulator, DEST. A memory destination is
    /// always written (the old value on failure). A register destination is left alone on failure and the
    /// accumulator alone on success, so neither has its upper half cleared in 64-bit mode then; this is what
    /// Intel and AMD parts do (the pseudocode's "DEST ← TEMP" would zero-extend a 32-bit register).
    /// </summary>
    private static void Cmpxchg(Vcpu cpu, in Instruction i)
    {
        Register src = i.Op1Register;
        int size = Vcpu.GprSize(src);
        ulong mask = Vcpu.SizeMask(size);
        ulong acc = cpu.State.Gpr[0] & mask;
        if (!cpu.ReadRmw(in i, size, out ulong d))
        {
            return;
        }
        bool equal = acc == d;
        if (i.Op0Kind == OpKind.Memory)
        {
            if (!cpu.WriteOp0(in i, size, equal ? cpu.ReadGpr(src) : d))
            {
                return;
            }
        }
        else if (equal)
        {
            cpu.WriteGpr(i.Op0Register, cpu.ReadGpr(src));
        }
        if (!equal)
        {
            WriteAccumulator(cpu, size, d);
        }
        cpu.State.SetLazy(FlagOp.Sub, size, (acc - d) & mask, acc, d);
    }

    private static void WriteAccumulator(Vcpu cpu, int size, ulong v)
    {
        ref ulong rax = ref cpu.State.Gpr[0];
        rax = size switch
        {
            1 => (rax & ~0xFFUL) | (byte)v,
            2 => (rax & ~0xFFFFUL) | (ushort)v,
            4 => (uint)v,
            _ => v,
        };
    }

    /// <summary>
    /// SDM Vol. 2A "CMPXCHG8B/CMPXCHG16B—Compare and Exchange Bytes": only ZF changes. The memory operand is
    /// written either way; EDX:EAX is loaded (zero-extending RDX/RAX in 64-bit mode) only on failure.
    /// </summary>
    private static void Cmpxchg8b(Vcpu cpu, in Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory)
        {
            cpu.RaiseUd();
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!cpu.ReadMemForWrite(seg, ea, 8, out ulong m))
        {
            return;
        }
        ulong expected = ((ulong)(uint)s.Gpr[2] << 32) | (uint)s.Gpr[0];
        bool equal = m == expected;
        ulong store = equal ? ((ulong)(uint)s.Gpr[1] << 32) | (uint)s.Gpr[3] : m;
        if (!cpu.WriteMem(seg, ea, 8, store))
        {
            return;
        }
        if (!equal)
        {
            s.Gpr[0] = (uint)m;
            s.Gpr[2] = m >> 32;
        }
        s.SetArith(CpuState.FlagZf, equal ? CpuState.FlagZf : 0);
    }

    /// <summary>CMPXCHG16B: as CMPXCHG8B on RDX:RAX and RCX:RBX; #GP(0) unless the operand is 16-byte aligned.</summary>
    private static void Cmpxchg16b(Vcpu cpu, in Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory)
        {
            cpu.RaiseUd();
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!cpu.SegmentAddress(seg, ea, 16, true, out ulong linear))
        {
            return;
        }
        if ((linear & 15) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        // A locked read-modify-write: a fault reports a write. The aligned 16 bytes sit in one page.
        if (!cpu.Translate(linear, Access.Write, out _, out _) || !cpu.ReadMem128(seg, ea, out ulong lo, out ulong hi))
        {
            return;
        }
        bool equal = lo == s.Gpr[0] && hi == s.Gpr[2];
        bool ok = equal ? cpu.WriteMem128(seg, ea, s.Gpr[3], s.Gpr[1]) : cpu.WriteMem128(seg, ea, lo, hi);
        if (!ok)
        {
            return;
        }
        if (!equal)
        {
            s.Gpr[0] = lo;
            s.Gpr[2] = hi;
        }
        s.SetArith(CpuState.FlagZf, equal ? CpuState.FlagZf : 0);
    }

    // ------------------------------------------------------------------ CMOVcc / SETcc

    /// <summary>
    /// SDM Vol. 2A "CMOVcc—Conditional Move": the source is read (and may fault) whatever the condition; with a
    /// 32-bit operand in 64-bit mode the destination is zero-extended even when the condition is false.
    /// </summary>
    private static void Cmovcc(Vcpu cpu, in Instruction i)
    {
        Register dst = i.Op0Register;
        if (!cpu.ReadOp(in i, 1, Vcpu.GprSize(dst), out ulong v))
        {
            return;
        }
        cpu.WriteGpr(dst, cpu.State.Condition(s_conditionOf[(int)i.Code]) ? v : cpu.ReadGpr(dst));
    }

    private static void Setcc(Vcpu cpu, in Instruction i) =>
        cpu.WriteOp0(in i, 1, cpu.State.Condition(s_conditionOf[(int)i.Code]) ? 1UL : 0UL);

    // ------------------------------------------------------------------ sign extension of the accumulator

    /// <summary>SDM Vol. 2A "CBW/CWDE/CDQE—Convert Byte to Word/Convert Word to Doubleword/Convert Doubleword to Quadword".</summary>
    private static void Cbw(Vcpu cpu, in Instruction i)
    {
        ref ulong rax = ref cpu.State.Gpr[0];
        rax = (rax & ~0xFFFFUL) | (ushort)(short)(sbyte)rax;
    }

    private static void Cwde(Vcpu cpu, in Instruction i)
    {
        ref ulong rax = ref cpu.State.Gpr[0];
        rax = (uint)(short)rax;
    }

    private static void Cdqe(Vcpu cpu, in Instruction i)
    {
        ref ulong rax = ref cpu.State.Gpr[0];
        rax = (ulong)(long)(int)rax;
    }

    /// <summary>SDM Vol. 2A "CWD/CDQ/CQO—Convert Word to Doubleword/Convert Doubleword to Quadword".</summary>
    private static void Cwd(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        s.Gpr[2] = (s.Gpr[2] & ~0xFFFFUL) | ((short)s.Gpr[0] < 0 ? 0xFFFFUL : 0);
    }

    private static void Cdq(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        s.Gpr[2] = (int)s.Gpr[0] < 0 ? 0xFFFF_FFFFUL : 0;
    }

    private static void Cqo(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        s.Gpr[2] = (long)s.Gpr[0] < 0 ? ulong.MaxValue : 0;
    }

    // ------------------------------------------------------------------ XLAT

    /// <summary>
    /// SDM Vol. 2C "XLAT/XLATB—Table Look-up Translation": AL ← [seg:(rBX + ZeroExtend(AL))] at the address
    /// size; DS is the default segment and may be overridden. Computed here because the generic effective
    /// address would index with all of RAX.
    /// </summary>
    private static void Xlat(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        ulong ea = s.Gpr[3] + (byte)s.Gpr[0];
        ea = cpu.AddrSize switch
        {
            64 => ea,
            32 => (uint)ea,
            _ => (ushort)ea,
        };
        if (cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), ea, 1, out ulong v))
        {
            s.Gpr[0] = (s.Gpr[0] & ~0xFFUL) | v;
        }
    }
}
