namespace Emulator.Vmx.Vmcs;

/// <summary>
/// Width of a VMCS field, encoding bits 14:13. Values are the encoding's and KVM's
/// (<c>enum vmcs_field_width</c>): note that 64-bit is 1 and 32-bit is 2.
/// </summary>
internal enum VmcsFieldWidth : byte
{
    U16 = 0,
    U64 = 1,
    U32 = 2,

    /// <summary>Natural width: 64 bits on processors that support Intel 64; always stored as 64 bits.</summary>
    NaturalWidth = 3,
}

/// <summary>Type of a VMCS field, encoding bits 11:10.</summary>
internal enum VmcsFieldType : byte
{
    Control = 0,

    /// <summary>VM-exit information; the SDM's Appendix B calls these "read-only data fields".</summary>
    ReadOnlyData = 1,
    GuestState = 2,
    HostState = 3,
}

/// <summary>Access type, encoding bit 0.</summary>
internal enum VmcsFieldAccessType : byte
{
    Full = 0,

    /// <summary>The upper 32 bits of a 64-bit field; valid only for 64-bit fields.</summary>
    High = 1,
}

/// <summary>
/// A VMCS field encoding, decoded. Everything here is derived from the 32-bit encoding's bits
/// and never stored a second time, per SDM Vol. 3C §25.11.2 "VMREAD, VMWRITE, and Encodings of
/// VMCS Fields" (Table "Structure of VMCS Component Encoding"):
/// bit 0 access type, bits 9:1 index, bits 11:10 type, bit 12 reserved, bits 14:13 width,
/// bit 15 reserved, bits 31:16 reserved.
/// </summary>
internal readonly struct VmcsFieldEncoding : IEquatable<VmcsFieldEncoding>
{
    /// <summary>Bits 12 and 15 are reserved and must be 0 in every valid encoding.</summary>
    public const ushort ReservedBits = 0x9000;

    public VmcsFieldEncoding(ushort value)
    {
        Value = value;
    }

    public VmcsFieldEncoding(VmcsField field)
    {
        Value = (ushort)field;
    }

    public ushort Value { get; }

    public VmcsField Field => (VmcsField)Value;

    public VmcsFieldAccessType AccessType => (VmcsFieldAccessType)(Value & 1);

    public bool IsHigh => (Value & 1) != 0;

    /// <summary>Bits 9:1; IA32_VMX_VMCS_ENUM reports the highest one in its bits 9:1.</summary>
    public int Index => (Value >> 1) & 0x1FF;

    public VmcsFieldType Type => (VmcsFieldType)((Value >> 10) & 3);

    /// <summary>The width of the field itself (bits 14:13), also for a HIGH encoding.</summary>
    public VmcsFieldWidth Width => (VmcsFieldWidth)((Value >> 13) & 3);

    /// <summary>
    /// The width a VMREAD or VMWRITE of this encoding moves: a HIGH access moves the upper 32
    /// bits of a 64-bit field (KVM's <c>vmcs_field_width</c>: "the *_HIGH fields are all 32 bit").
    /// </summary>
    public VmcsFieldWidth AccessWidth => IsHigh ? VmcsFieldWidth.U32 : Width;

    /// <summary>
    /// VM-exit information fields are read-only unless IA32_VMX_MISC bit 29 lets VMWRITE write
    /// them (SDM Vol. 3C §25.11.2; KVM's <c>vmcs_field_readonly</c>).
    /// </summary>
    public bool IsReadOnly => Type == VmcsFieldType.ReadOnlyData;

    /// <summary>The FULL encoding of the same field (clears the access-type bit).</summary>
    public VmcsFieldEncoding Full => new((ushort)(Value & ~1));

    /// <summary>The HIGH encoding of the same field; meaningful only for 64-bit fields.</summary>
    public VmcsFieldEncoding High => new((ushort)(Value | 1));

    /// <summary>
    /// Well-formed: reserved bits clear, and HIGH only on a 64-bit field. Says nothing about
    /// whether the field exists; <see cref="VmcsFieldTable"/> decides that.
    /// </summary>
    public bool IsWellFormed => (Value & ReservedBits) == 0 && (!IsHigh || Width == VmcsFieldWidth.U64);

    /// <summary>
    /// KVM's <c>ROL16(field, 6)</c>: a 16-bit rotate that brings width and type (bits 15:10) to
    /// bits 5:0 and the index and access type to bits 15:6, so the encodings that exist form a
    /// dense range usable as an array index. (<c>BitOperations.RotateLeft</c> only rotates 32-
    /// and 64-bit values, which would not wrap bits 15:10 around; the 16-bit rotate is
    /// <c>ushort.RotateLeft</c>.)
    /// </summary>
    public int TableIndex => ushort.RotateLeft(Value, 6);

    public static int SizeOf(VmcsFieldWidth width) => width switch
    {
        VmcsFieldWidth.U16 => sizeof(ushort),
        VmcsFieldWidth.U32 => sizeof(uint),
        _ => sizeof(ulong),
    };

    public bool Equals(VmcsFieldEncoding other) => Value == other.Value;

    public override bool Equals(object? obj) => obj is VmcsFieldEncoding other && Equals(other);

    public override int GetHashCode() => Value;

    public override string ToString() => $"0x{Value:X4}";

    public static bool operator ==(VmcsFieldEncoding left, VmcsFieldEncoding right) => left.Value == right.Value;

    public static bool operator !=(VmcsFieldEncoding left, VmcsFieldEncoding right) => left.Value != right.Value;
}
