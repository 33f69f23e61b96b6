using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class MulDivTests
{
    private const ulong Cf = CpuState.FlagCf;
    private const ulong Pf = CpuState.FlagPf;
    private const ulong Af = CpuState.FlagAf;
    private const ulong Zf = CpuState.FlagZf;
    private const ulong Sf = CpuState.FlagSf;
    private const ulong Of = CpuState.FlagOf;
    private const ulong Arith = CpuState.ArithMask;

    private static CpuHarness Run(Action<Assembler> code, ulong rax = 0, ulong rbx = 0, ulong rdx = 0, ulong flags = 0, CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        h[Register.RAX] = rax;
        h[Register.RBX] = rbx;
        h[Register.RDX] = rdx;
        h.Cpu.Rflags = 2 | flags;
        h.Load(code).Run();
        return h;
    }

    /// <summary>Runs a snippet expected to fault; returns the harness for inspection.</summary>
    private static CpuHarness RunFault(Action<Assembler> code, ulong rax, ulong rbx, ulong rdx, CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        h[Register.RAX] = rax;
        h[Register.RBX] = rbx;
        h[Register.RDX] = rdx;
        h.Load(code);
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        return h;
    }

    // ------------------------------------------------------------------ MUL

    [Test]
    public void Mul_Byte_WritesAxAndSetsCarryOnHighHalf()
    {
        using var h = Run(a => a.mul(bl), rax: 0xFFFF_0080, rbx: 2, rdx: 0x1234);
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_0100UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x1234UL), "8-bit MUL leaves DX alone");
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Mul_Byte_NoOverflow_ClearsCarry()
    {
        using var h = Run(a => a.mul(bl), rax: 3, rbx: 4, flags: Cf | Of);
        Assert.That(h[Register.AX], Is.EqualTo(12UL));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [Test]
    public void Mul_Word_SplitsIntoDxAx()
    {
        using var h = Run(a => a.mul(bx), rax: 0xAAAA_FFFF, rbx: 0xFFFF, rdx: 0x5555_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0xAAAA_0001UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x5555_FFFEUL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Mul_Dword_ZeroExtendsEdxEax()
    {
        using var h = Run(a => a.mul(ebx), rax: 0xFFFF_FFFF_8000_0000, rbx: 4, rdx: ulong.MaxValue);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h[Register.RDX], Is.EqualTo(2UL));
    }

    [Test]
    public void Mul_Qword_FullProduct()
    {
        using var h = Run(a => a.mul(rbx), rax: ulong.MaxValue, rbx: ulong.MaxValue);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h[Register.RDX], Is.EqualTo(ulong.MaxValue - 1));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Mul_MemorySource_EveryMode([Values] CpuMode mode)
    {
        ulong data = AluTests.DataFor(mode);
        using var h = new CpuHarness(mode);
        h.Memory.Write(data, 4, 0x10);
        h[Register.RBX] = data;
        h[Register.RAX] = 0x1000_0001;
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.mul(__dword_ptr[bx]);
            }
            else if (mode == CpuMode.Protected32)
            {
                a.mul(__dword_ptr[ebx]);
            }
            else
            {
                a.mul(__dword_ptr[rbx]);
            }
        }).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0x10UL));
        Assert.That(h[Register.EDX], Is.EqualTo(1UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    // Undefined flags (see MulDiv.cs): SF and PF from the low half, ZF and AF cleared.
    [Test]
    public void Mul_UndefinedFlags_FollowIntelModel()
    {
        using var h = Run(a => a.mul(rbx), rax: 1UL << 32, rbx: 1UL << 32, flags: Zf | Af);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Of | Pf));
    }

    // ------------------------------------------------------------------ IMUL

    [TestCase(0xFEUL, 3UL, 0xFFFAUL, false)]
    [TestCase(0x80UL, 0xFFUL, 0x0080UL, true)]
    [TestCase(0x7FUL, 0x7FUL, 0x3F01UL, true)]
    public void Imul_Byte_OneOperand(ulong multiplicand, ulong multiplier, ulong product, bool overflow)
    {
        using var h = Run(a => a.imul(bl), rax: multiplicand, rbx: multiplier);
        Assert.That(h[Register.AX], Is.EqualTo(product));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(overflow ? Cf | Of : 0));
    }

    [Test]
    public void Imul_Word_OneOperand_SignExtendsIntoDx()
    {
        using var h = Run(a => a.imul(bx), rax: 0xFFFF, rbx: 2);
        Assert.That(h[Register.AX], Is.EqualTo(0xFFFEUL));
        Assert.That(h[Register.DX], Is.EqualTo(0xFFFFUL));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [Test]
    public void Imul_Dword_OneOperand_Overflow()
    {
        using var h = Run(a => a.imul(ebx), rax: 0x4000_0000, rbx: 2);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Imul_Qword_MostNegativeTimesMinusOne_Overflows()
    {
        using var h = Run(a => a.imul(rbx), rax: 0x8000_0000_0000_0000, rbx: ulong.MaxValue);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Imul_Qword_NegativeProduct_FitsLowHalf()
    {
        using var h = Run(a => a.imul(rbx), rax: unchecked((ulong)-3L), rbx: 5);
        Assert.That(h[Register.RAX], Is.EqualTo(unchecked((ulong)-15L)));
        Assert.That(h[Register.RDX], Is.EqualTo(ulong.MaxValue));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [Test]
    public void Imul_TwoOperand_Truncates()
    {
        using var h = Run(a => a.imul(eax, ebx), rax: 0xFFFF_FFFF_0001_0000, rbx: 0x0001_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Imul_TwoOperand_Word_MemorySource()
    {
        using var h = new CpuHarness();
        h.Memory.Write(CpuHarness.DataAddress, 2, 0xFFFD);
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RCX] = 0xABCD_0007;
        h.Load(a => a.imul(cx, __word_ptr[rbx])).Run();
        Assert.That(h[Register.RCX], Is.EqualTo(0xABCD_FFEBUL));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [Test]
    public void Imul_ThreeOperand_SignExtendedImm8()
    {
        using var h = Run(a => a.imul(rcx, rbx, -1), rbx: 5);
        Assert.That(h[Register.RCX], Is.EqualTo(unchecked((ulong)-5L)));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [Test]
    public void Imul_ThreeOperand_Imm32_64BitOverflow()
    {
        using var h = Run(a => a.imul(rcx, rbx, 0x4000_0000), rbx: 1UL << 40);
        Assert.That(h[Register.RCX], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Imul_ThreeOperand_Word_InRealMode()
    {
        using var h = Run(a => a.imul(cx, bx, 300), rbx: 200, mode: CpuMode.Real16);
        Assert.That(h[Register.CX], Is.EqualTo((200 * 300) & 0xFFFFUL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    // ------------------------------------------------------------------ DIV

    [Test]
    public void Div_Byte_QuotientInAlRemainderInAh()
    {
        using var h = Run(a => a.div(bl), rax: 1000, rbx: 7, flags: Zf | Cf);
        Assert.That(h[Register.AL], Is.EqualTo(142UL));
        Assert.That(h[Register.AH], Is.EqualTo(6UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Cf), "DIV leaves the undefined flags unchanged");
    }

    [Test]
    public void Div_Word_UsesDxAx()
    {
        using var h = Run(a => a.div(bx), rax: 0x0000, rbx: 0x1000, rdx: 0x0FFF);
        Assert.That(h[Register.AX], Is.EqualTo(0xFFF0UL));
        Assert.That(h[Register.DX], Is.EqualTo(0UL));
    }

    [Test]
    public void Div_Dword_EveryMode([Values] CpuMode mode)
    {
        using var h = Run(a => a.div(ebx), rax: 5, rbx: 0x8000_0000, rdx: 3, mode: mode);
        Assert.That(h[Register.EAX], Is.EqualTo(6UL));
        Assert.That(h[Register.EDX], Is.EqualTo(5UL));
    }

    [Test]
    public void Div_Qword_128BitDividend()
    {
        using var h = Run(a => a.div(rbx), rax: 1, rbx: 2, rdx: 1);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(h[Register.RDX], Is.EqualTo(1UL));
    }

    [Test]
    public void Div_MemoryDivisor()
    {
        using var h = new CpuHarness();
        h.Memory.Write(CpuHarness.DataAddress, 8, 10);
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RAX] = 123;
        h[Register.RDX] = 0;
        h.Load(a => a.div(__qword_ptr[rbx])).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(12UL));
        Assert.That(h[Register.RDX], Is.EqualTo(3UL));
    }

    // SDM Vol. 2A "DIV—Unsigned Divide": #DE on a zero divisor or a quotient too large.
    [TestCase(1, 100UL, 0UL, 0UL, TestName = "Div_ByZero_Byte_RaisesDe")]
    [TestCase(2, 100UL, 0UL, 0UL, TestName = "Div_ByZero_Word_RaisesDe")]
    [TestCase(4, 100UL, 0UL, 0UL, TestName = "Div_ByZero_Dword_RaisesDe")]
    [TestCase(8, 100UL, 0UL, 0UL, TestName = "Div_ByZero_Qword_RaisesDe")]
    [TestCase(1, 0x1000UL, 2UL, 0UL, TestName = "Div_QuotientOverflow_Byte_RaisesDe")]
    [TestCase(2, 0UL, 2UL, 2UL, TestName = "Div_QuotientOverflow_Word_RaisesDe")]
    [TestCase(4, 0UL, 7UL, 7UL, TestName = "Div_QuotientOverflow_Dword_RaisesDe")]
    [TestCase(8, 0UL, 7UL, 8UL, TestName = "Div_QuotientOverflow_Qword_RaisesDe")]
    public void Div_Faults_RaiseDivideErrorWithoutSideEffects(int size, ulong rax, ulong rbx, ulong rdx)
    {
        using var h = RunFault(a => EmitDiv(a, size, signed: false), rax, rbx, rdx);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(Vectors.DE));
        Assert.That(h[Register.RAX], Is.EqualTo(rax));
        Assert.That(h[Register.RDX], Is.EqualTo(rdx));
    }

    // ------------------------------------------------------------------ IDIV

    [TestCase(1, unchecked((ulong)-7L) & 0xFFFF, 2UL, 0UL, 0xFFFDUL & 0xFF, 0xFFUL)]
    [TestCase(2, unchecked((ulong)-7L) & 0xFFFF, 2UL, 0xFFFFUL, 0xFFFDUL, 0xFFFFUL)]
    [TestCase(4, 7UL, unchecked((ulong)-2L) & 0xFFFF_FFFF, 0UL, 0xFFFF_FFFDUL, 1UL)]
    [TestCase(8, unchecked((ulong)-100L), 7UL, ulong.MaxValue, unchecked((ulong)-14L), unchecked((ulong)-2L))]
    public void Idiv_TruncatesTowardZero_RemainderTakesDividendSign(int size, ulong rax, ulong rbx, ulong rdx, ulong quotient, ulong remainder)
    {
        using var h = Run(a => EmitDiv(a, size, signed: true), rax, rbx, rdx);
        switch (size)
        {
            case 1:
                Assert.That(h[Register.AL], Is.EqualTo(quotient));
                Assert.That(h[Register.AH], Is.EqualTo(remainder));
                break;
            case 2:
                Assert.That(h[Register.AX], Is.EqualTo(quotient));
                Assert.That(h[Register.DX], Is.EqualTo(remainder));
                break;
            case 4:
                Assert.That(h[Register.RAX], Is.EqualTo(quotient));
                Assert.That(h[Register.RDX], Is.EqualTo(remainder));
                break;
            default:
                Assert.That(h[Register.RAX], Is.EqualTo(quotient));
                Assert.That(h[Register.RDX], Is.EqualTo(remainder));
                break;
        }
    }

    [Test]
    public void Idiv_Qword_128BitDividendInRange()
    {
        // -2^64 / 4 = -2^62: the dividend needs RDX, the quotient fits.
        using var h = Run(a => a.idiv(rbx), rax: 0, rbx: 4, rdx: ulong.MaxValue);
        Assert.That(h[Register.RAX], Is.EqualTo(unchecked((ulong)(-(1L << 62)))));
        Assert.That(h[Register.RDX], Is.EqualTo(0UL));
    }

    [Test]
    public void Idiv_QuotientMostNegative_IsAllowed()
    {
        // -256 / 2 = -128 fits in AL.
        using var h = Run(a => a.idiv(bl), rax: 0xFF00, rbx: 2);
        Assert.That(h[Register.AL], Is.EqualTo(0x80UL));
        Assert.That(h[Register.AH], Is.EqualTo(0UL));
    }

    // SDM Vol. 2A "IDIV—Signed Divide": #DE for a zero divisor and for a quotient out of range,
    // including the most negative dividend divided by -1.
    [TestCase(1, 0x8000UL, 0xFFUL, 0UL, TestName = "Idiv_MinByMinusOne_Byte_RaisesDe")]
    [TestCase(1, 0xFF80UL, 0xFFUL, 0UL, TestName = "Idiv_QuotientPlus128_Byte_RaisesDe")]
    [TestCase(2, 0x8000UL, 0xFFFFUL, 0xFFFFUL, TestName = "Idiv_MinByMinusOne_Word_RaisesDe")]
    [TestCase(4, 0x8000_0000UL, 0xFFFF_FFFFUL, 0xFFFF_FFFFUL, TestName = "Idiv_MinByMinusOne_Dword_RaisesDe")]
    [TestCase(4, 0UL, 0xFFFF_FFFFUL, 0x8000_0000UL, TestName = "Idiv_Int64MinByMinusOne_Dword_RaisesDe")]
    [TestCase(8, 0x8000_0000_0000_0000UL, ulong.MaxValue, ulong.MaxValue, TestName = "Idiv_MinByMinusOne_Qword_RaisesDe")]
    [TestCase(8, 0UL, ulong.MaxValue, 0x8000_0000_0000_0000UL, TestName = "Idiv_Int128MinByMinusOne_Qword_RaisesDe")]
    [TestCase(8, 0UL, 2UL, 1UL, TestName = "Idiv_QuotientOverflow_Qword_RaisesDe")]
    [TestCase(8, 5UL, 0UL, 0UL, TestName = "Idiv_ByZero_Qword_RaisesDe")]
    [TestCase(2, 5UL, 0UL, 0UL, TestName = "Idiv_ByZero_Word_RaisesDe")]
    public void Idiv_Faults_RaiseDivideErrorWithoutSideEffects(int size, ulong rax, ulong rbx, ulong rdx)
    {
        using var h = RunFault(a => EmitDiv(a, size, signed: true), rax, rbx, rdx);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(Vectors.DE));
        Assert.That(h[Register.RAX], Is.EqualTo(rax));
        Assert.That(h[Register.RDX], Is.EqualTo(rdx));
    }

    [Test]
    public void Div_ByZero_RaisesDe_EveryMode([Values] CpuMode mode)
    {
        using var h = RunFault(a => a.div(bx), rax: 1, rbx: 0, rdx: 0, mode);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(Vectors.DE));
    }

    private static void EmitDiv(Assembler a, int size, bool signed)
    {
        switch (size)
        {
            case 1: if (signed) { a.idiv(bl); } else { a.div(bl); } break;
            case 2: if (signed) { a.idiv(bx); } else { a.div(bx); } break;
            case 4: if (signed) { a.idiv(ebx); } else { a.div(ebx); } break;
            default: if (signed) { a.idiv(rbx); } else { a.div(rbx); } break;
        }
    }

    // ------------------------------------------------------------------ hot path

    [Test]
    public void MulDivHandlers_WarmLoop_DoNotAllocate()
    {
        using var h = new CpuHarness();
        h.Load(a =>
        {
            a.div(rbx);
            a.imul(rcx, rax, 13);
            a.mul(rbx);
            a.idiv(ebx);
            a.imul(ecx, ebx);
        });
        void Once()
        {
            h[Register.RAX] = 1000;
            h[Register.RBX] = 7;
            h[Register.RDX] = 0;
            h.Cpu.State.Rip = h.StartRip;
            h.Run();
        }
        Once();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int n = 0; n < 1000; n++)
        {
            Once();
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
