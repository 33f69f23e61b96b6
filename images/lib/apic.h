/* The local APIC in xAPIC mode (MMIO at 0xFEE00000) and x2APIC mode (MSRs
 * 0x800 + offset / 16), behind one register interface that follows the
 * mode of the CPU it runs on (IA32_APIC_BASE bit 10), and the I/O APIC at
 * 0xFEC00000. SDM Vol. 3A chapter 11 (10 in older editions) "Advanced
 * Programmable Interrupt Controller (APIC)"; Intel 82093AA I/O APIC
 * datasheet. */
#ifndef IMAGES_APIC_H
#define IMAGES_APIC_H

#include <stdint.h>

#define APIC_DEFAULT_BASE 0xFEE00000u
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_EXTD (1u << 10)
#define APIC_BASE_EN (1u << 11)

/* Register offsets (xAPIC MMIO offsets; x2APIC MSR = 0x800 + off / 16). */
#define APIC_ID 0x020
#define APIC_VERSION 0x030
#define APIC_TPR 0x080
#define APIC_APR 0x090
#define APIC_PPR 0x0A0
#define APIC_EOI 0x0B0
#define APIC_LDR 0x0D0
#define APIC_DFR 0x0E0
#define APIC_SPIV 0x0F0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVTTHMR 0x330
#define APIC_LVTPC 0x340
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVTERR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3E0
#define APIC_SELF_IPI 0x3F0 /* x2APIC only */

#define APIC_SPIV_ENABLE (1u << 8)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_LEVEL (1u << 15)
#define APIC_LVTT_ONESHOT (0u << 17)
#define APIC_LVTT_PERIODIC (1u << 17)
#define APIC_LVTT_TSCDEADLINE (2u << 17)
#define APIC_TDCR_DIV1 0xB
#define APIC_TDCR_DIV2 0x0
#define APIC_TDCR_DIV16 0x3

/* ICR low word. */
#define APIC_DM_FIXED (0u << 8)
#define APIC_DM_LOWEST (1u << 8)
#define APIC_DM_SMI (2u << 8)
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_INIT (5u << 8)
#define APIC_DM_STARTUP (6u << 8)
#define APIC_DM_EXTINT (7u << 8)
#define APIC_DEST_LOGICAL (1u << 11)
#define APIC_ICR_BUSY (1u << 12)
#define APIC_LEVEL_ASSERT (1u << 14)
#define APIC_TRIGGER_LEVEL (1u << 15)
#define APIC_DEST_SELF (1u << 18)
#define APIC_DEST_ALL (2u << 18)
#define APIC_DEST_ALL_BUT_SELF (3u << 18)

#define MSR_X2APIC_BASE 0x800u
#define MSR_TSC_DEADLINE 0x6E0u

#define CPU_APIC() cpu_has_feature(1, 0, 'd', 9)
#define CPU_X2APIC() cpu_has_feature(1, 0, 'c', 21)
#define CPU_TSC_DEADLINE() cpu_has_feature(1, 0, 'c', 24)

/* Whether this CPU's APIC is in x2APIC mode (reads IA32_APIC_BASE). */
int apic_is_x2apic(void);
uint32_t apic_read(unsigned reg);
void apic_write(unsigned reg, uint32_t v);
/* The APIC ID of this CPU: ID[31:24] in xAPIC mode, the 32-bit x2APIC ID
 * otherwise. */
uint32_t apic_id(void);
void apic_eoi(void);
/* Sends an IPI: `dest` is the destination field (8 bits in xAPIC mode,
 * 32 in x2APIC mode), `low` the ICR low word. Waits for delivery status
 * to clear before (xAPIC) and returns 1 when it cleared afterwards within
 * a bounded poll (always 1 in x2APIC mode, which has no such bit). */
int apic_send_ipi(uint32_t dest, uint32_t low);
/* SPIV = enable | spurious vector. */
void apic_sw_enable(uint8_t spurious_vector);
/* Bit `vector` of ISR, TMR or IRR (base APIC_ISR, APIC_TMR, APIC_IRR). */
int apic_vector_bit(unsigned base, unsigned vector);
/* The highest vector set in ISR or IRR, or -1. */
int apic_highest(unsigned base);
/* Switches this CPU to x2APIC mode (EN and EXTD); xAPIC mode first. */
void apic_enable_x2apic(void);
/* Back to xAPIC mode the only way the SDM allows: disable (EN=0, EXTD=0),
 * then enable (EN=1). The APIC then starts from its reset state. */
void apic_x2apic_to_xapic(void);

/* I/O APIC. */
#define IOAPIC_DEFAULT_BASE 0xFEC00000u
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_REDTBL 0x10
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_REMOTE_IRR (1u << 14)
#define IOAPIC_ACTIVE_LOW (1u << 13)
#define IOAPIC_DELIVS (1u << 12)
#define IOAPIC_DEST_LOGICAL (1u << 11)

extern uint32_t ioapic_base;
uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
/* Redirection entry for a pin: low word and destination (bits 63:56). */
uint32_t ioapic_redir_low(unsigned pin);
uint32_t ioapic_redir_high(unsigned pin);
void ioapic_set_redir(unsigned pin, uint32_t low, uint8_t dest);
void ioapic_mask(unsigned pin, int masked);

#endif
