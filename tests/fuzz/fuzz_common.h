/* Shared helpers for the TrafficTriage libFuzzer targets (tests/fuzz).
 *
 * Every target defines LLVMFuzzerTestOneInput and may define
 * LLVMFuzzerInitialize. They link either with libFuzzer (clang,
 * -fsanitize=fuzzer) or with replay_main.c (any compiler), which runs the
 * target once on each file named on the command line: the committed seed
 * corpora and regression inputs are replayed that way in every build.
 *
 * A broken invariant calls FUZZ_CHECK, which prints the condition and aborts,
 * so libFuzzer records the input as a crash.
 */
#ifndef TT_FUZZ_COMMON_H
#define TT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                     \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* A cursor over the fuzzer's bytes; reads past the end give zeros. */
typedef struct {
    const uint8_t *d;
    size_t len, off;
} fz_reader;

static inline uint8_t fz_u8(fz_reader *r)
{
    return r->off < r->len ? r->d[r->off++] : 0;
}

static inline uint16_t fz_u16(fz_reader *r)
{
    uint16_t a = fz_u8(r);
    return (uint16_t)(a | ((uint16_t)fz_u8(r) << 8));
}

static inline uint32_t fz_u32(fz_reader *r)
{
    uint32_t a = fz_u16(r);
    return a | ((uint32_t)fz_u16(r) << 16);
}

static inline int fz_left(const fz_reader *r)
{
    return r->off < r->len;
}

#endif
