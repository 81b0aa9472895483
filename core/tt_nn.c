/* TrafficTriage core: the CNN (inference and training). See tt_nn.h.
 *
 * Layout conventions (all tensors float, row-major):
 *   dense activations   [C][H][W]          (channel-first, as in the header)
 *   sparse maps         [H*W][cs] + stamps (channel-last, cs = C rounded up to 8,
 *                                          only cells stamped with the current epoch valid;
 *                                          training), or compact: [touched][cs] + a cell
 *                                          -> slot table (inference, cmap)
 *   conv weights        [out_c][in_c][kh][kw], then bias [out_c]
 *   dense weights       [out][in], then bias [out]
 *
 * Dense convolution is im2col + gemm, done in chunks of output positions so
 * the column buffer stays bounded (TT_COL_MAX floats) whatever the picture;
 * backward as in darknet (gemm for dW, transposed gemm + col2im for dX). At
 * inference, stride-1 convs (the LeNets') run directly instead, with the
 * relu / dropout / maxpool after them folded into their write-out (dconv_*).
 *
 * The sparse path (tt_net_forward_sparse) runs conv 0 by scatter and the
 * relu/maxpool/dropout layers up to the next parametrised layer j on sparse
 * maps (touched cells + a per-channel background), then conv j as its cached
 * background response plus a "delta conv" of the changed cells; when conv j
 * is followed by a maxpool and a dense layer, that layer too is its cached
 * background response plus the columns of the inputs that changed ("delta
 * dense", forward_delta_dense).
 *
 * Training (tt_net_train_one) does the same: conv 0 and the chain on sparse
 * maps (pools record their argmax), conv j as background response (computed
 * per call by separable sums, since the params change) + delta conv, the rest
 * dense; backward mirrors it: conv j's dW from the background (bg_c x dY summed
 * over valid positions) plus the changed cells, its input gradient only at the
 * touched cells, conv 0's db from the relu-masked total of that gradient and
 * its dW from the pixels. When a dropout sits in the chain, conv 0's output is
 * dense instead; when the picture is too dense, conv j runs as im2col + gemm.
 *
 * No global state: scratch lives in tt_ws, randomness in the caller's state.
 * Hot kernels use GCC vector extensions and target_clones("avx2","default").
 */
#include "tt_nn.h"
#include "tt_nn_tuning.h"

#include <math.h>
#include <string.h>

#ifdef TT_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Bound of the im2col buffer (floats); a chunk holds at least one position. */
#define TT_COL_MAX ((size_t)1 << 20)

/* Sparse work is done while (its multiply-adds) x factor <= (the
 * multiply-adds of the dense way it replaces): a scatter multiply-add costs
 * more than an sgemm one, but the dense way also pays for densifying and
 * im2col. Break-even factors measured with tt_bench_nn --threshold
 * (tests/bench/RESULTS-nn.md):
 *  - against im2col + sgemm (strided convs, the paper net): conv 0 (pixels
 *    vs the whole picture) ~4-6; the delta conv (changed cells vs the dense
 *    conv) ~1.6 when it fed a dense layer 1.5 (training still uses that), but
 *    with the delta dense layer behind it (inference) it won up to 150,000
 *    packets: 0.5, always on the paper net;
 *  - against a direct stride-1 conv (the LeNets), much cheaper per
 *    multiply-add: sparse conv 0 only below ~20 pixels of 1,024 (50), the
 *    delta conv while it does up to ~1.2 x the dense work (0.8). */
#define TT_SPARSE_COST_CONV0 5.0
#define TT_SPARSE_COST_DELTA 1.5
#define TT_SPARSE_COST_DELTA_INFER 0.5
#define TT_SPARSE_COST_CONV0_DIRECT 50.0
#define TT_SPARSE_COST_DELTA_DIRECT 0.8

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

/* ------------------------------------------------------------------------ */
/* RNG                                                                      */

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

/* ------------------------------------------------------------------------ */
/* BLAS wrappers                                                            */

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
static void tt_gemv(int trans, int m, int n, float alpha, const float *a, int lda,
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
static void tt_ger(int m, int n, float alpha, const float *x, const float *y, float *a, int lda)
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

/* ------------------------------------------------------------------------ */
/* Net construction                                                         */

static size_t layer_out_size(const tt_layer *l)
{
    return (size_t)l->out_c * l->out_h * l->out_w;
}

static size_t layer_in_size(const tt_layer *l)
{
    return (size_t)l->in_c * l->in_h * l->in_w;
}

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case TT_LAYER_CONV: return "conv";
    case TT_LAYER_RELU: return "relu";
    case TT_LAYER_MAXPOOL: return "maxpool";
    case TT_LAYER_DROPOUT: return "dropout";
    case TT_LAYER_DENSE: return "dense";
    default: return "unknown";
    }
}

tt_net *tt_net_new(uint32_t in_h, uint32_t in_w, const tt_layer *layers,
                   uint32_t n_layers, GError **error)
{
    if (layers == NULL || n_layers == 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_SHAPE, "net has no layers");
        return NULL;
    }
    if (n_layers > TT_MAX_LAYERS) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "net has %u layers (max %u)",
                    n_layers, (unsigned)TT_MAX_LAYERS);
        return NULL;
    }
    if (in_h == 0 || in_w == 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_SHAPE, "input picture %ux%u has a zero side", in_h, in_w);
        return NULL;
    }
    if (in_h > TT_MAX_IMAGE_SIDE || in_w > TT_MAX_IMAGE_SIDE) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "input picture %ux%u exceeds %u per side",
                    in_h, in_w, (unsigned)TT_MAX_IMAGE_SIDE);
        return NULL;
    }

    tt_layer *ls = g_new0(tt_layer, n_layers);
    uint64_t c = 1, h = in_h, w = in_w, np = 0;
    uint64_t acts = 0, work = 0;    /* totals over layers: a small file must not buy a huge net */
    int code = 0;
    char msg[200] = "";

#define FAIL(CODE, ...) do { code = (CODE); g_snprintf(msg, sizeof msg, __VA_ARGS__); goto fail; } while (0)

    for (uint32_t i = 0; i < n_layers; i++) {
        const tt_layer *src = &layers[i];
        tt_layer *l = &ls[i];
        l->kind = src->kind;
        l->out_c = src->out_c;
        l->kh = src->kh; l->kw = src->kw; l->sh = src->sh; l->sw = src->sw;
        l->pad_t = src->pad_t; l->pad_b = src->pad_b; l->pad_l = src->pad_l; l->pad_r = src->pad_r;
        l->rate = src->rate;
        l->in_c = (uint32_t)c; l->in_h = (uint32_t)h; l->in_w = (uint32_t)w;
        uint64_t nw = 0, nb = 0;

        switch (l->kind) {
        case TT_LAYER_CONV: {
            if (l->out_c == 0 || l->kh == 0 || l->kw == 0 || l->sh == 0 || l->sw == 0)
                FAIL(TT_ERROR_SHAPE, "layer %u (conv): zero filters, kernel or stride", i);
            if (l->kh > TT_MAX_IMAGE_SIDE || l->kw > TT_MAX_IMAGE_SIDE || l->sh > TT_MAX_IMAGE_SIDE ||
                l->sw > TT_MAX_IMAGE_SIDE || l->pad_t > TT_MAX_IMAGE_SIDE || l->pad_b > TT_MAX_IMAGE_SIDE ||
                l->pad_l > TT_MAX_IMAGE_SIDE || l->pad_r > TT_MAX_IMAGE_SIDE)
                FAIL(TT_ERROR_LIMIT, "layer %u (conv): kernel, stride or padding exceeds %u", i,
                     (unsigned)TT_MAX_IMAGE_SIDE);
            if (l->out_c > TT_MAX_ACTIVATIONS)
                FAIL(TT_ERROR_LIMIT, "layer %u (conv): %u filters exceeds %u", i, l->out_c,
                     (unsigned)TT_MAX_ACTIVATIONS);
            uint64_t ph = h + l->pad_t + l->pad_b, pw = w + l->pad_l + l->pad_r;
            if (l->kh > ph || l->kw > pw)
                FAIL(TT_ERROR_SHAPE, "layer %u (conv): kernel %ux%u larger than padded input %llux%llu",
                     i, l->kh, l->kw, (unsigned long long)ph, (unsigned long long)pw);
            uint64_t oh = (ph - l->kh) / l->sh + 1, ow = (pw - l->kw) / l->sw + 1;
            if ((uint64_t)l->out_c * oh * ow > TT_MAX_ACTIVATIONS)
                FAIL(TT_ERROR_LIMIT, "layer %u (conv): output %ux%llux%llu exceeds %u floats", i,
                     l->out_c, (unsigned long long)oh, (unsigned long long)ow, (unsigned)TT_MAX_ACTIVATIONS);
            nw = (uint64_t)l->out_c * c;
            if (nw > TT_MAX_PARAMS || (nw *= l->kh) > TT_MAX_PARAMS || (nw *= l->kw) > TT_MAX_PARAMS)
                FAIL(TT_ERROR_LIMIT, "layer %u (conv): weights exceed %u floats", i, (unsigned)TT_MAX_PARAMS);
            nb = l->out_c;
            c = l->out_c; h = oh; w = ow;
            break;
        }
        case TT_LAYER_RELU:
            break;
        case TT_LAYER_DROPOUT:
            if (!(l->rate >= 0.0f && l->rate < 1.0f))
                FAIL(TT_ERROR_SHAPE, "layer %u (dropout): rate %g not in [0, 1)", i, (double)l->rate);
            break;
        case TT_LAYER_MAXPOOL: {
            if (l->kh == 0 || l->kw == 0 || l->sh == 0 || l->sw == 0)
                FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): zero window or stride", i);
            if (l->pad_t || l->pad_b || l->pad_l || l->pad_r)
                FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): padding is not supported", i);
            if (l->sh > TT_MAX_IMAGE_SIDE || l->sw > TT_MAX_IMAGE_SIDE)
                FAIL(TT_ERROR_LIMIT, "layer %u (maxpool): stride exceeds %u", i, (unsigned)TT_MAX_IMAGE_SIDE);
            if (l->kh > h || l->kw > w)
                FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): window %ux%u larger than input %llux%llu",
                     i, l->kh, l->kw, (unsigned long long)h, (unsigned long long)w);
            h = (h - l->kh) / l->sh + 1;
            w = (w - l->kw) / l->sw + 1;
            break;
        }
        case TT_LAYER_DENSE: {
            if (l->out_c == 0)
                FAIL(TT_ERROR_SHAPE, "layer %u (dense): zero units", i);
            if (l->out_c > TT_MAX_ACTIVATIONS)
                FAIL(TT_ERROR_LIMIT, "layer %u (dense): %u units exceeds %u", i, l->out_c,
                     (unsigned)TT_MAX_ACTIVATIONS);
            nw = (uint64_t)l->out_c * (c * h * w);
            if (nw > TT_MAX_PARAMS)
                FAIL(TT_ERROR_LIMIT, "layer %u (dense): %llu weights exceed %u", i,
                     (unsigned long long)nw, (unsigned)TT_MAX_PARAMS);
            nb = l->out_c;
            c = l->out_c; h = 1; w = 1;
            break;
        }
        default:
            FAIL(TT_ERROR_SHAPE, "layer %u: unknown kind %u", i, l->kind);
        }
        l->out_h = (uint32_t)h;
        l->out_w = (uint32_t)w;
        if (l->kind != TT_LAYER_CONV && l->kind != TT_LAYER_DENSE)
            l->out_c = (uint32_t)c;
        /* Dense-equivalent work of this layer: weights x output positions for
         * conv and dense, window x output for pooling, one per output otherwise. */
        uint64_t out = c * h * w;
        acts += out;
        if (l->kind == TT_LAYER_CONV)
            work += nw * h * w;
        else if (l->kind == TT_LAYER_DENSE)
            work += nw;
        else if (l->kind == TT_LAYER_MAXPOOL)
            work += out * l->kh * l->kw;
        else
            work += out;
        if (acts > TT_MAX_TOTAL_ACTIVATIONS)
            FAIL(TT_ERROR_LIMIT, "layers 0..%u: outputs add up to more than %u floats", i,
                 (unsigned)TT_MAX_TOTAL_ACTIVATIONS);
        if (work > TT_MAX_WORK)
            FAIL(TT_ERROR_LIMIT, "layers 0..%u: more than %u multiply-adds per picture", i,
                 (unsigned)TT_MAX_WORK);
        l->w_off = (size_t)np;
        l->n_w = (size_t)nw;
        l->b_off = (size_t)(np + nw);
        l->n_b = (size_t)nb;
        np += nw + nb;
        if (np > TT_MAX_PARAMS)
            FAIL(TT_ERROR_LIMIT, "net has more than %u parameters", (unsigned)TT_MAX_PARAMS);
    }
    if (ls[n_layers - 1].kind != TT_LAYER_DENSE)
        FAIL(TT_ERROR_SHAPE, "last layer is %s, must be dense", kind_name(ls[n_layers - 1].kind));
    if (ls[n_layers - 1].out_c > TT_MAX_CLASSES)
        FAIL(TT_ERROR_LIMIT, "net has %u outputs (max %u)", ls[n_layers - 1].out_c, (unsigned)TT_MAX_CLASSES);
#undef FAIL

    tt_net *net = g_new0(tt_net, 1);
    net->in_c = 1;
    net->in_h = in_h;
    net->in_w = in_w;
    net->n_layers = n_layers;
    net->layers = ls;
    net->n_out = ls[n_layers - 1].out_c;
    net->n_params = (size_t)np;
    net->params = g_new0(float, np);
    return net;

fail:
    g_free(ls);
    g_set_error_literal(error, TT_ERROR, code, msg);
    return NULL;
}

/* A conv's response to the constant background, by classes of rows and
 * columns: the value at (y, x) is v + (rc[y] * ncc + cc[x]) * stride. Rows
 * (columns) whose windows overlap the padding alike share a class, so on the
 * paper net 3 x 3 vectors stand for 900 (1 KB instead of 86, always in L1). */
typedef struct {
    float    *v;
    uint32_t *rc, *cc;
    uint32_t  ncc;
} bgtab;

struct tt_net_cache {
    uint32_t j;        /* the conv layer computed as a delta conv */
    uint32_t ocs;      /* channel stride of wt / bgresp (out_c rounded up to 8) */
    float   *wt;       /* its weights as [kh][kw][in_c][ocs] */
    float   *bgresp;   /* its response to the background, [out_h*out_w][ocs], bias included */
    /* "Delta dense": when conv j is followed by [relu / dropout] maxpool p
     * [relu / dropout] and a dense layer d, the pooled cells whose window the
     * picture leaves untouched equal the background's, and d's output is its
     * response to the background plus the columns of the changed inputs only. */
    uint32_t p, d;     /* the maxpool and the dense layer (0 = no delta dense) */
    gboolean relu;     /* a relu between conv j and d */
    uint32_t dcs;      /* d's out_c rounded up to 8 */
    bgtab    bgc;      /* bgresp by classes (bgresp is spread from it) */
    float   *xbg;      /* d's input for the background, channel-last: [pooled h*w][ocs] */
    float   *ybg;      /* d's output for it, bias included, [dcs] */
    float   *wdt;      /* d's weights transposed, one row of dcs floats per input (padding lanes
                        * 0), rows in channel-last order: input o * pn + p is row p * out_c + o */
};

static void cache_free(tt_net_cache *c)
{
    if (!c)
        return;
    g_free(c->wt);
    g_free(c->bgresp);
    g_free(c->xbg);
    g_free(c->bgc.v);
    g_free(c->bgc.rc);
    g_free(c->bgc.cc);
    g_free(c->ybg);
    g_free(c->wdt);
    g_free(c);
}

void tt_net_free(tt_net *net)
{
    if (!net)
        return;
    cache_free(net->cache);
    g_free(net->layers);
    g_free(net->params);
    g_free(net);
}

void tt_net_init_params(tt_net *net, uint64_t seed)
{
    g_return_if_fail(net != NULL);
    uint64_t st = seed ^ 0x5DEECE66Dull;
    memset(net->params, 0, net->n_params * sizeof(float));
    for (uint32_t i = 0; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->n_w == 0)
            continue;
        size_t fan_in = l->kind == TT_LAYER_CONV ? (size_t)l->in_c * l->kh * l->kw : layer_in_size(l);
        double sd = sqrt(2.0 / (double)fan_in);
        float *wp = net->params + l->w_off;
        for (size_t k = 0; k < l->n_w; k++)
            wp[k] = (float)(sd * tt_rng_normal(&st));
    }
    cache_free(net->cache);
    net->cache = NULL;
}

/* ------------------------------------------------------------------------ */
/* Workspace                                                                */

typedef struct {
    uint32_t c, h, w;
    uint32_t cs;       /* channel stride: c rounded up to 8; padding lanes are 0 */
    float    *val;     /* [h*w][cs], valid where stamp == epoch */
    uint32_t *stamp;   /* [h*w] */
    uint32_t *list;    /* touched cells, n of them */
    uint32_t  n;
    float    *bg;      /* [cs] value of every untouched cell */
    /* training only */
    uint32_t *am;      /* maxpool output maps: [h*w][cs] input cell of each maximum */
    float    *g;       /* [h*w][cs] gradient, valid where gstamp == epoch (else 0) */
    uint32_t *gstamp;  /* [h*w] */
} smap;

/* Buffers of a stride-1 conv run directly at inference (dconv_*, below). */
typedef struct {
    float   *pin;      /* zero-padded input: in_c planes of ps floats, plus slack; borders stay 0 */
    float   *out;      /* conv output without bias: out_c rows of nq floats, row stride wp;
                        * with wtc, channel-last [out_h * out_w][out_c] */
    size_t   ps, nq;   /* plane stride of pin; flat positions computed per channel */
    uint32_t wp;       /* padded row width */
    float   *wtc;      /* NULL, or the weights as [in_c][kh][kw][out_c] (dconv_run_cl) ... */
    float   *wsrc;     /* ... made from this copy of them */
    uint32_t *tq;      /* first position of each register tile (dconv_run), ntq of them */
    uint32_t ntq;
    gboolean wtc_ok;   /* wtc has been made at least once */
} dconv_buf;

typedef struct cmap cmap;            /* inference: compact sparse map (below) */
/* Outputs [lo, lo + n) of a conv / pool along one axis touched by one input
 * coordinate: touched_range, tabulated per layer so the scatter loops of the
 * sparse inference path do no division. */
typedef struct {
    uint32_t lo, n;
} span;
static void cmaps_free(cmap *cm);     /* TT_MAX_LAYERS of them, or NULL */

struct tt_ws {
    uint32_t n_layers, in_h, in_w;
    size_t   n_params;
    float   *act[TT_MAX_LAYERS];     /* per layer output; relu/dropout alias the previous */
    gboolean act_own[TT_MAX_LAYERS];
    float   *col;                    /* im2col buffer, col_cap floats */
    size_t   col_cap;
    float   *input;                  /* dense input picture (in_h * in_w) */
    dconv_buf dc[TT_MAX_LAYERS];     /* inference: stride-1 convs run directly */
    cmap    *cm;                     /* inference: compact sparse maps, TT_MAX_LAYERS */
    span    *spans[TT_MAX_LAYERS][2];/* inference: per layer, rows and columns of its input */
    struct {
        uint32_t epoch;
        uint32_t *ostamp, *olist;    /* conv j outputs set from bgresp this call ([out_h*out_w]) */
        uint32_t *pstamp;            /* pooled cells done this call ([pooled h*w]) */
        uint32_t *plist;             /* those cells, ascending */
        float    *xv;                /* their pooled values, [pooled h*w][ocs] */
        uint32_t *dk;                /* changed inputs of the dense layer ... */
        float    *dv;                /* ... and their change */
        float    *y;                 /* its output, [dcs] */
    } dd;                            /* delta dense (tt_net_cache) */
    /* training */
    float   *g[2];                   /* gradient ping-pong, gcap floats each */
    size_t   gcap;
    uint32_t *argmax[TT_MAX_LAYERS]; /* maxpool: input index of each output */
    float   *mask[TT_MAX_LAYERS];    /* dropout: 0 or 1/(1-rate) */
    float   *colkeep[TT_MAX_LAYERS]; /* conv: column matrix kept from forward to backward */
    /* sparse */
    double   cost0, cost_delta;      /* set by tt_ws_set_sparse_cost, < 0: the defaults (TT_SPARSE_COST_*) */
    gboolean dense_train;            /* tests: train with a dense conv 0 output */
    smap     map[TT_MAX_LAYERS];
    uint32_t epoch;
    float   *w1t;                    /* conv 0 weights as [kh][kw][cs] */
    float   *b1;                     /* conv 0 bias, [cs] */
    float   *acc;                    /* delta conv output, channel-last */
    float   *dval;                   /* one cell's non-zero changes ... */
    uint32_t *dq;                    /* ... and their channels */
    float   *pmax;                   /* running max over a pool window, [ocs] */
    struct {
        float *wt, *u, *r, *dwt, *gy;
    } dt;                            /* delta conv in training (tt_dtrain) */
};

tt_ws *tt_ws_new(const tt_net *net)
{
    g_return_val_if_fail(net != NULL, NULL);
    tt_ws *ws = g_new0(tt_ws, 1);
    ws->n_layers = net->n_layers;
    ws->in_h = net->in_h;
    ws->in_w = net->in_w;
    ws->n_params = net->n_params;
    ws->epoch = 1;
    ws->cost0 = -1.0;
    ws->cost_delta = -1.0;
    return ws;
}

/* Tuning hooks for tests/bench, declared in tt_nn_tuning.h. */
void tt_ws_set_sparse_cost(tt_ws *ws, double conv0, double delta)
{
    g_return_if_fail(ws != NULL);
    ws->cost0 = conv0 < 0.0 ? -1.0 : conv0;
    ws->cost_delta = delta < 0.0 ? -1.0 : delta;
}

void tt_ws_set_dense_train(tt_ws *ws, gboolean dense)
{
    g_return_if_fail(ws != NULL);
    ws->dense_train = dense;
}

void tt_ws_free(tt_ws *ws)
{
    if (!ws)
        return;
    for (uint32_t i = 0; i < TT_MAX_LAYERS; i++) {
        if (ws->act_own[i])
            g_free(ws->act[i]);
        g_free(ws->argmax[i]);
        g_free(ws->mask[i]);
        g_free(ws->colkeep[i]);
        g_free(ws->map[i].val);
        g_free(ws->map[i].stamp);
        g_free(ws->map[i].list);
        g_free(ws->map[i].bg);
        g_free(ws->map[i].am);
        g_free(ws->map[i].g);
        g_free(ws->map[i].gstamp);
        g_free(ws->dc[i].pin);
        g_free(ws->dc[i].out);
        g_free(ws->dc[i].wtc);
        g_free(ws->dc[i].wsrc);
        g_free(ws->dc[i].tq);
        g_free(ws->spans[i][0]);
        g_free(ws->spans[i][1]);
    }
    cmaps_free(ws->cm);
    g_free(ws->col);
    g_free(ws->input);
    g_free(ws->g[0]);
    g_free(ws->g[1]);
    g_free(ws->w1t);
    g_free(ws->acc);
    g_free(ws->dval);
    g_free(ws->dq);
    g_free(ws->b1);
    g_free(ws->pmax);
    g_free(ws->dt.wt);
    g_free(ws->dt.u);
    g_free(ws->dt.r);
    g_free(ws->dt.dwt);
    g_free(ws->dt.gy);
    g_free(ws->dd.ostamp);
    g_free(ws->dd.olist);
    g_free(ws->dd.pstamp);
    g_free(ws->dd.plist);
    g_free(ws->dd.xv);
    g_free(ws->dd.dk);
    g_free(ws->dd.dv);
    g_free(ws->dd.y);
    g_free(ws);
}

static gboolean ws_fits(const tt_net *net, const tt_ws *ws)
{
    if (!net || !ws)
        return FALSE;
    if (ws->n_layers != net->n_layers || ws->in_h != net->in_h || ws->in_w != net->in_w ||
        ws->n_params != net->n_params) {
        g_critical("tt_nn: workspace was made for another net");
        return FALSE;
    }
    return TRUE;
}

static gboolean in_place(const tt_net *net, uint32_t i)
{
    uint32_t k = net->layers[i].kind;
    return i > 0 && (k == TT_LAYER_RELU || k == TT_LAYER_DROPOUT);
}

/* Output buffer of layer i (allocated on first use). */
static float *ws_act(const tt_net *net, tt_ws *ws, uint32_t i)
{
    if (ws->act[i])
        return ws->act[i];
    if (in_place(net, i)) {
        ws->act[i] = ws_act(net, ws, i - 1);
        ws->act_own[i] = FALSE;
    } else {
        ws->act[i] = g_new(float, MAX(layer_out_size(&net->layers[i]), 1));
        ws->act_own[i] = TRUE;
    }
    return ws->act[i];
}

static float *ws_col(tt_ws *ws, size_t need)
{
    if (ws->col_cap < need) {
        g_free(ws->col);
        ws->col = g_new(float, need);
        ws->col_cap = need;
    }
    return ws->col;
}

static float *ws_input(const tt_net *net, tt_ws *ws)
{
    if (!ws->input)
        ws->input = g_new(float, (size_t)net->in_h * net->in_w);
    return ws->input;
}

static void densify_input(const tt_net *net, float *dst, const tt_pixel *px, size_t n)
{
    size_t hw = (size_t)net->in_h * net->in_w;
    memset(dst, 0, hw * sizeof(float));
    for (size_t i = 0; i < n; i++)
        if (px[i].idx < hw)
            dst[px[i].idx] += px[i].v;
}

/* ------------------------------------------------------------------------ */
/* Dense layers                                                             */

/* Positions per im2col chunk for a conv layer. */
static size_t conv_chunk(const tt_layer *l)
{
    size_t k = (size_t)l->in_c * l->kh * l->kw;
    size_t n = (size_t)l->out_h * l->out_w;
    size_t nc = TT_COL_MAX / k;
    if (nc < 1)
        nc = 1;
    return nc < n ? nc : n;
}

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

/* col[r][p - p0] for r = (c, ky, kx), p in [p0, p0 + nc): whole runs of an
 * output row at a time (zeros where the window hangs over the padding). */
static void im2col(const tt_layer *l, const float *x, size_t p0, size_t nc, float *col)
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
static void col2im_add(const tt_layer *l, const float *dcol, size_t p0, size_t nc, float *dx)
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

/* Training keeps a conv's whole column matrix from the forward for the
 * backward when it fits in one chunk (NULL otherwise). */
static float *ws_keep(const tt_layer *l, tt_ws *ws, uint32_t i)
{
    if (conv_chunk(l) < (size_t)l->out_h * l->out_w)
        return NULL;
    if (!ws->colkeep[i])
        ws->colkeep[i] = g_new(float, (size_t)l->in_c * l->kh * l->kw * l->out_h * l->out_w);
    return ws->colkeep[i];
}

/* keep: NULL, or a buffer for the whole column matrix (see ws_keep). */
static void conv_forward(const tt_net *net, tt_ws *ws, const tt_layer *l, const float *x, float *y, float *keep)
{
    const float *W = net->params + l->w_off, *b = net->params + l->b_off;
    const size_t k = (size_t)l->in_c * l->kh * l->kw, n = (size_t)l->out_h * l->out_w;
    const size_t nc = conv_chunk(l);
    float *col = keep ? keep : ws_col(ws, k * nc);
    for (size_t p0 = 0; p0 < n; p0 += nc) {
        size_t m = MIN(nc, n - p0);
        im2col(l, x, p0, m, col);
        tt_gemm(0, 0, (int)l->out_c, (int)m, (int)k, 1.0f, W, (int)k, col, (int)m, 0.0f, y + p0, (int)n);
    }
    for (uint32_t o = 0; o < l->out_c; o++) {
        float *yo = y + (size_t)o * n, bo = b[o];
        for (size_t p = 0; p < n; p++)
            yo[p] += bo;
    }
}

/* Backward of a conv given its input x and upstream gradient g (out_c x n):
 * dW += g * col^T, db += sum g, and if dx != NULL, dx = col2im(W^T g).
 * keep: the column matrix kept by conv_forward, or NULL to rebuild it. */
static void conv_backward(const tt_net *net, tt_ws *ws, const tt_layer *l, const float *x,
                          const float *g, float *grad, float *dx, const float *keep)
{
    const float *W = net->params + l->w_off;
    float *dW = grad + l->w_off, *db = grad + l->b_off;
    const size_t k = (size_t)l->in_c * l->kh * l->kw, n = (size_t)l->out_h * l->out_w;
    const size_t nc = conv_chunk(l);
    float *col = ws_col(ws, k * nc);
    if (dx)
        memset(dx, 0, layer_in_size(l) * sizeof(float));
    for (size_t p0 = 0; p0 < n; p0 += nc) {
        size_t m = MIN(nc, n - p0);
        const float *cm = keep;
        if (!cm) {
            im2col(l, x, p0, m, col);
            cm = col;
        }
        tt_gemm(0, 1, (int)l->out_c, (int)k, (int)m, 1.0f, g + p0, (int)n, cm, (int)m, 1.0f, dW, (int)k);
        if (dx) {
            tt_gemm(1, 0, (int)k, (int)m, (int)l->out_c, 1.0f, W, (int)k, g + p0, (int)n, 0.0f, col, (int)m);
            col2im_add(l, col, p0, m, dx);
        }
    }
    for (uint32_t o = 0; o < l->out_c; o++) {
        const float *go = g + (size_t)o * n;
        double s = 0.0;
        for (size_t p = 0; p < n; p++)
            s += go[p];
        db[o] += (float)s;
    }
}

static void maxpool_forward(const tt_layer *l, const float *x, float *y, uint32_t *arg)
{
    const size_t ih = l->in_h, iw = l->in_w, oh = l->out_h, ow = l->out_w;
    const uint32_t kh = l->kh, kw = l->kw, sh = l->sh, sw = l->sw;
    for (uint32_t c = 0; c < l->in_c; c++) {
        const float *xc = x + c * ih * iw;
        float *yc = y + c * oh * ow;
        if (!arg && kh == 2 && kw == 2 && sh == 2 && sw == 2) {
            for (size_t py = 0; py < oh; py++) {
                const float *r0 = xc + 2 * py * iw, *r1 = r0 + iw;
                float *yr = yc + py * ow;
                for (size_t px = 0; px < ow; px++) {
                    float a = r0[2 * px], b = r0[2 * px + 1], e = r1[2 * px], f = r1[2 * px + 1];
                    a = b > a ? b : a;
                    e = f > e ? f : e;
                    yr[px] = e > a ? e : a;
                }
            }
            continue;
        }
        for (size_t py = 0; py < oh; py++) {
            for (size_t px = 0; px < ow; px++) {
                size_t best_i = py * sh * iw + px * sw;
                float best = xc[best_i];
                for (uint32_t wy = 0; wy < kh; wy++) {
                    const size_t row = (py * sh + wy) * iw + px * sw;
                    for (uint32_t wx = 0; wx < kw; wx++) {
                        const float v = xc[row + wx];
                        const int gt = v > best;      /* first maximum wins ties */
                        best = gt ? v : best;
                        best_i = gt ? row + wx : best_i;
                    }
                }
                yc[py * ow + px] = best;
                if (arg)
                    arg[c * oh * ow + py * ow + px] = (uint32_t)(c * ih * iw + best_i);
            }
        }
    }
}

TT_CLONES
static void relu_forward(const float *x, float *y, size_t n)
{
    size_t k = 0;
    const tt_v8 zero = { 0 };
    for (; k + 8 <= n; k += 8) {
        tt_v8 v = *(const tt_v8 *)(x + k);
        *(tt_v8i *)(y + k) = (tt_v8i)v & (v > zero);
    }
    for (; k < n; k++)
        y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

/* y[i] += A[i] . x for a row-major m x n A (row stride lda). Four 8-lane
 * partial sums per row, added in a fixed order: the same arithmetic with or
 * without OpenBLAS, so the trainer's CLI and the plugin's engine (built
 * without it, FINDINGS F5) give bit-identical outputs on one machine. */
TT_CLONES
static void gemv_rows(int m, int n, const float *a, int lda, const float *x, float *y)
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

static void dense_forward(const tt_net *net, const tt_layer *l, const float *x, float *y)
{
    const int in = (int)layer_in_size(l), out = (int)l->out_c;
    memcpy(y, net->params + l->b_off, (size_t)out * sizeof(float));
    gemv_rows(out, in, net->params + l->w_off, in, x, y);
}

/* g *= (y > 0) */
TT_CLONES
static void relu_backward(const float *y, float *g, size_t n)
{
    size_t k = 0;
    const tt_v8 zero = { 0 };
    for (; k + 8 <= n; k += 8) {
        tt_v8 v = *(const tt_v8 *)(y + k);
        *(tt_v8i *)(g + k) = *(tt_v8i *)(g + k) & (v > zero);
    }
    for (; k < n; k++)
        g[k] = y[k] > 0.0f ? g[k] : 0.0f;
}

/* ------------------------------------------------------------------------ */
/* Inference: stride-1 convolutions run directly                            */
/*
 * A stride-1 conv is out[o][oy][ox] = sum over c, ky, kx of
 * W[o][c][ky][kx] * P[c][oy + ky][ox + kx], P the zero-padded input
 * (Hp x Wp per channel). Numbering the outputs over the padded width,
 * q = oy * Wp + ox, every tap becomes one contiguous shifted read
 * P_flat[c][q + ky * Wp + kx], so the conv is kh * kw * in_c scaled shifted
 * copies of the padded input, vectorised over q, with the weights broadcast
 * from their stored layout: no im2col, no gemm packing. At the LeNet's sizes
 * (25..150 taps, a few hundred positions) im2col + sgemm spent more time in
 * im2col, its small row copies (memmove) and sgemm's packing than in the
 * multiply-adds (tests/bench/RESULTS-nn.md). Register tiles of 16 or 24
 * positions run over the flat positions or row by row, whichever computes
 * fewer of the columns ox >= out_w that are never read (none on the LeNet's
 * first conv); with 8 or 16 filters and a narrow output (the LeNet's second
 * conv: 12 of 16 columns) a channel-last variant vectorises over the filters
 * instead (dconv_run_cl). All of them add in (c, ky, kx) order per output.
 * Inference only: training keeps im2col + gemm (it needs the column matrix
 * for the backward anyway), so its results do not change.
 */

/* Bound (floats) of the padded input and of the flat output of a direct conv;
 * larger layers use im2col + gemm. */
#define TT_DCONV_MAX ((size_t)1 << 22)
/* Flat positions per channel are rounded up to a multiple of this. */
#define TT_DCONV_Q 48

static gboolean dconv_ok(const tt_layer *l)
{
    if (l->kind != TT_LAYER_CONV || l->sh != 1 || l->sw != 1)
        return FALSE;
    const uint64_t hp = (uint64_t)l->in_h + l->pad_t + l->pad_b, wp = (uint64_t)l->in_w + l->pad_l + l->pad_r;
    return (uint64_t)l->in_c * (hp * wp + TT_DCONV_Q + (uint64_t)l->kh * wp) <= TT_DCONV_MAX &&
           (uint64_t)l->out_c * (l->out_h * wp + TT_DCONV_Q) <= TT_DCONV_MAX;
}

/* The buffers of direct conv layer i (allocated on first use). pin is zeroed
 * once: calls only ever write its interior, so the padding stays zero. */
static dconv_buf *ws_dconv(tt_ws *ws, const tt_layer *l, uint32_t i)
{
    dconv_buf *b = &ws->dc[i];
    if (!b->pin) {
        const size_t hp = (size_t)l->in_h + l->pad_t + l->pad_b;
        b->wp = l->in_w + l->pad_l + l->pad_r;
        b->ps = hp * b->wp;
        /* Tiles of tw positions: over the flat positions, or row by row when
         * that wastes less (out_w a multiple of tw: none wasted; the LeNet's
         * first conv, 32 of 36 columns flat). */
        const size_t tw = l->out_c % 6 == 0 ? 16 : 24, ow = l->out_w, wp = b->wp;
        const size_t flat = ((size_t)l->out_h * wp + tw - 1) / tw, per_row = (ow + tw - 1) / tw;
        const gboolean rows = per_row * l->out_h < flat;
        b->ntq = (uint32_t)(rows ? per_row * l->out_h : flat);
        b->tq = g_new(uint32_t, b->ntq);
        for (size_t t = 0; t < b->ntq; t++)
            b->tq[t] = (uint32_t)(rows ? (t / per_row) * wp + (t % per_row) * tw : t * tw);
        const size_t end = (size_t)b->tq[b->ntq - 1] + tw;
        b->nq = (MAX(end, (size_t)l->out_h * wp) + TT_DCONV_Q - 1) / TT_DCONV_Q * TT_DCONV_Q;
        /* The last plane is read up to nq - 1 + (kh - 1) * wp + kw - 1. */
        b->pin = g_new0(float, (l->in_c - 1) * b->ps + b->nq + (size_t)(l->kh - 1) * b->wp + l->kw);
        b->out = g_new(float, (size_t)l->out_c * b->nq);
        /* 8 or 16 filters and at least 1/8 of the flat positions wasted
         * (the LeNet's second conv: 4 of 16): vectorise over the filters. */
        if ((l->out_c == 8 || l->out_c == 16) && (b->wp - l->out_w) * 8 >= b->wp) {
            b->wtc = g_new(float, (size_t)l->in_c * l->kh * l->kw * l->out_c);
            b->wsrc = g_new(float, (size_t)l->in_c * l->kh * l->kw * l->out_c);
        }
    }
    return b;
}

/* Copy a dense [in_c][in_h][in_w] input into the interior of pin. */
static void dconv_stage(const tt_layer *l, const dconv_buf *b, const float *x)
{
    for (uint32_t c = 0; c < l->in_c; c++)
        for (uint32_t y = 0; y < l->in_h; y++)
            memcpy(b->pin + c * b->ps + (size_t)(y + l->pad_t) * b->wp + l->pad_l,
                   x + ((size_t)c * l->in_h + y) * l->in_w, l->in_w * sizeof(float));
}

/* One register tile: OB filters x NV vectors of 8 positions, accumulated over
 * every tap in (c, ky, kx) order. w: the first filter of the tile (filters
 * wo floats apart); pin and out: at the tile's first position. OB and NV are
 * constants at every call, so the accumulators live in registers. */
static inline __attribute__((always_inline)) void
dconv_tile(const int OB, const int NV, const float *restrict w, size_t wo, uint32_t ic, uint32_t kh,
           uint32_t kw, const float *restrict pin, size_t ps, uint32_t wp, float *restrict out, size_t nq)
{
    /* Fixed bounds (not [OB][NV], which would be a variable-length array kept
     * in memory): fully unrolled, the used entries become registers. */
    tt_v8 acc[6][3];
#pragma GCC unroll 8
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[o][v] = (tt_v8){ 0 };
    for (uint32_t c = 0; c < ic; c++) {
        const float *pc = pin + c * ps, *wc = w + (size_t)c * kh * kw;
        for (uint32_t ky = 0; ky < kh; ky++) {
            const float *pr = pc + (size_t)ky * wp, *wr = wc + (size_t)ky * kw;
            for (uint32_t kx = 0; kx < kw; kx++) {
                tt_v8 x[3];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    x[v] = *(const tt_v8 *)(pr + kx + 8 * v);
#pragma GCC unroll 8
                for (int o = 0; o < OB; o++) {
                    const float s = wr[o * wo + kx];
#pragma GCC unroll 4
                    for (int v = 0; v < NV; v++)
                        acc[o][v] += s * x[v];
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            *(tt_v8 *)(out + o * nq + 8 * v) = acc[o][v];
}

/* b->out = conv(b->pin) without bias. Tiles of 6 filters x 2 vectors when
 * out_c is a multiple of 6 (the LeNet's conv 0), else 4 x 3 and a 1..3 x 3
 * tail: 12 accumulators + the inputs fit the 16 AVX registers. */
TT_CLONES
static void dconv_run(const tt_layer *l, const float *W, const dconv_buf *b)
{
    const size_t wo = (size_t)l->in_c * l->kh * l->kw, nq = b->nq;
    const uint32_t oc = l->out_c, ic = l->in_c, kh = l->kh, kw = l->kw;
    const float *src = b->pin;
    const size_t ps = b->ps, wp = b->wp;
    uint32_t o = 0;
    if (oc % 6 == 0) {
        for (; o < oc; o += 6)
            for (uint32_t t = 0; t < b->ntq; t++) {
                const size_t q = b->tq[t];
                dconv_tile(6, 2, W + o * wo, wo, ic, kh, kw, src + q, ps, wp, b->out + o * nq + q, nq);
            }
        return;
    }
    for (; o + 4 <= oc; o += 4)
        for (uint32_t t = 0; t < b->ntq; t++) {
            const size_t q = b->tq[t];
            dconv_tile(4, 3, W + o * wo, wo, ic, kh, kw, src + q, ps, wp, b->out + o * nq + q, nq);
        }
    for (uint32_t t = 0; t < b->ntq && o < oc; t++) {
        const size_t q = b->tq[t];
        const float *wq = W + o * wo;
        const float *pq = src + q;
        float *oq = b->out + o * nq + q;
        switch (oc - o) {
        case 3: dconv_tile(3, 3, wq, wo, ic, kh, kw, pq, ps, wp, oq, nq); break;
        case 2: dconv_tile(2, 3, wq, wo, ic, kh, kw, pq, ps, wp, oq, nq); break;
        default: dconv_tile(1, 3, wq, wo, ic, kh, kw, pq, ps, wp, oq, nq); break;
        }
    }
}

/* Write-out of a direct conv with the layers folded into it: dst[o][y][x] =
 * act(max over the pool window of out + bias[o]) (h x w = the result's size;
 * plane and row strides dps, drs). Adding the bias after the max and the relu
 * after the pool give the same floats as the layer order conv, bias, relu,
 * pool (rounding and relu are monotonic), on a quarter of the values. */
TT_CLONES
static void dconv_finish(const dconv_buf *b, const float *bias, uint32_t oc, const tt_layer *pool,
                         gboolean relu, uint32_t h, uint32_t w, float *dst, size_t dps, size_t drs)
{
    const size_t wp = b->wp;
    const tt_v8 zero = { 0 };
    for (uint32_t o = 0; o < oc; o++) {
        const float *src = b->out + o * b->nq;
        float *d = dst + o * dps;
        const float bo = bias[o];
        if (!pool) {
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                    const float v = src[y * wp + x] + bo;
                    d[y * drs + x] = relu && !(v > 0.0f) ? 0.0f : v;
                }
        } else if (pool->kh == 2 && pool->kw == 2 && pool->sh == 2 && pool->sw == 2) {
            for (uint32_t y = 0; y < h; y++) {
                const float *r0 = src + 2 * y * wp, *r1 = r0 + wp;
                float *dr = d + y * drs;
                uint32_t x = 0;
                /* 8 outputs from 16 columns of two rows: vertical max, then
                 * the max of even and odd columns. */
                for (; x + 8 <= w; x += 8) {
                    tt_v8 a0 = *(const tt_v8 *)(r0 + 2 * x), a1 = *(const tt_v8 *)(r0 + 2 * x + 8);
                    tt_v8 c0 = *(const tt_v8 *)(r1 + 2 * x), c1 = *(const tt_v8 *)(r1 + 2 * x + 8);
                    tt_v8 m0 = VMAX(a0, c0), m1 = VMAX(a1, c1);
                    tt_v8 ev = TT_SHUFFLE(m0, m1, 0, 2, 4, 6, 8, 10, 12, 14);
                    tt_v8 od = TT_SHUFFLE(m0, m1, 1, 3, 5, 7, 9, 11, 13, 15);
                    tt_v8 m = VMAX(ev, od) + bo;
                    if (relu)
                        m = (tt_v8)((tt_v8i)m & (m > zero));
                    *(tt_v8 *)(dr + x) = m;
                }
                for (; x < w; x++) {
                    float a = r0[2 * x], e = r1[2 * x];
                    a = r0[2 * x + 1] > a ? r0[2 * x + 1] : a;
                    e = r1[2 * x + 1] > e ? r1[2 * x + 1] : e;
                    const float v = (e > a ? e : a) + bo;
                    dr[x] = relu && !(v > 0.0f) ? 0.0f : v;
                }
            }
        } else {
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                    const float *s = src + (size_t)y * pool->sh * wp + (size_t)x * pool->sw;
                    float m = s[0];
                    for (uint32_t wy = 0; wy < pool->kh; wy++)
                        for (uint32_t wx = 0; wx < pool->kw; wx++)
                            m = s[wy * wp + wx] > m ? s[wy * wp + wx] : m;
                    const float v = m + bo;
                    d[y * drs + x] = relu && !(v > 0.0f) ? 0.0f : v;
                }
        }
    }
}

/* Channel-last variant of a direct conv for 8 or 16 filters (NV vectors):
 * NP (<= 6) consecutive positions of one output row x all filters per tile; the
 * input is broadcast from pin, the weights (wtc) loaded as vectors. Every
 * lane is a real output: nothing is computed for the padding columns. */
static inline __attribute__((always_inline)) void
dconv_cl_tile(const int NP, const int NV, const float *restrict wtc, uint32_t ic, uint32_t kh, uint32_t kw,
              const float *restrict pin, size_t ps, uint32_t wp, float *restrict out)
{
    const int oc = 8 * NV;
    tt_v8 acc[6][2];
#pragma GCC unroll 6
    for (int p = 0; p < NP; p++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[p][v] = (tt_v8){ 0 };
    for (uint32_t c = 0; c < ic; c++)
        for (uint32_t ky = 0; ky < kh; ky++) {
            const float *src = pin + c * ps + (size_t)ky * wp;
            const float *w = wtc + ((size_t)c * kh + ky) * kw * oc;
            for (uint32_t kx = 0; kx < kw; kx++, w += oc) {
                tt_v8 wv[2];
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++)
                    wv[v] = *(const tt_v8 *)(w + 8 * v);
#pragma GCC unroll 6
                for (int p = 0; p < NP; p++) {
                    const float x = src[kx + p];
#pragma GCC unroll 2
                    for (int v = 0; v < NV; v++)
                        acc[p][v] += x * wv[v];
                }
            }
        }
#pragma GCC unroll 6
    for (int p = 0; p < NP; p++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            *(tt_v8 *)(out + p * oc + 8 * v) = acc[p][v];
}

static inline __attribute__((always_inline)) void
dconv_cl_row(const int NV, uint32_t ow, const float *wtc, uint32_t ic, uint32_t kh, uint32_t kw, const float *pin,
             size_t ps, uint32_t wp, float *out)
{
    /* 2 x 4 accumulators with 16 filters: with 2 x 6, GCC keeps one on the
     * stack (a store-load chain per step); 6 x 1 with 8 filters. */
    const uint32_t np = NV == 2 ? 4 : 6;
    for (uint32_t x = 0; x < ow; x += np) {
        const float *p = pin + x;
        float *o = out + (size_t)x * 8 * NV;
        switch (MIN(np, ow - x)) {
        case 6: dconv_cl_tile(6, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        case 5: dconv_cl_tile(5, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        case 4: dconv_cl_tile(4, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        case 3: dconv_cl_tile(3, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        case 2: dconv_cl_tile(2, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        default: dconv_cl_tile(1, NV, wtc, ic, kh, kw, p, ps, wp, o); break;
        }
    }
}

/* b->out = conv(b->pin) without bias, channel-last. The params may change
 * between calls (training, tests) and a net has no version number, so wtc is
 * rebuilt whenever W differs from the copy it was made from: a memcmp per
 * call (9.6 KB on the LeNet) instead of a transposition. */
TT_CLONES
static void dconv_run_cl(const tt_layer *l, const float *W, dconv_buf *b)
{
    const size_t k = (size_t)l->in_c * l->kh * l->kw;
    const uint32_t oc = l->out_c;
    if (!b->wtc_ok || memcmp(b->wsrc, W, k * oc * sizeof(float))) {
        for (size_t i = 0; i < k; i++)     /* written in order; the strided reads stay in L1 */
            for (uint32_t o = 0; o < oc; o++)
                b->wtc[i * oc + o] = W[o * k + i];
        memcpy(b->wsrc, W, k * oc * sizeof(float));
        b->wtc_ok = TRUE;
    }
    for (uint32_t y = 0; y < l->out_h; y++) {
        const float *p = b->pin + (size_t)y * b->wp;
        float *out = b->out + (size_t)y * l->out_w * oc;
        if (oc == 16)
            dconv_cl_row(2, l->out_w, b->wtc, l->in_c, l->kh, l->kw, p, b->ps, b->wp, out);
        else
            dconv_cl_row(1, l->out_w, b->wtc, l->in_c, l->kh, l->kw, p, b->ps, b->wp, out);
    }
}

/* dconv_finish for the channel-last output of dconv_run_cl (ow: its row width). */
TT_CLONES
static void dconv_finish_cl(const dconv_buf *b, uint32_t ow, const float *bias, uint32_t oc, const tt_layer *pool,
                            gboolean relu, uint32_t h, uint32_t w, float *dst, size_t dps, size_t drs)
{
    const uint32_t kh = pool ? pool->kh : 1, kw = pool ? pool->kw : 1;
    const uint32_t sh = pool ? pool->sh : 1, sw = pool ? pool->sw : 1;
    const tt_v8 zero = { 0 };
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            const float *c0 = b->out + ((size_t)y * sh * ow + (size_t)x * sw) * oc;
            for (uint32_t q = 0; q < oc; q += 8) {
                tt_v8 m = *(const tt_v8 *)(c0 + q);
                for (uint32_t wy = 0; wy < kh; wy++)
                    for (uint32_t wx = 0; wx < kw; wx++) {
                        const tt_v8 v = *(const tt_v8 *)(c0 + ((size_t)wy * ow + wx) * oc + q);
                        m = VMAX(m, v);
                    }
                m += *(const tt_v8 *)(bias + q);
                if (relu)
                    m = (tt_v8)((tt_v8i)m & (m > zero));
                for (int e = 0; e < 8; e++)
                    dst[(q + e) * dps + (size_t)y * drs + x] = m[e];
            }
        }
}

/* Inference from layer `start` on, x being the (dense) input of that layer;
 * staged: that layer is a direct conv whose padded input already holds it (x unused).
 * A stride-1 conv runs directly and writes its output through the relu /
 * dropout layers and the (first) maxpool that follow it, into the padded input
 * of the next layer when that is a direct conv too: no activation is copied. */
static void forward_dense_from(const tt_net *net, tt_ws *ws, uint32_t start, const float *x, gboolean staged,
                               float *logits)
{
    for (uint32_t i = start; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->kind == TT_LAYER_CONV && dconv_ok(l)) {
            dconv_buf *b = ws_dconv(ws, l, i);
            if (!staged)
                dconv_stage(l, b, x);
            if (b->wtc)
                dconv_run_cl(l, net->params + l->w_off, b);
            else
                dconv_run(l, net->params + l->w_off, b);
            const tt_layer *pool = NULL;
            gboolean relu = FALSE;
            uint32_t last = i;
            for (uint32_t k = i + 1; k < net->n_layers; k++) {
                const uint32_t kind = net->layers[k].kind;
                if (kind == TT_LAYER_RELU)
                    relu = TRUE;
                else if (kind == TT_LAYER_MAXPOOL && !pool)
                    pool = &net->layers[k];
                else if (kind != TT_LAYER_DROPOUT)
                    break;
                last = k;
            }
            const tt_layer *lo = &net->layers[last];
            float *dst;
            size_t dps, drs;
            staged = last + 1 < net->n_layers && dconv_ok(&net->layers[last + 1]);
            if (staged) {
                const tt_layer *ln = &net->layers[last + 1];
                const dconv_buf *nb = ws_dconv(ws, ln, last + 1);
                dst = nb->pin + (size_t)ln->pad_t * nb->wp + ln->pad_l;
                dps = nb->ps;
                drs = nb->wp;
            } else {
                dst = ws_act(net, ws, last);
                dps = (size_t)lo->out_h * lo->out_w;
                drs = lo->out_w;
            }
            if (b->wtc)
                dconv_finish_cl(b, l->out_w, net->params + l->b_off, l->out_c, pool, relu, lo->out_h, lo->out_w,
                                dst, dps, drs);
            else
                dconv_finish(b, net->params + l->b_off, l->out_c, pool, relu, lo->out_h, lo->out_w, dst, dps,
                             drs);
            x = dst;
            i = last;
            continue;
        }
        staged = FALSE;
        float *y = ws_act(net, ws, i);
        size_t n = layer_out_size(l);
        switch (l->kind) {
        case TT_LAYER_CONV:
            conv_forward(net, ws, l, x, y, NULL);
            break;
        case TT_LAYER_RELU:
            relu_forward(x, y, n);
            break;
        case TT_LAYER_DROPOUT:
            if (y != x)
                memcpy(y, x, n * sizeof(float));
            break;
        case TT_LAYER_MAXPOOL:
            maxpool_forward(l, x, y, NULL);
            break;
        case TT_LAYER_DENSE:
            dense_forward(net, l, x, y);
            break;
        }
        x = y;
    }
    memcpy(logits, x, net->n_out * sizeof(float));
}

void tt_net_forward_dense(const tt_net *net, tt_ws *ws, const float *input, float *logits)
{
    g_return_if_fail(input != NULL && logits != NULL);
    if (!ws_fits(net, ws))
        return;
    forward_dense_from(net, ws, 0, input, FALSE, logits);
}

/* ------------------------------------------------------------------------ */
/* Sparse path                                                              */

/* Channel stride of channel-last buffers: a multiple of 8 so every vector
 * operation is whole; the padding lanes hold zeros (zero weights, zero bias). */
static inline uint32_t cstride(uint32_t c)
{
    return (c + 7u) & ~7u;
}

static void smap_alloc(smap *m, uint32_t c, uint32_t h, uint32_t w)
{
    if (m->val)
        return;
    size_t hw = (size_t)h * w;
    m->c = c; m->h = h; m->w = w;
    m->cs = cstride(c);
    m->val = g_new(float, hw * m->cs);
    m->stamp = g_new0(uint32_t, hw);
    m->list = g_new(uint32_t, hw);
    m->bg = g_new0(float, m->cs);
    m->n = 0;
}

static void ws_next_epoch(tt_ws *ws)
{
    if (++ws->epoch == 0) {
        for (uint32_t i = 0; i < TT_MAX_LAYERS; i++)
            if (ws->map[i].stamp) {
                memset(ws->map[i].stamp, 0, (size_t)ws->map[i].h * ws->map[i].w * sizeof(uint32_t));
                if (ws->map[i].gstamp)
                    memset(ws->map[i].gstamp, 0, (size_t)ws->map[i].h * ws->map[i].w * sizeof(uint32_t));
            }
        ws->epoch = 1;
    }
}

/* Output range [*lo, *hi] (inclusive) of a conv/pool along one axis touched
 * by input coordinate y; returns FALSE when empty. */
static inline gboolean touched_range(int64_t y, int64_t pad, int64_t k, int64_t s, int64_t out,
                                     int64_t *lo, int64_t *hi)
{
    /* All quantities are small and non-negative here: 32-bit divisions are cheaper. */
    const uint32_t yp = (uint32_t)(y + pad), kk = (uint32_t)k, ss = (uint32_t)s;
    uint32_t l = yp + 1 <= kk ? 0 : (yp + 1 - kk + ss - 1) / ss;   /* o * s >= y + pad - k + 1 */
    int64_t h = yp / ss;                                            /* o * s <= y + pad */
    if (h > out - 1)
        h = out - 1;
    *lo = l;
    *hi = h;
    return (int64_t)l <= h;
}

/* conv 0 (in_c == 1) by scatter into a channel-last map.
 * w1t: [kh][kw][cs], bias: [cs] (both zero-padded). */
TT_CLONES
static void conv1_scatter(const tt_layer *l, const float *w1t, const float *bias, const tt_pixel *px,
                          size_t n, uint32_t in_h, uint32_t in_w, smap *m, uint32_t epoch)
{
    const uint32_t cs = m->cs, ow = l->out_w;
    const size_t hw = (size_t)in_h * in_w;
    uint32_t cnt = m->n;
    for (size_t i = 0; i < n; i++) {
        const uint32_t idx = px[i].idx;
        const float v = px[i].v;
        if (idx >= hw || v == 0.0f)
            continue;
        const int64_t r = idx / in_w, c = idx - (uint32_t)r * in_w;
        int64_t y0, y1, x0, x1;
        if (!touched_range(r, l->pad_t, l->kh, l->sh, l->out_h, &y0, &y1) ||
            !touched_range(c, l->pad_l, l->kw, l->sw, l->out_w, &x0, &x1))
            continue;
        for (int64_t oy = y0; oy <= y1; oy++) {
            const int64_t ky = r + l->pad_t - oy * l->sh;
            for (int64_t ox = x0; ox <= x1; ox++) {
                const int64_t kx = c + l->pad_l - ox * l->sw;
                const uint32_t cell = (uint32_t)(oy * ow + ox);
                float *restrict o = m->val + (size_t)cell * cs;
                const float *restrict wk = w1t + (size_t)(ky * l->kw + kx) * cs;
                if (m->stamp[cell] != epoch) {
                    m->stamp[cell] = epoch;
                    m->list[cnt++] = cell;
                    for (uint32_t q = 0; q < cs; q += 8)
                        *(tt_v8 *)(o + q) = *(const tt_v8 *)(bias + q) + v * *(const tt_v8 *)(wk + q);
                } else {
                    for (uint32_t q = 0; q < cs; q += 8)
                        *(tt_v8 *)(o + q) += v * *(const tt_v8 *)(wk + q);
                }
            }
        }
    }
    m->n = cnt;
}

static void smap_relu(smap *m)
{
    relu_forward(m->bg, m->bg, m->cs);
    for (uint32_t t = 0; t < m->n; t++) {
        float *v = m->val + (size_t)m->list[t] * m->cs;
        relu_forward(v, v, m->cs);
    }
}

/* ------------------------------------------------------------------------ */
/* Inference: compact sparse maps                                           */
/*
 * The sparse inference path keeps the touched cells of a map in slots, their
 * values contiguous in order of first touch, and finds a cell's slot through
 * a small open-addressing hash table sized to the picture (cleared per call).
 * The training maps (smap) index values by cell in arrays of the whole map:
 * on the paper net that is 5.8 MB for conv 0's output, so each of the few
 * hundred cells a picture touches cost cache misses in the stamp and value
 * arrays (half of the paper net's time at 100 packets). Here a picture's
 * working set is a few KB. Above TT_CM_HASH_MAX cells the table would no
 * longer be small and the map falls back to a stamp + slot array indexed by
 * cell, which keeps the locality of the (row-sorted) pixel list; so do maps
 * of at most TT_CM_DIRECT_MAX cells, whose arrays are small anyway.
 */
#define TT_CM_HASH_MAX 16384u
#define TT_CM_DIRECT_MAX 8192u

typedef struct {
    uint32_t key;      /* cell + 1; 0 = empty */
    uint32_t slot;
} cm_ent;

struct cmap {
    uint32_t c, h, w, cs;
    uint32_t n, cap;       /* slots used / allocated */
    float    *val;         /* [cap][cs], slot order */
    uint32_t *list;        /* [cap] cell of each slot */
    uint32_t *yx;          /* [cap] its row << 16 | column (sides < 65536: TT_MAX_IMAGE_SIDE x 3) */
    uint32_t *cnt;         /* [cap] pools: touched cells seen in the slot's window */
    float    *bg;          /* [cs] value of every untouched cell */
    gboolean  direct;      /* this call: stamp/slot arrays, else the hash */
    cm_ent   *ht;          /* hash, 1 << hbits entries in use (hcap allocated) */
    uint32_t  hbits, hcap;
    uint32_t *stamp, *slot; /* direct mode, [h*w], allocated when first needed */
    uint32_t  epoch;
};

static void cmaps_free(cmap *cm)
{
    if (!cm)
        return;
    for (uint32_t i = 0; i < TT_MAX_LAYERS; i++) {
        cmap *m = &cm[i];
        g_free(m->val);
        g_free(m->list);
        g_free(m->yx);
        g_free(m->cnt);
        g_free(m->bg);
        g_free(m->ht);
        g_free(m->stamp);
        g_free(m->slot);
    }
    g_free(cm);
}

/* Empty the map for a call that touches at most max_cells cells. */
static void cmap_reset(cmap *m, uint32_t c, uint32_t h, uint32_t w, size_t max_cells)
{
    const size_t hw = (size_t)h * w;
    if (!m->bg) {
        m->c = c; m->h = h; m->w = w;
        m->cs = cstride(c);
        m->bg = g_new0(float, m->cs);
    }
    if (max_cells > hw)
        max_cells = hw;
    if (max_cells < 1)
        max_cells = 1;
    if (m->cap < max_cells) {
        g_free(m->val);
        g_free(m->list);
        g_free(m->cnt);
        g_free(m->yx);
        m->val = g_new(float, max_cells * m->cs);
        m->list = g_new(uint32_t, max_cells);
        m->cnt = g_new(uint32_t, max_cells);
        m->yx = g_new(uint32_t, max_cells);
        m->cap = (uint32_t)max_cells;
    }
    m->n = 0;
    /* small maps (the LeNets': 8 KB of table at 32 x 32) are cheaper to index directly */
    m->direct = max_cells > TT_CM_HASH_MAX || hw <= TT_CM_DIRECT_MAX;
    if (m->direct) {
        if (!m->stamp) {
            m->stamp = g_new0(uint32_t, hw);
            m->slot = g_new(uint32_t, hw);
        }
        if (++m->epoch == 0) {
            memset(m->stamp, 0, hw * sizeof(uint32_t));
            m->epoch = 1;
        }
        return;
    }
    /* load factor <= 1/4: short probes */
    uint32_t bits = 4;
    while (((size_t)1 << bits) < 4 * max_cells)
        bits++;
    if (m->hcap < (1u << bits)) {
        g_free(m->ht);
        m->ht = g_new(cm_ent, (size_t)1 << bits);
        m->hcap = 1u << bits;
    }
    m->hbits = bits;
    memset(m->ht, 0, ((size_t)1 << bits) * sizeof(cm_ent));
}

/* The span tables of layer i (conv or pool) over its input (built once). */
static void ws_spans(tt_ws *ws, uint32_t i, const tt_layer *l, const span **rows, const span **cols)
{
    if (!ws->spans[i][0]) {
        const uint32_t pt = l->kind == TT_LAYER_CONV ? l->pad_t : 0, pl = l->kind == TT_LAYER_CONV ? l->pad_l : 0;
        span *r = g_new(span, l->in_h), *c = g_new(span, l->in_w);
        for (uint32_t y = 0; y < l->in_h; y++) {
            int64_t lo, hi;
            const gboolean any = touched_range(y, pt, l->kh, l->sh, l->out_h, &lo, &hi);
            r[y].lo = any ? (uint32_t)lo : 0;
            r[y].n = any ? (uint32_t)(hi - lo + 1) : 0;
        }
        for (uint32_t x = 0; x < l->in_w; x++) {
            int64_t lo, hi;
            const gboolean any = touched_range(x, pl, l->kw, l->sw, l->out_w, &lo, &hi);
            c[x].lo = any ? (uint32_t)lo : 0;
            c[x].n = any ? (uint32_t)(hi - lo + 1) : 0;
        }
        ws->spans[i][0] = r;
        ws->spans[i][1] = c;
    }
    *rows = ws->spans[i][0];
    *cols = ws->spans[i][1];
}

static inline uint32_t cm_hash(uint32_t cell, uint32_t bits)
{
    return (cell * 0x9E3779B1u) >> (32 - bits);
}

/* Slot of cell, adding it (*fresh = TRUE, value not set) when untouched.
 * cmap_reset's max_cells bounds the slots. */
static inline uint32_t cm_add(cmap *m, uint32_t cell, gboolean *fresh)
{
    if (m->direct) {
        if (m->stamp[cell] == m->epoch) {
            *fresh = FALSE;
            return m->slot[cell];
        }
        m->stamp[cell] = m->epoch;
        m->slot[cell] = m->n;
    } else {
        const uint32_t mask = (1u << m->hbits) - 1;
        uint32_t h = cm_hash(cell, m->hbits);
        for (;; h = (h + 1) & mask) {
            const cm_ent e = m->ht[h];
            if (e.key == cell + 1) {
                *fresh = FALSE;
                return e.slot;
            }
            if (e.key == 0)
                break;
        }
        m->ht[h].key = cell + 1;
        m->ht[h].slot = m->n;
    }
    *fresh = TRUE;
    m->list[m->n] = cell;
    return m->n++;
}

/* conv 0 (in_c == 1) by scatter, as conv1_scatter, into a compact map:
 * the same additions in the same order. */
TT_CLONES
static void cm_conv0(const tt_layer *l, const float *w1t, const float *bias, const tt_pixel *px, size_t n,
                     uint32_t in_h, uint32_t in_w, const span *rows, const span *cols, cmap *m)
{
    const uint32_t cs = m->cs, ow = l->out_w;
    const size_t hw = (size_t)in_h * in_w;
    for (size_t i = 0; i < n; i++) {
        const uint32_t idx = px[i].idx;
        const float v = px[i].v;
        if (idx >= hw || v == 0.0f)
            continue;
        const uint32_t r = idx / in_w, c = idx - r * in_w;
        const span sy = rows[r], sx = cols[c];
        for (uint32_t oy = sy.lo; oy < sy.lo + sy.n; oy++) {
            const uint32_t ky = r + l->pad_t - oy * l->sh;
            for (uint32_t ox = sx.lo; ox < sx.lo + sx.n; ox++) {
                const uint32_t kx = c + l->pad_l - ox * l->sw;
                gboolean fresh;
                const uint32_t s = cm_add(m, oy * ow + ox, &fresh);
                float *restrict o = m->val + (size_t)s * cs;
                const float *restrict wk = w1t + (size_t)(ky * l->kw + kx) * cs;
                if (fresh)
                    m->yx[s] = oy << 16 | ox;
                if (fresh)
                    for (uint32_t q = 0; q < cs; q += 8)
                        *(tt_v8 *)(o + q) = *(const tt_v8 *)(bias + q) + v * *(const tt_v8 *)(wk + q);
                else
                    for (uint32_t q = 0; q < cs; q += 8)
                        *(tt_v8 *)(o + q) += v * *(const tt_v8 *)(wk + q);
            }
        }
    }
}

static void cm_relu(cmap *m)
{
    relu_forward(m->bg, m->bg, m->cs);
    relu_forward(m->val, m->val, (size_t)m->n * m->cs);
}

/* maxpool a -> b; only windows holding a touched cell are computed (b must
 * have been reset for a->n x ceil(kh/sh) x ceil(kw/sw) cells). Each touched
 * cell is maxed into the pooled cells whose window holds it, counting them;
 * a window with fewer touched cells than its size also holds the background.
 * No lookup in a: the max of the same values, in another order (max is exact,
 * so the result is the same), and the slots come in the same order as when
 * the windows were scanned. */
TT_CLONES
static void cm_pool(const tt_layer *l, const span *rows, const span *cols, const cmap *a, cmap *b)
{
    const uint32_t cs = a->cs, pw = l->out_w, win = l->kh * l->kw;
    memcpy(b->bg, a->bg, cs * sizeof(float));
    for (uint32_t t = 0; t < a->n; t++) {
        const span sy = rows[a->yx[t] >> 16], sx = cols[a->yx[t] & 0xFFFFu];
        const float *src = a->val + (size_t)t * cs;
        for (uint32_t py = sy.lo; py < sy.lo + sy.n; py++) {
            for (uint32_t px = sx.lo; px < sx.lo + sx.n; px++) {
                gboolean fresh;
                const uint32_t s = cm_add(b, py * pw + px, &fresh);
                float *restrict o = b->val + (size_t)s * cs;
                if (fresh) {
                    b->yx[s] = py << 16 | px;
                    b->cnt[s] = 1;
                    for (uint32_t q = 0; q < cs; q += 8)
                        *(tt_v8 *)(o + q) = *(const tt_v8 *)(src + q);
                } else {
                    b->cnt[s]++;
                    vmax8(o, src, cs);
                }
            }
        }
    }
    for (uint32_t s = 0; s < b->n; s++)
        if (b->cnt[s] < win)
            vmax8(b->val + (size_t)s * cs, b->bg, cs);
}

/* Write the map as a dense [c][h][w] tensor (plane stride dps, row stride drs). */
static void cm_densify(const cmap *m, float *d, size_t dps, size_t drs)
{
    for (uint32_t q = 0; q < m->c; q++) {
        const float b = m->bg[q];
        for (uint32_t y = 0; y < m->h; y++) {
            float *dr = d + q * dps + y * drs;
            for (uint32_t x = 0; x < m->w; x++)
                dr[x] = b;
        }
    }
    for (uint32_t t = 0; t < m->n; t++) {
        const uint32_t cell = m->list[t], y = cell / m->w, x = cell - y * m->w;
        const float *v = m->val + (size_t)t * m->cs;
        for (uint32_t q = 0; q < m->c; q++)
            d[q * dps + y * drs + x] = v[q];
    }
}

/* smap_pool that also records, per pooled cell and channel, the input cell
 * holding the maximum (first one in window order, as maxpool_forward), with
 * TT_AM_BACKGROUND set when that cell is untouched (it holds the background). */
#define TT_AM_BACKGROUND 0x80000000u
TT_CLONES
static void smap_pool_arg(const tt_layer *l, const smap *a, smap *b, uint32_t epoch)
{
    const uint32_t cs = a->cs, iw = a->w, ph = l->out_h, pw = l->out_w;
    memcpy(b->bg, a->bg, cs * sizeof(float));
    uint32_t cnt = 0;
    for (uint32_t t = 0; t < a->n; t++) {
        const uint32_t cell = a->list[t];
        const uint32_t y = cell / iw, x = cell - y * iw;
        int64_t y0, y1, x0, x1;
        if (!touched_range(y, 0, l->kh, l->sh, ph, &y0, &y1) ||
            !touched_range(x, 0, l->kw, l->sw, pw, &x0, &x1))
            continue;
        for (int64_t py = y0; py <= y1; py++) {
            for (int64_t px = x0; px <= x1; px++) {
                const uint32_t pc = (uint32_t)(py * pw + px);
                if (b->stamp[pc] == epoch)
                    continue;
                b->stamp[pc] = epoch;
                b->list[cnt++] = pc;
                float *restrict o = b->val + (size_t)pc * cs;
                uint32_t *restrict am = b->am + (size_t)pc * cs;
                for (uint32_t wy = 0; wy < l->kh; wy++) {
                    for (uint32_t wx = 0; wx < l->kw; wx++) {
                        const uint32_t ic = (uint32_t)((py * l->sh + wy) * iw + px * l->sw + wx);
                        const gboolean touched = a->stamp[ic] == epoch;
                        const float *s = touched ? a->val + (size_t)ic * cs : a->bg;
                        const uint32_t tag = touched ? ic : ic | TT_AM_BACKGROUND;
                        if (wy == 0 && wx == 0) {
                            memcpy(o, s, cs * sizeof(float));
                            for (uint32_t q = 0; q < cs; q++)
                                am[q] = tag;
                            continue;
                        }
                        for (uint32_t q = 0; q < cs; q += 8) {
                            tt_v8 va = *(tt_v8 *)(o + q), vb = *(const tt_v8 *)(s + q);
                            tt_v8i gt = vb > va;
                            *(tt_v8i *)(o + q) = ((tt_v8i)vb & gt) | ((tt_v8i)va & ~gt);
                            tt_v8i ia = *(tt_v8i *)(am + q);
                            *(tt_v8i *)(am + q) = (((tt_v8i){ 0 } + (int32_t)tag) & gt) | (ia & ~gt);
                        }
                    }
                }
            }
        }
    }
    b->n = cnt;
}

/* Write the map as a dense [c][h][w] tensor. */
static void smap_densify(const smap *m, float *d)
{
    const size_t hw = (size_t)m->h * m->w;
    for (uint32_t q = 0; q < m->c; q++) {
        float *dq = d + q * hw, b = m->bg[q];
        for (size_t k = 0; k < hw; k++)
            dq[k] = b;
    }
    for (uint32_t t = 0; t < m->n; t++) {
        const uint32_t cell = m->list[t];
        const float *v = m->val + (size_t)cell * m->cs;
        for (uint32_t q = 0; q < m->c; q++)
            d[q * hw + cell] = v[q];
    }
}

/* G output positions of delta_conv for NV vectors of output channels each:
 * o[g] += sum over k of dval[k] * wk[g][dq[k]], in k order per lane. G and NV
 * are constants at every call, so the G x NV accumulators stay in registers
 * across the input channels: G independent chains hide the add latency (one
 * position alone waits on it), and every vector of the channel stride is done
 * in one pass. */
static inline __attribute__((always_inline)) void
delta_step(const int G, const int NV, float *const *o, const float *const *wk, uint32_t ocs, const float *dval,
           const uint32_t *dq, uint32_t nz)
{
    tt_v8 a[4][4];
#pragma GCC unroll 4
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            a[g][v] = *(const tt_v8 *)(o[g] + 8 * v);
    for (uint32_t k = 0; k < nz; k++) {
        const size_t off = (size_t)dq[k] * ocs;
        const float d = dval[k];
#pragma GCC unroll 4
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                a[g][v] += d * *(const tt_v8 *)(wk[g] + off + 8 * v);
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            *(tt_v8 *)(o[g] + 8 * v) = a[g][v];
}

/* delta_step over ng (<= 4) positions, NV vectors (<= 12 / ng accumulators). */
static inline __attribute__((always_inline)) void
delta_group(const int NV, uint32_t ng, float *const *o, const float *const *wk, uint32_t ocs, const float *dval,
            const uint32_t *dq, uint32_t nz)
{
    switch (ng) {
    case 4: delta_step(4, NV, o, wk, ocs, dval, dq, nz); break;
    case 3: delta_step(3, NV, o, wk, ocs, dval, dq, nz); break;
    case 2: delta_step(2, NV, o, wk, ocs, dval, dq, nz); break;
    default: delta_step(1, NV, o, wk, ocs, dval, dq, nz); break;
    }
}

/* acc ([oh*ow][ocs], holding the background response) += conv(map - background).
 * With ostamp (inference, delta dense), acc holds nothing beforehand: an
 * output is set from the background response bgt when first changed, stamped with oepoch and
 * listed (row << 16 | column) in olist[*on++]; the others keep bgresp's value.
 * wt: [kh][kw][in_c][ocs]. The map's n touched cells are list[0..n) (width iw,
 * c channels of stride cs, background bg). Compact maps pass yx (each slot's
 * row << 16 | column) and the layer's span tables, and the t-th value is at
 * val + t * cs; smap passes NULLs, and the value is at val + cell * cs.
 * Per output position the accumulators stay in registers over the input
 * channels; the additions happen in channel order. */
TT_CLONES
static void delta_conv(const tt_layer *l, const float *wt, uint32_t ocs, uint32_t c, uint32_t cs, uint32_t iw,
                       const uint32_t *list, uint32_t n, const float *val, const uint32_t *yx,
                       const span *rows, const span *cols, const float *bg, float *dval, uint32_t *dq, float *acc,
                       const bgtab *bgt, uint32_t ocsb, uint32_t *ostamp, uint32_t oepoch, uint32_t *olist,
                       uint32_t *on)
{
    const uint32_t ow = l->out_w;
    for (uint32_t t = 0; t < n; t++) {
        const uint32_t cell = list[t];
        const float *v = val + (size_t)(yx ? t : cell) * cs;
        uint32_t nz = 0;
        for (uint32_t q = 0; q < c; q++) {
            const float d = v[q] - bg[q];
            dval[nz] = d;
            dq[nz] = q;
            nz += d != 0.0f;
        }
        if (!nz)
            continue;
        int64_t y, x, y0, y1, x0, x1;
        if (yx) {
            y = yx[t] >> 16;
            x = yx[t] & 0xFFFFu;
            const span sy = rows[y], sx = cols[x];
            if (!sy.n || !sx.n)
                continue;
            y0 = sy.lo; y1 = sy.lo + sy.n - 1;
            x0 = sx.lo; x1 = sx.lo + sx.n - 1;
        } else {
            y = cell / iw;
            x = cell - y * iw;
            if (!touched_range(y, l->pad_t, l->kh, l->sh, l->out_h, &y0, &y1) ||
                !touched_range(x, l->pad_l, l->kw, l->sw, l->out_w, &x0, &x1))
                continue;
        }
        /* The outputs this cell touches, in groups of up to 4 (3 when a
         * position takes 4 vectors) computed together. */
        const uint32_t gmax = ocs == 32 ? 3 : 4;
        float *o[4];
        const float *wk[4];
        uint32_t ng = 0;
        for (int64_t oy = y0; oy <= y1; oy++) {
            const int64_t ky = y + l->pad_t - oy * l->sh;
            for (int64_t ox = x0; ox <= x1; ox++) {
                const int64_t kx = x + l->pad_l - ox * l->sw;
                const size_t oi = (size_t)(oy * ow + ox);
                o[ng] = acc + oi * ocs;
                if (ostamp && ostamp[oi] != oepoch) {
                    /* first change of this output: start from the background */
                    ostamp[oi] = oepoch;
                    olist[(*on)++] = (uint32_t)(oy << 16 | ox);
                    const float *b = bgt->v + ((size_t)bgt->rc[oy] * bgt->ncc + bgt->cc[ox]) * ocsb;
                    for (uint32_t q = 0; q < ocs; q += 8)
                        *(tt_v8 *)(o[ng] + q) = *(const tt_v8 *)(b + q);
                }
                wk[ng] = wt + (size_t)(ky * l->kw + kx) * c * ocs;
                const gboolean last = oy == y1 && ox == x1;
                if (++ng < gmax && !last)
                    continue;
                switch (ocs) {
                case 8: delta_group(1, ng, o, wk, ocs, dval, dq, nz); break;
                case 16: delta_group(2, ng, o, wk, ocs, dval, dq, nz); break;
                case 24: delta_group(3, ng, o, wk, ocs, dval, dq, nz); break;
                case 32: delta_group(4, ng, o, wk, ocs, dval, dq, nz); break;
                default:
                    for (uint32_t g = 0; g < ng; g++)
                        for (uint32_t r = 0; r < ocs; r += 8) {
                            float *og = o[g] + r;
                            const float *wg = wk[g] + r;
                            delta_step(1, 1, &og, &wg, ocs, dval, dq, nz);
                        }
                }
                ng = 0;
            }
        }
    }
}

/* Index of the first parametrised layer after layer 0 (every layer in
 * between is relu / maxpool / dropout). */
static uint32_t sparse_split(const tt_net *net)
{
    uint32_t i = 1;
    while (i < net->n_layers && net->layers[i].kind != TT_LAYER_CONV && net->layers[i].kind != TT_LAYER_DENSE)
        i++;
    return i;   /* < n_layers since the last layer is dense */
}

/* Classes of the output rows (or columns) of conv l along one axis:
 * outputs whose windows cover the same kernel rows inside the input. Both
 * ends of that range only decrease along the axis, so a class is a run of
 * outputs. cls gets each output's class and rep one output of each; returns
 * the count. */
static uint32_t axis_classes(uint32_t out, uint32_t in, uint32_t pad, uint32_t k, uint32_t s, uint32_t *cls,
                             uint32_t *rep)
{
    uint32_t n = 0;
    int64_t plo = -1, phi = -1;
    for (uint32_t o = 0; o < out; o++) {
        const int64_t start = (int64_t)o * s - pad;
        const int64_t lo = MAX(0, -start), hi = MIN((int64_t)k, (int64_t)in - start);
        if (o == 0 || lo != plo || hi != phi)
            rep[n++] = o;
        plo = lo;
        phi = hi;
        cls[o] = n - 1;
    }
    return n;
}

/* The response of conv l (weights W, bias b) to a constant input (bg[c] in
 * channel c, zero padding around), by classes of rows and columns: one
 * output of each class is summed, in (c, ky, kx) order, and stands for all. */
static void bgtab_build(bgtab *t, const tt_layer *l, const float *W, const float *b, const float *bg,
                        uint32_t ocs)
{
    uint32_t *ry = g_new(uint32_t, l->out_h), *rx = g_new(uint32_t, l->out_w);
    t->rc = g_new(uint32_t, l->out_h);
    t->cc = g_new(uint32_t, l->out_w);
    const uint32_t nr = axis_classes(l->out_h, l->in_h, l->pad_t, l->kh, l->sh, t->rc, ry);
    const uint32_t nc = axis_classes(l->out_w, l->in_w, l->pad_l, l->kw, l->sw, t->cc, rx);
    t->ncc = nc;
    t->v = g_new0(float, (size_t)nr * nc * ocs);
    for (uint32_t a = 0; a < nr; a++)
        for (uint32_t e = 0; e < nc; e++) {
            const int64_t y0 = (int64_t)ry[a] * l->sh - l->pad_t, x0 = (int64_t)rx[e] * l->sw - l->pad_l;
            const int64_t kylo = MAX(0, -y0), kyhi = MIN((int64_t)l->kh, (int64_t)l->in_h - y0);
            const int64_t kxlo = MAX(0, -x0), kxhi = MIN((int64_t)l->kw, (int64_t)l->in_w - x0);
            float *v = t->v + ((size_t)a * nc + e) * ocs;
            for (uint32_t o = 0; o < l->out_c; o++) {
                float sum = 0.0f;
                for (uint32_t c = 0; c < l->in_c; c++) {
                    const float *w = W + ((size_t)o * l->in_c + c) * l->kh * l->kw;
                    for (int64_t ky = kylo; ky < kyhi; ky++)
                        for (int64_t kx = kxlo; kx < kxhi; kx++)
                            sum += w[ky * l->kw + kx] * bg[c];
                }
                v[o] = sum + b[o];
            }
        }
    g_free(ry);
    g_free(rx);
}

/* The delta dense part of the cache (see tt_net_cache), when the layers fit. */
static void prepare_delta_dense(const tt_net *net, tt_net_cache *cache)
{
    const uint32_t j = cache->j;
    const tt_layer *lj = &net->layers[j];
    gboolean relu = FALSE;
    uint32_t k = j + 1, p = 0;
    for (int stage = 0; stage < 2 && k < net->n_layers; stage++) {
        while (k < net->n_layers && (net->layers[k].kind == TT_LAYER_RELU || net->layers[k].kind == TT_LAYER_DROPOUT))
            relu |= net->layers[k++].kind == TT_LAYER_RELU;
        if (stage == 0) {
            if (k >= net->n_layers || net->layers[k].kind != TT_LAYER_MAXPOOL)
                return;
            p = k++;
        }
    }
    if (k >= net->n_layers || net->layers[k].kind != TT_LAYER_DENSE)
        return;
    const tt_layer *lp = &net->layers[p], *ld = &net->layers[k];
    const size_t pn = (size_t)lp->out_h * lp->out_w, in = layer_in_size(ld), oc = lj->out_c, ocs = cache->ocs;
    cache->p = p;
    cache->d = k;
    cache->relu = relu;
    cache->dcs = cstride(ld->out_c);
    float *x = g_new(float, in);
    for (size_t py = 0; py < lp->out_h; py++)
        for (size_t px = 0; px < lp->out_w; px++) {
            const float *w0 = cache->bgresp + (py * lp->sh * lj->out_w + px * lp->sw) * ocs;
            for (size_t o = 0; o < oc; o++) {
                float m = w0[o];
                for (uint32_t wy = 0; wy < lp->kh; wy++)
                    for (uint32_t wx = 0; wx < lp->kw; wx++) {
                        const float v = w0[(wy * lj->out_w + wx) * ocs + o];
                        m = v > m ? v : m;
                    }
                x[o * pn + py * lp->out_w + px] = relu && !(m > 0.0f) ? 0.0f : m;
            }
        }
    cache->ybg = g_new0(float, cache->dcs);
    dense_forward(net, ld, x, cache->ybg);
    cache->xbg = g_new0(float, pn * ocs);
    for (size_t o = 0; o < oc; o++)
        for (size_t pp = 0; pp < pn; pp++)
            cache->xbg[pp * ocs + o] = x[o * pn + pp];
    g_free(x);
    cache->wdt = g_new0(float, in * cache->dcs);
    const float *W = net->params + ld->w_off;
    for (uint32_t u = 0; u < ld->out_c; u++)
        for (size_t o = 0; o < oc; o++)
            for (size_t pp = 0; pp < pn; pp++)
                cache->wdt[(pp * oc + o) * cache->dcs + u] = W[u * in + o * pn + pp];
}

void tt_net_prepare(tt_net *net)
{
    g_return_if_fail(net != NULL);
    cache_free(net->cache);
    net->cache = NULL;
    if (net->n_layers < 2 || net->layers[0].kind != TT_LAYER_CONV)
        return;
    const uint32_t j = sparse_split(net);
    const tt_layer *lj = &net->layers[j];
    if (lj->kind != TT_LAYER_CONV)
        return;
    /* Background after the chain: conv 0's bias through relu / pool / dropout. */
    const tt_layer *l0 = &net->layers[0];
    float *bg = g_new(float, l0->out_c);
    memcpy(bg, net->params + l0->b_off, l0->out_c * sizeof(float));
    for (uint32_t i = 1; i < j; i++)
        if (net->layers[i].kind == TT_LAYER_RELU)
            for (uint32_t q = 0; q < l0->out_c; q++)
                bg[q] = bg[q] > 0.0f ? bg[q] : 0.0f;

    tt_net_cache *cache = g_new0(tt_net_cache, 1);
    cache->j = j;
    const uint32_t ic = lj->in_c, oc = lj->out_c, ocs = cstride(oc);
    cache->ocs = ocs;
    const size_t kk = (size_t)lj->kh * lj->kw, n = (size_t)lj->out_h * lj->out_w;
    const float *W = net->params + lj->w_off;
    cache->wt = g_new0(float, kk * ic * ocs);
    for (uint32_t o = 0; o < oc; o++)
        for (uint32_t c = 0; c < ic; c++)
            for (size_t k = 0; k < kk; k++)
                cache->wt[(k * ic + c) * ocs + o] = W[((size_t)o * ic + c) * kk + k];
    /* Response to the constant background (zero padding makes the borders
     * differ), by classes of rows and columns, then spread over every output. */
    bgtab_build(&cache->bgc, lj, W, net->params + lj->b_off, bg, ocs);
    cache->bgresp = g_new(float, n * ocs);
    for (uint32_t y = 0; y < lj->out_h; y++)
        for (uint32_t x = 0; x < lj->out_w; x++)
            memcpy(cache->bgresp + ((size_t)y * lj->out_w + x) * ocs,
                   cache->bgc.v + ((size_t)cache->bgc.rc[y] * cache->bgc.ncc + cache->bgc.cc[x]) * ocs,
                   ocs * sizeof(float));
    g_free(bg);
    prepare_delta_dense(net, cache);
    net->cache = cache;
}

/* Conv 0's weights as [kh][kw][cs] and its bias as [cs] (in_c is 1). */
static void fill_w1t(const tt_net *net, tt_ws *ws, uint32_t cs)
{
    const tt_layer *l = &net->layers[0];
    const size_t kk = (size_t)l->kh * l->kw;
    if (!ws->w1t) {
        ws->w1t = g_new0(float, kk * cs);
        ws->b1 = g_new0(float, cs);
    }
    const float *W = net->params + l->w_off;
    for (uint32_t o = 0; o < l->out_c; o++)
        for (size_t k = 0; k < kk; k++)
            ws->w1t[k * cs + o] = W[o * kk + k];
    memcpy(ws->b1, net->params + l->b_off, l->out_c * sizeof(float));
}

/* mx[0..8 NV) = (relu of) the max over a kh x kw window of channel-last
 * cells (a: the window's first cell; rs, cs: row and cell strides), in
 * window order, in registers. */
static inline __attribute__((always_inline)) void
pool_cl(const int NV, const float *a, uint32_t kh, uint32_t kw, size_t rs, size_t cs, gboolean relu, float *mx)
{
    tt_v8 m[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        m[v] = *(const tt_v8 *)(a + 8 * v);
    for (uint32_t wy = 0; wy < kh; wy++)
        for (uint32_t wx = 0; wx < kw; wx++) {
            const float *c = a + wy * rs + wx * cs;
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                const tt_v8 b = *(const tt_v8 *)(c + 8 * v);
                m[v] = VMAX(m[v], b);
            }
        }
    const tt_v8 zero = { 0 };
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        *(tt_v8 *)(mx + 8 * v) = relu ? (tt_v8)((tt_v8i)m[v] & (m[v] > zero)) : m[v];
}

/* The rest of the net after conv layer j whose output is acc, channel-last
 * ([out_h*out_w][ocs]): the relu / dropout layers that follow are folded into
 * the next step. A following maxpool reads acc and writes its usual
 * channel-first output, the relu applied to the pooled values (the same
 * floats as pooling relu'd values, on a quarter of them); otherwise acc is
 * transposed (and relu'd) into layer j's buffer. */
TT_CLONES
static void finish_channel_last(const tt_net *net, tt_ws *ws, uint32_t j, const float *acc, uint32_t ocs,
                                float *logits)
{
    const tt_layer *lj = &net->layers[j];
    const size_t on = (size_t)lj->out_h * lj->out_w, oc = lj->out_c;
    gboolean relu = FALSE;
    uint32_t i = j + 1;
    for (; i < net->n_layers; i++) {
        if (net->layers[i].kind == TT_LAYER_RELU)
            relu = TRUE;
        else if (net->layers[i].kind != TT_LAYER_DROPOUT)
            break;
    }
    const tt_layer *lp = &net->layers[i];
    if (lp->kind == TT_LAYER_MAXPOOL) {
        float *y = ws_act(net, ws, i);
        const size_t pn = (size_t)lp->out_h * lp->out_w;
        float *mx = ws->pmax;
        for (size_t py = 0; py < lp->out_h; py++) {
            for (size_t px = 0; px < lp->out_w; px++) {
                const float *a0 = acc + (py * lp->sh * lj->out_w + px * lp->sw) * ocs;
                switch (ocs) {
                case 8: pool_cl(1, a0, lp->kh, lp->kw, (size_t)lj->out_w * ocs, ocs, relu, mx); break;
                case 16: pool_cl(2, a0, lp->kh, lp->kw, (size_t)lj->out_w * ocs, ocs, relu, mx); break;
                case 24: pool_cl(3, a0, lp->kh, lp->kw, (size_t)lj->out_w * ocs, ocs, relu, mx); break;
                case 32: pool_cl(4, a0, lp->kh, lp->kw, (size_t)lj->out_w * ocs, ocs, relu, mx); break;
                default:
                    for (uint32_t q = 0; q < ocs; q += 8)
                        pool_cl(1, a0 + q, lp->kh, lp->kw, (size_t)lj->out_w * ocs, ocs, relu, mx + q);
                }
                float *yp = y + py * lp->out_w + px;
                for (size_t o = 0; o < oc; o++)
                    yp[o * pn] = mx[o];
            }
        }
        forward_dense_from(net, ws, i + 1, y, FALSE, logits);
    } else {
        float *y = ws_act(net, ws, i - 1);    /* layer j's buffer (or an alias of it) */
        for (size_t p = 0; p < on; p++)
            for (size_t o = 0; o < oc; o++) {
                const float v = acc[p * ocs + o];
                y[o * on + p] = relu && !(v > 0.0f) ? 0.0f : v;
            }
        forward_dense_from(net, ws, i, y, FALSE, logits);
    }
}

/* y[0..8 NV) = ybg + sum over k of dv[k] * wdt[dk[k]] (rows dcs floats apart),
 * in k order per lane, the accumulators in registers. */
static inline __attribute__((always_inline)) void
dd_step(const int NV, const float *ybg, const float *wdt, uint32_t dcs, const uint32_t *dk, const float *dv,
        uint32_t nd, float *y)
{
    tt_v8 a[8];
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++)
        a[v] = *(const tt_v8 *)(ybg + 8 * v);
    for (uint32_t k = 0; k < nd; k++) {
        /* rows come in ascending address order; ask for one a few ahead */
        if (k + 8 < nd)
            __builtin_prefetch(wdt + (size_t)dk[k + 8] * dcs);
        const float *w = wdt + (size_t)dk[k] * dcs;
        const float d = dv[k];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            a[v] += d * *(const tt_v8 *)(w + 8 * v);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++)
        *(tt_v8 *)(y + 8 * v) = a[v];
}

/* y = ybg + the columns dk of the dense layer (wdt: [in][dcs]) scaled by dv,
 * 64 outputs per pass. */
TT_CLONES
static void dense_delta(const float *ybg, const float *wdt, uint32_t dcs, const uint32_t *dk, const float *dv,
                        uint32_t nd, float *y)
{
    for (uint32_t r = 0; r < dcs; r += 64) {
        const float *yb = ybg + r, *w = wdt + r;
        float *yr = y + r;
        switch (MIN(8u, (dcs - r) / 8)) {
        case 8: dd_step(8, yb, w, dcs, dk, dv, nd, yr); break;
        case 7: dd_step(7, yb, w, dcs, dk, dv, nd, yr); break;
        case 6: dd_step(6, yb, w, dcs, dk, dv, nd, yr); break;
        case 5: dd_step(5, yb, w, dcs, dk, dv, nd, yr); break;
        case 4: dd_step(4, yb, w, dcs, dk, dv, nd, yr); break;
        case 3: dd_step(3, yb, w, dcs, dk, dv, nd, yr); break;
        case 2: dd_step(2, yb, w, dcs, dk, dv, nd, yr); break;
        default: dd_step(1, yb, w, dcs, dk, dv, nd, yr); break;
        }
    }
}

/* Layers j .. d of the sparse path with the delta dense cache: conv j as a
 * delta conv that only sets the outputs the picture changes; maxpool p (with
 * the relu) over just the windows holding one; dense d as its background
 * output plus the columns of the inputs that differ from the background.
 * On the paper net at 100 packets about 40% of d's inputs change (8% at 10),
 * so most of its 1.15 MB of weights, the largest read of a call, is skipped. */
TT_CLONES
static void forward_delta_dense(const tt_net *net, tt_ws *ws, const cmap *m, float *logits)
{
    const tt_net_cache *cache = net->cache;
    const uint32_t j = cache->j;
    const tt_layer *lj = &net->layers[j], *lp = &net->layers[cache->p], *ld = &net->layers[cache->d];
    const size_t on = (size_t)lj->out_h * lj->out_w, pn = (size_t)lp->out_h * lp->out_w, in = layer_in_size(ld);
    const uint32_t ocs = cache->ocs, oc = lj->out_c, ow = lj->out_w, pw = lp->out_w;
    if (!ws->dd.ostamp) {
        ws->dd.ostamp = g_new0(uint32_t, on);
        ws->dd.olist = g_new(uint32_t, on);
        ws->dd.pstamp = g_new0(uint32_t, pn);
        ws->dd.plist = g_new(uint32_t, pn);
        ws->dd.xv = g_new(float, pn * ocs);
        ws->dd.dk = g_new(uint32_t, in);
        ws->dd.dv = g_new(float, in);
        ws->dd.y = g_new(float, cache->dcs);
    }
    if (++ws->dd.epoch == 0) {
        memset(ws->dd.ostamp, 0, on * sizeof(uint32_t));
        memset(ws->dd.pstamp, 0, pn * sizeof(uint32_t));
        ws->dd.epoch = 1;
    }
    const uint32_t ep = ws->dd.epoch;
    uint32_t *ostamp = ws->dd.ostamp, *olist = ws->dd.olist, *pstamp = ws->dd.pstamp;
    const span *rows, *cols;
    ws_spans(ws, j, lj, &rows, &cols);
    uint32_t no = 0;
    delta_conv(lj, cache->wt, ocs, m->c, m->cs, m->w, m->list, m->n, m->val, m->yx, rows, cols, m->bg, ws->dval,
               ws->dq, ws->acc, &cache->bgc, ocs, ostamp, ep, olist, &no);

    /* Pool the windows holding a changed output (a window's cells come from
     * acc where changed, else from bgresp), in window order as maxpool_forward. */
    ws_spans(ws, cache->p, lp, &rows, &cols);
    const tt_v8 zero = { 0 };
    for (uint32_t t = 0; t < no; t++) {
        const span sy = rows[olist[t] >> 16], sx = cols[olist[t] & 0xFFFFu];
        for (uint32_t py = sy.lo; py < sy.lo + sy.n; py++)
            for (uint32_t px = sx.lo; px < sx.lo + sx.n; px++) {
                const uint32_t pp = py * pw + px;
                if (pstamp[pp] == ep)
                    continue;
                pstamp[pp] = ep;
                float *xv = ws->dd.xv + (size_t)pp * ocs;
                const uint32_t y0 = py * lp->sh, x0 = px * lp->sw;
                const size_t c0 = (size_t)y0 * ow + x0;
                const bgtab *bt = &cache->bgc;
                const float *src = ostamp[c0] == ep ? ws->acc + c0 * ocs
                                                    : bt->v + ((size_t)bt->rc[y0] * bt->ncc + bt->cc[x0]) * ocs;
                for (uint32_t q = 0; q < ocs; q += 8)
                    *(tt_v8 *)(xv + q) = *(const tt_v8 *)(src + q);
                for (uint32_t wy = 0; wy < lp->kh; wy++)
                    for (uint32_t wx = 0; wx < lp->kw; wx++) {
                        const size_t ci = c0 + (size_t)wy * ow + wx;
                        src = ostamp[ci] == ep
                                  ? ws->acc + ci * ocs
                                  : bt->v + ((size_t)bt->rc[y0 + wy] * bt->ncc + bt->cc[x0 + wx]) * ocs;
                        for (uint32_t q = 0; q < ocs; q += 8) {
                            const tt_v8 a = *(const tt_v8 *)(xv + q), v = *(const tt_v8 *)(src + q);
                            *(tt_v8 *)(xv + q) = VMAX(a, v);
                        }
                    }
                if (cache->relu)
                    for (uint32_t q = 0; q < ocs; q += 8) {
                        const tt_v8 a = *(const tt_v8 *)(xv + q);
                        *(tt_v8i *)(xv + q) = (tt_v8i)a & (a > zero);
                    }
            }
    }
    /* The changed inputs of d, as rows of wdt (pooled cell pp, channel o: row
     * pp * out_c + o), ascending so wdt is read in address order. */
    uint32_t *restrict plist = ws->dd.plist, *restrict dk = ws->dd.dk;
    float *restrict dv = ws->dd.dv;
    uint32_t np = 0, nd = 0;
    for (uint32_t pp = 0; pp < pn; pp++)
        if (pstamp[pp] == ep)
            plist[np++] = pp;
    for (uint32_t t = 0; t < np; t++) {
        const uint32_t pp = plist[t];
        const float *xv = ws->dd.xv + (size_t)pp * ocs, *xb = cache->xbg + (size_t)pp * ocs;
        for (uint32_t o = 0; o < oc; o++) {
            /* branch-free: which inputs changed is data, not a pattern */
            dk[nd] = pp * oc + o;
            dv[nd] = xv[o] - xb[o];
            nd += xv[o] != xb[o];
        }
    }
    dense_delta(cache->ybg, cache->wdt, cache->dcs, ws->dd.dk, ws->dd.dv, nd, ws->dd.y);
    float *y = ws_act(net, ws, cache->d);
    memcpy(y, ws->dd.y, ld->out_c * sizeof(float));
    forward_dense_from(net, ws, cache->d + 1, y, FALSE, logits);
}

/* Sparse inference:
 *  1. conv 0 scatters every pixel into the <= ceil(kh/sh) x ceil(kw/sw) outputs
 *     whose window holds it; the map keeps those cells (channel-last) and the
 *     per-channel background (= bias) for all others;
 *  2. relu / dropout / maxpool up to the next parametrised layer j act on the
 *     touched cells and the background only (a pooled cell is computed when its
 *     window holds a touched cell);
 *  3. if layer j is a conv and the map is sparse enough, its output is the
 *     cached background response plus (cell - background) * W at the outputs
 *     each changed cell touches; otherwise the map is densified and layer j on
 *     runs dense. */
void tt_net_forward_sparse(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, float *logits)
{
    g_return_if_fail(logits != NULL && (px != NULL || n == 0));
    if (!ws_fits(net, ws))
        return;
    const tt_layer *l0 = &net->layers[0];
    /* conv 0: a pixel costs <= ceil(kh/sh) x ceil(kw/sw) scatter steps; the
     * dense conv costs out_h x out_w x kh x kw (both per output channel). */
    const gboolean conv0 = l0->kind == TT_LAYER_CONV;   /* else not a FlowPic-style first layer: all dense */
    const size_t touch0 = conv0 ? (size_t)((l0->kh + l0->sh - 1) / l0->sh) * ((l0->kw + l0->sw - 1) / l0->sw) : 0;
    const double cost0 = ws->cost0 >= 0.0 ? ws->cost0 : dconv_ok(l0) ? TT_SPARSE_COST_CONV0_DIRECT : TT_SPARSE_COST_CONV0;
    if (!conv0 || (double)n * touch0 * cost0 > (double)l0->out_h * l0->out_w * l0->kh * l0->kw) {
        if (dconv_ok(l0)) {
            /* the pixels go straight into the direct conv's padded input */
            const dconv_buf *b = ws_dconv(ws, l0, 0);
            float *in = b->pin + (size_t)l0->pad_t * b->wp + l0->pad_l;
            for (uint32_t y = 0; y < net->in_h; y++)
                memset(in + (size_t)y * b->wp, 0, net->in_w * sizeof(float));
            const size_t hw = (size_t)net->in_h * net->in_w;
            for (size_t i = 0; i < n; i++)
                if (px[i].idx < hw)
                    in[(size_t)(px[i].idx / net->in_w) * b->wp + px[i].idx % net->in_w] += px[i].v;
            forward_dense_from(net, ws, 0, NULL, TRUE, logits);
        } else {
            float *in = ws_input(net, ws);
            densify_input(net, in, px, n);
            forward_dense_from(net, ws, 0, in, FALSE, logits);
        }
        return;
    }
    if (!ws->cm)
        ws->cm = g_new0(cmap, TT_MAX_LAYERS);
    cmap *m = &ws->cm[0];
    size_t cells = n * touch0;
    cmap_reset(m, l0->out_c, l0->out_h, l0->out_w, cells);
    fill_w1t(net, ws, m->cs);
    memcpy(m->bg, ws->b1, m->cs * sizeof(float));
    const span *rows, *cols;
    ws_spans(ws, 0, l0, &rows, &cols);
    cm_conv0(l0, ws->w1t, ws->b1, px, n, net->in_h, net->in_w, rows, cols, m);

    const uint32_t j = sparse_split(net);
    for (uint32_t i = 1; i < j; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->kind == TT_LAYER_RELU) {
            cm_relu(m);
        } else if (l->kind == TT_LAYER_MAXPOOL) {
            cmap *b = &ws->cm[i];
            cmap_reset(b, l->out_c, l->out_h, l->out_w,
                       (size_t)m->n * ((l->kh + l->sh - 1) / l->sh) * ((l->kw + l->sw - 1) / l->sw));
            ws_spans(ws, i, l, &rows, &cols);
            cm_pool(l, rows, cols, m, b);
            m = b;
        }
        /* dropout: identity at inference */
    }

    const tt_layer *lj = &net->layers[j];
    const tt_net_cache *cache = net->cache;
    /* delta conv: a touched cell costs ceil(kh/sh) x ceil(kw/sw) x in_c x ocs
     * multiply-adds, the dense conv out_h x out_w x kh x kw x in_c x out_c. */
    gboolean delta = FALSE;
    if (lj->kind == TT_LAYER_CONV && cache && cache->j == j) {
        const double per_cell = (double)((lj->kh + lj->sh - 1) / lj->sh) * ((lj->kw + lj->sw - 1) / lj->sw) *
                                lj->in_c * cache->ocs;
        const double dense = (double)lj->out_h * lj->out_w * lj->kh * lj->kw * lj->in_c * lj->out_c;
        const double cost = ws->cost_delta >= 0.0 ? ws->cost_delta
                            : dconv_ok(lj)        ? TT_SPARSE_COST_DELTA_DIRECT
                            : cache->d            ? TT_SPARSE_COST_DELTA_INFER
                                                  : TT_SPARSE_COST_DELTA;
        delta = (double)m->n * per_cell * cost <= dense;
    }
    if (delta) {
        const size_t on = (size_t)lj->out_h * lj->out_w, ocs = cache->ocs;
        if (!ws->acc) {
            ws->acc = g_new(float, on * ocs);
            ws->dval = g_new(float, lj->in_c);
            ws->dq = g_new(uint32_t, lj->in_c);
            ws->pmax = g_new(float, ocs);
        }
        if (cache->d) {
            forward_delta_dense(net, ws, m, logits);
            return;
        }
        memcpy(ws->acc, cache->bgresp, on * ocs * sizeof(float));
        ws_spans(ws, j, lj, &rows, &cols);
        delta_conv(lj, cache->wt, cache->ocs, m->c, m->cs, m->w, m->list, m->n, m->val, m->yx, rows, cols, m->bg,
                   ws->dval, ws->dq, ws->acc, NULL, 0, NULL, 0, NULL, NULL);
        finish_channel_last(net, ws, j, ws->acc, cache->ocs, logits);
    } else if (dconv_ok(lj)) {
        /* densify straight into the direct conv's padded input */
        const dconv_buf *b = ws_dconv(ws, lj, j);
        cm_densify(m, b->pin + (size_t)lj->pad_t * b->wp + lj->pad_l, b->ps, b->wp);
        forward_dense_from(net, ws, j, NULL, TRUE, logits);
    } else {
        float *d = ws_act(net, ws, j - 1);
        cm_densify(m, d, (size_t)m->h * m->w, m->w);
        forward_dense_from(net, ws, j, d, FALSE, logits);
    }
}

/* ------------------------------------------------------------------------ */
/* Softmax                                                                  */

uint32_t tt_softmax(const float *logits, uint32_t n, float temperature, float *probs)
{
    if (n == 0 || logits == NULL)
        return 0;
    double t = (temperature > 0.0f && isfinite(temperature)) ? temperature : 1.0;
    uint32_t am = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > logits[am])
            am = i;
    if (probs) {
        double mx = logits[am] / t, s = 0.0;
        for (uint32_t i = 0; i < n; i++)
            s += exp(logits[i] / t - mx);
        for (uint32_t i = 0; i < n; i++)
            probs[i] = (float)(exp(logits[i] / t - mx) / s);
    }
    return am;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */

static size_t max_act(const tt_net *net)
{
    size_t mx = (size_t)net->in_h * net->in_w;
    for (uint32_t i = 0; i < net->n_layers; i++)
        mx = MAX(mx, layer_out_size(&net->layers[i]));
    return mx;
}

/* conv 0 forward into a dense [oc][oh][ow] output: bias, then scatter. */
static void conv1_scatter_dense(const tt_net *net, const tt_layer *l, const tt_pixel *px, size_t n, float *y)
{
    const float *W = net->params + l->w_off, *b = net->params + l->b_off;
    const size_t on = (size_t)l->out_h * l->out_w, kk = (size_t)l->kh * l->kw;
    const size_t hw = (size_t)net->in_h * net->in_w;
    for (uint32_t o = 0; o < l->out_c; o++)
        for (size_t p = 0; p < on; p++)
            y[o * on + p] = b[o];
    for (size_t i = 0; i < n; i++) {
        if (px[i].idx >= hw || px[i].v == 0.0f)
            continue;
        const int64_t r = px[i].idx / net->in_w, c = px[i].idx % net->in_w;
        const float v = px[i].v;
        int64_t y0, y1, x0, x1;
        if (!touched_range(r, l->pad_t, l->kh, l->sh, l->out_h, &y0, &y1) ||
            !touched_range(c, l->pad_l, l->kw, l->sw, l->out_w, &x0, &x1))
            continue;
        for (int64_t oy = y0; oy <= y1; oy++)
            for (int64_t ox = x0; ox <= x1; ox++) {
                const size_t k = (size_t)((r + l->pad_t - oy * l->sh) * l->kw + (c + l->pad_l - ox * l->sw));
                const size_t p = (size_t)(oy * l->out_w + ox);
                for (uint32_t o = 0; o < l->out_c; o++)
                    y[o * on + p] += v * W[o * kk + k];
            }
    }
}

/* conv 0 backward from the pixels: dW += sum_p v_p g(outputs touching p), db += sum g. */
static void conv1_backward_sparse(const tt_net *net, const tt_layer *l, const tt_pixel *px, size_t n,
                                  const float *g, float *grad)
{
    float *dW = grad + l->w_off, *db = grad + l->b_off;
    const size_t on = (size_t)l->out_h * l->out_w, kk = (size_t)l->kh * l->kw;
    const size_t hw = (size_t)net->in_h * net->in_w;
    for (size_t i = 0; i < n; i++) {
        if (px[i].idx >= hw || px[i].v == 0.0f)
            continue;
        const int64_t r = px[i].idx / net->in_w, c = px[i].idx % net->in_w;
        const float v = px[i].v;
        int64_t y0, y1, x0, x1;
        if (!touched_range(r, l->pad_t, l->kh, l->sh, l->out_h, &y0, &y1) ||
            !touched_range(c, l->pad_l, l->kw, l->sw, l->out_w, &x0, &x1))
            continue;
        for (int64_t oy = y0; oy <= y1; oy++)
            for (int64_t ox = x0; ox <= x1; ox++) {
                const size_t k = (size_t)((r + l->pad_t - oy * l->sh) * l->kw + (c + l->pad_l - ox * l->sw));
                const size_t p = (size_t)(oy * l->out_w + ox);
                for (uint32_t o = 0; o < l->out_c; o++)
                    dW[o * kk + k] += v * g[o * on + p];
            }
    }
    for (uint32_t o = 0; o < l->out_c; o++) {
        const float *go = g + o * on;
        double s = 0.0;
        for (size_t p = 0; p < on; p++)
            s += go[p];
        db[o] += (float)s;
    }
}

/* Can training run layers 0..j-1 on sparse maps? (conv 0, then only relu,
 * maxpool and rate-0 dropout before the next parametrised layer j). */
static gboolean chain_sparse_trainable(const tt_net *net, uint32_t j)
{
    if (net->layers[0].kind != TT_LAYER_CONV)
        return FALSE;
    for (uint32_t i = 1; i < j; i++)
        if (net->layers[i].kind == TT_LAYER_DROPOUT && net->layers[i].rate > 0.0f)
            return FALSE;
    return TRUE;
}

/* Training forward of layers 0..j-1 on sparse maps (pools record argmax);
 * returns the index of the map holding layer j-1's output and writes, in
 * cur[i], the map holding layer i's output. */
static uint32_t chain_forward_train(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t j,
                                    uint32_t *cur)
{
    const tt_layer *l0 = &net->layers[0];
    ws_next_epoch(ws);
    smap *m = &ws->map[0];
    smap_alloc(m, l0->out_c, l0->out_h, l0->out_w);
    if (!m->g)
    {
        m->g = g_new(float, (size_t)m->h * m->w * m->cs);
        m->gstamp = g_new0(uint32_t, (size_t)m->h * m->w);
    }
    fill_w1t(net, ws, m->cs);
    m->n = 0;
    memcpy(m->bg, ws->b1, m->cs * sizeof(float));
    conv1_scatter(l0, ws->w1t, ws->b1, px, n, net->in_h, net->in_w, m, ws->epoch);
    uint32_t c = 0;
    cur[0] = 0;
    for (uint32_t i = 1; i < j; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->kind == TT_LAYER_RELU) {
            smap_relu(&ws->map[c]);
        } else if (l->kind == TT_LAYER_MAXPOOL) {
            smap *b = &ws->map[i];
            smap_alloc(b, l->out_c, l->out_h, l->out_w);
            if (!b->am) {
                b->am = g_new(uint32_t, (size_t)b->h * b->w * b->cs);
                b->g = g_new(float, (size_t)b->h * b->w * b->cs);
                b->gstamp = g_new0(uint32_t, (size_t)b->h * b->w);
            }
            smap_pool_arg(l, &ws->map[c], b, ws->epoch);
            c = i;
        }
        cur[i] = c;
    }
    return c;
}

/* Backward of layers j-1..0 run on maps. dF: gradient at layer j's input
 * (dense [c][h][w]); F: that input (the densified final map). Adds conv 0's
 * dW (from the pixels and the gradient at the touched cells) and db (the sum
 * of the whole upstream gradient, computed from dF: every pooled cell passes
 * its gradient to exactly one conv 0 output, masked by relu). */
static gboolean chain_has_relu(const tt_net *net, uint32_t j)
{
    gboolean has_relu = FALSE;
    for (uint32_t i = 1; i < j; i++)
        has_relu |= net->layers[i].kind == TT_LAYER_RELU;
    return has_relu;
}

/* From the dense gradient dF at the final map's layer output (F its dense
 * values): conv 0's db (every final cell passes its gradient to exactly one
 * conv 0 output, masked by relu) and the gradient at the touched cells. */
static void chain_grad_from_dense(const tt_net *net, smap *f, gboolean has_relu, const float *dF, const float *F,
                                  float *grad)
{
    const tt_layer *l0 = &net->layers[0];
    const size_t hw = (size_t)f->h * f->w;
    const uint32_t c = f->c, cs = f->cs;
    float *db = grad + l0->b_off;
    for (uint32_t q = 0; q < c; q++) {
        const float *dq = dF + q * hw, *fq = F + q * hw;
        double s = 0.0;
        if (has_relu) {
            for (size_t k = 0; k < hw; k++)
                s += fq[k] > 0.0f ? dq[k] : 0.0f;
        } else {
            for (size_t k = 0; k < hw; k++)
                s += dq[k];
        }
        db[q] += (float)s;
    }
    for (uint32_t t = 0; t < f->n; t++) {
        const uint32_t cell = f->list[t];
        float *g = f->g + (size_t)cell * cs;
        for (uint32_t q = 0; q < c; q++)
            g[q] = dF[q * hw + cell];
    }
}

/* Backward through the maps of layers j-1..1 from the gradient at the touched
 * cells of the final map (f->g), then conv 0's dW from the pixels. */
static void chain_backward(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t j,
                           const uint32_t *cur, float *grad)
{
    const tt_layer *l0 = &net->layers[0];
    const uint32_t epoch = ws->epoch;
    const uint32_t c = l0->out_c, cs = ws->map[0].cs;
    /* The final map's gradient is set at all its touched cells; below, a map's
     * gradient is only valid where gstamp == epoch (cells that received some). */
    smap *f = &ws->map[cur[j - 1]];
    for (uint32_t t = 0; t < f->n; t++)
        f->gstamp[f->list[t]] = epoch;
    /* A relu on a map that a later pool reads is applied while routing that
     * pool's gradient (only at the argmax cells) instead of over the map. */
    gboolean absorbed[TT_MAX_LAYERS] = { FALSE }, masked[TT_MAX_LAYERS] = { FALSE };
    for (uint32_t i = 1; i < j; i++) {
        if (net->layers[i].kind != TT_LAYER_RELU)
            continue;
        for (uint32_t p = i + 1; p < j; p++)
            if (net->layers[p].kind == TT_LAYER_MAXPOOL && cur[p - 1] == cur[i]) {
                absorbed[i] = TRUE;
                masked[p] = TRUE;
            }
    }
    /* back through the chain */
    for (uint32_t i = j - 1; i >= 1; i--) {
        const tt_layer *l = &net->layers[i];
        smap *m = &ws->map[cur[i]];
        if (l->kind == TT_LAYER_RELU && !absorbed[i]) {
            for (uint32_t t = 0; t < m->n; t++) {
                if (m->gstamp[m->list[t]] != epoch)
                    continue;
                const size_t o = (size_t)m->list[t] * cs;
                for (uint32_t q = 0; q < c; q++)
                    m->g[o + q] = m->val[o + q] > 0.0f ? m->g[o + q] : 0.0f;
            }
        } else if (l->kind == TT_LAYER_MAXPOOL) {
            smap *a = &ws->map[cur[i - 1]];
            for (uint32_t t = 0; t < m->n; t++) {
                const uint32_t pc = m->list[t];
                if (m->gstamp[pc] != epoch)
                    continue;
                const size_t o = (size_t)pc * cs;
                for (uint32_t q = 0; q < c; q++) {
                    const uint32_t ic = m->am[o + q];
                    if (ic & TT_AM_BACKGROUND)
                        continue;                   /* background cell: no pixel there */
                    /* the relu mask at the argmax: the pooled value is that cell's value */
                    if (masked[i] && !(m->val[o + q] > 0.0f))
                        continue;
                    const size_t ao = (size_t)ic * cs;
                    if (a->gstamp[ic] != epoch) {
                        a->gstamp[ic] = epoch;
                        memset(a->g + ao, 0, cs * sizeof(float));
                    }
                    a->g[ao + q] += m->g[o + q];
                }
            }
        }
    }
    /* dW of conv 0: sum over pixels of value x gradient at the outputs it touches */
    const smap *m0 = &ws->map[0];
    float *dW = grad + l0->w_off;
    const size_t kk = (size_t)l0->kh * l0->kw, pix = (size_t)net->in_h * net->in_w;
    for (size_t i = 0; i < n; i++) {
        if (px[i].idx >= pix || px[i].v == 0.0f)
            continue;
        const int64_t r = px[i].idx / net->in_w, col = px[i].idx % net->in_w;
        const float v = px[i].v;
        int64_t y0, y1, x0, x1;
        if (!touched_range(r, l0->pad_t, l0->kh, l0->sh, l0->out_h, &y0, &y1) ||
            !touched_range(col, l0->pad_l, l0->kw, l0->sw, l0->out_w, &x0, &x1))
            continue;
        for (int64_t oy = y0; oy <= y1; oy++)
            for (int64_t ox = x0; ox <= x1; ox++) {
                const size_t cell = (size_t)(oy * l0->out_w + ox);
                if (m0->gstamp[cell] != epoch)
                    continue;                       /* no gradient reached this output */
                const size_t k = (size_t)((r + l0->pad_t - oy * l0->sh) * l0->kw + (col + l0->pad_l - ox * l0->sw));
                const float *g = m0->g + cell * cs;
                for (uint32_t o = 0; o < l0->out_c; o++)
                    dW[o * kk + k] += v * g[o];
            }
    }
}

static void dtrain_alloc(tt_ws *ws, const tt_layer *l, uint32_t ocs)
{
    if (ws->dt.wt)
        return;
    const size_t kk = (size_t)l->kh * l->kw, on = (size_t)l->out_h * l->out_w;
    ws->dt.wt = g_new0(float, kk * l->in_c * ocs);
    ws->dt.dwt = g_new0(float, kk * l->in_c * ocs);
    ws->dt.u = g_new0(float, kk * ocs);
    ws->dt.r = g_new0(float, MAX((size_t)l->kh * l->out_w * ocs, (size_t)l->out_c * l->out_h * l->kw));
    ws->dt.gy = g_new0(float, on * ocs);
}

/* Valid kernel rows [*lo, *hi) of a conv at output row oy (the others fall in
 * the zero padding); kx_range the same for columns. */
static inline void ky_range(const tt_layer *l, uint32_t oy, uint32_t *lo, uint32_t *hi)
{
    const int64_t top = (int64_t)oy * l->sh - l->pad_t;   /* input row of ky = 0 */
    const int64_t a = top < 0 ? -top : 0, b = MIN((int64_t)l->kh, (int64_t)l->in_h - top);
    *lo = (uint32_t)a;
    *hi = (uint32_t)MAX(a, b);
}

static inline void kx_range(const tt_layer *l, uint32_t ox, uint32_t *lo, uint32_t *hi)
{
    const int64_t left = (int64_t)ox * l->sw - l->pad_l;
    const int64_t a = left < 0 ? -left : 0, b = MIN((int64_t)l->kw, (int64_t)l->in_w - left);
    *lo = (uint32_t)a;
    *hi = (uint32_t)MAX(a, b);
}

static inline float hsum8(const tt_v8 *p)
{
    const tt_v8 v = *p;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* Training forward of conv j as background response + delta conv, from the
 * map f; writes the channel-first output y. The background response is a
 * separable sum over the valid kernel rows and columns (zero padding), not a
 * dense convolution. */
TT_CLONES
static void conv_delta_forward_train(const tt_net *net, tt_ws *ws, uint32_t j, const smap *f, float *y)
{
    const tt_layer *l = &net->layers[j];
    const uint32_t ic = l->in_c, oc = l->out_c, ocs = cstride(oc), kh = l->kh, kw = l->kw;
    const uint32_t oh = l->out_h, ow = l->out_w;
    const size_t kk = (size_t)kh * kw, on = (size_t)oh * ow;
    const float *W = net->params + l->w_off, *b = net->params + l->b_off;
    dtrain_alloc(ws, l, ocs);
    if (!ws->acc) {
        ws->acc = g_new(float, on * ocs);
        ws->dval = g_new(float, ic);
        ws->dq = g_new(uint32_t, ic);
        ws->pmax = g_new(float, ocs);
    }
    float *wt = ws->dt.wt, *u = ws->dt.u, *r = ws->dt.r, *acc = ws->acc;
    for (uint32_t o = 0; o < oc; o++)
        for (uint32_t c = 0; c < ic; c++)
            for (size_t k = 0; k < kk; k++)
                wt[(k * ic + c) * ocs + o] = W[((size_t)o * ic + c) * kk + k];
    /* u[k][o] = sum_c bg_c W[o][c][k] */
    memset(u, 0, kk * ocs * sizeof(float));
    for (size_t k = 0; k < kk; k++)
        for (uint32_t c = 0; c < ic; c++)
            axpy(u + k * ocs, wt + (k * ic + c) * ocs, f->bg[c], ocs);
    /* r[ky][ox][o] = sum over valid kx of u[ky][kx][o] */
    for (uint32_t ky = 0; ky < kh; ky++)
        for (uint32_t ox = 0; ox < ow; ox++) {
            float *ro = r + ((size_t)ky * ow + ox) * ocs;
            uint32_t lo, hi;
            kx_range(l, ox, &lo, &hi);
            memset(ro, 0, ocs * sizeof(float));
            for (uint32_t kx = lo; kx < hi; kx++)
                axpy(ro, u + ((size_t)ky * kw + kx) * ocs, 1.0f, ocs);
        }
    /* acc[p][o] = b_o + sum over valid ky of r[ky][ox][o] */
    for (uint32_t oy = 0; oy < oh; oy++) {
        uint32_t lo, hi;
        ky_range(l, oy, &lo, &hi);
        for (uint32_t ox = 0; ox < ow; ox++) {
            float *a = acc + ((size_t)oy * ow + ox) * ocs;
            memcpy(a, b, oc * sizeof(float));
            memset(a + oc, 0, (ocs - oc) * sizeof(float));
            for (uint32_t ky = lo; ky < hi; ky++)
                axpy(a, r + ((size_t)ky * ow + ox) * ocs, 1.0f, ocs);
        }
    }
    delta_conv(l, wt, ocs, f->c, f->cs, f->w, f->list, f->n, f->val, NULL, NULL, NULL, f->bg, ws->dval, ws->dq,
               acc, NULL, 0, NULL, 0, NULL, NULL);
    for (size_t p = 0; p < on; p++)
        for (uint32_t o = 0; o < oc; o++)
            y[(size_t)o * on + p] = acc[p * ocs + o];
}

/* Backward of conv j done as in conv_delta_forward_train, dY its output
 * gradient ([out_c][out_h*out_w]): adds dW and db of conv j, writes the input
 * gradient at the touched cells of f (f->g) and adds conv 0's db (the relu-
 * masked sum of the whole input gradient per channel: the background cells
 * through sum_o sum_k W[o][c][k] V[o][k], V = dY summed over valid positions). */
TT_CLONES
static void conv_delta_backward_train(const tt_net *net, tt_ws *ws, uint32_t j, smap *f, gboolean has_relu,
                                      const float *dY, float *grad)
{
    const tt_layer *l = &net->layers[j], *l0 = &net->layers[0];
    const uint32_t ic = l->in_c, oc = l->out_c, ocs = cstride(oc), kh = l->kh, kw = l->kw;
    const uint32_t oh = l->out_h, ow = l->out_w, cs = f->cs, iw = f->w;
    const size_t kk = (size_t)kh * kw, on = (size_t)oh * ow;
    const float *W = net->params + l->w_off, *wt = ws->dt.wt;
    float *dW = grad + l->w_off, *db = grad + l->b_off;
    float *v = ws->dt.u, *t = ws->dt.r, *dwt = ws->dt.dwt, *dyt = ws->dt.gy;
    /* db of conv j; dY channel-last (zero-padded) */
    for (uint32_t o = 0; o < oc; o++) {
        double sum = 0.0;
        for (size_t p = 0; p < on; p++)
            sum += dY[o * on + p];
        db[o] += (float)sum;
    }
    for (size_t p = 0; p < on; p++)
        for (uint32_t o = 0; o < oc; o++)
            dyt[p * ocs + o] = dY[o * on + p];
    /* t[o][oy][kx] = sum of dY over the ox valid for kx */
    for (uint32_t kx = 0; kx < kw; kx++) {
        int64_t lo, hi;
        valid_cols(l, kx, &lo, &hi);
        for (uint32_t o = 0; o < oc; o++)
            for (uint32_t oy = 0; oy < oh; oy++) {
                const float *d = dY + o * on + (size_t)oy * ow;
                float sum = 0.0f;
                for (int64_t ox = lo; ox < hi; ox++)
                    sum += d[ox];
                t[((size_t)o * oh + oy) * kw + kx] = sum;
            }
    }
    /* v[o][ky][kx] = sum of t over the oy valid for ky */
    memset(v, 0, (size_t)oc * kk * sizeof(float));
    for (uint32_t oy = 0; oy < oh; oy++) {
        uint32_t lo, hi;
        ky_range(l, oy, &lo, &hi);
        for (uint32_t o = 0; o < oc; o++)
            for (uint32_t ky = lo; ky < hi; ky++)
                for (uint32_t kx = 0; kx < kw; kx++)
                    v[o * kk + ky * kw + kx] += t[((size_t)o * oh + oy) * kw + kx];
    }
    /* background part of dW: bg_c x v; sum of the input gradient over all cells */
    float *db0 = grad + l0->b_off;
    for (uint32_t c = 0; c < ic; c++) {
        const float bgc = f->bg[c];
        double all = 0.0;
        for (uint32_t o = 0; o < oc; o++) {
            const float *wo = W + ((size_t)o * ic + c) * kk, *vo = v + o * kk;
            float *dwo = dW + ((size_t)o * ic + c) * kk;
            for (size_t k = 0; k < kk; k++) {
                dwo[k] += bgc * vo[k];
                all += (double)wo[k] * vo[k];
            }
        }
        /* untouched cells hold bg_c: relu mask m_c */
        const float mc = has_relu ? (bgc > 0.0f ? 1.0f : 0.0f) : 1.0f;
        db0[c] += (float)(mc * all);
    }
    /* touched cells: input gradient, changed-cell part of dW, and the mask correction */
    memset(dwt, 0, kk * ic * ocs * sizeof(float));
    for (uint32_t tt = 0; tt < f->n; tt++) {
        const uint32_t cell = f->list[tt];
        const float *val = f->val + (size_t)cell * cs;
        float *g = f->g + (size_t)cell * cs;
        memset(g, 0, cs * sizeof(float));
        uint32_t nz = 0;
        for (uint32_t q = 0; q < ic; q++) {
            const float d = val[q] - f->bg[q];
            ws->dval[nz] = d;
            ws->dq[nz] = q;
            nz += d != 0.0f;
        }
        const uint32_t y = cell / iw, x = cell - y * iw;
        int64_t y0, y1, x0, x1;
        if (touched_range(y, l->pad_t, kh, l->sh, oh, &y0, &y1) &&
            touched_range(x, l->pad_l, kw, l->sw, ow, &x0, &x1)) {
            for (int64_t oy = y0; oy <= y1; oy++) {
                const int64_t ky = y + l->pad_t - oy * l->sh;
                for (int64_t ox = x0; ox <= x1; ox++) {
                    const int64_t kx = x + l->pad_l - ox * l->sw;
                    const size_t p = (size_t)(oy * ow + ox), k = (size_t)(ky * kw + kx);
                    const float *gy = dyt + p * ocs;
                    const float *wk = wt + k * ic * ocs;
                    for (uint32_t c = 0; c < ic; c++) {
                        const float *wc = wk + (size_t)c * ocs;
                        tt_v8 sum = *(const tt_v8 *)wc * *(const tt_v8 *)gy;
                        for (uint32_t r = 8; r < ocs; r += 8)
                            sum += *(const tt_v8 *)(wc + r) * *(const tt_v8 *)(gy + r);
                        g[c] += hsum8(&sum);
                    }
                    float *dk = dwt + k * ic * ocs;
                    for (uint32_t e = 0; e < nz; e++)
                        axpy(dk + (size_t)ws->dq[e] * ocs, gy, ws->dval[e], ocs);
                }
            }
        }
        if (has_relu)
            for (uint32_t c = 0; c < ic; c++) {
                const float mc = f->bg[c] > 0.0f ? 1.0f : 0.0f, mv = val[c] > 0.0f ? 1.0f : 0.0f;
                db0[c] += (mv - mc) * g[c];
            }
    }
    for (uint32_t o = 0; o < oc; o++)
        for (uint32_t c = 0; c < ic; c++)
            for (size_t k = 0; k < kk; k++)
                dW[((size_t)o * ic + c) * kk + k] += dwt[(k * ic + c) * ocs + o];
}

float tt_net_train_one(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t label,
                       float weight, uint64_t *rng_state, float *grad, float *logits_out)
{
    g_return_val_if_fail(grad != NULL && rng_state != NULL && (px != NULL || n == 0), NAN);
    if (!ws_fits(net, ws))
        return NAN;
    g_return_val_if_fail(label < net->n_out, NAN);
    const uint32_t L = net->n_layers;
    const size_t gcap = max_act(net);
    if (ws->gcap < gcap) {
        g_free(ws->g[0]);
        g_free(ws->g[1]);
        ws->g[0] = g_new(float, gcap);
        ws->g[1] = g_new(float, gcap);
        ws->gcap = gcap;
    }

    /* Forward, keeping every activation from layer `start` on. Three ways in:
     *  - conv 0 then relu/maxpool up to layer j on sparse maps (start = j);
     *  - conv 0 by scatter into its dense output (start = 1);
     *  - a dense picture when layer 0 is not a conv (start = 0). */
    const gboolean conv0 = net->layers[0].kind == TT_LAYER_CONV;
    const uint32_t j = conv0 ? sparse_split(net) : 0;
    const gboolean chain = conv0 && !ws->dense_train && chain_sparse_trainable(net, j);
    uint32_t cur[TT_MAX_LAYERS];
    uint32_t start;
    const float *input = NULL, *x;
    smap *f = NULL;
    gboolean delta = FALSE;
    if (chain) {
        f = &ws->map[chain_forward_train(net, ws, px, n, j, cur)];
        const tt_layer *lj = &net->layers[j];
        if (lj->kind == TT_LAYER_CONV) {
            const double per_cell = (double)((lj->kh + lj->sh - 1) / lj->sh) * ((lj->kw + lj->sw - 1) / lj->sw) *
                                    lj->in_c * cstride(lj->out_c);
            const double dense = (double)lj->out_h * lj->out_w * lj->kh * lj->kw * lj->in_c * lj->out_c;
            const double cost = ws->cost_delta >= 0.0 ? ws->cost_delta : TT_SPARSE_COST_DELTA;
            delta = (double)f->n * per_cell * cost <= dense;
        }
        if (delta) {
            float *y = ws_act(net, ws, j);
            conv_delta_forward_train(net, ws, j, f, y);
            x = y;
            start = j + 1;
        } else {
            float *d = ws_act(net, ws, j - 1);
            smap_densify(f, d);
            x = d;
            start = j;
        }
    } else if (conv0) {
        float *y = ws_act(net, ws, 0);
        conv1_scatter_dense(net, &net->layers[0], px, n, y);
        x = y;
        start = 1;
    } else {
        float *in = ws_input(net, ws);
        densify_input(net, in, px, n);
        input = x = in;
        start = 0;
    }
    for (uint32_t i = start; i < L; i++) {
        const tt_layer *l = &net->layers[i];
        float *y = ws_act(net, ws, i);
        const size_t no = layer_out_size(l);
        switch (l->kind) {
        case TT_LAYER_CONV:
            conv_forward(net, ws, l, x, y, ws_keep(l, ws, i));
            break;
        case TT_LAYER_RELU:
            relu_forward(x, y, no);
            break;
        case TT_LAYER_DROPOUT:
            if (y != x)
                memcpy(y, x, no * sizeof(float));
            if (l->rate > 0.0f) {
                if (!ws->mask[i])
                    ws->mask[i] = g_new(float, no);
                /* an element is dropped when a 32-bit draw is below rate * 2^32;
                 * each 64-bit draw gives two */
                float *mk = ws->mask[i];
                const float keep = 1.0f / (1.0f - l->rate);
                const uint64_t thr = (uint64_t)((double)l->rate * 4294967296.0);
                uint64_t bits = 0;
                for (size_t k = 0; k < no; k++) {
                    if (!(k & 1))
                        bits = tt_rng_next(rng_state);
                    const uint64_t u = (k & 1) ? bits >> 32 : bits & 0xFFFFFFFFu;
                    mk[k] = u < thr ? 0.0f : keep;
                    y[k] *= mk[k];
                }
            }
            break;
        case TT_LAYER_MAXPOOL:
            if (!ws->argmax[i])
                ws->argmax[i] = g_new(uint32_t, no);
            maxpool_forward(l, x, y, ws->argmax[i]);
            break;
        case TT_LAYER_DENSE:
            dense_forward(net, l, x, y);
            break;
        }
        x = y;
    }
    const float *logits = x;
    if (logits_out)
        memcpy(logits_out, logits, net->n_out * sizeof(float));

    /* Softmax cross-entropy. */
    const uint32_t K = net->n_out;
    double mx = logits[0];
    for (uint32_t k = 1; k < K; k++)
        mx = MAX(mx, (double)logits[k]);
    double s = 0.0;
    for (uint32_t k = 0; k < K; k++)
        s += exp((double)logits[k] - mx);
    const double lse = mx + log(s);
    const double loss = lse - (double)logits[label];
    float *g = ws->g[0], *gx = ws->g[1];
    for (uint32_t k = 0; k < K; k++) {
        double p = exp((double)logits[k] - lse);
        g[k] = (float)(weight * (p - (k == label ? 1.0 : 0.0)));
    }

    /* Backward, down to layer `start` (its input gradient only if needed). */
    for (uint32_t ii = L; ii-- > start;) {
        const tt_layer *l = &net->layers[ii];
        const float *xin = ii == 0 ? input : ws->act[ii - 1];
        const size_t no = layer_out_size(l), ni = layer_in_size(l);
        const gboolean need_dx = ii > 0;
        float *t;
        switch (l->kind) {
        case TT_LAYER_DENSE: {
            const int in = (int)ni, out = (int)l->out_c;
            tt_ger(out, in, 1.0f, g, xin, grad + l->w_off, in);
            float *db = grad + l->b_off;
            for (int k = 0; k < out; k++)
                db[k] += g[k];
            if (need_dx) {
                tt_gemv(1, out, in, 1.0f, net->params + l->w_off, in, g, 0.0f, gx);
                t = g; g = gx; gx = t;
            }
            break;
        }
        case TT_LAYER_CONV:
            conv_backward(net, ws, l, xin, g, grad, need_dx ? gx : NULL, ws->colkeep[ii]);
            if (need_dx) {
                t = g; g = gx; gx = t;
            }
            break;
        case TT_LAYER_RELU:
            relu_backward(ws->act[ii], g, no);
            break;
        case TT_LAYER_DROPOUT:
            if (l->rate > 0.0f) {
                const float *mk = ws->mask[ii];
                for (size_t k = 0; k < no; k++)
                    g[k] *= mk[k];
            }
            break;
        case TT_LAYER_MAXPOOL:
            if (need_dx) {
                const uint32_t *am = ws->argmax[ii];
                memset(gx, 0, ni * sizeof(float));
                for (size_t k = 0; k < no; k++)
                    gx[am[k]] += g[k];
                t = g; g = gx; gx = t;
            }
            break;
        }
    }
    /* g is now the gradient at layer start's input. */
    if (chain) {
        const gboolean has_relu = chain_has_relu(net, j);
        if (delta)
            conv_delta_backward_train(net, ws, j, f, has_relu, g, grad);
        else
            chain_grad_from_dense(net, f, has_relu, g, ws->act[j - 1], grad);
        chain_backward(net, ws, px, n, j, cur, grad);
    } else if (conv0)
        conv1_backward_sparse(net, &net->layers[0], px, n, g, grad);
    return (float)(weight * loss);
}

/* ------------------------------------------------------------------------ */
/* Adam                                                                     */

void tt_adam_init(tt_adam *opt, size_t n, float lr)
{
    g_return_if_fail(opt != NULL);
    opt->lr = lr;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = 0.0f;
    opt->t = 0;
    opt->n = n;
    opt->m = g_new0(float, MAX(n, 1));
    opt->v = g_new0(float, MAX(n, 1));
}

void tt_adam_clear(tt_adam *opt)
{
    if (!opt)
        return;
    g_free(opt->m);
    g_free(opt->v);
    opt->m = opt->v = NULL;
    opt->n = 0;
    opt->t = 0;
}

void tt_adam_step(tt_adam *opt, float *params, const float *grad, float grad_scale)
{
    g_return_if_fail(opt != NULL && params != NULL && grad != NULL);
    opt->t++;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const double bc1 = 1.0 - pow((double)b1, (double)opt->t);
    const double bc2 = 1.0 - pow((double)b2, (double)opt->t);
    const float step = (float)(opt->lr / bc1);
    const float ibc2 = (float)(1.0 / bc2);
    const float decay = 1.0f - opt->lr * opt->weight_decay;
    float *m = opt->m, *v = opt->v;
    for (size_t i = 0; i < opt->n; i++) {
        const float gi = grad[i] * grad_scale;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float p = params[i] * decay;
        params[i] = p - step * m[i] / (sqrtf(v[i] * ibc2) + eps);
    }
}

/* ------------------------------------------------------------------------ */
/* Standard nets                                                            */

static tt_layer mk(uint32_t kind, uint32_t out_c, uint32_t k, uint32_t s, uint32_t pt, uint32_t pb,
                   float rate)
{
    tt_layer l;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.out_c = out_c;
    l.kh = l.kw = k;
    l.sh = l.sw = s;
    l.pad_t = l.pad_l = pt;
    l.pad_b = l.pad_r = pb;
    l.rate = rate;
    return l;
}

uint32_t tt_layers_flowpic(tt_layer *layers, uint32_t n_classes)
{
    uint32_t n = 0;
    layers[n++] = mk(TT_LAYER_CONV, 10, 10, 5, 2, 3, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_CONV, 20, 10, 5, 2, 3, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DROPOUT, 0, 0, 0, 0, 0, 0.25f);
    layers[n++] = mk(TT_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DENSE, 64, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DROPOUT, 0, 0, 0, 0, 0, 0.5f);
    layers[n++] = mk(TT_LAYER_DENSE, n_classes, 0, 0, 0, 0, 0);
    return n;
}

uint32_t tt_layers_lenet(tt_layer *layers, uint32_t n_classes)
{
    uint32_t n = 0;
    layers[n++] = mk(TT_LAYER_CONV, 6, 5, 1, 2, 2, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_CONV, 16, 5, 1, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_MAXPOOL, 0, 2, 2, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DENSE, 120, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DENSE, 84, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0);
    layers[n++] = mk(TT_LAYER_DENSE, n_classes, 0, 0, 0, 0, 0);
    return n;
}
