/* acpi: the ACPI tables firmware leaves for a PC guest, found and parsed
 * the way an OS does it: the RSDP in the EBDA or the BIOS area, every
 * checksum (RSDP, extended RSDP, RSDT, XSDT, each table), the FADT (PM
 * timer block, PM1a control, SCI, reset register, DSDT and FACS), the MADT
 * (one enabled processor per CPU as fw_cfg counts them, the I/O APIC at
 * 0xFEC00000, the IRQ 0 -> GSI 2 override), the switch to ACPI mode through
 * SMI_CMD, and the PM timer running monotonically at 3.579545 MHz measured
 * against PIT channel 2. ACPI 6.x chapter 5 and §4.8.3.3 "Power Management
 * Timer". */
#include "acpi.h"
#include "apic.h"
#include "fwcfg.h"
#include "pit.h"
#include "runtime.h"

static int printable(const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E)
            return 0;
    return 1;
}

static int table_ok(const struct acpi_header *t, const char *sig)
{
    return t && !memcmp(t->signature, sig, 4) && t->length >= sizeof *t && acpi_checksum(t, t->length) == 0;
}

/* The tables the root table lists; returns the count (at most max). */
static unsigned root_entries(const struct acpi_header *root, unsigned entry_size, uint64_t *out, unsigned max)
{
    unsigned n = (root->length - (unsigned)sizeof *root) / entry_size, k = 0;
    for (unsigned i = 0; i < n && k < max; i++)
    {
        unsigned off = (unsigned)sizeof *root + i * entry_size;
        out[k++] = entry_size == 8 ? acpi_u64(root, off) : acpi_u32(root, off);
    }
    return k;
}

static int all_tables_ok(const uint64_t *addr, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
    {
        const struct acpi_header *t = (const void *)(uintptr_t)addr[i];
        if (!addr[i] || addr[i] >= (1ull << 32) || !printable(t->signature, 4) || t->length < sizeof *t ||
            acpi_checksum(t, t->length) != 0)
        {
            printf("  table at 0x%lx is not valid\n", addr[i]);
            return 0;
        }
    }
    return 1;
}

static const struct acpi_rsdp *rsdp;

static void test_root(void)
{
    int where;
    rsdp = acpi_find_rsdp(&where);
    if (!report("RSDP found on a 16-byte boundary in the EBDA or 0xE0000-0xFFFFF with a valid checksum", rsdp != 0))
        return;
    report("RSDP OEM ID is printable", printable(rsdp->oem_id, 6));
    report("RSDP revision is 0 (ACPI 1.0) or at least 2", rsdp->revision == 0 || rsdp->revision >= 2);
    const struct acpi_header *rsdt = (const void *)(uintptr_t)rsdp->rsdt_address;
    uint64_t rsdt_list[64], xsdt_list[64];
    unsigned nr = 0, nx = 0;
    if (report("RSDT: signature, length and checksum",
               rsdp->rsdt_address && table_ok(rsdt, "RSDT") && (rsdt->length - sizeof *rsdt) % 4 == 0))
    {
        nr = root_entries(rsdt, 4, rsdt_list, 64);
        report("RSDT lists at least the FADT and the MADT", nr >= 2);
        report("every table the RSDT lists has a printable signature, a sane length and a valid checksum",
               all_tables_ok(rsdt_list, nr));
    }
    if (rsdp->revision < 2)
    {
        report_skip("RSDP extended checksum", "RSDP revision 0: ACPI 1.0, RSDT only");
        report_skip("XSDT: signature, length and checksum", "RSDP revision 0: ACPI 1.0, RSDT only");
        return;
    }
    report("RSDP length is at least 36", rsdp->length >= 36);
    report("RSDP extended checksum", acpi_checksum(rsdp, rsdp->length >= 36 ? rsdp->length : 36) == 0);
    const struct acpi_header *xsdt = (const void *)(uintptr_t)rsdp->xsdt_address;
    if (rsdp->xsdt_address && rsdp->xsdt_address < (1ull << 32) &&
        report("XSDT: signature, length and checksum", table_ok(xsdt, "XSDT") && (xsdt->length - sizeof *xsdt) % 8 == 0))
    {
        nx = root_entries(xsdt, 8, xsdt_list, 64);
        report("every table the XSDT lists has a printable signature, a sane length and a valid checksum",
               all_tables_ok(xsdt_list, nx));
        int same = nr == 0 || nr == nx;
        for (unsigned i = 0; same && nr && i < nx; i++)
            same = xsdt_list[i] == rsdt_list[i];
        report("XSDT lists the same tables as the RSDT", same);
    }
    else if (!rsdp->xsdt_address)
        report("RSDP revision 2 has an XSDT address", 0);
}

static const struct acpi_header *fadt;

static void test_fadt(void)
{
    fadt = acpi_find_table("FACP", 0);
    if (!report("FADT (FACP) found, checksum valid", table_ok(fadt, "FACP")))
        return;
    report("FADT is at least the ACPI 1.0 size (116 bytes)", fadt->length >= 116);
    uint32_t flags = acpi_u32(fadt, FADT_FLAGS);
    const uint8_t *b = (const uint8_t *)fadt;
    report("FADT: not hardware-reduced (a PC with PM1 blocks)", !(flags & FADT_FLAG_HW_REDUCED));
    report("FADT: PM1a event block present, PM1_EVT_LEN >= 4", acpi_u32(fadt, FADT_PM1A_EVT_BLK) && b[FADT_PM1_EVT_LEN] >= 4);
    report("FADT: PM1a control block present, PM1_CNT_LEN >= 2",
           acpi_u32(fadt, FADT_PM1A_CNT_BLK) && b[FADT_PM1_CNT_LEN] >= 2);
    report("FADT: PM timer block present, PM_TMR_LEN = 4", acpi_u32(fadt, FADT_PM_TMR_BLK) && b[FADT_PM_TMR_LEN] == 4);
    report("FADT: SCI interrupt is an ISA IRQ", (b[FADT_SCI_INT] | b[FADT_SCI_INT + 1] << 8) < 16);

    const struct acpi_header *dsdt = acpi_find_table("DSDT", 0);
    report("DSDT (through the FADT): signature, length and checksum", table_ok(dsdt, "DSDT"));
    if (fadt->length >= FADT_X_DSDT + 8 && acpi_u64(fadt, FADT_X_DSDT))
        report("FADT X_DSDT matches DSDT", acpi_u32(fadt, FADT_DSDT) == 0 ||
                                               acpi_u64(fadt, FADT_X_DSDT) == acpi_u32(fadt, FADT_DSDT));
    if (dsdt && table_ok(dsdt, "DSDT"))
    {
        int s5 = 0;
        const char *p = (const char *)dsdt;
        for (uint32_t i = sizeof *dsdt; i + 4 <= dsdt->length && !s5; i++)
            s5 = !memcmp(p + i, "_S5_", 4);
        report("DSDT defines \\_S5_ (soft-off, what an ACPI power-off looks up)", s5);
    }
    const struct acpi_header *facs = acpi_find_table("FACS", 0);
    report("FACS (through the FADT): signature, length >= 64, 64-byte aligned",
           facs && !memcmp(facs->signature, "FACS", 4) && facs->length >= 64 && ((uintptr_t)facs & 63) == 0);

    if (fadt->length >= FADT_RESET_VALUE + 1 && (flags & FADT_FLAG_RESET_REG_SUP))
    {
        const struct acpi_gas *g = (const void *)(b + FADT_RESET_REG);
        report("FADT reset register: system I/O or memory, 8 bits wide, nonzero address",
               (g->space_id == 0 || g->space_id == 1) && g->bit_width == 8 && g->address != 0);
    }
    else
        report_skip("FADT reset register", "RESET_REG_SUP clear or FADT too short");
}

static void test_acpi_mode(void)
{
    if (!fadt)
        return;
    uint16_t pm1a_cnt = (uint16_t)acpi_u32(fadt, FADT_PM1A_CNT_BLK);
    uint32_t smi_cmd = acpi_u32(fadt, FADT_SMI_CMD);
    uint8_t enable = ((const uint8_t *)fadt)[FADT_ACPI_ENABLE];
    if (!pm1a_cnt)
        return;
    uint16_t cnt = inw(pm1a_cnt);
    report("PM1a control block reads as a register (not all ones)", cnt != 0xFFFF);
    if (smi_cmd == 0 || enable == 0)
    {
        report("no SMI_CMD: the system is always in ACPI mode (SCI_EN set)", cnt & PM1_CNT_SCI_EN);
        return;
    }
    if (!(cnt & PM1_CNT_SCI_EN))
    {
        /* ACPI §4.8.2.1.1 / §16.3.1: write ACPI_ENABLE to SMI_CMD, then
         * poll SCI_EN. */
        outb((uint16_t)smi_cmd, enable);
        struct pit_timeout t;
        pit_timeout_start(&t, 1000);
        while (!(inw(pm1a_cnt) & PM1_CNT_SCI_EN) && !pit_timeout_expired(&t))
            ;
    }
    report("ACPI mode: SCI_EN set after ACPI_ENABLE was written to SMI_CMD", inw(pm1a_cnt) & PM1_CNT_SCI_EN);
}

static void test_madt(void)
{
    struct madt_info m;
    const struct acpi_header *t = acpi_find_table("APIC", 0);
    if (!report("MADT (APIC) found, checksum valid", table_ok(t, "APIC")))
        return;
    acpi_parse_madt(&m);
    report("MADT entries are well formed (length >= 2, inside the table)", !m.bad_entry);
    report("MADT local APIC address is 0xFEE00000", m.lapic_address == APIC_DEFAULT_BASE);
    report("MADT flags: PCAT_COMPAT (dual 8259 PICs present)", m.flags & 1);
    report("MADT lists at least one enabled processor", m.ncpus >= 1);
    int unique = 1;
    for (unsigned i = 0; i < m.ncpus; i++)
        for (unsigned j = i + 1; j < m.ncpus; j++)
            unique &= m.apic_ids[i] != m.apic_ids[j];
    report("MADT processor APIC ids are unique", unique);
    uint32_t bsp = cpuid(1).b >> 24;
    int found = 0;
    for (unsigned i = 0; i < m.ncpus; i++)
        found |= m.apic_ids[i] == bsp;
    report("the BSP's APIC id (CPUID.1:EBX[31:24]) is an enabled MADT processor", found);
    if (fwcfg_present())
    {
        unsigned n = fwcfg_u16(FW_CFG_NB_CPUS);
        reportf(m.ncpus == n, "MADT has one enabled processor per CPU (fw_cfg NB_CPUS = %u)", n);
    }
    else
        report_skip("MADT processor count vs fw_cfg NB_CPUS", "no fw_cfg device");
    report("MADT lists exactly one I/O APIC", m.nioapics == 1);
    if (m.nioapics)
    {
        report("I/O APIC at 0xFEC00000 with GSI base 0", m.ioapic_addresses[0] == IOAPIC_DEFAULT_BASE &&
                                                            m.ioapic_gsi_bases[0] == 0);
        ioapic_base = m.ioapic_addresses[0];
        uint32_t id = (ioapic_read(IOAPIC_REG_ID) >> 24) & 0xF;
        report("I/O APIC ID register matches the MADT", id == (m.ioapic_ids[0] & 0xF));
        uint32_t ver = ioapic_read(IOAPIC_REG_VER);
        report("I/O APIC redirection entries cover the 16 ISA IRQs", ((ver >> 16) & 0xFF) >= 15);
    }
    report("interrupt source override: ISA IRQ 0 -> GSI 2", (m.isa_overridden & 1) && m.isa_gsi[0] == 2);
    report("IRQ 0 override is edge-triggered active-high (flags conform or explicit)",
           (m.isa_flags[0] & 0x3) != 3 && (m.isa_flags[0] & 0xC) != 0xC);
    int gsi_ok = 1;
    for (unsigned irq = 1; irq < 16; irq++)
        if (irq != 2 && m.isa_gsi[irq] == 2)
            gsi_ok = 0;
    report("no other ISA IRQ is routed to GSI 2", gsi_ok);
}

static uint32_t pm_mask;
static uint16_t pm_port;

static void test_pm_timer(void)
{
    int ext = 0;
    pm_port = acpi_pm_timer_port(&ext);
    if (!pm_port)
    {
        report("PM timer port known from the FADT", 0);
        return;
    }
    pm_mask = ext ? 0xFFFFFFFFu : 0xFFFFFFu;
    int fits = 1, monotonic = 1, moved = 0;
    uint32_t prev = inl(pm_port);
    for (unsigned i = 0; i < 20000; i++)
    {
        uint32_t v = inl(pm_port);
        if (!ext && v > 0xFFFFFF)
            fits = 0;
        uint32_t d = (v - prev) & pm_mask;
        if (d > pm_mask / 2)
            monotonic = 0;
        if (d)
            moved = 1;
        prev = v;
    }
    if (ext)
        report("PM timer is 32 bits wide (TMR_VAL_EXT)", 1);
    else
        report("PM timer values fit in 24 bits (TMR_VAL_EXT clear)", fits);
    report("PM timer never goes backwards over 20000 reads", monotonic);
    report("PM timer advances", moved);

    /* 3.579545 MHz = 3 x 1.193182 MHz: over N PIT clocks the PM timer
     * advances by about 3N. Three 50 ms intervals, each within +-20 %. */
    /* Each interval gets up to three tries: QEMU's clocks follow the
     * host's, and a descheduled vCPU can spoil one measurement. */
    unsigned good = 0;
    for (int i = 0; i < 3; i++)
    {
        uint64_t d = 0, want = 0;
        for (int k = 0; k < 3; k++)
        {
            uint16_t count = PIT_COUNT_US(20000);
            pit2_start(count);
            uint32_t a = inl(pm_port);
            while (!pit2_done())
                ;
            uint32_t b = inl(pm_port);
            d = (b - a) & pm_mask;
            want = 3ull * count;
            if (d * 10 >= want * 8 && d * 10 <= want * 12)
                break;
        }
        if (d * 10 >= want * 8 && d * 10 <= want * 12)
            good++;
        else
            printf("  PM timer advanced by %lu ticks, want about %lu\n", d, want);
    }
    report("PM timer rate is 3.579545 MHz +-20% against PIT channel 2 (three 20 ms intervals)", good == 3);

    /* A longer interval: 60 ms, 214773 ticks expected. */
    uint32_t d = 0;
    for (int k = 0; k < 3 && !(d >= 171818 && d <= 257727); k++)
    {
        uint32_t a = inl(pm_port);
        pit_delay_us(60000);
        d = (inl(pm_port) - a) & pm_mask;
    }
    report("PM timer advanced by 214773 +-20% over 60 ms of PIT time", d >= 171818 && d <= 257727);
}

/* With `verbose` on the command line: what was found, for debugging a
 * platform (not part of the checked output). */
static void dump(void)
{
    const struct acpi_rsdp *r = acpi_find_rsdp(0);
    if (!r)
        return;
    printf("RSDP at 0x%lx revision %u RSDT 0x%x\n", (uint64_t)(uintptr_t)r, r->revision, r->rsdt_address);
    static const char *const sigs[] = {"FACP", "APIC", "HPET", "WAET", "SSDT", "MCFG", "SRAT", "BGRT", "DSDT", "FACS"};
    for (unsigned i = 0; i < ARRAY_SIZE(sigs); i++)
    {
        const struct acpi_header *t = acpi_find_table(sigs[i], 0);
        if (t)
            printf("  %s at 0x%lx length %u revision %u\n", sigs[i], (uint64_t)(uintptr_t)t, t->length, t->revision);
    }
    const struct acpi_header *f = acpi_find_table("FACP", 0);
    if (f)
    {
        const uint8_t *b = (const uint8_t *)f;
        printf("  FADT: SCI %u SMI_CMD 0x%x enable 0x%x PM1a_EVT 0x%x PM1a_CNT 0x%x PM_TMR 0x%x flags 0x%x\n",
               b[FADT_SCI_INT], acpi_u32(f, FADT_SMI_CMD), b[FADT_ACPI_ENABLE], acpi_u32(f, FADT_PM1A_EVT_BLK),
               acpi_u32(f, FADT_PM1A_CNT_BLK), acpi_u32(f, FADT_PM_TMR_BLK),
               f->length >= FADT_FLAGS + 4 ? acpi_u32(f, FADT_FLAGS) : 0);
        if (f->length >= FADT_RESET_VALUE + 1)
            printf("  FADT reset register: space %u width %u address 0x%lx value 0x%x\n", b[FADT_RESET_REG],
                   b[FADT_RESET_REG + 1], acpi_u64(f, FADT_RESET_REG + 4), b[FADT_RESET_VALUE]);
    }
    const struct acpi_header *t = acpi_find_table("APIC", 0);
    if (t)
    {
        const uint8_t *p = (const uint8_t *)t + 44, *end = (const uint8_t *)t + t->length;
        while (p + 2 <= end && p[1] >= 2)
        {
            printf("  MADT entry type %u:", p[0]);
            for (unsigned i = 2; i < p[1]; i++)
                printf(" %02x", p[i]);
            printf("\n");
            p += p[1];
        }
    }
}

int main(void)
{
    if (cmdline_has("verbose"))
        dump();
    test_root();
    if (!rsdp)
        return 0;
    test_fadt();
    test_madt();
    test_pm_timer();
    test_acpi_mode();
    return 0;
}
