using System.Numerics;
using System.Runtime.Intrinsics;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// SSE4.2 on XMM registers: PCMPGTQ and the packed string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM
/// (SDM Vol. 2B §4.1 "Imm8 Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").
/// CRC32, the other SSE4.2 instruction, is a GPR instruction handled with the bit operations.
/// </summary>
internal static unsafe partial class Handlers
{
    private static void RegisterSseString(HandlerFn[] t)
    {
        Set(t, &Pcmpgtq, Code.Pcmpgtq_xmm_xmmm128);
        Set(t, &Pcmpestri, Code.Pcmpestri_xmm_xmmm128_imm8, Code.Pcmpestri64_xmm_xmmm128_imm8);
        Set(t, &Pcmpestrm, Code.Pcmpestrm_xmm_xmmm128_imm8, Code.Pcmpestrm64_xmm_xmmm128_imm8);
        Set(t, &Pcmpistri, Code.Pcmpistri_xmm_xmmm128_imm8);
        Set(t, &Pcmpistrm, Code.Pcmpistrm_xmm_xmmm128_imm8);
    }

    private static void Pcmpgtq(Vcpu cpu, in Instruction i)
    {
        if (SseSrc(cpu, in i, out Vector128<ulong> s))
        {
            ref Vector128<ulong> d = ref Op0Xmm(cpu, in i);
            d = Vector128.GreaterThan(d.AsInt64(), s.AsInt64()).AsUInt64();
        }
    }

    /// <summary>Element imm8[1:0]: 00 unsigned bytes, 01 unsigned words, 10 signed bytes, 11 signed words.</summary>
    private static int StringElement(Vector128<ulong> v, int k, int format) => format switch
    {
        0 => v.AsByte().GetElement(k),
        1 => v.AsUInt16().GetElement(k),
        2 => v.AsSByte().GetElement(k),
        _ => v.AsInt16().GetElement(k),
    };

    /// <summary>Implicit length: elements before the first zero element.</summary>
    private static int ImplicitLength(Vector128<ulong> v, bool words)
    {
        uint zeros = words
            ? Vector128.Equals(v.AsUInt16(), Vector128<ushort>.Zero).ExtractMostSignificantBits()
            : Vector128.Equals(v.AsByte(), Vector128<byte>.Zero).ExtractMostSignificantBits();
        return zeros == 0 ? (words ? 8 : 16) : BitOperations.TrailingZeroCount(zeros);
    }

    /// <summary>Explicit length: |value| saturated to the element count.</summary>
    private static int ExplicitLength(long value, int n)
    {
        ulong magnitude = value < 0 ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        return magnitude > (ulong)n ? n : (int)magnitude;
    }

    /// <summary>
    /// The comparison core: returns IntRes2 (one bit per element) and sets CF/ZF/SF/OF as the SDM's
    /// "Flags affected" (AF and PF cleared). <paramref name="a"/> is xmm1 with <paramref name="la"/> valid
    /// elements, <paramref name="b"/> is xmm2/m128 with <paramref name="lb"/>.
    /// </summary>
    internal static uint StringCompare(Vector128<ulong> a, int la, Vector128<ulong> b, int lb, int imm, out ulong flags)
    {
        int format = imm & 3;
        int n = (format & 1) != 0 ? 8 : 16;
        int aggregation = (imm >> 2) & 3;
        uint res1 = 0;
        switch (aggregation)
        {
            case 0:
                // Equal any: b[j] equals some valid a[i].
                for (int j = 0; j < lb; j++)
                {
                    int bj = StringElement(b, j, format);
                    for (int k = 0; k < la; k++)
                    {
                        if (StringElement(a, k, format) == bj)
                        {
                            res1 |= 1u << j;
                            break;
                        }
                    }
                }
                break;
            case 1:
                // Ranges: a holds (low, high) pairs; b[j] within some valid pair.
                for (int j = 0; j < lb; j++)
                {
                    int bj = StringElement(b, j, format);
                    for (int k = 0; k + 1 < la; k += 2)
                    {
                        if (bj >= StringElement(a, k, format) && bj <= StringElement(a, k + 1, format))
                        {
                            res1 |= 1u << j;
                            break;
                        }
                    }
                }
                break;
            case 2:
                // Equal each: both invalid → true, one invalid → false.
                for (int j = 0; j < n; j++)
                {
                    bool va = j < la, vb = j < lb;
                    bool r = va && vb ? StringElement(a, j, format) == StringElement(b, j, format) : !va && !vb;
                    if (r)
                    {
                        res1 |= 1u << j;
                    }
                }
                break;
            default:
                // Equal ordered: substring a starts at b[j]; an invalid a element matches anything,
                // a valid a element against an invalid b element does not.
                for (int j = 0; j < n; j++)
                {
                    bool r = true;
                    for (int k = 0; k < n - j && r; k++)
                    {
                        if (k >= la)
                        {
                            break;
                        }
                        r = j + k < lb && StringElement(a, k, format) == StringElement(b, j + k, format);
                    }
                    if (r)
                    {
                        res1 |= 1u << j;
                    }
                }
                break;
        }
        uint all = n == 16 ? 0xFFFFu : 0xFFu;
        uint res2 = ((imm >> 4) & 3) switch
        {
            1 => ~res1 & all,
            3 => (res1 ^ ((1u << lb) - 1)) & all,
            _ => res1,
        };
        flags = (res2 != 0 ? CpuState.FlagCf : 0)
            | (lb < n ? CpuState.FlagZf : 0)
            | (la < n ? CpuState.FlagSf : 0)
            | ((res2 & 1) != 0 ? CpuState.FlagOf : 0);
        return res2;
    }

    /// <summary>Availability, then xmm1 and xmm2/m128 (no alignment requirement for the SSE4.2 string instructions).</summary>
    private static bool StringOperands(Vcpu cpu, in Instruction i, out Vector128<ulong> a, out Vector128<ulong> b)
    {
        a = default;
        b = default;
        if (!SseUsable(cpu) || !ReadXmmM128(cpu, in i, 1, false, out b))
        {
            return false;
        }
        a = Op0Xmm(cpu, in i);
        return true;
    }

    private static void ExplicitLengths(Vcpu cpu, in Instruction i, int n, out int la, out int lb)
    {
        bool wide = i.Code is Code.Pcmpestri64_xmm_xmmm128_imm8 or Code.Pcmpestrm64_xmm_xmmm128_imm8;
        long rax = wide ? (long)cpu.State.Gpr[0] : (int)cpu.State.Gpr[0];
        long rdx = wide ? (long)cpu.State.Gpr[2] : (int)cpu.State.Gpr[2];
        la = ExplicitLength(rax, n);
        lb = ExplicitLength(rdx, n);
    }

    /// <summary>Index output: least (imm8[6] = 0) or most significant set bit of IntRes2, else the element count; written to ECX.</summary>
    private static void WriteIndex(Vcpu cpu, uint res, int imm)
    {
        int n = (imm & 1) != 0 ? 8 : 16;
        int index = res == 0 ? n : (imm & 0x40) != 0 ? 31 - BitOperations.LeadingZeroCount(res) : BitOperations.TrailingZeroCount(res);
        cpu.State.Gpr[1] = (uint)index;
    }

    /// <summary>Mask output into XMM0: the bits zero-extended (imm8[6] = 0) or expanded to byte/word masks.</summary>
    private static void WriteMask(Vcpu cpu, uint res, int imm)
    {
        if ((imm & 0x40) == 0)
        {
            cpu.State.Xmm[0] = Vector128.CreateScalar((ulong)res);
            return;
        }
        Vector128<ulong> m = (imm & 1) != 0
            ? Vector128.Equals(Vector128.Create((ushort)res) & Vector128.Create((ushort)1, 2, 4, 8, 16, 32, 64, 128), Vector128.Create((ushort)1, 2, 4, 8, 16, 32, 64, 128)).AsUInt64()
            : Vector128.Equals(Vector128.Create((byte)res, (byte)res, (byte)res, (byte)res, (byte)res, (byte)res, (byte)res, (byte)res,
                (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8), (byte)(res >> 8))
                & Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128),
                Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)).AsUInt64();
        cpu.State.Xmm[0] = m;
    }

    private static void Pcmpestri(Vcpu cpu, in Instruction i)
    {
        if (!StringOperands(cpu, in i, out Vector128<ulong> a, out Vector128<ulong> b))
        {
            return;
        }
        int imm = i.Immediate8;
        ExplicitLengths(cpu, in i, (imm & 1) != 0 ? 8 : 16, out int la, out int lb);
        uint res = StringCompare(a, la, b, lb, imm, out ulong flags);
        WriteIndex(cpu, res, imm);
        cpu.State.SetArith(CpuState.ArithMask, flags);
    }

    private static void Pcmpestrm(Vcpu cpu, in Instruction i)
    {
        if (!StringOperands(cpu, in i, out Vector128<ulong> a, out Vector128<ulong> b))
        {
            return;
        }
        int imm = i.Immediate8;
        ExplicitLengths(cpu, in i, (imm & 1) != 0 ? 8 : 16, out int la, out int lb);
        uint res = StringCompare(a, la, b, lb, imm, out ulong flags);
        WriteMask(cpu, res, imm);
        cpu.State.SetArith(CpuState.ArithMask, flags);
    }

    private static void Pcmpistri(Vcpu cpu, in Instruction i)
    {
        if (!StringOperands(cpu, in i, out Vector128<ulong> a, out Vector128<ulong> b))
        {
            return;
        }
        int imm = i.Immediate8;
        bool words = (imm & 1) != 0;
        uint res = StringCompare(a, ImplicitLength(a, words), b, ImplicitLength(b, words), imm, out ulong flags);
        WriteIndex(cpu, res, imm);
        cpu.State.SetArith(CpuState.ArithMask, flags);
    }

    private static void Pcmpistrm(Vcpu cpu, in Instruction i)
    {
        if (!StringOperands(cpu, in i, out Vector128<ulong> a, out Vector128<ulong> b))
        {
            return;
        }
        int imm = i.Immediate8;
        bool words = (imm & 1) != 0;
        uint res = StringCompare(a, ImplicitLength(a, words), b, ImplicitLength(b, words), imm, out ulong flags);
        WriteMask(cpu, res, imm);
        cpu.State.SetArith(CpuState.ArithMask, flags);
    }
}
