using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Writes to CR0, CR3, CR4 with the #GP rules of SDM Vol. 2A "MOV—Move to/from Control Registers" and
/// Vol. 3A §2.5 "Control Registers", the IA-32e mode transitions of §10.8.5 "Initializing IA-32e Mode",
/// PAE PDPTE loading (§4.4.1 "PDPTE Registers") and the TLB effects of §4.10.4.1 "Operations that
/// Invalidate TLBs and Paging-Structure Caches". Each returns false (nothing changed) for #GP(0).
/// </summary>
public sealed partial class Vcpu
{
    /// <summary>CR0 bits that exist: PE MP EM TS ET NE WP AM NW CD PG. Other bits of 31:0 are ignored on write.</summary>
    internal const ulong Cr0Defined = CpuState.Cr0Pe | CpuState.Cr0Mp | CpuState.Cr0Em | CpuState.Cr0Ts | CpuState.Cr0Et
        | CpuState.Cr0Ne | CpuState.Cr0Wp | CpuState.Cr0Am | CpuState.Cr0Nw | CpuState.Cr0Cd | CpuState.Cr0Pg;

    /// <summary>CR4 bits this processor supports (the rest are reserved: #GP on set).</summary>
    internal ulong Cr4Supported
    {
        get
        {
            ulong v = CpuState.Cr4Tsd | CpuState.Cr4De | CpuState.Cr4Pse | CpuState.Cr4Pae | CpuState.Cr4Mce
                | CpuState.Cr4Pge | CpuState.Cr4Pce | CpuState.Cr4Osfxsr | CpuState.Cr4Osxmmexcpt | CpuState.Cr4Umip
                | CpuState.Cr4Fsgsbase | CpuState.Cr4Pcide | CpuState.Cr4Smep;
            CpuidFeatures f = CpuidFeatures.Instance;
            if (f.Xsave)
            {
                v |= CpuState.Cr4Osxsave;
            }
            if (f.Smap)
            {
                v |= CpuState.Cr4Smap;
            }
            if (VmxSupported)
            {
                v |= CpuState.Cr4Vmxe;
            }
            return v;
        }
    }

    private const ulong PhysAddrMaskCr = (1UL << MaxPhysAddrBits) - 1;

    /// <summary>PAE paging without IA-32e mode: the PDPTE registers are in use.</summary>
    private static bool IsPaePaging(ulong cr0, ulong cr4, ulong efer) =>
        (cr0 & CpuState.Cr0Pg) != 0 && (cr4 & CpuState.Cr4Pae) != 0 && (efer & CpuState.EferLma) == 0;

    /// <summary>Loads the PDPTEs for a tentative CR0/CR3/CR4; on a bad PDPTE everything is put back.</summary>
    private bool TryLoadPdptes(ulong cr3)
    {
        ulong oldCr3 = State.Cr3;
        Span<ulong> saved = stackalloc ulong[4];
        Pdpte.AsSpan().CopyTo(saved);
        State.Cr3 = cr3;
        bool ok = LoadPdptes();
        State.Cr3 = oldCr3;
        if (!ok)
        {
            saved.CopyTo(Pdpte);
        }
        return ok;
    }

    internal bool WriteCr0(ulong value)
    {
        ref CpuState s = ref State;
        if ((value >> 32) != 0)
        {
            return false;
        }
        value = (value & Cr0Defined) | CpuState.Cr0Et;
        ulong old = s.Cr0;
        if ((value & CpuState.Cr0Pg) != 0 && (value & CpuState.Cr0Pe) == 0)
        {
            return false;
        }
        if ((value & CpuState.Cr0Nw) != 0 && (value & CpuState.Cr0Cd) == 0)
        {
            return false;
        }
        if (Vmx is { } vmx && !vmx.IsControlRegisterValueAllowed(this, 0, value))
        {
            return false;
        }
        bool pagingOn = (old & CpuState.Cr0Pg) == 0 && (value & CpuState.Cr0Pg) != 0;
        bool pagingOff = (old & CpuState.Cr0Pg) != 0 && (value & CpuState.Cr0Pg) == 0;
        ulong efer = s.Efer;
        if (pagingOn && (efer & CpuState.EferLme) != 0)
        {
            // Activating IA-32e mode needs PAE and a CS that is not already 64-bit.
            if ((s.Cr4 & CpuState.Cr4Pae) == 0 || s.Seg[(int)SegReg.Cs].Long)
            {
                return false;
            }
            efer |= CpuState.EferLma;
        }
        if (pagingOff)
        {
            // Paging cannot be turned off from 64-bit mode or with PCIDs enabled.
            if (s.Is64 || (s.Cr4 & CpuState.Cr4Pcide) != 0)
            {
                return false;
            }
            efer &= ~CpuState.EferLma;
        }
        bool pdptesNeeded = IsPaePaging(value, s.Cr4, efer)
            && (pagingOn || ((old ^ value) & (CpuState.Cr0Cd | CpuState.Cr0Nw)) != 0);
        if (pdptesNeeded && !TryLoadPdptes(s.Cr3))
        {
            return false;
        }
        s.Cr0 = value;
        s.Efer = efer;
        if (((old ^ value) & CpuState.Cr0Pg) != 0)
        {
            FlushTlbAll();
        }
        InvalidateFetch();
        return true;
    }

    internal bool WriteCr3(ulong value)
    {
        ref CpuState s = ref State;
        bool pcide = (s.Cr4 & CpuState.Cr4Pcide) != 0;
        bool noFlush = false;
        if (pcide)
        {
            // Bit 63 asks to keep the new PCID's cached translations; it is not stored.
            noFlush = (value >> 63) != 0;
            value &= ~(1UL << 63);
        }
        if (s.LongModeActive)
        {
            if ((value & ~PhysAddrMaskCr) != 0)
            {
                return false;
            }
        }
        else
        {
            value = (uint)value;
        }
        if (IsPaePaging(s.Cr0, s.Cr4, s.Efer) && !TryLoadPdptes(value))
        {
            return false;
        }
        s.Cr3 = value;
        if (!pcide)
        {
            FlushTlbPcid(0);
        }
        else if (!noFlush)
        {
            FlushTlbPcid(CurrentPcid);
        }
        InvalidateFetch();
        return true;
    }

    internal bool WriteCr4(ulong value)
    {
        ref CpuState s = ref State;
        ulong old = s.Cr4;
        if ((value & ~Cr4Supported) != 0)
        {
            return false;
        }
        if (s.LongModeActive && (value & CpuState.Cr4Pae) == 0)
        {
            return false;
        }
        if (Vmx is { } vmx && !vmx.IsControlRegisterValueAllowed(this, 4, value))
        {
            return false;
        }
        if ((old & CpuState.Cr4Pcide) == 0 && (value & CpuState.Cr4Pcide) != 0
            && (!s.LongModeActive || (s.Cr3 & 0xFFF) != 0))
        {
            return false;
        }
        const ulong pdpteBits = CpuState.Cr4Pae | CpuState.Cr4Pge | CpuState.Cr4Pse | CpuState.Cr4Smep;
        if (IsPaePaging(s.Cr0, value, s.Efer) && ((old ^ value) & pdpteBits) != 0 && !TryLoadPdptes(s.Cr3))
        {
            return false;
        }
        s.Cr4 = value;
        ulong changed = old ^ value;
        if ((changed & (CpuState.Cr4Pge | CpuState.Cr4Pae | CpuState.Cr4Pse)) != 0
            || ((old & CpuState.Cr4Pcide) != 0 && (value & CpuState.Cr4Pcide) == 0)
            || ((value & CpuState.Cr4Smep) != 0 && (old & CpuState.Cr4Smep) == 0))
        {
            // Toggling PGE, PAE or PSE, clearing PCIDE or setting SMEP: every entry, globals included.
            FlushTlbAll();
        }
        if ((changed & CpuState.Cr4De) != 0)
        {
            UpdateBreakpoints();
        }
        InvalidateFetch();
        return true;
    }

    /// <summary>CR8 (SDM Vol. 3A §12.8.6 "Task Priority in IA-32e Mode"): bits 63:4 are reserved.</summary>
    internal bool WriteCr8(ulong value)
    {
        if ((value & ~0xFUL) != 0)
        {
            return false;
        }
        Tpr = (byte)value;
        Notify();
        return true;
    }
}
