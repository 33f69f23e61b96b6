/* interrupts: external interrupts in every mode the CPU runs in.
 *
 *   real mode        the BIOS state QEMU's SeaBIOS leaves: the IVT, the PIC
 *                    on vectors 08h-0Fh, the PIT ticking, the BDA tick
 *                    count kept by INT 08h (which calls INT 1Ch); HLT
 *                    wake-ups; our own INT 08h handlers
 *   long mode, 8259  re-initialisation (ICW1-4), IMR, OCW3 IRR/ISR reads
 *                    and poll mode, the PIT's IRQ 0 on vector 0x20, EOI
 *                    (non-specific, specific, missing), masking; with
 *                    pc-testdev: priority, fully nested mode, the slave,
 *                    IRQ 7 real or spurious
 *   32-bit PM        IRQ 0 through the PIC and the local APIC timer with a
 *                    32-bit IDT; the 3-dword frame; HLT
 *   I/O APIC         the PIT on GSI 2 (MADT override), masking, logical
 *                    destination, lowest priority; with pc-testdev:
 *                    level-triggered lines, remote IRR and EOI, edge lines
 *   local APIC       timer one-shot, periodic, masked, divider and
 *                    TSC-deadline; HLT wake-up; TPR and CR8 masking; PPR;
 *                    nested interrupts and EOI order (ISR); self IPIs;
 *                    again in x2APIC mode when CPUID advertises it; global
 *                    disable and re-enable
 *
 * Times are measured against PIT channel 2 and checked with wide bounds;
 * nothing time-dependent is printed. SDM Vol. 3A chapter 11 (APIC),
 * Intel 8259A and 82C54 datasheets, 82093AA I/O APIC datasheet. */
#include "acpi.h"
#include "apic.h"
#include "interrupts.h"
#include "pic.h"
#include "pit.h"
#include "runtime.h"

#define PIC_BASE1 0x20
#define PIC_BASE2 0x28
#define V_IOAPIC_PIT 0x30
#define V_TESTDEV_EDGE 0x38
#define V_TESTDEV_LEVEL 0x39
#define V_TIMER 0x40
#define V_DEADLINE 0x42
#define V_TPR 0x45
#define V_SELF1 0x46
#define V_SELF2 0x47
#define V_NEST_OUTER 0x60
#define V_NEST_DEFERRED 0x61
#define V_NEST_INNER 0x90
#define V_SPURIOUS 0xFF

#define PIT_DIVISOR_1KHZ 1193
/* Rate checks run up to this many times: QEMU's clocks follow the host's,
 * so a descheduled vCPU can spoil one measurement; a deterministic
 * emulator passes the first time. */
#define TRIES 5
#define TESTDEV_LATCH 0xE0
#define TESTDEV_IRQ(n) (0x2000 + (n))

extern char int_tramp_start[], int_tramp_end[], int_tramp_rm_data[];
extern uint32_t pm32_ticks, pm32_ticks_ok, pm32_hlt_ticks, pm32_lapic, pm32_lapic_ok, pm32_lapic_hlt;
extern uint32_t pm32_use_lapic, pm32_lapic_count, pm32_main_esp, pm32_hlt_esp, pm32_frame_cs;
extern uint32_t pm32_frame_eflags, pm32_handler_eflags, pm32_cr0;
extern uint64_t idt32[256];
extern void pm32_body(void), rm_descend32(void), pm32_irq0(void), pm32_lapic_isr(void);
void call_pm32(uint32_t fn);

static volatile uint32_t vcount[256];
static int have_apic, have_testdev;
static struct madt_info madt;
static uint32_t bsp_id;

static inline void sti(void)
{
    __asm__ volatile("sti" ::: "memory");
}

static inline void sti_hlt(void)
{
    __asm__ volatile("sti; hlt" ::: "memory");
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* A few hundred instructions (and, under QEMU, translation blocks): time
 * for a pending interrupt to be taken. */
static void spin(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        __asm__ volatile("pause" ::: "memory");
}

/* Polls (interrupts as they are) until *c >= want or ms pass. */
static int wait_count(volatile uint32_t *c, uint32_t want, uint32_t ms)
{
    struct pit_timeout t;
    pit_timeout_start(&t, ms);
    while (*c < want)
        if (pit_timeout_expired(&t))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Real mode and the BIOS. */

static void test_real_mode(void)
{
    size_t size = (size_t)(int_tramp_end - int_tramp_start);
    memcpy((void *)INT_TRAMP_BASE, int_tramp_start, size);
    gdt_set_base(SEL_CODE16, INT_TRAMP_BASE);
    gdt_set_base(SEL_DATA16, INT_TRAMP_BASE);
    volatile uint32_t *r = (volatile uint32_t *)(INT_TRAMP_BASE + (int_tramp_rm_data - int_tramp_start));
    uint32_t ivt08 = *(volatile uint32_t *)(uintptr_t)(8 * 4), ivt1c = *(volatile uint32_t *)(uintptr_t)(0x1C * 4);

    call_pm32((uint32_t)(uintptr_t)rm_descend32);

#define RM(slot) r[(slot) / 4]
    report("real mode: CR0.PE clear", !(RM(RMD_CR0) & CR0_PE));
    if (!report("real mode, IF=1: the BIOS tick count at 0040:006C advances (PIT IRQ 0 -> BIOS INT 08h)",
                RM(RMD_SEEN) == 1))
    {
        report_skip("real mode: HLT and INT 08h/1Ch hooks", "no BIOS timer tick");
        return;
    }
    report("real mode: HLT returns on the timer tick (3 ticks in at least 3 HLTs)",
           RM(RMD_TICK2) - RM(RMD_TICK1) >= 3 && RM(RMD_HLTS) >= 3);
    report("real mode: our INT 08h handler (IVT entry 8) runs on IRQ 0", RM(RMD_OWN08) >= 3);
    report("real mode: chaining to the BIOS handler keeps the tick count going",
           RM(RMD_TICK3_END) - RM(RMD_TICK3) >= 3);
    report("real mode: the interrupt frame is 3 words (IP, CS, FLAGS)", RM(RMD_HANDLER_SP) + 6 == RM(RMD_MAIN_SP));
    report("real mode: the frame holds our CS and FLAGS with IF set",
           RM(RMD_FRAME_CS) == INT_TRAMP_SEG && (RM(RMD_FRAME_FLAGS) & RFLAGS_IF));
    report("real mode: IF is clear inside the handler", !(RM(RMD_HANDLER_FLAGS) & RFLAGS_IF));
    report("real mode: the BIOS INT 08h handler calls INT 1Ch", RM(RMD_COUNT1C) >= 2);
    report("real mode: a handler that does its own EOI gets IRQ 0 again (PIC acknowledged)", RM(RMD_OWN2) >= 2);
    report("real mode: without the BIOS handler the tick count stands still", RM(RMD_TICK5_END) == RM(RMD_TICK5));
    report("real mode: the BIOS vector restored, the count moves again", RM(RMD_TICK6) != RM(RMD_TICK5_END));
    report("IVT entries 08h and 1Ch restored",
           *(volatile uint32_t *)(uintptr_t)(8 * 4) == ivt08 && *(volatile uint32_t *)(uintptr_t)(0x1C * 4) == ivt1c);
#undef RM
}

/* ------------------------------------------------------------------ */
/* The 8259 pair in long mode. */

enum eoi_policy
{
    EOI_NONSPECIFIC,
    EOI_SPECIFIC,
    EOI_NONE,
};
static volatile enum eoi_policy pic_policy;
static volatile uint16_t pic_isr_seen[16];
static volatile int log_buf[32];
static volatile unsigned log_len;
static volatile unsigned spurious7;
static volatile int nest_mode;

static void log_event(int e)
{
    if (log_len < ARRAY_SIZE(log_buf))
        log_buf[log_len++] = e;
}

static int log_is(const int *want, unsigned n)
{
    if (log_len != n)
        return 0;
    for (unsigned i = 0; i < n; i++)
        if (log_buf[i] != want[i])
            return 0;
    return 1;
}

static void print_log(void)
{
    printf("  log:");
    for (unsigned i = 0; i < log_len; i++)
        printf(" %d", log_buf[i]);
    printf("\n");
}

static void pic_handler(struct exc_frame *f)
{
    unsigned irq = (unsigned)f->vector - PIC_BASE1;
    uint16_t isr = pic_read_isr();
    pic_isr_seen[irq] = isr;
    if (irq == 7 && !(isr & 0x80))
    {
        /* A spurious IRQ 7: nothing in service, so no EOI. */
        spurious7++;
        vcount[f->vector]++;
        return;
    }
    if (irq != 0)
    {
        log_event((int)irq);
        if (have_testdev)
            outb(TESTDEV_IRQ(irq), 0);
    }
    vcount[f->vector]++;
    if (irq == 5 && nest_mode)
    {
        /* Fully nested mode: IRQ 3 (higher priority) preempts IRQ 5's
         * handler once interrupts are enabled; IRQ 6 (lower) waits for
         * IRQ 5's EOI. */
        sti();
        outb(TESTDEV_IRQ(3), 1);
        for (unsigned i = 0; i < 1000 && !vcount[PIC_BASE1 + 3]; i++)
            __asm__ volatile("pause");
        outb(TESTDEV_IRQ(6), 1);
        for (unsigned i = 0; i < 1000; i++)
            __asm__ volatile("pause");
        cli();
    }
    if (irq != 0)
        log_event((int)irq + 100);
    if (pic_policy == EOI_NONSPECIFIC)
        pic_eoi(irq);
    else if (pic_policy == EOI_SPECIFIC)
        pic_eoi_specific(irq);
}

static void test_pic(void)
{
    for (unsigned v = PIC_BASE1; v < PIC_BASE1 + 16; v++)
        exc_set_handler(v, pic_handler);
    pic_init(PIC_BASE1, PIC_BASE2);
    report("8259: IMR after ICW1-ICW4 reads back (all masked but the cascade)", pic_get_mask() == 0xFFFB);
    pic_set_mask(0xA55A);
    uint16_t m1 = pic_get_mask();
    pic_set_mask(0x5AA5);
    uint16_t m2 = pic_get_mask();
    report("8259: OCW1 masks read back on both chips", m1 == 0xA55A && m2 == 0x5AA5);
    pic_set_mask(0xFFFB);
    report("8259: ISR empty after initialisation", pic_read_isr() == 0);

    if (have_apic)
    {
        /* The PIC reaches the CPU through LINT0 in ExtINT mode. */
        apic_sw_enable(V_SPURIOUS);
        apic_write(APIC_LVT0, APIC_DM_EXTINT);
        apic_write(APIC_LVT1, APIC_DM_NMI);
        apic_write(APIC_TPR, 0);
    }

    pit_ch0_periodic(PIT_DIVISOR_1KHZ);
    pic_policy = EOI_NONSPECIFIC;
    pic_unmask_irq(0);

    /* OCW3 poll mode with IF=0: the poll read acknowledges IRQ 0. */
    struct pit_timeout t;
    pit_timeout_start(&t, 500);
    while (!(pic_read_irr() & 1) && !pit_timeout_expired(&t))
        ;
    report("8259: IRQ 0 from the PIT shows in IRR (OCW3 read IRR)", pic_read_irr() & 1);
    outb(PIC1_CMD, 0x0C);
    uint8_t poll = inb(PIC1_CMD);
    report("8259: OCW3 poll command returns 0x80 | IRQ 0", poll == 0x80);
    report("8259: the poll acknowledged it (ISR bit 0 set)", pic_read_isr() & 1);
    pic_eoi(0);
    report("8259: non-specific EOI clears ISR bit 0", !(pic_read_isr() & 1));

    vcount[PIC_BASE1] = 0;
    sti();
    int got = wait_count(&vcount[PIC_BASE1], 1, 1000);
    if (!report("long mode: PIT IRQ 0 through the PIC arrives on vector 0x20", got))
    {
        cli();
        pic_set_mask(0xFFFF);
        return;
    }
    report("8259: ISR bit 0 set inside the handler", pic_isr_seen[0] & 1);
    report("8259: ISR clear after the handler's EOI", !(pic_read_isr() & 1));

    uint32_t c0, n = 0;
    for (int i = 0; i < TRIES && !(n >= 25 && n <= 75); i++)
    {
        c0 = vcount[PIC_BASE1];
        pit_delay_us(50000);
        n = vcount[PIC_BASE1] - c0;
    }
    report("PIT channel 0 at 1 kHz: 25-75 IRQs in 50 ms of PIT channel 2 time", n >= 25 && n <= 75);
    if (n < 25 || n > 75)
        printf("  %u IRQs\n", n);

    c0 = vcount[PIC_BASE1];
    for (int i = 0; i < 3; i++)
        sti_hlt();
    report("sti; hlt wakes on IRQ 0 (3 HLTs, at least 3 ticks)", vcount[PIC_BASE1] - c0 >= 3);

    /* Without EOI the next IRQ 0 is held in IRR. */
    cli();
    pic_policy = EOI_NONE;
    c0 = vcount[PIC_BASE1];
    sti();
    wait_count(&vcount[PIC_BASE1], c0 + 1, 1000);
    pit_delay_us(10000);
    uint32_t held = vcount[PIC_BASE1] - c0;
    uint16_t isr = pic_read_isr(), irr = pic_read_irr();
    report("8259: no EOI: no further IRQ 0 for 10 ms", held == 1);
    report("8259: no EOI: ISR bit 0 stays set", isr & 1);
    report("8259: no EOI: the next IRQ 0 waits in IRR", irr & 1);
    pic_policy = EOI_NONSPECIFIC;
    pic_eoi(0);
    spin(100);
    report("8259: the waiting IRQ 0 arrives right after the EOI", vcount[PIC_BASE1] - c0 >= 2);

    /* Masked: latched in IRR, not delivered; unmasking delivers it. */
    pic_mask_irq(0);
    pit_delay_us(1000);
    c0 = vcount[PIC_BASE1];
    pit_delay_us(10000);
    report("8259: IRQ 0 masked in IMR: nothing for 10 ms", vcount[PIC_BASE1] == c0);
    report("8259: masked IRQ 0 still latched in IRR", pic_read_irr() & 1);
    pic_unmask_irq(0);
    spin(100);
    report("8259: unmasking delivers the latched IRQ 0 at once", vcount[PIC_BASE1] > c0);

    pic_policy = EOI_SPECIFIC;
    c0 = vcount[PIC_BASE1];
    wait_count(&vcount[PIC_BASE1], c0 + 3, 1000);
    cli();
    report("8259: specific EOI (OCW2 0x60) retires IRQ 0: ticks continue, ISR clear",
           vcount[PIC_BASE1] >= c0 + 3 && !(pic_read_isr() & 1));
    pic_policy = EOI_NONSPECIFIC;
}

static int testdev_present(void)
{
    outl(TESTDEV_LATCH, 0x12345678);
    uint32_t a = inl(TESTDEV_LATCH);
    outl(TESTDEV_LATCH, 0x9ABCDEF0);
    uint32_t b = inl(TESTDEV_LATCH);
    outl(TESTDEV_LATCH, 0);
    return a == 0x12345678 && b == 0x9ABCDEF0;
}

static void test_pic_testdev(void)
{
    if (!have_testdev)
    {
        report_skip("8259 with pc-testdev IRQ lines: priority, nesting, slave, IRQ 7", "no pc-testdev (port 0xE0 latch)");
        return;
    }
    cli();
    uint16_t saved = pic_get_mask();
    pic_set_mask(0xFFFB & ~((1u << 3) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 10)));
    pic_policy = EOI_NONSPECIFIC;

    /* Priority: IRQ 3 before IRQ 5 when both wait. */
    log_len = 0;
    outb(TESTDEV_IRQ(5), 1);
    outb(TESTDEV_IRQ(3), 1);
    sti();
    pit_delay_us(2000);
    cli();
    static const int prio[] = {3, 103, 5, 105};
    if (!report("8259: IRQ 3 and IRQ 5 pending: IRQ 3 (higher priority) is served first", log_is(prio, 4)))
        print_log();

    /* Fully nested mode. */
    log_len = 0;
    vcount[PIC_BASE1 + 3] = 0;
    nest_mode = 1;
    outb(TESTDEV_IRQ(5), 1);
    sti();
    pit_delay_us(2000);
    cli();
    nest_mode = 0;
    static const int nested[] = {5, 3, 103, 105, 6, 106};
    if (!report("8259 fully nested: IRQ 3 preempts IRQ 5's handler, IRQ 6 waits for IRQ 5's EOI", log_is(nested, 6)))
        print_log();
    report("8259: ISR empty after the nested handlers", pic_read_isr() == 0);

    /* The slave: IRQ 10 through master input 2. */
    vcount[PIC_BASE1 + 10] = 0;
    pic_isr_seen[10] = 0;
    outb(TESTDEV_IRQ(10), 1);
    sti();
    wait_count(&vcount[PIC_BASE1 + 10], 1, 500);
    cli();
    report("8259: IRQ 10 arrives on vector 0x2A through the slave", vcount[PIC_BASE1 + 10] == 1);
    report("8259: IRQ 10 in service: master ISR bit 2 and slave ISR bit 2",
           (pic_isr_seen[10] & ((1u << 2) | (1u << 10))) == ((1u << 2) | (1u << 10)));
    report("8259: EOI to both chips empties ISR", pic_read_isr() == 0);

    /* IRQ 7 held: a real IRQ 7 (ISR bit 7 set). */
    vcount[PIC_BASE1 + 7] = 0;
    spurious7 = 0;
    outb(TESTDEV_IRQ(7), 1);
    sti();
    wait_count(&vcount[PIC_BASE1 + 7], 1, 500);
    cli();
    report("8259: IRQ 7 held high: a real IRQ 7 (ISR bit 7 set in its handler)",
           vcount[PIC_BASE1 + 7] == 1 && spurious7 == 0 && (pic_isr_seen[7] & 0x80));
    /* IRQ 7 pulsed while IF=0: an 8259A raises a spurious IRQ 7 (ISR
     * clear) when the request is gone at INTA time; QEMU keeps the edge
     * latched and delivers it. Either way: one interrupt on vector 0x27,
     * EOI only for a real one, ISR empty afterwards. */
    vcount[PIC_BASE1 + 7] = 0;
    outb(TESTDEV_IRQ(7), 1);
    outb(TESTDEV_IRQ(7), 0);
    sti();
    pit_delay_us(2000);
    cli();
    report("8259: IRQ 7 pulsed while IF=0: one interrupt on vector 0x27 (real or spurious)",
           vcount[PIC_BASE1 + 7] == 1);
    report("8259: ISR empty afterwards (EOI only for a real IRQ 7)", pic_read_isr() == 0);
    pic_set_mask(saved);
}

/* ------------------------------------------------------------------ */
/* 32-bit protected mode. */

static uint64_t gate32(void (*fn)(void))
{
    uint32_t a = (uint32_t)(uintptr_t)fn;
    /* 32-bit interrupt gate: present, DPL 0, type 0xE. */
    return (uint64_t)(a & 0xFFFF) | ((uint64_t)SEL_CODE32 << 16) | (0x8Eull << 40) | ((uint64_t)(a >> 16) << 48);
}

static void test_pm32(uint32_t apic_count)
{
    memset(idt32, 0, sizeof(uint64_t) * 256);
    idt32[PM32_PIC_VECTOR] = gate32(pm32_irq0);
    idt32[PM32_LAPIC_VECTOR] = gate32(pm32_lapic_isr);
    pm32_use_lapic = have_apic && !apic_is_x2apic();
    pm32_lapic_count = apic_count;
    if (pm32_use_lapic)
        apic_write(APIC_TDCR, APIC_TDCR_DIV1);
    cli();
    uint16_t saved = pic_get_mask();
    pic_set_mask(0xFFFA); /* IRQ 0 and the cascade */

    call_pm32((uint32_t)(uintptr_t)pm32_body);

    pic_set_mask(saved);
    report("32-bit PM: paging off, protected mode on", (pm32_cr0 & (CR0_PE | CR0_PG)) == CR0_PE);
    if (!report("32-bit PM: PIT IRQ 0 through the PIC via a 32-bit interrupt gate (3 ticks)", pm32_ticks_ok))
        return;
    report("32-bit PM: HLT returns on the next tick", pm32_hlt_ticks >= 1);
    report("32-bit PM: the interrupt frame is EIP, CS, EFLAGS (12 bytes, no stack switch)",
           pm32_hlt_esp == pm32_main_esp);
    report("32-bit PM: the frame holds the 32-bit CS and EFLAGS with IF set",
           pm32_frame_cs == SEL_CODE32 && (pm32_frame_eflags & RFLAGS_IF));
    report("32-bit PM: IF clear inside an interrupt-gate handler", !(pm32_handler_eflags & RFLAGS_IF));
    if (!pm32_use_lapic)
    {
        report_skip("32-bit PM: local APIC timer", have_apic ? "x2APIC mode" : "no local APIC");
        return;
    }
    report("32-bit PM: local APIC one-shot timer through the xAPIC MMIO page", pm32_lapic_ok);
    report("32-bit PM: HLT woken by the local APIC timer", pm32_lapic_hlt == 1);
}

/* ------------------------------------------------------------------ */
/* The I/O APIC. */

enum level_mode
{
    LEVEL_LOWER_EOI, /* lower the line, then EOI */
    LEVEL_EOI_ONLY,  /* EOI with the line still high (lower it next time) */
    LEVEL_NO_EOI,    /* neither */
};
static volatile enum level_mode level_mode;
static volatile uint32_t level_remote_irr, level_tmr, level_isr;
static unsigned level_pin, edge_pin, level_irq, edge_irq;

static void ioapic_pit_handler(struct exc_frame *f)
{
    vcount[f->vector]++;
    level_isr = apic_vector_bit(APIC_ISR, V_IOAPIC_PIT);
    level_tmr = apic_vector_bit(APIC_TMR, V_IOAPIC_PIT);
    apic_eoi();
}

static void level_handler(struct exc_frame *f)
{
    vcount[f->vector]++;
    level_remote_irr = ioapic_redir_low(level_pin) & IOAPIC_REMOTE_IRR;
    level_tmr = apic_vector_bit(APIC_TMR, V_TESTDEV_LEVEL);
    level_isr = apic_vector_bit(APIC_ISR, V_TESTDEV_LEVEL);
    switch (level_mode)
    {
    case LEVEL_LOWER_EOI:
        outb(TESTDEV_IRQ(level_irq), 0);
        apic_eoi();
        break;
    case LEVEL_EOI_ONLY:
        level_mode = LEVEL_LOWER_EOI;
        apic_eoi();
        break;
    case LEVEL_NO_EOI:
        break;
    }
}

static void edge_handler(struct exc_frame *f)
{
    vcount[f->vector]++;
    apic_eoi();
}

static void test_ioapic(void)
{
    if (!have_apic)
    {
        report_skip("I/O APIC", "no local APIC");
        return;
    }
    if (madt.nioapics)
        ioapic_base = madt.ioapic_addresses[0];
    uint32_t ver = ioapic_read(IOAPIC_REG_VER);
    unsigned max = (ver >> 16) & 0xFF;
    report("I/O APIC version register: version 0x11-0x20, at least 16 entries",
           (ver & 0xFF) >= 0x11 && (ver & 0xFF) <= 0x20 && max >= 15);
    if (madt.nioapics)
        report("I/O APIC ID register matches the MADT", ((ioapic_read(IOAPIC_REG_ID) >> 24) & 0xF) == (madt.ioapic_ids[0] & 0xF));
    int all_masked = 1;
    for (unsigned pin = 0; pin <= max && pin < 24; pin++)
        if (!(ioapic_redir_low(pin) & IOAPIC_MASKED))
            all_masked = 0;
    report("I/O APIC: every redirection entry is masked at boot", all_masked);

    /* Only the I/O APIC from here: the PIC and LINT0 masked. */
    cli();
    pic_set_mask(0xFFFF);
    apic_write(APIC_LVT0, APIC_LVT_MASKED | APIC_DM_EXTINT);
    /* Without a MADT, assume QEMU's override (IRQ 0 on GSI 2). */
    unsigned pit_gsi = madt.found ? madt.isa_gsi[0] : 2;
    report("MADT routes ISA IRQ 0 (the PIT) to GSI 2", pit_gsi == 2);
    exc_set_handler(V_IOAPIC_PIT, ioapic_pit_handler);
    ioapic_set_redir(pit_gsi, V_IOAPIC_PIT, (uint8_t)bsp_id);
    report("I/O APIC: redirection entry reads back (vector, destination)",
           (ioapic_redir_low(pit_gsi) & 0x1FFFF & ~IOAPIC_DELIVS) == V_IOAPIC_PIT &&
               ioapic_redir_high(pit_gsi) >> 24 == bsp_id);
    vcount[V_IOAPIC_PIT] = 0;
    sti();
    if (!report("I/O APIC: the PIT's IRQ 0 arrives on GSI 2 as vector 0x30 (edge, fixed, physical)",
                wait_count(&vcount[V_IOAPIC_PIT], 1, 1000)))
    {
        cli();
        ioapic_mask(pit_gsi, 1);
        return;
    }
    report("local APIC: ISR bit set in the handler, TMR clear (edge)", level_isr && !level_tmr);
    uint32_t c0, n = 0;
    for (int i = 0; i < TRIES && !(n >= 25 && n <= 75); i++)
    {
        c0 = vcount[V_IOAPIC_PIT];
        pit_delay_us(50000);
        n = vcount[V_IOAPIC_PIT] - c0;
    }
    report("I/O APIC: 25-75 PIT interrupts in 50 ms at 1 kHz", n >= 25 && n <= 75);
    c0 = vcount[V_IOAPIC_PIT];
    for (int i = 0; i < 3; i++)
        sti_hlt();
    report("sti; hlt wakes on the I/O APIC's PIT interrupt", vcount[V_IOAPIC_PIT] - c0 >= 3);
    ioapic_mask(pit_gsi, 1);
    pit_delay_us(1000);
    c0 = vcount[V_IOAPIC_PIT];
    pit_delay_us(10000);
    report("I/O APIC: masked entry delivers nothing for 10 ms", vcount[V_IOAPIC_PIT] == c0);

    /* Logical destination (flat model, LDR bit 0) and lowest priority. */
    apic_write(APIC_DFR, 0xFFFFFFFFu);
    apic_write(APIC_LDR, 1u << 24);
    ioapic_set_redir(pit_gsi, IOAPIC_DEST_LOGICAL | V_IOAPIC_PIT, 0x01);
    c0 = vcount[V_IOAPIC_PIT];
    report("I/O APIC: logical destination 0x01 (flat) reaches the CPU with LDR 0x01",
           wait_count(&vcount[V_IOAPIC_PIT], c0 + 2, 1000));
    ioapic_set_redir(pit_gsi, IOAPIC_DEST_LOGICAL | APIC_DM_LOWEST | V_IOAPIC_PIT, 0x01);
    c0 = vcount[V_IOAPIC_PIT];
    report("I/O APIC: lowest-priority delivery to logical 0x01",
           wait_count(&vcount[V_IOAPIC_PIT], c0 + 2, 1000));
    ioapic_set_redir(pit_gsi, IOAPIC_DEST_LOGICAL | V_IOAPIC_PIT, 0x00);
    pit_delay_us(1000);
    c0 = vcount[V_IOAPIC_PIT];
    pit_delay_us(10000);
    report("I/O APIC: logical destination 0x00 reaches nobody", vcount[V_IOAPIC_PIT] == c0);
    ioapic_mask(pit_gsi, 1);
    cli();

    if (!have_testdev)
    {
        report_skip("I/O APIC level-triggered and edge lines (pc-testdev)", "no pc-testdev (port 0xE0 latch)");
        return;
    }
    level_irq = 14;
    edge_irq = 15;
    level_pin = madt.isa_gsi[level_irq];
    edge_pin = madt.isa_gsi[edge_irq];
    exc_set_handler(V_TESTDEV_LEVEL, level_handler);
    exc_set_handler(V_TESTDEV_EDGE, edge_handler);

    /* Level-triggered, active high, masked while the line goes up. */
    level_mode = LEVEL_LOWER_EOI;
    vcount[V_TESTDEV_LEVEL] = 0;
    ioapic_set_redir(level_pin, IOAPIC_MASKED | IOAPIC_LEVEL | V_TESTDEV_LEVEL, (uint8_t)bsp_id);
    outb(TESTDEV_IRQ(level_irq), 1);
    sti();
    pit_delay_us(2000);
    report("I/O APIC level: a masked pin with its line high delivers nothing", vcount[V_TESTDEV_LEVEL] == 0);
    ioapic_mask(level_pin, 0);
    wait_count(&vcount[V_TESTDEV_LEVEL], 1, 500);
    pit_delay_us(2000);
    report("I/O APIC level: unmasking delivers it once", vcount[V_TESTDEV_LEVEL] == 1);
    report("I/O APIC level: remote IRR set while in service", level_remote_irr != 0);
    report("local APIC: TMR bit set for a level-triggered vector, ISR bit set", level_tmr && level_isr);
    report("I/O APIC level: EOI (line low) clears remote IRR",
           !(ioapic_redir_low(level_pin) & IOAPIC_REMOTE_IRR) && !apic_vector_bit(APIC_ISR, V_TESTDEV_LEVEL));

    /* EOI with the line still high: delivered again. */
    vcount[V_TESTDEV_LEVEL] = 0;
    level_mode = LEVEL_EOI_ONLY;
    outb(TESTDEV_IRQ(level_irq), 1);
    wait_count(&vcount[V_TESTDEV_LEVEL], 2, 500);
    pit_delay_us(2000);
    report("I/O APIC level: EOI with the line still high delivers it again (then it is lowered)",
           vcount[V_TESTDEV_LEVEL] == 2);

    /* No EOI: remote IRR blocks the line until the EOI. */
    vcount[V_TESTDEV_LEVEL] = 0;
    level_mode = LEVEL_NO_EOI;
    outb(TESTDEV_IRQ(level_irq), 1);
    wait_count(&vcount[V_TESTDEV_LEVEL], 1, 500);
    outb(TESTDEV_IRQ(level_irq), 0);
    outb(TESTDEV_IRQ(level_irq), 1);
    pit_delay_us(2000);
    report("I/O APIC level: without EOI, remote IRR stays set and the line is not delivered again",
           vcount[V_TESTDEV_LEVEL] == 1 && (ioapic_redir_low(level_pin) & IOAPIC_REMOTE_IRR));
    level_mode = LEVEL_LOWER_EOI;
    apic_eoi();
    wait_count(&vcount[V_TESTDEV_LEVEL], 2, 500);
    pit_delay_us(2000);
    report("I/O APIC level: the EOI clears remote IRR and the still-high line is delivered",
           vcount[V_TESTDEV_LEVEL] == 2 && !(ioapic_redir_low(level_pin) & IOAPIC_REMOTE_IRR));
    ioapic_mask(level_pin, 1);

    /* Edge-triggered. */
    vcount[V_TESTDEV_EDGE] = 0;
    ioapic_set_redir(edge_pin, V_TESTDEV_EDGE, (uint8_t)bsp_id);
    outb(TESTDEV_IRQ(edge_irq), 1);
    outb(TESTDEV_IRQ(edge_irq), 0);
    wait_count(&vcount[V_TESTDEV_EDGE], 1, 500);
    pit_delay_us(2000);
    report("I/O APIC edge: a pulse delivers once", vcount[V_TESTDEV_EDGE] == 1);
    report("I/O APIC edge: no remote IRR", !(ioapic_redir_low(edge_pin) & IOAPIC_REMOTE_IRR));
    outb(TESTDEV_IRQ(edge_irq), 1);
    pit_delay_us(2000);
    report("I/O APIC edge: a line held high after EOI is not delivered again", vcount[V_TESTDEV_EDGE] == 2);
    outb(TESTDEV_IRQ(edge_irq), 0);
    ioapic_mask(edge_pin, 1);
    outb(TESTDEV_IRQ(edge_irq), 1);
    outb(TESTDEV_IRQ(edge_irq), 0);
    ioapic_mask(edge_pin, 0);
    pit_delay_us(2000);
    report("I/O APIC edge: an edge on a masked pin is lost (82093AA)", vcount[V_TESTDEV_EDGE] == 2);
    ioapic_mask(edge_pin, 1);
    cli();
}

/* ------------------------------------------------------------------ */
/* The local APIC: run once in xAPIC mode and once in x2APIC mode. */

static const char *mode;
static uint64_t timer_hz; /* at divide-by-1 */

static void count_handler(struct exc_frame *f)
{
    vcount[f->vector]++;
    apic_eoi();
}

static volatile uint32_t nest_isr_outer, nest_isr_inner, nest_ppr_inner, nest_isr_after_inner, nest_irr_deferred;

static void nest_outer(struct exc_frame *f)
{
    log_event(V_NEST_OUTER);
    sti();
    apic_send_ipi(0, APIC_DEST_SELF | V_NEST_INNER);
    for (unsigned i = 0; i < 100000 && log_len < 3; i++)
        __asm__ volatile("pause");
    nest_isr_after_inner = apic_vector_bit(APIC_ISR, V_NEST_OUTER) | apic_vector_bit(APIC_ISR, V_NEST_INNER) << 1;
    nest_irr_deferred = apic_vector_bit(APIC_IRR, V_NEST_DEFERRED);
    cli();
    log_event(V_NEST_OUTER + 0x100);
    apic_eoi();
}

static void nest_inner(struct exc_frame *f)
{
    log_event(V_NEST_INNER);
    nest_isr_inner = apic_vector_bit(APIC_ISR, V_NEST_OUTER) | apic_vector_bit(APIC_ISR, V_NEST_INNER) << 1;
    nest_ppr_inner = apic_read(APIC_PPR);
    apic_send_ipi(0, APIC_DEST_SELF | V_NEST_DEFERRED);
    for (unsigned i = 0; i < 1000; i++)
        __asm__ volatile("pause");
    log_event(V_NEST_INNER + 0x100);
    apic_eoi();
}

static void nest_deferred(struct exc_frame *f)
{
    log_event(V_NEST_DEFERRED);
    apic_eoi();
    log_event(V_NEST_DEFERRED + 0x100);
}

/* APIC timer ticks at divide-by-1 during `us` of PIT time (masked one-shot). */
static uint64_t timer_ticks(uint32_t tdcr, uint64_t us)
{
    apic_write(APIC_TDCR, tdcr);
    apic_write(APIC_LVTT, APIC_LVT_MASKED | V_TIMER);
    apic_write(APIC_TMICT, 0xFFFFFFFFu);
    pit2_start(PIT_COUNT_US(us));
    uint32_t a = apic_read(APIC_TMCCT);
    while (!pit2_done())
        ;
    uint32_t b = apic_read(APIC_TMCCT);
    apic_write(APIC_TMICT, 0);
    return a - b;
}

static void test_lapic_timer(void)
{
    exc_set_handler(V_TIMER, count_handler);
    /* The smallest of three: a descheduled vCPU (QEMU's clocks follow the
     * host's) only makes a measurement longer. */
    uint64_t t1 = ~0ull;
    for (int i = 0; i < 3; i++)
    {
        uint64_t t = timer_ticks(APIC_TDCR_DIV1, 5000);
        if (t < t1)
            t1 = t;
    }
    timer_hz = t1 * 200;
    reportf(t1 > 0, "%s: the timer's current count decreases (divide by 1)", mode);
    reportf(timer_hz >= 1000000 && timer_hz <= 10000000000ull, "%s: timer frequency between 1 MHz and 10 GHz (against the PIT)", mode);
    if (!t1)
        return;
    uint64_t one_ms = timer_hz / 1000 ? timer_hz / 1000 : 1;
    if (one_ms > 0x7FFFFFFF)
        one_ms = 0x7FFFFFFF;
    int ok2 = 0, ok16 = 0;
    for (int i = 0; i < TRIES && !(ok2 && ok16); i++)
    {
        uint64_t t2 = timer_ticks(APIC_TDCR_DIV2, 5000), t16 = timer_ticks(APIC_TDCR_DIV16, 5000);
        ok2 |= t2 * 8 >= t1 * 3 && t2 * 8 <= t1 * 5;
        ok16 |= t16 * 64 >= t1 * 3 && t16 * 64 <= t1 * 5;
    }
    reportf(ok2, "%s: divide by 2 halves the rate (+-25%%)", mode);
    reportf(ok16, "%s: divide by 16 (+-25%%)", mode);
    apic_write(APIC_TDCR, APIC_TDCR_DIV16);
    reportf((apic_read(APIC_TDCR) & 0xB) == APIC_TDCR_DIV16, "%s: TDCR reads back", mode);
    apic_write(APIC_TDCR, APIC_TDCR_DIV1);

    /* One-shot. */
    vcount[V_TIMER] = 0;
    sti();
    apic_write(APIC_LVTT, APIC_LVTT_ONESHOT | V_TIMER);
    uint32_t long_count = one_ms * 100 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)(one_ms * 100);
    apic_write(APIC_TMICT, long_count);
    uint32_t ccr = apic_read(APIC_TMCCT);
    apic_write(APIC_TMICT, 0);
    reportf(ccr > 0 && ccr <= long_count, "%s: one-shot: current count starts at or below the initial count", mode);
    apic_write(APIC_TMICT, (uint32_t)(2 * one_ms));
    reportf(wait_count(&vcount[V_TIMER], 1, 1000), "%s: one-shot timer interrupt on vector 0x40", mode);
    reportf(apic_read(APIC_TMCCT) == 0, "%s: one-shot: current count is 0 after expiry", mode);
    reportf(apic_read(APIC_TMICT) == 2 * one_ms, "%s: initial count register keeps its value", mode);
    pit_delay_us(5000);
    reportf(vcount[V_TIMER] == 1, "%s: one-shot fires once", mode);
    cli();
    vcount[V_TIMER] = 0;
    apic_write(APIC_TMICT, (uint32_t)(2 * one_ms));
    sti_hlt();
    reportf(vcount[V_TIMER] == 1, "%s: sti; hlt woken by the one-shot timer", mode);

    /* Writing 0 to the initial count stops it. */
    vcount[V_TIMER] = 0;
    apic_write(APIC_TMICT, (uint32_t)(2 * one_ms));
    apic_write(APIC_TMICT, 0);
    pit_delay_us(5000);
    reportf(vcount[V_TIMER] == 0 && apic_read(APIC_TMCCT) == 0, "%s: initial count 0 stops the timer", mode);

    /* Periodic. */
    vcount[V_TIMER] = 0;
    apic_write(APIC_LVTT, APIC_LVTT_PERIODIC | V_TIMER);
    apic_write(APIC_TMICT, (uint32_t)one_ms);
    reportf(wait_count(&vcount[V_TIMER], 5, 1000), "%s: periodic timer fires repeatedly", mode);
    ccr = apic_read(APIC_TMCCT);
    reportf(ccr <= one_ms && ccr != 0, "%s: periodic: current count reloads (never stuck at 0)", mode);
    uint32_t c0, n = 0;
    for (int i = 0; i < TRIES && !(n >= 5 && n <= 15); i++)
    {
        c0 = vcount[V_TIMER];
        pit_delay_us(10000);
        n = vcount[V_TIMER] - c0;
    }
    reportf(n >= 5 && n <= 15, "%s: periodic 1 ms: 5-15 interrupts in 10 ms of PIT time", mode);
    if (n < 5 || n > 15)
        printf("  %u interrupts\n", n);
    c0 = vcount[V_TIMER];
    for (int i = 0; i < 3; i++)
        sti_hlt();
    reportf(vcount[V_TIMER] - c0 >= 3, "%s: sti; hlt woken by the periodic timer (3 times)", mode);
    apic_write(APIC_TMICT, 0);
    pit_delay_us(1000);
    c0 = vcount[V_TIMER];
    pit_delay_us(5000);
    reportf(vcount[V_TIMER] == c0, "%s: periodic timer stopped by initial count 0", mode);

    /* Masked: counts down, no interrupt, nothing in IRR. */
    vcount[V_TIMER] = 0;
    apic_write(APIC_LVTT, APIC_LVT_MASKED | V_TIMER);
    apic_write(APIC_TMICT, (uint32_t)one_ms);
    pit_delay_us(3000);
    reportf(vcount[V_TIMER] == 0 && apic_read(APIC_TMCCT) == 0 && !apic_vector_bit(APIC_IRR, V_TIMER),
            "%s: masked LVT timer counts to 0 without an interrupt", mode);
    reportf(apic_read(APIC_LVTT) == (APIC_LVT_MASKED | V_TIMER), "%s: LVT timer register reads back", mode);
    cli();
}

static void test_tsc_deadline(void)
{
    if (!CPU_TSC_DEADLINE())
    {
        reportf(1, "%s: IA32_TSC_DEADLINE absent: CPUID.1:ECX[24] clear", mode);
        report_skip("TSC-deadline timer mode", "CPUID.1:ECX[24] clear");
        return;
    }
    exc_set_handler(V_DEADLINE, count_handler);
    uint64_t a = rdtsc();
    pit_delay_us(5000);
    uint64_t per_ms = (rdtsc() - a) / 5;
    if (!per_ms)
        per_ms = 1;
    vcount[V_DEADLINE] = 0;
    apic_write(APIC_LVTT, APIC_LVTT_TSCDEADLINE | V_DEADLINE);
    reportf(rdmsr(MSR_TSC_DEADLINE) == 0, "%s: TSC deadline reads 0 when disarmed", mode);
    apic_write(APIC_TMICT, 12345);
    reportf(apic_read(APIC_TMCCT) == 0, "%s: TSC-deadline mode ignores the initial count", mode);
    sti();
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + 2 * per_ms);
    reportf(wait_count(&vcount[V_DEADLINE], 1, 1000), "%s: TSC deadline 2 ms ahead fires", mode);
    reportf(rdmsr(MSR_TSC_DEADLINE) == 0, "%s: TSC deadline reads 0 after firing", mode);
    pit_delay_us(5000);
    reportf(vcount[V_DEADLINE] == 1, "%s: TSC deadline fires once", mode);
    vcount[V_DEADLINE] = 0;
    wrmsr(MSR_TSC_DEADLINE, 1);
    pit_delay_us(1000);
    reportf(vcount[V_DEADLINE] == 1, "%s: a deadline in the past fires at once", mode);
    vcount[V_DEADLINE] = 0;
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + 2 * per_ms);
    wrmsr(MSR_TSC_DEADLINE, 0);
    pit_delay_us(5000);
    reportf(vcount[V_DEADLINE] == 0, "%s: writing 0 disarms the deadline", mode);
    cli();
    vcount[V_DEADLINE] = 0;
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + 2 * per_ms);
    sti_hlt();
    reportf(vcount[V_DEADLINE] == 1, "%s: sti; hlt woken by the TSC deadline", mode);
    cli();
    apic_write(APIC_LVTT, APIC_LVT_MASKED | V_TIMER);
}

static void test_tpr(void)
{
    exc_set_handler(V_TPR, count_handler);
    vcount[V_TPR] = 0;
    sti();
    apic_write(APIC_TPR, 0x50);
    reportf(apic_read(APIC_TPR) == 0x50 && apic_read(APIC_PPR) == 0x50, "%s: TPR 0x50 reads back, PPR = TPR", mode);
    apic_send_ipi(0, APIC_DEST_SELF | V_TPR);
    pit_delay_us(1000);
    reportf(vcount[V_TPR] == 0 && apic_vector_bit(APIC_IRR, V_TPR),
            "%s: TPR 0x50 holds vector 0x45 pending in IRR", mode);
    apic_write(APIC_TPR, 0x40);
    pit_delay_us(1000);
    reportf(vcount[V_TPR] == 0, "%s: TPR 0x40 still holds 0x45 (same priority class)", mode);
    apic_write(APIC_TPR, 0x3F);
    pit_delay_us(1000);
    reportf(vcount[V_TPR] == 1 && !apic_vector_bit(APIC_IRR, V_TPR), "%s: TPR 0x3F lets 0x45 through", mode);

    write_cr8(5);
    reportf(apic_read(APIC_TPR) == 0x50, "%s: CR8 = 5 sets TPR to 0x50", mode);
    apic_write(APIC_TPR, 0x60);
    reportf(read_cr8() == 6, "%s: TPR 0x60 reads as CR8 = 6", mode);
    write_cr8(4);
    vcount[V_TPR] = 0;
    apic_send_ipi(0, APIC_DEST_SELF | V_TPR);
    pit_delay_us(1000);
    reportf(vcount[V_TPR] == 0, "%s: CR8 = 4 holds vector 0x45", mode);
    write_cr8(0);
    pit_delay_us(1000);
    reportf(vcount[V_TPR] == 1 && apic_read(APIC_TPR) == 0, "%s: CR8 = 0 delivers it", mode);
    cli();
}

static void test_nested(void)
{
    exc_set_handler(V_NEST_OUTER, nest_outer);
    exc_set_handler(V_NEST_INNER, nest_inner);
    exc_set_handler(V_NEST_DEFERRED, nest_deferred);
    log_len = 0;
    nest_isr_inner = nest_isr_after_inner = nest_irr_deferred = 0;
    sti();
    apic_send_ipi(0, APIC_DEST_SELF | V_NEST_OUTER);
    pit_delay_us(2000);
    cli();
    static const int want[] = {V_NEST_OUTER, V_NEST_INNER, V_NEST_INNER + 0x100, V_NEST_OUTER + 0x100,
                               V_NEST_DEFERRED, V_NEST_DEFERRED + 0x100};
    if (!reportf(log_is(want, 6), "%s: 0x90 preempts 0x60's handler; 0x61 waits for 0x60's EOI", mode))
        print_log();
    reportf(nest_isr_inner == 3, "%s: ISR has 0x60 and 0x90 while 0x90 runs", mode);
    reportf(nest_ppr_inner == 0x90, "%s: PPR is 0x90 while 0x90 runs", mode);
    reportf(nest_isr_after_inner == 1, "%s: 0x90's EOI cleared the highest ISR bit only", mode);
    reportf(nest_irr_deferred == 1, "%s: 0x61 pending in IRR while 0x60 is in service", mode);
    reportf(apic_highest(APIC_ISR) < 0 && apic_highest(APIC_IRR) < 0, "%s: ISR and IRR empty afterwards", mode);
}

static void test_self_ipi(void)
{
    exc_set_handler(V_SELF1, count_handler);
    exc_set_handler(V_SELF2, count_handler);
    vcount[V_SELF1] = vcount[V_SELF2] = 0;
    sti();
    reportf(apic_send_ipi(apic_id(), V_SELF1), "%s: ICR idle after a fixed IPI to our own APIC id", mode);
    wait_count(&vcount[V_SELF1], 1, 100);
    reportf(vcount[V_SELF1] == 1, "%s: fixed IPI to our own APIC id", mode);
    apic_send_ipi(0, APIC_DEST_SELF | V_SELF2);
    wait_count(&vcount[V_SELF2], 1, 100);
    reportf(vcount[V_SELF2] == 1, "%s: self IPI (destination shorthand 01)", mode);
    apic_send_ipi(0, APIC_DEST_ALL | V_SELF1);
    wait_count(&vcount[V_SELF1], 2, 100);
    reportf(vcount[V_SELF1] == 2, "%s: all-including-self IPI reaches us", mode);
    if (apic_is_x2apic())
    {
        wrmsr(MSR_X2APIC_BASE + APIC_SELF_IPI / 16, V_SELF2);
        wait_count(&vcount[V_SELF2], 2, 100);
        reportf(vcount[V_SELF2] == 2, "%s: SELF IPI MSR 0x83F", mode);
    }
    cli();
    apic_write(APIC_ESR, 0);
    reportf(apic_read(APIC_ESR) == 0, "%s: no errors in ESR", mode);
}

static void lapic_suite(void)
{
    uint32_t ver = apic_read(APIC_VERSION);
    reportf((ver & 0xFF) >= 0x10 && (ver & 0xFF) <= 0x15 && ((ver >> 16) & 0xFF) >= 4,
            "%s: version register: integrated APIC (0x10-0x15), at least 5 LVT entries", mode);
    uint32_t want_id = cpuid(1).b >> 24;
    if (apic_is_x2apic() && cpuid(0).a >= 0xB)
        want_id = cpuid_count(0xB, 0).d;
    reportf(apic_id() == want_id, "%s: APIC ID matches CPUID", mode);
    apic_sw_enable(V_SPURIOUS);
    reportf(apic_read(APIC_SPIV) == (APIC_SPIV_ENABLE | V_SPURIOUS), "%s: SPIV reads back 0x1FF", mode);
    apic_write(APIC_TPR, 0);
    test_lapic_timer();
    test_tsc_deadline();
    test_tpr();
    test_nested();
    test_self_ipi();
}

static void spurious_handler(struct exc_frame *f)
{
    vcount[f->vector]++;
}

static void test_lapic(void)
{
    if (!have_apic)
    {
        report_skip("local APIC", "CPUID.1:EDX[9] clear");
        return;
    }
    uint64_t base = rdmsr(MSR_APIC_BASE);
    report("IA32_APIC_BASE: enabled BSP, base 0xFEE00000",
           (base & APIC_BASE_EN) && (base & APIC_BASE_BSP) && (base & 0xFFFFF000u) == APIC_DEFAULT_BASE);
    mode = "xAPIC";
    lapic_suite();
    if (CPU_X2APIC())
    {
        apic_enable_x2apic();
        mode = "x2APIC";
        report("x2APIC mode entered (IA32_APIC_BASE EXTD)", apic_is_x2apic());
        lapic_suite();
        apic_x2apic_to_xapic();
        report("x2APIC -> disabled -> xAPIC: MMIO interface again", !apic_is_x2apic());
    }
    else
        report_skip("x2APIC mode", "CPUID.1:ECX[21] clear");

    /* Global disable and re-enable in xAPIC mode. */
    mode = "xAPIC";
    base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN);
    report("APIC globally disabled: CPUID.1:EDX[9] reads 0", !CPU_APIC());
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
    int en = (rdmsr(MSR_APIC_BASE) & APIC_BASE_EN) != 0;
    report_quirk(en, 1, "QEMU 7.2 TCG: once disabled the APIC cannot be enabled again",
                 "APIC enabled again: IA32_APIC_BASE.EN reads 1");
    report_quirk(CPU_APIC(), !en, "QEMU 7.2 TCG: once disabled the APIC cannot be enabled again",
                 "APIC enabled again: CPUID.1:EDX[9] reads 1");
    report_quirk(!(apic_read(APIC_SPIV) & APIC_SPIV_ENABLE), 1, "the SDM says the state 'may' be lost; KVM keeps it",
                 "APIC enabled again: software-disabled (SPIV bit 8 clear)");
    report("APIC enabled again: APIC ID unchanged", apic_id() == bsp_id);
    apic_sw_enable(V_SPURIOUS);
    apic_write(APIC_TPR, 0);
    exc_set_handler(V_SELF1, count_handler);
    vcount[V_SELF1] = 0;
    sti();
    apic_send_ipi(0, APIC_DEST_SELF | V_SELF1);
    wait_count(&vcount[V_SELF1], 1, 100);
    cli();
    report("APIC enabled again: a self IPI is delivered", vcount[V_SELF1] == 1);
}

int main(void)
{
    have_apic = CPU_APIC();
    acpi_parse_madt(&madt);
    have_testdev = testdev_present();
    if (have_testdev)
        report("pc-testdev: port 0xE0 latch reads back", 1);
    else
        report_skip("pc-testdev", "port 0xE0 latch does not read back");
    if (have_apic)
    {
        bsp_id = apic_id();
        exc_set_handler(V_SPURIOUS, spurious_handler);
    }

    /* `skip-legacy` on the command line leaves out the real-mode and
     * 32-bit sections (for hypervisors that cannot run them). */
    int legacy = !cmdline_has("skip-legacy");
    if (legacy)
        test_real_mode();
    else
        report_skip("real mode", "skip-legacy");
    test_pic();
    test_pic_testdev();
    if (legacy)
        test_pm32(100000);
    else
        report_skip("32-bit protected mode", "skip-legacy");
    test_ioapic();
    test_lapic();
    cli();
    pic_set_mask(0xFFFF);
    report("no APIC spurious-vector interrupts", vcount[V_SPURIOUS] == 0);
    return 0;
}
