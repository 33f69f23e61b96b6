using Emulator.Cpu;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Tests.Cpu;

/// <summary>Processor mode a snippet runs in.</summary>
public enum CpuMode
{
    Real16,
    Protected32,
    Long64,
}

/// <summary>
/// Runs snippets assembled with Iced's <see cref="Assembler"/> on a bare <see cref="Vcpu"/>: RAM,
/// an I/O bus, flat segments and (in 64-bit mode) identity-mapped 2 MiB pages over the first 1 GiB.
/// </summary>
internal sealed class CpuHarness : IDisposable
{
    public const ulong CodeAddress = 0x10000;
    public const ulong DataAddress = 0x80000;
    public const ulong StackTop = 0x70000;
    public const ulong PageTables = 0x200000;

    public PhysicalMemory Memory { get; }
    public IoBus Io { get; } = new();
    public Vcpu Cpu { get; }
    public CpuMode Mode { get; }
    public ulong EndRip { get; private set; }

    /// <summary>RIP of the first snippet byte (0 in real mode, where CS points at the code).</summary>
    public ulong StartRip => Mode == CpuMode.Real16 ? 0 : CodeAddress;

    public CpuHarness(CpuMode mode = CpuMode.Long64, ulong ramSize = 16 << 20)
    {
        Mode = mode;
        Memory = new PhysicalMemory(ramSize);
        Cpu = new Vcpu(Memory, Io);
        SetMode(mode);
    }

    public int Bitness => Mode switch
    {
        CpuMode.Real16 => 16,
        CpuMode.Protected32 => 32,
        _ => 64,
    };

    private void SetMode(CpuMode mode)
    {
        ref CpuState s = ref Cpu.State;
        if (mode == CpuMode.Real16)
        {
            for (int i = 0; i < 6; i++)
            {
                s.Seg[i] = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Attr = Segment.AttrP | Segment.AttrS | 3 };
            }
            // Real mode: code at CS:0 with CS = CodeAddress >> 4, so snippets start at IP 0.
            s.Seg[(int)SegReg.Cs] = new Segment
            {
                Selector = (ushort)(CodeAddress >> 4),
                Base = CodeAddress,
                Limit = 0xFFFF,
                Attr = Segment.AttrP | Segment.AttrS | 0xB,
            };
            // Real mode: SS:SP = 6000:0000, so the first push lands just below StackTop as in the other modes.
            s.Seg[(int)SegReg.Ss].LoadReal((ushort)((StackTop - 0x10000) >> 4));
            s.Cr0 = CpuState.Cr0Et;
        }
        else
        {
            uint dataAttr = Segment.AttrP | Segment.AttrS | 3 | Segment.AttrDb | Segment.AttrG;
            for (int i = 0; i < 6; i++)
            {
                s.Seg[i] = new Segment { Selector = 0x10, Base = 0, Limit = 0xFFFF_FFFF, Attr = dataAttr };
            }
            s.Seg[(int)SegReg.Cs] = new Segment
            {
                Selector = 0x08,
                Limit = 0xFFFF_FFFF,
                Attr = Segment.AttrP | Segment.AttrS | 0xB | Segment.AttrG | (mode == CpuMode.Long64 ? Segment.AttrL : Segment.AttrDb),
            };
            s.Cr0 = CpuState.Cr0Pe | CpuState.Cr0Et | CpuState.Cr0Ne;
            if (mode == CpuMode.Long64)
            {
                // PML4 -> PDPT -> 1 GiB of 2 MiB pages, identity.
                Memory.Write(PageTables, 8, (PageTables + 0x1000) | 7);
                Memory.Write(PageTables + 0x1000, 8, (PageTables + 0x2000) | 7);
                for (ulong i = 0; i < 512; i++)
                {
                    Memory.Write(PageTables + 0x2000 + i * 8, 8, (i << 21) | 0x87);
                }
                s.Cr3 = PageTables;
                s.Cr4 = CpuState.Cr4Pae | CpuState.Cr4Osfxsr | CpuState.Cr4Osxmmexcpt;
                s.Efer = CpuState.EferLme | CpuState.EferLma | CpuState.EferNxe | CpuState.EferSce;
                s.Cr0 |= CpuState.Cr0Pg | CpuState.Cr0Wp | CpuState.Cr0Mp;
            }
            else
            {
                s.Cr4 = CpuState.Cr4Osfxsr | CpuState.Cr4Osxmmexcpt;
                s.Cr0 |= CpuState.Cr0Mp;
            }
        }
        s.Gpr[4] = mode == CpuMode.Real16 ? 0 : StackTop;
        s.Cpl = 0;
        Cpu.FlushTlbAll();
        Cpu.InvalidateFetch();
    }

    /// <summary>Assembles <paramref name="build"/> at <see cref="CodeAddress"/> and loads it.</summary>
    public CpuHarness Load(Action<Assembler> build)
    {
        var asm = new Assembler(Bitness);
        build(asm);
        byte[] code = asm.ToBytes(StartRip);
        Memory.TryWriteBytes(CodeAddress, code);
        EndRip = StartRip + (ulong)code.Length;
        Cpu.State.Rip = StartRip;
        return this;
    }

    /// <summary>Loads raw machine code at <see cref="CodeAddress"/>.</summary>
    public CpuHarness LoadBytes(ReadOnlySpan<byte> code)
    {
        Memory.TryWriteBytes(CodeAddress, code);
        EndRip = StartRip + (ulong)code.Length;
        Cpu.State.Rip = StartRip;
        return this;
    }

    /// <summary>Steps until RIP reaches the end of the snippet; fails the test on a stop or runaway.</summary>
    public CpuHarness Run(long maxInstructions = 1_000_000)
    {
        long start = Cpu.InstructionCount;
        while (Cpu.State.Rip != EndRip)
        {
            StopReason r = Cpu.Run(1);
            if (r != StopReason.Budget)
            {
                Assert.Fail($"stopped: {r} {Cpu.LastStopMessage} at RIP {Cpu.State.Rip:X}");
            }
            if (Cpu.InstructionCount - start > maxInstructions)
            {
                Assert.Fail($"runaway: RIP {Cpu.State.Rip:X}");
            }
        }
        return this;
    }

    /// <summary>Runs and returns the stop the snippet ends with (for faulting snippets).</summary>
    public StopReason RunToStop(long maxInstructions = 1_000_000)
    {
        long start = Cpu.InstructionCount;
        while (Cpu.State.Rip != EndRip && Cpu.InstructionCount - start <= maxInstructions)
        {
            StopReason r = Cpu.Run(1);
            if (r != StopReason.Budget)
            {
                return r;
            }
        }
        return StopReason.None;
    }

    public ulong this[Register r]
    {
        get => Cpu.ReadGpr(r);
        set => Cpu.WriteGpr(r, value);
    }

    public ulong Flags => Cpu.State.GetRflags();

    public void Dispose() => Memory.Dispose();
}
