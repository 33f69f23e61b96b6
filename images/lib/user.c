#include "user.h"
#include "paging.h"

extern char __user_start[], __user_end[];
__attribute__((aligned(4096), section(".bss.user"))) static uint8_t user_stack[2 * 4096];
volatile int user_active;
static int user_ready;

uint64_t run_user_raw(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t rflags);

void user_init(void)
{
    if (user_ready)
        return;
    for (uint64_t va = (uint64_t)__user_start; va < (uint64_t)__user_end; va += PAGE_4K)
        set_page_flags(va, PAGE_4K, PTE_U, 0);
    for (uint64_t va = (uint64_t)user_stack; va < (uint64_t)user_stack + sizeof user_stack; va += PAGE_4K)
        set_page_flags(va, PAGE_4K, PTE_U, 0);
    user_ready = 1;
}

uint64_t run_user_flags(void (*fn)(void), uint64_t arg, uint64_t rflags)
{
    user_init();
    return run_user_raw((uint64_t)fn, (uint64_t)(user_stack + sizeof user_stack), arg, rflags | 2);
}
