using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class AluTests
{
    private const ulong Cf = CpuState.FlagCf;
    private const ulong Pf = CpuState.FlagPf;
    private const ulong Af = CpuState.FlagAf;
    private const ulong Zf = CpuState.FlagZf;
    private const ulong Sf = CpuState.FlagSf;
    private const ulong Of = CpuState.FlagOf;
    private const ulong Arith = CpuState.ArithMask;

    /// <summary>Data address reachable with a base register in each mode (real mode: DS = 0).</summary>
    internal static ulong DataFor(CpuMode mode) => mode == CpuMode.Real16 ? 0x9000 : CpuHarness.DataAddress;

    private static CpuHarness Run(Action<Assembler> code, ulong rax = 0, ulong rbx = 0, ulong flags = 0, CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        h[Register.RAX] = rax;
        h[Register.RBX] = rbx;
        h.Cpu.Rflags = 2 | flags;
        h.Load(code).Run();
        return h;
    }

    // ------------------------------------------------------------------ ADD / ADC / SUB / SBB / CMP

    [TestCase(1, 0x7FUL, 1UL, 0x80UL, Of | Sf | Af)]
    [TestCase(1, 0xFFUL, 1UL, 0UL, Cf | Zf | Af | Pf)]
    [TestCase(1, 0x0FUL, 0x01UL, 0x10UL, Af)]
    [TestCase(2, 0x8000UL, 0x8000UL, 0UL, Cf | Zf | Of | Pf)]
    [TestCase(2, 0x1234UL, 0x4321UL, 0x5555UL, Pf)]
    [TestCase(4, 0xFFFF_FFFFUL, 1UL, 0UL, Cf | Zf | Af | Pf)]
    [TestCase(4, 0x7FFF_FFFFUL, 0x7FFF_FFFFUL, 0xFFFF_FFFEUL, Of | Sf | Af)]
    [TestCase(8, 0x7FFF_FFFF_FFFF_FFFFUL, 1UL, 0x8000_0000_0000_0000UL, Of | Sf | Af | Pf)]
    [TestCase(8, 0xFFFF_FFFF_FFFF_FFFFUL, 0xFFFF_FFFF_FFFF_FFFFUL, 0xFFFF_FFFF_FFFF_FFFEUL, Cf | Sf | Af)]
    public void Add_EachSize_ResultAndFlags(int size, ulong a, ulong b, ulong expected, ulong flags)
    {
        const ulong upper = 0xA5A5_A5A5_A5A5_A5A5;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        using var h = Run(asm =>
        {
            switch (size)
            {
                case 1: asm.add(al, bl); break;
                case 2: asm.add(ax, bx); break;
                case 4: asm.add(eax, ebx); break;
                default: asm.add(rax, rbx); break;
            }
        }, (upper & ~mask) | a, b, flags: Arith);
        // 8/16-bit writes merge, 32-bit writes zero-extend (SDM Vol. 1 §3.4.1.1 "General-Purpose Registers in 64-Bit Mode").
        ulong expectedRax = size switch
        {
            4 => expected,
            8 => expected,
            _ => (upper & ~mask) | expected,
        };
        Assert.That(h[Register.RAX], Is.EqualTo(expectedRax));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Add_HighByteRegisters_UsesAhAndBh()
    {
        using var h = Run(a => a.add(ah, bh), rax: 0x1234, rbx: 0x0F00);
        Assert.That(h[Register.RAX], Is.EqualTo(0x2134UL));
        Assert.That(h.Flags & Af, Is.EqualTo(Af));
    }

    [TestCase(0xFFUL, 0UL, true, 0UL, Cf | Zf | Af | Pf)]
    [TestCase(0x7FUL, 0x80UL, true, 0UL, Cf | Zf | Af | Pf)]
    [TestCase(0x7FUL, 0x00UL, true, 0x80UL, Of | Sf | Af)]
    [TestCase(0xFFUL, 0UL, false, 0xFFUL, Pf | Sf)]
    public void Adc_CarryIn_IsAdded(ulong a, ulong b, bool carry, ulong expected, ulong flags)
    {
        using var h = Run(asm => asm.adc(al, bl), a, b, carry ? Cf : 0);
        Assert.That(h[Register.AL], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [TestCase(5UL, 3UL, 2UL, 0UL)]
    [TestCase(3UL, 5UL, 0xFFFF_FFFE, Cf | Sf | Af)]
    [TestCase(0x8000_0000UL, 1UL, 0x7FFF_FFFFUL, Of | Af | Pf)]
    [TestCase(7UL, 7UL, 0UL, Zf | Pf)]
    public void Sub_Dword_ResultAndFlags(ulong a, ulong b, ulong expected, ulong flags)
    {
        using var h = Run(asm => asm.sub(eax, ebx), a, b, Arith);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Sbb_BorrowIn_SubtractsOne()
    {
        using var h = Run(a => a.sbb(rax, rbx), 0, 0, Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(ulong.MaxValue));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Sf | Af | Pf));
    }

    [Test]
    public void Sbb_EqualOperandsWithBorrow_SetsCarry()
    {
        // a - b - 1 with a == b borrows: the case the lazy CarryIn exists for.
        using var h = Run(a => a.sbb(bx, ax), 0x1234, 0x1234, Cf);
        Assert.That(h[Register.BX], Is.EqualTo(0xFFFFUL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Cmp_DoesNotWriteDestination()
    {
        using var h = Run(a => a.cmp(rax, rbx), 1, 2);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Sf | Af | Pf));
    }

    // ------------------------------------------------------------------ logic

    [Test]
    public void LogicOps_ClearCarryOverflowAndAux()
    {
        using var h = Run(a => a.and(eax, ebx), 0xF0F0_8000, 0xFFFF_8001, Arith);
        Assert.That(h[Register.RAX], Is.EqualTo(0xF0F0_8000UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Sf | Pf));
    }

    [TestCase(0x0FUL, 0xF0UL, 0xFFUL, Sf | Pf)]
    [TestCase(0UL, 0UL, 0UL, Zf | Pf)]
    public void Or_Byte_ResultAndFlags(ulong a, ulong b, ulong expected, ulong flags)
    {
        using var h = Run(asm => asm.or(al, bl), a, b, Cf | Of | Af);
        Assert.That(h[Register.AL], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Xor_SameRegister_ZeroesAndSetsZf()
    {
        using var h = Run(a => a.xor(rax, rax), 0x1234_5678_9ABC_DEF0, flags: Cf | Of);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Pf));
    }

    [Test]
    public void Test_SetsFlagsWithoutWriting()
    {
        using var h = Run(a => a.test(ax, bx), 0x8001, 0x8000);
        Assert.That(h[Register.AX], Is.EqualTo(0x8001UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Sf | Pf));
    }

    // ------------------------------------------------------------------ immediates

    [Test]
    public void Add_SignExtendedImm8_64Bit()
    {
        // 48 83 C0 FF: add rax, imm8 sign-extended to 64 bits.
        using var h = new CpuHarness();
        h.LoadBytes([0x48, 0x83, 0xC0, 0xFF]).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(ulong.MaxValue));
        Assert.That(h.Flags & Cf, Is.EqualTo(0UL));
    }

    [Test]
    public void Sub_SignExtendedImm32_64Bit()
    {
        using var h = Run(a => a.sub(rax, int.MinValue), rax: 0);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Pf));
    }

    [Test]
    public void Add_Imm8ToWord_SignExtends()
    {
        using var h = Run(a => a.add(bx, -2), rbx: 0xFFFF_0001);
        Assert.That(h[Register.RBX], Is.EqualTo(0xFFFF_FFFFUL));
    }

    [Test]
    public void Cmp_AccumulatorImmediate_ShortForm()
    {
        using var h = Run(a => a.cmp(al, 0x80), rax: 0x7F);
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Of | Sf | Pf));
    }

    // ------------------------------------------------------------------ INC / DEC / NEG / NOT

    [TestCase(0x7FUL, 0x80UL, Of | Sf | Af)]
    [TestCase(0xFFUL, 0x00UL, Zf | Af | Pf)]
    public void Inc_Byte_KeepsCarry(ulong a, ulong expected, ulong flags)
    {
        using var h = Run(asm => asm.inc(al), a, flags: Cf);
        Assert.That(h[Register.AL], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags | Cf));
    }

    [Test]
    public void Dec_MostNegative_SetsOverflowAndKeepsClearCarry()
    {
        using var h = Run(a => a.dec(eax), 0x8000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0x7FFF_FFFFUL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of | Af | Pf));
    }

    [Test]
    public void IncAfterAdd_KeepsCarryFromLazyAdd()
    {
        using var h = Run(a =>
        {
            a.add(al, bl);
            a.inc(ecx);
        }, 0xFF, 1);
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
        Assert.That(h[Register.ECX], Is.EqualTo(1UL));
    }

    [TestCase(0UL, 0UL, Zf | Pf)]
    [TestCase(5UL, 0xFBUL, Cf | Sf | Af)]
    [TestCase(0x80UL, 0x80UL, Cf | Of | Sf)]
    public void Neg_Byte_CarryIsSourceNonZero(ulong a, ulong expected, ulong flags)
    {
        using var h = Run(asm => asm.neg(al), a);
        Assert.That(h[Register.AL], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Neg_Qword_MostNegative_Overflows()
    {
        using var h = Run(a => a.neg(rax), 0x8000_0000_0000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Not_LeavesFlagsUnchanged()
    {
        using var h = Run(a => a.not(bx), rbx: 0x1_00FF, flags: Zf | Cf);
        Assert.That(h[Register.RBX], Is.EqualTo(0x1_FF00UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Cf));
    }

    [Test]
    public void IncDec_ShortRegisterForms_Protected32()
    {
        // 40+r / 48+r are INC/DEC outside 64-bit mode.
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.RAX] = 0xFFFF_FFFF;
        h[Register.RBX] = 0x10;
        h.LoadBytes([0x40, 0x66, 0x4B]).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0UL));
        Assert.That(h[Register.EBX], Is.EqualTo(0xFUL));
        Assert.That(h.Flags & Af, Is.EqualTo(Af));
    }

    [Test]
    public void AlternateEncodings_82AndF6r1_Protected32()
    {
        // 82 /0 ib (add r/m8, imm8; invalid in 64-bit mode) and F6 /1 ib (alias of TEST r/m8, imm8).
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.RAX] = 0xFB;
        h.LoadBytes([0x82, 0xC0, 0x05, 0xF6, 0xC8, 0x0F]).Run();
        Assert.That(h[Register.AL], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Zf | Cf), Is.EqualTo(Zf));
    }

    // ------------------------------------------------------------------ memory forms and modes

    [Test]
    public void Add_MemoryDestination_EveryMode([Values] CpuMode mode)
    {
        ulong data = DataFor(mode);
        using var h = new CpuHarness(mode);
        h.Memory.Write(data, 4, 0xFFFF_FFFF);
        h[Register.RBX] = data;
        h[Register.RAX] = 1;
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.add(__dword_ptr[bx], eax);
            }
            else if (mode == CpuMode.Protected32)
            {
                a.add(__dword_ptr[ebx], eax);
            }
            else
            {
                a.add(__dword_ptr[rbx], eax);
            }
        }).Run();
        Assert.That(h.Memory.Read(data, 4), Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Zf | Af | Pf));
    }

    [Test]
    public void Sub_MemorySource_EveryMode([Values] CpuMode mode)
    {
        ulong data = DataFor(mode);
        using var h = new CpuHarness(mode);
        h.Memory.Write(data + 2, 2, 0x0003);
        h[Register.RBX] = data;
        h[Register.RAX] = 0x0001;
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.sub(ax, __word_ptr[bx + 2]);
            }
            else if (mode == CpuMode.Protected32)
            {
                a.sub(ax, __word_ptr[ebx + 2]);
            }
            else
            {
                a.sub(ax, __word_ptr[rbx + 2]);
            }
        }).Run();
        Assert.That(h[Register.AX], Is.EqualTo(0xFFFEUL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Sf | Af));
    }

    [Test]
    public void AdcSbb_16BitOperands_InRealMode()
    {
        using var h = Run(a =>
        {
            a.add(ax, bx);
            a.adc(cx, 0);
        }, 0xFFFF, 0x0001, mode: CpuMode.Real16);
        Assert.That(h[Register.AX], Is.EqualTo(0UL));
        Assert.That(h[Register.CX], Is.EqualTo(1UL));
    }

    [Test]
    public void LockAdd_Memory_Executes()
    {
        using var h = new CpuHarness();
        h.Memory.Write(CpuHarness.DataAddress, 8, 41);
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RAX] = 1;
        h.Load(a => a.@lock.add(__qword_ptr[rbx], rax)).Run();
        Assert.That(h.Memory.Read(CpuHarness.DataAddress, 8), Is.EqualTo(42UL));
    }

    [Test]
    public void LockInc_Memory_Executes()
    {
        using var h = new CpuHarness();
        h.Memory.Write(CpuHarness.DataAddress, 2, 0xFFFF);
        h[Register.RBX] = CpuHarness.DataAddress;
        h.Load(a => a.@lock.inc(__word_ptr[rbx])).Run();
        Assert.That(h.Memory.Read(CpuHarness.DataAddress, 2), Is.EqualTo(0UL));
    }

    // SDM Vol. 2A §2.1.1 "Instruction Prefixes": LOCK on a register destination or a non-lockable
    // instruction raises #UD.
    [TestCase(new byte[] { 0xF0, 0x01, 0xD8 }, TestName = "Lock_RegisterDestination_RaisesUd(lock add eax,ebx)")]
    [TestCase(new byte[] { 0xF0, 0x39, 0x03 }, TestName = "Lock_Cmp_RaisesUd(lock cmp [rbx],eax)")]
    [TestCase(new byte[] { 0xF0, 0x85, 0x03 }, TestName = "Lock_Test_RaisesUd(lock test [rbx],eax)")]
    [TestCase(new byte[] { 0xF0, 0xF7, 0xD8 }, TestName = "Lock_NegRegister_RaisesUd(lock neg eax)")]
    public void Lock_Invalid_RaisesUd(byte[] code)
    {
        using var h = new CpuHarness();
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RAX] = 7;
        h.LoadBytes(code);
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
        Assert.That(h[Register.RAX], Is.EqualTo(7UL));
    }

    [Test]
    public void Add_NonCanonicalMemory_FaultsWithoutSideEffects()
    {
        using var h = new CpuHarness();
        h[Register.RAX] = 0x8000_0000_0000_0000;
        h[Register.RBX] = 5;
        h.Cpu.Rflags = 2 | Zf | Cf;
        h.Load(a => a.add(__dword_ptr[rax], ebx));
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.State.GetRflags() & Arith, Is.EqualTo(Zf | Cf));
    }

    // ------------------------------------------------------------------ hot path

    [Test]
    public void AluHandlers_WarmLoop_DoNotAllocate()
    {
        using var h = new CpuHarness();
        h[Register.RBX] = CpuHarness.DataAddress;
        h.Load(a =>
        {
            a.add(eax, 3);
            a.adc(__qword_ptr[rbx], rax);
            a.sbb(cl, dl);
            a.cmp(rax, rcx);
            a.xor(edx, eax);
            a.inc(r8);
            a.neg(r9w);
            a.not(r10);
            a.test(__byte_ptr[rbx + 1], 0x40);
        });
        h.Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int n = 0; n < 1000; n++)
        {
            h.Cpu.State.Rip = h.StartRip;
            h.Run();
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
