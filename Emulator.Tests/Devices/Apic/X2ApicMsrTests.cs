using Emulator.Devices.Apic;
using Emulator.Tests.Cpu;
using Emulator.Tests.Cpu.Interrupts;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Devices.Apic;

public class X2ApicMsrTests
{
    private static ApicRig X2Rig(int cpus = 2)
    {
        var rig = new ApicRig(cpus).Enable();
        for (int i = 0; i < cpus; i++)
        {
            rig.EnterX2Apic(i);
        }
        return rig;
    }

    [Test]
    public void Msrs_XapicMode_AreGp()
    {
        using var rig = new ApicRig(1);
        Assert.That(rig.ReadMsr(0, 0x802, out _), Is.False);
        Assert.That(rig.WriteMsr(0, 0x808, 0), Is.False);
        Assert.That(rig.ReadMsr(0, 0x8FF, out _), Is.False);
    }

    [Test]
    public void Msrs_ApicDisabled_AreGp()
    {
        using var rig = new ApicRig(1);
        rig.WriteApicBase(0, rig.ApicBase(0) & ~LocalApic.BaseEnable);
        Assert.That(rig.ReadMsr(0, 0x803, out _), Is.False);
    }

    [Test]
    public void Id_Ldr_Version_ReadAsDerived()
    {
        using var rig = X2Rig(2);
        Assert.That(rig.ReadMsr(1, 0x802, out ulong id), Is.True);
        Assert.That(id, Is.EqualTo(1UL));
        Assert.That(rig.ReadMsr(1, 0x80D, out ulong ldr), Is.True);
        Assert.That(ldr, Is.EqualTo(2UL));
        Assert.That(rig.ReadMsr(1, 0x803, out ulong version), Is.True);
        Assert.That(version, Is.EqualTo((ulong)LocalApic.VersionValue));
    }

    [Test]
    public void Ldr_X2ApicId17_IsCluster1Bit1()
    {
        var rig = new ApicRig(1);
        using (rig)
        {
            var cpu = new Emulator.Cpu.Vcpu(rig.Memory, rig.Io, 17) { X2ApicSupported = true };
            var apic = new LocalApic(cpu, 17, rig.Clock, rig.Bus);
            Assert.That(apic.X2ApicLdr, Is.EqualTo(0x0001_0002u));
        }
    }

    [TestCase(0x802u, TestName = "Write_Id_IsGp")]
    [TestCase(0x803u, TestName = "Write_Version_IsGp")]
    [TestCase(0x80Au, TestName = "Write_Ppr_IsGp")]
    [TestCase(0x80Du, TestName = "Write_Ldr_IsGp")]
    [TestCase(0x810u, TestName = "Write_Isr_IsGp")]
    [TestCase(0x818u, TestName = "Write_Tmr_IsGp")]
    [TestCase(0x820u, TestName = "Write_Irr_IsGp")]
    [TestCase(0x839u, TestName = "Write_CurrentCount_IsGp")]
    [TestCase(0x809u, TestName = "Write_Apr_IsGp")]
    [TestCase(0x80Cu, TestName = "Write_Rrd_IsGp")]
    [TestCase(0x80Eu, TestName = "Write_Dfr_IsGp")]
    [TestCase(0x831u, TestName = "Write_IcrHigh_IsGp")]
    [TestCase(0x82Fu, TestName = "Write_Cmci_IsGp")]
    [TestCase(0x800u, TestName = "Write_Reserved800_IsGp")]
    [TestCase(0x840u, TestName = "Write_Reserved840_IsGp")]
    public void Write_ReadOnlyOrAbsent_IsGp(uint msr)
    {
        using var rig = X2Rig();
        Assert.That(rig.WriteMsr(0, msr, 0), Is.False);
    }

    [TestCase(0x80Bu, TestName = "Read_Eoi_IsGp")]
    [TestCase(0x83Fu, TestName = "Read_SelfIpi_IsGp")]
    [TestCase(0x809u, TestName = "Read_Apr_IsGp")]
    [TestCase(0x80Eu, TestName = "Read_Dfr_IsGp")]
    [TestCase(0x831u, TestName = "Read_IcrHigh_IsGp")]
    [TestCase(0x82Fu, TestName = "Read_Cmci_IsGp")]
    [TestCase(0x8FFu, TestName = "Read_Reserved8FF_IsGp")]
    public void Read_WriteOnlyOrAbsent_IsGp(uint msr)
    {
        using var rig = X2Rig();
        Assert.That(rig.ReadMsr(0, msr, out _), Is.False);
    }

    [TestCase(0x808u, 0x1_0000_0000UL, TestName = "Tpr_Bits63To32_IsGp")]
    [TestCase(0x808u, 0x100UL, TestName = "Tpr_Bits31To8_IsGp")]
    [TestCase(0x80Bu, 1UL, TestName = "Eoi_NonZero_IsGp")]
    [TestCase(0x828u, 1UL, TestName = "Esr_NonZero_IsGp")]
    [TestCase(0x80Fu, 0x400UL, TestName = "Svr_ReservedBit_IsGp")]
    [TestCase(0x832u, 0x100UL, TestName = "LvtTimer_ReservedBit_IsGp")]
    [TestCase(0x837u, 0x700UL, TestName = "LvtError_DeliveryMode_IsGp")]
    [TestCase(0x83Eu, 0x4UL, TestName = "Divide_ReservedBit_IsGp")]
    [TestCase(0x83Fu, 0x100UL, TestName = "SelfIpi_Bits31To8_IsGp")]
    [TestCase(0x830u, 0x2000UL, TestName = "Icr_ReservedBit13_IsGp")]
    [TestCase(0x830u, 0x10000UL, TestName = "Icr_ReservedBit16_IsGp")]
    public void Write_ReservedBits_IsGp(uint msr, ulong value)
    {
        using var rig = X2Rig();
        Assert.That(rig.WriteMsr(0, msr, value), Is.False);
    }

    [Test]
    public void Icr_DeliveryStatusBit_IsIgnored()
    {
        using var rig = X2Rig();
        Assert.That(rig.WriteMsr(0, 0x830, (1UL << 32) | 0x1040), Is.True);
        Assert.That(rig.Apics[1].HighestIrr, Is.EqualTo(0x40));
    }

    [Test]
    public void Eoi_ZeroWrite_EndsTheInterrupt()
    {
        using var rig = X2Rig();
        rig.WriteMsr(0, 0x83F, 0x55);
        Assert.That(rig.Take(0), Is.EqualTo(0x55));
        Assert.That(rig.WriteMsr(0, 0x80B, 0), Is.True);
        Assert.That(rig.Apics[0].HighestIsr, Is.EqualTo(-1));
    }

    [Test]
    public void Tpr_Msr_IsCr8()
    {
        using var rig = X2Rig();
        Assert.That(rig.WriteMsr(0, 0x808, 0x7C), Is.True);
        Assert.That(rig.Cpus[0].Tpr, Is.EqualTo(7));
        rig.Cpus[0].WriteCr8(2);
        rig.ReadMsr(0, 0x808, out ulong tpr);
        Assert.That(tpr, Is.EqualTo(0x20UL));
    }

    [Test]
    public void IsrTmrIrrEsr_AreReadable()
    {
        using var rig = X2Rig();
        rig.WriteMsr(0, 0x83F, 0x41);
        Assert.That(rig.ReadMsr(0, 0x822, out ulong irr2), Is.True);
        Assert.That(irr2, Is.EqualTo(2UL));
        Assert.That(rig.ReadMsr(0, 0x812, out _), Is.True);
        Assert.That(rig.ReadMsr(0, 0x81A, out _), Is.True);
        Assert.That(rig.ReadMsr(0, 0x828, out _), Is.True);
    }

    [Test]
    public void LvtLint0_RemoteIrrAndStatusBits_AreIgnoredNotGp()
    {
        using var rig = X2Rig();
        Assert.That(rig.WriteMsr(0, 0x835, 0x5700), Is.True);
        rig.ReadMsr(0, 0x835, out ulong lint0);
        Assert.That(lint0, Is.EqualTo(0x700UL));
    }

    [Test]
    public void Mmio_X2ApicMode_BehavesLikeADisabledApic()
    {
        using var rig = X2Rig(1);
        rig.Write(0, ApicReg.Tpr, 0x50);
        Assert.That(rig.Read(0, ApicReg.Version), Is.EqualTo(0xFFFF_FFFFu));
        Assert.That(rig.Cpus[0].Tpr, Is.EqualTo(0));
    }

    [Test]
    public void TscDeadlineMsr_IsHandledInEveryMode()
    {
        using var rig = new ApicRig(1);
        Assert.That(rig.ReadMsr(0, 0x6E0, out ulong v), Is.True);
        Assert.That(v, Is.EqualTo(0UL));
        Assert.That(rig.WriteMsr(0, 0x6E0, 1234), Is.True);
    }

    [Test]
    public void OtherMsrs_AreLeftToTheCpu()
    {
        using var rig = new ApicRig(1);
        Assert.That(rig.Apics[0].ReadMsr(rig.Cpus[0], 0x10, out _), Is.EqualTo(Emulator.Cpu.MsrResult.NotHandled));
        Assert.That(rig.Apics[0].WriteMsr(rig.Cpus[0], 0x900, 0), Is.EqualTo(Emulator.Cpu.MsrResult.NotHandled));
    }

    // ------------------------------------------------------------------ through RDMSR/WRMSR instructions

    private static (CpuHarness, LocalApic) Harness()
    {
        var h = new CpuHarness(CpuMode.Long64);
        var clock = new Emulator.Platform.VirtualClock();
        var bus = new ApicBus(clock);
        var apic = new LocalApic(h.Cpu, 0, clock, bus);
        h.Cpu.Interrupts = apic;
        h.Cpu.MsrDevice = apic;
        h.Cpu.X2ApicSupported = true;
        clock.Current = h.Cpu;
        _ = new GuestSystem(h);
        return (h, apic);
    }

    private static void EnableX2Apic(Assembler a)
    {
        a.mov(ecx, 0x1B);
        a.rdmsr();
        a.or(eax, 0xC00);
        a.wrmsr();
    }

    [Test]
    public void Wrmsr_EoiNonZero_RaisesGp0()
    {
        var (h, _) = Harness();
        using (h)
        {
            h.Load(a =>
            {
                EnableX2Apic(a);
                a.mov(ecx, 0x80B);
                a.mov(eax, 1);
                a.xor(edx, edx);
                a.wrmsr();
            });
            h.RunToStop();
            Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
            Assert.That(h.Cpu.LastEventError, Is.EqualTo(0u));
        }
    }

    [Test]
    public void Rdmsr_X2ApicId_ReturnsTheApicId()
    {
        var (h, _) = Harness();
        using (h)
        {
            h.Load(a =>
            {
                EnableX2Apic(a);
                a.mov(ecx, 0x802);
                a.rdmsr();
                a.mov(ebx, eax);
                a.mov(ecx, 0x803);
                a.rdmsr();
            }).Run();
            Assert.That(h[Register.RBX], Is.EqualTo(0UL));
            Assert.That(h[Register.RAX], Is.EqualTo((ulong)LocalApic.VersionValue));
        }
    }

    [Test]
    public void Rdmsr_X2ApicRegisterInXapicMode_RaisesGp()
    {
        var (h, _) = Harness();
        using (h)
        {
            h.Load(a =>
            {
                a.mov(ecx, 0x802);
                a.rdmsr();
            });
            h.RunToStop();
            Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        }
    }
}
