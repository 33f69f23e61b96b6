#include "fwcfg.h"
#include "util.h"
#include "x86.h"

void fwcfg_select(uint16_t key)
{
    outw(FW_CFG_PORT_SEL, key);
}

void fwcfg_read(void *buf, size_t n)
{
    uint8_t *b = buf;
    while (n--)
        *b++ = inb(FW_CFG_PORT_DATA);
}

void fwcfg_read_key(uint16_t key, void *buf, size_t n)
{
    fwcfg_select(key);
    fwcfg_read(buf, n);
}

uint16_t fwcfg_u16(uint16_t key)
{
    uint16_t v;
    fwcfg_read_key(key, &v, sizeof v);
    return v;
}

uint32_t fwcfg_u32(uint16_t key)
{
    uint32_t v;
    fwcfg_read_key(key, &v, sizeof v);
    return v;
}

uint64_t fwcfg_u64(uint16_t key)
{
    uint64_t v;
    fwcfg_read_key(key, &v, sizeof v);
    return v;
}

int fwcfg_present(void)
{
    char sig[4];
    fwcfg_read_key(FW_CFG_SIGNATURE, sig, 4);
    return !memcmp(sig, "QEMU", 4);
}

int fwcfg_find_file(const char *name, uint16_t *select, uint32_t *size)
{
    uint32_t count_be;
    fwcfg_read_key(FW_CFG_FILE_DIR, &count_be, 4);
    uint32_t count = bswap32(count_be);
    for (uint32_t i = 0; i < count && i < 4096; i++)
    {
        struct fw_cfg_file f;
        fwcfg_read(&f, sizeof f);
        f.name[55] = '\0';
        if (!strcmp(f.name, name))
        {
            *select = bswap16(f.select_be);
            *size = bswap32(f.size_be);
            return 1;
        }
    }
    return 0;
}

unsigned fwcfg_cpu_count(void)
{
    return fwcfg_present() ? fwcfg_u16(FW_CFG_NB_CPUS) : 0;
}
