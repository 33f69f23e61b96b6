using Emulator.Cpu.State;
using Emulator.Devices.Apic;

namespace Emulator.Tests.Devices.Apic;

public class IpiTests
{
    private const uint Self = 1 << 18;
    private const uint AllIncludingSelf = 2 << 18;
    private const uint AllExcludingSelf = 3 << 18;
    private const uint Logical = 1 << 11;
    private const uint Assert_ = 1 << 14;
    private const uint LevelTriggered = 1 << 15;

    private static int[] Receivers(ApicRig rig, int vector)
    {
        var list = new List<int>();
        for (int i = 0; i < rig.Apics.Length; i++)
        {
            if (rig.Bit(i, ApicReg.Irr, vector))
            {
                list.Add(i);
            }
        }
        return [.. list];
    }

    [Test]
    public void Fixed_PhysicalDestination_SetsTheTargetsIrrAndNotifiesIt()
    {
        using var rig = new ApicRig(3).Enable();
        rig.Cpus[2].Attention = 0;
        rig.SendIpi(0, 0x40 | Assert_, destination: 2);
        Assert.That(Receivers(rig, 0x40), Is.EqualTo(new[] { 2 }));
        Assert.That(rig.Cpus[2].Attention, Is.Not.Zero);
        Assert.That(rig.Bit(2, ApicReg.Tmr, 0x40), Is.False);
    }

    [Test]
    public void Icr_DeliveryStatus_ReadsIdleRightAfterTheSend()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0x40 | Assert_, destination: 1);
        Assert.That(rig.Read(0, ApicReg.IcrLow), Is.EqualTo(0x40u | Assert_));
        Assert.That(rig.Read(0, ApicReg.IcrHigh), Is.EqualTo(1u << 24));
    }

    [Test]
    public void Shorthand_Self_ReachesOnlyTheSender()
    {
        using var rig = new ApicRig(3).Enable();
        rig.SendIpi(1, 0x41 | Self, destination: 2);
        Assert.That(Receivers(rig, 0x41), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void Shorthand_AllIncludingSelf_ReachesEveryone()
    {
        using var rig = new ApicRig(3).Enable();
        rig.SendIpi(1, 0x42 | AllIncludingSelf);
        Assert.That(Receivers(rig, 0x42), Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void Shorthand_AllExcludingSelf_ReachesTheOthers()
    {
        using var rig = new ApicRig(3).Enable();
        rig.SendIpi(1, 0x43 | AllExcludingSelf);
        Assert.That(Receivers(rig, 0x43), Is.EqualTo(new[] { 0, 2 }));
    }

    [Test]
    public void Physical_Broadcast0xFF_ReachesEveryone()
    {
        using var rig = new ApicRig(3).Enable();
        rig.SendIpi(0, 0x44, destination: 0xFF);
        Assert.That(Receivers(rig, 0x44), Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void Physical_RewrittenXapicId_IsWhatMatches()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(1, ApicReg.Id, 7u << 24);
        rig.SendIpi(0, 0x45, destination: 7);
        rig.SendIpi(0, 0x46, destination: 1);
        Assert.That(Receivers(rig, 0x45), Is.EqualTo(new[] { 1 }));
        Assert.That(Receivers(rig, 0x46), Is.Empty);
    }

    [Test]
    public void Logical_FlatModel_MatchesAnyCommonLdrBit()
    {
        using var rig = new ApicRig(3).Enable();
        for (int i = 0; i < 3; i++)
        {
            rig.Write(i, ApicReg.Ldr, (1u << i) << 24);
        }
        rig.SendIpi(0, 0x47 | Logical, destination: 0x06);
        Assert.That(Receivers(rig, 0x47), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void Logical_ClusterModel_MatchesClusterAndMember()
    {
        using var rig = new ApicRig(4).Enable();
        uint[] ldr = [0x11, 0x12, 0x21, 0x14];
        for (int i = 0; i < 4; i++)
        {
            rig.Write(i, ApicReg.Dfr, 0x0FFF_FFFF);
            rig.Write(i, ApicReg.Ldr, ldr[i] << 24);
        }
        rig.SendIpi(0, 0x48 | Logical, destination: 0x13);
        Assert.That(Receivers(rig, 0x48), Is.EqualTo(new[] { 0, 1 }));
        rig.SendIpi(0, 0x49 | Logical, destination: 0xF1);
        Assert.That(Receivers(rig, 0x49), Is.EqualTo(new[] { 0, 2 }), "cluster 15 addresses every cluster");
    }

    [Test]
    public void LowestPriority_PicksLowestArbitrationPriorityThenLowestId()
    {
        using var rig = new ApicRig(3).Enable();
        rig.Write(0, ApicReg.Tpr, 0x20);
        rig.Write(1, ApicReg.Tpr, 0x10);
        rig.Write(2, ApicReg.Tpr, 0x10);
        rig.SendIpi(0, 0x150 | AllIncludingSelf);
        Assert.That(Receivers(rig, 0x50), Is.EqualTo(new[] { 1 }));
        rig.Write(1, ApicReg.Tpr, 0x30);
        rig.SendIpi(0, 0x151 | AllIncludingSelf);
        Assert.That(Receivers(rig, 0x51), Is.EqualTo(new[] { 2 }));
    }

    [Test]
    public void LowestPriority_LogicalDestination_ChoosesAmongTheAddressedOnly()
    {
        using var rig = new ApicRig(3).Enable();
        for (int i = 0; i < 3; i++)
        {
            rig.Write(i, ApicReg.Ldr, (1u << i) << 24);
        }
        rig.Write(1, ApicReg.Tpr, 0x80);
        rig.SendIpi(0, 0x152 | Logical, destination: 0x06);
        Assert.That(Receivers(rig, 0x52), Is.EqualTo(new[] { 2 }));
    }

    [Test]
    public void Nmi_SetsNmiPendingOnTheTarget()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Cpus[1].Attention = 0;
        rig.SendIpi(0, 0x400 | Assert_, destination: 1);
        Assert.That(rig.Cpus[1].NmiPending, Is.True);
        Assert.That(rig.Cpus[0].NmiPending, Is.False);
        Assert.That(rig.Cpus[1].Attention, Is.Not.Zero);
    }

    [Test]
    public void Smi_IsIgnored()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0x200 | Assert_, destination: 1);
        Assert.That(rig.Cpus[1].NmiPending, Is.False);
        Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(-1));
    }

    [Test]
    public void InitThenSipi_AllExcludingSelf_StartsTheApAtVectorTimes4K()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(1, ApicReg.Id, 1u << 24);
        rig.Write(1, ApicReg.Tpr, 0x30);
        rig.SendIpi(0, 0xC4500);
        Assert.That(rig.Cpus[1].WaitingForSipi, Is.True);
        Assert.That(rig.Cpus[0].WaitingForSipi, Is.False, "the sender is excluded");
        Assert.That(rig.Read(1, ApicReg.Svr), Is.EqualTo(0xFFu), "INIT resets the APIC");
        Assert.That(rig.Read(1, ApicReg.Tpr), Is.EqualTo(0u));
        Assert.That(rig.Read(1, ApicReg.Id), Is.EqualTo(1u << 24), "INIT keeps the APIC id");
        Assert.That(rig.Read(0, ApicReg.IcrLow) & (1u << 12), Is.Zero);
        rig.SendIpi(0, 0xC0608);
        Vcpu1Started(rig, 0x08);
    }

    [Test]
    public void InitThenSipi_Physical_StartsTheAp()
    {
        using var rig = new ApicRig(3).Enable();
        rig.SendIpi(0, 0x4500, destination: 2);
        Assert.That(rig.Cpus[2].WaitingForSipi, Is.True);
        Assert.That(rig.Cpus[1].WaitingForSipi, Is.False);
        rig.SendIpi(0, 0x4600 | 0x9A, destination: 2);
        Assert.That(rig.Cpus[2].WaitingForSipi, Is.False);
        Assert.That(rig.Cpus[2].State.Seg[(int)SegReg.Cs].Selector, Is.EqualTo(0x9A00));
    }

    [Test]
    public void Init_LevelDeassert_IsIgnored()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0xC8500);
        Assert.That(rig.Cpus[1].WaitingForSipi, Is.False);
        Assert.That(rig.Read(1, ApicReg.Svr), Is.EqualTo(0x1FFu));
    }

    [Test]
    public void Sipi_NotWaiting_IsIgnored()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Cpus[1].Rip = 0x1234;
        rig.SendIpi(0, 0xC0608);
        Assert.That(rig.Cpus[1].Rip, Is.EqualTo(0x1234UL));
    }

    [Test]
    public void Fixed_IllegalVector_SetsSendAndReceiveErrorsAndIsDropped()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0x0F | Assert_, destination: 1);
        rig.Write(0, ApicReg.Esr, 0);
        rig.Write(1, ApicReg.Esr, 0);
        Assert.That(rig.Read(0, ApicReg.Esr), Is.EqualTo(ApicError.SendIllegalVector));
        Assert.That(rig.Read(1, ApicReg.Esr), Is.EqualTo(ApicError.ReceiveIllegalVector));
        Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(-1));
    }

    [Test]
    public void Fixed_LevelTriggeredAssert_SetsTmr()
    {
        using var rig = new ApicRig(2).Enable();
        rig.SendIpi(0, 0x60 | Assert_ | LevelTriggered, destination: 1);
        Assert.That(rig.Bit(1, ApicReg.Tmr, 0x60), Is.True);
        rig.SendIpi(0, 0x61 | LevelTriggered, destination: 1);
        Assert.That(rig.Bit(1, ApicReg.Irr, 0x61), Is.False, "a level de-assert carries no interrupt");
    }

    [Test]
    public void GloballyDisabledApic_ReceivesNoIpi()
    {
        using var rig = new ApicRig(2).Enable();
        Assert.That(rig.WriteApicBase(1, rig.ApicBase(1) & ~LocalApic.BaseEnable), Is.True);
        rig.SendIpi(0, 0x400, destination: 1);
        Assert.That(rig.Cpus[1].NmiPending, Is.False);
    }

    // ------------------------------------------------------------------ x2APIC

    [Test]
    public void X2Apic_IcrWrite_SendsToThe32BitDestination()
    {
        using var rig = new ApicRig(3).Enable();
        rig.EnterX2Apic(0);
        rig.EnterX2Apic(2);
        Assert.That(rig.WriteMsr(0, 0x830, (2UL << 32) | 0x70 | Assert_), Is.True);
        Assert.That(Receivers(rig, 0x70), Is.EqualTo(new[] { 2 }));
        Assert.That(rig.ReadMsr(0, 0x830, out ulong icr), Is.True);
        Assert.That(icr, Is.EqualTo((2UL << 32) | 0x70 | Assert_));
    }

    [Test]
    public void X2Apic_PhysicalBroadcast_IsAllOnes()
    {
        using var rig = new ApicRig(3).Enable();
        for (int i = 0; i < 3; i++)
        {
            rig.EnterX2Apic(i);
        }
        rig.WriteMsr(0, 0x830, (0xFFUL << 32) | 0x71);
        Assert.That(Receivers(rig, 0x71), Is.Empty, "0xFF is an ordinary x2APIC id");
        rig.WriteMsr(0, 0x830, (0xFFFF_FFFFUL << 32) | 0x72);
        Assert.That(Receivers(rig, 0x72), Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void X2Apic_LogicalCluster_MatchesDerivedLdr()
    {
        using var rig = new ApicRig(4).Enable();
        for (int i = 0; i < 4; i++)
        {
            rig.EnterX2Apic(i);
        }
        rig.WriteMsr(0, 0x830, (0x000DUL << 32) | Logical | 0x73);
        Assert.That(Receivers(rig, 0x73), Is.EqualTo(new[] { 0, 2, 3 }));
        rig.WriteMsr(0, 0x830, (0x0001_0001UL << 32) | Logical | 0x74);
        Assert.That(Receivers(rig, 0x74), Is.Empty, "cluster 1 has nobody");
    }

    [Test]
    public void X2Apic_SelfIpi_SetsOwnIrr()
    {
        using var rig = new ApicRig(2).Enable();
        rig.EnterX2Apic(1);
        Assert.That(rig.WriteMsr(1, 0x83F, 0x75), Is.True);
        Assert.That(Receivers(rig, 0x75), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void X2Apic_InitSipiToXapicAp_StartsIt()
    {
        using var rig = new ApicRig(2).Enable();
        rig.EnterX2Apic(0);
        rig.WriteMsr(0, 0x830, (1UL << 32) | 0x4500);
        Assert.That(rig.Cpus[1].WaitingForSipi, Is.True);
        rig.WriteMsr(0, 0x830, (1UL << 32) | 0x4610);
        Vcpu1Started(rig, 0x10);
    }

    private static void Vcpu1Started(ApicRig rig, int vector)
    {
        Assert.That(rig.Cpus[1].WaitingForSipi, Is.False);
        Segment cs = rig.Cpus[1].State.Seg[(int)SegReg.Cs];
        Assert.That(cs.Selector, Is.EqualTo(vector << 8));
        Assert.That(cs.Base, Is.EqualTo((ulong)vector << 12));
        Assert.That(rig.Cpus[1].Rip, Is.EqualTo(0UL));
    }
}
