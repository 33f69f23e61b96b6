using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// String instructions MOVS STOS LODS SCAS CMPS with REP/REPE/REPNE (SDM Vol. 1 §7.3.9 "String Operations",
/// Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ—Repeat String Operation Prefix").
/// <para>
/// The address size picks the counter and index registers (CX/SI/DI, ECX/ESI/EDI, RCX/RSI/RDI); a 32-bit
/// update zero-extends into the 64-bit register, a 16-bit one merges. The source segment (DS) may be
/// overridden; the destination is always ES:rDI. DF selects the direction.
/// </para>
/// <para>
/// A repeated instruction keeps RIP on itself and updates rCX/rSI/rDI as iterations complete, so a fault
/// part-way leaves the registers describing the finished iterations and the instruction restarts from
/// there. At most <see cref="MaxStringIterations"/> iterations run per step; then the instruction is
/// re-executed (NextRip = RIP) so that interrupts and the run budget are looked at in between, which the
/// SDM allows ("Service pending interrupts (if any)" in the REP pseudocode).
/// </para>
/// <para>
/// REP MOVS and REP STOS copy or fill a whole run at once when the source and destination runs each stay
/// inside one page of RAM, inside the index range and inside a plain expand-up data segment; anything else
/// (page-crossing elements, MMIO, expand-down or unusual segments) goes one element at a time through the
/// checked memory helpers. An overlapping MOVS whose element order matters is copied element by element in
/// host memory, so the result is always what the per-element definition gives.
/// </para>
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>Iterations a repeated string instruction may run in one step before it is re-executed.</summary>
    internal const int MaxStringIterations = 4096;

    static partial void RegisterString(HandlerFn[] t)
    {
        Set(t, &Movs, Code.Movsb_m8_m8, Code.Movsw_m16_m16, Code.Movsd_m32_m32, Code.Movsq_m64_m64);
        Set(t, &Stos, Code.Stosb_m8_AL, Code.Stosw_m16_AX, Code.Stosd_m32_EAX, Code.Stosq_m64_RAX);
        Set(t, &Lods, Code.Lodsb_AL_m8, Code.Lodsw_AX_m16, Code.Lodsd_EAX_m32, Code.Lodsq_RAX_m64);
        Set(t, &Scas, Code.Scasb_AL_m8, Code.Scasw_AX_m16, Code.Scasd_EAX_m32, Code.Scasq_RAX_m64);
        Set(t, &Cmps, Code.Cmpsb_m8_m8, Code.Cmpsw_m16_m16, Code.Cmpsd_m32_m32, Code.Cmpsq_m64_m64);
    }

    /// <summary>Writes an address-size register (rCX, rSI, rDI): 64 replaces, 32 zero-extends, 16 merges.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteAddrReg(ref ulong reg, int addrSize, ulong v)
    {
        reg = addrSize switch
        {
            64 => v,
            32 => (uint)v,
            _ => (reg & ~0xFFFFUL) | (ushort)v,
        };
    }

    /// <summary>Per-element step: +size, or −size when EFLAGS.DF = 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong StringDelta(ref CpuState s, int size) =>
        (s.Rflags & CpuState.FlagDf) != 0 ? (ulong)(long)-size : (ulong)size;

    // ------------------------------------------------------------------ MOVS

    private static void Movs(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = Vcpu.MemSize[(int)i.MemorySize];
        int srcSeg = Vcpu.SegIndex(i.MemorySegment);
        int asz = cpu.AddrSize;
        ulong amask = CounterMask(asz);
        ulong delta = StringDelta(ref s, size);
        ulong si = s.Gpr[6];
        ulong di = s.Gpr[7];
        const int es = (int)SegReg.Es;

        // F2 acts as REP on MOVS/STOS/LODS, as on hardware.
        if (!i.HasRepPrefix && !i.HasRepnePrefix)
        {
            if (cpu.ReadMem(srcSeg, si & amask, size, out ulong v) && cpu.WriteMem(es, di & amask, size, v))
            {
                WriteAddrReg(ref s.Gpr[6], asz, si + delta);
                WriteAddrReg(ref s.Gpr[7], asz, di + delta);
            }
            return;
        }

        ulong count = s.Gpr[1] & amask;
        if (count == 0)
        {
            return;
        }
        bool down = (s.Rflags & CpuState.FlagDf) != 0;
        ulong budget = MaxStringIterations;
        bool bulk = true;
        while (true)
        {
            ulong n = 0;
            if (bulk)
            {
                n = MovsBulk(cpu, srcSeg, si & amask, di & amask, size, down, amask, Math.Min(count, budget), out bulk);
                if (cpu.FaultPending)
                {
                    break;
                }
            }
            if (n == 0)
            {
                if (!cpu.ReadMem(srcSeg, si & amask, size, out ulong v) || !cpu.WriteMem(es, di & amask, size, v))
                {
                    break;
                }
                n = 1;
            }
            si += delta * n;
            di += delta * n;
            count -= n;
            budget -= n;
            if (count == 0 || budget == 0)
            {
                break;
            }
        }
        FinishRep(cpu, asz, count, si, di);
    }

    /// <summary>Commits rCX/rSI/rDI after a repeated instruction's iterations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CommitRep(ref CpuState s, int asz, ulong count, ulong si, ulong di)
    {
        WriteAddrReg(ref s.Gpr[1], asz, count);
        WriteAddrReg(ref s.Gpr[6], asz, si);
        WriteAddrReg(ref s.Gpr[7], asz, di);
    }

    /// <summary>
    /// Commits rCX/rSI/rDI and re-executes the instruction when the budget ran out with work left (a pending
    /// fault keeps RIP on the instruction anyway).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishRep(Vcpu cpu, int asz, ulong count, ulong si, ulong di)
    {
        CommitRep(ref cpu.State, asz, count, si, di);
        if (count != 0)
        {
            cpu.NextRip = cpu.State.Rip;
        }
    }

    /// <summary>
    /// How many elements from offset <paramref name="ea"/> (the first one the instruction touches) form a run
    /// that stays in one linear page, does not wrap the index register and passes the segment checks without
    /// faulting; 0 when the next element must go the checked way. <paramref name="simple"/> is false when no
    /// later element of this step can take the fast path either (an unusual segment).
    /// </summary>
    private static ulong StringRun(ref CpuState s, int seg, ulong ea, int size, bool down, ulong amask, bool write,
        ulong want, out ulong linear, out bool simple)
    {
        ref Segment sg = ref s.Seg[seg];
        bool is64 = s.Is64;
        ulong segBase;
        simple = true;
        linear = 0;
        if (is64)
        {
            segBase = seg >= (int)SegReg.Fs ? sg.Base : 0;
        }
        else
        {
            if (s.ProtectedMode)
            {
                // Only usable, present, expand-up data segments (writable for a store) with a non-null
                // selector take the fast path; SegmentAddress decides everything else.
                uint a = sg.Attr;
                if ((a & (Segment.AttrUnusable | 0xC)) != 0 || (a & Segment.AttrP) == 0 || (write && (a & 2) == 0)
                    || (!s.V86 && !s.LongModeActive && (sg.Selector & 0xFFFC) == 0))
                {
                    simple = false;
                    return 0;
                }
            }
            segBase = sg.Base;
        }
        ulong lin = segBase + ea;
        if (!is64)
        {
            lin = (uint)lin;
        }
        linear = lin;
        ulong off = lin & 0xFFF;
        ulong sz = (ulong)size;
        ulong n;
        if (ea + sz - 1 > amask || off + sz > 0x1000)
        {
            // The first element wraps the index or crosses a page: per element.
            return 0;
        }
        if (!down)
        {
            n = Math.Min((0x1000 - off) / sz, (amask - (ea + sz - 1)) / sz + 1);
        }
        else
        {
            n = Math.Min(off / sz, ea / sz) + 1;
        }
        n = Math.Min(n, want);
        if (is64)
        {
            // A 4 KiB page is canonical as a whole or not at all.
            if (!Vcpu.IsCanonical(lin))
            {
                simple = false;
                return 0;
            }
        }
        else
        {
            ulong high = down ? ea + sz - 1 : ea + n * sz - 1;
            if (high > sg.Limit)
            {
                simple = false;
                return 0;
            }
        }
        return n;
    }

    /// <summary>
    /// REP MOVS fast path: copies up to <paramref name="want"/> elements in host memory when both runs are RAM
    /// in one page each. Returns the number copied, 0 when the next element must go the checked way (with
    /// <paramref name="keepTrying"/> false when the rest of this step should not try again). A translation
    /// fault is raised exactly as the first per-element access would raise it.
    /// </summary>
    private static ulong MovsBulk(Vcpu cpu, int srcSeg, ulong srcEa, ulong dstEa, int size, bool down, ulong amask,
        ulong want, out bool keepTrying)
    {
        ref CpuState s = ref cpu.State;
        ulong n = StringRun(ref s, srcSeg, srcEa, size, down, amask, false, want, out ulong srcLin, out bool srcSimple);
        if (n != 0)
        {
            n = StringRun(ref s, (int)SegReg.Es, dstEa, size, down, amask, true, n, out ulong dstLin, out bool dstSimple);
            keepTrying = srcSimple && dstSimple;
            if (n == 0)
            {
                return 0;
            }
            if (!cpu.Translate(srcLin, Access.Read, out _, out byte* src) || !cpu.Translate(dstLin, Access.Write, out _, out byte* dst))
            {
                return 0;
            }
            if (src == null || dst == null)
            {
                keepTrying = false;
                return 0;
            }
            CopyRun(cpu, src, dst, n, size, down);
            return n;
        }
        keepTrying = srcSimple;
        return 0;
    }

    /// <summary>Copies <paramref name="n"/> elements from the first source to the first destination element.</summary>
    private static void CopyRun(Vcpu cpu, byte* src, byte* dst, ulong n, int size, bool down)
    {
        ulong bytes = n * (ulong)size;
        ulong back = (n - 1) * (ulong)size;
        byte* srcLow = down ? src - back : src;
        byte* dstLow = down ? dst - back : dst;
        bool overlap = dstLow < srcLow + bytes && srcLow < dstLow + bytes;
        // Element order is invisible unless the destination runs ahead of the source into it.
        if (!overlap || (down ? dstLow >= srcLow : dstLow <= srcLow))
        {
            Buffer.MemoryCopy(srcLow, dstLow, bytes, bytes);
        }
        else
        {
            long step = down ? -size : size;
            for (ulong k = 0; k < n; k++)
            {
                switch (size)
                {
                    case 1: *dst = *src; break;
                    case 2: Unsafe.WriteUnaligned(dst, Unsafe.ReadUnaligned<ushort>(src)); break;
                    case 4: Unsafe.WriteUnaligned(dst, Unsafe.ReadUnaligned<uint>(src)); break;
                    default: Unsafe.WriteUnaligned(dst, Unsafe.ReadUnaligned<ulong>(src)); break;
                }
                src += step;
                dst += step;
            }
        }
        cpu.Memory.NoteWrite(dstLow, (int)bytes);
    }

    // ------------------------------------------------------------------ STOS

    private static void Stos(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = Vcpu.MemSize[(int)i.MemorySize];
        int asz = cpu.AddrSize;
        ulong amask = CounterMask(asz);
        ulong delta = StringDelta(ref s, size);
        ulong value = s.Gpr[0];
        ulong di = s.Gpr[7];
        const int es = (int)SegReg.Es;

        if (!i.HasRepPrefix && !i.HasRepnePrefix)
        {
            if (cpu.WriteMem(es, di & amask, size, value))
            {
                WriteAddrReg(ref s.Gpr[7], asz, di + delta);
            }
            return;
        }

        ulong count = s.Gpr[1] & amask;
        if (count == 0)
        {
            return;
        }
        bool down = (s.Rflags & CpuState.FlagDf) != 0;
        ulong budget = MaxStringIterations;
        bool bulk = true;
        while (true)
        {
            ulong n = 0;
            if (bulk)
            {
                n = StosBulk(cpu, di & amask, size, down, amask, Math.Min(count, budget), value, out bulk);
                if (cpu.FaultPending)
                {
                    break;
                }
            }
            if (n == 0)
            {
                if (!cpu.WriteMem(es, di & amask, size, value))
                {
                    break;
                }
                n = 1;
            }
            di += delta * n;
            count -= n;
            budget -= n;
            if (count == 0 || budget == 0)
            {
                break;
            }
        }
        FinishRep(cpu, asz, count, s.Gpr[6], di);
    }

    /// <summary>REP STOS fast path: fills up to <paramref name="want"/> elements of one RAM page (see <see cref="MovsBulk"/>).</summary>
    private static ulong StosBulk(Vcpu cpu, ulong dstEa, int size, bool down, ulong amask, ulong want, ulong value, out bool keepTrying)
    {
        ulong n = StringRun(ref cpu.State, (int)SegReg.Es, dstEa, size, down, amask, true, want, out ulong dstLin, out keepTrying);
        if (n == 0)
        {
            return 0;
        }
        if (!cpu.Translate(dstLin, Access.Write, out _, out byte* dst))
        {
            return 0;
        }
        if (dst == null)
        {
            keepTrying = false;
            return 0;
        }
        byte* low = down ? dst - (n - 1) * (ulong)size : dst;
        int count = (int)n;
        switch (size)
        {
            case 1: new Span<byte>(low, count).Fill((byte)value); break;
            case 2: new Span<ushort>(low, count).Fill((ushort)value); break;
            case 4: new Span<uint>(low, count).Fill((uint)value); break;
            default: new Span<ulong>(low, count).Fill(value); break;
        }
        cpu.Memory.NoteWrite(low, count * size);
        return n;
    }

    // ------------------------------------------------------------------ LODS

    /// <summary>LODS: the accumulator write follows the size (AL and AX merge, EAX zero-extends).</summary>
    private static void Lods(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = Vcpu.MemSize[(int)i.MemorySize];
        int srcSeg = Vcpu.SegIndex(i.MemorySegment);
        int asz = cpu.AddrSize;
        ulong amask = CounterMask(asz);
        ulong delta = StringDelta(ref s, size);
        ulong si = s.Gpr[6];
        Register acc = i.Op0Register;

        if (!i.HasRepPrefix && !i.HasRepnePrefix)
        {
            if (cpu.ReadMem(srcSeg, si & amask, size, out ulong v))
            {
                cpu.WriteGpr(acc, v);
                WriteAddrReg(ref s.Gpr[6], asz, si + delta);
            }
            return;
        }

        ulong count = s.Gpr[1] & amask;
        if (count == 0)
        {
            return;
        }
        ulong budget = MaxStringIterations;
        do
        {
            if (!cpu.ReadMem(srcSeg, si & amask, size, out ulong v))
            {
                break;
            }
            cpu.WriteGpr(acc, v);
            si += delta;
            count--;
            budget--;
        }
        while (count != 0 && budget != 0);
        FinishRep(cpu, asz, count, si, s.Gpr[7]);
    }

    // ------------------------------------------------------------------ SCAS / CMPS

    /// <summary>
    /// SCAS: compares the accumulator with ES:[rDI] (flags of accumulator − memory). REPE stops when ZF = 0,
    /// REPNE when ZF = 1, both after the counter has been decremented.
    /// </summary>
    private static void Scas(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = Vcpu.MemSize[(int)i.MemorySize];
        int asz = cpu.AddrSize;
        ulong amask = CounterMask(asz);
        ulong delta = StringDelta(ref s, size);
        ulong mask = Vcpu.SizeMask(size);
        ulong acc = s.Gpr[0] & mask;
        ulong di = s.Gpr[7];
        const int es = (int)SegReg.Es;

        bool repe = i.HasRepePrefix;
        if (!repe && !i.HasRepnePrefix)
        {
            if (cpu.ReadMem(es, di & amask, size, out ulong m))
            {
                s.SetLazy(FlagOp.Sub, size, (acc - m) & mask, acc, m);
                WriteAddrReg(ref s.Gpr[7], asz, di + delta);
            }
            return;
        }

        ulong count = s.Gpr[1] & amask;
        if (count == 0)
        {
            return;
        }
        ulong budget = MaxStringIterations;
        while (true)
        {
            if (!cpu.ReadMem(es, di & amask, size, out ulong m))
            {
                break;
            }
            s.SetLazy(FlagOp.Sub, size, (acc - m) & mask, acc, m);
            di += delta;
            count--;
            budget--;
            if (count == 0 || (acc == m) != repe)
            {
                // Finished, or the REPE/REPNE condition ended the loop: go on with the next instruction.
                CommitRep(ref s, asz, count, s.Gpr[6], di);
                return;
            }
            if (budget == 0)
            {
                break;
            }
        }
        FinishRep(cpu, asz, count, s.Gpr[6], di);
    }

    /// <summary>CMPS: compares [seg:rSI] with ES:[rDI] (flags of source − destination), REPE/REPNE as for SCAS.</summary>
    private static void Cmps(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = Vcpu.MemSize[(int)i.MemorySize];
        int srcSeg = Vcpu.SegIndex(i.MemorySegment);
        int asz = cpu.AddrSize;
        ulong amask = CounterMask(asz);
        ulong delta = StringDelta(ref s, size);
        ulong mask = Vcpu.SizeMask(size);
        ulong si = s.Gpr[6];
        ulong di = s.Gpr[7];
        const int es = (int)SegReg.Es;

        bool repe = i.HasRepePrefix;
        if (!repe && !i.HasRepnePrefix)
        {
            if (cpu.ReadMem(srcSeg, si & amask, size, out ulong a) && cpu.ReadMem(es, di & amask, size, out ulong b))
            {
                s.SetLazy(FlagOp.Sub, size, (a - b) & mask, a, b);
                WriteAddrReg(ref s.Gpr[6], asz, si + delta);
                WriteAddrReg(ref s.Gpr[7], asz, di + delta);
            }
            return;
        }

        ulong count = s.Gpr[1] & amask;
        if (count == 0)
        {
            return;
        }
        ulong budget = MaxStringIterations;
        while (true)
        {
            if (!cpu.ReadMem(srcSeg, si & amask, size, out ulong a) || !cpu.ReadMem(es, di & amask, size, out ulong b))
            {
                break;
            }
            s.SetLazy(FlagOp.Sub, size, (a - b) & mask, a, b);
            si += delta;
            di += delta;
            count--;
            budget--;
            if (count == 0 || (a == b) != repe)
            {
                CommitRep(ref s, asz, count, si, di);
                return;
            }
            if (budget == 0)
            {
                break;
            }
        }
        FinishRep(cpu, asz, count, si, di);
    }
}
