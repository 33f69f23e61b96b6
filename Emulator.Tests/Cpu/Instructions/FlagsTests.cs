using Emulator.Cpu;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class FlagsTests
{
    private const ulong Top = CpuHarness.StackTop;

    private static void StopOnFault(CpuHarness h) => h.Cpu.State.Idtr.Limit = 0;

    [Test]
    public void ClcStcCmc_ChangeOnlyCf([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        ulong others = CpuState.FlagZf | CpuState.FlagSf | CpuState.FlagOf | CpuState.FlagPf | CpuState.FlagAf;
        h.Cpu.Rflags = others;
        h.Load(a => a.stc()).Run();
        Assert.That(h.Flags, Is.EqualTo(others | CpuState.FlagCf | 2));
        h.Load(a => a.cmc()).Run();
        Assert.That(h.Flags, Is.EqualTo(others | 2));
        h.Load(a => a.cmc()).Run();
        Assert.That(h.Flags, Is.EqualTo(others | CpuState.FlagCf | 2));
        h.Load(a => a.clc()).Run();
        Assert.That(h.Flags, Is.EqualTo(others | 2));
    }

    [Test]
    public void CldStd_ToggleDf()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.std()).Run();
        Assert.That(h.Flags & CpuState.FlagDf, Is.EqualTo(CpuState.FlagDf));
        h.Load(a => a.cld()).Run();
        Assert.That(h.Flags & CpuState.FlagDf, Is.Zero);
    }

    [Test]
    public void LahfSahf_64BitMode_RoundTripStatusFlags()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Rflags = CpuState.FlagSf | CpuState.FlagAf | CpuState.FlagCf | CpuState.FlagOf;
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h.Load(a => a.lahf()).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFF_FFFF_93FFUL), "AH = SF:ZF:0:AF:0:PF:1:CF");

        h[Register.RAX] = 0x4400 | 0xFF; // ZF and PF; AL ignored
        h.Load(a => a.sahf()).Run();
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagOf | 2), "OF is kept");
    }

    // ------------------------------------------------------------------ PUSHF

    [Test]
    public void Pushf_EveryMode_PushesFlagsWithVmAndRfCleared([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h.Cpu.Rflags = CpuState.FlagCf | CpuState.FlagIf | CpuState.FlagRf | CpuState.FlagAc | CpuState.FlagVif | CpuState.FlagVip | CpuState.FlagId;
        h.Load(a =>
        {
            switch (mode)
            {
                case CpuMode.Real16: a.pushfd(); break;
                case CpuMode.Protected32: a.pushfd(); break;
                default: a.pushfq(); break;
            }
        }).Run();
        int n = mode == CpuMode.Long64 ? 8 : 4;
        Assert.That(h.Memory.Read(Top - (ulong)n, n),
            Is.EqualTo(CpuState.FlagCf | CpuState.FlagIf | CpuState.FlagAc | CpuState.FlagVif | CpuState.FlagVip | CpuState.FlagId | 2));
    }

    [Test]
    public void Pushf_16Bit_PushesLowWordOnly()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.Rflags = CpuState.FlagAc | CpuState.FlagIf | CpuState.FlagDf;
        h.Load(a => a.pushf()).Run();
        Assert.That(h[Register.RSP], Is.EqualTo(Top - 2));
        Assert.That(h.Memory.Read(Top - 2, 2), Is.EqualTo(CpuState.FlagIf | CpuState.FlagDf | 2));
    }

    [Test]
    public void Pushf_MaterializesLazyFlags()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.SetLazy(FlagOp.Sub, 4, 0, 5, 5); // CMP 5, 5: ZF PF
        h.Load(a => a.pushfq()).Run();
        Assert.That(h.Memory.Read(Top - 8, 8), Is.EqualTo(CpuState.FlagZf | CpuState.FlagPf | 2));
    }

    // ------------------------------------------------------------------ POPF

    private static CpuHarness PopfHarness(CpuMode mode, int cpl, ulong iopl, ulong initial, ulong image)
    {
        var h = new CpuHarness(mode);
        h.Cpu.State.Cpl = cpl;
        h.Cpu.Rflags = initial | (iopl << 12);
        // Real mode: SS:SP = 6000:0000, so the top of the stack is at 60000h.
        h.Memory.Write(mode == CpuMode.Real16 ? Top - 0x1_0000 : Top, 8, image);
        return h;
    }

    [Test]
    public void Popf_Cpl0_LoadsIoplIfAcIdAndClearsRf()
    {
        using var h = PopfHarness(CpuMode.Long64, 0, 0, CpuState.FlagRf | CpuState.FlagVip | CpuState.FlagVif, 0xFFFF_FFFF_FFFF_FFFF);
        h.Load(a => a.popfq()).Run();
        ulong expected = CpuState.FlagCf | CpuState.FlagPf | CpuState.FlagAf | CpuState.FlagZf | CpuState.FlagSf
            | CpuState.FlagTf | CpuState.FlagIf | CpuState.FlagDf | CpuState.FlagOf | CpuState.FlagIopl | CpuState.FlagNt
            | CpuState.FlagAc | CpuState.FlagId | CpuState.FlagVip | CpuState.FlagVif | 2;
        Assert.That(h.Flags, Is.EqualTo(expected), "RF cleared, VM not loaded, VIP/VIF kept, reserved bits fixed");
        Assert.That(h[Register.RSP], Is.EqualTo(Top + 8));
    }

    [Test]
    public void Popf_ReservedBits_AreForced()
    {
        using var h = PopfHarness(CpuMode.Protected32, 0, 0, 0, 0x8028); // bits 3, 5, 15 set, bit 1 clear
        h.Load(a => a.popfd()).Run();
        Assert.That(h.Flags, Is.EqualTo(2UL));
    }

    [Test]
    public void Popf_Cpl3WithIopl0_KeepsIoplAndIf()
    {
        using var h = PopfHarness(CpuMode.Long64, 3, 0, CpuState.FlagIf, CpuState.FlagIopl | CpuState.FlagCf | CpuState.FlagAc);
        h.Load(a => a.popfq()).Run();
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagIf | CpuState.FlagCf | CpuState.FlagAc | 2));
    }

    [Test]
    public void Popf_Cpl3WithIopl3_ChangesIfButNotIopl()
    {
        using var h = PopfHarness(CpuMode.Protected32, 3, 3, CpuState.FlagIf, CpuState.FlagZf);
        h.Load(a => a.popfd()).Run();
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagIopl | CpuState.FlagZf | 2));
    }

    [Test]
    public void Popf_Cpl1WithIopl1_ChangesIfButNotIopl()
    {
        using var h = PopfHarness(CpuMode.Protected32, 1, 1, 0, CpuState.FlagIf);
        h.Load(a => a.popfd()).Run();
        Assert.That(h.Flags, Is.EqualTo((1UL << 12) | CpuState.FlagIf | 2));
    }

    [Test]
    public void Popf_16Bit_KeepsUpperFlags()
    {
        using var h = PopfHarness(CpuMode.Real16, 0, 0, CpuState.FlagAc | CpuState.FlagId, 0x7FD5);
        h.Load(a => a.popf()).Run();
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagAc | CpuState.FlagId | 0x7FD7));
        Assert.That(h[Register.SP], Is.EqualTo(2UL));
    }

    [Test]
    public void Popf_RealMode_LoadsIopl()
    {
        using var h = PopfHarness(CpuMode.Real16, 0, 0, 0, CpuState.FlagIopl | CpuState.FlagNt | CpuState.FlagIf);
        h.Load(a => a.popfd()).Run();
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagIopl | CpuState.FlagNt | CpuState.FlagIf | 2));
    }

    [Test]
    public void PushfPopf_RoundTrip_RestoresFlags([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        ulong f = CpuState.FlagCf | CpuState.FlagZf | CpuState.FlagDf | CpuState.FlagOf | CpuState.FlagIf;
        h.Cpu.Rflags = f;
        h.Load(a =>
        {
            if (mode == CpuMode.Long64)
            {
                a.pushfq();
            }
            else
            {
                a.pushf();
            }
            a.cmc();
            a.cld();
            if (mode == CpuMode.Long64)
            {
                a.popfq();
            }
            else
            {
                a.popf();
            }
        }).Run();
        Assert.That(h.Flags, Is.EqualTo(f | 2));
    }

    // ------------------------------------------------------------------ virtual-8086 mode

    /// <summary>A virtual-8086 task at CPL 3 running code at CS:0 with a 16-bit stack.</summary>
    private static CpuHarness V86Harness(ulong iopl, bool vme, byte[] code)
    {
        var h = new CpuHarness(CpuMode.Protected32);
        ref CpuState s = ref h.Cpu.State;
        for (int seg = 0; seg < 6; seg++)
        {
            s.Seg[seg].Limit = 0xFFFF;
            s.Seg[seg].Attr = Segment.AttrP | Segment.AttrS | (3 << 5) | 3;
            s.Seg[seg].LoadReal(0);
        }
        s.Seg[(int)SegReg.Cs].LoadReal((ushort)(CpuHarness.CodeAddress >> 4));
        s.Seg[(int)SegReg.Ss].LoadReal((ushort)((Top - 0x10000) >> 4));
        s.Cpl = 3;
        if (vme)
        {
            s.Cr4 |= CpuState.Cr4Vme;
        }
        h.Cpu.Rflags = CpuState.FlagVm | (iopl << 12) | CpuState.FlagIf;
        h.Cpu.InvalidateFetch();
        h.LoadBytes(code);
        h.Cpu.State.Rip = 0;
        h[Register.ESP] = 0xFFF0;
        StopOnFault(h);
        return h;
    }

    [Test]
    public void PushfPopf_V86WithIoplBelow3_RaiseGp([Values(0x9C, 0x9D)] int opcode)
    {
        using var h = V86Harness(0, false, [(byte)opcode]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.ESP], Is.EqualTo(0xFFF0UL));
    }

    [Test]
    public void Pushf_V86WithIopl3_PushesFlags()
    {
        using var h = V86Harness(3, false, [0x9C]);
        h.Cpu.Run(1);
        Assert.That(h[Register.ESP], Is.EqualTo(0xFFEEUL));
        Assert.That(h.Memory.Read(Top - 0x10 - 2, 2), Is.EqualTo(CpuState.FlagIopl | CpuState.FlagIf | 2));
    }

    [Test]
    public void Popf_V86WithIopl3_KeepsIopl()
    {
        using var h = V86Harness(3, false, [0x66, 0x9D]);
        h.Memory.Write(Top - 0x10, 4, CpuState.FlagCf | CpuState.FlagRf);
        h.Cpu.Run(1);
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagVm | CpuState.FlagIopl | CpuState.FlagCf | 2), "IF loaded as 0, RF cleared, VM kept");
    }

    [Test]
    public void Pushf_V86WithVme_PushesVifAsIfAndIopl3()
    {
        using var h = V86Harness(0, true, [0x9C]);
        h.Cpu.Rflags = CpuState.FlagVm | CpuState.FlagVif | CpuState.FlagCf;
        h.Cpu.Run(1);
        Assert.That(h.Memory.Read(Top - 0x10 - 2, 2), Is.EqualTo(CpuState.FlagIf | CpuState.FlagIopl | CpuState.FlagCf | 2));
    }

    [Test]
    public void Popf_V86WithVme_LoadsVifFromIf()
    {
        using var h = V86Harness(0, true, [0x9D]);
        h.Cpu.Rflags = CpuState.FlagVm | CpuState.FlagIf;
        h.Memory.Write(Top - 0x10, 2, CpuState.FlagIf | CpuState.FlagZf | CpuState.FlagIopl);
        h.Cpu.Run(1);
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagVm | CpuState.FlagIf | CpuState.FlagVif | CpuState.FlagZf | 2), "IF and IOPL kept");
        Assert.That(h[Register.ESP], Is.EqualTo(0xFFF2UL));
    }

    [Test]
    public void Popf_V86WithVmeSettingIfWhileVipPending_RaisesGp()
    {
        using var h = V86Harness(0, true, [0x9D]);
        h.Cpu.Rflags = CpuState.FlagVm | CpuState.FlagVip;
        h.Memory.Write(Top - 0x10, 2, CpuState.FlagIf);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h[Register.ESP], Is.EqualTo(0xFFF0UL));
    }

    [Test]
    public void Popfd_V86WithVmeAndIoplBelow3_RaisesGp()
    {
        using var h = V86Harness(0, true, [0x66, 0x9D]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }

    [Test]
    public void Popf_SettingIf_AsksTheLoopToLook()
    {
        using var h = PopfHarness(CpuMode.Long64, 0, 0, 0, CpuState.FlagIf);
        h.Load(a => a.popfq());
        h.Cpu.Attention = 0;
        h.Cpu.Step();
        Assert.That(h.Cpu.Attention, Is.Not.Zero);
        Assert.That(h.Flags & CpuState.FlagIf, Is.Not.Zero);
    }

    [Test]
    public void StacClac_AtCpl0_SetAndClearAc()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a => a.stac()).Run();
        Assert.That(h.Flags & CpuState.FlagAc, Is.EqualTo(CpuState.FlagAc));
        using var h2 = new CpuHarness(CpuMode.Long64);
        h2.Cpu.State.Rflags |= CpuState.FlagAc;
        h2.Load(a => a.clac()).Run();
        Assert.That(h2.Flags & CpuState.FlagAc, Is.Zero);
    }

    [Test]
    public void Stac_AtCpl3_RaisesUd()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.Cpl = 3;
        h.Cpu.State.Idtr.Limit = 0;
        h.Load(a => a.stac());
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(6));
    }
}
