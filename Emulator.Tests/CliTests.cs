using System.Text;
using Emulator.Tests.Images;

namespace Emulator.Tests;

/// <summary>Bad options and bad images: one clear line on stderr, a distinct exit status, nothing runs.</summary>
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var serial = new MemoryStream();
        int code = Cli.Run(args, stdout, stderr, serial);
        return (code, stdout.ToString() + Encoding.UTF8.GetString(serial.ToArray()), stderr.ToString());
    }

    private static string TempFile(byte[] content)
    {
        string path = Path.Combine(Path.GetTempPath(), $"emu-test-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, content);
        return path;
    }

    [Test]
    public void Help_PrintsUsage_ExitsZero()
    {
        (int code, string output, _) = Run("--help");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("usage: emulator run IMAGE"));
    }

    [TestCase(new[] { "frobnicate" }, "unknown command")]
    [TestCase(new[] { "run" }, "no image given")]
    [TestCase(new[] { "run", "x.elf", "--bogus" }, "unknown option --bogus")]
    [TestCase(new[] { "run", "x.elf", "--memory", "lots" }, "bad memory size")]
    [TestCase(new[] { "run", "x.elf", "--memory", "1K" }, "out of range")]
    [TestCase(new[] { "run", "x.elf", "--timeout", "-3" }, "--timeout needs a positive number")]
    [TestCase(new[] { "run", "x.elf", "--max-instructions" }, "needs a value")]
    [TestCase(new[] { "run", "x.elf", "--flat-mode", "sideways" }, "--flat-mode must be")]
    [TestCase(new[] { "run", "x.elf", "--smp", "0" }, "--smp must be 1 to 64")]
    [TestCase(new[] { "run", "x.elf", "--smp", "65" }, "--smp must be 1 to 64")]
    [TestCase(new[] { "run", "x.elf", "--device", "sound-blaster" }, "unknown device 'sound-blaster'")]
    [TestCase(new[] { "run", "x.elf", "--clock", "sundial" }, "--clock must be virtual or host")]
    [TestCase(new[] { "run", "x.elf", "--icount", "shift=99" }, "--icount needs shift=N")]
    public void BadOption_OneLine_Exit2(string[] args, string message)
    {
        (int code, _, string err) = Run(args);
        Assert.That(code, Is.EqualTo(Machine.ExitBadOption));
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void MissingImage_Exit4()
    {
        (int code, _, string err) = Run("run", "/nonexistent/image.elf");
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("cannot read"));
    }

    [Test]
    public void NotElfNoMultiboot_Exit4()
    {
        string path = TempFile(Encoding.ASCII.GetBytes("this is not a kernel image at all, just text\n"));
        (int code, _, string err) = Run("run", path);
        File.Delete(path);
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("not an ELF image and no multiboot header"));
    }

    [Test]
    public void EmptyImage_Exit4()
    {
        string path = TempFile([]);
        (int code, _, string err) = Run("run", path);
        File.Delete(path);
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("empty"));
    }

    [Test]
    public void ElfWithoutMultibootHeader_Exit4()
    {
        var elf = new byte[256];
        elf[0] = 0x7F; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F'; elf[4] = 1; elf[5] = 1;
        (int code, _, string err) = Run("run", TempFile(elf));
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("no multiboot header"));
    }

    [Test]
    public void TruncatedElf_Exit4()
    {
        ImageBuild.Ensure();
        byte[] full = File.ReadAllBytes(TestPaths.Image("hello.elf"));
        (int code, _, string err) = Run("run", TempFile(full[..(full.Length / 3)]));
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("truncated"));
    }

    [Test]
    public void SegmentOutsideRam_Exit4()
    {
        ImageBuild.Ensure();
        // hello.elf is linked at 4 MiB: with 2 MiB of RAM its segments cannot load.
        (int code, _, string err) = Run("run", TestPaths.Image("hello.elf"), "--memory", "2M");
        Assert.That(code, Is.EqualTo(Machine.ExitBadImage));
        Assert.That(err, Does.Contain("outside RAM"));
    }

    [Test]
    public void FlatRealModeBootSector_PrintsAndExits()
    {
        // mov dx,0x3f8; mov al,'K'; out dx,al; mov dx,0xf4; mov al,0x21; out dx,al  => status (0x21<<1)|1 = 0x43
        byte[] code = [0xBA, 0xF8, 0x03, 0xB0, (byte)'K', 0xEE, 0xBA, 0xF4, 0x00, 0xB0, 0x21, 0xEE];
        string path = TempFile(code);
        (int exit, string output, string err) = Run("run", path, "--flat", "0x7c00");
        File.Delete(path);
        Assert.That(output, Is.EqualTo("K"), err);
        Assert.That(exit, Is.EqualTo(0x43));
    }

    [Test]
    public void InstructionLimit_Exit8_WithRegisters()
    {
        byte[] spin = [0xEB, 0xFE]; // jmp $
        string path = TempFile(spin);
        (int code, _, string err) = Run("run", path, "--flat", "0x7c00", "--max-instructions", "1000");
        File.Delete(path);
        Assert.That(code, Is.EqualTo(Machine.ExitLimit));
        Assert.That(err, Does.Contain("instruction limit").And.Contain("rip=7c00"));
    }
}
