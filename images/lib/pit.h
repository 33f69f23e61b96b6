/* The 8254 programmable interval timer (I/O 0x40-0x43) and the channel 2
 * gate and output bits of port 0x61, the time reference the images measure
 * other clocks against. Intel 82C54 datasheet; the PC wiring: 1.193182 MHz
 * input clock, channel 0 output on IRQ 0, channel 2 gated by port 0x61
 * bit 0 with its output readable at port 0x61 bit 5. */
#ifndef IMAGES_PIT_H
#define IMAGES_PIT_H

#include <stdint.h>

#define PIT_HZ 1193182u
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_PORT61 0x61
#define PORT61_GATE2 0x01
#define PORT61_SPEAKER 0x02
#define PORT61_OUT2 0x20

/* The PIT count for a duration, rounded down, at most 65535. */
#define PIT_COUNT_US(us) ((uint16_t)((uint64_t)(us) * PIT_HZ / 1000000u))

/* Channel 0: mode 2 (rate generator) with this divisor (0 = 65536), the
 * periodic IRQ 0 source; and mode 0 (interrupt on terminal count). */
void pit_ch0_periodic(uint16_t divisor);
void pit_ch0_oneshot(uint16_t count);
/* Latches and reads channel 0's current count. */
uint16_t pit_ch0_read(void);

/* Channel 2 in mode 0 with the gate high and the speaker off: OUT2 goes
 * high `count` input clocks after the start. */
void pit2_start(uint16_t count);
int pit2_done(void);
/* Busy-waits for `count` clocks of channel 2 (at most 65535, ~54.9 ms). */
void pit2_wait(uint16_t count);
/* Busy-waits about this many microseconds (any length) on channel 2. */
void pit_delay_us(uint64_t us);

/* A deadline measured by channel 2 in 50 ms steps, for loops that poll for
 * something that may never happen. Only one may run at a time. */
struct pit_timeout
{
    uint32_t steps_left;
};
void pit_timeout_start(struct pit_timeout *t, uint32_t ms);
/* Whether the time has run out; call it in the polling loop. */
int pit_timeout_expired(struct pit_timeout *t);

#endif
