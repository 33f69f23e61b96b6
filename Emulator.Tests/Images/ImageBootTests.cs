using System.Text;

namespace Emulator.Tests.Images;

/// <summary>Boots each bundled guest image: every check must print PASS and the guest must exit with 0 (status 1).</summary>
public class ImageBootTests
{
    internal static (RunResult Result, string Serial) Boot(string image, Action<MachineOptions>? configure = null)
    {
        ImageBuild.Ensure();
        string path = TestPaths.Image(image);
        Assert.That(File.Exists(path), Is.True, $"{path} was not built");
        var serial = new MemoryStream();
        var options = new MachineOptions { SerialOutput = serial, MaxInstructions = 2_000_000_000, Timeout = TimeSpan.FromMinutes(3) };
        configure?.Invoke(options);
        using var machine = new Machine(options);
        machine.LoadImage(path);
        RunResult result = machine.Run();
        return (result, Encoding.UTF8.GetString(serial.ToArray()));
    }

    [TestCase("hello.elf")]
    [TestCase("hello64.elf")]
    [TestCase("modes.elf")]
    [TestCase("paging.elf")]
    [TestCase("exceptions.elf")]
    [TestCase("sse.elf")]
    [TestCase("compute.elf")]
    public void Image_Boots_AllChecksPass(string image)
    {
        (RunResult result, string serial) = Boot(image);
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
    public void Hello_CommandLine_IsImageNameThenAppend()
    {
        (RunResult result, string serial) = Boot("hello.elf", o => o.Append = "alpha=1 beta");
        Assert.That(serial, Does.Contain("hello.elf alpha=1 beta"));
        Assert.That(result.ExitCode, Is.EqualTo(1));
    }

    [Test]
    public void Hello_With8GiB_BootsWithLazilyCommittedRam()
    {
        long before = Environment.WorkingSet;
        (RunResult result, string serial) = Boot("hello.elf", o => o.MemorySize = 8UL << 30);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), serial);
            Assert.That(serial, Does.Not.Contain("FAIL"));
            Assert.That(Environment.WorkingSet - before, Is.LessThan(512L << 20), "8 GiB of guest RAM must cost only what the guest touches");
        });
    }

    [Test]
    public void Compute_IsDeterministic_SameOutputAndInstructionCount()
    {
        (RunResult a, string sa) = Boot("compute.elf", o => o.Append = "iterations=1");
        (RunResult b, string sb) = Boot("compute.elf", o => o.Append = "iterations=1");
        Assert.Multiple(() =>
        {
            Assert.That(sa, Does.Contain("checksum"));
            Assert.That(sb, Is.EqualTo(sa));
            Assert.That(b.Instructions, Is.EqualTo(a.Instructions));
            Assert.That(a.ExitCode, Is.EqualTo(1));
        });
    }
}
