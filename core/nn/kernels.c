/* TrafficTriage core, CNN engine: the numeric kernels (nn_kernels.h).
 * The RNG (splitmix64), the matrix products (OpenBLAS when built with it, a
 * plain-C loop otherwise), im2col / col2im for the convolutions done as one
 * gemm (as in darknet), relu, and the dense layer's fixed-order dot products.
 */
#include "nn_kernels.h"

#ifdef TT_HAVE_OPENBLAS
#include <cblas.h>
#endif

uint64_t tt_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tt_rng_uniform(uint64_t *state)
{
    return (double)(tt_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

double tt_rng_normal(uint64_t *state)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite. The second value is dropped
     * (the state is a single 64-bit word). */
    double u1 = 1.0 - tt_rng_uniform(state);
    double u2 = tt_rng_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * G_PI * u2);
}


void tt_blas_single_thread(void)
{
#ifdef TT_HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
}

/* The plain-C product (builds without OpenBLAS, e.g. the Wireshark plugin's
 * engine: tests/bench/FINDINGS.md F5). B not transposed, the common case of
 * inference (im2col): C is done in column tiles that stay in L1 while every
 * row of B streams past once per row of A, vectorised by axpy. */
TT_CLONES
static void gemm_c(int trans_a, int trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int j = 0; j < n; j++)
                ci[j] *= beta;
    }
    if (!trans_b) {
        enum { TILE = 512 };
        for (int j0 = 0; j0 < n; j0 += TILE) {
            const uint32_t w = (uint32_t)MIN(TILE, n - j0);
            for (int i = 0; i < m; i++) {
                float *ci = c + (size_t)i * ldc + j0;
                for (int p = 0; p < k; p++) {
                    float aip = alpha * (trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]);
                    axpy(ci, b + (size_t)p * ldb + j0, aip, w);
                }
            }
        }
        return;
    }
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int p = 0; p < k; p++) {
            float aip = alpha * (trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]);
            for (int j = 0; j < n; j++)
                ci[j] += aip * b[(size_t)j * ldb + p];
        }
    }
}

void tt_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
#ifdef TT_HAVE_OPENBLAS
    if (k > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                    a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    gemm_c(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* y = alpha * op(A) * x + beta * y, A is m x n (row-major, lda). */
void tt_gemv(int trans, int m, int n, float alpha, const float *a, int lda,
                    const float *x, float beta, float *y)
{
#ifdef TT_HAVE_OPENBLAS
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, m, n, alpha,
                a, lda, x, 1, beta, y, 1);
#else
    int ny = trans ? n : m;
    for (int i = 0; i < ny; i++)
        y[i] = beta == 0.0f ? 0.0f : beta * y[i];
    if (!trans) {
        for (int i = 0; i < m; i++) {
            const float *ai = a + (size_t)i * lda;
            float s = 0.0f;
            for (int j = 0; j < n; j++)
                s += ai[j] * x[j];
            y[i] += alpha * s;
        }
    } else {
        for (int i = 0; i < m; i++) {
            const float *ai = a + (size_t)i * lda;
            float xi = alpha * x[i];
            for (int j = 0; j < n; j++)
                y[j] += xi * ai[j];
        }
    }
#endif
}

/* A += alpha * x * y^T, A is m x n. */
void tt_ger(int m, int n, float alpha, const float *x, const float *y, float *a, int lda)
{
#ifdef TT_HAVE_OPENBLAS
    cblas_sger(CblasRowMajor, m, n, alpha, x, 1, y, 1, a, lda);
#else
    for (int i = 0; i < m; i++) {
        float xi = alpha * x[i];
        if (xi == 0.0f)
            continue;
        float *ai = a + (size_t)i * lda;
        for (int j = 0; j < n; j++)
            ai[j] += xi * y[j];
    }
#endif
}

/* y = (m > 0) ? x : 0, lane by lane: relu (m = x) and its backward (m = the
 * relu's output, x = y = the gradient). */
TT_CLONES
void relu_mask(const float *m, const float *x, float *y, size_t n)
{
    size_t k = 0;
    const tt_v8 zero = { 0 };
    for (; k + 8 <= n; k += 8) {
        tt_v8 v = *(const tt_v8 *)(m + k);
        *(tt_v8i *)(y + k) = *(const tt_v8i *)(x + k) & (v > zero);
    }
    for (; k < n; k++)
        y[k] = m[k] > 0.0f ? x[k] : 0.0f;
}

/* y[i] += A[i] . x for a row-major m x n A (row stride lda). Four 8-lane
 * partial sums per row, added in a fixed order: the same arithmetic with or
 * without OpenBLAS, so the trainer's CLI and the plugin's engine (built
 * without it, FINDINGS F5) give bit-identical outputs on one machine. */
TT_CLONES
void gemv_rows(int m, int n, const float *a, int lda, const float *x, float *y)
{
    for (int i = 0; i < m; i++) {
        const float *ai = a + (size_t)i * lda;
        tt_v8 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
        int j = 0;
        for (; j + 32 <= n; j += 32) {
            s0 += *(const tt_v8 *)(ai + j) * *(const tt_v8 *)(x + j);
            s1 += *(const tt_v8 *)(ai + j + 8) * *(const tt_v8 *)(x + j + 8);
            s2 += *(const tt_v8 *)(ai + j + 16) * *(const tt_v8 *)(x + j + 16);
            s3 += *(const tt_v8 *)(ai + j + 24) * *(const tt_v8 *)(x + j + 24);
        }
        for (; j + 8 <= n; j += 8)
            s0 += *(const tt_v8 *)(ai + j) * *(const tt_v8 *)(x + j);
        tt_v8 v = (s0 + s1) + (s2 + s3);
        float t = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
        for (; j < n; j++)
            t += ai[j] * x[j];
        y[i] += t;
    }
}

/* col[r][p - p0] for r = (c, ky, kx), p in [p0, p0 + nc): whole runs of an
 * output row at a time (zeros where the window hangs over the padding). */
void im2col(const tt_layer *l, const float *x, size_t p0, size_t nc, float *col)
{
    const int64_t ih = l->in_h, iw = l->in_w, ow = l->out_w, sw = l->sw;
    const size_t end = p0 + nc;
    size_t r = 0;
    for (uint32_t c = 0; c < l->in_c; c++) {
        const float *xc = x + (size_t)c * ih * iw;
        for (uint32_t ky = 0; ky < l->kh; ky++) {
            for (uint32_t kx = 0; kx < l->kw; kx++, r++) {
                int64_t lo, hi;
                valid_cols(l, kx, &lo, &hi);
                const int64_t a = (int64_t)l->pad_l - kx;
                float *dst = col + r * nc;
                for (size_t p = p0; p < end;) {
                    const int64_t oy = (int64_t)(p / (size_t)ow), ox0 = (int64_t)(p % (size_t)ow);
                    const int64_t ox1 = MIN(ow, ox0 + (int64_t)(end - p));
                    const int64_t iy = oy * l->sh - l->pad_t + ky;
                    float *d = dst + (p - p0) - ox0;       /* d[ox] */
                    if (iy < 0 || iy >= ih) {
                        memset(d + ox0, 0, (size_t)(ox1 - ox0) * sizeof(float));
                    } else {
                        const float *src = xc + iy * iw - a;    /* src[ox * sw] */
                        const int64_t v0 = MAX(ox0, lo), v1 = MIN(ox1, hi);
                        int64_t ox = ox0;
                        for (; ox < MIN(v0, ox1); ox++)
                            d[ox] = 0.0f;
                        if (sw == 1) {
                            if (v1 > v0)
                                memcpy(d + v0, src + v0, (size_t)(v1 - v0) * sizeof(float));
                            ox = MAX(ox, v1);
                        } else {
                            for (; ox < v1; ox++)
                                d[ox] = src[ox * sw];
                        }
                        for (; ox < ox1; ox++)
                            d[ox] = 0.0f;
                    }
                    p += (size_t)(ox1 - ox0);
                }
            }
        }
    }
}

/* dx += col2im(dcol) for the chunk. */
void col2im_add(const tt_layer *l, const float *dcol, size_t p0, size_t nc, float *dx)
{
    const int64_t ih = l->in_h, iw = l->in_w, ow = l->out_w, sw = l->sw;
    const size_t end = p0 + nc;
    size_t r = 0;
    for (uint32_t c = 0; c < l->in_c; c++) {
        float *dc = dx + (size_t)c * ih * iw;
        for (uint32_t ky = 0; ky < l->kh; ky++) {
            for (uint32_t kx = 0; kx < l->kw; kx++, r++) {
                int64_t lo, hi;
                valid_cols(l, kx, &lo, &hi);
                const int64_t a = (int64_t)l->pad_l - kx;
                const float *src = dcol + r * nc;
                for (size_t p = p0; p < end;) {
                    const int64_t oy = (int64_t)(p / (size_t)ow), ox0 = (int64_t)(p % (size_t)ow);
                    const int64_t ox1 = MIN(ow, ox0 + (int64_t)(end - p));
                    const int64_t iy = oy * l->sh - l->pad_t + ky;
                    if (iy >= 0 && iy < ih) {
                        const float *s = src + (p - p0) - ox0;   /* s[ox] */
                        float *d = dc + iy * iw - a;             /* d[ox * sw] */
                        const int64_t v0 = MAX(ox0, lo), v1 = MIN(ox1, hi);
                        for (int64_t ox = v0; ox < v1; ox++)
                            d[ox * sw] += s[ox];
                    }
                    p += (size_t)(ox1 - ox0);
                }
            }
        }
    }
}
