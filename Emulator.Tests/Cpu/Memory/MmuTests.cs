using Emulator.Cpu;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Tests.Cpu.Memory;

/// <summary>Paging walks, permissions, A/D bits and the TLB's invalidation rules (SDM Vol. 3A chapter 4).</summary>
public class MmuTests
{
    private const ulong Pml4 = 0x100000, Pdpt = 0x101000, Pd = 0x102000, Pt = 0x103000;
    private const ulong FrameA = 0x400000, FrameB = 0x401000;
    private const ulong Va = 0x4000_0000; // PML4[0] PDPT[1] PD[0] PT[0]

    private static CpuHarness LongModeWithPt(ulong pteFlags = 7)
    {
        var h = new CpuHarness(CpuMode.Long64);
        PhysicalMemory m = h.Memory;
        // Keep the harness's identity map for the first GiB in PDPT[0]; add PDPT[1] -> our PD -> PT.
        ulong harnessPdpt = m.Read(CpuHarness.PageTables, 8) & ~0xFFFUL;
        m.Write(harnessPdpt + 8, 8, Pd | 7);
        m.Write(Pd, 8, Pt | 7);
        m.Write(Pt, 8, FrameA | pteFlags);
        m.Write(FrameA, 8, 0xAAAA);
        m.Write(FrameB, 8, 0xBBBB);
        h.Cpu.FlushTlbAll();
        return h;
    }

    private static ulong Read(CpuHarness h, ulong va)
    {
        Assert.That(h.Cpu.ReadLinear(va, 8, Access.Read, out ulong v), Is.True, $"fault {h.Cpu.FaultVector} error {h.Cpu.FaultError:X}");
        return v;
    }

    private static uint FaultOn(CpuHarness h, ulong va, Access access)
    {
        bool ok = access == Access.Write
            ? h.Cpu.WriteLinear(va, 8, 1, Access.Write)
            : h.Cpu.ReadLinear(va, 8, access, out _);
        Assert.That(ok, Is.False, "expected #PF");
        Assert.That(h.Cpu.FaultVector, Is.EqualTo(14));
        Assert.That(h.Cpu.State.Cr2, Is.EqualTo(va));
        h.Cpu.FaultPending = false;
        return h.Cpu.FaultError;
    }

    [Test]
    public void Walk_FourLevel_TranslatesAndSetsAccessed()
    {
        using CpuHarness h = LongModeWithPt();
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA));
        Assert.That(h.Memory.Read(Pt, 8) & 0x60, Is.EqualTo(0x20), "A set, D clear after a read");
        Assert.That(h.Memory.Read(Pd, 8) & 0x20, Is.EqualTo(0x20));
    }

    [Test]
    public void Write_SetsDirty_EvenWhenTlbHoldsCleanEntry()
    {
        using CpuHarness h = LongModeWithPt();
        Read(h, Va);
        Assert.That(h.Cpu.WriteLinear(Va, 8, 0x1234, Access.Write), Is.True);
        Assert.That(h.Memory.Read(Pt, 8) & 0x40, Is.EqualTo(0x40));
        Assert.That(h.Memory.Read(FrameA, 8), Is.EqualTo(0x1234));
    }

    [Test]
    public void NotPresent_ErrorCodeZero_ReadAndWrite()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 6);
        Assert.That(FaultOn(h, Va, Access.Read), Is.EqualTo(0u));
        Assert.That(FaultOn(h, Va, Access.Write), Is.EqualTo(2u));
    }

    [Test]
    public void ReadOnly_SupervisorWrite_FaultsOnlyWithWp()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 5);
        Assert.That(FaultOn(h, Va, Access.Write), Is.EqualTo(3u), "P|W");
        h.Cpu.State.Cr0 &= ~CpuState.Cr0Wp;
        Assert.That(h.Cpu.WriteLinear(Va, 8, 7, Access.Write), Is.True, "CR0.WP=0 lets the supervisor write");
    }

    [Test]
    public void UserAccess_ToSupervisorPage_FaultsWithUserBit()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 3);
        h.Cpu.State.Cpl = 3;
        Assert.That(FaultOn(h, Va, Access.Read), Is.EqualTo(5u), "P|U");
    }

    [Test]
    public void NxPage_Fetch_FaultsWithInstructionBit()
    {
        using CpuHarness h = LongModeWithPt();
        h.Memory.Write(Pt, 8, FrameA | 3 | (1UL << 63));
        h.Cpu.FlushTlbAll();
        Assert.That(FaultOn(h, Va, Access.Execute), Is.EqualTo(0x11u), "P|I/D");
    }

    [Test]
    public void NxBit_WithoutEferNxe_IsReserved()
    {
        using CpuHarness h = LongModeWithPt();
        h.Cpu.State.Efer &= ~CpuState.EferNxe;
        h.Memory.Write(Pt, 8, FrameA | 3 | (1UL << 63));
        h.Cpu.FlushTlbAll();
        Assert.That(FaultOn(h, Va, Access.Read), Is.EqualTo(9u), "P|RSVD");
    }

    [Test]
    public void Smep_SupervisorFetchFromUserPage_Faults()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 7);
        h.Cpu.State.Cr4 |= CpuState.Cr4Smep;
        Assert.That(FaultOn(h, Va, Access.Execute), Is.EqualTo(0x11u));
    }

    [Test]
    public void Smap_SupervisorReadOfUserPage_FaultsUnlessAc()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 7);
        h.Cpu.State.Cr4 |= CpuState.Cr4Smap;
        Assert.That(FaultOn(h, Va, Access.Read), Is.EqualTo(1u));
        h.Cpu.State.Rflags |= CpuState.FlagAc;
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA));
        Assert.That(FaultOn(h, Va, Access.Read | Access.Implicit), Is.EqualTo(1u), "implicit accesses ignore AC");
    }

    [Test]
    public void ChangedPte_WithoutFlush_StaysStale_UntilInvlpg()
    {
        using CpuHarness h = LongModeWithPt();
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA));
        h.Memory.Write(Pt, 8, FrameB | 7);
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA), "the TLB keeps the old translation");
        h.Cpu.FlushTlbPage(Va, h.Cpu.CurrentPcid, includeGlobal: true);
        Assert.That(Read(h, Va), Is.EqualTo(0xBBBB));
    }

    [Test]
    public void GlobalEntry_SurvivesPcidFlush_NotFullFlush()
    {
        using CpuHarness h = LongModeWithPt();
        h.Cpu.State.Cr4 |= CpuState.Cr4Pge;
        h.Memory.Write(Pt, 8, FrameA | 7 | 0x100);
        h.Cpu.FlushTlbAll();
        Read(h, Va);
        h.Memory.Write(Pt, 8, FrameB | 7 | 0x100);
        h.Cpu.FlushTlbPcid(0);
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA), "MOV CR3 keeps global translations");
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, Va), Is.EqualTo(0xBBBB));
    }

    [Test]
    public void GlobalBit_WithoutPge_IsFlushedByPcidFlush()
    {
        using CpuHarness h = LongModeWithPt();
        h.Memory.Write(Pt, 8, FrameA | 7 | 0x100);
        h.Cpu.FlushTlbAll();
        Read(h, Va);
        h.Memory.Write(Pt, 8, FrameB | 7 | 0x100);
        h.Cpu.FlushTlbPcid(0);
        Assert.That(Read(h, Va), Is.EqualTo(0xBBBB));
    }

    [Test]
    public void Pcid_EntriesOfOtherPcid_SurviveAndAreNotUsed()
    {
        using CpuHarness h = LongModeWithPt();
        h.Cpu.State.Cr4 |= CpuState.Cr4Pcide;
        h.Cpu.State.Cr3 = CpuHarness.PageTables | 1;
        Read(h, Va);
        h.Memory.Write(Pt, 8, FrameB | 7);
        h.Cpu.State.Cr3 = CpuHarness.PageTables | 2;
        Assert.That(Read(h, Va), Is.EqualTo(0xBBBB), "PCID 2 has no entry yet: fresh walk");
        h.Cpu.State.Cr3 = CpuHarness.PageTables | 1;
        Assert.That(Read(h, Va), Is.EqualTo(0xAAAA), "PCID 1's entry was retained");
        h.Cpu.FlushTlbPcid(1);
        Assert.That(Read(h, Va), Is.EqualTo(0xBBBB));
    }

    [Test]
    public void Invlpg_OnAnyAddressOfLargePage_RemovesWholePage()
    {
        using CpuHarness h = LongModeWithPt();
        // 2 MiB page at 0x4020_0000 -> 0x400000 (PD[1]).
        const ulong Large = 0x4020_0000;
        h.Memory.Write(Pd + 8, 8, 0x800000 | 0x87);
        h.Memory.Write(0x800000 + 0x5000, 8, 0x1111);
        h.Memory.Write(0xA00000 + 0x5000, 8, 0x2222);
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, Large + 0x5000), Is.EqualTo(0x1111));
        h.Memory.Write(Pd + 8, 8, 0xA00000 | 0x87);
        h.Cpu.FlushTlbPage(Large + 0x1F_0000, 0, includeGlobal: true);
        Assert.That(Read(h, Large + 0x5000), Is.EqualTo(0x2222));
    }

    [Test]
    public void OneGigabytePage_Translates()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        ulong pdpt = h.Memory.Read(CpuHarness.PageTables, 8) & ~0xFFFUL;
        h.Memory.Write(pdpt + 2 * 8, 8, 0x87); // 0x8000_0000 -> physical 0 (1 GiB page)
        h.Memory.Write(0x5000, 8, 0x5555);
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, 0x8000_5000), Is.EqualTo(0x5555));
    }

    [Test]
    public void ReservedPhysicalBits_InPte_FaultWithRsvd()
    {
        using CpuHarness h = LongModeWithPt();
        h.Memory.Write(Pt, 8, FrameA | 7 | (1UL << 45));
        h.Cpu.FlushTlbAll();
        Assert.That(FaultOn(h, Va, Access.Read), Is.EqualTo(9u));
    }

    [Test]
    public void ThirtyTwoBitPaging_4KAnd4MPages()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        const ulong Pd32 = 0x300000, Pt32 = 0x301000;
        h.Memory.Write(Pd32, 4, Pt32 | 7);                 // 0-4M via PT
        h.Memory.Write(Pt32 + 0x10 * 4, 4, FrameA | 7);     // 0x10000 -> FrameA
        h.Memory.Write(FrameA, 8, 0xAAAA);
        h.Memory.Write(Pd32 + 4, 4, 0x800000 | 0x87);       // 4M-8M -> 8M (4 MiB page)
        h.Memory.Write(0x800000 + 0x123000, 8, 0x4444);
        h.Cpu.State.Cr3 = Pd32;
        h.Cpu.State.Cr4 |= CpuState.Cr4Pse;
        h.Cpu.State.Cr0 |= CpuState.Cr0Pg;
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, 0x10000), Is.EqualTo(0xAAAA));
        Assert.That(Read(h, 0x523000), Is.EqualTo(0x4444));
    }

    [Test]
    public void PaePaging_UsesPdpteRegisters()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        const ulong Pdpt32 = 0x300000, Pd32 = 0x301000;
        h.Memory.Write(Pdpt32, 8, Pd32 | 1);
        h.Memory.Write(Pd32, 8, 0x0 | 0x87);                // 0-2M identity
        h.Memory.Write(Pd32 + 8, 8, FrameA | 0x87); // 2M-4M -> FrameA (4M)
        h.Memory.Write(FrameA, 8, 0xAAAA);
        h.Cpu.State.Cr3 = Pdpt32;
        h.Cpu.State.Cr4 |= CpuState.Cr4Pae;
        h.Cpu.State.Cr0 |= CpuState.Cr0Pg;
        Assert.That(h.Cpu.LoadPdptes(), Is.True);
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, 0x200000), Is.EqualTo(0xAAAA));
        // Changing the PDPTE in memory has no effect until the registers are reloaded.
        h.Memory.Write(Pdpt32, 8, 0);
        h.Cpu.FlushTlbAll();
        Assert.That(Read(h, 0x200000), Is.EqualTo(0xAAAA));
    }

    [Test]
    public void CrossPageAccess_FaultsOnSecondPage_WithItsAddress()
    {
        using CpuHarness h = LongModeWithPt();
        // Va+0x1000 is PT[1]: not present.
        Assert.That(h.Cpu.ReadLinear(Va + 0xFFC, 8, Access.Read, out _), Is.False);
        Assert.That(h.Cpu.State.Cr2, Is.EqualTo(Va + 0x1000));
    }

    [Test]
    public void FaultingWrite_LeavesDirtyBitClear()
    {
        using CpuHarness h = LongModeWithPt(pteFlags: 5); // present, user, read-only
        FaultOn(h, Va, Access.Write);
        Assert.That(h.Memory.Read(Pt, 8) & 0x40, Is.Zero, "a refused write is no write (SDM §4.8)");
    }
}
