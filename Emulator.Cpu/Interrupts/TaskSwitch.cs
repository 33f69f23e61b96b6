using Emulator.Cpu.Instructions;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Hardware task switching (SDM Vol. 3A §8.3 "Task Switching"): through a task gate in the IDT or GDT/LDT,
/// a far JMP/CALL to a TSS descriptor, or IRET with NT = 1. 16- and 32-bit TSSs; legacy protected mode only.
/// The new task's TSS is read completely before anything is written, so a fault before the commit point
/// changes nothing; faults while loading the new task's segments happen in the new task's context.
/// </summary>
public sealed partial class Vcpu
{
    internal enum TaskSwitchReason
    {
        Jmp,
        Call,
        Iret,
        Interrupt,
    }

    /// <summary>IDT task gate (SDM Vol. 2A "INT n" TASK-GATE): the TSS must be an available TSS in the GDT.</summary>
    private bool TaskSwitchThroughGate(ushort tssSel, uint ext, bool hasError, uint error, ulong returnRip)
    {
        if ((tssSel & 4) != 0)
        {
            return RaiseGp(SelErr(tssSel, ext));
        }
        if (!ReadDescriptor(tssSel, Vectors.GP, ext, out ulong d, out ulong addr))
        {
            return false;
        }
        int type = DescType(d);
        if (!DescIsSystem(d) || type is not (TypeTss16Avail or TypeTss32Avail))
        {
            return RaiseGp(SelErr(tssSel, ext));
        }
        return TaskSwitch(tssSel, d, addr, TaskSwitchReason.Interrupt, returnRip, hasError, error, ext);
    }

    /// <summary>Far JMP/CALL to a TSS descriptor or a task gate (SDM Vol. 3A §8.3 steps 1–2: DPL ≥ CPL and ≥ RPL).</summary>
    internal bool FarTransferTaskSwitch(ushort sel, ulong d, ulong addr, bool isCall)
    {
        int dpl = DescDpl(d);
        if (dpl < State.Cpl || dpl < (sel & 3))
        {
            return RaiseGp(SelErr(sel, 0));
        }
        if (!DescPresent(d))
        {
            return Raise(Vectors.NP, SelErr(sel, 0));
        }
        ushort tssSel = sel;
        if (DescType(d) == TypeTaskGate)
        {
            tssSel = GateSelector(d);
            if ((tssSel & 4) != 0)
            {
                return RaiseGp(SelErr(tssSel, 0));
            }
            if (!ReadDescriptor(tssSel, Vectors.GP, 0, out d, out addr))
            {
                return false;
            }
            if (!DescIsSystem(d) || DescType(d) is not (TypeTss16Avail or TypeTss32Avail))
            {
                return RaiseGp(SelErr(tssSel, 0));
            }
        }
        else if ((sel & 4) != 0)
        {
            return RaiseGp(SelErr(sel, 0));
        }
        return TaskSwitch(tssSel, d, addr, isCall ? TaskSwitchReason.Call : TaskSwitchReason.Jmp, NextRip, false, 0, 0);
    }

    /// <summary>IRET with NT = 1: return to the task named by the back link (a busy TSS in the GDT), else #TS.</summary>
    internal bool IretTaskReturn()
    {
        ref Segment tr = ref State.Seg[(int)SegReg.Tr];
        if (!ReadLinear((uint)tr.Base, 2, Access.Read | Access.Implicit, out ulong link))
        {
            return false;
        }
        ushort sel = (ushort)link;
        if ((sel & 4) != 0 || !DescriptorAddress(sel, 8, out _))
        {
            return Raise(Vectors.TS, SelErr(sel, 0));
        }
        if (!ReadDescriptor(sel, Vectors.TS, 0, out ulong d, out ulong addr))
        {
            return false;
        }
        if (!DescIsSystem(d) || DescType(d) is not (TypeTss16Busy or TypeTss32Busy))
        {
            return Raise(Vectors.TS, SelErr(sel, 0));
        }
        return TaskSwitch(sel, d, addr, TaskSwitchReason.Iret, NextRip, false, 0, 0);
    }

    /// <summary>The state a TSS holds, read before the switch commits.</summary>
    private struct TssImage
    {
        public ulong Cr3;
        public ulong Eip;
        public ulong Eflags;
        public GprFile Gpr;
        public SegmentSelectors Sel;
        public ushort Ldt;
        public bool Trap;
    }

    [System.Runtime.CompilerServices.InlineArray(6)]
    private struct SegmentSelectors
    {
        private ushort _element0;
    }

    private bool ReadTss(ulong tssBase, bool tss32, out TssImage img)
    {
        img = default;
        if (tss32)
        {
            if (!TssRead(tssBase, 0x1C, 4, out img.Cr3) || !TssRead(tssBase, 0x20, 4, out img.Eip)
                || !TssRead(tssBase, 0x24, 4, out img.Eflags))
            {
                return false;
            }
            for (int n = 0; n < 8; n++)
            {
                if (!TssRead(tssBase, 0x28u + 4u * (uint)n, 4, out img.Gpr[n]))
                {
                    return false;
                }
            }
            for (int n = 0; n < 6; n++)
            {
                if (!TssRead(tssBase, 0x48u + 4u * (uint)n, 2, out ulong v))
                {
                    return false;
                }
                img.Sel[n] = (ushort)v;
            }
            if (!TssRead(tssBase, 0x60, 2, out ulong ldt) || !TssRead(tssBase, 0x64, 2, out ulong t))
            {
                return false;
            }
            img.Ldt = (ushort)ldt;
            img.Trap = (t & 1) != 0;
            return true;
        }
        if (!TssRead(tssBase, 0x0E, 2, out img.Eip) || !TssRead(tssBase, 0x10, 2, out img.Eflags))
        {
            return false;
        }
        for (int n = 0; n < 8; n++)
        {
            if (!TssRead(tssBase, 0x12u + 2u * (uint)n, 2, out img.Gpr[n]))
            {
                return false;
            }
        }
        for (int n = 0; n < 4; n++)
        {
            if (!TssRead(tssBase, 0x22u + 2u * (uint)n, 2, out ulong v))
            {
                return false;
            }
            img.Sel[n] = (ushort)v;
        }
        if (!TssRead(tssBase, 0x2A, 2, out ulong ldt16))
        {
            return false;
        }
        img.Ldt = (ushort)ldt16;
        return true;
    }

    private bool TssRead(ulong tssBase, uint offset, int size, out ulong v) =>
        ReadLinear((uint)(tssBase + offset), size, Access.Read | Access.Implicit, out v);

    private bool TssWrite(ulong tssBase, uint offset, int size, ulong v) =>
        WriteLinear((uint)(tssBase + offset), size, v, Access.Write | Access.Implicit);

    /// <summary>Saves the outgoing task (SDM Vol. 3A §8.3 step 8): EIP, EFLAGS, general registers, selectors.</summary>
    private bool SaveTss(ulong tssBase, bool tss32, ulong eip, ulong eflags)
    {
        ref CpuState s = ref State;
        if (tss32)
        {
            if (!TssWrite(tssBase, 0x20, 4, eip) || !TssWrite(tssBase, 0x24, 4, eflags))
            {
                return false;
            }
            for (int n = 0; n < 8; n++)
            {
                if (!TssWrite(tssBase, 0x28u + 4u * (uint)n, 4, s.Gpr[n]))
                {
                    return false;
                }
            }
            for (int n = 0; n < 6; n++)
            {
                if (!TssWrite(tssBase, 0x48u + 4u * (uint)n, 2, s.Seg[n].Selector))
                {
                    return false;
                }
            }
            return true;
        }
        if (!TssWrite(tssBase, 0x0E, 2, eip) || !TssWrite(tssBase, 0x10, 2, eflags))
        {
            return false;
        }
        for (int n = 0; n < 8; n++)
        {
            if (!TssWrite(tssBase, 0x12u + 2u * (uint)n, 2, s.Gpr[n]))
            {
                return false;
            }
        }
        for (int n = 0; n < 4; n++)
        {
            if (!TssWrite(tssBase, 0x22u + 2u * (uint)n, 2, s.Seg[n].Selector))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>SDM Vol. 3A §8.3 "Task Switching", steps 3–14.</summary>
    internal bool TaskSwitch(ushort sel, ulong desc, ulong descAddr, TaskSwitchReason reason, ulong returnRip,
        bool hasError, uint error, uint ext)
    {
        ref CpuState s = ref State;
        int type = DescType(desc);
        bool new32 = (type & 8) != 0;
        if (!DescPresent(desc))
        {
            return Raise(Vectors.NP, SelErr(sel, ext));
        }
        if (DescLimit(desc) < (new32 ? 0x67u : 0x2Bu))
        {
            return Raise(Vectors.TS, SelErr(sel, ext));
        }
        ulong newBase = DescBase(desc);
        ref Segment oldTr = ref s.Seg[(int)SegReg.Tr];
        bool old32 = (oldTr.Type & 8) != 0;
        ulong oldBase = (uint)oldTr.Base;
        ushort oldSel = oldTr.Selector;
        if (!ReadTss(newBase, new32, out TssImage img))
        {
            return false;
        }
        // The outgoing TSS descriptor, for its busy bit.
        if (!ReadDescriptor(oldSel, Vectors.TS, ext, out ulong oldDesc, out ulong oldDescAddr))
        {
            return false;
        }

        ulong flags = s.GetRflags();
        if (reason == TaskSwitchReason.Iret)
        {
            flags &= ~CpuState.FlagNt;
        }
        if (!SaveTss(oldBase, old32, returnRip, flags))
        {
            return false;
        }
        if (reason is TaskSwitchReason.Jmp or TaskSwitchReason.Iret && !SetTssBusy(oldDescAddr, ref oldDesc, busy: false))
        {
            return false;
        }
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.Interrupt)
        {
            if (!TssWrite(newBase, 0, 2, oldSel))
            {
                return false;
            }
            img.Eflags |= CpuState.FlagNt;
        }
        if (reason != TaskSwitchReason.Iret)
        {
            if (descAddr == oldDescAddr)
            {
                desc = oldDesc;
            }
            if (!SetTssBusy(descAddr, ref desc, busy: true))
            {
                return false;
            }
        }

        // Commit point: the new task's state becomes current.
        s.Seg[(int)SegReg.Tr].LoadDescriptor(sel, desc);
        s.Cr0 |= CpuState.Cr0Ts;
        if (new32 && s.PagingEnabled)
        {
            if (!WriteCr3(img.Cr3))
            {
                return RaiseGp();
            }
        }
        for (int n = 0; n < 8; n++)
        {
            s.Gpr[n] = new32 ? (uint)img.Gpr[n] : (s.Gpr[n] & ~0xFFFFUL) | (ushort)img.Gpr[n];
        }
        ulong newFlags = new32 ? img.Eflags : (flags & ~0xFFFFUL) | (img.Eflags & 0xFFFF);
        s.SetRflags(newFlags);
        s.Rip = new32 ? (uint)img.Eip : (ushort)img.Eip;
        NextRip = s.Rip;
        for (int n = 0; n < 6; n++)
        {
            s.Seg[n].Selector = img.Sel[n];
        }
        // Local breakpoint enables belong to the old task (SDM Vol. 3B §18.2.4).
        if ((s.Dr[7] & 0x55) != 0)
        {
            s.Dr[7] &= ~0x55UL;
            UpdateBreakpoints();
        }
        InvalidateFetch();
        Notify();
        if (!LoadTaskSegments(in img))
        {
            return false;
        }
        if (img.Trap)
        {
            // The T flag: a debug trap before the new task's first instruction (DR6.BT).
            PendingDebugTrap |= Dr6Bt;
            Attention = 1;
        }
        if (hasError && !Push(error, new32 ? 4 : 2))
        {
            return false;
        }
        return true;
    }

    /// <summary>
    /// Loads LDTR and the segment registers of the new task (SDM Vol. 3A §8.3 step 13): invalid selectors are
    /// #TS(selector), absent segments #NP (#SS for SS).
    /// </summary>
    private bool LoadTaskSegments(in TssImage img)
    {
        ref CpuState s = ref State;
        ref Segment ldtr = ref s.Seg[(int)SegReg.Ldtr];
        ushort ldt = img.Ldt;
        if ((ldt & 0xFFFC) == 0)
        {
            ldtr.Selector = ldt;
            ldtr.Attr = Segment.AttrUnusable;
        }
        else
        {
            if ((ldt & 4) != 0 || !DescriptorAddress(ldt, 8, out ulong la))
            {
                return Raise(Vectors.TS, SelErr(ldt, 0));
            }
            if (!ReadLinear(la, 8, Access.Read | Access.Implicit, out ulong ld))
            {
                return false;
            }
            if (!DescIsSystem(ld) || DescType(ld) != TypeLdt || !DescPresent(ld))
            {
                return Raise(Vectors.TS, SelErr(ldt, 0));
            }
            ldtr.LoadDescriptor(ldt, ld);
        }

        if (s.V86)
        {
            for (int n = 0; n < 6; n++)
            {
                LoadV86Segment(n, img.Sel[n]);
            }
            s.Cpl = 3;
            return true;
        }

        // CS first: it sets the CPL the other checks use.
        ushort cs = img.Sel[(int)SegReg.Cs];
        if ((cs & 0xFFFC) == 0 || !DescriptorAddress(cs, 8, out ulong ca))
        {
            return Raise(Vectors.TS, SelErr(cs, 0));
        }
        if (!ReadLinear(ca, 8, Access.Read | Access.Implicit, out ulong cd))
        {
            return false;
        }
        int rpl = cs & 3;
        if (!DescIsCode(cd) || (DescIsConformingCode(cd) ? DescDpl(cd) > rpl : DescDpl(cd) != rpl))
        {
            return Raise(Vectors.TS, SelErr(cs, 0));
        }
        if (!DescPresent(cd))
        {
            return Raise(Vectors.NP, SelErr(cs, 0));
        }
        if (!SetAccessed(ca, ref cd))
        {
            return false;
        }
        LoadCs(cs, cd, rpl);
        s.Seg[(int)SegReg.Cs].Selector = cs;

        ReadOnlySpan<int> order = [(int)SegReg.Ss, (int)SegReg.Ds, (int)SegReg.Es, (int)SegReg.Fs, (int)SegReg.Gs];
        foreach (int seg in order)
        {
            ushort v = img.Sel[seg];
            if (seg == (int)SegReg.Ss && (v & 0xFFFC) == 0)
            {
                return Raise(Vectors.TS, SelErr(v, 0));
            }
            if (!Handlers.LoadSegmentRegister(this, seg, v))
            {
                // Invalid selectors of a task switch are #TS, not #GP.
                if (FaultVector == Vectors.GP)
                {
                    FaultVector = Vectors.TS;
                    FaultError = SelErr(v, 0);
                }
                return false;
            }
        }
        return true;
    }
}
