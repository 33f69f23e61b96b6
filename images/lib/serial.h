/* COM1, a 16550 UART at I/O 0x3F8, driven by polling. */
#ifndef IMAGES_SERIAL_H
#define IMAGES_SERIAL_H

#define COM1 0x3F8

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s);

#endif
