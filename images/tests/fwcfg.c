/* fwcfg: QEMU's firmware configuration device as a guest reads it:
 * signature and ID, selector/offset semantics, NB_CPUS against the MADT,
 * RAM_SIZE against the multiboot memory map, the FILE_DIR listing (and
 * etc/e820 when present), and the DMA interface when the ID advertises it.
 * QEMU docs/specs/fw_cfg.rst. */
#include "acpi.h"
#include "fwcfg.h"
#include "runtime.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

static uint32_t id;
static uint64_t ram_size;

static void test_basics(void)
{
    char buf[8];
    fwcfg_read_key(FW_CFG_SIGNATURE, buf, 4);
    report("key 0x0000 reads the signature \"QEMU\"", !memcmp(buf, "QEMU", 4));
    memset(buf, 0x55, sizeof buf);
    fwcfg_read(buf, 4);
    report("reading past the end of an item returns zeros", !memcmp(buf, "\0\0\0\0", 4));
    fwcfg_read_key(FW_CFG_SIGNATURE, buf, 2);
    fwcfg_read(buf + 2, 2);
    report("consecutive reads continue at the next byte", !memcmp(buf, "QEMU", 4));
    fwcfg_read_key(FW_CFG_SIGNATURE, buf, 1);
    fwcfg_read_key(FW_CFG_SIGNATURE, buf, 4);
    report("selecting a key again restarts at offset 0", !memcmp(buf, "QEMU", 4));
    memset(buf, 0x55, sizeof buf);
    fwcfg_read_key(0x3FFE, buf, 4);
    report("an item that does not exist reads as zeros", !memcmp(buf, "\0\0\0\0", 4));

    id = fwcfg_u32(FW_CFG_ID);
    report("ID bit 0: the traditional I/O interface", id & FW_CFG_ID_TRADITIONAL);
    report("ID has no bits beyond 0 (I/O) and 1 (DMA)", !(id & ~3u));
}

static void test_cpus(void)
{
    unsigned n = fwcfg_u16(FW_CFG_NB_CPUS);
    unsigned max = fwcfg_u16(FW_CFG_MAX_CPUS);
    report("NB_CPUS (key 0x0005) is at least 1 and sane", n >= 1 && n <= 1024);
    if (max)
        report("NB_CPUS <= MAX_CPUS (key 0x000F)", n <= max);
    else
        report_skip("NB_CPUS <= MAX_CPUS (key 0x000F)", "MAX_CPUS not provided");
    struct madt_info m;
    if (acpi_parse_madt(&m))
    {
        reportf(m.ncpus == n, "NB_CPUS equals the MADT's enabled processors (%u)", n);
        uint32_t bsp = cpuid(1).b >> 24;
        int found = 0;
        for (unsigned i = 0; i < m.ncpus; i++)
            found |= m.apic_ids[i] == bsp;
        report("the BSP's CPUID APIC id is one of them", found);
    }
    else
        report("MADT found to compare NB_CPUS with", 0);
}

/* The multiboot map as (addr, len, type) triples. */
static unsigned mb_map(uint64_t (*out)[3], unsigned max)
{
    if (!(mb_info.flags & MBI_FLAG_MMAP))
        return 0;
    unsigned n = 0;
    uintptr_t p = mb_info.mmap_addr, end = p + mb_info.mmap_length;
    while (p < end && n < max)
    {
        const struct multiboot_mmap_entry *e = (const void *)p;
        out[n][0] = e->addr;
        out[n][1] = e->len;
        out[n][2] = e->type;
        n++;
        p += e->size + 4;
    }
    return n;
}

static uint64_t mb[64][3];
static unsigned nmb;

static void test_ram(void)
{
    ram_size = fwcfg_u64(FW_CFG_RAM_SIZE);
    report("RAM_SIZE (key 0x0003) is a whole number of MiB, at least 16 MiB",
           ram_size >= 16 * MiB && ram_size % MiB == 0);
    nmb = mb_map(mb, 64);
    if (!report("multiboot memory map present", nmb > 0))
        return;
    uint64_t total = 0, top_low = 0;
    for (unsigned i = 0; i < nmb; i++)
        if (mb[i][2] == 1)
        {
            total += mb[i][1];
            uint64_t end = mb[i][0] + mb[i][1];
            if (end <= 4 * GiB && end > top_low)
                top_low = end;
        }
    report("multiboot RAM adds up to no more than RAM_SIZE", total <= ram_size);
    report("multiboot RAM adds up to RAM_SIZE minus less than 1/16 + 1 MiB of holes",
           total + ram_size / 16 + MiB >= ram_size);
    report("RAM below 4 GiB ends at or below RAM_SIZE", top_low <= ram_size || ram_size > 3 * GiB);
    report("mem_upper agrees: 1 MiB + mem_upper KiB <= RAM_SIZE",
           !(mb_info.flags & MBI_FLAG_MEM) || MiB + (uint64_t)mb_info.mem_upper * 1024 <= ram_size);
}

static struct fw_cfg_file files[256];
static uint32_t nfiles;

static void test_file_dir(void)
{
    uint32_t count_be;
    fwcfg_read_key(FW_CFG_FILE_DIR, &count_be, 4);
    uint32_t count = bswap32(count_be);
    if (!report("FILE_DIR (key 0x0019) lists files (big-endian count, 1..4096)", count >= 1 && count <= 4096))
        return;
    nfiles = count < ARRAY_SIZE(files) ? count : ARRAY_SIZE(files);
    fwcfg_read(files, nfiles * sizeof files[0]);
    int names_ok = 1, selects_ok = 1, unique = 1;
    for (uint32_t i = 0; i < nfiles; i++)
    {
        const struct fw_cfg_file *f = &files[i];
        size_t len = 0;
        while (len < sizeof f->name && f->name[len])
            len++;
        if (len == 0 || len == sizeof f->name)
            names_ok = 0;
        uint16_t sel = bswap16(f->select_be);
        if (sel < FW_CFG_FILE_FIRST || sel >= 0x8000)
            selects_ok = 0;
        for (uint32_t j = 0; j < i; j++)
            if (files[j].select_be == f->select_be || !strcmp(files[j].name, f->name))
                unique = 0;
    }
    report("FILE_DIR names are non-empty and NUL-terminated", names_ok);
    report("FILE_DIR selectors are in the file range 0x0020-0x7FFF", selects_ok);
    report("FILE_DIR names and selectors are unique", unique);
    if (count <= ARRAY_SIZE(files))
    {
        uint8_t after[4] = {1, 1, 1, 1};
        fwcfg_read(after, 4);
        report("FILE_DIR ends after count entries (zeros follow)", !after[0] && !after[1] && !after[2] && !after[3]);
    }
    /* Each file reads its size bytes and then zeros. */
    int sizes_ok = 1;
    for (uint32_t i = 0; i < nfiles && i < 8; i++)
    {
        uint32_t size = bswap32(files[i].size_be);
        if (size > 4096)
            continue;
        fwcfg_select(bswap16(files[i].select_be));
        uint8_t b;
        for (uint32_t k = 0; k < size; k++)
            fwcfg_read(&b, 1);
        uint8_t tail[4] = {1, 1, 1, 1};
        fwcfg_read(tail, 4);
        if (tail[0] | tail[1] | tail[2] | tail[3])
            sizes_ok = 0;
    }
    report("files read as their listed size, then zeros", sizes_ok);
}

struct __attribute__((packed)) e820_entry
{
    uint64_t addr, len;
    uint32_t type;
};

static void test_e820(void)
{
    uint16_t sel;
    uint32_t size;
    if (!fwcfg_find_file("etc/e820", &sel, &size))
    {
        report_skip("etc/e820 compared with the multiboot map", "no etc/e820 file");
        return;
    }
    if (!report("etc/e820 size is a multiple of 20 bytes, at least one entry", size >= 20 && size % 20 == 0 &&
                                                                                  size <= 128 * 20))
        return;
    static struct e820_entry e[128];
    unsigned n = size / 20;
    fwcfg_read_key(sel, e, size);
    uint64_t ram = 0;
    for (unsigned i = 0; i < n; i++)
        if (e[i].type == 1)
            ram += e[i].len;
    report("etc/e820 RAM adds up to RAM_SIZE", ram == ram_size);
    int covered = 1;
    for (unsigned i = 0; i < nmb; i++)
    {
        if (mb[i][2] != 1)
            continue;
        int in = 0;
        for (unsigned k = 0; k < n && !in; k++)
            in = e[k].type == 1 && mb[i][0] >= e[k].addr && mb[i][0] + mb[i][1] <= e[k].addr + e[k].len;
        if (!in)
            covered = 0;
    }
    report("every multiboot RAM region lies inside an etc/e820 RAM entry", covered);
}

static struct fw_cfg_dma_access dma;

static uint32_t dma_run(uint16_t key, uint32_t control, void *buf, uint32_t len)
{
    dma.control = bswap32(((uint32_t)key << 16) | control);
    dma.length = bswap32(len);
    dma.address = bswap64((uint64_t)(uintptr_t)buf);
    __asm__ volatile("" ::: "memory");
    uint64_t a = (uint64_t)(uintptr_t)&dma;
    outl(FW_CFG_PORT_DMA, bswap32((uint32_t)(a >> 32)));
    outl(FW_CFG_PORT_DMA + 4, bswap32((uint32_t)a)); /* the low half starts it */
    for (unsigned i = 0; i < 1000000; i++)
    {
        uint32_t c = bswap32(*(volatile uint32_t *)&dma.control);
        if (!(c & ~FW_CFG_DMA_ERROR))
            return c;
    }
    return bswap32(*(volatile uint32_t *)&dma.control);
}

static void test_dma(void)
{
    if (!(id & FW_CFG_ID_DMA))
    {
        report_skip("DMA interface", "ID bit 1 clear");
        return;
    }
    uint64_t sig = (uint64_t)bswap32(inl(FW_CFG_PORT_DMA)) << 32 | bswap32(inl(FW_CFG_PORT_DMA + 4));
    report("DMA address register reads \"QEMU CFG\"", sig == FW_CFG_DMA_SIGNATURE);

    static char buf[16];
    memset(buf, 0x55, sizeof buf);
    uint32_t c = dma_run(FW_CFG_SIGNATURE, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, buf, 4);
    report("DMA select+read of key 0: \"QEMU\", control cleared", c == 0 && !memcmp(buf, "QEMU", 4) && buf[4] == 0x55);

    memset(buf, 0x55, sizeof buf);
    c = dma_run(FW_CFG_SIGNATURE, FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, 0, 2);
    uint32_t c2 = dma_run(0, FW_CFG_DMA_READ, buf, 2);
    report("DMA skip 2 then read 2 (same item): \"MU\"", c == 0 && c2 == 0 && buf[0] == 'M' && buf[1] == 'U');

    memset(buf, 0x55, sizeof buf);
    c = dma_run(FW_CFG_SIGNATURE, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, buf, 8);
    report("DMA read past the end fills zeros", c == 0 && !memcmp(buf, "QEMU\0\0\0\0", 8));

    memset(buf, 0x55, sizeof buf);
    c = dma_run(FW_CFG_NB_CPUS, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, buf, 2);
    report("DMA read of NB_CPUS matches the I/O read", c == 0 && (uint16_t)(buf[0] | buf[1] << 8) == fwcfg_u16(FW_CFG_NB_CPUS));

    if (nfiles)
    {
        static uint8_t dir[4 + sizeof files];
        uint32_t len = 4 + nfiles * (uint32_t)sizeof files[0];
        c = dma_run(FW_CFG_FILE_DIR, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, dir, len);
        report("DMA read of FILE_DIR matches the I/O read", c == 0 && !memcmp(dir + 4, files, len - 4));
    }

    memcpy(buf, "XXXX", 4);
    c = dma_run(FW_CFG_SIGNATURE, FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, buf, 4);
    report("DMA write to a read-only item reports an error", c == FW_CFG_DMA_ERROR);
    report("the signature is unchanged after the refused write", ({
               char s[4];
               fwcfg_read_key(FW_CFG_SIGNATURE, s, 4);
               !memcmp(s, "QEMU", 4);
           }));
}

int main(void)
{
    if (!report("fw_cfg present (signature \"QEMU\" at key 0)", fwcfg_present()))
        return 0;
    test_basics();
    test_cpus();
    test_ram();
    test_file_dir();
    test_e820();
    test_dma();
    if (cmdline_has("verbose"))
    {
        printf("ID 0x%x RAM_SIZE 0x%lx NB_CPUS %u files %u\n", id, ram_size, fwcfg_u16(FW_CFG_NB_CPUS), nfiles);
        for (uint32_t i = 0; i < nfiles; i++)
            printf("  0x%04x %6u %s\n", bswap16(files[i].select_be), bswap32(files[i].size_be), files[i].name);
        for (unsigned i = 0; i < nmb; i++)
            printf("  multiboot 0x%lx+0x%lx type %lu\n", mb[i][0], mb[i][1], mb[i][2]);
    }
    return 0;
}
