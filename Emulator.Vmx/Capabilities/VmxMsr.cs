namespace Emulator.Vmx.Capabilities;

/// <summary>VMX capability MSR indices (SDM Vol. 3D Appendix A "VMX Capability Reporting Facility"; reference §1.10).</summary>
internal static class VmxMsr
{
    public const uint Basic = 0x480;
    public const uint PinbasedCtls = 0x481;
    public const uint ProcbasedCtls = 0x482;
    public const uint ExitCtls = 0x483;
    public const uint EntryCtls = 0x484;
    public const uint Misc = 0x485;
    public const uint Cr0Fixed0 = 0x486;
    public const uint Cr0Fixed1 = 0x487;
    public const uint Cr4Fixed0 = 0x488;
    public const uint Cr4Fixed1 = 0x489;
    public const uint VmcsEnum = 0x48A;
    public const uint ProcbasedCtls2 = 0x48B;
    public const uint EptVpidCap = 0x48C;
    public const uint TruePinbasedCtls = 0x48D;
    public const uint TrueProcbasedCtls = 0x48E;
    public const uint TrueExitCtls = 0x48F;
    public const uint TrueEntryCtls = 0x490;
    public const uint Vmfunc = 0x491;
    public const uint ProcbasedCtls3 = 0x492;
}
