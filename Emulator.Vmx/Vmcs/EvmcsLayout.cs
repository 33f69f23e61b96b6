using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Emulator.Vmx.Vmcs;

/// <summary>
/// The enlightened VMCS v1 (<c>struct hv_enlightened_vmcs</c>, TLFS "Nested Virtualization",
/// "Enlightened VMCS"): a 4 KiB page in L1's memory that L1 writes with plain stores instead of
/// VMWRITE, of which the first 0x400 bytes are used. The offsets of the ordinary VMCS fields it
/// mirrors, and their clean-field groups, are in <see cref="VmcsFieldTable"/>; this class holds
/// the eVMCS-only members.
/// </summary>
internal static class EvmcsLayout
{
    /// <summary>
    /// <c>revision_id</c> L1 must write (KVM's <c>KVM_EVMCS_VERSION</c>); KVM also accepts
    /// <see cref="Vmcs12Layout.Revision"/> for old Hyper-V versions.
    /// </summary>
    public const uint Version = 1;

    public const int Size = 0x1000;

    public const int UsedSize = 0x400;

    public const int RevisionIdOffset = 0x000;

    /// <summary>Mirrors the VMX-abort indicator.</summary>
    public const int AbortOffset = 0x004;

    /// <summary>u32 of <see cref="EvmcsCleanField"/> bits (only the low 16 are defined).</summary>
    public const int HvCleanFieldsOffset = 0x338;

    /// <summary>u32 of TLFS synthetic controls; KVM ignores it.</summary>
    public const int HvSyntheticControlsOffset = 0x340;

    /// <summary>
    /// u32 <c>hv_enlightenmentscontrol</c>: bit 0 nested_flush_hypercall, bit 1 msr_bitmap;
    /// read live at every use rather than copied into vmcs12.
    /// </summary>
    public const int HvEnlightenmentsControlOffset = 0x344;

    /// <summary>u32, group <see cref="EvmcsCleanField.Enlightenmentscontrol"/>.</summary>
    public const int HvVpIdOffset = 0x348;

    /// <summary>u64, group <see cref="EvmcsCleanField.Enlightenmentscontrol"/>.</summary>
    public const int HvVmIdOffset = 0x350;

    /// <summary>u64 GPA in L1's space, group <see cref="EvmcsCleanField.Enlightenmentscontrol"/>.</summary>
    public const int PartitionAssistPageOffset = 0x358;

    /// <summary>Reads an ordinary VMCS field from an eVMCS page; false if the eVMCS lacks it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> evmcs, ulong encoding, out ulong value)
    {
        short offset = VmcsFieldTable.GetEvmcsOffset(encoding);
        if (offset < 0)
        {
            value = 0;
            return false;
        }

        value = VmcsFieldAccessor.Read(evmcs, (ushort)offset, new VmcsFieldEncoding((ushort)encoding).AccessWidth);
        return true;
    }

    /// <summary>Writes an ordinary VMCS field into an eVMCS page; false if the eVMCS lacks it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryWrite(Span<byte> evmcs, ulong encoding, ulong value)
    {
        short offset = VmcsFieldTable.GetEvmcsOffset(encoding);
        if (offset < 0)
        {
            return false;
        }

        VmcsFieldAccessor.Write(evmcs, (ushort)offset, new VmcsFieldEncoding((ushort)encoding).AccessWidth, value);
        return true;
    }

    public static ulong Read(ReadOnlySpan<byte> evmcs, VmcsField field)
    {
        if (!TryRead(evmcs, (ushort)field, out ulong value))
        {
            ThrowNotInEvmcs(field);
        }

        return value;
    }

    public static void Write(Span<byte> evmcs, VmcsField field, ulong value)
    {
        if (!TryWrite(evmcs, (ushort)field, value))
        {
            ThrowNotInEvmcs(field);
        }
    }

    [DoesNotReturn]
    private static void ThrowNotInEvmcs(VmcsField field)
        => throw new ArgumentOutOfRangeException(nameof(field), field, "The enlightened VMCS has no such field.");
}
