namespace Emulator.Devices.Apic;

/// <summary>
/// Local APIC register offsets in the xAPIC page; the x2APIC MSR of a register is 0x800 + offset / 16
/// (SDM Vol. 3A §12.4.1 table "Local APIC Register Address Map" and §12.12.1.2 "x2APIC Register Address Space").
/// </summary>
internal static class ApicReg
{
    public const int Id = 0x020;
    public const int Version = 0x030;
    public const int Tpr = 0x080;
    public const int Apr = 0x090;
    public const int Ppr = 0x0A0;
    public const int Eoi = 0x0B0;
    public const int Rrd = 0x0C0;
    public const int Ldr = 0x0D0;
    public const int Dfr = 0x0E0;
    public const int Svr = 0x0F0;
    public const int Isr = 0x100;
    public const int Tmr = 0x180;
    public const int Irr = 0x200;
    public const int Esr = 0x280;
    public const int LvtCmci = 0x2F0;
    public const int IcrLow = 0x300;
    public const int IcrHigh = 0x310;
    public const int LvtTimer = 0x320;
    public const int LvtThermal = 0x330;
    public const int LvtPerf = 0x340;
    public const int LvtLint0 = 0x350;
    public const int LvtLint1 = 0x360;
    public const int LvtError = 0x370;
    public const int TimerInitial = 0x380;
    public const int TimerCurrent = 0x390;
    public const int TimerDivide = 0x3E0;
    public const int SelfIpi = 0x3F0;

    /// <summary>First x2APIC MSR; the range is 0x800–0x8FF.</summary>
    public const uint X2ApicMsrBase = 0x800;

    /// <summary>IA32_TSC_DEADLINE (SDM Vol. 3A §12.5.4.1 "TSC-Deadline Mode").</summary>
    public const uint TscDeadlineMsr = 0x6E0;
}

/// <summary>Delivery modes of the ICR, the LVT entries and the I/O APIC redirection entries.</summary>
internal static class DeliveryMode
{
    public const int Fixed = 0;
    public const int LowestPriority = 1;
    public const int Smi = 2;
    public const int Nmi = 4;
    public const int Init = 5;
    public const int StartUp = 6;
    public const int ExtInt = 7;
}

/// <summary>Bits of the Error Status Register (SDM Vol. 3A §12.5.3 "Error Handling").</summary>
internal static class ApicError
{
    public const uint SendIllegalVector = 1 << 5;
    public const uint ReceiveIllegalVector = 1 << 6;
    public const uint IllegalRegisterAddress = 1 << 7;
}
