/* GDT and TSS. boot.S loads this same GDT while still in 32-bit mode;
 * desc_init() adds the TSS descriptor and loads the task register. */
#include "desc.h"
#include "util.h"

__attribute__((aligned(16))) uint64_t gdt[GDT_ENTRIES] = {
    [0] = 0,
    [SEL_CODE64 >> 3] = 0x00AF9A000000FFFFull,
    [SEL_DATA >> 3] = 0x00CF92000000FFFFull,
    [SEL_CODE32 >> 3] = 0x00CF9A000000FFFFull,
    [SEL_USER_CODE32 >> 3] = 0x00CFFA000000FFFFull,
    [SEL_USER_DATA >> 3] = 0x00CFF2000000FFFFull,
    [SEL_USER_CODE64 >> 3] = 0x00AFFA000000FFFFull,
    [SEL_CODE16 >> 3] = 0x00009A000000FFFFull,
    [SEL_DATA16 >> 3] = 0x000092000000FFFFull,
};

__attribute__((aligned(16))) struct tss64 tss;
__attribute__((aligned(16))) uint8_t ist_stacks[3][IST_STACK_SIZE];
__attribute__((aligned(16))) static uint8_t ring0_stack[IST_STACK_SIZE];

uint64_t make_descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xF) << 48) | ((uint64_t)(flags & 0xF) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

void gdt_set(unsigned selector, uint64_t descriptor)
{
    gdt[selector >> 3] = descriptor;
}

void gdt_set_base(unsigned selector, uint32_t base)
{
    uint64_t d = gdt[selector >> 3];
    d &= ~(0xFFFFFFull << 16) & ~(0xFFull << 56);
    d |= ((uint64_t)(base & 0xFFFFFF) << 16) | ((uint64_t)(base >> 24) << 56);
    gdt[selector >> 3] = d;
}

void load_segment_ds(uint16_t selector)
{
    __asm__ volatile("mov %0, %%ds" : : "r"(selector) : "memory");
}

void desc_init(void)
{
    memset(&tss, 0, sizeof tss);
    tss.rsp[0] = (uint64_t)(ring0_stack + sizeof ring0_stack);
    tss.ist[IST_DOUBLE_FAULT] = (uint64_t)(ist_stacks[IST_DOUBLE_FAULT] + IST_STACK_SIZE);
    tss.ist[IST_NMI] = (uint64_t)(ist_stacks[IST_NMI] + IST_STACK_SIZE);
    tss.iomap_base = sizeof tss; /* no I/O permission bitmap */

    /* SDM Vol. 3A §8.2.3 "TSS Descriptor in 64-bit mode": type 9 (available
     * 64-bit TSS), present, DPL 0; the second quadword holds base[63:32]. */
    uint64_t base = (uint64_t)&tss;
    gdt[SEL_TSS >> 3] = make_descriptor((uint32_t)base, sizeof tss - 1, 0x89, 0);
    gdt[(SEL_TSS >> 3) + 1] = base >> 32;

    struct descriptor_pointer gdtr = {sizeof gdt - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_TSS));
}
