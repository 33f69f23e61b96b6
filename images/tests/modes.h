/* Shared between modes.c and modes_asm.S: where the real-mode trampoline
 * goes and the layout of the result records the assembly fills in. */
#ifndef IMAGES_MODES_H
#define IMAGES_MODES_H

/* The 16-bit code runs from a copy at 0x10000 (segment 0x1000): below
 * 1 MiB, clear of the IVT/BDA and of QEMU's multiboot data at 0x9000. */
#define TRAMP_BASE 0x10000
#define TRAMP_SEG 0x1000

/* 32-bit words of struct modes_result (modes_result in the image). */
#define MR_COMPAT_PUSH 0
#define MR_COMPAT_CS 4
#define MR_PM32_EFER 8
#define MR_PM32_CR0 12
#define MR_PM32_CS 16
#define MR_PM32_PUSH 20
#define MR_PM32_ARITH 24
#define MR_PG32_READ 28
#define MR_PG32_PDE 32
#define MR_PM32_BACK_CR0 36
#define MR_LM_EFER 40
#define MR_SIZE 44

/* 32-bit words of struct rm_result, inside the trampoline copy. */
#define RM_IN_A 0
#define RM_IN_B 4
#define RM_IN_C 8
#define RM_PM16_CS 12
#define RM_PM16_PUSH 16
#define RM_PM16_SUM 20
#define RM_PM16_CARRY 24
#define RM_CR0 28
#define RM_CS 32
#define RM_PUSH 36
#define RM_MUL_LO 40
#define RM_MUL_HI 44
#define RM_DIV_Q 48
#define RM_DIV_R 52
#define RM_SEG_READ1 56
#define RM_SEG_READ2 60
#define RM_INT_RESULT 64
#define RM_IVT_SAVE 68
#define RM_SIZE 72

/* The scratch word written in real mode at 2000:0010 (linear 0x20010). */
#define RM_SCRATCH_SEG 0x2000
#define RM_SCRATCH_OFF 0x0010

/* 32-bit paging test: a 4 MiB page at this linear address aliases the 4 MiB
 * frame holding pg32_target. */
#define PG32_ALIAS_BASE 0x80000000

#endif
