/* Shared between interrupts.c and interrupts_asm.S: where the real-mode
 * trampoline goes, the layout of the record it fills in, and the vectors
 * of the 32-bit protected-mode part. */
#ifndef IMAGES_INTERRUPTS_H
#define IMAGES_INTERRUPTS_H

/* The 16-bit code runs from a copy at 0x10000 (segment 0x1000): below
 * 1 MiB, clear of the IVT, the BDA, the EBDA and QEMU's multiboot data. */
#define INT_TRAMP_BASE 0x10000
#define INT_TRAMP_SEG 0x1000

/* 32-bit slots of the real-mode record (inside the trampoline copy). */
#define RMD_TICK0 0          /* BDA tick count on arrival */
#define RMD_SEEN 4           /* 1 when it changed while polling with IF=1 */
#define RMD_TICK1 8          /* before the HLT loop */
#define RMD_TICK2 12         /* after it */
#define RMD_HLTS 16          /* HLTs executed to see 3 ticks */
#define RMD_OLD08 20         /* the BIOS's INT 08h vector */
#define RMD_OWN08 24         /* calls of our chaining INT 08h handler */
#define RMD_TICK3 28
#define RMD_TICK3_END 32
#define RMD_OLD1C 36
#define RMD_COUNT1C 40       /* calls of our INT 1Ch handler */
#define RMD_OWN2 44          /* calls of our non-chaining INT 08h handler */
#define RMD_TICK5 48
#define RMD_TICK5_END 52
#define RMD_STEPS 56
#define RMD_MAIN_SP 60       /* SP of the HLT loop */
#define RMD_HANDLER_SP 64    /* SP on entry to our INT 08h handler */
#define RMD_HANDLER_FLAGS 68 /* FLAGS inside it */
#define RMD_FRAME_FLAGS 72   /* FLAGS image in the interrupt frame */
#define RMD_FRAME_CS 76      /* CS image in the interrupt frame */
#define RMD_CR0 80
#define RMD_TICK4 84
#define RMD_TICK6 88         /* after the BIOS vector is back */
#define RMD_SIZE 92

/* 32-bit protected mode: the PIC's IRQ 0 and the local APIC timer. */
#define PM32_PIC_VECTOR 0x20
#define PM32_LAPIC_VECTOR 0x41

#endif
