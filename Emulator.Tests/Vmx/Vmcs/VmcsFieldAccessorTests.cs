using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Vmcs;

[TestFixture]
internal sealed class VmcsFieldAccessorTests
{
    [TestCase(VmcsFieldWidth.U16, 0xBEEFul, 2)]
    [TestCase(VmcsFieldWidth.U32, 0xDEAD_BEEFul, 4)]
    [TestCase(VmcsFieldWidth.U64, 0x0123_4567_89AB_CDEFul, 8)]
    [TestCase(VmcsFieldWidth.NaturalWidth, 0xFFFF_8000_0000_1000ul, 8)]
    public void Write_EachWidth_ReadsBackAndTouchesOnlyItsBytes(VmcsFieldWidth width, ulong value, int size)
    {
        var block = new byte[64];
        Array.Fill(block, (byte)0xA5);

        VmcsFieldAccessor.Write(block, 16, width, value);

        Assert.That(VmcsFieldAccessor.Read(block, 16, width), Is.EqualTo(value));
        Assert.That(block[15], Is.EqualTo(0xA5));
        Assert.That(block[16 + size], Is.EqualTo(0xA5));
        Assert.That(block[16], Is.EqualTo((byte)value), "little-endian");
    }

    [TestCase(VmcsFieldWidth.U16, 0xFFFFul)]
    [TestCase(VmcsFieldWidth.U32, 0xFFFF_FFFFul)]
    public void Write_ValueWiderThanField_IsTruncated(VmcsFieldWidth width, ulong expected)
    {
        var block = new byte[16];

        VmcsFieldAccessor.Write(block, 0, width, ulong.MaxValue);

        Assert.That(VmcsFieldAccessor.Read(block, 0, width), Is.EqualTo(expected));
        Assert.That(VmcsFieldAccessor.Read(block, 0, VmcsFieldWidth.U64), Is.EqualTo(expected));
    }

    [Test]
    public void Read_UnalignedOffset_Works()
    {
        var block = new byte[16];

        VmcsFieldAccessor.Write(block, 3, VmcsFieldWidth.U64, 0x1122_3344_5566_7788);

        Assert.That(VmcsFieldAccessor.Read(block, 3, VmcsFieldWidth.U64), Is.EqualTo(0x1122_3344_5566_7788ul));
    }

    [TestCase(VmcsFieldWidth.U16, (ushort)4095)]
    [TestCase(VmcsFieldWidth.U32, (ushort)4093)]
    [TestCase(VmcsFieldWidth.U64, (ushort)4089)]
    [TestCase(VmcsFieldWidth.NaturalWidth, (ushort)ushort.MaxValue)]
    public void Read_PastEndOfBlock_Throws(VmcsFieldWidth width, ushort offset)
    {
        var block = new byte[4096];

        Assert.That(() => VmcsFieldAccessor.Read(block, offset, width), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => VmcsFieldAccessor.Write(block, offset, width, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ReadWrite_TenThousandVmreadVmwrites_AllocateNothing()
    {
        var vmcs12 = new byte[Vmcs12Layout.Size];
        ulong[] encodings =
        [
            (ulong)VmcsField.GuestRip,
            (ulong)VmcsField.VmExitReason,
            (ulong)VmcsField.GuestCsSelector,
            (ulong)VmcsField.EptPointer,
            (ulong)VmcsField.EptPointerHigh,
            (ulong)VmcsField.HostCr3,
            0x0006, // unknown
        ];

        ulong sum = RunVmreadVmwrites(vmcs12, encodings, 1_000); // warm-up: JIT, static constructors
        long before = GC.GetAllocatedBytesForCurrentThread();
        sum += RunVmreadVmwrites(vmcs12, encodings, 10_000);
        long after = GC.GetAllocatedBytesForCurrentThread();

        Assert.That(after - before, Is.Zero);
        Assert.That(sum, Is.Not.Zero);
    }

    private static ulong RunVmreadVmwrites(byte[] vmcs12, ulong[] encodings, int iterations)
    {
        ulong sum = 0;
        for (int i = 0; i < iterations; i++)
        {
            ulong encoding = encodings[i % encodings.Length];
            Vmcs12Layout.TryWrite(vmcs12, encoding, (ulong)i * 0x1_0001);
            if (Vmcs12Layout.TryRead(vmcs12, encoding, out ulong value))
            {
                sum += value;
            }

            short offset = VmcsFieldTable.GetVmcs12Offset((ulong)VmcsField.GuestRflags);
            VmcsFieldAccessor.Write(vmcs12, (ushort)offset, VmcsFieldWidth.NaturalWidth, (ulong)i);
            sum += VmcsFieldAccessor.Read(vmcs12, (ushort)offset, VmcsFieldWidth.NaturalWidth);
        }

        return sum;
    }
}
