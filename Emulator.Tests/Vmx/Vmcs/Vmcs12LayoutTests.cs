using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Vmcs;

/// <summary>Freezes the vmcs12 layout, as KVM's CHECK_OFFSET does for struct vmcs12.</summary>
[TestFixture]
internal sealed class Vmcs12LayoutTests
{
    [Test]
    public void Layout_Header_IsFrozen()
    {
        Assert.That(Vmcs12Layout.Revision, Is.EqualTo(0x11E57ED0u));
        Assert.That(Vmcs12Layout.Size, Is.EqualTo(4096));
        Assert.That(Vmcs12Layout.UsedSize, Is.EqualTo(1188));
        Assert.That(Vmcs12Layout.RevisionIdOffset, Is.EqualTo(0));
        Assert.That(Vmcs12Layout.AbortOffset, Is.EqualTo(4));
        Assert.That(Vmcs12Layout.LaunchStateOffset, Is.EqualTo(8));
        Assert.That(Vmcs12Layout.FieldsStart, Is.EqualTo(40));
        Assert.That(Vmcs12Layout.ShadowVmcsIndicator, Is.EqualTo(0x8000_0000u));
    }

    // KVM's CHECK_OFFSET values (arch/x86/kvm/vmx/vmcs12.h) for a sample of each region, then
    // the CR3-target values in KVM's dead_space and the fields appended after KVM's struct.
    [TestCase(VmcsField.IoBitmapA, 40)]
    [TestCase(VmcsField.IoBitmapAHigh, 44)]
    [TestCase(VmcsField.EptPointer, 120)]
    [TestCase(VmcsField.GuestPhysicalAddress, 168)]
    [TestCase(VmcsField.VmcsLinkPointer, 176)]
    [TestCase(VmcsField.HostIa32PerfGlobalCtrl, 272)]
    [TestCase(VmcsField.TscMultiplier, 328)]
    [TestCase(VmcsField.Cr0GuestHostMask, 344)]
    [TestCase(VmcsField.ExitQualification, 408)]
    [TestCase(VmcsField.GuestRip, 544)]
    [TestCase(VmcsField.HostRip, 672)]
    [TestCase(VmcsField.PinBasedVmExecControl, 744)]
    [TestCase(VmcsField.VmExitReason, 812)]
    [TestCase(VmcsField.GuestTrArBytes, 908)]
    [TestCase(VmcsField.VmxPreemptionTimerValue, 928)]
    [TestCase(VmcsField.VirtualProcessorId, 960)]
    [TestCase(VmcsField.GuestEsSelector, 964)]
    [TestCase(VmcsField.GuestPmlIndex, 996)]
    [TestCase(VmcsField.Cr3TargetValue0, 376)]
    [TestCase(VmcsField.Cr3TargetValue3, 400)]
    [TestCase(VmcsField.ExecutiveVmcsPointer, 1000)]
    [TestCase(VmcsField.TertiaryVmExecControl, 1024)]
    [TestCase(VmcsField.TertiaryVmExecControlHigh, 1028)]
    [TestCase(VmcsField.PidPointerTable, 1048)]
    [TestCase(VmcsField.IoRcx, 1088)]
    [TestCase(VmcsField.HostIntrSspTable, 1160)]
    [TestCase(VmcsField.PleGap, 1168)]
    [TestCase(VmcsField.GuestSmbase, 1180)]
    [TestCase(VmcsField.EptpIndex, 1184)]
    [TestCase(VmcsField.LastPidPointerIndex, 1186)]
    public void Layout_FieldOffset_IsFrozen(VmcsField field, int offset)
    {
        Assert.That(VmcsFieldTable.GetVmcs12Offset((ushort)field), Is.EqualTo(offset));
    }

    [Test]
    public void Layout_Fields_DoNotOverlapAndAreNaturallyAligned()
    {
        var spans = new List<(int Start, int End, VmcsField Field)>();
        foreach (VmcsFieldInfo row in VmcsFieldTable.Fields)
        {
            Assert.That(row.Vmcs12Offset % row.Size, Is.Zero, $"{row.Field} misaligned");
            spans.Add((row.Vmcs12Offset, row.Vmcs12Offset + row.Size, row.Field));
        }

        spans.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < spans.Count; i++)
        {
            Assert.That(spans[i].Start, Is.GreaterThanOrEqualTo(spans[i - 1].End), $"{spans[i - 1].Field} overlaps {spans[i].Field}");
        }

        Assert.That(spans[0].Start, Is.GreaterThanOrEqualTo(Vmcs12Layout.FieldsStart));
        Assert.That(spans[^1].End, Is.EqualTo(Vmcs12Layout.UsedSize));
        Assert.That(Vmcs12Layout.UsedSize, Is.LessThanOrEqualTo(Vmcs12Layout.Size));
    }

    [Test]
    public void TryRead_WrittenByName_ReadsBackByEncoding()
    {
        var vmcs12 = new byte[Vmcs12Layout.Size];
        Vmcs12Layout.Write(vmcs12, VmcsField.GuestRip, 0xFFFF_8000_0010_2030);
        Vmcs12Layout.Write(vmcs12, VmcsField.VmExitReason, 0x8000_0021);

        Assert.That(Vmcs12Layout.TryRead(vmcs12, (ulong)VmcsField.GuestRip, out ulong rip), Is.True);
        Assert.That(rip, Is.EqualTo(0xFFFF_8000_0010_2030));
        Assert.That(Vmcs12Layout.Read(vmcs12, VmcsField.VmExitReason), Is.EqualTo(0x8000_0021ul));
        Assert.That(BitConverter.ToUInt64(vmcs12, 544), Is.EqualTo(0xFFFF_8000_0010_2030));
    }

    [Test]
    public void TryWrite_HighEncoding_ChangesOnlyUpperHalf()
    {
        var vmcs12 = new byte[Vmcs12Layout.Size];
        Vmcs12Layout.Write(vmcs12, VmcsField.EptPointer, 0x1122_3344_5566_7788);

        Assert.That(Vmcs12Layout.Read(vmcs12, VmcsField.EptPointerHigh), Is.EqualTo(0x1122_3344ul));
        Assert.That(Vmcs12Layout.TryWrite(vmcs12, (ulong)VmcsField.EptPointerHigh, 0xFFFF_FFFF_AABB_CCDD), Is.True);
        Assert.That(Vmcs12Layout.Read(vmcs12, VmcsField.EptPointer), Is.EqualTo(0xAABB_CCDD_5566_7788));
    }

    [Test]
    public void Write_UnknownField_Throws()
    {
        var vmcs12 = new byte[Vmcs12Layout.Size];

        Assert.That(() => Vmcs12Layout.Write(vmcs12, (VmcsField)0x0006, 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
