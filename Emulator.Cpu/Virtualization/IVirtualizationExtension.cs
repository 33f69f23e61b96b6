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
/// The one seam between the CPU and a virtualization extension (DESIGN "Projects and dependency direction"):
/// the CPU knows nothing of VMX beyond these calls. With no extension (<see cref="Vcpu.Vmx"/> null) the VMX
/// instructions raise #UD, CPUID.1:ECX.VMX is 0 and the VMX capability MSRs raise #GP.
/// Later steps add the "does this event exit?" questions of VMX non-root operation here.
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
}
