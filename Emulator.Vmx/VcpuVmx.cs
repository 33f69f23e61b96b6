using System.Diagnostics.CodeAnalysis;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Vmx.Capabilities;
using Emulator.Vmx.Vmcs;
using Iced.Intel;

namespace Emulator.Vmx;

/// <summary>
/// VMX for one vCPU (KVM's <c>struct vcpu_vmx</c> with its <c>struct nested_vmx</c>): VMX operation, the VMXON
/// region, the current VMCS (vmcs12, cached here while it is current and written back to guest memory on VMCLEAR,
/// on a VMPTRLD of another VMCS and on VMXOFF) and the capability MSRs. Attach it with
/// <c>cpu.Vmx = new VcpuVmx(cpu)</c>. The VMX instructions live in <c>Instructions/</c>, one file per class.
/// </summary>
internal sealed partial class VcpuVmx : IVirtualizationExtension
{
    /// <summary>KVM's <c>INVALID_GPA</c>: the current-VMCS pointer when there is no current VMCS (SDM "FFFFFFFF_FFFFFFFFH").</summary>
    public const ulong InvalidGpa = ulong.MaxValue;

    private readonly byte[] _cachedVmcs12 = new byte[Vmcs12Layout.Size];

    /// <summary>The VMX instruction being executed: its exit reason if it exits from VMX non-root operation.</summary>
    private VmxInstruction _currentInstruction;

    public VcpuVmx(Vcpu cpu, bool vmwriteAnyField = true)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        Capabilities = new VmxCapabilities(cpu.Cr4Supported, vmwriteAnyField);
    }

    public VmxCapabilities Capabilities { get; }

    /// <summary>In VMX operation (root or non-root): after VMXON, until VMXOFF. KVM's <c>nested.vmxon</c>.</summary>
    public bool VmxOn { get; private set; }

    /// <summary>
    /// In VMX non-root operation, running L2 (KVM's <c>is_guest_mode</c>): from a successful VM entry to the next VM
    /// exit. Every VMX instruction checks it where the SDM says "ELSIF in VMX non-root operation THEN VM exit".
    /// </summary>
    public bool GuestMode { get; private set; }

    /// <summary>The VMXON pointer (KVM's <c>nested.vmxon_ptr</c>); <see cref="InvalidGpa"/> outside VMX operation.</summary>
    public ulong VmxonPtr { get; private set; } = InvalidGpa;

    /// <summary>The current-VMCS pointer (KVM's <c>nested.current_vmptr</c>); <see cref="InvalidGpa"/> if none.</summary>
    public ulong CurrentVmptr { get; private set; } = InvalidGpa;

    /// <summary>The current vmcs12 (KVM's <c>get_vmcs12</c>); meaningful only while <see cref="CurrentVmptr"/> is valid.</summary>
    public Span<byte> CachedVmcs12 => _cachedVmcs12;

    public void Execute(Vcpu cpu, VmxInstruction instruction, in Instruction i)
    {
        _currentInstruction = instruction;
        switch (instruction)
        {
            case VmxInstruction.Vmread:
                HandleVmread(cpu, in i);
                break;
            case VmxInstruction.Vmwrite:
                HandleVmwrite(cpu, in i);
                break;
            case VmxInstruction.Vmxon:
                HandleVmxon(cpu, in i);
                break;
            case VmxInstruction.Vmxoff:
                HandleVmxoff(cpu);
                break;
            case VmxInstruction.Vmclear:
                HandleVmclear(cpu, in i);
                break;
            case VmxInstruction.Vmptrld:
                HandleVmptrld(cpu, in i);
                break;
            case VmxInstruction.Vmptrst:
                HandleVmptrst(cpu, in i);
                break;
            case VmxInstruction.Vmlaunch:
                NestedVmxRun(cpu, launch: true);
                break;
            case VmxInstruction.Vmresume:
                NestedVmxRun(cpu, launch: false);
                break;
            case VmxInstruction.Vmcall:
                HandleVmcall(cpu);
                break;
            case VmxInstruction.Invept:
                HandleInvept(cpu);
                break;
            case VmxInstruction.Invvpid:
                HandleInvvpid(cpu);
                break;
            case VmxInstruction.Vmfunc:
                HandleVmfunc(cpu);
                break;
            default:
                ThrowUnknownInstruction(instruction);
                break;
        }
    }

    public MsrResult ReadMsr(Vcpu cpu, uint index, out ulong value)
    {
        if (!VmxCapabilities.IsCapabilityMsr(index))
        {
            value = 0;
            return MsrResult.NotHandled;
        }

        return Capabilities.TryRead(index, out value) ? MsrResult.Ok : MsrResult.Fault;
    }

    /// <summary>The capability MSRs are read-only: WRMSR raises #GP (SDM Vol. 3D Appendix A).</summary>
    public MsrResult WriteMsr(Vcpu cpu, uint index, ulong value)
        => VmxCapabilities.IsCapabilityMsr(index) ? MsrResult.Fault : MsrResult.NotHandled;

    /// <summary>
    /// In VMX operation CR0 and CR4 keep the bits IA32_VMX_CR{0,4}_FIXED{0,1} fix: MOV to CR0/CR4 that would
    /// change one raises #GP, so CR4.VMXE cannot be cleared (SDM Vol. 3C §24.8 "Restrictions on VMX Operation").
    /// </summary>
    public bool IsControlRegisterValueAllowed(Vcpu cpu, int cr, ulong value)
    {
        if (!VmxOn)
        {
            return true;
        }

        return cr switch
        {
            0 => VmxCapabilities.IsCr0Valid(value),
            4 => Capabilities.IsCr4Valid(value),
            _ => true,
        };
    }

    [DoesNotReturn]
    private static void ThrowUnknownInstruction(VmxInstruction instruction)
        => throw new ArgumentOutOfRangeException(nameof(instruction), instruction, "Not a VMX instruction.");
}
