using Emulator.Cpu;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

public class StringTests
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

    private static void StopOnFault(CpuHarness h) => h.Cpu.State.Idtr.Limit = 0;

    private static void SetDf(CpuHarness h, bool down) => h.Cpu.Rflags = down ? CpuState.FlagDf : 0;

    /// <summary>Code of a string instruction with an optional F3 prefix for an element size in a mode.</summary>
    private static byte[] StringOp(CpuMode mode, byte baseOpcode, int size, bool rep)
    {
        var code = new List<byte>();
        if (rep)
        {
            code.Add(0xF3);
        }
        if ((size == 2 && mode != CpuMode.Real16) || (size == 4 && mode == CpuMode.Real16))
        {
            code.Add(0x66);
        }
        if (size == 8)
        {
            code.Add(0x48);
        }
        code.Add(size == 1 ? baseOpcode : (byte)(baseOpcode + 1));
        return [.. code];
    }

    private const byte Movs = 0xA4, Cmps = 0xA6, Stos = 0xAA, Lods = 0xAC, Scas = 0xAE;

    public static IEnumerable<TestCaseData> ModeSizeDirection()
    {
        foreach (CpuMode mode in Enum.GetValues<CpuMode>())
        {
            foreach (int size in new[] { 1, 2, 4, 8 })
            {
                if (size == 8 && mode != CpuMode.Long64)
                {
                    continue;
                }
                yield return new TestCaseData(mode, size, false);
                yield return new TestCaseData(mode, size, true);
            }
        }
    }

    private static void FillPattern(CpuHarness h, ulong pa, int length, byte seed)
    {
        for (int k = 0; k < length; k++)
        {
            h.Memory.Write(pa + (ulong)k, 1, (byte)(seed + k * 13));
        }
    }

    private static byte[] ReadBytes(CpuHarness h, ulong pa, int length)
    {
        var b = new byte[length];
        h.Memory.ReadBytes(pa, b);
        return b;
    }

    // ------------------------------------------------------------------ every instruction, size, direction, mode

    [TestCaseSource(nameof(ModeSizeDirection))]
    public void RepMovs_EverySizeAndDirection_CopiesAndSteps(CpuMode mode, int size, bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        const int count = 5;
        FillPattern(h, Data + 0x100, 64, 1);
        ulong first = down ? (ulong)((count - 1) * size) : 0;
        h[Register.RSI] = d + 0x100 + first;
        h[Register.RDI] = d + 0x200 + first;
        h[Register.RCX] = count;
        SetDf(h, down);
        h.LoadBytes(StringOp(mode, Movs, size, rep: true)).Run();
        Assert.That(ReadBytes(h, Data + 0x200, count * size), Is.EqualTo(ReadBytes(h, Data + 0x100, count * size)));
        Assert.That(h.Memory.Read(Data + 0x200 + (ulong)(count * size), 1), Is.Zero, "no element past the count");
        ulong end = down ? first - (ulong)(count * size) : (ulong)(count * size);
        ulong amask = mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue;
        Assert.That(h[Register.RSI], Is.EqualTo((d + 0x100 + end) & amask));
        Assert.That(h[Register.RDI], Is.EqualTo((d + 0x200 + end) & amask));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [TestCaseSource(nameof(ModeSizeDirection))]
    public void RepStos_EverySizeAndDirection_FillsAndSteps(CpuMode mode, int size, bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        const int count = 7;
        ulong first = down ? (ulong)((count - 1) * size) : 0;
        h[Register.RAX] = 0x8877_6655_4433_2211;
        h[Register.RDI] = d + 0x300 + first;
        h[Register.RCX] = count;
        SetDf(h, down);
        h.LoadBytes(StringOp(mode, Stos, size, rep: true)).Run();
        for (int k = 0; k < count; k++)
        {
            Assert.That(h.Memory.Read(Data + 0x300 + (ulong)(k * size), size), Is.EqualTo(0x8877_6655_4433_2211UL & Vcpu.SizeMask(size)));
        }
        Assert.That(h.Memory.Read(Data + 0x300 + (ulong)(count * size), 1), Is.Zero);
        ulong end = down ? first - (ulong)(count * size) : (ulong)(count * size);
        Assert.That(h[Register.RDI], Is.EqualTo((d + 0x300 + end) & (mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue)));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [TestCaseSource(nameof(ModeSizeDirection))]
    public void Lods_SingleAndRepeated_LoadsAccumulatorAndSteps(CpuMode mode, int size, bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        FillPattern(h, Data + 0x400, 64, 7);
        h[Register.RAX] = 0xFFFF_FFFF_FFFF_FFFF;
        h[Register.RSI] = d + 0x420;
        SetDf(h, down);
        h.LoadBytes(StringOp(mode, Lods, size, rep: false)).Run();
        ulong expected = h.Memory.Read(Data + 0x420, size);
        ulong rax = size switch
        {
            1 => 0xFFFF_FFFF_FFFF_FF00UL | expected,
            2 => 0xFFFF_FFFF_FFFF_0000UL | expected,
            4 => expected, // a 32-bit register write zero-extends (upper half undefined outside 64-bit mode)
            _ => expected,
        };
        Assert.That(h[Register.RAX], Is.EqualTo(rax));
        ulong step = down ? (ulong)(-size) : (ulong)size;
        Assert.That(h[Register.RSI], Is.EqualTo((d + 0x420 + step) & (mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue)));

        // rep lods leaves the last element in the accumulator.
        h[Register.RCX] = 3;
        h.LoadBytes(StringOp(mode, Lods, size, rep: true)).Run();
        Assert.That(h[Register.RAX] & Vcpu.SizeMask(size), Is.EqualTo(h.Memory.Read(Data + 0x420 + step * 3, size)));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [TestCaseSource(nameof(ModeSizeDirection))]
    public void RepneScas_FindsElement(CpuMode mode, int size, bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        FillPattern(h, Data + 0x500, 128, 3);
        // The 4th element visited holds the value searched for.
        ulong first = down ? (ulong)(10 * size) : 0;
        ulong step = down ? (ulong)(-size) : (ulong)size;
        ulong target = h.Memory.Read(Data + 0x500 + first + 3 * step, size);
        h[Register.RAX] = target;
        h[Register.RDI] = d + 0x500 + first;
        h[Register.RCX] = 10;
        SetDf(h, down);
        var code = new List<byte> { 0xF2 };
        code.AddRange(StringOp(mode, Scas, size, rep: false));
        h.LoadBytes([.. code]).Run();
        Assert.That(h[Register.RCX], Is.EqualTo(6UL));
        Assert.That(h[Register.RDI], Is.EqualTo((d + 0x500 + first + 4 * step) & (mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue)));
        Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);
    }

    [TestCaseSource(nameof(ModeSizeDirection))]
    public void RepeCmps_StopsAtFirstDifference(CpuMode mode, int size, bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        FillPattern(h, Data + 0x600, 128, 9);
        FillPattern(h, Data + 0x700, 128, 9);
        ulong first = down ? (ulong)(10 * size) : 0;
        ulong step = down ? (ulong)(-size) : (ulong)size;
        // Element 5 of the destination is larger: CMPS computes source − destination, so CF = 1.
        ulong at = Data + 0x700 + first + 5 * step + (ulong)(size - 1);
        h.Memory.Write(at, 1, h.Memory.Read(at, 1) ^ 0x80 | 0x80);
        h.Memory.Write(Data + 0x600 + first + 5 * step + (ulong)(size - 1), 1, 0x00);
        h[Register.RSI] = d + 0x600 + first;
        h[Register.RDI] = d + 0x700 + first;
        h[Register.RCX] = 10;
        SetDf(h, down);
        h.LoadBytes(StringOp(mode, Cmps, size, rep: true)).Run();
        Assert.That(h[Register.RCX], Is.EqualTo(4UL));
        ulong amask = mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue;
        Assert.That(h[Register.RSI], Is.EqualTo((d + 0x600 + first + 6 * step) & amask));
        Assert.That(h[Register.RDI], Is.EqualTo((d + 0x700 + first + 6 * step) & amask));
        Assert.That(h.Flags & (CpuState.FlagZf | CpuState.FlagCf), Is.EqualTo(CpuState.FlagCf));
    }

    [Test]
    public void SingleMovsAndStos_StepOnce_EveryMode([Values] CpuMode mode, [Values] bool down)
    {
        using var h = new CpuHarness(mode);
        ulong d = UseData(h);
        h.Memory.Write(Data + 0x10, 2, 0xBEEF);
        h[Register.RSI] = d + 0x10;
        h[Register.RDI] = d + 0x20;
        h[Register.RCX] = 99;
        h[Register.RAX] = 0x77;
        SetDf(h, down);
        h.Load(a =>
        {
            a.movsw();
            a.stosb();
        }).Run();
        ulong amask = mode == CpuMode.Real16 ? 0xFFFFUL : ulong.MaxValue;
        Assert.That(h.Memory.Read(Data + 0x20, 2), Is.EqualTo(0xBEEFUL));
        Assert.That(h.Memory.Read(Data + (down ? 0x1EUL : 0x22UL), 1), Is.EqualTo(0x77UL));
        Assert.That(h[Register.RSI], Is.EqualTo((d + (down ? 0x0EUL : 0x12UL)) & amask));
        Assert.That(h[Register.RDI], Is.EqualTo((d + (down ? 0x1DUL : 0x23UL)) & amask));
        Assert.That(h[Register.RCX], Is.EqualTo(99UL), "no REP: rCX untouched");
    }

    // ------------------------------------------------------------------ address sizes

    /// <summary>
    /// Every address size reachable from every mode, both directions: the counter and index registers are
    /// CX/SI/DI (upper bits kept), ECX/ESI/EDI (zero-extended into the 64-bit registers) or RCX/RSI/RDI.
    /// </summary>
    [Test]
    public void RepMovsbAndRepeCmpsb_EveryAddressSizeAndDirection_UseMatchingRegisters(
        [Values] CpuMode mode, [Values] bool prefix67, [Values] bool down, [Values(Movs, Cmps)] byte op)
    {
        using var h = new CpuHarness(mode);
        int asz = (mode, prefix67) switch
        {
            (CpuMode.Real16, false) or (CpuMode.Protected32, true) => 16,
            (CpuMode.Long64, false) => 64,
            _ => 32,
        };
        ulong baseOff = 0;
        if (mode == CpuMode.Real16)
        {
            UseData(h);
        }
        else if (mode == CpuMode.Protected32)
        {
            h.Cpu.State.Seg[(int)SegReg.Ds].Base = Data;
            h.Cpu.State.Seg[(int)SegReg.Es].Base = Data;
        }
        else
        {
            baseOff = Data;
        }
        ulong upper = asz switch
        {
            16 => 0xABCD_0000UL,
            32 => mode == CpuMode.Long64 ? 0xFFFF_FFFF_0000_0000UL : 0,
            _ => 0,
        };
        const int count = 6;
        ulong src = baseOff + 0x100 + (down ? count - 1UL : 0);
        ulong dst = baseOff + 0x200 + (down ? count - 1UL : 0);
        FillPattern(h, Data + 0x100, count, 50);
        if (op == Cmps)
        {
            FillPattern(h, Data + 0x200, count, 50);
        }
        h[Register.RSI] = upper | src;
        h[Register.RDI] = upper | dst;
        h[Register.RCX] = upper | count;
        SetDf(h, down);
        byte[] code = prefix67 ? [0x67, 0xF3, op] : [0xF3, op];
        h.LoadBytes(code).Run();

        Assert.That(ReadBytes(h, Data + 0x200, count), Is.EqualTo(ReadBytes(h, Data + 0x100, count)));
        ulong delta = down ? unchecked((ulong)-count) : count;
        ulong Expected(ulong start) => asz switch
        {
            16 => upper | ((start + delta) & 0xFFFF),
            32 => (uint)(start + delta),
            _ => start + delta,
        };
        Assert.That(h[Register.RSI], Is.EqualTo(Expected(src)));
        Assert.That(h[Register.RDI], Is.EqualTo(Expected(dst)));
        Assert.That(h[Register.RCX], Is.EqualTo(asz == 16 ? upper : 0));
        if (op == Cmps)
        {
            Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);
        }
    }

    [Test]
    public void RepMovsb_AddressSizeOverrideIn64Bit_UsesEsiEdiEcxAndZeroExtends()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        FillPattern(h, Data, 16, 5);
        h[Register.RSI] = 0xFFFF_FFFF_0000_0000 | Data;
        h[Register.RDI] = 0xFFFF_FFFF_0000_0000 | (Data + 0x100);
        h[Register.RCX] = 0x1_0000_0003;
        h.LoadBytes([0x67, 0xF3, 0xA4]).Run();
        Assert.That(ReadBytes(h, Data + 0x100, 3), Is.EqualTo(ReadBytes(h, Data, 3)));
        Assert.That(h.Memory.Read(Data + 0x103, 1), Is.Zero);
        Assert.That(h[Register.RSI], Is.EqualTo(Data + 3));
        Assert.That(h[Register.RDI], Is.EqualTo(Data + 0x103));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [Test]
    public void RepStosb_16BitAddressIn32BitMode_UsesDiCxAndKeepsUpperHalves()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        h[Register.EDI] = 0xABCD_8000;
        h[Register.ECX] = 0x1234_0004;
        h[Register.EAX] = 0x66;
        h.LoadBytes([0x67, 0xF3, 0xAA]).Run();
        Assert.That(h.Memory.Read(0x8000, 4), Is.EqualTo(0x6666_6666UL));
        Assert.That(h.Memory.Read(0x8004, 1), Is.Zero);
        Assert.That(h[Register.EDI], Is.EqualTo(0xABCD_8004UL));
        Assert.That(h[Register.ECX], Is.EqualTo(0x1234_0000UL));
    }

    [Test]
    public void RepMovsb_32BitAddressInRealMode_UsesEsiEdiEcx()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        UseData(h);
        FillPattern(h, Data + 0x40, 8, 11);
        h[Register.ESI] = 0x40;
        h[Register.EDI] = 0x80;
        h[Register.ECX] = 0x1_0002; // CX alone would be 2, ECX is 10002h; stop after 4 with a small limit below
        h.Cpu.State.Seg[(int)SegReg.Es].Limit = 0x83; // 4 bytes fit, the fifth faults
        StopOnFault(h);
        h.LoadBytes([0x67, 0xF3, 0xA4]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13), "ES limit reached after four bytes: ECX was the counter");
        Assert.That(h[Register.ECX], Is.EqualTo(0x1_0002UL - 4));
        Assert.That(h[Register.EDI], Is.EqualTo(0x84UL));
        Assert.That(ReadBytes(h, Data + 0x80, 4), Is.EqualTo(ReadBytes(h, Data + 0x40, 4)));
    }

    [Test]
    public void RepStosb_16BitDiWraps_WithinEs()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        UseData(h);
        h[Register.DI] = 0xFFFE;
        h[Register.CX] = 4;
        h[Register.AL] = 0x5A;
        h.LoadBytes([0xF3, 0xAA]).Run();
        Assert.That(h.Memory.Read(Data + 0xFFFE, 2), Is.EqualTo(0x5A5AUL));
        Assert.That(h.Memory.Read(Data, 2), Is.EqualTo(0x5A5AUL));
        Assert.That(h.Memory.Read(Data + 0x1_0000, 2), Is.Zero, "no carry into linear address bit 16");
        Assert.That(h[Register.DI], Is.EqualTo(2UL));
    }

    [Test]
    public void RepMovsw_16BitSiWrapsBackward_MatchesElementwise()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        UseData(h);
        FillPattern(h, Data, 16, 21);
        FillPattern(h, Data + 0xFFF0, 16, 99);
        h[Register.SI] = 0x0002;
        h[Register.DI] = 0x4002;
        h[Register.CX] = 4;
        SetDf(h, true);
        h.LoadBytes([0xF3, 0xA5]).Run();
        // Elements at SI = 2, 0, FFFE, FFFC.
        Assert.That(h.Memory.Read(Data + 0x4002, 2), Is.EqualTo(h.Memory.Read(Data + 2, 2)));
        Assert.That(h.Memory.Read(Data + 0x4000, 2), Is.EqualTo(h.Memory.Read(Data, 2)));
        Assert.That(h.Memory.Read(Data + 0x3FFE, 2), Is.EqualTo(h.Memory.Read(Data + 0xFFFE, 2)));
        Assert.That(h.Memory.Read(Data + 0x3FFC, 2), Is.EqualTo(h.Memory.Read(Data + 0xFFFC, 2)));
        Assert.That(h[Register.SI], Is.EqualTo(0xFFFAUL));
    }

    // ------------------------------------------------------------------ REP edge cases

    [Test]
    public void Rep_CountZero_DoesNothing([Values] CpuMode mode, [Values(Movs, Stos, Lods, Scas, Cmps)] byte op)
    {
        using var h = new CpuHarness(mode);
        StopOnFault(h);
        // Pointers that would fault if anything were accessed.
        ulong bad = mode == CpuMode.Long64 ? 0x8000_0000_0000_0000UL : 0xFFFF_FFFFUL;
        h[Register.RSI] = bad;
        h[Register.RDI] = bad;
        h[Register.RCX] = mode == CpuMode.Real16 ? 0xFFFF_0000UL : 0;
        h[Register.RAX] = 0x1234;
        h.Cpu.Rflags = CpuState.FlagCf | CpuState.FlagZf;
        h.LoadBytes(StringOp(mode, op, 1, rep: true)).Run();
        Assert.That(h[Register.RSI], Is.EqualTo(bad));
        Assert.That(h[Register.RDI], Is.EqualTo(bad));
        Assert.That(h[Register.RAX], Is.EqualTo(0x1234UL));
        Assert.That(h.Flags, Is.EqualTo(CpuState.FlagCf | CpuState.FlagZf | 2));
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(-1));
    }

    [Test]
    public void RepMovsb_F2Prefix_RepeatsLikeRep()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        FillPattern(h, Data, 8, 1);
        h[Register.RSI] = Data;
        h[Register.RDI] = Data + 0x40;
        h[Register.RCX] = 8;
        h.LoadBytes([0xF2, 0xA4]).Run();
        Assert.That(ReadBytes(h, Data + 0x40, 8), Is.EqualTo(ReadBytes(h, Data, 8)));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [TestCase(0x64, 4)] // FS
    [TestCase(0x65, 5)] // GS
    [TestCase(0x36, 2)] // SS
    public void RepMovsb_SegmentOverride_AppliesToSourceOnly(int prefix, int seg)
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        ref CpuState s = ref h.Cpu.State;
        s.Seg[seg].Base = 0x1000;
        s.Seg[(int)SegReg.Es].Base = 0x2000;
        FillPattern(h, 0x1000 + Data, 8, 40);
        FillPattern(h, Data, 8, 80);
        h[Register.ESI] = Data;
        h[Register.EDI] = Data;
        h[Register.ECX] = 8;
        h.LoadBytes([(byte)prefix, 0xF3, 0xA4]).Run();
        Assert.That(ReadBytes(h, 0x2000 + Data, 8), Is.EqualTo(ReadBytes(h, 0x1000 + Data, 8)));
    }

    [Test]
    public void RepMovsb_FsOverrideIn64Bit_AddsFsBase()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Cpu.State.Seg[(int)SegReg.Fs].Base = 0x10_0000;
        h.Cpu.State.Seg[(int)SegReg.Es].Base = 0x20_0000; // ignored in 64-bit mode
        FillPattern(h, 0x10_0000 + Data, 8, 40);
        h[Register.RSI] = Data;
        h[Register.RDI] = Data + 0x100;
        h[Register.RCX] = 8;
        h.LoadBytes([0x64, 0xF3, 0xA4]).Run();
        Assert.That(ReadBytes(h, Data + 0x100, 8), Is.EqualTo(ReadBytes(h, 0x10_0000 + Data, 8)));
    }

    // ------------------------------------------------------------------ overlap and page crossing against a reference

    /// <summary>Element-by-element MOVS on a byte array: the architectural definition.</summary>
    private static void ReferenceMovs(byte[] mem, int src, int dst, int size, int count, bool down)
    {
        var tmp = new byte[size];
        for (int k = 0; k < count; k++)
        {
            Array.Copy(mem, src, tmp, 0, size);
            Array.Copy(tmp, 0, mem, dst, size);
            src += down ? -size : size;
            dst += down ? -size : size;
        }
    }

    [Test]
    public void RepMovs_OverlappingRanges_MatchElementwiseDefinition(
        [Values(1, 2, 4, 8)] int size, [Values] bool down, [Values(-9, -8, -4, -1, 0, 1, 3, 4, 8, 9, 100)] int distance)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        const int region = 0x800;
        const int count = 60;
        FillPattern(h, Data, region, 17);
        byte[] expected = ReadBytes(h, Data, region);
        int src = down ? 0x400 + (count - 1) * size : 0x300;
        int dst = src + distance;
        ReferenceMovs(expected, src, dst, size, count, down);
        h[Register.RSI] = Data + (ulong)src;
        h[Register.RDI] = Data + (ulong)(long)dst;
        h[Register.RCX] = count;
        SetDf(h, down);
        h.LoadBytes(StringOp(CpuMode.Long64, Movs, size, rep: true)).Run();
        Assert.That(ReadBytes(h, Data, region), Is.EqualTo(expected));
    }

    [Test]
    public void RepMovs_AcrossPagesAndMisaligned_MatchElementwiseDefinition(
        [Values(1, 2, 4, 8)] int size, [Values] bool down, [Values(0xFFD, 0x1FFF, 0x2803)] int srcOffset)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        const int region = 0x8000;
        int count = 0x2100 / size;
        FillPattern(h, Data, region, 29);
        byte[] expected = ReadBytes(h, Data, region);
        int src = down ? srcOffset + (count - 1) * size : srcOffset;
        int dst = src + 0x3001;
        ReferenceMovs(expected, src, dst, size, count, down);
        h[Register.RSI] = Data + (ulong)src;
        h[Register.RDI] = Data + (ulong)dst;
        h[Register.RCX] = (ulong)count;
        SetDf(h, down);
        h.LoadBytes(StringOp(CpuMode.Long64, Movs, size, rep: true)).Run();
        Assert.That(ReadBytes(h, Data, region), Is.EqualTo(expected));
        Assert.That(h[Register.RCX], Is.Zero);
    }

    [Test]
    public void RepStos_AcrossPagesAndMisaligned_FillsExactly([Values(1, 2, 4, 8)] int size, [Values] bool down)
    {
        using var h = new CpuHarness(CpuMode.Long64);
        int count = 0x1800 / size;
        int start = down ? 0x2FFF + (count - 1) * size : 0x0FFF;
        h[Register.RAX] = 0xA1A2_A3A4_A5A6_A7A8;
        h[Register.RDI] = Data + (ulong)start;
        h[Register.RCX] = (ulong)count;
        SetDf(h, down);
        h.LoadBytes(StringOp(CpuMode.Long64, Stos, size, rep: true)).Run();
        int low = down ? 0x2FFF : 0x0FFF;
        Assert.That(h.Memory.Read(Data + (ulong)low - 1, 1), Is.Zero);
        Assert.That(h.Memory.Read(Data + (ulong)(low + count * size), 1), Is.Zero);
        for (int k = 0; k < count; k++)
        {
            Assert.That(h.Memory.Read(Data + (ulong)(low + k * size), size), Is.EqualTo(0xA1A2_A3A4_A5A6_A7A8UL & Vcpu.SizeMask(size)));
        }
    }

    // ------------------------------------------------------------------ budget

    [Test]
    public void RepStosb_LargeCount_RunsABoundedChunkPerStep()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        const ulong total = 10_000;
        h[Register.RDI] = Data;
        h[Register.RCX] = total;
        h[Register.RAX] = 0xCC;
        h.LoadBytes([0xF3, 0xAA]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip), "re-executed: RIP stays on the instruction");
        Assert.That(h[Register.RCX], Is.EqualTo(total - Handlers.MaxStringIterations));
        Assert.That(h[Register.RDI], Is.EqualTo(Data + Handlers.MaxStringIterations));
        h.Run();
        Assert.That(h[Register.RCX], Is.Zero);
        Assert.That(h.Memory.Read(Data + total - 1, 1), Is.EqualTo(0xCCUL));
        Assert.That(h.Memory.Read(Data + total, 1), Is.Zero);
    }

    [Test]
    public void RepeCmpsb_LargeCount_RunsABoundedChunkPerStep()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        const ulong total = 9_000;
        h[Register.RSI] = Data;
        h[Register.RDI] = Data + 0x10_0000;
        h[Register.RCX] = total;
        h.LoadBytes([0xF3, 0xA6]);
        h.Cpu.Run(1);
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
        Assert.That(h[Register.RCX], Is.EqualTo(total - Handlers.MaxStringIterations));
        h.Run();
        Assert.That(h[Register.RCX], Is.Zero);
        Assert.That(h.Flags & CpuState.FlagZf, Is.Not.Zero);
    }

    // ------------------------------------------------------------------ faults part-way

    /// <summary>Maps the 2 MiB region holding <paramref name="hole"/> with 4 KiB pages, that page not present.</summary>
    private static void MakeHole(CpuHarness h, ulong hole, ulong pageTable = 0x30_0000)
    {
        ulong region = hole & ~0x1F_FFFFUL;
        for (ulong k = 0; k < 512; k++)
        {
            ulong page = region + k * 0x1000;
            h.Memory.Write(pageTable + k * 8, 8, page == (hole & ~0xFFFUL) ? 0 : page | 7);
        }
        h.Memory.Write(CpuHarness.PageTables + 0x2000 + (region >> 21) * 8, 8, pageTable | 7);
        h.Cpu.FlushTlbAll();
    }

    private static void FillHole(CpuHarness h, ulong hole, ulong pageTable = 0x30_0000)
    {
        ulong region = hole & ~0x1F_FFFFUL;
        h.Memory.Write(pageTable + ((hole - region) >> 12) * 8, 8, (hole & ~0xFFFUL) | 7);
        h.Cpu.FlushTlbAll();
    }

    private const ulong Hole = 0x40_1000;

    [Test]
    public void RepStosb_IntoNotPresentPage_FaultsWithCompletedIterationsAndRestarts()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        MakeHole(h, Hole);
        StopOnFault(h);
        h[Register.RDI] = Hole - 0x100;
        h[Register.RCX] = 0x300;
        h[Register.RAX] = 0xEE;
        h.LoadBytes([0xF3, 0xAA]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(14));
        Assert.That(h.Cpu.LastEventError & 2, Is.EqualTo(2u), "a write");
        Assert.That(h.Cpu.State.Cr2, Is.EqualTo(Hole));
        Assert.That(h.Cpu.State.Rip, Is.EqualTo(h.StartRip));
        Assert.That(h[Register.RCX], Is.EqualTo(0x200UL));
        Assert.That(h[Register.RDI], Is.EqualTo(Hole));
        Assert.That(h.Memory.Read(Hole - 1, 1), Is.EqualTo(0xEEUL));

        // The handler maps the page; the instruction resumes where it stopped.
        FillHole(h, Hole);
        h.Cpu.State.Idtr.Limit = 0xFFFF;
        h.Run();
        Assert.That(h[Register.RCX], Is.Zero);
        Assert.That(h[Register.RDI], Is.EqualTo(Hole + 0x200));
        Assert.That(h.Memory.Read(Hole + 0x1FF, 1), Is.EqualTo(0xEEUL));
        Assert.That(h.Memory.Read(Hole + 0x200, 1), Is.Zero);
    }

    [Test]
    public void RepMovsq_BackwardIntoNotPresentPage_FaultsWithCompletedIterations()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        MakeHole(h, Hole);
        StopOnFault(h);
        // Destination walks down from Hole + 1080h: 17 quadwords land above the hole, the 18th faults.
        h[Register.RSI] = Data + 0x800;
        h[Register.RDI] = Hole + 0x1080;
        h[Register.RCX] = 0x40;
        SetDf(h, true);
        h.LoadBytes([0xF3, 0x48, 0xA5]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(14));
        Assert.That(h.Cpu.State.Cr2, Is.EqualTo(Hole + 0xFF8));
        Assert.That(h[Register.RCX], Is.EqualTo(0x40UL - 17));
        Assert.That(h[Register.RDI], Is.EqualTo(Hole + 0xFF8));
        Assert.That(h[Register.RSI], Is.EqualTo(Data + 0x800 - 17 * 8));
    }

    [Test]
    public void RepMovsb_SourceInNotPresentPage_FaultsAsRead()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        MakeHole(h, Hole);
        StopOnFault(h);
        h[Register.RSI] = Hole - 3;
        h[Register.RDI] = Data;
        h[Register.RCX] = 10;
        h.LoadBytes([0xF3, 0xA4]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(14));
        Assert.That(h.Cpu.LastEventError & 2, Is.Zero, "a read");
        Assert.That(h[Register.RCX], Is.EqualTo(7UL));
        Assert.That(h[Register.RSI], Is.EqualTo(Hole));
        Assert.That(h[Register.RDI], Is.EqualTo(Data + 3));
    }

    [Test]
    public void RepeScasw_ElementStraddlingNotPresentPage_Faults()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        MakeHole(h, Hole);
        StopOnFault(h);
        h[Register.RDI] = Hole - 5;
        h[Register.RCX] = 10;
        h[Register.RAX] = 0; // memory is zero: REPE keeps going
        h.LoadBytes([0xF3, 0x66, 0xAF]);
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(14));
        Assert.That(h[Register.RCX], Is.EqualTo(8UL));
        Assert.That(h[Register.RDI], Is.EqualTo(Hole - 1));
    }

    // ------------------------------------------------------------------ self-modifying code

    [Test]
    public void RepStosb_OverwritesAnAlreadyExecutedInstruction_NewBytesRun()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            Label again = a.CreateLabel();
            a.mov(ebx, 0);
            a.mov(edx, 2);
            a.Label(ref again);
            a.lea(ebx, __[rbx + 1]);   // 3 bytes; becomes three NOPs after the first pass
            a.lea(rdi, __[again]);
            a.mov(al, 0x90);
            a.mov(ecx, 3);
            a.rep.stosb();
            a.mov(ecx, edx);
            a.lea(edx, __[rdx - 1]);
            a.loop(again);
        }).Run();
        Assert.That(h[Register.RBX], Is.EqualTo(1UL));
    }

    [Test]
    public void Mov_PatchesTheNextInstruction_NewBytesRun([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        h[Register.RAX] = 0;
        if (mode == CpuMode.Real16)
        {
            // DS = CS; mov di, 7; mov byte [di+1], 22h; next: mov ax, 11h
            h.Cpu.State.Seg[(int)SegReg.Ds].LoadReal((ushort)(CpuHarness.CodeAddress >> 4));
            h.LoadBytes([0xBF, 0x07, 0x00, 0xC6, 0x45, 0x01, 0x22, 0xB8, 0x11, 0x00]).Run();
        }
        else
        {
            // mov edi, next; mov byte [rdi/edi+1], 22h; next: mov eax, 11h
            byte[] next = BitConverter.GetBytes((uint)CpuHarness.CodeAddress + 9);
            h.LoadBytes([0xBF, .. next, 0xC6, 0x47, 0x01, 0x22, 0xB8, 0x11, 0x00, 0x00, 0x00]).Run();
        }
        Assert.That(h[Register.EAX], Is.EqualTo(0x22UL));
    }

    [Test]
    public void RepMovsb_CopiesCodeOverTheNextInstruction_NewBytesRun()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        // mov eax, 33h as replacement bytes in data.
        h.Memory.TryWriteBytes(Data, [0xB8, 0x33, 0x00, 0x00, 0x00]);
        h.Load(a =>
        {
            Label next = a.CreateLabel();
            a.mov(esi, (uint)Data);
            a.lea(rdi, __[next]);
            a.mov(ecx, 5);
            a.rep.movsb();
            a.Label(ref next);
            a.mov(eax, 0x11);
        }).Run();
        Assert.That(h[Register.EAX], Is.EqualTo(0x33UL));
    }
}
