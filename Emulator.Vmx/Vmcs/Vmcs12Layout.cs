using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Emulator.Vmx.Vmcs;

/// <summary>
/// The vmcs12 block: the VMCS region L1 hands to VMPTRLD, in the layout of this emulator's
/// virtual CPU. Only the first two dwords are architectural (SDM Vol. 3C §25.2 "Format of the
/// VMCS Region": revision identifier with the shadow-VMCS indicator in bit 31, then the
/// VMX-abort indicator); the rest is implementation-specific and opaque to L1, which must use
/// VMREAD/VMWRITE. Modelled on KVM's <c>struct vmcs12</c> and frozen by a test like KVM's
/// <c>CHECK_OFFSET</c>:
/// <code>
///    0  u32  revision id (bit 31: shadow-VMCS indicator)
///    4  u32  VMX-abort indicator
///    8  u32  launch state (0 after VMCLEAR, 1 after VMLAUNCH)
///   12  u32  reserved[7]
///   40       64-bit fields ...................... KVM's offsets 40..335, reserved 336..343
///  344       natural-width fields ............... KVM's offsets 344..679 (CR3-target values at
///                                                 376..407, KVM's "dead_space"), reserved 680..743
///  744       32-bit fields ...................... KVM's offsets 744..931, reserved 932..959
///  960       16-bit fields ...................... KVM's offsets 960..997
/// 1000       fields KVM's struct lacks .......... 64-bit/natural 1000..1167, 32-bit 1168..1183,
///                                                 16-bit 1184..1187
/// 1188..4095 reserved
/// </code>
/// Every offset is in <see cref="VmcsFieldTable"/>. New fields go into reserved space; existing
/// offsets never move.
/// </summary>
internal static class Vmcs12Layout
{
    /// <summary>
    /// VMCS revision identifier of the virtual CPU, reported in IA32_VMX_BASIC bits 30:0 and
    /// checked by VMPTRLD; KVM's <c>VMCS12_REVISION</c>.
    /// </summary>
    public const uint Revision = 0x11E5_7ED0;

    /// <summary>
    /// Bytes L1 allocates for a VMCS (and VMXON) region, reported in IA32_VMX_BASIC bits 44:32;
    /// KVM's <c>VMCS12_SIZE</c>.
    /// </summary>
    public const int Size = 0x1000;

    /// <summary>Bytes of <see cref="Size"/> that hold something; the rest is reserved.</summary>
    public const int UsedSize = 1188;

    public const int RevisionIdOffset = 0;

    /// <summary>Bit 31 of the revision dword: set in a shadow VMCS (SDM §25.2).</summary>
    public const uint ShadowVmcsIndicator = 0x8000_0000;

    /// <summary>The VMX-abort indicator, written on a VMX abort (SDM §25.2).</summary>
    public const int AbortOffset = 4;

    /// <summary>KVM's <c>launch_state</c>: "clear" (0) or "launched" (1).</summary>
    public const int LaunchStateOffset = 8;

    /// <summary>First byte after the header; no field lives below it.</summary>
    public const int FieldsStart = 40;

    /// <summary>
    /// VMREAD from vmcs12: false if the encoding names no field (VM-instruction error 12).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> vmcs12, ulong encoding, out ulong value)
    {
        short offset = VmcsFieldTable.GetVmcs12Offset(encoding);
        if (offset < 0)
        {
            value = 0;
            return false;
        }

        value = VmcsFieldAccessor.Read(vmcs12, (ushort)offset, new VmcsFieldEncoding((ushort)encoding).AccessWidth);
        return true;
    }

    /// <summary>
    /// VMWRITE to vmcs12: false if the encoding names no field. Read-only checks (error 13) are
    /// the caller's, as they depend on IA32_VMX_MISC bit 29.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryWrite(Span<byte> vmcs12, ulong encoding, ulong value)
    {
        short offset = VmcsFieldTable.GetVmcs12Offset(encoding);
        if (offset < 0)
        {
            return false;
        }

        VmcsFieldAccessor.Write(vmcs12, (ushort)offset, new VmcsFieldEncoding((ushort)encoding).AccessWidth, value);
        return true;
    }

    /// <summary>Reads a field by name, for L0's own use (prepare_vmcs02, reflection, the debugger).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(ReadOnlySpan<byte> vmcs12, VmcsField field)
    {
        if (!TryRead(vmcs12, (ushort)field, out ulong value))
        {
            ThrowUnknownField(field);
        }

        return value;
    }

    /// <summary>Writes a field by name, for L0's own use (exit information, guest-state save).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> vmcs12, VmcsField field, ulong value)
    {
        if (!TryWrite(vmcs12, (ushort)field, value))
        {
            ThrowUnknownField(field);
        }
    }

    [DoesNotReturn]
    private static void ThrowUnknownField(VmcsField field)
        => throw new ArgumentOutOfRangeException(nameof(field), field, "Not a field of the vmcs12 layout.");
}
