using System.Runtime.CompilerServices;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Debug exceptions (SDM Vol. 3B §18.3 "Debug Exceptions"): single-step traps (TF, and DEBUGCTL.BTF
/// branch stepping), instruction breakpoints (faults, suppressed by RF), data and I/O breakpoints (traps)
/// and the task-switch T trap. The interpreter loop reaches this file only through <see cref="Attention"/>:
/// nothing here costs anything while TF, RF and DR7 are clear.
/// </summary>
public sealed partial class Vcpu
{
    // DR6 (SDM Vol. 3B §18.2.3 "Debug Status Register (DR6)").
    internal const ulong Dr6Bd = 1 << 13;
    internal const ulong Dr6Bs = 1 << 14;
    internal const ulong Dr6Bt = 1 << 15;

    /// <summary>Bits of DR6 that always read as 1 (4–11, 16–31: no RTM) on this model.</summary>
    internal const ulong Dr6Fixed1 = 0xFFFF_0FF0;

    /// <summary>DR6 bits software can write: B0–B3, BD, BS, BT.</summary>
    internal const ulong Dr6Writable = 0xE00F;

    // DR7 (SDM Vol. 3B §18.2.4 "Debug Control Register (DR7)").
    internal const ulong Dr7Gd = 1 << 13;

    /// <summary>Bit 10 reads as 1; bits 11, 12, 14, 15 as 0.</summary>
    internal const ulong Dr7Fixed1 = 0x400;
    internal const ulong Dr7Writable = 0xFFFF_23FF;

    /// <summary>The instruction now executing started with TF = 1: a single-step trap follows it.</summary>
    private bool _stepArmed;
    private long _stepArmCount;
    private ulong _stepArmRip;

    /// <summary>The instruction whose breakpoint check RF suppressed, until it retires.</summary>
    private ulong _rfSkipRip;
    private long _rfSkipCount = -1;

    /// <summary>InstructionCount of the last MOV SS / POP SS: debug traps after it wait for one more instruction.</summary>
    private long _movSsCount = -2;

    /// <summary>Traps deferred by MOV SS stay pending until an instruction retires after this count.</summary>
    private long _debugDeferCount = -1;

    /// <summary>Called by MOV SS and POP SS (SDM Vol. 3A §7.8.3 "Masking Exceptions and Interrupts When Switching Stacks").</summary>
    internal void NoteMovSs() => _movSsCount = InstructionCount;

    /// <summary>DR6 bits (B0–B3, BT) of trap-class debug conditions the current instruction met.</summary>
    internal ulong PendingDebugTrap;

    /// <summary>DR7 enables an instruction breakpoint (R/W = 00).</summary>
    internal bool ExecBreakpoints;

    /// <summary>DR7 enables a data breakpoint (R/W = 01 or 11); memory on those pages takes a slow, checked path.</summary>
    internal bool DataBreakpoints;

    /// <summary>DR7 enables an I/O breakpoint (R/W = 10 with CR4.DE = 1).</summary>
    internal bool IoBreakpoints;

    /// <summary>Something for the loop to do after the instruction that just ran.</summary>
    internal bool DebugTrapPending => _stepArmed || PendingDebugTrap != 0;

    /// <summary>Something for the loop to check before the next instruction.</summary>
    internal bool DebugWatch => (State.Rflags & (CpuState.FlagTf | CpuState.FlagRf)) != 0 || ExecBreakpoints;

    /// <summary>Any event delivery ends the instruction: its pending debug traps go with it.</summary>
    internal void CancelDebugTraps()
    {
        _stepArmed = false;
        PendingDebugTrap = 0;
    }

    /// <summary>Recomputes the breakpoint summaries after DR7, DR0–DR3 or CR4.DE changed.</summary>
    internal void UpdateBreakpoints()
    {
        ulong dr7 = State.Dr[7];
        bool exec = false, data = false, io = false;
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (n * 2)) & 3) == 0)
            {
                continue;
            }
            switch ((dr7 >> (16 + n * 4)) & 3)
            {
                case 0: exec = true; break;
                case 2: io |= (State.Cr4 & CpuState.Cr4De) != 0; break;
                default: data = true; break;
            }
        }
        ExecBreakpoints = exec;
        IoBreakpoints = io;
        // Pages holding a data breakpoint are kept out of the TLB's host-pointer fast path.
        DataBreakpoints = data;
        FlushTlbAll();
        InvalidateFetch();
        Notify();
    }

    /// <summary>DR0–DR3 matching an access of <paramref name="size"/> bytes at <paramref name="address"/>.</summary>
    /// <param name="kind">0 execute, 1 write, 2 I/O, 3 read (matches R/W = 11 only).</param>
    private ulong MatchBreakpoints(ulong address, int size, int kind)
    {
        ulong dr7 = State.Dr[7];
        ulong hits = 0;
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (n * 2)) & 3) == 0)
            {
                continue;
            }
            int rw = (int)(dr7 >> (16 + n * 4)) & 3;
            bool kindMatches = kind switch
            {
                0 => rw == 0,
                1 => rw is 1 or 3,
                2 => rw == 2,
                _ => rw == 3,
            };
            if (!kindMatches)
            {
                continue;
            }
            ulong bp = State.Dr[n];
            if (kind == 0)
            {
                if (bp == address)
                {
                    hits |= 1UL << n;
                }
                continue;
            }
            // LEN: 00 = 1, 01 = 2, 10 = 8, 11 = 4 bytes; the range is aligned to its length.
            ulong len = ((dr7 >> (18 + n * 4)) & 3) switch
            {
                0 => 1UL,
                1 => 2UL,
                2 => 8UL,
                _ => 4UL,
            };
            ulong start = bp & ~(len - 1);
            if (address < start + len && start < address + (ulong)size)
            {
                hits |= 1UL << n;
            }
        }
        return hits;
    }

    /// <summary>Whether a data breakpoint lies on the 4 KiB linear page of <paramref name="linear"/>.</summary>
    internal bool DataBreakpointOnPage(ulong linear)
    {
        ulong dr7 = State.Dr[7];
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (n * 2)) & 3) != 0 && ((dr7 >> (16 + n * 4)) & 1) != 0
                && (State.Dr[n] >> 12) == (linear >> 12))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A data access on a page with a data breakpoint (slow path only).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void NoteDataAccess(ulong linear, int size, bool write)
    {
        ulong hits = MatchBreakpoints(linear, size, write ? 1 : 3);
        if (hits != 0)
        {
            PendingDebugTrap |= hits;
            Attention = 1;
        }
    }

    /// <summary>An I/O access while an I/O breakpoint is enabled (SDM Vol. 3B §18.2.4: R/W = 10 with CR4.DE).</summary>
    internal void NoteIoAccess(ushort port, int size)
    {
        ulong hits = MatchBreakpoints(port, size, 2);
        if (hits != 0)
        {
            PendingDebugTrap |= hits;
            Attention = 1;
        }
    }

    /// <summary>
    /// After an instruction: single-step (BS) and the data/I/O breakpoint and T-bit traps it hit, as one #DB
    /// (SDM Vol. 3A §7.9 "Priority Among Concurrent Exceptions and Interrupts": traps on the previous
    /// instruction come before NMI and maskable interrupts).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void DebugTrapsAfterInstruction()
    {
        if (_debugDeferCount == InstructionCount)
        {
            // Deferred by MOV SS and the next instruction has not run yet.
            return;
        }
        ulong bits = PendingDebugTrap;
        if (_stepArmed && InstructionCount == _stepArmCount + 1)
        {
            // DEBUGCTL.BTF: with TF, trap only on branches (SDM Vol. 3B §18.4.3 "Single-Stepping on Branches").
            bool branchOnly = (State.DebugCtl & 2) != 0;
            if (!branchOnly || State.Rip != _stepArmRip + (ulong)InstrLen)
            {
                bits |= Dr6Bs;
            }
        }
        _stepArmed = false;
        if (bits != 0 && _movSsCount + 1 == InstructionCount)
        {
            // MOV SS / POP SS inhibit debug exceptions until after the next instruction (SDM Vol. 3A §7.8.3).
            PendingDebugTrap = bits;
            _debugDeferCount = InstructionCount;
            Attention = 1;
            return;
        }
        PendingDebugTrap = 0;
        if (bits != 0)
        {
            // Certain debug exceptions clear B0–B3; the other DR6 bits are sticky (SDM Vol. 3B §18.2.3).
            State.Dr[6] = (State.Dr[6] & ~0xFUL) | bits;
            DeliverEvent(Vectors.DB, EventKind.Exception, false, 0);
        }
    }

    /// <summary>
    /// Before an instruction: RF suppresses the instruction-breakpoint check and is cleared at the start of
    /// the instruction (SDM Vol. 3B §18.3.1.1); an enabled DR0–DR3 execute breakpoint at CS:RIP is a fault;
    /// TF arms the single-step trap that follows the instruction (§18.3.1.4 "Single-Step Exception Condition").
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void DebugBeforeInstruction()
    {
        ref CpuState s = ref State;
        if ((s.Rflags & CpuState.FlagRf) != 0)
        {
            s.Rflags &= ~CpuState.FlagRf;
            // Remember the suppression until the instruction actually runs (the run budget may end first).
            _rfSkipRip = s.Rip;
            _rfSkipCount = InstructionCount;
        }
        else if (ExecBreakpoints && !(_rfSkipCount == InstructionCount && _rfSkipRip == s.Rip))
        {
            ulong lin = s.Seg[(int)SegReg.Cs].Base + s.Rip;
            if (!s.Is64)
            {
                lin = (uint)lin;
            }
            ulong hits = MatchBreakpoints(lin, 1, 0);
            if (hits != 0)
            {
                s.Dr[6] = (s.Dr[6] & ~0xFUL) | hits;
                DeliverEvent(Vectors.DB, EventKind.Exception, false, 0);
                Attention = 1;
                return;
            }
        }
        if ((s.Rflags & CpuState.FlagTf) != 0)
        {
            _stepArmed = true;
            _stepArmCount = InstructionCount;
            _stepArmRip = s.Rip;
            Attention = 1;
        }
        if (ExecBreakpoints)
        {
            Attention = 1;
        }
    }
}
