using Emulator.Devices.Apic;

namespace Emulator.Tests.Devices.Apic;

public class LocalApicTests
{
    // ------------------------------------------------------------------ reset state and plain registers

    [Test]
    public void Registers_AfterPowerOn_HaveResetValues()
    {
        using var rig = new ApicRig(2);
        Assert.Multiple(() =>
        {
            Assert.That(rig.Read(0, ApicReg.Id), Is.EqualTo(0u));
            Assert.That(rig.Read(1, ApicReg.Id), Is.EqualTo(1u << 24));
            Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(0x0105_0014u));
            Assert.That(rig.Read(0, ApicReg.Svr), Is.EqualTo(0xFFu));
            Assert.That(rig.Read(0, ApicReg.Dfr), Is.EqualTo(0xFFFF_FFFFu));
            Assert.That(rig.Read(0, ApicReg.Ldr), Is.EqualTo(0u));
            Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0u));
            Assert.That(rig.Read(0, ApicReg.Ppr), Is.EqualTo(0u));
            Assert.That(rig.Read(0, ApicReg.TimerDivide), Is.EqualTo(0u));
            for (int reg = ApicReg.LvtTimer; reg <= ApicReg.LvtError; reg += 0x10)
            {
                Assert.That(rig.Read(0, reg), Is.EqualTo(0x1_0000u), $"LVT {reg:X}");
            }
        });
    }

    [Test]
    public void Id_XapicMode_IsWritable()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Id, 0x0500_0000);
        Assert.That(rig.Read(0, ApicReg.Id), Is.EqualTo(0x0500_0000u));
    }

    [Test]
    public void Dfr_Write_KeepsModelBitsAndReadsOnesBelow()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Dfr, 0);
        Assert.That(rig.Read(0, ApicReg.Dfr), Is.EqualTo(0x0FFF_FFFFu));
    }

    [Test]
    public void Ldr_Write_KeepsBits31To24()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Ldr, 0xFFFF_FFFF);
        Assert.That(rig.Read(0, ApicReg.Ldr), Is.EqualTo(0xFF00_0000u));
    }

    [Test]
    public void Version_Write_IsIgnored()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Version, 0);
        Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(LocalApic.VersionValue));
    }

    [Test]
    public void Svr_Write_KeepsVectorEnableFocusAndEoiSuppression()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Svr, 0xFFFF_FFFF);
        Assert.That(rig.Read(0, ApicReg.Svr), Is.EqualTo(0x13FFu));
    }

    [Test]
    public void SoftwareDisable_MasksEveryLvtAndKeepsThemMasked()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.LvtLint0, 0x700);
        rig.Write(0, ApicReg.LvtTimer, 0x40);
        Assert.That(rig.Read(0, ApicReg.LvtLint0), Is.EqualTo(0x700u));
        rig.Write(0, ApicReg.Svr, 0xFF);
        Assert.That(rig.Read(0, ApicReg.LvtLint0), Is.EqualTo(0x1_0700u));
        Assert.That(rig.Read(0, ApicReg.LvtTimer), Is.EqualTo(0x1_0040u));
        rig.Write(0, ApicReg.LvtLint0, 0x700);
        Assert.That(rig.Read(0, ApicReg.LvtLint0), Is.EqualTo(0x1_0700u));
    }

    [Test]
    public void Lvt_Write_DropsReservedBits()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.LvtTimer, 0xFFFF_FFFF);
        rig.Write(0, ApicReg.LvtLint1, 0xFFFF_FFFF);
        rig.Write(0, ApicReg.LvtError, 0xFFFF_FFFF);
        Assert.That(rig.Read(0, ApicReg.LvtTimer), Is.EqualTo(0x7_00FFu));
        Assert.That(rig.Read(0, ApicReg.LvtLint1), Is.EqualTo(0x1_A7FFu));
        Assert.That(rig.Read(0, ApicReg.LvtError), Is.EqualTo(0x1_00FFu));
    }

    // ------------------------------------------------------------------ MMIO access widths

    [Test]
    public void Mmio_ByteReadOfIdHighByte_ReturnsTheId()
    {
        using var rig = new ApicRig(2);
        rig.Clock.Current = rig.Cpus[1];
        Assert.That(rig.Memory.Read(ApicRig.ApicPage + 0x23, 1), Is.EqualTo(1UL));
        Assert.That(rig.Memory.Read(ApicRig.ApicPage + 0x24, 4), Is.EqualTo(0UL));
    }

    [Test]
    public void Mmio_NarrowOrMisalignedWrite_IsIgnored()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Memory.Write(ApicRig.ApicPage + ApicReg.Tpr, 1, 0x50);
        rig.Memory.Write(ApicRig.ApicPage + ApicReg.Tpr + 4, 4, 0x50);
        Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0u));
    }

    [Test]
    public void Mmio_WithoutRunningVcpu_ReadsAllOnes()
    {
        using var rig = new ApicRig(1);
        rig.Clock.Current = null;
        Assert.That(rig.Memory.Read(ApicRig.ApicPage + ApicReg.Version, 4), Is.EqualTo(0xFFFF_FFFFUL));
    }

    [Test]
    public void Mmio_EachVcpu_SeesItsOwnApic()
    {
        using var rig = new ApicRig(3);
        rig.Write(2, ApicReg.Tpr, 0x20);
        Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0u));
        Assert.That(rig.Read(2, ApicReg.Tpr), Is.EqualTo(0x20u));
    }

    // ------------------------------------------------------------------ ESR

    [Test]
    public void Esr_ReadsErrorsOnlyAfterAWrite()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0x03, destination: 1);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(0u));
        rig.Write(0, ApicReg.Esr, 0);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(ApicError.SendIllegalVector));
        rig.Write(1, ApicReg.Esr, 0);
        Assert.That(rig.Read(1, ApicReg.Esr), Is.EqualTo(ApicError.ReceiveIllegalVector));
        Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(-1));
        rig.Write(0, ApicReg.Esr, 0);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(0u));
    }

    [Test]
    public void Esr_ReservedRegisterAccess_SetsIllegalRegisterAddress()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Read(0, 0x010);
        rig.Write(0, ApicReg.Esr, 0);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(ApicError.IllegalRegisterAddress));
    }

    [Test]
    public void LvtError_Unmasked_RaisesItsVectorOnANewError()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.LvtError, 0xFE);
        rig.Read(0, 0x3F0);
        Assert.That(rig.Apics[0].HighestIrr, Is.EqualTo(0xFE));
    }

    // ------------------------------------------------------------------ priorities

    [Test]
    public void Tpr_ClassAtOrAboveTheRequest_MasksIt()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.Tpr, 0x40);
        rig.SendIpi(0, 0x45 | (1 << 18));
        Assert.That(rig.Apics[0].HasPending, Is.False);
        rig.Write(0, ApicReg.Tpr, 0x3F);
        Assert.That(rig.Apics[0].HasPending, Is.True);
        Assert.That(rig.Take(0), Is.EqualTo(0x45));
    }

    [Test]
    public void Ppr_IsTprOrTheInServiceClass()
    {
        using var rig = new ApicRig(1).Enable();
        rig.SendIpi(0, 0x51 | (1 << 18));
        Assert.That(rig.Take(0), Is.EqualTo(0x51));
        Assert.That(rig.Read(0, ApicReg.Ppr), Is.EqualTo(0x50u));
        rig.Write(0, ApicReg.Tpr, 0x62);
        Assert.That(rig.Read(0, ApicReg.Ppr), Is.EqualTo(0x62u));
        rig.Write(0, ApicReg.Tpr, 0x43);
        Assert.That(rig.Read(0, ApicReg.Ppr), Is.EqualTo(0x50u));
    }

    [Test]
    public void Apr_FollowsTheSdmFormula()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.Tpr, 0x35);
        Assert.That(rig.Read(0, ApicReg.Apr), Is.EqualTo(0x35u));
        rig.SendIpi(0, 0x71 | (1 << 18));
        Assert.That(rig.Read(0, ApicReg.Apr), Is.EqualTo(0x70u));
    }

    [Test]
    public void Cr8_SharesTheTpr()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.Tpr, 0x5A);
        Assert.That(rig.Cpus[0].Tpr, Is.EqualTo(5));
        Assert.That(rig.Cpus[0].WriteCr8(3), Is.True);
        Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0x30u));
    }

    [Test]
    public void Cr8_LoweredBelowARequest_MakesItPending()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Cpus[0].WriteCr8(9);
        rig.SendIpi(0, 0x45 | (1 << 18));
        Assert.That(rig.Apics[0].HasPending, Is.False);
        rig.Cpus[0].Attention = 0;
        rig.Cpus[0].WriteCr8(0);
        Assert.That(rig.Apics[0].HasPending, Is.True);
        Assert.That(rig.Cpus[0].Attention, Is.Not.Zero);
    }

    [Test]
    public void Eoi_NestedInterrupts_ClearsTheHighestInServiceFirst()
    {
        using var rig = new ApicRig(1).Enable();
        rig.SendIpi(0, 0x40 | (1 << 18));
        Assert.That(rig.Take(0), Is.EqualTo(0x40));
        rig.SendIpi(0, 0x80 | (1 << 18));
        Assert.That(rig.Take(0), Is.EqualTo(0x80));
        rig.SendIpi(0, 0x50 | (1 << 18));
        Assert.That(rig.Take(0), Is.EqualTo(-1), "0x50 waits while 0x80 is in service");
        rig.Eoi(0);
        Assert.That(rig.Bit(0, ApicReg.Isr, 0x80), Is.False);
        Assert.That(rig.Bit(0, ApicReg.Isr, 0x40), Is.True);
        Assert.That(rig.Take(0), Is.EqualTo(0x50));
        rig.Eoi(0);
        Assert.That(rig.Bit(0, ApicReg.Isr, 0x50), Is.False);
        Assert.That(rig.Bit(0, ApicReg.Isr, 0x40), Is.True);
        rig.Eoi(0);
        Assert.That(rig.Apics[0].HighestIsr, Is.EqualTo(-1));
        rig.Eoi(0);
        Assert.That(rig.Read(0, ApicReg.Ppr), Is.EqualTo(0u));
    }

    [Test]
    public void Eoi_SameClassRequest_BecomesPendingAndNotifies()
    {
        using var rig = new ApicRig(1).Enable();
        rig.SendIpi(0, 0x41 | (1 << 18));
        Assert.That(rig.Take(0), Is.EqualTo(0x41));
        rig.SendIpi(0, 0x42 | (1 << 18));
        Assert.That(rig.Apics[0].HasPending, Is.False);
        rig.Cpus[0].Attention = 0;
        rig.Eoi(0);
        Assert.That(rig.Cpus[0].Attention, Is.Not.Zero);
        Assert.That(rig.Take(0), Is.EqualTo(0x42));
    }

    [Test]
    public void Acknowledge_RequestMaskedSinceHasPending_ReturnsTheSpuriousVector()
    {
        using var rig = new ApicRig(1);
        rig.Write(0, ApicReg.Svr, 0x1E7);
        rig.SendIpi(0, 0x45 | (1 << 18));
        Assert.That(rig.Apics[0].HasPending, Is.True);
        rig.Write(0, ApicReg.Tpr, 0x50);
        Assert.That(rig.Apics[0].Acknowledge(), Is.EqualTo(0xE7));
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x45), Is.True);
        Assert.That(rig.Apics[0].HighestIsr, Is.EqualTo(-1));
    }

    [Test]
    public void Acknowledge_MovesTheVectorFromIrrToIsr()
    {
        using var rig = new ApicRig(1).Enable();
        rig.SendIpi(0, 0x99 | (1 << 18));
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x99), Is.True);
        Assert.That(rig.Take(0), Is.EqualTo(0x99));
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x99), Is.False);
        Assert.That(rig.Bit(0, ApicReg.Isr, 0x99), Is.True);
    }

    [Test]
    public void SoftwareDisabled_RejectsFixedButTakesNmi()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(1, ApicReg.Svr, 0xFF);
        rig.SendIpi(0, 0x40, destination: 1);
        Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(-1));
        rig.SendIpi(0, 0x400, destination: 1);
        Assert.That(rig.Cpus[1].NmiPending, Is.True);
    }

    // ------------------------------------------------------------------ LINT0 / LINT1 and ExtINT

    [Test]
    public void ExtInt_VirtualWire_DeliversThePicVectorIgnoringTpr()
    {
        var pic = new FakePic { Vector = 0x20 };
        using var rig = new ApicRig(1, pic);
        rig.Apics[0].EnterVirtualWireMode();
        Assert.That(rig.Read(0, ApicReg.LvtLint0), Is.EqualTo(0x8700u));
        Assert.That(rig.Read(0, ApicReg.LvtLint1), Is.EqualTo(0x400u));
        rig.Write(0, ApicReg.Tpr, 0xF0);
        Assert.That(rig.Apics[0].HasPending, Is.False);
        pic.IntrPending = true;
        Assert.That(rig.Apics[0].HasPending, Is.True);
        Assert.That(rig.Apics[0].Acknowledge(), Is.EqualTo(0x20));
        Assert.That(pic.Acknowledged, Is.EqualTo(1));
        Assert.That(rig.Apics[0].HighestIsr, Is.EqualTo(-1));
    }

    [Test]
    public void ExtInt_Lint0Masked_BlocksThePic()
    {
        var pic = new FakePic { IntrPending = true };
        using var rig = new ApicRig(1, pic);
        Assert.That(rig.Apics[0].HasPending, Is.False);
        rig.Apics[0].EnterVirtualWireMode();
        Assert.That(rig.Apics[0].HasPending, Is.True);
        rig.Write(0, ApicReg.LvtLint0, 0x1_8700);
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }

    [Test]
    public void ExtInt_ApicGloballyDisabled_PassesThePicStraightThrough()
    {
        var pic = new FakePic { IntrPending = true, Vector = 0x09 };
        using var rig = new ApicRig(1, pic);
        Assert.That(rig.WriteApicBase(0, rig.ApicBase(0) & ~LocalApic.BaseEnable), Is.True);
        Assert.That(rig.Apics[0].HasPending, Is.True);
        Assert.That(rig.Apics[0].Acknowledge(), Is.EqualTo(0x09));
    }

    [Test]
    public void ExtIntChanged_PendingPic_NotifiesTheVcpu()
    {
        var pic = new FakePic();
        using var rig = new ApicRig(1, pic);
        rig.Apics[0].EnterVirtualWireMode();
        rig.Cpus[0].Attention = 0;
        pic.IntrPending = true;
        rig.Apics[0].ExtIntChanged();
        Assert.That(rig.Cpus[0].Attention, Is.Not.Zero);
    }

    [Test]
    public void Lint1_NmiMode_RisingEdgeRaisesNmi()
    {
        using var rig = new ApicRig(1);
        rig.Apics[0].EnterVirtualWireMode();
        rig.Apics[0].SetLint(1, true);
        Assert.That(rig.Cpus[0].NmiPending, Is.True);
    }

    [Test]
    public void Lint0_FixedLevel_RemoteIrrUntilEoiThenAgainWhileAsserted()
    {
        using var rig = new ApicRig(1).Enable();
        rig.Write(0, ApicReg.LvtLint0, 0x8000 | 0x61);
        rig.Apics[0].SetLint(0, true);
        Assert.That(rig.Read(0, ApicReg.LvtLint0) & (1u << 14), Is.Not.Zero);
        Assert.That(rig.Bit(0, ApicReg.Tmr, 0x61), Is.True);
        Assert.That(rig.Take(0), Is.EqualTo(0x61));
        rig.Eoi(0);
        Assert.That(rig.Bit(0, ApicReg.Irr, 0x61), Is.True, "still asserted: delivered again");
        rig.Apics[0].SetLint(0, false);
        Assert.That(rig.Take(0), Is.EqualTo(0x61));
        rig.Eoi(0);
        Assert.That(rig.Read(0, ApicReg.LvtLint0) & (1u << 14), Is.Zero);
        Assert.That(rig.Apics[0].HasPending, Is.False);
    }
}
