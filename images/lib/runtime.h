/* Everything an image needs: include this one header. */
#ifndef IMAGES_RUNTIME_H
#define IMAGES_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "desc.h"
#include "idt.h"
#include "multiboot.h"
#include "paging.h"
#include "printf.h"
#include "report.h"
#include "serial.h"
#include "user.h"
#include "util.h"
#include "x86.h"

/* Symbols from linker.ld. */
extern char __image_start[], __image_end[], __bss_start[], __bss_end[];
extern char __user_start[], __user_end[];

#endif
