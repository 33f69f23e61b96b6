using System.Buffers.Binary;
using System.Text;
using Emulator.Acpi;
using Emulator.Cpu.Memory;
using Emulator.Devices;

namespace Emulator.Tests.Devices.FirmwareTests;

/// <summary>The ACPI tables, read back from guest RAM by a separate parser as a guest would find them.</summary>
public class AcpiTablesTests
{
    private static (PhysicalMemory Memory, AcpiParser Acpi, ulong Rsdp) Build(int cpus, ulong scanStart = 0xE0000)
    {
        var memory = new PhysicalMemory(16 << 20);
        // The BIOS state the machine installs first; the tables must not disturb it.
        Emulator.Loading.Firmware.Install(memory);
        ulong rsdp = AcpiTables.Build(memory, cpus);
        return (memory, new AcpiParser(memory, scanStart), rsdp);
    }

    [Test]
    public void Rsdp_BiosAreaScan_FindsItAtTheReturnedAddress()
    {
        (PhysicalMemory memory, AcpiParser acpi, ulong rsdp) = Build(1);
        using (memory)
        {
            Assert.That(acpi.RsdpAddress, Is.EqualTo(rsdp));
            Assert.That(rsdp % 16, Is.Zero);
        }
    }

    [Test]
    public void Rsdp_ScanOfFSegmentOnly_FindsIt()
    {
        // kvm-unit-tests' find_acpi_table_addr scans 0xF0000-0xFFFFF only.
        (PhysicalMemory memory, AcpiParser acpi, ulong rsdp) = Build(1, scanStart: 0xF0000);
        using (memory)
        {
            Assert.That(acpi.RsdpAddress, Is.EqualTo(rsdp));
        }
    }

    [Test]
    public void Rsdp_Revision2_BothChecksumsAndPointersValid()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(2);
        using (memory)
        {
            byte[] r = acpi.Rsdp;
            Assert.That(r.Length, Is.EqualTo(36));
            Assert.That(r[15], Is.EqualTo(2), "revision");
            Assert.That(AcpiParser.Sum(r.AsSpan(0, 20)), Is.Zero, "checksum of the first 20 bytes");
            Assert.That(AcpiParser.Sum(r), Is.Zero, "extended checksum");
            Assert.That(Encoding.ASCII.GetString(r, 9, 6), Is.EqualTo("BOCHS "));
            Assert.That(acpi.Rsdt.Signature, Is.EqualTo("RSDT"));
            Assert.That(acpi.Xsdt.Signature, Is.EqualTo("XSDT"));
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    [TestCase(16)]
    public void EveryTable_Checksum_SumsToZero(int cpus)
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(cpus);
        using (memory)
        {
            AcpiTable fadt = acpi.Find("FACP");
            var tables = new List<AcpiTable> { acpi.Rsdt, acpi.Xsdt, fadt, acpi.Find("APIC"), acpi.Table(fadt.U32(AcpiTables.FadtDsdt)) };
            foreach (AcpiTable t in tables)
            {
                Assert.That(AcpiParser.Sum(t.Bytes), Is.Zero, $"{t.Signature} checksum");
                Assert.That(t.Length, Is.EqualTo((uint)t.Bytes.Length));
                Assert.That(Encoding.ASCII.GetString(t.Bytes, 10, 6), Is.EqualTo("BOCHS "), $"{t.Signature} OEMID");
            }
        }
    }

    [Test]
    public void RsdtAndXsdt_ListTheSameTables_FadtAndMadt()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(2);
        using (memory)
        {
            List<AcpiTable> r = acpi.Entries(acpi.Rsdt), x = acpi.Entries(acpi.Xsdt);
            Assert.That(r.Select(t => t.Address), Is.EqualTo(x.Select(t => t.Address)));
            Assert.That(r.Select(t => t.Signature), Is.EqualTo(new[] { "FACP", "APIC" }));
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void Madt_PerCpuCount_OneEnabledLocalApicPerCpuWithIdEqualToIndex(int cpus)
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(cpus);
        using (memory)
        {
            AcpiTable madt = acpi.Find("APIC");
            Assert.That(madt.U32(36), Is.EqualTo(0xFEE0_0000u), "local APIC address");
            Assert.That(madt.U32(40), Is.EqualTo(1u), "flags: PCAT_COMPAT");
            List<byte[]> lapics = AcpiParser.MadtEntries(madt).Where(e => e[0] == 0).ToList();
            Assert.That(lapics, Has.Count.EqualTo(cpus));
            for (int i = 0; i < cpus; i++)
            {
                Assert.That(lapics[i][1], Is.EqualTo(8), "length");
                Assert.That(lapics[i][2], Is.EqualTo(i), "ACPI processor UID");
                Assert.That(lapics[i][3], Is.EqualTo(i), "APIC ID");
                Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(lapics[i].AsSpan(4)), Is.EqualTo(1u), "enabled");
            }
        }
    }

    [Test]
    public void Madt_IoApicOverridesAndNmi_AsQemu()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(4);
        using (memory)
        {
            List<byte[]> entries = AcpiParser.MadtEntries(acpi.Find("APIC"));
            Assert.That(entries.Select(e => e[0]), Is.EqualTo(new byte[] { 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 4 }), "entry types in QEMU's order");

            byte[] ioapic = entries.Single(e => e[0] == 1);
            Assert.That(ioapic[1], Is.EqualTo(12));
            Assert.That(ioapic[2], Is.EqualTo(AcpiTables.IoApicId));
            Assert.That(ioapic[2], Is.Zero, "QEMU's ACPI_BUILD_IOAPIC_ID");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(4)), Is.EqualTo(0xFEC0_0000u));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(8)), Is.Zero, "GSI base");

            var overrides = entries.Where(e => e[0] == 2)
                .Select(e => (Bus: e[2], Irq: e[3], Gsi: BinaryPrimitives.ReadUInt32LittleEndian(e.AsSpan(4)), Flags: BinaryPrimitives.ReadUInt16LittleEndian(e.AsSpan(8))))
                .ToList();
            Assert.That(entries.Where(e => e[0] == 2).All(e => e[1] == 10));
            Assert.That(overrides, Is.EqualTo(new[]
            {
                ((byte)0, (byte)0, 2u, (ushort)0),
                ((byte)0, (byte)5, 5u, (ushort)0xD),
                ((byte)0, (byte)9, 9u, (ushort)0xD),
                ((byte)0, (byte)10, 10u, (ushort)0xD),
                ((byte)0, (byte)11, 11u, (ushort)0xD),
            }));

            byte[] nmi = entries.Single(e => e[0] == 4);
            Assert.That(nmi[1], Is.EqualTo(6));
            Assert.That(nmi[2], Is.EqualTo(0xFF), "all processors");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(nmi.AsSpan(3)), Is.Zero, "flags");
            Assert.That(nmi[5], Is.EqualTo(1), "LINT1");
        }
    }

    [Test]
    public void Fadt_Revision3_PmBlocksSciAndResetRegister()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(2);
        using (memory)
        {
            AcpiTable f = acpi.Find("FACP");
            Assert.That(f.Revision, Is.EqualTo(3));
            Assert.That(f.Length, Is.EqualTo(244u));
            Assert.That(f.U16(46), Is.EqualTo(9), "SCI_INT");
            Assert.That(f.U32(48), Is.EqualTo(0xB2u), "SMI_CMD");
            Assert.That(f.U8(52), Is.EqualTo(0xF1), "ACPI_ENABLE");
            Assert.That(f.U8(53), Is.EqualTo(0xF0), "ACPI_DISABLE");
            Assert.That(f.U32(56), Is.EqualTo(0x600u), "PM1a_EVT_BLK");
            Assert.That(f.U32(60), Is.Zero, "PM1b_EVT_BLK");
            Assert.That(f.U32(64), Is.EqualTo(0x604u), "PM1a_CNT_BLK");
            Assert.That(f.U32(76), Is.EqualTo(0x608u), "PM_TMR_BLK");
            Assert.That(f.U32(80), Is.Zero, "GPE0_BLK");
            Assert.That(f.U8(88), Is.EqualTo(4), "PM1_EVT_LEN");
            Assert.That(f.U8(89), Is.EqualTo(2), "PM1_CNT_LEN");
            Assert.That(f.U8(91), Is.EqualTo(4), "PM_TMR_LEN");
            Assert.That(f.U16(96), Is.EqualTo(0xFFF), "P_LVL2_LAT");
            Assert.That(f.U16(98), Is.EqualTo(0xFFF), "P_LVL3_LAT");
            Assert.That(f.U8(108), Is.EqualTo(0x32), "CENTURY");

            uint flags = f.U32(112);
            Assert.That(flags & AcpiTables.FadtTmrValExt, Is.Zero, "24-bit PM timer");
            Assert.That(flags & AcpiTables.FadtResetRegSup, Is.Not.Zero, "RESET_REG_SUP");
            Assert.That(flags, Is.EqualTo(0x84A5u), "WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, RESET_REG_SUP, USE_PLATFORM_CLOCK");

            Assert.That(f.U8(116), Is.EqualTo(1), "RESET_REG: system I/O");
            Assert.That(f.U8(117), Is.EqualTo(8), "RESET_REG bit width");
            Assert.That(f.U64(120), Is.EqualTo(0xCF9ul), "RESET_REG address");
            Assert.That(f.U8(128), Is.EqualTo(6), "RESET_VALUE");

            Assert.That(f.U32(36), Is.Not.Zero, "FIRMWARE_CTRL");
            Assert.That(f.U64(132), Is.Zero, "X_FIRMWARE_CTRL: at most one FACS pointer may be non-zero");
            Assert.That(f.U64(140), Is.EqualTo((ulong)f.U32(40)), "X_DSDT = DSDT");
            AssertGas(f, 148, 32, 0x600, "X_PM1a_EVT_BLK");
            AssertGas(f, 172, 16, 0x604, "X_PM1a_CNT_BLK");
            AssertGas(f, 208, 32, 0x608, "X_PM_TMR_BLK");
            Assert.That(f.U64(164), Is.Zero, "X_PM1b_EVT_BLK address");
        }
    }

    private static void AssertGas(AcpiTable f, int offset, int bits, ulong address, string name)
    {
        Assert.That(f.U8(offset), Is.EqualTo(1), $"{name} space: system I/O");
        Assert.That(f.U8(offset + 1), Is.EqualTo(bits), $"{name} bit width");
        Assert.That(f.U64(offset + 4), Is.EqualTo(address), $"{name} address");
    }

    [Test]
    public void Fadt_MoreThanEightCpus_ForcesApicClusterModel()
    {
        (PhysicalMemory m2, AcpiParser a2, _) = Build(8);
        (PhysicalMemory m9, AcpiParser a9, _) = Build(9);
        using (m2)
        using (m9)
        {
            Assert.That(a2.Find("FACP").U32(112) & AcpiTables.FadtForceApicClusterModel, Is.Zero);
            Assert.That(a9.Find("FACP").U32(112) & AcpiTables.FadtForceApicClusterModel, Is.Not.Zero);
        }
    }

    [Test]
    public void Facs_PointedToByFadt_Is64ByteAlignedAnd64Long()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(1);
        using (memory)
        {
            uint at = acpi.Find("FACP").U32(36);
            Assert.That(at % 64, Is.Zero);
            byte[] facs = acpi.ReadBytes(at, 64);
            Assert.That(Encoding.ASCII.GetString(facs, 0, 4), Is.EqualTo("FACS"));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(facs.AsSpan(4)), Is.EqualTo(64u));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(facs.AsSpan(12)), Is.Zero, "firmware waking vector");
        }
    }

    [Test]
    public void Dsdt_S5Package_FourElementsWithSlpTypS5()
    {
        (PhysicalMemory memory, AcpiParser acpi, _) = Build(1);
        using (memory)
        {
            AcpiTable dsdt = acpi.Table(acpi.Find("FACP").U32(40));
            Assert.That(dsdt.Signature, Is.EqualTo("DSDT"));
            byte[] aml = dsdt.Bytes[36..];
            // NameOp "_S5_" PackageOp PkgLength NumElements ZeroOp x4.
            Assert.That(aml, Is.EqualTo(new byte[] { 0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00 }));
            Assert.That(AcpiTables.SlpTypS5, Is.EqualTo(AcpiPm.SlpTypS5), "the power-management device agrees");
        }
    }

    [Test]
    public void Constants_AgreeWithThePowerManagementDevice()
    {
        Assert.That(AcpiTables.Pm1aEventBlock, Is.EqualTo(AcpiPm.Pm1aEventBlock));
        Assert.That(AcpiTables.Pm1aControlBlock, Is.EqualTo(AcpiPm.Pm1aControlBlock));
        Assert.That(AcpiTables.PmTimerBlock, Is.EqualTo(AcpiPm.PmTimerBlock));
        Assert.That(AcpiTables.SciIrq, Is.EqualTo(AcpiPm.SciIrq));
        Assert.That(AcpiTables.ResetRegisterPort, Is.EqualTo(AcpiPm.ResetRegister));
        Assert.That(AcpiTables.ResetValue, Is.EqualTo(AcpiPm.ResetValue));
        Assert.That(AcpiTables.SmiCommandPort, Is.EqualTo(AcpiPm.SmiCommandPort));
        Assert.That(AcpiTables.AcpiEnable, Is.EqualTo(AcpiPm.AcpiEnable));
        Assert.That(AcpiTables.AcpiDisable, Is.EqualTo(AcpiPm.AcpiDisable));
    }

    [TestCase(1)]
    [TestCase(255)]
    public void Tables_Placement_OutsideRamAndClearOfTheBiosStubs(int cpus)
    {
        (PhysicalMemory memory, AcpiParser acpi, ulong rsdp) = Build(cpus);
        using (memory)
        {
            AcpiTable fadt = acpi.Find("FACP");
            var ranges = new List<(ulong Start, ulong End)> { (rsdp, rsdp + 36), (fadt.U32(36), fadt.U32(36) + 64UL) };
            foreach (AcpiTable t in new[] { acpi.Rsdt, acpi.Xsdt, fadt, acpi.Find("APIC"), acpi.Table(fadt.U32(40)) })
            {
                ranges.Add((t.Address, t.Address + t.Length));
                Assert.That(t.Address, Is.GreaterThanOrEqualTo(AcpiTables.TablesStart));
                Assert.That(t.Address + t.Length, Is.LessThanOrEqualTo(AcpiTables.TablesEnd));
            }
            E820Entry[] map = E820Map.Build(memory.LowRamEnd, memory.HighRamEnd);
            foreach ((ulong start, ulong end) in ranges)
            {
                Assert.That(map.Where(e => e.Type == E820Map.Ram).Any(e => start < e.Base + e.Length && e.Base < end), Is.False,
                    $"table at 0x{start:x} overlaps RAM in the memory map");
                Assert.That(start < Emulator.Loading.Firmware.GdtAddress + 40 && Emulator.Loading.Firmware.GdtAddress < end, Is.False, "GDT");
                Assert.That(start < 0xFF000 && 0xFE000 < end, Is.False, "BIOS interrupt stubs");
                Assert.That(start <= Emulator.Loading.Firmware.IretStub && Emulator.Loading.Firmware.IretStub < end, Is.False, "IRET stub");
            }
            Assert.That(memory.Read(Emulator.Loading.Firmware.GdtAddress + 8, 8), Is.EqualTo(0x00CF_9B00_0000_FFFFul), "GDT intact");
        }
    }

    [Test]
    public void Build_CpuCountOutOfRange_Throws()
    {
        using var memory = new PhysicalMemory(16 << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(memory, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(memory, 256));
    }
}
