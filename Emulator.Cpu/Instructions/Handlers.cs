using Iced.Intel;

namespace Emulator.Cpu.Instructions;

/// <summary>
/// Instruction handlers, one static partial class split by instruction class (Alu.cs, Shift.cs, …).
/// Dispatch is a table indexed by Iced's <see cref="Code"/>; each group file registers its handlers in
/// its <c>Register*</c> partial method. A code with no handler raises #UD.
/// </summary>
internal static unsafe partial class Handlers
{
    internal static readonly HandlerFn[] Table = Build();

    private static HandlerFn[] Build()
    {
        var t = new HandlerFn[Enum.GetValues<Code>().Length];
        RegisterBasic(t);
        RegisterAlu(t);
        RegisterMulDiv(t);
        RegisterShift(t);
        RegisterBit(t);
        RegisterDataMove(t);
        RegisterStack(t);
        RegisterString(t);
        RegisterControlTransfer(t);
        RegisterFlags(t);
        RegisterSystem(t);
        RegisterIo(t);
        RegisterSegment(t);
        RegisterSse(t);
        RegisterX87(t);
        RegisterVmx(t);
        for (int i = 0; i < t.Length; i++)
        {
            if (t[i] == null)
            {
                t[i] = &Unimplemented;
            }
        }
        return t;
    }

    static partial void RegisterAlu(HandlerFn[] t);

    static partial void RegisterMulDiv(HandlerFn[] t);

    static partial void RegisterShift(HandlerFn[] t);

    static partial void RegisterBit(HandlerFn[] t);

    static partial void RegisterDataMove(HandlerFn[] t);

    static partial void RegisterStack(HandlerFn[] t);

    static partial void RegisterString(HandlerFn[] t);

    static partial void RegisterControlTransfer(HandlerFn[] t);

    static partial void RegisterFlags(HandlerFn[] t);

    static partial void RegisterSystem(HandlerFn[] t);

    static partial void RegisterIo(HandlerFn[] t);

    static partial void RegisterSegment(HandlerFn[] t);

    static partial void RegisterSse(HandlerFn[] t);

    static partial void RegisterX87(HandlerFn[] t);

    /// <summary>Registers one handler for several codes (start-up only).</summary>
    internal static void Set(HandlerFn[] t, HandlerFn handler, params ReadOnlySpan<Code> codes)
    {
        foreach (Code c in codes)
        {
            t[(int)c] = handler;
        }
    }

    private static void RegisterBasic(HandlerFn[] t)
    {
        Set(t, &Nop, Code.Nopw, Code.Nopd, Code.Nopq, Code.Nop_rm16, Code.Nop_rm32, Code.Nop_rm64,
            Code.Lfence, Code.Mfence, Code.Sfence,
            Code.Lfence_E9, Code.Lfence_EA, Code.Lfence_EB, Code.Lfence_EC, Code.Lfence_ED, Code.Lfence_EE, Code.Lfence_EF,
            Code.Mfence_F1, Code.Mfence_F2, Code.Mfence_F3, Code.Mfence_F4, Code.Mfence_F5, Code.Mfence_F6, Code.Mfence_F7,
            Code.Sfence_F9, Code.Sfence_FA, Code.Sfence_FB, Code.Sfence_FC, Code.Sfence_FD, Code.Sfence_FE, Code.Sfence_FF,
            Code.Prefetchnta_m8, Code.Prefetcht0_m8, Code.Prefetcht1_m8, Code.Prefetcht2_m8, Code.Prefetchw_m8,
            Code.Reservednop_rm16_r16_0F0D, Code.Reservednop_rm32_r32_0F0D, Code.Reservednop_rm64_r64_0F0D,
            Code.Reservednop_rm16_r16_0F18, Code.Reservednop_rm32_r32_0F18, Code.Reservednop_rm64_r64_0F18,
            Code.Reservednop_rm16_r16_0F19, Code.Reservednop_rm32_r32_0F19, Code.Reservednop_rm64_r64_0F19,
            Code.Reservednop_rm16_r16_0F1A, Code.Reservednop_rm32_r32_0F1A, Code.Reservednop_rm64_r64_0F1A,
            Code.Reservednop_rm16_r16_0F1B, Code.Reservednop_rm32_r32_0F1B, Code.Reservednop_rm64_r64_0F1B,
            Code.Reservednop_rm16_r16_0F1C, Code.Reservednop_rm32_r32_0F1C, Code.Reservednop_rm64_r64_0F1C,
            Code.Reservednop_rm16_r16_0F1D, Code.Reservednop_rm32_r32_0F1D, Code.Reservednop_rm64_r64_0F1D,
            Code.Reservednop_rm16_r16_0F1E, Code.Reservednop_rm32_r32_0F1E, Code.Reservednop_rm64_r64_0F1E,
            Code.Reservednop_rm16_r16_0F1F, Code.Reservednop_rm32_r32_0F1F, Code.Reservednop_rm64_r64_0F1F,
            Code.Endbr32, Code.Endbr64);
        Set(t, &Invalid, Code.Ud0, Code.Ud0_r16_rm16, Code.Ud0_r32_rm32, Code.Ud0_r64_rm64,
            Code.Ud1_r16_rm16, Code.Ud1_r32_rm32, Code.Ud1_r64_rm64, Code.Ud2);
    }

    internal static void Nop(Vcpu cpu, in Instruction i)
    {
    }

    /// <summary>Undefined opcode: #UD (SDM Vol. 3A §6.15 "Interrupt 6—Invalid Opcode Exception").</summary>
    internal static void Invalid(Vcpu cpu, in Instruction i) => cpu.RaiseUd();

    /// <summary>A valid instruction this emulator does not implement: #UD in the guest, optionally logged.</summary>
    internal static void Unimplemented(Vcpu cpu, in Instruction i)
    {
        cpu.UnimplementedLog?.WriteLine($"unimplemented instruction {i.Code} ({i}) at {cpu.State.Rip:X}: #UD");
        cpu.RaiseUd();
    }
}
