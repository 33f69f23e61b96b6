using Iced.Intel;

namespace Emulator.Tests;

/// <summary>Assembles Iced <see cref="Assembler"/> code into a byte array, the one way every test needs.</summary>
internal static class AssemblerBytes
{
    /// <summary>The machine code of <paramref name="asm"/>, assembled to run at <paramref name="ip"/>.</summary>
    public static byte[] ToBytes(this Assembler asm, ulong ip)
    {
        var writer = new ListWriter();
        asm.Assemble(writer, ip);
        return [.. writer.Bytes];
    }

    private sealed class ListWriter : CodeWriter
    {
        public readonly List<byte> Bytes = [];

        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
