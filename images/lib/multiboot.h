/* Multiboot v1: the header constants (shared with boot.S) and the boot
 * information structure the loader passes in EBX. Multiboot Specification
 * 0.6.96, §3.1 "OS image format" and §3.3 "Boot information format". */
#ifndef IMAGES_MULTIBOOT_H
#define IMAGES_MULTIBOOT_H

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define MULTIBOOT_PAGE_ALIGN (1 << 0)
#define MULTIBOOT_MEMORY_INFO (1 << 1)
#define MULTIBOOT_HEADER_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)
#define MBI_FLAG_MMAP (1u << 6)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct __attribute__((packed)) multiboot_info
{
    uint32_t flags;
    uint32_t mem_lower; /* KiB below 1 MiB */
    uint32_t mem_upper; /* KiB of contiguous RAM from 1 MiB */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
};

struct __attribute__((packed)) multiboot_mmap_entry
{
    uint32_t size; /* of the rest of the entry, not counting this field */
    uint64_t addr;
    uint64_t len;
    uint32_t type; /* 1 = available RAM */
};

/* Saved by boot.S from EAX and EBX at entry. */
extern uint32_t mb_magic;
extern uint32_t mb_info_addr;

/* A copy taken at start-up (the loader's copy sits in memory that tests may
 * reuse); zeroed when EAX did not hold the boot loader magic. */
extern struct multiboot_info mb_info;

/* The command line, copied; "" when the loader gave none. QEMU passes
 * "<kernel file name> <-append string>". */
extern char mb_cmdline[256];

void multiboot_init(void);

/* The value of "key=value" in the command line, or def when absent. */
uint64_t cmdline_u64(const char *key, uint64_t def);
/* Whether the bare word (or "word=...") appears in the command line. */
int cmdline_has(const char *word);
#endif

#endif
