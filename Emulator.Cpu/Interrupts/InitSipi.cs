using System.Diagnostics;
using Emulator.Cpu.State;

namespace Emulator.Cpu;

/// <summary>INIT and start-up IPIs, and the vCPU's notion of time.</summary>
public sealed partial class Vcpu
{
    /// <summary>In the wait-for-SIPI state: <see cref="Run"/> returns <see cref="StopReason.WaitForSipi"/> at once.</summary>
    public bool WaitingForSipi { get; internal set; }

    /// <summary>
    /// Virtual time of this vCPU in nanoseconds: <see cref="TimeOffsetNs"/> + retired instructions × 2^<see
    /// cref="IcountShift"/> ns (so time is deterministic), or the host's monotonic clock when
    /// <see cref="HostClock"/> is set. The machine moves <see cref="TimeOffsetNs"/> forward when the vCPU idles.
    /// </summary>
    public long LocalTimeNs => HostClock is null ? TimeOffsetNs + (InstructionCount << IcountShift) : (long)HostClock.Elapsed.TotalNanoseconds;

    public long TimeOffsetNs;

    /// <summary>One retired instruction is 2^IcountShift ns of virtual time (QEMU's -icount shift=N).</summary>
    public int IcountShift { get; set; }

    /// <summary>Sets <see cref="TimeOffsetNs"/> so that <see cref="LocalTimeNs"/> reads <paramref name="ns"/> now.</summary>
    public void SetLocalTime(long ns) => TimeOffsetNs = ns - (InstructionCount << IcountShift);

    /// <summary>The instruction count at which <see cref="LocalTimeNs"/> reaches <paramref name="ns"/> (rounded up).</summary>
    public long InstructionCountAt(long ns)
    {
        long delta = ns - TimeOffsetNs;
        return delta <= 0 ? 0 : ((delta - 1) >> IcountShift) + 1;
    }

    public Stopwatch? HostClock { get; set; }

    /// <summary>
    /// INIT: the processor state of SDM Vol. 3A §10.1.1 table "IA-32 and Intel 64 Processor States Following
    /// Power-up, Reset, or INIT", keeping what INIT leaves unchanged (x87/SSE state, most MSRs, MTRRs, TSC),
    /// then wait-for-SIPI for an application processor.
    /// </summary>
    public void DeliverInit()
    {
        CpuState saved = State;
        long tscBase = TscBase;
        ulong tscAdjust = TscAdjust;
        ulong mtrrDefType = MtrrDefType;
        ulong[] fixedMtrrs = (ulong[])MtrrFixed.Clone();
        ulong[] variableMtrrs = (ulong[])MtrrVariable.Clone();
        long time = LocalTimeNs;
        Reset();
        // INIT leaves CR0.CD and CR0.NW as they were (SDM Vol. 3A §10.1.1, table 10-1 footnote).
        State.Cr0 = (State.Cr0 & ~(CpuState.Cr0Cd | CpuState.Cr0Nw)) | (saved.Cr0 & (CpuState.Cr0Cd | CpuState.Cr0Nw));
        State.Xmm = saved.Xmm;
        State.Mxcsr = saved.Mxcsr;
        State.Fpr = saved.Fpr;
        State.Fcw = saved.Fcw;
        State.Fsw = saved.Fsw;
        State.Ftw = saved.Ftw;
        State.FpTop = saved.FpTop;
        State.Pat = saved.Pat;
        State.ApicBase = saved.ApicBase;
        State.FeatureControl = saved.FeatureControl;
        State.MiscEnable = saved.MiscEnable;
        State.Star = saved.Star;
        State.Lstar = saved.Lstar;
        State.Cstar = saved.Cstar;
        State.Sfmask = saved.Sfmask;
        State.KernelGsBase = saved.KernelGsBase;
        State.SysenterCs = saved.SysenterCs;
        State.SysenterEsp = saved.SysenterEsp;
        State.SysenterEip = saved.SysenterEip;
        State.TscAux = saved.TscAux;
        TscBase = tscBase;
        TscAdjust = tscAdjust;
        MtrrDefType = mtrrDefType;
        fixedMtrrs.CopyTo(MtrrFixed, 0);
        variableMtrrs.CopyTo(MtrrVariable, 0);
        // Time goes on across INIT: keep LocalTimeNs continuous although Reset does not touch the count.
        SetLocalTime(time);
        NmiPending = false;
        NmiBlocked = false;
        WaitingForSipi = (State.ApicBase & (1 << 8)) == 0;
        Notify();
    }

    /// <summary>Start-up IPI: an AP in wait-for-SIPI starts in real mode at vector × 4 KiB (CS = vector &lt;&lt; 8, IP = 0).</summary>
    public void DeliverSipi(int vector)
    {
        if (!WaitingForSipi)
        {
            return;
        }
        ref Segment cs = ref State.Seg[(int)SegReg.Cs];
        cs.Selector = (ushort)(vector << 8);
        cs.Base = (ulong)vector << 12;
        cs.Limit = 0xFFFF;
        State.Rip = 0;
        WaitingForSipi = false;
        InvalidateFetch();
        Notify();
    }
}
