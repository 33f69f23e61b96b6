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
    Rdtsc,
    Rdtscp,

    /// <summary>INVLPG: the qualification is the linear-address operand.</summary>
    Invlpg,
    Rdpmc,
    Invd,
    Wbinvd,
    Pause,

    /// <summary>IN, OUT, INS, OUTS: the qualification is SDM Vol. 3C §28.2.1 table "Exit Qualification for I/O Instructions".</summary>
    Io,

    /// <summary>
    /// MOV to/from CR0, CR3, CR4, CR8, CLTS, LMSW: the qualification is SDM Vol. 3C §28.2.1 table "Exit
    /// Qualification for Control-Register Accesses" (bits 3:0 CR, 5:4 access type, 6 LMSW memory operand, 11:8 GPR,
    /// 31:16 LMSW source data).
    /// </summary>
    CrAccess,

    /// <summary>MOV to/from DR0–DR7: the qualification is SDM Vol. 3C §28.2.1 table "Exit Qualification for MOV DR".</summary>
    MovDr,
}

/// <summary>How an exception arose, as VMX interruption types distinguish it (SDM Vol. 3C §25.9.2 "Information for VM Exits Due to Vectored Events").</summary>
public enum ExceptionSource : byte
{
    /// <summary>A fault or trap detected by the processor (type 3).</summary>
    Hardware,

    /// <summary>INT1 (ICEBP) (type 5).</summary>
    PrivilegedSoftware,

    /// <summary>INT3 or INTO (type 6).</summary>
    Software,
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
    bool InterceptInstruction(Vcpu cpu, VmxIntercept what, ulong qualification);

    /// <summary>
    /// Does the exception about to be delivered cause a VM exit (the exception bitmap, SDM Vol. 3C §26.2 "Other
    /// Causes of VM Exits")? True when it did exit: nothing was delivered and the CPU is back in L1.
    /// <paramref name="qualification"/> is the faulting linear address for #PF (CR2 not yet written).
    /// </summary>
    bool InterceptException(Vcpu cpu, int vector, ExceptionSource source, bool hasError, uint error, ulong qualification);

    /// <summary>A triple fault in VMX non-root operation is a VM exit (reason 2) instead of shutdown. True when it exited.</summary>
    bool InterceptTripleFault(Vcpu cpu);

    /// <summary>
    /// At an instruction boundary where the CPU looks at pending events (its slow path): does a pending NMI or
    /// external interrupt, or an open NMI or interrupt window, cause a VM exit (SDM Vol. 3C §26.2 "Other Causes of
    /// VM Exits", "Interrupt-Window Exiting and Virtual-Interrupt Delivery", "NMI-Window Exiting")? True when it did exit: nothing was delivered to L2 and the
    /// CPU is back in L1. False outside VMX non-root operation.
    /// </summary>
    bool InterceptEvents(Vcpu cpu);

    /// <summary>
    /// True in VMX non-root operation with "external-interrupt exiting": an external interrupt then exits whatever
    /// RFLAGS.IF, so a HLT with IF = 0 still waits for one (SDM Vol. 3C §26.2 "Other Causes of VM Exits").
    /// </summary>
    bool ExternalInterruptsExit(Vcpu cpu);
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

    /// <summary>
    /// CR0 and CR4 guest/host masks and read shadows in force (SDM Vol. 3C §25.6.6 "Guest/Host Masks and Read
    /// Shadows for CR0 and CR4"): set by VM entry, zero outside VMX non-root operation. A MOV from CR0/CR4 or SMSW
    /// reads a masked bit from the shadow; MOV to CR0/CR4, CLTS and LMSW that do not exit leave masked bits as they
    /// are (SDM Vol. 3C §26.3 "Changes to Instruction Behavior in VMX Non-Root Operation").
    /// </summary>
    internal ulong Cr0GuestHostMask, Cr0ReadShadow, Cr4GuestHostMask, Cr4ReadShadow;

    /// <summary>CR0 as software in VMX non-root operation sees it: masked bits from the read shadow.</summary>
    internal ulong GuestVisibleCr0 => (State.Cr0 & ~Cr0GuestHostMask) | (Cr0ReadShadow & Cr0GuestHostMask);

    /// <summary>True if the current instruction exited to L1 instead of executing (VMX non-root operation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Intercepted(VmxIntercept what, ulong qualification = 0) => Vmx is { } vmx && vmx.InterceptInstruction(this, what, qualification);
}
