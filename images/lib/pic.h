/* The 8259A interrupt controller pair of the PC: master at 0x20/0x21,
 * slave at 0xA0/0xA1 on master input 2. Intel 8259A datasheet: ICW1-ICW4
 * initialisation, OCW1 (mask), OCW2 (EOI), OCW3 (read IRR/ISR). */
#ifndef IMAGES_PIC_H
#define IMAGES_PIC_H

#include <stdint.h>

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20
#define PIC_SPECIFIC_EOI 0x60
/* The vectors the BIOS programs (real-mode IVT entries 08h-0Fh, 70h-77h). */
#define PIC_BIOS_BASE1 0x08
#define PIC_BIOS_BASE2 0x70

/* ICW1-ICW4: edge triggered, cascade, 8086 mode, normal EOI; IRQ 0-7 on
 * vectors base1.., IRQ 8-15 on base2.. . Every line masked afterwards
 * except the cascade (IRQ 2). */
void pic_init(uint8_t base1, uint8_t base2);
/* 16-bit mask, bit n = IRQ n (OCW1). */
void pic_set_mask(uint16_t mask);
uint16_t pic_get_mask(void);
void pic_mask_irq(unsigned irq);
void pic_unmask_irq(unsigned irq);
/* Non-specific EOI (OCW2 0x20), to the slave too for IRQ 8-15. */
void pic_eoi(unsigned irq);
/* Specific EOI for this IRQ (OCW2 0x60 | level). */
void pic_eoi_specific(unsigned irq);
/* IRR and ISR of both chips through OCW3 (bit n = IRQ n). Leaves the
 * chips reading IRR on the command ports, as after initialisation. */
uint16_t pic_read_irr(void);
uint16_t pic_read_isr(void);

#endif
