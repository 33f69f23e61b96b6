/* Non-local returns out of exception handlers: catch_exception() and the
 * ring-3 entry run_user_raw(). Each saves the callee-saved registers and its
 * stack pointer; the matching landing restores them and returns. */
#include "desc.h"

    .text
    /* int catch_exception(void (*fn)(void *), void *arg) */
    .globl catch_exception
catch_exception:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp
    mov %rsp, catch_rsp(%rip)
    movl $1, catch_armed(%rip)
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    movl $0, catch_armed(%rip)
    mov $-1, %eax
    jmp 1f

    /* void catch_landing(int vector): called from exc_dispatch. */
    .globl catch_landing
catch_landing:
    mov %edi, %eax
    mov catch_rsp(%rip), %rsp
    mov $SEL_DATA, %ecx
    mov %ecx, %ds
    mov %ecx, %es
1:  add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    /* uint64_t run_user_raw(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t rflags) */
    .globl run_user_raw
run_user_raw:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, user_rsp(%rip)
    movl $1, user_active(%rip)
    pushq $SEL_USER_DATA
    push %rsi
    push %rcx
    pushq $SEL_USER_CODE64
    push %rdi
    mov %rdx, %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %ebp, %ebp
    iretq

    /* void user_landing(uint64_t value): called from exc_dispatch on int $0x80. */
    .globl user_landing
user_landing:
    mov %rdi, %rax
    mov user_rsp(%rip), %rsp
    /* IRET to CPL 3 nulled the data segment registers holding DPL 0
     * selectors (SDM Vol. 2A IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"). */
    mov $SEL_DATA, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .bss
    .align 8
catch_rsp:
    .skip 8
user_rsp:
    .skip 8
