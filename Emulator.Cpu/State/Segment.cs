namespace Emulator.Cpu.State;

/// <summary>Segment register index in x86 encoding order (ES, CS, SS, DS, FS, GS).</summary>
internal enum SegReg
{
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
    Ldtr = 6,
    Tr = 7,
}

/// <summary>
/// A segment register with its hidden descriptor cache. <see cref="Attr"/> uses the VMX
/// access-rights layout (SDM Vol. 3C §25.4.1 "Guest Register State"): type 3:0, S 4, DPL 6:5,
/// P 7, AVL 12, L 13, D/B 14, G 15, unusable 16.
/// </summary>
internal struct Segment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public uint Attr;

    public const uint AttrS = 1 << 4;
    public const uint AttrP = 1 << 7;
    public const uint AttrL = 1 << 13;
    public const uint AttrDb = 1 << 14;
    public const uint AttrG = 1 << 15;
    public const uint AttrUnusable = 1 << 16;

    public readonly int Type => (int)(Attr & 0xF);
    public readonly int Dpl => (int)((Attr >> 5) & 3);
    public readonly bool Present => (Attr & AttrP) != 0;
    public readonly bool IsSystem => (Attr & AttrS) == 0;
    public readonly bool IsCode => (Attr & AttrS) != 0 && (Attr & 8) != 0;
    public readonly bool Long => (Attr & AttrL) != 0;
    public readonly bool DefaultBig => (Attr & AttrDb) != 0;

    /// <summary>Real-mode / virtual-8086 style load: base = selector * 16, limit kept.</summary>
    public void LoadReal(ushort selector)
    {
        Selector = selector;
        Base = (ulong)selector << 4;
    }

    /// <summary>Builds the cache from an 8-byte descriptor (SDM Vol. 3A §3.4.5 "Segment Descriptors").</summary>
    public void LoadDescriptor(ushort selector, ulong desc, ulong baseHigh = 0)
    {
        Selector = selector;
        Base = ((desc >> 16) & 0xFFFFFF) | (((desc >> 56) & 0xFF) << 24) | (baseHigh << 32);
        uint limit = (uint)((desc & 0xFFFF) | (((desc >> 48) & 0xF) << 16));
        uint attr = (uint)((desc >> 40) & 0xFF) | (uint)(((desc >> 52) & 0xF) << 12);
        if ((attr & AttrG) != 0)
        {
            limit = (limit << 12) | 0xFFF;
        }
        Limit = limit;
        Attr = attr;
    }
}
