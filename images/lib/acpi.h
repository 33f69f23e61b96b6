/* ACPI tables as firmware leaves them: the RSDP found the way an OS finds
 * it on a PC (first KiB of the EBDA, then 0xE0000-0xFFFFF on 16-byte
 * boundaries), the RSDT/XSDT, and the parts of the FADT and MADT that
 * bare-metal tests use. ACPI 6.x §5.2 "ACPI System Description Tables". */
#ifndef IMAGES_ACPI_H
#define IMAGES_ACPI_H

#include <stdint.h>

struct __attribute__((packed)) acpi_rsdp
{
    char signature[8]; /* "RSD PTR " */
    uint8_t checksum;  /* of the first 20 bytes */
    char oem_id[6];
    uint8_t revision; /* 0: ACPI 1.0 (20 bytes); 2: ACPI 2.0+ (36 bytes) */
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum; /* of all `length` bytes */
    uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_header
{
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
};

/* Generic Address Structure (§5.2.3.2). */
struct __attribute__((packed)) acpi_gas
{
    uint8_t space_id; /* 0 memory, 1 system I/O */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
};

/* Byte offsets in the FADT (§5.2.9, table "FADT Format"). */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_SMI_CMD 48
#define FADT_ACPI_ENABLE 52
#define FADT_ACPI_DISABLE 53
#define FADT_PM1A_EVT_BLK 56
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_PM_TMR_LEN 91
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140
#define FADT_X_PM_TMR_BLK 208
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define FADT_FLAG_RESET_REG_SUP (1u << 10)
#define FADT_FLAG_HW_REDUCED (1u << 20)
#define PM1_CNT_SCI_EN 1u

/* MADT (§5.2.12). */
#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_OVERRIDE 2
#define MADT_NMI_SOURCE 3
#define MADT_LOCAL_APIC_NMI 4
#define MADT_LOCAL_X2APIC 9
#define MADT_MAX_CPUS 64
#define MADT_MAX_IOAPICS 4

struct madt_info
{
    int found;
    uint32_t lapic_address;
    uint32_t flags; /* bit 0 PCAT_COMPAT: dual 8259s present */
    unsigned ncpus; /* enabled processors (local APIC and x2APIC entries) */
    unsigned ncpu_entries; /* all processor entries, enabled or not */
    uint32_t apic_ids[MADT_MAX_CPUS]; /* of the enabled ones, in table order */
    uint8_t processor_uids[MADT_MAX_CPUS];
    unsigned nioapics;
    uint8_t ioapic_ids[MADT_MAX_IOAPICS];
    uint32_t ioapic_addresses[MADT_MAX_IOAPICS];
    uint32_t ioapic_gsi_bases[MADT_MAX_IOAPICS];
    /* Interrupt source overrides, indexed by ISA IRQ: GSI and MPS flags;
     * isa_gsi[n] = n and isa_flags[n] = 0 (bus default) without one. */
    uint32_t isa_gsi[16];
    uint16_t isa_flags[16];
    uint16_t isa_overridden; /* bit n: an override for IRQ n exists */
    unsigned noverrides;
    unsigned nlapic_nmi;
    int bad_entry; /* an entry with length < 2 or running past the table */
};

uint8_t acpi_checksum(const void *p, uint32_t len);
/* Searches the EBDA (segment at 0x40E), then 0xE0000-0xFFFFF. Only
 * candidates with the signature and a valid 20-byte checksum count.
 * *where (if not null) receives 1 for the EBDA, 2 for the BIOS area. */
const struct acpi_rsdp *acpi_find_rsdp(int *where);
/* The n-th table with this signature listed by the XSDT (when the RSDP
 * has one) or the RSDT; "DSDT" and "FACS" are found through the FADT.
 * Null when absent. Tables are identity-mapped below 4 GiB. */
const struct acpi_header *acpi_find_table(const char *signature, unsigned n);
/* Fills *m from the MADT; returns m->found. */
int acpi_parse_madt(struct madt_info *m);
/* The PM timer I/O port from the FADT (X_PM_TMR_BLK when it holds a
 * system-I/O address, else PM_TMR_BLK) and whether it is 32 bits wide;
 * 0 when there is no FADT or no timer. */
uint16_t acpi_pm_timer_port(int *is32);

static inline uint32_t acpi_u32(const void *table, unsigned off)
{
    const uint8_t *p = (const uint8_t *)table + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t acpi_u64(const void *table, unsigned off)
{
    return acpi_u32(table, off) | (uint64_t)acpi_u32(table, off + 4) << 32;
}

#endif
