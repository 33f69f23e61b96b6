/* Application processors: start-up by INIT and one SIPI (broadcast to all
 * but self, as QEMU guests do), a real-mode trampoline copied below 1 MiB
 * that enters long mode with the BSP's page tables, per-CPU data through
 * GS_BASE, per-CPU GDT/TSS (with IST stacks), and a mailbox: an idle AP
 * waits in HLT with interrupts enabled and smp_call() wakes it with a
 * fixed IPI on SMP_KICK_VECTOR (its APIC is software-enabled with spurious
 * vector 0xFF). SDM Vol. 3A §9.4 "Multiple-Processor (MP)
 * Initialization" (chapter 8 in older editions). APs never print: the BSP
 * reports what they recorded, so the output does not depend on timing. */
#ifndef IMAGES_SMP_H
#define IMAGES_SMP_H

#include "desc.h"

/* Also used by ap_boot.S. */
#define SMP_MAX_CPUS 16
#define SMP_STACK_SIZE 16384
#define SMP_STACK_SLOTS (SMP_MAX_CPUS + 8) /* restarts take a fresh stack */
#define SMP_IST_SIZE 8192
/* The IPI smp_call() sends to wake an AP idling in HLT (handler: EOI). */
#define SMP_KICK_VECTOR 0xF0

#ifndef __ASSEMBLER__
#include <stdint.h>

struct cpu
{
    struct cpu *self; /* %gs:0 */
    unsigned index;
    uint32_t apic_id; /* from the list given to smp_init */
    volatile uint32_t boots; /* times this CPU went through ap_main */
    volatile uint32_t ready;
    /* Recorded by the AP when it arrives. */
    uint32_t cpuid_apic_id;  /* CPUID.1:EBX[31:24] */
    uint32_t cpuid_x2apic_id; /* CPUID.0BH:EDX, ~0 without leaf 0xB */
    uint32_t apic_reg_id;     /* the APIC ID register */
    uint64_t apic_base;       /* IA32_APIC_BASE */
    uint64_t efer, cr0, cr4;
    /* Mailbox. */
    void (*volatile fn)(void *);
    void *volatile arg;
    volatile uint32_t req_seq, done_seq;
    /* For the tests' own use. */
    volatile uint64_t data[32];
    __attribute__((aligned(16))) uint64_t gdt[GDT_ENTRIES];
    struct tss64 tss;
    __attribute__((aligned(16))) uint8_t ist_df[SMP_IST_SIZE];
    __attribute__((aligned(16))) uint8_t ist_nmi[SMP_IST_SIZE];
};

extern struct cpu smp_cpus[SMP_MAX_CPUS];
extern unsigned smp_ncpus;           /* CPUs in the list, BSP included */
extern volatile uint32_t smp_unknown; /* APs whose APIC id is not in the list */
/* Run on each AP after it set itself up, before it reports ready. */
extern void (*smp_ap_init_hook)(struct cpu *c);

/* Describes the CPUs (APIC ids, e.g. from the MADT; the BSP's among them)
 * and sets up the BSP's per-CPU data. */
void smp_init(const uint32_t *apic_ids, unsigned n);
/* Copies the trampoline to `tramp_phys` (4 KiB-aligned, below 1 MiB),
 * sends INIT then one SIPI to all but self, and waits up to timeout_ms for
 * the other CPUs of the list to report ready. Returns how many did. */
unsigned smp_boot_aps(uint32_t tramp_phys, uint32_t timeout_ms);
/* Copies the trampoline only (for targeted INIT/SIPI by the caller). */
void smp_install_trampoline(uint32_t tramp_phys);
/* Waits until cpu's ready flag is set (1) or the timeout passes (0). */
int smp_wait_ready(unsigned cpu, uint32_t timeout_ms);

/* Posts fn(arg) to an AP's mailbox; smp_wait returns 1 when it finished
 * within the timeout. smp_run does both. */
void smp_call(unsigned cpu, void (*fn)(void *), void *arg);
int smp_wait(unsigned cpu, uint32_t timeout_ms);
int smp_run(unsigned cpu, void (*fn)(void *), void *arg, uint32_t timeout_ms);

static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

/* The index in the list for an APIC id, or -1. */
int smp_index_of(uint32_t apic_id);

struct spinlock
{
    volatile uint32_t locked;
};
static inline void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            __asm__ volatile("pause");
}
static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif /* __ASSEMBLER__ */

#endif
