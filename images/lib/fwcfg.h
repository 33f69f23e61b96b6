/* QEMU's firmware configuration device, traditional I/O interface:
 * selector at 0x510 (16-bit write), data at 0x511 (8-bit reads, the
 * selected item's bytes in order), and the DMA interface at 0x514 (64-bit
 * big-endian address of a FWCfgDmaAccess, written as two 32-bit halves,
 * high first). QEMU docs/specs/fw_cfg.rst. */
#ifndef IMAGES_FWCFG_H
#define IMAGES_FWCFG_H

#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA 0x514

#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_UUID 0x0002
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_MAX_CPUS 0x000F
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_FILE_FIRST 0x0020

#define FW_CFG_ID_TRADITIONAL (1u << 0)
#define FW_CFG_ID_DMA (1u << 1)

#define FW_CFG_DMA_ERROR (1u << 0)
#define FW_CFG_DMA_READ (1u << 1)
#define FW_CFG_DMA_SKIP (1u << 2)
#define FW_CFG_DMA_SELECT (1u << 3)
#define FW_CFG_DMA_WRITE (1u << 4)
#define FW_CFG_DMA_SIGNATURE 0x51454D5520434647ull /* "QEMU CFG" */

/* One FILE_DIR entry as stored (size and select big-endian). */
struct __attribute__((packed)) fw_cfg_file
{
    uint32_t size_be;
    uint16_t select_be;
    uint16_t reserved;
    char name[56];
};

/* A DMA request descriptor, every field big-endian. */
struct __attribute__((packed, aligned(8))) fw_cfg_dma_access
{
    uint32_t control;
    uint32_t length;
    uint64_t address;
};

static inline uint16_t bswap16(uint16_t v)
{
    return __builtin_bswap16(v);
}
static inline uint32_t bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}
static inline uint64_t bswap64(uint64_t v)
{
    return __builtin_bswap64(v);
}

void fwcfg_select(uint16_t key);
/* Reads n bytes of the selected item from the current offset. */
void fwcfg_read(void *buf, size_t n);
void fwcfg_read_key(uint16_t key, void *buf, size_t n);
/* Little-endian integer items. */
uint16_t fwcfg_u16(uint16_t key);
uint32_t fwcfg_u32(uint16_t key);
uint64_t fwcfg_u64(uint16_t key);
/* Whether key 0 reads "QEMU". */
int fwcfg_present(void);
/* Looks a name up in FILE_DIR; returns 1 and fills *select and *size. */
int fwcfg_find_file(const char *name, uint16_t *select, uint32_t *size);
/* The CPU count the way guests read it: NB_CPUS when the device is
 * present, else 0. */
unsigned fwcfg_cpu_count(void);

#endif
