using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Linear-to-physical translation (SDM Vol. 3A chapter 4 "Paging"): 32-bit, PAE and 4-level paging,
/// a tagged TLB with the SDM's invalidation rules, and linear memory access with fault values.
/// </summary>
public sealed unsafe partial class Vcpu
{
    // 4-way set associative, LRU within a set; way 0 is the most recently used, and the only way the
    // fast path probes. Several PCIDs/VPIDs can then hold the same linear page at once.
    private const int TlbSets = 512;
    private const int TlbWays = 4;
    private const int TlbSize = TlbSets * TlbWays;

    /// <summary>MAXPHYADDR reported in CPUID 0x80000008 and enforced as reserved bits (QEMU's default).</summary>
    internal const int MaxPhysAddrBits = 40;
    private const ulong PhysAddrMask = (1UL << MaxPhysAddrBits) - 1;

    private readonly TlbEntry[] _tlb = new TlbEntry[TlbSize];
    private bool _tlbHasLarge;

    /// <summary>PAE page-directory-pointer-table registers, loaded on CR3/CR0/CR4 writes (SDM §4.4.1).</summary>
    internal readonly ulong[] Pdpte = new ulong[4];

    /// <summary>Current PCID (CR3[11:0] when CR4.PCIDE=1, else 0).</summary>
    internal ushort CurrentPcid => (State.Cr4 & CpuState.Cr4Pcide) != 0 ? (ushort)(State.Cr3 & 0xFFF) : (ushort)0;

    /// <summary>VPID that tags new TLB entries (0 = outside VMX non-root operation).</summary>
    internal ushort CurrentVpid;

    // ------------------------------------------------------------------ invalidation

    /// <summary>Everything, global entries and all PCIDs included.</summary>
    internal void FlushTlbAll()
    {
        Array.Clear(_tlb);
        _tlbHasLarge = false;
        TlbGeneration++;
    }

    /// <summary>Every non-global entry of one PCID (MOV CR3; INVPCID single-context).</summary>
    internal void FlushTlbPcid(ushort pcid, bool includeGlobal = false)
    {
        bool large = false;
        for (int i = 0; i < _tlb.Length; i++)
        {
            ref TlbEntry e = ref _tlb[i];
            if (e.Tag != 0 && e.Vpid == CurrentVpid && e.Pcid == pcid && (includeGlobal || (e.Perm & TlbEntry.PermGlobal) == 0))
            {
                e.Tag = 0;
            }
            large |= e.Tag != 0 && e.PageShift > 12;
        }
        // INVLPG scans for large-page parts only while some are cached.
        _tlbHasLarge = large;
        TlbGeneration++;
    }

    /// <summary>Every non-global entry of every PCID (INVPCID type 3).</summary>
    internal void FlushTlbNonGlobal()
    {
        bool large = false;
        for (int i = 0; i < _tlb.Length; i++)
        {
            ref TlbEntry e = ref _tlb[i];
            if (e.Vpid == CurrentVpid && (e.Perm & TlbEntry.PermGlobal) == 0)
            {
                e.Tag = 0;
            }
            large |= e.Tag != 0 && e.PageShift > 12;
        }
        _tlbHasLarge = large;
        TlbGeneration++;
    }

    /// <summary>
    /// Entries for the page containing <paramref name="linear"/>: INVLPG (current PCID and globals) or
    /// INVPCID type 0 (the given PCID, globals kept).
    /// </summary>
    internal void FlushTlbPage(ulong linear, ushort pcid, bool includeGlobal)
    {
        ulong vpn = linear >> 12;
        int set = SetBase(vpn);
        for (int w = 0; w < TlbWays; w++)
        {
            ref TlbEntry e = ref _tlb[set + w];
            if (e.Tag == vpn + 1 && Matches(in e, pcid, includeGlobal))
            {
                e.Tag = 0;
            }
        }
        if (_tlbHasLarge)
        {
            for (int i = 0; i < _tlb.Length; i++)
            {
                ref TlbEntry l = ref _tlb[i];
                if (l.Tag != 0 && l.PageShift > 12 && ((l.Tag - 1) >> (l.PageShift - 12)) == (vpn >> (l.PageShift - 12))
                    && Matches(in l, pcid, includeGlobal))
                {
                    l.Tag = 0;
                }
            }
        }
        TlbGeneration++;
    }

    // A global translation is removed only when asked for (INVLPG), whatever PCID it was filled under;
    // INVPCID type 0 keeps globals (SDM Vol. 2A "INVPCID—Invalidate Process-Context Identifier").
    private bool Matches(in TlbEntry e, ushort pcid, bool includeGlobal) =>
        e.Vpid == CurrentVpid && ((e.Perm & TlbEntry.PermGlobal) != 0 ? includeGlobal : e.Pcid == pcid);

    /// <summary>Loads the PAE PDPTE registers from CR3 (SDM Vol. 3A §4.4.1 "PDPTE Registers").</summary>
    internal bool LoadPdptes()
    {
        ulong baseAddr = State.Cr3 & 0xFFFF_FFE0;
        for (int i = 0; i < 4; i++)
        {
            ulong e = Memory.Read(baseAddr + (ulong)(i * 8), 8);
            // Reserved bits 2:1, 8:5 and above MAXPHYADDR must be 0 in a present PDPTE: #GP on load.
            if ((e & 1) != 0 && ((e & 0x1E6) != 0 || (e & ~PhysAddrMask & 0x7FFF_FFFF_FFFF_F000) != 0))
            {
                return false;
            }
            Pdpte[i] = e;
        }
        return true;
    }

    // ------------------------------------------------------------------ translation

    /// <summary>
    /// Translates <paramref name="linear"/> for <paramref name="access"/>, checking permissions for the
    /// current CPL; on failure a #PF is pending and false is returned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SetBase(ulong vpn) => (int)(vpn & (TlbSets - 1)) * TlbWays;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Hits(in TlbEntry e, ulong vpn) =>
        e.Tag == vpn + 1 && (e.Pcid == CurrentPcid || (e.Perm & TlbEntry.PermGlobal) != 0) && e.Vpid == CurrentVpid;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Translate(ulong linear, Access access, out ulong pa, out byte* host)
    {
        ulong vpn = linear >> 12;
        ref TlbEntry e = ref _tlb[SetBase(vpn)];
        if (Hits(in e, vpn) && PermitsFast(e.Perm, access))
        {
            ulong off = linear & 0xFFF;
            pa = e.PhysPage | off;
            host = e.Host == null ? null : e.Host + off;
            return true;
        }
        return TranslateSlow(linear, access, out pa, out host);
    }

    /// <summary>Fast permission test against a TLB entry; anything unusual goes to the full check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool PermitsFast(byte perm, Access access)
    {
        if (State.Cpl == 3 && (access & Access.Implicit) == 0)
        {
            return access switch
            {
                Access.Read => (perm & TlbEntry.PermUser) != 0,
                Access.Write => (perm & (TlbEntry.PermUser | TlbEntry.PermWrite | TlbEntry.PermDirty)) == (TlbEntry.PermUser | TlbEntry.PermWrite | TlbEntry.PermDirty),
                _ => (perm & (TlbEntry.PermUser | TlbEntry.PermNx)) == TlbEntry.PermUser,
            };
        }
        // Supervisor: user pages need the SMAP/SMEP rules; take the full path for them.
        if ((perm & TlbEntry.PermUser) != 0 && (State.Cr4 & (CpuState.Cr4Smap | CpuState.Cr4Smep)) != 0)
        {
            return false;
        }
        return (access & ~Access.Implicit) switch
        {
            Access.Read => true,
            Access.Write => (perm & TlbEntry.PermDirty) != 0 && ((perm & TlbEntry.PermWrite) != 0 || (State.Cr0 & CpuState.Cr0Wp) == 0),
            _ => (perm & TlbEntry.PermNx) == 0,
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TranslateSlow(ulong linear, Access access, out ulong pa, out byte* host)
    {
        host = null;
        ulong vpn = linear >> 12;
        int set = SetBase(vpn);
        ref TlbEntry mru = ref _tlb[set];
        if (Hits(in mru, vpn) && ((access & Access.Write) == 0 || (mru.Perm & TlbEntry.PermDirty) != 0)
            && CheckPermission(mru.Perm, access, out _))
        {
            // Allowed by the full rules (SMAP/SMEP with a user page, EFLAGS.AC, implicit accesses): no walk needed.
            ulong off = linear & 0xFFF;
            pa = mru.PhysPage | off;
            host = mru.Host == null ? null : mru.Host + off;
            return true;
        }
        for (int w = 1; w < TlbWays; w++)
        {
            if (Hits(in _tlb[set + w], vpn))
            {
                // Move the hit to way 0 (most recently used) and retry the fast check there.
                TlbEntry hit = _tlb[set + w];
                Array.Copy(_tlb, set, _tlb, set + 1, w);
                _tlb[set] = hit;
                if (PermitsFast(hit.Perm, access))
                {
                    ulong off = linear & 0xFFF;
                    pa = hit.PhysPage | off;
                    host = hit.Host == null ? null : hit.Host + off;
                    return true;
                }
                break;
            }
        }
        if (!State.PagingEnabled)
        {
            pa = State.LongModeActive ? linear : (uint)linear;
            Fill(linear, pa & ~0xFFFUL, (byte)(TlbEntry.PermUser | TlbEntry.PermWrite | TlbEntry.PermDirty), 12);
            host = DataBreakpoints && DataBreakpointOnPage(linear) ? null : Memory.HostPointer(pa);
            return true;
        }
        if (!Walk(linear, access, out pa, out byte perm, out int shift, out uint err, out ulong leafAddr, out ulong leaf, out int leafSize))
        {
            return RaisePageFault(linear, err);
        }
        if (!CheckPermission(perm, access, out err))
        {
            return RaisePageFault(linear, err);
        }
        // Accessed, and dirty for a write, only once the access is allowed: a refused write is no write
        // (SDM Vol. 3A §4.8 "Accessed and Dirty Flags").
        SetAd(leafAddr, leaf, (access & Access.Write) != 0, leafSize);
        Fill(linear, pa & ~0xFFFUL, perm, shift);
        host = DataBreakpoints && DataBreakpointOnPage(linear) ? null : Memory.HostPointer(pa);
        return true;
    }

    private void Fill(ulong linear, ulong physPage, byte perm, int shift)
    {
        ulong vpn = linear >> 12;
        int set = SetBase(vpn);
        // Replace this context's own entry for the page if there is one, else evict the LRU way.
        int victim = TlbWays - 1;
        for (int w = 0; w < TlbWays; w++)
        {
            if (Hits(in _tlb[set + w], vpn))
            {
                victim = w;
                break;
            }
        }
        Array.Copy(_tlb, set, _tlb, set + 1, victim);
        ref TlbEntry e = ref _tlb[set];
        e.Tag = vpn + 1;
        e.PhysPage = physPage;
        // Pages with a data breakpoint get no host pointer, so their accesses take the checked slow path.
        e.Host = DataBreakpoints && DataBreakpointOnPage(linear) ? null : Memory.HostPointer(physPage);
        e.Pcid = CurrentPcid;
        e.Vpid = CurrentVpid;
        e.Perm = perm;
        e.PageShift = (byte)shift;
        if (shift > 12)
        {
            _tlbHasLarge = true;
        }
    }

    /// <summary>CR2 before the last #PF wrote it: a #PF that causes a VM exit leaves CR2 unchanged (SDM Vol. 3C §28.1 "Architectural State Before a VM Exit").</summary>
    internal ulong Cr2BeforePageFault;

    private bool RaisePageFault(ulong linear, uint error)
    {
        Cr2BeforePageFault = State.Cr2;
        State.Cr2 = linear;
        return Raise(Vectors.PF, error);
    }

    /// <summary>Page-fault error code bits (SDM Vol. 3A §4.7 "Page-Fault Exceptions").</summary>
    private const uint PfPresent = 1, PfWrite = 2, PfUser = 4, PfRsvd = 8, PfFetch = 16;

    private uint AccessErrorBits(Access access)
    {
        uint err = 0;
        if ((access & Access.Write) != 0)
        {
            err |= PfWrite;
        }
        if (State.Cpl == 3 && (access & Access.Implicit) == 0)
        {
            err |= PfUser;
        }
        // I/D is reported only with SMEP or with PAE/4-level paging and EFER.NXE.
        if ((access & Access.Execute) != 0
            && ((State.Cr4 & CpuState.Cr4Smep) != 0 || ((State.Cr4 & CpuState.Cr4Pae) != 0 && (State.Efer & CpuState.EferNxe) != 0)))
        {
            err |= PfFetch;
        }
        return err;
    }

    /// <summary>SDM Vol. 3A §4.6 "Access Rights".</summary>
    private bool CheckPermission(byte perm, Access access, out uint err)
    {
        err = AccessErrorBits(access) | PfPresent;
        bool user = (perm & TlbEntry.PermUser) != 0;
        bool write = (access & Access.Write) != 0;
        bool exec = (access & Access.Execute) != 0;
        if (State.Cpl == 3 && (access & Access.Implicit) == 0)
        {
            if (!user || (write && (perm & TlbEntry.PermWrite) == 0) || (exec && (perm & TlbEntry.PermNx) != 0))
            {
                return false;
            }
            return true;
        }
        if (exec)
        {
            if ((perm & TlbEntry.PermNx) != 0 || (user && (State.Cr4 & CpuState.Cr4Smep) != 0))
            {
                return false;
            }
            return true;
        }
        // SMAP: supervisor data access to a user page faults when CR4.SMAP=1 and (implicit or EFLAGS.AC=0).
        if (user && (State.Cr4 & CpuState.Cr4Smap) != 0
            && ((access & Access.Implicit) != 0 || (State.Rflags & CpuState.FlagAc) == 0))
        {
            return false;
        }
        if (write && (perm & TlbEntry.PermWrite) == 0 && (State.Cr0 & CpuState.Cr0Wp) != 0)
        {
            return false;
        }
        return true;
    }

    /// <summary>
    /// Walks the paging structures, setting accessed bits on the way and the dirty bit on a write.
    /// Returns the accumulated permissions; on a not-present or reserved-bit fault returns the error code.
    /// </summary>
    private bool Walk(ulong linear, Access access, out ulong pa, out byte perm, out int shift, out uint err,
        out ulong leafAddr, out ulong leaf, out int leafSize)
    {
        leafAddr = 0;
        leaf = 0;
        leafSize = 8;
        bool write = (access & Access.Write) != 0;
        bool nxe = (State.Efer & CpuState.EferNxe) != 0;
        ulong rsvdHigh = ~PhysAddrMask & 0x000F_FFFF_FFFF_FFFF & ~0xFFFUL;
        ulong nxBit = 1UL << 63;
        bool user = true, writable = true, nx = false;
        pa = 0;
        perm = 0;
        shift = 12;
        err = AccessErrorBits(access);

        if ((State.Cr4 & CpuState.Cr4Pae) == 0)
        {
            // 32-bit paging (SDM Vol. 3A §4.3).
            ulong pdeAddr = (State.Cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC);
            uint pde = (uint)Memory.Read(pdeAddr, 4);
            if ((pde & 1) == 0)
            {
                return false;
            }
            user &= (pde & 4) != 0;
            writable &= (pde & 2) != 0;
            if ((pde & 0x80) != 0 && (State.Cr4 & CpuState.Cr4Pse) != 0)
            {
                // 4 MiB page; bits 20:13 are physical-address bits 39:32 (PSE-36), bit 21 reserved.
                if ((pde & (1 << 21)) != 0)
                {
                    err |= PfRsvd | PfPresent;
                    return false;
                }
                (leafAddr, leaf, leafSize) = (pdeAddr, pde, 4);
                ulong frame = (pde & 0xFFC0_0000UL) | ((ulong)((pde >> 13) & 0xFF) << 32);
                pa = frame | (linear & 0x3F_FFFF);
                shift = 22;
                perm = MakePerm(user, writable, false, (pde & 0x40) != 0 || write, (pde & 0x100) != 0);
                return true;
            }
            SetAd(pdeAddr, pde, false, 4);
            ulong pteAddr = (pde & 0xFFFF_F000UL) | ((linear >> 10) & 0xFFC);
            uint pte = (uint)Memory.Read(pteAddr, 4);
            if ((pte & 1) == 0)
            {
                return false;
            }
            user &= (pte & 4) != 0;
            writable &= (pte & 2) != 0;
            (leafAddr, leaf, leafSize) = (pteAddr, pte, 4);
            pa = (pte & 0xFFFF_F000UL) | (linear & 0xFFF);
            perm = MakePerm(user, writable, false, (pte & 0x40) != 0 || write, (pte & 0x100) != 0);
            return true;
        }

        ulong rsvdNx = nxe ? 0 : nxBit;
        ulong table;
        int level;
        if (State.LongModeActive)
        {
            table = State.Cr3 & PhysAddrMask & ~0xFFFUL;
            level = 4;
        }
        else
        {
            // PAE paging (SDM Vol. 3A §4.4): the PDPTE comes from the PDPTE registers.
            ulong pdpte = Pdpte[(linear >> 30) & 3];
            if ((pdpte & 1) == 0)
            {
                return false;
            }
            table = pdpte & PhysAddrMask & ~0xFFFUL;
            level = 2;
            linear &= 0xFFFF_FFFF;
        }

        // 4-level paging (SDM Vol. 3A §4.5) and the lower two levels of PAE paging.
        while (true)
        {
            int idxShift = 12 + 9 * (level - 1);
            ulong entryAddr = table | (((linear >> idxShift) & 0x1FF) << 3);
            ulong entry = Memory.Read(entryAddr, 8);
            if ((entry & 1) == 0)
            {
                return false;
            }
            bool large = level > 1 && (entry & 0x80) != 0;
            ulong rsvd = (entry & rsvdHigh) | (entry & rsvdNx);
            if (level == 4 && (entry & 0x80) != 0)
            {
                rsvd |= 0x80; // PS is reserved in a PML4E
            }
            if (large)
            {
                // Large-page frame: bits below the page size except PAT (bit 12) must be 0.
                ulong lowMask = ((1UL << idxShift) - 1) & ~0x1FFFUL;
                rsvd |= entry & lowMask;
                if (level == 3 && !SupportsGbPages)
                {
                    rsvd |= 0x80;
                }
            }
            if (rsvd != 0)
            {
                err |= PfRsvd | PfPresent;
                return false;
            }
            user &= (entry & 4) != 0;
            writable &= (entry & 2) != 0;
            nx |= nxe && (entry & nxBit) != 0;
            if (large || level == 1)
            {
                (leafAddr, leaf, leafSize) = (entryAddr, entry, 8);
                ulong frameMask = PhysAddrMask & ~((1UL << idxShift) - 1);
                pa = (entry & frameMask) | (linear & ((1UL << idxShift) - 1));
                shift = idxShift;
                perm = MakePerm(user, writable, nx, (entry & 0x40) != 0 || write, (entry & 0x100) != 0);
                return true;
            }
            SetAd(entryAddr, entry, false, 8);
            table = entry & PhysAddrMask & ~0xFFFUL;
            level--;
        }
    }

    /// <summary>1 GiB pages (CPUID.80000001H:EDX.Page1GB).</summary>
    internal const bool SupportsGbPages = true;

    private byte MakePerm(bool user, bool writable, bool nx, bool dirty, bool global)
    {
        // The G flag counts only with CR4.PGE=1 (SDM Vol. 3A §4.10.2.4 "Global Pages").
        global &= (State.Cr4 & CpuState.Cr4Pge) != 0;
        byte p = 0;
        if (user)
        {
            p |= TlbEntry.PermUser;
        }
        if (writable)
        {
            p |= TlbEntry.PermWrite;
        }
        if (nx)
        {
            p |= TlbEntry.PermNx;
        }
        if (dirty)
        {
            p |= TlbEntry.PermDirty;
        }
        if (global)
        {
            p |= TlbEntry.PermGlobal;
        }
        return p;
    }

    /// <summary>Sets the accessed bit, and the dirty bit of a final entry on a write (SDM §4.8 "Accessed and Dirty Flags").</summary>
    private void SetAd(ulong entryAddr, ulong entry, bool dirty, int size)
    {
        ulong updated = entry | 0x20 | (dirty ? 0x40UL : 0);
        if (updated != entry)
        {
            Memory.Write(entryAddr, size, updated);
        }
    }
}
