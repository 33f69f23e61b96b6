using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emulator.Vmx.Vmcs;

/// <summary>
/// The one width-switching accessor for a field stored in a block of bytes, vmcs12 or eVMCS
/// (KVM's <c>vmcs12_read_any</c>/<c>vmcs12_write_any</c>). Allocation-free: a bounds check and
/// one unaligned load or store. Values are little-endian, as x86 keeps them in memory.
/// </summary>
internal static class VmcsFieldAccessor
{
    /// <summary>
    /// Reads <paramref name="width"/> bytes at <paramref name="offset"/>, zero-extended. A HIGH
    /// access passes the HIGH offset (full offset + 4) with <see cref="VmcsFieldWidth.U32"/>;
    /// a natural-width field is 64 bits of storage.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(ReadOnlySpan<byte> block, ushort offset, VmcsFieldWidth width)
    {
        ref byte start = ref MemoryMarshal.GetReference(block);
        switch (width)
        {
            case VmcsFieldWidth.U16:
                CheckBounds(block.Length, offset, sizeof(ushort));
                return FromLittleEndian(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, offset)));
            case VmcsFieldWidth.U32:
                CheckBounds(block.Length, offset, sizeof(uint));
                return FromLittleEndian(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, offset)));
            case VmcsFieldWidth.U64:
            case VmcsFieldWidth.NaturalWidth:
                CheckBounds(block.Length, offset, sizeof(ulong));
                return FromLittleEndian(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset)));
            default:
                return ThrowInvalidWidth(width);
        }
    }

    /// <summary>
    /// Writes the low <paramref name="width"/> bytes of <paramref name="value"/>; the rest is
    /// dropped, as VMWRITE ignores source bits beyond the field's size (SDM Vol. 3C VMWRITE
    /// "Write Field to Virtual-Machine Control Structure").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> block, ushort offset, VmcsFieldWidth width, ulong value)
    {
        ref byte start = ref MemoryMarshal.GetReference(block);
        switch (width)
        {
            case VmcsFieldWidth.U16:
                CheckBounds(block.Length, offset, sizeof(ushort));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, offset), ToLittleEndian((ushort)value));
                break;
            case VmcsFieldWidth.U32:
                CheckBounds(block.Length, offset, sizeof(uint));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, offset), ToLittleEndian((uint)value));
                break;
            case VmcsFieldWidth.U64:
            case VmcsFieldWidth.NaturalWidth:
                CheckBounds(block.Length, offset, sizeof(ulong));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, offset), ToLittleEndian(value));
                break;
            default:
                ThrowInvalidWidth(width);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckBounds(int length, ushort offset, int size)
    {
        if ((uint)offset + (uint)size > (uint)length)
        {
            ThrowOutOfRange(offset, size, length);
        }
    }

    // The JIT folds IsLittleEndian, so on x86/x64/Arm64 hosts these are no-ops.
    private static ushort FromLittleEndian(ushort value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);

    private static uint FromLittleEndian(uint value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);

    private static ulong FromLittleEndian(ulong value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);

    private static ushort ToLittleEndian(ushort value) => FromLittleEndian(value);

    private static uint ToLittleEndian(uint value) => FromLittleEndian(value);

    private static ulong ToLittleEndian(ulong value) => FromLittleEndian(value);

    [DoesNotReturn]
    private static void ThrowOutOfRange(ushort offset, int size, int length)
        => throw new ArgumentOutOfRangeException(nameof(offset), offset, $"A {size}-byte field at this offset does not fit in a {length}-byte block.");

    [DoesNotReturn]
    private static ulong ThrowInvalidWidth(VmcsFieldWidth width)
        => throw new ArgumentOutOfRangeException(nameof(width), width, "Not a VMCS field width.");
}
