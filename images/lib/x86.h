/* Inline wrappers for privileged and identification instructions, and the
 * architectural bit names the images use. SDM Vol. 3A §2.5 "Control
 * Registers", §2.2.1 "Extended Feature Enable Register". */
#ifndef IMAGES_X86_H
#define IMAGES_X86_H

#include <stdint.h>

#define CR0_PE (1ul << 0)
#define CR0_MP (1ul << 1)
#define CR0_EM (1ul << 2)
#define CR0_TS (1ul << 3)
#define CR0_ET (1ul << 4)
#define CR0_NE (1ul << 5)
#define CR0_WP (1ul << 16)
#define CR0_AM (1ul << 18)
#define CR0_PG (1ul << 31)

#define CR4_PSE (1ul << 4)
#define CR4_PAE (1ul << 5)
#define CR4_PGE (1ul << 7)
#define CR4_OSFXSR (1ul << 9)
#define CR4_OSXMMEXCPT (1ul << 10)
#define CR4_PCIDE (1ul << 17)
#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)

#define MSR_EFER 0xC0000080u
#define MSR_STAR 0xC0000081u
#define MSR_LSTAR 0xC0000082u
#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u
#define MSR_TSC 0x10u
#define MSR_APIC_BASE 0x1Bu

#define EFER_SCE (1ul << 0)
#define EFER_LME (1ul << 8)
#define EFER_LMA (1ul << 10)
#define EFER_NXE (1ul << 11)

#define RFLAGS_CF (1ul << 0)
#define RFLAGS_ZF (1ul << 6)
#define RFLAGS_TF (1ul << 8)
#define RFLAGS_IF (1ul << 9)
#define RFLAGS_DF (1ul << 10)
#define RFLAGS_OF (1ul << 11)
#define RFLAGS_AC (1ul << 18)

struct cpuid_regs
{
    uint32_t a, b, c, d;
};

static inline struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(subleaf));
    return r;
}

static inline struct cpuid_regs cpuid(uint32_t leaf)
{
    return cpuid_count(leaf, 0);
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

#define DEFINE_CR_ACCESSORS(n)                                               \
    static inline uint64_t read_cr##n(void)                                  \
    {                                                                        \
        uint64_t v;                                                          \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                    \
        return v;                                                            \
    }                                                                        \
    static inline void write_cr##n(uint64_t v)                               \
    {                                                                        \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");           \
    }

DEFINE_CR_ACCESSORS(0)
DEFINE_CR_ACCESSORS(2)
DEFINE_CR_ACCESSORS(3)
DEFINE_CR_ACCESSORS(4)
DEFINE_CR_ACCESSORS(8)
#undef DEFINE_CR_ACCESSORS

static inline uint64_t read_dr6(void)
{
    uint64_t v;
    __asm__ volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

static inline void write_dr6(uint64_t v)
{
    __asm__ volatile("mov %0, %%dr6" : : "r"(v));
}

static inline uint64_t read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

static inline uint16_t read_cs(void)
{
    uint16_t v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    return v;
}

static inline uint16_t read_ss(void)
{
    uint16_t v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void invlpg(const volatile void *va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Reloading CR3 with its own value flushes every non-global translation of
 * the current PCID. SDM Vol. 3A §5.10.4.1 "Operations that Invalidate TLBs
 * and Paging-Structure Caches". */
static inline void reload_cr3(void)
{
    write_cr3(read_cr3());
}

static inline void cli(void)
{
    __asm__ volatile("cli" ::: "memory");
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

static inline int cpu_has_feature(uint32_t leaf, uint32_t subleaf, char reg, unsigned bit)
{
    if (cpuid(leaf & 0x80000000u).a < leaf)
        return 0;
    struct cpuid_regs r = cpuid_count(leaf, subleaf);
    uint32_t v = reg == 'a' ? r.a : reg == 'b' ? r.b : reg == 'c' ? r.c : r.d;
    return (v >> bit) & 1;
}

#define CPU_NX() cpu_has_feature(0x80000001u, 0, 'd', 20)
#define CPU_PAGE1GB() cpu_has_feature(0x80000001u, 0, 'd', 26)
#define CPU_PCID() cpu_has_feature(1, 0, 'c', 17)
#define CPU_SMEP() cpu_has_feature(7, 0, 'b', 7)
#define CPU_SMAP() cpu_has_feature(7, 0, 'b', 20)
#define CPU_INVPCID() cpu_has_feature(7, 0, 'b', 10)
#define CPU_PGE() cpu_has_feature(1, 0, 'd', 13)

#endif
