/* printf over the serial port. Conversions: %s %c %d %i %u %x %X %p %%,
 * length modifiers l and ll (and z), flags '0' and '-', and a field width,
 * e.g. %016lx, %-8s, %4d. No floating point. */
#ifndef IMAGES_PRINTF_H
#define IMAGES_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);

#endif
