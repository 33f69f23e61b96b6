using System.Numerics;
using System.Runtime.Intrinsics.X86;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class BitTests
{
    private const ulong Cf = CpuState.FlagCf;
    private const ulong Pf = CpuState.FlagPf;
    private const ulong Af = CpuState.FlagAf;
    private const ulong Zf = CpuState.FlagZf;
    private const ulong Sf = CpuState.FlagSf;
    private const ulong Of = CpuState.FlagOf;
    private const ulong Arith = CpuState.ArithMask;
    private const ulong Data = CpuHarness.DataAddress;

    private static CpuHarness Run(Action<Assembler> code, ulong rax = 0, ulong rbx = 0, ulong rcx = 0, ulong rdx = 0, ulong flags = 0, CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        h[Register.RAX] = rax;
        h[Register.RBX] = rbx;
        h[Register.RCX] = rcx;
        h[Register.RDX] = rdx;
        h.Cpu.Rflags = 2 | flags;
        h.Load(code).Run();
        return h;
    }

    // ------------------------------------------------------------------ BT family, register base

    [Test]
    public void Bt_Register_SetsOnlyCarry()
    {
        using var h = Run(a => a.bt(eax, ebx), rax: 0x10, rbx: 36, flags: Zf | Sf | Of | Pf | Af);
        // Offset 36 mod 32 = 4.
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Zf | Sf | Of | Pf | Af));
        Assert.That(h[Register.RAX], Is.EqualTo(0x10UL));
    }

    [Test]
    public void Bts_Qword_Immediate63_SetsTopBit()
    {
        using var h = Run(a => a.bts(rax, 63), rax: 1, flags: Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0001UL));
        Assert.That(h.Flags & Cf, Is.Zero);
    }

    [Test]
    public void Bts_Qword_ImmediateModulo64()
    {
        using var h = Run(a => a.bts(rax, 64 + 63), rax: 0x8000_0000_0000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Btr_Word_ImmediateModulo16()
    {
        using var h = Run(a => a.btr(ax, 17), rax: 0xFFFF_FFFF);
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFDUL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Btc_Dword_ZeroExtendsDestination()
    {
        using var h = Run(a => a.btc(eax, ebx), rax: 0xFFFF_FFFF_0000_0000, rbx: 31);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000UL));
        Assert.That(h.Flags & Cf, Is.Zero);
    }

    // ------------------------------------------------------------------ bit-string addressing

    // SDM Vol. 2A "BT—Bit Test": with a register offset and a memory base the offset is signed and
    // may select a bit outside the addressed operand.
    [TestCase(100L, 12UL, 4)]
    [TestCase(-1L, unchecked((ulong)-4L), 31)]
    [TestCase(-33L, unchecked((ulong)-8L), 31)]
    [TestCase(0x7F_FFFFL, 0xF_FFFCUL, 31)]
    public void Bts_MemoryDwordRegisterOffset_AddressesBitString(long offset, ulong byteOffset, int bit)
    {
        ulong baseAddr = Data + 0x1000;
        using var h = new CpuHarness();
        h[Register.RBX] = baseAddr;
        h[Register.RAX] = (ulong)offset;
        h.Load(a => a.bts(__dword_ptr[rbx], eax)).Run();
        Assert.That(h.Memory.Read(baseAddr + byteOffset, 4), Is.EqualTo(1UL << bit));
        Assert.That(h.Flags & Cf, Is.Zero);
    }

    [Test]
    public void Bt_MemoryWord_NegativeOffsetReadsWordBelow()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data - 2, 2, 0x8000);
        h[Register.RBX] = Data;
        h[Register.RAX] = 0xFFFF;
        h.Load(a => a.bt(__word_ptr[rbx], ax)).Run();
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Btc_MemoryQword_LargeOffset()
    {
        using var h = new CpuHarness();
        h[Register.RBX] = Data;
        h[Register.RAX] = 64 * 3 + 5;
        h.Load(a => a.btc(__qword_ptr[rbx], rax)).Run();
        Assert.That(h.Memory.Read(Data + 24, 8), Is.EqualTo(1UL << 5));
    }

    [Test]
    public void Bt_MemoryImmediate_OffsetModuloOperandSize()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 4, 0x2);
        h.Memory.Write(Data + 4, 4, 0);
        h[Register.RBX] = Data;
        h.Load(a => a.bt(__dword_ptr[rbx], 33)).Run();
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf), "bit 33 of a dword immediate form is bit 1 of [rbx]");
    }

    [Test]
    public void Bts_RealMode_BitStringWrapsAt64K()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h[Register.RBX] = 0;
        h[Register.RAX] = 0xFFF0; // -16: the word at BX - 2 = 0xFFFE.
        h.Load(a => a.bts(__word_ptr[bx], ax)).Run();
        Assert.That(h.Memory.Read(0xFFFE, 2), Is.EqualTo(1UL));
    }

    [Test]
    public void BtFamily_Memory_Protected32([Values("bt", "bts", "btr", "btc")] string op)
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Memory.Write(Data + 4, 4, 0x0000_0100);
        h[Register.RBX] = Data;
        h[Register.RCX] = 40;
        h.Load(a =>
        {
            switch (op)
            {
                case "bt": a.bt(__dword_ptr[ebx], ecx); break;
                case "bts": a.bts(__dword_ptr[ebx], ecx); break;
                case "btr": a.btr(__dword_ptr[ebx], ecx); break;
                default: a.btc(__dword_ptr[ebx], ecx); break;
            }
        }).Run();
        ulong expected = op switch { "bts" => 0x100UL, "bt" => 0x100UL, _ => 0UL };
        Assert.That(h.Memory.Read(Data + 4, 4), Is.EqualTo(expected));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void LockBts_Memory_Executes()
    {
        using var h = new CpuHarness();
        h[Register.RBX] = Data;
        h[Register.RAX] = 9;
        h.Load(a => a.@lock.bts(__dword_ptr[rbx], eax)).Run();
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(0x200UL));
    }

    // SDM Vol. 2A "BT—Bit Test": #UD if the LOCK prefix is used; BTS/BTR/BTC with a register
    // destination likewise.
    [TestCase(new byte[] { 0xF0, 0x0F, 0xA3, 0x03 }, TestName = "Lock_BtMemory_RaisesUd")]
    [TestCase(new byte[] { 0xF0, 0x0F, 0xAB, 0xC3 }, TestName = "Lock_BtsRegister_RaisesUd")]
    [TestCase(new byte[] { 0xF0, 0x0F, 0xBC, 0x03 }, TestName = "Lock_Bsf_RaisesUd")]
    public void Lock_Invalid_RaisesUd(byte[] code)
    {
        using var h = new CpuHarness();
        h[Register.RBX] = Data;
        h.LoadBytes(code);
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    // ------------------------------------------------------------------ BSF / BSR

    [Test]
    public void Bsf_FindsLowestSetBit()
    {
        using var h = Run(a => a.bsf(rax, rbx), rbx: 0x0100_0000_0000_1000, flags: Zf);
        Assert.That(h[Register.RAX], Is.EqualTo(12UL));
        Assert.That(h.Flags & Zf, Is.Zero);
    }

    [Test]
    public void Bsr_Word_FindsHighestSetBit()
    {
        using var h = Run(a => a.bsr(ax, bx), rax: 0xFFFF_0000, rbx: 0x0_8001);
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_000FUL));
        Assert.That(h.Flags & Zf, Is.Zero);
    }

    [Test]
    public void Bsf_IndexZero_ClearsZf()
    {
        using var h = Run(a => a.bsf(ecx, edx), rdx: 1, flags: Zf);
        Assert.That(h[Register.RCX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Zf, Is.Zero);
    }

    [Test]
    public void BsfBsr_ZeroSource_SetZfAndKeepWholeDestination([Values] bool reverse)
    {
        using var h = Run(a =>
        {
            if (reverse)
            {
                a.bsr(eax, ebx);
            }
            else
            {
                a.bsf(eax, ebx);
            }
        }, rax: 0xDEAD_BEEF_1234_5678, rbx: 0xFFFF_FFFF_0000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(0xDEAD_BEEF_1234_5678UL));
        Assert.That(h.Flags & Zf, Is.EqualTo(Zf));
    }

    [Test]
    public void Bsf_MemorySource_RealMode()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h.Memory.Write(0x9000, 2, 0x0040);
        h[Register.RBX] = 0x9000;
        h.Load(a => a.bsf(cx, __word_ptr[bx])).Run();
        Assert.That(h[Register.CX], Is.EqualTo(6UL));
    }

    // ------------------------------------------------------------------ POPCNT / LZCNT / TZCNT

    [TestCase(0UL, 0UL, Zf)]
    [TestCase(0xFFUL, 8UL, 0UL)]
    [TestCase(ulong.MaxValue, 64UL, 0UL)]
    public void Popcnt_Qword(ulong src, ulong count, ulong flags)
    {
        using var h = Run(a => a.popcnt(rax, rbx), rbx: src, flags: Cf | Of | Sf | Af | Pf);
        Assert.That(h[Register.RAX], Is.EqualTo(count));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Popcnt_Word_CountsLow16Only()
    {
        using var h = Run(a => a.popcnt(ax, bx), rbx: 0xFFFF_0003);
        Assert.That(h[Register.AX], Is.EqualTo(2UL));
    }

    [TestCase(0UL, 32UL, Cf)]
    [TestCase(0x8000_0000UL, 0UL, Zf)]
    [TestCase(0x0001_0000UL, 15UL, 0UL)]
    public void Lzcnt_Dword(ulong src, ulong count, ulong flags)
    {
        using var h = Run(a => a.lzcnt(eax, ebx), rbx: src | 0xFFFF_FFFF_0000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(count));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo(flags));
    }

    [TestCase(0UL, 16UL, Cf)]
    [TestCase(0x0001UL, 0UL, Zf)]
    [TestCase(0x8000UL, 15UL, 0UL)]
    public void Tzcnt_Word(ulong src, ulong count, ulong flags)
    {
        using var h = Run(a => a.tzcnt(ax, bx), rbx: src | 0xF_0000);
        Assert.That(h[Register.AX], Is.EqualTo(count));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo(flags));
    }

    [Test]
    public void Tzcnt_Qword_Zero_Is64()
    {
        using var h = Run(a => a.tzcnt(rax, rbx), rbx: 0);
        Assert.That(h[Register.RAX], Is.EqualTo(64UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    // ------------------------------------------------------------------ BSWAP / MOVBE

    [Test]
    public void Bswap_Dword_And_Qword()
    {
        using var h = Run(a =>
        {
            a.bswap(eax);
            a.bswap(rbx);
        }, rax: 0xFFFF_FFFF_1122_3344, rbx: 0x0102_0304_0506_0708);
        Assert.That(h[Register.RAX], Is.EqualTo(0x4433_2211UL));
        Assert.That(h[Register.RBX], Is.EqualTo(0x0807_0605_0403_0201UL));
    }

    [Test]
    public void Bswap_Word_ClearsLowWord()
    {
        // Undefined in the SDM; Intel and AMD parts clear the word (checked by the differential test).
        using var h = Run(a => a.bswap(ax), rax: 0x1122_3344);
        Assert.That(h[Register.RAX], Is.EqualTo(0x1122_0000UL));
    }

    [Test]
    public void Movbe_LoadAndStore_EachSize()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x0807_0605_0403_0201);
        h[Register.RBX] = Data;
        h[Register.RCX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RSI] = 0xAABB;
        h.Load(a =>
        {
            a.movbe(ax, __word_ptr[rbx]);
            a.movbe(ecx, __dword_ptr[rbx]);
            a.movbe(rdx, __qword_ptr[rbx]);
            a.movbe(__word_ptr[rbx + 16], si);
            a.movbe(__qword_ptr[rbx + 24], rdx);
        }).Run();
        Assert.That(h[Register.AX], Is.EqualTo(0x0102UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0x0102_0304UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x0102_0304_0506_0708UL));
        Assert.That(h.Memory.Read(Data + 16, 2), Is.EqualTo(0xBBAAUL));
        Assert.That(h.Memory.Read(Data + 24, 8), Is.EqualTo(0x0807_0605_0403_0201UL));
    }

    // ------------------------------------------------------------------ BMI1

    [Test]
    public void Andn_ComplementsFirstSource()
    {
        using var h = Run(a => a.andn(rax, rbx, rcx), rbx: 0xFF00, rcx: 0xFFFF, flags: Cf | Of);
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFUL));
        Assert.That(h.Flags & (Cf | Of | Zf | Sf), Is.Zero);
    }

    [Test]
    public void Andn_ZeroResult_SetsZf()
    {
        using var h = Run(a => a.andn(eax, ebx, ecx), rbx: 0xFFFF_FFFF, rcx: 0x1234);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Zf, Is.EqualTo(Zf));
    }

    [TestCase(0x0804UL, 0xABCD_EF12UL, 0xF1UL)]
    [TestCase(0x2000UL, 0xABCD_EF12UL, 0xABCD_EF12UL)]
    [TestCase(0x0820UL, 0xABCD_EF12UL, 0UL)]
    [TestCase(0x0000UL, 0xABCD_EF12UL, 0UL)]
    public void Bextr_Dword_StartAndLength(ulong control, ulong src, ulong expected)
    {
        using var h = Run(a => a.bextr(eax, ebx, ecx), rbx: src, rcx: control);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & Zf, Is.EqualTo(expected == 0 ? Zf : 0));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    [TestCase(0b1011_0000UL, 0b0001_0000UL, 0UL)]
    [TestCase(0UL, 0UL, Zf)]
    public void Blsi_IsolatesLowestBit(ulong src, ulong expected, ulong zf)
    {
        using var h = Run(a => a.blsi(rax, rbx), rbx: src);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo((src != 0 ? Cf : 0) | zf));
    }

    [TestCase(0b1011_0000UL, 0b0001_1111UL, 0UL)]
    [TestCase(0UL, 0xFFFF_FFFFUL, Cf)]
    public void Blsmsk_MaskUpToLowestBit(ulong src, ulong expected, ulong cf)
    {
        using var h = Run(a => a.blsmsk(eax, ebx), rbx: src);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo(cf));
    }

    [TestCase(0b1011_0000UL, 0b1010_0000UL, 0UL)]
    [TestCase(0UL, 0UL, Cf | Zf)]
    [TestCase(0x8000_0000_0000_0000UL, 0UL, Zf)]
    public void Blsr_ResetsLowestBit(ulong src, ulong expected, ulong flags)
    {
        using var h = Run(a => a.blsr(rax, rbx), rbx: src);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo(flags));
    }

    [Test]
    public void Andn_InRealMode_RaisesUd()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h.Load(a => a.andn(eax, ebx, ecx));
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    // ------------------------------------------------------------------ BMI2

    [TestCase(8UL, 0xFFFF_FFFF_FFFF_FFFFUL, 0xFFUL, 0UL)]
    [TestCase(64UL, 0x1234UL, 0x1234UL, Cf)]
    [TestCase(0x1_0003UL, 0xFFUL, 0x7UL, 0UL)]
    [TestCase(0UL, 0xFFUL, 0UL, Zf)]
    public void Bzhi_Qword_IndexFromLowByte(ulong index, ulong src, ulong expected, ulong flags)
    {
        using var h = Run(a => a.bzhi(rax, rbx, rcx), rbx: src, rcx: index);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & (Cf | Zf | Of), Is.EqualTo(flags));
    }

    [Test]
    public void Pdep_Pext_Dword()
    {
        using var h = Run(a =>
        {
            a.pdep(eax, ebx, ecx);
            a.pext(edx, ebx, ecx);
        }, rbx: 0b1011, rcx: 0xF0F0, flags: Zf | Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(0b1011_0000UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Cf));
    }

    [Test]
    public void Pext_Qword_MemoryMask()
    {
        using var h = new CpuHarness();
        h.Memory.Write(Data, 8, 0x8000_0000_0000_00FF);
        h[Register.RBX] = Data;
        h[Register.RCX] = 0x8000_0000_0000_0081;
        h.Load(a => a.pext(rax, rcx, __qword_ptr[rbx])).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0b1_1000_0001UL));
    }

    [Test]
    public void ParallelBits_ScalarFallback_KnownVectors()
    {
        Assert.That(Handlers.ParallelBitDepositScalar(0b101, 0b1110_0000), Is.EqualTo(0b1010_0000UL));
        Assert.That(Handlers.ParallelBitExtractScalar(0b1010_0000, 0b1110_0000), Is.EqualTo(0b101UL));
        Assert.That(Handlers.ParallelBitDepositScalar(ulong.MaxValue, 0), Is.EqualTo(0UL));
        Assert.That(Handlers.ParallelBitExtractScalar(ulong.MaxValue, ulong.MaxValue), Is.EqualTo(ulong.MaxValue));
        Assert.That(Handlers.ParallelBitDepositScalar(1, 0x8000_0000_0000_0000), Is.EqualTo(0x8000_0000_0000_0000UL));
    }

    [Test]
    public void ParallelBits_ScalarFallback_MatchesBmi2Hardware()
    {
        if (!Bmi2.X64.IsSupported)
        {
            Assert.Ignore("host has no BMI2");
        }
        var rng = new Random(1234);
        for (int n = 0; n < 20000; n++)
        {
            ulong v = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40);
            ulong m = (ulong)rng.NextInt64() & ((ulong)rng.NextInt64() | ((ulong)rng.Next() << 33));
            Assert.That(Handlers.ParallelBitDepositScalar(v, m), Is.EqualTo(Bmi2.X64.ParallelBitDeposit(v, m)));
            Assert.That(Handlers.ParallelBitExtractScalar(v, m), Is.EqualTo(Bmi2.X64.ParallelBitExtract(v, m)));
        }
    }

    [Test]
    public void Mulx_Qword_NoFlags()
    {
        using var h = Run(a => a.mulx(rax, rbx, rcx), rdx: ulong.MaxValue, rcx: 2, flags: Zf);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h[Register.RBX], Is.EqualTo(ulong.MaxValue - 1));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf));
    }

    [Test]
    public void Mulx_SameDestinations_KeepsHighHalf()
    {
        using var h = Run(a => a.mulx(eax, eax, ecx), rdx: 0x8000_0000, rcx: 6);
        Assert.That(h[Register.RAX], Is.EqualTo(3UL));
    }

    // ------------------------------------------------------------------ ADX

    [Test]
    public void Adcx_UsesAndSetsOnlyCarry()
    {
        using var h = Run(a => a.adcx(rax, rbx), rax: ulong.MaxValue, rbx: 0, flags: Cf | Of | Zf);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Of | Zf));
    }

    [Test]
    public void Adox_UsesAndSetsOnlyOverflow()
    {
        using var h = Run(a => a.adox(eax, ebx), rax: 0xFFFF_FFFF_FFFF_FFFE, rbx: 1, flags: Of | Sf);
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of | Sf));
    }

    [Test]
    public void AdcxAdox_IndependentCarryChains()
    {
        using var h = Run(a =>
        {
            a.adcx(rax, rbx);
            a.adox(rcx, rdx);
            a.adcx(rax, rbx);
        }, rax: ulong.MaxValue, rbx: 1, rcx: 5, rdx: 6, flags: 0);
        Assert.That(h[Register.RAX], Is.EqualTo(2UL));
        Assert.That(h[Register.RCX], Is.EqualTo(11UL));
        Assert.That(h.Flags & (Cf | Of), Is.Zero);
    }

    // ------------------------------------------------------------------ CRC32

    [Test]
    public void Crc32_StandardCheckValue()
    {
        // CRC-32C("123456789") = E3069283H with the customary pre- and post-inversion.
        byte[] text = "123456789"u8.ToArray();
        using var h = new CpuHarness();
        h.Memory.TryWriteBytes(Data, text);
        h[Register.RBX] = Data;
        h[Register.RAX] = 0xFFFF_FFFF;
        h.Load(a =>
        {
            a.crc32(rax, __qword_ptr[rbx]);
            a.crc32(eax, __byte_ptr[rbx + 8]);
        }).Run();
        Assert.That(h[Register.RAX] ^ 0xFFFF_FFFF, Is.EqualTo(0xE306_9283UL));
    }

    [Test]
    public void Crc32_EachSourceSize_MatchesReference()
    {
        using var h = Run(a =>
        {
            a.crc32(eax, bl);
            a.crc32(eax, bx);
            a.crc32(eax, ebx);
            a.crc32(rcx, rbx);
            a.crc32(rdx, bl);
        }, rax: 0x1234_5678, rbx: 0x0123_4567_89AB_CDEF, rcx: 0xFFFF_FFFF_0000_0001, rdx: 0xAAAA_AAAA_5555_5555);
        uint crc = 0x1234_5678;
        crc = BitOperations.Crc32C(crc, (byte)0xEF);
        crc = BitOperations.Crc32C(crc, (ushort)0xCDEF);
        crc = BitOperations.Crc32C(crc, 0x89AB_CDEFu);
        Assert.That(h[Register.RAX], Is.EqualTo((ulong)crc));
        Assert.That(h[Register.RCX], Is.EqualTo((ulong)BitOperations.Crc32C(1u, 0x0123_4567_89AB_CDEFUL)), "64-bit destination: low doubleword accumulated, upper half zeroed");
        Assert.That(h[Register.RDX], Is.EqualTo((ulong)BitOperations.Crc32C(0x5555_5555u, (byte)0xEF)));
    }

    // ------------------------------------------------------------------ hot path

    [Test]
    public void BitHandlers_WarmLoop_DoNotAllocate()
    {
        using var h = new CpuHarness();
        h[Register.RBX] = Data;
        h[Register.RCX] = 77;
        h.Load(a =>
        {
            a.bts(__qword_ptr[rbx], rcx);
            a.bt(eax, 3);
            a.bsf(edx, ecx);
            a.popcnt(rsi, rcx);
            a.tzcnt(rdi, rcx);
            a.andn(r8, r9, r10);
            a.pdep(r11, rcx, r10);
            a.mulx(r12, r13, rcx);
            a.adox(r14, rcx);
            a.crc32(rax, rcx);
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
