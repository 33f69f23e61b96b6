using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Segment-register loads and far control transfers (SDM Vol. 3A chapter 5 "Protection"): MOV/PUSH/POP
/// Sreg, LDS LES LFS LGS LSS, far JMP/CALL (call gates included, 64-bit call gates in IA-32e mode, task
/// gates and TSS descriptors through a task switch), far RET, IRET, INT n/INT3/INTO/INT1, LAR LSL VERR
/// VERW ARPL SWAPGS. Every check of the SDM's pseudocode raises #GP/#SS/#NP with the selector error code;
/// nothing changes before the last check that can fault.
/// </summary>
internal static unsafe partial class Handlers
{
    static partial void RegisterSegment(HandlerFn[] t)
    {
        Set(t, &Mov_rm_Sreg, Code.Mov_rm16_Sreg, Code.Mov_r32m16_Sreg, Code.Mov_r64m16_Sreg);
        Set(t, &Mov_Sreg_rm, Code.Mov_Sreg_rm16, Code.Mov_Sreg_r32m16, Code.Mov_Sreg_r64m16);
        Set(t, &Push_Sreg, Code.Pushw_ES, Code.Pushd_ES, Code.Pushw_CS, Code.Pushd_CS, Code.Pushw_SS, Code.Pushd_SS,
            Code.Pushw_DS, Code.Pushd_DS, Code.Pushw_FS, Code.Pushd_FS, Code.Pushq_FS, Code.Pushw_GS, Code.Pushd_GS, Code.Pushq_GS);
        Set(t, &Pop_Sreg, Code.Popw_ES, Code.Popd_ES, Code.Popw_SS, Code.Popd_SS, Code.Popw_DS, Code.Popd_DS,
            Code.Popw_FS, Code.Popd_FS, Code.Popq_FS, Code.Popw_GS, Code.Popd_GS, Code.Popq_GS);
        Set(t, &Load_far_pointer, Code.Les_r16_m1616, Code.Les_r32_m1632, Code.Lds_r16_m1616, Code.Lds_r32_m1632,
            Code.Lss_r16_m1616, Code.Lss_r32_m1632, Code.Lss_r64_m1664, Code.Lfs_r16_m1616, Code.Lfs_r32_m1632,
            Code.Lfs_r64_m1664, Code.Lgs_r16_m1616, Code.Lgs_r32_m1632, Code.Lgs_r64_m1664);
        Set(t, &Jmp_far, Code.Jmp_ptr1616, Code.Jmp_ptr1632, Code.Jmp_m1616, Code.Jmp_m1632, Code.Jmp_m1664);
        Set(t, &Call_far, Code.Call_ptr1616, Code.Call_ptr1632, Code.Call_m1616, Code.Call_m1632, Code.Call_m1664);
        Set(t, &Retf, Code.Retfw, Code.Retfd, Code.Retfq, Code.Retfw_imm16, Code.Retfd_imm16, Code.Retfq_imm16);
        Set(t, &Iret, Code.Iretw, Code.Iretd, Code.Iretq);
        Set(t, &Int_imm8, Code.Int_imm8);
        Set(t, &Int3, Code.Int3);
        Set(t, &Into, Code.Into);
        Set(t, &Int1, Code.Int1);
        Set(t, &Lar, Code.Lar_r16_rm16, Code.Lar_r32_r32m16, Code.Lar_r64_r64m16);
        Set(t, &Lsl, Code.Lsl_r16_rm16, Code.Lsl_r32_r32m16, Code.Lsl_r64_r64m16);
        Set(t, &Verr, Code.Verr_rm16, Code.Verr_r32m16, Code.Verr_r64m16);
        Set(t, &Verw, Code.Verw_rm16, Code.Verw_r32m16, Code.Verw_r64m16);
        Set(t, &Arpl, Code.Arpl_rm16_r16, Code.Arpl_r32m16_r32);
        Set(t, &Swapgs, Code.Swapgs);
    }

    // ------------------------------------------------------------------ segment loads

    /// <summary>
    /// Loads ES/SS/DS/FS/GS (SDM Vol. 2A "MOV—Move" segment forms, Vol. 3A §5.10.4 "Checking Access Rights"):
    /// real mode: selector and base only; virtual-8086 mode: 64 KiB DPL-3 segment; protected mode: a null
    /// selector makes DS/ES/FS/GS unusable (SS only in 64-bit mode at CPL &lt; 3 with RPL = CPL), otherwise
    /// the descriptor type, DPL/RPL/CPL and present checks, then the accessed bit is set.
    /// </summary>
    internal static bool LoadSegmentRegister(Vcpu cpu, int seg, ushort sel)
    {
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode)
        {
            s.Seg[seg].LoadReal(sel);
            return true;
        }
        if (s.V86)
        {
            cpu.LoadV86Segment(seg, sel);
            return true;
        }
        int rpl = sel & 3;
        int cpl = s.Cpl;
        bool ss = seg == (int)SegReg.Ss;
        if ((sel & 0xFFFC) == 0)
        {
            if (ss)
            {
                if (!s.Is64 || cpl == 3 || rpl != cpl)
                {
                    return cpu.RaiseGp();
                }
                cpu.LoadNullSs64(cpl);
                s.Seg[seg].Selector = sel;
                return true;
            }
            cpu.LoadNullSegment(seg, sel);
            return true;
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out ulong d, out ulong addr))
        {
            return false;
        }
        int dpl = Vcpu.DescDpl(d);
        if (ss)
        {
            if (rpl != cpl || !Vcpu.DescIsWritableData(d) || dpl != cpl)
            {
                return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            }
            if (!Vcpu.DescPresent(d))
            {
                return cpu.Raise(Vectors.SS, Vcpu.SelErr(sel, 0));
            }
        }
        else
        {
            if (!Vcpu.DescIsReadable(d))
            {
                return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            }
            if (!Vcpu.DescIsConformingCode(d) && (rpl > dpl || cpl > dpl))
            {
                return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            }
            if (!Vcpu.DescPresent(d))
            {
                return cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
            }
        }
        if (!cpu.SetAccessed(addr, ref d))
        {
            return false;
        }
        s.Seg[seg].LoadDescriptor(sel, d);
        return true;
    }

    /// <summary>Segment register index of an Iced segment register operand, or -1 for CS and invalid ones.</summary>
    private static int SregIndex(Register r)
    {
        int n = r - Register.ES;
        return n is >= 0 and <= 5 ? n : -1;
    }

    private static void Mov_rm_Sreg(Vcpu cpu, in Instruction i)
    {
        int n = SregIndex(i.Op1Register);
        if (n < 0)
        {
            cpu.RaiseUd();
            return;
        }
        cpu.WriteOp0(in i, 2, cpu.State.Seg[n].Selector);
    }

    /// <summary>MOV Sreg, r/m16: CS is not a destination (#UD); MOV SS blocks interrupts for one instruction.</summary>
    private static void Mov_Sreg_rm(Vcpu cpu, in Instruction i)
    {
        int n = SregIndex(i.Op0Register);
        if (n < 0 || n == (int)SegReg.Cs)
        {
            cpu.RaiseUd();
            return;
        }
        if (!cpu.ReadOp(in i, 1, 2, out ulong v) || !LoadSegmentRegister(cpu, n, (ushort)v))
        {
            return;
        }
        if (n == (int)SegReg.Ss)
        {
            cpu.ShadowArmed = true;
            cpu.NoteMovSs();
            cpu.Notify();
        }
    }

    private static int SregOfPushPop(Code c) => c switch
    {
        Code.Pushw_ES or Code.Pushd_ES or Code.Popw_ES or Code.Popd_ES => (int)SegReg.Es,
        Code.Pushw_CS or Code.Pushd_CS => (int)SegReg.Cs,
        Code.Pushw_SS or Code.Pushd_SS or Code.Popw_SS or Code.Popd_SS => (int)SegReg.Ss,
        Code.Pushw_DS or Code.Pushd_DS or Code.Popw_DS or Code.Popd_DS => (int)SegReg.Ds,
        Code.Pushw_FS or Code.Pushd_FS or Code.Pushq_FS or Code.Popw_FS or Code.Popd_FS or Code.Popq_FS => (int)SegReg.Fs,
        _ => (int)SegReg.Gs,
    };

    private static int SizeOfPushPop(Code c) => c switch
    {
        Code.Pushw_ES or Code.Pushw_CS or Code.Pushw_SS or Code.Pushw_DS or Code.Pushw_FS or Code.Pushw_GS
            or Code.Popw_ES or Code.Popw_SS or Code.Popw_DS or Code.Popw_FS or Code.Popw_GS => 2,
        Code.Pushq_FS or Code.Pushq_GS or Code.Popq_FS or Code.Popq_GS => 8,
        _ => 4,
    };

    /// <summary>
    /// PUSH Sreg. SDM Vol. 2B "PUSH": with a 32- or 64-bit operand size, recent processors write only the
    /// 16-bit selector and leave the rest of the slot unmodified; this model does the same.
    /// </summary>
    private static void Push_Sreg(Vcpu cpu, in Instruction i)
    {
        int size = SizeOfPushPop(i.Code);
        ushort sel = cpu.State.Seg[SregOfPushPop(i.Code)].Selector;
        if (size == 2)
        {
            cpu.Push(sel, 2);
            return;
        }
        ulong mask = cpu.StackMask;
        ulong newSp = (cpu.State.Gpr[4] - (ulong)size) & mask;
        if (!cpu.ReadMemForWrite((int)SegReg.Ss, newSp, size, out ulong old))
        {
            return;
        }
        cpu.Push((old & ~0xFFFFUL) | sel, size);
    }

    /// <summary>POP Sreg: the load's checks come before the stack pointer moves; POP SS blocks interrupts for one instruction.</summary>
    private static void Pop_Sreg(Vcpu cpu, in Instruction i)
    {
        int size = SizeOfPushPop(i.Code);
        int n = SregOfPushPop(i.Code);
        if (!cpu.PeekStack(0, size, out ulong v))
        {
            return;
        }
        ulong mask = cpu.StackMask;
        ulong rsp = cpu.State.Gpr[4];
        if (!LoadSegmentRegister(cpu, n, (ushort)v))
        {
            return;
        }
        // The stack width is the one in force before a POP SS changed SS.
        cpu.State.Gpr[4] = (rsp & ~mask) | ((rsp + (ulong)size) & mask);
        if (n == (int)SegReg.Ss)
        {
            cpu.ShadowArmed = true;
            cpu.NoteMovSs();
            cpu.Notify();
        }
    }

    /// <summary>SDM Vol. 2A "LDS/LES/LFS/LGS/LSS—Load Far Pointer": offset then selector; the segment load happens first.</summary>
    private static void Load_far_pointer(Vcpu cpu, in Instruction i)
    {
        int size = Vcpu.GprSize(i.Op0Register);
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!cpu.ReadMem(seg, ea, size, out ulong offset) || !cpu.ReadMem(seg, MaskAddr(cpu, ea + (ulong)size), 2, out ulong sel))
        {
            return;
        }
        int target = i.Code switch
        {
            Code.Les_r16_m1616 or Code.Les_r32_m1632 => (int)SegReg.Es,
            Code.Lds_r16_m1616 or Code.Lds_r32_m1632 => (int)SegReg.Ds,
            Code.Lss_r16_m1616 or Code.Lss_r32_m1632 or Code.Lss_r64_m1664 => (int)SegReg.Ss,
            Code.Lfs_r16_m1616 or Code.Lfs_r32_m1632 or Code.Lfs_r64_m1664 => (int)SegReg.Fs,
            _ => (int)SegReg.Gs,
        };
        if (LoadSegmentRegister(cpu, target, (ushort)sel))
        {
            cpu.WriteGpr(i.Op0Register, offset);
        }
    }

    // ------------------------------------------------------------------ far JMP / CALL

    /// <summary>Reads the far pointer of a far JMP/CALL: immediate ptr16:16/ptr16:32 or m16:16/m16:32/m16:64.</summary>
    private static bool FarOperand(Vcpu cpu, in Instruction i, out ushort sel, out ulong offset, out int size)
    {
        switch (i.Code)
        {
            case Code.Jmp_ptr1616:
            case Code.Call_ptr1616:
                sel = i.FarBranchSelector;
                offset = i.FarBranch16;
                size = 2;
                return true;
            case Code.Jmp_ptr1632:
            case Code.Call_ptr1632:
                sel = i.FarBranchSelector;
                offset = i.FarBranch32;
                size = 4;
                return true;
        }
        size = i.Code is Code.Jmp_m1616 or Code.Call_m1616 ? 2 : i.Code is Code.Jmp_m1632 or Code.Call_m1632 ? 4 : 8;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        sel = 0;
        if (!cpu.ReadMem(seg, ea, size, out offset) || !cpu.ReadMem(seg, MaskAddr(cpu, ea + (ulong)size), 2, out ulong s))
        {
            return false;
        }
        sel = (ushort)s;
        return true;
    }

    private static ulong MaskToSize(ulong v, int size) => size switch
    {
        2 => v & 0xFFFF,
        4 => v & 0xFFFF_FFFF,
        _ => v,
    };

    /// <summary>
    /// The target offset must be canonical for a 64-bit code segment and within the limit otherwise: #GP(0).
    /// </summary>
    private static bool CheckTargetOffset(Vcpu cpu, ulong desc, ulong offset)
    {
        if (cpu.TargetIs64(desc) ? !Vcpu.IsCanonical(offset) : offset > Vcpu.DescLimit(desc))
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    /// <summary>
    /// Direct far JMP/CALL to a code segment (SDM Vol. 3A §5.8.1 "Direct Calls or Jumps to Code Segments"):
    /// conforming: DPL ≤ CPL; non-conforming: RPL ≤ CPL and DPL = CPL; present; no L+D in IA-32e mode.
    /// </summary>
    private static bool CheckDirectCodeTarget(Vcpu cpu, ushort sel, ulong d)
    {
        int cpl = cpu.State.Cpl;
        int dpl = Vcpu.DescDpl(d);
        bool ok = Vcpu.DescIsConformingCode(d) ? dpl <= cpl : (sel & 3) <= cpl && dpl == cpl;
        if (!ok || cpu.BadLongCode(d))
        {
            return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
        }
        if (!Vcpu.DescPresent(d))
        {
            return cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
        }
        return true;
    }

    /// <summary>A call gate (16/32-bit, or the 16-byte 64-bit gate in IA-32e mode) and its target code segment.</summary>
    private struct GateTarget
    {
        public ushort CodeSel;
        public ulong CodeDesc;
        public ulong CodeAddr;
        public ulong Offset;
        public int GateSize;
        public int ParamCount;
    }

    /// <summary>
    /// SDM Vol. 3A §5.8.4 "Accessing a Code Segment Through a Call Gate" and §5.8.3.1 "IA-32e Mode Call Gates":
    /// gate DPL ≥ CPL and ≥ RPL; gate present; code selector non-null and a present code segment with
    /// DPL ≤ CPL (JMP: non-conforming needs DPL = CPL); in IA-32e mode a 64-bit code segment.
    /// </summary>
    private static bool ResolveCallGate(Vcpu cpu, ushort sel, ulong gate, bool isJmp, out GateTarget t)
    {
        t = default;
        ref CpuState s = ref cpu.State;
        bool ia32e = s.LongModeActive;
        ulong high = 0;
        if (ia32e)
        {
            if (!cpu.ReadDescriptorHigh(sel, Vectors.GP, 0, out high))
            {
                return false;
            }
            if (((high >> 8) & 0x1F) != 0)
            {
                return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            }
        }
        int gateDpl = Vcpu.DescDpl(gate);
        if (gateDpl < s.Cpl || (sel & 3) > gateDpl)
        {
            return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
        }
        if (!Vcpu.DescPresent(gate))
        {
            return cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
        }
        ushort codeSel = Vcpu.GateSelector(gate);
        if ((codeSel & 0xFFFC) == 0)
        {
            return cpu.RaiseGp();
        }
        if (!cpu.ReadDescriptor(codeSel, Vectors.GP, 0, out ulong cd, out ulong cdAddr))
        {
            return false;
        }
        int dpl = Vcpu.DescDpl(cd);
        bool conforming = Vcpu.DescIsConformingCode(cd);
        if (!Vcpu.DescIsCode(cd) || dpl > s.Cpl || (isJmp && !conforming && dpl != s.Cpl)
            || (ia32e && (cd & (Vcpu.DescL | Vcpu.DescDb)) != Vcpu.DescL))
        {
            return cpu.RaiseGp(Vcpu.SelErr(codeSel, 0));
        }
        if (!Vcpu.DescPresent(cd))
        {
            return cpu.Raise(Vectors.NP, Vcpu.SelErr(codeSel, 0));
        }
        int type = Vcpu.DescType(gate);
        t.GateSize = ia32e ? 8 : type == Vcpu.TypeCallGate32 ? 4 : 2;
        t.Offset = t.GateSize == 2 ? gate & 0xFFFF : Vcpu.GateOffset(gate) | (ia32e ? high << 32 : 0);
        t.ParamCount = ia32e ? 0 : (int)(gate >> 32) & 0x1F;
        t.CodeSel = codeSel;
        t.CodeDesc = cd;
        t.CodeAddr = cdAddr;
        return CheckTargetOffset(cpu, cd, t.Offset);
    }

    /// <summary>Real-address and virtual-8086 far JMP/CALL target: CS base = selector × 16; IP within the CS limit.</summary>
    private static bool RealModeTarget(Vcpu cpu, ulong offset, int size, out ulong target)
    {
        target = MaskToSize(offset, size);
        if (target > cpu.State.Seg[(int)SegReg.Cs].Limit)
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    private static void LoadRealCs(Vcpu cpu, ushort sel)
    {
        if (cpu.State.V86)
        {
            cpu.LoadV86Segment((int)SegReg.Cs, sel);
        }
        else
        {
            cpu.State.Seg[(int)SegReg.Cs].LoadReal(sel);
        }
        cpu.InvalidateFetch();
    }

    /// <summary>SDM Vol. 2A "JMP—Jump" (far forms).</summary>
    private static void Jmp_far(Vcpu cpu, in Instruction i)
    {
        if (!FarOperand(cpu, in i, out ushort sel, out ulong offset, out int size))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode || s.V86)
        {
            if (RealModeTarget(cpu, offset, size, out ulong target))
            {
                LoadRealCs(cpu, sel);
                cpu.NextRip = target;
            }
            return;
        }
        if ((sel & 0xFFFC) == 0)
        {
            cpu.RaiseGp();
            return;
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out ulong d, out ulong addr))
        {
            return;
        }
        if (Vcpu.DescIsCode(d))
        {
            ulong target = MaskToSize(offset, size);
            if (CheckDirectCodeTarget(cpu, sel, d) && CheckTargetOffset(cpu, d, target) && cpu.SetAccessed(addr, ref d))
            {
                cpu.LoadCs(sel, d, s.Cpl);
                cpu.NextRip = target;
            }
            return;
        }
        int type = Vcpu.DescType(d);
        if (Vcpu.DescIsSystem(d))
        {
            if (type == Vcpu.TypeCallGate32 || (!s.LongModeActive && type == Vcpu.TypeCallGate16))
            {
                if (ResolveCallGate(cpu, sel, d, isJmp: true, out GateTarget g) && cpu.SetAccessed(g.CodeAddr, ref g.CodeDesc))
                {
                    cpu.LoadCs(g.CodeSel, g.CodeDesc, s.Cpl);
                    cpu.NextRip = g.Offset;
                }
                return;
            }
            if (!s.LongModeActive && type is Vcpu.TypeTaskGate or Vcpu.TypeTss16Avail or Vcpu.TypeTss32Avail)
            {
                cpu.FarTransferTaskSwitch(sel, d, addr, isCall: false);
                return;
            }
        }
        cpu.RaiseGp(Vcpu.SelErr(sel, 0));
    }

    /// <summary>SDM Vol. 2A "CALL—Call Procedure" (far forms, SDM Vol. 3A §5.8.5 "Stack Switching").</summary>
    private static void Call_far(Vcpu cpu, in Instruction i)
    {
        if (!FarOperand(cpu, in i, out ushort sel, out ulong offset, out int size))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong returnRip = cpu.NextRip;
        ushort oldCs = s.Seg[(int)SegReg.Cs].Selector;
        ulong rsp = s.Gpr[4];
        if (!s.ProtectedMode || s.V86)
        {
            if (!RealModeTarget(cpu, offset, size, out ulong target))
            {
                return;
            }
            if (!cpu.Push(oldCs, size) || !cpu.Push(returnRip, size))
            {
                s.Gpr[4] = rsp;
                return;
            }
            LoadRealCs(cpu, sel);
            cpu.NextRip = target;
            return;
        }
        if ((sel & 0xFFFC) == 0)
        {
            cpu.RaiseGp();
            return;
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out ulong d, out ulong addr))
        {
            return;
        }
        if (Vcpu.DescIsCode(d))
        {
            ulong target = MaskToSize(offset, size);
            if (!CheckDirectCodeTarget(cpu, sel, d) || !CheckTargetOffset(cpu, d, target))
            {
                return;
            }
            if (!cpu.Push(oldCs, size) || !cpu.Push(returnRip, size))
            {
                s.Gpr[4] = rsp;
                return;
            }
            if (!cpu.SetAccessed(addr, ref d))
            {
                s.Gpr[4] = rsp;
                return;
            }
            cpu.LoadCs(sel, d, s.Cpl);
            cpu.NextRip = target;
            return;
        }
        int type = Vcpu.DescType(d);
        if (Vcpu.DescIsSystem(d))
        {
            if (type == Vcpu.TypeCallGate32 || (!s.LongModeActive && type == Vcpu.TypeCallGate16))
            {
                CallGate(cpu, sel, d, returnRip);
                return;
            }
            if (!s.LongModeActive && type is Vcpu.TypeTaskGate or Vcpu.TypeTss16Avail or Vcpu.TypeTss32Avail)
            {
                cpu.FarTransferTaskSwitch(sel, d, addr, isCall: true);
                return;
            }
        }
        cpu.RaiseGp(Vcpu.SelErr(sel, 0));
    }

    /// <summary>
    /// CALL through a call gate: to a more privileged non-conforming segment the stack switches to the TSS
    /// stack for the new CPL, the caller's SS:ESP and <c>ParamCount</c> parameters are copied (none in IA-32e
    /// mode, where SS becomes null), then CS:EIP is pushed (SDM Vol. 3A §5.8.5 "Stack Switching").
    /// </summary>
    private static void CallGate(Vcpu cpu, ushort sel, ulong gate, ulong returnRip)
    {
        if (!ResolveCallGate(cpu, sel, gate, isJmp: false, out GateTarget g))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int dpl = Vcpu.DescDpl(g.CodeDesc);
        int size = g.GateSize;
        Segment oldCsSeg = s.Seg[(int)SegReg.Cs];
        Segment oldSsSeg = s.Seg[(int)SegReg.Ss];
        ulong oldRsp = s.Gpr[4];
        int oldCpl = s.Cpl;
        if (Vcpu.DescIsConformingCode(g.CodeDesc) || dpl == s.Cpl)
        {
            if (!cpu.Push(oldCsSeg.Selector, size) || !cpu.Push(returnRip, size) || !cpu.SetAccessed(g.CodeAddr, ref g.CodeDesc))
            {
                s.Gpr[4] = oldRsp;
                return;
            }
            cpu.LoadCs(g.CodeSel, g.CodeDesc, s.Cpl);
            cpu.NextRip = g.Offset;
            return;
        }

        // More privilege: new stack from the TSS.
        Span<ulong> parameters = stackalloc ulong[32];
        ushort newSsSel = 0;
        ulong newSsDesc = 0;
        ulong newSp;
        if (s.LongModeActive)
        {
            if (!cpu.ReadTss64(4u + 8u * (uint)dpl, 0, out newSp))
            {
                return;
            }
        }
        else
        {
            if (!cpu.ReadTssStack(dpl, 0, out newSsSel, out newSp)
                || !cpu.CheckInnerStack(newSsSel, dpl, 0, out newSsDesc, out ulong ssAddr)
                || !cpu.SetAccessed(ssAddr, ref newSsDesc))
            {
                return;
            }
            for (int n = 0; n < g.ParamCount; n++)
            {
                if (!cpu.PeekStack((ulong)(n * size), size, out parameters[n]))
                {
                    return;
                }
            }
        }
        if (!cpu.SetAccessed(g.CodeAddr, ref g.CodeDesc))
        {
            return;
        }
        cpu.LoadCs(g.CodeSel, g.CodeDesc, dpl);
        if (s.LongModeActive)
        {
            cpu.LoadNullSs64(dpl);
            s.Gpr[4] = newSp;
        }
        else
        {
            s.Seg[(int)SegReg.Ss].LoadDescriptor(newSsSel, newSsDesc);
            s.Gpr[4] = (newSsDesc & Vcpu.DescDb) != 0 ? (uint)newSp : (oldRsp & ~0xFFFFUL) | (newSp & 0xFFFF);
        }
        bool ok = cpu.Push(oldSsSeg.Selector, size) && cpu.Push(oldRsp, size);
        for (int n = g.ParamCount - 1; ok && n >= 0; n--)
        {
            ok = cpu.Push(parameters[n], size);
        }
        ok = ok && cpu.Push(oldCsSeg.Selector, size) && cpu.Push(returnRip, size);
        if (!ok)
        {
            // SDM "CALL": no room on the new stack is #SS(new SS selector).
            if (cpu.FaultVector == Vectors.SS && cpu.FaultError == 0)
            {
                cpu.FaultError = Vcpu.SelErr(newSsSel, 0);
            }
            s.Seg[(int)SegReg.Cs] = oldCsSeg;
            s.Seg[(int)SegReg.Ss] = oldSsSeg;
            s.Gpr[4] = oldRsp;
            s.Cpl = oldCpl;
            cpu.InvalidateFetch();
            return;
        }
        cpu.NextRip = g.Offset;
    }

    // ------------------------------------------------------------------ far RET

    private static int FarOpSize(Code c) => c switch
    {
        Code.Retfw or Code.Retfw_imm16 or Code.Iretw => 2,
        Code.Retfd or Code.Retfd_imm16 or Code.Iretd => 4,
        _ => 8,
    };

    /// <summary>
    /// Checks the code segment a far RET or IRET returns to (SDM Vol. 2B "RET" / "IRET"): non-null; RPL ≥ CPL;
    /// a code segment; conforming: DPL ≤ RPL, non-conforming: DPL = RPL; present; no L+D in IA-32e mode.
    /// </summary>
    private static bool CheckReturnCs(Vcpu cpu, ushort sel, out ulong d, out ulong addr)
    {
        d = 0;
        addr = 0;
        if ((sel & 0xFFFC) == 0)
        {
            return cpu.RaiseGp();
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out d, out addr))
        {
            return false;
        }
        int rpl = sel & 3;
        int dpl = Vcpu.DescDpl(d);
        if (rpl < cpu.State.Cpl || !Vcpu.DescIsCode(d) || (Vcpu.DescIsConformingCode(d) ? dpl > rpl : dpl != rpl)
            || cpu.BadLongCode(d))
        {
            return cpu.RaiseGp(Vcpu.SelErr(sel, 0));
        }
        if (!Vcpu.DescPresent(d))
        {
            return cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
        }
        return true;
    }

    /// <summary>
    /// Checks the stack segment of a return to an outer level: SS.RPL = CS.RPL, writable data with DPL = RPL,
    /// present. A null SS is allowed only when returning to 64-bit mode at CPL &lt; 3.
    /// </summary>
    private static bool CheckReturnSs(Vcpu cpu, ushort ssSel, ulong csDesc, int rpl, out ulong d, out ulong addr, out bool isNull)
    {
        d = 0;
        addr = 0;
        isNull = (ssSel & 0xFFFC) == 0;
        if (isNull)
        {
            if (!cpu.TargetIs64(csDesc) || rpl == 3)
            {
                return cpu.RaiseGp();
            }
            return true;
        }
        if (!cpu.ReadDescriptor(ssSel, Vectors.GP, 0, out d, out addr))
        {
            return false;
        }
        if ((ssSel & 3) != rpl || !Vcpu.DescIsWritableData(d) || Vcpu.DescDpl(d) != rpl)
        {
            return cpu.RaiseGp(Vcpu.SelErr(ssSel, 0));
        }
        if (!Vcpu.DescPresent(d))
        {
            return cpu.Raise(Vectors.SS, Vcpu.SelErr(ssSel, 0));
        }
        return true;
    }

    /// <summary>Sets the stack pointer at the width of the (new) SS.</summary>
    private static void SetStackPointer(Vcpu cpu, ulong value)
    {
        ulong mask = cpu.StackMask;
        cpu.State.Gpr[4] = (cpu.State.Gpr[4] & ~mask) | (value & mask);
    }

    /// <summary>SDM Vol. 2B "RET—Return From Procedure" (far forms).</summary>
    private static void Retf(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = FarOpSize(i.Code);
        ulong imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0UL;
        if (!cpu.PeekStack(0, size, out ulong rip) || !cpu.PeekStack((ulong)size, size, out ulong csv))
        {
            return;
        }
        rip = MaskToSize(rip, size);
        ushort csSel = (ushort)csv;
        ulong rsp = s.Gpr[4];
        if (!s.ProtectedMode || s.V86)
        {
            if (rip > s.Seg[(int)SegReg.Cs].Limit)
            {
                cpu.RaiseGp();
                return;
            }
            LoadRealCs(cpu, csSel);
            SetStackPointer(cpu, rsp + (ulong)(2 * size) + imm);
            cpu.NextRip = rip;
            return;
        }
        if (!CheckReturnCs(cpu, csSel, out ulong cd, out ulong cdAddr))
        {
            return;
        }
        int rpl = csSel & 3;
        if (rpl == s.Cpl)
        {
            if (!CheckTargetOffset(cpu, cd, rip) || !cpu.SetAccessed(cdAddr, ref cd))
            {
                return;
            }
            cpu.LoadCs(csSel, cd, rpl);
            SetStackPointer(cpu, rsp + (ulong)(2 * size) + imm);
            cpu.NextRip = rip;
            return;
        }

        // Return to an outer privilege level: SS:ESP follow the parameters.
        ulong at = (ulong)(2 * size) + imm;
        if (!cpu.PeekStack(at, size, out ulong newSp) || !cpu.PeekStack(at + (ulong)size, size, out ulong ssv))
        {
            return;
        }
        ushort ssSel = (ushort)ssv;
        if (!CheckReturnSs(cpu, ssSel, cd, rpl, out ulong sd, out ulong sdAddr, out bool ssNull)
            || !CheckTargetOffset(cpu, cd, rip)
            || !cpu.SetAccessed(cdAddr, ref cd)
            || (!ssNull && !cpu.SetAccessed(sdAddr, ref sd)))
        {
            return;
        }
        cpu.LoadCs(csSel, cd, rpl);
        if (ssNull)
        {
            cpu.LoadNullSs64(rpl);
            s.Seg[(int)SegReg.Ss].Selector = ssSel;
        }
        else
        {
            s.Seg[(int)SegReg.Ss].LoadDescriptor(ssSel, sd);
        }
        SetStackPointer(cpu, MaskToSize(newSp, size) + imm);
        cpu.InvalidateDataSegmentsForCpl(rpl);
        cpu.NextRip = rip;
    }

    // ------------------------------------------------------------------ IRET

    /// <summary>
    /// Flags an IRET loads in protected mode (SDM Vol. 2A "IRET/IRETD/IRETQ"): the status flags, TF DF NT
    /// (and RF AC ID for 32/64-bit); IF only when CPL ≤ IOPL; IOPL (and VIF VIP) only at CPL 0. The CPL
    /// is the one before the return.
    /// </summary>
    private static void IretFlags(ref CpuState s, ulong image, int size, int cpl)
    {
        ulong old = s.GetRflags();
        ulong mask = CpuState.FlagCf | CpuState.FlagPf | CpuState.FlagAf | CpuState.FlagZf | CpuState.FlagSf
            | CpuState.FlagTf | CpuState.FlagDf | CpuState.FlagOf | CpuState.FlagNt;
        if (size >= 4)
        {
            mask |= CpuState.FlagRf | CpuState.FlagAc | CpuState.FlagId;
        }
        if ((ulong)cpl <= s.Iopl)
        {
            mask |= CpuState.FlagIf;
        }
        if (cpl == 0)
        {
            mask |= CpuState.FlagIopl;
            if (size >= 4)
            {
                mask |= CpuState.FlagVif | CpuState.FlagVip;
            }
        }
        s.SetRflags((old & ~mask) | (image & mask));
    }

    /// <summary>SDM Vol. 2A "IRET/IRETD/IRETQ—Interrupt Return"; IRET unblocks NMIs even when it faults (SDM Vol. 3A §6.7.1).</summary>
    private static void Iret(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = FarOpSize(i.Code);
        cpu.NmiBlocked = false;
        cpu.Notify();
        if (!s.ProtectedMode)
        {
            IretReal(cpu, size);
            return;
        }
        if (s.V86)
        {
            // Without CR4.VME, IRET in virtual-8086 mode needs IOPL = 3.
            if (s.Iopl < 3)
            {
                cpu.RaiseGp();
                return;
            }
            IretReal(cpu, size);
            return;
        }
        if ((s.Rflags & CpuState.FlagNt) != 0)
        {
            if (s.LongModeActive)
            {
                cpu.RaiseGp();
                return;
            }
            cpu.IretTaskReturn();
            return;
        }
        if (!cpu.PeekStack(0, size, out ulong rip) || !cpu.PeekStack((ulong)size, size, out ulong csv)
            || !cpu.PeekStack((ulong)(2 * size), size, out ulong flags))
        {
            return;
        }
        rip = MaskToSize(rip, size);
        ushort csSel = (ushort)csv;
        int cpl = s.Cpl;
        if ((flags & CpuState.FlagVm) != 0 && cpl == 0 && size == 4 && !s.LongModeActive)
        {
            IretToV86(cpu, rip, csSel, flags);
            return;
        }
        if (!CheckReturnCs(cpu, csSel, out ulong cd, out ulong cdAddr))
        {
            return;
        }
        int rpl = csSel & 3;
        // 64-bit mode always pops SS:RSP; otherwise only on a return to an outer level.
        bool popSs = rpl > cpl || s.Is64;
        ulong newSp = 0;
        ushort ssSel = 0;
        ulong sd = 0, sdAddr = 0;
        bool ssNull = false;
        if (popSs)
        {
            if (!cpu.PeekStack((ulong)(3 * size), size, out newSp) || !cpu.PeekStack((ulong)(4 * size), size, out ulong ssv))
            {
                return;
            }
            ssSel = (ushort)ssv;
            if (!CheckReturnSs(cpu, ssSel, cd, rpl, out sd, out sdAddr, out ssNull))
            {
                return;
            }
        }
        if (!CheckTargetOffset(cpu, cd, rip) || !cpu.SetAccessed(cdAddr, ref cd)
            || (popSs && !ssNull && !cpu.SetAccessed(sdAddr, ref sd)))
        {
            return;
        }
        ulong rsp = s.Gpr[4];
        cpu.LoadCs(csSel, cd, rpl);
        IretFlags(ref s, flags, size, cpl);
        if (popSs)
        {
            if (ssNull)
            {
                cpu.LoadNullSs64(rpl);
                s.Seg[(int)SegReg.Ss].Selector = ssSel;
            }
            else
            {
                s.Seg[(int)SegReg.Ss].LoadDescriptor(ssSel, sd);
            }
            SetStackPointer(cpu, MaskToSize(newSp, size));
        }
        else
        {
            ulong mask = cpu.StackMask;
            s.Gpr[4] = (rsp & ~mask) | ((rsp + (ulong)(3 * size)) & mask);
        }
        if (rpl > cpl)
        {
            cpu.InvalidateDataSegmentsForCpl(rpl);
        }
        cpu.NextRip = rip;
    }

    /// <summary>Real-address mode IRET, and virtual-8086 mode with IOPL = 3 (IOPL then unchanged).</summary>
    private static void IretReal(Vcpu cpu, int size)
    {
        ref CpuState s = ref cpu.State;
        if (!cpu.PeekStack(0, size, out ulong rip) || !cpu.PeekStack((ulong)size, size, out ulong csv)
            || !cpu.PeekStack((ulong)(2 * size), size, out ulong image))
        {
            return;
        }
        rip = MaskToSize(rip, size);
        if (rip > s.Seg[(int)SegReg.Cs].Limit)
        {
            cpu.RaiseGp();
            return;
        }
        ulong old = s.GetRflags();
        ulong flags = size == 2 ? (old & ~0xFFFFUL) | (image & 0xFFFF) : (image & 0x25_7FD5) | (old & 0x1A_0000);
        if (s.V86)
        {
            flags = (flags & ~CpuState.FlagIopl) | (old & CpuState.FlagIopl);
        }
        LoadRealCs(cpu, (ushort)csv);
        s.SetRflags(flags);
        ulong rsp = s.Gpr[4];
        ulong mask = cpu.StackMask;
        s.Gpr[4] = (rsp & ~mask) | ((rsp + (ulong)(3 * size)) & mask);
        cpu.NextRip = rip;
    }

    /// <summary>IRET to virtual-8086 mode (SDM Vol. 2A "IRET", RETURN-TO-VIRTUAL-8086-MODE): CPL 0, 32-bit frame.</summary>
    private static void IretToV86(Vcpu cpu, ulong rip, ushort csSel, ulong flags)
    {
        ref CpuState s = ref cpu.State;
        Span<ulong> v = stackalloc ulong[6];
        for (int n = 0; n < 6; n++)
        {
            if (!cpu.PeekStack((ulong)(12 + 4 * n), 4, out v[n]))
            {
                return;
            }
        }
        s.SetRflags(flags);
        cpu.LoadV86Segment((int)SegReg.Cs, csSel);
        cpu.LoadV86Segment((int)SegReg.Ss, (ushort)v[1]);
        cpu.LoadV86Segment((int)SegReg.Es, (ushort)v[2]);
        cpu.LoadV86Segment((int)SegReg.Ds, (ushort)v[3]);
        cpu.LoadV86Segment((int)SegReg.Fs, (ushort)v[4]);
        cpu.LoadV86Segment((int)SegReg.Gs, (ushort)v[5]);
        s.Gpr[4] = (uint)v[0];
        s.Cpl = 3;
        cpu.NextRip = rip & 0xFFFF;
        cpu.InvalidateFetch();
    }

    // ------------------------------------------------------------------ software interrupts

    /// <summary>INT n (SDM Vol. 2A "INT n/INTO/INT3/INT1"): IOPL-sensitive in virtual-8086 mode without VME.</summary>
    private static void Int_imm8(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (s.V86 && s.Iopl < 3)
        {
            cpu.RaiseGp();
            return;
        }
        cpu.DeliverEvent(i.Immediate8, EventKind.Software, false, 0);
    }

    private static void Int3(Vcpu cpu, in Instruction i) => cpu.DeliverEvent(Vectors.BP, EventKind.SoftwareException, false, 0);

    /// <summary>INTO: #OF when OF = 1; #UD in 64-bit mode.</summary>
    private static void Into(Vcpu cpu, in Instruction i)
    {
        if (cpu.State.Is64)
        {
            cpu.RaiseUd();
            return;
        }
        if (cpu.State.Of)
        {
            cpu.DeliverEvent(Vectors.OF, EventKind.SoftwareException, false, 0);
        }
    }

    /// <summary>INT1 (ICEBP): a #DB trap without the gate DPL check.</summary>
    private static void Int1(Vcpu cpu, in Instruction i) => cpu.DeliverEvent(Vectors.DB, EventKind.PrivilegedSoftware, false, 0);

    // ------------------------------------------------------------------ LAR LSL VERR VERW ARPL SWAPGS

    /// <summary>
    /// Reads the descriptor a LAR/LSL/VERR/VERW names, without faulting for a bad selector
    /// (SDM Vol. 3A §5.10.1 "Checking Access Rights (LAR Instruction)"). Returns false when the
    /// instruction must just clear ZF; <paramref name="faulted"/> tells a memory fault apart.
    /// </summary>
    private static bool ProbeDescriptor(Vcpu cpu, ushort sel, out ulong d, out bool faulted)
    {
        d = 0;
        faulted = false;
        if ((sel & 0xFFFC) == 0 || !cpu.DescriptorAddress(sel, 8, out ulong addr))
        {
            return false;
        }
        if (!cpu.ReadLinear(addr, 8, Access.Read | Access.Implicit, out d))
        {
            faulted = true;
            return false;
        }
        return true;
    }

    /// <summary>DPL ≥ CPL and DPL ≥ RPL, except for conforming code segments.</summary>
    private static bool VisibleAtCpl(Vcpu cpu, ushort sel, ulong d) =>
        Vcpu.DescIsConformingCode(d) || (Vcpu.DescDpl(d) >= cpu.State.Cpl && Vcpu.DescDpl(d) >= (sel & 3));

    private static void SetZf(Vcpu cpu, bool zf) => cpu.State.SetArith(CpuState.FlagZf, zf ? CpuState.FlagZf : 0);

    /// <summary>SDM Vol. 2A "LAR—Load Access Rights Byte".</summary>
    private static void Lar(Vcpu cpu, in Instruction i)
    {
        if (!RequireProtectedMode(cpu) || !cpu.ReadOp(in i, 1, 2, out ulong v))
        {
            return;
        }
        ushort sel = (ushort)v;
        if (!ProbeDescriptor(cpu, sel, out ulong d, out bool faulted))
        {
            if (!faulted)
            {
                SetZf(cpu, false);
            }
            return;
        }
        if (Vcpu.DescIsSystem(d))
        {
            int type = Vcpu.DescType(d);
            bool valid = cpu.State.LongModeActive
                ? type is Vcpu.TypeLdt or Vcpu.TypeTss32Avail or Vcpu.TypeTss32Busy or Vcpu.TypeCallGate32
                : type is 1 or 2 or 3 or 4 or 5 or 9 or 11 or 12;
            if (!valid)
            {
                SetZf(cpu, false);
                return;
            }
        }
        if (!VisibleAtCpl(cpu, sel, d))
        {
            SetZf(cpu, false);
            return;
        }
        int size = Vcpu.GprSize(i.Op0Register);
        ulong rights = (d >> 32) & (size == 2 ? 0xFF00UL : 0x00F0_FF00UL);
        cpu.WriteGpr(i.Op0Register, rights);
        SetZf(cpu, true);
    }

    /// <summary>SDM Vol. 2A "LSL—Load Segment Limit": the limit in bytes (scaled by G).</summary>
    private static void Lsl(Vcpu cpu, in Instruction i)
    {
        if (!RequireProtectedMode(cpu) || !cpu.ReadOp(in i, 1, 2, out ulong v))
        {
            return;
        }
        ushort sel = (ushort)v;
        if (!ProbeDescriptor(cpu, sel, out ulong d, out bool faulted))
        {
            if (!faulted)
            {
                SetZf(cpu, false);
            }
            return;
        }
        if (Vcpu.DescIsSystem(d))
        {
            int type = Vcpu.DescType(d);
            bool valid = cpu.State.LongModeActive
                ? type is Vcpu.TypeLdt or Vcpu.TypeTss32Avail or Vcpu.TypeTss32Busy
                : type is 1 or 2 or 3 or 9 or 11;
            if (!valid)
            {
                SetZf(cpu, false);
                return;
            }
        }
        if (!VisibleAtCpl(cpu, sel, d))
        {
            SetZf(cpu, false);
            return;
        }
        cpu.WriteGpr(i.Op0Register, Vcpu.DescLimit(d));
        SetZf(cpu, true);
    }

    /// <summary>SDM Vol. 2B "VERR/VERW—Verify a Segment for Reading or Writing".</summary>
    private static void Verify(Vcpu cpu, in Instruction i, bool write)
    {
        if (!RequireProtectedMode(cpu) || !cpu.ReadOp(in i, 0, 2, out ulong v))
        {
            return;
        }
        ushort sel = (ushort)v;
        if (!ProbeDescriptor(cpu, sel, out ulong d, out bool faulted))
        {
            if (!faulted)
            {
                SetZf(cpu, false);
            }
            return;
        }
        bool ok = write ? Vcpu.DescIsWritableData(d) : Vcpu.DescIsReadable(d);
        SetZf(cpu, ok && VisibleAtCpl(cpu, sel, d));
    }

    private static void Verr(Vcpu cpu, in Instruction i) => Verify(cpu, in i, write: false);

    private static void Verw(Vcpu cpu, in Instruction i) => Verify(cpu, in i, write: true);

    /// <summary>SDM Vol. 2A "ARPL—Adjust RPL Field of Segment Selector" (not valid in real or virtual-8086 mode).</summary>
    private static void Arpl(Vcpu cpu, in Instruction i)
    {
        if (!RequireProtectedMode(cpu) || !cpu.ReadRmw(in i, 2, out ulong dest))
        {
            return;
        }
        ulong src = cpu.ReadGpr(i.Op1Register);
        if ((dest & 3) >= (src & 3))
        {
            SetZf(cpu, false);
            return;
        }
        ulong updated = (dest & ~3UL) | (src & 3);
        if (i.Op0Kind == OpKind.Register)
        {
            // Only the 16-bit selector changes, whatever the register width.
            ref ulong g = ref cpu.State.Gpr[Vcpu.GprIndex(i.Op0Register)];
            g = (g & ~0xFFFFUL) | (updated & 0xFFFF);
        }
        else if (!cpu.WriteOp0(in i, 2, updated))
        {
            return;
        }
        SetZf(cpu, true);
    }

    /// <summary>SDM Vol. 2B "SWAPGS—Swap GS Base Register": 64-bit mode, CPL 0.</summary>
    private static void Swapgs(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (!s.Is64)
        {
            cpu.RaiseUd();
            return;
        }
        if (s.Cpl != 0)
        {
            cpu.RaiseGp();
            return;
        }
        (s.Seg[(int)SegReg.Gs].Base, s.KernelGsBase) = (s.KernelGsBase, s.Seg[(int)SegReg.Gs].Base);
    }
}
