using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Near control transfer: JMP (rel, r/m), Jcc, CALL (rel, r/m), RET (with imm16), LOOP LOOPE LOOPNE,
/// JCXZ JECXZ JRCXZ (SDM Vol. 1 §6.3 "Calling Procedures Using CALL and RET", §7.3.8 "Control Transfer
/// Instructions"). Far transfers, INT and IRET live with the descriptor and privilege handlers.
/// <para>
/// Targets are truncated to the operand size (a 16-bit IP wraps) and checked at the branch, so a bad
/// target faults with RIP still on the branch: #GP(0) for a non-canonical target in 64-bit mode, for one
/// beyond CS.limit otherwise (SDM Vol. 2A "JMP—Jump", "CALL—Call Procedure", "Jcc—Jump if Condition Is Met").
/// </para>
/// </summary>
internal static unsafe partial class Handlers
{
    static partial void RegisterControlTransfer(HandlerFn[] t)
    {
        Set(t, &Jmp_rel, Code.Jmp_rel8_16, Code.Jmp_rel8_32, Code.Jmp_rel8_64,
            Code.Jmp_rel16, Code.Jmp_rel32_32, Code.Jmp_rel32_64);
        Set(t, &Jmp_rm, Code.Jmp_rm16, Code.Jmp_rm32, Code.Jmp_rm64);
        Set(t, &Jcc,
            Code.Jo_rel8_16, Code.Jo_rel8_32, Code.Jo_rel8_64, Code.Jno_rel8_16, Code.Jno_rel8_32, Code.Jno_rel8_64,
            Code.Jb_rel8_16, Code.Jb_rel8_32, Code.Jb_rel8_64, Code.Jae_rel8_16, Code.Jae_rel8_32, Code.Jae_rel8_64,
            Code.Je_rel8_16, Code.Je_rel8_32, Code.Je_rel8_64, Code.Jne_rel8_16, Code.Jne_rel8_32, Code.Jne_rel8_64,
            Code.Jbe_rel8_16, Code.Jbe_rel8_32, Code.Jbe_rel8_64, Code.Ja_rel8_16, Code.Ja_rel8_32, Code.Ja_rel8_64,
            Code.Js_rel8_16, Code.Js_rel8_32, Code.Js_rel8_64, Code.Jns_rel8_16, Code.Jns_rel8_32, Code.Jns_rel8_64,
            Code.Jp_rel8_16, Code.Jp_rel8_32, Code.Jp_rel8_64, Code.Jnp_rel8_16, Code.Jnp_rel8_32, Code.Jnp_rel8_64,
            Code.Jl_rel8_16, Code.Jl_rel8_32, Code.Jl_rel8_64, Code.Jge_rel8_16, Code.Jge_rel8_32, Code.Jge_rel8_64,
            Code.Jle_rel8_16, Code.Jle_rel8_32, Code.Jle_rel8_64, Code.Jg_rel8_16, Code.Jg_rel8_32, Code.Jg_rel8_64,
            Code.Jo_rel16, Code.Jo_rel32_32, Code.Jo_rel32_64, Code.Jno_rel16, Code.Jno_rel32_32, Code.Jno_rel32_64,
            Code.Jb_rel16, Code.Jb_rel32_32, Code.Jb_rel32_64, Code.Jae_rel16, Code.Jae_rel32_32, Code.Jae_rel32_64,
            Code.Je_rel16, Code.Je_rel32_32, Code.Je_rel32_64, Code.Jne_rel16, Code.Jne_rel32_32, Code.Jne_rel32_64,
            Code.Jbe_rel16, Code.Jbe_rel32_32, Code.Jbe_rel32_64, Code.Ja_rel16, Code.Ja_rel32_32, Code.Ja_rel32_64,
            Code.Js_rel16, Code.Js_rel32_32, Code.Js_rel32_64, Code.Jns_rel16, Code.Jns_rel32_32, Code.Jns_rel32_64,
            Code.Jp_rel16, Code.Jp_rel32_32, Code.Jp_rel32_64, Code.Jnp_rel16, Code.Jnp_rel32_32, Code.Jnp_rel32_64,
            Code.Jl_rel16, Code.Jl_rel32_32, Code.Jl_rel32_64, Code.Jge_rel16, Code.Jge_rel32_32, Code.Jge_rel32_64,
            Code.Jle_rel16, Code.Jle_rel32_32, Code.Jle_rel32_64, Code.Jg_rel16, Code.Jg_rel32_32, Code.Jg_rel32_64);
        Set(t, &Call_rel, Code.Call_rel16, Code.Call_rel32_32, Code.Call_rel32_64);
        Set(t, &Call_rm, Code.Call_rm16, Code.Call_rm32, Code.Call_rm64);
        Set(t, &Retn, Code.Retnw, Code.Retnd, Code.Retnq, Code.Retnw_imm16, Code.Retnd_imm16, Code.Retnq_imm16);
        Set(t, &Loop, Code.Loop_rel8_16_CX, Code.Loop_rel8_32_CX, Code.Loop_rel8_16_ECX, Code.Loop_rel8_32_ECX,
            Code.Loop_rel8_64_ECX, Code.Loop_rel8_16_RCX, Code.Loop_rel8_64_RCX);
        Set(t, &Loope, Code.Loope_rel8_16_CX, Code.Loope_rel8_32_CX, Code.Loope_rel8_16_ECX, Code.Loope_rel8_32_ECX,
            Code.Loope_rel8_64_ECX, Code.Loope_rel8_16_RCX, Code.Loope_rel8_64_RCX);
        Set(t, &Loopne, Code.Loopne_rel8_16_CX, Code.Loopne_rel8_32_CX, Code.Loopne_rel8_16_ECX, Code.Loopne_rel8_32_ECX,
            Code.Loopne_rel8_64_ECX, Code.Loopne_rel8_16_RCX, Code.Loopne_rel8_64_RCX);
        Set(t, &Jrcxz, Code.Jcxz_rel8_16, Code.Jcxz_rel8_32, Code.Jecxz_rel8_16, Code.Jecxz_rel8_32,
            Code.Jecxz_rel8_64, Code.Jrcxz_rel8_16, Code.Jrcxz_rel8_64);
    }

    /// <summary>Operand size in bytes of a relative branch (Iced's NearBranch16/32/64 kinds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BranchSize(OpKind k) => k switch
    {
        OpKind.NearBranch16 => 2,
        OpKind.NearBranch32 => 4,
        _ => 8,
    };

    /// <summary>
    /// Target of a relative branch for this execution. Iced resolved it against the decode-time IP and the
    /// decoded page may be reached through another linear address (or CS base), so rebase the displacement
    /// on <see cref="Vcpu.NextRip"/>; truncation to the operand size happens in <see cref="CheckNearTarget"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RelativeTarget(Vcpu cpu, in Instruction i) => cpu.NextRip + (i.NearBranch64 - i.NextIP);

    /// <summary>
    /// Truncates a near target to the operand size and checks it: canonical in 64-bit mode, within CS.limit
    /// in real, protected and compatibility mode (SDM Vol. 2A "JMP—Jump": "IF tempEIP is not within code segment limit
    /// THEN #GP(0)"; "IF tempRIP is not canonical THEN #GP(0)"). Returns false with #GP(0) pending.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool CheckNearTarget(Vcpu cpu, ref ulong target, int opSize)
    {
        ref CpuState s = ref cpu.State;
        if (opSize == 8)
        {
            return Vcpu.IsCanonical(target) || cpu.RaiseGp();
        }
        target &= opSize == 2 ? 0xFFFFUL : 0xFFFF_FFFFUL;
        if (s.Is64)
        {
            return true;
        }
        return target <= s.Seg[(int)SegReg.Cs].Limit || cpu.RaiseGp();
    }

    /// <summary>Near jump to <paramref name="target"/> at <paramref name="opSize"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NearJump(Vcpu cpu, ulong target, int opSize)
    {
        if (CheckNearTarget(cpu, ref target, opSize))
        {
            cpu.NextRip = target;
        }
    }

    // ------------------------------------------------------------------ JMP / Jcc

    private static void Jmp_rel(Vcpu cpu, in Instruction i) =>
        NearJump(cpu, RelativeTarget(cpu, in i), BranchSize(i.Op0Kind));

    private static void Jmp_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (cpu.ReadOp(in i, 0, size, out ulong target))
        {
            NearJump(cpu, target, size);
        }
    }

    private static void Jcc(Vcpu cpu, in Instruction i)
    {
        if (cpu.State.Condition(s_conditionOf[(int)i.Code]))
        {
            NearJump(cpu, RelativeTarget(cpu, in i), BranchSize(i.Op0Kind));
        }
    }

    // ------------------------------------------------------------------ CALL / RET

    /// <summary>
    /// SDM Vol. 2A "CALL—Call Procedure" (near): the target is checked before the return address is pushed;
    /// the return address is the next instruction's IP/EIP/RIP at the operand size.
    /// </summary>
    private static void Call_rel(Vcpu cpu, in Instruction i)
    {
        int size = BranchSize(i.Op0Kind);
        ulong target = RelativeTarget(cpu, in i);
        if (CheckNearTarget(cpu, ref target, size) && cpu.Push(cpu.NextRip, size))
        {
            cpu.NextRip = target;
        }
    }

    /// <summary>CALL r/m: the target is read (with the old rSP when it addresses the stack) before the push.</summary>
    private static void Call_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (cpu.ReadOp(in i, 0, size, out ulong target)
            && CheckNearTarget(cpu, ref target, size)
            && cpu.Push(cpu.NextRip, size))
        {
            cpu.NextRip = target;
        }
    }

    /// <summary>
    /// SDM Vol. 2B "RET—Return From Procedure" (near): pop the return address at the operand size, check it,
    /// then release imm16 more bytes; rSP changes only if nothing faults.
    /// </summary>
    private static void Retn(Vcpu cpu, in Instruction i)
    {
        int size = i.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 => 2,
            Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        if (!cpu.PeekStack(0, size, out ulong target) || !CheckNearTarget(cpu, ref target, size))
        {
            return;
        }
        ulong release = (ulong)size;
        if (i.Op0Kind == OpKind.Immediate16)
        {
            release += i.Immediate16;
        }
        ref CpuState s = ref cpu.State;
        ulong mask = cpu.StackMask;
        s.Gpr[4] = (s.Gpr[4] & ~mask) | ((s.Gpr[4] + release) & mask);
        cpu.NextRip = target;
    }

    // ------------------------------------------------------------------ LOOP / JrCXZ

    /// <summary>Counter register (CX, ECX, RCX) value at the address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong CounterMask(int addrSize) => addrSize switch
    {
        64 => ulong.MaxValue,
        32 => 0xFFFF_FFFFUL,
        _ => 0xFFFFUL,
    };

    /// <summary>
    /// SDM Vol. 2A "LOOP/LOOPcc—Loop According to ECX Counter": decrement the counter (at the address size,
    /// without touching flags), branch while it is non-zero and the ZF condition holds. The decrement is
    /// committed only if the branch does not fault, so a #GP leaves the counter as it was.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoopCore(Vcpu cpu, in Instruction i, int zfCondition)
    {
        ref CpuState s = ref cpu.State;
        int asz = cpu.AddrSize;
        ulong mask = CounterMask(asz);
        ulong count = (s.Gpr[1] - 1) & mask;
        bool taken = count != 0 && (zfCondition < 0 || s.Zf == (zfCondition != 0));
        if (taken)
        {
            ulong target = RelativeTarget(cpu, in i);
            if (!CheckNearTarget(cpu, ref target, BranchSize(i.Op0Kind)))
            {
                return;
            }
            cpu.NextRip = target;
        }
        WriteCounter(ref s, asz, count);
    }

    /// <summary>Writes CX/ECX/RCX at the address size (ECX zero-extends into RCX).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteCounter(ref CpuState s, int addrSize, ulong count)
    {
        ref ulong rcx = ref s.Gpr[1];
        rcx = addrSize switch
        {
            64 => count,
            32 => (uint)count,
            _ => (rcx & ~0xFFFFUL) | (ushort)count,
        };
    }

    private static void Loop(Vcpu cpu, in Instruction i) => LoopCore(cpu, in i, -1);

    private static void Loope(Vcpu cpu, in Instruction i) => LoopCore(cpu, in i, 1);

    private static void Loopne(Vcpu cpu, in Instruction i) => LoopCore(cpu, in i, 0);

    /// <summary>SDM Vol. 2A "Jcc": JCXZ/JECXZ/JRCXZ test the counter chosen by the address size.</summary>
    private static void Jrcxz(Vcpu cpu, in Instruction i)
    {
        if ((cpu.State.Gpr[1] & CounterMask(cpu.AddrSize)) == 0)
        {
            NearJump(cpu, RelativeTarget(cpu, in i), BranchSize(i.Op0Kind));
        }
    }
}
