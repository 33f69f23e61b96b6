using Emulator.Cpu;
using Emulator.Cpu.Bus;

namespace Emulator.Devices.Apic;

/// <summary>
/// The xAPIC page: every processor sees its own local APIC at the same physical address, so an access goes
/// to the APIC of the vCPU running now (<see cref="Platform.VirtualClock.Current"/>). When that APIC is
/// globally disabled, in x2APIC mode, or based elsewhere, the page behaves like a disabled xAPIC (SDM Vol. 3A
/// §12.12.2 "x2APIC Register Availability"): reads return all ones, writes are dropped.
/// </summary>
internal sealed class ApicMmio : IMmioDevice
{
    private readonly ApicBus _bus;
    private readonly ulong _pageBase;

    public ApicMmio(ApicBus bus, ulong pageBase)
    {
        _bus = bus;
        _pageBase = pageBase;
    }

    public ulong Read(ulong offset, int size)
    {
        if (Target() is { } apic)
        {
            return apic.MmioRead(offset, size);
        }
        return size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
    }

    public void Write(ulong offset, int size, ulong value) => Target()?.MmioWrite(offset, size, value);

    private LocalApic? Target()
    {
        Vcpu? cpu = _bus.Clock.Current;
        if (cpu is null)
        {
            return null;
        }
        LocalApic? apic = _bus[cpu.Index];
        return apic is not null && apic.MmioEnabledAt(_pageBase) ? apic : null;
    }
}
