namespace Emulator.Tests;

/// <summary>Locations in the repository, found from the test assembly's directory.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string ImagesBuild => Path.Combine(RepoRoot, "images", "build");

    public static string Image(string name) => Path.Combine(ImagesBuild, name);

    private static string FindRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "emulator.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("emulator.sln not found above " + AppContext.BaseDirectory);
    }
}
