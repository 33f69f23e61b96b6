namespace Emulator.Vmx.Instructions;

/// <summary>
/// VM-instruction error numbers, stored in the VM_INSTRUCTION_ERROR field (0x4400) by VMfailValid (SDM Vol. 3C
/// §31.4 "VM Instruction Error Numbers"; reference §1.2). Names are KVM's <c>VMXERR_*</c>. 14, 21 and 27 are unused.
/// </summary>
internal enum VmInstructionError : uint
{
    VmcallInVmxRootOperation = 1,
    VmclearInvalidAddress = 2,
    VmclearVmxonPointer = 3,
    VmlaunchNonclearVmcs = 4,
    VmresumeNonlaunchedVmcs = 5,
    VmresumeAfterVmxoff = 6,
    EntryInvalidControlField = 7,
    EntryInvalidHostStateField = 8,
    VmptrldInvalidAddress = 9,
    VmptrldVmxonPointer = 10,
    VmptrldIncorrectVmcsRevisionId = 11,
    UnsupportedVmcsComponent = 12,
    VmwriteReadOnlyVmcsComponent = 13,
    VmxonInVmxRootOperation = 15,
    EntryInvalidExecutiveVmcsPointer = 16,
    EntryNonlaunchedExecutiveVmcs = 17,
    EntryExecutiveVmcsPointerNotVmxonPointer = 18,
    VmcallNonclearVmcs = 19,
    VmcallInvalidVmExitControlFields = 20,
    VmcallIncorrectMsegRevisionId = 22,
    VmxoffUnderDualMonitorTreatmentOfSmisAndSmm = 23,
    VmcallInvalidSmmMonitorFeatures = 24,
    EntryInvalidVmExecutionControlFieldsInExecutiveVmcs = 25,
    EntryEventsBlockedByMovSs = 26,
    InvalidOperandToInveptInvvpid = 28,
}
