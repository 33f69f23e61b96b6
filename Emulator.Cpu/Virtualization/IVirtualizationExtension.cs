using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emulator.Cpu;

/// <summary>The VMX instructions (SDM Vol. 3C "VMX Instruction Reference"), as the CPU hands them to the extension.</summary>
public enum VmxInstruction : byte
{
    Vmxon,
    Vmxoff,
    Vmclear,
    Vmptrld,
    Vmptrst,
    Vmread,
    Vmwrite,
    Vmlaunch,
    Vmresume,
    Vmcall,
    Invept,
    Invvpid,
    Vmfunc,
}

/// <summary>
/// Instructions that may cause a VM exit in VMX non-root operation (SDM Vol. 3C §26.1.2 "Instructions That Cause VM
/// Exits Unconditionally", §26.1.3 "Instructions That Cause VM Exits Conditionally"), asked about after the
/// checks that have priority over VM exits (CPL for privileged instructions, SDM Vol. 3C §26.1.1 "Relative Priority
/// of Faults and VM Exits").
/// </summary>
public enum VmxIntercept : byte
{
    Cpuid,
    Hlt,
    Rdmsr,
    Wrmsr,
}

/// <summary>
/// The one seam between the CPU and a virtualization extension (DESIGN "Projects and dependency direction"):
/// the CPU knows nothing of VMX beyond these calls. With no extension (<see cref="Vcpu.Vmx"/> null) the VMX
/// instructions raise #UD, CPUID.1:ECX.VMX is 0 and the VMX capability MSRs raise #GP.
/// </summary>
public interface IVirtualizationExtension
{
    /// <summary>
    /// Executes a VMX instruction. Faults go through <c>cpu.Raise*</c> as for any handler; VMsucceed and
    /// VMfail complete the instruction.
    /// </summary>
    void Execute(Vcpu cpu, VmxInstruction instruction, in Instruction i);

    /// <summary>RDMSR of the extension's MSRs (IA32_VMX_BASIC … IA32_VMX_PROCBASED_CTLS3); others are NotHandled.</summary>
    MsrResult ReadMsr(Vcpu cpu, uint index, out ulong value);

    /// <summary>WRMSR of the extension's MSRs (read-only capability MSRs fault); others are NotHandled.</summary>
    MsrResult WriteMsr(Vcpu cpu, uint index, ulong value);

    /// <summary>
    /// False if loading <paramref name="value"/> into CR<paramref name="cr"/> (0 or 4) must #GP because VMX
    /// operation fixes some of its bits (SDM Vol. 3C §24.8 "Restrictions on VMX Operation").
    /// </summary>
    bool IsControlRegisterValueAllowed(Vcpu cpu, int cr, ulong value);

    /// <summary>
    /// Does <paramref name="what"/>, the current instruction, cause a VM exit? True when it did exit: the
    /// instruction is over and the CPU is back in L1 (RIP through <c>NextRip</c>). False outside VMX non-root
    /// operation and when the controls let it run.
    /// </summary>
    bool InterceptInstruction(Vcpu cpu, VmxIntercept what);
}

/// <summary>The virtualization extension of this vCPU and the CPU state it asks about.</summary>
public sealed partial class Vcpu
{
    /// <summary>VMX for this vCPU; null = no VMX (the default: the machine adds it once VM entry exists).</summary>
    public IVirtualizationExtension? Vmx { get; set; }

    /// <summary>
    /// The current instruction immediately follows a MOV SS or POP SS: "blocking by MOV SS" (SDM Vol. 3C §25.4.2
    /// "Guest Non-Register State", interruptibility state bit 1), which VMLAUNCH/VMRESUME fail on.
    /// </summary>
    internal bool BlockingByMovSs => _movSsCount + 1 == InstructionCount;

    /// <summary>True if the current instruction exited to L1 instead of executing (VMX non-root operation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Intercepted(VmxIntercept what) => Vmx is { } vmx && vmx.InterceptInstruction(this, what);
}
