using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>Loading vmcs12's host state into the CPU on a VM exit to L1 (KVM's <c>load_vmcs12_host_state</c>).</summary>
internal sealed partial class VcpuVmx
{
    /// <summary>CR0 bits a VM exit never modifies: ET, reserved 15:6, 17, 28:19, NW and CD (SDM Vol. 3C §28.5.1).</summary>
    private const ulong Cr0KeptOnExit = CpuState.Cr0Et | 0xFFC0 | (1UL << 17) | 0x1FF8_0000 | CpuState.Cr0Nw | CpuState.Cr0Cd;

    private const uint HostCodeAttr = Segment.AttrP | Segment.AttrS | 0xB | Segment.AttrG;
    private const uint HostDataAttr = Segment.AttrP | Segment.AttrS | 0x3 | Segment.AttrG | Segment.AttrDb;

    /// <summary>Busy 32-bit/64-bit TSS, present, byte granular (SDM Vol. 3C §28.5.2).</summary>
    private const uint HostTrAttr = Segment.AttrP | 0xB;

    /// <summary>VMX-abort indicator 2: "Host checking of the page-directory-pointer-table entries (PDPTEs) failed" (SDM Vol. 3C §28.7 "VMX Aborts").</summary>
    private const uint VmxAbortHostPdpte = 2;

    /// <summary>
    /// SDM Vol. 3C §28.5 "Loading Host State": control registers, debug registers and MSRs (§28.5.1), segment and
    /// descriptor-table registers (§28.5.2), RIP, RSP and RFLAGS (§28.5.3), the host PDPTEs (§28.5.4) and the TLB
    /// (no VPID is offered, so every translation goes). The VM-exit MSR-load list (§28.6) is not processed yet.
    /// </summary>
    internal void LoadVmcs12HostState(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        ReadOnlySpan<byte> vmcs12 = _cachedVmcs12;
        var exit = (VmExitControls)(uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmExitControls);
        bool hostAddressSpaceSize = (exit & VmExitControls.HostAddrSpaceSize) != 0;

        // SDM Vol. 3C §28.5.1 "Loading Host Control Registers, Debug Registers, MSRs".
        s.Cr0 = (s.Cr0 & Cr0KeptOnExit) | (Vmcs12Layout.Read(vmcs12, VmcsField.HostCr0) & ~Cr0KeptOnExit);
        s.Cr3 = Vmcs12Layout.Read(vmcs12, VmcsField.HostCr3);
        ulong cr4 = Vmcs12Layout.Read(vmcs12, VmcsField.HostCr4);
        s.Cr4 = hostAddressSpaceSize ? cr4 | CpuState.Cr4Pae : cr4 & ~CpuState.Cr4Pcide;
        s.Dr[7] = 0x400;
        s.DebugCtl = 0;
        s.SysenterCs = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.HostIa32SysenterCs);
        ulong sysenterEsp = Vmcs12Layout.Read(vmcs12, VmcsField.HostIa32SysenterEsp);
        ulong sysenterEip = Vmcs12Layout.Read(vmcs12, VmcsField.HostIa32SysenterEip);
        s.SysenterEsp = hostAddressSpaceSize ? sysenterEsp : (uint)sysenterEsp;
        s.SysenterEip = hostAddressSpaceSize ? sysenterEip : (uint)sysenterEip;
        if ((exit & VmExitControls.LoadIa32Pat) != 0)
        {
            s.Pat = Vmcs12Layout.Read(vmcs12, VmcsField.HostIa32Pat);
        }

        if ((exit & VmExitControls.LoadIa32Efer) != 0)
        {
            s.Efer = Vmcs12Layout.Read(vmcs12, VmcsField.HostIa32Efer);
        }
        else
        {
            // "IA32_EFER.LME and IA32_EFER.LMA are loaded with the setting of the host address-space size control".
            const ulong lmeLma = CpuState.EferLme | CpuState.EferLma;
            s.Efer = (s.Efer & ~lmeLma) | (hostAddressSpaceSize ? lmeLma : 0);
        }

        // SDM Vol. 3C §28.5.2 "Loading Host Segment and Descriptor-Table Registers": flat ring-0 segments, the
        // data ones unusable when their selector is null; LDTR unusable; GDTR/IDTR limits FFFFH.
        LoadHostSegment(ref s.Seg[(int)SegReg.Cs], Vmcs12Layout.Read(vmcs12, VmcsField.HostCsSelector), 0,
            HostCodeAttr | (hostAddressSpaceSize ? Segment.AttrL : Segment.AttrDb), nullUnusable: false);
        LoadHostSegment(ref s.Seg[(int)SegReg.Ss], Vmcs12Layout.Read(vmcs12, VmcsField.HostSsSelector), 0, HostDataAttr, nullUnusable: true);
        LoadHostSegment(ref s.Seg[(int)SegReg.Ds], Vmcs12Layout.Read(vmcs12, VmcsField.HostDsSelector), 0, HostDataAttr, nullUnusable: true);
        LoadHostSegment(ref s.Seg[(int)SegReg.Es], Vmcs12Layout.Read(vmcs12, VmcsField.HostEsSelector), 0, HostDataAttr, nullUnusable: true);
        LoadHostSegment(ref s.Seg[(int)SegReg.Fs], Vmcs12Layout.Read(vmcs12, VmcsField.HostFsSelector),
            Vmcs12Layout.Read(vmcs12, VmcsField.HostFsBase), HostDataAttr, nullUnusable: true);
        LoadHostSegment(ref s.Seg[(int)SegReg.Gs], Vmcs12Layout.Read(vmcs12, VmcsField.HostGsSelector),
            Vmcs12Layout.Read(vmcs12, VmcsField.HostGsBase), HostDataAttr, nullUnusable: true);
        ref Segment tr = ref s.Seg[(int)SegReg.Tr];
        tr.Selector = (ushort)Vmcs12Layout.Read(vmcs12, VmcsField.HostTrSelector);
        tr.Base = Vmcs12Layout.Read(vmcs12, VmcsField.HostTrBase);
        tr.Limit = 0x67;
        tr.Attr = HostTrAttr;
        ref Segment ldtr = ref s.Seg[(int)SegReg.Ldtr];
        ldtr.Selector = 0;
        ldtr.Attr = Segment.AttrUnusable;
        s.Gdtr.Base = Vmcs12Layout.Read(vmcs12, VmcsField.HostGdtrBase);
        s.Gdtr.Limit = 0xFFFF;
        s.Idtr.Base = Vmcs12Layout.Read(vmcs12, VmcsField.HostIdtrBase);
        s.Idtr.Limit = 0xFFFF;
        s.Cpl = 0;

        // SDM Vol. 3C §28.5.3 "Loading Host RIP, RSP, and RFLAGS": RFLAGS is 2, all flags clear. RIP goes through
        // NextRip, which the interpreter commits when the VMX instruction returns.
        s.Gpr[4] = Vmcs12Layout.Read(vmcs12, VmcsField.HostRsp);
        cpu.NextRip = Vmcs12Layout.Read(vmcs12, VmcsField.HostRip);
        s.SetRflags(2);

        // SDM Vol. 3C §28.5.5 "Updating Non-Register State": without VPIDs every linear mapping is invalidated.
        cpu.FlushTlbAll();
        cpu.InvalidateFetch();
        cpu.Notify();

        // SDM Vol. 3C §28.5.4 "Checking and Loading Host Page-Directory-Pointer-Table Entries": PAE paging outside
        // IA-32e mode loads the PDPTEs from the new CR3; a bad one is a VMX abort.
        if (!hostAddressSpaceSize && (s.Cr0 & CpuState.Cr0Pg) != 0 && (s.Cr4 & CpuState.Cr4Pae) != 0 && !cpu.LoadPdptes())
        {
            VmxAbort(cpu, VmxAbortHostPdpte);
        }
    }

    private static void LoadHostSegment(ref Segment seg, ulong selector, ulong segmentBase, uint attr, bool nullUnusable)
    {
        seg.Selector = (ushort)selector;
        seg.Base = segmentBase;
        seg.Limit = 0xFFFF_FFFF;
        seg.Attr = nullUnusable && selector == 0 ? attr | Segment.AttrUnusable : attr;
    }

    /// <summary>
    /// SDM Vol. 3C §28.7 "VMX Aborts": the indicator goes into the VMCS region's abort dword and the logical
    /// processor enters the shutdown state.
    /// </summary>
    private void VmxAbort(Vcpu cpu, uint indicator)
    {
        VmcsFieldAccessor.Write(_cachedVmcs12, Vmcs12Layout.AbortOffset, VmcsFieldWidth.U32, indicator);
        cpu.Memory.Write(CurrentVmptr + Vmcs12Layout.AbortOffset, sizeof(uint), indicator);
        cpu.RequestStop(StopReason.TripleFault, "VMX abort");
    }
}
