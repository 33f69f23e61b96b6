namespace Emulator.Vmx.Entry;

/// <summary>Which group of VM-entry checks failed, and so how VM entry reports it.</summary>
internal enum VmEntryFailure : byte
{
    None,

    /// <summary>SDM Vol. 3C §27.2.1 "Checks on VMX Controls": VMfailValid(7).</summary>
    Control,

    /// <summary>SDM Vol. 3C §27.2.2–§27.2.4 (host state, address-space size): VMfailValid(8).</summary>
    HostState,

    /// <summary>SDM Vol. 3C §27.3.1 "Checks on the Guest State Area": VM-entry failure exit, reason 33 with bit 31 set.</summary>
    GuestState,
}

/// <summary>
/// Exit qualification of a VM-entry failure caused by invalid guest state (SDM Vol. 3C §27.8 "VM-Entry Failures
/// During or After Loading Guest State"; KVM's <c>enum vm_entry_failure_code</c>).
/// </summary>
internal enum VmEntryFailureCode : uint
{
    Default = 0,
    Pdpte = 2,
    Nmi = 3,
    VmcsLinkPointer = 4,
}

/// <summary>
/// The outcome of one group of VM-entry checks. <see cref="Condition"/> is the C# text of the condition that
/// failed (KVM's <c>CC()</c> trace), a string literal the compiler put there: no allocation.
/// <see cref="Subject"/> names the register a shared per-segment check was looking at ("CS", "TR"…), else null.
/// </summary>
internal readonly struct VmEntryCheckResult(VmEntryFailure failure, string? condition, string? subject, VmEntryFailureCode qualification)
{
    public VmEntryFailure Failure { get; } = failure;

    public string? Condition { get; } = condition;

    public string? Subject { get; } = subject;

    public VmEntryFailureCode Qualification { get; } = qualification;

    public bool Passed => Failure == VmEntryFailure.None;

    public override string ToString() => Passed ? "passed" : $"{Failure}: {Subject}{(Subject is null ? "" : ": ")}{Condition}";
}
