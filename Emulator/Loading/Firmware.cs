using Emulator.Cpu;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Loading;

/// <summary>
/// What a PC BIOS (QEMU's SeaBIOS plus its multiboot option ROM) leaves behind before the image runs:
/// a real-mode IVT whose vectors point at an IRET, a flat GDT, and the entry register state.
/// </summary>
internal static class Firmware
{
    /// <summary>An IRET at F000:FF53, where SeaBIOS keeps its default handler.</summary>
    public const ulong IretStub = 0xFFF53;
    public const ulong GdtAddress = 0xF0000;
    public const ushort CodeSelector = 0x08;
    public const ushort DataSelector = 0x10;

    public static void Install(PhysicalMemory memory)
    {
        memory.Write(IretStub, 1, 0xCF);
        for (ulong v = 0; v < 256; v++)
        {
            memory.Write(v * 4, 4, 0xF000_FF53);
        }
        memory.Write(GdtAddress, 8, 0);
        memory.Write(GdtAddress + 8, 8, 0x00CF_9B00_0000_FFFF);
        memory.Write(GdtAddress + 16, 8, 0x00CF_9300_0000_FFFF);
        // Real-mode GDT entries for 16-bit code/data that guests switching down may reuse.
        memory.Write(GdtAddress + 24, 8, 0x000F_9B00_0000_FFFF);
        memory.Write(GdtAddress + 32, 8, 0x000F_9300_0000_FFFF);
    }

    /// <summary>Multiboot entry state: 32-bit protected mode, paging off, flat CS=0x08 and data 0x10 (Multiboot 0.6.96 §3.2 "Machine state").</summary>
    public static void EnterMultiboot(Vcpu cpu, BootInfo boot)
    {
        ref CpuState s = ref cpu.State;
        s.Cr0 = CpuState.Cr0Pe | CpuState.Cr0Et;
        s.SetRflags(2);
        s.Gdtr = new DescriptorTable { Base = GdtAddress, Limit = 39 };
        s.Idtr = new DescriptorTable { Base = 0, Limit = 0x3FF };
        s.Seg[(int)SegReg.Cs] = new Segment
        {
            Selector = CodeSelector,
            Base = 0,
            Limit = 0xFFFF_FFFF,
            Attr = 0xB | Segment.AttrS | Segment.AttrP | Segment.AttrDb | Segment.AttrG,
        };
        for (int i = 0; i < 6; i++)
        {
            if (i == (int)SegReg.Cs)
            {
                continue;
            }
            s.Seg[i] = new Segment
            {
                Selector = DataSelector,
                Base = 0,
                Limit = 0xFFFF_FFFF,
                Attr = 0x3 | Segment.AttrS | Segment.AttrP | Segment.AttrDb | Segment.AttrG,
            };
        }
        s.Cpl = 0;
        s.Gpr[0] = boot.Eax;
        s.Gpr[3] = boot.Ebx;
        s.Rip = boot.Entry;
        cpu.FlushTlbAll();
        cpu.InvalidateFetch();
    }

    /// <summary>Flat binary entry in real mode at <paramref name="address"/> (CS:IP = addr&gt;&gt;4 : addr&amp;0xF, or 0:addr below 64 KiB).</summary>
    public static void EnterReal(Vcpu cpu, ulong address)
    {
        ref CpuState s = ref cpu.State;
        ushort cs = address < 0x10000 ? (ushort)0 : (ushort)(address >> 4);
        s.Seg[(int)SegReg.Cs].LoadReal(cs);
        s.Seg[(int)SegReg.Cs].Limit = 0xFFFF;
        for (int i = 0; i < 6; i++)
        {
            if (i != (int)SegReg.Cs)
            {
                s.Seg[i].LoadReal(0);
            }
        }
        s.Cr0 = CpuState.Cr0Et;
        s.Idtr = new DescriptorTable { Base = 0, Limit = 0x3FF };
        s.Rip = address - ((ulong)cs << 4);
        s.Gpr[4] = 0x7000;
        s.Gpr[2] = 0x80; // DL: boot drive, as a BIOS leaves it for a boot sector
        cpu.FlushTlbAll();
        cpu.InvalidateFetch();
    }

    /// <summary>Flat binary entry in 32-bit protected mode at <paramref name="address"/>, same flat state as multiboot.</summary>
    public static void EnterProtected(Vcpu cpu, ulong address) => EnterMultiboot(cpu, new BootInfo(address, 0, 0));
}
