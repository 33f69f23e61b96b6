using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Stack manipulation: PUSH POP (register, r/m, immediate), PUSHA/PUSHAD POPA/POPAD, ENTER LEAVE
/// (SDM Vol. 1 §6.2 "Stacks" and "Stack Manipulation Instructions"). The operand size comes from
/// the Iced code (64-bit mode defaults to 64 and 66h selects 16); the stack-pointer width is SS.B, or
/// 64 in 64-bit mode (<see cref="Vcpu.StackMask"/>). PUSH/POP of segment registers live with the segment handlers.
/// </summary>
internal static unsafe partial class Handlers
{
    static partial void RegisterStack(HandlerFn[] t)
    {
        Set(t, &Push_r, Code.Push_r16, Code.Push_r32, Code.Push_r64);
        Set(t, &Pop_r, Code.Pop_r16, Code.Pop_r32, Code.Pop_r64);
        Set(t, &Push_rm, Code.Push_rm16, Code.Push_rm32, Code.Push_rm64);
        Set(t, &Pop_rm, Code.Pop_rm16, Code.Pop_rm32, Code.Pop_rm64);
        Set(t, &Push_imm16, Code.Push_imm16, Code.Pushw_imm8);
        Set(t, &Push_imm32, Code.Pushd_imm32, Code.Pushd_imm8);
        Set(t, &Push_imm64, Code.Pushq_imm32, Code.Pushq_imm8);
        Set(t, &Pusha, Code.Pushaw, Code.Pushad);
        Set(t, &Popa, Code.Popaw, Code.Popad);
        Set(t, &Enter, Code.Enterw_imm16_imm8, Code.Enterd_imm16_imm8, Code.Enterq_imm16_imm8);
        Set(t, &Leave, Code.Leavew, Code.Leaved, Code.Leaveq);
    }

    /// <summary>Writes GPR <paramref name="index"/> at operand size: 16 merges, 32 zero-extends, 64 replaces.</summary>
    private static void WriteGprSized(ref CpuState s, int index, int size, ulong v)
    {
        ref ulong g = ref s.Gpr[index];
        g = size switch
        {
            2 => (g & ~0xFFFFUL) | (ushort)v,
            4 => (uint)v,
            _ => v,
        };
    }

    /// <summary>SDM Vol. 2B "PUSH—Push Word, Doubleword, or Quadword Onto the Stack": PUSH rSP pushes the value before the push.</summary>
    private static void Push_r(Vcpu cpu, in Instruction i)
    {
        Register r = i.Op0Register;
        cpu.Push(cpu.ReadGpr(r), Vcpu.GprSize(r));
    }

    /// <summary>
    /// SDM Vol. 2B "POP—Pop a Value From the Stack": POP rSP increments the stack pointer and then writes
    /// the popped value into it, so rSP ends up holding the value.
    /// </summary>
    private static void Pop_r(Vcpu cpu, in Instruction i)
    {
        Register r = i.Op0Register;
        if (cpu.Pop(Vcpu.GprSize(r), out ulong v))
        {
            cpu.WriteGpr(r, v);
        }
    }

    /// <summary>PUSH r/m: a memory source addressed through rSP uses rSP before the push.</summary>
    private static void Push_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (cpu.ReadOp(in i, 0, size, out ulong v))
        {
            cpu.Push(v, size);
        }
    }

    /// <summary>
    /// POP r/m. SDM "POP": with rSP as a base or index, the address is computed after rSP has been
    /// incremented. If the memory write faults, rSP is restored so that the instruction restarts.
    /// </summary>
    private static void Pop_rm(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.OpSize0(in i);
        if (i.Op0Kind == OpKind.Register)
        {
            if (cpu.Pop(size, out ulong rv))
            {
                cpu.WriteGpr(i.Op0Register, rv);
            }
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong rsp = s.Gpr[4];
        if (!cpu.Pop(size, out ulong v))
        {
            return;
        }
        if (!cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), size, v))
        {
            s.Gpr[4] = rsp;
        }
    }

    // Iced sign-extends imm8 and the 64-bit form's imm32 according to the operand kind.
    private static void Push_imm16(Vcpu cpu, in Instruction i) => cpu.Push(i.GetImmediate(0), 2);

    private static void Push_imm32(Vcpu cpu, in Instruction i) => cpu.Push(i.GetImmediate(0), 4);

    private static void Push_imm64(Vcpu cpu, in Instruction i) => cpu.Push(i.GetImmediate(0), 8);

    // ------------------------------------------------------------------ PUSHA / POPA

    /// <summary>
    /// SDM Vol. 2B "PUSHA/PUSHAD—Push All General-Purpose Registers": AX CX DX BX (original) SP BP SI DI;
    /// #UD in 64-bit mode. The stack pointer changes only once every store has succeeded.
    /// </summary>
    private static void Pusha(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (s.Is64)
        {
            cpu.RaiseUd();
            return;
        }
        int size = i.Code == Code.Pushaw ? 2 : 4;
        ulong mask = cpu.StackMask;
        ulong rsp = s.Gpr[4];
        for (int k = 0; k < 8; k++)
        {
            ulong addr = (rsp - (ulong)((k + 1) * size)) & mask;
            if (!cpu.WriteMem((int)SegReg.Ss, addr, size, s.Gpr[k]))
            {
                return;
            }
        }
        s.Gpr[4] = (rsp & ~mask) | ((rsp - (ulong)(8 * size)) & mask);
    }

    /// <summary>
    /// SDM Vol. 2B "POPA/POPAD—Pop All General-Purpose Registers": DI SI BP (SP slot skipped) BX DX CX AX;
    /// #UD in 64-bit mode. All loads happen before any register changes.
    /// </summary>
    private static void Popa(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (s.Is64)
        {
            cpu.RaiseUd();
            return;
        }
        int size = i.Code == Code.Popaw ? 2 : 4;
        ulong mask = cpu.StackMask;
        ulong rsp = s.Gpr[4];
        ulong di = 0, si = 0, bp = 0, bx = 0, dx = 0, cx = 0, ax = 0;
        bool ok = cpu.ReadMem((int)SegReg.Ss, rsp & mask, size, out di)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)size) & mask, size, out si)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)(2 * size)) & mask, size, out bp)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)(4 * size)) & mask, size, out bx)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)(5 * size)) & mask, size, out dx)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)(6 * size)) & mask, size, out cx)
            && cpu.ReadMem((int)SegReg.Ss, (rsp + (ulong)(7 * size)) & mask, size, out ax);
        if (!ok)
        {
            return;
        }
        WriteGprSized(ref s, 7, size, di);
        WriteGprSized(ref s, 6, size, si);
        WriteGprSized(ref s, 5, size, bp);
        WriteGprSized(ref s, 3, size, bx);
        WriteGprSized(ref s, 2, size, dx);
        WriteGprSized(ref s, 1, size, cx);
        WriteGprSized(ref s, 0, size, ax);
        s.Gpr[4] = (rsp & ~mask) | ((rsp + (ulong)(8 * size)) & mask);
    }

    // ------------------------------------------------------------------ ENTER / LEAVE

    /// <summary>
    /// SDM Vol. 2A "ENTER—Make Stack Frame for Procedure Parameters": push rBP, copy NestingLevel−1 frame
    /// pointers from the old frame (rBP steps at the stack-address size), push the new frame pointer, then
    /// rBP ← FrameTemp and rSP ← rSP − AllocSize. The SDM's #PF rule for "a write using the final value of
    /// the stack pointer" is honoured by probing that location for writing (as Bochs does) before anything
    /// architectural changes; rBP and rSP are committed last.
    /// </summary>
    private static void Enter(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = i.Code switch
        {
            Code.Enterw_imm16_imm8 => 2,
            Code.Enterd_imm16_imm8 => 4,
            _ => 8,
        };
        ulong alloc = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        ulong mask = cpu.StackMask;
        ulong rsp = s.Gpr[4];
        ulong rbp = s.Gpr[5];
        const int ss = (int)SegReg.Ss;

        ulong sp = (rsp - (ulong)size) & mask;
        if (!cpu.WriteMem(ss, sp, size, rbp))
        {
            return;
        }
        ulong frameTemp = sp;
        if (level > 0)
        {
            ulong bp = rbp & mask;
            for (int k = 1; k < level; k++)
            {
                bp = (bp - (ulong)size) & mask;
                if (!cpu.ReadMem(ss, bp, size, out ulong link))
                {
                    return;
                }
                sp = (sp - (ulong)size) & mask;
                if (!cpu.WriteMem(ss, sp, size, link))
                {
                    return;
                }
            }
            sp = (sp - (ulong)size) & mask;
            if (!cpu.WriteMem(ss, sp, size, frameTemp))
            {
                return;
            }
        }
        ulong finalSp = (sp - alloc) & mask;
        if (!cpu.ReadMemForWrite(ss, finalSp, size, out _))
        {
            return;
        }
        WriteGprSized(ref s, 5, size, frameTemp);
        s.Gpr[4] = (rsp & ~mask) | finalSp;
    }

    /// <summary>
    /// SDM Vol. 2A "LEAVE—High Level Procedure Exit": rSP ← rBP at the stack-address size, then pop rBP at
    /// the operand size. Nothing changes if the pop faults.
    /// </summary>
    private static void Leave(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = i.Code switch
        {
            Code.Leavew => 2,
            Code.Leaved => 4,
            _ => 8,
        };
        ulong mask = cpu.StackMask;
        ulong sp = s.Gpr[5] & mask;
        if (!cpu.ReadMem((int)SegReg.Ss, sp, size, out ulong v))
        {
            return;
        }
        s.Gpr[4] = (s.Gpr[4] & ~mask) | ((sp + (ulong)size) & mask);
        WriteGprSized(ref s, 5, size, v);
    }
}
