/* hello: the smallest image. Greets, shows the multiboot command line, and
 * checks what the loader promised: the magic in EAX, memory sizes, the
 * memory map, and the long-mode state the runtime set up. */
#include "runtime.h"

#ifndef IMAGE_NAME
#define IMAGE_NAME "hello.elf"
#endif

static volatile uint64_t in_bss[512];

static void check_memory_map(void)
{
    if (!(mb_info.flags & MBI_FLAG_MMAP))
    {
        report_skip("memory map", "loader gave none");
        return;
    }
    uint64_t image_start = (uint64_t)__image_start, image_end = (uint64_t)__image_end;
    int covers_image = 0, entries = 0, well_formed = 1;
    uint64_t ram = 0;
    uint32_t off = 0;
    while (off < mb_info.mmap_length)
    {
        const struct multiboot_mmap_entry *e =
            (const void *)(uintptr_t)(mb_info.mmap_addr + off);
        if (e->size < 20)
        {
            well_formed = 0;
            break;
        }
        entries++;
        if (e->type == 1)
        {
            ram += e->len;
            if (e->addr <= image_start && e->addr + e->len >= image_end)
                covers_image = 1;
        }
        off += e->size + 4;
    }
    report("memory map entries are well formed", well_formed && entries > 0);
    report("memory map: a RAM range holds the image", covers_image);
    report("memory map: RAM total >= mem_upper", ram >= (uint64_t)mb_info.mem_upper * 1024);
}

int main(void)
{
    printf("Hello from " IMAGE_NAME " (cmdline: \"%s\")\n", mb_cmdline);

    report("multiboot magic is 0x2BADB002", mb_magic == MULTIBOOT_BOOTLOADER_MAGIC);
    report("multiboot info pointer is below 4 GiB and not null", mb_info_addr != 0);
    report("multiboot flags: mem_lower/mem_upper valid", mb_info.flags & MBI_FLAG_MEM);
    report("mem_lower is 1..640 KiB", mb_info.mem_lower > 0 && mb_info.mem_lower <= 640);
    /* mem_upper counts KiB from 1 MiB: the image ends above 4 MiB, and the
     * field is 32 bits of KiB. */
    uint64_t upper_end = 0x100000ull + (uint64_t)mb_info.mem_upper * 1024;
    report("mem_upper covers the loaded image", upper_end >= (uint64_t)__image_end);
    report("mem_upper is below 4 GiB", mb_info.mem_upper <= 4u * 1024 * 1024);
    printf("mem_lower=%u KiB mem_upper=%u KiB\n", mb_info.mem_lower, mb_info.mem_upper);
    report("multiboot flags: cmdline valid", mb_info.flags & MBI_FLAG_CMDLINE);
    check_memory_map();

    report("EFER.LMA set (long mode active)", rdmsr(MSR_EFER) & EFER_LMA);
    report("CR0.PG and CR0.PE set", (read_cr0() & (CR0_PG | CR0_PE)) == (CR0_PG | CR0_PE));
    report("CR4.PAE set", read_cr4() & CR4_PAE);
    report("CS is the 64-bit code selector", read_cs() == SEL_CODE64);
    int zero = 1;
    for (unsigned i = 0; i < ARRAY_SIZE(in_bss); i++)
        zero &= in_bss[i] == 0;
    report("bss is zero", zero);
    return 0;
}
