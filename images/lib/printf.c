#include "printf.h"
#include "serial.h"
#include <stdint.h>

struct sink
{
    char *buf; /* null: write to the serial port */
    size_t size;
    size_t count;
};

static void emit(struct sink *s, char c)
{
    if (!s->buf)
        serial_putc(c);
    else if (s->count + 1 < s->size)
        s->buf[s->count] = c;
    s->count++;
}

static void emit_padded(struct sink *s, const char *text, size_t len, int width, int left, char pad)
{
    int fill = width > (int)len ? width - (int)len : 0;
    if (!left)
    {
        /* Zero padding goes after the sign. */
        if (pad == '0' && len && text[0] == '-')
        {
            emit(s, '-');
            text++;
            len--;
        }
        while (fill--)
            emit(s, pad);
    }
    for (size_t i = 0; i < len; i++)
        emit(s, text[i]);
    if (left)
    {
        while (fill--)
            emit(s, ' ');
    }
}

static size_t format_unsigned(char *out, uint64_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do
    {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++)
    {
        if (*fmt != '%')
        {
            emit(s, *fmt);
            continue;
        }
        fmt++;
        int left = 0;
        char pad = ' ';
        for (;; fmt++)
        {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'z')
        {
            longs++;
            fmt++;
        }
        if (left)
            pad = ' ';

        char num[32];
        size_t len;
        switch (*fmt)
        {
        case 's':
        {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            len = 0;
            while (str[len])
                len++;
            emit_padded(s, str, len, width, left, ' ');
            break;
        }
        case 'c':
            num[0] = (char)va_arg(ap, int);
            emit_padded(s, num, 1, width, left, ' ');
            break;
        case 'd':
        case 'i':
        {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            len = 0;
            if (v < 0)
                num[len++] = '-';
            len += format_unsigned(num + len, mag, 10, 0);
            emit_padded(s, num, len, width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        {
            uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            len = format_unsigned(num, v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
            emit_padded(s, num, len, width, left, pad);
            break;
        }
        case 'p':
        {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            num[0] = '0';
            num[1] = 'x';
            len = 2 + format_unsigned(num + 2, v, 16, 0);
            emit_padded(s, num, len, width, left, ' ');
            break;
        }
        case '%':
            emit(s, '%');
            break;
        case '\0':
            return;
        default:
            emit(s, '%');
            emit(s, *fmt);
            break;
        }
    }
}

int vprintf(const char *fmt, va_list ap)
{
    struct sink s = {0, 0, 0};
    format(&s, fmt, ap);
    return (int)s.count;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = {buf, size, 0};
    format(&s, fmt, ap);
    if (size)
        buf[s.count < size ? s.count : size - 1] = '\0';
    return (int)s.count;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *s)
{
    serial_write(s);
    serial_putc('\n');
    return 0;
}
