using Emulator.Cpu;
using Emulator.Cpu.State;

namespace Emulator.Devices.Apic;

/// <summary>
/// The MSR interface: x2APIC registers at 0x800 + offset / 16 (SDM Vol. 3A §12.12.1.2 "x2APIC Register Address
/// Space", table "Local APIC Register Address Map Supported by x2APIC") and IA32_TSC_DEADLINE. Outside x2APIC
/// mode every MSR of 0x800–0x8FF raises #GP (§12.12.2 "x2APIC Register Availability"); in x2APIC mode so do
/// reads of write-only registers, writes of read-only ones, registers the table does not list, and non-zero
/// reserved bits (§12.12.1.3 "Reserved Bit Checking": bits 63:32 of every register but the ICR).
/// </summary>
internal sealed partial class LocalApic
{
    /// <summary>x2APIC ICR bits 31:0 that may be non-zero; bit 12 (no delivery status in x2APIC mode) is ignored.</summary>
    private const uint X2IcrAllowed = IcrWritable | LvtDeliveryStatus;

    public MsrResult ReadMsr(Vcpu cpu, uint index, out ulong value)
    {
        value = 0;
        if (index == ApicReg.TscDeadlineMsr)
        {
            value = ReadTscDeadline();
            return MsrResult.Ok;
        }
        if (index - ApicReg.X2ApicMsrBase > 0xFF)
        {
            return MsrResult.NotHandled;
        }
        if (!X2ApicMode)
        {
            return MsrResult.Fault;
        }
        int reg = (int)(index - ApicReg.X2ApicMsrBase) << 4;
        switch (reg)
        {
            case ApicReg.Id:
                value = (uint)ApicId;
                return MsrResult.Ok;
            case ApicReg.Ldr:
                value = X2ApicLdr;
                return MsrResult.Ok;
            case ApicReg.IcrLow:
                value = ((ulong)_icrHigh << 32) | _icrLow;
                return MsrResult.Ok;
            case ApicReg.Version:
            case ApicReg.Tpr:
            case ApicReg.Ppr:
            case ApicReg.Svr:
            case >= ApicReg.Isr and <= ApicReg.Esr:
            case >= ApicReg.LvtTimer and <= ApicReg.TimerCurrent:
            case ApicReg.TimerDivide:
                value = ReadRegister(reg);
                return MsrResult.Ok;
            default:
                // Write-only (EOI, SELF IPI) and registers x2APIC mode does not have (APR, RRD, DFR, ICR high, CMCI).
                return MsrResult.Fault;
        }
    }

    public MsrResult WriteMsr(Vcpu cpu, uint index, ulong value)
    {
        if (index == ApicReg.TscDeadlineMsr)
        {
            WriteTscDeadline(value);
            return MsrResult.Ok;
        }
        if (index - ApicReg.X2ApicMsrBase > 0xFF)
        {
            return MsrResult.NotHandled;
        }
        if (!X2ApicMode)
        {
            return MsrResult.Fault;
        }
        int reg = (int)(index - ApicReg.X2ApicMsrBase) << 4;
        if (reg == ApicReg.IcrLow)
        {
            // The ICR is the one 64-bit register: one write sends the IPI to the 32-bit destination.
            if (((uint)value & ~X2IcrAllowed) != 0)
            {
                return MsrResult.Fault;
            }
            _icrLow = (uint)value & IcrWritable;
            _icrHigh = (uint)(value >> 32);
            SendIpi(_icrLow, _icrHigh, x2ApicFormat: true);
            return MsrResult.Ok;
        }
        if ((value >> 32) != 0)
        {
            return MsrResult.Fault;
        }
        uint v = (uint)value;
        switch (reg)
        {
            case ApicReg.Tpr:
                if ((v & ~0xFFu) != 0)
                {
                    return MsrResult.Fault;
                }
                SetTpr((byte)v);
                return MsrResult.Ok;
            case ApicReg.Eoi:
            case ApicReg.Esr:
                // "WRMSR of a non-zero value causes #GP(0)."
                if (v != 0)
                {
                    return MsrResult.Fault;
                }
                WriteRegister(reg, 0);
                return MsrResult.Ok;
            case ApicReg.Svr:
                if ((v & ~SvrWritable) != 0)
                {
                    return MsrResult.Fault;
                }
                WriteSvr(v);
                return MsrResult.Ok;
            case >= ApicReg.LvtTimer and <= ApicReg.LvtError:
                {
                    int lvt = (reg - ApicReg.LvtTimer) >> 4;
                    // Delivery status (and the LINT entries' remote IRR) are read-only, not reserved: writes of them are ignored.
                    uint readOnly = LvtDeliveryStatus | (lvt is LvtLint0 or LvtLint1 ? LvtRemoteIrr : 0);
                    if ((v & ~(LvtWritable[lvt] | readOnly)) != 0)
                    {
                        return MsrResult.Fault;
                    }
                    WriteLvt(lvt, v);
                    return MsrResult.Ok;
                }
            case ApicReg.TimerInitial:
                WriteTimerInitial(v);
                return MsrResult.Ok;
            case ApicReg.TimerDivide:
                if ((v & ~0xBu) != 0)
                {
                    return MsrResult.Fault;
                }
                WriteTimerDivide(v);
                return MsrResult.Ok;
            case ApicReg.SelfIpi:
                // SDM Vol. 3A §12.12.11 "SELF IPI Register": a fixed, edge-triggered IPI to this APIC.
                if ((v & ~0xFFu) != 0)
                {
                    return MsrResult.Fault;
                }
                SendIpi(v | (1 << 18), 0, x2ApicFormat: true);
                return MsrResult.Ok;
            default:
                // Read-only (ID, version, PPR, LDR, ISR, TMR, IRR, current count) and registers x2APIC mode lacks.
                return MsrResult.Fault;
        }
    }
}
