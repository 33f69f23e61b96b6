using System.Diagnostics;

namespace Emulator.Tests.Images;

/// <summary>Builds images/ once per test run with the project's own script (which installs gcc/binutils if missing).</summary>
internal static class ImageBuild
{
    private static readonly Lazy<string?> s_error = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Builds if needed; fails the calling test with the build log when the build fails.</summary>
    public static void Ensure()
    {
        if (s_error.Value is string error)
        {
            Assert.Fail("images/build.sh failed:\n" + error);
        }
    }

    private static string? Build()
    {
        var psi = new ProcessStartInfo("bash", ["images/build.sh"])
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : stdout.Result + stderr.Result;
    }
}
