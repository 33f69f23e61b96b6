namespace Emulator.Cpu;

/// <summary>Why <see cref="Vcpu.Run"/> returned.</summary>
public enum StopReason
{
    None,

    /// <summary>The instruction budget given to <see cref="Vcpu.Run"/> is used up (a time slice, not an end).</summary>
    Budget,

    /// <summary>A device (debug-exit, poweroff) asked the machine to stop.</summary>
    Shutdown,

    /// <summary>A fault while delivering a double fault (SDM Vol. 3A §6.15 "Interrupt 8—Double Fault Exception").</summary>
    TripleFault,

    /// <summary>HLT with interrupts disabled and nothing that can wake the processor.</summary>
    HaltedForever,

    /// <summary>HLT with interrupts enabled: waiting for an interrupt the platform must deliver.</summary>
    Halted,

    /// <summary>Stopped by a debugger or host request.</summary>
    Requested,

    /// <summary>An application processor waiting for a start-up IPI (SDM Vol. 3A §9.4 "Multiple-Processor (MP) Initialization").</summary>
    WaitForSipi,
}
