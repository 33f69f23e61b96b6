using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Emulator.Cpu;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>SSE/SSE2 handlers: known vectors, x86 edge cases, faults, and differential checks against the host's SSE2.</summary>
public class SseTests
{
    internal const ulong Data = CpuHarness.DataAddress;

    internal static Vector128<ulong> V(ulong lo, ulong hi) => Vector128.Create(lo, hi);

    internal static Vector128<ulong> Ps(float a, float b, float c, float d) => Vector128.Create(a, b, c, d).AsUInt64();

    internal static Vector128<ulong> Pd(double a, double b) => Vector128.Create(a, b).AsUInt64();

    internal static void SetX(CpuHarness h, int n, Vector128<ulong> v) => h.Cpu.State.Xmm[n] = v;

    internal static Vector128<ulong> X(CpuHarness h, int n) => h.Cpu.State.Xmm[n];

    internal static uint F(float f) => BitConverter.SingleToUInt32Bits(f);

    internal static ulong D(double d) => BitConverter.DoubleToUInt64Bits(d);

    internal static void Write128(CpuHarness h, ulong pa, Vector128<ulong> v)
    {
        h.Memory.Write(pa, 8, v.GetElement(0));
        h.Memory.Write(pa + 8, 8, v.GetElement(1));
    }

    internal static Vector128<ulong> Read128(CpuHarness h, ulong pa) => V(h.Memory.Read(pa, 8), h.Memory.Read(pa + 8, 8));

    /// <summary>Runs a snippet that must fault; returns the vector and checks RIP stayed on the faulting instruction.</summary>
    internal static int Fault(CpuHarness h)
    {
        h.RunToStop();
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(CpuHarness.CodeAddress), "RIP must stay at the faulting instruction");
        return h.Cpu.LastEventVector;
    }

    // ------------------------------------------------------------------ moves

    [Test]
    public void Movaps_AlignedLoadAndStore_CopiesAllBytes()
    {
        using var h = new CpuHarness();
        Write128(h, Data, V(0x1122334455667788, 0x99AABBCCDDEEFF00));
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.movaps(xmm3, __xmmword_ptr[rax]);
            a.movdqa(__xmmword_ptr[rax + 16], xmm3);
            a.movapd(xmm9, xmm3);
        }).Run();
        Assert.That(X(h, 3), Is.EqualTo(V(0x1122334455667788, 0x99AABBCCDDEEFF00)));
        Assert.That(Read128(h, Data + 16), Is.EqualTo(X(h, 3)));
        Assert.That(X(h, 9), Is.EqualTo(X(h, 3)));
    }

    [TestCase(1)]
    [TestCase(8)]
    [TestCase(15)]
    public void Movaps_MisalignedLoad_RaisesGp(int offset)
    {
        using var h = new CpuHarness();
        h[Register.RAX] = Data + (ulong)offset;
        SetX(h, 0, V(7, 7));
        h.Load(a => a.movaps(xmm0, __xmmword_ptr[rax]));
        Assert.That(Fault(h), Is.EqualTo(13));
        Assert.That(X(h, 0), Is.EqualTo(V(7, 7)));
    }

    [Test]
    public void Movdqa_MisalignedStore_RaisesGpAndLeavesMemory()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = Data + 4;
        SetX(h, 1, V(ulong.MaxValue, ulong.MaxValue));
        h.Load(a => a.movdqa(__xmmword_ptr[rax], xmm1));
        Assert.That(Fault(h), Is.EqualTo(13));
        Assert.That(Read128(h, Data), Is.EqualTo(V(0, 0)));
    }

    [Test]
    public void Paddd_MisalignedMemorySource_RaisesGp()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = Data + 2;
        h.Load(a => a.paddd(xmm0, __xmmword_ptr[rax]));
        Assert.That(Fault(h), Is.EqualTo(13));
    }

    [Test]
    public void Addss_MisalignedScalarMemory_IsAllowed()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data + 3, 4, F(2.5f));
        h[Register.RAX] = Data + 3;
        SetX(h, 0, Ps(1f, 9f, 9f, 9f));
        h.Load(a => a.addss(xmm0, __dword_ptr[rax])).Run();
        Assert.That(X(h, 0), Is.EqualTo(Ps(3.5f, 9f, 9f, 9f)));
    }

    [Test]
    public void Movups_Movdqu_Lddqu_MisalignedAccess_Works()
    {
        using var h = new CpuHarness();
        Write128(h, Data + 3, V(0x0102030405060708, 0x090A0B0C0D0E0F10));
        h[Register.RAX] = Data + 3;
        h.Load(a =>
        {
            a.movups(xmm0, __xmmword_ptr[rax]);
            a.movdqu(xmm1, __xmmword_ptr[rax]);
            a.lddqu(xmm2, __xmmword_ptr[rax]);
            a.movupd(__xmmword_ptr[rax + 0x21], xmm0);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(0x0102030405060708, 0x090A0B0C0D0E0F10)));
        Assert.That(X(h, 1), Is.EqualTo(X(h, 0)));
        Assert.That(X(h, 2), Is.EqualTo(X(h, 0)));
        Assert.That(Read128(h, Data + 0x24), Is.EqualTo(X(h, 0)));
    }

    [Test]
    public void Movss_RegisterMerges_MemoryZeroExtends_StoreWritesFourBytes()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0xAAAAAAAA_3F800000);
        h[Register.RAX] = Data;
        SetX(h, 0, V(0x11111111_22222222, 0x33333333_44444444));
        SetX(h, 1, V(0x55555555_66666666, 0x77777777_88888888));
        SetX(h, 2, V(ulong.MaxValue, ulong.MaxValue));
        h.Load(a =>
        {
            a.movss(xmm0, xmm1);
            a.movss(xmm2, __dword_ptr[rax]);
            a.movss(__dword_ptr[rax + 8], xmm1);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(0x11111111_66666666, 0x33333333_44444444)));
        Assert.That(X(h, 2), Is.EqualTo(V(0x3F800000, 0)));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(0x66666666UL));
    }

    [Test]
    public void Movsd_RegisterMerges_MemoryZeroExtends()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x4000000000000000);
        h[Register.RAX] = Data;
        SetX(h, 0, V(1, 2));
        SetX(h, 1, V(3, 4));
        SetX(h, 2, V(5, 6));
        h.Load(a =>
        {
            a.movsd(xmm0, xmm1);
            a.movsd(xmm2, __qword_ptr[rax]);
            a.movsd(__qword_ptr[rax + 8], xmm1);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(3, 2)));
        Assert.That(X(h, 2), Is.EqualTo(V(0x4000000000000000, 0)));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(3UL));
    }

    [Test]
    public void MovdMovq_GprForms_ZeroExtend()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = 0xFFFFFFFF_89ABCDEF;
        h[Register.RBX] = 0x0123456789ABCDEF;
        h[Register.RCX] = ulong.MaxValue;
        h[Register.RDX] = ulong.MaxValue;
        SetX(h, 0, V(ulong.MaxValue, ulong.MaxValue));
        SetX(h, 1, V(ulong.MaxValue, ulong.MaxValue));
        h.Load(a =>
        {
            a.movd(xmm0, eax);
            a.movq(xmm1, rbx);
            a.movd(ecx, xmm1);
            a.movq(rdx, xmm1);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(0x89ABCDEF, 0)));
        Assert.That(X(h, 1), Is.EqualTo(V(0x0123456789ABCDEF, 0)));
        Assert.That(h[Register.RCX], Is.EqualTo(0x89ABCDEFUL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x0123456789ABCDEFUL));
    }

    [Test]
    public void Movq_XmmForms_ClearUpperQuadword()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x1234);
        h[Register.RAX] = Data;
        SetX(h, 0, V(5, 6));
        SetX(h, 1, V(7, 8));
        SetX(h, 2, V(9, 10));
        h.Load(a =>
        {
            a.movq(xmm1, xmm0);
            a.movq(xmm2, __qword_ptr[rax]);
            a.movq(__qword_ptr[rax + 8], xmm0);
        }).Run();
        Assert.That(X(h, 1), Is.EqualTo(V(5, 0)));
        Assert.That(X(h, 2), Is.EqualTo(V(0x1234, 0)));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(5UL));
    }

    [Test]
    public void MovhpsMovlpsMovhlpsMovlhps_MoveHalves()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0xAAAA);
        h[Register.RAX] = Data;
        SetX(h, 0, V(1, 2));
        SetX(h, 1, V(3, 4));
        SetX(h, 2, V(5, 6));
        SetX(h, 3, V(7, 8));
        SetX(h, 4, V(9, 10));
        h.Load(a =>
        {
            a.movhps(xmm0, __qword_ptr[rax]);
            a.movlpd(xmm1, __qword_ptr[rax]);
            a.movhlps(xmm2, xmm3);
            a.movlhps(xmm3, xmm4);
            a.movhpd(__qword_ptr[rax + 8], xmm4);
            a.movlps(__qword_ptr[rax + 16], xmm4);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(1, 0xAAAA)));
        Assert.That(X(h, 1), Is.EqualTo(V(0xAAAA, 4)));
        Assert.That(X(h, 2), Is.EqualTo(V(8, 6)));
        Assert.That(X(h, 3), Is.EqualTo(V(7, 9)));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(10UL));
        Assert.That(h.Memory.Read(Data + 16, 8), Is.EqualTo(9UL));
    }

    [Test]
    public void MoveMasks_CollectSignBits()
    {
        using var h = new CpuHarness();
        SetX(h, 1, Ps(-1f, 2f, -0f, float.NaN));
        SetX(h, 2, Pd(3.0, -4.0));
        SetX(h, 3, V(0x80000000_00800080, 0x00000000_FF000001));
        h[Register.RAX] = ulong.MaxValue;
        h.Load(a =>
        {
            a.movmskps(eax, xmm1);
            a.movmskpd(rbx, xmm2);
            a.pmovmskb(ecx, xmm3);
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0b0101UL | (BitConverter.SingleToUInt32Bits(float.NaN) >> 31 << 3)));
        Assert.That(h[Register.RBX], Is.EqualTo(0b10UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0x885UL));
    }

    [Test]
    public void Movnti_StoresGpr()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = Data;
        h[Register.RBX] = 0x1122334455667788;
        h.Load(a =>
        {
            a.movnti(__qword_ptr[rax], rbx);
            a.movnti(__dword_ptr[rax + 8], ebx);
        }).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x1122334455667788UL));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(0x55667788UL));
    }

    [Test]
    public void Maskmovdqu_WritesSelectedBytesAtRdi()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x1111111111111111);
        h.Memory.Write(Data + 8, 8, 0x1111111111111111);
        h[Register.RDI] = Data;
        SetX(h, 0, V(0x0807060504030201, 0x100F0E0D0C0B0A09));
        SetX(h, 1, V(0x0000_0080_0000_FF80, 0x8000_0000_0000_0000));
        h.Load(a => a.maskmovdqu(xmm0, xmm1)).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x1111_1105_1111_0201UL));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(0x1011_1111_1111_1111UL));
    }

    // ------------------------------------------------------------------ availability

    [Test]
    public void Sse_Cr0Em_RaisesUd()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 |= CpuState.Cr0Em;
        h.Load(a => a.addps(xmm0, xmm1));
        Assert.That(Fault(h), Is.EqualTo(6));
    }

    [Test]
    public void Sse_Cr4OsfxsrClear_RaisesUd()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 &= ~CpuState.Cr4Osfxsr;
        h.Load(a => a.pxor(xmm0, xmm0));
        Assert.That(Fault(h), Is.EqualTo(6));
    }

    [Test]
    public void Sse_Cr0Ts_RaisesNm()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        h.Load(a => a.movaps(xmm0, xmm1));
        Assert.That(Fault(h), Is.EqualTo(7));
    }

    [Test]
    public void Movnti_IgnoresCr0Ts()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr0 |= CpuState.Cr0Ts;
        h[Register.RAX] = Data;
        h.Load(a => a.movnti(__dword_ptr[rax], ebx)).Run();
    }

    [Test]
    public void Sse_Protected32_Works()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        SetX(h, 0, V(1, 2));
        SetX(h, 7, V(10, 20));
        h.Load(a => a.paddq(xmm0, xmm7)).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(11, 22)));
    }

    // ------------------------------------------------------------------ MXCSR

    [Test]
    public void LdmxcsrStmxcsr_RoundTrip()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 4, 0xFFC0);
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            a.ldmxcsr(__dword_ptr[rax]);
            a.stmxcsr(__dword_ptr[rax + 4]);
        }).Run();
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0xFFC0u));
        Assert.That(h.Memory.Read(Data + 4, 4), Is.EqualTo(0xFFC0UL));
    }

    [Test]
    public void Ldmxcsr_ReservedBit_RaisesGp()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 4, 0x1_1F80);
        h[Register.RAX] = Data;
        h.Load(a => a.ldmxcsr(__dword_ptr[rax]));
        Assert.That(Fault(h), Is.EqualTo(13));
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0x1F80u));
    }

    [Test]
    public void Divss_ByZero_SetsZe()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Ps(1f, 0, 0, 0));
        SetX(h, 1, Ps(0f, 0, 0, 0));
        h.Load(a => a.divss(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsSingle().GetElement(0), Is.EqualTo(float.PositiveInfinity));
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0x1F80u | 4));
    }

    [Test]
    public void Divss_Inexact_SetsPe()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Ps(1f, 0, 0, 0));
        SetX(h, 1, Ps(3f, 0, 0, 0));
        h.Load(a => a.divss(xmm0, xmm1)).Run();
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0x1F80u | 0x20));
    }

    [Test]
    public void Sqrtsd_Negative_GivesIndefiniteAndIe()
    {
        using var h = new CpuHarness();
        SetX(h, 0, V(0, 77));
        SetX(h, 1, Pd(-4.0, 0));
        h.Load(a => a.sqrtsd(xmm0, xmm1)).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(0xFFF8000000000000, 77)));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(1u));
    }

    [Test]
    public void Mulps_Denormal_SetsDe_UnlessDaz()
    {
        float den = BitConverter.UInt32BitsToSingle(1);
        using var h = new CpuHarness();
        SetX(h, 0, Ps(den, 1, 1, 1));
        SetX(h, 1, Ps(2f, 1, 1, 1));
        h.Load(a => a.mulps(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsUInt32().GetElement(0), Is.EqualTo(2u));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(2u));

        h.Cpu.State.Mxcsr = 0x1F80 | 0x40;
        SetX(h, 0, Ps(den, 1, 1, 1));
        h.Cpu.State.Rip = CpuHarness.CodeAddress;
        h.Run();
        Assert.That(X(h, 0).AsUInt32().GetElement(0), Is.EqualTo(0u));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0u));
    }

    [Test]
    public void Mulss_TinyResult_FtzFlushesToZeroWithUeAndPe()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | 0x8000;
        SetX(h, 0, Ps(1e-30f, 0, 0, 0));
        SetX(h, 1, Ps(-1e-10f, 0, 0, 0));
        h.Load(a => a.mulss(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsUInt32().GetElement(0), Is.EqualTo(0x80000000u));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0x30u));
    }

    [Test]
    public void Mulss_TinyInexact_SetsUeAndPe()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Ps(1e-30f, 0, 0, 0));
        SetX(h, 1, Ps(1e-10f, 0, 0, 0));
        h.Load(a => a.mulss(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsSingle().GetElement(0), Is.EqualTo(1e-30f * 1e-10f));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0x30u));
    }

    [Test]
    public void Addps_Overflow_SetsOeAndPe()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Ps(float.MaxValue, 1, 1, 1));
        SetX(h, 1, Ps(float.MaxValue, 1, 1, 1));
        h.Load(a => a.addps(xmm0, xmm1)).Run();
        Assert.That(X(h, 0), Is.EqualTo(Ps(float.PositiveInfinity, 2, 2, 2)));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0x28u));
    }

    [Test]
    public void Divps_UnmaskedZeroDivide_RaisesXmAndKeepsDestination()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 & ~0x200u;
        SetX(h, 0, Ps(1, 2, 3, 4));
        SetX(h, 1, Ps(1, 0, 1, 1));
        h.Load(a => a.divps(xmm0, xmm1));
        Assert.That(Fault(h), Is.EqualTo(19));
        Assert.That(X(h, 0), Is.EqualTo(Ps(1, 2, 3, 4)));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(4u));
    }

    [Test]
    public void Divps_UnmaskedWithoutOsxmmexcpt_RaisesUd()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Cr4 &= ~CpuState.Cr4Osxmmexcpt;
        h.Cpu.State.Mxcsr = 0x1F80 & ~0x200u;
        SetX(h, 0, Ps(1, 2, 3, 4));
        SetX(h, 1, Ps(1, 0, 1, 1));
        h.Load(a => a.divps(xmm0, xmm1));
        Assert.That(Fault(h), Is.EqualTo(6));
    }

    [Test]
    public void Comisd_UnmaskedInvalidOnQnan_RaisesXmAndKeepsFlags()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 & ~0x80u;
        SetX(h, 0, Pd(double.NaN, 0));
        SetX(h, 1, Pd(1, 0));
        h.Cpu.State.SetRflags(2);
        h.Load(a => a.comisd(xmm0, xmm1));
        Assert.That(Fault(h), Is.EqualTo(19));
        Assert.That(h.Flags & CpuState.ArithMask, Is.Zero);
    }

    // ------------------------------------------------------------------ rounding modes

    [TestCase(0, 0x3EAAAAABu)]
    [TestCase(1, 0x3EAAAAAAu)]
    [TestCase(2, 0x3EAAAAABu)]
    [TestCase(3, 0x3EAAAAAAu)]
    public void Divss_OneThird_FollowsMxcsrRc(int rc, uint expected)
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | (uint)(rc << 13);
        SetX(h, 0, Ps(1, 0, 0, 0));
        SetX(h, 1, Ps(3, 0, 0, 0));
        h.Load(a => a.divss(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsUInt32().GetElement(0), Is.EqualTo(expected));
    }

    [TestCase(0, 0x3FF6A09E667F3BCDUL)]
    [TestCase(1, 0x3FF6A09E667F3BCCUL)]
    [TestCase(2, 0x3FF6A09E667F3BCDUL)]
    [TestCase(3, 0x3FF6A09E667F3BCCUL)]
    public void Sqrtsd_Two_FollowsMxcsrRc(int rc, ulong expected)
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | (uint)(rc << 13);
        SetX(h, 1, Pd(2, 0));
        h.Load(a => a.sqrtsd(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).GetElement(0), Is.EqualTo(expected));
    }

    [TestCase(0, 2)]
    [TestCase(1, 2)]
    [TestCase(2, 3)]
    [TestCase(3, 2)]
    public void Cvtsd2si_TwoAndAHalf_FollowsMxcsrRc(int rc, int expected)
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | (uint)(rc << 13);
        SetX(h, 1, Pd(2.5, 0));
        h.Load(a => a.cvtsd2si(eax, xmm1)).Run();
        Assert.That(h[Register.RAX], Is.EqualTo((ulong)expected));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0x20u));
    }

    [Test]
    public void Subsd_ExactZeroInRoundDown_IsNegativeZero()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | (1 << 13);
        SetX(h, 0, Pd(1.5, 0));
        SetX(h, 1, Pd(1.5, 0));
        h.Load(a => a.subsd(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).GetElement(0), Is.EqualTo(0x8000000000000000UL));
    }

    [Test]
    public void Addsd_RoundUpPastMaxValue_Overflows()
    {
        using var h = new CpuHarness();
        h.Cpu.State.Mxcsr = 0x1F80 | (2 << 13);
        SetX(h, 0, Pd(double.MaxValue, 0));
        SetX(h, 1, Pd(1.0, 0));
        h.Load(a => a.addsd(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).GetElement(0), Is.EqualTo(D(double.PositiveInfinity)));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.EqualTo(0x28u));
    }

    // ------------------------------------------------------------------ MIN / MAX / compares

    [Test]
    public void Minss_Maxss_ZerosAndNaNs_ReturnSecondOperand()
    {
        using var h = new CpuHarness();
        float qnan = BitConverter.UInt32BitsToSingle(0x7FC01234);
        SetX(h, 0, Ps(0f, 1f, qnan, 5f));
        SetX(h, 1, Ps(-0f, qnan, 2f, 5f));
        SetX(h, 2, X(h, 0));
        h.Load(a =>
        {
            a.minps(xmm0, xmm1);
            a.maxps(xmm2, xmm1);
        }).Run();
        Assert.That(X(h, 0).AsUInt32(), Is.EqualTo(Vector128.Create(0x80000000u, 0x7FC01234u, F(2f), F(5f))));
        Assert.That(X(h, 2).AsUInt32(), Is.EqualTo(Vector128.Create(0x80000000u, 0x7FC01234u, F(2f), F(5f))));
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(1u), "MIN/MAX signal #I on QNaN operands");
    }

    [Test]
    public void Cmpps_AllPredicates_WithNaN()
    {
        uint[] expected = [0, 0, 0, ~0u, ~0u, ~0u, ~0u, 0];
        for (int pred = 0; pred < 8; pred++)
        {
            using var h = new CpuHarness();
            SetX(h, 0, Ps(1f, 1f, 2f, float.NaN));
            SetX(h, 1, Ps(1f, 2f, 1f, 1f));
            int p = pred;
            h.Load(a => a.cmpps(xmm0, xmm1, (byte)p)).Run();
            Vector128<uint> r = X(h, 0).AsUInt32();
            bool eq = pred is 0 or 2 or 5 or 7, lt = pred is 1 or 2 or 4 or 7, gt = pred is 4 or 5 or 6 or 7;
            Assert.That(r, Is.EqualTo(Vector128.Create(eq ? ~0u : 0, lt ? ~0u : 0, gt ? ~0u : 0, expected[pred])), $"predicate {pred}");
            bool signals = pred is 1 or 2 or 5 or 6;
            Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(signals ? 1u : 0u), $"#I for predicate {pred}");
        }
    }

    [TestCase(1.0, 2.0, CpuState.FlagCf)]
    [TestCase(2.0, 1.0, 0UL)]
    [TestCase(2.0, 2.0, CpuState.FlagZf)]
    [TestCase(double.NaN, 2.0, CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf)]
    public void Ucomisd_SetsZfPfCf_ClearsOfSfAf(double x, double y, ulong flags)
    {
        using var h = new CpuHarness();
        SetX(h, 0, Pd(x, 0));
        SetX(h, 1, Pd(y, 0));
        h.Cpu.State.SetRflags(CpuState.ArithMask | 2);
        h.Load(a => a.ucomisd(xmm0, xmm1)).Run();
        Assert.That(h.Flags & CpuState.ArithMask, Is.EqualTo(flags));
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.Zero, "UCOMISD does not signal on QNaN");
    }

    [Test]
    public void Comiss_QNaN_SignalsInvalid()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Ps(float.NaN, 0, 0, 0));
        h.Load(a => a.comiss(xmm0, xmm1)).Run();
        Assert.That(h.Flags & CpuState.ArithMask, Is.EqualTo(CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf));
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(1u));
    }

    [Test]
    public void Ucomiss_SNaN_SignalsInvalid()
    {
        using var h = new CpuHarness();
        SetX(h, 0, V(0x7F800001, 0));
        h.Load(a => a.ucomiss(xmm0, xmm1)).Run();
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(1u));
    }

    // ------------------------------------------------------------------ conversions

    [TestCase(1e10f, 0x80000000u)]
    [TestCase(-2147483648f, 0x80000000u)]
    [TestCase(float.NaN, 0x80000000u)]
    [TestCase(float.NegativeInfinity, 0x80000000u)]
    [TestCase(-1.9f, 0xFFFFFFFFu)]
    [TestCase(2147483520f, 2147483520u)]
    public void Cvttss2si_R32_TruncatesOrGivesIndefinite(float x, uint expected)
    {
        using var h = new CpuHarness();
        h[Register.RAX] = ulong.MaxValue;
        SetX(h, 0, Ps(x, 0, 0, 0));
        h.Load(a => a.cvttss2si(eax, xmm0)).Run();
        Assert.That(h[Register.RAX], Is.EqualTo((ulong)expected));
        bool invalid = expected == 0x80000000u && x != -2147483648f;
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(invalid ? 1u : 0u));
    }

    [TestCase(9.3e18, 0x8000000000000000UL)]
    [TestCase(-9.223372036854775808e18, 0x8000000000000000UL)]
    [TestCase(-3.99, 0xFFFFFFFFFFFFFFFDUL)]
    [TestCase(4.5e15, 4500000000000000UL)]
    public void Cvttsd2si_R64_TruncatesOrGivesIndefinite(double x, ulong expected)
    {
        using var h = new CpuHarness();
        SetX(h, 0, Pd(x, 0));
        h.Load(a => a.cvttsd2si(rax, xmm0)).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
    }

    [Test]
    public void Cvtsi2ss_R64_RoundsOnceNotTwice()
    {
        // 2^60 + 2^36 + 1 is just above a float midpoint; rounding through double first would tie to even (2^60).
        long x = (1L << 60) + (1L << 36) + 1;
        using var h = new CpuHarness();
        h[Register.RAX] = (ulong)x;
        h.Load(a => a.cvtsi2ss(xmm0, rax)).Run();
        Assert.That(X(h, 0).AsSingle().GetElement(0), Is.EqualTo(MathF.ScaleB(1f, 60) + MathF.ScaleB(1f, 37)));
        Assert.That(h.Cpu.State.Mxcsr & 0x20, Is.EqualTo(0x20u));
    }

    [Test]
    public void Cvtsi2sd_R32_SignExtendsAndKeepsUpper()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = 0xFFFFFFFF;
        SetX(h, 0, V(0, 42));
        h.Load(a => a.cvtsi2sd(xmm0, eax)).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(D(-1.0), 42)));
        Assert.That(h.Cpu.State.Mxcsr & 0x3F, Is.Zero);
    }

    [Test]
    public void Cvtss2sd_Cvtsd2ss_ConvertLowLane()
    {
        using var h = new CpuHarness();
        SetX(h, 0, V(0, 0x77));
        SetX(h, 1, Ps(1.5f, 0, 0, 0));
        SetX(h, 2, V(0x1111111111111111, 0x99));
        SetX(h, 3, Pd(0.1, 0));
        h.Load(a =>
        {
            a.cvtss2sd(xmm0, xmm1);
            a.cvtsd2ss(xmm2, xmm3);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(D(1.5), 0x77)));
        Assert.That(X(h, 2), Is.EqualTo(V(0x11111111_00000000UL | F(0.1f), 0x99)));
    }

    [Test]
    public void PackedConversions_KnownVectors()
    {
        using var h = new CpuHarness();
        SetX(h, 1, Vector128.Create(1, -2, int.MaxValue, int.MinValue).AsUInt64());
        SetX(h, 3, Ps(1.5f, -2.5f, 3e9f, float.NaN));
        SetX(h, 5, Pd(-1.5, 2.5));
        SetX(h, 7, Ps(0.5f, -8f, 99f, 99f));
        h.Load(a =>
        {
            a.cvtdq2ps(xmm0, xmm1);
            a.cvtps2dq(xmm2, xmm3);
            a.cvttps2dq(xmm4, xmm3);
            a.cvtpd2dq(xmm6, xmm5);
            a.cvttpd2dq(xmm8, xmm5);
            a.cvtdq2pd(xmm9, xmm1);
            a.cvtps2pd(xmm10, xmm7);
            a.cvtpd2ps(xmm11, xmm5);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(Ps(1f, -2f, 2147483648f, -2147483648f)));
        Assert.That(X(h, 2).AsInt32(), Is.EqualTo(Vector128.Create(2, -2, int.MinValue, int.MinValue)));
        Assert.That(X(h, 4).AsInt32(), Is.EqualTo(Vector128.Create(1, -2, int.MinValue, int.MinValue)));
        Assert.That(X(h, 6).AsInt32(), Is.EqualTo(Vector128.Create(-2, 2, 0, 0)));
        Assert.That(X(h, 8).AsInt32(), Is.EqualTo(Vector128.Create(-1, 2, 0, 0)));
        Assert.That(X(h, 9), Is.EqualTo(Pd(1, -2)));
        Assert.That(X(h, 10), Is.EqualTo(Pd(0.5, -8)));
        Assert.That(X(h, 11), Is.EqualTo(Ps(-1.5f, 2.5f, 0, 0)));
    }

    [Test]
    public void Cvtsd2ss_SNaN_IsQuietedWithIe()
    {
        using var h = new CpuHarness();
        SetX(h, 1, V(0xFFF0_0000_2000_0000, 0));
        h.Load(a => a.cvtsd2ss(xmm0, xmm1)).Run();
        Assert.That(X(h, 0).AsUInt32().GetElement(0), Is.EqualTo(0xFFC00001u));
        Assert.That(h.Cpu.State.Mxcsr & 1, Is.EqualTo(1u));
    }

    // ------------------------------------------------------------------ integer

    [Test]
    public void Shifts_CountsBeyondWidth()
    {
        using var h = new CpuHarness();
        Vector128<ulong> v = V(0x8000_7FFF_0001_FFFF, 0x1234_5678_9ABC_DEF0);
        for (int r = 0; r < 8; r++)
        {
            SetX(h, r, v);
        }
        SetX(h, 8, V(16, 0));
        SetX(h, 9, V(1UL << 32, 0));
        h.Load(a =>
        {
            a.psllw(xmm0, xmm8);
            a.psraw(xmm1, xmm8);
            a.psrlq(xmm2, 64);
            a.psllq(xmm3, xmm9);
            a.psrad(xmm4, 40);
            a.psrlw(xmm5, 4);
            a.pslldq(xmm6, 3);
            a.psrldq(xmm7, 17);
        }).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(0, 0)));
        Assert.That(X(h, 1), Is.EqualTo(V(0xFFFF_0000_0000_FFFF, 0x0000_0000_FFFF_FFFF)));
        Assert.That(X(h, 2), Is.EqualTo(V(0, 0)));
        Assert.That(X(h, 3), Is.EqualTo(V(0, 0)), "the count is the whole 64-bit low quadword");
        Assert.That(X(h, 4), Is.EqualTo(V(0xFFFF_FFFF_0000_0000, 0x0000_0000_FFFF_FFFF)));
        Assert.That(X(h, 5), Is.EqualTo(V(0x0800_07FF_0000_0FFF, 0x0123_0567_09AB_0DEF)));
        Assert.That(X(h, 6), Is.EqualTo(V(0xFF00_01FF_FF00_0000, 0x789A_BCDE_F080_007F)));
        Assert.That(X(h, 7), Is.EqualTo(V(0, 0)));
    }

    [Test]
    public void ShufflesAndWordInsertExtract()
    {
        using var h = new CpuHarness();
        SetX(h, 1, Vector128.Create(1u, 2u, 3u, 4u).AsUInt64());
        SetX(h, 3, Vector128.Create((ushort)0, 1, 2, 3, 4, 5, 6, 7).AsUInt64());
        SetX(h, 6, Vector128.Create(10u, 11u, 12u, 13u).AsUInt64());
        SetX(h, 7, Vector128.Create(20u, 21u, 22u, 23u).AsUInt64());
        SetX(h, 8, V(100, 200));
        SetX(h, 9, V(300, 400));
        h[Register.RAX] = 0xFFFF_BEEF;
        h.Load(a =>
        {
            a.pshufd(xmm0, xmm1, 0x1B);
            a.pshuflw(xmm2, xmm3, 0x1B);
            a.pshufhw(xmm4, xmm3, 0x00);
            a.shufps(xmm6, xmm7, 0x4E);
            a.shufpd(xmm8, xmm9, 0b01);
            a.pinsrw(xmm3, eax, 9);
            a.pextrw(ebx, xmm3, 1);
            a.pextrw(rcx, xmm3, 7);
        }).Run();
        Assert.That(X(h, 0).AsUInt32(), Is.EqualTo(Vector128.Create(4u, 3u, 2u, 1u)));
        Assert.That(X(h, 2).AsUInt16(), Is.EqualTo(Vector128.Create((ushort)3, 2, 1, 0, 4, 5, 6, 7)));
        Assert.That(X(h, 4).AsUInt16(), Is.EqualTo(Vector128.Create((ushort)0, 1, 2, 3, 4, 4, 4, 4)));
        Assert.That(X(h, 6).AsUInt32(), Is.EqualTo(Vector128.Create(12u, 13u, 20u, 21u)));
        Assert.That(X(h, 8), Is.EqualTo(V(200, 300)));
        Assert.That(h[Register.RBX], Is.EqualTo(0xBEEFUL));
        Assert.That(h[Register.RCX], Is.EqualTo(7UL));
    }

    [Test]
    public void Psadbw_SumsAbsoluteDifferences()
    {
        using var h = new CpuHarness();
        SetX(h, 0, Vector128.Create((byte)0, 255, 10, 20, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8).AsUInt64());
        SetX(h, 1, Vector128.Create((byte)255, 0, 20, 10, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1).AsUInt64());
        h.Load(a => a.psadbw(xmm0, xmm1)).Run();
        Assert.That(X(h, 0), Is.EqualTo(V(530, 32)));
    }

    /// <summary>Packed integer instructions against the host's SSE2 over random operands (register and memory sources).</summary>
    private static readonly (string Name, Action<Assembler, AssemblerRegisterXMM, AssemblerRegisterXMM> Emit, Action<Assembler, AssemblerRegisterXMM, AssemblerMemoryOperand> EmitMem, Func<Vector128<ulong>, Vector128<ulong>, Vector128<ulong>> Reference)[] s_integerOps =
    [
        ("paddb", (a, x, y) => a.paddb(x, y), (a, x, m) => a.paddb(x, m), (x, y) => Sse2.Add(x.AsByte(), y.AsByte()).AsUInt64()),
        ("paddw", (a, x, y) => a.paddw(x, y), (a, x, m) => a.paddw(x, m), (x, y) => Sse2.Add(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("paddd", (a, x, y) => a.paddd(x, y), (a, x, m) => a.paddd(x, m), (x, y) => Sse2.Add(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("paddq", (a, x, y) => a.paddq(x, y), (a, x, m) => a.paddq(x, m), (x, y) => Sse2.Add(x, y)),
        ("psubb", (a, x, y) => a.psubb(x, y), (a, x, m) => a.psubb(x, m), (x, y) => Sse2.Subtract(x.AsByte(), y.AsByte()).AsUInt64()),
        ("psubw", (a, x, y) => a.psubw(x, y), (a, x, m) => a.psubw(x, m), (x, y) => Sse2.Subtract(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("psubd", (a, x, y) => a.psubd(x, y), (a, x, m) => a.psubd(x, m), (x, y) => Sse2.Subtract(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("psubq", (a, x, y) => a.psubq(x, y), (a, x, m) => a.psubq(x, m), (x, y) => Sse2.Subtract(x, y)),
        ("paddsb", (a, x, y) => a.paddsb(x, y), (a, x, m) => a.paddsb(x, m), (x, y) => Sse2.AddSaturate(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("paddsw", (a, x, y) => a.paddsw(x, y), (a, x, m) => a.paddsw(x, m), (x, y) => Sse2.AddSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("paddusb", (a, x, y) => a.paddusb(x, y), (a, x, m) => a.paddusb(x, m), (x, y) => Sse2.AddSaturate(x.AsByte(), y.AsByte()).AsUInt64()),
        ("paddusw", (a, x, y) => a.paddusw(x, y), (a, x, m) => a.paddusw(x, m), (x, y) => Sse2.AddSaturate(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("psubsb", (a, x, y) => a.psubsb(x, y), (a, x, m) => a.psubsb(x, m), (x, y) => Sse2.SubtractSaturate(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("psubsw", (a, x, y) => a.psubsw(x, y), (a, x, m) => a.psubsw(x, m), (x, y) => Sse2.SubtractSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("psubusb", (a, x, y) => a.psubusb(x, y), (a, x, m) => a.psubusb(x, m), (x, y) => Sse2.SubtractSaturate(x.AsByte(), y.AsByte()).AsUInt64()),
        ("psubusw", (a, x, y) => a.psubusw(x, y), (a, x, m) => a.psubusw(x, m), (x, y) => Sse2.SubtractSaturate(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pmullw", (a, x, y) => a.pmullw(x, y), (a, x, m) => a.pmullw(x, m), (x, y) => Sse2.MultiplyLow(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pmulhw", (a, x, y) => a.pmulhw(x, y), (a, x, m) => a.pmulhw(x, m), (x, y) => Sse2.MultiplyHigh(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pmulhuw", (a, x, y) => a.pmulhuw(x, y), (a, x, m) => a.pmulhuw(x, m), (x, y) => Sse2.MultiplyHigh(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pmuludq", (a, x, y) => a.pmuludq(x, y), (a, x, m) => a.pmuludq(x, m), (x, y) => Sse2.Multiply(x.AsUInt32(), y.AsUInt32())),
        ("pmaddwd", (a, x, y) => a.pmaddwd(x, y), (a, x, m) => a.pmaddwd(x, m), (x, y) => Sse2.MultiplyAddAdjacent(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pcmpeqb", (a, x, y) => a.pcmpeqb(x, y), (a, x, m) => a.pcmpeqb(x, m), (x, y) => Sse2.CompareEqual(x.AsByte(), y.AsByte()).AsUInt64()),
        ("pcmpeqw", (a, x, y) => a.pcmpeqw(x, y), (a, x, m) => a.pcmpeqw(x, m), (x, y) => Sse2.CompareEqual(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pcmpeqd", (a, x, y) => a.pcmpeqd(x, y), (a, x, m) => a.pcmpeqd(x, m), (x, y) => Sse2.CompareEqual(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("pcmpgtb", (a, x, y) => a.pcmpgtb(x, y), (a, x, m) => a.pcmpgtb(x, m), (x, y) => Sse2.CompareGreaterThan(x.AsSByte(), y.AsSByte()).AsUInt64()),
        ("pcmpgtw", (a, x, y) => a.pcmpgtw(x, y), (a, x, m) => a.pcmpgtw(x, m), (x, y) => Sse2.CompareGreaterThan(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pcmpgtd", (a, x, y) => a.pcmpgtd(x, y), (a, x, m) => a.pcmpgtd(x, m), (x, y) => Sse2.CompareGreaterThan(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("pminub", (a, x, y) => a.pminub(x, y), (a, x, m) => a.pminub(x, m), (x, y) => Sse2.Min(x.AsByte(), y.AsByte()).AsUInt64()),
        ("pmaxub", (a, x, y) => a.pmaxub(x, y), (a, x, m) => a.pmaxub(x, m), (x, y) => Sse2.Max(x.AsByte(), y.AsByte()).AsUInt64()),
        ("pminsw", (a, x, y) => a.pminsw(x, y), (a, x, m) => a.pminsw(x, m), (x, y) => Sse2.Min(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pmaxsw", (a, x, y) => a.pmaxsw(x, y), (a, x, m) => a.pmaxsw(x, m), (x, y) => Sse2.Max(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("pavgb", (a, x, y) => a.pavgb(x, y), (a, x, m) => a.pavgb(x, m), (x, y) => Sse2.Average(x.AsByte(), y.AsByte()).AsUInt64()),
        ("pavgw", (a, x, y) => a.pavgw(x, y), (a, x, m) => a.pavgw(x, m), (x, y) => Sse2.Average(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("psadbw", (a, x, y) => a.psadbw(x, y), (a, x, m) => a.psadbw(x, m), (x, y) => Sse2.SumAbsoluteDifferences(x.AsByte(), y.AsByte()).AsUInt64()),
        ("pand", (a, x, y) => a.pand(x, y), (a, x, m) => a.pand(x, m), (x, y) => Sse2.And(x, y)),
        ("pandn", (a, x, y) => a.pandn(x, y), (a, x, m) => a.pandn(x, m), (x, y) => Sse2.AndNot(x, y)),
        ("por", (a, x, y) => a.por(x, y), (a, x, m) => a.por(x, m), (x, y) => Sse2.Or(x, y)),
        ("pxor", (a, x, y) => a.pxor(x, y), (a, x, m) => a.pxor(x, m), (x, y) => Sse2.Xor(x, y)),
        ("andnps", (a, x, y) => a.andnps(x, y), (a, x, m) => a.andnps(x, m), (x, y) => Sse2.AndNot(x, y)),
        ("xorpd", (a, x, y) => a.xorpd(x, y), (a, x, m) => a.xorpd(x, m), (x, y) => Sse2.Xor(x, y)),
        ("psllw", (a, x, y) => a.psllw(x, y), (a, x, m) => a.psllw(x, m), (x, y) => Sse2.ShiftLeftLogical(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("pslld", (a, x, y) => a.pslld(x, y), (a, x, m) => a.pslld(x, m), (x, y) => Sse2.ShiftLeftLogical(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("psllq", (a, x, y) => a.psllq(x, y), (a, x, m) => a.psllq(x, m), (x, y) => Sse2.ShiftLeftLogical(x, y)),
        ("psrlw", (a, x, y) => a.psrlw(x, y), (a, x, m) => a.psrlw(x, m), (x, y) => Sse2.ShiftRightLogical(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("psrld", (a, x, y) => a.psrld(x, y), (a, x, m) => a.psrld(x, m), (x, y) => Sse2.ShiftRightLogical(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("psrlq", (a, x, y) => a.psrlq(x, y), (a, x, m) => a.psrlq(x, m), (x, y) => Sse2.ShiftRightLogical(x, y)),
        ("psraw", (a, x, y) => a.psraw(x, y), (a, x, m) => a.psraw(x, m), (x, y) => Sse2.ShiftRightArithmetic(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("psrad", (a, x, y) => a.psrad(x, y), (a, x, m) => a.psrad(x, m), (x, y) => Sse2.ShiftRightArithmetic(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("punpcklbw", (a, x, y) => a.punpcklbw(x, y), (a, x, m) => a.punpcklbw(x, m), (x, y) => Sse2.UnpackLow(x.AsByte(), y.AsByte()).AsUInt64()),
        ("punpcklwd", (a, x, y) => a.punpcklwd(x, y), (a, x, m) => a.punpcklwd(x, m), (x, y) => Sse2.UnpackLow(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("punpckldq", (a, x, y) => a.punpckldq(x, y), (a, x, m) => a.punpckldq(x, m), (x, y) => Sse2.UnpackLow(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("punpcklqdq", (a, x, y) => a.punpcklqdq(x, y), (a, x, m) => a.punpcklqdq(x, m), (x, y) => Sse2.UnpackLow(x, y)),
        ("punpckhbw", (a, x, y) => a.punpckhbw(x, y), (a, x, m) => a.punpckhbw(x, m), (x, y) => Sse2.UnpackHigh(x.AsByte(), y.AsByte()).AsUInt64()),
        ("punpckhwd", (a, x, y) => a.punpckhwd(x, y), (a, x, m) => a.punpckhwd(x, m), (x, y) => Sse2.UnpackHigh(x.AsUInt16(), y.AsUInt16()).AsUInt64()),
        ("punpckhdq", (a, x, y) => a.punpckhdq(x, y), (a, x, m) => a.punpckhdq(x, m), (x, y) => Sse2.UnpackHigh(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("punpckhqdq", (a, x, y) => a.punpckhqdq(x, y), (a, x, m) => a.punpckhqdq(x, m), (x, y) => Sse2.UnpackHigh(x, y)),
        ("unpcklps", (a, x, y) => a.unpcklps(x, y), (a, x, m) => a.unpcklps(x, m), (x, y) => Sse2.UnpackLow(x.AsUInt32(), y.AsUInt32()).AsUInt64()),
        ("unpckhpd", (a, x, y) => a.unpckhpd(x, y), (a, x, m) => a.unpckhpd(x, m), (x, y) => Sse2.UnpackHigh(x, y)),
        ("packsswb", (a, x, y) => a.packsswb(x, y), (a, x, m) => a.packsswb(x, m), (x, y) => Sse2.PackSignedSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
        ("packssdw", (a, x, y) => a.packssdw(x, y), (a, x, m) => a.packssdw(x, m), (x, y) => Sse2.PackSignedSaturate(x.AsInt32(), y.AsInt32()).AsUInt64()),
        ("packuswb", (a, x, y) => a.packuswb(x, y), (a, x, m) => a.packuswb(x, m), (x, y) => Sse2.PackUnsignedSaturate(x.AsInt16(), y.AsInt16()).AsUInt64()),
    ];

    private static IEnumerable<TestCaseData> IntegerOps() => s_integerOps.Select((op, k) => new TestCaseData(k).SetArgDisplayNames(op.Name));

    /// <summary>Random operands biased toward lane boundaries (0, ±1, min/max) so saturation and sign paths are hit.</summary>
    internal static Vector128<ulong> RandomVector(Random rng)
    {
        Span<byte> b = stackalloc byte[16];
        rng.NextBytes(b);
        for (int k = 0; k < 16; k++)
        {
            int pick = rng.Next(8);
            if (pick == 0)
            {
                b[k] = 0;
            }
            else if (pick == 1)
            {
                b[k] = 0xFF;
            }
            else if (pick == 2)
            {
                b[k] = (byte)(k % 2 == 0 ? 0x80 : 0x7F);
            }
        }
        Vector128<ulong> v = Vector128.Create(BitConverter.ToUInt64(b), BitConverter.ToUInt64(b[8..]));
        // Shift counts: keep some small so the shifting path is covered, not only the all-zero one.
        return rng.Next(3) == 0 ? v.WithElement(0, (ulong)rng.Next(70)) : v;
    }

    [TestCaseSource(nameof(IntegerOps))]
    public void PackedInteger_MatchesHostSse2(int index)
    {
        Assume.That(Sse2.IsSupported, "host SSE2 needed for the reference");
        var op = s_integerOps[index];
        using var h = new CpuHarness();
        h[Register.RAX] = Data;
        h.Load(a =>
        {
            op.Emit(a, xmm1, xmm2);
            op.EmitMem(a, xmm3, __xmmword_ptr[rax]);
        });
        var rng = new Random(1234 + index);
        for (int n = 0; n < 200; n++)
        {
            Vector128<ulong> x = RandomVector(rng), y = RandomVector(rng);
            SetX(h, 1, x);
            SetX(h, 2, y);
            SetX(h, 3, x);
            Write128(h, Data, y);
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Vector128<ulong> expected = op.Reference(x, y);
            Assert.That(X(h, 1), Is.EqualTo(expected), $"{op.Name} {x} {y}");
            Assert.That(X(h, 3), Is.EqualTo(expected), $"{op.Name} m128 {x} {y}");
        }
    }

    [Test]
    public void ScalarFallbacks_MatchHostSse2()
    {
        Assume.That(Sse2.IsSupported);
        var rng = new Random(99);
        for (int n = 0; n < 2000; n++)
        {
            Vector128<ulong> x = RandomVector(rng), y = RandomVector(rng);
            Assert.That(Handlers.PmulhwScalar(x, y), Is.EqualTo(Sse2.MultiplyHigh(x.AsInt16(), y.AsInt16()).AsUInt64()));
            Assert.That(Handlers.PmulhuwScalar(x, y), Is.EqualTo(Sse2.MultiplyHigh(x.AsUInt16(), y.AsUInt16()).AsUInt64()));
            Assert.That(Handlers.PmaddwdScalar(x, y), Is.EqualTo(Sse2.MultiplyAddAdjacent(x.AsInt16(), y.AsInt16()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 1, false), Is.EqualTo(Sse2.UnpackLow(x.AsByte(), y.AsByte()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 2, false), Is.EqualTo(Sse2.UnpackLow(x.AsUInt16(), y.AsUInt16()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 4, false), Is.EqualTo(Sse2.UnpackLow(x.AsUInt32(), y.AsUInt32()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 1, true), Is.EqualTo(Sse2.UnpackHigh(x.AsByte(), y.AsByte()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 2, true), Is.EqualTo(Sse2.UnpackHigh(x.AsUInt16(), y.AsUInt16()).AsUInt64()));
            Assert.That(Handlers.UnpackScalar(x, y, 4, true), Is.EqualTo(Sse2.UnpackHigh(x.AsUInt32(), y.AsUInt32()).AsUInt64()));
        }
    }

    // ------------------------------------------------------------------ floating point against the host

    internal static readonly float[] s_specialSingles =
    [
        0f, -0f, 1f, -1f, 1.5f, 3f, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon, 1.17549435e-38f,
        float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001),
        BitConverter.UInt32BitsToSingle(0xFFC12345), 1e-30f, 3e38f, 0.1f, -7.25f,
    ];

    internal static readonly double[] s_specialDoubles =
    [
        0.0, -0.0, 1.0, -1.0, 1.5, 3.0, double.MaxValue, -double.MaxValue, double.Epsilon, -double.Epsilon, 2.2250738585072014E-308,
        double.PositiveInfinity, double.NegativeInfinity, double.NaN, BitConverter.UInt64BitsToDouble(0x7FF0000000000001),
        BitConverter.UInt64BitsToDouble(0xFFF8000012345678), 1e-300, 1e300, 0.1, -7.25,
    ];

    private static IEnumerable<(float, float)> SinglePairs()
    {
        foreach (float x in s_specialSingles)
        {
            foreach (float y in s_specialSingles)
            {
                yield return (x, y);
            }
        }
        var rng = new Random(7);
        for (int n = 0; n < 300; n++)
        {
            yield return (BitConverter.UInt32BitsToSingle((uint)rng.NextInt64()), BitConverter.UInt32BitsToSingle((uint)rng.NextInt64()));
        }
    }

    private static IEnumerable<(double, double)> DoublePairs()
    {
        foreach (double x in s_specialDoubles)
        {
            foreach (double y in s_specialDoubles)
            {
                yield return (x, y);
            }
        }
        var rng = new Random(8);
        for (int n = 0; n < 300; n++)
        {
            yield return (BitConverter.UInt64BitsToDouble((ulong)rng.NextInt64() * 2 + 1), BitConverter.UInt64BitsToDouble((ulong)rng.NextInt64()));
        }
    }

    private static readonly (string Name, Action<Assembler> Emit, Func<Vector128<float>, Vector128<float>, Vector128<float>> Reference)[] s_singleOps =
    [
        ("addps", a => a.addps(xmm1, xmm2), Sse.Add),
        ("subps", a => a.subps(xmm1, xmm2), Sse.Subtract),
        ("mulps", a => a.mulps(xmm1, xmm2), Sse.Multiply),
        ("divps", a => a.divps(xmm1, xmm2), Sse.Divide),
        ("minps", a => a.minps(xmm1, xmm2), Sse.Min),
        ("maxps", a => a.maxps(xmm1, xmm2), Sse.Max),
        ("sqrtps", a => a.sqrtps(xmm1, xmm2), (x, y) => Sse.Sqrt(y)),
        ("addss", a => a.addss(xmm1, xmm2), Sse.AddScalar),
        ("divss", a => a.divss(xmm1, xmm2), Sse.DivideScalar),
        ("minss", a => a.minss(xmm1, xmm2), Sse.MinScalar),
        ("sqrtss", a => a.sqrtss(xmm1, xmm2), Sse.SqrtScalar),
        ("cmpeqps", a => a.cmpps(xmm1, xmm2, 0), Sse.CompareEqual),
        ("cmpltps", a => a.cmpps(xmm1, xmm2, 1), Sse.CompareLessThan),
        ("cmpleps", a => a.cmpps(xmm1, xmm2, 2), Sse.CompareLessThanOrEqual),
        ("cmpunordps", a => a.cmpps(xmm1, xmm2, 3), Sse.CompareUnordered),
        ("cmpneqps", a => a.cmpps(xmm1, xmm2, 4), Sse.CompareNotEqual),
        ("cmpnltps", a => a.cmpps(xmm1, xmm2, 5), Sse.CompareNotLessThan),
        ("cmpnleps", a => a.cmpps(xmm1, xmm2, 6), Sse.CompareNotLessThanOrEqual),
        ("cmpordps", a => a.cmpps(xmm1, xmm2, 7), Sse.CompareOrdered),
        ("cmpltss", a => a.cmpss(xmm1, xmm2, 1), Sse.CompareScalarLessThan),
        ("cvtsd2ss-like cvtpd2ps", a => a.cvtpd2ps(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Single(y.AsDouble())),
        ("cvtdq2ps", a => a.cvtdq2ps(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Single(y.AsInt32())),
        ("cvtps2dq", a => a.cvtps2dq(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Int32(y).AsSingle()),
        ("cvttps2dq", a => a.cvttps2dq(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Int32WithTruncation(y).AsSingle()),
        ("rcp-free shufps", a => a.shufps(xmm1, xmm2, 0x4E), (x, y) => Sse.Shuffle(x, y, 0x4E)),
    ];

    private static IEnumerable<TestCaseData> SingleOps() => s_singleOps.Select((op, k) => new TestCaseData(k).SetArgDisplayNames(op.Name));

    [TestCaseSource(nameof(SingleOps))]
    public void PackedSingle_MatchesHostSse(int index)
    {
        Assume.That(Sse2.IsSupported);
        var op = s_singleOps[index];
        using var h = new CpuHarness();
        h.Load(op.Emit);
        var pairs = SinglePairs().ToArray();
        for (int n = 0; n + 3 < pairs.Length; n += 4)
        {
            Vector128<float> x = Vector128.Create(pairs[n].Item1, pairs[n + 1].Item1, pairs[n + 2].Item1, pairs[n + 3].Item1);
            Vector128<float> y = Vector128.Create(pairs[n].Item2, pairs[n + 1].Item2, pairs[n + 2].Item2, pairs[n + 3].Item2);
            SetX(h, 1, x.AsUInt64());
            SetX(h, 2, y.AsUInt64());
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Assert.That(X(h, 1).AsUInt32(), Is.EqualTo(op.Reference(x, y).AsUInt32()), $"{op.Name} {x} {y}");
        }
    }

    private static readonly (string Name, Action<Assembler> Emit, Func<Vector128<double>, Vector128<double>, Vector128<double>> Reference)[] s_doubleOps =
    [
        ("addpd", a => a.addpd(xmm1, xmm2), Sse2.Add),
        ("subpd", a => a.subpd(xmm1, xmm2), Sse2.Subtract),
        ("mulpd", a => a.mulpd(xmm1, xmm2), Sse2.Multiply),
        ("divpd", a => a.divpd(xmm1, xmm2), Sse2.Divide),
        ("minpd", a => a.minpd(xmm1, xmm2), Sse2.Min),
        ("maxpd", a => a.maxpd(xmm1, xmm2), Sse2.Max),
        ("sqrtpd", a => a.sqrtpd(xmm1, xmm2), (x, y) => Sse2.Sqrt(y)),
        ("subsd", a => a.subsd(xmm1, xmm2), Sse2.SubtractScalar),
        ("mulsd", a => a.mulsd(xmm1, xmm2), Sse2.MultiplyScalar),
        ("maxsd", a => a.maxsd(xmm1, xmm2), Sse2.MaxScalar),
        ("sqrtsd", a => a.sqrtsd(xmm1, xmm2), Sse2.SqrtScalar),
        ("cmplepd", a => a.cmppd(xmm1, xmm2, 2), Sse2.CompareLessThanOrEqual),
        ("cmpunordpd", a => a.cmppd(xmm1, xmm2, 3), Sse2.CompareUnordered),
        ("cmpnltpd", a => a.cmppd(xmm1, xmm2, 5), Sse2.CompareNotLessThan),
        ("cmpneqsd", a => a.cmpsd(xmm1, xmm2, 4), Sse2.CompareScalarNotEqual),
        ("cvtsd2ss", a => a.cvtsd2ss(xmm1, xmm2), (x, y) => Sse2.ConvertScalarToVector128Single(x.AsSingle(), y).AsDouble()),
        ("cvtss2sd", a => a.cvtss2sd(xmm1, xmm2), (x, y) => Sse2.ConvertScalarToVector128Double(x, y.AsSingle())),
        ("cvtps2pd", a => a.cvtps2pd(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Double(y.AsSingle())),
        ("cvtpd2dq", a => a.cvtpd2dq(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Int32(y).AsDouble()),
        ("cvttpd2dq", a => a.cvttpd2dq(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Int32WithTruncation(y).AsDouble()),
        ("cvtdq2pd", a => a.cvtdq2pd(xmm1, xmm2), (x, y) => Sse2.ConvertToVector128Double(y.AsInt32())),
        ("shufpd", a => a.shufpd(xmm1, xmm2, 1), (x, y) => Sse2.Shuffle(x, y, 1)),
    ];

    private static IEnumerable<TestCaseData> DoubleOps() => s_doubleOps.Select((op, k) => new TestCaseData(k).SetArgDisplayNames(op.Name));

    [TestCaseSource(nameof(DoubleOps))]
    public void PackedDouble_MatchesHostSse2(int index)
    {
        Assume.That(Sse2.IsSupported);
        var op = s_doubleOps[index];
        using var h = new CpuHarness();
        h.Load(op.Emit);
        var pairs = DoublePairs().ToArray();
        for (int n = 0; n + 1 < pairs.Length; n += 2)
        {
            Vector128<double> x = Vector128.Create(pairs[n].Item1, pairs[n + 1].Item1);
            Vector128<double> y = Vector128.Create(pairs[n].Item2, pairs[n + 1].Item2);
            SetX(h, 1, x.AsUInt64());
            SetX(h, 2, y.AsUInt64());
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Assert.That(X(h, 1), Is.EqualTo(op.Reference(x, y).AsUInt64()), $"{op.Name} {x} {y}");
        }
    }

    [Test]
    public void ScalarToIntegerConversions_MatchHostSse2()
    {
        Assume.That(Sse2.X64.IsSupported);
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.cvtss2si(eax, xmm1);
            a.cvttss2si(rbx, xmm1);
            a.cvtsd2si(rcx, xmm2);
            a.cvttsd2si(edx, xmm2);
            a.cvtsi2ss(xmm3, rsi);
            a.cvtsi2sd(xmm4, rsi);
            a.cvtsi2ss(xmm5, edi);
        });
        var rng = new Random(5);
        var pairs = SinglePairs().Zip(DoublePairs()).ToArray();
        foreach (var ((f, _), (d, _)) in pairs)
        {
            long i64 = rng.Next(4) switch
            {
                0 => rng.NextInt64(),
                1 => rng.NextInt64(-1L << 30, 1L << 30),
                2 => rng.NextInt64() >> rng.Next(64),
                _ => -rng.NextInt64(),
            };
            SetX(h, 1, Vector128.CreateScalar(f).AsUInt64());
            SetX(h, 2, Vector128.CreateScalar(d).AsUInt64());
            SetX(h, 3, Vector128<ulong>.Zero);
            SetX(h, 4, Vector128<ulong>.Zero);
            SetX(h, 5, Vector128<ulong>.Zero);
            h[Register.RSI] = (ulong)i64;
            h[Register.RDI] = (ulong)i64;
            h.Cpu.State.Rip = CpuHarness.CodeAddress;
            h.Run();
            Vector128<float> vf = Vector128.CreateScalar(f);
            Vector128<double> vd = Vector128.CreateScalar(d);
            Assert.That(h[Register.RAX], Is.EqualTo((ulong)(uint)Sse.ConvertToInt32(vf)), $"cvtss2si {f}");
            Assert.That(h[Register.RBX], Is.EqualTo((ulong)Sse.X64.ConvertToInt64WithTruncation(vf)), $"cvttss2si {f}");
            Assert.That(h[Register.RCX], Is.EqualTo((ulong)Sse2.X64.ConvertToInt64(vd)), $"cvtsd2si {d}");
            Assert.That(h[Register.RDX], Is.EqualTo((ulong)(uint)Sse2.ConvertToInt32WithTruncation(vd)), $"cvttsd2si {d}");
            Assert.That(X(h, 3).AsSingle(), Is.EqualTo(Sse.X64.ConvertScalarToVector128Single(Vector128<float>.Zero, i64)), $"cvtsi2ss {i64}");
            Assert.That(X(h, 4).AsDouble(), Is.EqualTo(Sse2.X64.ConvertScalarToVector128Double(Vector128<double>.Zero, i64)), $"cvtsi2sd {i64}");
            Assert.That(X(h, 5).AsSingle(), Is.EqualTo(Sse.ConvertScalarToVector128Single(Vector128<float>.Zero, (int)i64)), $"cvtsi2ss r32 {(int)i64}");
        }
    }

    [Test]
    public void Reciprocals_AreWithinSdmBound()
    {
        using var h = new CpuHarness();
        SetX(h, 1, Ps(3f, -0.25f, 0f, float.PositiveInfinity));
        SetX(h, 2, Ps(4f, 2f, -0f, -1f));
        h.Load(a =>
        {
            a.rcpps(xmm0, xmm1);
            a.rsqrtps(xmm3, xmm2);
        }).Run();
        Vector128<float> r = X(h, 0).AsSingle(), q = X(h, 3).AsSingle();
        Assert.That(Math.Abs(r.GetElement(0) * 3f - 1f), Is.LessThan(1.5f * MathF.ScaleB(1, -12)));
        Assert.That(r.GetElement(1), Is.EqualTo(-4f));
        Assert.That(r.GetElement(2), Is.EqualTo(float.PositiveInfinity));
        Assert.That(r.GetElement(3), Is.EqualTo(0f));
        Assert.That(q.GetElement(0), Is.EqualTo(0.5f));
        Assert.That(Math.Abs(q.GetElement(1) * MathF.Sqrt(2f) - 1f), Is.LessThan(1.5f * MathF.ScaleB(1, -12)));
        Assert.That(q.GetElement(2), Is.EqualTo(float.NegativeInfinity));
        Assert.That(BitConverter.SingleToUInt32Bits(q.GetElement(3)), Is.EqualTo(0xFFC00000u));
        Assert.That(h.Cpu.State.Mxcsr, Is.EqualTo(0x1F80u), "approximations raise no flags");
    }

    internal static byte[] Assemble(Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        return a.ToBytes(0);
    }

    // ------------------------------------------------------------------ CPUID coverage

    /// <summary>
    /// Every instruction whose only CPUID requirement is one of these features has a handler, so CPUID may
    /// advertise them (State/Cpuid.cs derives leaf 1 ECX from this table). For SSE and SSE2 the fence and
    /// prefetch encodings (registered with the basic instructions) are left out; SSE4.2's CRC32 lives with the
    /// bit operations.
    /// </summary>
    [TestCase(CpuidFeature.SSE3)]
    [TestCase(CpuidFeature.SSE4_1)]
    [TestCase(CpuidFeature.SSE4_2)]
    [TestCase(CpuidFeature.FXSR)]
    [TestCase(CpuidFeature.XSAVE)]
    [TestCase(CpuidFeature.XSAVEOPT)]
    [TestCase(CpuidFeature.FPU)]
    [TestCase(CpuidFeature.FPU387)]
    [TestCase(CpuidFeature.SSSE3)]
    [TestCase(CpuidFeature.MMX)]
    [TestCase(CpuidFeature.SSE)]
    [TestCase(CpuidFeature.SSE2)]
    public void Feature_AllInstructionsImplemented(CpuidFeature feature)
    {
        var missing = new List<Code>();
        foreach (Code c in Enum.GetValues<Code>())
        {
            if (c == Code.INVALID)
            {
                continue;
            }
            CpuidFeature[] f = c.CpuidFeatures();
            if (f.Length != 1 || f[0] != feature)
            {
                continue;
            }
            string name = c.ToString();
            if ((feature is CpuidFeature.SSE or CpuidFeature.SSE2 && (name.Contains("fence") || name.StartsWith("Prefetch")))
                || (feature == CpuidFeature.SSE4_2 && name.StartsWith("Crc32")))
            {
                continue;
            }
            if (!IsImplemented(c))
            {
                missing.Add(c);
            }
        }
        Assert.That(missing, Is.Empty);
    }

    private static unsafe bool IsImplemented(Code c)
    {
        delegate*<Vcpu, in Instruction, void> unimplemented = &Handlers.Unimplemented;
        return (nint)Handlers.Table[(int)c] != (nint)unimplemented;
    }

    // ------------------------------------------------------------------ allocation

    [Test]
    public void SseHandlers_AfterWarmUp_AllocateNothing()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = Data;
        SetX(h, 1, Pd(1.25, 3.5));
        SetX(h, 2, Pd(0.5, 7));
        h.Load(a =>
        {
            Label top = a.CreateLabel();
            a.Label(ref top);
            a.movapd(xmm0, xmm1);
            a.addpd(xmm0, xmm2);
            a.mulsd(xmm0, xmm2);
            a.divps(xmm3, xmm2);
            a.sqrtpd(xmm4, xmm1);
            a.cmpps(xmm5, xmm1, 1);
            a.cvtsd2si(rbx, xmm1);
            a.cvtsi2ss(xmm6, rbx);
            a.ucomisd(xmm1, xmm2);
            a.paddw(xmm7, xmm1);
            a.pmaddwd(xmm7, xmm2);
            a.punpcklbw(xmm7, xmm1);
            a.pshufd(xmm8, xmm7, 0x1B);
            a.psrlq(xmm8, 3);
            a.movdqa(__xmmword_ptr[rax], xmm8);
            a.movups(xmm9, __xmmword_ptr[rax + 1]);
            a.pmovmskb(ecx, xmm9);
            a.pcmpistri(xmm9, xmm8, 0x0C);
            a.paddusb(mm1, mm2);
            a.emms();
            a.fld1();
            a.fadd(st0, st0);
            a.fstp(__qword_ptr[rax + 32]);
            a.jmp(top);
        });
        // Warm up: decode cache, TLB, JIT tiers (as InterpreterAllocationTests does).
        for (int n = 0; n < 20; n++)
        {
            Assert.That(h.Cpu.Run(100_000), Is.EqualTo(StopReason.Budget), h.Cpu.LastStopMessage);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        StopReason r = h.Cpu.Run(1_000_000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(r, Is.EqualTo(StopReason.Budget));
        Assert.That(after - before, Is.Zero, "bytes allocated by 1,000,000 SSE/MMX/x87 instructions");
    }
}
