#include "acpi.h"
#include "util.h"

uint8_t acpi_checksum(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    while (len--)
        sum = (uint8_t)(sum + *b++);
    return sum;
}

static const struct acpi_rsdp *scan(uintptr_t start, uintptr_t end)
{
    for (uintptr_t a = start; a + 20 <= end; a += 16)
    {
        const struct acpi_rsdp *r = (const void *)a;
        if (!memcmp(r->signature, "RSD PTR ", 8) && acpi_checksum(r, 20) == 0)
            return r;
    }
    return 0;
}

const struct acpi_rsdp *acpi_find_rsdp(int *where)
{
    /* ACPI §5.2.5.1 "Finding the RSDP on IA-PC Systems": the first 1 KiB
     * of the EBDA, whose segment is the BDA word at 0x40E, then the BIOS
     * read-only area 0xE0000-0xFFFFF. */
    uintptr_t ebda = (uintptr_t)*(volatile uint16_t *)(uintptr_t)0x40E << 4;
    const struct acpi_rsdp *r = 0;
    if (ebda >= 0x80000 && ebda < 0xA0000)
        r = scan(ebda, ebda + 1024);
    if (r)
    {
        if (where)
            *where = 1;
        return r;
    }
    r = scan(0xE0000, 0x100000);
    if (where)
        *where = r ? 2 : 0;
    return r;
}

static const struct acpi_header *fadt_pointer(const struct acpi_header *fadt, unsigned off32, unsigned off64)
{
    if (off64 && fadt->length >= off64 + 8 && acpi_u64(fadt, off64))
        return (const void *)(uintptr_t)acpi_u64(fadt, off64);
    if (fadt->length >= off32 + 4 && acpi_u32(fadt, off32))
        return (const void *)(uintptr_t)acpi_u32(fadt, off32);
    return 0;
}

const struct acpi_header *acpi_find_table(const char *signature, unsigned n)
{
    int is_dsdt = !memcmp(signature, "DSDT", 4), is_facs = !memcmp(signature, "FACS", 4);
    if (is_dsdt || is_facs)
    {
        if (n)
            return 0;
        const struct acpi_header *fadt = acpi_find_table("FACP", 0);
        if (!fadt)
            return 0;
        return is_dsdt ? fadt_pointer(fadt, FADT_DSDT, FADT_X_DSDT)
                       : fadt_pointer(fadt, FADT_FIRMWARE_CTRL, FADT_X_FIRMWARE_CTRL);
    }
    const struct acpi_rsdp *rsdp = acpi_find_rsdp(0);
    if (!rsdp)
        return 0;
    const struct acpi_header *root;
    unsigned entry_size;
    if (rsdp->revision >= 2 && rsdp->xsdt_address && rsdp->xsdt_address < (1ull << 32))
    {
        root = (const void *)(uintptr_t)rsdp->xsdt_address;
        entry_size = 8;
    }
    else
    {
        root = (const void *)(uintptr_t)rsdp->rsdt_address;
        entry_size = 4;
    }
    if (!root || root->length < sizeof *root)
        return 0;
    unsigned entries = (root->length - (unsigned)sizeof *root) / entry_size;
    for (unsigned i = 0; i < entries; i++)
    {
        unsigned off = (unsigned)sizeof *root + i * entry_size;
        uint64_t addr = entry_size == 8 ? acpi_u64(root, off) : acpi_u32(root, off);
        if (!addr || addr >= (1ull << 32))
            continue;
        const struct acpi_header *t = (const void *)(uintptr_t)addr;
        if (!memcmp(t->signature, signature, 4) && n-- == 0)
            return t;
    }
    return 0;
}

int acpi_parse_madt(struct madt_info *m)
{
    memset(m, 0, sizeof *m);
    for (unsigned i = 0; i < 16; i++)
        m->isa_gsi[i] = i;
    const struct acpi_header *t = acpi_find_table("APIC", 0);
    if (!t || t->length < 44)
        return 0;
    m->found = 1;
    m->lapic_address = acpi_u32(t, 36);
    m->flags = acpi_u32(t, 40);
    const uint8_t *p = (const uint8_t *)t + 44, *end = (const uint8_t *)t + t->length;
    while (p < end)
    {
        if (end - p < 2 || p[1] < 2 || p + p[1] > end)
        {
            m->bad_entry = 1;
            break;
        }
        uint8_t type = p[0], len = p[1];
        if (type == MADT_LOCAL_APIC && len >= 8)
        {
            m->ncpu_entries++;
            if ((acpi_u32(p, 4) & 1) && m->ncpus < MADT_MAX_CPUS)
            {
                m->processor_uids[m->ncpus] = p[2];
                m->apic_ids[m->ncpus++] = p[3];
            }
        }
        else if (type == MADT_LOCAL_X2APIC && len >= 16)
        {
            m->ncpu_entries++;
            if ((acpi_u32(p, 8) & 1) && m->ncpus < MADT_MAX_CPUS)
            {
                m->processor_uids[m->ncpus] = (uint8_t)acpi_u32(p, 12);
                m->apic_ids[m->ncpus++] = acpi_u32(p, 4);
            }
        }
        else if (type == MADT_IO_APIC && len >= 12 && m->nioapics < MADT_MAX_IOAPICS)
        {
            m->ioapic_ids[m->nioapics] = p[2];
            m->ioapic_addresses[m->nioapics] = acpi_u32(p, 4);
            m->ioapic_gsi_bases[m->nioapics++] = acpi_u32(p, 8);
        }
        else if (type == MADT_OVERRIDE && len >= 10)
        {
            m->noverrides++;
            if (p[2] == 0 && p[3] < 16) /* bus 0 = ISA */
            {
                m->isa_gsi[p[3]] = acpi_u32(p, 4);
                m->isa_flags[p[3]] = (uint16_t)(p[8] | p[9] << 8);
                m->isa_overridden |= (uint16_t)(1u << p[3]);
            }
        }
        else if (type == MADT_LOCAL_APIC_NMI)
            m->nlapic_nmi++;
        p += len;
    }
    return 1;
}

uint16_t acpi_pm_timer_port(int *is32)
{
    const struct acpi_header *f = acpi_find_table("FACP", 0);
    if (!f || f->length < FADT_PM_TMR_LEN + 1)
        return 0;
    uint32_t flags = f->length >= FADT_FLAGS + 4 ? acpi_u32(f, FADT_FLAGS) : 0;
    if (is32)
        *is32 = (flags & FADT_FLAG_TMR_VAL_EXT) != 0;
    if (f->length >= FADT_X_PM_TMR_BLK + 12)
    {
        const uint8_t *g = (const uint8_t *)f + FADT_X_PM_TMR_BLK;
        uint64_t addr = acpi_u64(g, 4);
        if (g[0] == 1 && addr && addr < 0x10000)
            return (uint16_t)addr;
    }
    return (uint16_t)acpi_u32(f, FADT_PM_TMR_BLK);
}
