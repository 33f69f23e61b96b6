namespace Emulator.Cpu;

/// <summary>Exception vectors (SDM Vol. 3A §6.3.1 "External Interrupts" table 6-1).</summary>
internal static class Vectors
{
    public const int DE = 0;
    public const int DB = 1;
    public const int NMI = 2;
    public const int BP = 3;
    public const int OF = 4;
    public const int BR = 5;
    public const int UD = 6;
    public const int NM = 7;
    public const int DF = 8;
    public const int TS = 10;
    public const int NP = 11;
    public const int SS = 12;
    public const int GP = 13;
    public const int PF = 14;
    public const int MF = 16;
    public const int AC = 17;
    public const int MC = 18;
    public const int XM = 19;
    public const int VE = 20;
    public const int CP = 21;
}

/// <summary>How an event reaches the processor; decides privilege checks and what is pushed.</summary>
internal enum EventKind
{
    Exception,
    External,
    Nmi,

    /// <summary>INT n: IDT gate DPL checked against CPL.</summary>
    Software,

    /// <summary>INT3 / INTO: software exceptions, gate DPL checked.</summary>
    SoftwareException,

    /// <summary>INT1 (ICEBP): privileged software exception, no DPL check.</summary>
    PrivilegedSoftware,
}
