using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>Loading vmcs12's guest state into the CPU on VM entry (the part of KVM's <c>prepare_vmcs02</c> that L2 sees).</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>GUEST_INTERRUPTIBILITY_INFO bits (SDM Vol. 3C §25.4.2 "Guest Non-Register State").</summary>
    internal const uint BlockingBySti = 1u << 0;
    internal const uint BlockingByMovSs = 1u << 1;
    internal const uint BlockingByNmi = 1u << 3;

    /// <summary>GUEST_ACTIVITY_STATE values.</summary>
    internal const uint ActivityActive = 0;
    internal const uint ActivityHlt = 1;

    /// <summary>
    /// SDM Vol. 3C §27.3.2 "Loading Guest State": control registers, debug controls and MSRs (§27.3.2.1), segment
    /// and descriptor-table registers (§27.3.2.2), RIP, RSP and RFLAGS (§27.3.2.3), the PDPTEs (§27.3.2.4), then
    /// §27.3.3 "Loading Guest State: Non-Register State" (activity and interruptibility) and §27.3.4 "Updating
    /// Non-Register State" (no VPID is offered, so every linear mapping goes). The VM-entry MSR-load list and
    /// IA32_PERF_GLOBAL_CTRL are not loaded yet.
    /// </summary>
    private void LoadVmcs12GuestState(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        ReadOnlySpan<byte> vmcs12 = _cachedVmcs12;
        var entry = (VmEntryControls)(uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryControls);
        bool ia32eModeGuest = (entry & VmEntryControls.Ia32eMode) != 0;

        // §27.3.2.1 "Loading Guest Control Registers, Debug Registers, and MSRs": CR0's ET, reserved bits, NW and
        // CD are never modified by VM entry.
        s.Cr0 = (s.Cr0 & Cr0KeptOnExit) | (Vmcs12Layout.Read(vmcs12, VmcsField.GuestCr0) & ~Cr0KeptOnExit);
        s.Cr3 = Vmcs12Layout.Read(vmcs12, VmcsField.GuestCr3);
        s.Cr4 = Vmcs12Layout.Read(vmcs12, VmcsField.GuestCr4);
        if ((entry & VmEntryControls.LoadDebugControls) != 0)
        {
            s.Dr[7] = Vmcs12Layout.Read(vmcs12, VmcsField.GuestDr7);
            s.DebugCtl = Vmcs12Layout.Read(vmcs12, VmcsField.GuestIa32Debugctl);
        }

        s.SysenterCs = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.GuestSysenterCs);
        s.SysenterEsp = Vmcs12Layout.Read(vmcs12, VmcsField.GuestSysenterEsp);
        s.SysenterEip = Vmcs12Layout.Read(vmcs12, VmcsField.GuestSysenterEip);
        if ((entry & VmEntryControls.LoadIa32Pat) != 0)
        {
            s.Pat = Vmcs12Layout.Read(vmcs12, VmcsField.GuestIa32Pat);
        }

        if ((entry & VmEntryControls.LoadIa32Efer) != 0)
        {
            s.Efer = Vmcs12Layout.Read(vmcs12, VmcsField.GuestIa32Efer);
        }
        else
        {
            // "IA32_EFER.LMA is loaded with the setting of the "IA-32e mode guest" VM-entry control"; LME too when
            // CR0.PG is 1, else LME is unmodified.
            s.Efer = ia32eModeGuest ? s.Efer | CpuState.EferLma : s.Efer & ~CpuState.EferLma;
            if ((s.Cr0 & CpuState.Cr0Pg) != 0)
            {
                s.Efer = ia32eModeGuest ? s.Efer | CpuState.EferLme : s.Efer & ~CpuState.EferLme;
            }
        }

        // §27.3.2.2 "Loading Guest Segment Registers and Descriptor-Table Registers": all of ES…GS, LDTR, TR from
        // the guest-state area, access rights in the VMX format (bit 16 = unusable) as the register file keeps them.
        for (int i = 0; i <= (int)SegReg.Tr; i++)
        {
            ref Segment seg = ref s.Seg[i];
            int step = 2 * i;
            seg.Selector = (ushort)Vmcs12Layout.Read(vmcs12, (VmcsField)((int)VmcsField.GuestEsSelector + step));
            seg.Base = Vmcs12Layout.Read(vmcs12, (VmcsField)((int)VmcsField.GuestEsBase + step));
            seg.Limit = (uint)Vmcs12Layout.Read(vmcs12, (VmcsField)((int)VmcsField.GuestEsLimit + step));
            seg.Attr = (uint)Vmcs12Layout.Read(vmcs12, (VmcsField)((int)VmcsField.GuestEsArBytes + step)) & GuestArMask;
        }

        s.Gdtr.Base = Vmcs12Layout.Read(vmcs12, VmcsField.GuestGdtrBase);
        s.Gdtr.Limit = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.GuestGdtrLimit);
        s.Idtr.Base = Vmcs12Layout.Read(vmcs12, VmcsField.GuestIdtrBase);
        s.Idtr.Limit = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.GuestIdtrLimit);

        // "the CPL is the DPL of SS" (the SS DPL is kept even when SS is unusable).
        s.Cpl = s.Seg[(int)SegReg.Ss].Dpl;

        // §27.3.2.3 "Loading Guest RIP, RSP, and RFLAGS". RIP goes through NextRip, which the interpreter commits
        // when VMLAUNCH/VMRESUME returns; RFLAGS is the guest's, not VMsucceed's.
        s.Gpr[4] = Vmcs12Layout.Read(vmcs12, VmcsField.GuestRsp);
        cpu.NextRip = Vmcs12Layout.Read(vmcs12, VmcsField.GuestRip);
        s.SetRflags(Vmcs12Layout.Read(vmcs12, VmcsField.GuestRflags));

        // §27.3.2.4 "Loading Page-Directory-Pointer-Table Entries": without EPT, from guest CR3 (the checks of
        // §27.3.1.6 already read them, so this load does not fail).
        if (!ia32eModeGuest && (s.Cr0 & CpuState.Cr0Pg) != 0 && (s.Cr4 & CpuState.Cr4Pae) != 0)
        {
            cpu.LoadPdptes();
        }

        // §27.3.3 "Loading Guest State: Non-Register State": the activity state (active or HLT; the checks refuse
        // the others) and the interruptibility state. Blocking by STI or MOV SS covers the first L2 instruction.
        cpu.Halted = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.GuestActivityState) == ActivityHlt;
        uint interruptibility = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.GuestInterruptibilityInfo);
        cpu.InterruptShadow = false;
        cpu.ShadowArmed = (interruptibility & (BlockingBySti | BlockingByMovSs)) != 0;
        cpu.NmiBlocked = (interruptibility & BlockingByNmi) != 0;

        // §27.3.4 "Updating Non-Register State": no VPID, so the entry invalidates every linear mapping.
        cpu.FlushTlbAll();
        cpu.InvalidateFetch();
        cpu.Notify();
    }

    /// <summary>Access-rights bits the register file keeps: 3:0, 4, 6:5, 7, 12, 13, 14, 15 and unusable 16.</summary>
    private const uint GuestArMask = 0x1_F0FF;
}
