using System.Buffers.Binary;
using Emulator.Cpu.Memory;

// Not Emulator.Firmware: see E820Map.cs.
namespace Emulator.Acpi;

/// <summary>
/// The ACPI tables SeaBIOS installs from QEMU's PC description (hw/i386/acpi-build.c, acpi-common.c),
/// written straight into guest RAM: an ACPI 2.0+ RSDP in the BIOS segment, RSDT and XSDT, FADT (revision 3,
/// PIIX4 PM block at 0x600, SCI on IRQ 9, reset register 0xCF9), FACS, a minimal DSDT with \_S5, and the
/// MADT (one local APIC per CPU, the I/O APIC, QEMU's interrupt source overrides, LINT1 as NMI).
/// Layouts and field names are ACPI 6.x §5.2 "ACPI System Description Tables".
/// </summary>
internal static class AcpiTables
{
    /// <summary>
    /// Where the RSDP goes: in the F segment, because kvm-unit-tests' find_acpi_table_addr scans only
    /// 0xF0000–0xFFFFF (an OS scans 0xE0000–0xFFFFF, which includes it). Clear of the GDT at 0xF0000.
    /// </summary>
    public const ulong RsdpAddress = 0xF0100;

    /// <summary>The other tables go here, in a range the memory map leaves out (so guests do not reuse it).</summary>
    public const ulong TablesStart = 0xE0000;
    public const ulong TablesEnd = 0xF0000;

    public const uint LocalApicAddress = 0xFEE0_0000;
    public const uint IoApicAddress = 0xFEC0_0000;

    /// <summary>The I/O APIC's ID in the MADT: QEMU's ACPI_BUILD_IOAPIC_ID. The I/O APIC ID register must agree.</summary>
    public const byte IoApicId = 0;

    /// <summary>PIIX4 power-management I/O block (QEMU's pm_io_base): PM1a_EVT, PM1a_CNT and the PM timer.</summary>
    public const ushort PmIoBase = 0x600;
    public const ushort Pm1aEventBlock = PmIoBase;
    public const int Pm1EventLength = 4;
    public const ushort Pm1aControlBlock = PmIoBase + 4;
    public const int Pm1ControlLength = 2;
    public const ushort PmTimerBlock = PmIoBase + 8;
    public const int PmTimerLength = 4;

    /// <summary>System control interrupt: ISA IRQ 9, level-triggered active high per the MADT override.</summary>
    public const int SciIrq = 9;

    /// <summary>
    /// SMI_CMD, ACPI_ENABLE, ACPI_DISABLE: the APM control port, as QEMU's FADT has them with SMM enabled (its
    /// TCG default). The guest starts in legacy mode and writes ACPI_ENABLE to SMI_CMD to set SCI_EN.
    /// </summary>
    public const ushort SmiCommandPort = 0xB2;
    public const byte AcpiEnable = 0xF1;
    public const byte AcpiDisable = 0xF0;

    /// <summary>The reset register: the PIIX/ICH reset control register, I/O 0xCF9, written with 6 (hard reset).</summary>
    public const ushort ResetRegisterPort = 0xCF9;
    public const byte ResetValue = 6;

    /// <summary>
    /// \_S5 SLP_TYPa: writing SLP_TYP = 0 with SLP_EN (PM1a_CNT bit 13) powers off, as in QEMU's PIIX4 DSDT.
    /// </summary>
    public const byte SlpTypS5 = 0;

    /// <summary>CMOS index of the RTC century byte (FADT CENTURY), QEMU's RTC_CENTURY.</summary>
    public const byte RtcCenturyIndex = 0x32;

    // FADT Fixed Feature Flags (ACPI 6.x §5.2.9 table "Fixed ACPI Description Table Fixed Feature Flags").
    public const uint FadtWbinvd = 1u << 0;
    public const uint FadtProcC1 = 1u << 2;
    public const uint FadtSlpButton = 1u << 5;
    public const uint FadtRtcS4 = 1u << 7;
    public const uint FadtTmrValExt = 1u << 8;
    public const uint FadtResetRegSup = 1u << 10;
    public const uint FadtUsePlatformClock = 1u << 15;
    public const uint FadtForceApicClusterModel = 1u << 18;

    // FADT field offsets used by tests and by devices that want to agree with the table.
    public const int FadtFirmwareCtrl = 36;
    public const int FadtDsdt = 40;
    public const int FadtSciInt = 46;
    public const int FadtSmiCmd = 48;
    public const int FadtAcpiEnable = 52;
    public const int FadtAcpiDisable = 53;
    public const int FadtPm1aEvtBlk = 56;
    public const int FadtPm1aCntBlk = 64;
    public const int FadtPmTmrBlk = 76;
    public const int FadtPm1EvtLen = 88;
    public const int FadtPm1CntLen = 89;
    public const int FadtPmTmrLen = 91;
    public const int FadtCentury = 108;
    public const int FadtIapcBootArch = 109;
    public const int FadtFlags = 112;
    public const int FadtResetReg = 116;
    public const int FadtResetValue = 128;
    public const int FadtXFirmwareCtrl = 132;
    public const int FadtXDsdt = 140;
    public const int FadtXPm1aEvtBlk = 148;
    public const int FadtXPm1aCntBlk = 172;
    public const int FadtXPmTmrBlk = 208;

    /// <summary>Length of a revision 3 FADT (ACPI 2.0 layout, through X_GPE1_BLK).</summary>
    public const int FadtLength = 244;

    // MADT Interrupt Controller Structure types (ACPI 6.x §5.2.12 table "Interrupt Controller Structure Types").
    public const byte MadtLocalApic = 0;
    public const byte MadtIoApic = 1;
    public const byte MadtInterruptSourceOverride = 2;
    public const byte MadtLocalApicNmi = 4;

    /// <summary>MADT Flags: PCAT_COMPAT, a dual 8259 is present too.</summary>
    public const uint MadtPcatCompat = 1;

    /// <summary>
    /// ISA IRQs QEMU declares level-triggered, active high (x86ms->pci_irq_mask = ACPI_BUILD_PCI_IRQS): the
    /// PCI INTx lines it routes through the PIIX3 link devices, and the SCI.
    /// </summary>
    public static ReadOnlySpan<byte> LevelTriggeredIsaIrqs => [5, 9, 10, 11];

    /// <summary>MPS INTI flags for those overrides: polarity active high (01), trigger mode level (11).</summary>
    public const ushort OverrideFlagsLevelHigh = 0xD;

    private const int HeaderLength = 36;
    private const int FacsLength = 64;

    private static ReadOnlySpan<byte> OemId => "BOCHS "u8;
    private static ReadOnlySpan<byte> OemTableId => "BXPC    "u8;
    private static ReadOnlySpan<byte> CreatorId => "BXPC"u8;

    /// <summary>
    /// Writes every table for <paramref name="cpuCount"/> CPUs (APIC IDs 0..n-1) and returns the RSDP's address.
    /// </summary>
    public static ulong Build(PhysicalMemory memory, int cpuCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuCount, 1);
        // xAPIC IDs 0..254 fit Processor Local APIC structures; 255 is the broadcast ID.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuCount, 255);

        ulong next = TablesStart;
        ulong Place(int length, ulong align)
        {
            ulong at = (next + align - 1) & ~(align - 1);
            next = at + (ulong)length;
            if (next > TablesEnd)
            {
                throw new InvalidOperationException("ACPI tables overflow 0xE0000-0xEFFFF");
            }
            return at;
        }

        // FACS first: it must be 64-byte aligned (ACPI 6.x §5.2.10 "Firmware ACPI Control Structure (FACS)").
        byte[] facs = BuildFacs();
        ulong facsAt = Place(facs.Length, 64);
        byte[] dsdt = BuildDsdt();
        ulong dsdtAt = Place(dsdt.Length, 16);
        byte[] fadt = BuildFadt((uint)facsAt, (uint)dsdtAt, cpuCount);
        ulong fadtAt = Place(fadt.Length, 16);
        byte[] madt = BuildMadt(cpuCount);
        ulong madtAt = Place(madt.Length, 16);
        ulong[] tables = [fadtAt, madtAt];
        byte[] rsdt = BuildRoot("RSDT"u8, tables, 4);
        ulong rsdtAt = Place(rsdt.Length, 16);
        byte[] xsdt = BuildRoot("XSDT"u8, tables, 8);
        ulong xsdtAt = Place(xsdt.Length, 16);
        byte[] rsdp = BuildRsdp((uint)rsdtAt, xsdtAt);

        Write(memory, facsAt, facs);
        Write(memory, dsdtAt, dsdt);
        Write(memory, fadtAt, fadt);
        Write(memory, madtAt, madt);
        Write(memory, rsdtAt, rsdt);
        Write(memory, xsdtAt, xsdt);
        Write(memory, RsdpAddress, rsdp);
        return RsdpAddress;
    }

    private static void Write(PhysicalMemory memory, ulong at, byte[] bytes)
    {
        if (!memory.TryWriteBytes(at, bytes))
        {
            throw new InvalidOperationException($"ACPI table at 0x{at:x} is not in RAM");
        }
    }

    /// <summary>ACPI 6.x §5.2.5.3 "Root System Description Pointer (RSDP) Structure", revision 2 (36 bytes).</summary>
    private static byte[] BuildRsdp(uint rsdt, ulong xsdt)
    {
        var r = new byte[36];
        "RSD PTR "u8.CopyTo(r);
        OemId.CopyTo(r.AsSpan(9));
        r[15] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), rsdt);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        // Checksum covers the ACPI 1.0 part (first 20 bytes); the extended checksum the whole structure.
        r[8] = Checksum(r.AsSpan(0, 20));
        r[32] = Checksum(r);
        return r;
    }

    /// <summary>ACPI 6.x §5.2.6 "System Description Table Header".</summary>
    private static void WriteHeader(Span<byte> t, ReadOnlySpan<byte> signature, byte revision)
    {
        signature.CopyTo(t);
        BinaryPrimitives.WriteUInt32LittleEndian(t[4..], (uint)t.Length);
        t[8] = revision;
        OemId.CopyTo(t[10..]);
        OemTableId.CopyTo(t[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[24..], 1); // OEM Revision
        CreatorId.CopyTo(t[28..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[32..], 1); // Creator Revision
    }

    /// <summary>Sets the header checksum so that the whole table sums to zero.</summary>
    private static void Seal(Span<byte> t)
    {
        t[9] = 0;
        t[9] = Checksum(t);
    }

    /// <summary>ACPI 6.x §5.2.7 "Root System Description Table (RSDT)" and §5.2.8 "Extended System Description Table (XSDT)".</summary>
    private static byte[] BuildRoot(ReadOnlySpan<byte> signature, ulong[] tables, int entrySize)
    {
        var t = new byte[HeaderLength + entrySize * tables.Length];
        WriteHeader(t, signature, 1);
        for (int i = 0; i < tables.Length; i++)
        {
            Span<byte> e = t.AsSpan(HeaderLength + entrySize * i);
            if (entrySize == 4)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)tables[i]);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(e, tables[i]);
            }
        }
        Seal(t);
        return t;
    }

    /// <summary>
    /// ACPI 6.x §5.2.9 "Fixed ACPI Description Table (FADT)", table "FADT Format", revision 3. Values are
    /// QEMU's init_common_fadt_data for the PIIX4 PM device with SMM on (ACPI mode entered through SMI_CMD),
    /// without a GPE block (nothing here raises general-purpose events), plus the reset register QEMU gives q35.
    /// </summary>
    private static byte[] BuildFadt(uint facs, uint dsdt, int cpuCount)
    {
        var t = new byte[FadtLength];
        WriteHeader(t, "FACP"u8, 3);
        Span<byte> s = t;
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtFirmwareCtrl..], facs);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtDsdt..], dsdt);
        s[44] = 1; // ACPI 1.0 INT_MODEL (reserved since 2.0): multiple APIC, as QEMU writes it
        s[45] = 0; // Preferred_PM_Profile: unspecified
        BinaryPrimitives.WriteUInt16LittleEndian(s[FadtSciInt..], SciIrq);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtSmiCmd..], SmiCommandPort);
        s[FadtAcpiEnable] = AcpiEnable;
        s[FadtAcpiDisable] = AcpiDisable;
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtPm1aEvtBlk..], Pm1aEventBlock);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtPm1aCntBlk..], Pm1aControlBlock);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtPmTmrBlk..], PmTimerBlock);
        s[FadtPm1EvtLen] = Pm1EventLength;
        s[FadtPm1CntLen] = Pm1ControlLength;
        s[FadtPmTmrLen] = PmTimerLength;
        BinaryPrimitives.WriteUInt16LittleEndian(s[96..], 0xFFF); // P_LVL2_LAT: C2 not supported
        BinaryPrimitives.WriteUInt16LittleEndian(s[98..], 0xFFF); // P_LVL3_LAT: C3 not supported
        s[FadtCentury] = RtcCenturyIndex;
        // IAPC_BOOT_ARCH: no legacy devices flag, no 8042 (QEMU sets 8042 only when a keyboard controller exists).
        BinaryPrimitives.WriteUInt16LittleEndian(s[FadtIapcBootArch..], 0);
        uint flags = FadtWbinvd | FadtProcC1 | FadtSlpButton | FadtRtcS4 | FadtResetRegSup | FadtUsePlatformClock;
        if (cpuCount > 8)
        {
            // Flat logical destination mode addresses at most 8 CPUs.
            flags |= FadtForceApicClusterModel;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[FadtFlags..], flags);
        WriteGas(s[FadtResetReg..], 8, accessSize: 1, ResetRegisterPort);
        s[FadtResetValue] = ResetValue;
        // 129-130 ARM_BOOT_ARCH and 131 FADT Minor Version are zero for revision 3.
        // X_FIRMWARE_CTRL stays 0: since ACPI 4.0 at most one of FIRMWARE_CTRL and X_FIRMWARE_CTRL may be
        // non-zero (§5.2.9). The DSDT has no such rule, and QEMU fills both DSDT fields.
        BinaryPrimitives.WriteUInt64LittleEndian(s[FadtXFirmwareCtrl..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(s[FadtXDsdt..], dsdt);
        WriteGas(s[FadtXPm1aEvtBlk..], Pm1EventLength * 8, accessSize: 0, Pm1aEventBlock);
        WriteGas(s[FadtXPm1aCntBlk..], Pm1ControlLength * 8, accessSize: 0, Pm1aControlBlock);
        WriteGas(s[FadtXPmTmrBlk..], PmTimerLength * 8, accessSize: 0, PmTimerBlock);
        Seal(t);
        return t;
    }

    /// <summary>ACPI 6.x §5.2.3.2 "Generic Address Structure (GAS)" in system I/O space.</summary>
    private static void WriteGas(Span<byte> g, int bitWidth, byte accessSize, ulong address)
    {
        g[0] = 1; // Address Space ID: System I/O
        g[1] = (byte)bitWidth;
        g[2] = 0; // Register Bit Offset
        g[3] = accessSize; // 0: undefined (legacy reasons), 1: byte access
        BinaryPrimitives.WriteUInt64LittleEndian(g[4..], address);
    }

    /// <summary>ACPI 6.x §5.2.10 "Firmware ACPI Control Structure (FACS)", version 2; no header checksum.</summary>
    private static byte[] BuildFacs()
    {
        var f = new byte[FacsLength];
        "FACS"u8.CopyTo(f);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), FacsLength);
        // Hardware Signature, waking vectors, Global Lock and flags: 0 (no S4BIOS, no 64-bit wake).
        f[32] = 2; // Version
        return f;
    }

    /// <summary>
    /// ACPI 6.x §5.2.11.1 "Differentiated System Description Table (DSDT)", revision 2, whose AML body is
    /// <c>Name (_S5, Package (4) { 0, 0, 0, 0 })</c> (§7.4.2 "\_Sx (System States)"): SLP_TYPa = SLP_TYPb
    /// = <see cref="SlpTypS5"/>. Encoding per §20.2 "AML Grammar Definition": NameOp NameSeg PackageOp
    /// PkgLength NumElements and the elements as integers.
    /// </summary>
    private static byte[] BuildDsdt()
    {
        ReadOnlySpan<byte> elements = [SlpTypS5, SlpTypS5, 0, 0];
        var aml = new List<byte> { 0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_' }; // NameOp NameSeg
        var package = new List<byte> { (byte)elements.Length }; // NumElements
        foreach (byte e in elements)
        {
            AppendInteger(package, e);
        }
        // PackageOp, then a one-byte PkgLength (it counts itself) while the package stays under 64 bytes.
        aml.Add(0x12);
        aml.Add((byte)(package.Count + 1));
        aml.AddRange(package);
        var t = new byte[HeaderLength + aml.Count];
        WriteHeader(t, "DSDT"u8, 2);
        aml.CopyTo(t, HeaderLength);
        Seal(t);
        return t;
    }

    /// <summary>ComputationalData for a byte: ZeroOp, OneOp, or BytePrefix ByteData.</summary>
    private static void AppendInteger(List<byte> aml, byte value)
    {
        switch (value)
        {
            case 0:
                aml.Add(0x00);
                break;
            case 1:
                aml.Add(0x01);
                break;
            default:
                aml.Add(0x0A);
                aml.Add(value);
                break;
        }
    }

    /// <summary>
    /// ACPI 6.x §5.2.12 "Multiple APIC Description Table (MADT)", revision 1, in QEMU's order
    /// (acpi_build_madt): Processor Local APIC per CPU (§5.2.12.2), I/O APIC (§5.2.12.3), Interrupt Source
    /// Overrides (§5.2.12.5) IRQ0→GSI2 and the level-triggered PCI IRQs, Local APIC NMI on LINT1 (§5.2.12.7).
    /// </summary>
    private static byte[] BuildMadt(int cpuCount)
    {
        int length = HeaderLength + 8 + 8 * cpuCount + 12 + 10 * (1 + LevelTriggeredIsaIrqs.Length) + 6;
        var t = new byte[length];
        WriteHeader(t, "APIC"u8, 1);
        Span<byte> s = t;
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], LocalApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], MadtPcatCompat);
        int p = 44;
        for (int cpu = 0; cpu < cpuCount; cpu++)
        {
            s[p] = MadtLocalApic;
            s[p + 1] = 8;
            s[p + 2] = (byte)cpu; // ACPI Processor UID
            s[p + 3] = (byte)cpu; // APIC ID
            BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 4)..], 1); // Enabled
            p += 8;
        }

        s[p] = MadtIoApic;
        s[p + 1] = 12;
        s[p + 2] = IoApicId;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 4)..], IoApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 8)..], 0); // Global System Interrupt Base
        p += 12;

        p = WriteOverride(s, p, 0, 2, 0);
        foreach (byte irq in LevelTriggeredIsaIrqs)
        {
            p = WriteOverride(s, p, irq, irq, OverrideFlagsLevelHigh);
        }

        s[p] = MadtLocalApicNmi;
        s[p + 1] = 6;
        s[p + 2] = 0xFF; // ACPI Processor UID: all processors
        BinaryPrimitives.WriteUInt16LittleEndian(s[(p + 3)..], 0); // Flags: conforms to the bus
        s[p + 5] = 1; // Local APIC LINT#
        Seal(t);
        return t;
    }

    private static int WriteOverride(Span<byte> s, int p, byte source, uint gsi, ushort flags)
    {
        s[p] = MadtInterruptSourceOverride;
        s[p + 1] = 10;
        s[p + 2] = 0; // Bus: ISA
        s[p + 3] = source;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 4)..], gsi);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(p + 8)..], flags);
        return p + 10;
    }

    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }
        return (byte)-sum;
    }
}
