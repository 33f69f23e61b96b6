using System.Runtime.InteropServices;

namespace Emulator.Vmx;

/// <summary>
/// The 32-bit exit reason with its 16-bit basic view (KVM's <c>union vmx_exit_reason</c>; SDM Vol. 3C §25.9.1
/// "Basic VM-Exit Information"). Dispatch compares <see cref="Basic"/> only; <see cref="Full"/>, with the modifier
/// bits, is snapshotted at the exit and is what vmcs12's VM_EXIT_REASON, a VM-entry-failure report and the
/// debugger show.
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal struct ExitReason : IEquatable<ExitReason>
{
    // Basic exit reasons (SDM Vol. 3D Appendix C "VMX Basic Exit Reasons"; KVM's EXIT_REASON_* names).
    public const ushort ExceptionNmi = 0;
    public const ushort ExternalInterrupt = 1;
    public const ushort TripleFault = 2;
    public const ushort InitSignal = 3;
    public const ushort SipiSignal = 4;
    public const ushort InterruptWindow = 7;
    public const ushort NmiWindow = 8;
    public const ushort TaskSwitch = 9;
    public const ushort Cpuid = 10;
    public const ushort Hlt = 12;
    public const ushort Invd = 13;
    public const ushort Invlpg = 14;
    public const ushort Rdpmc = 15;
    public const ushort Rdtsc = 16;
    public const ushort Vmcall = 18;
    public const ushort Vmclear = 19;
    public const ushort Vmlaunch = 20;
    public const ushort Vmptrld = 21;
    public const ushort Vmptrst = 22;
    public const ushort Vmread = 23;
    public const ushort Vmresume = 24;
    public const ushort Vmwrite = 25;
    public const ushort Vmoff = 26;
    public const ushort Vmon = 27;
    public const ushort CrAccess = 28;
    public const ushort DrAccess = 29;
    public const ushort IoInstruction = 30;
    public const ushort MsrRead = 31;
    public const ushort MsrWrite = 32;
    public const ushort InvalidState = 33;
    public const ushort MsrLoadFail = 34;
    public const ushort MwaitInstruction = 36;
    public const ushort MonitorTrapFlag = 37;
    public const ushort MonitorInstruction = 39;
    public const ushort PauseInstruction = 40;
    public const ushort Invept = 50;
    public const ushort Rdtscp = 51;
    public const ushort Invvpid = 53;
    public const ushort Wbinvd = 54;
    public const ushort Vmfunc = 59;

    /// <summary>Bit 27: "VM exit from enclave mode".</summary>
    public const uint EnclaveModeBit = 1u << 27;

    /// <summary>Bit 28: "Pending MTF VM exit".</summary>
    public const uint PendingMtfBit = 1u << 28;

    /// <summary>Bit 29: "VM exit from VMX root operation".</summary>
    public const uint FromVmxRootBit = 1u << 29;

    /// <summary>Bit 31: "VM-entry failure".</summary>
    public const uint FailedVmEntryBit = 1u << 31;

    /// <summary>Bits 15:0, the basic exit reason: what dispatch compares.</summary>
    [FieldOffset(0)]
    public ushort Basic;

    /// <summary>All 32 bits, modifier bits included: what vmcs12's VM_EXIT_REASON holds.</summary>
    [FieldOffset(0)]
    public uint Full;

    public ExitReason(uint full)
    {
        Full = full;
    }

    public bool EnclaveMode
    {
        readonly get => (Full & EnclaveModeBit) != 0;
        set => Full = value ? Full | EnclaveModeBit : Full & ~EnclaveModeBit;
    }

    public bool PendingMtf
    {
        readonly get => (Full & PendingMtfBit) != 0;
        set => Full = value ? Full | PendingMtfBit : Full & ~PendingMtfBit;
    }

    public bool FromVmxRoot
    {
        readonly get => (Full & FromVmxRootBit) != 0;
        set => Full = value ? Full | FromVmxRootBit : Full & ~FromVmxRootBit;
    }

    public bool FailedVmEntry
    {
        readonly get => (Full & FailedVmEntryBit) != 0;
        set => Full = value ? Full | FailedVmEntryBit : Full & ~FailedVmEntryBit;
    }

    /// <summary>A VM-entry-failure exit (bit 31 set) with basic reason <paramref name="basic"/> (33 or 34).</summary>
    public static ExitReason EntryFailure(ushort basic) => new(FailedVmEntryBit | basic);

    public readonly bool Equals(ExitReason other) => Full == other.Full;

    public override readonly bool Equals(object? obj) => obj is ExitReason other && Equals(other);

    public override readonly int GetHashCode() => (int)Full;

    public override readonly string ToString() => $"0x{Full:X8} (basic {Basic})";

    /// <summary>A basic reason with no modifier bit set.</summary>
    public static implicit operator ExitReason(ushort basic) => new(basic);

    public static bool operator ==(ExitReason left, ExitReason right) => left.Equals(right);

    public static bool operator !=(ExitReason left, ExitReason right) => !left.Equals(right);
}
