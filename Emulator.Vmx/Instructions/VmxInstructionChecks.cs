using System.Runtime.CompilerServices;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Instructions;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>
/// What every VMX instruction shares: the permission checks at the top of each Operation section of SDM Vol. 3C
/// "VMX Instruction Reference" (KVM's <c>nested_vmx_check_permission</c>) and the outcomes of SDM Vol. 3C §31.2
/// "Conventions" (KVM's <c>nested_vmx_succeed</c>, <c>nested_vmx_failInvalid</c>, <c>nested_vmx_failValid</c>,
/// <c>nested_vmx_fail</c>).
/// </summary>
internal sealed partial class VcpuVmx
{
    /// <summary>The six arithmetic flags: VMsucceed and VMfail set CF and ZF as they say and clear the others.</summary>
    private const ulong ArithmeticFlags = CpuState.FlagCf | CpuState.FlagPf | CpuState.FlagAf | CpuState.FlagZf
        | CpuState.FlagSf | CpuState.FlagOf;

    /// <summary>
    /// "IF (not in VMX operation) or (CR0.PE = 0) or (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and CS.L = 0) THEN #UD;
    /// ELSIF in VMX non-root operation THEN VM exit; ELSIF CPL &gt; 0 THEN #GP(0)". False: the instruction is over
    /// (a fault is pending, or it exited).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CheckPermission(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (!VmxOn || !s.ProtectedMode || s.V86 || IsCompatibilityMode(in s))
        {
            return cpu.RaiseUd();
        }

        if (GuestMode)
        {
            return NestedVmExitOnInstruction(cpu);
        }

        if (s.Cpl > 0)
        {
            return cpu.RaiseGp();
        }

        return true;
    }

    private static bool IsCompatibilityMode(in CpuState s) => s.LongModeActive && !s.Is64;

    /// <summary>
    /// VMX non-root operation: the VMX instructions exit unconditionally (SDM Vol. 3C §26.1.2 "Instructions That
    /// Cause VM Exits Unconditionally"), with the instruction length. VMX_INSTRUCTION_INFO and the displacement in
    /// the exit qualification (§28.2.5 "Information for VM Exits Due to Instruction Execution") are 0 for now.
    /// Returns false: the instruction is over.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool NestedVmExitOnInstruction(Vcpu cpu)
    {
        NestedVmExit(cpu, ExitReasonOf(_currentInstruction), 0, (uint)cpu.InstrLen);
        return false;
    }

    /// <summary>VMsucceed: CF, PF, AF, ZF, SF, OF := 0.</summary>
    private static void VmSucceed(Vcpu cpu) => cpu.State.SetArith(ArithmeticFlags, 0);

    /// <summary>VMfailInvalid: CF := 1; PF, AF, ZF, SF, OF := 0. Nothing is written (there is no current VMCS).</summary>
    private static void VmFailInvalid(Vcpu cpu) => cpu.State.SetArith(ArithmeticFlags, CpuState.FlagCf);

    /// <summary>VMfailValid(<paramref name="error"/>): ZF := 1, the others 0; the error goes into the current VMCS.</summary>
    private void VmFailValid(Vcpu cpu, VmInstructionError error)
    {
        cpu.State.SetArith(ArithmeticFlags, CpuState.FlagZf);
        Vmcs12Layout.Write(_cachedVmcs12, VmcsField.VmInstructionError, (uint)error);
    }

    /// <summary>VMfail(<paramref name="error"/>): VMfailValid if there is a current VMCS, else VMfailInvalid.</summary>
    private void VmFail(Vcpu cpu, VmInstructionError error)
    {
        if (CurrentVmptr == InvalidGpa)
        {
            VmFailInvalid(cpu);
        }
        else
        {
            VmFailValid(cpu, error);
        }
    }

    /// <summary>
    /// A VMXON, VMCS or VMCLEAR pointer is usable if it is 4-KByte aligned and sets no bit beyond the
    /// physical-address width (IA32_VMX_BASIC[48] is 0, so the full width applies). KVM's <c>page_address_valid</c>.
    /// </summary>
    private static bool PageAddressValid(ulong gpa) => (gpa & 0xFFF) == 0 && (gpa >> Vcpu.MaxPhysAddrBits) == 0;
}
