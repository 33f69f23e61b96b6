/* Integer hashing, a heap sort, a sieve and a table-driven CRC-32, mixed
 * into one checksum. Only unsigned arithmetic, so the result is the same on
 * any C compiler and optimisation level. */
#include "compute_work.h"

#define SORT_N 2048u
#define HASH_N 4096u
#define CRC_BYTES 16384u

static uint32_t sort_buf[SORT_N];
static uint8_t sieve[SIEVE_LIMIT];
static uint32_t crc_table[256];

static uint64_t xorshift64star(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t rotl64(uint64_t v, unsigned r)
{
    return (v << r) | (v >> ((64 - r) & 63));
}

static uint64_t hash_round(uint64_t seed)
{
    uint64_t state = seed | 1, h = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < HASH_N; i++)
    {
        uint64_t v = xorshift64star(&state);
        h ^= v;
        h = rotl64(h, 27) * 0x100000001B3ull;
        h += (v >> 7) ^ (h >> 33);
    }
    return h;
}

static void sift_down(uint32_t *a, uint32_t start, uint32_t end)
{
    uint32_t root = start;
    while (2 * root + 1 < end)
    {
        uint32_t child = 2 * root + 1, best = root;
        if (a[best] < a[child])
            best = child;
        if (child + 1 < end && a[best] < a[child + 1])
            best = child + 1;
        if (best == root)
            return;
        uint32_t t = a[root];
        a[root] = a[best];
        a[best] = t;
        root = best;
    }
}

static void heap_sort(uint32_t *a, uint32_t n)
{
    for (uint32_t start = n / 2; start-- > 0;)
        sift_down(a, start, n);
    for (uint32_t end = n; end-- > 1;)
    {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

static uint64_t sort_round(uint64_t seed, int *sorted)
{
    uint64_t state = seed ^ 0xD1B54A32D192ED03ull;
    for (uint32_t i = 0; i < SORT_N; i++)
        sort_buf[i] = (uint32_t)(xorshift64star(&state) >> 32);
    heap_sort(sort_buf, SORT_N);
    uint64_t h = 0;
    for (uint32_t i = 0; i < SORT_N; i++)
    {
        if (i && sort_buf[i - 1] > sort_buf[i])
            *sorted = 0;
        h = h * 31 + sort_buf[i];
    }
    return h;
}

static uint32_t sieve_round(void)
{
    for (uint32_t i = 0; i < SIEVE_LIMIT; i++)
        sieve[i] = 1;
    sieve[0] = sieve[1] = 0;
    for (uint32_t p = 2; p * p < SIEVE_LIMIT; p++)
    {
        if (!sieve[p])
            continue;
        for (uint32_t m = p * p; m < SIEVE_LIMIT; m += p)
            sieve[m] = 0;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < SIEVE_LIMIT; i++)
        count += sieve[i];
    return count;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++)
    {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, uint32_t n, uint32_t crc)
{
    crc = ~crc;
    for (uint32_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void compute_run(uint64_t iterations, struct compute_result *out)
{
    crc_init();
    static const uint8_t check[] = "123456789";
    out->crc_check = crc32(check, 9, 0);
    out->primes = SIEVE_PRIMES;
    out->sorted = 1;

    uint64_t sum = 0xCBF29CE484222325ull;
    for (uint64_t it = 0; it < iterations; it++)
    {
        uint64_t seed = sum ^ (it * 0x9E3779B97F4A7C15ull);
        uint64_t h = hash_round(seed);
        uint64_t s = sort_round(h, &out->sorted);
        uint32_t primes = sieve_round();
        if (primes != SIEVE_PRIMES)
            out->primes = primes;
        /* CRC over the sorted keys and the start of the sieve. */
        uint32_t c = crc32((const uint8_t *)sort_buf, SORT_N * 4, (uint32_t)it);
        c = crc32(sieve, CRC_BYTES - SORT_N * 4, c);
        sum = rotl64(sum ^ h, 13) + s * 3 + c;
    }
    out->checksum = sum;
}
