namespace Emulator;

internal static class Cli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        stderr.WriteLine("emulator: not ready");
        return 2;
    }
}
