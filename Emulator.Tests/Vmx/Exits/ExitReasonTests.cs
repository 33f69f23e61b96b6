using Emulator.Vmx;

namespace Emulator.Tests.Vmx.Exits;

/// <summary>The exit-reason union (SDM Vol. 3C §25.9.1 "Basic VM-Exit Information"; KVM's <c>union vmx_exit_reason</c>).</summary>
[TestFixture]
internal sealed class ExitReasonTests
{
    [Test]
    public void ExitReason_ModifierBits_NeverChangeBasic()
    {
        foreach (ushort basic in (ReadOnlySpan<ushort>)[ExitReason.ExceptionNmi, ExitReason.Cpuid, ExitReason.Hlt,
            ExitReason.Vmcall, ExitReason.MsrWrite, ExitReason.InvalidState, 0xFFFF])
        {
            ExitReason r = basic;
            r.EnclaveMode = true;
            r.PendingMtf = true;
            r.FromVmxRoot = true;
            r.FailedVmEntry = true;
            Assert.That(r.Basic, Is.EqualTo(basic));
            Assert.That(r.Full, Is.EqualTo(0xB800_0000u | basic));
            Assert.That(r.EnclaveMode && r.PendingMtf && r.FromVmxRoot && r.FailedVmEntry, Is.True);

            r.EnclaveMode = r.PendingMtf = r.FromVmxRoot = r.FailedVmEntry = false;
            Assert.That(r.Full, Is.EqualTo((uint)basic));
        }
    }

    [Test]
    public void ExitReason_Full_IsBasicInLowHalf()
    {
        var r = new ExitReason(0x1000_0031);
        Assert.That(r.Basic, Is.EqualTo((ushort)0x31), "Hyper-V's bit 28 | 49 keeps basic 49");
        Assert.That(r.PendingMtf, Is.True);
        Assert.That(ExitReason.EntryFailure(ExitReason.InvalidState).Full, Is.EqualTo(0x8000_0021u));
        Assert.That(System.Runtime.CompilerServices.Unsafe.SizeOf<ExitReason>(), Is.EqualTo(4));
    }
}
