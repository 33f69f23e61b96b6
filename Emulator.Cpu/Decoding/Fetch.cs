using System.Runtime.CompilerServices;
using Emulator.Cpu.Decoding;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu;

/// <summary>Instruction fetch through the decoded-instruction cache.</summary>
public sealed unsafe partial class Vcpu
{
    private readonly FetchReader _reader = new();
    private readonly Decoder[] _decoders;
    private readonly Dictionary<ulong, DecodedPage> _pages = new();

    // The page the last fetch came from: valid while its linear page, TLB generation and code size hold.
    private DecodedPage? _fetchPage;
    private ulong _fetchLinearPage = ulong.MaxValue;
    private uint _fetchGeneration;
    private DecodedInsn _uncached;

    /// <summary>Bumped on every TLB flush and mode change; the fetch fast path re-validates on change.</summary>
    internal uint TlbGeneration;

    /// <summary>Forget the fetch fast path (CS, CR0, EFER, CR4 or paging changed).</summary>
    internal void InvalidateFetch()
    {
        _fetchPage = null;
        _fetchLinearPage = ulong.MaxValue;
    }

    private void OnCodeWrite(ulong hostPage)
    {
        // Every code size decoded from this page goes; the page objects are kept and reused on the next
        // fetch, so code that writes data next to itself re-decodes without allocating.
        for (uint bits = 0; bits < 3; bits++)
        {
            if (_pages.TryGetValue((hostPage << 2) | bits, out DecodedPage? p))
            {
                p.Valid = false;
            }
        }
        if (_fetchPage is { Valid: false })
        {
            _fetchPage = null;
            _fetchLinearPage = ulong.MaxValue;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref DecodedInsn Fetch()
    {
        ulong lin = State.Seg[(int)SegReg.Cs].Base + State.Rip;
        DecodedPage? page = _fetchPage;
        if (page is not null && (lin >> 12) == _fetchLinearPage && _fetchGeneration == TlbGeneration)
        {
            int idx = page.Index[lin & 0xFFF];
            if (idx != 0)
            {
                return ref page.Slots[idx - 1];
            }
        }
        return ref FetchSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref DecodedInsn FetchSlow()
    {
        int bits = State.CodeBits;
        ulong rip = State.Rip;
        ref Segment cs = ref State.Seg[(int)SegReg.Cs];
        if (bits != 64)
        {
            rip &= 0xFFFF_FFFFUL;
            // SDM Vol. 3A §5.3 "Limit Checking": fetches beyond CS.limit fault with #GP(0).
            if (rip > cs.Limit)
            {
                RaiseGp();
                return ref Unsafe.NullRef<DecodedInsn>();
            }
        }
        else if (!IsCanonical(rip))
        {
            RaiseGp();
            return ref Unsafe.NullRef<DecodedInsn>();
        }
        ulong lin = bits == 64 ? cs.Base + rip : (uint)(cs.Base + rip);
        if (!Translate(lin, Access.Execute, out ulong pa, out byte* host))
        {
            return ref Unsafe.NullRef<DecodedInsn>();
        }
        int bitsIndex = bits == 16 ? 0 : bits == 32 ? 1 : 2;
        int offset = (int)(lin & 0xFFF);

        DecodedPage? page = null;
        if (host != null)
        {
            ulong hostPage = (ulong)(host - Memory.RamBase) >> 12;
            ulong key = (hostPage << 2) | (uint)bitsIndex;
            if (!_pages.TryGetValue(key, out page))
            {
                page = new DecodedPage(key);
                _pages[key] = page;
                Memory.MarkCodePage(host);
            }
            else if (!page.Valid)
            {
                page.Reset();
                Memory.MarkCodePage(host);
            }
            // The fast path skips the CS limit check, so it is used only on pages that lie wholly within
            // the limit (always in 64-bit mode and with flat 4 GiB segments).
            ulong pageStartRip = rip - (ulong)offset;
            bool withinLimit = bits == 64 || (rip >= (ulong)offset && pageStartRip + 0xFFF + 15 <= cs.Limit);
            _fetchPage = withinLimit ? page : null;
            _fetchLinearPage = lin >> 12;
            _fetchGeneration = TlbGeneration;
            int idx = page.Index[offset];
            if (idx != 0)
            {
                ref DecodedInsn cached = ref page.Slots[idx - 1];
                if (bits != 64 && rip + cached.Length - 1 > cs.Limit)
                {
                    RaiseGp();
                    return ref Unsafe.NullRef<DecodedInsn>();
                }
                return ref cached;
            }
        }
        else
        {
            _fetchPage = null;
        }

        // Gather up to 15 bytes; the second page is touched only if the instruction reaches it.
        byte[] buf = _reader.Buffer;
        int firstLen = Math.Min(15, 4096 - offset);
        for (int i = 0; i < firstLen; i++)
        {
            buf[i] = host != null ? host[i] : (byte)Memory.Read(pa + (ulong)i, 1);
        }
        Decoder decoder = _decoders[bitsIndex];
        _reader.Position = 0;
        _reader.Length = firstLen;
        decoder.IP = rip;
        decoder.Decode(out Instruction instr);
        bool crosses = false;
        if (decoder.LastError == DecoderError.NoMoreBytes && firstLen < 15)
        {
            ulong lin2 = (lin | 0xFFF) + 1;
            if (bits != 64)
            {
                lin2 = (uint)lin2;
            }
            if (!Translate(lin2, Access.Execute, out ulong pa2, out byte* host2))
            {
                return ref Unsafe.NullRef<DecodedInsn>();
            }
            for (int i = firstLen; i < 15; i++)
            {
                buf[i] = host2 != null ? host2[i - firstLen] : (byte)Memory.Read(pa2 + (ulong)(i - firstLen), 1);
            }
            _reader.Position = 0;
            _reader.Length = 15;
            decoder.IP = rip;
            decoder.Decode(out instr);
            crosses = true;
        }

        // SDM Vol. 3A §5.3 "Limit Checking": every byte of the instruction must lie within CS.limit.
        if (bits != 64 && instr.Length > 0 && rip + (ulong)instr.Length - 1 > cs.Limit)
        {
            RaiseGp();
            return ref Unsafe.NullRef<DecodedInsn>();
        }
        ref DecodedInsn slot = ref (page is null || crosses) ? ref _uncached : ref page.Add(offset);
        slot.Instr = instr;
        slot.Length = (byte)instr.Length;
        slot.AddrSize = (byte)AddressSizeOf(buf, instr.Length, bits);
        slot.Handler = instr.Code == Code.INVALID || instr.Length == 0 ? &Handlers.Invalid : Handlers.Table[(int)instr.Code];
        if (slot.Length == 0)
        {
            slot.Length = 1;
        }
        return ref slot;
    }

    /// <summary>Address size from the mode and a 67h prefix among the legacy prefixes.</summary>
    private static int AddressSizeOf(byte[] buf, int length, int bits)
    {
        for (int i = 0; i < length; i++)
        {
            byte b = buf[i];
            switch (b)
            {
                case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65: case 0x66:
                case 0xF0: case 0xF2: case 0xF3:
                    continue;
                case 0x67:
                    return bits == 64 ? 32 : bits == 32 ? 16 : 32;
                default:
                    return bits;
            }
        }
        return bits;
    }

    internal static bool IsCanonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;
}
