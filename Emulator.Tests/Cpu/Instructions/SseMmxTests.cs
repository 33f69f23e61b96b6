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

/// <summary>MMX and the MMX-register forms of SSE/SSE2/SSSE3 (SseMmx.cs), run natively and emulated.</summary>
public class SseMmxTests
{
    // ------------------------------------------------------------------ MMX against the host

    private static readonly (string Name, Action<Assembler> Op)[] s_mmxOps =
    [
        ("paddb", a => a.paddb(mm0, mm1)), ("paddw", a => a.paddw(mm0, mm1)), ("paddd", a => a.paddd(mm0, mm1)), ("paddq", a => a.paddq(mm0, mm1)),
        ("psubb", a => a.psubb(mm0, mm1)), ("psubw", a => a.psubw(mm0, mm1)), ("psubd", a => a.psubd(mm0, mm1)), ("psubq", a => a.psubq(mm0, mm1)),
        ("paddsb", a => a.paddsb(mm0, mm1)), ("paddsw", a => a.paddsw(mm0, mm1)), ("paddusb", a => a.paddusb(mm0, mm1)), ("paddusw", a => a.paddusw(mm0, mm1)),
        ("psubsb", a => a.psubsb(mm0, mm1)), ("psubsw", a => a.psubsw(mm0, mm1)), ("psubusb", a => a.psubusb(mm0, mm1)), ("psubusw", a => a.psubusw(mm0, mm1)),
        ("pmullw", a => a.pmullw(mm0, mm1)), ("pmulhw", a => a.pmulhw(mm0, mm1)), ("pmulhuw", a => a.pmulhuw(mm0, mm1)), ("pmaddwd", a => a.pmaddwd(mm0, mm1)),
        ("pmuludq", a => a.pmuludq(mm0, mm1)), ("pcmpeqb", a => a.pcmpeqb(mm0, mm1)), ("pcmpeqw", a => a.pcmpeqw(mm0, mm1)), ("pcmpeqd", a => a.pcmpeqd(mm0, mm1)),
        ("pcmpgtb", a => a.pcmpgtb(mm0, mm1)), ("pcmpgtw", a => a.pcmpgtw(mm0, mm1)), ("pcmpgtd", a => a.pcmpgtd(mm0, mm1)),
        ("pand", a => a.pand(mm0, mm1)), ("pandn", a => a.pandn(mm0, mm1)), ("por", a => a.por(mm0, mm1)), ("pxor", a => a.pxor(mm0, mm1)),
        ("pminub", a => a.pminub(mm0, mm1)), ("pmaxub", a => a.pmaxub(mm0, mm1)), ("pminsw", a => a.pminsw(mm0, mm1)), ("pmaxsw", a => a.pmaxsw(mm0, mm1)),
        ("pavgb", a => a.pavgb(mm0, mm1)), ("pavgw", a => a.pavgw(mm0, mm1)), ("psadbw", a => a.psadbw(mm0, mm1)),
        ("psllw", a => a.psllw(mm0, mm1)), ("pslld", a => a.pslld(mm0, mm1)), ("psllq", a => a.psllq(mm0, mm1)),
        ("psrlw", a => a.psrlw(mm0, mm1)), ("psrld", a => a.psrld(mm0, mm1)), ("psrlq", a => a.psrlq(mm0, mm1)),
        ("psraw", a => a.psraw(mm0, mm1)), ("psrad", a => a.psrad(mm0, mm1)),
        ("psllw 3", a => a.psllw(mm0, 3)), ("psrad 40", a => a.psrad(mm0, 40)), ("psrlq 63", a => a.psrlq(mm0, 63)),
        ("punpcklbw", a => a.punpcklbw(mm0, mm1)), ("punpcklwd", a => a.punpcklwd(mm0, mm1)), ("punpckldq", a => a.punpckldq(mm0, mm1)),
        ("punpcklbw m32", a => a.punpcklbw(mm0, __dword_ptr[rsi + 8])),
        ("punpckhbw", a => a.punpckhbw(mm0, mm1)), ("punpckhwd", a => a.punpckhwd(mm0, mm1)), ("punpckhdq", a => a.punpckhdq(mm0, mm1)),
        ("packsswb", a => a.packsswb(mm0, mm1)), ("packssdw", a => a.packssdw(mm0, mm1)), ("packuswb", a => a.packuswb(mm0, mm1)),
        ("pshufw", a => a.pshufw(mm0, mm1, 0x9C)), ("pinsrw", a => a.pinsrw(mm0, __word_ptr[rsi + 8], 2)),
        ("pshufb", a => a.pshufb(mm0, mm1)), ("palignr 3", a => a.palignr(mm0, mm1, 3)), ("palignr 12", a => a.palignr(mm0, mm1, 12)),
        ("pabsb", a => a.pabsb(mm0, mm1)), ("pabsw", a => a.pabsw(mm0, mm1)), ("pabsd", a => a.pabsd(mm0, mm1)),
        ("psignb", a => a.psignb(mm0, mm1)), ("psignw", a => a.psignw(mm0, mm1)), ("psignd", a => a.psignd(mm0, mm1)),
        ("phaddw", a => a.phaddw(mm0, mm1)), ("phaddd", a => a.phaddd(mm0, mm1)), ("phaddsw", a => a.phaddsw(mm0, mm1)),
        ("phsubw", a => a.phsubw(mm0, mm1)), ("phsubd", a => a.phsubd(mm0, mm1)), ("phsubsw", a => a.phsubsw(mm0, mm1)),
        ("pmaddubsw", a => a.pmaddubsw(mm0, mm1)), ("pmulhrsw", a => a.pmulhrsw(mm0, mm1)),
        ("paddw m64", a => a.paddw(mm0, __qword_ptr[rsi + 8])),
    ];

    private static IEnumerable<TestCaseData> MmxOps() => s_mmxOps.Select((op, k) => new TestCaseData(k).SetArgDisplayNames(op.Name));

    [TestCaseSource(nameof(MmxOps))]
    public unsafe void Mmx_MatchesHost(int index)
    {
        Assume.That(Differential.NativeRunner.IsSupportedHost && Ssse3.IsSupported, "needs an x86-64 Linux host with SSSE3");
        var op = s_mmxOps[index];
        Action<Assembler> snippet = a =>
        {
            a.movq(mm0, __qword_ptr[rsi]);
            a.movq(mm1, __qword_ptr[rsi + 8]);
            op.Op(a);
            a.movq(__qword_ptr[rsi + 16], mm0);
            a.emms();
        };
        using var runner = new Differential.NativeRunner();
        runner.Load(Assemble(snippet));
        using var h = new CpuHarness();
        h.Load(snippet);
        var rng = new Random(500 + index);
        byte* buf = runner.Data + Differential.NativeRunner.DataCenter;
        for (int n = 0; n < 300; n++)
        {
            Vector128<ulong> v = RandomVector(rng);
            ulong x = v.GetElement(0), y = n % 5 == 0 ? (ulong)rng.Next(70) : v.GetElement(1);
            *(ulong*)buf = x;
            *(ulong*)(buf + 8) = y;
            runner.State.Gpr[6] = (ulong)buf;
            runner.Run();

            h.Memory.Write(Data, 8, x);
            h.Memory.Write(Data + 8, 8, y);
            h[Register.RSI] = Data;
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Assert.That(h.Memory.Read(Data + 16, 8), Is.EqualTo(*(ulong*)(buf + 16)), $"{op.Name} {x:X16} {y:X16}");
        }
        Assert.That(h.Cpu.State.Ftw, Is.Zero, "EMMS empties the tags");
    }

    [Test]
    public void Mmx_TransitionSetsTopZeroAndTagsValid_EmmsEmpties()
    {
        using var h = new CpuHarness();
        h.Cpu.State.FpTop = 5;
        h.Cpu.State.Ftw = 0x20;
        h[Register.RAX] = 0x8877665544332211;
        h.Load(a =>
        {
            a.movq(mm3, rax);
            a.pextrw(ebx, mm3, 3);
            a.pmovmskb(ecx, mm3);
            a.movq2dq(xmm4, mm3);
            a.movdq2q(mm5, xmm4);
        }).Run();
        Assert.That(h.Cpu.State.FpTop, Is.Zero);
        Assert.That(h.Cpu.State.Ftw, Is.EqualTo((byte)0xFF));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 3), Is.EqualTo(0x8877665544332211UL));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 5), Is.EqualTo(0x8877665544332211UL));
        Assert.That(X(h, 4), Is.EqualTo(V(0x8877665544332211, 0)));
        Assert.That(h[Register.RBX], Is.EqualTo(0x8877UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0x80UL));
        h.Load(a => a.emms()).Run();
        Assert.That(h.Cpu.State.Ftw, Is.Zero);
    }

    [Test]
    public void Mmx_Cr0Em_RaisesUd_PendingX87_RaisesMf()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 |= CpuState.Cr0Em;
        h.Load(a => a.paddb(mm0, mm1));
        Assert.That(Fault(h), Is.EqualTo(6));

        using var g = new CpuHarness();
        g.Cpu.State.Fsw = 0x8084;
        g.Load(a => a.paddb(mm0, mm1));
        Assert.That(Fault(g), Is.EqualTo(16));
    }

    [Test]
    public void Mmx_Conversions()
    {
        using var h = new CpuHarness();
        Handlers.Mm(ref h.Cpu.State, 1) = 0xFFFFFFFDUL | (7UL << 32);
        SetX(h, 2, Ps(1.5f, -2.5f, 99, 99));
        SetX(h, 3, Pd(-1.5, 2.5));
        SetX(h, 0, Ps(0, 0, 42, 43));
        h.Load(a =>
        {
            a.cvtpi2ps(xmm0, mm1);
            a.cvtpi2pd(xmm5, mm1);
            a.cvtps2pi(mm2, xmm2);
            a.cvttps2pi(mm3, xmm2);
            a.cvtpd2pi(mm4, xmm3);
            a.cvttpd2pi(mm5, xmm3);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(Ps(-3, 7, 42, 43)));
        Assert.That(X(h, 5), Is.EqualTo(Pd(-3, 7)));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 2), Is.EqualTo(2UL | (0xFFFFFFFEUL << 32)));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 3), Is.EqualTo(1UL | (0xFFFFFFFEUL << 32)));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 4), Is.EqualTo(0xFFFFFFFEUL | (2UL << 32)));
        Assert.That(Handlers.Mm(ref h.Cpu.State, 5), Is.EqualTo(0xFFFFFFFFUL | (2UL << 32)));
    }

    [Test]
    public void Maskmovq_WritesSelectedBytes()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x1111111111111111);
        h[Register.RDI] = Data;
        Handlers.Mm(ref h.Cpu.State, 0) = 0x0807060504030201;
        Handlers.Mm(ref h.Cpu.State, 1) = 0x8000000000FF0080;
        h.Load(a => a.maskmovq(mm0, mm1)).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x0811111111031101UL));
    }
}
