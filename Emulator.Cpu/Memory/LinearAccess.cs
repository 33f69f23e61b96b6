using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>Segmented and linear memory access with fault values.</summary>
public sealed unsafe partial class Vcpu
{
    // ------------------------------------------------------------------ segmentation

    /// <summary>
    /// Forms the linear address of <paramref name="size"/> bytes at <paramref name="ea"/> in segment
    /// <paramref name="seg"/>, with the checks of SDM Vol. 3A §5.3 "Limit Checking" and §5.4 "Type
    /// Checking" (64-bit mode: canonical check only, §3.3.7.1 "Canonical Addressing").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool SegmentAddress(int seg, ulong ea, int size, bool write, out ulong linear)
    {
        ref Segment s = ref State.Seg[seg];
        if (State.Is64)
        {
            linear = seg >= (int)SegReg.Fs ? s.Base + ea : ea;
            if (!IsCanonical(linear) || !IsCanonical(linear + (ulong)size - 1))
            {
                return seg == (int)SegReg.Ss ? Raise(Vectors.SS, 0) : RaiseGp();
            }
            return true;
        }
        linear = (uint)(s.Base + ea);
        if ((s.Attr & (Segment.AttrUnusable | 0xE)) == 0x2 || !State.ProtectedMode)
        {
            // Writable expand-up data (or real mode): limit check only.
            if (ea + (ulong)size - 1 <= s.Limit)
            {
                return true;
            }
            return seg == (int)SegReg.Ss ? Raise(Vectors.SS, 0) : RaiseGp();
        }
        return SegmentCheckSlow(ref s, seg, ea, size, write);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SegmentCheckSlow(ref Segment s, int seg, ulong ea, int size, bool write)
    {
        bool ss = seg == (int)SegReg.Ss;
        if ((s.Attr & Segment.AttrUnusable) != 0 || (State.ProtectedMode && !State.V86 && (s.Selector & 0xFFFC) == 0 && seg != (int)SegReg.Cs && !State.LongModeActive))
        {
            return ss ? Raise(Vectors.SS, 0) : RaiseGp();
        }
        int type = s.Type;
        if ((type & 8) != 0)
        {
            // Code: never writable; readable only with R.
            if (write || (type & 2) == 0)
            {
                return RaiseGp();
            }
        }
        else if (write && (type & 2) == 0)
        {
            return ss ? Raise(Vectors.SS, 0) : RaiseGp();
        }
        ulong last = ea + (ulong)size - 1;
        if ((type & 0xC) == 0x4)
        {
            // Expand-down data: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF by the B flag.
            ulong upper = s.DefaultBig ? 0xFFFF_FFFFUL : 0xFFFFUL;
            if (ea > s.Limit && last <= upper && last >= ea)
            {
                return true;
            }
        }
        else if (last <= s.Limit)
        {
            return true;
        }
        return ss ? Raise(Vectors.SS, 0) : RaiseGp();
    }

    // ------------------------------------------------------------------ segmented access

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadMem(int seg, ulong ea, int size, out ulong value)
    {
        if (!SegmentAddress(seg, ea, size, false, out ulong lin))
        {
            value = 0;
            return false;
        }
        return ReadLinear(lin, size, Access.Read, out value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool WriteMem(int seg, ulong ea, int size, ulong value)
    {
        if (!SegmentAddress(seg, ea, size, true, out ulong lin))
        {
            return false;
        }
        return WriteLinear(lin, size, value, Access.Write);
    }

    /// <summary>Read with write intent: faults as a write would, so the following write cannot fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadMemForWrite(int seg, ulong ea, int size, out ulong value)
    {
        if (!SegmentAddress(seg, ea, size, true, out ulong lin))
        {
            value = 0;
            return false;
        }
        return ReadLinear(lin, size, Access.Write, out value);
    }

    // ------------------------------------------------------------------ linear access

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadLinear(ulong lin, int size, Access access, out ulong value)
    {
        if ((lin & 0xFFF) + (ulong)size <= 0x1000)
        {
            if (!Translate(lin, access, out ulong pa, out byte* host))
            {
                value = 0;
                return false;
            }
            if (host != null)
            {
                value = size switch
                {
                    1 => *host,
                    2 => Unsafe.ReadUnaligned<ushort>(host),
                    4 => Unsafe.ReadUnaligned<uint>(host),
                    _ => Unsafe.ReadUnaligned<ulong>(host),
                };
                return true;
            }
            if (DataBreakpoints && (access & Access.Implicit) == 0)
            {
                NoteDataAccess(lin, size, write: false);
            }
            value = Memory.Read(pa, size);
            return true;
        }
        return ReadLinearSplit(lin, size, access, out value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReadLinearSplit(ulong lin, int size, Access access, out ulong value)
    {
        value = 0;
        int first = (int)(0x1000 - (lin & 0xFFF));
        ulong lin2 = State.Is64 ? lin + (ulong)first : (uint)(lin + (ulong)first);
        if (!Translate(lin, access, out ulong pa1, out _) || !Translate(lin2, access, out ulong pa2, out _))
        {
            return false;
        }
        for (int i = 0; i < size; i++)
        {
            ulong b = i < first ? Memory.Read(pa1 + (ulong)i, 1) : Memory.Read(pa2 + (ulong)(i - first), 1);
            value |= b << (i * 8);
        }
        if (DataBreakpoints && (access & Access.Implicit) == 0)
        {
            NoteDataAccess(lin, size, write: false);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool WriteLinear(ulong lin, int size, ulong value, Access access = Access.Write)
    {
        if ((lin & 0xFFF) + (ulong)size <= 0x1000)
        {
            if (!Translate(lin, access | Access.Write, out ulong pa, out byte* host))
            {
                return false;
            }
            if (host != null)
            {
                switch (size)
                {
                    case 1: *host = (byte)value; break;
                    case 2: Unsafe.WriteUnaligned(host, (ushort)value); break;
                    case 4: Unsafe.WriteUnaligned(host, (uint)value); break;
                    default: Unsafe.WriteUnaligned(host, value); break;
                }
                Memory.NoteWrite(host, size);
                return true;
            }
            if (DataBreakpoints && (access & Access.Implicit) == 0)
            {
                NoteDataAccess(lin, size, write: true);
            }
            Memory.Write(pa, size, value);
            return true;
        }
        return WriteLinearSplit(lin, size, value, access | Access.Write);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool WriteLinearSplit(ulong lin, int size, ulong value, Access access)
    {
        int first = (int)(0x1000 - (lin & 0xFFF));
        ulong lin2 = State.Is64 ? lin + (ulong)first : (uint)(lin + (ulong)first);
        if (!Translate(lin, access, out ulong pa1, out _) || !Translate(lin2, access, out ulong pa2, out _))
        {
            return false;
        }
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (i * 8));
            if (i < first)
            {
                Memory.Write(pa1 + (ulong)i, 1, b);
            }
            else
            {
                Memory.Write(pa2 + (ulong)(i - first), 1, b);
            }
        }
        if (DataBreakpoints && (access & Access.Implicit) == 0)
        {
            NoteDataAccess(lin, size, write: true);
        }
        return true;
    }

    /// <summary>Reads 16 bytes (SSE, CMPXCHG16B, descriptors) as two 8-byte halves.</summary>
    internal bool ReadMem128(int seg, ulong ea, out ulong lo, out ulong hi)
    {
        hi = 0;
        if (!SegmentAddress(seg, ea, 16, false, out ulong lin) || !ReadLinear(lin, 8, Access.Read, out lo))
        {
            lo = 0;
            return false;
        }
        ulong lin2 = State.Is64 ? lin + 8 : (uint)(lin + 8);
        return ReadLinear(lin2, 8, Access.Read, out hi);
    }

    internal bool WriteMem128(int seg, ulong ea, ulong lo, ulong hi)
    {
        if (!SegmentAddress(seg, ea, 16, true, out ulong lin))
        {
            return false;
        }
        ulong lin2 = State.Is64 ? lin + 8 : (uint)(lin + 8);
        // Probe both halves first so that a fault leaves memory unchanged.
        ulong last = State.Is64 ? lin2 + 7 : (uint)(lin2 + 7);
        if (!Translate(lin, Access.Write, out _, out _) || !Translate(last, Access.Write, out _, out _))
        {
            return false;
        }
        return WriteLinear(lin, 8, lo) && WriteLinear(lin2, 8, hi);
    }

    /// <summary>Host-side read of guest linear memory without side effects on fault state (debugger, tests).</summary>
    public bool TryReadLinear(ulong lin, Span<byte> dest)
    {
        bool saved = FaultPending;
        ulong cr2 = State.Cr2;
        for (int i = 0; i < dest.Length; i++)
        {
            if (!ReadLinear(lin + (ulong)i, 1, Access.Read | Access.Implicit, out ulong b))
            {
                FaultPending = saved;
                State.Cr2 = cr2;
                return false;
            }
            dest[i] = (byte)b;
        }
        return true;
    }
}
