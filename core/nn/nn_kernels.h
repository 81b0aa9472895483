/* TrafficTriage core, CNN engine (private): the SIMD vocabulary and the
 * numeric kernels every other file of core/nn builds on (kernels.c).
 *
 * Hot kernels use GCC vector extensions (tt_v8: 8 floats) and, on x86-64,
 * target_clones("avx2", "default") (TT_CLONES): one binary, the AVX2 code
 * picked at load time. No kernel reassociates floating-point sums, so the
 * clones, and builds with or without OpenBLAS where noted, give the same bits.
 */
#ifndef TT_NN_KERNELS_H
#define TT_NN_KERNELS_H

#include "tt_nn.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TT_CLONES
#endif

/* 8-float vectors (GCC vector extension): two SSE registers in the default
 * build, one AVX register in the avx2 clones. Unaligned, may alias floats. */
typedef float tt_v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t tt_v8i __attribute__((vector_size(32), aligned(4), may_alias));

/* o[0..n) += a * w[0..n) */
static inline void axpy(float *restrict o, const float *restrict w, float a, uint32_t n)
{
    uint32_t q = 0;
    for (; q + 8 <= n; q += 8)
        *(tt_v8 *)(o + q) += a * *(const tt_v8 *)(w + q);
    for (; q < n; q++)
        o[q] += a * w[q];
}

/* Lanes of (a, b) picked by 8 constant indices (0..15): clang and GCC >= 12
 * have __builtin_shufflevector, older GCC only __builtin_shuffle. */
#if defined(__clang__) || __GNUC__ >= 12
#define TT_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define TT_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, (tt_v8i){ __VA_ARGS__ })
#endif

/* lane-wise max(a, b): b where b > a, else a (as the scalar pools). A macro:
 * a function returning a vector warns about the ABI in the default clone. */
#define VMAX(a, b) ((tt_v8)(((tt_v8i)(b) & ((b) > (a))) | ((tt_v8i)(a) & ~((b) > (a)))))

/* o[0..n) = max(o, w), n a multiple of 8 */
static inline void vmax8(float *restrict o, const float *restrict w, uint32_t n)
{
    for (uint32_t q = 0; q < n; q += 8) {
        tt_v8 a = *(tt_v8 *)(o + q), b = *(const tt_v8 *)(w + q);
        tt_v8i gt = b > a;
        *(tt_v8i *)(o + q) = ((tt_v8i)b & gt) | ((tt_v8i)a & ~gt);
    }
}

static inline float hsum8(const tt_v8 *p)
{
    const tt_v8 v = *p;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* Channel stride of channel-last buffers: a multiple of 8 so every vector
 * operation is whole; the padding lanes hold zeros (zero weights, zero bias). */
static inline uint32_t cstride(uint32_t c)
{
    return (c + 7u) & ~7u;
}

/* Bound of the im2col buffer (floats); a chunk holds at least one position. */
#define TT_COL_MAX ((size_t)1 << 20)

/* Valid output columns [lo, hi) of a conv row for kernel column kx: those
 * with 0 <= ox * sw - pad_l + kx < in_w. */
static inline void valid_cols(const tt_layer *l, uint32_t kx, int64_t *lo, int64_t *hi)
{
    const int64_t a = (int64_t)l->pad_l - kx, sw = l->sw;
    const int64_t b = (int64_t)l->in_w - 1 + a;
    *lo = a <= 0 ? 0 : (a + sw - 1) / sw;
    *hi = b < 0 ? 0 : MIN(b / sw + 1, (int64_t)l->out_w);
    if (*hi < *lo)
        *hi = *lo;
}

/* Internal symbols of the engine stay out of the plugin's symbol table (and
 * are called directly, not through the PLT). */
#pragma GCC visibility push(hidden)

/* y = alpha * op(A) * x + beta * y, A is m x n (row-major, lda). */
void tt_gemv(int trans, int m, int n, float alpha, const float *a, int lda, const float *x, float beta, float *y);
/* A += alpha * x * y^T, A is m x n. */
void tt_ger(int m, int n, float alpha, const float *x, const float *y, float *a, int lda);
/* y[i] += A[i] . x, the same bits with or without OpenBLAS (kernels.c). */
void gemv_rows(int m, int n, const float *a, int lda, const float *x, float *y);
/* col[r][p - p0] = the input under tap r = (c, ky, kx) of output p, p in [p0, p0 + nc). */
void im2col(const tt_layer *l, const float *x, size_t p0, size_t nc, float *col);
/* dx += col2im(dcol) for the chunk. */
void col2im_add(const tt_layer *l, const float *dcol, size_t p0, size_t nc, float *dx);
/* y = (m > 0) ? x : 0 (relu_forward, relu_backward). */
void relu_mask(const float *m, const float *x, float *y, size_t n);

#pragma GCC visibility pop

/* y = max(x, 0) (NaN and -0 give 0); g *= (y > 0). */
static inline void relu_forward(const float *x, float *y, size_t n)
{
    relu_mask(x, x, y, n);
}

static inline void relu_backward(const float *y, float *g, size_t n)
{
    relu_mask(y, g, g, n);
}

#endif
