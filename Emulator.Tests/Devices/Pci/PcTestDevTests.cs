using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Devices;
using Emulator.Platform;
using Emulator.Tests.Cpu;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Devices.Pci;

/// <summary>
/// QEMU's pc-testdev (an ISA device; its tests live with QEMU's other test device, pci-testdev): the I/O
/// latches, the interrupt lines at 0x2000–0x2017, and the RAM-like MMIO window at 0xFF000000.
/// </summary>
public class PcTestDevTests
{
    private sealed class RecordingIrqs : IIrqController
    {
        public readonly List<(int Line, bool Level)> Log = [];

        public void SetIrq(int line, bool level) => Log.Add((line, level));
    }

    private sealed class Rig
    {
        public readonly IoBus Io = new();
        public readonly InterruptRouter Router = new();
        public readonly RecordingIrqs Pic = new();
        public readonly RecordingIrqs IoApic = new();
        public readonly PcTestDev Device;

        public Rig()
        {
            Router.Pic = Pic;
            Router.IoApic = IoApic;
            Device = new PcTestDev(Router);
            Io.Register(PcTestDev.LatchPort, PcTestDev.LatchPortsLength, Device);
            Io.Register(PcTestDev.IrqPortBase, PcTestDev.IrqLines, Device);
        }
    }

    [TestCase(1, 0x5Au)]
    [TestCase(2, 0xBEEFu)]
    [TestCase(4, 0xDEAD_BEEFu)]
    public void Latch_WriteAtE0_ReadsBackAtEverySize(int size, uint value)
    {
        var rig = new Rig();
        rig.Io.Out(0xE0, 4, 0x1122_3344);
        rig.Io.Out(0xE0, size, value);
        uint mask = size == 4 ? uint.MaxValue : (1u << (8 * size)) - 1;
        Assert.That(rig.Io.In(0xE0, size), Is.EqualTo(value));
        Assert.That(rig.Io.In(0xE0, 4), Is.EqualTo((0x1122_3344u & ~mask) | value), "bytes beyond the access kept");
    }

    [Test]
    public void Latch_ByteAndWordAccessesAtOffsets_HitTheirBytes()
    {
        var rig = new Rig();
        rig.Io.Out(0xE0, 4, 0);
        rig.Io.Out(0xE3, 1, 0xAA);
        rig.Io.Out(0xE1, 1, 0xBB);
        rig.Io.Out(0xE2, 2, 0xCCDD);
        Assert.That(rig.Device.Latch, Is.EqualTo(0xCCDD_BB00u));
        Assert.That(rig.Io.In(0xE1, 1), Is.EqualTo(0xBBu));
        Assert.That(rig.Io.In(0xE2, 2), Is.EqualTo(0xCCDDu));
    }

    [Test]
    public void ByteLatch_E8_SharesTheLatch()
    {
        var rig = new Rig();
        rig.Io.Out(0xE0, 4, 0x0102_0304);
        Assert.That(rig.Io.In(0xE8, 4), Is.EqualTo(0x0102_0304u));
        rig.Io.Out(0xE9, 1, 0xFF);
        Assert.That(rig.Io.In(0xE0, 4), Is.EqualTo(0x0102_FF04u));
        rig.Io.Out(0xE8, 4, 0xA1B2_C3D4);
        Assert.That(rig.Io.In(0xE0, 4), Is.EqualTo(0xA1B2_C3D4u));
        Assert.That(rig.Io.In(0xEB, 1), Is.EqualTo(0xA1u));
    }

    [Test]
    public void FlushPort_DwordWrite_Accepted()
    {
        var rig = new Rig();
        rig.Io.Out(0xE0, 4, 0x1234_5678);
        rig.Io.Out(0xE4, 4, 0x0012_3456);
        Assert.That(rig.Device.LastFlushedPage, Is.EqualTo(0x0012_3000u));
        Assert.That(rig.Io.In(0xE0, 4), Is.EqualTo(0x1234_5678u), "the latch is untouched");
    }

    [TestCase(1, 1)]
    [TestCase(4, 4)]
    [TestCase(14, 14)]
    [TestCase(0, 2)]
    public void IrqLine_IsaLine_RaisesThenLowersPicAndIoApic(int line, int ioapicPin)
    {
        var rig = new Rig();
        rig.Io.Out((ushort)(0x2000 + line), 1, 1);
        Assert.That(rig.Router.IsaLevel(line), Is.True);
        rig.Io.Out((ushort)(0x2000 + line), 1, 0);
        Assert.That(rig.Pic.Log, Is.EqualTo(new[] { (line, true), (line, false) }));
        Assert.That(rig.IoApic.Log, Is.EqualTo(new[] { (ioapicPin, true), (ioapicPin, false) }));
    }

    [Test]
    public void IrqLine_AboveFifteen_ReachesOnlyTheIoApic()
    {
        var rig = new Rig();
        rig.Io.Out(0x2014, 1, 0x80);
        rig.Io.Out(0x2017, 1, 1);
        Assert.That(rig.Pic.Log, Is.Empty);
        Assert.That(rig.IoApic.Log, Is.EqualTo(new[] { (20, true), (23, true) }));
    }

    [Test]
    public void IrqLine_WordWrite_IsRejected()
    {
        var rig = new Rig();
        rig.Io.Out(0x2003, 2, 1);
        Assert.That(rig.Pic.Log, Is.Empty);
        Assert.That(rig.IoApic.Log, Is.Empty);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    [TestCase(8)]
    public void Iomem_EverySize_BehavesAsRam(int size)
    {
        using var memory = new PhysicalMemory(16 << 20);
        var dev = new PcTestDev(new InterruptRouter());
        memory.AddMmio(PcTestDev.IomemBase, PcTestDev.IomemLength, dev);
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        var ram = new byte[PcTestDev.IomemLength];
        var rng = new Random(size);
        for (int n = 0; n < 2000; n++)
        {
            ulong offset = (ulong)rng.Next(0, PcTestDev.IomemLength - size + 1);
            ulong value = (ulong)rng.NextInt64() & mask;
            memory.Write(PcTestDev.IomemBase + offset, size, value);
            for (int i = 0; i < size; i++)
            {
                ram[(int)offset + i] = (byte)(value >> (8 * i));
            }
            ulong probe = (ulong)rng.Next(0, PcTestDev.IomemLength - 8 + 1);
            Assert.That(memory.Read(PcTestDev.IomemBase + probe, size), Is.EqualTo(BitConverter.ToUInt64(ram, (int)probe) & mask));
        }
        Assert.That(memory.Read(PcTestDev.IomemBase + PcTestDev.IomemLength - (ulong)size, size), Is.EqualTo(BitConverter.ToUInt64(ram, PcTestDev.IomemLength - 8) >> (64 - 8 * size)), "last bytes of the window");
    }

    /// <summary>
    /// The point of the window: instructions whose operands are in it run through the MMIO path and must
    /// give what they give on RAM. Each snippet runs with EBX at RAM and at 0xFF000000; registers, flags and
    /// the 64 bytes at EBX must match.
    /// </summary>
    [TestCase("mov")]
    [TestCase("alu")]
    [TestCase("xchg")]
    [TestCase("cmpxchg")]
    [TestCase("movs")]
    [TestCase("stos")]
    [TestCase("push-pop")]
    [TestCase("sse")]
    public void Iomem_Instructions_BehaveAsOnRam(string kind)
    {
        Action<Assembler> body = kind switch
        {
            "mov" => a =>
            {
                a.mov(__dword_ptr[ebx], 0x1234_5678);
                a.mov(__word_ptr[ebx + 6], 0xBEEF);
                a.mov(__byte_ptr[ebx + 9], 0x7F);
                a.mov(eax, __dword_ptr[ebx + 1]);
                a.movzx(ecx, __word_ptr[ebx + 5]);
                a.movsx(edx, __byte_ptr[ebx + 9]);
            },
            "alu" => a =>
            {
                a.mov(__dword_ptr[ebx], 0xFFFF_FFFF);
                a.add(__dword_ptr[ebx], 1);
                a.adc(__byte_ptr[ebx + 4], 0x80);
                a.@or(__word_ptr[ebx + 8], 0x1234);
                a.inc(__dword_ptr[ebx + 12]);
                a.neg(__dword_ptr[ebx + 12]);
                a.shl(__dword_ptr[ebx + 8], 3);
                a.bts(__dword_ptr[ebx + 16], 5);
                a.cmp(__dword_ptr[ebx + 8], 0x91A0);
            },
            "xchg" => a =>
            {
                a.mov(__dword_ptr[ebx + 4], 0xAABB_CCDD);
                a.mov(ecx, 0x1122_3344);
                a.xchg(__dword_ptr[ebx + 4], ecx);
                a.mov(edx, 5);
                a.@lock.xadd(__dword_ptr[ebx + 4], edx);
            },
            "cmpxchg" => a =>
            {
                a.mov(__dword_ptr[ebx + 8], 7);
                a.mov(eax, 7);
                a.mov(ecx, 9);
                a.@lock.cmpxchg(__dword_ptr[ebx + 8], ecx);
                a.mov(eax, 1);
                a.@lock.cmpxchg(__dword_ptr[ebx + 8], ecx);
                a.mov(eax, 0x0102_0304);
                a.mov(edx, 0x0506_0708);
                a.mov(__dword_ptr[ebx + 16], eax);
                a.mov(__dword_ptr[ebx + 20], edx);
                a.mov(ecx, 0xCAFE);
                a.mov(eax, 0x0102_0304);
                // CMPXCHG8B stores ECX:EBX, so address through ESI and put a fixed value in EBX.
                a.mov(esi, ebx);
                a.mov(ebx, 0x1111_2222);
                a.@lock.cmpxchg8b(__qword_ptr[esi + 16]);
                a.@lock.cmpxchg8b(__qword_ptr[esi + 16]);
                a.mov(ebx, esi);
            },
            "movs" => a =>
            {
                a.mov(esi, (uint)CpuHarness.DataAddress + 0x100);
                a.mov(__dword_ptr[esi], 0x6162_6364);
                a.mov(__dword_ptr[esi + 4], 0x6566_6768);
                a.mov(edi, ebx);
                a.mov(ecx, 8);
                a.cld();
                a.rep.movsb();
                a.mov(esi, ebx);
                a.lea(edi, __dword_ptr[ebx + 32]);
                a.mov(ecx, 2);
                a.rep.movsd();
                a.lea(esi, __dword_ptr[ebx + 32]);
                a.mov(edi, ebx);
                a.mov(ecx, 8);
                a.repe.cmpsb();
            },
            "stos" => a =>
            {
                a.mov(edi, ebx);
                a.mov(eax, 0x5A5A_A5A5);
                a.mov(ecx, 5);
                a.cld();
                a.rep.stosd();
                a.mov(esi, ebx);
                a.lodsw();
                a.mov(edi, ebx);
                a.mov(al, 0xA5);
                a.mov(ecx, 8);
                a.repne.scasb();
            },
            "push-pop" => a =>
            {
                a.push(__dword_ptr[ebx]);
                a.mov(__dword_ptr[ebx], 0x1357_9BDF);
                a.pop(__dword_ptr[ebx + 4]);
                a.push(0x2468);
                a.pop(__dword_ptr[ebx + 8]);
                a.mov(eax, __dword_ptr[ebx + 8]);
            },
            _ => a =>
            {
                a.mov(__dword_ptr[ebx], 0x3F80_0000);
                a.mov(__dword_ptr[ebx + 4], 0x4000_0000);
                a.movq(xmm0, __qword_ptr[ebx]);
                a.movq(__qword_ptr[ebx + 8], xmm0);
                a.movups(xmm1, __xmmword_ptr[ebx]);
                a.movups(__xmmword_ptr[ebx + 16], xmm1);
                a.addss(xmm1, __dword_ptr[ebx + 4]);
                a.movd(eax, xmm1);
            },
        };

        (ulong[] Regs, ulong Flags, byte[] Bytes) Run(bool mmio)
        {
            using var h = new CpuHarness(CpuMode.Protected32);
            var dev = new PcTestDev(new InterruptRouter());
            h.Memory.AddMmio(PcTestDev.IomemBase, PcTestDev.IomemLength, dev);
            ulong at = mmio ? PcTestDev.IomemBase : CpuHarness.DataAddress;
            for (int i = 0; i < 64; i++)
            {
                h.Memory.Write(at + (ulong)i, 1, (ulong)(i * 37 + 11));
            }
            h.Load(a =>
            {
                a.mov(ebx, (uint)at);
                body(a);
            }).Run();
            var regs = new ulong[8];
            for (int r = 0; r < 8; r++)
            {
                regs[r] = h.Cpu.GetGpr(r);
            }
            // EBX, ESI and EDI differ by the base; compare them relative to it.
            regs[3] -= at;
            regs[6] = regs[6] >= at && regs[6] < at + 0x1000 ? regs[6] - at : regs[6];
            regs[7] = regs[7] >= at && regs[7] < at + 0x1000 ? regs[7] - at : regs[7];
            var bytes = new byte[64];
            h.Memory.ReadBytes(at, bytes);
            return (regs, h.Flags & 0x8D5, bytes);
        }

        var onRam = Run(mmio: false);
        var onMmio = Run(mmio: true);
        Assert.That(onMmio.Bytes, Is.EqualTo(onRam.Bytes), "memory");
        Assert.That(onMmio.Regs, Is.EqualTo(onRam.Regs), "registers (EBX/ESI/EDI relative to the base)");
        Assert.That(onMmio.Flags, Is.EqualTo(onRam.Flags), "arithmetic flags");
    }
}
