using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Descriptor-table access shared by segment loads, far transfers, event delivery and task switches
/// (SDM Vol. 3A §3.4 "Logical and Linear Addresses", §3.5 "System Descriptor Types").
/// </summary>
public sealed partial class Vcpu
{
    // Raw descriptor bits (SDM Vol. 3A §3.4.5 "Segment Descriptors").
    internal const ulong DescAccessed = 1UL << 40;
    internal const ulong DescWritable = 1UL << 41;
    internal const ulong DescConforming = 1UL << 42;
    internal const ulong DescCode = 1UL << 43;
    internal const ulong DescS = 1UL << 44;
    internal const ulong DescP = 1UL << 47;
    internal const ulong DescL = 1UL << 53;
    internal const ulong DescDb = 1UL << 54;

    // System descriptor types (SDM Vol. 3A §3.5 table "System-Segment and Gate-Descriptor Types").
    internal const int TypeTss16Avail = 1;
    internal const int TypeLdt = 2;
    internal const int TypeTss16Busy = 3;
    internal const int TypeCallGate16 = 4;
    internal const int TypeTaskGate = 5;
    internal const int TypeIntGate16 = 6;
    internal const int TypeTrapGate16 = 7;
    internal const int TypeTss32Avail = 9;
    internal const int TypeTss32Busy = 11;
    internal const int TypeCallGate32 = 12;
    internal const int TypeIntGate32 = 14;
    internal const int TypeTrapGate32 = 15;

    internal static int DescType(ulong d) => (int)(d >> 40) & 0xF;

    internal static int DescDpl(ulong d) => (int)(d >> 45) & 3;

    internal static bool DescPresent(ulong d) => (d & DescP) != 0;

    internal static bool DescIsSystem(ulong d) => (d & DescS) == 0;

    internal static bool DescIsCode(ulong d) => (d & (DescS | DescCode)) == (DescS | DescCode);

    internal static bool DescIsData(ulong d) => (d & (DescS | DescCode)) == DescS;

    internal static bool DescIsConformingCode(ulong d) => DescIsCode(d) && (d & DescConforming) != 0;

    internal static bool DescIsWritableData(ulong d) => DescIsData(d) && (d & DescWritable) != 0;

    /// <summary>Readable code (R bit) or any data segment.</summary>
    internal static bool DescIsReadable(ulong d) => DescIsData(d) || (DescIsCode(d) && (d & DescWritable) != 0);

    /// <summary>Limit in bytes, scaled by G (SDM Vol. 3A §3.4.5).</summary>
    internal static uint DescLimit(ulong d)
    {
        uint limit = (uint)((d & 0xFFFF) | (((d >> 48) & 0xF) << 16));
        return (d & (1UL << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
    }

    internal static ulong DescBase(ulong d) => ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);

    /// <summary>Gate target offset of a 32-bit gate (bits 15:0 and 63:48).</summary>
    internal static uint GateOffset(ulong d) => (uint)((d & 0xFFFF) | ((d >> 32) & 0xFFFF_0000));

    internal static ushort GateSelector(ulong d) => (ushort)(d >> 16);

    /// <summary>Error code naming a selector (SDM Vol. 3A §6.13 "Error Code"): index and TI, EXT in bit 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint SelErr(int selector, uint ext) => (uint)(selector & 0xFFFC) | ext;

    /// <summary>Linear address of the descriptor for <paramref name="selector"/>; false when it lies outside the GDT/LDT.</summary>
    internal bool DescriptorAddress(int selector, int size, out ulong addr)
    {
        ulong tableBase;
        uint limit;
        if ((selector & 4) != 0)
        {
            ref Segment ldtr = ref State.Seg[(int)SegReg.Ldtr];
            if ((ldtr.Attr & Segment.AttrUnusable) != 0 || (ldtr.Selector & 0xFFFC) == 0)
            {
                addr = 0;
                return false;
            }
            tableBase = ldtr.Base;
            limit = ldtr.Limit;
        }
        else
        {
            tableBase = State.Gdtr.Base;
            limit = State.Gdtr.Limit;
        }
        ulong offset = (ulong)(selector & 0xFFF8);
        if (offset + (ulong)size - 1 > limit)
        {
            addr = 0;
            return false;
        }
        addr = tableBase + offset;
        if (!State.LongModeActive)
        {
            addr = (uint)addr;
        }
        return true;
    }

    /// <summary>
    /// Reads the 8-byte descriptor of <paramref name="selector"/>; outside the table raises
    /// <paramref name="vector"/> with the selector error code.
    /// </summary>
    internal bool ReadDescriptor(int selector, int vector, uint ext, out ulong desc, out ulong addr)
    {
        if (!DescriptorAddress(selector, 8, out addr))
        {
            desc = 0;
            return Raise(vector, SelErr(selector, ext));
        }
        return ReadLinear(addr, 8, Access.Read | Access.Implicit, out desc);
    }

    /// <summary>Reads the upper half of a 16-byte system descriptor (IA-32e mode), checking the table limit.</summary>
    internal bool ReadDescriptorHigh(int selector, int vector, uint ext, out ulong high)
    {
        if (!DescriptorAddress(selector, 16, out ulong addr))
        {
            high = 0;
            return Raise(vector, SelErr(selector, ext));
        }
        return ReadLinear(addr + 8, 8, Access.Read | Access.Implicit, out high);
    }

    /// <summary>Sets the accessed bit of a code/data descriptor in memory (SDM Vol. 3A §3.4.5.1 "Code- and Data-Segment Descriptor Types").</summary>
    internal bool SetAccessed(ulong addr, ref ulong desc)
    {
        if ((desc & DescAccessed) != 0)
        {
            return true;
        }
        desc |= DescAccessed;
        return WriteLinear(addr + 5, 1, (desc >> 40) & 0xFF, Access.Write | Access.Implicit);
    }

    /// <summary>Sets the busy bit of a TSS descriptor (LTR, task switch).</summary>
    internal bool SetTssBusy(ulong addr, ref ulong desc, bool busy)
    {
        ulong updated = busy ? desc | (2UL << 40) : desc & ~(2UL << 40);
        if (updated == desc)
        {
            return true;
        }
        desc = updated;
        return WriteLinear(addr + 5, 1, (desc >> 40) & 0xFF, Access.Write | Access.Implicit);
    }

    /// <summary>Makes a data segment register null: selector 0 (or the given one) and unusable; FS/GS keep their base.</summary>
    internal void LoadNullSegment(int seg, ushort selector)
    {
        ref Segment r = ref State.Seg[seg];
        r.Selector = selector;
        // Intel clears the base of a null-loaded data segment (Linux X86_BUG_NULL_SEG is AMD's behaviour).
        r.Base = 0;
        r.Limit = 0;
        r.Attr = Segment.AttrUnusable;
    }

    /// <summary>
    /// On a return to an outer privilege level, ES/DS/FS/GS that the new CPL may not use become null
    /// (SDM Vol. 2 "RET" / "IRET": "Segment register invalid"); the hidden base is kept.
    /// </summary>
    internal void InvalidateDataSegmentsForCpl(int cpl)
    {
        ReadOnlySpan<int> segs = [(int)SegReg.Es, (int)SegReg.Ds, (int)SegReg.Fs, (int)SegReg.Gs];
        foreach (int i in segs)
        {
            ref Segment r = ref State.Seg[i];
            bool dataOrNonConforming = !r.IsCode || (r.Type & 4) == 0;
            if ((r.Selector & 0xFFFC) == 0 || (r.Attr & Segment.AttrUnusable) != 0 || (dataOrNonConforming && r.Dpl < cpl))
            {
                r.Selector = 0;
                r.Attr |= Segment.AttrUnusable;
            }
        }
    }

    /// <summary>Virtual-8086 segment: base = selector × 16, 64 KiB, DPL 3 read/write data (SDM Vol. 3A §20.1 "Real-Address Mode Emulation").</summary>
    internal void LoadV86Segment(int seg, ushort selector)
    {
        ref Segment r = ref State.Seg[seg];
        r.Selector = selector;
        r.Base = (ulong)selector << 4;
        r.Limit = 0xFFFF;
        r.Attr = Segment.AttrP | Segment.AttrS | (3 << 5) | 3 | (seg == (int)SegReg.Cs ? 8u : 0u);
    }

    /// <summary>Loads CS from a code descriptor with RPL = <paramref name="cpl"/> and makes it the CPL.</summary>
    internal void LoadCs(ushort selector, ulong desc, int cpl)
    {
        State.Seg[(int)SegReg.Cs].LoadDescriptor((ushort)((selector & 0xFFFC) | cpl), desc);
        State.Cpl = cpl;
        InvalidateFetch();
    }

    /// <summary>The null SS of IA-32e mode after a privilege change: selector = new CPL (SDM Vol. 3A §6.14.4 "Stack Switching in IA-32e Mode").</summary>
    internal void LoadNullSs64(int cpl)
    {
        ref Segment ss = ref State.Seg[(int)SegReg.Ss];
        ss.Selector = (ushort)cpl;
        ss.Base = 0;
        ss.Limit = 0xFFFF_FFFF;
        ss.Attr = Segment.AttrUnusable | Segment.AttrP | Segment.AttrS | 3 | ((uint)cpl << 5) | Segment.AttrDb | Segment.AttrG;
    }

    /// <summary>True when a code descriptor cannot be loaded in IA-32e mode (L and D both set).</summary>
    internal bool BadLongCode(ulong desc) => State.LongModeActive && (desc & (DescL | DescDb)) == (DescL | DescDb);

    /// <summary>Whether a far transfer to this code descriptor lands in 64-bit mode.</summary>
    internal bool TargetIs64(ulong desc) => State.LongModeActive && (desc & DescL) != 0;
}
