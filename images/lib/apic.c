#include "apic.h"
#include "x86.h"

uint32_t ioapic_base = IOAPIC_DEFAULT_BASE;

static volatile uint32_t *xapic_reg(unsigned reg)
{
    return (volatile uint32_t *)(uintptr_t)(APIC_DEFAULT_BASE + reg);
}

int apic_is_x2apic(void)
{
    return (rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD) != 0;
}

uint32_t apic_read(unsigned reg)
{
    if (apic_is_x2apic())
        return (uint32_t)rdmsr(MSR_X2APIC_BASE + reg / 16);
    return *xapic_reg(reg);
}

void apic_write(unsigned reg, uint32_t v)
{
    if (apic_is_x2apic())
        wrmsr(MSR_X2APIC_BASE + reg / 16, v);
    else
        *xapic_reg(reg) = v;
}

uint32_t apic_id(void)
{
    if (apic_is_x2apic())
        return (uint32_t)rdmsr(MSR_X2APIC_BASE + APIC_ID / 16);
    return *xapic_reg(APIC_ID) >> 24;
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

int apic_send_ipi(uint32_t dest, uint32_t low)
{
    if (apic_is_x2apic())
    {
        /* SDM: in x2APIC mode the ICR is one 64-bit MSR (0x830) and the
         * write is the send; there is no delivery status to poll. */
        wrmsr(MSR_X2APIC_BASE + APIC_ICR / 16, ((uint64_t)dest << 32) | low);
        return 1;
    }
    for (unsigned i = 0; i < 1000000 && (*xapic_reg(APIC_ICR) & APIC_ICR_BUSY); i++)
        __asm__ volatile("pause");
    *xapic_reg(APIC_ICR2) = dest << 24;
    *xapic_reg(APIC_ICR) = low;
    for (unsigned i = 0; i < 1000000; i++)
    {
        if (!(*xapic_reg(APIC_ICR) & APIC_ICR_BUSY))
            return 1;
        __asm__ volatile("pause");
    }
    return 0;
}

void apic_sw_enable(uint8_t spurious_vector)
{
    apic_write(APIC_SPIV, APIC_SPIV_ENABLE | spurious_vector);
}

int apic_vector_bit(unsigned base, unsigned vector)
{
    return (apic_read(base + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

int apic_highest(unsigned base)
{
    for (int i = 7; i >= 0; i--)
    {
        uint32_t v = apic_read(base + (unsigned)i * 0x10);
        if (v)
            return i * 32 + 31 - __builtin_clz(v);
    }
    return -1;
}

void apic_enable_x2apic(void)
{
    uint64_t b = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, b | APIC_BASE_EN | APIC_BASE_EXTD);
}

void apic_x2apic_to_xapic(void)
{
    uint64_t b = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, b & ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD));
    wrmsr(MSR_APIC_BASE, (b & ~(uint64_t)APIC_BASE_EXTD) | APIC_BASE_EN);
}

uint32_t ioapic_read(unsigned reg)
{
    volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)ioapic_base;
    io[0] = reg;
    return io[4];
}

void ioapic_write(unsigned reg, uint32_t v)
{
    volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)ioapic_base;
    io[0] = reg;
    io[4] = v;
}

uint32_t ioapic_redir_low(unsigned pin)
{
    return ioapic_read(IOAPIC_REG_REDTBL + 2 * pin);
}

uint32_t ioapic_redir_high(unsigned pin)
{
    return ioapic_read(IOAPIC_REG_REDTBL + 2 * pin + 1);
}

void ioapic_set_redir(unsigned pin, uint32_t low, uint8_t dest)
{
    /* Masked while the entry is half written. */
    ioapic_write(IOAPIC_REG_REDTBL + 2 * pin, IOAPIC_MASKED);
    ioapic_write(IOAPIC_REG_REDTBL + 2 * pin + 1, (uint32_t)dest << 24);
    ioapic_write(IOAPIC_REG_REDTBL + 2 * pin, low);
}

void ioapic_mask(unsigned pin, int masked)
{
    uint32_t low = ioapic_redir_low(pin);
    low = masked ? (low | IOAPIC_MASKED) : (low & ~IOAPIC_MASKED);
    ioapic_write(IOAPIC_REG_REDTBL + 2 * pin, low);
}
