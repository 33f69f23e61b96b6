using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class DataMoveTests
{
    private const ulong Data = CpuHarness.DataAddress;

    /// <summary>Offset of <see cref="CpuHarness.DataAddress"/> in DS/ES: 0 in real mode (DS = ES = 8000h), else the address.</summary>
    private static ulong UseData(CpuHarness h)
    {
        if (h.Mode != CpuMode.Real16)
        {
            return Data;
        }
        h.Cpu.State.Seg[(int)SegReg.Ds].LoadReal((ushort)(Data >> 4));
        h.Cpu.State.Seg[(int)SegReg.Es].LoadReal((ushort)(Data >> 4));
        return 0;
    }

    /// <summary>An exception ends the run with the faulting instruction's state intact (an empty IDT shuts down).</summary>
    private static void StopOnFault(CpuHarness h) => h.Cpu.State.Idtr.Limit = 0;

    // ------------------------------------------------------------------ MOV

    [Test]
    public void Mov_RegisterAndMemoryEverySize_RoundTrips([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        h[Register.EBX] = d;
        h.Load(a =>
        {
            a.mov(al, 0x12);
            a.mov(ah, 0x34);
            a.mov(__byte_ptr[ebx], al);
            a.mov(__byte_ptr[ebx + 1], ah);
            a.mov(cx, 0x5678);
            a.mov(__word_ptr[ebx + 2], cx);
            a.mov(edx, 0x9ABCDEF0);
            a.mov(__dword_ptr[ebx + 4], edx);
            a.mov(__dword_ptr[ebx + 8], 0x11223344);
            a.mov(__word_ptr[ebx + 12], 0x5566);
            a.mov(__byte_ptr[ebx + 14], 0x77);
            a.mov(esi, __dword_ptr[ebx]);
            a.mov(di, __word_ptr[ebx + 12]);
        }).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x9ABCDEF0_56783412UL));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(0x0077_5566_11223344UL));
        Assert.That(h[Register.ESI], Is.EqualTo(0x56783412UL));
        Assert.That(h[Register.DI], Is.EqualTo(0x5566UL));
    }

    [Test]
    public void Mov_32BitDestination_ZeroExtendsAnd8And16Merge()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RBX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RCX] = 0xFFFF_FFFF_FFFF_FFFF;
        h.Load(a =>
        {
            a.mov(eax, 1);
            a.mov(bx, 2);
            a.mov(cl, 3);
            a.mov(rdx, 0x1234_5678_9ABC_DEF0);
            a.mov(__qword_ptr[Data], -2);
            a.mov(rsi, __qword_ptr[Data]);
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(1UL));
        Assert.That(h[Register.RBX], Is.EqualTo(0xFFFF_FFFF_FFFF_0002UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0xFFFF_FFFF_FFFF_FF03UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0x1234_5678_9ABC_DEF0UL));
        Assert.That(h[Register.RSI], Is.EqualTo(0xFFFF_FFFF_FFFF_FFFEUL), "mov r/m64, imm32 sign-extends");
    }

    [Test]
    public void Mov_Moffs64_LoadsAndStoresAbsolute()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data, 8, 0x1122_3344_5566_7788);
        h[Register.RAX] = 0;
        // mov rax, [moffs64]; mov al, [moffs64+1]; mov [moffs64+16], eax
        byte[] code =
        [
            0x48, 0xA1, .. BitConverter.GetBytes(Data),
            0xA0, .. BitConverter.GetBytes(Data + 7),
            0xA3, .. BitConverter.GetBytes(Data + 16),
        ];
        h.LoadBytes(code).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0x1122_3344_5566_7711UL));
        Assert.That(h.Memory.Read(Data + 16, 8), Is.EqualTo(0x5566_7711UL));
    }

    [Test]
    public void Mov_Moffs16_InRealModeUsesDs()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        UseData(h);
        h.Memory.Write(Data + 0x20, 2, 0xBEEF);
        // mov ax, [0020h]; mov [0030h], ax
        h.LoadBytes([0xA1, 0x20, 0x00, 0xA3, 0x30, 0x00]).Run();
        Assert.That(h[Register.AX], Is.EqualTo(0xBEEFUL));
        Assert.That(h.Memory.Read(Data + 0x30, 2), Is.EqualTo(0xBEEFUL));
    }

    // ------------------------------------------------------------------ MOVZX / MOVSX / MOVSXD

    [Test]
    public void MovzxMovsx_EveryForm_ExtendsCorrectly()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data, 2, 0x8081);
        h[Register.RBX] = 0xFFFF_FFFF_FFFF_FFFF;
        h.Load(a =>
        {
            a.mov(rax, -1);
            a.mov(rcx, -1);
            a.mov(rdx, -1);
            a.movzx(eax, __byte_ptr[Data]);
            a.movzx(rcx, __word_ptr[Data]);
            a.movzx(dx, bl);
            a.movsx(rsi, __byte_ptr[Data]);
            a.movsx(edi, __word_ptr[Data]);
            a.movsx(r8w, __byte_ptr[Data + 1]);
            a.mov(__dword_ptr[Data + 4], 0x8000_0001);
            a.movsxd(r9, __dword_ptr[Data + 4]);
            a.mov(r10d, 0x7FFF_FFFF);
            a.movsxd(r11, r10d);
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0x81UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0x8081UL));
        Assert.That(h[Register.RDX], Is.EqualTo(0xFFFF_FFFF_FFFF_00FFUL));
        Assert.That(h[Register.RSI], Is.EqualTo(0xFFFF_FFFF_FFFF_FF81UL));
        Assert.That(h[Register.RDI], Is.EqualTo(0xFFFF_8081UL));
        Assert.That(h[Register.R8W], Is.EqualTo(0xFF80UL));
        Assert.That(h[Register.R9], Is.EqualTo(0xFFFF_FFFF_8000_0001UL));
        Assert.That(h[Register.R11], Is.EqualTo(0x7FFF_FFFFUL));
    }

    [Test]
    public void Movsxd_Without64BitOperand_IsAPlainZeroExtendingMove()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RCX] = 0x8000_0000;
        h.LoadBytes([0x63, 0xC1]).Run(); // movsxd eax, ecx
        Assert.That(h[Register.RAX], Is.EqualTo(0x8000_0000UL));
    }

    // ------------------------------------------------------------------ LEA

    [Test]
    public void Lea_16BitAddress_WrapsAt64K()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h[Register.EAX] = 0xFFFF_FFFF;
        h[Register.BX] = 0xFFF0;
        h[Register.SI] = 0x20;
        h.Load(a => a.lea(eax, __[bx + si + 0x10])).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0x20UL), "32-bit operand, 16-bit address: zero-extended 16-bit offset");
    }

    [Test]
    public void Lea_OperandAndAddressSizes_TruncateOrZeroExtend()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RCX] = 0x1_FFFF_FFF0;
        h[Register.RDX] = 0x20;
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RBX] = 0xFFFF_FFFF_FFFF_FFFF;
        h.Load(a =>
        {
            a.lea(rsi, __[rcx + rdx * 2 + 8]);
            a.lea(rdi, __[ecx + edx]);      // 32-bit address wraps, zero-extended into RDI
            a.lea(ax, __[rcx + rdx]);       // 16-bit operand keeps RAX[63:16]
            a.lea(ebx, __[rcx + rdx]);      // 32-bit operand truncates and zero-extends
        }).Run();
        Assert.That(h[Register.RSI], Is.EqualTo(0x2_0000_0038UL));
        Assert.That(h[Register.RDI], Is.EqualTo(0x10UL));
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFF_FFFF_0010UL));
        Assert.That(h[Register.RBX], Is.EqualTo(0x10UL));
    }

    [Test]
    public void Lea_RipRelative_UsesNextInstructionAddress()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.LoadBytes([0x48, 0x8D, 0x05, 0x10, 0x00, 0x00, 0x00]).Run(); // lea rax, [rip+10h]
        Assert.That(h[Register.RAX], Is.EqualTo(CpuHarness.CodeAddress + 7 + 0x10));
    }

    // ------------------------------------------------------------------ XCHG

    [Test]
    public void Xchg_RegistersAndMemory_Swap([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        h.Memory.Write(Data, 4, 0xCAFEBABE);
        h[Register.EBX] = d;
        h[Register.EAX] = 0x1234;
        h[Register.ECX] = 0x11223344;
        h.Load(a =>
        {
            a.xchg(ah, al);
            a.xchg(__dword_ptr[ebx], ecx);
            a.xchg(dx, ax);
        }).Run();
        Assert.That(h[Register.DX], Is.EqualTo(0x3412UL));
        Assert.That(h[Register.ECX], Is.EqualTo(0xCAFEBABEUL));
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(0x11223344UL));
    }

    [Test]
    public void Xchg_EaxEaxIn64BitMode_87C0ZeroExtendsBut90DoesNot()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = 0xAAAA_BBBB_CCCC_DDDD;
        h.LoadBytes([0x90]).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0xAAAA_BBBB_CCCC_DDDDUL), "90 is NOP");
        using var h2 = new CpuHarness(CpuMode.Long64);
        h2[Register.RAX] = 0xAAAA_BBBB_CCCC_DDDD;
        h2.LoadBytes([0x87, 0xC0]).Run();
        Assert.That(h2[Register.RAX], Is.EqualTo(0xCCCC_DDDDUL), "87 C0 writes EAX");
        using var h3 = new CpuHarness(CpuMode.Long64);
        h3[Register.RAX] = 0xAAAA_BBBB_CCCC_DDDD;
        h3[Register.R8] = 0x1_0000_0002;
        h3.LoadBytes([0x41, 0x90]).Run(); // xchg r8d, eax
        Assert.That(h3[Register.RAX], Is.EqualTo(2UL));
        Assert.That(h3[Register.R8], Is.EqualTo(0xCCCC_DDDDUL));
    }

    // ------------------------------------------------------------------ XADD / CMPXCHG

    [Test]
    public void Xadd_MemoryAndRegister_ExchangesAndAdds()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data, 4, 0xFFFF_FFFF);
        h[Register.RCX] = 1;
        h[Register.RDX] = 5;
        h.Load(a =>
        {
            a.@lock.xadd(__dword_ptr[Data], ecx);
        }).Run();
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(0UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0xFFFF_FFFFUL));
        Assert.That(h.Flags & (CpuState.FlagCf | CpuState.FlagZf), Is.EqualTo(CpuState.FlagCf | CpuState.FlagZf));

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2[Register.RDX] = 5;
        h2.Load(a => a.xadd(rdx, rdx)).Run();
        Assert.That(h2[Register.RDX], Is.EqualTo(10UL), "the destination is written last");
    }

    [Test]
    public void Cmpxchg_Memory_SucceedsAndFails()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Memory.Write(Data, 4, 7);
        h[Register.EAX] = 7;
        h[Register.ECX] = 9;
        h.Load(a => a.@lock.cmpxchg(__dword_ptr[Data], ecx)).Run();
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(9UL));
        Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);
        Assert.That(h[Register.EAX], Is.EqualTo(7UL));

        h[Register.EAX] = 3;
        h.Cpu.State.Rip = h.StartRip;
        h.Run();
        Assert.That(h.Flags & CpuState.FlagZf, Is.Zero);
        Assert.That(h[Register.EAX], Is.EqualTo(9UL));
        Assert.That(h.Memory.Read(Data, 4), Is.EqualTo(9UL));
        Assert.That(h.Flags & CpuState.FlagCf, Is.Not.Zero, "flags of CMP 3, 9");
    }

    [Test]
    public void Cmpxchg_32BitRegisters_TouchOnlyTheWrittenRegister()
    {
        // Success: the destination is written (zero-extended), RAX is not.
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = 0xFFFF_FFFF_0000_0005;
        h[Register.RBX] = 0xEEEE_EEEE_0000_0005;
        h[Register.RCX] = 0xDDDD_DDDD_0000_0009;
        h.Load(a => a.cmpxchg(ebx, ecx)).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(9UL));
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFF_0000_0005UL));

        // Failure: RAX gets the destination (zero-extended), the destination is not written.
        using var h2 = new CpuHarness(CpuMode.Long64);
        h2[Register.RAX] = 0xFFFF_FFFF_0000_0004;
        h2[Register.RBX] = 0xEEEE_EEEE_0000_0005;
        h2[Register.RCX] = 9;
        h2.Load(a => a.cmpxchg(ebx, ecx)).Run();
        Assert.That(h2[Register.RAX], Is.EqualTo(5UL));
        Assert.That(h2[Register.RBX], Is.EqualTo(0xEEEE_EEEE_0000_0005UL));
    }

    [Test]
    public void Cmpxchg_ByteRegisters_UseAl()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h[Register.AX] = 0x1122;
        h[Register.BX] = 0x0033;
        h.Load(a => a.cmpxchg(bl, ah)).Run();
        Assert.That(h[Register.AX], Is.EqualTo(0x1133UL));
        Assert.That(h[Register.BX], Is.EqualTo(0x0033UL));
    }

    [Test]
    public void Cmpxchg8b_SuccessAndFailure()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data, 8, 0x1111_2222_3333_4444);
        h[Register.RDX] = 0xAAAA_0000_1111_2222;
        h[Register.RAX] = 0xBBBB_0000_3333_4444;
        h[Register.RCX] = 0x5555_6666;
        h[Register.RBX] = 0x7777_8888;
        h.Load(a => a.@lock.cmpxchg8b(__qword_ptr[Data])).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(0x5555_6666_7777_8888UL));
        Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);
        Assert.That(h[Register.RAX], Is.EqualTo(0xBBBB_0000_3333_4444UL), "RAX untouched on success");

        h.Cpu.State.Rip = h.StartRip;
        h.Run();
        Assert.That(h.Flags & CpuState.FlagZf, Is.Zero);
        Assert.That(h[Register.RDX], Is.EqualTo(0x5555_6666UL));
        Assert.That(h[Register.RAX], Is.EqualTo(0x7777_8888UL));
    }

    [Test]
    public void Cmpxchg16b_AlignedOperand_Exchanges()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data, 8, 1);
        h.Memory.Write(Data + 8, 8, 2);
        h[Register.RAX] = 1;
        h[Register.RDX] = 2;
        h[Register.RBX] = 3;
        h[Register.RCX] = 4;
        h.Load(a => a.@lock.cmpxchg16b(__xmmword_ptr[Data])).Run();
        Assert.That(h.Memory.Read(Data, 8), Is.EqualTo(3UL));
        Assert.That(h.Memory.Read(Data + 8, 8), Is.EqualTo(4UL));
        Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);

        h.Cpu.State.Rip = h.StartRip;
        h.Run();
        Assert.That(h.Flags & CpuState.FlagZf, Is.Zero);
        Assert.That(h[Register.RAX], Is.EqualTo(3UL));
        Assert.That(h[Register.RDX], Is.EqualTo(4UL));
    }

    [Test]
    public void Cmpxchg16b_MisalignedOperand_RaisesGp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h.Load(a => a.cmpxchg16b(__xmmword_ptr[Data + 8]));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
    }

    // ------------------------------------------------------------------ CMOVcc / SETcc

    [Test]
    public void Cmov_FalseCondition32Bit_StillZeroExtends()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RAX] = 0xFFFF_FFFF_1234_5678;
        h[Register.RBX] = 0xFFFF_FFFF_1234_5678;
        h[Register.RCX] = 0xFFFF_FFFF_1234_5678;
        h[Register.RDX] = 7;
        h.Cpu.Rflags = CpuState.FlagZf;
        h.Load(a =>
        {
            a.cmovne(eax, edx);     // false: EAX kept, upper half cleared
            a.cmovne(rbx, rdx);     // false: RBX untouched
            a.cmovne(cx, dx);       // false: CX untouched
            a.cmove(edi, edx);      // true
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0x1234_5678UL));
        Assert.That(h[Register.RBX], Is.EqualTo(0xFFFF_FFFF_1234_5678UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0xFFFF_FFFF_1234_5678UL));
        Assert.That(h[Register.RDI], Is.EqualTo(7UL));
    }

    [Test]
    public void Cmov_FalseConditionWithBadMemory_StillFaults()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h[Register.RSI] = 0x8000_0000_0000_0000;
        h.Cpu.Rflags = CpuState.FlagZf;
        h.Load(a => a.cmovne(ecx, __dword_ptr[rsi]));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }

    [TestCase(0UL)]
    [TestCase(CpuState.FlagOf)]
    [TestCase(CpuState.FlagCf)]
    [TestCase(CpuState.FlagZf)]
    [TestCase(CpuState.FlagSf)]
    [TestCase(CpuState.FlagPf)]
    [TestCase(CpuState.FlagSf | CpuState.FlagOf)]
    [TestCase(CpuState.FlagZf | CpuState.FlagCf | CpuState.FlagSf)]
    public void Setcc_EveryCondition_MatchesFlags(ulong flags)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Rflags = flags | 2;
        h.Load(a =>
        {
            a.seto(__byte_ptr[Data + 0]);
            a.setno(__byte_ptr[Data + 1]);
            a.setb(__byte_ptr[Data + 2]);
            a.setae(__byte_ptr[Data + 3]);
            a.sete(__byte_ptr[Data + 4]);
            a.setne(__byte_ptr[Data + 5]);
            a.setbe(__byte_ptr[Data + 6]);
            a.seta(__byte_ptr[Data + 7]);
            a.sets(__byte_ptr[Data + 8]);
            a.setns(__byte_ptr[Data + 9]);
            a.setp(__byte_ptr[Data + 10]);
            a.setnp(__byte_ptr[Data + 11]);
            a.setl(__byte_ptr[Data + 12]);
            a.setge(__byte_ptr[Data + 13]);
            a.setle(__byte_ptr[Data + 14]);
            a.setg(al);
        }).Run();
        bool[] expected = ConditionTable(flags);
        for (int cc = 0; cc < 15; cc++)
        {
            Assert.That(h.Memory.Read(Data + (ulong)cc, 1), Is.EqualTo(expected[cc] ? 1UL : 0UL), $"cc {cc}");
        }
        Assert.That(h[Register.AL], Is.EqualTo(expected[15] ? 1UL : 0UL));
    }

    /// <summary>Reference evaluation of the 16 conditions (SDM Vol. 1 Appendix B "EFLAGS Condition Codes").</summary>
    private static bool[] ConditionTable(ulong f)
    {
        bool cf = (f & CpuState.FlagCf) != 0, zf = (f & CpuState.FlagZf) != 0, sf = (f & CpuState.FlagSf) != 0;
        bool of = (f & CpuState.FlagOf) != 0, pf = (f & CpuState.FlagPf) != 0;
        return [of, !of, cf, !cf, zf, !zf, cf || zf, !(cf || zf), sf, !sf, pf, !pf, sf != of, sf == of, zf || sf != of, !(zf || sf != of)];
    }

    // ------------------------------------------------------------------ CBW family

    [Test]
    public void ConvertInstructions_SignExtendAccumulator()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(rax, -1);
            a.mov(al, 0x80);
            a.cbw();                    // AX = FF80, upper RAX kept
            a.mov(rbx, rax);
            a.mov(eax, 0x8000);
            a.cwde();                   // EAX = FFFF8000, zero-extended
            a.mov(rcx, rax);
            a.cdqe();                   // RAX = FFFFFFFFFFFF8000
            a.mov(rsi, rax);
            a.mov(rdx, -1);
            a.mov(eax, 0x7FFF);
            a.cwd();                    // DX = 0
            a.mov(rdi, rdx);
            a.mov(eax, 0x8000_0000);
            a.cdq();                    // EDX = FFFFFFFF, RDX zero-extended
            a.mov(r8, rdx);
            a.cqo();                    // RAX positive: RDX = 0
            a.mov(r9, rdx);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(0xFFFF_FFFF_FFFF_FF80UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0xFFFF_8000UL));
        Assert.That(h[Register.RSI], Is.EqualTo(0xFFFF_FFFF_FFFF_8000UL));
        Assert.That(h[Register.RDI], Is.EqualTo(0xFFFF_FFFF_FFFF_0000UL));
        Assert.That(h[Register.R8], Is.EqualTo(0xFFFF_FFFFUL));
        Assert.That(h[Register.R9], Is.EqualTo(0UL));
    }

    [Test]
    public void Cwd_RealMode_FillsDx()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        h[Register.AX] = 0x8000;
        h[Register.EDX] = 0x1234_0000;
        h.Load(a => a.cwd()).Run();
        Assert.That(h[Register.EDX], Is.EqualTo(0x1234_FFFFUL));
    }

    // ------------------------------------------------------------------ XLAT

    [Test]
    public void Xlat_EveryMode_IndexesTableWithAl([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        for (ulong k = 0; k < 256; k++)
        {
            h.Memory.Write(Data + k, 1, (k * 7) & 0xFF);
        }
        h[Register.EBX] = d;
        h[Register.EAX] = 0xABCD_12F0;
        h.Load(a => a.xlatb()).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0xABCD_1200UL | ((0xF0 * 7) & 0xFF)));
    }

    [Test]
    public void Xlat_64BitMode_UsesRbxAndZeroExtendedAl()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Memory.Write(Data + 0x1_0000 + 0xFF, 1, 0x5A);
        h[Register.RBX] = Data + 0x1_0000;
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h.Load(a => a.xlatb()).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFF_FFFF_FF5AUL));
    }
}
