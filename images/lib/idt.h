/* The IDT, exception dispatch and the two ways a test survives an exception
 * it provokes on purpose:
 *
 *   catch_exception(fn, arg)  runs fn(arg); if it raises an exception the
 *       run is abandoned (longjmp-style) and the vector is returned;
 *   ASM_TRY("1f") <insn> "1:"  inside one asm statement: if <insn> faults,
 *       execution resumes at label 1 and exc_vector holds the vector.
 *
 * Either way exc_last describes the exception. Any other exception prints
 * "FAIL: unexpected exception ..." and exits with failure. */
#ifndef IMAGES_IDT_H
#define IMAGES_IDT_H

#include <stdint.h>

#define DE_VECTOR 0
#define DB_VECTOR 1
#define NMI_VECTOR 2
#define BP_VECTOR 3
#define OF_VECTOR 4
#define BR_VECTOR 5
#define UD_VECTOR 6
#define NM_VECTOR 7
#define DF_VECTOR 8
#define TS_VECTOR 10
#define NP_VECTOR 11
#define SS_VECTOR 12
#define GP_VECTOR 13
#define PF_VECTOR 14
#define MF_VECTOR 16
#define AC_VECTOR 17
#define MC_VECTOR 18
#define XM_VECTOR 19
#define VE_VECTOR 20
#define CP_VECTOR 21
#define USER_RETURN_VECTOR 0x80 /* int $0x80 from ring 3 ends run_user() */

#define PF_ERR_P (1u << 0)
#define PF_ERR_W (1u << 1)
#define PF_ERR_U (1u << 2)
#define PF_ERR_RSVD (1u << 3)
#define PF_ERR_I (1u << 4)

/* What the common stub pushes, lowest address first, then the hardware frame. */
struct exc_frame
{
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

struct exc_record
{
    int vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t cr2;       /* for #PF only */
    uint64_t frame_addr; /* where the hardware frame was pushed (stack or IST in use) */
};

extern volatile struct exc_record exc_last;
extern volatile uint64_t exc_count; /* every exception dispatched */
extern volatile int exc_vector;     /* set by ASM_TRY fixups; -1 when nothing faulted */
extern volatile uint64_t exc_fixup_rip;

void idt_init(void);
/* Gate attributes for one vector: IST index (0 = none) and DPL. */
void idt_set_gate(unsigned vector, unsigned ist, unsigned dpl);

/* A handler run for the vector instead of the default policy; it may change
 * the frame (rip, rflags...) and returns to the interrupted code with iretq. */
typedef void (*exc_handler_fn)(struct exc_frame *frame);
void exc_set_handler(unsigned vector, exc_handler_fn fn);

/* Runs fn(arg). Returns -1 if it returned normally, else the vector of the
 * first exception it raised. Not reentrant. */
int catch_exception(void (*fn)(void *), void *arg);

/* Whether fn(arg) raised exactly this vector. */
int expect_fault(int vector, void (*fn)(void *), void *arg);

/* For single instructions. Needs "r11" and "memory" clobbers. Example:
 *   asm volatile(ASM_TRY("1f") "ud2\n1:" ::: "r11", "memory");
 *   if (exc_vector == UD_VECTOR) ... */
#define ASM_TRY(label)                                                       \
    "movl $-1, exc_vector(%%rip)\n\t"                                        \
    "leaq " label "(%%rip), %%r11\n\t"                                       \
    "movq %%r11, exc_fixup_rip(%%rip)\n\t"

/* Disarms the fixup of an ASM_TRY that did not fault (harmless otherwise). */
static inline void asm_try_end(void)
{
    exc_fixup_rip = 0;
}

const char *exc_name(unsigned vector);

#endif
