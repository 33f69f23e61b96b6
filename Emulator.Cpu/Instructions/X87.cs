using System.Numerics;
using System.Runtime.CompilerServices;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// x87 FPU (SDM Vol. 1 Chapter 8 "Programming with the x87 FPU").
/// <para>
/// Approximation: the eight data registers hold <c>double</c>, not 80-bit extended values. Arithmetic is
/// IEEE double with FCW.RC rounding (precision control is ignored: every result is rounded to 53 bits, as
/// with PC = 10b), and the exponent range is double's, so results beyond ±1.8e308 overflow and tiny results
/// become double subnormals (x87 #U is not reported for those; #P is). FLD m80 rounds to nearest double;
/// FSTP m80 and FXSAVE/FNSAVE images are exact encodings of the double. FILD m64 rounds to nearest. The
/// transcendental instructions use the host's libm and are not bit-exact. FPREM/FPREM1 always finish
/// (C2 = 0). C1 is cleared rather than reporting "rounded up". FPU instruction/data pointers and the last
/// opcode are not tracked and read as zero. MMX registers share <c>Fpr</c> (see <c>SseMmx.cs</c>).
/// Arithmetic, compares and transcendentals are in <c>X87Arithmetic.cs</c>.
/// </para>
/// <para>
/// State: <c>Fpr[p]</c> is physical register p, ST(i) is <c>Fpr[(FpTop + i) &amp; 7]</c>; <c>Ftw</c> is the
/// abridged tag (bit p set = register p not empty), the full tag word is derived from the values;
/// <c>Fsw</c> keeps every status bit except TOP (bits 13:11), which lives in <c>FpTop</c>.
/// Unmasked exceptions set FSW.ES/B and are reported as #MF (CR0.NE = 1) by the next waiting x87
/// instruction; with CR0.NE = 0 (external FERR#) they are not reported. An unmasked #I, #D or #Z leaves
/// the destination and the stack unchanged; an unmasked #O/#U stores the unbiased result.
/// </para>
/// </summary>
internal static unsafe partial class Handlers
{
    private const ushort FswSf = 0x40;
    private const ushort FswEs = 0x80;
    private const ushort FswC0 = 0x100;
    private const ushort FswC1 = 0x200;
    private const ushort FswC2 = 0x400;
    private const ushort FswC3 = 0x4000;
    private const ushort FswB = 0x8000;
    private const ushort FswTop = 0x3800;
    private const ushort FswCc = FswC0 | FswC1 | FswC2 | FswC3;

    private enum X87Op
    {
        Add,
        Mul,
        Sub,
        Subr,
        Div,
        Divr,
    }

    private enum FpMem
    {
        F32,
        F64,
        I16,
        I32,
    }

    private enum StackFault
    {
        None,
        Underflow,
        Overflow,
    }

    static partial void RegisterX87(HandlerFn[] t)
    {
        Set(t, &Fninit, Code.Fninit);
        Set(t, &Finit, Code.Finit);
        Set(t, &Fnclex, Code.Fnclex);
        Set(t, &Fclex, Code.Fclex);
        Set(t, &Fnstsw_AX, Code.Fnstsw_AX);
        Set(t, &Fstsw_AX, Code.Fstsw_AX);
        Set(t, &Fnstsw_m2byte, Code.Fnstsw_m2byte);
        Set(t, &Fstsw_m2byte, Code.Fstsw_m2byte);
        Set(t, &Fnstcw, Code.Fnstcw_m2byte);
        Set(t, &Fstcw, Code.Fstcw_m2byte);
        Set(t, &Fldcw, Code.Fldcw_m2byte);
        Set(t, &Fnstenv, Code.Fnstenv_m14byte, Code.Fnstenv_m28byte);
        Set(t, &Fstenv, Code.Fstenv_m14byte, Code.Fstenv_m28byte);
        Set(t, &Fldenv, Code.Fldenv_m14byte, Code.Fldenv_m28byte);
        Set(t, &Fnsave, Code.Fnsave_m94byte, Code.Fnsave_m108byte);
        Set(t, &Fsave, Code.Fsave_m94byte, Code.Fsave_m108byte);
        Set(t, &Frstor, Code.Frstor_m94byte, Code.Frstor_m108byte);
        Set(t, &Fwait, Code.Wait);
        // FENI/FDISI (8087) and FSETPM (287) execute as FNOP on the 387 and later.
        Set(t, &Fnop, Code.Fnop, Code.Fneni, Code.Feni, Code.Fndisi, Code.Fdisi, Code.Fnsetpm, Code.Fsetpm);

        Set(t, &Fld_m32fp, Code.Fld_m32fp);
        Set(t, &Fld_m64fp, Code.Fld_m64fp);
        Set(t, &Fld_m80fp, Code.Fld_m80fp);
        Set(t, &Fld_sti, Code.Fld_sti);
        Set(t, &Fst_m32fp, Code.Fst_m32fp);
        Set(t, &Fstp_m32fp, Code.Fstp_m32fp);
        Set(t, &Fst_m64fp, Code.Fst_m64fp);
        Set(t, &Fstp_m64fp, Code.Fstp_m64fp);
        Set(t, &Fstp_m80fp, Code.Fstp_m80fp);
        Set(t, &Fst_sti, Code.Fst_sti);
        Set(t, &Fstp_sti, Code.Fstp_sti, Code.Fstp_sti_DFD0, Code.Fstp_sti_DFD8, Code.Fstpnce_sti);
        Set(t, &Fild_m16int, Code.Fild_m16int);
        Set(t, &Fild_m32int, Code.Fild_m32int);
        Set(t, &Fild_m64int, Code.Fild_m64int);
        Set(t, &Fist_m16int, Code.Fist_m16int);
        Set(t, &Fist_m32int, Code.Fist_m32int);
        Set(t, &Fistp_m16int, Code.Fistp_m16int);
        Set(t, &Fistp_m32int, Code.Fistp_m32int);
        Set(t, &Fistp_m64int, Code.Fistp_m64int);
        Set(t, &Fisttp_m16int, Code.Fisttp_m16int);
        Set(t, &Fisttp_m32int, Code.Fisttp_m32int);
        Set(t, &Fisttp_m64int, Code.Fisttp_m64int);
        Set(t, &Fbld, Code.Fbld_m80bcd);
        Set(t, &Fbstp, Code.Fbstp_m80bcd);
        Set(t, &Fld1, Code.Fld1);
        Set(t, &Fldl2t, Code.Fldl2t);
        Set(t, &Fldl2e, Code.Fldl2e);
        Set(t, &Fldpi, Code.Fldpi);
        Set(t, &Fldlg2, Code.Fldlg2);
        Set(t, &Fldln2, Code.Fldln2);
        Set(t, &Fldz, Code.Fldz);

        Set(t, &Fadd_m32fp, Code.Fadd_m32fp);
        Set(t, &Fadd_m64fp, Code.Fadd_m64fp);
        Set(t, &Fiadd_m16int, Code.Fiadd_m16int);
        Set(t, &Fiadd_m32int, Code.Fiadd_m32int);
        Set(t, &Fmul_m32fp, Code.Fmul_m32fp);
        Set(t, &Fmul_m64fp, Code.Fmul_m64fp);
        Set(t, &Fimul_m16int, Code.Fimul_m16int);
        Set(t, &Fimul_m32int, Code.Fimul_m32int);
        Set(t, &Fsub_m32fp, Code.Fsub_m32fp);
        Set(t, &Fsub_m64fp, Code.Fsub_m64fp);
        Set(t, &Fisub_m16int, Code.Fisub_m16int);
        Set(t, &Fisub_m32int, Code.Fisub_m32int);
        Set(t, &Fsubr_m32fp, Code.Fsubr_m32fp);
        Set(t, &Fsubr_m64fp, Code.Fsubr_m64fp);
        Set(t, &Fisubr_m16int, Code.Fisubr_m16int);
        Set(t, &Fisubr_m32int, Code.Fisubr_m32int);
        Set(t, &Fdiv_m32fp, Code.Fdiv_m32fp);
        Set(t, &Fdiv_m64fp, Code.Fdiv_m64fp);
        Set(t, &Fidiv_m16int, Code.Fidiv_m16int);
        Set(t, &Fidiv_m32int, Code.Fidiv_m32int);
        Set(t, &Fdivr_m32fp, Code.Fdivr_m32fp);
        Set(t, &Fdivr_m64fp, Code.Fdivr_m64fp);
        Set(t, &Fidivr_m16int, Code.Fidivr_m16int);
        Set(t, &Fidivr_m32int, Code.Fidivr_m32int);
        Set(t, &Fadd_st, Code.Fadd_st0_sti, Code.Fadd_sti_st0);
        Set(t, &Fmul_st, Code.Fmul_st0_sti, Code.Fmul_sti_st0);
        Set(t, &Fsub_st, Code.Fsub_st0_sti, Code.Fsub_sti_st0);
        Set(t, &Fsubr_st, Code.Fsubr_st0_sti, Code.Fsubr_sti_st0);
        Set(t, &Fdiv_st, Code.Fdiv_st0_sti, Code.Fdiv_sti_st0);
        Set(t, &Fdivr_st, Code.Fdivr_st0_sti, Code.Fdivr_sti_st0);
        Set(t, &Faddp, Code.Faddp_sti_st0);
        Set(t, &Fmulp, Code.Fmulp_sti_st0);
        Set(t, &Fsubp, Code.Fsubp_sti_st0);
        Set(t, &Fsubrp, Code.Fsubrp_sti_st0);
        Set(t, &Fdivp, Code.Fdivp_sti_st0);
        Set(t, &Fdivrp, Code.Fdivrp_sti_st0);

        Set(t, &Fcom_m32fp, Code.Fcom_m32fp);
        Set(t, &Fcom_m64fp, Code.Fcom_m64fp);
        Set(t, &Fcomp_m32fp, Code.Fcomp_m32fp);
        Set(t, &Fcomp_m64fp, Code.Fcomp_m64fp);
        Set(t, &Ficom_m16int, Code.Ficom_m16int);
        Set(t, &Ficom_m32int, Code.Ficom_m32int);
        Set(t, &Ficomp_m16int, Code.Ficomp_m16int);
        Set(t, &Ficomp_m32int, Code.Ficomp_m32int);
        Set(t, &Fcom_sti, Code.Fcom_st0_sti, Code.Fcom_st0_sti_DCD0);
        Set(t, &Fcomp_sti, Code.Fcomp_st0_sti, Code.Fcomp_st0_sti_DCD8, Code.Fcomp_st0_sti_DED0);
        Set(t, &Fcompp, Code.Fcompp);
        Set(t, &Fucom, Code.Fucom_st0_sti);
        Set(t, &Fucomp, Code.Fucomp_st0_sti);
        Set(t, &Fucompp, Code.Fucompp);
        Set(t, &Fcomi, Code.Fcomi_st0_sti);
        Set(t, &Fcomip, Code.Fcomip_st0_sti);
        Set(t, &Fucomi, Code.Fucomi_st0_sti);
        Set(t, &Fucomip, Code.Fucomip_st0_sti);
        Set(t, &Ftst, Code.Ftst);
        Set(t, &Fxam, Code.Fxam);
        Set(t, &Fcmov, Code.Fcmovb_st0_sti, Code.Fcmove_st0_sti, Code.Fcmovbe_st0_sti, Code.Fcmovu_st0_sti,
            Code.Fcmovnb_st0_sti, Code.Fcmovne_st0_sti, Code.Fcmovnbe_st0_sti, Code.Fcmovnu_st0_sti);

        Set(t, &Fxch, Code.Fxch_st0_sti, Code.Fxch_st0_sti_DDC8, Code.Fxch_st0_sti_DFC8);
        Set(t, &Fchs, Code.Fchs);
        Set(t, &Fabs, Code.Fabs);
        Set(t, &Fsqrt, Code.Fsqrt);
        Set(t, &Frndint, Code.Frndint);
        Set(t, &Fscale, Code.Fscale);
        Set(t, &Fxtract, Code.Fxtract);
        Set(t, &Fprem, Code.Fprem);
        Set(t, &Fprem1, Code.Fprem1);
        Set(t, &F2xm1, Code.F2xm1);
        Set(t, &Fyl2x, Code.Fyl2x);
        Set(t, &Fyl2xp1, Code.Fyl2xp1);
        Set(t, &Fptan, Code.Fptan);
        Set(t, &Fpatan, Code.Fpatan);
        Set(t, &Fsin, Code.Fsin);
        Set(t, &Fcos, Code.Fcos);
        Set(t, &Fsincos, Code.Fsincos);
        Set(t, &Fincstp, Code.Fincstp);
        Set(t, &Fdecstp, Code.Fdecstp);
        Set(t, &Ffree, Code.Ffree_sti);
        Set(t, &Ffreep, Code.Ffreep_sti);
    }

    // ------------------------------------------------------------------ state helpers

    /// <summary>
    /// SDM Vol. 1 §8.1.3 / Vol. 3A §2.5 "Control Registers": CR0.EM or CR0.TS → #NM. A waiting instruction
    /// first reports a pending unmasked exception as #MF (Vol. 1 §8.7 "Handling x87 FPU Exceptions in Software").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool FpuUsable(Vcpu cpu, bool waiting = true)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr0 & (CpuState.Cr0Em | CpuState.Cr0Ts)) != 0)
        {
            return cpu.Raise(Vectors.NM);
        }
        if (waiting && (s.Fsw & FswEs) != 0 && (s.Cr0 & CpuState.Cr0Ne) != 0)
        {
            return cpu.Raise(Vectors.MF);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Phys(ref CpuState s, int i) => (s.FpTop + i) & 7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool StEmpty(ref CpuState s, int i) => (s.Ftw & (1 << ((s.FpTop + i) & 7))) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double St(ref CpuState s, int i) => s.Fpr[(s.FpTop + i) & 7];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetSt(ref CpuState s, int i, double v)
    {
        int p = (s.FpTop + i) & 7;
        s.Fpr[p] = v;
        s.Ftw |= (byte)(1 << p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PopSt(ref CpuState s)
    {
        s.Ftw &= (byte)~(1 << s.FpTop);
        s.FpTop = (s.FpTop + 1) & 7;
    }

    /// <summary>FSW with TOP merged in.</summary>
    internal static ushort GetFsw(ref CpuState s) => (ushort)((s.Fsw & ~FswTop) | ((s.FpTop & 7) << 11));

    /// <summary>Loads FSW, splitting TOP out.</summary>
    internal static void SetFsw(ref CpuState s, ushort fsw)
    {
        s.FpTop = (fsw >> 11) & 7;
        s.Fsw = (ushort)(fsw & ~FswTop);
    }

    /// <summary>Recomputes ES and B after FCW or FSW was loaded: set when a flagged exception is unmasked.</summary>
    internal static void UpdateEs(ref CpuState s)
    {
        if ((s.Fsw & ~s.Fcw & 0x3F) != 0)
        {
            s.Fsw |= FswEs | FswB;
        }
        else
        {
            s.Fsw &= unchecked((ushort)~(FswEs | FswB));
        }
    }

    /// <summary>Full 16-bit tag word (SDM Vol. 1 §8.1.7 "x87 FPU Tag Word"): 00 valid, 01 zero, 10 special, 11 empty, by physical register.</summary>
    internal static ushort FullTagWord(ref CpuState s)
    {
        int tw = 0;
        for (int p = 0; p < 8; p++)
        {
            int tag;
            if ((s.Ftw & (1 << p)) == 0)
            {
                tag = 3;
            }
            else
            {
                double v = s.Fpr[p];
                tag = v == 0 ? 1 : double.IsFinite(v) ? 0 : 2;
            }
            tw |= tag << (2 * p);
        }
        return (ushort)tw;
    }

    /// <summary>Abridged tag (FXSAVE) from a full tag word: a register is valid unless its tag is 11b.</summary>
    internal static byte AbridgedTag(ushort fullTag)
    {
        int ftw = 0;
        for (int p = 0; p < 8; p++)
        {
            if (((fullTag >> (2 * p)) & 3) != 3)
            {
                ftw |= 1 << p;
            }
        }
        return (byte)ftw;
    }

    /// <summary>FNINIT state (SDM Vol. 2A "FINIT/FNINIT—Initialize Floating-Point Unit"): FCW 037FH, FSW 0, all tags empty; the data registers keep their values.</summary>
    internal static void ResetX87(ref CpuState s)
    {
        s.Fcw = 0x037F;
        s.Fsw = 0;
        s.FpTop = 0;
        s.Ftw = 0;
    }

    /// <summary>
    /// Folds an instruction's exceptions into FSW: C1 is cleared, or reports the stack-fault direction; an
    /// unmasked exception sets ES and B. Returns false when an unmasked #I/#D/#Z forbids storing the result
    /// (SDM Vol. 1 §8.5 "x87 FPU Floating-Point Exception Conditions").
    /// </summary>
    private static bool X87Commit(ref CpuState s, ref FpEnv env, StackFault fault)
    {
        uint f = env.Flags & 0x3F;
        ushort fsw = (ushort)(s.Fsw & ~FswC1);
        if (fault != StackFault.None)
        {
            f |= FpFlag.Invalid;
            fsw |= FswSf;
            if (fault == StackFault.Overflow)
            {
                fsw |= FswC1;
            }
        }
        fsw |= (ushort)f;
        uint unmasked = f & ~env.Masks & 0x3F;
        if (unmasked != 0)
        {
            fsw |= FswEs | FswB;
        }
        s.Fsw = fsw;
        return (unmasked & (FpFlag.Invalid | FpFlag.Denormal | FpFlag.ZeroDivide)) == 0;
    }

    /// <summary>Pushes after checking for stack overflow (destination register not empty); masked overflow pushes the indefinite.</summary>
    private static void PushChecked(ref CpuState s, double v, ref FpEnv env)
    {
        int p = (s.FpTop + 7) & 7;
        StackFault fault = StackFault.None;
        if ((s.Ftw & (1 << p)) != 0)
        {
            fault = StackFault.Overflow;
            v = SoftFp.IndefiniteDouble;
        }
        if (X87Commit(ref s, ref env, fault))
        {
            s.FpTop = p;
            s.Fpr[p] = v;
            s.Ftw |= (byte)(1 << p);
        }
    }

    private static double Arith(X87Op op, double a, double b, ref FpEnv env) => op switch
    {
        X87Op.Add => SoftFp.Add(a, b, ref env),
        X87Op.Mul => SoftFp.Mul(a, b, ref env),
        X87Op.Sub => SoftFp.Sub(a, b, ref env),
        X87Op.Subr => SoftFp.Sub(b, a, ref env),
        X87Op.Div => SoftFp.Div(a, b, ref env),
        _ => SoftFp.Div(b, a, ref env),
    };

    /// <summary>Single → register value: exact; an SNaN raises #I and is quieted, a denormal raises #D.</summary>
    private static double LoadSingle(uint bits, ref FpEnv env)
    {
        float f = BitConverter.UInt32BitsToSingle(bits);
        if (float.IsNaN(f))
        {
            if (SoftFp.IsSignaling(f))
            {
                env.Flags |= FpFlag.Invalid;
            }
            return SoftFp.WidenNaN(f);
        }
        if (float.IsSubnormal(f))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return f;
    }

    private static double LoadDouble(ulong bits, ref FpEnv env)
    {
        double d = BitConverter.UInt64BitsToDouble(bits);
        if (double.IsNaN(d))
        {
            if (SoftFp.IsSignaling(d))
            {
                env.Flags |= FpFlag.Invalid;
            }
            return SoftFp.Quiet(d);
        }
        if (double.IsSubnormal(d))
        {
            env.Flags |= FpFlag.Denormal;
        }
        return d;
    }

    private static bool ReadFpMem(Vcpu cpu, in Instruction i, FpMem kind, ref FpEnv env, out double v)
    {
        int size = kind switch
        {
            FpMem.F32 or FpMem.I32 => 4,
            FpMem.F64 => 8,
            _ => 2,
        };
        if (!cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), size, out ulong raw))
        {
            v = 0;
            return false;
        }
        v = kind switch
        {
            FpMem.F32 => LoadSingle((uint)raw, ref env),
            FpMem.F64 => LoadDouble(raw, ref env),
            FpMem.I16 => (short)raw,
            _ => (int)raw,
        };
        return true;
    }

    /// <summary>Checks that <paramref name="size"/> bytes at the memory operand are writable (so a later store cannot fault).</summary>
    private static bool ProbeWrite(Vcpu cpu, int seg, ulong ea, int size)
    {
        if (size <= 8)
        {
            return cpu.ReadMemForWrite(seg, ea, size, out _);
        }
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        return cpu.ReadMemForWrite(seg, ea, 8, out _) && cpu.ReadMemForWrite(seg, (ea + (ulong)size - 8) & wrap, 8, out _);
    }

    // ------------------------------------------------------------------ 80-bit conversions

    /// <summary>Exact double → 80-bit extended (SDM Vol. 1 §4.2.2 "Floating-Point Data Types"): significand with explicit integer bit, 15-bit exponent.</summary>
    internal static void DoubleToExtended(double d, out ulong significand, out ushort signExp)
    {
        ulong b = BitConverter.DoubleToUInt64Bits(d);
        int sign = (int)(b >> 63) << 15;
        int exp = (int)(b >> 52) & 0x7FF;
        ulong frac = b & 0x000F_FFFF_FFFF_FFFF;
        if (exp == 0x7FF)
        {
            signExp = (ushort)(sign | 0x7FFF);
            significand = 0x8000_0000_0000_0000 | (frac << 11);
        }
        else if (exp == 0)
        {
            if (frac == 0)
            {
                signExp = (ushort)sign;
                significand = 0;
                return;
            }
            int lz = BitOperations.LeadingZeroCount(frac);
            significand = frac << lz;
            signExp = (ushort)(sign | (16383 - 1011 - lz));
        }
        else
        {
            signExp = (ushort)(sign | (exp - 1023 + 16383));
            significand = 0x8000_0000_0000_0000 | (frac << 11);
        }
    }

    /// <summary>
    /// 80-bit extended → double, rounded to nearest-even. Unsupported encodings (unnormals, pseudo-NaN,
    /// pseudo-infinity) raise #I and give the indefinite; NaN payloads keep their top 52 bits.
    /// </summary>
    internal static double ExtendedToDouble(ulong significand, ushort signExp, ref FpEnv env)
    {
        bool negative = (signExp & 0x8000) != 0;
        int exp = signExp & 0x7FFF;
        bool integerBit = (significand >> 63) != 0;
        if (exp == 0x7FFF)
        {
            if (!integerBit)
            {
                env.Flags |= FpFlag.Invalid;
                return SoftFp.IndefiniteDouble;
            }
            ulong payload = (significand & 0x7FFF_FFFF_FFFF_FFFF) >> 11;
            if ((significand & 0x7FFF_FFFF_FFFF_FFFF) != 0 && payload == 0)
            {
                payload = 1;
            }
            return BitConverter.UInt64BitsToDouble((negative ? 1UL << 63 : 0) | 0x7FF0_0000_0000_0000 | payload);
        }
        if (significand == 0)
        {
            return negative ? -0.0 : 0.0;
        }
        if (exp != 0 && !integerBit)
        {
            env.Flags |= FpFlag.Invalid;
            return SoftFp.IndefiniteDouble;
        }
        // Denormals and pseudo-denormals use exponent 1 − 16383.
        int e = (exp == 0 ? 1 : exp) - 16383 - 63;
        int lz = BitOperations.LeadingZeroCount(significand);
        ulong m = significand << lz;
        e -= lz;
        ulong keep = m >> 11;
        ulong rem = m & 0x7FF;
        if (rem > 0x400 || (rem == 0x400 && (keep & 1) != 0))
        {
            keep++;
        }
        double v = Math.ScaleB((double)keep, e + 11);
        return negative ? -v : v;
    }

    /// <summary>Writes ST(i) as an 80-bit value at <paramref name="ea"/> (probed beforehand).</summary>
    private static bool WriteExtended(Vcpu cpu, int seg, ulong ea, double v)
    {
        DoubleToExtended(v, out ulong m, out ushort se);
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        return cpu.WriteMem(seg, ea, 8, m) && cpu.WriteMem(seg, (ea + 8) & wrap, 2, se);
    }

    private static bool ReadExtended(Vcpu cpu, int seg, ulong ea, out ulong m, out ushort se)
    {
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        ulong x = 0;
        bool ok = cpu.ReadMem(seg, ea, 8, out m) && cpu.ReadMem(seg, (ea + 8) & wrap, 2, out x);
        se = (ushort)x;
        return ok;
    }

    // ------------------------------------------------------------------ control

    private static void Fninit(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            ResetX87(ref cpu.State);
        }
    }

    private static void Finit(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            ResetX87(ref cpu.State);
        }
    }

    /// <summary>FNCLEX: clears PE…IE, SF, ES and B.</summary>
    private static void Fnclex(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            cpu.State.Fsw &= 0x7F00;
        }
    }

    private static void Fclex(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.State.Fsw &= 0x7F00;
        }
    }

    private static void Fnstsw_AX(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            cpu.State.Gpr[0] = (cpu.State.Gpr[0] & ~0xFFFFUL) | GetFsw(ref cpu.State);
        }
    }

    private static void Fstsw_AX(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.State.Gpr[0] = (cpu.State.Gpr[0] & ~0xFFFFUL) | GetFsw(ref cpu.State);
        }
    }

    private static void Fnstsw_m2byte(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, GetFsw(ref cpu.State));
        }
    }

    private static void Fstsw_m2byte(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, GetFsw(ref cpu.State));
        }
    }

    private static void Fnstcw(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, cpu.State.Fcw);
        }
    }

    private static void Fstcw(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, cpu.State.Fcw);
        }
    }

    /// <summary>FLDCW: unmasking a flagged exception makes it pending (ES), reported by the next waiting instruction.</summary>
    private static void Fldcw(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu) && cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, out ulong v))
        {
            // Bit 6 reads as 1 on every processor since the 387; bits 15:13 are reserved.
            cpu.State.Fcw = (ushort)((v & 0x1F3F) | 0x40);
            UpdateEs(ref cpu.State);
        }
    }

    /// <summary>SDM Vol. 2A "WAIT/FWAIT": #NM when CR0.MP and CR0.TS are both set; reports pending x87 exceptions.</summary>
    private static void Fwait(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr0 & (CpuState.Cr0Mp | CpuState.Cr0Ts)) == (CpuState.Cr0Mp | CpuState.Cr0Ts))
        {
            cpu.Raise(Vectors.NM);
            return;
        }
        if ((s.Fsw & FswEs) != 0 && (s.Cr0 & CpuState.Cr0Ne) != 0)
        {
            cpu.Raise(Vectors.MF);
        }
    }

    private static void Fnop(Vcpu cpu, in Instruction i) => FpuUsable(cpu);

    // ------------------------------------------------------------------ environment and state images

    /// <summary>Bytes of the environment: 14 for the 16-bit operand-size forms, 28 for 32-bit.</summary>
    private static int EnvSize(in Instruction i) => i.MemorySize is MemorySize.FpuEnv14 or MemorySize.FpuState94 ? 14 : 28;

    /// <summary>
    /// Writes the FPU environment (SDM Vol. 1 §8.1.10 "Saving the x87 FPU's State with FSTENV/FNSTENV and
    /// FSAVE/FNSAVE", Figures 8-9/8-10): FCW, FSW, FTW, then instruction and operand pointers (zero here, which
    /// makes the real-mode and protected-mode layouts identical).
    /// </summary>
    private static bool StoreEnv(Vcpu cpu, int seg, ulong ea, int envSize)
    {
        ref CpuState s = ref cpu.State;
        int field = envSize == 14 ? 2 : 4;
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        bool ok = cpu.WriteMem(seg, ea, field, s.Fcw | (field == 4 ? 0xFFFF_0000UL : 0))
            && cpu.WriteMem(seg, (ea + (ulong)field) & wrap, field, GetFsw(ref s) | (field == 4 ? 0xFFFF_0000UL : 0))
            && cpu.WriteMem(seg, (ea + 2 * (ulong)field) & wrap, field, FullTagWord(ref s) | (field == 4 ? 0xFFFF_0000UL : 0));
        for (int k = 3; ok && k < 7; k++)
        {
            ok = cpu.WriteMem(seg, (ea + (ulong)(k * field)) & wrap, field, 0);
        }
        return ok;
    }

    private static bool LoadEnv(Vcpu cpu, int seg, ulong ea, int envSize, out ushort fcw, out ushort fsw, out ushort ftw)
    {
        int field = envSize == 14 ? 2 : 4;
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        ulong sw = 0, tw = 0;
        bool ok = cpu.ReadMem(seg, ea, 2, out ulong cw)
            && cpu.ReadMem(seg, (ea + (ulong)field) & wrap, 2, out sw)
            && cpu.ReadMem(seg, (ea + 2 * (ulong)field) & wrap, 2, out tw);
        fcw = (ushort)cw;
        fsw = (ushort)sw;
        ftw = (ushort)tw;
        return ok;
    }

    private static void ApplyEnv(ref CpuState s, ushort fcw, ushort fsw, ushort ftw)
    {
        s.Fcw = (ushort)((fcw & 0x1F3F) | 0x40);
        SetFsw(ref s, fsw);
        s.Ftw = AbridgedTag(ftw);
        UpdateEs(ref s);
    }

    private static void FnstenvCore(Vcpu cpu, in Instruction i)
    {
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int size = EnvSize(in i);
        if (!ProbeWrite(cpu, seg, ea, size) || !StoreEnv(cpu, seg, ea, size))
        {
            return;
        }
        // FNSTENV then masks all exceptions, which also ends any pending one (ES and B clear, as in Bochs).
        cpu.State.Fcw |= 0x3F;
        UpdateEs(ref cpu.State);
    }

    private static void Fnstenv(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            FnstenvCore(cpu, in i);
        }
    }

    private static void Fstenv(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            FnstenvCore(cpu, in i);
        }
    }

    private static void Fldenv(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        if (LoadEnv(cpu, Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), EnvSize(in i), out ushort fcw, out ushort fsw, out ushort ftw))
        {
            ApplyEnv(ref cpu.State, fcw, fsw, ftw);
        }
    }

    /// <summary>FNSAVE: environment, ST(0)…ST(7) as 80-bit values, then FNINIT.</summary>
    private static void FnsaveCore(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int env = EnvSize(in i);
        int total = env + 80;
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        if (!ProbeWrite(cpu, seg, ea, 8) || !ProbeWrite(cpu, seg, (ea + (ulong)total - 8) & wrap, 8) || !StoreEnv(cpu, seg, ea, env))
        {
            return;
        }
        for (int k = 0; k < 8; k++)
        {
            if (!WriteExtended(cpu, seg, (ea + (ulong)(env + 10 * k)) & wrap, St(ref s, k)))
            {
                return;
            }
        }
        ResetX87(ref s);
    }

    private static void Fnsave(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu, waiting: false))
        {
            FnsaveCore(cpu, in i);
        }
    }

    private static void Fsave(Vcpu cpu, in Instruction i)
    {
        if (FpuUsable(cpu))
        {
            FnsaveCore(cpu, in i);
        }
    }

    private static void Frstor(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int env = EnvSize(in i);
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        if (!LoadEnv(cpu, seg, ea, env, out ushort fcw, out ushort fsw, out ushort ftw))
        {
            return;
        }
        // Read every register before changing anything, so a fault leaves the FPU untouched.
        X87Regs regs = default;
        FpEnv fe = FpEnv.FromFcw(fcw);
        for (int k = 0; k < 8; k++)
        {
            if (!ReadExtended(cpu, seg, (ea + (ulong)(env + 10 * k)) & wrap, out ulong m, out ushort se))
            {
                return;
            }
            regs[k] = ExtendedToDouble(m, se, ref fe);
        }
        ApplyEnv(ref s, fcw, fsw, ftw);
        for (int k = 0; k < 8; k++)
        {
            s.Fpr[Phys(ref s, k)] = regs[k];
        }
    }

    // ------------------------------------------------------------------ loads and stores

    private static void FldMem(Vcpu cpu, in Instruction i, FpMem kind)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
        if (ReadFpMem(cpu, in i, kind, ref env, out double v))
        {
            PushChecked(ref cpu.State, v, ref env);
        }
    }

    private static void Fld_m32fp(Vcpu cpu, in Instruction i) => FldMem(cpu, in i, FpMem.F32);

    private static void Fld_m64fp(Vcpu cpu, in Instruction i) => FldMem(cpu, in i, FpMem.F64);

    private static void Fild_m16int(Vcpu cpu, in Instruction i) => FldMem(cpu, in i, FpMem.I16);

    private static void Fild_m32int(Vcpu cpu, in Instruction i) => FldMem(cpu, in i, FpMem.I32);

    /// <summary>FILD m64: the 64-bit integer is rounded to the nearest double (exact on hardware).</summary>
    private static void Fild_m64int(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu) || !cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 8, out ulong raw))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
        FpEnv exact = default;
        PushChecked(ref cpu.State, SoftFp.Int64ToDouble((long)raw, ref exact), ref env);
    }

    /// <summary>FLD m80fp: no #IA for SNaN (SDM "FLD"); unsupported encodings raise #IA.</summary>
    private static void Fld_m80fp(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu) || !ReadExtended(cpu, Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), out ulong m, out ushort se))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
        double v = ExtendedToDouble(m, se, ref env);
        PushChecked(ref cpu.State, v, ref env);
    }

    private static void Fld_sti(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        int src = i.Op0Register - Register.ST0;
        if (StEmpty(ref s, src))
        {
            // Stack underflow: #IS; masked, the indefinite is pushed.
            if (X87Commit(ref s, ref env, StackFault.Underflow))
            {
                int p = (s.FpTop + 7) & 7;
                s.FpTop = p;
                s.Fpr[p] = SoftFp.IndefiniteDouble;
                s.Ftw |= (byte)(1 << p);
            }
            return;
        }
        PushChecked(ref s, St(ref s, src), ref env);
    }

    private static void PushConstant(Vcpu cpu, double v)
    {
        if (FpuUsable(cpu))
        {
            FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
            PushChecked(ref cpu.State, v, ref env);
        }
    }

    private static void Fld1(Vcpu cpu, in Instruction i) => PushConstant(cpu, 1.0);

    private static void Fldl2t(Vcpu cpu, in Instruction i) => PushConstant(cpu, 3.321928094887362);

    private static void Fldl2e(Vcpu cpu, in Instruction i) => PushConstant(cpu, 1.4426950408889634);

    private static void Fldpi(Vcpu cpu, in Instruction i) => PushConstant(cpu, Math.PI);

    private static void Fldlg2(Vcpu cpu, in Instruction i) => PushConstant(cpu, 0.3010299956639812);

    private static void Fldln2(Vcpu cpu, in Instruction i) => PushConstant(cpu, 0.6931471805599453);

    private static void Fldz(Vcpu cpu, in Instruction i) => PushConstant(cpu, 0.0);

    /// <summary>FST/FSTP m32fp|m64fp: rounded by FCW.RC; an empty ST(0) stores the indefinite when #IS is masked.</summary>
    private static void FstMem(Vcpu cpu, in Instruction i, bool single, bool pop)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int size = single ? 4 : 8;
        if (!cpu.ReadMemForWrite(seg, ea, size, out _))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        env.X87 = false;
        StackFault fault = StackFault.None;
        double v = SoftFp.IndefiniteDouble;
        if (StEmpty(ref s, 0))
        {
            fault = StackFault.Underflow;
        }
        else
        {
            v = St(ref s, 0);
            if (SoftFp.IsSignaling(v))
            {
                env.Flags |= FpFlag.Invalid;
                v = SoftFp.Quiet(v);
            }
        }
        ulong bits = single
            ? BitConverter.SingleToUInt32Bits(SoftFp.NarrowRound(v, 0, ref env))
            : BitConverter.DoubleToUInt64Bits(v);
        if (!X87Commit(ref s, ref env, fault))
        {
            return;
        }
        cpu.WriteMem(seg, ea, size, bits);
        if (pop)
        {
            PopSt(ref s);
        }
    }

    private static void Fst_m32fp(Vcpu cpu, in Instruction i) => FstMem(cpu, in i, true, false);

    private static void Fstp_m32fp(Vcpu cpu, in Instruction i) => FstMem(cpu, in i, true, true);

    private static void Fst_m64fp(Vcpu cpu, in Instruction i) => FstMem(cpu, in i, false, false);

    private static void Fstp_m64fp(Vcpu cpu, in Instruction i) => FstMem(cpu, in i, false, true);

    private static void Fstp_m80fp(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!ProbeWrite(cpu, seg, ea, 10))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        double v = empty ? SoftFp.IndefiniteDouble : St(ref s, 0);
        if (X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None) && WriteExtended(cpu, seg, ea, v))
        {
            PopSt(ref s);
        }
    }

    private static void FstReg(Vcpu cpu, in Instruction i, bool pop)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        double v = empty ? SoftFp.IndefiniteDouble : St(ref s, 0);
        if (X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            SetSt(ref s, i.Op0Register - Register.ST0, v);
            if (pop)
            {
                PopSt(ref s);
            }
        }
    }

    private static void Fst_sti(Vcpu cpu, in Instruction i) => FstReg(cpu, in i, false);

    private static void Fstp_sti(Vcpu cpu, in Instruction i) => FstReg(cpu, in i, true);

    /// <summary>FIST/FISTP/FISTTP: rounded by FCW.RC (FISTTP truncates); NaN, ∞ or out of range store the integer indefinite with #IA.</summary>
    private static void FistMem(Vcpu cpu, in Instruction i, int bits, bool truncate, bool pop)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        int size = bits / 8;
        if (!cpu.ReadMemForWrite(seg, ea, size, out _))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        long v = empty ? long.MinValue >> (64 - bits) : SoftFp.DoubleToInt(St(ref s, 0), bits, truncate, ref env);
        if (!X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            return;
        }
        cpu.WriteMem(seg, ea, size, (ulong)v);
        if (pop)
        {
            PopSt(ref s);
        }
    }

    private static void Fist_m16int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 16, false, false);

    private static void Fist_m32int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 32, false, false);

    private static void Fistp_m16int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 16, false, true);

    private static void Fistp_m32int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 32, false, true);

    private static void Fistp_m64int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 64, false, true);

    private static void Fisttp_m16int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 16, true, true);

    private static void Fisttp_m32int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 32, true, true);

    private static void Fisttp_m64int(Vcpu cpu, in Instruction i) => FistMem(cpu, in i, 64, true, true);

    /// <summary>FBLD: 18 packed BCD digits and a sign byte (SDM Vol. 1 §4.7 "BCD and Packed BCD Integers"); invalid digits load as-is (undefined on hardware).</summary>
    private static void Fbld(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu) || !ReadExtended(cpu, Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), out ulong lo, out ushort hi))
        {
            return;
        }
        long value = 0;
        for (int d = 17; d >= 0; d--)
        {
            int digit = d >= 16 ? (hi >> (4 * (d - 16))) & 0xF : (int)(lo >> (4 * d)) & 0xF;
            value = value * 10 + digit;
        }
        double v = value;
        if ((hi & 0x8000) != 0)
        {
            v = -v;
        }
        FpEnv env = FpEnv.FromFcw(cpu.State.Fcw);
        PushChecked(ref cpu.State, v, ref env);
    }

    /// <summary>FBSTP: rounds by FCW.RC; |value| ≥ 10¹⁸, NaN or ∞ store the packed-BCD indefinite with #IA.</summary>
    private static void Fbstp(Vcpu cpu, in Instruction i)
    {
        if (!FpuUsable(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        if (!ProbeWrite(cpu, seg, ea, 10))
        {
            return;
        }
        FpEnv env = FpEnv.FromFcw(s.Fcw);
        bool empty = StEmpty(ref s, 0);
        ulong lo = 0xC000_0000_0000_0000;
        ushort hi = 0xFFFF;
        if (!empty)
        {
            double x = St(ref s, 0);
            double r = SoftFp.RoundToIntegral(x, env.Rc);
            if (double.IsNaN(x) || !(Math.Abs(r) < 1e18))
            {
                env.Flags |= FpFlag.Invalid;
            }
            else
            {
                if (r != x)
                {
                    env.Flags |= FpFlag.Precision;
                }
                ulong n = (ulong)Math.Abs(r);
                lo = 0;
                hi = (ushort)(double.IsNegative(r) ? 0x8000 : 0);
                for (int d = 0; d < 18; d++)
                {
                    ulong digit = n % 10;
                    n /= 10;
                    if (d < 16)
                    {
                        lo |= digit << (4 * d);
                    }
                    else
                    {
                        hi |= (ushort)(digit << (4 * (d - 16)));
                    }
                }
            }
        }
        if (!X87Commit(ref s, ref env, empty ? StackFault.Underflow : StackFault.None))
        {
            return;
        }
        ulong wrap = Vcpu.SizeMask(cpu.AddrSize / 8);
        if (cpu.WriteMem(seg, ea, 8, lo) && cpu.WriteMem(seg, (ea + 8) & wrap, 2, hi))
        {
            PopSt(ref s);
        }
    }
}
