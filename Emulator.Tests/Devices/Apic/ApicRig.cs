using Emulator.Cpu;
using Emulator.Cpu.Bus;
using Emulator.Cpu.Memory;
using Emulator.Devices.Apic;
using Emulator.Platform;

namespace Emulator.Tests.Devices.Apic;

/// <summary>
/// A few vCPUs with their local APICs on one bus, an I/O APIC, the xAPIC page mapped, and a virtual clock
/// driven by hand: <see cref="Advance"/> moves every vCPU's time and fires the timers that are due.
/// Register accesses go through guest physical memory as the running vCPU (<see cref="VirtualClock.Current"/>).
/// </summary>
internal sealed class ApicRig : IDisposable
{
    public const ulong ApicPage = 0xFEE0_0000;

    public PhysicalMemory Memory { get; } = new(16 << 20);
    public IoBus Io { get; } = new();
    public VirtualClock Clock { get; } = new();
    public ApicBus Bus { get; }
    public IoApic IoApic { get; }
    public Vcpu[] Cpus { get; }
    public LocalApic[] Apics { get; }

    public ApicRig(int cpus = 2, IExtIntSource? extInt = null)
    {
        Bus = new ApicBus(Clock);
        Bus.AttachMmio(Memory);
        Memory.AddMmio(IoApic.DefaultBase, 0x1000, IoApic = new IoApic(Bus));
        Cpus = new Vcpu[cpus];
        Apics = new LocalApic[cpus];
        for (int i = 0; i < cpus; i++)
        {
            Cpus[i] = new Vcpu(Memory, Io, i);
            Apics[i] = new LocalApic(Cpus[i], i, Clock, Bus, i == 0 ? extInt : null);
            Cpus[i].Interrupts = Apics[i];
            Cpus[i].MsrDevice = Apics[i];
            Cpus[i].X2ApicSupported = true;
        }
        Clock.Current = Cpus[0];
    }

    public long Now => Clock.Now;

    /// <summary>Reads an xAPIC register as vCPU <paramref name="cpu"/>.</summary>
    public uint Read(int cpu, int reg)
    {
        Clock.Current = Cpus[cpu];
        return (uint)Memory.Read(ApicPage + (ulong)reg, 4);
    }

    /// <summary>Writes an xAPIC register as vCPU <paramref name="cpu"/>.</summary>
    public void Write(int cpu, int reg, uint value)
    {
        Clock.Current = Cpus[cpu];
        Memory.Write(ApicPage + (ulong)reg, 4, value);
    }

    /// <summary>Software-enables every APIC with spurious vector 0xFF.</summary>
    public ApicRig Enable()
    {
        for (int i = 0; i < Cpus.Length; i++)
        {
            Write(i, ApicReg.Svr, 0x1FF);
        }
        Clock.Current = Cpus[0];
        return this;
    }

    /// <summary>xAPIC IPI: destination in ICR[63:56], then the low half, which sends.</summary>
    public void SendIpi(int from, uint low, uint destination = 0)
    {
        Write(from, ApicReg.IcrHigh, destination << 24);
        Write(from, ApicReg.IcrLow, low);
    }

    public bool WriteMsr(int cpu, uint index, ulong value)
    {
        Clock.Current = Cpus[cpu];
        return Cpus[cpu].WriteMsr(index, value);
    }

    public bool ReadMsr(int cpu, uint index, out ulong value)
    {
        Clock.Current = Cpus[cpu];
        return Cpus[cpu].ReadMsr(index, out value);
    }

    /// <summary>IA32_APIC_BASE through the CPU's WRMSR path (false = #GP).</summary>
    public bool WriteApicBase(int cpu, ulong value) => WriteMsr(cpu, 0x1B, value);

    public ulong ApicBase(int cpu) => Cpus[cpu].State.ApicBase;

    /// <summary>Switches vCPU <paramref name="cpu"/> to x2APIC mode.</summary>
    public void EnterX2Apic(int cpu)
    {
        Assert.That(WriteApicBase(cpu, ApicBase(cpu) | LocalApic.BaseExtd), Is.True);
    }

    /// <summary>Moves every vCPU's time forward by <paramref name="ns"/> and fires the timers due.</summary>
    public void Advance(long ns)
    {
        foreach (Vcpu c in Cpus)
        {
            c.TimeOffsetNs += ns;
        }
        Clock.RoundStartNs += ns;
        Clock.FireDue(Clock.Now);
    }

    /// <summary>The INTA cycle the processor runs when it takes an interrupt: -1 if none is pending.</summary>
    public int Take(int cpu) => Apics[cpu].HasPending ? Apics[cpu].Acknowledge() : -1;

    public void Eoi(int cpu) => Write(cpu, ApicReg.Eoi, 0);

    /// <summary>
    /// The bit for <paramref name="vector"/> in the 8×32-bit register array at <paramref name="baseReg"/> (ISR, TMR,
    /// IRR), read from the register file directly so that it works in x2APIC mode too.
    /// </summary>
    public bool Bit(int cpu, int baseReg, int vector) =>
        ((Apics[cpu].ReadRegister(baseReg + (vector >> 5) * 0x10) >> (vector & 31)) & 1) != 0;

    public void Dispose() => Memory.Dispose();
}

/// <summary>A stand-in 8259: a settable INTR and a fixed vector.</summary>
internal sealed class FakePic : IExtIntSource
{
    public bool IntrPending { get; set; }
    public int Vector { get; set; } = 0x08;
    public int Acknowledged { get; private set; }

    public int AcknowledgeIntr()
    {
        Acknowledged++;
        IntrPending = false;
        return Vector;
    }
}
