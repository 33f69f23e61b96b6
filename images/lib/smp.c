#include "smp.h"
#include "apic.h"
#include "idt.h"
#include "pit.h"
#include "util.h"
#include "x86.h"

__attribute__((aligned(4096))) struct cpu smp_cpus[SMP_MAX_CPUS];
unsigned smp_ncpus;
volatile uint32_t smp_unknown;
void (*smp_ap_init_hook)(struct cpu *c);

/* Read by the trampoline (ap_boot.S). */
uint32_t smp_boot_cr0, smp_boot_cr3, smp_boot_cr4, smp_boot_efer;
volatile uint32_t smp_stack_next;
__attribute__((aligned(16))) uint8_t smp_stacks[SMP_STACK_SLOTS][SMP_STACK_SIZE];
static struct descriptor_pointer smp_idtr;

extern char ap_tramp_start[], ap_tramp_end[];

int smp_index_of(uint32_t apic_id)
{
    for (unsigned i = 0; i < smp_ncpus; i++)
        if (smp_cpus[i].apic_id == apic_id)
            return (int)i;
    return -1;
}

static void kick_handler(struct exc_frame *f);

static void load_cpu_tables(struct cpu *c)
{
    memcpy(c->gdt, gdt, sizeof c->gdt);
    memset(&c->tss, 0, sizeof c->tss);
    c->tss.rsp[0] = (uint64_t)(c->ist_df + SMP_IST_SIZE); /* no ring 3 on APs */
    c->tss.ist[IST_DOUBLE_FAULT] = (uint64_t)(c->ist_df + SMP_IST_SIZE);
    c->tss.ist[IST_NMI] = (uint64_t)(c->ist_nmi + SMP_IST_SIZE);
    c->tss.iomap_base = sizeof c->tss;
    uint64_t base = (uint64_t)&c->tss;
    c->gdt[SEL_TSS >> 3] = make_descriptor((uint32_t)base, sizeof c->tss - 1, 0x89, 0);
    c->gdt[(SEL_TSS >> 3) + 1] = base >> 32;
    struct descriptor_pointer gdtr = {sizeof c->gdt - 1, (uint64_t)c->gdt};
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_TSS));
    __asm__ volatile("lidt %0" : : "m"(smp_idtr));
    wrmsr(MSR_GS_BASE, (uint64_t)c);
}

void smp_init(const uint32_t *apic_ids, unsigned n)
{
    if (n > SMP_MAX_CPUS)
        n = SMP_MAX_CPUS;
    smp_ncpus = n;
    exc_set_handler(SMP_KICK_VECTOR, kick_handler);
    for (unsigned i = 0; i < n; i++)
    {
        smp_cpus[i].self = &smp_cpus[i];
        smp_cpus[i].index = i;
        smp_cpus[i].apic_id = apic_ids[i];
    }
    __asm__ volatile("sidt %0" : "=m"(smp_idtr));
    /* The BSP keeps the runtime's GDT and TSS; only GS_BASE is per CPU. */
    int me = smp_index_of(apic_id());
    struct cpu *c = me >= 0 ? &smp_cpus[me] : &smp_cpus[0];
    c->boots = 1;
    c->ready = 1;
    wrmsr(MSR_GS_BASE, (uint64_t)c);
}

/* Entered from ap_boot.S on the AP's fresh stack, in 64-bit mode, with
 * the runtime's GDT and no IDT of its own yet. */
__attribute__((noreturn)) void ap_main(void)
{
    uint32_t id = cpuid(1).b >> 24;
    uint32_t x2id = ~0u;
    if (cpuid(0).a >= 0xB && cpuid_count(0xB, 0).b != 0)
    {
        x2id = cpuid_count(0xB, 0).d;
        id = x2id;
    }
    int idx = smp_index_of(id);
    if (idx < 0)
    {
        __atomic_add_fetch(&smp_unknown, 1, __ATOMIC_SEQ_CST);
        halt_forever();
    }
    struct cpu *c = &smp_cpus[idx];
    load_cpu_tables(c);
    c->cpuid_apic_id = cpuid(1).b >> 24;
    c->cpuid_x2apic_id = x2id;
    c->apic_base = rdmsr(MSR_APIC_BASE);
    c->apic_reg_id = apic_id();
    c->efer = rdmsr(MSR_EFER);
    c->cr0 = read_cr0();
    c->cr4 = read_cr4();
    c->done_seq = c->req_seq;
    apic_sw_enable(0xFF);
    apic_write(APIC_TPR, 0);
    if (smp_ap_init_hook)
        smp_ap_init_hook(c);
    __atomic_add_fetch(&c->boots, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
    /* Idle in HLT with interrupts enabled; smp_call() sends a kick IPI.
     * The mailbox is checked with IF=0 and "sti; hlt" cannot lose a kick
     * that arrives in between: STI's shadow covers HLT. */
    for (;;)
    {
        __asm__ volatile("cli" ::: "memory");
        uint32_t r = __atomic_load_n(&c->req_seq, __ATOMIC_ACQUIRE);
        if (r != c->done_seq)
        {
            __asm__ volatile("sti" ::: "memory");
            c->fn(c->arg);
            __atomic_store_n(&c->done_seq, r, __ATOMIC_RELEASE);
        }
        else
            __asm__ volatile("sti; hlt" ::: "memory");
    }
}

static void kick_handler(struct exc_frame *f)
{
    apic_eoi();
}

void smp_install_trampoline(uint32_t tramp_phys)
{
    smp_boot_cr0 = (uint32_t)read_cr0();
    smp_boot_cr3 = (uint32_t)read_cr3();
    smp_boot_cr4 = (uint32_t)read_cr4();
    smp_boot_efer = (uint32_t)rdmsr(MSR_EFER) & ~(uint32_t)EFER_LMA;
    /* By hand rather than memcpy: the destination is often physical page
     * 0, a null pointer as far as the compiler knows. */
    uint64_t dst = tramp_phys, n = (uint64_t)(ap_tramp_end - ap_tramp_start);
    const char *src = ap_tramp_start;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

int smp_wait_ready(unsigned cpu, uint32_t timeout_ms)
{
    struct pit_timeout t;
    pit_timeout_start(&t, timeout_ms);
    while (!__atomic_load_n(&smp_cpus[cpu].ready, __ATOMIC_ACQUIRE))
        if (pit_timeout_expired(&t))
            return 0;
    return 1;
}

unsigned smp_boot_aps(uint32_t tramp_phys, uint32_t timeout_ms)
{
    smp_install_trampoline(tramp_phys);
    /* INIT to all excluding self (0xC4500), then a single STARTUP
     * (0xC06vv, level bit clear as kvm-unit-tests sends it) with no delay,
     * as QEMU guests do. */
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_LEVEL_ASSERT | APIC_DM_INIT);
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_STARTUP | (tramp_phys >> 12));
    struct pit_timeout t;
    pit_timeout_start(&t, timeout_ms);
    unsigned want = smp_ncpus, have;
    for (;;)
    {
        have = 0;
        for (unsigned i = 0; i < smp_ncpus; i++)
            have += __atomic_load_n(&smp_cpus[i].ready, __ATOMIC_ACQUIRE) != 0;
        if (have >= want || pit_timeout_expired(&t))
            break;
        __asm__ volatile("pause");
    }
    return have;
}

void smp_call(unsigned cpu, void (*fn)(void *), void *arg)
{
    struct cpu *c = &smp_cpus[cpu];
    c->fn = fn;
    c->arg = arg;
    __atomic_store_n(&c->req_seq, c->req_seq + 1, __ATOMIC_RELEASE);
    apic_send_ipi(c->apic_id, SMP_KICK_VECTOR);
}

int smp_wait(unsigned cpu, uint32_t timeout_ms)
{
    struct cpu *c = &smp_cpus[cpu];
    struct pit_timeout t;
    pit_timeout_start(&t, timeout_ms);
    while (__atomic_load_n(&c->done_seq, __ATOMIC_ACQUIRE) != c->req_seq)
    {
        if (pit_timeout_expired(&t))
            return 0;
        __asm__ volatile("pause");
    }
    return 1;
}

int smp_run(unsigned cpu, void (*fn)(void *), void *arg, uint32_t timeout_ms)
{
    smp_call(cpu, fn, arg);
    return smp_wait(cpu, timeout_ms);
}
