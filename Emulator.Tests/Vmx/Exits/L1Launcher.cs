using Emulator.Tests.Cpu;
using Emulator.Tests.Vmx.Entry;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using F = Emulator.Vmx.Vmcs.VmcsField;

namespace Emulator.Tests.Vmx.Exits;

/// <summary>
/// Builds an L1 that enables VMX, VMWRITEs a valid vmcs12 (<see cref="Vmcs12Builder"/> plus overrides) from a
/// table in guest memory and launches L2; the first VM exit brings L1 to its final NOP.
/// </summary>
internal static class L1Launcher
{
    public const ulong L2Code = 0x30_0000;
    public const ulong FieldTable = 0x31_0000;
    public const ulong VmxonPtr = CpuHarness.DataAddress;
    public const ulong VmcsPtr = CpuHarness.DataAddress + 8;

    /// <param name="orProcBasedControls">
    /// True: an override of the primary processor-based controls is OR-ed into the builder's value (tests that add
    /// an exiting control keep the defaults); false: every override replaces the builder's value.
    /// </param>
    public static VmxTestBed Build(Action<VmxTestBed>? setup, Action<Assembler> l2, (F Field, ulong Value)[] fields, bool orProcBasedControls)
    {
        var bed = new VmxTestBed();
        setup?.Invoke(bed);
        var asm = new Assembler(64);
        l2(asm);
        bed.H.Memory.TryWriteBytes(L2Code, asm.ToBytes(L2Code));

        ulong at = FieldTable;
        void Put(F field, ulong value)
        {
            bed.H.Memory.Write(at, 8, (ulong)field);
            bed.H.Memory.Write(at + 8, 8, value);
            at += 16;
        }

        Vmcs12Builder.Fill((field, value) =>
        {
            if (orProcBasedControls && field == F.CpuBasedVmExecControl)
            {
                foreach ((F f, ulong v) in fields)
                {
                    if (f == field)
                    {
                        value |= v;
                    }
                }
            }
            Put(field, field == F.GuestRip ? L2Code : value);
        });
        foreach ((F f, ulong v) in fields)
        {
            if (!orProcBasedControls || f != F.CpuBasedVmExecControl)
            {
                Put(f, v);
            }
        }

        bed.H.Memory.Write(at, 8, ulong.MaxValue);
        bed.H.Memory.Write(VmxonPtr, 8, VmxTestBed.VmxonRegion);
        bed.H.Memory.Write(VmcsPtr, 8, VmxTestBed.Vmcs1);
        bed.H.Load(a =>
        {
            Label fill = a.CreateLabel();
            Label filled = a.CreateLabel();
            Label exit = a.CreateLabel();
            a.mov(rax, VmxonPtr);
            a.vmxon(__qword_ptr[rax]);
            a.mov(rax, VmcsPtr);
            a.vmclear(__qword_ptr[rax]);
            a.vmptrld(__qword_ptr[rax]);
            a.mov(rsi, FieldTable);
            a.Label(ref fill);
            a.mov(rcx, __qword_ptr[rsi]);
            a.cmp(rcx, -1);
            a.je(filled);
            a.vmwrite(rcx, __qword_ptr[rsi + 8]);
            a.add(rsi, 16);
            a.jmp(fill);
            a.Label(ref filled);
            a.lea(rax, __[exit]);
            a.mov(ecx, (uint)F.HostRip);
            a.vmwrite(rcx, rax);
            a.vmlaunch();
            a.ud2();
            a.Label(ref exit);
            a.nop();
        });
        return bed;
    }
}
