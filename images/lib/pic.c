#include "pic.h"
#include "x86.h"

void pic_init(uint8_t base1, uint8_t base2)
{
    outb(PIC1_CMD, 0x11); /* ICW1: edge, cascade, ICW4 needed */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, base1); /* ICW2: vector base */
    outb(PIC2_DATA, base2);
    outb(PIC1_DATA, 0x04); /* ICW3: slave on input 2 */
    outb(PIC2_DATA, 0x02); /* ICW3: slave identity 2 */
    outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    pic_set_mask(0xFFFB);
}

void pic_set_mask(uint16_t mask)
{
    outb(PIC1_DATA, (uint8_t)mask);
    outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

uint16_t pic_get_mask(void)
{
    return (uint16_t)(inb(PIC1_DATA) | (inb(PIC2_DATA) << 8));
}

void pic_mask_irq(unsigned irq)
{
    pic_set_mask(pic_get_mask() | (uint16_t)(1u << irq));
}

void pic_unmask_irq(unsigned irq)
{
    pic_set_mask(pic_get_mask() & (uint16_t)~(1u << irq));
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

void pic_eoi_specific(unsigned irq)
{
    if (irq >= 8)
    {
        outb(PIC2_CMD, (uint8_t)(PIC_SPECIFIC_EOI | (irq & 7)));
        irq = 2;
    }
    outb(PIC1_CMD, (uint8_t)(PIC_SPECIFIC_EOI | irq));
}

static uint16_t pic_read_ocw3(uint8_t ocw3)
{
    outb(PIC1_CMD, ocw3);
    outb(PIC2_CMD, ocw3);
    uint16_t v = (uint16_t)(inb(PIC1_CMD) | (inb(PIC2_CMD) << 8));
    outb(PIC1_CMD, 0x0A);
    outb(PIC2_CMD, 0x0A);
    return v;
}

uint16_t pic_read_irr(void)
{
    return pic_read_ocw3(0x0A);
}

uint16_t pic_read_isr(void)
{
    return pic_read_ocw3(0x0B);
}
