using Emulator.Cpu.State;

namespace Emulator.Tests.Cpu.State;

public class LazyFlagsTests
{
    /// <summary>The SUB/CMP shortcut must agree with conditions derived from the individual flags.</summary>
    [Test]
    public void SubCondition_MatchesFlagDerivedCondition_AllSizesAndCodes()
    {
        var rng = new Random(1234);
        ulong[] edges = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
            0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue];
        foreach (int size in new[] { 1, 2, 4, 8 })
        {
            for (int n = 0; n < 4000; n++)
            {
                ulong a = n < edges.Length * edges.Length ? edges[n % edges.Length] : (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40);
                ulong b = n < edges.Length * edges.Length ? edges[n / edges.Length % edges.Length] : (ulong)rng.NextInt64();
                // Upper garbage beyond the operand size must not matter.
                var s = new CpuState();
                s.SetLazy(FlagOp.Sub, size, a - b, a, b);
                for (int cc = 0; cc < 16; cc++)
                {
                    Assert.That(s.Condition(cc), Is.EqualTo(s.ConditionFromFlags(cc)), $"size {size} a={a:X} b={b:X} cc={cc}");
                }
            }
        }
    }
}
