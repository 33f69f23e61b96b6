/* The compute.elf workload, kept free of the runtime so that the build can
 * also compile it for the host and record the expected checksum. */
#ifndef IMAGES_COMPUTE_WORK_H
#define IMAGES_COMPUTE_WORK_H

#include <stdint.h>

/* About 1.7 million instructions per iteration (counted on the host with
 * the guest's compiler flags); the default makes roughly 52 million. */
#define COMPUTE_DEFAULT_ITERATIONS 30

struct compute_result
{
    uint64_t checksum;
    uint32_t crc_check;   /* CRC-32 of "123456789": 0xCBF43926 */
    uint32_t primes;      /* primes below SIEVE_LIMIT, every iteration */
    int sorted;           /* every sort produced ascending order */
};

#define SIEVE_LIMIT 65536u
#define SIEVE_PRIMES 6542u /* pi(65536) */

void compute_run(uint64_t iterations, struct compute_result *out);

#endif
