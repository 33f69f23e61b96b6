namespace Emulator.Cpu.Bus;

/// <summary>A memory-mapped device. <paramref name="offset"/> is relative to the region start; size is 1, 2, 4 or 8.</summary>
public interface IMmioDevice
{
    ulong Read(ulong offset, int size);

    void Write(ulong offset, int size, ulong value);
}
