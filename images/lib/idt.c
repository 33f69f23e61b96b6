#include "idt.h"
#include "desc.h"
#include "printf.h"
#include "report.h"
#include "user.h"
#include "x86.h"

/* SDM Vol. 3A §7.14.1 "64-Bit Mode IDT": 16-byte interrupt gates. */
struct __attribute__((packed)) idt_gate
{
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

extern char isr_stubs[];
__attribute__((aligned(16))) static struct idt_gate idt[256];
static exc_handler_fn handlers[256];

volatile struct exc_record exc_last;
volatile uint64_t exc_count;
volatile int exc_vector = -1;
volatile uint64_t exc_fixup_rip;
volatile int catch_armed;

/* In catch.S: abandon the faulting context and return from
 * catch_exception() / run_user() with this value. */
__attribute__((noreturn)) void catch_landing(int vector);
__attribute__((noreturn)) void user_landing(uint64_t value);

static const char *const names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *exc_name(unsigned vector)
{
    return vector < 32 ? names[vector] : "interrupt";
}

void idt_set_gate(unsigned vector, unsigned ist, unsigned dpl)
{
    uint64_t addr = (uint64_t)(isr_stubs + 16 * vector);
    struct idt_gate *g = &idt[vector];
    g->offset_low = (uint16_t)addr;
    g->selector = SEL_CODE64;
    g->ist = (uint8_t)ist;
    g->type_attr = (uint8_t)(0x8E | (dpl << 5)); /* present, 64-bit interrupt gate */
    g->offset_mid = (uint16_t)(addr >> 16);
    g->offset_high = (uint32_t)(addr >> 32);
    g->reserved = 0;
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        idt_set_gate(v, 0, 0);
    idt_set_gate(DF_VECTOR, IST_DOUBLE_FAULT, 0);
    idt_set_gate(NMI_VECTOR, IST_NMI, 0);
    /* As Linux does: int3 and into are allowed from ring 3. */
    idt_set_gate(BP_VECTOR, 0, 3);
    idt_set_gate(OF_VECTOR, 0, 3);
    idt_set_gate(USER_RETURN_VECTOR, 0, 3);
    struct descriptor_pointer idtr = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void exc_set_handler(unsigned vector, exc_handler_fn fn)
{
    handlers[vector] = fn;
}

int expect_fault(int vector, void (*fn)(void *), void *arg)
{
    return catch_exception(fn, arg) == vector;
}

static __attribute__((noreturn)) void unexpected(struct exc_frame *f)
{
    printf("FAIL: unexpected exception %s (vector %lu) error 0x%lx at rip 0x%016lx cs 0x%lx "
           "rflags 0x%lx rsp 0x%016lx cr2 0x%016lx\n",
           exc_name((unsigned)f->vector), f->vector, f->error_code, f->rip, f->cs, f->rflags, f->rsp,
           read_cr2());
    report_tests++;
    report_failures++;
    report_summary();
}

void exc_dispatch(struct exc_frame *f)
{
    exc_count++;
    exc_last.vector = (int)f->vector;
    exc_last.error_code = f->error_code;
    exc_last.rip = f->rip;
    exc_last.cs = f->cs;
    exc_last.rflags = f->rflags;
    exc_last.rsp = f->rsp;
    exc_last.cr2 = f->vector == PF_VECTOR ? read_cr2() : 0;
    exc_last.frame_addr = (uint64_t)&f->rip;

    if (f->vector == USER_RETURN_VECTOR && user_active && (f->cs & 3) == 3)
    {
        user_active = 0;
        user_landing(f->rax);
    }
    if (handlers[f->vector])
    {
        handlers[f->vector](f);
        return;
    }
    if (exc_fixup_rip && (f->cs & 3) == 0)
    {
        exc_vector = (int)f->vector;
        f->rip = exc_fixup_rip;
        exc_fixup_rip = 0;
        return;
    }
    if (catch_armed)
    {
        catch_armed = 0;
        user_active = 0;
        catch_landing((int)f->vector);
    }
    unexpected(f);
}
