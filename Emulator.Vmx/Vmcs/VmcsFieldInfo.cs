namespace Emulator.Vmx.Vmcs;

/// <summary>
/// One row of <see cref="VmcsFieldTable"/>: a field (its FULL encoding, whose enum name is the
/// field's name), where it lives in vmcs12, and where it lives in the enlightened VMCS if it
/// has a place there. Width, type and read-only-ness are read off the encoding.
/// </summary>
internal readonly struct VmcsFieldInfo
{
    /// <summary>Marks a field that the enlightened VMCS v1 does not have.</summary>
    public const short NoEvmcsOffset = -1;

    public VmcsFieldInfo(VmcsField field, ushort vmcs12Offset, short evmcsOffset, EvmcsCleanField evmcsCleanField)
    {
        Field = field;
        Vmcs12Offset = vmcs12Offset;
        EvmcsOffset = evmcsOffset;
        EvmcsCleanField = evmcsCleanField;
    }

    public VmcsField Field { get; }

    /// <summary>Byte offset of the field's storage in the vmcs12 block (<see cref="Vmcs12Layout"/>).</summary>
    public ushort Vmcs12Offset { get; }

    /// <summary>Byte offset in <c>struct hv_enlightened_vmcs</c>, or <see cref="NoEvmcsOffset"/>.</summary>
    public short EvmcsOffset { get; }

    /// <summary>The eVMCS clean-field group; <see cref="EvmcsCleanField.None"/> also when there is no eVMCS field.</summary>
    public EvmcsCleanField EvmcsCleanField { get; }

    public VmcsFieldEncoding Encoding => new(Field);

    public VmcsFieldWidth Width => Encoding.Width;

    public VmcsFieldType Type => Encoding.Type;

    public bool IsReadOnly => Encoding.IsReadOnly;

    public bool HasEvmcsField => EvmcsOffset >= 0;

    /// <summary>Bytes of storage: natural-width fields are stored as 64 bits in both layouts.</summary>
    public int Size => VmcsFieldEncoding.SizeOf(Width);
}
