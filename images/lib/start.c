/* The C side of start-up, entered from boot.S in 64-bit mode. It stays
 * small on purpose (hello.elf is the first image an emulator boots): no x87
 * or SSE instruction runs here. MXCSR and the x87 control word keep their
 * power-up values (0x1F80, 0x037F); sse.elf checks MXCSR's. */
#include "desc.h"
#include "idt.h"
#include "multiboot.h"
#include "report.h"
#include "serial.h"

int main(void);

void runtime_start(void)
{
    serial_init();
    multiboot_init();
    desc_init();
    idt_init();

    if (main() != 0)
        report("main returned 0", 0);
    report_summary();
}
