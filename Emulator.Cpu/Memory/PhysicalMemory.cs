using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Emulator.Cpu.Bus;

namespace Emulator.Cpu.Memory;

/// <summary>
/// Guest physical address space: RAM in one natively allocated block (zeroed lazily by the OS, so a
/// large size costs only what the guest touches), split as a PC splits it around the 32-bit PCI hole,
/// plus MMIO regions. Physical addresses that hit neither read as all ones and ignore writes.
/// </summary>
public sealed unsafe class PhysicalMemory : IDisposable
{
    /// <summary>Start of the PCI hole below 4 GiB when RAM does not fit under it (QEMU pc: 3.5 GiB).</summary>
    public const ulong LowMemoryLimit = 0xE000_0000;

    private const ulong FourGiB = 0x1_0000_0000;

    private byte* _ram;
    private readonly ulong _size;
    private readonly ulong _lowEnd;
    private readonly ulong _highEnd;
    private MmioRegion[] _mmio = [];

    /// <summary>One byte per 4 KiB page of RAM: non-zero when decoded instructions are cached from it.</summary>
    private readonly byte[] _codePages;

    /// <summary>Called with a physical page number when a write hits a page that holds cached code.</summary>
    internal Action<ulong>? CodeWrite;

    public PhysicalMemory(ulong size)
    {
        if (size < 0x10_0000 || (size & 0xFFF) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "RAM must be at least 1 MiB and a multiple of 4 KiB");
        }
        _size = size;
        _lowEnd = Math.Min(size, LowMemoryLimit);
        _highEnd = size > _lowEnd ? FourGiB + (size - _lowEnd) : 0;
        _ram = (byte*)NativeMemory.AllocZeroed((nuint)size);
        _codePages = new byte[HostPageIndex(size - 1) + 1];
    }

    /// <summary>Total RAM in bytes.</summary>
    public ulong Size => _size;

    /// <summary>RAM below 4 GiB, from 0.</summary>
    public ulong LowRamEnd => _lowEnd;

    /// <summary>End of RAM above 4 GiB (0 when there is none).</summary>
    public ulong HighRamEnd => _highEnd;

    internal byte* RamBase => _ram;

    public void AddMmio(ulong start, ulong length, IMmioDevice device)
    {
        var list = new List<MmioRegion>(_mmio) { new(start, length, device) };
        _mmio = [.. list];
    }

    private static ulong HostPageIndex(ulong hostOffset) => hostOffset >> 12;

    /// <summary>Host pointer for RAM at <paramref name="pa"/>, or null when the address is not RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte* HostPointer(ulong pa)
    {
        if (pa < _lowEnd)
        {
            return _ram + pa;
        }
        if (pa >= FourGiB && pa < _highEnd)
        {
            return _ram + (pa - FourGiB + _lowEnd);
        }
        return null;
    }

    internal void MarkCodePage(byte* host) => _codePages[(ulong)(host - _ram) >> 12] = 1;

    /// <summary>Called after a guest write to RAM at <paramref name="host"/>: drops cached code there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void NoteWrite(byte* host, int size)
    {
        ulong off = (ulong)(host - _ram);
        if ((_codePages[off >> 12] | _codePages[(off + (ulong)size - 1) >> 12]) != 0)
        {
            NoteCodeWrite(off, size);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NoteCodeWrite(ulong off, int size)
    {
        for (ulong p = off >> 12; p <= (off + (ulong)size - 1) >> 12; p++)
        {
            if (_codePages[p] != 0)
            {
                _codePages[p] = 0;
                CodeWrite?.Invoke(p);
            }
        }
    }

    internal IMmioDevice? FindMmio(ulong pa, out ulong offset)
    {
        foreach (MmioRegion r in _mmio)
        {
            if (pa - r.Start < r.Length)
            {
                offset = pa - r.Start;
                return r.Device;
            }
        }
        offset = 0;
        return null;
    }

    /// <summary>Reads physical memory of any kind (RAM, MMIO, unmapped) with size 1, 2, 4 or 8.</summary>
    public ulong Read(ulong pa, int size)
    {
        byte* p = HostPointer(pa);
        if (p != null && HostPointer(pa + (ulong)size - 1) == p + size - 1)
        {
            return size switch
            {
                1 => *p,
                2 => Unsafe.ReadUnaligned<ushort>(p),
                4 => Unsafe.ReadUnaligned<uint>(p),
                _ => Unsafe.ReadUnaligned<ulong>(p),
            };
        }
        return ReadSlow(pa, size);
    }

    private ulong ReadSlow(ulong pa, int size)
    {
        IMmioDevice? dev = FindMmio(pa, out ulong off);
        if (dev is not null)
        {
            return dev.Read(off, size);
        }
        ulong v = 0;
        for (int i = 0; i < size; i++)
        {
            byte* p = HostPointer(pa + (ulong)i);
            v |= (ulong)(p != null ? *p : (byte)0xFF) << (i * 8);
        }
        return v;
    }

    public void Write(ulong pa, int size, ulong value)
    {
        byte* p = HostPointer(pa);
        if (p != null && HostPointer(pa + (ulong)size - 1) == p + size - 1)
        {
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
                case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
                default: Unsafe.WriteUnaligned(p, value); break;
            }
            NoteWrite(p, size);
            return;
        }
        IMmioDevice? dev = FindMmio(pa, out ulong off);
        if (dev is not null)
        {
            dev.Write(off, size, value);
            return;
        }
        for (int i = 0; i < size; i++)
        {
            byte* q = HostPointer(pa + (ulong)i);
            if (q != null)
            {
                *q = (byte)(value >> (i * 8));
                NoteWrite(q, 1);
            }
        }
    }

    /// <summary>Copies bytes into guest physical memory (loaders, firmware tables); RAM only.</summary>
    public bool TryWriteBytes(ulong pa, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length;)
        {
            byte* p = HostPointer(pa + (ulong)i);
            if (p == null)
            {
                return false;
            }
            int chunk = (int)Math.Min((ulong)(data.Length - i), 0x1000 - ((pa + (ulong)i) & 0xFFF));
            data.Slice(i, chunk).CopyTo(new Span<byte>(p, chunk));
            NoteWrite(p, chunk);
            i += chunk;
        }
        return true;
    }

    /// <summary>Zeroes a RAM range (ELF bss).</summary>
    public bool TryZero(ulong pa, ulong length)
    {
        for (ulong i = 0; i < length;)
        {
            byte* p = HostPointer(pa + i);
            if (p == null)
            {
                return false;
            }
            int chunk = (int)Math.Min(length - i, 0x1000 - ((pa + i) & 0xFFF));
            new Span<byte>(p, chunk).Clear();
            i += (ulong)chunk;
        }
        return true;
    }

    public void ReadBytes(ulong pa, Span<byte> dest)
    {
        for (int i = 0; i < dest.Length; i++)
        {
            dest[i] = (byte)Read(pa + (ulong)i, 1);
        }
    }

    /// <summary>True when [pa, pa+length) is entirely RAM.</summary>
    public bool IsRam(ulong pa, ulong length)
    {
        if (length == 0)
        {
            return true;
        }
        ulong end = pa + length;
        return end >= pa && ((end <= _lowEnd) || (pa >= FourGiB && end <= _highEnd));
    }

    public void Dispose()
    {
        if (_ram != null)
        {
            NativeMemory.Free(_ram);
            _ram = null;
        }
    }

    private readonly record struct MmioRegion(ulong Start, ulong Length, IMmioDevice Device);
}
