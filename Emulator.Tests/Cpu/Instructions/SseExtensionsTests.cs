using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Emulator.Cpu;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Emulator.Tests.Cpu.Instructions.SseTests;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>SSE3, SSSE3, SSE4.1 (SseExtensions.cs) and SSE4.2 (SseString.cs) against the host CPU.</summary>
public class SseExtensionsTests
{
    // ------------------------------------------------------------------ SSE3 / SSSE3 / SSE4.1 against the host

    private delegate void EmitRR(Assembler a, AssemblerRegisterXMM x, AssemblerRegisterXMM y);

    private delegate void EmitRM(Assembler a, AssemblerRegisterXMM x, AssemblerMemoryOperand m);

    /// <summary>Reference of (dest, src, xmm0).</summary>
    private delegate Vector128<ulong> Ref3(Vector128<ulong> x, Vector128<ulong> y, Vector128<ulong> mask);

    /// <summary>Memory-operand width of each form (16 = m128, aligned).</summary>
    private static readonly (string Name, EmitRR Emit, EmitRM EmitMem, int MemSize, Ref3 Reference)[] s_extensionOps =
    [
        ("haddps", (a, x, y) => a.haddps(x, y), (a, x, m) => a.haddps(x, m), 16, (x, y, c) => Sse3.HorizontalAdd(x.AsSingle(), y.AsSingle()).AsUInt64()),
        ("hsubps", (a, x, y) => a.hsubps(x, y), (a, x, m) => a.hsubps(x, m), 16, (x, y, c) => Sse3.HorizontalSubtract(x.AsSingle(), y.AsSingle()).AsUInt64()),
        ("haddpd", (a, x, y) => a.haddpd(x, y), (a, x, m) => a.haddpd(x, m), 16, (x, y, c) => Sse3.HorizontalAdd(x.AsDouble(), y.AsDouble()).AsUInt64()),
        ("hsubpd", (a, x, y) => a.hsubpd(x, y), (a, x, m) => a.hsubpd(x, m), 16, (x, y, c) => Sse3.HorizontalSubtract(x.AsDouble(), y.AsDouble()).AsUInt64()),
        ("addsubps", (a, x, y) => a.addsubps(x, y), (a, x, m) => a.addsubps(x, m), 16, (x, y, c) => Sse3.AddSubtract(x.AsSingle(), y.AsSingle()).AsUInt64()),
        ("addsubpd", (a, x, y) => a.addsubpd(x, y), (a, x, m) => a.addsubpd(x, m), 16, (x, y, c) => Sse3.AddSubtract(x.AsDouble(), y.AsDouble()).AsUInt64()),
        ("movsldup", (a, x, y) => a.movsldup(x, y), (a, x, m) => a.movsldup(x, m), 16, (x, y, c) => Sse3.MoveLowAndDuplicate(y.AsSingle()).AsUInt64()),
        ("movshdup", (a, x, y) => a.movshdup(x, y), (a, x, m) => a.movshdup(x, m), 16, (x, y, c) => Sse3.MoveHighAndDuplicate(y.AsSingle()).AsUInt64()),
        ("movddup", (a, x, y) => a.movddup(x, y), (a, x, m) => a.movddup(x, m), 8, (x, y, c) => Sse3.MoveAndDuplicate(y.AsDouble()).AsUInt64()),
        ("pshufb", (a, x, y) => a.pshufb(x, y), (a, x, m) => a.pshufb(x, m), 16, (x, y, c) => Ssse3.Shuffle(x.AsByte(), y.AsByte()).AsUInt64()),
        ("palignr 0", (a, x, y) => a.palignr(x, y, 0), (a, x, m) => a.palignr(x, m, 0), 16, (x, y, c) => Ssse3.AlignRight(x.AsByte(), y.AsByte(), 0).AsUInt64()),
        ("palignr 5", (a, x, y) => a.palignr(x, y, 5), (a, x, m) => a.palignr(x, m, 5), 16, (x, y, c) => Ssse3.AlignRight(x.AsByte(), y.AsByte(), 5).AsUInt64()),
        ("palignr 16", (a, x, y) => a.palignr(x, y, 16), (a, x, m) => a.palignr(x, m, 16), 16, (x, y, c) => Ssse3.AlignRight(x.AsByte(), y.AsByte(), 16).AsUInt64()),
        ("palignr 27", (a, x, y) => a.palignr(x, y, 27), (a, x, m) => a.palignr(x, m, 27), 16, (x, y, c) => Ssse3.AlignRight(x.AsByte(), y.AsByte(), 27).AsUInt64()),
        ("palignr 40", (a, x, y) => a.palignr(x, y, 40), (a, x, m) => a.palignr(x, m, 40), 16, (x, y, c) => Vector128<ulong>.Zero),
        ("pabsb", (a, x, y) => a.pabsb(x, y), (a, x, m) => a.pabsb(x, m), 16, (x, y, c) => Ssse3.Abs(y.AsSByte()).AsUInt64()),
        ("pabsw", (a, x, y) => a.pabsw(x, y), (a, x, m) => a.pabsw(x, m), 16, (x, y, c) => Ssse3.Abs(y.AsInt16()).AsUInt64()),
        ("pabsd", (a, x, y) => a.pabsd(x, y), (a, x, m) => a.pabsd(x, m), 16, (x, y, c) => Ssse3.Abs(y.AsInt32()).AsUInt64()),
        ("psignb", (a, x, y) => a.psignb(x, y), (a, x, m) => a.psignb(x, m), 16, (x, y, c) => Ssse3.Sign(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("psignw", (a, x, y) => a.psignw(x, y), (a, x, m) => a.psignw(x, m), 16, (x, y, c) => Ssse3.Sign(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("psignd", (a, x, y) => a.psignd(x, y), (a, x, m) => a.psignd(x, m), 16, (x, y, c) => Ssse3.Sign(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("phaddw", (a, x, y) => a.phaddw(x, y), (a, x, m) => a.phaddw(x, m), 16, (x, y, c) => Ssse3.HorizontalAdd(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("phaddd", (a, x, y) => a.phaddd(x, y), (a, x, m) => a.phaddd(x, m), 16, (x, y, c) => Ssse3.HorizontalAdd(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("phaddsw", (a, x, y) => a.phaddsw(x, y), (a, x, m) => a.phaddsw(x, m), 16, (x, y, c) => Ssse3.HorizontalAddSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("phsubw", (a, x, y) => a.phsubw(x, y), (a, x, m) => a.phsubw(x, m), 16, (x, y, c) => Ssse3.HorizontalSubtract(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("phsubd", (a, x, y) => a.phsubd(x, y), (a, x, m) => a.phsubd(x, m), 16, (x, y, c) => Ssse3.HorizontalSubtract(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("phsubsw", (a, x, y) => a.phsubsw(x, y), (a, x, m) => a.phsubsw(x, m), 16, (x, y, c) => Ssse3.HorizontalSubtractSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pmaddubsw", (a, x, y) => a.pmaddubsw(x, y), (a, x, m) => a.pmaddubsw(x, m), 16, (x, y, c) => Ssse3.MultiplyAddAdjacent(x.AsByte(), y.AsSByte()).AsUInt64()),
        ("pmulhrsw", (a, x, y) => a.pmulhrsw(x, y), (a, x, m) => a.pmulhrsw(x, m), 16, (x, y, c) => Ssse3.MultiplyHighRoundScale(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pblendvb", (a, x, y) => a.pblendvb(x, y), (a, x, m) => a.pblendvb(x, m), 16, (x, y, c) => Sse41.BlendVariable(x.AsByte(), y.AsByte(), c.AsByte()).AsUInt64()),
        ("blendvps", (a, x, y) => a.blendvps(x, y), (a, x, m) => a.blendvps(x, m), 16, (x, y, c) => Sse41.BlendVariable(x.AsSingle(), y.AsSingle(), c.AsSingle()).AsUInt64()),
        ("blendvpd", (a, x, y) => a.blendvpd(x, y), (a, x, m) => a.blendvpd(x, m), 16, (x, y, c) => Sse41.BlendVariable(x.AsDouble(), y.AsDouble(), c.AsDouble()).AsUInt64()),
        ("blendps", (a, x, y) => a.blendps(x, y, 0b0110), (a, x, m) => a.blendps(x, m, 0b0110), 16, (x, y, c) => Sse41.Blend(x.AsSingle(), y.AsSingle(), 0b0110).AsUInt64()),
        ("blendpd", (a, x, y) => a.blendpd(x, y, 2), (a, x, m) => a.blendpd(x, m, 2), 16, (x, y, c) => Sse41.Blend(x.AsDouble(), y.AsDouble(), 2).AsUInt64()),
        ("pblendw", (a, x, y) => a.pblendw(x, y, 0xA5), (a, x, m) => a.pblendw(x, m, 0xA5), 16, (x, y, c) => Sse41.Blend(x.AsUInt16(), y.AsUInt16(), 0xA5).AsUInt64()),
        ("pmovsxbw", (a, x, y) => a.pmovsxbw(x, y), (a, x, m) => a.pmovsxbw(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int16(y.AsSByte()).AsUInt64()),
        ("pmovsxbd", (a, x, y) => a.pmovsxbd(x, y), (a, x, m) => a.pmovsxbd(x, m), 4, (x, y, c) => Sse41.ConvertToVector128Int32(y.AsSByte()).AsUInt64()),
        ("pmovsxbq", (a, x, y) => a.pmovsxbq(x, y), (a, x, m) => a.pmovsxbq(x, m), 2, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsSByte()).AsUInt64()),
        ("pmovsxwd", (a, x, y) => a.pmovsxwd(x, y), (a, x, m) => a.pmovsxwd(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int32(y.AsInt16()).AsUInt64()),
        ("pmovsxwq", (a, x, y) => a.pmovsxwq(x, y), (a, x, m) => a.pmovsxwq(x, m), 4, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsInt16()).AsUInt64()),
        ("pmovsxdq", (a, x, y) => a.pmovsxdq(x, y), (a, x, m) => a.pmovsxdq(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsInt32()).AsUInt64()),
        ("pmovzxbw", (a, x, y) => a.pmovzxbw(x, y), (a, x, m) => a.pmovzxbw(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int16(y.AsByte()).AsUInt64()),
        ("pmovzxbd", (a, x, y) => a.pmovzxbd(x, y), (a, x, m) => a.pmovzxbd(x, m), 4, (x, y, c) => Sse41.ConvertToVector128Int32(y.AsByte()).AsUInt64()),
        ("pmovzxbq", (a, x, y) => a.pmovzxbq(x, y), (a, x, m) => a.pmovzxbq(x, m), 2, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsByte()).AsUInt64()),
        ("pmovzxwd", (a, x, y) => a.pmovzxwd(x, y), (a, x, m) => a.pmovzxwd(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int32(y.AsUInt16()).AsUInt64()),
        ("pmovzxwq", (a, x, y) => a.pmovzxwq(x, y), (a, x, m) => a.pmovzxwq(x, m), 4, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsUInt16()).AsUInt64()),
        ("pmovzxdq", (a, x, y) => a.pmovzxdq(x, y), (a, x, m) => a.pmovzxdq(x, m), 8, (x, y, c) => Sse41.ConvertToVector128Int64(y.AsUInt32()).AsUInt64()),
        ("pmuldq", (a, x, y) => a.pmuldq(x, y), (a, x, m) => a.pmuldq(x, m), 16, (x, y, c) => Sse41.Multiply(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pmulld", (a, x, y) => a.pmulld(x, y), (a, x, m) => a.pmulld(x, m), 16, (x, y, c) => Sse41.MultiplyLow(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pcmpeqq", (a, x, y) => a.pcmpeqq(x, y), (a, x, m) => a.pcmpeqq(x, m), 16, (x, y, c) => Sse41.CompareEqual(x, y)),
        ("packusdw", (a, x, y) => a.packusdw(x, y), (a, x, m) => a.packusdw(x, m), 16, (x, y, c) => Sse41.PackUnsignedSaturate(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pminsb", (a, x, y) => a.pminsb(x, y), (a, x, m) => a.pminsb(x, m), 16, (x, y, c) => Sse41.Min(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("pminsd", (a, x, y) => a.pminsd(x, y), (a, x, m) => a.pminsd(x, m), 16, (x, y, c) => Sse41.Min(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pminuw", (a, x, y) => a.pminuw(x, y), (a, x, m) => a.pminuw(x, m), 16, (x, y, c) => Sse41.Min(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pminud", (a, x, y) => a.pminud(x, y), (a, x, m) => a.pminud(x, m), 16, (x, y, c) => Sse41.Min(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("pmaxsb", (a, x, y) => a.pmaxsb(x, y), (a, x, m) => a.pmaxsb(x, m), 16, (x, y, c) => Sse41.Max(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("pmaxsd", (a, x, y) => a.pmaxsd(x, y), (a, x, m) => a.pmaxsd(x, m), 16, (x, y, c) => Sse41.Max(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pmaxuw", (a, x, y) => a.pmaxuw(x, y), (a, x, m) => a.pmaxuw(x, m), 16, (x, y, c) => Sse41.Max(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pmaxud", (a, x, y) => a.pmaxud(x, y), (a, x, m) => a.pmaxud(x, m), 16, (x, y, c) => Sse41.Max(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("phminposuw", (a, x, y) => a.phminposuw(x, y), (a, x, m) => a.phminposuw(x, m), 16, (x, y, c) => Sse41.MinHorizontal(y.AsUInt16()).AsUInt64()),
        ("mpsadbw 0", (a, x, y) => a.mpsadbw(x, y, 0), (a, x, m) => a.mpsadbw(x, m, 0), 16, (x, y, c) => Sse41.MultipleSumAbsoluteDifferences(x.AsByte(), y.AsByte(), 0).AsUInt64()),
        ("mpsadbw 7", (a, x, y) => a.mpsadbw(x, y, 7), (a, x, m) => a.mpsadbw(x, m, 7), 16, (x, y, c) => Sse41.MultipleSumAbsoluteDifferences(x.AsByte(), y.AsByte(), 7).AsUInt64()),
        ("roundps near", (a, x, y) => a.roundps(x, y, 8), (a, x, m) => a.roundps(x, m, 8), 16, (x, y, c) => Sse41.RoundToNearestInteger(y.AsSingle()).AsUInt64()),
        ("roundps floor", (a, x, y) => a.roundps(x, y, 9), (a, x, m) => a.roundps(x, m, 9), 16, (x, y, c) => Sse41.RoundToNegativeInfinity(y.AsSingle()).AsUInt64()),
        ("roundpd ceil", (a, x, y) => a.roundpd(x, y, 10), (a, x, m) => a.roundpd(x, m, 10), 16, (x, y, c) => Sse41.RoundToPositiveInfinity(y.AsDouble()).AsUInt64()),
        ("roundpd trunc", (a, x, y) => a.roundpd(x, y, 11), (a, x, m) => a.roundpd(x, m, 11), 16, (x, y, c) => Sse41.RoundToZero(y.AsDouble()).AsUInt64()),
        ("roundss mxcsr", (a, x, y) => a.roundss(x, y, 4), (a, x, m) => a.roundss(x, m, 4), 4, (x, y, c) => Sse41.RoundCurrentDirectionScalar(x.AsSingle(), y.AsSingle()).AsUInt64()),
        ("roundsd floor", (a, x, y) => a.roundsd(x, y, 1), (a, x, m) => a.roundsd(x, m, 1), 8, (x, y, c) => Sse41.RoundToNegativeInfinityScalar(x.AsDouble(), y.AsDouble()).AsUInt64()),
        ("dpps", (a, x, y) => a.dpps(x, y, 0xF3), (a, x, m) => a.dpps(x, m, 0xF3), 16, (x, y, c) => Sse41.DotProduct(x.AsSingle(), y.AsSingle(), 0xF3).AsUInt64()),
        ("dpps partial", (a, x, y) => a.dpps(x, y, 0x5A), (a, x, m) => a.dpps(x, m, 0x5A), 16, (x, y, c) => Sse41.DotProduct(x.AsSingle(), y.AsSingle(), 0x5A).AsUInt64()),
        ("dppd", (a, x, y) => a.dppd(x, y, 0x31), (a, x, m) => a.dppd(x, m, 0x31), 16, (x, y, c) => Sse41.DotProduct(x.AsDouble(), y.AsDouble(), 0x31).AsUInt64()),
        ("insertps", (a, x, y) => a.insertps(x, y, 0x9A), (a, x, m) => a.insertps(x, m, 0x9A), 4, (x, y, c) => Sse41.Insert(x.AsSingle(), y.AsSingle(), 0x9A).AsUInt64()),
    ];

    private static IEnumerable<TestCaseData> ExtensionOps() => s_extensionOps.Select((op, k) => new TestCaseData(k).SetArgDisplayNames(op.Name));

    /// <summary>Floating-point lanes mixing specials (NaNs, infinities, zeros, denormals) with random bits.</summary>
    private static Vector128<ulong> RandomFloatVector(Random rng, bool doubles)
    {
        if (doubles)
        {
            return Vector128.Create(
                rng.Next(2) == 0 ? s_specialDoubles[rng.Next(s_specialDoubles.Length)] : Math.ScaleB(rng.NextDouble() - 0.5, rng.Next(-8, 8)),
                rng.Next(2) == 0 ? s_specialDoubles[rng.Next(s_specialDoubles.Length)] : Math.ScaleB(rng.NextDouble() - 0.5, rng.Next(-8, 8))).AsUInt64();
        }
        Vector128<float> v = default;
        for (int k = 0; k < 4; k++)
        {
            v = v.WithElement(k, rng.Next(2) == 0 ? s_specialSingles[rng.Next(s_specialSingles.Length)] : MathF.ScaleB((float)rng.NextDouble() - 0.5f, rng.Next(-8, 8)));
        }
        return v.AsUInt64();
    }

    [TestCaseSource(nameof(ExtensionOps))]
    public void Extensions_MatchHost(int index)
    {
        Assume.That(Sse41.IsSupported, "host SSE4.1 needed for the reference");
        var op = s_extensionOps[index];
        using var h = new CpuHarness();
        h[Register.RAX] = Data;
        AssemblerMemoryOperand mem = op.MemSize switch
        {
            16 => __xmmword_ptr[rax],
            8 => __qword_ptr[rax],
            4 => __dword_ptr[rax],
            _ => __word_ptr[rax],
        };
        h.Load(a =>
        {
            op.Emit(a, xmm1, xmm2);
            op.EmitMem(a, xmm3, mem);
        });
        bool floats = op.Name.Contains("ps") || op.Name.Contains("pd") || op.Name.Contains("round") || op.Name.Contains("dup") || op.Name.StartsWith("dp");
        bool doubles = op.Name.EndsWith("pd") || op.Name.Contains("pd ") || op.Name.Contains("sd") || op.Name == "movddup";
        var rng = new Random(4321 + index);
        for (int n = 0; n < 300; n++)
        {
            Vector128<ulong> x = floats && n % 3 != 0 ? RandomFloatVector(rng, doubles) : RandomVector(rng);
            Vector128<ulong> y = floats && n % 3 != 0 ? RandomFloatVector(rng, doubles) : RandomVector(rng);
            Vector128<ulong> c = RandomVector(rng);
            SetX(h, 0, c);
            SetX(h, 1, x);
            SetX(h, 2, y);
            SetX(h, 3, x);
            Vector128<ulong> memValue = op.MemSize switch
            {
                16 => y,
                8 => V(y.GetElement(0), 0),
                4 => V((uint)y.GetElement(0), 0),
                _ => V((ushort)y.GetElement(0), 0),
            };
            Write128(h, Data, memValue);
            h.Cpu.State.Mxcsr = 0x1F80;
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Assert.That(X(h, 1), Is.EqualTo(op.Reference(x, y, c)), $"{op.Name} {x} {y} {c}");
            Assert.That(X(h, 3), Is.EqualTo(op.Reference(x, memValue, c)), $"{op.Name} mem {x} {memValue} {c}");
        }
    }

    [Test]
    public void Ptest_SetsZfAndCf_ClearsOthers()
    {
        Assume.That(Sse41.IsSupported);
        using var h = new CpuHarness();
        h.Load(a => a.ptest(xmm1, xmm2));
        var rng = new Random(11);
        for (int n = 0; n < 200; n++)
        {
            Vector128<ulong> x = RandomVector(rng), y = n % 4 == 0 ? Vector128.AndNot(RandomVector(rng), x) : n % 4 == 1 ? x & RandomVector(rng) : RandomVector(rng);
            SetX(h, 1, x);
            SetX(h, 2, y);
            h.Cpu.State.SetRflags(CpuState.ArithMask | 2);
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            ulong expected = (Sse41.TestZ(x, y) ? CpuState.FlagZf : 0) | (Sse41.TestC(x, y) ? CpuState.FlagCf : 0);
            Assert.That(h.Flags & CpuState.ArithMask, Is.EqualTo(expected));
        }
    }

    [Test]
    public void InsertExtract_ByteDwordQword()
    {
        using var h = new CpuHarness();
        SetX(h, 1, V(0x0807060504030201, 0x100F0E0D0C0B0A09));
        h[Register.RAX] = Data;
        h[Register.RSI] = 0xFFFF_FFAB;
        h[Register.RDI] = 0x1122334455667788;
        h.Load(a =>
        {
            a.pextrb(ebx, xmm1, 13);
            a.pextrd(ecx, xmm1, 3);
            a.pextrq(rdx, xmm1, 1);
            a.pextrw(__word_ptr[rax], xmm1, 5);
            a.extractps(__dword_ptr[rax + 4], xmm1, 1);
            a.pextrb(__byte_ptr[rax + 8], xmm1, 0);
            a.movdqa(xmm2, xmm1);
            a.pinsrb(xmm2, esi, 15);
            a.pinsrd(xmm2, edi, 1);
            a.pinsrq(xmm2, rdi, 1);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(0x0EUL));
        Assert.That(h[Register.RCX], Is.EqualTo(0x100F0E0DUL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x100F0E0D0C0B0A09UL));
        Assert.That(h.Memory.Read(Data, 2), Is.EqualTo(0x0C0BUL));
        Assert.That(h.Memory.Read(Data + 4, 4), Is.EqualTo(0x08070605UL));
        Assert.That(h.Memory.Read(Data + 8, 1), Is.EqualTo(0x01UL));
        Assert.That(X(h, 2), Is.EqualTo(V(0x55667788_04030201, 0x1122334455667788)));
    }

    // ------------------------------------------------------------------ SSE4.2 string compares against the host

    private static IEnumerable<TestCaseData> StringCompareForms()
    {
        foreach (string form in new[] { "pcmpestri", "pcmpestrm", "pcmpistri", "pcmpistrm", "pcmpestri64" })
        {
            yield return new TestCaseData(form).SetArgDisplayNames(form);
        }
    }

    /// <summary>Every imm8 control (bit 7 is ignored) over random short strings, run natively and emulated.</summary>
    [TestCaseSource(nameof(StringCompareForms))]
    public unsafe void StringCompare_MatchesHost(string form)
    {
        Assume.That(Differential.NativeRunner.IsSupportedHost && Sse42.IsSupported, "needs an x86-64 Linux host with SSE4.2");
        using var runner = new Differential.NativeRunner();
        using var h = new CpuHarness();
        byte[] alphabet = [0, 0x61, 0x62, 0x63, 0x80, 0xFF, 0x41, 0x7F];
        var rng = new Random(form.GetHashCode() & 0xFFFF);
        for (int imm = 0; imm < 128; imm++)
        {
            byte b = (byte)imm;
            Action<Assembler> op = form switch
            {
                "pcmpestri" => a => a.pcmpestri(xmm1, xmm2, b),
                "pcmpestrm" => a => a.pcmpestrm(xmm1, __xmmword_ptr[rsi + 16], b),
                "pcmpistri" => a => a.pcmpistri(xmm1, xmm2, b),
                "pcmpistrm" => a => a.pcmpistrm(xmm1, __xmmword_ptr[rsi + 16], b),
                _ => a => a.pcmpestri64(xmm1, xmm2, b),
            };
            Action<Assembler> snippet = a =>
            {
                a.movdqu(xmm1, __xmmword_ptr[rsi]);
                a.movdqu(xmm2, __xmmword_ptr[rsi + 16]);
                a.pxor(xmm0, xmm0);
                op(a);
                a.movdqu(__xmmword_ptr[rsi + 32], xmm0);
            };
            runner.Load(Assemble(snippet));
            h.Load(snippet);
            for (int n = 0; n < 24; n++)
            {
                byte[] data = new byte[48];
                for (int k = 0; k < 32; k++)
                {
                    data[k] = rng.Next(4) == 0 ? (byte)rng.Next(256) : alphabet[rng.Next(alphabet.Length)];
                }
                long rax = rng.Next(5) == 0 ? rng.NextInt64(long.MinValue, long.MaxValue) : rng.Next(-20, 21);
                long rdx = rng.Next(5) == 0 ? rng.NextInt64(long.MinValue, long.MaxValue) : rng.Next(-20, 21);
                byte* buf = runner.Data + Differential.NativeRunner.DataCenter;
                data.CopyTo(new Span<byte>(buf, 48));
                ref var st = ref runner.State;
                for (int r = 0; r < 16; r++)
                {
                    st.Gpr[r] = 0;
                }
                st.Gpr[0] = (ulong)rax;
                st.Gpr[2] = (ulong)rdx;
                st.Gpr[6] = (ulong)buf;
                st.Rflags = 0;
                runner.Run();

                h.Memory.TryWriteBytes(Data, data);
                h[Register.RAX] = (ulong)rax;
                h[Register.RDX] = (ulong)rdx;
                h[Register.RCX] = 0;
                h[Register.RSI] = Data;
                h.Cpu.State.SetRflags(2);
                h.Cpu.State.Rip = CpuHarness.CodeAddress;
                h.Run();

                string what = $"{form} imm {imm:X2} rax {rax} rdx {rdx} data {Convert.ToHexString(data, 0, 32)}";
                Assert.That(h[Register.RCX], Is.EqualTo(st.Gpr[1]), "ECX: " + what);
                Assert.That(h.Flags & CpuState.ArithMask, Is.EqualTo(st.Rflags & CpuState.ArithMask), "flags: " + what);
                Assert.That(h.Memory.Read(Data + 32, 8), Is.EqualTo(*(ulong*)(buf + 32)), "XMM0 low: " + what);
                Assert.That(h.Memory.Read(Data + 40, 8), Is.EqualTo(*(ulong*)(buf + 40)), "XMM0 high: " + what);
            }
        }
    }
}
