using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class ShiftTests
{
    private const ulong Cf = CpuState.FlagCf;
    private const ulong Pf = CpuState.FlagPf;
    private const ulong Af = CpuState.FlagAf;
    private const ulong Zf = CpuState.FlagZf;
    private const ulong Sf = CpuState.FlagSf;
    private const ulong Of = CpuState.FlagOf;
    private const ulong Arith = CpuState.ArithMask;

    private static CpuHarness Run(Action<Assembler> code, ulong rax = 0, ulong rcx = 0, ulong rbx = 0, ulong flags = 0, CpuMode mode = CpuMode.Long64)
    {
        var h = new CpuHarness(mode);
        h[Register.RAX] = rax;
        h[Register.RCX] = rcx;
        h[Register.RBX] = rbx;
        h.Cpu.Rflags = 2 | flags;
        h.Load(code).Run();
        return h;
    }

    // ------------------------------------------------------------------ SHL / SHR / SAR

    [Test]
    public void Shl_ByOne_CarryAndOverflowFromTopBits()
    {
        using var h = Run(a => a.shl(al, 1), rax: 0x40);
        Assert.That(h[Register.AL], Is.EqualTo(0x80UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of | Sf));
    }

    [TestCase(0xC000_0001UL, 1, 0x8000_0002UL, Cf | Sf)]
    [TestCase(0x8000_0000UL, 1, 0UL, Cf | Of | Zf | Pf)]
    [TestCase(0x0000_0003UL, 4, 0x30UL, Pf)]
    public void Shl_Dword_ResultAndFlags(ulong value, int count, ulong expected, ulong flags)
    {
        using var h = Run(a => a.shl(eax, cl), rax: value, rcx: (ulong)count, flags: Af);
        Assert.That(h[Register.RAX], Is.EqualTo(expected));
        Assert.That(h.Flags & Arith, Is.EqualTo(flags));
    }

    [Test]
    public void Shl_CountMaskedTo5Bits_For32Bit()
    {
        using var h = Run(a => a.shl(eax, cl), rax: 1, rcx: 33);
        Assert.That(h[Register.RAX], Is.EqualTo(2UL));
    }

    [Test]
    public void Shl_CountMaskedTo6Bits_For64Bit()
    {
        using var h = Run(a => a.shl(rax, cl), rax: 1, rcx: 64 + 40);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL << 40));
    }

    [Test]
    public void Shl_ByteCountBeyondWidth_ClearsResultAndCarry()
    {
        // Count 9 on a byte: the masked count is not reduced modulo 8.
        using var h = Run(a => a.shl(bl, cl), rcx: 9, rbx: 0xFF);
        Assert.That(h[Register.BL], Is.EqualTo(0UL));
        Assert.That(h.Flags & (Cf | Zf), Is.EqualTo(Zf));
    }

    [Test]
    public void Shl_ByteCountEqualsWidth_CarryIsBitZero()
    {
        using var h = Run(a => a.shl(bl, cl), rcx: 8, rbx: 0x01);
        Assert.That(h[Register.BL], Is.EqualTo(0UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Shift_CountZero_LeavesFlagsAndByteUnchanged()
    {
        using var h = Run(a => a.shl(bl, cl), rcx: 32, rbx: 0x81, flags: Of | Cf | Zf);
        Assert.That(h[Register.BL], Is.EqualTo(0x81UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of | Cf | Zf));
    }

    [Test]
    public void Shift_CountZero_StillZeroExtends32BitRegister()
    {
        using var h = Run(a => a.sar(eax, 0), rax: 0xFFFF_FFFF_8000_0000, flags: Sf);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Sf));
    }

    [Test]
    public void Shr_ByOne_OverflowIsOriginalSign()
    {
        using var h = Run(a => a.shr(ax, 1), rax: 0x8001);
        Assert.That(h[Register.AX], Is.EqualTo(0x4000UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Cf | Of | Pf));
    }

    [Test]
    public void Shr_Qword_LastBitOutIsCarry()
    {
        using var h = Run(a => a.shr(rax, 63), rax: 0x8000_0000_0000_0000);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h.Flags & (Cf | Zf), Is.Zero);
    }

    [Test]
    public void Sar_Negative_FillsWithSign()
    {
        using var h = Run(a => a.sar(ax, 4), rax: 0x8010);
        Assert.That(h[Register.AX], Is.EqualTo(0xF801UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Sf));
    }

    [Test]
    public void Sar_ByteCountBeyondWidth_AllSignBits()
    {
        using var h = Run(a => a.sar(bl, cl), rcx: 20, rbx: 0x80);
        Assert.That(h[Register.BL], Is.EqualTo(0xFFUL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf));
    }

    // Undefined flags (see Shift.cs): for counts above 1, OF = CF XOR MSB(result) for SHL, 0 for
    // SHR and SAR; AF cleared.
    [Test]
    public void Shl_MultiBitCount_OverflowFollowsCountOneFormula()
    {
        using var h = Run(a => a.shl(al, 3), rax: 0x10, flags: Af);
        Assert.That(h[Register.AL], Is.EqualTo(0x80UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Sf | Of));
    }

    [Test]
    public void ShlShr_MemoryOperand_EveryMode([Values] CpuMode mode)
    {
        ulong data = AluTests.DataFor(mode);
        using var h = new CpuHarness(mode);
        h.Memory.Write(data, 4, 0x8000_0001);
        h.Memory.Write(data + 4, 2, 0x0003);
        h[Register.RBX] = data;
        h[Register.RCX] = 1;
        h.Load(a =>
        {
            if (mode == CpuMode.Real16)
            {
                a.shl(__dword_ptr[bx], 4);
                a.shr(__word_ptr[bx + 4], cl);
            }
            else if (mode == CpuMode.Protected32)
            {
                a.shl(__dword_ptr[ebx], 4);
                a.shr(__word_ptr[ebx + 4], cl);
            }
            else
            {
                a.shl(__dword_ptr[rbx], 4);
                a.shr(__word_ptr[rbx + 4], cl);
            }
        }).Run();
        Assert.That(h.Memory.Read(data, 4), Is.EqualTo(0x10UL));
        Assert.That(h.Memory.Read(data + 4, 2), Is.EqualTo(1UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    // ------------------------------------------------------------------ ROL / ROR

    [Test]
    public void Rol_OnlyChangesCarryAndOverflow()
    {
        using var h = Run(a => a.rol(al, 1), rax: 0x81, flags: Zf | Sf | Pf | Af);
        Assert.That(h[Register.AL], Is.EqualTo(0x03UL));
        // CF = LSB(result) = 1; OF = MSB(result) XOR CF = 1.
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Sf | Pf | Af | Cf | Of));
    }

    [Test]
    public void Rol_ByteByEight_ValueUnchangedCarryIsBitZero()
    {
        using var h = Run(a => a.rol(bl, cl), rcx: 8, rbx: 0x01);
        Assert.That(h[Register.BL], Is.EqualTo(0x01UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Ror_Qword_CarryIsNewMsb()
    {
        using var h = Run(a => a.ror(rax, 4), rax: 0x0000_0000_0000_0018);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000_0000_0001UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Ror_ByOne_OverflowIsXorOfTopTwoBits()
    {
        using var h = Run(a => a.ror(ax, 1), rax: 0x0001);
        Assert.That(h[Register.AX], Is.EqualTo(0x8000UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    // ------------------------------------------------------------------ RCL / RCR

    [Test]
    public void Rcl_Byte_RotatesThroughCarry()
    {
        using var h = Run(a => a.rcl(al, 1), rax: 0x80, flags: Cf);
        Assert.That(h[Register.AL], Is.EqualTo(0x01UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Rcl_ByteCountNine_IsIdentity()
    {
        // SDM "RCL/RCR/ROL/ROR—Rotate": 8-bit RCL/RCR rotate by count MOD 9.
        using var h = Run(a => a.rcl(bl, cl), rcx: 9, rbx: 0x5A, flags: Cf | Of);
        Assert.That(h[Register.BL], Is.EqualTo(0x5AUL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Rcl_WordCount17_IsIdentityAndCount18IsOne()
    {
        using var h = Run(a =>
        {
            a.rcl(bx, cl);
            a.inc(cl);
            a.rcl(bx, cl);
        }, rcx: 17, rbx: 0x8001);
        Assert.That(h[Register.BX], Is.EqualTo(0x0002UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Rcr_Dword_RotatesCarryIntoMsb()
    {
        using var h = Run(a => a.rcr(eax, 1), rax: 0x0000_0002, flags: Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0001UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Of));
    }

    [Test]
    public void Rcl_Qword_ByOne()
    {
        using var h = Run(a => a.rcl(rax, 1), rax: 0x8000_0000_0000_0001, flags: 0);
        Assert.That(h[Register.RAX], Is.EqualTo(2UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf | Of));
    }

    [Test]
    public void Rcr_Qword_ByOne()
    {
        using var h = Run(a => a.rcr(rax, 1), rax: 0x8000_0000_0000_0001, flags: Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(0xC000_0000_0000_0000UL));
        Assert.That(h.Flags & (Cf | Of), Is.EqualTo(Cf));
    }

    [Test]
    public void Rcr_Qword_By63()
    {
        using var h = Run(a => a.rcr(rax, cl), rax: 0x8000_0000_0000_0000, rcx: 63, flags: Cf);
        // A 65-bit rotate right by 63 is a rotate left by 2: CF:value = 1:1000…0 becomes 0:0…011.
        Assert.That(h[Register.RAX], Is.EqualTo(3UL));
        Assert.That(h.Flags & Cf, Is.Zero);
    }

    [Test]
    public void Rcr_MemoryWord_InRealMode()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h.Memory.Write(0x9000, 2, 0x0001);
        h[Register.RBX] = 0x9000;
        h.Cpu.Rflags = 2 | Cf;
        h.Load(a => a.rcr(__word_ptr[bx], 1)).Run();
        Assert.That(h.Memory.Read(0x9000, 2), Is.EqualTo(0x8000UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    // ------------------------------------------------------------------ SHLD / SHRD

    [Test]
    public void Shld_Dword_FillsFromSource()
    {
        using var h = Run(a => a.shld(eax, ebx, 8), rax: 0x1122_3344, rbx: 0xAABB_CCDD);
        Assert.That(h[Register.RAX], Is.EqualTo(0x2233_44AAUL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Shrd_Qword_FillsFromSource()
    {
        using var h = Run(a => a.shrd(rax, rbx, cl), rax: 0x1122_3344_5566_7788, rbx: 0xAABB, rcx: 16);
        Assert.That(h[Register.RAX], Is.EqualTo(0xAABB_1122_3344_5566UL));
        Assert.That(h.Flags & Cf, Is.EqualTo(0UL));
    }

    [Test]
    public void Shld_Word_CountSixteen_ResultIsSource()
    {
        using var h = Run(a => a.shld(ax, bx, 16), rax: 0x0001, rbx: 0xBEEF);
        Assert.That(h[Register.AX], Is.EqualTo(0xBEEFUL));
        Assert.That(h.Flags & Cf, Is.EqualTo(Cf));
    }

    [Test]
    public void Shld_Word_CountAboveSixteen_ShiftsDestSrcSrc()
    {
        // Undefined in the SDM; P6+ and AMD shift the 48-bit dest:src:src (checked against the host
        // by the differential test).
        using var h = Run(a => a.shld(ax, bx, cl), rax: 0x1234, rbx: 0x8001, rcx: 17);
        Assert.That(h[Register.AX], Is.EqualTo(0x0003UL));
    }

    [Test]
    public void Shrd_CountZero_ZeroExtendsAndKeepsFlags()
    {
        using var h = Run(a => a.shrd(eax, ebx, cl), rax: 0xFFFF_FFFF_0000_0001, rbx: 5, rcx: 32, flags: Of | Zf);
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of | Zf));
    }

    [Test]
    public void Shrd_MemoryDestination_Protected32()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Memory.Write(CpuHarness.DataAddress, 4, 0x0000_00F0);
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RDX] = 0x0F;
        h.Load(a => a.shrd(__dword_ptr[ebx], edx, 4)).Run();
        Assert.That(h.Memory.Read(CpuHarness.DataAddress, 4), Is.EqualTo(0xF000_000FUL));
    }

    // ------------------------------------------------------------------ BMI2 shifts

    [Test]
    public void Shlx_NoFlagsAndCountMasked()
    {
        using var h = Run(a => a.shlx(eax, ebx, ecx), rbx: 1, rcx: 33, flags: Zf | Cf);
        Assert.That(h[Register.RAX], Is.EqualTo(2UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Zf | Cf));
    }

    [Test]
    public void Sarx_Qword_SignFills()
    {
        using var h = Run(a => a.sarx(rax, rbx, rcx), rbx: 0x8000_0000_0000_0000, rcx: 63);
        Assert.That(h[Register.RAX], Is.EqualTo(ulong.MaxValue));
    }

    [Test]
    public void Shrx_MemorySource()
    {
        using var h = new CpuHarness();
        h.Memory.Write(CpuHarness.DataAddress, 8, 0xF000_0000_0000_0000);
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RCX] = 60;
        h.Load(a => a.shrx(rdx, __qword_ptr[rbx], rcx)).Run();
        Assert.That(h[Register.RDX], Is.EqualTo(0xFUL));
    }

    [Test]
    public void Rorx_Dword_RotatesWithoutFlags()
    {
        using var h = Run(a => a.rorx(eax, ebx, 4), rbx: 0x1234_5678, flags: Of);
        Assert.That(h[Register.RAX], Is.EqualTo(0x8123_4567UL));
        Assert.That(h.Flags & Arith, Is.EqualTo(Of));
    }

    [Test]
    public void Shlx_InRealMode_RaisesUd()
    {
        // VEX-encoded instructions are not recognized in real-address mode.
        using var h = new CpuHarness(CpuMode.Real16);
        h.Load(a => a.shlx(eax, ebx, ecx));
        h.Cpu.Run(1); // one step: the fault is raised and delivered
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }

    [Test]
    public void Shlx_InProtected32_Executes()
    {
        using var h = Run(a => a.shlx(eax, ebx, ecx), rbx: 3, rcx: 4, mode: CpuMode.Protected32);
        Assert.That(h[Register.EAX], Is.EqualTo(0x30UL));
    }

    // ------------------------------------------------------------------ hot path

    [Test]
    public void ShiftHandlers_WarmLoop_DoNotAllocate()
    {
        using var h = new CpuHarness();
        h[Register.RBX] = CpuHarness.DataAddress;
        h[Register.RCX] = 5;
        h.Load(a =>
        {
            a.shl(eax, cl);
            a.sar(__dword_ptr[rbx], 3);
            a.rcl(dx, 1);
            a.ror(r8, cl);
            a.shld(esi, edi, cl);
            a.shrx(r9, r10, rcx);
            a.rorx(r11, r12, 7);
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
