namespace Emulator.Cpu.Bus;

/// <summary>A device on the I/O port bus. <paramref name="size"/> is 1, 2 or 4 bytes.</summary>
public interface IPortDevice
{
    uint In(ushort port, int size);

    void Out(ushort port, int size, uint value);
}

/// <summary>
/// The 64 Ki I/O port space. Unknown ports read as all ones and ignore writes, as on real hardware,
/// unless <see cref="StrictPorts"/> asks to stop the run instead.
/// </summary>
public sealed class IoBus
{
    private readonly IPortDevice?[] _ports = new IPortDevice?[0x10000];

    /// <summary>When set, an access to an unclaimed port calls <see cref="UnknownPort"/>.</summary>
    public bool StrictPorts { get; set; }

    /// <summary>Raised (debugging aid) for unclaimed ports when <see cref="StrictPorts"/> is set.</summary>
    public Action<ushort, bool>? UnknownPort { get; set; }

    public void Register(ushort first, int count, IPortDevice device)
    {
        for (int i = 0; i < count; i++)
        {
            _ports[(ushort)(first + i)] = device;
        }
    }

    public uint In(ushort port, int size)
    {
        IPortDevice? d = _ports[port];
        if (d is null)
        {
            if (StrictPorts)
            {
                UnknownPort?.Invoke(port, false);
            }
            return size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;
        }
        return d.In(port, size);
    }

    public void Out(ushort port, int size, uint value)
    {
        IPortDevice? d = _ports[port];
        if (d is null)
        {
            if (StrictPorts)
            {
                UnknownPort?.Invoke(port, true);
            }
            return;
        }
        d.Out(port, size, value);
    }
}
