using Emulator.Devices.Apic;

namespace Emulator.Tests.Devices.Apic;

public class IoApicTests
{
    private const uint Level = 1 << 15;
    private const uint Masked = 1 << 16;
    private const uint Logical = 1 << 11;
    private const uint RemoteIrr = 1 << 14;

    private static uint ReadReg(ApicRig rig, uint index)
    {
        rig.Memory.Write(IoApic.DefaultBase, 4, index);
        return (uint)rig.Memory.Read(IoApic.DefaultBase + 0x10, 4);
    }

    private static void WriteReg(ApicRig rig, uint index, uint value)
    {
        rig.Memory.Write(IoApic.DefaultBase, 4, index);
        rig.Memory.Write(IoApic.DefaultBase + 0x10, 4, value);
    }

    private static void Route(ApicRig rig, int pin, uint low, byte destination = 0)
    {
        WriteReg(rig, 0x10 + 2 * (uint)pin, Masked);
        WriteReg(rig, 0x11 + 2 * (uint)pin, (uint)destination << 24);
        WriteReg(rig, 0x10 + 2 * (uint)pin, low);
    }

    private static uint Low(ApicRig rig, int pin) => ReadReg(rig, 0x10 + 2 * (uint)pin);

    [Test]
    public void Version_IsReadOnly0x170020()
    {
        using var rig = new ApicRig(1);
        Assert.That(ReadReg(rig, 1), Is.EqualTo(0x0017_0020u));
        WriteReg(rig, 1, 0);
        Assert.That(ReadReg(rig, 1), Is.EqualTo(0x0017_0020u));
    }

    [Test]
    public void Id_OnlyBits27To24AreWritable_AndArbitrationFollows()
    {
        using var rig = new ApicRig(1);
        uint before = ReadReg(rig, 0);
        WriteReg(rig, 0, before ^ 0xFFFF_FFFF);
        Assert.That(ReadReg(rig, 0) ^ before, Is.EqualTo(0x0F00_0000u));
        WriteReg(rig, 0, 0x0F00_0000);
        Assert.That(ReadReg(rig, 2), Is.EqualTo(0x0F00_0000u));
        WriteReg(rig, 2, 0);
        Assert.That(ReadReg(rig, 2), Is.EqualTo(0x0F00_0000u));
    }

    [Test]
    public void Redirection_ResetIsMasked_AndRoundTrips()
    {
        using var rig = new ApicRig(1);
        Assert.That(Low(rig, 5), Is.EqualTo(Masked));
        WriteReg(rig, 0x10 + 10, 0xFFFF_FFFF);
        WriteReg(rig, 0x11 + 10, 0xAB00_0000);
        Assert.That(Low(rig, 5), Is.EqualTo(0x1_AFFFu), "delivery status and remote IRR are read-only");
        Assert.That(ReadReg(rig, 0x11 + 10), Is.EqualTo(0xAB00_0000u));
    }

    [Test]
    public void IoRegSel_ReadsBack()
    {
        using var rig = new ApicRig(1);
        rig.Memory.Write(IoApic.DefaultBase, 1, 0x17);
        Assert.That(rig.Memory.Read(IoApic.DefaultBase, 4), Is.EqualTo(0x17UL));
    }

    [Test]
    public void Edge_RisingEdgeDeliversOnce()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x76);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x76));
        rig.Eoi(0);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(-1), "no new edge");
        rig.IoApic.SetIrq(14, false);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x76));
        Assert.That(rig.Bit(0, ApicReg.Tmr, 0x76), Is.False);
    }

    [Test]
    public void Edge_WhileMasked_IsLost()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x81 | Masked);
        rig.IoApic.SetIrq(14, true);
        rig.IoApic.SetIrq(14, false);
        Route(rig, 14, 0x81);
        Assert.That(rig.Take(0), Is.EqualTo(-1));
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x81));
    }

    [Test]
    public void Level_RemoteIrrCycle_RedeliversAfterEoiWhileAsserted()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x9A | Level);
        rig.IoApic.SetIrq(14, true);
        Assert.That(Low(rig, 14) & RemoteIrr, Is.Not.Zero);
        Assert.That(rig.Bit(0, ApicReg.Tmr, 0x9A), Is.True);
        Assert.That(rig.Take(0), Is.EqualTo(0x9A));
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x9A), Is.False, "remote IRR holds the line");
        rig.Eoi(0);
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x9A), Is.True, "still asserted after EOI: sent again");
        Assert.That(Low(rig, 14) & RemoteIrr, Is.Not.Zero);
        Assert.That(rig.Take(0), Is.EqualTo(0x9A));
        rig.IoApic.SetIrq(14, false);
        rig.Eoi(0);
        Assert.That(Low(rig, 14) & RemoteIrr, Is.Zero);
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }

    [Test]
    public void Level_CoalescedWhileInService()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x98 | Level);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x98));
        rig.IoApic.SetIrq(14, false);
        rig.IoApic.SetIrq(14, true);
        rig.IoApic.SetIrq(14, false);
        rig.Eoi(0);
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }

    [Test]
    public void Level_UnmaskWhileAsserted_Delivers()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x82 | Level | Masked);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(-1));
        WriteReg(rig, 0x10 + 28, 0x82 | Level);
        Assert.That(rig.Take(0), Is.EqualTo(0x82));
    }

    [Test]
    public void Level_MaskedInHandlerThenUnmasked_DeliversAgain()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x83 | Level);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x83));
        WriteReg(rig, 0x10 + 28, 0x83 | Level | Masked);
        rig.Eoi(0);
        Assert.That(rig.Take(0), Is.EqualTo(-1));
        WriteReg(rig, 0x10 + 28, 0x83 | Level);
        Assert.That(rig.Take(0), Is.EqualTo(0x83));
    }

    [Test]
    public void Level_EoiAfterDestinationChange_StillClearsRemoteIrr()
    {
        using var rig = new ApicRig(2).Enable();
        Route(rig, 14, 0x84 | Level);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(0), Is.EqualTo(0x84));
        rig.IoApic.SetIrq(14, false);
        WriteReg(rig, 0x11 + 28, 1u << 24);
        rig.Eoi(0);
        Assert.That(Low(rig, 14) & RemoteIrr, Is.Zero);
    }

    [Test]
    public void Tmr_EdgeAfterLevel_ClearsTheBit()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x79 | Level);
        rig.IoApic.SetIrq(14, true);
        rig.Take(0);
        rig.IoApic.SetIrq(14, false);
        rig.Eoi(0);
        Assert.That(rig.Bit(0, ApicReg.Tmr, 0x79), Is.True, "TMR keeps its value after EOI");
        Route(rig, 14, 0x79);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Bit(0, ApicReg.Tmr, 0x79), Is.False);
    }

    [Test]
    public void EdgeEntryWrite_ClearsRemoteIrr()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 3, 0x50 | Level);
        rig.IoApic.SetIrq(3, true);
        Assert.That(Low(rig, 3) & RemoteIrr, Is.Not.Zero);
        WriteReg(rig, 0x10 + 6, 0x50 | Masked);
        Assert.That(Low(rig, 3) & RemoteIrr, Is.Zero);
    }

    [Test]
    public void EoiBroadcastSuppressed_DirectedEoiRegisterClearsRemoteIrr()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Svr, 0x11FF);
        Route(rig, 9, 0x61 | Level);
        rig.IoApic.SetIrq(9, true);
        rig.Take(0);
        rig.IoApic.SetIrq(9, false);
        rig.Eoi(0);
        Assert.That(Low(rig, 9) & RemoteIrr, Is.Not.Zero, "SVR bit 12 suppresses the broadcast");
        rig.Memory.Write(IoApic.DefaultBase + 0x40, 4, 0x61);
        Assert.That(Low(rig, 9) & RemoteIrr, Is.Zero);
    }

    [Test]
    public void Physical_DestinationSelectsTheCpu()
    {
        using var rig = new ApicRig(2).Enable();
        Route(rig, 14, 0x85 | Level, destination: 1);
        rig.IoApic.SetIrq(14, true);
        Assert.That(rig.Take(1), Is.EqualTo(0x85));
        Assert.That(rig.Take(0), Is.EqualTo(-1));
    }

    [Test]
    public void Logical_X2ApicCluster_ReachesEveryAddressedCpu()
    {
        using var rig = new ApicRig(4).Enable();
        for (int i = 0; i < 4; i++)
        {
            rig.EnterX2Apic(i);
        }
        Route(rig, 14, 0x86 | Logical, destination: 0x0D);
        rig.IoApic.SetIrq(14, true);
        Assert.That(new[] { rig.Take(0), rig.Take(1), rig.Take(2), rig.Take(3) }, Is.EqualTo(new[] { 0x86, -1, 0x86, 0x86 }));
    }

    [Test]
    public void Physical_Broadcast_ReachesEveryCpu()
    {
        using var rig = new ApicRig(3).Enable();
        Route(rig, 4, 0x87, destination: 0xFF);
        rig.IoApic.SetIrq(4, true);
        Assert.That(new[] { rig.Take(0), rig.Take(1), rig.Take(2) }, Is.EqualTo(new[] { 0x87, 0x87, 0x87 }));
    }

    [Test]
    public void LevelToNobody_LeavesRemoteIrrClear()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 14, 0x88 | Level, destination: 5);
        rig.IoApic.SetIrq(14, true);
        Assert.That(Low(rig, 14) & RemoteIrr, Is.Zero);
    }

    [Test]
    public void NmiDeliveryMode_RaisesNmi()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 7, 0x400);
        rig.IoApic.SetIrq(7, true);
        Assert.That(rig.Cpus[0].NmiPending, Is.True);
    }

    [Test]
    public void ExtIntDeliveryMode_TakesTheVectorFromThePic()
    {
        var pic = new FakePic { IntrPending = true, Vector = 0x30 };
        using var rig = new ApicRig(1, pic).Enable();
        Route(rig, 0, 0x700);
        Assert.That(rig.Apics[0].HasPending, Is.False, "LINT0 is masked");
        rig.IoApic.SetIrq(0, true);
        Assert.That(rig.Apics[0].HasPending, Is.True);
        Assert.That(rig.Apics[0].Acknowledge(), Is.EqualTo(0x30));
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }

    [Test]
    public void IllegalVector_IsRejectedWithReceiveError()
    {
        using var rig = new ApicRig(1).Enable();
        Route(rig, 2, 0x05);
        rig.IoApic.SetIrq(2, true);
        rig.Write(0, ApicReg.Esr, 0);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(ApicError.ReceiveIllegalVector));
        Assert.That(rig.Apics[0].HighestIrr, Is.EqualTo(-1));
    }

    [Test]
    public void PinOutOfRange_IsIgnored()
    {
        using var rig = new ApicRig(1).Enable();
        rig.IoApic.SetIrq(24, true);
        rig.IoApic.SetIrq(-1, true);
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }
}
