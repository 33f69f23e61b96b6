/* compute: a deterministic CPU-bound workload, the throughput benchmark's
 * guest. The iteration count comes from the command line (iterations=N);
 * each iteration is roughly 1.7 million instructions. Prints the checksum and
 * checks it against the host-computed one at the default count. */
#include "runtime.h"
#include "compute_expected.h"
#include "compute_work.h"

int main(void)
{
    uint64_t iterations = cmdline_u64("iterations", COMPUTE_DEFAULT_ITERATIONS);
    printf("compute: iterations=%lu\n", iterations);

    struct compute_result r;
    compute_run(iterations, &r);

    printf("checksum: 0x%016lx\n", r.checksum);
    report("CRC-32 of \"123456789\" is 0xCBF43926", r.crc_check == 0xCBF43926u);
    report("sieve finds 6542 primes below 65536 every iteration", r.primes == SIEVE_PRIMES);
    report("heap sort output ascending every iteration", r.sorted);
    if (iterations == COMPUTE_DEFAULT_ITERATIONS)
        report("checksum matches the host build of the workload", r.checksum == COMPUTE_EXPECTED_CHECKSUM);
    else
        report_skip("checksum matches the host build of the workload", "not the default iteration count");
    return 0;
}
