using Emulator.Cpu;
using Emulator.Cpu.Bus;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu.Interrupts;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Instructions;

/// <summary>Port I/O and its protection (SDM Vol. 1 chapter 19 "Input/Output").</summary>
public class IoTests
{
    private const int Data = (int)CpuHarness.DataAddress;

    /// <summary>Records every access; reads return a value derived from the port and a running counter.</summary>
    private sealed class RecordingDevice : IPortDevice
    {
        public readonly List<(ushort Port, int Size, uint Value, bool Write)> Log = new();
        private uint _next = 0x10;

        public uint In(ushort port, int size)
        {
            uint v = size switch
            {
                1 => _next & 0xFF,
                2 => 0x1100u + _next,
                _ => 0xAABB_0000u + _next,
            };
            _next++;
            Log.Add((port, size, v, false));
            return v;
        }

        public void Out(ushort port, int size, uint value) => Log.Add((port, size, value, true));
    }

    private static RecordingDevice Attach(CpuHarness h, ushort first = 0x80, int count = 8)
    {
        var d = new RecordingDevice();
        h.Io.Register(first, count, d);
        return d;
    }

    [Test]
    public void InOut_AllSizesAndBothPortForms([Values] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        RecordingDevice d = Attach(h);
        h.Load(a =>
        {
            a.mov(al, 0x5A);
            a.@out(0x80, al);
            a.mov(dx, 0x82);
            a.mov(ax, 0x1234);
            a.@out(dx, ax);
            a.mov(eax, 0xDEADBEEF);
            a.@out(dx, eax);
            a.@in(al, 0x81);
            a.mov(bl, al);
            a.@in(ax, dx);
            a.mov(cx, ax);
            a.@in(eax, dx);
        }).Run();
        Assert.That(d.Log[0], Is.EqualTo(((ushort)0x80, 1, 0x5Au, true)));
        Assert.That(d.Log[1], Is.EqualTo(((ushort)0x82, 2, 0x1234u, true)));
        Assert.That(d.Log[2], Is.EqualTo(((ushort)0x82, 4, 0xDEADBEEFu, true)));
        Assert.That(h[Register.BL], Is.EqualTo(0x10));
        Assert.That(h[Register.CX], Is.EqualTo(0x1111));
        Assert.That(h[Register.EAX], Is.EqualTo(0xAABB_0012));
    }

    [Test]
    public void In_UnclaimedPort_ReadsAllOnes()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        h.Load(a =>
        {
            a.mov(dx, 0x1234);
            a.@in(eax, dx);
        }).Run();
        Assert.That(h[Register.RAX], Is.EqualTo(0xFFFF_FFFF));
    }

    [Test]
    public void RepOutsb_SendsTheBufferInOrder()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        RecordingDevice d = Attach(h);
        h.Memory.TryWriteBytes(CpuHarness.DataAddress, "hello"u8);
        h.Load(a =>
        {
            a.mov(esi, Data);
            a.mov(ecx, 5);
            a.mov(dx, 0x80);
            a.rep.outsb();
        }).Run();
        Assert.That(d.Log.Select(e => (char)e.Value), Is.EqualTo("hello"));
        Assert.That(h[Register.RCX], Is.EqualTo(0));
        Assert.That(h[Register.RSI], Is.EqualTo(CpuHarness.DataAddress + 5));
    }

    [Test]
    public void RepInsw_Backwards_FillsMemoryDownwards()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        Attach(h);
        h.Load(a =>
        {
            a.std();
            a.mov(edi, Data + 4);
            a.mov(ecx, 3);
            a.mov(dx, 0x84);
            a.rep.insw();
            a.cld();
        }).Run();
        Assert.That(h.Memory.Read(CpuHarness.DataAddress + 4, 2), Is.EqualTo(0x1110));
        Assert.That(h.Memory.Read(CpuHarness.DataAddress + 2, 2), Is.EqualTo(0x1111));
        Assert.That(h.Memory.Read(CpuHarness.DataAddress, 2), Is.EqualTo(0x1112));
        Assert.That(h[Register.EDI], Is.EqualTo(CpuHarness.DataAddress - 2));
    }

    [Test]
    public void Insb_With16BitAddressSize_UsesDiAndCx()
    {
        using var h = new CpuHarness(CpuMode.Real16);
        Attach(h);
        h.Cpu.State.Seg[(int)SegReg.Es].LoadReal((ushort)(CpuHarness.DataAddress >> 4));
        h[Register.EDI] = 0xABCD_0000;
        h.Load(a =>
        {
            a.mov(cx, 2);
            a.mov(dx, 0x80);
            a.rep.insb();
        }).Run();
        Assert.That(h.Memory.Read(CpuHarness.DataAddress, 2), Is.EqualTo(0x1110));
        Assert.That(h[Register.EDI], Is.EqualTo(0xABCD_0002), "16-bit DI update keeps the upper bits");
    }

    /// <summary>Ring 3, IOPL 0, the GuestSystem TSS with its all-clear bitmap; <paramref name="denied"/> ports get their bit set.</summary>
    private static GuestSystem UserWithBitmap(CpuHarness h, params int[] denied)
    {
        var g = new GuestSystem(h);
        foreach (int port in denied)
        {
            ulong at = GuestSystem.Tss + 0x68 + (ulong)(port >> 3);
            h.Memory.Write(at, 1, h.Memory.Read(at, 1) | (1UL << (port & 7)));
        }
        g.EnterUser();
        return g;
    }

    [Test]
    public void Out_AtRing3_AllowedByTheBitmap([Values(CpuMode.Protected32, CpuMode.Long64)] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        RecordingDevice d = Attach(h);
        UserWithBitmap(h, 0x81);
        h.Load(a =>
        {
            a.mov(al, 1);
            a.@out(0x80, al);
        }).Run();
        Assert.That(d.Log, Has.Count.EqualTo(1));
    }

    [Test]
    public void Out_AtRing3_DeniedByTheBitmap_IsGp([Values(CpuMode.Protected32, CpuMode.Long64)] CpuMode mode)
    {
        using var h = new CpuHarness(mode);
        RecordingDevice d = Attach(h);
        UserWithBitmap(h, 0x81);
        h.Load(a => a.@out(0x81, al));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
        Assert.That(h.Cpu.LastEventError, Is.EqualTo(0));
        Assert.That(d.Log, Is.Empty);
    }

    [Test]
    public void In_WordAtRing3_EveryCoveredPortIsChecked()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        Attach(h, 0x80, 16);
        UserWithBitmap(h, 0x88);
        h.Load(a => a.@in(ax, 0x87));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }

    [Test]
    public void Out_AtRing3WithIopl3_SkipsTheBitmap()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        RecordingDevice d = Attach(h);
        UserWithBitmap(h, 0x81);
        h.Cpu.State.Rflags |= CpuState.FlagIopl;
        h.Load(a => a.@out(0x81, al)).Run();
        Assert.That(d.Log, Has.Count.EqualTo(1));
    }

    [Test]
    public void Out_AtRing3_PortBeyondTssLimit_IsGp()
    {
        using var h = new CpuHarness(CpuMode.Protected32);
        Attach(h);
        var g = UserWithBitmap(h);
        // Shrink the TSS so that the bitmap stops after port 0x3F.
        g.WriteTssDescriptor(GuestSystem.TssSel, GuestSystem.Tss, 0x68 + 7, long64: false, type: 0xB);
        g.LoadTr(GuestSystem.TssSel);
        h.Load(a => a.@out(0x80, al));
        h.RunToStop();
        Assert.That(h.Cpu.LastEventVector, Is.EqualTo(13));
    }

    [Test]
    public void IoBreakpoint_TrapsAfterTheAccess()
    {
        using var h = new CpuHarness(CpuMode.Long64);
        RecordingDevice d = Attach(h);
        var g = new GuestSystem(h);
        g.SetGate(1, g.Handler(a => a.hlt()));
        ref CpuState s = ref h.Cpu.State;
        s.Cr4 |= CpuState.Cr4De;
        s.Dr[2] = 0x82;
        s.Dr[7] = 0x400 | (1 << 4) | (2 << 24); // L2, R/W2 = 10 (I/O), LEN2 = 1 byte
        h.Cpu.UpdateBreakpoints();
        h.Load(a =>
        {
            a.@out(0x80, al);
            a.@out(0x82, al);
            a.nop();
        });
        Assert.That(h.RunToStop(), Is.EqualTo(StopReason.HaltedForever));
        Assert.That(d.Log, Has.Count.EqualTo(2));
        Assert.That(s.Dr[6] & 0xF, Is.EqualTo(4), "DR6.B2");
        Assert.That(h.Memory.Read(s.Gpr[4], 8), Is.EqualTo(CpuHarness.CodeAddress + 4), "trap after the OUT");
    }
}
