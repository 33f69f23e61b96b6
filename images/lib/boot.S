/* Multiboot v1 header and the 32-bit entry point.
 *
 * The loader enters _start in 32-bit protected mode with paging off,
 * EAX = 0x2BADB002 and EBX = the multiboot information. This stub saves both,
 * clears .bss, loads the runtime's GDT, identity-maps the first 4 GiB with
 * 2 MiB pages (4-level PAE paging), enables SSE (CR4.OSFXSR/OSXMMEXCPT,
 * CR0.MP, CR0.EM clear), EFER.LME (and NXE when CPUID advertises NX), CR0.WP
 * and paging, far-jumps to 64-bit code and calls runtime_start().
 * SDM Vol. 3A §10.8.5 "Initializing IA-32e Mode". */
#include "desc.h"
#include "multiboot.h"

#define BOOT_STACK_SIZE 65536

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_HEADER_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov %eax, %ebp
    mov %ebx, %esi

    /* The loader zeroes .bss already (p_memsz > p_filesz); doing it again
     * keeps the image correct under loaders that do not. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov %ebp, mb_magic
    mov %esi, mb_info_addr
    mov $boot_stack + BOOT_STACK_SIZE, %esp

    lgdt gdt_pointer32
    ljmp $SEL_CODE32, $1f
1:  mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages.
     * Non-leaf entries allow user access (P|W|U) so that a test can make a
     * single leaf user-accessible; the leaves are supervisor-only. */
    mov $boot_pdpt + 7, %eax
    mov %eax, boot_pml4
    mov $boot_pd + 7, %eax
    xor %ecx, %ecx
2:  mov %eax, boot_pdpt(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 2b

    xor %ecx, %ecx
3:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                  /* P | W | PS */
    mov %eax, boot_pd(, %ecx, 8)
    mov %ecx, %edx
    shr $11, %edx
    mov %edx, boot_pd + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 3b

    mov %cr4, %eax
    or $(1 << 5) | (1 << 9) | (1 << 10), %eax   /* PAE | OSFXSR | OSXMMEXCPT */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3

    /* EFER.NXE only when CPUID.80000001H:EDX[20] says NX exists: setting
     * it otherwise is a #GP. */
    xor %ebx, %ebx
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 4f
    mov $0x80000001, %eax
    cpuid
    test $(1 << 20), %edx
    jz 4f
    mov $(1 << 11), %ebx
4:  mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax              /* LME */
    or %ebx, %eax
    wrmsr

    mov %cr0, %eax
    and $~((1 << 2) | (1 << 3)), %eax                       /* EM, TS off */
    or $(1 << 31) | (1 << 16) | (1 << 5) | (1 << 1) | 1, %eax /* PG WP NE MP PE */
    mov %eax, %cr0
    ljmp $SEL_CODE64, $long_mode_entry

    .code64
long_mode_entry:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack + BOOT_STACK_SIZE, %rsp
    xor %ebp, %ebp
    call runtime_start
5:  cli
    hlt
    jmp 5b

    .section .rodata
    .align 8
gdt_pointer32:
    .word GDT_ENTRIES * 8 - 1
    .long gdt

    .data
    .align 4
    .globl mb_magic, mb_info_addr
mb_magic:
    .long 0
mb_info_addr:
    .long 0

    .bss
    .align 4096
    .globl boot_pml4, boot_pdpt, boot_pd, boot_stack
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
boot_stack:
    .skip BOOT_STACK_SIZE
