using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Tests.Cpu.Interrupts;

/// <summary>
/// Builds the system structures a snippet needs in guest memory: a GDT matching the harness's selectors,
/// an IDT (or real-mode IVT), a TSS with an I/O bitmap, and handlers assembled at fixed addresses.
/// </summary>
internal sealed class GuestSystem
{
    public const ulong Gdt = 0x1000;
    public const ulong Idt = 0x2000;
    public const ulong Tss = 0x4000;
    public const ulong Tss2 = 0x7000;
    public const ulong HandlerArea = 0x30000;
    public const ulong UserStackTop = 0x60000;
    public const ulong KernelStackTop = 0x50000;
    public const ulong IstStackTop = 0x48008; // deliberately not 16-byte aligned
    public const ulong Scratch = 0x90000;

    public const ushort KernelCs = 0x08;
    public const ushort KernelDs = 0x10;
    public const ushort UserCs32 = 0x1B;
    public const ushort UserDs = 0x23;
    public const ushort UserCs64 = 0x2B;
    public const ushort TssSel = 0x30;
    public const ushort KernelCs32 = 0x40;
    public const ushort Ring1Ds = 0x49;
    public const ushort Code16 = 0x50;
    public const ushort Tss2Sel = 0x58;
    public const ushort Spare = 0x60; // 0x60..0x78 free for tests (16 bytes each in long mode)

    /// <summary>TSS limit: 0x68 bytes, the 8 KiB I/O bitmap and its trailing 0xFF byte.</summary>
    public const uint TssLimit = 0x68 + 0x2000;

    private readonly CpuHarness _h;
    private ulong _nextHandler = HandlerArea;

    public GuestSystem(CpuHarness h, bool withTss = true)
    {
        _h = h;
        bool long64 = h.Mode == CpuMode.Long64;
        SetGdt(0x00, 0);
        SetGdt(0x08, long64 ? 0x00AF_9A00_0000_FFFFUL : 0x00CF_9A00_0000_FFFFUL);
        SetGdt(0x10, 0x00CF_9200_0000_FFFFUL);
        SetGdt(0x18, 0x00CF_FA00_0000_FFFFUL);
        SetGdt(0x20, 0x00CF_F200_0000_FFFFUL);
        SetGdt(0x28, 0x00AF_FA00_0000_FFFFUL);
        SetGdt(0x40, 0x00CF_9A00_0000_FFFFUL);
        SetGdt(0x48, 0x00CF_B200_0000_FFFFUL);
        SetGdt(0x50, 0x0000_9A00_0000_FFFFUL);
        ref CpuState s = ref h.Cpu.State;
        s.Gdtr.Base = Gdt;
        s.Gdtr.Limit = 0x7F;
        s.Idtr.Base = Idt;
        s.Idtr.Limit = long64 ? 256u * 16 - 1 : 256u * 8 - 1;
        if (h.Mode == CpuMode.Real16)
        {
            s.Idtr.Base = 0;
            s.Idtr.Limit = 0x3FF;
            return;
        }
        if (withTss)
        {
            WriteTssDescriptor(TssSel, Tss, TssLimit, long64);
            // I/O map base just past the fixed part; every port allowed, then the 0xFF terminator.
            h.Memory.Write(Tss + 0x66, 2, 0x68);
            h.Memory.Write(Tss + 0x68 + 0x2000, 1, 0xFF);
            if (long64)
            {
                h.Memory.Write(Tss + 4, 8, KernelStackTop);
                h.Memory.Write(Tss + 0x24, 8, IstStackTop);
            }
            else
            {
                h.Memory.Write(Tss + 4, 4, KernelStackTop);
                h.Memory.Write(Tss + 8, 2, KernelDs);
            }
            LoadTr(TssSel);
        }
    }

    public void SetGdt(int selector, ulong desc) => _h.Memory.Write(Gdt + (ulong)(selector & ~7), 8, desc);

    public ulong GetGdt(int selector) => _h.Memory.Read(Gdt + (ulong)(selector & ~7), 8);

    /// <summary>A system descriptor (16 bytes in IA-32e mode).</summary>
    public void WriteTssDescriptor(int selector, ulong baseAddr, uint limit, bool long64, int type = 9)
    {
        SetGdt(selector, SystemDescriptor(baseAddr, limit, type, 0));
        if (long64)
        {
            SetGdt(selector + 8, baseAddr >> 32);
        }
    }

    public static ulong SystemDescriptor(ulong baseAddr, uint limit, int type, int dpl) =>
        (limit & 0xFFFFUL) | ((baseAddr & 0xFF_FFFF) << 16) | ((ulong)(type | (dpl << 5) | 0x80) << 40)
        | ((ulong)((limit >> 16) & 0xF) << 48) | (((baseAddr >> 24) & 0xFF) << 56);

    public static ulong SegmentDescriptor(ulong baseAddr, uint limit, int typeWithS, int dpl, bool present = true, uint flags = 0xC) =>
        (limit & 0xFFFFUL) | ((baseAddr & 0xFF_FFFF) << 16) | ((ulong)(typeWithS | (dpl << 5) | (present ? 0x80 : 0)) << 40)
        | ((ulong)((limit >> 16) & 0xF) << 48) | ((ulong)flags << 52) | (((baseAddr >> 24) & 0xFF) << 56);

    public void LoadTr(ushort selector)
    {
        ref CpuState s = ref _h.Cpu.State;
        ulong d = GetGdt(selector) | (2UL << 40);
        SetGdt(selector, d);
        s.Seg[(int)SegReg.Tr].LoadDescriptor(selector, d, _h.Mode == CpuMode.Long64 ? GetGdt(selector + 8) & 0xFFFF_FFFF : 0);
    }

    /// <summary>Assembles <paramref name="build"/> at the next free handler address and returns that address.</summary>
    public ulong Handler(Action<Assembler> build, int bitness = 0)
    {
        ulong at = _nextHandler;
        ulong ip = _h.Mode == CpuMode.Real16 ? at & 0xF : at;
        var asm = new Assembler(bitness != 0 ? bitness : _h.Bitness);
        build(asm);
        byte[] code = asm.ToBytes(ip);
        _h.Memory.TryWriteBytes(at, code);
        _nextHandler = (at + (ulong)code.Length + 0xFF) & ~0xFFUL;
        return at;
    }

    /// <summary>An IDT gate: 8 bytes in legacy protected mode, 16 in IA-32e mode.</summary>
    public void SetGate(int vector, ulong handler, int type = 0xE, int dpl = 0, int ist = 0, ushort selector = KernelCs, bool present = true)
    {
        ulong lo = (handler & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(ist & 7) << 32)
            | ((ulong)(type | (dpl << 5) | (present ? 0x80 : 0)) << 40) | (((handler >> 16) & 0xFFFF) << 48);
        if (_h.Mode == CpuMode.Long64)
        {
            _h.Memory.Write(Idt + (ulong)vector * 16, 8, lo);
            _h.Memory.Write(Idt + (ulong)vector * 16 + 8, 8, handler >> 32);
        }
        else
        {
            _h.Memory.Write(Idt + (ulong)vector * 8, 8, lo);
        }
    }

    /// <summary>Real-mode IVT entry: segment:offset for a handler at a linear address.</summary>
    public void SetIvt(int vector, ulong handler)
    {
        _h.Memory.Write((ulong)vector * 4, 2, handler & 0xF);
        _h.Memory.Write((ulong)vector * 4 + 2, 2, handler >> 4);
    }

    /// <summary>Puts the processor at ring 3 with the user code and data segments (as an IRET would).</summary>
    public void EnterUser(bool code64 = true)
    {
        ref CpuState s = ref _h.Cpu.State;
        ushort cs = _h.Mode == CpuMode.Long64 && code64 ? UserCs64 : UserCs32;
        s.Seg[(int)SegReg.Cs].LoadDescriptor(cs, GetGdt(cs));
        s.Seg[(int)SegReg.Ss].LoadDescriptor(UserDs, GetGdt(UserDs));
        s.Seg[(int)SegReg.Ds].LoadDescriptor(UserDs, GetGdt(UserDs));
        s.Seg[(int)SegReg.Es].LoadDescriptor(UserDs, GetGdt(UserDs));
        s.Cpl = 3;
        s.Gpr[4] = UserStackTop;
        _h.Cpu.InvalidateFetch();
    }
}
