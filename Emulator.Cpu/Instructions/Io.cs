using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Port I/O: IN OUT (imm8 and DX forms; 8, 16, 32 bits) and INS OUTS with REP (SDM Vol. 1 §19.4 "I/O
/// Instructions"), with the protection of §19.5 "Protected-Mode I/O": IOPL, then the I/O permission
/// bitmap of the TSS when CPL &gt; IOPL or in virtual-8086 mode.
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>Iterations a REP INS/OUTS runs in one step before it is re-executed (the loop then looks at interrupts).</summary>
    private const int MaxIoStringIterations = 1024;

    static partial void RegisterIo(HandlerFn[] t)
    {
        Set(t, &In_port, Code.In_AL_imm8, Code.In_AX_imm8, Code.In_EAX_imm8, Code.In_AL_DX, Code.In_AX_DX, Code.In_EAX_DX);
        Set(t, &Out_port, Code.Out_imm8_AL, Code.Out_imm8_AX, Code.Out_imm8_EAX, Code.Out_DX_AL, Code.Out_DX_AX, Code.Out_DX_EAX);
        Set(t, &Ins, Code.Insb_m8_DX, Code.Insw_m16_DX, Code.Insd_m32_DX);
        Set(t, &Outs, Code.Outsb_DX_m8, Code.Outsw_DX_m16, Code.Outsd_DX_m32);
    }

    /// <summary>
    /// SDM Vol. 1 §19.5.1 "I/O Privilege Level" and §19.5.2 "I/O Permission Bit Map": in protected mode
    /// with CPL &gt; IOPL, or in virtual-8086 mode, every bit for the accessed ports must be clear in the
    /// bitmap of a 32/64-bit TSS; bytes beyond the TSS limit count as set. #GP(0) otherwise.
    /// </summary>
    internal static bool IoAllowed(Vcpu cpu, ushort port, int size)
    {
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode || (!s.V86 && (ulong)s.Cpl <= s.Iopl))
        {
            return true;
        }
        return CheckIoBitmap(cpu, port, size);
    }

    private static bool CheckIoBitmap(Vcpu cpu, ushort port, int size)
    {
        ref CpuState s = ref cpu.State;
        ref Segment tr = ref s.Seg[(int)SegReg.Tr];
        // A 16-bit TSS has no bitmap; a 32-bit one must reach the I/O map base field.
        if ((tr.Attr & Segment.AttrUnusable) != 0 || (tr.Type & 8) == 0 || tr.Limit < 0x67)
        {
            return cpu.RaiseGp();
        }
        ulong trBase = s.LongModeActive ? tr.Base : (uint)tr.Base;
        if (!cpu.ReadLinear(LinearInTss(s, trBase, 0x66), 2, Access.Read | Access.Implicit, out ulong mapBase))
        {
            return false;
        }
        ulong offset = mapBase + (ulong)(port >> 3);
        if (offset + 1 > tr.Limit)
        {
            return cpu.RaiseGp();
        }
        if (!cpu.ReadLinear(LinearInTss(s, trBase, offset), 2, Access.Read | Access.Implicit, out ulong bits))
        {
            return false;
        }
        ulong mask = ((1UL << size) - 1) << (port & 7);
        if ((bits & mask) != 0)
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    private static ulong LinearInTss(in CpuState s, ulong trBase, ulong offset) =>
        s.LongModeActive ? trBase + offset : (uint)(trBase + offset);

    private static int IoSize(Code c) => c switch
    {
        Code.In_AL_imm8 or Code.In_AL_DX or Code.Out_imm8_AL or Code.Out_DX_AL or Code.Insb_m8_DX or Code.Outsb_DX_m8 => 1,
        Code.In_AX_imm8 or Code.In_AX_DX or Code.Out_imm8_AX or Code.Out_DX_AX or Code.Insw_m16_DX or Code.Outsw_DX_m16 => 2,
        _ => 4,
    };

    /// <summary>
    /// In VMX non-root operation, after the IOPL / I/O-permission checks that have priority (SDM Vol. 3C §26.1.1):
    /// does the access exit? The qualification is SDM Vol. 3C §28.2.1 table "Exit Qualification for I/O
    /// Instructions": bits 2:0 size − 1, bit 3 IN, bit 4 string, bit 5 REP, bit 6 immediate operand, bits 31:16 port.
    /// </summary>
    private static bool IoExits(Vcpu cpu, in Instruction i, ushort port, int size, bool input, bool str)
    {
        if (cpu.Vmx is null)
        {
            return false;
        }

        ulong q = (uint)(size - 1) | ((ulong)port << 16);
        q |= input ? 1UL << 3 : 0;
        q |= str ? 1UL << 4 : 0;
        q |= str && (i.HasRepPrefix || i.HasRepnePrefix) ? 1UL << 5 : 0;
        q |= !str && (input ? i.Op1Kind : i.Op0Kind) == OpKind.Immediate8 ? 1UL << 6 : 0;
        return cpu.Intercepted(VmxIntercept.Io, q);
    }

    /// <summary>SDM Vol. 2A "IN—Input From Port".</summary>
    private static void In_port(Vcpu cpu, in Instruction i)
    {
        int size = IoSize(i.Code);
        ushort port = i.Op1Kind == OpKind.Register ? (ushort)cpu.State.Gpr[2] : i.Immediate8;
        if (!IoAllowed(cpu, port, size) || IoExits(cpu, in i, port, size, input: true, str: false))
        {
            return;
        }
        uint v = cpu.Io.In(port, size);
        cpu.WriteGpr(i.Op0Register, v);
        if (cpu.IoBreakpoints)
        {
            cpu.NoteIoAccess(port, size);
        }
    }

    /// <summary>SDM Vol. 2B "OUT—Output to Port".</summary>
    private static void Out_port(Vcpu cpu, in Instruction i)
    {
        int size = IoSize(i.Code);
        ushort port = i.Op0Kind == OpKind.Register ? (ushort)cpu.State.Gpr[2] : i.Immediate8;
        if (!IoAllowed(cpu, port, size) || IoExits(cpu, in i, port, size, input: false, str: false))
        {
            return;
        }
        cpu.Io.Out(port, size, (uint)cpu.ReadGpr(i.Op1Register));
        if (cpu.IoBreakpoints)
        {
            cpu.NoteIoAccess(port, size);
        }
    }

    /// <summary>The low <paramref name="addrSize"/> bits of an index or count register.</summary>
    private static ulong IoAddrValue(ulong reg, int addrSize) => addrSize switch
    {
        64 => reg,
        32 => (uint)reg,
        _ => (ushort)reg,
    };

    /// <summary>Writes an index or count register at the address size: 64 replaces, 32 zero-extends, 16 merges.</summary>
    private static void IoAddrWrite(ref ulong reg, int addrSize, ulong v) => reg = addrSize switch
    {
        64 => v,
        32 => (uint)v,
        _ => (reg & ~0xFFFFUL) | (ushort)v,
    };

    /// <summary>
    /// SDM Vol. 2A "INS/INSB/INSW/INSD—Input from Port to String": ES:rDI (no override), rDI moves by the
    /// size (down with DF). The destination is checked for writing before the port is read, so a fault
    /// loses no input. With REP, rCX counts; a fault part-way leaves the finished iterations done.
    /// </summary>
    private static void Ins(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = IoSize(i.Code);
        ushort port = (ushort)s.Gpr[2];
        if (!IoAllowed(cpu, port, size) || IoExits(cpu, in i, port, size, input: true, str: true))
        {
            return;
        }
        int a = cpu.AddrSize;
        bool rep = i.HasRepPrefix || i.HasRepnePrefix;
        if (rep && IoAddrValue(s.Gpr[1], a) == 0)
        {
            return;
        }
        ulong delta = (s.Rflags & CpuState.FlagDf) != 0 ? (ulong)(long)-size : (ulong)size;
        for (int n = 0; ; n++)
        {
            ulong di = IoAddrValue(s.Gpr[7], a);
            if (!cpu.SegmentAddress((int)SegReg.Es, di, size, true, out ulong lin)
                || !cpu.Translate(lin, Access.Write, out _, out _)
                || !cpu.Translate(s.Is64 ? lin + (ulong)size - 1 : (uint)(lin + (ulong)size - 1), Access.Write, out _, out _))
            {
                return;
            }
            uint v = cpu.Io.In(port, size);
            if (!cpu.WriteLinear(lin, size, v))
            {
                return;
            }
            IoAddrWrite(ref s.Gpr[7], a, di + delta);
            if (cpu.IoBreakpoints)
            {
                cpu.NoteIoAccess(port, size);
            }
            if (!rep)
            {
                return;
            }
            ulong count = IoAddrValue(s.Gpr[1], a) - 1;
            IoAddrWrite(ref s.Gpr[1], a, count);
            if (count == 0)
            {
                return;
            }
            if (n + 1 >= MaxIoStringIterations)
            {
                cpu.NextRip = s.Rip;
                return;
            }
        }
    }

    /// <summary>
    /// SDM Vol. 2B "OUTS/OUTSB/OUTSW/OUTSD—Output String to Port": DS:rSI (segment override allowed).
    /// </summary>
    private static void Outs(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = IoSize(i.Code);
        ushort port = (ushort)s.Gpr[2];
        if (!IoAllowed(cpu, port, size) || IoExits(cpu, in i, port, size, input: false, str: true))
        {
            return;
        }
        int a = cpu.AddrSize;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        bool rep = i.HasRepPrefix || i.HasRepnePrefix;
        if (rep && IoAddrValue(s.Gpr[1], a) == 0)
        {
            return;
        }
        ulong delta = (s.Rflags & CpuState.FlagDf) != 0 ? (ulong)(long)-size : (ulong)size;
        for (int n = 0; ; n++)
        {
            ulong si = IoAddrValue(s.Gpr[6], a);
            if (!cpu.ReadMem(seg, si, size, out ulong v))
            {
                return;
            }
            cpu.Io.Out(port, size, (uint)v);
            IoAddrWrite(ref s.Gpr[6], a, si + delta);
            if (cpu.IoBreakpoints)
            {
                cpu.NoteIoAccess(port, size);
            }
            if (!rep)
            {
                return;
            }
            ulong count = IoAddrValue(s.Gpr[1], a) - 1;
            IoAddrWrite(ref s.Gpr[1], a, count);
            if (count == 0)
            {
                return;
            }
            if (n + 1 >= MaxIoStringIterations)
            {
                cpu.NextRip = s.Rip;
                return;
            }
        }
    }
}
