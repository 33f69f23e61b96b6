using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Vmcs;

[TestFixture]
internal sealed class VmcsFieldEncodingTests
{
    [TestCase(VmcsField.GuestEsSelector, VmcsFieldWidth.U16)]
    [TestCase(VmcsField.VirtualProcessorId, VmcsFieldWidth.U16)]
    [TestCase(VmcsField.GuestEsLimit, VmcsFieldWidth.U32)]
    [TestCase(VmcsField.VmExitReason, VmcsFieldWidth.U32)]
    [TestCase(VmcsField.VmcsLinkPointer, VmcsFieldWidth.U64)]
    [TestCase(VmcsField.EptPointer, VmcsFieldWidth.U64)]
    [TestCase(VmcsField.GuestRip, VmcsFieldWidth.NaturalWidth)]
    [TestCase(VmcsField.HostRip, VmcsFieldWidth.NaturalWidth)]
    public void Width_FullEncoding_IsBits14To13(VmcsField field, VmcsFieldWidth expected)
    {
        var encoding = new VmcsFieldEncoding(field);

        Assert.That(encoding.Width, Is.EqualTo(expected));
        Assert.That(encoding.AccessWidth, Is.EqualTo(expected));
        Assert.That(encoding.AccessType, Is.EqualTo(VmcsFieldAccessType.Full));
    }

    [TestCase(VmcsField.IoBitmapAHigh)]
    [TestCase(VmcsField.GuestPhysicalAddressHigh)]
    [TestCase(VmcsField.VmcsLinkPointerHigh)]
    [TestCase(VmcsField.HostIa32PerfGlobalCtrlHigh)]
    public void Width_HighEncoding_Is64BitFieldWith32BitAccess(VmcsField field)
    {
        var encoding = new VmcsFieldEncoding(field);

        Assert.That(encoding.IsHigh, Is.True);
        Assert.That(encoding.AccessType, Is.EqualTo(VmcsFieldAccessType.High));
        Assert.That(encoding.Width, Is.EqualTo(VmcsFieldWidth.U64));
        Assert.That(encoding.AccessWidth, Is.EqualTo(VmcsFieldWidth.U32));
        Assert.That(encoding.IsWellFormed, Is.True);
        Assert.That(encoding.Full.Value, Is.EqualTo((ushort)field - 1));
    }

    [TestCase(VmcsField.PinBasedVmExecControl, VmcsFieldType.Control)]
    [TestCase(VmcsField.Cr0GuestHostMask, VmcsFieldType.Control)]
    [TestCase(VmcsField.VmInstructionError, VmcsFieldType.ReadOnlyData)]
    [TestCase(VmcsField.ExitQualification, VmcsFieldType.ReadOnlyData)]
    [TestCase(VmcsField.GuestPhysicalAddress, VmcsFieldType.ReadOnlyData)]
    [TestCase(VmcsField.GuestCr0, VmcsFieldType.GuestState)]
    [TestCase(VmcsField.GuestTrSelector, VmcsFieldType.GuestState)]
    [TestCase(VmcsField.HostCr3, VmcsFieldType.HostState)]
    [TestCase(VmcsField.HostIa32SysenterCs, VmcsFieldType.HostState)]
    public void Type_Encoding_IsBits11To10(VmcsField field, VmcsFieldType expected)
    {
        var encoding = new VmcsFieldEncoding(field);

        Assert.That(encoding.Type, Is.EqualTo(expected));
        Assert.That(encoding.IsReadOnly, Is.EqualTo(expected == VmcsFieldType.ReadOnlyData));
    }

    [TestCase(VmcsField.VirtualProcessorId, 0)]
    [TestCase(VmcsField.GuestGsSelector, 5)]
    [TestCase(VmcsField.GuestRip, 0x0F)]
    [TestCase(VmcsField.PidPointerTable, 0x21)]
    public void Index_Encoding_IsBits9To1(VmcsField field, int expected)
    {
        Assert.That(new VmcsFieldEncoding(field).Index, Is.EqualTo(expected));
    }

    [Test]
    public void Index_HighEncoding_IsThatOfTheFullEncoding()
    {
        Assert.That(new VmcsFieldEncoding(VmcsField.EptPointerHigh).Index, Is.EqualTo(new VmcsFieldEncoding(VmcsField.EptPointer).Index));
    }

    [TestCase((ushort)0x0001)]
    [TestCase((ushort)0x4001)]
    [TestCase((ushort)0x6801)]
    [TestCase((ushort)0x1000)]
    [TestCase((ushort)0x8000)]
    [TestCase((ushort)0xA000)]
    public void IsWellFormed_ReservedBitOrHighOnNon64BitField_IsFalse(ushort value)
    {
        Assert.That(new VmcsFieldEncoding(value).IsWellFormed, Is.False);
    }

    [TestCase((ushort)0x0000, 0x0000)]
    [TestCase((ushort)0x681E, 0x079A)]
    [TestCase((ushort)0x2001, 0x0048)]
    [TestCase((ushort)0x4402, 0x0091)]
    public void TableIndex_Encoding_IsRol16By6(ushort value, int expected)
    {
        Assert.That(new VmcsFieldEncoding(value).TableIndex, Is.EqualTo(expected));
    }
}
