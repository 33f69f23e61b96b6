namespace Emulator;

/// <summary>How a flat binary is entered.</summary>
public enum FlatMode
{
    Real,
    Protected,
}

/// <summary>Options of one run; names follow QEMU's where QEMU has the same thing.</summary>
public sealed class MachineOptions
{
    public ulong MemorySize { get; set; } = 128UL << 20;
    public string Append { get; set; } = "";
    public List<string> Initrd { get; } = [];

    /// <summary>Where the guest's serial output goes (stdout by default).</summary>
    public Stream? SerialOutput { get; set; }

    /// <summary>Stop after this many instructions (null = no bound).</summary>
    public long? MaxInstructions { get; set; }

    /// <summary>Stop after this much wall time (null = no bound).</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Load the image as a flat binary at this physical address instead of as multiboot.</summary>
    public ulong? FlatAddress { get; set; }
    public FlatMode FlatMode { get; set; } = FlatMode.Real;

    /// <summary>Stop the run on an access to an unclaimed I/O port (debugging aid).</summary>
    public bool StrictPorts { get; set; }

    /// <summary>Log instructions that raise #UD because they are not implemented.</summary>
    public TextWriter? UnimplementedLog { get; set; }

    /// <summary>Number of vCPUs (QEMU's -smp).</summary>
    public int Smp { get; set; } = 1;

    /// <summary>Optional QEMU test devices by QEMU's name: "pc-testdev", "pci-testdev".</summary>
    public HashSet<string> Devices { get; } = [];

    /// <summary>Time from the host's clock instead of retired instructions (not deterministic).</summary>
    public bool HostClock { get; set; }

    /// <summary>
    /// One instruction is 2^IcountShift ns of virtual time (QEMU's -icount shift=N). The default, 3 (8 ns, a
    /// 125 MIPS processor), is close to the interpreter's real speed, so guest time roughly tracks wall time
    /// and busy-wait loops cost no more instructions than they must.
    /// </summary>
    public int IcountShift { get; set; } = DefaultIcountShift;

    public const int DefaultIcountShift = 3;
}
