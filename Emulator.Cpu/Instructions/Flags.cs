using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Flag control: CLC STC CMC CLD STD LAHF SAHF PUSHF/PUSHFD/PUSHFQ POPF/POPFD/POPFQ
/// (SDM Vol. 1 §7.3.13 "Flag Control (EFLAG) Instructions"). CLI and STI live with the system handlers.
/// </summary>
internal static unsafe partial class Handlers
{
    /// <summary>
    /// Non-reserved flags a 32/64-bit POPF may load at CPL 0: CF PF AF ZF SF TF IF DF OF IOPL NT AC ID.
    /// RF is cleared, VM VIP VIF are never loaded, bit 1 reads as 1 and the other reserved bits as 0.
    /// </summary>
    private const ulong PopfMask = CpuState.FlagCf | CpuState.FlagPf | CpuState.FlagAf | CpuState.FlagZf | CpuState.FlagSf
        | CpuState.FlagTf | CpuState.FlagIf | CpuState.FlagDf | CpuState.FlagOf | CpuState.FlagIopl | CpuState.FlagNt
        | CpuState.FlagAc | CpuState.FlagId;

    static partial void RegisterFlags(HandlerFn[] t)
    {
        Set(t, &Clc, Code.Clc);
        Set(t, &Stc, Code.Stc);
        Set(t, &Cmc, Code.Cmc);
        Set(t, &Cld, Code.Cld);
        Set(t, &Std, Code.Std);
        Set(t, &Lahf, Code.Lahf);
        Set(t, &Sahf, Code.Sahf);
        Set(t, &Pushf, Code.Pushfw, Code.Pushfd, Code.Pushfq);
        Set(t, &Popf, Code.Popfw, Code.Popfd, Code.Popfq);
        Set(t, &Stac, Code.Stac);
        Set(t, &Clac, Code.Clac);
    }

    /// <summary>
    /// SDM Vol. 2B "STAC—Set AC Flag in EFLAGS Register" / Vol. 2A "CLAC—Clear AC Flag in EFLAGS Register":
    /// #UD at CPL &gt; 0 (and in virtual-8086 mode, where CPL is 3); the AC flag gates SMAP for explicit accesses.
    /// </summary>
    private static void Stac(Vcpu cpu, in Instruction i) => SetAc(cpu, true);

    private static void Clac(Vcpu cpu, in Instruction i) => SetAc(cpu, false);

    private static void SetAc(Vcpu cpu, bool set)
    {
        ref CpuState s = ref cpu.State;
        if (s.Cpl > 0 || s.V86)
        {
            cpu.RaiseUd();
            return;
        }
        s.Rflags = set ? s.Rflags | CpuState.FlagAc : s.Rflags & ~CpuState.FlagAc;
    }

    private static void Clc(Vcpu cpu, in Instruction i) => cpu.State.SetArith(CpuState.FlagCf, 0);

    private static void Stc(Vcpu cpu, in Instruction i) => cpu.State.SetArith(CpuState.FlagCf, CpuState.FlagCf);

    private static void Cmc(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        s.SetArith(CpuState.FlagCf, s.GetRflags() ^ CpuState.FlagCf);
    }

    private static void Cld(Vcpu cpu, in Instruction i) => cpu.State.Rflags &= ~CpuState.FlagDf;

    private static void Std(Vcpu cpu, in Instruction i) => cpu.State.Rflags |= CpuState.FlagDf;

    /// <summary>
    /// SDM Vol. 2A "LAHF—Load Status Flags Into AH Register": AH ← SF:ZF:0:AF:0:PF:1:CF. Valid in 64-bit mode
    /// because CPUID.80000001H:ECX.LAHF-SAHF[bit 0] is advertised.
    /// </summary>
    private static void Lahf(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        ulong ah = (s.GetRflags() & 0xD5) | 2;
        s.Gpr[0] = (s.Gpr[0] & ~0xFF00UL) | (ah << 8);
    }

    /// <summary>SDM Vol. 2B "SAHF—Store AH Into Flags": SF ZF AF PF CF ← AH bits 7, 6, 4, 2, 0; OF unchanged.</summary>
    private static void Sahf(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        s.SetArith(CpuState.FlagSf | CpuState.FlagZf | CpuState.FlagAf | CpuState.FlagPf | CpuState.FlagCf, s.Gpr[0] >> 8);
    }

    private static int FlagsOpSize(Code code) => code switch
    {
        Code.Pushfw or Code.Popfw => 2,
        Code.Pushfd or Code.Popfd => 4,
        _ => 8,
    };

    /// <summary>
    /// SDM Vol. 2B "PUSHF/PUSHFD/PUSHFQ—Push EFLAGS Register Onto the Stack": the image has VM and RF cleared
    /// (AND 00FCFFFFH); VIF and VIP go as they are. In virtual-8086 mode with IOPL &lt; 3: #GP(0), except the
    /// 16-bit form with CR4.VME = 1, which pushes FLAGS with IF replaced by VIF and IOPL reading as 3
    /// (SDM Vol. 3B "Virtual Interrupt Mechanism").
    /// </summary>
    private static void Pushf(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = FlagsOpSize(i.Code);
        ulong flags = s.GetRflags() & 0x00FC_FFFF;
        if (s.V86 && s.Iopl < 3)
        {
            if ((s.Cr4 & CpuState.Cr4Vme) == 0 || size != 2)
            {
                cpu.RaiseGp();
                return;
            }
            flags = (flags & ~CpuState.FlagIf) | CpuState.FlagIopl;
            if ((s.Rflags & CpuState.FlagVif) != 0)
            {
                flags |= CpuState.FlagIf;
            }
        }
        cpu.Push(flags, size);
    }

    /// <summary>
    /// SDM Vol. 2B "POPF/POPFD/POPFQ—Pop Stack Into EFLAGS Register".
    /// <list type="bullet">
    /// <item>Outside virtual-8086 mode: IOPL changes only at CPL 0 and IF only when CPL ≤ IOPL; anything else is
    /// silently kept. The 32/64-bit forms clear RF and never load VM, VIP or VIF; the 16-bit form loads bits 15:0.</item>
    /// <item>Virtual-8086 mode with IOPL = 3: IOPL is kept. With IOPL &lt; 3: #GP(0), except the 16-bit form with
    /// CR4.VME = 1, which loads VIF from the image's IF (#GP(0) if that would set VIF with VIP pending, or if the
    /// image sets TF) and keeps IF and IOPL.</item>
    /// </list>
    /// The stack pointer moves only if no fault is raised. IF or TF may have changed: the loop is told.
    /// </summary>
    private static void Popf(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        int size = FlagsOpSize(i.Code);
        if (!cpu.PeekStack(0, size, out ulong image))
        {
            return;
        }
        ulong old = s.GetRflags();
        ulong writable = PopfMask;
        if (s.V86)
        {
            if (s.Iopl < 3)
            {
                if ((s.Cr4 & CpuState.Cr4Vme) == 0 || size != 2)
                {
                    cpu.RaiseGp();
                    return;
                }
                if (((image & CpuState.FlagIf) != 0 && (old & CpuState.FlagVip) != 0) || (image & CpuState.FlagTf) != 0)
                {
                    cpu.RaiseGp();
                    return;
                }
                writable &= ~(CpuState.FlagIf | CpuState.FlagIopl);
                old = (old & ~CpuState.FlagVif) | ((image & CpuState.FlagIf) != 0 ? CpuState.FlagVif : 0);
            }
            else
            {
                writable &= ~CpuState.FlagIopl;
            }
        }
        else if (s.Cpl > 0)
        {
            writable &= ~CpuState.FlagIopl;
            if ((ulong)s.Cpl > s.Iopl)
            {
                writable &= ~CpuState.FlagIf;
            }
        }
        ulong updated;
        if (size == 2)
        {
            writable &= 0xFFFF;
            updated = (old & ~writable) | (image & writable);
        }
        else
        {
            updated = ((old & ~writable) | (image & writable)) & ~CpuState.FlagRf;
        }
        ulong mask = cpu.StackMask;
        s.Gpr[4] = (s.Gpr[4] & ~mask) | ((s.Gpr[4] + (ulong)size) & mask);
        s.SetRflags(updated);
        cpu.Notify();
    }
}
