#include "paging.h"
#include "report.h"
#include "util.h"
#include "x86.h"

#define POOL_PAGES 64
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U) /* leaves decide the permissions */

__attribute__((aligned(4096))) static uint64_t pool[POOL_PAGES][512];
static unsigned pool_used;

static inline unsigned shift_of(int level)
{
    return 12 + 9 * (level - 1);
}

static inline unsigned index_of(uint64_t va, int level)
{
    return (va >> shift_of(level)) & 511;
}

static int level_of_size(uint64_t size)
{
    return size == PAGE_1G ? 3 : size == PAGE_2M ? 2 : 1;
}

static uint64_t *root(void)
{
    return (uint64_t *)(read_cr3() & PTE_ADDR_MASK);
}

uint64_t *pt_alloc(void)
{
    if (pool_used == POOL_PAGES)
    {
        report("page-table pool exhausted", 0);
        report_summary();
    }
    uint64_t *t = pool[pool_used++];
    memset(t, 0, 4096);
    return t;
}

/* Replaces a large leaf at `level` with a table of equivalent leaves one
 * level down. Bit 12 of a large leaf is PAT, not address. */
static void split(uint64_t *entry, int level)
{
    uint64_t *t = pt_alloc();
    uint64_t child_size = 1ull << shift_of(level - 1);
    uint64_t base = *entry & PTE_ADDR_MASK & ~((1ull << shift_of(level)) - 1);
    uint64_t flags = *entry & (0xFFFull | PTE_NX);
    if (level - 1 == 1)
        flags &= ~PTE_PS;
    for (unsigned i = 0; i < 512; i++)
        t[i] = (base + i * child_size) | flags;
    *entry = (uint64_t)t | TABLE_FLAGS;
}

uint64_t *walk_entry(uint64_t va, int level)
{
    uint64_t *table = root();
    for (int l = 4; l > level; l--)
    {
        uint64_t e = table[index_of(va, l)];
        if (!(e & PTE_P) || (l <= 3 && (e & PTE_PS)))
            return 0;
        table = (uint64_t *)(e & PTE_ADDR_MASK);
    }
    return &table[index_of(va, level)];
}

static uint64_t *walk_create(uint64_t va, int target)
{
    uint64_t *table = root();
    for (int l = 4; l > target; l--)
    {
        uint64_t *e = &table[index_of(va, l)];
        if (!(*e & PTE_P))
            *e = (uint64_t)pt_alloc() | TABLE_FLAGS;
        else if (l <= 3 && (*e & PTE_PS))
            split(e, l);
        table = (uint64_t *)(*e & PTE_ADDR_MASK);
    }
    return &table[index_of(va, target)];
}

void map_page(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags)
{
    int level = level_of_size(size);
    uint64_t *e = walk_create(va, level);
    *e = (pa & PTE_ADDR_MASK) | flags | (level > 1 ? PTE_PS : 0);
}

uint64_t *get_pte(uint64_t va, uint64_t size)
{
    return walk_create(va, level_of_size(size));
}

uint64_t *find_pte(uint64_t va, uint64_t *size)
{
    uint64_t *table = root();
    for (int l = 4; l >= 1; l--)
    {
        uint64_t *e = &table[index_of(va, l)];
        if (!(*e & PTE_P))
            return 0;
        if (l == 1 || (l <= 3 && (*e & PTE_PS)))
        {
            if (size)
                *size = 1ull << shift_of(l);
            return e;
        }
        table = (uint64_t *)(*e & PTE_ADDR_MASK);
    }
    return 0;
}

void set_page_flags(uint64_t va, uint64_t size, uint64_t set, uint64_t clear)
{
    uint64_t *e = get_pte(va, size);
    *e = (*e | set) & ~clear;
    invlpg((void *)va);
}

void unmap_page(uint64_t va)
{
    uint64_t *e = find_pte(va, 0);
    if (e)
        *e = 0;
    invlpg((void *)va);
}

uint64_t virt_to_phys(uint64_t va)
{
    uint64_t size;
    uint64_t *e = find_pte(va, &size);
    if (!e)
        return ~0ull;
    uint64_t base = *e & PTE_ADDR_MASK & ~(size - 1);
    return base | (va & (size - 1));
}
