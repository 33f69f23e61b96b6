using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>
/// Delivery of exceptions and interrupts through the IVT or IDT.
/// Placeholder until the full implementation lands: records the event and stops the run.
/// </summary>
public sealed partial class Vcpu
{
    /// <summary>Last event delivered (vector, or -1), for tests and the debugger.</summary>
    internal int LastEventVector = -1;
    internal uint LastEventError;

    internal void DeliverEvent(int vector, EventKind kind, bool hasError, uint error)
    {
        LastEventVector = vector;
        LastEventError = error;
        RequestStop(StopReason.TripleFault, $"exception {vector} (error {error:X}) at {State.Rip:X}: event delivery not implemented");
    }
}
