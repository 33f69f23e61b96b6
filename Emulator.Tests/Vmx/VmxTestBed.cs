using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Vmx;

/// <summary>
/// A Long64 CPU harness with VMX attached and enabled the way firmware and an L1 kernel do it: CR4.VMXE set,
/// IA32_FEATURE_CONTROL locked with "VMXON outside SMX", a VMXON region and two VMCS regions carrying the
/// revision id. Instructions run for real through the interpreter.
/// </summary>
internal sealed class VmxTestBed : IDisposable
{
    public const ulong VmxonRegion = 0x10_0000;
    public const ulong Vmcs1 = 0x10_1000;
    public const ulong Vmcs2 = 0x10_2000;
    public const ulong Operand = CpuHarness.DataAddress;
    public const ulong Arith = CpuState.FlagCf | CpuState.FlagPf | CpuState.FlagAf | CpuState.FlagZf | CpuState.FlagSf | CpuState.FlagOf;

    public VmxTestBed(bool vmxon = false, bool vmwriteAnyField = true, CpuMode mode = CpuMode.Long64)
    {
        H = new CpuHarness(mode);
        Vmx = new VcpuVmx(H.Cpu, vmwriteAnyField);
        H.Cpu.Vmx = Vmx;
        H.Cpu.State.Cr4 |= CpuState.Cr4Vmxe;
        H.Cpu.State.FeatureControl = 5;
        foreach (ulong region in (ReadOnlySpan<ulong>)[VmxonRegion, Vmcs1, Vmcs2])
        {
            H.Memory.Write(region, 4, Vmcs12Layout.Revision);
        }

        if (vmxon)
        {
            Assert.That(Exec(a => a.vmxon(__qword_ptr[rax]), rax: Ptr(VmxonRegion)), Is.EqualTo(0UL), "VMXON");
        }
    }

    public CpuHarness H { get; }

    public VcpuVmx Vmx { get; }

    /// <summary>The VM-instruction error field of the current (cached) vmcs12.</summary>
    public ulong Error => Vmcs12Layout.Read(Vmx.CachedVmcs12, VmcsField.VmInstructionError);

    /// <summary>Puts <paramref name="pointer"/> at <see cref="Operand"/> and returns that address, for m64 operands.</summary>
    public ulong Ptr(ulong pointer)
    {
        H.Memory.Write(Operand, 8, pointer);
        return Operand;
    }

    /// <summary>
    /// Runs the snippet with the arithmetic flags first set to all ones (so VMsucceed/VMfail must clear them) and
    /// returns the arithmetic flags after it.
    /// </summary>
    public ulong Exec(Action<Assembler> build, ulong rax = 0)
    {
        H[Register.RAX] = rax;
        H.Cpu.Rflags = 2 | Arith;
        H.Load(build).Run();
        return H.Flags & Arith;
    }

    /// <summary>Runs one instruction that must fault; returns the vector delivered, RIP unchanged.</summary>
    public int Fault(Action<Assembler> build, ulong rax = 0)
    {
        H[Register.RAX] = rax;
        H.Cpu.LastEventVector = -1;
        H.Load(build);
        H.Cpu.Run(1);
        return H.Cpu.LastEventVector;
    }

    public void Vmptrld(ulong vmcs)
    {
        Action<Assembler> build = H.Bitness == 64 ? a => a.vmptrld(__qword_ptr[rax]) : a => a.vmptrld(__qword_ptr[eax]);
        Assert.That(Exec(build, Ptr(vmcs)), Is.EqualTo(0UL), "VMPTRLD");
    }

    public void Dispose() => H.Dispose();
}
