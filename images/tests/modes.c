/* modes: leaves long mode for 32-bit protected mode (with a turn through
 * 32-bit paging with 4 MiB pages), 16-bit protected mode and real mode, and
 * comes back; also visits compatibility mode by far call. Each level records
 * what it saw and this file checks it. */
#include "modes.h"
#include "runtime.h"

struct modes_result
{
    uint32_t compat_push, compat_cs;
    uint32_t pm32_efer, pm32_cr0, pm32_cs, pm32_push, pm32_arith;
    uint32_t pg32_read, pg32_pde;
    uint32_t pm32_back_cr0, lm_efer;
};

struct rm_result
{
    uint32_t in_a, in_b, in_c;
    uint32_t pm16_cs, pm16_push, pm16_sum, pm16_carry;
    uint32_t cr0, cs, push;
    uint32_t mul_lo, mul_hi, div_q, div_r;
    uint32_t seg_read1, seg_read2, int_result, ivt_save;
};

_Static_assert(sizeof(struct modes_result) == MR_SIZE, "struct modes_result matches modes.h");
_Static_assert(__builtin_offsetof(struct modes_result, lm_efer) == MR_LM_EFER, "lm_efer offset");
_Static_assert(__builtin_offsetof(struct modes_result, pg32_pde) == MR_PG32_PDE, "pg32_pde offset");
_Static_assert(sizeof(struct rm_result) == RM_SIZE, "struct rm_result matches modes.h");
_Static_assert(__builtin_offsetof(struct rm_result, int_result) == RM_INT_RESULT, "int_result offset");
_Static_assert(__builtin_offsetof(struct rm_result, pm16_carry) == RM_PM16_CARRY, "pm16_carry offset");

struct modes_result modes_result;
uint32_t modes_input;
uint32_t pg32_alias;
__attribute__((aligned(4096))) uint32_t pd32[1024];
static uint32_t pg32_target[4];

extern char tramp_start[], tramp_end[], tramp_rm_result[];
uint32_t compat_call(uint32_t x);
void modes_descend(void);

static void test_compat(void)
{
    uint32_t r = compat_call(41);
    report("64 -> compatibility mode -> 64 by far call/ret", r == 3 * 42 + 1);
    report("compatibility mode: 0x40 is INC EAX", r == 127);
    report("compatibility mode: push is 4 bytes", modes_result.compat_push == 4);
    report("compatibility mode: CS is the 32-bit selector", modes_result.compat_cs == SEL_CODE32);
    report("back in 64-bit mode with EFER.LMA", rdmsr(MSR_EFER) & EFER_LMA);
}

static void build_pd32(void)
{
    /* SDM Vol. 3A §5.3 "32-Bit Paging": a PDE with PS=1 maps 4 MiB. */
    for (unsigned i = 0; i < 1024; i++)
        pd32[i] = i < 256 ? (i << 22) | 0x83 : 0; /* P | W | PS, first 1 GiB */
    uint32_t target = (uint32_t)(uintptr_t)pg32_target;
    pd32[PG32_ALIAS_BASE >> 22] = (target & ~0x3FFFFFu) | 0x83;
    pg32_alias = PG32_ALIAS_BASE | (target & 0x3FFFFFu);
}

static void descend(uint32_t input, uint16_t a, uint16_t b, uint16_t c, int round)
{
    size_t size = (size_t)(tramp_end - tramp_start);
    memcpy((void *)TRAMP_BASE, tramp_start, size);
    volatile struct rm_result *rm = (volatile void *)(TRAMP_BASE + (tramp_rm_result - tramp_start));
    rm->in_a = a;
    rm->in_b = b;
    rm->in_c = c;
    gdt_set_base(SEL_CODE16, TRAMP_BASE);
    gdt_set_base(SEL_DATA16, TRAMP_BASE);
    *(volatile uint16_t *)(uintptr_t)(RM_SCRATCH_SEG * 16 + RM_SCRATCH_OFF) = 0;
    pg32_target[0] = 0xC0FFEE00u + round;
    pg32_target[1] = 0;
    build_pd32();
    modes_input = input;
    uint32_t ivt80 = *(volatile uint32_t *)(uintptr_t)(0x80 * 4);
    memset(&modes_result, 0, sizeof modes_result);

    modes_descend();

    const struct modes_result *m = &modes_result;
    printf("round %d: input 0x%x, real-mode operands 0x%x 0x%x 0x%x\n", round, input, a, b, c);
    report("32-bit PM: EFER.LME and EFER.LMA clear", !(m->pm32_efer & (EFER_LME | EFER_LMA)));
    report("32-bit PM: CR0.PE=1, CR0.PG=0", (m->pm32_cr0 & (CR0_PE | CR0_PG)) == CR0_PE);
    report("32-bit PM: CS is the 32-bit selector", m->pm32_cs == SEL_CODE32);
    report("32-bit PM: push is 4 bytes", m->pm32_push == 4);
    report("32-bit PM: imul/add arithmetic", m->pm32_arith == input * 7 + 0x12345678u);
    report("32-bit paging: read through a 4 MiB alias", m->pg32_read == 0xC0FFEE00u + round);
    report("32-bit paging: write through the alias reached the frame", pg32_target[1] == 0x600DF00D);
    report("32-bit paging: the 4 MiB PDE has A and D set", (m->pg32_pde & 0x60) == 0x60);

    report("16-bit PM: CS is the 16-bit selector", rm->pm16_cs == SEL_CODE16);
    report("16-bit PM: push is 2 bytes", rm->pm16_push == 2);
    report("16-bit PM: 0xFFFF + 2 wraps to 1 with CF", rm->pm16_sum == 1 && (rm->pm16_carry & 0xFF) == 1);

    uint32_t product = (uint32_t)a * b;
    report("real mode: CR0.PE=0", !(rm->cr0 & CR0_PE));
    report("real mode: CS is the trampoline segment", rm->cs == TRAMP_SEG);
    report("real mode: push is 2 bytes", rm->push == 2);
    report("real mode: 16-bit mul gives DX:AX", rm->mul_lo == (product & 0xFFFF) && rm->mul_hi == product >> 16);
    report("real mode: 16-bit div gives quotient and remainder",
           rm->div_q == product / c && rm->div_r == product % c);
    report("real mode: 2001:0000 and 1FFF:0020 read what 2000:0010 wrote",
           rm->seg_read1 == 0xBEEF && rm->seg_read2 == 0xBEEF);
    report("real mode: the write went to linear 0x20010",
           *(volatile uint16_t *)(uintptr_t)(RM_SCRATCH_SEG * 16 + RM_SCRATCH_OFF) == 0xBEEF);
    report("real mode: int $0x80 through the IVT ran the handler", rm->int_result == 0x2345);
    report("real mode: IVT entry 0x80 restored", *(volatile uint32_t *)(uintptr_t)(0x80 * 4) == ivt80);

    report("32-bit PM again: CR0.PE=1, CR0.PG=0", (m->pm32_back_cr0 & (CR0_PE | CR0_PG)) == CR0_PE);
    report("long mode again: EFER.LMA and EFER.LME set",
           (m->lm_efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA));
    report("long mode again: CS is the 64-bit selector", read_cs() == SEL_CODE64);
    report("long mode again: CR4.PAE and CR0.PG set", (read_cr4() & CR4_PAE) && (read_cr0() & CR0_PG));
    report("long mode again: the IDT works (ud2 caught)", ({
               int v;
               __asm__ volatile(ASM_TRY("1f") "ud2\n1:" ::: "r11", "memory");
               v = exc_vector;
               asm_try_end();
               v == UD_VECTOR;
           }));
}

int main(void)
{
    test_compat();
    descend(0x01020304, 0x1234, 0x5678, 0x1000, 1);
    descend(0xFFFFFFF0, 0xFFFF, 0xFFFF, 0xFFFF, 2);
    test_compat();
    return 0;
}
