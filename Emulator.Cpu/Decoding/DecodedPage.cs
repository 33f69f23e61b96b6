using Iced.Intel;

namespace Emulator.Cpu.Decoding;

/// <summary>A decoded instruction with what the loop needs beside Iced's <see cref="Instruction"/>.</summary>
internal unsafe struct DecodedInsn
{
    public Instruction Instr;
    public HandlerFn Handler;
    public byte Length;

    /// <summary>Address size in bits (16/32/64), from the mode and a 67h prefix.</summary>
    public byte AddrSize;
}

/// <summary>
/// Decoded instructions of one 4 KiB physical page for one code size. Invalidated (and dropped) when
/// the guest writes to the page, so self-modifying code re-decodes.
/// </summary>
internal sealed class DecodedPage
{
    public readonly ulong Key;
    public bool Valid = true;

    /// <summary>Slot index + 1 per byte offset; 0 = not decoded yet.</summary>
    public readonly ushort[] Index = new ushort[4096];
    public DecodedInsn[] Slots = new DecodedInsn[64];
    public int Count;

    public DecodedPage(ulong key) => Key = key;

    /// <summary>Empties the page after a write to it invalidated it, keeping its storage.</summary>
    public void Reset()
    {
        Array.Clear(Index);
        Array.Clear(Slots, 0, Count);
        Count = 0;
        Valid = true;
    }

    public ref DecodedInsn Add(int offset)
    {
        if (Count == Slots.Length)
        {
            Array.Resize(ref Slots, Slots.Length * 2);
        }
        Index[offset] = (ushort)(Count + 1);
        return ref Slots[Count++];
    }
}

/// <summary>Feeds Iced's decoder from a small fetch buffer.</summary>
internal sealed class FetchReader : CodeReader
{
    public readonly byte[] Buffer = new byte[16];
    public int Position;
    public int Length;

    public override int ReadByte() => Position < Length ? Buffer[Position++] : -1;
}
