/* Test outcome reporting and the isa-debug-exit device (I/O port 0xF4, four
 * bytes wide): writing v ends a QEMU run with host status (v << 1) | 1, so
 * 0 → 1 (every check passed) and 1 → 3 (a failure). */
#ifndef IMAGES_REPORT_H
#define IMAGES_REPORT_H

#define DEBUG_EXIT_PORT 0xF4
#define EXIT_PASS 0
#define EXIT_FAIL 1

/* Prints "PASS: name" or "FAIL: name"; returns ok. */
int report(const char *name, int ok);
/* The same with a printf-formatted name. */
int reportf(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "SKIP: name (why)"; not counted as a test. */
void report_skip(const char *name, const char *why);
/* For checks where a reference CPU model is known to deviate from the SDM:
 * PASS when ok; otherwise, when `quirk` says the known deviation was seen
 * and the command line does not contain "strict", prints
 * "SKIP: name (note)"; else FAIL. Returns ok. */
int report_quirk(int ok, int quirk, const char *note, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Whether the command line asks for strict checks ("strict"). */
int strict_mode(void);
/* Prints "SUMMARY: N tests, M failures" and exits with 0 only if M is 0. */
__attribute__((noreturn)) void report_summary(void);
/* outl of v to port 0xF4; halts if the device is absent. */
__attribute__((noreturn)) void exit_code(unsigned v);

extern unsigned report_tests, report_failures;

#endif
