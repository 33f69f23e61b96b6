/* paging: 4-level paging as the MMU walks it: 4K/2M/1G leaves aliasing the
 * same frames, accessed/dirty updates, #PF error codes for every permission
 * rule (present, write, user, reserved bit, NX, SMEP, SMAP), and TLB
 * behaviour (stale entries until INVLPG, CR3 reloads, global pages, PCIDs
 * and INVPCID). SDM Vol. 3A chapter 5 "Paging". */
#include "runtime.h"

/* Scratch physical memory at 16 MiB, above the image and the loader's data,
 * identity-mapped like everything below 4 GiB. */
#define PHYS_SCRATCH 0x1000000ull
#define FRAME_A (PHYS_SCRATCH + 0x0000)
#define FRAME_B (PHYS_SCRATCH + 0x1000)
#define FRAME_CODE (PHYS_SCRATCH + 0x2000)
#define REGION_2M_A PHYS_SCRATCH            /* 16 MiB */
#define REGION_2M_B (PHYS_SCRATCH + PAGE_2M) /* 18 MiB */

/* Test virtual addresses, all outside the 4 GiB identity map. */
#define VA_4K 0x0000001000000000ull   /* 64 GiB */
#define VA_2M 0x0000001040000000ull   /* 65 GiB */
#define VA_1G 0x0000002000000000ull   /* 128 GiB */
#define VA_TLB 0x0000001000200000ull  /* a 4K page of its own */
#define VA_USER 0x0000001000400000ull /* its own page table */
#define VA_EXEC 0x0000001000600000ull /* its own page table */

#define PATTERN_A 0xA5A5A5A5A5A5A5A5ull
#define PATTERN_B 0x5B5B5B5B5B5B5B5Bull

extern void probe_read(void *), probe_write(void *), probe_call(void *);
extern void user_probe_read(void), user_probe_write(void);

static inline uint64_t peek(uint64_t va)
{
    return *(volatile uint64_t *)va;
}

static inline void poke(uint64_t va, uint64_t v)
{
    *(volatile uint64_t *)va = v;
}

static void expect_pf(const char *what, void (*fn)(void *), uint64_t addr, uint64_t error_code)
{
    int v = catch_exception(fn, (void *)addr);
    int ok = v == PF_VECTOR && exc_last.error_code == error_code && exc_last.cr2 == addr;
    reportf(ok, "%s: #PF(0x%lx), CR2 = address", what, error_code);
    if (!ok)
        printf("  got vector %d error 0x%lx cr2 0x%lx\n", v, exc_last.error_code, exc_last.cr2);
}

static void expect_no_fault(const char *what, void (*fn)(void *), uint64_t addr)
{
    int v = catch_exception(fn, (void *)addr);
    reportf(v == -1, "%s: no fault", what);
    if (v != -1)
        printf("  got vector %d error 0x%lx cr2 0x%lx\n", v, exc_last.error_code, exc_last.cr2);
}

/* SDM Vol. 3A §5.7 "Page-Fault Exceptions": reserved bits are checked only
 * in present entries, so RSVD comes with P set. QEMU 7.2 TCG leaves P clear. */
static void expect_rsvd_pf(const char *what, void (*fn)(void *), uint64_t addr, uint64_t access_bits)
{
    uint64_t want = PF_ERR_P | PF_ERR_RSVD | access_bits;
    int v = catch_exception(fn, (void *)addr);
    int right_fault = v == PF_VECTOR && exc_last.cr2 == addr;
    report_quirk(right_fault && exc_last.error_code == want,
                 right_fault && exc_last.error_code == (want & ~PF_ERR_P),
                 "QEMU TCG reports RSVD without P", "%s: #PF(0x%lx), CR2 = address", what, want);
    if (!right_fault)
        printf("  got vector %d error 0x%lx cr2 0x%lx\n", v, exc_last.error_code, exc_last.cr2);
}

struct user_probe
{
    void (*fn)(void);
    uint64_t addr;
    uint64_t result;
};

static void user_thunk(void *p)
{
    struct user_probe *u = p;
    u->result = run_user(u->fn, u->addr);
}

static void expect_user_pf(const char *what, void (*fn)(void), uint64_t addr, uint64_t error_code)
{
    struct user_probe u = {fn, addr, 0};
    int v = catch_exception(user_thunk, &u);
    int ok = v == PF_VECTOR && exc_last.error_code == error_code && exc_last.cr2 == addr &&
             exc_last.cs == SEL_USER_CODE64;
    reportf(ok, "ring 3 %s: #PF(0x%lx), CR2 = address", what, error_code);
    if (!ok)
        printf("  got vector %d error 0x%lx cr2 0x%lx cs 0x%lx\n", v, exc_last.error_code, exc_last.cr2,
               exc_last.cs);
}

static int has_1g;

static void test_aliases(void)
{
    map_page(VA_4K, FRAME_A, PAGE_4K, PTE_P | PTE_W);
    map_page(VA_2M, REGION_2M_A, PAGE_2M, PTE_P | PTE_W);
    invlpg((void *)VA_4K);
    invlpg((void *)VA_2M);
    uint64_t via_2m = VA_2M + (FRAME_A - REGION_2M_A);

    poke(VA_4K + 0x10, PATTERN_A);
    report("4K page: write visible through the identity map", peek(FRAME_A + 0x10) == PATTERN_A);
    report("2M page: reads what the 4K alias wrote", peek(via_2m + 0x10) == PATTERN_A);
    poke(via_2m + 0x18, PATTERN_B);
    report("4K page: reads what the 2M alias wrote", peek(VA_4K + 0x18) == PATTERN_B);
    report("virt_to_phys agrees for 4K and 2M leaves",
           virt_to_phys(VA_4K + 0x10) == FRAME_A + 0x10 && virt_to_phys(via_2m) == FRAME_A);

    if (!has_1g)
    {
        report_skip("1G pages", "CPUID.80000001H:EDX.Page1GB[26] clear");
        return;
    }
    map_page(VA_1G, 0, PAGE_1G, PTE_P | PTE_W);
    invlpg((void *)VA_1G);
    uint64_t via_1g = VA_1G + FRAME_A;
    report("1G page: reads what the 4K alias wrote", peek(via_1g + 0x10) == PATTERN_A);
    poke(via_1g + 0x20, PATTERN_A ^ PATTERN_B);
    report("2M page: reads what the 1G alias wrote", peek(via_2m + 0x20) == (PATTERN_A ^ PATTERN_B));
    report("1G page: the high end of the page reaches physical 1 GiB - 8",
           virt_to_phys(VA_1G + PAGE_1G - 8) == PAGE_1G - 8);
}

static void check_ad(const char *what, uint64_t va, volatile uint64_t *entry)
{
    *entry &= ~(PTE_A | PTE_D);
    invlpg((void *)va);
    (void)peek(va);
    uint64_t after_read = *entry;
    poke(va, peek(va));
    uint64_t after_write = *entry;
    reportf((after_read & (PTE_A | PTE_D)) == PTE_A, "%s: a read sets A only", what);
    reportf((after_write & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "%s: a write sets D", what);
}

static void test_accessed_dirty(void)
{
    check_ad("4K PTE", VA_4K, find_pte(VA_4K, 0));
    check_ad("2M PDE", VA_2M, find_pte(VA_2M, 0));
    if (has_1g)
        check_ad("1G PDPTE", VA_1G + FRAME_A, find_pte(VA_1G, 0));

    /* Non-leaf entries get A (never D). */
    volatile uint64_t *pde = walk_entry(VA_4K, 2), *pdpte = walk_entry(VA_4K, 3), *pml4e = walk_entry(VA_4K, 4);
    *pde &= ~PTE_A;
    *pdpte &= ~PTE_A;
    *pml4e &= ~PTE_A;
    invlpg((void *)VA_4K);
    (void)peek(VA_4K);
    report("the walk sets A in the PML4E, PDPTE and PDE", (*pde & *pdpte & *pml4e & PTE_A) != 0);
    report("the walk leaves D clear in non-leaf entries", ((*pde | *pdpte) & PTE_D) == 0);
}

static void test_protection(void)
{
    uint64_t va = VA_4K + 0x1000;
    map_page(va, FRAME_B, PAGE_4K, 0);
    invlpg((void *)va);
    expect_pf("read of a not-present page", probe_read, va + 8, 0);
    expect_pf("write to a not-present page", probe_write, va + 8, PF_ERR_W);

    map_page(va, FRAME_B, PAGE_4K, PTE_P);
    invlpg((void *)va);
    expect_no_fault("read of a read-only page", probe_read, va + 8);
    expect_pf("supervisor write to a read-only page, CR0.WP=1", probe_write, va + 8, PF_ERR_P | PF_ERR_W);
    write_cr0(read_cr0() & ~CR0_WP);
    expect_no_fault("supervisor write to a read-only page, CR0.WP=0", probe_write, va + 8);
    write_cr0(read_cr0() | CR0_WP);
    report("... and the write reached the frame", peek(FRAME_B + 8) == 0x5157);

    /* A PDE that forbids writes covers its whole table even if the PTE allows it. */
    map_page(va, FRAME_B, PAGE_4K, PTE_P | PTE_W);
    uint64_t *pde = walk_entry(va, 2);
    *pde &= ~PTE_W;
    invlpg((void *)va);
    expect_pf("write through a read-only PDE", probe_write, va + 8, PF_ERR_P | PF_ERR_W);
    *pde |= PTE_W;
    invlpg((void *)va);

    unsigned maxphy = cpuid(0x80000000u).a >= 0x80000008u ? cpuid(0x80000008u).a & 0xFF : 36;
    if (maxphy < 52)
    {
        map_page(va, FRAME_B | (1ull << maxphy), PAGE_4K, PTE_P | PTE_W);
        invlpg((void *)va);
        expect_rsvd_pf("read with a PTE address bit above MAXPHYADDR", probe_read, va, 0);
        expect_rsvd_pf("write with a PTE address bit above MAXPHYADDR", probe_write, va, PF_ERR_W);
        map_page(va, FRAME_B, PAGE_4K, PTE_P | PTE_W);
        invlpg((void *)va);
    }
    else
        report_skip("reserved address bits", "MAXPHYADDR is 52");
}

static void test_user(void)
{
    uint64_t sup = VA_USER, usr = VA_USER + 0x1000, usr_ro = VA_USER + 0x2000;
    map_page(sup, FRAME_A, PAGE_4K, PTE_P | PTE_W);
    map_page(usr, FRAME_A, PAGE_4K, PTE_P | PTE_W | PTE_U);
    map_page(usr_ro, FRAME_A, PAGE_4K, PTE_P | PTE_U);
    invlpg((void *)sup);
    invlpg((void *)usr);
    invlpg((void *)usr_ro);
    poke(FRAME_A + 0x30, PATTERN_B);

    struct user_probe u = {user_probe_read, usr + 0x30, 0};
    report("ring 3 read of a user page", catch_exception(user_thunk, &u) == -1 && u.result == PATTERN_B);
    expect_user_pf("read of a supervisor page", user_probe_read, sup + 0x30, PF_ERR_P | PF_ERR_U);
    expect_user_pf("write to a supervisor page", user_probe_write, sup + 0x30, PF_ERR_P | PF_ERR_W | PF_ERR_U);
    expect_user_pf("write to a read-only user page", user_probe_write, usr_ro + 0x30,
                   PF_ERR_P | PF_ERR_W | PF_ERR_U);
    expect_user_pf("read of a not-present page", user_probe_read, VA_USER + 0x3000, PF_ERR_U);

    /* U must be set at every level: clear it in the PDE only. */
    uint64_t *pde = walk_entry(usr, 2);
    *pde &= ~PTE_U;
    invlpg((void *)usr);
    expect_user_pf("read of a user PTE under a supervisor PDE", user_probe_read, usr + 0x30, PF_ERR_P | PF_ERR_U);
    *pde |= PTE_U;
    invlpg((void *)usr);

    /* Supervisor writes to a read-only user page obey CR0.WP too. */
    expect_pf("supervisor write to a read-only user page, CR0.WP=1", probe_write, usr_ro + 0x30,
              PF_ERR_P | PF_ERR_W);

    if (CPU_SMAP())
    {
        write_cr4(read_cr4() | CR4_SMAP);
        expect_pf("SMAP: supervisor read of a user page", probe_read, usr + 0x30, PF_ERR_P);
        expect_pf("SMAP: supervisor write to a user page", probe_write, usr + 0x30, PF_ERR_P | PF_ERR_W);
        __asm__ volatile("stac" ::: "memory");
        expect_no_fault("SMAP: supervisor read of a user page with EFLAGS.AC=1", probe_read, usr + 0x30);
        __asm__ volatile("clac" ::: "memory");
        write_cr4(read_cr4() & ~CR4_SMAP);
    }
    else
        report_skip("SMAP", "CPUID.7.0:EBX.SMAP[20] clear");
}

static void test_execute(void)
{
    /* The frame holds a single ret. */
    *(volatile uint8_t *)FRAME_CODE = 0xC3;
    uint64_t va = VA_EXEC;
    map_page(va, FRAME_CODE, PAGE_4K, PTE_P | PTE_W);
    invlpg((void *)va);
    expect_no_fault("call into an executable page", probe_call, va);

    if (rdmsr(MSR_EFER) & EFER_NXE)
    {
        map_page(va, FRAME_CODE, PAGE_4K, PTE_P | PTE_W | PTE_NX);
        invlpg((void *)va);
        expect_pf("fetch from an NX page", probe_call, va, PF_ERR_P | PF_ERR_I);
        expect_no_fault("read of an NX page", probe_read, va);

        /* XD in a non-leaf entry covers everything below it. */
        map_page(va, FRAME_CODE, PAGE_4K, PTE_P | PTE_W);
        uint64_t *pde = walk_entry(va, 2);
        *pde |= PTE_NX;
        invlpg((void *)va);
        expect_pf("fetch under an NX PDE", probe_call, va, PF_ERR_P | PF_ERR_I);
        *pde &= ~PTE_NX;
        invlpg((void *)va);
        expect_no_fault("fetch after clearing NX and INVLPG", probe_call, va);

        /* And for a 2M leaf. */
        uint64_t va2 = VA_2M + (FRAME_CODE - REGION_2M_A);
        set_page_flags(VA_2M, PAGE_2M, PTE_NX, 0);
        expect_pf("fetch from an NX 2M page", probe_call, va2, PF_ERR_P | PF_ERR_I);
        set_page_flags(VA_2M, PAGE_2M, 0, PTE_NX);
    }
    else
        report_skip("NX", "CPUID.80000001H:EDX.NX[20] clear");

    if (CPU_SMEP())
    {
        map_page(va, FRAME_CODE, PAGE_4K, PTE_P | PTE_W | PTE_U);
        invlpg((void *)va);
        expect_no_fault("supervisor fetch from a user page, CR4.SMEP=0", probe_call, va);
        write_cr4(read_cr4() | CR4_SMEP);
        expect_pf("SMEP: supervisor fetch from a user page", probe_call, va, PF_ERR_P | PF_ERR_I);
        write_cr4(read_cr4() & ~CR4_SMEP);
        map_page(va, FRAME_CODE, PAGE_4K, PTE_P | PTE_W);
        invlpg((void *)va);
    }
    else
        report_skip("SMEP", "CPUID.7.0:EBX.SMEP[7] clear");
}

/* Maps VA_TLB to FRAME_A and makes sure the translation is cached. */
static void tlb_prime(uint64_t flags)
{
    map_page(VA_TLB, FRAME_A, PAGE_4K, flags);
    invlpg((void *)VA_TLB);
    (void)peek(VA_TLB);
}

/* Points VA_TLB at FRAME_B in memory only. */
static void tlb_retarget(uint64_t flags)
{
    *find_pte(VA_TLB, 0) = FRAME_B | flags;
}

static void test_tlb(void)
{
    poke(FRAME_A, PATTERN_A);
    poke(FRAME_B, PATTERN_B);

    /* Not guaranteed by the architecture (an entry may be evicted at any
     * time) but what both QEMU's TCG and this project's emulator do: a
     * changed PTE is not seen until the entry is invalidated. */
    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(PTE_P | PTE_W);
    report("TLB: changed PTE without INVLPG still gives the old frame", peek(VA_TLB) == PATTERN_A);
    invlpg((void *)VA_TLB);
    report("TLB: INVLPG makes the new frame visible", peek(VA_TLB) == PATTERN_B);

    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(PTE_P | PTE_W);
    reload_cr3();
    report("TLB: CR3 reload flushes a non-global entry", peek(VA_TLB) == PATTERN_B);

    /* A stale not-present entry is never cached: making a page present
     * needs no invalidation to be seen... but a present-to-not-present change does. */
    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(0);
    report("TLB: clearing P without INVLPG still translates (stale)", peek(VA_TLB) == PATTERN_A);
    invlpg((void *)VA_TLB);
    expect_pf("TLB: after INVLPG the not-present PTE faults", probe_read, VA_TLB, 0);

    /* INVLPG of any address inside a 2M page drops the whole 2M entry. */
    poke(REGION_2M_A + 0x100000, PATTERN_A);
    poke(REGION_2M_B + 0x100000, PATTERN_B);
    map_page(VA_2M, REGION_2M_A, PAGE_2M, PTE_P | PTE_W);
    invlpg((void *)VA_2M);
    (void)peek(VA_2M + 0x100000);
    *find_pte(VA_2M, 0) = REGION_2M_B | PTE_P | PTE_W | PTE_PS;
    invlpg((void *)(VA_2M + 0x1FF000));
    report("TLB: INVLPG at the last 4K of a 2M page flushes the whole page", peek(VA_2M + 0x100000) == PATTERN_B);
    map_page(VA_2M, REGION_2M_A, PAGE_2M, PTE_P | PTE_W);
    invlpg((void *)VA_2M);

    if (!CPU_PGE())
    {
        report_skip("global pages", "CPUID.1:EDX.PGE[13] clear");
        return;
    }
    write_cr4(read_cr4() | CR4_PGE);
    tlb_prime(PTE_P | PTE_W | PTE_G);
    tlb_retarget(PTE_P | PTE_W | PTE_G);
    reload_cr3();
    uint64_t v = peek(VA_TLB);
    report_quirk(v == PATTERN_A, v == PATTERN_B, "QEMU TCG flushes global entries on every CR3 write",
                 "TLB: a global entry survives a CR3 reload (CR4.PGE=1)");
    write_cr4(read_cr4() & ~CR4_PGE);
    write_cr4(read_cr4() | CR4_PGE);
    report("TLB: toggling CR4.PGE flushes global entries", peek(VA_TLB) == PATTERN_B);

    tlb_prime(PTE_P | PTE_W | PTE_G);
    tlb_retarget(PTE_P | PTE_W | PTE_G);
    invlpg((void *)VA_TLB);
    report("TLB: INVLPG flushes a global entry", peek(VA_TLB) == PATTERN_B);
    write_cr4(read_cr4() & ~CR4_PGE);
}

/* SDM Vol. 2A INVPCID: descriptor = {PCID (bits 11:0), reserved, linear address}. */
struct invpcid_desc
{
    uint64_t pcid;
    uint64_t addr;
};

static void invpcid(unsigned long type, uint64_t pcid, uint64_t addr)
{
    struct invpcid_desc d = {pcid, addr};
    __asm__ volatile("invpcid %0, %1" : : "m"(d), "r"(type) : "memory");
}

static unsigned long invpcid_bad_type;
static void invpcid_bad(void *arg)
{
    invpcid(invpcid_bad_type, 0, (uint64_t)arg);
}

static void test_pcid(void)
{
    if (!CPU_PCID())
    {
        report_skip("PCID and INVPCID", "CPUID.1:ECX.PCID[17] clear");
        return;
    }
    uint64_t cr3 = read_cr3();
    write_cr4(read_cr4() | CR4_PCIDE);
    report("CR4.PCIDE can be set with CR3[11:0] = 0", read_cr4() & CR4_PCIDE);

    write_cr3(cr3 | 1);
    report("CR3 holds PCID 1", (read_cr3() & 0xFFF) == 1);
    poke(FRAME_A, PATTERN_A);
    report("translation works under PCID 1", peek(VA_4K) == PATTERN_A);
    write_cr3(cr3 | (1ull << 63));
    report("CR3 bit 63 (no flush) is not stored", read_cr3() == cr3);

    if (!CPU_INVPCID())
    {
        report_skip("INVPCID", "CPUID.7.0:EBX.INVPCID[10] clear");
        write_cr4(read_cr4() & ~CR4_PCIDE);
        return;
    }
    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(PTE_P | PTE_W);
    invpcid(0, 0, VA_TLB);
    report("INVPCID type 0 (address) flushes that address", peek(VA_TLB) == PATTERN_B);

    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(PTE_P | PTE_W);
    invpcid(1, 0, 0);
    report("INVPCID type 1 (single context) flushes the context", peek(VA_TLB) == PATTERN_B);

    write_cr4(read_cr4() | CR4_PGE);
    tlb_prime(PTE_P | PTE_W | PTE_G);
    tlb_retarget(PTE_P | PTE_W | PTE_G);
    invpcid(2, 0, 0);
    report("INVPCID type 2 (all, with globals) flushes a global entry", peek(VA_TLB) == PATTERN_B);

    tlb_prime(PTE_P | PTE_W);
    tlb_retarget(PTE_P | PTE_W);
    invpcid(3, 0, 0);
    report("INVPCID type 3 (all but globals) flushes a non-global entry", peek(VA_TLB) == PATTERN_B);
    write_cr4(read_cr4() & ~CR4_PGE);

    invpcid_bad_type = 4;
    int v = catch_exception(invpcid_bad, 0);
    report("INVPCID type 4 raises #GP(0)", v == GP_VECTOR && exc_last.error_code == 0);
    invpcid_bad_type = 0;
    v = catch_exception(invpcid_bad, (void *)0x8000000000000000ull);
    report("INVPCID type 0 with a non-canonical address raises #GP(0)", v == GP_VECTOR && exc_last.error_code == 0);

    write_cr4(read_cr4() & ~CR4_PCIDE);
    report("CR4.PCIDE cleared", !(read_cr4() & CR4_PCIDE));
}

int main(void)
{
    has_1g = CPU_PAGE1GB();
    test_aliases();
    test_accessed_dirty();
    test_protection();
    test_user();
    test_execute();
    test_tlb();
    test_pcid();
    return 0;
}
