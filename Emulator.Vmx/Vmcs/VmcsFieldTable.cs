using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Emulator.Vmx.Vmcs;

/// <summary>
/// The one table of VMCS fields (KVM's <c>vmcs12_field_offsets[]</c> and
/// <c>vmcs_field_to_evmcs_1[]</c> in a single place): for each field of SDM Vol. 3C Appendix B
/// "Field Encoding in VMCS", its vmcs12 offset (<see cref="Vmcs12Layout"/>), its offset in the
/// enlightened VMCS v1 and its clean-field group (<see cref="EvmcsLayout"/>). Rows hold FULL
/// encodings only; a 64-bit field's HIGH encoding is derived (upper 32 bits, offset + 4), as
/// KVM's <c>FIELD64</c> does. Lookups go through dense arrays indexed by
/// <see cref="VmcsFieldEncoding.TableIndex"/> (KVM's <c>ROL16(field, 6)</c>), built once from the
/// rows.
/// </summary>
internal static class VmcsFieldTable
{
    private const short None = VmcsFieldInfo.NoEvmcsOffset;

    // Columns: field, vmcs12 offset, eVMCS offset, eVMCS clean-field group.
    // vmcs12 offsets below 998 are those of KVM's struct vmcs12 (arch/x86/kvm/vmx/vmcs12.h);
    // CR3-target values reuse KVM's "dead_space" slots (what they were before KVM dropped them);
    // the fields KVM's struct lacks are appended from 1000 on. eVMCS offsets and groups are
    // those of struct hv_enlightened_vmcs (reference §4.5).
    private static readonly VmcsFieldInfo[] s_fields =
    [
        // 16-bit control
        F(VmcsField.VirtualProcessorId, 960, 0x278, EvmcsCleanField.ControlXlat),
        F(VmcsField.PostedIntrNv, 962),
        F(VmcsField.EptpIndex, 1184),
        F(VmcsField.LastPidPointerIndex, 1186),

        // 16-bit guest state
        F(VmcsField.GuestEsSelector, 964, 0x080, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestCsSelector, 966, 0x082, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestSsSelector, 968, 0x084, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestDsSelector, 970, 0x086, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestFsSelector, 972, 0x088, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGsSelector, 974, 0x08A, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestLdtrSelector, 976, 0x08C, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestTrSelector, 978, 0x08E, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestIntrStatus, 980),
        F(VmcsField.GuestPmlIndex, 996),

        // 16-bit host state
        F(VmcsField.HostEsSelector, 982, 0x008, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostCsSelector, 984, 0x00A, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostSsSelector, 986, 0x00C, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostDsSelector, 988, 0x00E, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostFsSelector, 990, 0x010, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostGsSelector, 992, 0x012, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostTrSelector, 994, 0x014, EvmcsCleanField.HostGrp1),

        // 64-bit control
        F(VmcsField.IoBitmapA, 40, 0x068, EvmcsCleanField.IoBitmap),
        F(VmcsField.IoBitmapB, 48, 0x070, EvmcsCleanField.IoBitmap),
        F(VmcsField.MsrBitmap, 56, 0x078, EvmcsCleanField.MsrBitmap),
        F(VmcsField.VmExitMsrStoreAddr, 64, 0x140, EvmcsCleanField.All),
        F(VmcsField.VmExitMsrLoadAddr, 72, 0x148, EvmcsCleanField.All),
        F(VmcsField.VmEntryMsrLoadAddr, 80, 0x150, EvmcsCleanField.All),
        F(VmcsField.ExecutiveVmcsPointer, 1000),
        F(VmcsField.PmlAddress, 312),
        F(VmcsField.TscOffset, 88, 0x190, EvmcsCleanField.ControlGrp2),
        F(VmcsField.VirtualApicPageAddr, 96, 0x198, EvmcsCleanField.ControlGrp2),
        F(VmcsField.ApicAccessAddr, 104),
        F(VmcsField.PostedIntrDescAddr, 112),
        F(VmcsField.VmFunctionControl, 296),
        F(VmcsField.EptPointer, 120, 0x270, EvmcsCleanField.ControlXlat),
        F(VmcsField.EoiExitBitmap0, 128),
        F(VmcsField.EoiExitBitmap1, 136),
        F(VmcsField.EoiExitBitmap2, 144),
        F(VmcsField.EoiExitBitmap3, 152),
        F(VmcsField.EptpListAddress, 304),
        F(VmcsField.VmreadBitmap, 280),
        F(VmcsField.VmwriteBitmap, 288),
        F(VmcsField.VeInformationAddress, 1008),
        F(VmcsField.XssExitBitmap, 160, 0x3C0, EvmcsCleanField.ControlGrp2),
        F(VmcsField.EnclsExitingBitmap, 320, 0x3C8, EvmcsCleanField.ControlGrp2),
        F(VmcsField.Spptp, 1016),
        F(VmcsField.TscMultiplier, 328, 0x3D8, EvmcsCleanField.ControlGrp2),
        F(VmcsField.TertiaryVmExecControl, 1024),
        F(VmcsField.EnclvExitingBitmap, 1032),
        F(VmcsField.SharedEptPointer, 1040),
        F(VmcsField.PidPointerTable, 1048),

        // 64-bit read-only data
        F(VmcsField.GuestPhysicalAddress, 168, 0x2A8, EvmcsCleanField.None),

        // 64-bit guest state
        F(VmcsField.VmcsLinkPointer, 176, 0x1A0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32Debugctl, 184, 0x1A8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32Pat, 192, 0x1B0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32Efer, 200, 0x1B8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32PerfGlobalCtrl, 208, 0x388, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestPdptr0, 216, 0x1C0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestPdptr1, 224, 0x1C8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestPdptr2, 232, 0x1D0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestPdptr3, 240, 0x1D8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestBndcfgs, 248, 0x380, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32RtitCtl, 1056),
        F(VmcsField.GuestIa32LbrCtl, 1064, 0x3A8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestIa32Pkrs, 1072),

        // 64-bit host state
        F(VmcsField.HostIa32Pat, 256, 0x018, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostIa32Efer, 264, 0x020, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostIa32PerfGlobalCtrl, 272, 0x3D0, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostIa32Pkrs, 1080),

        // 32-bit control
        F(VmcsField.PinBasedVmExecControl, 744, 0x05C, EvmcsCleanField.ControlGrp1),
        F(VmcsField.CpuBasedVmExecControl, 748, 0x314, EvmcsCleanField.ControlProc),
        F(VmcsField.ExceptionBitmap, 752, 0x318, EvmcsCleanField.ControlExcpn),
        F(VmcsField.PageFaultErrorCodeMask, 756, 0x178, EvmcsCleanField.All),
        F(VmcsField.PageFaultErrorCodeMatch, 760, 0x17C, EvmcsCleanField.All),
        F(VmcsField.Cr3TargetCount, 764, 0x180, EvmcsCleanField.All),
        F(VmcsField.VmExitControls, 768, 0x060, EvmcsCleanField.ControlGrp1),
        F(VmcsField.VmExitMsrStoreCount, 772, 0x184, EvmcsCleanField.All),
        F(VmcsField.VmExitMsrLoadCount, 776, 0x188, EvmcsCleanField.All),
        F(VmcsField.VmEntryControls, 780, 0x31C, EvmcsCleanField.ControlEntry),
        F(VmcsField.VmEntryMsrLoadCount, 784, 0x18C, EvmcsCleanField.All),
        F(VmcsField.VmEntryIntrInfoField, 788, 0x320, EvmcsCleanField.ControlEvent),
        F(VmcsField.VmEntryExceptionErrorCode, 792, 0x324, EvmcsCleanField.ControlEvent),
        F(VmcsField.VmEntryInstructionLen, 796, 0x328, EvmcsCleanField.ControlEvent),
        F(VmcsField.TprThreshold, 800, 0x32C, EvmcsCleanField.None),
        F(VmcsField.SecondaryVmExecControl, 804, 0x064, EvmcsCleanField.ControlGrp1),
        F(VmcsField.PleGap, 1168),
        F(VmcsField.PleWindow, 1172),
        F(VmcsField.NotifyWindow, 1176),

        // 32-bit read-only data
        F(VmcsField.VmInstructionError, 808, 0x2B0, EvmcsCleanField.None),
        F(VmcsField.VmExitReason, 812, 0x2B4, EvmcsCleanField.None),
        F(VmcsField.VmExitIntrInfo, 816, 0x2B8, EvmcsCleanField.None),
        F(VmcsField.VmExitIntrErrorCode, 820, 0x2BC, EvmcsCleanField.None),
        F(VmcsField.IdtVectoringInfoField, 824, 0x2C0, EvmcsCleanField.None),
        F(VmcsField.IdtVectoringErrorCode, 828, 0x2C4, EvmcsCleanField.None),
        F(VmcsField.VmExitInstructionLen, 832, 0x2C8, EvmcsCleanField.None),
        F(VmcsField.VmxInstructionInfo, 836, 0x2CC, EvmcsCleanField.None),

        // 32-bit guest state
        F(VmcsField.GuestEsLimit, 840, 0x090, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestCsLimit, 844, 0x094, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestSsLimit, 848, 0x098, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestDsLimit, 852, 0x09C, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestFsLimit, 856, 0x0A0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGsLimit, 860, 0x0A4, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestLdtrLimit, 864, 0x0A8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestTrLimit, 868, 0x0AC, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGdtrLimit, 872, 0x0B0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestIdtrLimit, 876, 0x0B4, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestEsArBytes, 880, 0x0B8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestCsArBytes, 884, 0x0BC, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestSsArBytes, 888, 0x0C0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestDsArBytes, 892, 0x0C4, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestFsArBytes, 896, 0x0C8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGsArBytes, 900, 0x0CC, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestLdtrArBytes, 904, 0x0D0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestTrArBytes, 908, 0x0D4, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestInterruptibilityInfo, 912, 0x310, EvmcsCleanField.GuestBasic),
        F(VmcsField.GuestActivityState, 916, 0x1F8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestSmbase, 1180),
        F(VmcsField.GuestSysenterCs, 920, 0x1FC, EvmcsCleanField.GuestGrp1),
        F(VmcsField.VmxPreemptionTimerValue, 928),

        // 32-bit host state
        F(VmcsField.HostIa32SysenterCs, 924, 0x058, EvmcsCleanField.HostGrp1),

        // Natural-width control
        F(VmcsField.Cr0GuestHostMask, 344, 0x200, EvmcsCleanField.Crdr),
        F(VmcsField.Cr4GuestHostMask, 352, 0x208, EvmcsCleanField.Crdr),
        F(VmcsField.Cr0ReadShadow, 360, 0x210, EvmcsCleanField.Crdr),
        F(VmcsField.Cr4ReadShadow, 368, 0x218, EvmcsCleanField.Crdr),
        // KVM (v6.x) has no eVMCS mapping for these; older kernels mapped them with ALL, which
        // is the TLFS meaning for a field without a group of its own.
        F(VmcsField.Cr3TargetValue0, 376, 0x158, EvmcsCleanField.All),
        F(VmcsField.Cr3TargetValue1, 384, 0x160, EvmcsCleanField.All),
        F(VmcsField.Cr3TargetValue2, 392, 0x168, EvmcsCleanField.All),
        F(VmcsField.Cr3TargetValue3, 400, 0x170, EvmcsCleanField.All),

        // Natural-width read-only data
        F(VmcsField.ExitQualification, 408, 0x2D0, EvmcsCleanField.None),
        F(VmcsField.IoRcx, 1088, 0x2D8, EvmcsCleanField.None),
        F(VmcsField.IoRsi, 1096, 0x2E0, EvmcsCleanField.None),
        F(VmcsField.IoRdi, 1104, 0x2E8, EvmcsCleanField.None),
        F(VmcsField.IoRip, 1112, 0x2F0, EvmcsCleanField.None),
        F(VmcsField.GuestLinearAddress, 416, 0x2F8, EvmcsCleanField.None),

        // Natural-width guest state
        F(VmcsField.GuestCr0, 424, 0x220, EvmcsCleanField.Crdr),
        F(VmcsField.GuestCr3, 432, 0x228, EvmcsCleanField.Crdr),
        F(VmcsField.GuestCr4, 440, 0x230, EvmcsCleanField.Crdr),
        F(VmcsField.GuestEsBase, 448, 0x0D8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestCsBase, 456, 0x0E0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestSsBase, 464, 0x0E8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestDsBase, 472, 0x0F0, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestFsBase, 480, 0x0F8, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGsBase, 488, 0x100, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestLdtrBase, 496, 0x108, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestTrBase, 504, 0x110, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestGdtrBase, 512, 0x118, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestIdtrBase, 520, 0x120, EvmcsCleanField.GuestGrp2),
        F(VmcsField.GuestDr7, 528, 0x238, EvmcsCleanField.Crdr),
        F(VmcsField.GuestRsp, 536, 0x300, EvmcsCleanField.GuestBasic),
        F(VmcsField.GuestRip, 544, 0x330, EvmcsCleanField.None),
        F(VmcsField.GuestRflags, 552, 0x308, EvmcsCleanField.GuestBasic),
        F(VmcsField.GuestPendingDbgExceptions, 560, 0x1E0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestSysenterEsp, 568, 0x1E8, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestSysenterEip, 576, 0x1F0, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestSCet, 1120, 0x390, EvmcsCleanField.GuestGrp1),
        F(VmcsField.GuestSsp, 1128, 0x398, EvmcsCleanField.GuestBasic),
        F(VmcsField.GuestIntrSspTable, 1136, 0x3A0, EvmcsCleanField.GuestGrp1),

        // Natural-width host state
        F(VmcsField.HostCr0, 584, 0x028, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostCr3, 592, 0x030, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostCr4, 600, 0x038, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostFsBase, 608, 0x240, EvmcsCleanField.HostPointer),
        F(VmcsField.HostGsBase, 616, 0x248, EvmcsCleanField.HostPointer),
        F(VmcsField.HostTrBase, 624, 0x250, EvmcsCleanField.HostPointer),
        F(VmcsField.HostGdtrBase, 632, 0x258, EvmcsCleanField.HostPointer),
        F(VmcsField.HostIdtrBase, 640, 0x260, EvmcsCleanField.HostPointer),
        F(VmcsField.HostIa32SysenterEsp, 648, 0x040, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostIa32SysenterEip, 656, 0x048, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostRsp, 664, 0x268, EvmcsCleanField.HostPointer),
        F(VmcsField.HostRip, 672, 0x050, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostSCet, 1144, 0x3E0, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostSsp, 1152, 0x3E8, EvmcsCleanField.HostGrp1),
        F(VmcsField.HostIntrSspTable, 1160, 0x3F0, EvmcsCleanField.HostGrp1),
    ];

    // Built from s_fields; field initialisers run in textual order, so these come after it.
    private static readonly int s_indexCount = ComputeIndexCount();
    private static readonly short[] s_rows = BuildRows();
    private static readonly short[] s_vmcs12Offsets = BuildOffsets(evmcs: false);
    private static readonly short[] s_evmcsOffsets = BuildOffsets(evmcs: true);

    /// <summary>Every field, FULL encodings only, in encoding order.</summary>
    public static ReadOnlySpan<VmcsFieldInfo> Fields => s_fields;

    /// <summary>
    /// Highest index (encoding bits 9:1) of any field in the table, as IA32_VMX_VMCS_ENUM
    /// reports it (SDM Vol. 3D Appendix A.9 "VMCS Enumeration").
    /// </summary>
    public static int HighestIndex { get; } = ComputeHighestIndex();

    /// <summary>IA32_VMX_VMCS_ENUM (MSR 0x48A): the highest index in bits 9:1, all else 0.</summary>
    public static ulong VmcsEnumMsr => (ulong)HighestIndex << 1;

    /// <summary>Length of the dense arrays: one past the highest rotated encoding in use.</summary>
    public static int IndexCount => s_indexCount;

    /// <summary>
    /// vmcs12 byte offset for a VMREAD/VMWRITE encoding, -1 if no such field (the caller then
    /// fails with VM-instruction error 12, "VMREAD/VMWRITE from/to unsupported VMCS component").
    /// The encoding is the full register operand: any bit above 14 set (bit 15 reserved, bits
    /// 63:16 must be 0) means no field. A HIGH encoding gives the offset of the upper half.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short GetVmcs12Offset(ulong encoding)
    {
        if (encoding > 0x7FFF)
        {
            return -1;
        }

        int index = ushort.RotateLeft((ushort)encoding, 6);
        short[] offsets = s_vmcs12Offsets;
        return (uint)index < (uint)offsets.Length ? offsets[index] : (short)-1;
    }

    /// <summary>eVMCS byte offset for an encoding, -1 if the field is unknown or not in the eVMCS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short GetEvmcsOffset(ulong encoding)
    {
        if (encoding > 0x7FFF)
        {
            return -1;
        }

        int index = ushort.RotateLeft((ushort)encoding, 6);
        short[] offsets = s_evmcsOffsets;
        return (uint)index < (uint)offsets.Length ? offsets[index] : (short)-1;
    }

    /// <summary>The row of the field an encoding (FULL or HIGH) belongs to.</summary>
    public static bool TryGetInfo(ulong encoding, out VmcsFieldInfo info)
    {
        if (encoding <= 0x7FFF)
        {
            int index = ushort.RotateLeft((ushort)encoding, 6);
            if ((uint)index < (uint)s_rows.Length)
            {
                int row = s_rows[index];
                if (row >= 0)
                {
                    info = s_fields[row];
                    return true;
                }
            }
        }

        info = default;
        return false;
    }

    /// <summary>The row of a field; throws for a value that is not a field of the table.</summary>
    public static VmcsFieldInfo GetInfo(VmcsField field)
    {
        if (!TryGetInfo((ushort)field, out VmcsFieldInfo info))
        {
            ThrowUnknownField(field);
        }

        return info;
    }

    /// <summary>True if the encoding (FULL or HIGH) names a field of the table.</summary>
    public static bool IsSupported(ulong encoding) => GetVmcs12Offset(encoding) >= 0;

    private static VmcsFieldInfo F(
        VmcsField field,
        ushort vmcs12Offset,
        short evmcsOffset = None,
        EvmcsCleanField cleanField = EvmcsCleanField.None)
        => new(field, vmcs12Offset, evmcsOffset, cleanField);

    private static int ComputeIndexCount()
    {
        int max = -1;
        foreach (VmcsFieldInfo row in s_fields)
        {
            VmcsFieldEncoding encoding = row.Encoding;
            max = Math.Max(max, encoding.TableIndex);
            if (encoding.Width == VmcsFieldWidth.U64)
            {
                max = Math.Max(max, encoding.High.TableIndex);
            }
        }

        return max + 1;
    }

    private static short[] BuildRows()
    {
        var rows = new short[s_indexCount];
        Array.Fill(rows, (short)-1);
        for (int i = 0; i < s_fields.Length; i++)
        {
            VmcsFieldEncoding encoding = s_fields[i].Encoding;
            if (!encoding.IsWellFormed || encoding.IsHigh)
            {
                throw new InvalidOperationException($"VMCS field table: {encoding} is not a FULL encoding.");
            }

            Claim(rows, encoding, (short)i);
            if (encoding.Width == VmcsFieldWidth.U64)
            {
                Claim(rows, encoding.High, (short)i);
            }
        }

        return rows;
    }

    private static void Claim(short[] rows, VmcsFieldEncoding encoding, short row)
    {
        if (rows[encoding.TableIndex] >= 0)
        {
            throw new InvalidOperationException($"VMCS field table: {encoding} appears twice.");
        }

        rows[encoding.TableIndex] = row;
    }

    private static short[] BuildOffsets(bool evmcs)
    {
        var offsets = new short[s_indexCount];
        Array.Fill(offsets, (short)-1);
        foreach (VmcsFieldInfo row in s_fields)
        {
            int offset = evmcs ? row.EvmcsOffset : row.Vmcs12Offset;
            if (offset < 0)
            {
                continue;
            }

            VmcsFieldEncoding encoding = row.Encoding;
            offsets[encoding.TableIndex] = (short)offset;
            if (encoding.Width == VmcsFieldWidth.U64)
            {
                // KVM's FIELD64: the HIGH encoding is the upper 32 bits of the same storage.
                offsets[encoding.High.TableIndex] = (short)(offset + sizeof(uint));
            }
        }

        return offsets;
    }

    private static int ComputeHighestIndex()
    {
        int max = 0;
        foreach (VmcsFieldInfo row in s_fields)
        {
            max = Math.Max(max, row.Encoding.Index);
        }

        return max;
    }

    [DoesNotReturn]
    private static void ThrowUnknownField(VmcsField field)
        => throw new ArgumentOutOfRangeException(nameof(field), field, "Not a field of the VMCS field table.");
}
