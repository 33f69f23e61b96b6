#include "report.h"
#include "multiboot.h"
#include "printf.h"
#include "x86.h"

unsigned report_tests, report_failures;

int report(const char *name, int ok)
{
    report_tests++;
    if (!ok)
        report_failures++;
    printf("%s: %s\n", ok ? "PASS" : "FAIL", name);
    return ok;
}

int reportf(int ok, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return report(name, ok);
}

int strict_mode(void)
{
    return cmdline_has("strict");
}

int report_quirk(int ok, int quirk, const char *note, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (!ok && quirk && !strict_mode())
    {
        report_skip(name, note);
        return 0;
    }
    return report(name, ok);
}

void report_skip(const char *name, const char *why)
{
    printf("SKIP: %s (%s)\n", name, why);
}

void report_summary(void)
{
    printf("SUMMARY: %u tests, %u failures\n", report_tests, report_failures);
    exit_code(report_failures ? EXIT_FAIL : EXIT_PASS);
}

void exit_code(unsigned v)
{
    outl(DEBUG_EXIT_PORT, v);
    halt_forever();
}
