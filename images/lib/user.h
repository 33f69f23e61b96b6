/* Ring 3. Code that runs in user mode lives in the .user_text section (page
 * aligned, mapped user-accessible by user_init()) and returns to the kernel
 * with `int $0x80`, RAX holding the value run_user() returns. An exception in
 * user mode is handled like any other (catch_exception() catches it). */
#ifndef IMAGES_USER_H
#define IMAGES_USER_H

#include <stdint.h>

#define USER_TEXT __attribute__((section(".user_text"), used))

extern volatile int user_active;

/* Marks .user_text and the user stack user-accessible (4 KiB leaves). */
void user_init(void);

/* Enters fn at CPL 3 with RDI = arg, RFLAGS = rflags (bit 1 forced on). */
uint64_t run_user_flags(void (*fn)(void), uint64_t arg, uint64_t rflags);
static inline uint64_t run_user(void (*fn)(void), uint64_t arg)
{
    return run_user_flags(fn, arg, 0);
}

#endif
