using System.Runtime.CompilerServices;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>
/// A VM exit from L2 to L1 (KVM's <c>nested_vmx_vmexit</c>): the exit information and L2's state go into vmcs12,
/// then vmcs12's host state is loaded (SDM Vol. 3C chapter "VM Exits").
/// </summary>
internal sealed partial class VcpuVmx
{
    /// <summary>Bit 31 of an interruption-information field: valid (SDM Vol. 3C §25.8.3 "VM-Entry Controls for Event Injection").</summary>
    private const uint IntrInfoValid = 1u << 31;

    /// <summary>VM exits of this vCPU since it was created: for tests, the trace and the benchmark.</summary>
    internal long NestedVmExitCount { get; private set; }

    /// <summary>
    /// SDM Vol. 3C §28.2 "Recording VM-Exit Information and Updating VM-Entry Control Fields", §28.3 "Saving Guest
    /// State", §28.5 "Loading Host State". <paramref name="instructionLength"/> is for exits caused by an
    /// instruction (0 otherwise); <paramref name="instructionInfo"/> is VMX_INSTRUCTION_INFO where the SDM defines
    /// it. IDT-vectoring information is the event being delivered when an exception raised during its delivery
    /// exits; the VM-exit MSR-store and MSR-load lists are not processed yet.
    /// </summary>
    internal void NestedVmExit(Vcpu cpu, ExitReason reason, ulong qualification, uint instructionLength = 0, uint instructionInfo = 0,
        uint interruptionInfo = 0, uint interruptionError = 0)
    {
        Span<byte> vmcs12 = _cachedVmcs12;
        SyncVmcs02ToVmcs12(cpu);

        // §28.2.1 "Basic VM-Exit Information": the full 32 bits, modifier bits included.
        Vmcs12Layout.Write(vmcs12, VmcsField.VmExitReason, reason.Full);
        Vmcs12Layout.Write(vmcs12, VmcsField.ExitQualification, qualification);

        // §28.2.2 "Information for VM Exits Due to Vectored Events" (exception-bitmap exits; otherwise invalid),
        // §28.2.3 "Information About NMI Unblocking Due to IRET", §28.2.4 "Information for VM Exits That Occur
        // During Event Delivery" (the event whose delivery raised the exception that exits), §28.2.5 "Information
        // for VM Exits Due to Instruction Execution".
        Vmcs12Layout.Write(vmcs12, VmcsField.VmExitIntrInfo, interruptionInfo);
        if ((interruptionInfo & IntrInfoDeliverErrorCode) != 0)
        {
            Vmcs12Layout.Write(vmcs12, VmcsField.VmExitIntrErrorCode, interruptionError);
        }

        uint vectoring = 0;
        if (cpu.VectoringVector >= 0)
        {
            uint type = VectoringType(cpu.VectoringKind);
            vectoring = (uint)cpu.VectoringVector | (type << 8) | (cpu.VectoringHasError ? IntrInfoDeliverErrorCode : 0) | IntrInfoValid;
            if (cpu.VectoringHasError)
            {
                Vmcs12Layout.Write(vmcs12, VmcsField.IdtVectoringErrorCode, cpu.VectoringError);
            }

            // A software interrupt or exception was being delivered: the length of the instruction that raised it
            // (or the VM-entry instruction length of an injected one), as for a VM exit that it caused.
            if (type >= IntrTypeSoftInterrupt)
            {
                instructionLength = (uint)(cpu.NextRip - cpu.State.Rip);
            }
        }

        Vmcs12Layout.Write(vmcs12, VmcsField.IdtVectoringInfoField, vectoring);
        Vmcs12Layout.Write(vmcs12, VmcsField.VmExitInstructionLen, instructionLength);
        Vmcs12Layout.Write(vmcs12, VmcsField.VmxInstructionInfo, instructionInfo);

        // §28.2.7 "Updating VM-Entry Control Fields": the valid bit of the VM-entry interruption information is
        // cleared (the injected event, if any, was delivered).
        ulong entryIntr = Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryIntrInfoField);
        Vmcs12Layout.Write(vmcs12, VmcsField.VmEntryIntrInfoField, entryIntr & ~(ulong)IntrInfoValid);

        GuestMode = false;
        NestedVmExitCount++;

        // L1's TSC offset again (SDM Vol. 3C §26.6.5 "Time-Stamp Counter Offset and Multiplier" applies to L2 only).
        cpu.State.TscOffset = _l1TscOffset;
        cpu.Cr0GuestHostMask = 0;
        cpu.Cr0ReadShadow = 0;
        cpu.Cr4GuestHostMask = 0;
        cpu.Cr4ReadShadow = 0;

        // §28.5.5 "Updating Non-Register State": L1 resumes active with no STI/MOV SS blocking.
        cpu.Halted = false;
        cpu.InterruptShadow = false;
        cpu.ShadowArmed = false;
        LoadVmcs12HostState(cpu);

        // An exit taken outside an instruction handler (an exception, a triple fault) is not committed by the
        // interpreter: L1 starts at the host RIP now.
        cpu.State.Rip = cpu.NextRip;
    }

    /// <summary>
    /// SDM Vol. 3C §28.3 "Saving Guest State" (KVM's <c>sync_vmcs02_to_vmcs12</c>): control registers, DR7 and
    /// DEBUGCTL per "save debug controls", RSP, RIP (of the instruction that exited), RFLAGS, every segment with its
    /// access rights in the VMX format (unusable bit included), GDTR/IDTR, SYSENTER, EFER and PAT per the save
    /// controls, interruptibility and activity state; and the "IA-32e mode guest" entry control from EFER.LMA
    /// (§28.2.7).
    /// </summary>
    private void SyncVmcs02ToVmcs12(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        Span<byte> vmcs12 = _cachedVmcs12;
        var exit = (VmExitControls)(uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmExitControls);

        // §28.3.1 "Saving Control Registers, Debug Registers, and MSRs".
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestCr0, s.Cr0);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestCr3, s.Cr3);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestCr4, s.Cr4);
        if ((exit & VmExitControls.SaveDebugControls) != 0)
        {
            Vmcs12Layout.Write(vmcs12, VmcsField.GuestDr7, s.Dr[7]);
            Vmcs12Layout.Write(vmcs12, VmcsField.GuestIa32Debugctl, s.DebugCtl);
        }

        Vmcs12Layout.Write(vmcs12, VmcsField.GuestSysenterCs, (uint)s.SysenterCs);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestSysenterEsp, s.SysenterEsp);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestSysenterEip, s.SysenterEip);
        if ((exit & VmExitControls.SaveIa32Pat) != 0)
        {
            Vmcs12Layout.Write(vmcs12, VmcsField.GuestIa32Pat, s.Pat);
        }

        if ((exit & VmExitControls.SaveIa32Efer) != 0)
        {
            Vmcs12Layout.Write(vmcs12, VmcsField.GuestIa32Efer, s.Efer);
        }

        // §28.3.2 "Saving Segment Registers and Descriptor-Table Registers".
        for (int i = 0; i <= (int)SegReg.Tr; i++)
        {
            ref Segment seg = ref s.Seg[i];
            int step = 2 * i;
            Vmcs12Layout.Write(vmcs12, (VmcsField)((int)VmcsField.GuestEsSelector + step), seg.Selector);
            Vmcs12Layout.Write(vmcs12, (VmcsField)((int)VmcsField.GuestEsBase + step), seg.Base);
            Vmcs12Layout.Write(vmcs12, (VmcsField)((int)VmcsField.GuestEsLimit + step), seg.Limit);
            Vmcs12Layout.Write(vmcs12, (VmcsField)((int)VmcsField.GuestEsArBytes + step), seg.Attr & GuestArMask);
        }

        Vmcs12Layout.Write(vmcs12, VmcsField.GuestGdtrBase, s.Gdtr.Base);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestGdtrLimit, s.Gdtr.Limit);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestIdtrBase, s.Idtr.Base);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestIdtrLimit, s.Idtr.Limit);

        // §28.3.3 "Saving RIP, RSP, RFLAGS, and SSP": RIP of the instruction that caused the exit.
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestRsp, s.Gpr[4]);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestRip, s.Rip);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestRflags, s.GetRflags());

        // §28.3.4 "Saving Non-Register State": the instruction exits taken here happen before L2 could halt.
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestActivityState, cpu.Halted ? ActivityHlt : ActivityActive);
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestInterruptibilityInfo, GuestInterruptibility(cpu));
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestPendingDbgExceptions, 0);

        // §28.2.7 "Updating VM-Entry Control Fields": "IA-32e mode guest" takes the value of IA32_EFER.LMA.
        var entry = (VmEntryControls)(uint)Vmcs12Layout.Read(vmcs12, VmcsField.VmEntryControls);
        entry = s.LongModeActive ? entry | VmEntryControls.Ia32eMode : entry & ~VmEntryControls.Ia32eMode;
        Vmcs12Layout.Write(vmcs12, VmcsField.VmEntryControls, (uint)entry);
    }

    /// <summary>The interruption type (SDM Vol. 3C §25.8.3) of an event the CPU was delivering.</summary>
    private static uint VectoringType(EventKind kind) => kind switch
    {
        EventKind.External => IntrTypeExternal,
        EventKind.Nmi => IntrTypeNmi,
        EventKind.Software => IntrTypeSoftInterrupt,
        EventKind.PrivilegedSoftware => IntrTypePrivilegedSoftException,
        EventKind.SoftwareException => IntrTypeSoftException,
        _ => IntrTypeHardException,
    };

    private static uint GuestInterruptibility(Vcpu cpu)
    {
        uint value = cpu.NmiBlocked ? BlockingByNmi : 0;
        if (cpu.InterruptShadow || cpu.ShadowArmed)
        {
            value |= cpu.BlockingByMovSs ? BlockingByMovSs : BlockingBySti;
        }

        return value;
    }

    private CpuBasedControls Vmcs12Proc => (CpuBasedControls)(uint)Vmcs12Layout.Read(_cachedVmcs12, VmcsField.CpuBasedVmExecControl);

    /// <summary>
    /// SDM Vol. 3C §26.1.3, RDMSR/WRMSR: every access exits when "use MSR bitmaps" is 0; otherwise the bit for ECX
    /// in the 4-KByte MSR bitmap decides (read low 0, read high 1024, write low 2048, write high 3072 bytes in; MSRs
    /// 0–1FFFH and C0000000H–C0001FFFH), and any other ECX exits (SDM Vol. 3C §25.6.9 "MSR-Bitmap Address").
    /// </summary>
    private bool MsrExits(Vcpu cpu, uint msr, bool write)
    {
        if ((Vmcs12Proc & CpuBasedControls.UseMsrBitmaps) == 0)
        {
            return true;
        }

        ulong offset;
        if (msr <= 0x1FFF)
        {
            offset = 0;
        }
        else if (msr - 0xC000_0000u <= 0x1FFF)
        {
            offset = 1024;
        }
        else
        {
            return true;
        }

        if (write)
        {
            offset += 2048;
        }

        uint bit = msr & 0x1FFF;
        ulong bitmap = Vmcs12Layout.Read(_cachedVmcs12, VmcsField.MsrBitmap);
        ulong b = cpu.Memory.Read(bitmap + offset + (bit >> 3), 1);
        return ((b >> (int)(bit & 7)) & 1) != 0;
    }

    /// <summary>The basic exit reason of a VMX instruction executed in VMX non-root operation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ExitReasonOf(VmxInstruction instruction) => instruction switch
    {
        VmxInstruction.Vmxon => ExitReason.Vmon,
        VmxInstruction.Vmxoff => ExitReason.Vmoff,
        VmxInstruction.Vmclear => ExitReason.Vmclear,
        VmxInstruction.Vmptrld => ExitReason.Vmptrld,
        VmxInstruction.Vmptrst => ExitReason.Vmptrst,
        VmxInstruction.Vmread => ExitReason.Vmread,
        VmxInstruction.Vmwrite => ExitReason.Vmwrite,
        VmxInstruction.Vmlaunch => ExitReason.Vmlaunch,
        VmxInstruction.Vmresume => ExitReason.Vmresume,
        VmxInstruction.Vmcall => ExitReason.Vmcall,
        VmxInstruction.Invept => ExitReason.Invept,
        VmxInstruction.Invvpid => ExitReason.Invvpid,
        _ => ExitReason.Vmfunc,
    };
}
