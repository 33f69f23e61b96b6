namespace Emulator.Cpu.Memory;

/// <summary>Access kinds for translation and permission checks.</summary>
[Flags]
internal enum Access
{
    Read = 0,
    Write = 1,
    Execute = 2,

    /// <summary>Implicit supervisor access (descriptor tables, TSS, IDT): SDM Vol. 3A §4.6 "Access Rights".</summary>
    Implicit = 4,
}

/// <summary>
/// One cached translation of a 4 KiB linear page. Larger pages are cached as their 4 KiB parts; each
/// part remembers the page size so that INVLPG removes every part of a large page (SDM Vol. 3A
/// §4.10.4.1 "Operations that Invalidate TLBs and Paging-Structure Caches").
/// </summary>
internal unsafe struct TlbEntry
{
    /// <summary>Linear page number + 1; 0 = empty.</summary>
    public ulong Tag;
    public ulong PhysPage;

    /// <summary>Host pointer to the page when it is RAM, else null (MMIO / unmapped).</summary>
    public byte* Host;
    public ushort Pcid;
    public ushort Vpid;
    public byte Perm;

    /// <summary>log2 of the page size the translation came from (12, 21, 22, 30).</summary>
    public byte PageShift;

    public const byte PermUser = 1;
    public const byte PermWrite = 2;
    public const byte PermNx = 4;
    public const byte PermDirty = 8;
    public const byte PermGlobal = 16;
}
