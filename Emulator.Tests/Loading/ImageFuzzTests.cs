using Emulator.Tests.Images;

namespace Emulator.Tests.Loading;

/// <summary>DESIGN.md "Errors": a damaged image gets a clear error or runs as the guest it now is — never a host crash.</summary>
public class ImageFuzzTests
{
    [Test]
    public void MutatedHeaders_NeverCrashTheHost([Values(1, 2, 3)] int seed)
    {
        ImageBuild.Ensure();
        byte[] original = File.ReadAllBytes(TestPaths.Image("hello.elf"));
        var rng = new Random(seed);
        string path = Path.Combine(Path.GetTempPath(), $"emu-fuzz-{Guid.NewGuid():N}.elf");
        try
        {
            for (int n = 0; n < 30; n++)
            {
                byte[] image = (byte[])original.Clone();
                if (n % 4 == 3)
                {
                    image = image[..rng.Next(1, image.Length)];
                }
                else
                {
                    // Flip bytes in the ELF header, the program headers and the multiboot header.
                    for (int k = rng.Next(1, 6); k > 0; k--)
                    {
                        image[rng.Next(0, Math.Min(image.Length, 0x1100))] = (byte)rng.Next(256);
                    }
                }
                File.WriteAllBytes(path, image);
                var stderr = new StringWriter();
                int code = Cli.Run(["run", path, "--max-instructions", "200000", "--memory", "16M"], new StringWriter(), stderr, new MemoryStream());
                Assert.That(code, Is.Not.EqualTo(Machine.ExitInternalError), stderr.ToString());
                if (code == Machine.ExitBadImage)
                {
                    Assert.That(stderr.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one clear line");
                }
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
