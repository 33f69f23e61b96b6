/* The few libc string and memory functions the images need. gcc may emit
 * calls to memcpy/memset/memmove/memcmp itself, so those keep libc's names. */
#ifndef IMAGES_UTIL_H
#define IMAGES_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Parses a decimal or 0x-prefixed hexadecimal number; *end (if not null)
 * points past the last digit used. */
uint64_t parse_u64(const char *s, const char **end);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
