using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Delivery of exceptions and interrupts: through the IVT in real mode, through the IDT in protected mode
/// (interrupt, trap and task gates, 16- and 32-bit, with the inner stack from the TSS) and in IA-32e mode
/// (16-byte gates, IST, 16-byte stack alignment), with the double-fault and triple-fault rules of
/// SDM Vol. 3A §6.15 "Interrupt 8—Double Fault Exception".
/// </summary>
public sealed partial class Vcpu
{
    /// <summary>Vector of the last event raised (the original one, before any escalation), or -1.</summary>
    internal int LastEventVector = -1;

    /// <summary>Error code of <see cref="LastEventVector"/> (0 when it has none).</summary>
    internal uint LastEventError;

    /// <summary>Vector whose handler was actually entered last (after #DF escalation), or -1.</summary>
    internal int LastDeliveredVector = -1;

    /// <summary>Exception classes of SDM Vol. 3A §6.15 table "Interrupt and Exception Classes".</summary>
    private enum FaultClass
    {
        Benign,
        Contributory,
        PageFault,
        DoubleFault,
    }

    private static FaultClass ClassOf(int vector, EventKind kind)
    {
        if (kind != EventKind.Exception)
        {
            return FaultClass.Benign;
        }
        return vector switch
        {
            Vectors.DE or Vectors.TS or Vectors.NP or Vectors.SS or Vectors.GP => FaultClass.Contributory,
            // #VE is in the page-fault class (SDM Vol. 3A §6.15 table "Conditions for Generating a Double Fault").
            Vectors.PF or Vectors.VE => FaultClass.PageFault,
            Vectors.DF => FaultClass.DoubleFault,
            _ => FaultClass.Benign,
        };
    }

    /// <summary>Error codes in selector format, which carry the EXT bit.</summary>
    private static bool HasSelectorError(int vector) =>
        vector is Vectors.TS or Vectors.NP or Vectors.SS or Vectors.GP;

    /// <summary>
    /// Delivers an event. Faults (kind <see cref="EventKind.Exception"/>) and external events return to
    /// <c>State.Rip</c> (the faulting or interrupted instruction); software interrupts return to
    /// <c>NextRip</c>. A fault during delivery is escalated per SDM Vol. 3A §6.15; a fault while delivering
    /// #DF shuts the processor down (triple fault) and stops the run.
    /// </summary>
    internal void DeliverEvent(int vector, EventKind kind, bool hasError, uint error)
    {
        LastEventVector = vector;
        LastEventError = hasError ? error : 0;
        FaultPending = false;
        Halted = false;
        CancelDebugTraps();
        if (Vmx is { } vmx && kind is EventKind.Exception or EventKind.SoftwareException or EventKind.PrivilegedSoftware
            && ExceptionExits(vmx, vector, kind, hasError, error))
        {
            return;
        }

        bool software = kind is EventKind.Software or EventKind.SoftwareException or EventKind.PrivilegedSoftware;
        ulong returnRip = software ? NextRip : State.Rip;
        int current = vector;
        EventKind currentKind = kind;
        bool currentHasError = hasError;
        uint currentError = error;
        for (int attempt = 0; attempt < 8; attempt++)
        {
            // SDM Vol. 3A §6.13 "Error Code": EXT is clear only for faults while delivering INT n, INT3 or INTO.
            uint ext = currentKind is EventKind.Software or EventKind.SoftwareException ? 0u : 1u;
            // SDM Vol. 3B §18.3.1.1 "Instruction-Breakpoint Exception Condition": RF is pushed as 1 for
            // fault-class exceptions other than #DB.
            bool pushRf = currentKind == EventKind.Exception && current != Vectors.DB;
            if (TryDeliver(current, currentKind, currentHasError, currentError, returnRip, ext, pushRf))
            {
                // The frame pushes are part of the delivery, not of an instruction: data-breakpoint hits in
                // them are not reported (a task switch's T trap stays).
                PendingDebugTrap &= Dr6Bt;
                LastDeliveredVector = current;
                Notify();
                return;
            }

            // A fault while delivering: the memory helper or a check raised it as a value.
            FaultPending = false;
            int deliveringVector = current;
            EventKind deliveringKind = currentKind;
            bool deliveringHasError = currentHasError;
            uint deliveringError = currentError;
            int second = FaultVector;
            bool secondHasError = FaultHasError;
            uint secondError = FaultError;
            if (HasSelectorError(second))
            {
                secondError |= ext;
            }
            FaultClass first = ClassOf(current, currentKind);
            if (first == FaultClass.DoubleFault)
            {
                TripleFault(vector, error, current, second, secondError);
                return;
            }
            FaultClass next = ClassOf(second, EventKind.Exception);
            if ((first == FaultClass.Contributory && next == FaultClass.Contributory)
                || (first == FaultClass.PageFault && next != FaultClass.Benign))
            {
                current = Vectors.DF;
                currentHasError = true;
                currentError = 0;
            }
            else
            {
                current = second;
                currentHasError = secondHasError;
                currentError = secondError;
            }
            currentKind = EventKind.Exception;
            // A fault while delivering points at the instruction that caused the event (INT n included).
            returnRip = State.Rip;
            if (Vmx is { } nested
                && VectoringExceptionExits(nested, deliveringVector, deliveringKind, deliveringHasError, deliveringError,
                    current, currentHasError, currentError))
            {
                return;
            }
        }
        TripleFault(vector, error, current, current, currentError);
    }

    /// <summary>
    /// The seam's question before delivering an exception: does it exit to L1 (exception bitmap)? A #PF that exits
    /// leaves CR2 as it was; the faulting address becomes the exit qualification.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ExceptionExits(IVirtualizationExtension vmx, int vector, EventKind kind, bool hasError, uint error)
    {
        ExceptionSource source = kind switch
        {
            EventKind.SoftwareException => ExceptionSource.Software,
            EventKind.PrivilegedSoftware => ExceptionSource.PrivilegedSoftware,
            _ => ExceptionSource.Hardware,
        };
        ulong qualification = vector == Vectors.PF && kind == EventKind.Exception ? State.Cr2 : 0;
        if (!vmx.InterceptException(this, vector, source, hasError, error, qualification))
        {
            return false;
        }

        if (vector == Vectors.PF && kind == EventKind.Exception)
        {
            State.Cr2 = Cr2BeforePageFault;
        }

        return true;
    }

    /// <summary>
    /// The event whose delivery through the IDT raised the exception being offered to the extension (for its
    /// IDT-vectoring information, SDM Vol. 3C §28.2.4 "Information for VM Exits That Occur During Event Delivery"):
    /// vector, or -1 outside such an offer.
    /// </summary>
    internal int VectoringVector = -1;
    internal EventKind VectoringKind;
    internal bool VectoringHasError;
    internal uint VectoringError;

    /// <summary>
    /// The seam's question for an exception raised while delivering another event (after any #DF escalation):
    /// does it exit to L1, with the event being delivered as the IDT-vectoring information?
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool VectoringExceptionExits(IVirtualizationExtension vmx, int delivering, EventKind deliveringKind, bool deliveringHasError,
        uint deliveringError, int vector, bool hasError, uint error)
    {
        VectoringVector = delivering;
        VectoringKind = deliveringKind;
        VectoringHasError = deliveringHasError;
        VectoringError = deliveringError;
        try
        {
            return ExceptionExits(vmx, vector, EventKind.Exception, hasError, error);
        }
        finally
        {
            VectoringVector = -1;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TripleFault(int original, uint originalError, int delivering, int fault, uint faultError)
    {
        if (Vmx is { } vmx && vmx.InterceptTripleFault(this))
        {
            return;
        }

        RequestStop(StopReason.TripleFault,
            $"triple fault: exception {fault} (error 0x{faultError:X}) while delivering vector {delivering}; "
            + $"original event vector {original} (error 0x{originalError:X}) at RIP 0x{State.Rip:X} "
            + $"CS 0x{State.Seg[(int)SegReg.Cs].Selector:X} CR0 0x{State.Cr0:X} IDTR 0x{State.Idtr.Base:X}/0x{State.Idtr.Limit:X}");
    }

    private bool TryDeliver(int vector, EventKind kind, bool hasError, uint error, ulong returnRip, uint ext, bool pushRf)
    {
        if (!State.ProtectedMode)
        {
            return DeliverReal(vector, returnRip);
        }
        if (State.LongModeActive)
        {
            return DeliverLong(vector, kind, hasError, error, returnRip, ext, pushRf);
        }
        return DeliverProtected(vector, kind, hasError, error, returnRip, ext, pushRf);
    }

    /// <summary>Everything a failed delivery must put back.</summary>
    private struct DeliverySnapshot
    {
        public Segment Cs;
        public Segment Ss;
        public ulong Rsp;
        public int Cpl;
        public ulong Rflags;
    }

    private DeliverySnapshot TakeSnapshot() => new()
    {
        Cs = State.Seg[(int)SegReg.Cs],
        Ss = State.Seg[(int)SegReg.Ss],
        Rsp = State.Gpr[4],
        Cpl = State.Cpl,
        Rflags = State.GetRflags(),
    };

    private void Restore(in DeliverySnapshot snap)
    {
        State.Seg[(int)SegReg.Cs] = snap.Cs;
        State.Seg[(int)SegReg.Ss] = snap.Ss;
        State.Gpr[4] = snap.Rsp;
        State.Cpl = snap.Cpl;
        State.SetRflags(snap.Rflags);
        InvalidateFetch();
    }

    /// <summary>Real-address mode: SDM Vol. 3A §21.1.4 "Interrupt and Exception Handling" (IVT of 4-byte vectors).</summary>
    private bool DeliverReal(int vector, ulong returnRip)
    {
        ref CpuState s = ref State;
        ulong entry = (ulong)vector * 4;
        if (entry + 3 > s.Idtr.Limit)
        {
            return RaiseGp();
        }
        if (!ReadLinear((uint)(s.Idtr.Base + entry), 4, Access.Read | Access.Implicit, out ulong ivt))
        {
            return false;
        }
        ulong flags = s.GetRflags();
        ulong rsp = s.Gpr[4];
        if (!Push(flags & 0xFFFF, 2) || !Push(s.Seg[(int)SegReg.Cs].Selector, 2) || !Push(returnRip & 0xFFFF, 2))
        {
            s.Gpr[4] = rsp;
            return false;
        }
        // SDM Vol. 2A "INT n/INTO/INT3/INT1" (real-address mode): IF, TF and AC are cleared.
        s.SetRflags(flags & ~(CpuState.FlagIf | CpuState.FlagTf | CpuState.FlagAc | CpuState.FlagRf));
        s.Seg[(int)SegReg.Cs].LoadReal((ushort)(ivt >> 16));
        s.Rip = ivt & 0xFFFF;
        NextRip = s.Rip;
        InvalidateFetch();
        return true;
    }

    /// <summary>
    /// Reads SS:ESP for privilege level <paramref name="dpl"/> from the current 16- or 32-bit TSS
    /// (SDM Vol. 3A §8.2.1 "Task-State Segment (TSS)", §8.6 "16-Bit Task-State Segment").
    /// </summary>
    internal bool ReadTssStack(int dpl, uint ext, out ushort ss, out ulong sp)
    {
        ref Segment tr = ref State.Seg[(int)SegReg.Tr];
        ss = 0;
        sp = 0;
        bool tss32 = (tr.Type & 8) != 0;
        uint offset = tss32 ? 4u + 8u * (uint)dpl : 2u + 4u * (uint)dpl;
        uint last = tss32 ? offset + 5 : offset + 3;
        if ((tr.Attr & Segment.AttrUnusable) != 0 || last > tr.Limit)
        {
            return Raise(Vectors.TS, SelErr(tr.Selector, ext));
        }
        ulong lin = (uint)(tr.Base + offset);
        int spSize = tss32 ? 4 : 2;
        if (!ReadLinear(lin, spSize, Access.Read | Access.Implicit, out sp)
            || !ReadLinear((uint)(lin + (ulong)spSize), 2, Access.Read | Access.Implicit, out ulong ssv))
        {
            return false;
        }
        ss = (ushort)ssv;
        return true;
    }

    /// <summary>
    /// Loads and checks the inner stack segment for a privilege change (SDM Vol. 2A "INT n/INTO/INT3/INT1"
    /// INTER-PRIVILEGE-LEVEL-INTERRUPT; "CALL" call gates): #TS for a bad selector, #SS when not present.
    /// </summary>
    internal bool CheckInnerStack(ushort ssSel, int dpl, uint ext, out ulong desc, out ulong addr)
    {
        desc = 0;
        addr = 0;
        if ((ssSel & 0xFFFC) == 0)
        {
            return Raise(Vectors.TS, ext);
        }
        if (!ReadDescriptor(ssSel, Vectors.TS, ext, out desc, out addr))
        {
            return false;
        }
        if ((ssSel & 3) != dpl || DescDpl(desc) != dpl || !DescIsWritableData(desc))
        {
            return Raise(Vectors.TS, SelErr(ssSel, ext));
        }
        if (!DescPresent(desc))
        {
            return Raise(Vectors.SS, SelErr(ssSel, ext));
        }
        return true;
    }

    /// <summary>
    /// Protected mode: SDM Vol. 3A §6.12.1 "Exception- or Interrupt-Handler Procedures" and Vol. 2A
    /// "INT n/INTO/INT3/INT1" (PROTECTED-MODE, INTER- and INTRA-PRIVILEGE-LEVEL-INTERRUPT, and
    /// INTERRUPT-FROM-VIRTUAL-8086-MODE).
    /// </summary>
    private bool DeliverProtected(int vector, EventKind kind, bool hasError, uint error, ulong returnRip, uint ext, bool pushRf)
    {
        ref CpuState s = ref State;
        uint idtErr = ((uint)vector << 3) | 2 | ext;
        if ((ulong)vector * 8 + 7 > s.Idtr.Limit)
        {
            return RaiseGp(idtErr);
        }
        if (!ReadLinear((uint)(s.Idtr.Base + (ulong)vector * 8), 8, Access.Read | Access.Implicit, out ulong gate))
        {
            return false;
        }
        int type = DescType(gate);
        if (!DescIsSystem(gate)
            || type is not (TypeTaskGate or TypeIntGate16 or TypeTrapGate16 or TypeIntGate32 or TypeTrapGate32))
        {
            return RaiseGp(idtErr);
        }
        // The gate DPL is checked only for INT n, INT3 and INTO (not INT1, not hardware events).
        if (kind is EventKind.Software or EventKind.SoftwareException && DescDpl(gate) < s.Cpl)
        {
            return RaiseGp(idtErr);
        }
        if (!DescPresent(gate))
        {
            return Raise(Vectors.NP, idtErr);
        }
        if (type == TypeTaskGate)
        {
            return TaskSwitchThroughGate(GateSelector(gate), ext, hasError, error, returnRip);
        }

        bool gate32 = type >= 8;
        bool interruptGate = type is TypeIntGate16 or TypeIntGate32;
        ushort csSel = GateSelector(gate);
        if ((csSel & 0xFFFC) == 0)
        {
            return RaiseGp(ext);
        }
        if (!ReadDescriptor(csSel, Vectors.GP, ext, out ulong cd, out ulong cdAddr))
        {
            return false;
        }
        if (!DescIsCode(cd) || DescDpl(cd) > s.Cpl)
        {
            return RaiseGp(SelErr(csSel, ext));
        }
        if (!DescPresent(cd))
        {
            return Raise(Vectors.NP, SelErr(csSel, ext));
        }
        int dpl = DescDpl(cd);
        bool inner = !DescIsConformingCode(cd) && dpl < s.Cpl;
        bool v86 = s.V86;
        if (v86 && (!inner || dpl != 0))
        {
            return RaiseGp(SelErr(csSel, ext));
        }
        ulong target = gate32 ? GateOffset(gate) : gate & 0xFFFF;
        if (target > DescLimit(cd))
        {
            return RaiseGp(ext);
        }

        int size = gate32 ? 4 : 2;
        ulong flags = s.GetRflags() | (pushRf ? CpuState.FlagRf : 0);
        DeliverySnapshot snap = TakeSnapshot();
        if (inner)
        {
            if (!ReadTssStack(dpl, ext, out ushort ssSel, out ulong sp)
                || !CheckInnerStack(ssSel, dpl, ext, out ulong sd, out ulong sdAddr)
                || !SetAccessed(sdAddr, ref sd)
                || !SetAccessed(cdAddr, ref cd))
            {
                return false;
            }
            // The frame is written at the new privilege level on the new stack.
            s.Seg[(int)SegReg.Ss].LoadDescriptor(ssSel, sd);
            // Leaving virtual-8086 mode: the ring-0 frame is written with protected-mode stack rules.
            s.Rflags &= ~CpuState.FlagVm;
            s.Gpr[4] = (sd & DescDb) != 0 ? sp : (snap.Rsp & ~0xFFFFUL) | (sp & 0xFFFF);
            LoadCs(csSel, cd, dpl);
            bool ok = true;
            if (v86)
            {
                ok = Push(s.Seg[(int)SegReg.Gs].Selector, size) && Push(s.Seg[(int)SegReg.Fs].Selector, size)
                    && Push(s.Seg[(int)SegReg.Ds].Selector, size) && Push(s.Seg[(int)SegReg.Es].Selector, size);
            }
            ok = ok && Push(snap.Ss.Selector, size) && Push(snap.Rsp, size);
            if (!ok || !PushFrame(flags, snap.Cs.Selector, returnRip, hasError, error, size))
            {
                Restore(in snap);
                return false;
            }
            if (v86)
            {
                LoadNullSegment((int)SegReg.Gs, 0);
                LoadNullSegment((int)SegReg.Fs, 0);
                LoadNullSegment((int)SegReg.Ds, 0);
                LoadNullSegment((int)SegReg.Es, 0);
            }
        }
        else
        {
            if (!SetAccessed(cdAddr, ref cd))
            {
                return false;
            }
            if (!PushFrame(flags, snap.Cs.Selector, returnRip, hasError, error, size))
            {
                Restore(in snap);
                return false;
            }
            // A conforming segment keeps the CPL.
            LoadCs(csSel, cd, s.Cpl);
        }
        EnterHandler(flags, interruptGate, target);
        return true;
    }

    /// <summary>Pushes EFLAGS, CS, EIP and the error code.</summary>
    private bool PushFrame(ulong flags, ushort cs, ulong rip, bool hasError, uint error, int size) =>
        Push(flags, size) && Push(cs, size) && Push(rip, size) && (!hasError || Push(error, size));

    /// <summary>Flag changes on entry to a handler: TF, NT, RF, VM cleared; IF too for interrupt gates.</summary>
    private void EnterHandler(ulong flags, bool interruptGate, ulong target)
    {
        ref CpuState s = ref State;
        ulong nf = flags & ~(CpuState.FlagTf | CpuState.FlagNt | CpuState.FlagRf | CpuState.FlagVm);
        if (interruptGate)
        {
            nf &= ~CpuState.FlagIf;
        }
        s.SetRflags(nf);
        s.Rip = target;
        NextRip = target;
        InvalidateFetch();
    }

    /// <summary>
    /// IA-32e mode: SDM Vol. 3A §6.14 "Exception and Interrupt Handling in 64-bit Mode" — 16-byte gates,
    /// 64-bit target code only, stack aligned to 16, SS:RSP always pushed, IST (§6.14.5 "Interrupt Stack Table"),
    /// null SS with RPL = new CPL on a privilege change (§6.14.4 "Stack Switching in IA-32e Mode").
    /// </summary>
    private bool DeliverLong(int vector, EventKind kind, bool hasError, uint error, ulong returnRip, uint ext, bool pushRf)
    {
        ref CpuState s = ref State;
        uint idtErr = ((uint)vector << 3) | 2 | ext;
        ulong entry = (ulong)vector * 16;
        if (entry + 15 > s.Idtr.Limit)
        {
            return RaiseGp(idtErr);
        }
        if (!ReadLinear(s.Idtr.Base + entry, 8, Access.Read | Access.Implicit, out ulong lo)
            || !ReadLinear(s.Idtr.Base + entry + 8, 8, Access.Read | Access.Implicit, out ulong hi))
        {
            return false;
        }
        int type = DescType(lo);
        if (!DescIsSystem(lo) || type is not (TypeIntGate32 or TypeTrapGate32))
        {
            return RaiseGp(idtErr);
        }
        if (kind is EventKind.Software or EventKind.SoftwareException && DescDpl(lo) < s.Cpl)
        {
            return RaiseGp(idtErr);
        }
        if (!DescPresent(lo))
        {
            return Raise(Vectors.NP, idtErr);
        }
        ushort csSel = GateSelector(lo);
        if ((csSel & 0xFFFC) == 0)
        {
            return RaiseGp(ext);
        }
        if (!ReadDescriptor(csSel, Vectors.GP, ext, out ulong cd, out ulong cdAddr))
        {
            return false;
        }
        if (!DescIsCode(cd) || DescDpl(cd) > s.Cpl || (cd & (DescL | DescDb)) != DescL)
        {
            return RaiseGp(SelErr(csSel, ext));
        }
        if (!DescPresent(cd))
        {
            return Raise(Vectors.NP, SelErr(csSel, ext));
        }
        ulong target = GateOffset(lo) | (hi << 32);
        if (!IsCanonical(target))
        {
            return RaiseGp(ext);
        }
        int dpl = DescDpl(cd);
        bool inner = !DescIsConformingCode(cd) && dpl < s.Cpl;
        int ist = (int)(lo >> 32) & 7;
        ulong rsp = s.Gpr[4];
        if (inner || ist != 0)
        {
            uint offset = ist != 0 ? 0x24u + 8u * (uint)(ist - 1) : 4u + 8u * (uint)dpl;
            if (!ReadTss64(offset, ext, out rsp))
            {
                return false;
            }
        }
        if (!SetAccessed(cdAddr, ref cd))
        {
            return false;
        }
        ulong flags = s.GetRflags() | (pushRf ? CpuState.FlagRf : 0);
        DeliverySnapshot snap = TakeSnapshot();
        int newCpl = inner ? dpl : s.Cpl;
        LoadCs(csSel, cd, newCpl);
        if (inner)
        {
            LoadNullSs64(newCpl);
        }
        s.Gpr[4] = rsp & ~0xFUL;
        if (!Push(snap.Ss.Selector, 8) || !Push(snap.Rsp, 8) || !PushFrame(flags, snap.Cs.Selector, returnRip, hasError, error, 8))
        {
            Restore(in snap);
            return false;
        }
        EnterHandler(flags, type == TypeIntGate32, target);
        return true;
    }

    /// <summary>Reads a stack pointer from the 64-bit TSS (SDM Vol. 3A §8.7 "Task Management in 64-bit Mode").</summary>
    internal bool ReadTss64(uint offset, uint ext, out ulong value)
    {
        ref Segment tr = ref State.Seg[(int)SegReg.Tr];
        if ((tr.Attr & Segment.AttrUnusable) != 0 || offset + 7 > tr.Limit)
        {
            value = 0;
            return Raise(Vectors.TS, SelErr(tr.Selector, ext));
        }
        return ReadLinear(tr.Base + offset, 8, Access.Read | Access.Implicit, out value);
    }
}
