/* 4-level paging helpers over the live page tables (CR3). Everything below
 * 4 GiB is identity-mapped by boot.S with 2 MiB supervisor pages; tables
 * added here come from a static pool and are identity-mapped too, so a
 * table's physical address is its pointer. SDM Vol. 3A §5.5 "4-Level Paging
 * and 5-Level Paging". */
#ifndef IMAGES_PAGING_H
#define IMAGES_PAGING_H

#include <stdint.h>

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ull

#define PAGE_4K 0x1000ull
#define PAGE_2M 0x200000ull
#define PAGE_1G 0x40000000ull

/* A zeroed, 4 KiB-aligned table from the pool (halts with FAIL when empty). */
uint64_t *pt_alloc(void);

/* Installs one leaf of the given size (PAGE_4K, PAGE_2M or PAGE_1G) mapping
 * va to pa with these flags (PTE_PS is added for large pages). Missing
 * tables are created; a larger page in the way is split into equivalent
 * smaller ones. Does not invalidate the TLB. */
void map_page(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags);

/* The leaf entry of exactly this size for va (present or not), creating
 * tables and splitting larger pages as map_page does. */
uint64_t *get_pte(uint64_t va, uint64_t size);

/* The leaf entry that maps va, whatever its size, or null; *size (if not
 * null) receives the page size. Never changes the tables. */
uint64_t *find_pte(uint64_t va, uint64_t *size);

/* The entry at a given level (4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE) on
 * the walk for va, or null if the walk ends above that level. */
uint64_t *walk_entry(uint64_t va, int level);

/* Sets then clears flag bits in the leaf of that size mapping va (splitting
 * larger pages), then invlpg va. */
void set_page_flags(uint64_t va, uint64_t size, uint64_t set, uint64_t clear);

/* Clears the leaf mapping va (whatever its size) and invlpg va. */
void unmap_page(uint64_t va);

/* Translation by walking the tables (not the TLB); ~0 when unmapped. */
uint64_t virt_to_phys(uint64_t va);

#endif
