using System.Runtime.CompilerServices;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Decoding;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu;

/// <summary>
/// One virtual processor: architectural state, its MMU and TLB, the decoded-instruction cache and the
/// interpreter loop. Guest faults are values (<see cref="Fault"/>), never .NET exceptions.
/// </summary>
public sealed unsafe partial class Vcpu
{
    internal CpuState State;
    internal readonly PhysicalMemory Memory;
    internal readonly IoBus Io;

    /// <summary>Instructions retired since reset; drives the deterministic TSC.</summary>
    public long InstructionCount;

    /// <summary>RIP of the instruction after the current one; control transfers overwrite it.</summary>
    internal ulong NextRip;

    /// <summary>Address size of the current instruction in bits (16, 32, 64).</summary>
    internal int AddrSize;

    /// <summary>Length in bytes of the current instruction.</summary>
    internal int InstrLen;

    /// <summary>A fault raised by the current instruction, delivered when it returns.</summary>
    internal bool FaultPending;
    internal byte FaultVector;
    internal bool FaultHasError;
    internal uint FaultError;

    /// <summary>Non-zero when the loop must look at something besides the next instruction.</summary>
    internal int Attention;

    internal StopReason PendingStop;
    internal string? StopMessage;

    /// <summary>Set for one instruction after STI / MOV SS / POP SS (SDM Vol. 3A §6.8.3 "Masking Exceptions and Interrupts When Switching Stacks").</summary>
    internal bool InterruptShadow;
    internal bool ShadowArmed;

    /// <summary>Instruction count at which the current interrupt shadow ends.</summary>
    private long _shadowEnd;

    internal bool Halted;
    internal bool NmiPending;
    internal bool NmiBlocked;

    /// <summary>Optional source of maskable interrupts (the platform's PIC/APIC).</summary>
    public IInterruptSource? Interrupts { get; set; }

    /// <summary>Log of instructions that raised #UD because they are not implemented (null = off).</summary>
    public TextWriter? UnimplementedLog { get; set; }

    /// <summary>Processor index (APIC id for now).</summary>
    public int Index { get; }

    public Vcpu(PhysicalMemory memory, IoBus io, int index = 0)
    {
        Memory = memory;
        Io = io;
        Index = index;
        Memory.CodeWrite += OnCodeWrite;
        _decoders = [
            Decoder.Create(16, _reader, DecoderOptions.None),
            Decoder.Create(32, _reader, DecoderOptions.None),
            Decoder.Create(64, _reader, DecoderOptions.None),
        ];
        Reset();
    }

    /// <summary>Power-on state (SDM Vol. 3A §10.1.1 "Processor State After Reset").</summary>
    public void Reset()
    {
        State = default;
        State.Rflags = 2;
        State.Cr0 = CpuState.Cr0Et | CpuState.Cr0Cd | CpuState.Cr0Nw;
        State.Mxcsr = 0x1F80;
        State.Fcw = 0x37F;
        State.Pat = 0x0007040600070406;
        State.ApicBase = 0xFEE00000 | (1 << 11) | (Index == 0 ? 1u << 8 : 0);
        State.Xcr0 = 1;
        State.Dr[6] = 0xFFFF0FF0;
        State.Dr[7] = 0x400;
        for (int i = 0; i < 6; i++)
        {
            State.Seg[i] = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Attr = Segment.AttrP | Segment.AttrS | 3 };
        }
        State.Seg[(int)SegReg.Cs] = new Segment { Selector = 0xF000, Base = 0xFFFF0000, Limit = 0xFFFF, Attr = Segment.AttrP | Segment.AttrS | 0xB };
        State.Seg[(int)SegReg.Ldtr] = new Segment { Limit = 0xFFFF, Attr = Segment.AttrP | 2 };
        State.Seg[(int)SegReg.Tr] = new Segment { Limit = 0xFFFF, Attr = Segment.AttrP | 0xB };
        State.Gdtr.Limit = 0xFFFF;
        State.Idtr.Limit = 0xFFFF;
        State.Rip = 0xFFF0;
        State.Gpr[2] = 0x600; // EDX: family/model/stepping signature
        FaultPending = false;
        Halted = false;
        InterruptShadow = false;
        ShadowArmed = false;
        ResetSystemState();
        FlushTlbAll();
        InvalidateFetch();
    }

    // ------------------------------------------------------------------ register helpers for hosts

    public ulong GetGpr(int index) => State.Gpr[index];

    public void SetGpr(int index, ulong value) => State.Gpr[index] = value;

    public ulong Rip
    {
        get => State.Rip;
        set => State.Rip = value;
    }

    public ulong Rflags
    {
        get => State.GetRflags();
        set => State.SetRflags(value);
    }

    // ------------------------------------------------------------------ faults

    /// <summary>Records an exception with an error code; the handler must return at once.</summary>
    internal bool Raise(int vector, uint errorCode)
    {
        FaultPending = true;
        FaultVector = (byte)vector;
        FaultHasError = true;
        FaultError = errorCode;
        return false;
    }

    /// <summary>Records an exception without an error code; the handler must return at once.</summary>
    internal bool Raise(int vector)
    {
        FaultPending = true;
        FaultVector = (byte)vector;
        FaultHasError = false;
        FaultError = 0;
        return false;
    }

    internal bool RaiseGp(uint error = 0) => Raise(Vectors.GP, error);

    internal bool RaiseUd() => Raise(Vectors.UD);

    /// <summary>Ends the run after the current instruction.</summary>
    internal void RequestStop(StopReason reason, string? message = null)
    {
        if (PendingStop == StopReason.None)
        {
            PendingStop = reason;
            StopMessage = message;
        }
        Attention = 1;
    }

    /// <summary>Asks a running <see cref="Run"/> to return (thread-safe enough for a debugger's Ctrl-C).</summary>
    public void Interrupt() => RequestStop(StopReason.Requested);

    /// <summary>Message attached to the last stop (triple fault, halt…).</summary>
    public string? LastStopMessage => StopMessage;

    // ------------------------------------------------------------------ run loop

    /// <summary>
    /// Runs until <paramref name="budget"/> instructions have retired or something stops the processor.
    /// </summary>
    public StopReason Run(long budget)
    {
        if (WaitingForSipi)
        {
            return StopReason.WaitForSipi;
        }
        RunEnd = InstructionCount + budget;
        PendingStop = StopReason.None;
        StopMessage = null;
        Attention = 1;
        long end = RunEnd;
        while (true)
        {
            if (Attention != 0)
            {
                StopReason r = CheckEvents();
                if (r != StopReason.None)
                {
                    return r;
                }
                // ShortenRun raises Attention, so the local copy is refreshed here only.
                end = RunEnd;
            }
            if (InstructionCount >= end)
            {
                return StopReason.Budget;
            }
            Step();
        }
    }

    /// <summary>Instruction count at which the current <see cref="Run"/> returns <see cref="StopReason.Budget"/>.</summary>
    internal long RunEnd;

    /// <summary>
    /// Ends the current <see cref="Run"/> once <see cref="InstructionCount"/> reaches <paramref name="count"/>
    /// (a device armed a timer that expires inside the running slice).
    /// </summary>
    public void ShortenRun(long count)
    {
        if (count < RunEnd)
        {
            RunEnd = Math.Max(count, InstructionCount);
            Attention = 1;
        }
    }

    /// <summary>Executes one instruction (or delivers the fault it raises).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Step()
    {
        ref DecodedInsn d = ref Fetch();
        if (Unsafe.IsNullRef(ref d))
        {
            DeliverPendingFault();
            return;
        }
        NextRip = State.Rip + (ulong)d.Length;
        AddrSize = d.AddrSize;
        InstrLen = d.Length;
        d.Handler(this, in d.Instr);
        if (FaultPending)
        {
            DeliverPendingFault();
            return;
        }
        State.Rip = NextRip;
        InstructionCount++;
    }

    /// <summary>Slow part of the loop: stops, interrupt shadow, pending interrupts, single-step.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private StopReason CheckEvents()
    {
        Attention = 0;
        if (PendingStop != StopReason.None)
        {
            StopReason r = PendingStop;
            PendingStop = StopReason.None;
            return r;
        }
        if (DebugTrapPending)
        {
            DebugTrapsAfterInstruction();
        }
        if (ShadowArmed)
        {
            // The shadow covers exactly the instruction after STI / MOV SS: it ends when that instruction
            // retires, even if Run returns in between (SDM Vol. 2B "STI").
            ShadowArmed = false;
            InterruptShadow = true;
            _shadowEnd = InstructionCount + 1;
            Attention = 1;
        }
        else if (InterruptShadow && InstructionCount >= _shadowEnd)
        {
            InterruptShadow = false;
        }
        if (Vmx is { } vmx && vmx.InterceptEvents(this))
        {
            // A VM exit took the event (or the window) instead of L2: L1 runs from its host RIP.
            Attention = 1;
        }
        else if (!InterruptShadow)
        {
            if (NmiPending && !NmiBlocked)
            {
                NmiPending = false;
                NmiBlocked = true;
                Halted = false;
                DeliverEvent(Vectors.NMI, EventKind.Nmi, false, 0);
                Attention = 1;
            }
            else if ((State.Rflags & CpuState.FlagIf) != 0 && Interrupts is { } src && src.HasPending)
            {
                int vector = src.Acknowledge();
                if (vector >= 0)
                {
                    Halted = false;
                    DeliverEvent(vector, EventKind.External, false, 0);
                }
                Attention = 1;
            }
        }
        else
        {
            Attention = 1;
        }
        if (Halted)
        {
            Attention = 1;
            if ((State.Rflags & CpuState.FlagIf) == 0 && !NmiPending && Vmx?.ExternalInterruptsExit(this) != true)
            {
                StopMessage = "HLT with interrupts disabled";
                return StopReason.HaltedForever;
            }
            return StopReason.Halted;
        }
        if (DebugWatch)
        {
            DebugBeforeInstruction();
        }
        if (PendingStop != StopReason.None)
        {
            Attention = 1;
        }
        return StopReason.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void DeliverPendingFault()
    {
        FaultPending = false;
        // The shadowed instruction faulted: the handler does not inherit its shadow.
        InterruptShadow = false;
        DeliverEvent(FaultVector, EventKind.Exception, FaultHasError, FaultError);
    }

    /// <summary>Raised by handlers that change something the loop must re-check (IF, TF, HLT…).</summary>
    internal void Notify() => Attention = 1;
}

/// <summary>Source of external maskable interrupts (PIC / APIC).</summary>
public interface IInterruptSource
{
    bool HasPending { get; }

    /// <summary>Returns the vector being delivered, or -1 if the request went away.</summary>
    int Acknowledge();
}
