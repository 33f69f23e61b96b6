#include "multiboot.h"
#include "util.h"

struct multiboot_info mb_info;
char mb_cmdline[256];

void multiboot_init(void)
{
    if (mb_magic != MULTIBOOT_BOOTLOADER_MAGIC || !mb_info_addr)
        return;
    memcpy(&mb_info, (const void *)(uintptr_t)mb_info_addr, sizeof mb_info);
    if (mb_info.flags & MBI_FLAG_CMDLINE && mb_info.cmdline)
    {
        const char *src = (const char *)(uintptr_t)mb_info.cmdline;
        size_t i = 0;
        for (; i + 1 < sizeof mb_cmdline && src[i]; i++)
            mb_cmdline[i] = src[i];
        mb_cmdline[i] = '\0';
    }
}

/* Finds "word" as a whole whitespace-separated token, or as the key of a
 * "word=value" token; returns the character after the word. */
static const char *find_token(const char *word)
{
    size_t n = strlen(word);
    const char *p = mb_cmdline;
    while (*p)
    {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - start) >= n && !strncmp(start, word, n) &&
            (start[n] == '=' || start[n] == ' ' || start[n] == '\0'))
            return start + n;
    }
    return 0;
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
    const char *p = find_token(key);
    if (!p || *p != '=')
        return def;
    const char *end;
    uint64_t v = parse_u64(p + 1, &end);
    return end == p + 1 ? def : v;
}

int cmdline_has(const char *word)
{
    return find_token(word) != 0;
}
