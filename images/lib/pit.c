#include "pit.h"
#include "x86.h"

/* Control word: SC[7:6] channel, RW[5:4] = 11 (low byte then high byte),
 * M[3:1] mode, BCD[0] = 0 (binary). */
#define PIT_CW(ch, mode) ((uint8_t)(((ch) << 6) | 0x30 | ((mode) << 1)))

void pit_ch0_periodic(uint16_t divisor)
{
    outb(PIT_CMD, PIT_CW(0, 2));
    outb(PIT_CH0, (uint8_t)divisor);
    outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

void pit_ch0_oneshot(uint16_t count)
{
    outb(PIT_CMD, PIT_CW(0, 0));
    outb(PIT_CH0, (uint8_t)count);
    outb(PIT_CH0, (uint8_t)(count >> 8));
}

uint16_t pit_ch0_read(void)
{
    outb(PIT_CMD, 0x00); /* counter latch command for channel 0 */
    uint8_t lo = inb(PIT_CH0);
    uint8_t hi = inb(PIT_CH0);
    return (uint16_t)(lo | (hi << 8));
}

void pit2_start(uint16_t count)
{
    /* Gate low while programming, speaker data off; mode 0 sets OUT2 low
     * when the control word is written; counting starts once the count is
     * loaded with the gate high. */
    uint8_t p = inb(PIT_PORT61) & ~(PORT61_GATE2 | PORT61_SPEAKER);
    outb(PIT_PORT61, p);
    outb(PIT_CMD, PIT_CW(2, 0));
    outb(PIT_CH2, (uint8_t)count);
    outb(PIT_CH2, (uint8_t)(count >> 8));
    outb(PIT_PORT61, p | PORT61_GATE2);
}

int pit2_done(void)
{
    return (inb(PIT_PORT61) & PORT61_OUT2) != 0;
}

void pit2_wait(uint16_t count)
{
    pit2_start(count);
    while (!pit2_done())
        __asm__ volatile("pause");
}

void pit_delay_us(uint64_t us)
{
    while (us > 50000)
    {
        pit2_wait(PIT_COUNT_US(50000));
        us -= 50000;
    }
    if (us)
        pit2_wait(PIT_COUNT_US(us) ? PIT_COUNT_US(us) : 1);
}

void pit_timeout_start(struct pit_timeout *t, uint32_t ms)
{
    t->steps_left = (ms + 49) / 50;
    if (!t->steps_left)
        t->steps_left = 1;
    pit2_start(PIT_COUNT_US(50000));
}

int pit_timeout_expired(struct pit_timeout *t)
{
    if (!t->steps_left)
        return 1;
    if (!pit2_done())
        return 0;
    if (--t->steps_left == 0)
        return 1;
    pit2_start(PIT_COUNT_US(50000));
    return 0;
}
