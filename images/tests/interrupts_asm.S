/* The parts of interrupts.elf that leave long mode.
 *
 * call_pm32(fn): long mode -> compatibility mode -> 32-bit protected mode
 * with paging off (CR0.PG and EFER.LME cleared), calls the 32-bit function
 * fn, and comes back to long mode the same way modes.elf does.
 *
 * pm32_body: 32-bit protected mode with its own IDT of 8-byte gates: waits
 * for PIT ticks through the PIC (IRQ 0 on vector 0x20) and for a local APIC
 * one-shot timer, polling with a PIT channel 2 deadline, then once more
 * with HLT; the handlers record the interrupt frame.
 *
 * rm_descend32: 32-bit -> 16-bit protected mode -> real mode in the
 * trampoline copied to 0x10000, where the BIOS state is used as QEMU's
 * SeaBIOS leaves it: the IVT, the PIC on vectors 08h-0Fh, the PIT
 * ticking, the BDA tick count at 0040:006C kept by the BIOS's INT 08h
 * handler, which also calls INT 1Ch. SDM Vol. 3A §10.9.2 "Switching Back
 * to Real-Address Mode", §7.12.1 (32-bit interrupt frames), §21.1.4
 * (real-mode interrupt handling). */
#include "desc.h"
#include "interrupts.h"

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define PIT_50MS 59659

#define T(label) ((label) - int_tramp_start)
#define R(field) (T(rm_data) + (field))

    .text
    .code64
/* void call_pm32(uint32_t fn) */
    .globl call_pm32
call_pm32:
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
    mov %edi, pm32_target(%rip)
    pushq $SEL_CODE32
    lea pm32_entry(%rip), %rax
    push %rax
    lretq

    .code32
pm32_entry:
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
    call *pm32_target
    cli
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
    ljmp $SEL_CODE64, $lm64_back

    .code64
lm64_back:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov saved_rsp(%rip), %rsp
    lidt saved_idtr(%rip)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* ---------------- 32-bit protected mode ---------------- */
    .code32
pm32_pit2_start:
    in $0x61, %al
    and $0xFC, %al
    out %al, $0x61
    mov $0xB0, %al
    out %al, $0x43
    mov $(PIT_50MS & 0xFF), %al
    out %al, $0x42
    mov $(PIT_50MS >> 8), %al
    out %al, $0x42
    in $0x61, %al
    or $1, %al
    out %al, $0x61
    ret

/* Waits (IF=1, polling) until the dword at %ebx reaches %ecx, at most
 * 40 x 50 ms. Returns with EAX = 1 when it did. */
pm32_wait:
    movl $40, pm32_steps
    call pm32_pit2_start
1:  cmp %ecx, (%ebx)
    jae 2f
    in $0x61, %al
    test $0x20, %al
    jz 1b
    decl pm32_steps
    jz 3f
    call pm32_pit2_start
    jmp 1b
2:  mov $1, %eax
    ret
3:  xor %eax, %eax
    ret

    .globl pm32_body
pm32_body:
    push %ebx
    push %esi
    push %edi
    mov %cr0, %eax
    mov %eax, pm32_cr0
    lidt idt32_pointer
    movl $0, pm32_ticks
    sti
    mov $pm32_ticks, %ebx
    mov $3, %ecx
    call pm32_wait
    mov %eax, pm32_ticks_ok
    test %eax, %eax
    jz 5f
    /* One HLT: the next tick ends it. */
    mov pm32_ticks, %esi
    mov %esp, pm32_main_esp
    hlt
    mov pm32_handler_esp, %eax
    mov %eax, pm32_hlt_esp
    mov pm32_ticks, %eax
    sub %esi, %eax
    mov %eax, pm32_hlt_ticks

    cmpl $0, pm32_use_lapic
    je 5f
    cli
    movl $0, pm32_lapic
    movl $PM32_LAPIC_VECTOR, 0xFEE00320     /* LVT timer: one-shot, unmasked */
    mov pm32_lapic_count, %eax
    mov %eax, 0xFEE00380                    /* initial count starts it */
    sti
    mov $pm32_lapic, %ebx
    mov $1, %ecx
    call pm32_wait
    mov %eax, pm32_lapic_ok
    test %eax, %eax
    jz 5f
    cli
    movl $0, pm32_lapic
    mov pm32_lapic_count, %eax
    mov %eax, 0xFEE00380
    sti
    hlt
    mov pm32_lapic, %eax
    mov %eax, pm32_lapic_hlt
5:  cli
    movl $0x10000 | PM32_LAPIC_VECTOR, 0xFEE00320   /* masked again */
    pop %edi
    pop %esi
    pop %ebx
    ret

    .globl pm32_irq0, pm32_lapic_isr
pm32_irq0:
    push %eax
    lea 16(%esp), %eax              /* ESP before a 3-dword frame */
    mov %eax, pm32_handler_esp
    mov 8(%esp), %eax
    mov %eax, pm32_frame_cs
    mov 12(%esp), %eax
    mov %eax, pm32_frame_eflags
    pushf
    pop %eax
    mov %eax, pm32_handler_eflags
    incl pm32_ticks
    mov $0x20, %al
    out %al, $0x20
    pop %eax
    iret

pm32_lapic_isr:
    incl pm32_lapic
    movl $0, 0xFEE000B0
    iret

/* ---------------- real mode ---------------- */
    .globl rm_descend32
rm_descend32:
    push %ebp
    push %ebx
    push %esi
    push %edi
    mov %esp, rm_saved_esp
    ljmp $SEL_CODE16, $T(pm16_entry)

rm_return32:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov rm_saved_esp, %esp
    pop %edi
    pop %esi
    pop %ebx
    pop %ebp
    ret

/* The trampoline: assembled here, run from its copy at INT_TRAMP_BASE.
 * Every address in it is an offset from int_tramp_start. */
    .code16
    .globl int_tramp_start, int_tramp_end, int_tramp_rm_data
int_tramp_start:
pm16_entry:
    mov $SEL_DATA16, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov %cr0, %eax
    and $~CR0_PE, %eax
    mov %eax, %cr0
    ljmp $INT_TRAMP_SEG, $T(rm_entry)

rm_entry:
    mov $INT_TRAMP_SEG, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $T(rm_stack_top), %sp
    xor %ax, %ax
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    lidt T(rm_idtr)
    mov %cr0, %eax
    mov %eax, R(RMD_CR0)

    /* 1: with IF=1, the BIOS tick count at 0040:006C must change within
     * 40 x 50 ms of PIT channel 2. */
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK0)
    movl $40, R(RMD_STEPS)
    call rm_pit2_start
    sti
1:  mov %es:0x46C, %eax
    cmp R(RMD_TICK0), %eax
    jne 2f
    in $0x61, %al
    test $0x20, %al
    jz 1b
    decl R(RMD_STEPS)
    jz rm_done
    call rm_pit2_start
    jmp 1b
2:  movl $1, R(RMD_SEEN)

    /* 2: HLT until three more ticks. */
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK1)
3:  hlt
    incl R(RMD_HLTS)
    mov %es:0x46C, %eax
    sub R(RMD_TICK1), %eax
    cmp $3, %eax
    jb 3b
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK2)

    /* 3: our INT 08h handler, chaining to the BIOS's. */
    cli
    mov %es:0x20, %eax
    mov %eax, R(RMD_OLD08)
    movw $T(rm_irq0_chain), %es:0x20
    movw $INT_TRAMP_SEG, %es:0x22
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK3)
    mov %sp, R(RMD_MAIN_SP)
    sti
4:  hlt
    cmpl $3, R(RMD_OWN08)
    jb 4b
    cli
    mov R(RMD_OLD08), %eax
    mov %eax, %es:0x20
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK3_END)

    /* 4: an INT 1Ch (user timer tick) hook: the BIOS's INT 08h calls it.
     * Gives up after 10 ticks. */
    mov %es:0x70, %eax
    mov %eax, R(RMD_OLD1C)
    movw $T(rm_int1c), %es:0x70
    movw $INT_TRAMP_SEG, %es:0x72
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK4)
    sti
5:  hlt
    cmpl $2, R(RMD_COUNT1C)
    jae 6f
    mov %es:0x46C, %eax
    sub R(RMD_TICK4), %eax
    cmp $10, %eax
    jb 5b
6:  cli
    mov R(RMD_OLD1C), %eax
    mov %eax, %es:0x70

    /* 5: our INT 08h handler alone, acknowledging the PIC itself: the
     * BIOS count stands still. */
    movw $T(rm_irq0_own), %es:0x20
    movw $INT_TRAMP_SEG, %es:0x22
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK5)
    sti
7:  hlt
    cmpl $2, R(RMD_OWN2)
    jb 7b
    cli
    mov %es:0x46C, %eax
    mov %eax, R(RMD_TICK5_END)
    mov R(RMD_OLD08), %eax
    mov %eax, %es:0x20

    /* 6: the BIOS's vector is back: its count moves again. */
    sti
8:  hlt
    mov %es:0x46C, %eax
    cmp R(RMD_TICK5_END), %eax
    je 8b
    mov %eax, R(RMD_TICK6)

rm_done:
    cli
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl $SEL_CODE32, $rm_return32

rm_pit2_start:
    in $0x61, %al
    and $0xFC, %al
    out %al, $0x61
    mov $0xB0, %al
    out %al, $0x43
    mov $(PIT_50MS & 0xFF), %al
    out %al, $0x42
    mov $(PIT_50MS >> 8), %al
    out %al, $0x42
    in $0x61, %al
    or $1, %al
    out %al, $0x61
    ret

rm_irq0_chain:
    push %bp
    mov %sp, %bp
    push %ax
    lea 2(%bp), %ax
    mov %ax, %cs:R(RMD_HANDLER_SP)
    mov 4(%bp), %ax
    mov %ax, %cs:R(RMD_FRAME_CS)
    mov 6(%bp), %ax
    mov %ax, %cs:R(RMD_FRAME_FLAGS)
    pushf
    pop %ax
    mov %ax, %cs:R(RMD_HANDLER_FLAGS)
    incl %cs:R(RMD_OWN08)
    pop %ax
    pop %bp
    pushf                           /* an INT-style frame for the BIOS's IRET */
    lcallw *%cs:R(RMD_OLD08)
    iret

rm_int1c:
    incl %cs:R(RMD_COUNT1C)
    iret

rm_irq0_own:
    push %ax
    incl %cs:R(RMD_OWN2)
    mov $0x20, %al
    out %al, $0x20                  /* non-specific EOI */
    pop %ax
    iret

rm_idtr:
    .word 0x3FF
    .long 0
    .balign 4
int_tramp_rm_data:
rm_data:
    .skip RMD_SIZE
    .balign 16
    .skip 2048
rm_stack_top:
int_tramp_end:

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
pm32_target:
    .long 0
rm_saved_esp:
    .long 0
pm32_steps:
    .long 0
    .globl pm32_ticks, pm32_ticks_ok, pm32_hlt_ticks, pm32_lapic, pm32_lapic_ok, pm32_lapic_hlt
    .globl pm32_use_lapic, pm32_lapic_count, pm32_main_esp, pm32_handler_esp, pm32_frame_cs
    .globl pm32_hlt_esp, pm32_frame_eflags, pm32_handler_eflags, pm32_cr0, idt32_pointer
pm32_ticks: .long 0
pm32_ticks_ok: .long 0
pm32_hlt_ticks: .long 0
pm32_lapic: .long 0
pm32_lapic_ok: .long 0
pm32_lapic_hlt: .long 0
pm32_use_lapic: .long 0
pm32_lapic_count: .long 0
pm32_main_esp: .long 0
pm32_handler_esp: .long 0
pm32_hlt_esp: .long 0
pm32_frame_cs: .long 0
pm32_frame_eflags: .long 0
pm32_handler_eflags: .long 0
pm32_cr0: .long 0
    .align 8
idt32_pointer:
    .word 256 * 8 - 1
    .long idt32
    .bss
    .align 8
    .globl idt32
idt32:
    .skip 256 * 8
