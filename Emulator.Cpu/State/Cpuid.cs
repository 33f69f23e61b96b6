using System.Numerics;
using System.Text;
using Emulator.Cpu.Instructions;
using Emulator.Cpu.State;
using Iced.Intel;

namespace Emulator.Cpu;

/// <summary>
/// The CPUID model (SDM Vol. 2A "CPUID—CPU Identification"): a GenuineIntel family-6 part whose feature
/// bits say exactly what this emulator implements. Instruction-set extensions beyond the x86-64 baseline
/// are advertised only when every instruction Iced lists for the extension has a handler, so a feature
/// appears by itself once its instructions land.
/// </summary>
public sealed partial class Vcpu
{
    /// <summary>Family 6, model 0x5E (extended model 5, model 0xE), stepping 3.</summary>
    internal const uint CpuidSignature = 0x0005_06E3;

    internal const uint MaxBasicLeaf = 0x1F;
    internal const uint MaxExtendedLeaf = 0x8000_0008;

    /// <summary>The platform's local APIC implements the TSC-deadline timer mode (CPUID.1:ECX[24]).</summary>
    public bool TscDeadlineSupported { get; set; }

    /// <summary>Logical processors in the package (CPUID leaves 4, 0xB, 0x1F); set by the machine.</summary>
    public int ProcessorCount { get; set; } = 1;

    /// <summary>The platform's local APIC implements x2APIC mode (CPUID.1:ECX[21]); set by the machine.</summary>
    public bool X2ApicSupported { get; set; }

    /// <summary>VMX is offered (CPUID.1:ECX.VMX, FEATURE_CONTROL bits, CR4.VMXE): the vCPU has a <see cref="Vmx"/>.</summary>
    public bool VmxSupported => Vmx is not null;

    /// <summary>Executes CPUID for <paramref name="leaf"/>/<paramref name="subleaf"/>.</summary>
    internal void Cpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        CpuidFeatures f = CpuidFeatures.Instance;
        uint maxBasic = (State.MiscEnable & MiscEnableLimitCpuid) != 0 ? 2 : MaxBasicLeaf;
        // Leaves above the maximum return the highest basic leaf's data (SDM Vol. 2A "CPUID": "If a value
        // entered for CPUID.EAX is higher than the maximum input value ... the data for the highest basic
        // information leaf is returned").
        if ((leaf > maxBasic && leaf < 0x8000_0000) || leaf > MaxExtendedLeaf)
        {
            leaf = maxBasic;
        }
        eax = ebx = ecx = edx = 0;
        switch (leaf)
        {
            case 0:
                eax = maxBasic;
                ebx = 0x756E_6547; // "Genu"
                edx = 0x4965_6E69; // "ineI"
                ecx = 0x6C65_746E; // "ntel"
                break;
            case 1:
                eax = CpuidSignature;
                // EBX: CLFLUSH line size 8 × 8 = 64 bytes, one logical processor per package view, initial APIC id.
                ebx = (8u << 8) | (1u << 16) | ((uint)Index << 24);
                ecx = f.Leaf1Ecx;
                if ((State.Cr4 & CpuState.Cr4Osxsave) != 0)
                {
                    ecx |= 1u << 27;
                }
                if (X2ApicSupported)
                {
                    ecx |= 1u << 21;
                }
                if (TscDeadlineSupported)
                {
                    ecx |= 1u << 24;
                }
                if (VmxSupported)
                {
                    ecx |= 1u << 5;
                }
                edx = f.Leaf1Edx;
                // CPUID.1:EDX.APIC reads 0 while IA32_APIC_BASE.EN is 0 (SDM Vol. 3A §12.4.3 "Enabling or Disabling the Local APIC").
                if ((State.ApicBase & (1 << 11)) == 0)
                {
                    edx &= ~(1u << 9);
                }
                break;
            case 2:
                // One iteration, no descriptors: software falls back to leaf 4.
                eax = 1;
                break;
            case 4:
                CacheLeaf(subleaf, out eax, out ebx, out ecx, out edx);
                break;
            case 6:
                eax = 1u << 2; // ARAT: the APIC timer keeps running (there are no deep C-states).
                break;
            case 7:
                if (subleaf == 0)
                {
                    ebx = f.Leaf7Ebx;
                    ecx = f.Leaf7Ecx;
                }
                break;
            case 0xB:
            case 0x1F:
                TopologyLeaf(subleaf, out eax, out ebx, out ecx, out edx);
                break;
            case 0xD:
                if (f.Xsave)
                {
                    XsaveLeaf(f, subleaf, out eax, out ebx, out ecx, out edx);
                }
                break;
            case 0x8000_0000:
                eax = MaxExtendedLeaf;
                break;
            case 0x8000_0001:
                ecx = f.Ext1Ecx;
                edx = f.Ext1Edx;
                if ((State.MiscEnable & MiscEnableXdDisable) != 0)
                {
                    edx &= ~(1u << 20);
                }
                break;
            case 0x8000_0002:
            case 0x8000_0003:
            case 0x8000_0004:
                {
                    int o = (int)(leaf - 0x8000_0002) * 16;
                    eax = BrandWord(o);
                    ebx = BrandWord(o + 4);
                    ecx = BrandWord(o + 8);
                    edx = BrandWord(o + 12);
                    break;
                }
            case 0x8000_0006:
                // L2: 256 KiB, 4-way (encoding 4), 64-byte lines.
                ecx = (256u << 16) | (4u << 12) | 64;
                break;
            case 0x8000_0007:
                // Invariant TSC: the TSC runs at one constant rate (1 GHz of virtual time) in every state.
                edx = 1u << 8;
                break;
            case 0x8000_0008:
                eax = (uint)MaxPhysAddrBits | (48u << 8);
                ebx = 1u << 9; // WBNOINVD
                break;
        }
    }

    private const string BrandString = "Emulator Virtual x86-64 Processor";

    private static readonly byte[] s_brand = MakeBrand();

    private static byte[] MakeBrand()
    {
        var b = new byte[48];
        Encoding.ASCII.GetBytes(BrandString).CopyTo(b, 0);
        return b;
    }

    private static uint BrandWord(int offset) =>
        (uint)(s_brand[offset] | (s_brand[offset + 1] << 8) | (s_brand[offset + 2] << 16) | (s_brand[offset + 3] << 24));

    /// <summary>
    /// Leaf 4 "Deterministic Cache Parameters": L1d and L1i 32 KiB 8-way, L2 256 KiB 4-way, L3 8 MiB 16-way
    /// shared by the package; 64-byte lines everywhere.
    /// </summary>
    private void CacheLeaf(uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        eax = ebx = ecx = edx = 0;
        (uint type, uint level, uint ways, uint sets, bool shared) = subleaf switch
        {
            0 => (1u, 1u, 8u, 64u, false),
            1 => (2u, 1u, 8u, 64u, false),
            2 => (3u, 2u, 4u, 1024u, false),
            3 => (3u, 3u, 16u, 8192u, true),
            _ => (0u, 0u, 0u, 0u, false),
        };
        if (type == 0)
        {
            return;
        }
        uint cores = (uint)Math.Max(1, ProcessorCount);
        uint sharing = shared ? cores - 1 : 0;
        eax = type | (level << 5) | (1u << 8) | (sharing << 14) | ((cores - 1) << 26);
        ebx = (ways - 1) << 22 | 63;
        ecx = sets - 1;
        edx = shared ? 2u : 0u; // inclusive L3
    }

    /// <summary>Leaves 0xB / 0x1F "Extended Topology": one thread per core, <see cref="ProcessorCount"/> cores.</summary>
    private void TopologyLeaf(uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        uint cores = (uint)Math.Max(1, ProcessorCount);
        edx = (uint)Index;
        switch (subleaf)
        {
            case 0:
                eax = 0;
                ebx = 1;
                ecx = (1u << 8) | subleaf;
                break;
            case 1:
                eax = cores <= 1 ? 0u : (uint)(32 - BitOperations.LeadingZeroCount(cores - 1));
                ebx = cores;
                ecx = (2u << 8) | subleaf;
                break;
            default:
                eax = 0;
                ebx = 0;
                ecx = subleaf & 0xFF;
                break;
        }
    }

    /// <summary>Leaf 0xD "Processor Extended State Enumeration": x87 and SSE state only (512 + 64 bytes).</summary>
    private void XsaveLeaf(CpuidFeatures f, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        eax = ebx = ecx = edx = 0;
        if (subleaf == 0)
        {
            eax = 3; // XCR0 may enable x87 and SSE
            ebx = 576; // size for the features enabled in XCR0
            ecx = 576; // size for every supported feature
        }
        else if (subleaf == 1)
        {
            eax = f.Leaf0DSub1Eax;
            ebx = (f.Leaf0DSub1Eax & (1u << 3)) != 0 ? 576u : 0u;
        }
    }
}

/// <summary>
/// Feature bits of the model, computed once from the handler table (an extension counts only when all
/// of its instructions are implemented) and from what the core supports.
/// </summary>
internal sealed unsafe class CpuidFeatures
{
    public static readonly CpuidFeatures Instance = new();

    public readonly uint Leaf1Ecx;
    public readonly uint Leaf1Edx;
    public readonly uint Leaf7Ebx;
    public readonly uint Leaf7Ecx;
    public readonly uint Ext1Ecx;
    public readonly uint Ext1Edx;
    public readonly uint Leaf0DSub1Eax;
    public readonly bool Xsave;
    public readonly bool Smap;

    /// <summary>Extensions whose handlers are incomplete, with the missing codes (for reports and tests).</summary>
    public readonly Dictionary<CpuidFeature, List<Code>> Missing = new();

    private CpuidFeatures()
    {
        var byFeature = new Dictionary<CpuidFeature, List<Code>>();
        HandlerFn unimplementedFn = &Handlers.Unimplemented;
        // The table holds one pointer per handler; compare addresses (CS8909 concerns distinct pointers across modules).
        nint unimplemented = (nint)unimplementedFn;
        foreach (Code c in Enum.GetValues<Code>())
        {
            if (c == Code.INVALID)
            {
                continue;
            }
            CpuidFeature[] features = c.CpuidFeatures();
            // Only instructions that need exactly this one extension (VEX forms that also need AVX are left out).
            if (features.Length != 1)
            {
                continue;
            }
            if (!byFeature.TryGetValue(features[0], out List<Code>? list))
            {
                list = new List<Code>();
                byFeature[features[0]] = list;
            }
            if ((nint)Handlers.Table[(int)c] == unimplemented)
            {
                list.Add(c);
            }
        }
        foreach ((CpuidFeature feature, List<Code> missing) in byFeature)
        {
            if (missing.Count != 0)
            {
                Missing[feature] = missing;
            }
        }

        bool Has(CpuidFeature feature) => byFeature.ContainsKey(feature) && !Missing.ContainsKey(feature);

        Xsave = Has(CpuidFeature.XSAVE);
        Smap = Has(CpuidFeature.SMAP);

        // Leaf 1 EDX: the x86-64 baseline (FPU TSC MSR CX8 SEP CMOV CLFSH FXSR SSE SSE2) plus what the core
        // implements: DE PSE PAE MCE APIC MTRR PGE MCA PAT PSE-36 SS; MMX only once its instructions exist.
        // No VME, PSN, DS, ACPI, TM, HTT, PBE.
        Leaf1Edx = Bits(0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19, 24, 25, 26, 27)
            | (Has(CpuidFeature.MMX) ? Bit(23) : 0);

        // Leaf 1 ECX: PCID and RDRAND are this emulator's own; the instruction-set bits come from the table.
        // MONITOR (3) is not offered, VMX (5) follows VmxSupported, OSXSAVE (27) follows CR4, HYPERVISOR (31) is 0.
        uint ecx = Bit(17) | Bit(30);
        ecx |= Has(CpuidFeature.SSE3) ? Bit(0) : 0;
        ecx |= Has(CpuidFeature.PCLMULQDQ) ? Bit(1) : 0;
        ecx |= Has(CpuidFeature.SSSE3) ? Bit(9) : 0;
        ecx |= Has(CpuidFeature.CMPXCHG16B) ? Bit(13) : 0;
        ecx |= Has(CpuidFeature.SSE4_1) ? Bit(19) : 0;
        ecx |= Has(CpuidFeature.SSE4_2) ? Bit(20) : 0;
        ecx |= Has(CpuidFeature.MOVBE) ? Bit(22) : 0;
        ecx |= Has(CpuidFeature.POPCNT) ? Bit(23) : 0;
        ecx |= Has(CpuidFeature.AES) ? Bit(25) : 0;
        ecx |= Xsave ? Bit(26) : 0;
        Leaf1Ecx = ecx;

        // Leaf 7.0 EBX: FSGSBASE TSC_ADJUST SMEP INVPCID CLFLUSHOPT CLWB are implemented here; BMI1 BMI2 ADX
        // SMAP come from the table; ERMS when REP MOVSB/STOSB exist.
        uint b7 = Bit(0) | Bit(1) | Bit(7) | Bit(10) | Bit(23) | Bit(24);
        b7 |= Has(CpuidFeature.BMI1) ? Bit(3) : 0;
        b7 |= Has(CpuidFeature.BMI2) ? Bit(8) : 0;
        b7 |= (nint)Handlers.Table[(int)Code.Movsb_m8_m8] != unimplemented && (nint)Handlers.Table[(int)Code.Stosb_m8_AL] != unimplemented ? Bit(9) : 0;
        b7 |= Has(CpuidFeature.ADX) ? Bit(19) : 0;
        b7 |= Smap ? Bit(20) : 0;
        Leaf7Ebx = b7;
        // Leaf 7.0 ECX: UMIP and RDPID.
        Leaf7Ecx = Bit(2) | Bit(22);

        // 0x80000001 ECX: LAHF/SAHF in 64-bit mode, LZCNT (ABM), PREFETCHW.
        uint e1 = 0;
        e1 |= (nint)Handlers.Table[(int)Code.Lahf] != unimplemented ? Bit(0) : 0;
        e1 |= Has(CpuidFeature.LZCNT) ? Bit(5) : 0;
        e1 |= (nint)Handlers.Table[(int)Code.Prefetchw_m8] != unimplemented ? Bit(8) : 0;
        Ext1Ecx = e1;
        // 0x80000001 EDX: SYSCALL, NX, Page1GB, RDTSCP, LM.
        Ext1Edx = Bit(11) | Bit(20) | (Vcpu.SupportsGbPages ? Bit(26) : 0) | Bit(27) | Bit(29);

        uint d1 = 0;
        d1 |= Has(CpuidFeature.XSAVEOPT) ? Bit(0) : 0;
        d1 |= Has(CpuidFeature.XSAVEC) ? Bit(1) : 0;
        d1 |= Has(CpuidFeature.XSAVES) ? Bit(3) : 0;
        Leaf0DSub1Eax = Xsave ? d1 : 0;
    }

    private static uint Bit(int n) => 1u << n;

    private static uint Bits(params ReadOnlySpan<int> bits)
    {
        uint v = 0;
        foreach (int b in bits)
        {
            v |= 1u << b;
        }
        return v;
    }
}
