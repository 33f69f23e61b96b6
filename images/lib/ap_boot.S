/* The AP start-up trampoline: assembled here, copied by
 * smp_install_trampoline() to a 4 KiB page below 1 MiB, entered in real
 * mode at CS:IP = (vector << 8):0000 after STARTUP. It loads the runtime's
 * GDT, enters 32-bit protected mode, then long mode with the BSP's CR3,
 * CR4, EFER and CR0 (smp.c records them), takes a stack and calls
 * ap_main(). SDM Vol. 3A §9.4.4 "MP Initialization Example" and §10.8.5
 * "Initializing IA-32e Mode". */
#include "smp.h"

#define T(label) ((label) - ap_tramp_start)

    .text
    .code16
    .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl T(ap_tramp_gdtr)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $SEL_CODE32, $ap_pm32
    .balign 4
ap_tramp_gdtr:
    .word GDT_ENTRIES * 8 - 1
    .long gdt
ap_tramp_end:

    .code32
ap_pm32:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov smp_boot_cr4, %eax
    mov %eax, %cr4
    mov smp_boot_cr3, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    mov smp_boot_efer, %eax
    xor %edx, %edx
    wrmsr
    mov smp_boot_cr0, %eax
    mov %eax, %cr0
    ljmp $SEL_CODE64, $ap_lm64

    .code64
ap_lm64:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $1, %eax
    lock xadd %eax, smp_stack_next(%rip)
    cmp $SMP_STACK_SLOTS, %eax
    jae 2f
    inc %eax
    imul $SMP_STACK_SIZE, %eax, %eax
    lea smp_stacks(%rip), %rsp
    add %rax, %rsp
    xor %ebp, %ebp
    call ap_main
2:  cli
    hlt
    jmp 2b
