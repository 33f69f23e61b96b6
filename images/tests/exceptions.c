/* exceptions: vectors, error codes, saved RIPs and delivery details (IST,
 * stack alignment, privilege changes, single-step and the MOV SS shadow). */
#include "runtime.h"

#define ASM_FN(name)           \
    extern void name(void *);  \
    extern char name##_insn[];

ASM_FN(raise_de)
ASM_FN(raise_de_overflow)
ASM_FN(raise_ud)
ASM_FN(raise_into)
ASM_FN(raise_syscall)
ASM_FN(raise_gp_noncanonical)
ASM_FN(raise_gp_rdmsr)
ASM_FN(raise_gp_selector)
ASM_FN(raise_gp_system_selector)
ASM_FN(raise_np)
ASM_FN(read_at)
ASM_FN(write_at)
ASM_FN(raise_double_fault)
ASM_FN(raise_mf)
ASM_FN(sse_movaps)
ASM_FN(raise_nm_fwait)
extern void raise_bp(void *), raise_bp_cd(void *), call_at(void *), raise_ud_misaligned(void *);
extern char raise_bp_next[], raise_bp_cd_next[];
extern void single_step_plain(void), single_step_mov_ss(void);
extern char single_step_plain_second[], single_step_mov_ss_after[], single_step_mov_ss_after2[];

#define USER_FN(name)       \
    extern void name(void); \
    extern char name##_insn[];
USER_FN(user_hlt)
USER_FN(user_cli)
USER_FN(user_read_cr0)
USER_FN(user_in)
USER_FN(user_rdmsr)
USER_FN(user_int21)
extern void user_return_arg(void), user_int3(void);

/* The catch must see exactly this vector, error code and saved RIP. */
static void expect(const char *what, void (*fn)(void *), void *arg, int vector, uint64_t error_code,
                   const void *rip)
{
    int got = catch_exception(fn, arg);
    int ok = got == vector && exc_last.error_code == error_code && exc_last.rip == (uint64_t)rip;
    reportf(ok, "%s raises %s(0x%lx) at the expected RIP", what, exc_name(vector), error_code);
    if (!ok)
        printf("  got vector %d error 0x%lx rip 0x%lx, expected rip 0x%lx\n", got, exc_last.error_code,
               exc_last.rip, (uint64_t)rip);
}

static void test_faults(void)
{
    expect("div by zero", raise_de, 0, DE_VECTOR, 0, raise_de_insn);
    expect("idiv INT_MIN / -1", raise_de_overflow, 0, DE_VECTOR, 0, raise_de_overflow_insn);
    expect("ud2", raise_ud, 0, UD_VECTOR, 0, raise_ud_insn);
    expect("into in 64-bit mode", raise_into, 0, UD_VECTOR, 0, raise_into_insn);
    expect("syscall with EFER.SCE clear", raise_syscall, 0, UD_VECTOR, 0, raise_syscall_insn);
    expect("non-canonical load", raise_gp_noncanonical, 0, GP_VECTOR, 0, raise_gp_noncanonical_insn);
    int v = catch_exception(raise_gp_rdmsr, 0);
    report_quirk(v == GP_VECTOR && exc_last.error_code == 0 && exc_last.rip == (uint64_t)raise_gp_rdmsr_insn,
                 v == -1, "no fault: QEMU 7.2 TCG reads unknown MSRs as 0",
                 "rdmsr of an unimplemented MSR raises #GP(0x0) at the expected RIP");
    expect("mov ds with selector past the GDT limit", raise_gp_selector, 0, GP_VECTOR, 0xFFF8,
           raise_gp_selector_insn);
    expect("mov ds with a TSS selector", raise_gp_system_selector, 0, GP_VECTOR, SEL_TSS,
           raise_gp_system_selector_insn);

    /* A data descriptor with P=0 (access byte 0x12: S=1, type read/write). */
    gdt_set(SEL_SPARE1, make_descriptor(0, 0xFFFFF, 0x12, 0xC));
    expect("mov ds with a not-present descriptor", raise_np, 0, NP_VECTOR, SEL_SPARE1, raise_np_insn);
    gdt_set(SEL_SPARE1, 0);

    report("DS still holds the data selector after the faults", ({
               uint16_t ds;
               __asm__ volatile("mov %%ds, %0" : "=r"(ds));
               ds == SEL_DATA;
           }));
}

static void test_breakpoints(void)
{
    /* Traps: the saved RIP is that of the next instruction. */
    expect("int3", raise_bp, 0, BP_VECTOR, 0, raise_bp_next);
    expect("int $3", raise_bp_cd, 0, BP_VECTOR, 0, raise_bp_cd_next);
}

#define TEST_VA 0x0000001000000000ull /* 64 GiB: outside the identity map */
__attribute__((aligned(4096))) static uint8_t test_frame[4096];

static void test_page_faults(void)
{
    map_page(TEST_VA, (uint64_t)test_frame, PAGE_4K, 0); /* not present */
    invlpg((void *)TEST_VA);

    int v = catch_exception(read_at, (void *)TEST_VA);
    reportf(v == PF_VECTOR && exc_last.error_code == 0 && exc_last.cr2 == TEST_VA &&
                exc_last.rip == (uint64_t)read_at_insn,
            "read of a not-present page: #PF(0x0), CR2 = address");
    v = catch_exception(write_at, (void *)(TEST_VA + 0x18));
    reportf(v == PF_VECTOR && exc_last.error_code == PF_ERR_W && exc_last.cr2 == TEST_VA + 0x18 &&
                exc_last.rip == (uint64_t)write_at_insn,
            "write to a not-present page: #PF(0x2), CR2 = address");

    /* Instruction fetch: I/D is reported when EFER.NXE (or CR4.SMEP) is set. */
    uint64_t fetch_err = (rdmsr(MSR_EFER) & EFER_NXE) ? PF_ERR_I : 0;
    v = catch_exception(call_at, (void *)(TEST_VA + 0x40));
    reportf(v == PF_VECTOR && exc_last.error_code == fetch_err && exc_last.cr2 == TEST_VA + 0x40 &&
                exc_last.rip == TEST_VA + 0x40,
            "fetch from a not-present page: #PF(0x%lx), CR2 = RIP = address", fetch_err);

    map_page(TEST_VA, (uint64_t)test_frame, PAGE_4K, PTE_P | PTE_W);
    invlpg((void *)TEST_VA);
    v = catch_exception(write_at, (void *)TEST_VA);
    report("the same write succeeds once the page is present",
           v == -1 && *(volatile uint64_t *)test_frame == 0x1234);
}

static void test_stack_alignment(void)
{
    /* The CPU aligns RSP to 16 before pushing the 64-bit frame, so the
     * saved RIP always sits at an address that is 8 mod 16. */
    catch_exception(raise_ud, 0);
    uint64_t a = exc_last.frame_addr;
    catch_exception(raise_ud_misaligned, 0);
    uint64_t b = exc_last.frame_addr;
    report("exception frame aligned to 16 (RSP 8 mod 16)", (a & 15) == 8);
    report("exception frame aligned to 16 (RSP 0 mod 16)", (b & 15) == 8);
    extern uint8_t boot_stack[];
    report("exceptions without IST use the current stack",
           a > (uint64_t)boot_stack && a < (uint64_t)boot_stack + 65536);
}

static void test_double_fault(void)
{
    uint64_t before = exc_count;
    int v = catch_exception(raise_double_fault, 0);
    uint64_t ist = (uint64_t)ist_stacks[IST_DOUBLE_FAULT];
    uint64_t cr2 = read_cr2();
    report("#PF while delivering #PF becomes #DF", v == DF_VECTOR);
    report("#DF error code is 0", exc_last.error_code == 0);
    report("#DF was delivered on the IST1 stack",
           exc_last.frame_addr >= ist && exc_last.frame_addr < ist + IST_STACK_SIZE);
    report("#DF: only the double fault reached the handler", exc_count - before == 1);
    report("#DF: CR2 holds the unmapped stack address", cr2 >= 0x8000000000ull && cr2 < 0x8000001000ull);
}

static void test_fpu(void)
{
    uint64_t cr0 = read_cr0();
    write_cr0(cr0 | CR0_TS);
    expect("SSE with CR0.TS=1", sse_movaps, 0, NM_VECTOR, 0, sse_movaps_insn);
    expect("fwait with CR0.TS=1 and CR0.MP=1", raise_nm_fwait, 0, NM_VECTOR, 0, raise_nm_fwait_insn);
    __asm__ volatile("clts");
    report("clts clears CR0.TS", !(read_cr0() & CR0_TS));
    report("SSE runs again after clts", catch_exception(sse_movaps, 0) == -1);

    uint64_t cr4 = read_cr4();
    write_cr4(cr4 & ~CR4_OSFXSR);
    expect("SSE with CR4.OSFXSR=0", sse_movaps, 0, UD_VECTOR, 0, sse_movaps_insn);
    write_cr4(cr4);

    expect("pending x87 invalid operation at fwait (CR0.NE=1)", raise_mf, 0, MF_VECTOR, 0, raise_mf_insn);
    __asm__ volatile("fninit");
}

static volatile int db_hits;
static volatile uint64_t db_rip, db_dr6;

static void db_hook(struct exc_frame *f)
{
    if (db_hits++ == 0)
    {
        db_rip = f->rip;
        db_dr6 = read_dr6();
    }
    f->rflags &= ~RFLAGS_TF;
}

static void test_single_step(void)
{
    exc_set_handler(DB_VECTOR, db_hook);

    db_hits = 0;
    write_dr6(0);
    single_step_plain();
    report("TF: one #DB after the first instruction", db_hits == 1 && db_rip == (uint64_t)single_step_plain_second);
    report("TF: DR6.BS set", db_dr6 & (1u << 14));

    db_hits = 0;
    write_dr6(0);
    single_step_mov_ss();
    report("mov ss: single-step trap delayed by one instruction",
           db_hits == 1 && db_rip == (uint64_t)single_step_mov_ss_after2);
    if (db_rip == (uint64_t)single_step_mov_ss_after)
        printf("  the trap came right after mov ss (no shadow)\n");

    exc_set_handler(DB_VECTOR, 0);
}

struct user_call
{
    void (*fn)(void);
    uint64_t arg;
    uint64_t result;
};

static void user_thunk(void *p)
{
    struct user_call *c = p;
    c->result = run_user(c->fn, c->arg);
}

static void expect_user(const char *what, void (*fn)(void), const void *rip, int vector, uint64_t error_code)
{
    struct user_call c = {fn, 0, 0};
    int got = catch_exception(user_thunk, &c);
    int ok = got == vector && exc_last.error_code == error_code && exc_last.rip == (uint64_t)rip &&
             exc_last.cs == SEL_USER_CODE64;
    reportf(ok, "ring 3 %s raises %s(0x%lx)", what, exc_name(vector), error_code);
    if (!ok)
        printf("  got vector %d error 0x%lx rip 0x%lx cs 0x%lx\n", got, exc_last.error_code, exc_last.rip,
               exc_last.cs);
}

static volatile uint64_t bp_ss, bp_cs, bp_frame;

static void bp_hook(struct exc_frame *f)
{
    bp_ss = read_ss();
    bp_cs = f->cs;
    bp_frame = (uint64_t)&f->rip;
}

static void test_user(void)
{
    struct user_call c = {user_return_arg, 42, 0};
    report("ring 3 round trip returns its argument", catch_exception(user_thunk, &c) == -1 && c.result == 42);
    expect_user("hlt", user_hlt, user_hlt_insn, GP_VECTOR, 0);
    expect_user("cli (IOPL 0)", user_cli, user_cli_insn, GP_VECTOR, 0);
    expect_user("mov from cr0", user_read_cr0, user_read_cr0_insn, GP_VECTOR, 0);
    expect_user("in (IOPL 0, no I/O bitmap)", user_in, user_in_insn, GP_VECTOR, 0);
    expect_user("rdmsr", user_rdmsr, user_rdmsr_insn, GP_VECTOR, 0);
    /* SDM Vol. 3A §7.13 "Error Code": the index field holds the vector and
     * bit 1 (IDT) is set, so 0x21 << 3 | 2. QEMU TCG scales by the 16-byte
     * gate size in 64-bit mode and reports 0x212. */
    struct user_call c21 = {user_int21, 0, 0};
    int v = catch_exception(user_thunk, &c21);
    report("ring 3 int $0x21 through a DPL 0 gate raises #GP with the IDT bit",
           v == GP_VECTOR && (exc_last.error_code & 3) == 2 && exc_last.rip == (uint64_t)user_int21_insn);
    report_quirk(v == GP_VECTOR && exc_last.error_code == 0x21 * 8 + 2, exc_last.error_code == 0x21 * 16 + 2,
                 "QEMU TCG reports 0x212 (index scaled by the 16-byte gate size)",
                 "ring 3 int $0x21: #GP error code is 0x10a");

    exc_set_handler(BP_VECTOR, bp_hook);
    c = (struct user_call){user_int3, 0, 0};
    v = catch_exception(user_thunk, &c);
    exc_set_handler(BP_VECTOR, 0);
    report("ring 3 int3 through a DPL 3 gate returns to ring 3", v == -1 && c.result == 0x56);
    report("ring 3 -> 0: frame CS is the user code selector", bp_cs == SEL_USER_CODE64);
    report("ring 3 -> 0: SS is loaded with a null selector", bp_ss == 0);
    report("ring 3 -> 0: frame on the TSS.RSP0 stack",
           bp_frame < tss.rsp[0] && bp_frame >= tss.rsp[0] - IST_STACK_SIZE);
}

int main(void)
{
    test_faults();
    test_breakpoints();
    test_page_faults();
    test_stack_alignment();
    test_double_fault();
    test_fpu();
    test_single_step();
    test_user();
    return 0;
}
