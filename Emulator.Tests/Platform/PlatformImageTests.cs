using Emulator.Tests.Images;

namespace Emulator.Tests.Platform;

/// <summary>The platform images (interrupt controllers, timers, SMP, ACPI, fw_cfg) with 1, 2 and 4 vCPUs.</summary>
public class PlatformImageTests
{
    private static void AssertAllPass(RunResult result, string serial)
    {
        TestContext.Out.WriteLine(serial);
        Assert.Multiple(() =>
        {
            Assert.That(serial, Does.Not.Contain("FAIL"), serial);
            Assert.That(serial, Does.Contain("PASS"));
            Assert.That(result.Outcome, Is.EqualTo(RunOutcome.GuestExit), result.Message);
            Assert.That(result.ExitCode, Is.EqualTo(1), "guest exit status (0 << 1) | 1");
        });
    }

    [Test]
    public void PlatformImage_Boots_AllChecksPass(
        [Values("interrupts.elf", "smp.elf", "acpi.elf", "fwcfg.elf")] string image,
        [Values(1, 2, 4)] int smp)
    {
        (RunResult result, string serial) = ImageBootTests.Boot(image, o =>
        {
            o.Smp = smp;
            o.Devices.Add("pc-testdev");
        });
        AssertAllPass(result, serial);
        // Every feature the image checks is present; only IPI checks that need more CPUs than given may skip.
        foreach (string line in serial.Split('\n'))
        {
            if (line.StartsWith("SKIP", StringComparison.Ordinal))
            {
                Assert.That(line, Does.Contain("(one CPU)").Or.Contain("(fewer than"), "unexpected SKIP");
            }
        }
    }

    [Test]
    public void Interrupts_WithoutPcTestdev_SkipsItsChecksAndPasses()
    {
        (RunResult result, string serial) = ImageBootTests.Boot("interrupts.elf");
        AssertAllPass(result, serial);
    }

    [Test]
    public void BundledImages_BootWithSeveralVcpus([Values("hello.elf", "modes.elf", "paging.elf", "exceptions.elf", "sse.elf")] string image)
    {
        (RunResult result, string serial) = ImageBootTests.Boot(image, o => o.Smp = 4);
        AssertAllPass(result, serial);
    }

    /// <summary>DESIGN.md "Determinism": same image, same options, same output and instruction count — with several vCPUs too.</summary>
    [Test]
    public void Smp_TwoRuns_ByteIdenticalOutputAndSameInstructionCount()
    {
        (RunResult a, string sa) = ImageBootTests.Boot("smp.elf", o => o.Smp = 4);
        (RunResult b, string sb) = ImageBootTests.Boot("smp.elf", o => o.Smp = 4);
        Assert.Multiple(() =>
        {
            Assert.That(sb, Is.EqualTo(sa));
            Assert.That(b.Instructions, Is.EqualTo(a.Instructions));
            Assert.That(a.ExitCode, Is.EqualTo(1));
        });
    }

    [Test]
    public void Interrupts_TwoRuns_ByteIdenticalOutputAndSameInstructionCount()
    {
        (RunResult a, string sa) = ImageBootTests.Boot("interrupts.elf", o => o.Devices.Add("pc-testdev"));
        (RunResult b, string sb) = ImageBootTests.Boot("interrupts.elf", o => o.Devices.Add("pc-testdev"));
        Assert.That(sb, Is.EqualTo(sa));
        Assert.That(b.Instructions, Is.EqualTo(a.Instructions));
    }
}
