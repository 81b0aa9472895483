/* TrafficTriage core: the CNN (inference and training). See tt_nn.h.
 *
 * Layout conventions (all tensors float, row-major):
 *   dense activations   [C][H][W]          (channel-first, as in the header)
 *   sparse maps         [H*W][cs] + stamps (channel-last, cs = C rounded up to 8,
 *                                          only cells stamped with the current epoch valid)
 *   conv weights        [out_c][in_c][kh][kw], then bias [out_c]
 *   dense weights       [out][in], then bias [out]
 *
 * Dense convolution is im2col + gemm, done in chunks of output positions so
 * the column buffer stays bounded (TT_COL_MAX floats) whatever the picture;
 * backward as in darknet (gemm for dW, transposed gemm + col2im for dX).
 *
 * The sparse path (tt_net_forward_sparse) runs conv 0 by scatter and the
 * relu/maxpool/dropout layers up to the next parametrised layer j on sparse
 * maps (touched cells + a per-channel background), then conv j as its cached
 * background response plus a "delta conv" of the changed cells.
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
 * multiply-adds of the dense im2col + sgemm it replaces): a scatter
 * multiply-add costs more than an sgemm one, but the dense way also pays for
 * densifying and im2col. Break-even factors measured with tt_bench_nn
 * --threshold (tests/bench/RESULTS-nn.md): conv 0 (pixels vs the whole
 * picture) ~4-6 on the LeNet at 32x32; delta conv (changed cells vs the dense
 * conv) ~1.6 on the paper net, ~2 on the LeNet. */
#define TT_SPARSE_COST_CONV0 5.0
#define TT_SPARSE_COST_DELTA 1.5

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
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int j = 0; j < n; j++)
                ci[j] *= beta;
    }
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int p = 0; p < k; p++) {
            float aip = alpha * (trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]);
            if (!trans_b) {
                const float *bp = b + (size_t)p * ldb;
                for (int j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            } else {
                for (int j = 0; j < n; j++)
                    ci[j] += aip * b[(size_t)j * ldb + p];
            }
        }
    }
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

struct tt_net_cache {
    uint32_t j;        /* the conv layer computed as a delta conv */
    uint32_t ocs;      /* channel stride of wt / bgresp (out_c rounded up to 8) */
    float   *wt;       /* its weights as [kh][kw][in_c][ocs] */
    float   *bgresp;   /* its response to the background, [out_h*out_w][ocs], bias included */
};

static void cache_free(tt_net_cache *c)
{
    if (!c)
        return;
    g_free(c->wt);
    g_free(c->bgresp);
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

struct tt_ws {
    uint32_t n_layers, in_h, in_w;
    size_t   n_params;
    float   *act[TT_MAX_LAYERS];     /* per layer output; relu/dropout alias the previous */
    gboolean act_own[TT_MAX_LAYERS];
    float   *col;                    /* im2col buffer, col_cap floats */
    size_t   col_cap;
    float   *input;                  /* dense input picture (in_h * in_w) */
    /* training */
    float   *g[2];                   /* gradient ping-pong, gcap floats each */
    size_t   gcap;
    uint32_t *argmax[TT_MAX_LAYERS]; /* maxpool: input index of each output */
    float   *mask[TT_MAX_LAYERS];    /* dropout: 0 or 1/(1-rate) */
    float   *colkeep[TT_MAX_LAYERS]; /* conv: column matrix kept from forward to backward */
    /* sparse */
    double   cost0, cost_delta;      /* see TT_SPARSE_COST_CONV0 / _DELTA */
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
    ws->cost0 = TT_SPARSE_COST_CONV0;
    ws->cost_delta = TT_SPARSE_COST_DELTA;
    return ws;
}

/* Tuning hooks for tests/bench, declared in tt_nn_tuning.h. */
void tt_ws_set_sparse_cost(tt_ws *ws, double conv0, double delta)
{
    g_return_if_fail(ws != NULL);
    ws->cost0 = conv0 < 0.0 ? TT_SPARSE_COST_CONV0 : conv0;
    ws->cost_delta = delta < 0.0 ? TT_SPARSE_COST_DELTA : delta;
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
    }
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

static void dense_forward(const tt_net *net, const tt_layer *l, const float *x, float *y)
{
    const int in = (int)layer_in_size(l), out = (int)l->out_c;
    memcpy(y, net->params + l->b_off, (size_t)out * sizeof(float));
    tt_gemv(0, out, in, 1.0f, net->params + l->w_off, in, x, 1.0f, y);
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

/* Inference from layer `start` on, x being the (dense) input of that layer. */
static void forward_dense_from(const tt_net *net, tt_ws *ws, uint32_t start, const float *x, float *logits)
{
    for (uint32_t i = start; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
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
    forward_dense_from(net, ws, 0, input, logits);
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

/* maxpool a -> b; only windows holding a touched cell are computed. */
TT_CLONES
static void smap_pool(const tt_layer *l, const smap *a, smap *b, uint32_t epoch)
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
                for (uint32_t wy = 0; wy < l->kh; wy++) {
                    for (uint32_t wx = 0; wx < l->kw; wx++) {
                        const uint32_t ic = (uint32_t)((py * l->sh + wy) * iw + px * l->sw + wx);
                        const float *s = a->stamp[ic] == epoch ? a->val + (size_t)ic * cs : a->bg;
                        if (wy == 0 && wx == 0)
                            memcpy(o, s, cs * sizeof(float));
                        else
                            vmax8(o, s, cs);
                    }
                }
            }
        }
    }
    b->n = cnt;
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

/* acc ([oh*ow][ocs], holding the background response) += conv(map - background).
 * wt: [kh][kw][in_c][ocs]. Per output position the accumulators stay in
 * registers over the input channels; the additions happen in channel order. */
TT_CLONES
static void delta_conv(const tt_layer *l, const float *wt, uint32_t ocs, const smap *m,
                       float *dval, uint32_t *dq, float *acc)
{
    const uint32_t c = m->c, cs = m->cs, iw = m->w, ow = l->out_w;
    for (uint32_t t = 0; t < m->n; t++) {
        const uint32_t cell = m->list[t];
        const float *v = m->val + (size_t)cell * cs;
        uint32_t nz = 0;
        for (uint32_t q = 0; q < c; q++) {
            const float d = v[q] - m->bg[q];
            dval[nz] = d;
            dq[nz] = q;
            nz += d != 0.0f;
        }
        if (!nz)
            continue;
        const uint32_t y = cell / iw, x = cell - y * iw;
        int64_t y0, y1, x0, x1;
        if (!touched_range(y, l->pad_t, l->kh, l->sh, l->out_h, &y0, &y1) ||
            !touched_range(x, l->pad_l, l->kw, l->sw, l->out_w, &x0, &x1))
            continue;
        for (int64_t oy = y0; oy <= y1; oy++) {
            const int64_t ky = y + l->pad_t - oy * l->sh;
            for (int64_t ox = x0; ox <= x1; ox++) {
                const int64_t kx = x + l->pad_l - ox * l->sw;
                float *restrict o = acc + (size_t)(oy * ow + ox) * ocs;
                const float *restrict wk = wt + (size_t)(ky * l->kw + kx) * c * ocs;
                uint32_t r = 0;
                for (; r + 16 <= ocs; r += 16) {
                    tt_v8 a0 = *(tt_v8 *)(o + r), a1 = *(tt_v8 *)(o + r + 8);
                    for (uint32_t k = 0; k < nz; k++) {
                        const float *w = wk + (size_t)dq[k] * ocs + r;
                        a0 += dval[k] * *(const tt_v8 *)w;
                        a1 += dval[k] * *(const tt_v8 *)(w + 8);
                    }
                    *(tt_v8 *)(o + r) = a0;
                    *(tt_v8 *)(o + r + 8) = a1;
                }
                for (; r < ocs; r += 8) {
                    tt_v8 a0 = *(tt_v8 *)(o + r);
                    for (uint32_t k = 0; k < nz; k++)
                        a0 += dval[k] * *(const tt_v8 *)(wk + (size_t)dq[k] * ocs + r);
                    *(tt_v8 *)(o + r) = a0;
                }
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
    const size_t ihw = (size_t)lj->in_h * lj->in_w;
    const float *W = net->params + lj->w_off;
    cache->wt = g_new0(float, kk * ic * ocs);
    for (uint32_t o = 0; o < oc; o++)
        for (uint32_t c = 0; c < ic; c++)
            for (size_t k = 0; k < kk; k++)
                cache->wt[(k * ic + c) * ocs + o] = W[((size_t)o * ic + c) * kk + k];
    /* Response to the constant background (zero padding makes the borders differ). */
    float *x = g_new(float, ihw * ic);
    for (uint32_t c = 0; c < ic; c++)
        for (size_t k = 0; k < ihw; k++)
            x[c * ihw + k] = bg[c];
    float *y = g_new(float, n * oc);
    tt_ws *tmp = tt_ws_new(net);
    conv_forward(net, tmp, lj, x, y, NULL);
    tt_ws_free(tmp);
    cache->bgresp = g_new0(float, n * ocs);
    for (uint32_t o = 0; o < oc; o++)
        for (size_t p = 0; p < n; p++)
            cache->bgresp[p * ocs + o] = y[o * n + p];
    g_free(x);
    g_free(y);
    g_free(bg);
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

/* The rest of the net after conv layer j whose output is acc, channel-last
 * ([out_h*out_w][ocs]): relu / dropout act in place on acc; a following
 * maxpool reads acc and writes its usual channel-first output (no separate
 * transpose); otherwise acc is transposed into layer j's buffer. */
TT_CLONES
static void finish_channel_last(const tt_net *net, tt_ws *ws, uint32_t j, float *acc, uint32_t ocs,
                                float *logits)
{
    const tt_layer *lj = &net->layers[j];
    const size_t on = (size_t)lj->out_h * lj->out_w, oc = lj->out_c;
    uint32_t i = j + 1;
    for (; i < net->n_layers; i++) {
        if (net->layers[i].kind == TT_LAYER_RELU)
            relu_forward(acc, acc, on * ocs);
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
                const size_t c0 = py * lp->sh * lj->out_w + px * lp->sw;
                memcpy(mx, acc + c0 * ocs, ocs * sizeof(float));
                for (uint32_t wy = 0; wy < lp->kh; wy++)
                    for (uint32_t wx = 0; wx < lp->kw; wx++)
                        vmax8(mx, acc + (c0 + wy * lj->out_w + wx) * ocs, ocs);
                float *yp = y + py * lp->out_w + px;
                for (size_t o = 0; o < oc; o++)
                    yp[o * pn] = mx[o];
            }
        }
        forward_dense_from(net, ws, i + 1, y, logits);
    } else {
        float *y = ws_act(net, ws, i - 1);    /* layer j's buffer (or an alias of it) */
        for (size_t p = 0; p < on; p++)
            for (size_t o = 0; o < oc; o++)
                y[o * on + p] = acc[p * ocs + o];
        forward_dense_from(net, ws, i, y, logits);
    }
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
    if (l0->kind != TT_LAYER_CONV) {       /* not a FlowPic-style first layer: all dense */
        float *in = ws_input(net, ws);
        densify_input(net, in, px, n);
        forward_dense_from(net, ws, 0, in, logits);
        return;
    }
    const double scatter = (double)n * ((l0->kh + l0->sh - 1) / l0->sh) * ((l0->kw + l0->sw - 1) / l0->sw);
    const double dense0 = (double)l0->out_h * l0->out_w * l0->kh * l0->kw;
    if (scatter * ws->cost0 > dense0) {
        float *in = ws_input(net, ws);
        densify_input(net, in, px, n);
        forward_dense_from(net, ws, 0, in, logits);
        return;
    }
    ws_next_epoch(ws);
    smap *m = &ws->map[0];
    smap_alloc(m, l0->out_c, l0->out_h, l0->out_w);
    fill_w1t(net, ws, m->cs);
    m->n = 0;
    memcpy(m->bg, ws->b1, m->cs * sizeof(float));
    conv1_scatter(l0, ws->w1t, ws->b1, px, n, net->in_h, net->in_w, m, ws->epoch);

    const uint32_t j = sparse_split(net);
    for (uint32_t i = 1; i < j; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->kind == TT_LAYER_RELU) {
            smap_relu(m);
        } else if (l->kind == TT_LAYER_MAXPOOL) {
            smap *b = &ws->map[i];
            smap_alloc(b, l->out_c, l->out_h, l->out_w);
            smap_pool(l, m, b, ws->epoch);
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
        delta = (double)m->n * per_cell * ws->cost_delta <= dense;
    }
    if (delta) {
        const size_t on = (size_t)lj->out_h * lj->out_w, ocs = cache->ocs;
        if (!ws->acc) {
            ws->acc = g_new(float, on * ocs);
            ws->dval = g_new(float, lj->in_c);
            ws->dq = g_new(uint32_t, lj->in_c);
            ws->pmax = g_new(float, ocs);
        }
        memcpy(ws->acc, cache->bgresp, on * ocs * sizeof(float));
        delta_conv(lj, cache->wt, cache->ocs, m, ws->dval, ws->dq, ws->acc);
        finish_channel_last(net, ws, j, ws->acc, cache->ocs, logits);
    } else {
        float *d = ws_act(net, ws, j - 1);
        smap_densify(m, d);
        forward_dense_from(net, ws, j, d, logits);
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
    delta_conv(l, wt, ocs, f, ws->dval, ws->dq, acc);
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
            delta = (double)f->n * per_cell * ws->cost_delta <= dense;
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
