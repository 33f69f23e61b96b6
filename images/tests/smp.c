/* smp: the CPU count from fw_cfg and the MADT, every AP started with INIT
 * and one STARTUP IPI broadcast to all but self (no delay in between, the
 * trampoline at physical page 0), each AP in long mode reporting its APIC
 * id from CPUID and from the APIC ID register, a spinlock-protected counter
 * incremented by every CPU, and IPIs of each delivery mode and destination
 * kind: fixed to one AP (physical), all excluding self, all including self,
 * physical broadcast, logical flat model, lowest priority, NMI, AP to BSP
 * and AP to AP, a HLT woken by an IPI, STARTUP ignored by a running AP,
 * INIT + STARTUP restarting one; then the same in x2APIC mode when CPUID
 * advertises it. With one CPU the AP parts are skipped. SDM Vol. 3A §9.4
 * "Multiple-Processor (MP) Initialization", §11.6 "Issuing
 * Interprocessor Interrupts", §11.12 "Extended XAPIC (x2APIC)". */
#include "acpi.h"
#include "apic.h"
#include "fwcfg.h"
#include "pic.h"
#include "pit.h"
#include "runtime.h"
#include "smp.h"

#define TRAMP_PHYS 0x0000 /* SIPI vector 0: CS:IP = 0000:0000 */
#define V_FIRST 0x50
#define V_FIXED 0x50
#define V_BCAST 0x51
#define V_ALLINC 0x52
#define V_PHYS_BCAST 0x53
#define V_LOGICAL 0x54
#define V_LOWEST 0x55
#define V_TO_BSP 0x56
#define V_AP_TO_AP 0x57
#define V_HLT 0x58
#define V_SELF 0x59
#define V_X2_FIXED 0x5A
#define V_X2_BCAST 0x5B
#define V_X2_LOGICAL 0x5C
#define V_X2_SELF 0x5D
#define V_AFTER 0x5E
#define V_LAST 0x5E
#define SPURIOUS 0xFF

/* struct cpu data[] slots: 0..15 count vectors V_FIRST.., then: */
#define D_NMI 16
#define D_NMI_STACK_OK 17
#define D_HLT_READY 18
#define D_HLT_WOKE 19
#define D_LDR 20
#define D_DFR 21
#define D_X2_ID 22
#define D_X2_LDR 23
#define D_X2_BASE 24
#define D_SPIV 25
#define D_WORK_DONE 26

#define COUNTER_ITERATIONS 20000
#define WAIT_MS 1000

static unsigned ncpus;     /* from the MADT (or fw_cfg) */
static unsigned online;    /* CPUs that reported in */
static unsigned bsp_index;
static uint32_t ids[SMP_MAX_CPUS];

static inline uint64_t count_of(unsigned cpu, unsigned vector)
{
    return smp_cpus[cpu].data[vector - V_FIRST];
}

static void ipi_handler(struct exc_frame *f)
{
    this_cpu()->data[f->vector - V_FIRST]++;
    apic_eoi();
}

static void nmi_handler(struct exc_frame *f)
{
    struct cpu *c = this_cpu();
    uint64_t rsp = (uint64_t)f;
    uint64_t lo, hi;
    if (c->index == bsp_index)
    {
        lo = (uint64_t)ist_stacks[IST_NMI];
        hi = lo + IST_STACK_SIZE;
    }
    else
    {
        lo = (uint64_t)c->ist_nmi;
        hi = lo + SMP_IST_SIZE;
    }
    if (rsp >= lo && rsp < hi)
        c->data[D_NMI_STACK_OK]++;
    c->data[D_NMI]++;
}

static void spurious_handler(struct exc_frame *f)
{
    /* SDM §11.9: no EOI for the spurious vector. */
}

/* xAPIC flat logical model: CPU i gets LDR bit i (i < 8). */
static void set_flat_logical(unsigned index)
{
    apic_write(APIC_DFR, 0xFFFFFFFFu);
    apic_write(APIC_LDR, index < 8 ? (1u << index) << 24 : 0);
}

static void ap_init(struct cpu *c)
{
    apic_sw_enable(SPURIOUS);
    apic_write(APIC_TPR, 0);
    set_flat_logical(c->index);
    c->data[D_LDR] = apic_read(APIC_LDR);
    c->data[D_DFR] = apic_read(APIC_DFR);
    c->data[D_SPIV] = apic_read(APIC_SPIV);
}

static int wait_until(volatile uint64_t *p, uint64_t want, uint32_t ms)
{
    struct pit_timeout t;
    pit_timeout_start(&t, ms);
    while (*p < want)
        if (pit_timeout_expired(&t))
            return 0;
    return 1;
}

/* A short settling time so that a wrongly delivered IPI has time to show. */
static void settle(void)
{
    pit_delay_us(2000);
}

static void clear_counts(void)
{
    for (unsigned i = 0; i < ncpus; i++)
        for (unsigned v = 0; v <= V_LAST - V_FIRST; v++)
            smp_cpus[i].data[v] = 0;
}

/* ------------------------------------------------------------------ */

static void test_count(void)
{
    unsigned nfw = fwcfg_cpu_count();
    struct madt_info m;
    acpi_parse_madt(&m);
    report("fw_cfg present: CPU count from NB_CPUS (key 0x0005)", nfw > 0);
    report("MADT found with enabled processors", m.found && m.ncpus > 0);
    reportf(nfw == m.ncpus, "fw_cfg NB_CPUS equals the MADT's enabled processors (%u)", nfw);
    if (m.found && m.ncpus)
    {
        ncpus = m.ncpus;
        for (unsigned i = 0; i < ncpus && i < SMP_MAX_CPUS; i++)
            ids[i] = m.apic_ids[i];
    }
    else
    {
        ncpus = nfw ? nfw : 1;
        for (unsigned i = 0; i < ncpus && i < SMP_MAX_CPUS; i++)
            ids[i] = i;
    }
    if (ncpus > SMP_MAX_CPUS)
    {
        printf("  only the first %u CPUs are used\n", SMP_MAX_CPUS);
        ncpus = SMP_MAX_CPUS;
    }
    printf("%u CPU%s\n", ncpus, ncpus == 1 ? "" : "s");
}

static void test_bsp(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    report("BSP: IA32_APIC_BASE has BSP and EN set, base 0xFEE00000",
           (base & APIC_BASE_BSP) && (base & APIC_BASE_EN) && (base & 0xFFFFF000u) == APIC_DEFAULT_BASE);
    apic_sw_enable(SPURIOUS);
    apic_write(APIC_TPR, 0);
    uint32_t id = apic_id();
    report("BSP: APIC ID register equals CPUID.1:EBX[31:24]", id == cpuid(1).b >> 24);
    int idx = -1;
    for (unsigned i = 0; i < ncpus; i++)
        if (ids[i] == id)
            idx = (int)i;
    report("BSP: its APIC id is in the MADT", idx >= 0);
    bsp_index = idx >= 0 ? (unsigned)idx : 0;
    set_flat_logical(bsp_index);
    report("BSP: DFR reads back the flat model (0xFFFFFFFF)", apic_read(APIC_DFR) == 0xFFFFFFFFu);
    report("BSP: LDR reads back", bsp_index >= 8 || apic_read(APIC_LDR) == (1u << bsp_index) << 24);
}

static void test_startup(void)
{
    smp_init(ids, ncpus);
    smp_ap_init_hook = ap_init;
    /* smp_init indexes the list itself; the BSP's slot must be ours. */
    online = smp_boot_aps(TRAMP_PHYS, 3000);
    if (ncpus == 1)
    {
        report("one CPU: INIT + STARTUP to all but self starts nothing", online == 1 && smp_unknown == 0);
        return;
    }
    reportf(online == ncpus, "INIT + one STARTUP (vector 0, all excluding self): %u of %u APs reported in",
            online - 1, ncpus - 1);
    report("no AP with an APIC id missing from the MADT", smp_unknown == 0);
    for (unsigned i = 0; i < ncpus; i++)
    {
        if (i == bsp_index)
            continue;
        struct cpu *c = &smp_cpus[i];
        if (!c->ready)
        {
            reportf(0, "cpu %u (APIC id %u) started", i, ids[i]);
            continue;
        }
        reportf(c->cpuid_apic_id == ids[i] && c->apic_reg_id == ids[i],
                "cpu %u: APIC id %u from CPUID.1:EBX and from the APIC ID register", i, ids[i]);
        reportf(c->cpuid_x2apic_id == ~0u || c->cpuid_x2apic_id == ids[i], "cpu %u: CPUID.0BH:EDX x2APIC id agrees", i);
        reportf((c->apic_base & APIC_BASE_EN) && !(c->apic_base & APIC_BASE_BSP) &&
                    (c->apic_base & 0xFFFFF000u) == APIC_DEFAULT_BASE,
                "cpu %u: IA32_APIC_BASE enabled, BSP flag clear, base 0xFEE00000", i);
        reportf((c->efer & EFER_LMA) && (c->cr0 & CR0_PG) && (c->cr4 & CR4_PAE), "cpu %u: in long mode (EFER.LMA, CR0.PG, CR4.PAE)", i);
        reportf(c->data[D_SPIV] == (APIC_SPIV_ENABLE | SPURIOUS) && c->data[D_DFR] == 0xFFFFFFFFu &&
                    (i >= 8 || c->data[D_LDR] == (1u << i) << 24),
                "cpu %u: SPIV, DFR and LDR read back", i);
        reportf(c->boots == 1, "cpu %u: started exactly once", i);
    }
}

/* ------------------------------------------------------------------ */

static struct spinlock counter_lock;
static volatile uint64_t locked_counter, atomic_counter;
static volatile uint32_t go;

static void count_work(void *arg)
{
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
    for (unsigned i = 0; i < COUNTER_ITERATIONS; i++)
    {
        spin_lock(&counter_lock);
        locked_counter = locked_counter + 1; /* a plain read-modify-write, guarded */
        spin_unlock(&counter_lock);
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_RELAXED);
    }
}

static void test_counter(void)
{
    locked_counter = atomic_counter = 0;
    go = 0;
    for (unsigned i = 0; i < ncpus; i++)
        if (i != bsp_index && smp_cpus[i].ready)
            smp_call(i, count_work, 0);
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    count_work(0);
    int all = 1;
    for (unsigned i = 0; i < ncpus; i++)
        if (i != bsp_index && smp_cpus[i].ready)
            all &= smp_wait(i, 20000);
    uint64_t want = (uint64_t)online * COUNTER_ITERATIONS;
    report("every CPU finished its share of the counter loop", all);
    reportf(locked_counter == want, "spinlock-protected counter: %u CPUs x %u increments", online, COUNTER_ITERATIONS);
    reportf(atomic_counter == want, "lock xadd counter: %u CPUs x %u increments", online, COUNTER_ITERATIONS);
}

/* ------------------------------------------------------------------ */

/* Whether exactly the CPUs in `mask` (bit = index) got `vector` once. */
static int got_exactly(unsigned vector, uint32_t mask, uint32_t ms)
{
    for (unsigned i = 0; i < ncpus; i++)
        if (mask & (1u << i))
            wait_until(&smp_cpus[i].data[vector - V_FIRST], 1, ms);
    settle();
    int ok = 1;
    for (unsigned i = 0; i < ncpus; i++)
    {
        uint64_t want = (mask >> i) & 1;
        if (count_of(i, vector) != want)
        {
            printf("  cpu %u got vector 0x%x %lu times, expected %lu\n", i, vector, count_of(i, vector), want);
            ok = 0;
        }
    }
    return ok;
}

static uint32_t all_mask(void)
{
    return ncpus >= 32 ? ~0u : (1u << ncpus) - 1;
}

static uint32_t ap_mask(void)
{
    return all_mask() & ~(1u << bsp_index);
}

static void send_to_bsp(void *arg)
{
    apic_send_ipi(ids[bsp_index], V_TO_BSP);
}

static void send_to_next(void *arg)
{
    unsigned target = (unsigned)(uintptr_t)arg;
    apic_send_ipi(ids[target], V_AP_TO_AP);
}

static void ap_hlt(void *arg)
{
    struct cpu *c = this_cpu();
    __asm__ volatile("cli");
    c->data[D_HLT_READY] = 1;
    /* STI's interrupt shadow covers HLT: an IPI that arrives before HLT
     * still wakes it. */
    __asm__ volatile("sti; hlt" ::: "memory");
    c->data[D_HLT_WOKE] = 1;
}

static void nothing(void *arg)
{
}

static void test_ipis_xapic(void)
{
    __asm__ volatile("sti");
    clear_counts();
    report("self IPI (shorthand self) delivered to the BSP",
           apic_send_ipi(0, APIC_DEST_SELF | V_SELF) && got_exactly(V_SELF, 1u << bsp_index, WAIT_MS));
    if (online < 2)
    {
        const char *why = ncpus == 1 ? "one CPU" : "APs did not start";
        report_skip("IPIs between CPUs (fixed, broadcast, logical, lowest priority, NMI, HLT, INIT/STARTUP)", why);
        return;
    }

    int busy_ok = 1;
    for (unsigned i = 0; i < ncpus; i++)
    {
        if (i == bsp_index)
            continue;
        clear_counts();
        busy_ok &= apic_send_ipi(ids[i], V_FIXED);
        reportf(got_exactly(V_FIXED, 1u << i, WAIT_MS), "fixed IPI, physical destination %u: that AP only, once", ids[i]);
    }
    report("ICR delivery status reads idle after each IPI", busy_ok);

    clear_counts();
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | V_BCAST);
    report("all excluding self (shorthand 11): every AP once, not the BSP", got_exactly(V_BCAST, ap_mask(), WAIT_MS));

    clear_counts();
    apic_send_ipi(0, APIC_DEST_ALL | V_ALLINC);
    report("all including self (shorthand 10): every CPU once", got_exactly(V_ALLINC, all_mask(), WAIT_MS));

    clear_counts();
    apic_send_ipi(0xFF, V_PHYS_BCAST);
    report("physical destination 0xFF: broadcast to every CPU once", got_exactly(V_PHYS_BCAST, all_mask(), WAIT_MS));

    /* Logical flat model: the APs with odd index (within the first 8). */
    uint32_t odd = 0;
    for (unsigned i = 1; i < ncpus && i < 8; i += 2)
        odd |= 1u << i;
    odd &= ~(1u << bsp_index);
    if (odd)
    {
        clear_counts();
        apic_send_ipi(odd, APIC_DEST_LOGICAL | V_LOGICAL);
        reportf(got_exactly(V_LOGICAL, odd, WAIT_MS), "logical destination 0x%02x (flat model): exactly those CPUs", odd);
        clear_counts();
        apic_send_ipi(0, APIC_DEST_LOGICAL | V_LOGICAL);
        report("logical destination 0x00: nobody", got_exactly(V_LOGICAL, 0, WAIT_MS));
    }

    /* Lowest priority to every AP: exactly one of them takes it. */
    clear_counts();
    uint32_t aps = ap_mask() & 0xFF;
    apic_send_ipi(aps, APIC_DEST_LOGICAL | APIC_DM_LOWEST | V_LOWEST);
    {
        struct pit_timeout t;
        pit_timeout_start(&t, WAIT_MS);
        for (;;)
        {
            uint64_t sum = 0;
            for (unsigned i = 0; i < ncpus; i++)
                sum += count_of(i, V_LOWEST);
            if (sum || pit_timeout_expired(&t))
                break;
        }
        settle();
        uint64_t sum = 0;
        int outside = 0;
        for (unsigned i = 0; i < ncpus; i++)
        {
            sum += count_of(i, V_LOWEST);
            if (count_of(i, V_LOWEST) && !(aps & (1u << i)))
                outside = 1;
        }
        reportf(sum == 1 && !outside, "lowest priority, logical destination 0x%02x: exactly one of those CPUs", aps);
    }

    /* NMI to each AP, on its own IST stack. */
    for (unsigned i = 0; i < ncpus; i++)
    {
        if (i == bsp_index)
            continue;
        smp_cpus[i].data[D_NMI] = smp_cpus[i].data[D_NMI_STACK_OK] = 0;
        apic_send_ipi(ids[i], APIC_DM_NMI);
        wait_until(&smp_cpus[i].data[D_NMI], 1, WAIT_MS);
        settle();
        reportf(smp_cpus[i].data[D_NMI] == 1 && smp_cpus[bsp_index].data[D_NMI] == 0,
                "NMI IPI to APIC id %u: taken once by that AP", ids[i]);
        reportf(smp_cpus[i].data[D_NMI_STACK_OK] == 1, "cpu %u: the NMI ran on the AP's IST stack", i);
    }

    /* Each AP sends a fixed IPI to the BSP; then AP to AP. */
    clear_counts();
    int runs = 1;
    for (unsigned i = 0; i < ncpus; i++)
        if (i != bsp_index)
            runs &= smp_run(i, send_to_bsp, 0, WAIT_MS);
    wait_until(&smp_cpus[bsp_index].data[V_TO_BSP - V_FIRST], online - 1, WAIT_MS);
    settle();
    reportf(runs && count_of(bsp_index, V_TO_BSP) == online - 1, "fixed IPIs from the %u APs to the BSP: one each",
            online - 1);
    if (online >= 3)
    {
        unsigned from = bsp_index == 1 ? 2 : 1, to = (from + 1) % ncpus == bsp_index ? (from + 2) % ncpus : (from + 1) % ncpus;
        clear_counts();
        smp_run(from, send_to_next, (void *)(uintptr_t)to, WAIT_MS);
        reportf(got_exactly(V_AP_TO_AP, 1u << to, WAIT_MS), "fixed IPI from cpu %u to cpu %u", from, to);
    }
    else
        report_skip("fixed IPI from one AP to another", "fewer than 3 CPUs");

    /* HLT on an AP, woken by a fixed IPI. */
    unsigned ap = bsp_index == 0 ? 1 : 0;
    struct cpu *c = &smp_cpus[ap];
    c->data[D_HLT_READY] = c->data[D_HLT_WOKE] = 0;
    clear_counts();
    smp_call(ap, ap_hlt, 0);
    wait_until(&c->data[D_HLT_READY], 1, WAIT_MS);
    settle();
    report("AP in HLT (interrupts enabled) is still halted before the IPI", c->data[D_HLT_WOKE] == 0);
    apic_send_ipi(ids[ap], V_HLT);
    reportf(wait_until(&c->data[D_HLT_WOKE], 1, WAIT_MS) && smp_wait(ap, WAIT_MS) && count_of(ap, V_HLT) == 1,
            "cpu %u: HLT woken by a fixed IPI, handler ran once", ap);

    /* STARTUP to a running AP is ignored; INIT then STARTUP restarts it. */
    apic_send_ipi(ids[ap], APIC_DM_STARTUP | (TRAMP_PHYS >> 12));
    settle();
    pit_delay_us(20000);
    reportf(c->boots == 1 && smp_run(ap, nothing, 0, WAIT_MS), "cpu %u: STARTUP to a running AP is ignored", ap);
    __atomic_store_n(&c->ready, 0, __ATOMIC_RELEASE);
    apic_send_ipi(ids[ap], APIC_DM_INIT | APIC_LEVEL_ASSERT);
    apic_send_ipi(ids[ap], APIC_DM_STARTUP | APIC_LEVEL_ASSERT | (TRAMP_PHYS >> 12));
    int back = smp_wait_ready(ap, 3000);
    reportf(back && c->boots == 2, "cpu %u: INIT + STARTUP to its APIC id restarts it (second start-up)", ap);
    reportf(back && c->apic_reg_id == ids[ap] && smp_run(ap, nothing, 0, WAIT_MS), "cpu %u: restarted AP has the same APIC id and runs work", ap);
    clear_counts();
    apic_send_ipi(ids[ap], V_FIXED);
    reportf(got_exactly(V_FIXED, 1u << ap, WAIT_MS), "cpu %u: restarted AP takes a fixed IPI", ap);
}

/* ------------------------------------------------------------------ */

static void ap_to_x2apic(void *arg)
{
    struct cpu *c = this_cpu();
    apic_enable_x2apic();
    c->data[D_X2_BASE] = rdmsr(MSR_APIC_BASE);
    c->data[D_X2_ID] = (uint32_t)rdmsr(MSR_X2APIC_BASE + APIC_ID / 16);
    c->data[D_X2_LDR] = (uint32_t)rdmsr(MSR_X2APIC_BASE + APIC_LDR / 16);
}

static void ap_to_xapic(void *arg)
{
    struct cpu *c = this_cpu();
    apic_x2apic_to_xapic();
    ap_init(c);
}

static uint32_t x2_ldr(uint32_t id)
{
    return ((id >> 4) << 16) | (1u << (id & 15));
}

static void test_x2apic(void)
{
    if (!CPU_X2APIC())
    {
        report_skip("x2APIC mode", "CPUID.1:ECX[21] clear");
        return;
    }
    apic_enable_x2apic();
    uint64_t base = rdmsr(MSR_APIC_BASE);
    report("BSP: x2APIC mode (IA32_APIC_BASE EN and EXTD)", (base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD));
    uint32_t id = apic_id();
    uint32_t cpuid_id = cpuid(0).a >= 0xB ? cpuid_count(0xB, 0).d : cpuid(1).b >> 24;
    report("BSP: x2APIC ID MSR (0x802) equals CPUID.0BH:EDX", id == cpuid_id);
    report("BSP: x2APIC LDR MSR (0x80D) is cluster << 16 | 1 << (id & 15)", apic_read(APIC_LDR) == x2_ldr(id));
    report("BSP: SPIV survives the switch to x2APIC mode", apic_read(APIC_SPIV) == (APIC_SPIV_ENABLE | SPURIOUS));
    clear_counts();
    wrmsr(MSR_X2APIC_BASE + APIC_SELF_IPI / 16, V_X2_SELF);
    report("x2APIC SELF IPI MSR (0x83F) delivers to the BSP", got_exactly(V_X2_SELF, 1u << bsp_index, WAIT_MS));

    if (online >= 2)
    {
        for (unsigned i = 0; i < ncpus; i++)
        {
            if (i == bsp_index || !smp_cpus[i].ready)
                continue;
            struct cpu *c = &smp_cpus[i];
            int ran = smp_run(i, ap_to_x2apic, 0, WAIT_MS);
            reportf(ran && (c->data[D_X2_BASE] & APIC_BASE_EXTD) && c->data[D_X2_ID] == ids[i] &&
                        c->data[D_X2_LDR] == x2_ldr(ids[i]),
                    "cpu %u: x2APIC mode, ID MSR %u, LDR in cluster form", i, ids[i]);
        }
        for (unsigned i = 0; i < ncpus; i++)
        {
            if (i == bsp_index)
                continue;
            clear_counts();
            apic_send_ipi(ids[i], V_X2_FIXED);
            reportf(got_exactly(V_X2_FIXED, 1u << i, WAIT_MS), "x2APIC: fixed IPI through ICR MSR 0x830 to %u: that AP only", ids[i]);
        }
        clear_counts();
        apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | V_X2_BCAST);
        report("x2APIC: all excluding self: every AP once", got_exactly(V_X2_BCAST, ap_mask(), WAIT_MS));
        clear_counts();
        apic_send_ipi(0xFFFFFFFFu, V_X2_BCAST);
        report("x2APIC: physical destination 0xFFFFFFFF: every CPU once", got_exactly(V_X2_BCAST, all_mask(), WAIT_MS));

        /* Logical cluster mode: cluster 0, the odd APIC ids below 16. */
        uint32_t dest = 0, mask = 0;
        for (unsigned i = 0; i < ncpus; i++)
            if (i != bsp_index && ids[i] < 16 && (ids[i] & 1))
            {
                dest |= 1u << ids[i];
                mask |= 1u << i;
            }
        if (dest)
        {
            clear_counts();
            apic_send_ipi(dest, APIC_DEST_LOGICAL | V_X2_LOGICAL);
            reportf(got_exactly(V_X2_LOGICAL, mask, WAIT_MS), "x2APIC: logical destination 0x%08x (cluster 0): exactly those CPUs", dest);
        }
        unsigned ap = bsp_index == 0 ? 1 : 0;
        smp_cpus[ap].data[D_NMI] = 0;
        apic_send_ipi(ids[ap], APIC_DM_NMI);
        wait_until(&smp_cpus[ap].data[D_NMI], 1, WAIT_MS);
        settle();
        reportf(smp_cpus[ap].data[D_NMI] == 1, "x2APIC: NMI IPI to APIC id %u taken once", ids[ap]);
    }

    /* Back to xAPIC: a direct x2APIC -> xAPIC write is illegal. */
    __asm__ volatile(ASM_TRY("1f") "wrmsr\n1:"
                     :
                     : "c"(MSR_APIC_BASE), "a"((uint32_t)((base & ~(uint64_t)APIC_BASE_EXTD))), "d"((uint32_t)(base >> 32))
                     : "r11", "memory");
    int v = exc_vector;
    asm_try_end();
    report("IA32_APIC_BASE: x2APIC -> xAPIC directly raises #GP", v == GP_VECTOR);
    apic_x2apic_to_xapic();
    report("disable then enable: xAPIC mode again (EXTD clear, MMIO interface)", !apic_is_x2apic());
    uint32_t spiv = apic_read(APIC_SPIV);
    report_quirk(!(spiv & APIC_SPIV_ENABLE), 1, "the SDM says the state 'may' be lost; KVM keeps it",
                 "after disable and enable the APIC is software-disabled (SPIV bit 8 clear)");
    report("xAPIC again: APIC ID register unchanged", apic_id() == ids[bsp_index]);
    apic_sw_enable(SPURIOUS);
    set_flat_logical(bsp_index);
    if (online >= 2)
    {
        int all = 1;
        for (unsigned i = 0; i < ncpus; i++)
            if (i != bsp_index && smp_cpus[i].ready)
                all &= smp_run(i, ap_to_xapic, 0, WAIT_MS);
        clear_counts();
        apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | V_AFTER);
        report("every AP back in xAPIC mode takes a broadcast IPI", all && got_exactly(V_AFTER, ap_mask(), WAIT_MS));
    }
}

int main(void)
{
    /* The BIOS left the PIC on vectors 0x08-0x0F with the timer unmasked:
     * move it off the exception vectors and mask it, as 64-bit guests do. */
    pic_init(0x20, 0x28);
    pic_set_mask(0xFFFF);
    for (unsigned v = V_FIRST; v <= V_LAST; v++)
        exc_set_handler(v, ipi_handler);
    exc_set_handler(NMI_VECTOR, nmi_handler);
    exc_set_handler(SPURIOUS, spurious_handler);
    if (!CPU_APIC())
    {
        report("CPUID.1:EDX[9]: local APIC present", 0);
        return 0;
    }
    test_count();
    test_bsp();
    test_startup();
    test_counter();
    test_ipis_xapic();
    test_x2apic();
    __asm__ volatile("cli");
    return 0;
}
