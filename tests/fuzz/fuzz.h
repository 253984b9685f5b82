/*
 * fuzz.h - what the fuzz harnesses in tests/fuzz/ share.
 *
 * Each harness tests/fuzz/<name>.c defines LLVMFuzzerTestOneInput for one
 * parser of untrusted input. `make fuzz` links it with libFuzzer (clang,
 * AddressSanitizer, UndefinedBehaviorSanitizer) into build-fuzz/<name>;
 * `make test` links it with replay.c (the project's own compiler and flags)
 * into build/test_fuzz_<name>, which feeds it every file of
 * tests/fuzz/corpus/<name>/ and tests/fuzz/crashes/<name>/.
 *
 * A harness states what must hold for every input with FUZZ_CHECK: a
 * failure prints where and aborts, which libFuzzer reports as a crash and
 * the replay as a failed suite. Harnesses that feed bytes in pieces take
 * the split points from fuzz_rng, seeded from the input itself, so that a
 * crash reproduces from its file alone.
 */
#ifndef BO_FUZZ_H
#define BO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
        abort(); \
    } } while (0)

/* Like FUZZ_CHECK for two strings that must be equal; shows both. */
#define FUZZ_CHECK_SAME(a, b) do { \
    const char *fuzz_a = (a), *fuzz_b = (b); \
    if (strcmp(fuzz_a, fuzz_b) != 0) { \
        fprintf(stderr, "%s:%d: %s and %s differ:\n--- %s\n%s\n--- %s\n%s\n", __FILE__, __LINE__, \
                #a, #b, #a, fuzz_a, #b, fuzz_b); \
        abort(); \
    } } while (0)

/* A small deterministic generator (xorshift64*) for split points. */
typedef struct fuzz_rng {
    uint64_t s;
} fuzz_rng;

static inline void fuzz_rng_seed(fuzz_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ULL + 1;
}

static inline uint32_t fuzz_rng_next(fuzz_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A piece size in 1..max, small ones more often (splits inside tokens). */
static inline size_t fuzz_rng_piece(fuzz_rng *r, size_t max)
{
    uint32_t x = fuzz_rng_next(r);
    size_t n = (x & 3) == 0 ? 1 + (x >> 8) % 4 : 1 + (x >> 8) % (max ? max : 1);
    return n < max ? n : max;
}

/* Takes the first byte of the input as a small number (0 if empty). */
static inline unsigned fuzz_take_byte(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    unsigned b = **data;
    (*data)++;
    (*size)--;
    return b;
}

#endif
