using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class ControlTransferTests
{
    private const ulong Top = CpuHarness.StackTop;

    private static void StopOnFault(CpuHarness h) => h.Cpu.State.Idtr.Limit = 0;

    private static ulong Sp0(CpuHarness h) => h.Mode == CpuMode.Real16 ? 0x1_0000 : Top;

    private static ulong Sp(CpuHarness h) => h.Mode == CpuMode.Real16 ? h[Register.SP] : h[Register.RSP];

    private static int NativeSize(CpuMode mode) => mode switch
    {
        CpuMode.Real16 => 2,
        CpuMode.Protected32 => 4,
        _ => 8,
    };

    /// <summary>Reference evaluation of the 16 conditions (SDM Vol. 1 Appendix B "EFLAGS Condition Codes").</summary>
    private static bool Condition(int cc, ulong f)
    {
        bool cf = (f & CpuState.FlagCf) != 0, zf = (f & CpuState.FlagZf) != 0, sf = (f & CpuState.FlagSf) != 0;
        bool of = (f & CpuState.FlagOf) != 0, pf = (f & CpuState.FlagPf) != 0;
        bool r = (cc >> 1) switch
        {
            0 => of,
            1 => cf,
            2 => zf,
            3 => cf || zf,
            4 => sf,
            5 => pf,
            6 => sf != of,
            _ => zf || sf != of,
        };
        return r ^ ((cc & 1) != 0);
    }

    // ------------------------------------------------------------------ JMP / Jcc

    [Test]
    public void Jmp_ForwardAndBackward_EveryMode([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RAX] = 0;
        h[Register.RBX] = 0;
        h.Load(a =>
        {
            Label fwd = a.CreateLabel();
            Label back = a.CreateLabel();
            Label end = a.CreateLabel();
            a.jmp(fwd);
            a.mov(eax, 1);
            a.Label(ref back);
            a.mov(ebx, 2);
            a.jmp(end);
            a.Label(ref fwd);
            a.jmp(back);
            a.mov(eax, 3);
            a.Label(ref end);
            a.nop();
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0UL));
        Assert.That(h[Register.RBX], Is.EqualTo(2UL));
    }

    [Test]
    public void Jcc_EveryConditionShortAndNear_FollowsFlags([Values] CpuMode mode)
    {
        ulong[] flagSets =
        [
            0, CpuState.FlagOf, CpuState.FlagCf, CpuState.FlagZf, CpuState.FlagSf, CpuState.FlagPf,
            CpuState.FlagSf | CpuState.FlagOf, CpuState.FlagZf | CpuState.FlagCf,
        ];
        foreach (ulong flags in flagSets)
        {
            for (int cc = 0; cc < 16; cc++)
            {
                for (int near = 0; near < 2; near++)
                {
                    using var h = new CpuHarness(mode);
                    h.Cpu.Rflags = flags;
                    h[Register.RAX] = 0;
                    // jcc +2 over "mov al, 1"; the near form's displacement is 16 bits in real mode.
                    byte[] code = near == 0
                        ? [(byte)(0x70 + cc), 0x02, 0xB0, 0x01, 0x90]
                        : mode == CpuMode.Real16
                            ? [0x0F, (byte)(0x80 + cc), 0x02, 0x00, 0xB0, 0x01, 0x90]
                            : [0x0F, (byte)(0x80 + cc), 0x02, 0x00, 0x00, 0x00, 0xB0, 0x01, 0x90];
                    h.LoadBytes(code).Run();
                    bool taken = Condition(cc, flags);
                    Assert.That(h[Register.AL], Is.EqualTo(taken ? 0UL : 1UL), $"cc {cc} flags {flags:X} near {near}");
                }
            }
        }
    }

    [Test]
    public void Jmp_RealModeIp_WrapsAt64K()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        // At IP 0: jmp rel16 to 0FFF0h (0 + 3 + 0FFEDh).
        h.LoadBytes([0xE9, 0xED, 0xFF]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0xFFF0UL));
        // At IP 0FFF0h: jmp short +20h wraps to 0012h.
        h.Memory.TryWriteBytes(CpuHarness.CodeAddress + 0xFFF0, [0xEB, 0x20]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0x12UL));
    }

    [Test]
    public void Jmp_16BitOperandIn32BitMode_TruncatesEip()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.LoadBytes([0x66, 0xE9, 0x10, 0x00]); // jmp rel16: (10004h + 10h) & FFFFh
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0x14UL));
    }

    [Test]
    public void Jmp_IndirectRegisterAndMemory_64Bit()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RCX] = 0;
        h.Load(a =>
        {
            Label l1 = a.CreateLabel();
            Label l2 = a.CreateLabel();
            a.lea(rax, __[l1]);
            a.jmp(rax);
            a.mov(ecx, 1);
            a.Label(ref l1);
            a.lea(rax, __[l2]);
            a.mov(__qword_ptr[CpuHarness.DataAddress], rax);
            a.jmp(__qword_ptr[CpuHarness.DataAddress]);
            a.mov(ecx, 2);
            a.Label(ref l2);
            a.nop();
        }).Run();
        Assert.That(h[Register.RCX], Is.EqualTo(0UL));
    }

    [Test]
    public void Jmp_IndirectWord_In32BitMode_ZeroExtendsTarget()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.EAX] = 0xFFFF_0020;
        h.LoadBytes([0x66, 0xFF, 0xE0]); // jmp ax
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0x20UL));
    }

    [Test]
    public void Jmp_NonCanonicalTarget_RaisesGpAtTheBranch()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h[Register.RAX] = 0x0000_8000_0000_0000;
        h.Load(a => a.jmp(rax));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
    }

    [Test]
    public void Jmp_BeyondCsLimit_RaisesGpAtTheBranch()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        StopOnFault(h);
        h.Cpu.State.Seg[(int)SegReg.Cs].Limit = 0x10FFF;
        h.Load(a => a.jmp(0x11000UL));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
    }

    [Test]
    public void Jmp_ToTheLastByteWithinCsLimit_IsAllowed()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Cpu.State.Seg[(int)SegReg.Cs].Limit = 0x10FFF;
        h.Load(a => a.jmp(0x10FFFUL));
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0x10FFFUL));
    }

    [Test]
    public void Jmp_32BitOperandInRealModeBeyondLimit_RaisesGp()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        StopOnFault(h);
        h.LoadBytes([0x66, 0xE9, 0x00, 0x00, 0x01, 0x00]); // jmp rel32 to 10006h > CS.limit
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0UL));
    }

    // ------------------------------------------------------------------ CALL / RET

    [Test]
    public void CallRet_EveryMode_PushesReturnAddressAndReturns([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RAX] = 0;
        int n = NativeSize(mode);
        h.Load(a =>
        {
            Label f = a.CreateLabel();
            Label end = a.CreateLabel();
            a.call(f);
            a.jmp(end);
            a.Label(ref f);
            a.mov(eax, 5);
            a.ret();
            a.Label(ref end);
            a.nop();
        }).Run();
        ulong callLen = mode == CpuMode.Real16 ? 3UL : 5UL;
        Assert.That(h[Register.EAX], Is.EqualTo(5UL));
        Assert.That(h.Memory.Read(Top - (ulong)n, n), Is.EqualTo(h.StartRip + callLen));
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) & (mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue)));
    }

    [Test]
    public void RetImm16_ReleasesArguments([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Load(a =>
        {
            Label f = a.CreateLabel();
            Label end = a.CreateLabel();
            a.push(1);
            a.push(2);
            a.call(f);
            a.jmp(end);
            a.Label(ref f);
            a.ret((ushort)(2 * NativeSize(mode)));
            a.Label(ref end);
            a.nop();
        }).Run();
        Assert.That(Sp(h), Is.EqualTo(Sp0(h) & (mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue)));
    }

    [Test]
    public void CallIndirect_ThroughRegister_64Bit()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            Label f = a.CreateLabel();
            Label end = a.CreateLabel();
            a.lea(rcx, __[f]);
            a.call(rcx);
            a.jmp(end);
            a.Label(ref f);
            a.mov(edx, 9);
            a.ret();
            a.Label(ref end);
            a.nop();
        }).Run();
        Assert.That(h[Register.RDX], Is.EqualTo(9UL));
        Assert.That(h[Register.RSP], Is.EqualTo(Top));
    }

    [Test]
    public void Call_BeyondCsLimit_RaisesGpWithoutPushing()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        StopOnFault(h);
        h.Cpu.State.Seg[(int)SegReg.Cs].Limit = 0x10FFF;
        h.Load(a => a.call(0x20000UL));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.ESP], Is.EqualTo(Top));
        Assert.That(h.Memory.Read(Top - 4, 4), Is.EqualTo(0UL));
    }

    [Test]
    public void Ret_NonCanonicalReturnAddress_RaisesGpAndKeepsRsp()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        StopOnFault(h);
        h.Memory.Write(Top, 8, 0xFFFF_7FFF_0000_0000);
        h.Load(a => a.ret());
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.RSP], Is.EqualTo(Top));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
    }

    [Test]
    public void Ret_16BitOperandIn32BitMode_PopsIpOnly()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h.Memory.Write(Top, 4, 0xAAAA_0040);
        h.LoadBytes([0x66, 0xC3]); // retw
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(0x40UL));
        Assert.That(h[Register.ESP], Is.EqualTo(Top + 2));
    }

    // ------------------------------------------------------------------ LOOP / JrCXZ

    [Test]
    public void Loop_CountsDownToZero_EveryMode([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RAX] = 0;
        h[Register.RCX] = 5;
        h.Load(a =>
        {
            Label top = a.CreateLabel();
            a.Label(ref top);
            a.lea(eax, __[eax + 1]);
            a.loop(top);
        }).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(5UL));
        Assert.That(h[Register.RCX], Is.EqualTo(0UL));
    }

    [Test]
    public void Loop_AddressSizeOverrideIn64Bit_UsesEcx()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h[Register.RCX] = 0x1_0000_0001;
        h.LoadBytes([0x67, 0xE2, 0x10]); // loop with ECX: ECX 1 -> 0, not taken, RCX zero-extended
        h.Cpu.Run(1);
        Assert.That(h[Register.RCX], Is.EqualTo(0UL));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip + 3));

        using var h2 = new CpuHarness(CpuMode.Long64);
        h2[Register.RCX] = 0x1_0000_0001;
        h2.LoadBytes([0xE2, 0x10]); // loop with RCX: taken
        h2.Cpu.Run(1);
        Assert.That(h2[Register.RCX], Is.EqualTo(0x1_0000_0000UL));
        Assert.That(h2.Cpu.State.Rip, Is.EqualTo(h2.StartRip + 2 + 0x10));
    }

    [Test]
    public void Loop_16BitAddressIn32Bit_UsesCxAndWraps()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.RCX] = 0x1_0000;
        h.LoadBytes([0x67, 0xE2, 0x10]); // CX 0 -> FFFF: taken
        h.Cpu.Run(1);
        Assert.That(h[Register.ECX], Is.EqualTo(0x1_FFFFUL));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip + 3 + 0x10));
    }

    [TestCase(true, true)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(false, false)]
    public void LoopeLoopne_FollowZf(bool zf, bool loope)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Rflags = zf ? CpuState.FlagZf : 0;
        h[Register.RCX] = 3;
        h.LoadBytes([loope ? (byte)0xE1 : (byte)0xE0, 0x10]);
        h.Cpu.Run(1);
        bool taken = loope == zf;
        Assert.That(h[Register.RCX], Is.EqualTo(2UL));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip + 2 + (taken ? 0x10UL : 0)));
        Assert.That(h.Flags & CpuState.FlagZf, Is.EqualTo(zf ? CpuState.FlagZf : 0), "LOOP leaves flags alone");
    }

    [Test]
    public void Loop_TargetBeyondCsLimit_FaultsAndKeepsCounter()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        StopOnFault(h);
        h.Cpu.State.Seg[(int)SegReg.Cs].Limit = 0x10010;
        h[Register.ECX] = 5;
        h.LoadBytes([0xE2, 0x7F]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.ECX], Is.EqualTo(5UL));
    }

    [TestCase(CpuMode.Real16, false, 0xFFFF_0000UL, true)]     // jcx z: CX = 0
    [TestCase(CpuMode.Real16, true, 0xFFFF_0000UL, false)]     // jecxz
    [TestCase(CpuMode.Protected32, false, 0x1_0000_0000UL, true)] // jecxz
    [TestCase(CpuMode.Protected32, true, 0x1_0000UL, true)]    // 67: jcxz
    [TestCase(CpuMode.Long64, false, 0x1_0000_0000UL, false)]  // jrcxz
    [TestCase(CpuMode.Long64, true, 0x1_0000_0000UL, true)]    // 67: jecxz
    public void Jrcxz_CounterChosenByAddressSize(CpuMode mode, bool prefix67, ulong rcx, bool taken)
    {
        using var h = new CpuHarness(mode);
        h[Register.RCX] = rcx;
        byte[] code = prefix67 ? [0x67, 0xE3, 0x10] : [0xE3, 0x10];
        h.LoadBytes(code);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip + (ulong)code.Length + (taken ? 0x10UL : 0)));
        Assert.That(h[Register.RCX], Is.EqualTo(rcx));
    }
}
