/* Mode switches. compat_call: 64-bit -> compatibility mode -> back, by far
 * call and far return. modes_descend: long mode -> 32-bit protected mode
 * (paging off, EFER.LME clear, then a turn with 32-bit 4 MiB paging) ->
 * 16-bit protected mode -> real mode (code copied below 1 MiB) -> 32-bit
 * protected mode -> long mode. Each stage records what it saw.
 * SDM Vol. 3A §10.8.5 "Initializing IA-32e Mode", §10.8.5.4 "Switching Out of
 * IA-32e Mode Operation", §10.9.2 "Switching Back to Real-Address Mode". */
#include "desc.h"
#include "modes.h"

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PSE 0x10
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100

/* An address inside the trampoline copy, as a 16-bit offset from its base. */
#define T(label) ((label) - tramp_start)
#define RM(field) (T(rm_result) + (field))

    .text
    .code64

/* uint32_t compat_call(uint32_t x) */
    .globl compat_call
compat_call:
    push %rbx
    mov %edi, %eax
    lcall *compat_target(%rip)
    pop %rbx
    ret

    .code32
compat_entry:
    .byte 0x40                  /* INC EAX here; a REX prefix in 64-bit mode */
    lea 1(%eax, %eax, 2), %eax  /* 3 * (x + 1) + 1 */
    mov %esp, %ecx
    push %eax
    sub %esp, %ecx
    pop %edx
    mov %ecx, modes_result + MR_COMPAT_PUSH
    xor %ecx, %ecx
    mov %cs, %cx
    mov %ecx, modes_result + MR_COMPAT_CS
    lret                        /* 32-bit far return: pops EIP, then CS */

    .code64
/* void modes_descend(void) */
    .globl modes_descend
modes_descend:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, saved_rsp(%rip)
    sidt saved_idtr(%rip)
    mov %cr3, %rax
    mov %eax, saved_cr3(%rip)
    mov %cr4, %rax
    mov %eax, saved_cr4(%rip)
    pushq $SEL_CODE32
    lea pm32_down(%rip), %rax
    push %rax
    lretq

    .code32
pm32_down:
    /* Compatibility mode, paging on. Clearing CR0.PG leaves IA-32e mode. */
    mov %cr0, %eax
    and $~CR0_PG, %eax
    mov %eax, %cr0
    mov $MSR_EFER, %ecx
    rdmsr
    and $~EFER_LME, %eax
    wrmsr
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss

    /* Legacy 32-bit protected mode without paging. */
    mov $MSR_EFER, %ecx
    rdmsr
    mov %eax, modes_result + MR_PM32_EFER
    mov %cr0, %eax
    mov %eax, modes_result + MR_PM32_CR0
    xor %eax, %eax
    mov %cs, %ax
    mov %eax, modes_result + MR_PM32_CS
    mov %esp, %ecx
    push %eax
    sub %esp, %ecx
    pop %eax
    mov %ecx, modes_result + MR_PM32_PUSH
    mov modes_input, %eax
    imul $7, %eax, %eax
    add $0x12345678, %eax
    mov %eax, modes_result + MR_PM32_ARITH

    /* 32-bit paging with 4 MiB pages (CR4.PSE=1, CR4.PAE=0): pd32 maps
     * the first 1 GiB 1:1 and one alias page at PG32_ALIAS_BASE. */
    mov %cr4, %eax
    and $~CR4_PAE, %eax
    or $CR4_PSE, %eax
    mov %eax, %cr4
    mov $pd32, %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0
    mov pg32_alias, %ebx
    mov (%ebx), %eax
    mov %eax, modes_result + MR_PG32_READ
    movl $0x600DF00D, 4(%ebx)
    mov pd32 + 4 * (PG32_ALIAS_BASE >> 22), %eax
    mov %eax, modes_result + MR_PG32_PDE
    mov %cr0, %eax
    and $~CR0_PG, %eax
    mov %eax, %cr0
    mov saved_cr4, %eax
    mov %eax, %cr4

    /* Into 16-bit protected mode: SEL_CODE16 has its base at TRAMP_BASE. */
    ljmp $SEL_CODE16, $T(pm16_entry)

/* Back from real mode, in 32-bit protected mode. */
pm32_up:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov saved_rsp, %esp
    mov %cr0, %eax
    mov %eax, modes_result + MR_PM32_BACK_CR0

    /* Long mode again: PAE, CR3, EFER.LME, then CR0.PG. */
    mov saved_cr4, %eax
    mov %eax, %cr4
    mov saved_cr3, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0
    ljmp $SEL_CODE64, $lm64_up

    .code64
lm64_up:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov saved_rsp(%rip), %rsp
    lidt saved_idtr(%rip)
    mov $MSR_EFER, %ecx
    rdmsr
    mov %eax, modes_result + MR_LM_EFER(%rip)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* The trampoline: assembled here, run from its copy at TRAMP_BASE. Every
 * address in it is an offset from tramp_start. */
    .code16
    .globl tramp_start, tramp_end, tramp_rm_result
tramp_start:
pm16_entry:
    mov $SEL_DATA16, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov $T(tramp_stack_top), %sp
    mov %cs, %ax
    mov %ax, RM(RM_PM16_CS)
    mov %sp, %cx
    push %ax
    sub %sp, %cx
    pop %ax
    mov %cx, RM(RM_PM16_PUSH)
    mov $0xFFFF, %ax
    add $2, %ax                 /* 16-bit operand size: wraps to 1, CF=1 */
    mov %ax, RM(RM_PM16_SUM)
    setc RM(RM_PM16_CARRY)

    lidt T(rm_idtr)
    mov %cr0, %eax
    and $~CR0_PE, %eax
    mov %eax, %cr0
    ljmp $TRAMP_SEG, $T(rm_entry)

rm_entry:
    /* Real-address mode. */
    mov $TRAMP_SEG, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $T(tramp_stack_top), %sp
    mov %cr0, %eax
    mov %eax, RM(RM_CR0)
    mov %cs, %ax
    mov %ax, RM(RM_CS)
    mov %sp, %cx
    push %ax
    sub %sp, %cx
    pop %ax
    mov %cx, RM(RM_PUSH)

    mov RM(RM_IN_A), %ax
    mulw RM(RM_IN_B)            /* DX:AX = a * b */
    mov %ax, RM(RM_MUL_LO)
    mov %dx, RM(RM_MUL_HI)
    divw RM(RM_IN_C)            /* AX = DX:AX / c, DX = remainder */
    mov %ax, RM(RM_DIV_Q)
    mov %dx, RM(RM_DIV_R)

    /* The same linear address through three segment:offset pairs. */
    mov $RM_SCRATCH_SEG, %ax
    mov %ax, %es
    movw $0xBEEF, %es:RM_SCRATCH_OFF
    mov $RM_SCRATCH_SEG + 1, %ax
    mov %ax, %fs
    mov %fs:RM_SCRATCH_OFF - 0x10, %ax
    mov %ax, RM(RM_SEG_READ1)
    mov $RM_SCRATCH_SEG - 1, %ax
    mov %ax, %gs
    mov %gs:RM_SCRATCH_OFF + 0x10, %ax
    mov %ax, RM(RM_SEG_READ2)

    /* A software interrupt through the real-mode IVT (vector 0x80,
     * borrowed and restored). */
    xor %ax, %ax
    mov %ax, %es
    mov %es:0x80 * 4, %eax
    mov %eax, RM(RM_IVT_SAVE)
    movw $T(rm_int80), %es:0x80 * 4
    movw $TRAMP_SEG, %es:0x80 * 4 + 2
    mov $0x1234, %ax
    int $0x80
    mov %ax, RM(RM_INT_RESULT)
    mov RM(RM_IVT_SAVE), %eax
    mov %eax, %es:0x80 * 4

    /* Protected mode again (GDTR is unchanged), then 32-bit code. */
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl $SEL_CODE32, $pm32_up

rm_int80:
    add $0x1111, %ax
    iret

rm_idtr:
    .word 0x3FF
    .long 0
    .balign 4
tramp_rm_result:
rm_result:
    .skip RM_SIZE
    .balign 16
    .skip 512
tramp_stack_top:
tramp_end:

    .section .rodata
    .align 8
compat_target:
    .long compat_entry
    .word SEL_CODE32

    .data
    .align 8
saved_rsp:
    .quad 0
saved_idtr:
    .skip 10
    .align 4
saved_cr3:
    .long 0
saved_cr4:
    .long 0
