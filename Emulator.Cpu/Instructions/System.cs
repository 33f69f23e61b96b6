using System.Runtime.CompilerServices;
using Emulator.Cpu.Memory;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// System instructions (SDM Vol. 3A §2.8 "System Instruction Summary"): descriptor-table registers,
/// control and debug registers, TLB and cache maintenance, HLT, CLI/STI, MSRs, the time-stamp counter,
/// CPUID, fast system calls, FS/GS base access and the random-number instructions.
/// </summary>
internal static unsafe partial class Handlers
{
    static partial void RegisterSystem(HandlerFn[] t)
    {
        Set(t, &Lgdt, Code.Lgdt_m1632_16, Code.Lgdt_m1632, Code.Lgdt_m1664);
        Set(t, &Lidt, Code.Lidt_m1632_16, Code.Lidt_m1632, Code.Lidt_m1664);
        Set(t, &Sgdt, Code.Sgdt_m1632_16, Code.Sgdt_m1632, Code.Sgdt_m1664);
        Set(t, &Sidt, Code.Sidt_m1632_16, Code.Sidt_m1632, Code.Sidt_m1664);
        Set(t, &Lldt, Code.Lldt_rm16, Code.Lldt_r32m16, Code.Lldt_r64m16);
        Set(t, &Sldt, Code.Sldt_rm16, Code.Sldt_r32m16, Code.Sldt_r64m16);
        Set(t, &Ltr, Code.Ltr_rm16, Code.Ltr_r32m16, Code.Ltr_r64m16);
        Set(t, &Str, Code.Str_rm16, Code.Str_r32m16, Code.Str_r64m16);
        Set(t, &Mov_cr_r, Code.Mov_cr_r32, Code.Mov_cr_r64);
        Set(t, &Mov_r_cr, Code.Mov_r32_cr, Code.Mov_r64_cr);
        Set(t, &Mov_dr_r, Code.Mov_dr_r32, Code.Mov_dr_r64);
        Set(t, &Mov_r_dr, Code.Mov_r32_dr, Code.Mov_r64_dr);
        Set(t, &Clts, Code.Clts);
        Set(t, &Lmsw, Code.Lmsw_rm16, Code.Lmsw_r32m16, Code.Lmsw_r64m16);
        Set(t, &Smsw, Code.Smsw_rm16, Code.Smsw_r32m16, Code.Smsw_r64m16);
        Set(t, &Invlpg, Code.Invlpg_m);
        Set(t, &Invpcid, Code.Invpcid_r32_m128, Code.Invpcid_r64_m128);
        Set(t, &PrivilegedNop, Code.Invd, Code.Wbinvd, Code.Wbnoinvd);
        Set(t, &CacheLineFlush, Code.Clflush_m8, Code.Clflushopt_m8, Code.Clwb_m8);
        Set(t, &Hlt, Code.Hlt);
        Set(t, &Cli, Code.Cli);
        Set(t, &Sti, Code.Sti);
        Set(t, &Rdmsr, Code.Rdmsr);
        Set(t, &Wrmsr, Code.Wrmsr);
        Set(t, &Rdtsc, Code.Rdtsc);
        Set(t, &Rdtscp, Code.Rdtscp);
        Set(t, &Rdpid, Code.Rdpid_r32, Code.Rdpid_r64);
        Set(t, &Rdpmc, Code.Rdpmc);
        Set(t, &Pause, Code.Pause);
        Set(t, &Cpuid, Code.Cpuid);
        Set(t, &Syscall, Code.Syscall);
        Set(t, &Sysret, Code.Sysretd, Code.Sysretq);
        Set(t, &Sysenter, Code.Sysenter);
        Set(t, &Sysexit, Code.Sysexitd, Code.Sysexitq);
        Set(t, &Rdfsgsbase, Code.Rdfsbase_r32, Code.Rdfsbase_r64, Code.Rdgsbase_r32, Code.Rdgsbase_r64);
        Set(t, &Wrfsgsbase, Code.Wrfsbase_r32, Code.Wrfsbase_r64, Code.Wrgsbase_r32, Code.Wrgsbase_r64);
        Set(t, &Rdrand, Code.Rdrand_r16, Code.Rdrand_r32, Code.Rdrand_r64, Code.Rdseed_r16, Code.Rdseed_r32, Code.Rdseed_r64);
    }

    // ------------------------------------------------------------------ privilege helpers

    /// <summary>
    /// Privileged instructions: #GP(0) unless CPL = 0 (real mode counts as CPL 0; virtual-8086 mode as 3).
    /// Returns false when it raised.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool RequireCpl0(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (s.ProtectedMode && (s.Cpl != 0 || s.V86))
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    /// <summary>Instructions not recognized in real-address or virtual-8086 mode (LLDT, LTR, LAR…): #UD.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool RequireProtectedMode(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode || s.V86)
        {
            return cpu.RaiseUd();
        }
        return true;
    }

    /// <summary>SDM Vol. 3A §2.5 "Control Registers" (CR4.UMIP): SGDT SIDT SLDT SMSW STR raise #GP(0) at CPL &gt; 0.</summary>
    private static bool UmipAllows(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr4 & CpuState.Cr4Umip) != 0 && s.ProtectedMode && (s.Cpl > 0 || s.V86))
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    // ------------------------------------------------------------------ descriptor-table registers

    /// <summary>SDM Vol. 2A "LGDT/LIDT—Load Global/Interrupt Descriptor Table Register".</summary>
    private static bool LoadTableRegister(Vcpu cpu, in Instruction i, out DescriptorTable table)
    {
        table = default;
        if (!RequireCpl0(cpu))
        {
            return false;
        }
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        ulong eaBase = MaskAddr(cpu, ea + 2);
        bool is64 = cpu.State.Is64;
        if (!cpu.ReadMem(seg, ea, 2, out ulong limit) || !cpu.ReadMem(seg, eaBase, is64 ? 8 : 4, out ulong b))
        {
            return false;
        }
        if (is64)
        {
            if (!Vcpu.IsCanonical(b))
            {
                return cpu.RaiseGp();
            }
        }
        else if (i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
        {
            // 16-bit operand size: a 24-bit base.
            b &= 0xFF_FFFF;
        }
        table.Base = b;
        table.Limit = (uint)limit;
        return true;
    }

    private static ulong MaskAddr(Vcpu cpu, ulong ea) => cpu.AddrSize switch
    {
        64 => ea,
        32 => (uint)ea,
        _ => (ushort)ea,
    };

    private static void Lgdt(Vcpu cpu, in Instruction i)
    {
        if (LoadTableRegister(cpu, in i, out DescriptorTable t))
        {
            cpu.State.Gdtr = t;
        }
    }

    private static void Lidt(Vcpu cpu, in Instruction i)
    {
        if (LoadTableRegister(cpu, in i, out DescriptorTable t))
        {
            cpu.State.Idtr = t;
        }
    }

    /// <summary>SDM Vol. 2B "SGDT"/"SIDT": limit then base (24 bits with a zero byte for 16-bit operands, 64 in 64-bit mode).</summary>
    private static void StoreTableRegister(Vcpu cpu, in Instruction i, in DescriptorTable table)
    {
        if (!UmipAllows(cpu))
        {
            return;
        }
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        ulong eaBase = MaskAddr(cpu, ea + 2);
        bool is64 = cpu.State.Is64;
        ulong b = i.Code is Code.Sgdt_m1632_16 or Code.Sidt_m1632_16 ? table.Base & 0xFF_FFFF : table.Base;
        int baseSize = is64 ? 8 : 4;
        // Probe both parts for writing first so that a fault leaves memory unchanged.
        if (!cpu.ReadMemForWrite(seg, ea, 2, out _) || !cpu.ReadMemForWrite(seg, eaBase, baseSize, out _))
        {
            return;
        }
        if (cpu.WriteMem(seg, ea, 2, table.Limit & 0xFFFF))
        {
            cpu.WriteMem(seg, eaBase, baseSize, is64 ? b : (uint)b);
        }
    }

    private static void Sgdt(Vcpu cpu, in Instruction i) => StoreTableRegister(cpu, in i, in cpu.State.Gdtr);

    private static void Sidt(Vcpu cpu, in Instruction i) => StoreTableRegister(cpu, in i, in cpu.State.Idtr);

    /// <summary>SDM Vol. 2A "LLDT—Load Local Descriptor Table Register".</summary>
    private static void Lldt(Vcpu cpu, in Instruction i)
    {
        if (!RequireProtectedMode(cpu) || !RequireCpl0(cpu) || !cpu.ReadOp(in i, 0, 2, out ulong v))
        {
            return;
        }
        ushort sel = (ushort)v;
        ref CpuState s = ref cpu.State;
        if ((sel & 0xFFFC) == 0)
        {
            // A null selector marks the LDTR invalid; later LDT references fault.
            ref Segment ldtr = ref s.Seg[(int)SegReg.Ldtr];
            ldtr.Selector = sel;
            ldtr.Attr = Segment.AttrUnusable;
            return;
        }
        if ((sel & 4) != 0)
        {
            cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            return;
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out ulong d, out _))
        {
            return;
        }
        if (!Vcpu.DescIsSystem(d) || Vcpu.DescType(d) != Vcpu.TypeLdt)
        {
            cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            return;
        }
        ulong baseHigh = 0;
        if (s.LongModeActive)
        {
            if (!cpu.ReadDescriptorHigh(sel, Vectors.GP, 0, out ulong high))
            {
                return;
            }
            if (((high >> 8) & 0x1F) != 0)
            {
                cpu.RaiseGp(Vcpu.SelErr(sel, 0));
                return;
            }
            baseHigh = high & 0xFFFF_FFFF;
        }
        if (!Vcpu.DescPresent(d))
        {
            cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
            return;
        }
        var seg = default(Segment);
        seg.LoadDescriptor(sel, d, baseHigh);
        if (s.LongModeActive && !Vcpu.IsCanonical(seg.Base))
        {
            cpu.RaiseGp();
            return;
        }
        s.Seg[(int)SegReg.Ldtr] = seg;
    }

    /// <summary>SDM Vol. 2A "LTR—Load Task Register": an available TSS, marked busy in the GDT.</summary>
    private static void Ltr(Vcpu cpu, in Instruction i)
    {
        if (!RequireProtectedMode(cpu) || !RequireCpl0(cpu) || !cpu.ReadOp(in i, 0, 2, out ulong v))
        {
            return;
        }
        ushort sel = (ushort)v;
        ref CpuState s = ref cpu.State;
        if ((sel & 0xFFFC) == 0)
        {
            cpu.RaiseGp();
            return;
        }
        if ((sel & 4) != 0)
        {
            cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            return;
        }
        if (!cpu.ReadDescriptor(sel, Vectors.GP, 0, out ulong d, out ulong addr))
        {
            return;
        }
        int type = Vcpu.DescType(d);
        bool available = s.LongModeActive ? type == Vcpu.TypeTss32Avail : type is Vcpu.TypeTss16Avail or Vcpu.TypeTss32Avail;
        if (!Vcpu.DescIsSystem(d) || !available)
        {
            cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            return;
        }
        ulong baseHigh = 0;
        if (s.LongModeActive)
        {
            if (!cpu.ReadDescriptorHigh(sel, Vectors.GP, 0, out ulong high))
            {
                return;
            }
            if (((high >> 8) & 0x1F) != 0)
            {
                cpu.RaiseGp(Vcpu.SelErr(sel, 0));
                return;
            }
            baseHigh = high & 0xFFFF_FFFF;
        }
        if (!Vcpu.DescPresent(d))
        {
            cpu.Raise(Vectors.NP, Vcpu.SelErr(sel, 0));
            return;
        }
        var seg = default(Segment);
        seg.LoadDescriptor(sel, d, baseHigh);
        if (s.LongModeActive && !Vcpu.IsCanonical(seg.Base))
        {
            cpu.RaiseGp(Vcpu.SelErr(sel, 0));
            return;
        }
        if (!cpu.SetTssBusy(addr, ref d, busy: true))
        {
            return;
        }
        seg.Attr |= 2;
        s.Seg[(int)SegReg.Tr] = seg;
    }

    /// <summary>SLDT/STR: the selector; a register destination is zero-extended, memory takes 16 bits.</summary>
    private static void Sldt(Vcpu cpu, in Instruction i)
    {
        if (RequireProtectedMode(cpu) && UmipAllows(cpu))
        {
            cpu.WriteOp0(in i, 2, cpu.State.Seg[(int)SegReg.Ldtr].Selector);
        }
    }

    private static void Str(Vcpu cpu, in Instruction i)
    {
        if (RequireProtectedMode(cpu) && UmipAllows(cpu))
        {
            cpu.WriteOp0(in i, 2, cpu.State.Seg[(int)SegReg.Tr].Selector);
        }
    }

    // ------------------------------------------------------------------ control registers

    /// <summary>SDM Vol. 2A "MOV—Move to/from Control Registers": CPL 0; CR1, CR5–CR7, CR9–CR15 are #UD.</summary>
    private static void Mov_cr_r(Vcpu cpu, in Instruction i)
    {
        int n = i.Op0Register - Register.CR0;
        if (n is not (0 or 2 or 3 or 4 or 8))
        {
            cpu.RaiseUd();
            return;
        }
        if (!RequireCpl0(cpu) || CrExits(cpu, n, 0, Vcpu.GprIndex(i.Op1Register)))
        {
            return;
        }
        ulong v = cpu.ReadGpr(i.Op1Register);
        ref CpuState cs = ref cpu.State;
        v = n switch
        {
            0 => (v & ~cpu.Cr0GuestHostMask) | (cs.Cr0 & cpu.Cr0GuestHostMask),
            4 => (v & ~cpu.Cr4GuestHostMask) | (cs.Cr4 & cpu.Cr4GuestHostMask),
            _ => v,
        };
        bool ok = n switch
        {
            0 => cpu.WriteCr0(v),
            2 => SetCr2(cpu, v),
            3 => cpu.WriteCr3(v),
            4 => cpu.WriteCr4(v),
            _ => cpu.WriteCr8(v),
        };
        if (!ok)
        {
            cpu.RaiseGp();
        }
    }

    /// <summary>
    /// In VMX non-root operation: does this control-register access exit (SDM Vol. 3C §26.1.3)? CR2 accesses never do.
    /// <paramref name="type"/> is the access type of the qualification (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW).
    /// </summary>
    private static bool CrExits(Vcpu cpu, int cr, int type, int gpr, bool lmswMemory = false, ulong lmswSource = 0)
    {
        if (cpu.Vmx is null || cr == 2)
        {
            return false;
        }

        ulong q = (uint)cr | ((uint)type << 4) | ((uint)gpr << 8) | ((lmswSource & 0xFFFF) << 16);
        q |= lmswMemory ? 1UL << 6 : 0;
        return cpu.Intercepted(VmxIntercept.CrAccess, q);
    }

    private static bool SetCr2(Vcpu cpu, ulong v)
    {
        cpu.State.Cr2 = v;
        return true;
    }

    private static void Mov_r_cr(Vcpu cpu, in Instruction i)
    {
        int n = i.Op1Register - Register.CR0;
        if (n is not (0 or 2 or 3 or 4 or 8))
        {
            cpu.RaiseUd();
            return;
        }
        if (!RequireCpl0(cpu) || CrExits(cpu, n, 1, Vcpu.GprIndex(i.Op0Register)))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong v = n switch
        {
            0 => cpu.GuestVisibleCr0,
            2 => s.Cr2,
            3 => s.Cr3,
            4 => (s.Cr4 & ~cpu.Cr4GuestHostMask) | (cpu.Cr4ReadShadow & cpu.Cr4GuestHostMask),
            _ => cpu.Tpr,
        };
        cpu.WriteGpr(i.Op0Register, v);
    }

    // ------------------------------------------------------------------ debug registers

    /// <summary>
    /// SDM Vol. 2A "MOV—Move to/from Debug Registers": CPL 0; DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD);
    /// DR7.GD makes any access a #DB fault with DR6.BD set and GD cleared (§18.2.4). In VMX non-root operation
    /// "MOV-DR exiting" exits after the #UD and CPL checks and before the general-detect #DB (SDM Vol. 3C §26.1.1
    /// "Relative Priority of Faults and VM Exits"), with the qualification of SDM Vol. 3C §28.2.1 table "Exit
    /// Qualification for MOV DR" (bits 2:0 DR as encoded, bit 4 MOV from DR, bits 11:8 GPR). False also when it exited.
    /// </summary>
    private static bool DebugRegisterIndex(Vcpu cpu, Register r, out int n, bool fromDr, Register gpr)
    {
        n = r - Register.DR0;
        int encoded = n;
        ref CpuState s = ref cpu.State;
        if (!RequireCpl0(cpu))
        {
            return false;
        }
        if (n is 4 or 5)
        {
            if ((s.Cr4 & CpuState.Cr4De) != 0)
            {
                return cpu.RaiseUd();
            }
            n += 2;
        }
        if (n > 7)
        {
            return cpu.RaiseUd();
        }
        if (cpu.Vmx is not null
            && cpu.Intercepted(VmxIntercept.MovDr, (uint)encoded | (fromDr ? 1UL << 4 : 0) | ((ulong)Vcpu.GprIndex(gpr) << 8)))
        {
            return false;
        }
        if ((s.Dr[7] & Vcpu.Dr7Gd) != 0)
        {
            s.Dr[6] = (s.Dr[6] & ~0xFUL) | Vcpu.Dr6Bd;
            s.Dr[7] &= ~Vcpu.Dr7Gd;
            return cpu.Raise(Vectors.DB);
        }
        return true;
    }

    private static void Mov_dr_r(Vcpu cpu, in Instruction i)
    {
        if (!DebugRegisterIndex(cpu, i.Op0Register, out int n, fromDr: false, i.Op1Register))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong v = cpu.ReadGpr(i.Op1Register);
        switch (n)
        {
            case 6:
            case 7:
                if ((v >> 32) != 0)
                {
                    cpu.RaiseGp();
                    return;
                }
                if (n == 6)
                {
                    s.Dr[6] = (v & Vcpu.Dr6Writable) | Vcpu.Dr6Fixed1;
                }
                else
                {
                    s.Dr[7] = (v & Vcpu.Dr7Writable) | Vcpu.Dr7Fixed1;
                    cpu.UpdateBreakpoints();
                }
                break;
            default:
                s.Dr[n] = v;
                if (cpu.ExecBreakpoints || cpu.DataBreakpoints || cpu.IoBreakpoints)
                {
                    cpu.UpdateBreakpoints();
                }
                break;
        }
    }

    private static void Mov_r_dr(Vcpu cpu, in Instruction i)
    {
        if (DebugRegisterIndex(cpu, i.Op1Register, out int n, fromDr: true, i.Op0Register))
        {
            cpu.WriteGpr(i.Op0Register, cpu.State.Dr[n]);
        }
    }

    // ------------------------------------------------------------------ CR0 short forms

    /// <summary>SDM Vol. 2A "CLTS—Clear Task-Switched Flag in CR0".</summary>
    private static void Clts(Vcpu cpu, in Instruction i)
    {
        if (RequireCpl0(cpu) && !CrExits(cpu, 0, 2, 0))
        {
            // A TS owned by L1 (set in the CR0 guest/host mask) is left as it is.
            cpu.State.Cr0 &= ~(CpuState.Cr0Ts & ~cpu.Cr0GuestHostMask);
        }
    }

    /// <summary>SDM Vol. 2A "LMSW—Load Machine Status Word": loads PE MP EM TS; PE can be set but not cleared.</summary>
    private static void Lmsw(Vcpu cpu, in Instruction i)
    {
        if (!RequireCpl0(cpu) || !cpu.ReadOp(in i, 0, 2, out ulong v)
            || CrExits(cpu, 0, 3, 0, i.Op0Kind != OpKind.Register, v))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong cr0 = (s.Cr0 & ~0xEUL) | (v & 0xF) | (s.Cr0 & CpuState.Cr0Pe);
        s.Cr0 = (cr0 & ~cpu.Cr0GuestHostMask) | (s.Cr0 & cpu.Cr0GuestHostMask);
        cpu.InvalidateFetch();
    }

    /// <summary>SDM Vol. 2B "SMSW—Store Machine Status Word": memory takes 16 bits; registers get CR0 at their size.</summary>
    private static void Smsw(Vcpu cpu, in Instruction i)
    {
        if (!UmipAllows(cpu))
        {
            return;
        }
        ulong cr0 = cpu.GuestVisibleCr0;
        if (i.Op0Kind == OpKind.Register)
        {
            cpu.WriteGpr(i.Op0Register, cr0);
        }
        else
        {
            cpu.WriteMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 2, cr0 & 0xFFFF);
        }
    }

    // ------------------------------------------------------------------ TLB and caches

    /// <summary>
    /// SDM Vol. 2A "INVLPG—Invalidate TLB Entries": CPL 0; the page's entries for the current PCID and its
    /// global entries go; a non-canonical address in 64-bit mode is a no-op.
    /// </summary>
    private static void Invlpg(Vcpu cpu, in Instruction i)
    {
        if (!RequireCpl0(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        int seg = Vcpu.SegIndex(i.MemorySegment);
        ulong ea = cpu.EffectiveAddress(in i);
        ulong linear;
        if (s.Is64)
        {
            linear = seg >= (int)SegReg.Fs ? s.Seg[seg].Base + ea : ea;
            if (!Vcpu.IsCanonical(linear))
            {
                return;
            }
        }
        else
        {
            linear = (uint)(s.Seg[seg].Base + ea);
        }
        if (cpu.Intercepted(VmxIntercept.Invlpg, linear))
        {
            return;
        }
        cpu.FlushTlbPage(linear, cpu.CurrentPcid, includeGlobal: true);
    }

    /// <summary>SDM Vol. 2A "INVPCID—Invalidate Process-Context Identifier": types 0–3 with their #GP rules.</summary>
    private static void Invpcid(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (s.V86)
        {
            cpu.RaiseUd();
            return;
        }
        if (!RequireCpl0(cpu))
        {
            return;
        }
        ulong type = cpu.ReadGpr(i.Op0Register);
        if (!cpu.ReadMem128(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), out ulong lo, out ulong hi))
        {
            return;
        }
        if (type > 3 || (lo >> 12) != 0)
        {
            cpu.RaiseGp();
            return;
        }
        ushort pcid = (ushort)(lo & 0xFFF);
        bool pcide = (s.Cr4 & CpuState.Cr4Pcide) != 0;
        switch (type)
        {
            case 0:
                if ((!pcide && pcid != 0) || !Vcpu.IsCanonical(hi))
                {
                    cpu.RaiseGp();
                    return;
                }
                cpu.FlushTlbPage(hi, pcid, includeGlobal: false);
                break;
            case 1:
                if (!pcide && pcid != 0)
                {
                    cpu.RaiseGp();
                    return;
                }
                cpu.FlushTlbPcid(pcid);
                break;
            case 2:
                cpu.FlushTlbAll();
                break;
            default:
                cpu.FlushTlbNonGlobal();
                break;
        }
        cpu.InvalidateFetch();
    }

    /// <summary>
    /// INVD, WBINVD, WBNOINVD: CPL 0, nothing to do for a coherent cache model. In VMX non-root operation INVD
    /// exits unconditionally and WBINVD/WBNOINVD per "WBINVD exiting" (SDM Vol. 3C §26.1.2, §26.1.3).
    /// </summary>
    private static void PrivilegedNop(Vcpu cpu, in Instruction i)
    {
        if (RequireCpl0(cpu))
        {
            cpu.Intercepted(i.Code == Code.Invd ? VmxIntercept.Invd : VmxIntercept.Wbinvd);
        }
    }

    /// <summary>CLFLUSH, CLFLUSHOPT, CLWB: fault like a byte read of the line's address, otherwise no effect.</summary>
    private static void CacheLineFlush(Vcpu cpu, in Instruction i) =>
        cpu.ReadMem(Vcpu.SegIndex(i.MemorySegment), cpu.EffectiveAddress(in i), 1, out _);

    // ------------------------------------------------------------------ HLT, CLI, STI

    /// <summary>SDM Vol. 2A "HLT—Halt": CPL 0; the processor waits for an interrupt, NMI or reset.</summary>
    private static void Hlt(Vcpu cpu, in Instruction i)
    {
        if (RequireCpl0(cpu) && !cpu.Intercepted(VmxIntercept.Hlt))
        {
            cpu.Halted = true;
            cpu.Notify();
        }
    }

    /// <summary>
    /// IF may be changed by CLI/STI in real mode, at CPL ≤ IOPL in protected mode, and with IOPL = 3 in
    /// virtual-8086 mode (SDM Vol. 2A "CLI", Vol. 2B "STI"; VME/PVI are not offered, so otherwise #GP(0)).
    /// </summary>
    private static bool IfChangeAllowed(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (!s.ProtectedMode)
        {
            return true;
        }
        if (s.V86 ? s.Iopl == 3 : (ulong)s.Cpl <= s.Iopl)
        {
            return true;
        }
        return cpu.RaiseGp();
    }

    private static void Cli(Vcpu cpu, in Instruction i)
    {
        if (IfChangeAllowed(cpu))
        {
            cpu.State.Rflags &= ~CpuState.FlagIf;
        }
    }

    /// <summary>STI: interrupts stay blocked for one more instruction, but only when IF was 0.</summary>
    private static void Sti(Vcpu cpu, in Instruction i)
    {
        if (!IfChangeAllowed(cpu))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        if ((s.Rflags & CpuState.FlagIf) == 0)
        {
            s.Rflags |= CpuState.FlagIf;
            cpu.ShadowArmed = true;
        }
        cpu.Notify();
    }

    // ------------------------------------------------------------------ MSRs and time-stamp counter

    /// <summary>SDM Vol. 2B "RDMSR": CPL 0; ECX selects; unknown MSRs are #GP(0).</summary>
    private static void Rdmsr(Vcpu cpu, in Instruction i)
    {
        if (!RequireCpl0(cpu) || cpu.Intercepted(VmxIntercept.Rdmsr))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        if (!cpu.ReadMsr((uint)s.Gpr[1], out ulong v))
        {
            cpu.RaiseGp();
            return;
        }
        s.Gpr[0] = (uint)v;
        s.Gpr[2] = v >> 32;
    }

    /// <summary>SDM Vol. 2B "WRMSR": CPL 0; #GP(0) for unknown MSRs and reserved bits.</summary>
    private static void Wrmsr(Vcpu cpu, in Instruction i)
    {
        if (!RequireCpl0(cpu) || cpu.Intercepted(VmxIntercept.Wrmsr))
        {
            return;
        }
        ref CpuState s = ref cpu.State;
        ulong v = ((s.Gpr[2] & 0xFFFF_FFFF) << 32) | (s.Gpr[0] & 0xFFFF_FFFF);
        if (!cpu.WriteMsr((uint)s.Gpr[1], v))
        {
            cpu.RaiseGp();
        }
    }

    /// <summary>CR4.TSD restricts RDTSC/RDTSCP to CPL 0 (SDM Vol. 2B "RDTSC").</summary>
    private static bool TscAllowed(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Cr4 & CpuState.Cr4Tsd) != 0 && s.ProtectedMode && (s.Cpl != 0 || s.V86))
        {
            return cpu.RaiseGp();
        }
        return true;
    }

    private static void Rdtsc(Vcpu cpu, in Instruction i)
    {
        if (TscAllowed(cpu) && !cpu.Intercepted(VmxIntercept.Rdtsc))
        {
            ulong tsc = cpu.ReadTsc();
            cpu.State.Gpr[0] = (uint)tsc;
            cpu.State.Gpr[2] = tsc >> 32;
        }
    }

    private static void Rdtscp(Vcpu cpu, in Instruction i)
    {
        if (TscAllowed(cpu) && !cpu.Intercepted(VmxIntercept.Rdtscp))
        {
            ulong tsc = cpu.ReadTsc();
            cpu.State.Gpr[0] = (uint)tsc;
            cpu.State.Gpr[2] = tsc >> 32;
            cpu.State.Gpr[1] = (uint)cpu.State.TscAux;
        }
    }

    /// <summary>SDM Vol. 2B "RDPID—Read Processor ID": IA32_TSC_AUX, any privilege.</summary>
    private static void Rdpid(Vcpu cpu, in Instruction i) => cpu.WriteGpr(i.Op0Register, cpu.State.TscAux);

    /// <summary>
    /// No performance counters are offered (CPUID.0AH reports version 0): every counter index is #GP(0). The
    /// CPL/CR4.PCE #GP has priority over the VM exit "RDPMC exiting" asks for (SDM Vol. 3C §26.1.1).
    /// </summary>
    private static void Rdpmc(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        bool privileged = (s.Cr4 & CpuState.Cr4Pce) != 0 || !s.ProtectedMode || (s.Cpl == 0 && !s.V86);
        if (privileged && cpu.Intercepted(VmxIntercept.Rdpmc))
        {
            return;
        }

        cpu.RaiseGp();
    }

    /// <summary>SDM Vol. 2B "PAUSE": a hint, no effect; in VMX non-root operation it exits per "PAUSE exiting" (any CPL).</summary>
    private static void Pause(Vcpu cpu, in Instruction i) => cpu.Intercepted(VmxIntercept.Pause);

    private static void Cpuid(Vcpu cpu, in Instruction i)
    {
        if (cpu.Intercepted(VmxIntercept.Cpuid))
        {
            return;
        }

        ref CpuState s = ref cpu.State;
        cpu.Cpuid((uint)s.Gpr[0], (uint)s.Gpr[1], out uint a, out uint b, out uint c, out uint d);
        s.Gpr[0] = a;
        s.Gpr[3] = b;
        s.Gpr[1] = c;
        s.Gpr[2] = d;
    }

    // ------------------------------------------------------------------ fast system calls

    private const uint FlatCodeAttr = Segment.AttrP | Segment.AttrS | 0xB | Segment.AttrG;
    private const uint FlatDataAttr = Segment.AttrP | Segment.AttrS | 0x3 | Segment.AttrG | Segment.AttrDb;

    private static void LoadFlat(ref Segment seg, ushort selector, uint attr, int dpl)
    {
        seg.Selector = selector;
        seg.Base = 0;
        seg.Limit = 0xFFFF_FFFF;
        seg.Attr = attr | ((uint)dpl << 5);
    }

    /// <summary>
    /// SDM Vol. 2B "SYSCALL—Fast System Call": 64-bit mode with EFER.SCE only (Intel: #UD elsewhere);
    /// RCX ← RIP, R11 ← RFLAGS, RFLAGS &amp;= ~(FMASK | RF), flat CS/SS from STAR[47:32].
    /// </summary>
    private static void Syscall(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if (!s.Is64 || (s.Efer & CpuState.EferSce) == 0)
        {
            cpu.RaiseUd();
            return;
        }
        ulong flags = s.GetRflags();
        s.Gpr[1] = cpu.NextRip;
        s.Gpr[11] = flags & ~CpuState.FlagRf;
        ushort sel = (ushort)(s.Star >> 32);
        LoadFlat(ref s.Seg[(int)SegReg.Cs], (ushort)(sel & 0xFFFC), FlatCodeAttr | Segment.AttrL, 0);
        LoadFlat(ref s.Seg[(int)SegReg.Ss], (ushort)(sel + 8), FlatDataAttr, 0);
        s.Cpl = 0;
        s.SetRflags(flags & ~(s.Sfmask | CpuState.FlagRf));
        cpu.NextRip = s.Lstar;
        cpu.InvalidateFetch();
        cpu.Notify();
    }

    /// <summary>
    /// SDM Vol. 2B "SYSRET—Return From Fast System Call": #UD without EFER.SCE; #GP(0) outside 64-bit mode,
    /// at CPL ≠ 0, or (64-bit form) with a non-canonical RCX — raised in ring 0, before anything changes.
    /// </summary>
    private static void Sysret(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        if ((s.Efer & CpuState.EferSce) == 0)
        {
            cpu.RaiseUd();
            return;
        }
        if (!s.Is64 || s.Cpl != 0)
        {
            cpu.RaiseGp();
            return;
        }
        bool to64 = i.Code == Code.Sysretq;
        ulong rip = to64 ? s.Gpr[1] : (uint)s.Gpr[1];
        if (!Vcpu.IsCanonical(rip))
        {
            cpu.RaiseGp();
            return;
        }
        ushort sel = (ushort)(s.Star >> 48);
        if (to64)
        {
            LoadFlat(ref s.Seg[(int)SegReg.Cs], (ushort)((sel + 16) | 3), FlatCodeAttr | Segment.AttrL, 3);
        }
        else
        {
            LoadFlat(ref s.Seg[(int)SegReg.Cs], (ushort)(sel | 3), FlatCodeAttr | Segment.AttrDb, 3);
        }
        LoadFlat(ref s.Seg[(int)SegReg.Ss], (ushort)((sel + 8) | 3), FlatDataAttr, 3);
        s.Cpl = 3;
        s.SetRflags((s.Gpr[11] & 0x3C_7FD7) | 2);
        cpu.NextRip = rip;
        cpu.InvalidateFetch();
        cpu.Notify();
    }

    /// <summary>
    /// SDM Vol. 2B "SYSENTER—Fast System Call": #GP(0) in real mode or with a null IA32_SYSENTER_CS;
    /// flat ring-0 CS (64-bit when IA-32e mode is active) and SS = CS + 8; VM, IF and RF cleared.
    /// </summary>
    private static void Sysenter(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        ushort cs = (ushort)s.SysenterCs;
        if (!s.ProtectedMode || (cs & 0xFFFC) == 0)
        {
            cpu.RaiseGp();
            return;
        }
        bool lma = s.LongModeActive;
        ulong flags = s.GetRflags();
        s.SetRflags(flags & ~(CpuState.FlagVm | CpuState.FlagIf | CpuState.FlagRf));
        LoadFlat(ref s.Seg[(int)SegReg.Cs], (ushort)(cs & 0xFFFC), FlatCodeAttr | (lma ? Segment.AttrL : Segment.AttrDb), 0);
        LoadFlat(ref s.Seg[(int)SegReg.Ss], (ushort)((cs & 0xFFFC) + 8), FlatDataAttr, 0);
        s.Cpl = 0;
        s.Gpr[4] = lma ? s.SysenterEsp : (uint)s.SysenterEsp;
        cpu.NextRip = lma ? s.SysenterEip : (uint)s.SysenterEip;
        cpu.InvalidateFetch();
        cpu.Notify();
    }

    /// <summary>
    /// SDM Vol. 2B "SYSEXIT—Fast Return from Fast System Call": #GP(0) in real mode, at CPL ≠ 0 or with a
    /// null IA32_SYSENTER_CS; ring-3 CS = SYSENTER_CS + 16 (32-bit) or + 32 (64-bit), SS = CS + 8; RIP = RDX,
    /// RSP = RCX (both canonical for the 64-bit form).
    /// </summary>
    private static void Sysexit(Vcpu cpu, in Instruction i)
    {
        ref CpuState s = ref cpu.State;
        ushort cs = (ushort)s.SysenterCs;
        if (!s.ProtectedMode || s.V86 || s.Cpl != 0 || (cs & 0xFFFC) == 0)
        {
            cpu.RaiseGp();
            return;
        }
        bool to64 = i.Code == Code.Sysexitq;
        ulong rip = to64 ? s.Gpr[2] : (uint)s.Gpr[2];
        ulong rsp = to64 ? s.Gpr[1] : (uint)s.Gpr[1];
        if (to64 && (!Vcpu.IsCanonical(rip) || !Vcpu.IsCanonical(rsp)))
        {
            cpu.RaiseGp();
            return;
        }
        ushort newCs = (ushort)((cs + (to64 ? 32 : 16)) | 3);
        LoadFlat(ref s.Seg[(int)SegReg.Cs], newCs, FlatCodeAttr | (to64 ? Segment.AttrL : Segment.AttrDb), 3);
        LoadFlat(ref s.Seg[(int)SegReg.Ss], (ushort)(newCs + 8), FlatDataAttr, 3);
        s.Cpl = 3;
        s.Gpr[4] = rsp;
        cpu.NextRip = rip;
        cpu.InvalidateFetch();
    }

    // ------------------------------------------------------------------ FS/GS base, random numbers

    /// <summary>SDM Vol. 2B "RDFSBASE/RDGSBASE": 64-bit mode with CR4.FSGSBASE, else #UD.</summary>
    private static bool FsGsBaseUsable(Vcpu cpu)
    {
        ref CpuState s = ref cpu.State;
        if (!s.Is64 || (s.Cr4 & CpuState.Cr4Fsgsbase) == 0)
        {
            return cpu.RaiseUd();
        }
        return true;
    }

    private static int FsGsIndex(Code c) =>
        c is Code.Rdfsbase_r32 or Code.Rdfsbase_r64 or Code.Wrfsbase_r32 or Code.Wrfsbase_r64 ? (int)SegReg.Fs : (int)SegReg.Gs;

    private static void Rdfsgsbase(Vcpu cpu, in Instruction i)
    {
        if (FsGsBaseUsable(cpu))
        {
            cpu.WriteGpr(i.Op0Register, cpu.State.Seg[FsGsIndex(i.Code)].Base);
        }
    }

    /// <summary>SDM Vol. 2B "WRFSBASE/WRGSBASE": a non-canonical 64-bit value is #GP(0); a 32-bit one is zero-extended.</summary>
    private static void Wrfsgsbase(Vcpu cpu, in Instruction i)
    {
        if (!FsGsBaseUsable(cpu))
        {
            return;
        }
        ulong v = cpu.ReadGpr(i.Op0Register);
        if (!Vcpu.IsCanonical(v))
        {
            cpu.RaiseGp();
            return;
        }
        cpu.State.Seg[FsGsIndex(i.Code)].Base = v;
    }

    /// <summary>
    /// SDM Vol. 2B "RDRAND"/"RDSEED": always succeeds (CF = 1; OF SF ZF AF PF = 0). The values come from a
    /// per-vCPU deterministic generator so that runs repeat exactly.
    /// </summary>
    private static void Rdrand(Vcpu cpu, in Instruction i)
    {
        cpu.WriteGpr(i.Op0Register, cpu.NextRandom());
        cpu.State.SetArith(CpuState.ArithMask, CpuState.FlagCf);
    }
}
