using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Vmcs;

[TestFixture]
internal sealed class VmcsFieldTableTests
{
    private static IEnumerable<VmcsField> AllEnumFields() => Enum.GetValues<VmcsField>();

    [TestCaseSource(nameof(AllEnumFields))]
    public void Lookup_EveryEncoding_RoundTripsThroughRotatedIndex(VmcsField field)
    {
        var encoding = new VmcsFieldEncoding(field);
        int index = encoding.TableIndex;

        Assert.That(ushort.RotateRight((ushort)index, 6), Is.EqualTo((ushort)field), "ROL16 is a bijection");
        Assert.That(index, Is.LessThan(VmcsFieldTable.IndexCount));
        Assert.That(VmcsFieldTable.GetVmcs12Offset((ushort)field), Is.GreaterThanOrEqualTo(0));
        Assert.That(VmcsFieldTable.TryGetInfo((ushort)field, out VmcsFieldInfo info), Is.True);
        Assert.That(info.Field, Is.EqualTo(encoding.Full.Field));
    }

    [TestCaseSource(nameof(AllEnumFields))]
    public void Lookup_HighEncoding_IsUpperHalfOfFullStorage(VmcsField field)
    {
        var encoding = new VmcsFieldEncoding(field);
        if (!encoding.IsHigh)
        {
            Assert.That(VmcsFieldTable.GetVmcs12Offset((ushort)field), Is.EqualTo(VmcsFieldTable.GetInfo(field).Vmcs12Offset));
            return;
        }

        short full = VmcsFieldTable.GetVmcs12Offset(encoding.Full.Value);
        Assert.That(VmcsFieldTable.GetVmcs12Offset((ushort)field), Is.EqualTo(full + 4));
    }

    [Test]
    public void Table_EveryRow_IsAFullEnumMemberAndEvery64BitRowHasItsHighMember()
    {
        var members = new HashSet<VmcsField>(Enum.GetValues<VmcsField>());
        var fromTable = new HashSet<VmcsField>();
        foreach (VmcsFieldInfo row in VmcsFieldTable.Fields)
        {
            Assert.That(row.Encoding.IsWellFormed, Is.True, row.Field.ToString());
            Assert.That(row.Encoding.IsHigh, Is.False, row.Field.ToString());
            Assert.That(fromTable.Add(row.Field), Is.True, $"{row.Field} twice");
            if (row.Width == VmcsFieldWidth.U64)
            {
                Assert.That(fromTable.Add(row.Encoding.High.Field), Is.True);
            }
        }

        Assert.That(fromTable, Is.EquivalentTo(members));
    }

    [Test]
    public void Table_Rows_AreInEncodingOrder()
    {
        ReadOnlySpan<VmcsFieldInfo> rows = VmcsFieldTable.Fields;
        for (int i = 1; i < rows.Length; i++)
        {
            Assert.That((ushort)rows[i].Field, Is.GreaterThan((ushort)rows[i - 1].Field), rows[i].Field.ToString());
        }
    }

    [Test]
    public void Table_FieldCount_Is172FieldsAnd220Encodings()
    {
        Assert.That(VmcsFieldTable.Fields.Length, Is.EqualTo(172));
        Assert.That(Enum.GetValues<VmcsField>().Length, Is.EqualTo(220));
    }

    [TestCase(0x0006ul)] // HLAT prefix size: an SDM field this virtual CPU does not have
    [TestCase(0x0001ul)] // HIGH of a 16-bit field
    [TestCase(0x4001ul)] // HIGH of a 32-bit field
    [TestCase(0x6801ul)] // HIGH of a natural-width field
    [TestCase(0x0C0Eul)] // past the host selectors
    [TestCase(0x2046ul)]
    [TestCase(0x2402ul)] // next 64-bit read-only index: not a field here
    [TestCase(0x482Cul)]
    [TestCase(0x6C1Eul)]
    [TestCase(0x1000ul)] // reserved bit 12
    [TestCase(0x8000ul)] // reserved bit 15
    [TestCase(0xA000ul)] // bit 15 on a valid field's encoding
    [TestCase(0xFFFFul)]
    [TestCase(0x1_0000ul)]
    [TestCase(0x1_681Eul)] // bits 31:16 set on GuestRip
    [TestCase(0x1_0000_681Eul)] // bits 63:32 set on GuestRip
    [TestCase(ulong.MaxValue)]
    public void Lookup_UnknownEncoding_IsRejected(ulong encoding)
    {
        Assert.That(VmcsFieldTable.GetVmcs12Offset(encoding), Is.EqualTo(-1));
        Assert.That(VmcsFieldTable.GetEvmcsOffset(encoding), Is.EqualTo(-1));
        Assert.That(VmcsFieldTable.IsSupported(encoding), Is.False);
        Assert.That(VmcsFieldTable.TryGetInfo(encoding, out _), Is.False);
        Assert.That(Vmcs12Layout.TryRead(new byte[Vmcs12Layout.Size], encoding, out _), Is.False);
        Assert.That(Vmcs12Layout.TryWrite(new byte[Vmcs12Layout.Size], encoding, 1), Is.False);
    }

    [Test]
    public void GetInfo_ValueOutsideTheTable_Throws()
    {
        Assert.That(() => VmcsFieldTable.GetInfo((VmcsField)0x0006), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void HighestIndex_ComputedFromTable_IsPidPointerTableIndex()
    {
        // PID_POINTER_TABLE (0x2042) has the largest bits 9:1 of all fields: 0x21.
        Assert.That(VmcsFieldTable.HighestIndex, Is.EqualTo(0x21));
        Assert.That(VmcsFieldTable.VmcsEnumMsr, Is.EqualTo(0x42ul));

        int max = 0;
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            max = Math.Max(max, new VmcsFieldEncoding(field).Index);
        }

        Assert.That(VmcsFieldTable.HighestIndex, Is.EqualTo(max));
    }

    [Test]
    public void IndexCount_IsOnePastHighestRotatedEncoding()
    {
        int max = 0;
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            max = Math.Max(max, new VmcsFieldEncoding(field).TableIndex);
        }

        Assert.That(VmcsFieldTable.IndexCount, Is.EqualTo(max + 1));
    }
}
