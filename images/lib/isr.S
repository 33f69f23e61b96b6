/* Exception and interrupt entry: 256 stubs, 16 bytes apart (isr_stubs +
 * 16 * vector), each pushing a dummy error code where the CPU does not push
 * one, then the vector, then jumping to the common path, which saves the
 * GPRs into a struct exc_frame and calls exc_dispatch(frame).
 * SDM Vol. 3A §7.14 "Exception and Interrupt Handling in 64-bit Mode". */

    .text
    .altmacro
    /* Vectors for which the CPU pushes an error code: #DF #TS #NP #SS #GP
     * #PF #AC #CP #VC #SX. */
    .macro isr_stub n
    .align 16
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    pushq $0
    .endif
    pushq $\n
    jmp isr_common
    .endm

    .align 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    isr_stub %vec
    .set vec, vec + 1
    .endr

isr_common:
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    /* 5 hardware words + error code + vector + 15 GPRs = 22 words: the CPU
     * aligned RSP to 16 before pushing, so RSP is 16-aligned here. */
    call exc_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rbp
    pop %rbx
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq
