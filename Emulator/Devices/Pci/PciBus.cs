using Emulator.Cpu.Bus;

namespace Emulator.Devices.Pci;

/// <summary>
/// PCI bus 0 behind configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2 "Software
/// Generation of Configuration Transactions"): CONFIG_ADDRESS at 0xCF8 (a 32-bit register: enable bit 31,
/// bus 23:16, device 15:11, function 10:8, register 7:2) and CONFIG_DATA at 0xCFC–0xCFF, 8-, 16- or 32-bit
/// at the byte the port's low bits select. As QEMU's pci_host_conf/pci_host_data: CONFIG_ADDRESS takes
/// 32-bit writes only and reads back exactly what was written (its low two bits included, which QEMU ORs
/// into the data port's offset); absent functions and other buses read all ones and ignore writes.
/// There is no host bridge at 00:00.0: the bus is empty unless devices are added.
/// <para>
/// BARs decode through two windows the machine registers once: <see cref="IoWindow"/> over
/// <see cref="IoWindowStart"/>..0xFFFF and <see cref="MmioWindow"/> over
/// [<see cref="MmioWindowStart"/>, <see cref="MmioWindowEnd"/>); a BAR assigned outside them decodes nothing.
/// </para>
/// </summary>
internal sealed class PciBus : IPortDevice
{
    public const ushort ConfigAddressPort = 0xCF8;
    public const ushort ConfigDataPort = 0xCFC;
    public const int ConfigDataLength = 4;
    public const uint ConfigEnable = 0x8000_0000;

    /// <summary>The PC's PCI I/O window (SeaBIOS assigns I/O BARs from 0xC000 up).</summary>
    public const ushort IoWindowStart = 0xC000;
    public const int IoWindowLength = 0x1_0000 - IoWindowStart;

    /// <summary>
    /// The 32-bit PCI memory window: everything from 1 MiB up to the I/O APIC that is not RAM (RAM wins where
    /// they overlap, as the memory controller decodes DRAM first). SeaBIOS assigns memory BARs downwards
    /// from the window's end.
    /// </summary>
    public const ulong MmioWindowStart = 0x0010_0000;
    public const ulong MmioWindowEnd = 0xFEC0_0000;

    private readonly PciDevice?[] _functions = new PciDevice?[256];
    private readonly List<PciDevice> _devices = [];
    private uint _address;
    private uint _nextIo = IoWindowStart;
    private ulong _nextMemoryTop = MmioWindowEnd;

    public PciBus()
    {
        IoWindow = new IoDecoder(this);
        MmioWindow = new MmioDecoder(this);
    }

    /// <summary>Register on the port bus at <see cref="IoWindowStart"/> for <see cref="IoWindowLength"/> ports.</summary>
    public IPortDevice IoWindow { get; }

    /// <summary>Register on physical memory over [<see cref="MmioWindowStart"/>, <see cref="MmioWindowEnd"/>), after every other MMIO device.</summary>
    public IMmioDevice MmioWindow { get; }

    /// <summary>The CONFIG_ADDRESS register as the guest last wrote it.</summary>
    public uint ConfigAddress => _address;

    /// <summary>
    /// Plugs <paramref name="device"/> in as function 0 of <paramref name="slot"/> on bus 0 and, as the BIOS
    /// would before the guest runs (SeaBIOS pci_setup), assigns its BARs — I/O from 0xC000 up, memory down
    /// from 0xFEC00000, each aligned to its size — and enables the spaces it uses in the command register.
    /// </summary>
    public void Add(PciDevice device, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)slot, 31u, nameof(slot));
        int devfn = slot << 3;
        if (_functions[devfn] is not null)
        {
            throw new InvalidOperationException($"PCI slot {slot} is taken");
        }
        _functions[devfn] = device;
        _devices.Add(device);

        ushort command = 0;
        for (int i = 0; i < PciDevice.BarCount; i++)
        {
            uint size = device.BarSize(i);
            if (size == 0)
            {
                continue;
            }
            uint address;
            if (device.BarKind(i) == PciBarKind.Io)
            {
                address = (_nextIo + size - 1) & ~(size - 1);
                _nextIo = address + size;
                command |= PciDevice.CommandIo;
            }
            else
            {
                _nextMemoryTop = (_nextMemoryTop - size) & ~(ulong)(size - 1);
                address = (uint)_nextMemoryTop;
                command |= PciDevice.CommandMemory;
            }
            device.WriteConfig(PciDevice.Bar0 + 4 * i, 4, address);
        }
        device.WriteConfig(PciDevice.Command, 2, (uint)(device.CommandRegister | command));
    }

    public uint In(ushort port, int size)
    {
        if (port == ConfigAddressPort)
        {
            return Truncate(_address, size);
        }
        if ((_address & ConfigEnable) == 0)
        {
            return AllOnes(size);
        }
        PciDevice? d = Selected(out int offset, port);
        if (d is null)
        {
            return AllOnes(size);
        }
        // pci_host_config_read_common: an access running past 0xFF reads only what is there.
        return d.ReadConfig(offset, size);
    }

    public void Out(ushort port, int size, uint value)
    {
        if (port == ConfigAddressPort)
        {
            if (size == 4)
            {
                _address = value;
            }
            return;
        }
        if ((_address & ConfigEnable) == 0)
        {
            return;
        }
        Selected(out int offset, port)?.WriteConfig(offset, size, value);
    }

    /// <summary>The function CONFIG_ADDRESS selects on bus 0 (null for other buses or empty functions).</summary>
    private PciDevice? Selected(out int offset, ushort port)
    {
        uint a = _address | (uint)(port & 3);
        offset = (int)(a & 0xFF);
        uint bus = (a >> 16) & 0xFF;
        return bus == 0 ? _functions[(a >> 8) & 0xFF] : null;
    }

    private static uint AllOnes(int size) => size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;

    private static uint Truncate(uint v, int size) => size == 4 ? v : v & ((1u << (size * 8)) - 1);

    /// <summary>Port accesses in the I/O window, routed to whichever I/O BAR decodes them.</summary>
    private sealed class IoDecoder(PciBus bus) : IPortDevice
    {
        public uint In(ushort port, int size)
        {
            foreach (PciDevice d in bus._devices)
            {
                if (d.TryDecodeIo(port, out int bar, out uint offset))
                {
                    return (uint)d.BarRead(bar, offset, size);
                }
            }
            return AllOnes(size);
        }

        public void Out(ushort port, int size, uint value)
        {
            foreach (PciDevice d in bus._devices)
            {
                if (d.TryDecodeIo(port, out int bar, out uint offset))
                {
                    d.BarWrite(bar, offset, size, value);
                    return;
                }
            }
        }
    }

    /// <summary>Memory accesses in the PCI window, routed to whichever memory BAR decodes them.</summary>
    private sealed class MmioDecoder(PciBus bus) : IMmioDevice
    {
        public ulong Read(ulong offset, int size)
        {
            ulong pa = MmioWindowStart + offset;
            foreach (PciDevice d in bus._devices)
            {
                if (d.TryDecodeMemory(pa, out int bar, out ulong barOffset))
                {
                    return d.BarRead(bar, barOffset, size);
                }
            }
            return size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        }

        public void Write(ulong offset, int size, ulong value)
        {
            ulong pa = MmioWindowStart + offset;
            foreach (PciDevice d in bus._devices)
            {
                if (d.TryDecodeMemory(pa, out int bar, out ulong barOffset))
                {
                    d.BarWrite(bar, barOffset, size, value);
                    return;
                }
            }
        }
    }
}
