using Emulator.Devices.Apic;

namespace Emulator.Tests.Devices.Apic;

/// <summary>IA32_APIC_BASE transitions (SDM Vol. 3A §12.12.5 "x2APIC State Transitions") and what they do to the APIC.</summary>
public class ApicBaseTests
{
    private const ulong En = LocalApic.BaseEnable;
    private const ulong Extd = LocalApic.BaseExtd;

    private static ulong Mode(ApicRig rig) => rig.ApicBase(0) & (En | Extd);

    [Test]
    public void ExtdWithoutEn_IsGp()
    {
        using var rig = new ApicRig(1);
        ulong b = rig.ApicBase(0) & ~(En | Extd);
        Assert.That(rig.WriteApicBase(0, b | Extd), Is.False);
    }

    [Test]
    public void X2ApicToXapic_IsGp()
    {
        using var rig = new ApicRig(1);
        rig.EnterX2Apic(0);
        ulong b = rig.ApicBase(0) & ~(En | Extd);
        Assert.That(rig.WriteApicBase(0, b | En), Is.False);
        Assert.That(Mode(rig), Is.EqualTo(En | Extd));
    }

    [Test]
    public void DisabledToX2Apic_IsGp()
    {
        using var rig = new ApicRig(1);
        ulong b = rig.ApicBase(0) & ~(En | Extd);
        Assert.That(rig.WriteApicBase(0, b), Is.True);
        Assert.That(rig.WriteApicBase(0, b | En | Extd), Is.False);
        Assert.That(Mode(rig), Is.EqualTo(0UL));
    }

    [Test]
    public void X2ApicToDisabledToXapic_IsAllowed()
    {
        using var rig = new ApicRig(1);
        rig.EnterX2Apic(0);
        ulong b = rig.ApicBase(0) & ~(En | Extd);
        Assert.That(rig.WriteApicBase(0, b), Is.True);
        Assert.That(rig.WriteApicBase(0, b | En), Is.True);
        Assert.That(Mode(rig), Is.EqualTo(En));
        Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(LocalApic.VersionValue));
    }

    [Test]
    public void X2ApicUnsupported_SettingExtd_IsGp()
    {
        using var rig = new ApicRig(1);
        rig.Cpus[0].X2ApicSupported = false;
        Assert.That(rig.WriteApicBase(0, rig.ApicBase(0) | Extd), Is.False);
    }

    [Test]
    public void BspBit_IsReadOnly()
    {
        using var rig = new ApicRig(2);
        Assert.That(rig.WriteApicBase(1, rig.ApicBase(1) | LocalApic.BaseBsp), Is.True);
        Assert.That(rig.ApicBase(1) & LocalApic.BaseBsp, Is.Zero);
    }

    [Test]
    public void DisableThenEnable_ComesBackInResetStateWithSvrBit8Clear()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(1, ApicReg.Id, 9u << 24);
        rig.Write(1, ApicReg.Tpr, 0x30);
        rig.Write(1, ApicReg.Ldr, 0x0200_0000);
        rig.Write(1, ApicReg.LvtLint0, 0x700);
        rig.Write(1, ApicReg.TimerInitial, 1000);
        rig.SendIpi(0, 0x40, destination: 9);
        ulong b = rig.ApicBase(1);
        Assert.That(rig.WriteApicBase(1, b & ~En), Is.True);
        Assert.That(rig.Read(1, ApicReg.Version), Is.EqualTo(0xFFFF_FFFFu), "disabled: the page reads all ones");
        Assert.That(rig.Cpus[1].Tpr, Is.EqualTo(0));
        Assert.That(rig.WriteApicBase(1, b), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(rig.Read(1, ApicReg.Svr), Is.EqualTo(0xFFu));
            Assert.That(rig.Read(1, ApicReg.Id), Is.EqualTo(1u << 24));
            Assert.That(rig.Read(1, ApicReg.Tpr), Is.EqualTo(0u));
            Assert.That(rig.Read(1, ApicReg.Ldr), Is.EqualTo(0u));
            Assert.That(rig.Read(1, ApicReg.LvtLint0), Is.EqualTo(0x1_0000u));
            Assert.That(rig.Read(1, ApicReg.TimerInitial), Is.EqualTo(0u));
            Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(-1));
            Assert.That(rig.Clock.NextDeadline(), Is.EqualTo(long.MaxValue));
        });
    }

    [Test]
    public void Disabled_PageWritesAreDroppedButCr8Works()
    {
        using var rig = new ApicRig(1).Enable();
        rig.WriteApicBase(0, rig.ApicBase(0) & ~En);
        for (int reg = 0; reg < 0x1000; reg += 4)
        {
            rig.Write(0, reg, 0xFFFF_FFFF);
        }
        Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0xFFFF_FFFFu));
        rig.Cpus[0].WriteCr8(0xF);
        Assert.That(rig.Cpus[0].Tpr, Is.EqualTo(0xF));
        rig.Cpus[0].WriteCr8(0);
        rig.WriteApicBase(0, rig.ApicBase(0) | En);
        Assert.That(rig.Read(0, ApicReg.Svr), Is.EqualTo(0xFFu));
        rig.Cpus[0].WriteCr8(0xF);
        Assert.That(rig.Read(0, ApicReg.Tpr), Is.EqualTo(0xF0u));
    }

    [Test]
    public void XapicToX2Apic_KeepsStateButDropsIcrHighAndXapicId()
    {
        using var rig = new ApicRig(2).Enable();
        rig.Write(1, ApicReg.Id, 5u << 24);
        rig.Write(1, ApicReg.Tpr, 0x20);
        rig.Write(1, ApicReg.LvtTimer, 0x30);
        rig.Write(1, ApicReg.IcrHigh, 0xAB00_0000);
        rig.EnterX2Apic(1);
        rig.ReadMsr(1, 0x802, out ulong id);
        rig.ReadMsr(1, 0x80F, out ulong svr);
        rig.ReadMsr(1, 0x808, out ulong tpr);
        rig.ReadMsr(1, 0x832, out ulong lvtt);
        rig.ReadMsr(1, 0x830, out ulong icr);
        Assert.That(id, Is.EqualTo(1UL));
        Assert.That(svr, Is.EqualTo(0x1FFUL));
        Assert.That(tpr, Is.EqualTo(0x20UL));
        Assert.That(lvtt, Is.EqualTo(0x30UL));
        Assert.That(icr >> 32, Is.EqualTo(0UL));
    }

    [Test]
    public void Relocation_MovesTheXapicPage()
    {
        using var rig = new ApicRig(1);
        const ulong alt = 0xFED4_0000;
        ulong b = rig.ApicBase(0);
        Assert.That(rig.WriteApicBase(0, b & ~En), Is.True);
        Assert.That(rig.WriteApicBase(0, alt | LocalApic.BaseBsp | En), Is.True);
        rig.Clock.Current = rig.Cpus[0];
        Assert.That(rig.Memory.Read(alt + ApicReg.Version, 4), Is.EqualTo((ulong)LocalApic.VersionValue));
        Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(0xFFFF_FFFFu));
        Assert.That(rig.WriteApicBase(0, b), Is.True);
        Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(LocalApic.VersionValue));
        Assert.That(rig.Memory.Read(alt + ApicReg.Version, 4), Is.EqualTo(0xFFFF_FFFFUL));
    }

    [Test]
    public void Cpuid_ApicBitFollowsEn()
    {
        using var rig = new ApicRig(1);
        rig.Cpus[0].Cpuid(1, 0, out _, out _, out _, out uint edx);
        Assert.That(edx & (1u << 9), Is.Not.Zero);
        rig.WriteApicBase(0, rig.ApicBase(0) & ~En);
        rig.Cpus[0].Cpuid(1, 0, out _, out _, out _, out edx);
        Assert.That(edx & (1u << 9), Is.Zero);
    }
}
