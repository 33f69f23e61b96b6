using Emulator.Vmx.Vmcs;

namespace Emulator.Tests.Vmx.Vmcs;

/// <summary>eVMCS offsets and clean-field groups against reference §4.5 (struct hv_enlightened_vmcs).</summary>
[TestFixture]
internal sealed class EvmcsLayoutTests
{
    [TestCase(VmcsField.HostEsSelector, 0x008, EvmcsCleanField.HostGrp1)]
    [TestCase(VmcsField.HostRip, 0x050, EvmcsCleanField.HostGrp1)]
    [TestCase(VmcsField.PinBasedVmExecControl, 0x05C, EvmcsCleanField.ControlGrp1)]
    [TestCase(VmcsField.IoBitmapB, 0x070, EvmcsCleanField.IoBitmap)]
    [TestCase(VmcsField.MsrBitmap, 0x078, EvmcsCleanField.MsrBitmap)]
    [TestCase(VmcsField.GuestEsSelector, 0x080, EvmcsCleanField.GuestGrp2)]
    [TestCase(VmcsField.GuestIdtrBase, 0x120, EvmcsCleanField.GuestGrp2)]
    [TestCase(VmcsField.VmExitMsrStoreAddr, 0x140, EvmcsCleanField.All)]
    [TestCase(VmcsField.VmEntryMsrLoadCount, 0x18C, EvmcsCleanField.All)]
    [TestCase(VmcsField.TscOffset, 0x190, EvmcsCleanField.ControlGrp2)]
    [TestCase(VmcsField.VmcsLinkPointer, 0x1A0, EvmcsCleanField.GuestGrp1)]
    [TestCase(VmcsField.GuestSysenterCs, 0x1FC, EvmcsCleanField.GuestGrp1)]
    [TestCase(VmcsField.Cr0GuestHostMask, 0x200, EvmcsCleanField.Crdr)]
    [TestCase(VmcsField.GuestDr7, 0x238, EvmcsCleanField.Crdr)]
    [TestCase(VmcsField.HostRsp, 0x268, EvmcsCleanField.HostPointer)]
    [TestCase(VmcsField.EptPointer, 0x270, EvmcsCleanField.ControlXlat)]
    [TestCase(VmcsField.VirtualProcessorId, 0x278, EvmcsCleanField.ControlXlat)]
    [TestCase(VmcsField.GuestPhysicalAddress, 0x2A8, EvmcsCleanField.None)]
    [TestCase(VmcsField.VmExitReason, 0x2B4, EvmcsCleanField.None)]
    [TestCase(VmcsField.IoRip, 0x2F0, EvmcsCleanField.None)]
    [TestCase(VmcsField.GuestRsp, 0x300, EvmcsCleanField.GuestBasic)]
    [TestCase(VmcsField.GuestInterruptibilityInfo, 0x310, EvmcsCleanField.GuestBasic)]
    [TestCase(VmcsField.CpuBasedVmExecControl, 0x314, EvmcsCleanField.ControlProc)]
    [TestCase(VmcsField.ExceptionBitmap, 0x318, EvmcsCleanField.ControlExcpn)]
    [TestCase(VmcsField.VmEntryControls, 0x31C, EvmcsCleanField.ControlEntry)]
    [TestCase(VmcsField.VmEntryIntrInfoField, 0x320, EvmcsCleanField.ControlEvent)]
    [TestCase(VmcsField.TprThreshold, 0x32C, EvmcsCleanField.None)]
    [TestCase(VmcsField.GuestRip, 0x330, EvmcsCleanField.None)]
    [TestCase(VmcsField.GuestIa32PerfGlobalCtrl, 0x388, EvmcsCleanField.GuestGrp1)]
    [TestCase(VmcsField.GuestSsp, 0x398, EvmcsCleanField.GuestBasic)]
    [TestCase(VmcsField.GuestIa32LbrCtl, 0x3A8, EvmcsCleanField.GuestGrp1)]
    [TestCase(VmcsField.TscMultiplier, 0x3D8, EvmcsCleanField.ControlGrp2)]
    [TestCase(VmcsField.HostIntrSspTable, 0x3F0, EvmcsCleanField.HostGrp1)]
    public void Evmcs_FieldOffsetAndCleanGroup_MatchReference(VmcsField field, int offset, EvmcsCleanField group)
    {
        VmcsFieldInfo info = VmcsFieldTable.GetInfo(field);

        Assert.That(info.EvmcsOffset, Is.EqualTo(offset));
        Assert.That(info.EvmcsCleanField, Is.EqualTo(group));
        Assert.That(VmcsFieldTable.GetEvmcsOffset((ushort)field), Is.EqualTo(offset));
    }

    [Test]
    public void Evmcs_HighEncoding_IsUpperHalfOfFullField()
    {
        Assert.That(VmcsFieldTable.GetEvmcsOffset((ushort)VmcsField.EptPointerHigh), Is.EqualTo(0x274));
    }

    [TestCase(VmcsField.PostedIntrNv)]
    [TestCase(VmcsField.GuestIntrStatus)]
    [TestCase(VmcsField.GuestPmlIndex)]
    [TestCase(VmcsField.ApicAccessAddr)]
    [TestCase(VmcsField.PostedIntrDescAddr)]
    [TestCase(VmcsField.EoiExitBitmap0)]
    [TestCase(VmcsField.VmxPreemptionTimerValue)]
    [TestCase(VmcsField.TertiaryVmExecControl)]
    [TestCase(VmcsField.TertiaryVmExecControlHigh)]
    public void Evmcs_FieldTheEvmcsLacks_HasNoOffset(VmcsField field)
    {
        Assert.That(VmcsFieldTable.GetEvmcsOffset((ushort)field), Is.EqualTo(-1));
        Assert.That(VmcsFieldTable.GetInfo(field).HasEvmcsField, Is.False);
        Assert.That(VmcsFieldTable.GetInfo(field).EvmcsCleanField, Is.EqualTo(EvmcsCleanField.None));
        Assert.That(EvmcsLayout.TryRead(new byte[EvmcsLayout.Size], (ushort)field, out _), Is.False);
    }

    [Test]
    public void Evmcs_Fields_DoNotOverlapEachOtherOrTheSyntheticMembers()
    {
        var spans = new List<(int Start, int End, string Name)>
        {
            (EvmcsLayout.RevisionIdOffset, EvmcsLayout.AbortOffset + 4, "header"),
            (EvmcsLayout.HvCleanFieldsOffset, EvmcsLayout.HvCleanFieldsOffset + 4, "hv_clean_fields"),
            (EvmcsLayout.HvSyntheticControlsOffset, EvmcsLayout.HvSyntheticControlsOffset + 4, "hv_synthetic_controls"),
            (EvmcsLayout.HvEnlightenmentsControlOffset, EvmcsLayout.HvEnlightenmentsControlOffset + 4, "hv_enlightenments_control"),
            (EvmcsLayout.HvVpIdOffset, EvmcsLayout.HvVpIdOffset + 4, "hv_vp_id"),
            (EvmcsLayout.HvVmIdOffset, EvmcsLayout.HvVmIdOffset + 8, "hv_vm_id"),
            (EvmcsLayout.PartitionAssistPageOffset, EvmcsLayout.PartitionAssistPageOffset + 8, "partition_assist_page"),
        };
        int count = 0;
        foreach (VmcsFieldInfo row in VmcsFieldTable.Fields)
        {
            if (!row.HasEvmcsField)
            {
                continue;
            }

            count++;
            Assert.That(row.EvmcsOffset % row.Size, Is.Zero, $"{row.Field} misaligned");
            spans.Add((row.EvmcsOffset, row.EvmcsOffset + row.Size, row.Field.ToString()));
        }

        spans.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < spans.Count; i++)
        {
            Assert.That(spans[i].Start, Is.GreaterThanOrEqualTo(spans[i - 1].End), $"{spans[i - 1].Name} overlaps {spans[i].Name}");
        }

        Assert.That(spans[^1].End, Is.LessThanOrEqualTo(EvmcsLayout.UsedSize));
        Assert.That(count, Is.EqualTo(141), "rows of reference §4.5 that mirror a VMCS encoding");
    }

    [Test]
    public void TryWrite_EvmcsField_LandsAtStructOffset()
    {
        var evmcs = new byte[EvmcsLayout.Size];

        Assert.That(EvmcsLayout.TryWrite(evmcs, (ulong)VmcsField.GuestRip, 0x1234_5678_9ABC), Is.True);
        Assert.That(BitConverter.ToUInt64(evmcs, 0x330), Is.EqualTo(0x1234_5678_9ABCul));
        Assert.That(EvmcsLayout.Read(evmcs, VmcsField.GuestRip), Is.EqualTo(0x1234_5678_9ABCul));
    }
}
