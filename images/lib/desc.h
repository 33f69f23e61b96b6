/* The runtime's GDT layout and TSS. The selectors are shared with the
 * assembly files, so this header is also included from .S files.
 * The user selectors follow the SYSRET layout (STAR[63:48] = 0x20):
 * 32-bit user code at +0, user data at +8, 64-bit user code at +16. */
#ifndef IMAGES_DESC_H
#define IMAGES_DESC_H

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18
#define SEL_USER_CODE32 0x23
#define SEL_USER_DATA 0x2B
#define SEL_USER_CODE64 0x33
#define SEL_CODE16 0x38 /* base set by whoever uses it */
#define SEL_DATA16 0x40 /* base set by whoever uses it */
#define SEL_TSS 0x48    /* 16-byte system descriptor */
#define SEL_SPARE1 0x58 /* free for tests */
#define SEL_SPARE2 0x60 /* free for tests */
#define GDT_ENTRIES 13

#ifndef __ASSEMBLER__
#include <stdint.h>

struct __attribute__((packed)) descriptor_pointer
{
    uint16_t limit;
    uint64_t base;
};

/* SDM Vol. 3A §8.7 "Task Management in 64-bit Mode", figure "64-Bit TSS Format". */
struct __attribute__((packed)) tss64
{
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t ist[8]; /* ist[0] is the reserved quadword at 0x1C; ist[n] is ISTn */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

_Static_assert(sizeof(struct tss64) == 0x68, "64-bit TSS is 104 bytes");

extern uint64_t gdt[GDT_ENTRIES];
extern struct tss64 tss;

/* A code or data descriptor from its parts: access byte (P, DPL, S, type)
 * and the flags nibble (G, D/B, L, AVL). */
uint64_t make_descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void gdt_set(unsigned selector, uint64_t descriptor);
void gdt_set_base(unsigned selector, uint32_t base);
void desc_init(void);
void load_segment_ds(uint16_t selector);

#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_STACK_SIZE 16384
extern uint8_t ist_stacks[3][IST_STACK_SIZE];
#endif

#endif
