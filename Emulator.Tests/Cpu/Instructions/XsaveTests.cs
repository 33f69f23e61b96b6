using System.Runtime.Intrinsics;
using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>FXSAVE/FXRSTOR, XGETBV/XSETBV and XSAVE/XSAVEOPT/XRSTOR (standard format, x87 + SSE).</summary>
public class XsaveTests
{
    private const ulong Area = CpuHarness.DataAddress + 0x1000;

    /// <summary>A harness with recognizable x87 and SSE state.</summary>
    private static CpuHarness WithState(CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        ref CpuState s = ref h.Cpu.State;
        s.Fcw = 0x027F;
        s.Fsw = 0x0020;
        s.FpTop = 6;
        s.Fpr[6] = 1.0;
        s.Fpr[7] = -2.5;
        s.Ftw = 0xC0;
        s.Mxcsr = 0x1F80 | 0x6000 | 0x21;
        for (int k = 0; k < 16; k++)
        {
            s.Xmm[k] = Vector128.Create(0x1111111111111111UL * (ulong)k, ~(ulong)k);
        }
        h[Register.RAX] = Area;
        return h;
    }

    private static void Clobber(CpuHarness h)
    {
        ref CpuState s = ref h.Cpu.State;
        s.Fcw = 0x037F;
        s.Fsw = 0;
        s.FpTop = 0;
        s.Ftw = 0;
        s.Fpr[6] = 0;
        s.Fpr[7] = 0;
        s.Mxcsr = 0x1F80;
        for (int k = 0; k < 16; k++)
        {
            s.Xmm[k] = Vector128<ulong>.Zero;
        }
    }

    private static void AssertState(CpuHarness h, int xmmCount = 16)
    {
        ref CpuState s = ref h.Cpu.State;
        Assert.That(s.Fcw, Is.EqualTo((ushort)0x027F));
        Assert.That(s.Fsw, Is.EqualTo((ushort)0x0020));
        Assert.That(s.FpTop, Is.EqualTo(6));
        Assert.That(s.Ftw, Is.EqualTo((byte)0xC0));
        Assert.That(s.Fpr[6], Is.EqualTo(1.0));
        Assert.That(s.Fpr[7], Is.EqualTo(-2.5));
        Assert.That(s.Mxcsr, Is.EqualTo(0x1F80u | 0x6000 | 0x21));
        for (int k = 0; k < xmmCount; k++)
        {
            Assert.That(s.Xmm[k], Is.EqualTo(Vector128.Create(0x1111111111111111UL * (ulong)k, ~(ulong)k)), $"xmm{k}");
        }
    }

    private static int Fault(CpuHarness h)
    {
        h.RunToStop();
        return h.Cpu.LastEventVector;
    }

    // ------------------------------------------------------------------ FXSAVE / FXRSTOR

    [Test]
    public void Fxsave64_Layout()
    {
        using var h = WithState();
        h.Memory.Write(Area + 464, 8, 0xDEADBEEF);
        h.Load(a => a.fxsave64(__[rax])).Run();
        Assert.That(h.Memory.Read(Area, 2), Is.EqualTo(0x027FUL), "FCW");
        Assert.That(h.Memory.Read(Area + 2, 2), Is.EqualTo(0x0020UL | (6 << 11)), "FSW with TOP");
        Assert.That(h.Memory.Read(Area + 4, 1), Is.EqualTo(0xC0UL), "abridged FTW");
        Assert.That(h.Memory.Read(Area + 8, 8), Is.Zero, "FIP");
        Assert.That(h.Memory.Read(Area + 24, 4), Is.EqualTo(0x7FA1UL), "MXCSR");
        Assert.That(h.Memory.Read(Area + 28, 4), Is.EqualTo(0xFFFFUL), "MXCSR_MASK");
        Assert.That(h.Memory.Read(Area + 32, 8), Is.EqualTo(0x8000000000000000UL), "ST0 significand");
        Assert.That(h.Memory.Read(Area + 40, 2), Is.EqualTo(0x3FFFUL), "ST0 exponent");
        Assert.That(h.Memory.Read(Area + 56, 2), Is.EqualTo(0xC000UL), "ST1 = -2.5");
        Assert.That(h.Memory.Read(Area + 160 + 16 * 3, 8), Is.EqualTo(0x3333333333333333UL), "XMM3");
        Assert.That(h.Memory.Read(Area + 160 + 16 * 15 + 8, 8), Is.EqualTo(~15UL), "XMM15 high");
        Assert.That(h.Memory.Read(Area + 464, 8), Is.EqualTo(0xDEADBEEFUL), "software-available bytes untouched");
    }

    [Test]
    public void Fxsave_Fxrstor_RoundTrip()
    {
        using var h = WithState();
        h.Load(a =>
        {
            a.fxsave(__[rax]);
        }).Run();
        Clobber(h);
        h.Load(a => a.fxrstor(__[rax])).Run();
        AssertState(h);
    }

    [Test]
    public void Fxsave_Protected32_SavesEightXmmRegisters()
    {
        using var h = WithState(CpuMode.Protected32);
        h.Memory.Write(Area + 288, 8, 0x5A5A);
        h[Register.EAX] = Area;
        h.Load(a => a.fxsave(__[eax])).Run();
        Assert.That(h.Memory.Read(Area + 160 + 16 * 7, 8), Is.EqualTo(0x7777777777777777UL));
        Assert.That(h.Memory.Read(Area + 288, 8), Is.EqualTo(0x5A5AUL), "XMM8 slot not written outside 64-bit mode");
        Clobber(h);
        h.Load(a => a.fxrstor(__[eax])).Run();
        AssertState(h, 8);
    }

    [Test]
    public void Fxsave_Misaligned_RaisesGp()
    {
        using var h = WithState();
        h[Register.RAX] = Area + 8;
        h.Load(a => a.fxsave(__[rax]));
        Assert.That(Fault(h), Is.EqualTo(13));
    }

    [Test]
    public void Fxrstor_ReservedMxcsrBit_RaisesGpAndChangesNothing()
    {
        using var h = WithState();
        h.Load(a => a.fxsave64(__[rax])).Run();
        h.Memory.Write(Area + 24, 4, 0x10000);
        h.Memory.Write(Area, 2, 0x37F);
        h.Load(a => a.fxrstor64(__[rax]));
        Assert.That(Fault(h), Is.EqualTo(13));
        AssertState(h);
    }

    [Test]
    public void Fxsave_Cr0Ts_RaisesNm()
    {
        using var h = WithState();
        h.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        h.Load(a => a.fxsave(__[rax]));
        Assert.That(Fault(h), Is.EqualTo(7));
    }

    /// <summary>MMX registers are raw 64-bit patterns in the double register file; a save/restore must keep every bit.</summary>
    [Test]
    public void Fxsave_Fxrstor_PreservesMmxBitPatterns()
    {
        ulong[] patterns = [0x7FF0000000000001, 1, 0x8000000000000000, ulong.MaxValue, 0x7FF8000000000000, 0x000FFFFFFFFFFFFF, 0x0123456789ABCDEF, 0xFFF0000000000000];
        using var h = new CpuHarness();
        h[Register.RAX] = Area;
        for (int k = 0; k < 8; k++)
        {
            Emulator.Cpu.Instructions.Handlers.Mm(ref h.Cpu.State, k) = patterns[k];
        }
        h.Cpu.State.Ftw = 0xFF;
        h.Load(a => a.fxsave64(__[rax])).Run();
        for (int k = 0; k < 8; k++)
        {
            h.Cpu.State.Fpr[k] = 0;
        }
        h.Load(a => a.fxrstor64(__[rax])).Run();
        for (int k = 0; k < 8; k++)
        {
            Assert.That(Emulator.Cpu.Instructions.Handlers.Mm(ref h.Cpu.State, k), Is.EqualTo(patterns[k]), $"mm{k}");
        }
    }

    // ------------------------------------------------------------------ XGETBV / XSETBV

    [Test]
    public void Xgetbv_WithoutOsxsave_RaisesUd()
    {
        using var h = new CpuHarness();
        h.Load(a => a.xgetbv());
        Assert.That(Fault(h), Is.EqualTo(6));
    }

    [Test]
    public void Xsetbv_Xgetbv_RoundTrip()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        h[Register.RAX] = 3;
        h[Register.RDX] = 0;
        h[Register.RCX] = 0xFFFFFFFF_00000000;
        h.Load(a => a.xsetbv()).Run();
        Assert.That(h.Cpu.State.Xcr0, Is.EqualTo(3UL));
        h[Register.RAX] = ulong.MaxValue;
        h[Register.RDX] = ulong.MaxValue;
        h.Load(a => a.xgetbv()).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(3UL));
        Assert.That(h[Register.RDX], Is.Zero);
    }

    [TestCase(0UL, 0UL)]
    [TestCase(2UL, 0UL)]
    [TestCase(7UL, 0UL)]
    [TestCase(3UL, 1UL)]
    public void Xsetbv_InvalidValue_RaisesGp(ulong eax, ulong edx)
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        h[Register.RAX] = eax;
        h[Register.RDX] = edx;
        h.Load(a => a.xsetbv());
        Assert.That(Fault(h), Is.EqualTo(13));
        Assert.That(h.Cpu.State.Xcr0, Is.EqualTo(1UL));
    }

    [Test]
    public void Xsetbv_EcxNonZeroOrCpl3_RaisesGp()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        h[Register.RAX] = 3;
        h[Register.RCX] = 1;
        h.Load(a => a.xsetbv());
        Assert.That(Fault(h), Is.EqualTo(13));

        using var g = new CpuHarness();
        g.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        g.Cpu.State.Cpl = 3;
        g[Register.RAX] = 3;
        g.Load(a => a.xsetbv());
        Assert.That(Fault(g), Is.EqualTo(13));
    }

    [Test]
    public void Xgetbv_EcxOne_RaisesGp()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        h[Register.RCX] = 1;
        h.Load(a => a.xgetbv());
        Assert.That(Fault(h), Is.EqualTo(13));
    }

    // ------------------------------------------------------------------ XSAVE / XRSTOR

    private static CpuHarness WithXsave()
    {
        CpuHarness h = WithState();
        h.Cpu.State.Cr4 |= CpuState.Cr4Osxsave;
        h.Cpu.State.Xcr0 = 3;
        h[Register.RDX] = 0;
        return h;
    }

    [Test]
    public void Xsave_AllComponents_WritesLegacyRegionAndHeader()
    {
        using var h = WithXsave();
        h.Memory.Write(Area + 512, 8, 0xFFFFFFFF00000000);
        h.Memory.Write(Area + 520, 8, 0x1234);
        h[Register.RBX] = Area;
        h[Register.RAX] = 0xFFFFFFFF;
        h[Register.RDX] = 0xFFFFFFFF;
        h.Load(a => a.xsave64(__[rbx])).Run();
        Assert.That(h.Memory.Read(Area, 2), Is.EqualTo(0x027FUL));
        Assert.That(h.Memory.Read(Area + 24, 4), Is.EqualTo(0x7FA1UL));
        Assert.That(h.Memory.Read(Area + 160 + 16 * 15, 8), Is.EqualTo(0x1111111111111111UL * 15));
        Assert.That(h.Memory.Read(Area + 512, 8), Is.EqualTo(0xFFFFFFFF00000003UL), "XSTATE_BV: requested bits set, others kept");
        Assert.That(h.Memory.Read(Area + 520, 8), Is.EqualTo(0x1234UL), "XSAVE does not write the rest of the header");
    }

    [Test]
    public void Xsave_X87Only_LeavesSseRegionAndHeaderBit()
    {
        using var h = WithXsave();
        h[Register.RBX] = Area;
        h[Register.RAX] = 1;
        h.Memory.Write(Area + 160, 8, 0xABCD);
        h.Memory.Write(Area + 24, 8, 0x5555);
        h.Memory.Write(Area + 512, 8, 2);
        h.Load(a => a.xsave(__[rbx])).Run();
        Assert.That(h.Memory.Read(Area, 2), Is.EqualTo(0x027FUL));
        Assert.That(h.Memory.Read(Area + 160, 8), Is.EqualTo(0xABCDUL));
        Assert.That(h.Memory.Read(Area + 24, 8), Is.EqualTo(0x5555UL), "MXCSR is saved only for SSE or AVX");
        Assert.That(h.Memory.Read(Area + 512, 8), Is.EqualTo(3UL));
    }

    [Test]
    public void Xsave_Xrstor_RoundTrip()
    {
        using var h = WithXsave();
        h[Register.RBX] = Area;
        h[Register.RAX] = 3;
        h.Load(a => a.xsaveopt64(__[rbx])).Run();
        Clobber(h);
        h.Load(a => a.xrstor64(__[rbx])).Run();
        AssertState(h);
    }

    [Test]
    public void Xrstor_SseBitClear_InitializesXmmButLoadsMxcsr()
    {
        using var h = WithXsave();
        h[Register.RBX] = Area;
        h[Register.RAX] = 3;
        h.Load(a => a.xsave(__[rbx])).Run();
        h.Memory.Write(Area + 512, 8, 1);
        h.Memory.Write(Area + 24, 4, 0x1F80 | 0x8000);
        h.Load(a => a.xrstor(__[rbx])).Run();
        Assert.That(h.Cpu.State.Xmm[5], Is.EqualTo(Vector128<ulong>.Zero));
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0x9F80u));
        Assert.That(h.Cpu.State.Fpr[7], Is.EqualTo(-2.5));
    }

    [Test]
    public void Xrstor_X87BitClear_InitializesFpu()
    {
        using var h = WithXsave();
        h[Register.RBX] = Area;
        h[Register.RAX] = 3;
        h.Memory.Write(Area + 512, 8, 2);
        h.Load(a => a.xrstor(__[rbx])).Run();
        ref CpuState s = ref h.Cpu.State;
        Assert.That(s.Fcw, Is.EqualTo((ushort)0x037F));
        Assert.That(s.Ftw, Is.Zero);
        Assert.That(s.Fpr[7], Is.Zero);
    }

    [TestCase(512, 4UL)]
    [TestCase(520, 1UL)]
    [TestCase(560, 1UL)]
    [TestCase(24, 0x20000UL)]
    public void Xrstor_InvalidImage_RaisesGpAndChangesNothing(int offset, ulong value)
    {
        using var h = WithXsave();
        h[Register.RBX] = Area;
        h[Register.RAX] = 3;
        h.Load(a => a.xsave(__[rbx])).Run();
        h.Memory.Write(Area + (ulong)offset, 8, value | (offset == 512 ? 3UL : 0) | (offset == 24 ? 0x1F80UL : 0));
        h.Memory.Write(Area + 160, 8, 0);
        h.Load(a => a.xrstor(__[rbx]));
        Assert.That(Fault(h), Is.EqualTo(13));
        AssertState(h);
    }

    [Test]
    public void Xrstor_XstateBvBitNotInXcr0_RaisesGp()
    {
        using var h = WithXsave();
        h.Cpu.State.Xcr0 = 1;
        h[Register.RBX] = Area;
        h[Register.RAX] = 3;
        h.Memory.Write(Area + 512, 8, 2);
        h.Load(a => a.xrstor(__[rbx]));
        Assert.That(Fault(h), Is.EqualTo(13));
    }

    [Test]
    public void Xsave_Not64ByteAligned_RaisesGp()
    {
        using var h = WithXsave();
        h[Register.RBX] = Area + 16;
        h[Register.RAX] = 3;
        h.Load(a => a.xsave(__[rbx]));
        Assert.That(Fault(h), Is.EqualTo(13));
    }

    [Test]
    public void Xsave_WithoutOsxsave_RaisesUd_WithTs_RaisesNm()
    {
        using var h = WithState();
        h[Register.RBX] = Area;
        h.Load(a => a.xsave(__[rbx]));
        Assert.That(Fault(h), Is.EqualTo(6));

        using var g = WithXsave();
        g[Register.RBX] = Area;
        g.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        g.Load(a => a.xrstor(__[rbx]));
        Assert.That(Fault(g), Is.EqualTo(7));
    }
}
