/* 16550 register offsets from the base port: THR/RBR/DLL 0, IER/DLM 1,
 * IIR/FCR 2, LCR 3, MCR 4, LSR 5. Initialised as a real driver does, and each
 * byte waits for LSR bit 5 (THRE, transmit holding register empty). */
#include "serial.h"
#include "x86.h"

#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define LSR_THRE 0x20

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);          /* no interrupts */
    outb(COM1 + UART_LCR, LCR_DLAB);      /* divisor latch access */
    outb(COM1 + 0, 0x01);                 /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, LCR_8N1);       /* 8 data bits, no parity, 1 stop bit */
    outb(COM1 + UART_FCR, 0xC7);          /* FIFO on, both cleared, 14-byte trigger */
    outb(COM1 + UART_MCR, 0x0B);          /* DTR, RTS, OUT2 */
}

void serial_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

void serial_write(const char *s)
{
    while (*s)
        serial_putc(*s++);
}
