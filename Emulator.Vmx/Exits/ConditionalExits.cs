using Emulator.Cpu;
using Emulator.Vmx.Vmcs;

namespace Emulator.Vmx;

/// <summary>
/// L1's side of the "does L1 want it" question for every exit the CPU asks about (KVM's
/// <c>nested_vmx_l1_wants_exit</c>): SDM Vol. 3C §26.1 "Instructions That Cause VM Exits", §26.2 "Other Causes of
/// VM Exits", with the exit information of §28.2 "Recording VM-Exit Information and Updating VM-Entry Control
/// Fields". L0 handles nothing itself yet: every exit L1 asks for is reflected.
/// </summary>
internal sealed partial class VcpuVmx
{
    private const uint IntrTypeHardwareException = 3;
    private const uint IntrTypePrivilegedSoftwareException = 5;
    private const uint IntrTypeSoftwareException = 6;
    private const int PageFaultVector = 14;

    /// <summary>Set while VM entry delivers the injected event: it is never subject to the exception bitmap.</summary>
    private bool _injecting;

    /// <summary>L1's TSC offset, put back at the VM exit.</summary>
    private ulong _l1TscOffset;

    private SecondaryControls Vmcs12Proc2 => (Vmcs12Proc & CpuBasedControls.ActivateSecondaryControls) == 0
        ? 0
        : (SecondaryControls)(uint)Vmcs12Layout.Read(_cachedVmcs12, VmcsField.SecondaryVmExecControl);

    /// <summary>
    /// The CPU's question at an instruction that may exit (<see cref="IVirtualizationExtension.InterceptInstruction"/>):
    /// SDM Vol. 3C §26.1.2 "Instructions That Cause VM Exits Unconditionally" (CPUID, INVD) and §26.1.3
    /// "Instructions That Cause VM Exits Conditionally" (HLT, INVLPG, RDPMC, RDTSC, RDTSCP, PAUSE, WBINVD, MOV DR per
    /// their controls; control-register accesses per the masks, shadows, CR3-target list and CR3/CR8 controls; RDMSR/WRMSR per "use MSR bitmaps"; I/O per "unconditional I/O exiting" and "use I/O bitmaps").
    /// </summary>
    public bool InterceptInstruction(Vcpu cpu, VmxIntercept what, ulong qualification)
    {
        if (!GuestMode)
        {
            return false;
        }

        CpuBasedControls proc = Vmcs12Proc;
        ushort basic;
        switch (what)
        {
            case VmxIntercept.Cpuid:
                basic = ExitReason.Cpuid;
                break;
            case VmxIntercept.Invd:
                basic = ExitReason.Invd;
                break;
            case VmxIntercept.Hlt:
                if ((proc & CpuBasedControls.HltExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Hlt;
                break;
            case VmxIntercept.Invlpg:
                if ((proc & CpuBasedControls.InvlpgExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Invlpg;
                break;
            case VmxIntercept.Rdpmc:
                if ((proc & CpuBasedControls.RdpmcExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Rdpmc;
                break;
            case VmxIntercept.Rdtsc:
                if ((proc & CpuBasedControls.RdtscExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Rdtsc;
                break;
            case VmxIntercept.Rdtscp:
                // SDM Vol. 3C §26.3 "Changes to Instruction Behavior in VMX Non-Root Operation", RDTSCP: #UD when
                // "enable RDTSCP" is 0; the #UD is the instruction's outcome (it may itself exit by the bitmap).
                if ((Vmcs12Proc2 & SecondaryControls.EnableRdtscp) == 0)
                {
                    cpu.RaiseUd();
                    return true;
                }

                if ((proc & CpuBasedControls.RdtscExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Rdtscp;
                break;
            case VmxIntercept.Pause:
                if ((proc & CpuBasedControls.PauseExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.PauseInstruction;
                break;
            case VmxIntercept.Wbinvd:
                if ((Vmcs12Proc2 & SecondaryControls.WbinvdExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.Wbinvd;
                break;
            case VmxIntercept.Rdmsr:
            case VmxIntercept.Wrmsr:
                bool write = what == VmxIntercept.Wrmsr;
                if (!MsrExits(cpu, (uint)cpu.State.Gpr[1], write))
                {
                    return false;
                }

                basic = write ? ExitReason.MsrWrite : ExitReason.MsrRead;
                break;
            case VmxIntercept.Io:
                if (!IoExits(cpu, proc, (ushort)(qualification >> 16), (int)(qualification & 7) + 1))
                {
                    return false;
                }

                basic = ExitReason.IoInstruction;
                break;
            case VmxIntercept.MovDr:
                if ((proc & CpuBasedControls.MovDrExiting) == 0)
                {
                    return false;
                }

                basic = ExitReason.DrAccess;
                break;
            case VmxIntercept.CrAccess:
                if (!CrAccessExits(cpu, proc, qualification))
                {
                    return false;
                }

                basic = ExitReason.CrAccess;
                break;
            default:
                return false;
        }

        NestedVmExit(cpu, basic, qualification, (uint)cpu.InstrLen);
        return true;
    }

    /// <summary>
    /// SDM Vol. 3C §26.1.3, control-register accesses, from the qualification the CPU built: MOV to CR0/CR4 exits if
    /// a bit set in the guest/host mask would get a value other than its read shadow's; MOV to CR3 per "CR3-load
    /// exiting" unless the value is one of the first CR3_TARGET_COUNT CR3-target values; MOV from CR3 per "CR3-store
    /// exiting"; MOV to/from CR8 per "CR8-load/store exiting"; CLTS if TS is set in both the CR0 mask and shadow;
    /// LMSW if it would set a masked PE that the shadow has clear, or give masked MP/EM/TS a value other than the shadow's.
    /// </summary>
    private bool CrAccessExits(Vcpu cpu, CpuBasedControls proc, ulong qualification)
    {
        int cr = (int)(qualification & 15);
        int type = (int)(qualification >> 4) & 3;
        Span<byte> vmcs12 = _cachedVmcs12;
        switch (type)
        {
            case 0:
                ulong value = cpu.State.Gpr[(int)(qualification >> 8) & 15];
                if (!cpu.State.Is64)
                {
                    value = (uint)value;
                }

                return cr switch
                {
                    0 => ((value ^ cpu.Cr0ReadShadow) & cpu.Cr0GuestHostMask) != 0,
                    4 => ((value ^ cpu.Cr4ReadShadow) & cpu.Cr4GuestHostMask) != 0,
                    3 => (proc & CpuBasedControls.Cr3LoadExiting) != 0 && !IsCr3Target(vmcs12, value),
                    _ => (proc & CpuBasedControls.Cr8LoadExiting) != 0,
                };
            case 1:
                return cr switch
                {
                    3 => (proc & CpuBasedControls.Cr3StoreExiting) != 0,
                    8 => (proc & CpuBasedControls.Cr8StoreExiting) != 0,
                    _ => false,
                };
            case 2:
                return (cpu.Cr0GuestHostMask & cpu.Cr0ReadShadow & Cr0Ts) != 0;
            default:
                ulong source = qualification >> 16;
                ulong mask = cpu.Cr0GuestHostMask;
                ulong shadow = cpu.Cr0ReadShadow;
                return (mask & ~shadow & source & Cr0Pe) != 0 || ((source ^ shadow) & mask & 0xE) != 0;
        }
    }

    private const ulong Cr0Pe = 1, Cr0Ts = 8;

    private static bool IsCr3Target(Span<byte> vmcs12, ulong value)
    {
        uint count = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.Cr3TargetCount);
        for (int n = 0; n < count && n < 4; n++)
        {
            if (Vmcs12Layout.Read(vmcs12, (VmcsField)((int)VmcsField.Cr3TargetValue0 + (2 * n))) == value)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// SDM Vol. 3C §26.1.3, I/O instructions: with "use I/O bitmaps" the access exits if the bit of any port it
    /// touches is set in bitmap A (0000H–7FFFH) or B (8000H–FFFFH), or if it wraps past FFFFH; otherwise
    /// "unconditional I/O exiting" decides (SDM Vol. 3C §25.6.4 "I/O-Bitmap Addresses").
    /// </summary>
    private bool IoExits(Vcpu cpu, CpuBasedControls proc, ushort port, int size)
    {
        if ((proc & CpuBasedControls.UseIoBitmaps) == 0)
        {
            return (proc & CpuBasedControls.UncondIoExiting) != 0;
        }

        if (port + size > 0x1_0000)
        {
            return true;
        }

        for (int p = port; p < port + size; p++)
        {
            ulong bitmap = Vmcs12Layout.Read(_cachedVmcs12, p < 0x8000 ? VmcsField.IoBitmapA : VmcsField.IoBitmapB);
            uint bit = (uint)p & 0x7FFF;
            ulong b = cpu.Memory.Read(bitmap + (bit >> 3), 1);
            if (((b >> (int)(bit & 7)) & 1) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// SDM Vol. 3C §26.2 "Other Causes of VM Exits", exceptions: the exception bitmap bit of the vector; for #PF
    /// bit 14 with the error-code mask and match (exit when (PFEC &amp; MASK) = MATCH and bit 14 is 1, or when they
    /// differ and bit 14 is 0). Exit information per §28.2.2 "Information for VM Exits Due to Vectored Events":
    /// interruption information (vector, type 3/5/6, error-code valid, valid), the error code, the instruction
    /// length for software exceptions, and the qualification (the linear address for #PF). A fault raised while
    /// delivering an event (the injected one included) is subject to the bitmap like any other.
    /// </summary>
    public bool InterceptException(Vcpu cpu, int vector, ExceptionSource source, bool hasError, uint error, ulong qualification)
    {
        if (!GuestMode || (_injecting && cpu.VectoringVector < 0) || (uint)vector > 31)
        {
            return false;
        }

        Span<byte> vmcs12 = _cachedVmcs12;
        uint bitmap = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.ExceptionBitmap);
        bool bit = ((bitmap >> vector) & 1) != 0;
        if (vector == PageFaultVector && source == ExceptionSource.Hardware)
        {
            uint mask = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.PageFaultErrorCodeMask);
            uint match = (uint)Vmcs12Layout.Read(vmcs12, VmcsField.PageFaultErrorCodeMatch);
            bit = bit == ((error & mask) == match);
        }

        if (!bit)
        {
            return false;
        }

        uint type = source switch
        {
            ExceptionSource.Software => IntrTypeSoftwareException,
            ExceptionSource.PrivilegedSoftware => IntrTypePrivilegedSoftwareException,
            _ => IntrTypeHardwareException,
        };
        uint info = (uint)vector | (type << 8) | (hasError ? IntrInfoDeliverErrorCode : 0) | IntrInfoValid;
        uint length = source == ExceptionSource.Hardware ? 0 : (uint)cpu.InstrLen;
        NestedVmExit(cpu, ExitReason.ExceptionNmi, qualification, length, 0, info, error);
        return true;
    }

    /// <summary>SDM Vol. 3C §26.2, triple fault: a VM exit with reason 2 and no qualification, instead of shutdown.</summary>
    public bool InterceptTripleFault(Vcpu cpu)
    {
        if (!GuestMode)
        {
            return false;
        }

        NestedVmExit(cpu, ExitReason.TripleFault, 0);
        return true;
    }
}
