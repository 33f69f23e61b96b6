/* Instruction sequences that raise one exception each. Each function is
 * run under catch_exception(); the global label *_insn marks the
 * instruction expected to fault (or, for traps, the next instruction). */
#include "desc.h"

    .text
    .macro func name
    .globl \name
\name:
    .endm

func raise_de
    xor %edx, %edx
    mov $1, %eax
    xor %ecx, %ecx
func raise_de_insn
    div %ecx
    ret

/* INT_MIN / -1 overflows the quotient: also #DE. */
func raise_de_overflow
    mov $0x80000000, %eax
    cdq
    mov $-1, %ecx
func raise_de_overflow_insn
    idiv %ecx
    ret

func raise_ud
func raise_ud_insn
    ud2
    ret

/* INTO (0xCE) does not exist in 64-bit mode. */
func raise_into
func raise_into_insn
    .byte 0xce
    ret

/* SYSCALL with EFER.SCE clear. */
func raise_syscall
func raise_syscall_insn
    syscall
    ret

func raise_gp_noncanonical
    movabs $0x8000000000000000, %rax
func raise_gp_noncanonical_insn
    mov (%rax), %rax
    ret

/* RDMSR of an index no CPU implements. */
func raise_gp_rdmsr
    mov $0xDEADBEEF, %ecx
func raise_gp_rdmsr_insn
    rdmsr
    ret

/* Loading DS with a selector past the GDT limit: #GP(selector). */
func raise_gp_selector
    mov $0xFFF8, %eax
func raise_gp_selector_insn
    mov %eax, %ds
    ret

/* Loading DS with the TSS selector (a system descriptor): #GP(selector). */
func raise_gp_system_selector
    mov $SEL_TSS, %eax
func raise_gp_system_selector_insn
    mov %eax, %ds
    ret

/* Loading DS with a not-present data descriptor: #NP(selector). */
func raise_np
    mov $SEL_SPARE1, %eax
func raise_np_insn
    mov %eax, %ds
    ret

/* int3 is a trap: the saved RIP is the next instruction. */
func raise_bp
    int3
func raise_bp_next
    ret

/* The two-byte form int $3. */
func raise_bp_cd
    int $3
func raise_bp_cd_next
    ret

/* Reads the address in RDI. */
func read_at
func read_at_insn
    mov (%rdi), %rax
    ret

/* Writes to the address in RDI. */
func write_at
func write_at_insn
    movq $0x1234, (%rdi)
    ret

/* Calls the address in RDI. */
func call_at
    call *%rdi
    ret

/* ud2 with RSP misaligned by 8: the CPU still aligns the frame.
 * SDM Vol. 3A §7.14.2 "64-Bit Mode Stack Frame". */
func raise_ud_misaligned
    sub $8, %rsp
    ud2
    add $8, %rsp
    ret

/* A #PF whose delivery faults again (the stack is unmapped): #DF, which
 * runs on IST1. The catch restores RSP. */
func raise_double_fault
    movabs $0x8000001000, %rsp
func raise_double_fault_insn
    push %rax
    ret

/* An x87 0/0 with IM and ZM unmasked and CR0.NE=1: #MF at the next
 * waiting x87 instruction. SDM Vol. 1 §8.7 "Handling x87 FPU Exceptions in
 * Software". */
func raise_mf
    sub $8, %rsp
    fninit
    movw $0x037A, (%rsp)      /* default control word 0x037F with IM, ZM clear */
    fldcw (%rsp)
    fldz
    fldz
    fdivp                     /* 0 / 0: invalid operation, now pending */
func raise_mf_insn
    fwait
    add $8, %rsp
    ret

/* An SSE instruction: #NM with CR0.TS set, #UD with CR4.OSFXSR clear. */
func sse_movaps
func sse_movaps_insn
    movaps %xmm0, %xmm1
    ret

/* x87 with CR0.TS and CR0.MP set: fwait is #NM too. */
func raise_nm_fwait
func raise_nm_fwait_insn
    fwait
    ret

/* Single-step over two nops: the trap after the first reports the second. */
func single_step_plain
    pushfq
    orq $0x100, (%rsp)
    popfq
func single_step_plain_first
    nop
func single_step_plain_second
    nop
    nop
    ret

/* MOV SS inhibits the single-step trap until after the next instruction.
 * SDM Vol. 3A §7.8.3 "Masking Exceptions and Interrupts When Switching Stacks". */
func single_step_mov_ss
    mov %ss, %eax
    pushfq
    orq $0x100, (%rsp)
    popfq
func single_step_mov_ss_insn
    mov %eax, %ss
func single_step_mov_ss_after
    nop
func single_step_mov_ss_after2
    nop
    nop
    ret

/* Ring 3 code: each function ends with int $0x80, RAX = return value. */
    .section .user_text, "ax"
func user_return_arg
    mov %rdi, %rax
    int $0x80

func user_hlt
func user_hlt_insn
    hlt
    int $0x80

func user_cli
func user_cli_insn
    cli
    int $0x80

func user_read_cr0
func user_read_cr0_insn
    mov %cr0, %rax
    int $0x80

func user_in
func user_in_insn
    in $0x80, %al
    int $0x80

func user_rdmsr
    mov $0xC0000080, %ecx
func user_rdmsr_insn
    rdmsr
    int $0x80

/* Vector 0x21 has a DPL 0 gate: #GP(0x21 * 8 + 2) (IDT, external bit clear). */
func user_int21
func user_int21_insn
    int $0x21
    int $0x80

/* int3 goes through a DPL 3 gate; a handler hook lets it continue. */
func user_int3
    mov $0x55, %eax
    int3
    add $1, %eax
    int $0x80
