/* Unit tests for core/nn/ (the CNN engine): shapes and rejections, sparse vs dense
 * inference, golden values from PyTorch, finite-difference gradients,
 * training on a separable toy task, reproducibility, Adam. */
#include "tt_nn.h"
#include "tt_nn_tuning.h"
#include "tt_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Braced initializer of a layer (usable in arrays; wrap in (tt_layer) for a value). */
#define L_(k, oc, kh_, kw_, sh_, sw_, pt, pb, pl, pr, r)                                          \
    { .kind = (k), .out_c = (oc), .kh = (kh_), .kw = (kw_), .sh = (sh_), .sw = (sw_), .pad_t = (pt), \
      .pad_b = (pb), .pad_l = (pl), .pad_r = (pr), .rate = (r) }
#define CONV(oc, kh, kw, sh, sw, pt, pb, pl, pr) L_(TT_LAYER_CONV, oc, kh, kw, sh, sw, pt, pb, pl, pr, 0)
#define RELU() L_(TT_LAYER_RELU, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
#define POOL(kh, kw, sh, sw) L_(TT_LAYER_MAXPOOL, 0, kh, kw, sh, sw, 0, 0, 0, 0, 0)
#define DROP(r) L_(TT_LAYER_DROPOUT, 0, 0, 0, 0, 0, 0, 0, 0, 0, r)
#define DENSE(n) L_(TT_LAYER_DENSE, n, 0, 0, 0, 0, 0, 0, 0, 0, 0)

static tt_net *make_net(uint32_t h, uint32_t w, const tt_layer *ls, uint32_t n)
{
    GError *err = NULL;
    tt_net *net = tt_net_new(h, w, ls, n, &err);
    g_assert_no_error(err);
    g_assert_nonnull(net);
    return net;
}

/* A stock net (tt_layers_flowpic, tt_layers_lenet) for n_classes over a side x side picture. */
static tt_net *stock_net(uint32_t (*layers)(tt_layer *, uint32_t), uint32_t n_classes, uint32_t side)
{
    tt_layer ls[TT_MAX_LAYERS];
    const uint32_t nl = layers(ls, n_classes);
    return make_net(side, side, ls, nl);
}

/* He init, then biases random of both signs so the background is not zero. */
static void init_random(tt_net *net, uint64_t seed, double bias_sd)
{
    tt_net_init_params(net, seed);
    uint64_t st = seed * 31 + 7;
    for (uint32_t i = 0; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        for (size_t k = 0; k < l->n_b; k++)
            net->params[l->b_off + k] = (float)(bias_sd * tt_rng_normal(&st));
    }
    tt_net_prepare(net);
}

/* n unique random pixels; values are packet counts (mostly 1) or, if unit, in (0, 1]. */
static tt_pixel *random_pixels(uint32_t h, uint32_t w, size_t n, gboolean unit, uint64_t *st)
{
    size_t hw = (size_t)h * w;
    g_assert_cmpuint(n, <=, hw);
    guint8 *used = g_new0(guint8, hw);
    tt_pixel *px = g_new(tt_pixel, MAX(n, 1));
    for (size_t i = 0; i < n; i++) {
        uint32_t idx;
        do {
            idx = (uint32_t)(tt_rng_next(st) % hw);
        } while (used[idx]);
        used[idx] = 1;
        px[i].idx = idx;
        double u = tt_rng_uniform(st);
        px[i].v = unit ? (float)(1.0 - u) : (float)(u < 0.7 ? 1 : 1 + (int)(u * 20));
    }
    g_free(used);
    return px;
}

static float *dense_of(uint32_t h, uint32_t w, const tt_pixel *px, size_t n)
{
    float *d = g_new0(float, (size_t)h * w);
    for (size_t i = 0; i < n; i++)
        d[px[i].idx] += px[i].v;
    return d;
}

/* max |a - b| / max |b| (norm-wise relative difference). */
static double rel_diff(const float *a, const float *b, uint32_t n)
{
    double md = 0, mb = 0;
    for (uint32_t i = 0; i < n; i++) {
        md = MAX(md, fabs((double)a[i] - b[i]));
        mb = MAX(mb, fabs((double)b[i]));
    }
    return mb > 0.0 ? md / mb : md;   /* all-zero reference: must match exactly */
}


/* The sparse path, in each of its ways (default choice; forced delta conv;
 * sparse conv 0 then sgemm), agrees with the dense path. */
static double check_sparse_dense(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n)
{
    static const double ways[][2] = { { -1, -1 }, { 0, 0 }, { 0, INFINITY } };
    float ls[TT_MAX_CLASSES], ld[TT_MAX_CLASSES];
    float *d = dense_of(net->in_h, net->in_w, px, n);
    tt_net_forward_dense(net, ws, d, ld);
    g_free(d);
    double worst = 0;
    for (size_t w = 0; w < G_N_ELEMENTS(ways); w++) {
        tt_ws_set_sparse_cost(ws, ways[w][0], ways[w][1]);
        tt_net_forward_sparse(net, ws, px, n, ls);
        double r = rel_diff(ls, ld, net->n_out);
        if (g_test_verbose())
            g_printerr("  n=%zu way %zu rel %.3g logit0 %g\n", n, w, r, ld[0]);
        g_assert_cmpfloat(r, <=, 1e-5);
        worst = MAX(worst, r);
    }
    tt_ws_set_sparse_cost(ws, -1, -1);
    return worst;
}

/* check_sparse_dense on a random picture of each pixel count (packet counts). */
static void check_random_pictures(const tt_net *net, tt_ws *ws, const size_t *counts, size_t n, uint64_t *st)
{
    for (size_t i = 0; i < n; i++) {
        tt_pixel *px = random_pixels(net->in_h, net->in_w, counts[i], FALSE, st);
        check_sparse_dense(net, ws, px, counts[i]);
        g_free(px);
    }
}

/* ------------------------------------------------------------------------ */
/* Shapes                                                                   */

TT_TEST("/nn/shape/flowpic", test_shape_flowpic)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t n = tt_layers_flowpic(ls, 5);
    g_assert_cmpuint(n, ==, 11);
    tt_net *net = make_net(1500, 1500, ls, n);
    const tt_layer *l = net->layers;
    g_assert_cmpuint(l[0].out_c, ==, 10);
    g_assert_cmpuint(l[0].out_h, ==, 300);
    g_assert_cmpuint(l[0].out_w, ==, 300);
    g_assert_cmpuint(l[2].out_h, ==, 150);
    g_assert_cmpuint(l[3].in_c, ==, 10);
    g_assert_cmpuint(l[3].out_c, ==, 20);
    g_assert_cmpuint(l[3].out_h, ==, 30);
    g_assert_cmpuint(l[6].out_h, ==, 15);
    g_assert_cmpuint(l[6].out_c, ==, 20);
    g_assert_cmpuint(l[7].in_c * l[7].in_h * l[7].in_w, ==, 4500);
    g_assert_cmpuint(l[7].n_w, ==, 4500 * 64);
    g_assert_cmpuint(l[10].n_w, ==, 64 * 5);
    g_assert_cmpuint(net->n_out, ==, 5);
    g_assert_cmpuint(net->n_params, ==, 1010 + 20020 + 288064 + 325);
    /* Offsets are contiguous, layer by layer, W then b. */
    size_t off = 0;
    for (uint32_t i = 0; i < net->n_layers; i++) {
        if (net->layers[i].n_w == 0) {
            g_assert_cmpuint(net->layers[i].n_b, ==, 0);
            continue;
        }
        g_assert_cmpuint(net->layers[i].w_off, ==, off);
        g_assert_cmpuint(net->layers[i].b_off, ==, off + net->layers[i].n_w);
        off += net->layers[i].n_w + net->layers[i].n_b;
    }
    g_assert_cmpuint(off, ==, net->n_params);
    tt_net_free(net);
}

TT_TEST("/nn/shape/lenet", test_shape_lenet)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t n = tt_layers_lenet(ls, 7);
    tt_net *net = make_net(32, 32, ls, n);
    g_assert_cmpuint(net->layers[0].out_h, ==, 32);
    g_assert_cmpuint(net->layers[2].out_h, ==, 16);
    g_assert_cmpuint(net->layers[3].out_h, ==, 12);
    g_assert_cmpuint(net->layers[5].out_w, ==, 6);
    g_assert_cmpuint(net->layers[6].n_w, ==, 576 * 120);
    g_assert_cmpuint(net->n_params, ==, (150 + 6) + (2400 + 16) + (69120 + 120) + (10080 + 84) + (84 * 7 + 7));
    tt_net_free(net);
    net = make_net(64, 64, ls, n);
    g_assert_cmpuint(net->layers[5].out_h, ==, 14);
    g_assert_cmpuint(net->layers[6].n_w, ==, 16 * 14 * 14 * 120);
    tt_net_free(net);
    /* Non-square input and asymmetric padding. */
    tt_layer a[] = { CONV(2, 4, 3, 2, 1, 1, 2, 0, 1), POOL(2, 3, 2, 2), DENSE(3) };
    net = make_net(11, 13, a, 3);
    g_assert_cmpuint(net->layers[0].out_h, ==, 6);    /* (11+3-4)/2+1 */
    g_assert_cmpuint(net->layers[0].out_w, ==, 12);   /* (13+1-3)/1+1 */
    g_assert_cmpuint(net->layers[1].out_h, ==, 3);
    g_assert_cmpuint(net->layers[1].out_w, ==, 5);
    g_assert_cmpuint(net->layers[2].n_w, ==, 3 * 2 * 3 * 5);
    tt_net_free(net);
}

typedef struct {
    const char *name;
    uint32_t h, w, n;
    tt_layer ls[4];
    int code;
} reject_case;

TT_TEST("/nn/shape/reject", test_shape_reject)
{
    const uint32_t BIG = 0xFFFFFFFFu;
    const reject_case cases[] = {
        { "no layers", 8, 8, 0, { DENSE(2) }, TT_ERROR_SHAPE },
        { "zero height", 0, 8, 1, { DENSE(2) }, TT_ERROR_SHAPE },
        { "zero width", 8, 0, 1, { DENSE(2) }, TT_ERROR_SHAPE },
        { "side too big", 5000, 8, 1, { DENSE(2) }, TT_ERROR_LIMIT },
        { "conv zero filters", 8, 8, 2, { CONV(0, 3, 3, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "conv zero kernel", 8, 8, 2, { CONV(2, 0, 3, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "conv zero stride", 8, 8, 2, { CONV(2, 3, 3, 1, 0, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "conv kernel > input", 8, 8, 2, { CONV(2, 9, 3, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "conv huge padding", 8, 8, 2, { CONV(2, 3, 3, 1, 1, BIG, 0, 0, 0), DENSE(2) }, TT_ERROR_LIMIT },
        { "conv huge stride", 8, 8, 2, { CONV(2, 3, 3, BIG, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_LIMIT },
        { "conv filters overflow", 8, 8, 2, { CONV(BIG, 3, 3, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_LIMIT },
        { "conv activations", 4096, 4096, 2, { CONV(4, 1, 1, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_LIMIT },
        { "conv weights", 4096, 4096, 2, { CONV(65536, 4096, 4096, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_LIMIT },
        { "pool window > input", 8, 8, 2, { POOL(9, 2, 1, 1), DENSE(2) }, TT_ERROR_SHAPE },
        { "pool zero stride", 8, 8, 2, { POOL(2, 2, 0, 1), DENSE(2) }, TT_ERROR_SHAPE },
        { "pool padding", 8, 8, 2, { L_(TT_LAYER_MAXPOOL, 0, 2, 2, 2, 2, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "pool shrinks below conv", 8, 8, 3, { POOL(4, 4, 4, 4), CONV(2, 3, 3, 1, 1, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "dropout rate 1", 8, 8, 2, { DROP(1.0f), DENSE(2) }, TT_ERROR_SHAPE },
        { "dropout rate NaN", 8, 8, 2, { DROP(NAN), DENSE(2) }, TT_ERROR_SHAPE },
        { "dropout rate < 0", 8, 8, 2, { DROP(-0.1f), DENSE(2) }, TT_ERROR_SHAPE },
        { "unknown kind", 8, 8, 2, { L_(9, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "kind zero", 8, 8, 2, { L_(0, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0), DENSE(2) }, TT_ERROR_SHAPE },
        { "last not dense", 8, 8, 2, { DENSE(4), RELU() }, TT_ERROR_SHAPE },
        { "last is conv", 8, 8, 1, { CONV(2, 3, 3, 1, 1, 0, 0, 0, 0) }, TT_ERROR_SHAPE },
        { "dense zero units", 8, 8, 2, { DENSE(0), DENSE(2) }, TT_ERROR_SHAPE },
        { "dense units overflow", 8, 8, 2, { DENSE(BIG), DENSE(2) }, TT_ERROR_LIMIT },
        { "too many params", 4096, 4096, 1, { DENSE(8) }, TT_ERROR_LIMIT },
        { "params sum", 2048, 2048, 3, { DENSE(15), DENSE(300000), DENSE(2) }, TT_ERROR_LIMIT },
        { "too many classes", 8, 8, 1, { DENSE(TT_MAX_CLASSES + 1) }, TT_ERROR_LIMIT },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        tt_net *net = tt_net_new(cases[i].h, cases[i].w, cases[i].ls, cases[i].n, &err);
        if (g_test_verbose())
            g_printerr("  %s: %s\n", cases[i].name, err ? err->message : "(accepted)");
        g_assert_null(net);
        g_assert_error(err, TT_ERROR, cases[i].code);
        g_assert_cmpuint(strlen(err->message), >, 0);
        g_error_free(err);
    }
    /* Too many layers. */
    tt_layer many[TT_MAX_LAYERS + 1];
    for (uint32_t i = 0; i < TT_MAX_LAYERS; i++)
        many[i] = (tt_layer)RELU();
    many[TT_MAX_LAYERS] = (tt_layer)DENSE(2);
    GError *err = NULL;
    g_assert_null(tt_net_new(8, 8, many, TT_MAX_LAYERS + 1, &err));
    g_assert_error(err, TT_ERROR, TT_ERROR_LIMIT);
    g_clear_error(&err);
    /* ... while exactly TT_MAX_LAYERS is fine; NULL error pointer is fine. */
    tt_net *net = tt_net_new(8, 8, many + 1, TT_MAX_LAYERS, &err);
    g_assert_no_error(err);
    g_assert_nonnull(net);
    tt_net_free(net);
    g_assert_null(tt_net_new(8, 8, many, 1, NULL));
    /* Largest accepted side. */
    tt_layer big[] = { CONV(1, 8, 8, 8, 8, 0, 0, 0, 0), DENSE(2) };
    net = tt_net_new(TT_MAX_IMAGE_SIDE, TT_MAX_IMAGE_SIDE, big, 2, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(net->layers[0].out_h, ==, 512);
    tt_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Small pieces                                                             */

TT_TEST("/nn/rng", test_rng)
{
    uint64_t a = 42, b = 42;
    for (int i = 0; i < 100; i++)
        g_assert_cmpuint(tt_rng_next(&a), ==, tt_rng_next(&b));
    uint64_t c = 43;
    g_assert_cmpuint(tt_rng_next(&a), !=, tt_rng_next(&c));
    double s = 0, s2 = 0, su = 0;
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        double u = tt_rng_uniform(&a);
        g_assert_cmpfloat(u, >=, 0.0);
        g_assert_cmpfloat(u, <, 1.0);
        su += u;
        double z = tt_rng_normal(&a);
        g_assert_true(isfinite(z));
        s += z;
        s2 += z * z;
    }
    g_assert_cmpfloat(fabs(su / N - 0.5), <, 0.005);
    g_assert_cmpfloat(fabs(s / N), <, 0.01);
    g_assert_cmpfloat(fabs(s2 / N - 1.0), <, 0.02);
}

TT_TEST("/nn/softmax", test_softmax)
{
    const float lg[4] = { 1.0f, 3.0f, -2.0f, 3.0f - 1e-3f };
    float p[4], q[4];
    g_assert_cmpuint(tt_softmax(lg, 4, 1.0f, p), ==, 1);
    double s = p[0] + p[1] + p[2] + p[3];
    g_assert_cmpfloat_with_epsilon(s, 1.0, 1e-6);
    g_assert_cmpfloat_with_epsilon(p[0] / p[2], exp(3.0), 1e-3 * exp(3.0));
    /* Temperature flattens. */
    g_assert_cmpuint(tt_softmax(lg, 4, 10.0f, q), ==, 1);
    g_assert_cmpfloat(q[1], <, p[1]);
    g_assert_cmpfloat_with_epsilon(q[0] / q[2], exp(0.3), 1e-4);
    /* Stable with huge logits. */
    const float big[3] = { 1000.0f, 1001.0f, -1000.0f };
    g_assert_cmpuint(tt_softmax(big, 3, 1.0f, p), ==, 1);
    g_assert_cmpfloat_with_epsilon(p[1], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    g_assert_cmpfloat(p[2], ==, 0.0f);
    /* argmax without probs */
    g_assert_cmpuint(tt_softmax(big, 3, 1.0f, NULL), ==, 1);
}

TT_TEST("/nn/gemm", test_gemm)
{
    uint64_t st = 5;
    const int m = 7, n = 5, k = 9;
    float a[9 * 9], b[9 * 9], c0[7 * 5], c[7 * 5];
    for (int i = 0; i < 81; i++) {
        a[i] = (float)tt_rng_normal(&st);
        b[i] = (float)tt_rng_normal(&st);
    }
    for (int i = 0; i < m * n; i++)
        c0[i] = (float)tt_rng_normal(&st);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = ta ? m + 1 : k + 1, ldb = tb ? k : n + 2;
            memcpy(c, c0, sizeof c);
            tt_gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    double want = 0.5 * s + 2.0 * c0[i * n + j];
                    g_assert_cmpfloat_with_epsilon(c[i * n + j], want, 1e-4);
                }
        }
}

TT_TEST("/nn/adam", test_adam)
{
    tt_adam opt;
    tt_adam_init(&opt, 2, 0.1f);
    g_assert_cmpfloat(opt.beta1, ==, 0.9f);
    g_assert_cmpfloat(opt.beta2, ==, 0.999f);
    opt.weight_decay = 0.01f;
    float p[2] = { 1.0f, -2.0f };
    const float g[2] = { 0.25f, -1.0f };
    tt_adam_step(&opt, p, g, 2.0f);          /* effective grads 0.5, -2 */
    /* Step 1: mhat = g, vhat = g^2 -> update = lr * sign(g). */
    g_assert_cmpfloat_with_epsilon(p[0], 1.0 * (1 - 0.001) - 0.1, 1e-6);
    g_assert_cmpfloat_with_epsilon(p[1], -2.0 * (1 - 0.001) + 0.1, 1e-6);
    g_assert_cmpuint(opt.t, ==, 1);
    /* Step 2 with grad 0: m = 0.9*0.1*g1, v = 0.999*0.001*g1^2. */
    const float z[2] = { 0, 0 };
    float p0 = p[0];
    tt_adam_step(&opt, p, z, 1.0f);
    double m = 0.9 * 0.1 * 0.5 / (1 - 0.81), v = 0.999 * 0.001 * 0.25 / (1 - 0.999 * 0.999);
    g_assert_cmpfloat_with_epsilon(p[0], p0 * (1 - 0.001) - 0.1 * m / (sqrt(v) + 1e-8), 1e-6);
    tt_adam_clear(&opt);
    g_assert_null(opt.m);
}

/* ------------------------------------------------------------------------ */
/* Sparse vs dense                                                          */

TT_TEST("/nn/sparse-vs-dense/flowpic", test_svd_flowpic)
{
    tt_net *net = stock_net(tt_layers_flowpic, 5, 1500);
    init_random(net, 11, 0.1);
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = 1;
    const size_t sizes[] = { 10, 1000, 20000 };   /* delta conv twice, then the dense fallback */
    check_random_pictures(net, ws, sizes, G_N_ELEMENTS(sizes), &st);
    tt_ws_free(ws);
    tt_net_free(net);
}

static void corner_pixels(uint32_t h, uint32_t w, tt_pixel *px, size_t *n)
{
    const uint32_t rc[][2] = { { 0, 0 }, { 0, w - 1 }, { h - 1, 0 }, { h - 1, w - 1 }, { 0, w / 2 },
                               { h - 1, w / 3 }, { h / 2, 0 }, { h / 3, w - 1 }, { 1, 1 }, { h - 2, w - 2 } };
    for (size_t i = 0; i < G_N_ELEMENTS(rc); i++) {
        px[i].idx = rc[i][0] * w + rc[i][1];
        px[i].v = (float)(1 + i % 3);
    }
    *n = G_N_ELEMENTS(rc);
}

TT_TEST("/nn/sparse-vs-dense/borders", test_svd_borders)
{
    tt_pixel px[16];
    size_t n;
    /* paper net at 1500 and 100, LeNet at 32 */
    const uint32_t sides[] = { 1500, 100 };
    for (size_t s = 0; s < G_N_ELEMENTS(sides); s++) {
        tt_net *net = stock_net(tt_layers_flowpic, 3, sides[s]);
        init_random(net, 3 + s, 0.05);
        tt_ws *ws = tt_ws_new(net);
        corner_pixels(sides[s], sides[s], px, &n);
        check_sparse_dense(net, ws, px, n);
        /* each corner alone */
        for (size_t i = 0; i < 4; i++)
            check_sparse_dense(net, ws, px + i, 1);
        tt_ws_free(ws);
        tt_net_free(net);
    }
    tt_net *net = stock_net(tt_layers_lenet, 4, 32);
    init_random(net, 9, 0.05);
    tt_ws *ws = tt_ws_new(net);
    corner_pixels(32, 32, px, &n);
    check_sparse_dense(net, ws, px, n);
    tt_ws_free(ws);
    tt_net_free(net);
}

/* Many random pictures of every density through one net. */
static void svd_many(tt_net *net, gboolean unit, int reps)
{
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = 77;
    size_t hw = (size_t)net->in_h * net->in_w;
    for (int r = 0; r < reps; r++) {
        size_t n = r == 0 ? 0 : 1 + (size_t)(pow(tt_rng_uniform(&st), 2.0) * (double)hw);
        if (r == 1)
            n = hw;
        tt_pixel *px = random_pixels(net->in_h, net->in_w, n, unit, &st);
        float ls[TT_MAX_CLASSES], ld[TT_MAX_CLASSES];
        float *d = dense_of(net->in_h, net->in_w, px, n);
        tt_net_forward_dense(net, ws, d, ld);
        check_sparse_dense(net, ws, px, n);
        tt_net_forward_sparse(net, ws, px, n, ls);
        /* pixel order does not matter */
        for (size_t i = n; i > 1; i--) {
            size_t j = tt_rng_next(&st) % i;
            tt_pixel t = px[i - 1]; px[i - 1] = px[j]; px[j] = t;
        }
        float ls2[TT_MAX_CLASSES];
        tt_net_forward_sparse(net, ws, px, n, ls2);
        g_assert_cmpfloat(rel_diff(ls2, ld, net->n_out), <=, 1e-5);
        g_free(d);
        g_free(px);
    }
    tt_ws_free(ws);
}

TT_TEST("/nn/sparse-vs-dense/small", test_svd_small)
{
    tt_net *net = stock_net(tt_layers_flowpic, 5, 100);
    g_assert_cmpuint(net->layers[3].out_h, ==, 2);
    init_random(net, 21, 0.1);
    svd_many(net, FALSE, 40);
    tt_net_free(net);
    /* 150 x 150: conv2 output 5 x 5 */
    net = stock_net(tt_layers_flowpic, 5, 150);
    init_random(net, 22, 0.1);
    svd_many(net, FALSE, 20);
    tt_net_free(net);
}

TT_TEST("/nn/sparse-vs-dense/lenet", test_svd_lenet)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t nl = tt_layers_lenet(ls, 6);
    const uint32_t sides[] = { 32, 64 };
    for (size_t s = 0; s < 2; s++) {
        tt_net *net = make_net(sides[s], sides[s], ls, nl);
        init_random(net, 30 + s, 0.1);
        svd_many(net, TRUE, 30);
        tt_net_free(net);
    }
    /* on the sequence picture: 64 rows x 32 packets, a 4 x 2 first pool */
    nl = tt_layers_lenet_sequence(ls, 5);
    tt_net *net = make_net(64, 32, ls, nl);
    g_assert_cmpuint(net->layers[2].out_h, ==, 16);
    g_assert_cmpuint(net->layers[2].out_w, ==, 16);
    init_random(net, 33, 0.1);
    svd_many(net, TRUE, 30);
    tt_net_free(net);
}

/* Unusual layer lists: the sparse path must handle them (densifying where needed). */
TT_TEST("/nn/sparse-vs-dense/generic", test_svd_generic)
{
    const tt_layer a[] = { CONV(3, 3, 3, 1, 1, 1, 1, 1, 1), DENSE(4) };                      /* conv -> dense */
    const tt_layer b[] = { CONV(3, 4, 3, 2, 1, 0, 2, 1, 0), CONV(5, 3, 2, 1, 2, 1, 0, 0, 1), DENSE(3) }; /* conv -> conv */
    const tt_layer c[] = { CONV(4, 3, 3, 1, 1, 0, 0, 0, 0), POOL(3, 2, 2, 1), RELU(), DROP(0.3f),
                           CONV(2, 2, 2, 2, 2, 1, 1, 1, 1), RELU(), DENSE(3) };                  /* pool before relu */
    const tt_layer d[] = { DENSE(5), RELU(), DENSE(2) };                                      /* no conv */
    const tt_layer e[] = { POOL(2, 2, 2, 2), CONV(2, 3, 3, 1, 1, 1, 1, 1, 1), DENSE(2) };     /* pool first */
    const tt_layer f[] = { CONV(2, 5, 5, 1, 1, 0, 0, 0, 0), RELU(), POOL(2, 2, 1, 1), POOL(2, 2, 2, 2),
                           CONV(3, 3, 3, 1, 1, 2, 2, 2, 2), RELU(), POOL(2, 2, 2, 2), DENSE(3) }; /* two pools, wide pad */
    const tt_layer g[] = { CONV(4, 3, 3, 2, 2, 3, 3, 3, 3), RELU(), POOL(2, 2, 2, 2), DENSE(8), RELU(), DENSE(2) };
    /* delta dense behind overlapping pool windows, relu after the pool, dropout */
    const tt_layer h[] = { CONV(4, 3, 3, 2, 2, 1, 1, 1, 1), RELU(), POOL(2, 2, 1, 1), CONV(9, 3, 2, 1, 1, 1, 0, 1, 1),
                           POOL(3, 2, 2, 1), RELU(), DROP(0.2f), DENSE(70), RELU(), DENSE(3) };
    struct { const tt_layer *ls; uint32_t n; } nets[] = {
        { a, G_N_ELEMENTS(a) }, { b, G_N_ELEMENTS(b) }, { c, G_N_ELEMENTS(c) }, { d, G_N_ELEMENTS(d) },
        { e, G_N_ELEMENTS(e) }, { f, G_N_ELEMENTS(f) }, { g, G_N_ELEMENTS(g) }, { h, G_N_ELEMENTS(h) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(nets); i++) {
        tt_net *net = make_net(17, 19, nets[i].ls, nets[i].n);
        init_random(net, 40 + i, 0.3);
        svd_many(net, FALSE, 25);
        /* Without tt_net_prepare (no cache) the sparse path still agrees. */
        tt_net_init_params(net, 50 + i);
        svd_many(net, FALSE, 5);
        tt_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* Direct convolutions at inference                                         */

/* Inference runs stride-1 convs directly (flat or row tiles, 1..6 filters per
 * tile, a channel-last kernel for 8 or 16 filters) and folds relu / dropout /
 * maxpool into their write-out; training keeps im2col + gemm. The two must
 * compute the same function: with no dropout, tt_net_train_one's logits are
 * an independent reference for tt_net_forward_dense. */
static void dense_matches_train(const tt_layer *ls, uint32_t nl, uint32_t h, uint32_t w, uint64_t seed)
{
    tt_net *net = make_net(h, w, ls, nl);
    init_random(net, seed, 0.2);
    tt_ws *ws = tt_ws_new(net);
    tt_ws_set_dense_train(ws, TRUE);     /* training forward: conv 0 by scatter, the rest im2col */
    float *grad = g_new0(float, net->n_params);
    uint64_t st = seed;
    for (int r = 0; r < 4; r++) {
        size_t n = r == 0 ? 1 : 1 + (size_t)(tt_rng_uniform(&st) * (double)h * w);
        tt_pixel *px = random_pixels(h, w, n, TRUE, &st);
        float *d = dense_of(h, w, px, n);
        float ld[TT_MAX_CLASSES], lt[TT_MAX_CLASSES], ls2[TT_MAX_CLASSES];
        uint64_t rng = 1;
        tt_net_forward_dense(net, ws, d, ld);
        tt_net_train_one(net, ws, px, n, 0, 1.0f, &rng, grad, lt);
        double rdiff = rel_diff(ld, lt, net->n_out);
        if (g_test_verbose())
            g_printerr("  net seed %llu n=%zu rel %.3g\n", (unsigned long long)seed, n, rdiff);
        g_assert_cmpfloat(rdiff, <=, 1e-5);
        /* and the sparse path through the same workspace */
        tt_net_forward_sparse(net, ws, px, n, ls2);
        g_assert_cmpfloat(rel_diff(ls2, lt, net->n_out), <=, 1e-5);
        g_free(d);
        g_free(px);
    }
    g_free(grad);
    tt_ws_free(ws);
    tt_net_free(net);
}

TT_TEST("/nn/direct-conv", test_direct_conv)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t nl = tt_layers_lenet(ls, 5);
    dense_matches_train(ls, nl, 32, 32, 101);
    dense_matches_train(ls, nl, 64, 64, 102);
    dense_matches_train(ls, nl, 20, 27, 103);    /* odd sizes: partial tiles */
    /* filter counts that take every tile shape: 6 (6 x 2), 12, 4 / 8 / 16 (4 x 3,
     * channel-last), 1..3 and 5, 7 (tails); pool before relu, relu after pool,
     * wide and uneven padding, a conv straight after a conv */
    const tt_layer a[] = { CONV(5, 3, 3, 1, 1, 1, 1, 1, 1), RELU(), POOL(2, 2, 2, 2), CONV(7, 3, 2, 1, 1, 0, 2, 1, 0),
                           RELU(), DENSE(3) };
    const tt_layer b[] = { CONV(12, 5, 5, 1, 1, 2, 2, 2, 2), POOL(2, 2, 2, 2), RELU(), CONV(8, 3, 3, 1, 1, 0, 0, 0, 0),
                           RELU(), POOL(2, 2, 2, 2), DENSE(9), RELU(), DENSE(2) };
    const tt_layer c[] = { CONV(1, 2, 2, 1, 1, 0, 0, 0, 0), CONV(2, 3, 3, 1, 1, 3, 1, 0, 4), RELU(),
                           CONV(3, 2, 4, 1, 1, 1, 1, 2, 2), POOL(3, 2, 2, 1), DENSE(4) };
    const tt_layer d[] = { CONV(4, 3, 3, 1, 1, 1, 1, 1, 1), RELU(), DROP(0.0f), POOL(2, 2, 2, 2),
                           CONV(16, 4, 4, 1, 1, 0, 0, 0, 0), RELU(), POOL(2, 2, 2, 2), DENSE(70), RELU(), DENSE(3) };
    const tt_layer e[] = { CONV(6, 3, 3, 1, 1, 0, 0, 0, 0), POOL(3, 3, 2, 2), CONV(16, 3, 3, 1, 1, 1, 1, 1, 1),
                           DENSE(2) };   /* a conv with no relu or pool after it, then dense */
    const tt_layer f[] = { CONV(3, 4, 4, 2, 2, 1, 2, 1, 2), RELU(), CONV(8, 3, 3, 1, 1, 1, 1, 1, 1), RELU(),
                           POOL(2, 2, 1, 1), DENSE(3) };   /* strided (im2col) conv, then a direct one */
    struct { const tt_layer *ls; uint32_t n; } nets[] = {
        { a, G_N_ELEMENTS(a) }, { b, G_N_ELEMENTS(b) }, { c, G_N_ELEMENTS(c) },
        { d, G_N_ELEMENTS(d) }, { e, G_N_ELEMENTS(e) }, { f, G_N_ELEMENTS(f) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(nets); i++) {
        dense_matches_train(nets[i].ls, nets[i].n, 21, 30, 110 + i);
        dense_matches_train(nets[i].ls, nets[i].n, 33, 17, 120 + i);
    }
}

/* A workspace keeps state made from the params (transposed weights of the
 * direct convs, compared with the params on every call; the cache of
 * tt_net_prepare for the sparse path): after the params change, a reused
 * workspace must give what a new one gives. */
TT_TEST("/nn/params-change", test_params_change)
{
    tt_layer ls[TT_MAX_LAYERS];
    const uint32_t nls[] = { tt_layers_lenet(ls, 5), 0 };
    for (int k = 0; k < 2; k++) {
        uint32_t nl = k == 0 ? nls[0] : tt_layers_flowpic(ls, 5);
        const uint32_t side = k == 0 ? 32 : 150;
        tt_net *net = make_net(side, side, ls, nl);
        tt_ws *ws = tt_ws_new(net);
        uint64_t st = 5;
        tt_pixel *px = random_pixels(side, side, 40, TRUE, &st);
        float *d = dense_of(side, side, px, 40);
        for (uint64_t seed = 1; seed <= 3; seed++) {
            init_random(net, seed, 0.2);   /* new params, tt_net_prepare */
            float a[TT_MAX_CLASSES], b[TT_MAX_CLASSES], c[TT_MAX_CLASSES], e[TT_MAX_CLASSES];
            tt_net_forward_dense(net, ws, d, a);
            tt_net_forward_sparse(net, ws, px, 40, b);
            tt_ws *fresh = tt_ws_new(net);
            tt_net_forward_dense(net, fresh, d, c);
            tt_net_forward_sparse(net, fresh, px, 40, e);
            tt_ws_free(fresh);
            for (uint32_t o = 0; o < net->n_out; o++) {
                g_assert_cmpfloat(a[o], ==, c[o]);
                g_assert_cmpfloat(b[o], ==, e[o]);
            }
            g_assert_cmpfloat(rel_diff(b, a, net->n_out), <=, 1e-5);
        }
        g_free(d);
        g_free(px);
        tt_ws_free(ws);
        tt_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* Golden values (tests/reference/golden.py)                                */

static void small_golden_layers(tt_layer *ls, uint32_t *n)
{
    const tt_layer a[] = {
        CONV(3, 4, 3, 2, 1, 1, 2, 0, 1), RELU(), POOL(2, 3, 2, 2),
        CONV(4, 2, 3, 1, 1, 0, 1, 1, 0), RELU(), DROP(0.0f), POOL(1, 2, 1, 2),
        DENSE(7), RELU(), DENSE(3),
    };
    memcpy(ls, a, sizeof a);
    *n = G_N_ELEMENTS(a);
}

typedef struct {
    uint32_t h, w, label;
    size_t n_params, n_px;
    float *params;
    tt_pixel *px;
    double loss, logits[3];
    double *grad;
} golden;

static double *read_block(gchar ***lines, const char *name, size_t *n)
{
    gchar **l = *lines;
    while (*l && (l[0][0] == '#' || !g_str_has_prefix(*l, name)))
        l++;
    g_assert_nonnull(*l);
    gchar **kv = g_strsplit(*l, " ", 2);
    g_assert_cmpstr(kv[0], ==, name);
    *n = g_ascii_strtoull(kv[1], NULL, 10);
    g_strfreev(kv);
    l++;
    double *v = g_new(double, MAX(*n, 1));
    for (size_t i = 0; i < *n; i++, l++) {
        g_assert_nonnull(*l);
        v[i] = g_ascii_strtod(*l, NULL);
    }
    *lines = l;
    return v;
}

static void golden_load(golden *g)
{
    gchar *path = g_test_build_filename(G_TEST_DIST, "reference", "golden_small.txt", NULL);
    gchar *text = NULL;
    GError *err = NULL;
    g_file_get_contents(path, &text, NULL, &err);
    g_assert_no_error(err);
    gchar **all = g_strsplit(text, "\n", -1), **l = all;
    size_t n;
    double *v;
    /* in_h/in_w/label are "name value" lines */
    for (gchar **p = all; *p; p++) {
        if (g_str_has_prefix(*p, "in_h ")) g->h = (uint32_t)atoi(*p + 5);
        if (g_str_has_prefix(*p, "in_w ")) g->w = (uint32_t)atoi(*p + 5);
        if (g_str_has_prefix(*p, "label ")) g->label = (uint32_t)atoi(*p + 6);
    }
    l = all;
    v = read_block(&l, "params", &g->n_params);
    g->params = g_new(float, g->n_params);
    for (size_t i = 0; i < g->n_params; i++)
        g->params[i] = (float)v[i];
    g_free(v);
    /* pixels: "idx value" lines */
    while (*l && !g_str_has_prefix(*l, "pixels "))
        l++;
    g_assert_nonnull(*l);
    g->n_px = g_ascii_strtoull(*l + 7, NULL, 10);
    l++;
    g->px = g_new(tt_pixel, g->n_px);
    for (size_t i = 0; i < g->n_px; i++, l++) {
        gchar *end;
        g->px[i].idx = (uint32_t)g_ascii_strtoull(*l, &end, 10);
        g->px[i].v = (float)g_ascii_strtod(end, NULL);
    }
    v = read_block(&l, "loss", &n);
    g_assert_cmpuint(n, ==, 1);
    g->loss = v[0];
    g_free(v);
    v = read_block(&l, "logits", &n);
    g_assert_cmpuint(n, ==, 3);
    memcpy(g->logits, v, sizeof g->logits);
    g_free(v);
    g->grad = read_block(&l, "grad", &n);
    g_assert_cmpuint(n, ==, g->n_params);
    g_strfreev(all);
    g_free(text);
    g_free(path);
}

/* |c - ref| <= 1e-5 |ref|, or, for values tiny next to the largest of their
 * kind (scale), <= 1e-6 * scale (float accumulation of cancelling terms). */
static void assert_close(const char *what, size_t i, double c, double ref, double scale)
{
    double d = fabs(c - ref);
    if (g_test_verbose() && d > 1e-7 * fabs(ref))
        g_printerr("  %s[%zu]: %.9g vs %.9g rel %.3g abs %.3g\n", what, i, c, ref, d / fabs(ref), d);
    if (!(d <= 1e-5 * fabs(ref) || d <= 1e-6 * scale)) {
        g_printerr("%s[%zu]: C %.9g reference %.9g (diff %.3g)\n", what, i, c, ref, d);
        g_assert_not_reached();
    }
}

TT_TEST("/nn/golden", test_golden)
{
    golden g;
    memset(&g, 0, sizeof g);
    golden_load(&g);
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t nl;
    small_golden_layers(ls, &nl);
    tt_net *net = make_net(g.h, g.w, ls, nl);
    g_assert_cmpuint(net->n_params, ==, g.n_params);
    g_assert_cmpuint(net->n_out, ==, 3);
    memcpy(net->params, g.params, g.n_params * sizeof(float));
    tt_net_prepare(net);
    tt_ws *ws = tt_ws_new(net);

    float lg[3];
    float *d = dense_of(g.h, g.w, g.px, g.n_px);
    tt_net_forward_dense(net, ws, d, lg);
    for (int k = 0; k < 3; k++)
        assert_close("dense logits", k, lg[k], g.logits[k], 0);
    tt_net_forward_sparse(net, ws, g.px, g.n_px, lg);
    for (int k = 0; k < 3; k++)
        assert_close("sparse logits", k, lg[k], g.logits[k], 0);

    float *grad = g_new0(float, g.n_params);
    uint64_t st = 1;
    size_t nonzero = 0;
    double gmax = 0;
    for (size_t i = 0; i < g.n_params; i++) {
        gmax = MAX(gmax, fabs(g.grad[i]));
        nonzero += g.grad[i] != 0.0;
    }
    g_assert_cmpuint(nonzero, >, g.n_params / 2);
    /* Every training path: sparse maps + delta conv, sparse maps + sgemm conv,
     * dense conv 0 output. */
    for (int way = 0; way < 3; way++) {
        tt_ws_set_sparse_cost(ws, 0.0, way == 0 ? 0.0 : INFINITY);
        tt_ws_set_dense_train(ws, way == 2);
        memset(grad, 0, g.n_params * sizeof(float));
        float loss = tt_net_train_one(net, ws, g.px, g.n_px, g.label, 1.0f, &st, grad, lg);
        assert_close("loss", 0, loss, g.loss, 0);
        for (int k = 0; k < 3; k++)
            assert_close("train logits", k, lg[k], g.logits[k], 0);
        for (size_t i = 0; i < g.n_params; i++)
            assert_close("grad", i, grad[i], g.grad[i], gmax);
    }
    tt_ws_set_sparse_cost(ws, -1, -1);
    tt_ws_set_dense_train(ws, FALSE);
    /* Gradients are ADDED, scaled by the weight. */
    float loss2 = tt_net_train_one(net, ws, g.px, g.n_px, g.label, 0.5f, &st, grad, NULL);
    assert_close("weighted loss", 0, loss2, 0.5 * g.loss, 0);
    for (size_t i = 0; i < g.n_params; i++)
        assert_close("accumulated grad", i, grad[i], 1.5 * g.grad[i], 1.5 * gmax);
    g_free(grad);
    g_free(d);
    tt_ws_free(ws);
    tt_net_free(net);
    g_free(g.params);
    g_free(g.px);
    g_free(g.grad);
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                       */

static double loss_at(tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t label, uint64_t rng)
{
    float *scratch = g_new0(float, net->n_params);
    float l = tt_net_train_one(net, ws, px, n, label, 1.0f, &rng, scratch, NULL);
    g_free(scratch);
    return l;
}

static void gradcheck(const tt_layer *ls, uint32_t nl, uint32_t h, uint32_t w, uint64_t seed, double delta_cost)
{
    tt_net *net = make_net(h, w, ls, nl);
    init_random(net, seed, 0.2);
    tt_ws *ws = tt_ws_new(net);
    tt_ws_set_sparse_cost(ws, 0.0, delta_cost);
    uint64_t st = seed;
    size_t n = (size_t)h * w / 2;
    tt_pixel *px = random_pixels(h, w, n, FALSE, &st);
    for (size_t i = 0; i < n; i++)
        px[i].v *= 0.3f;
    const uint32_t label = 1;
    const uint64_t rng = 12345;      /* the same dropout mask at every evaluation */
    float *grad = g_new0(float, net->n_params);
    uint64_t r = rng;
    tt_net_train_one(net, ws, px, n, label, 1.0f, &r, grad, NULL);
    gboolean dropout = FALSE;
    for (uint32_t i = 0; i < nl; i++)
        dropout |= ls[i].kind == TT_LAYER_DROPOUT && ls[i].rate > 0.0f;
    if (dropout)
        g_assert_cmpuint(r, !=, rng);   /* dropout consumed random numbers */
    else
        g_assert_cmpuint(r, ==, rng);

    const float eps = 1e-3f;
    for (uint32_t li = 0; li < net->n_layers; li++) {
        const tt_layer *l = &net->layers[li];
        if (l->n_w == 0)
            continue;
        for (int blk = 0; blk < 2; blk++) {
            size_t off = blk ? l->b_off : l->w_off, cnt = blk ? l->n_b : l->n_w;
            double max_an = 0, worst = 0;
            for (size_t k = 0; k < cnt; k++) {
                float *p = net->params + off + k, save = *p;
                *p = save + eps;
                double lp = loss_at(net, ws, px, n, label, rng);
                *p = save - eps;
                double lm = loss_at(net, ws, px, n, label, rng);
                *p = save;
                double fd = (lp - lm) / (2.0 * eps), an = grad[off + k];
                /* float forward: the loss is good to ~1e-7, so the difference
                 * quotient to ~1e-4; 1e-2 relative beyond that. */
                double err = fabs(fd - an) / (1e-2 * (fabs(fd) + fabs(an)) + 5e-4);
                max_an = MAX(max_an, fabs(an));
                worst = MAX(worst, err);
                if (err > 1.0)
                    g_printerr("layer %u %s[%zu]: analytic %.6g numeric %.6g\n", li, blk ? "b" : "W", k, an, fd);
                g_assert_cmpfloat(err, <=, 1.0);
            }
            if (g_test_verbose())
                g_printerr("  layer %u %s: %zu values, max |grad| %.3g, worst error / tolerance %.3g\n", li,
                           blk ? "b" : "W", cnt, max_an, worst);
            g_assert_cmpfloat(max_an, >, 1e-3);   /* the block is really exercised */
        }
    }
    g_free(grad);
    g_free(px);
    tt_ws_free(ws);
    tt_net_free(net);
}

TT_TEST("/nn/gradcheck", test_gradcheck)
{
    /* Every layer kind, dropout with a fixed mask, asymmetric padding and strides. */
    const tt_layer a[] = {
        CONV(3, 4, 3, 2, 1, 1, 2, 0, 1), RELU(), POOL(2, 3, 2, 2),
        CONV(4, 2, 3, 1, 1, 0, 1, 1, 0), RELU(), DROP(0.3f), POOL(1, 2, 1, 2),
        DENSE(7), RELU(), DROP(0.2f), DENSE(3),
    };
    gradcheck(a, G_N_ELEMENTS(a), 11, 13, 8, 0.0);
    gradcheck(a, G_N_ELEMENTS(a), 11, 13, 8, INFINITY);
    /* A dense-first net (input path through a densified picture) and conv -> conv. */
    const tt_layer b[] = { DENSE(6), RELU(), DENSE(3) };
    gradcheck(b, G_N_ELEMENTS(b), 5, 4, 4, 0.0);
    gradcheck(b, G_N_ELEMENTS(b), 5, 4, 4, INFINITY);
    const tt_layer c[] = { CONV(2, 3, 3, 1, 1, 1, 1, 1, 1), CONV(3, 3, 2, 2, 1, 0, 1, 1, 0), RELU(),
                           DENSE(3) };
    gradcheck(c, G_N_ELEMENTS(c), 7, 6, 5, 0.0);
    gradcheck(c, G_N_ELEMENTS(c), 7, 6, 5, INFINITY);
    /* Dropout between the first two parametrised layers: the dense conv 0 training path. */
    const tt_layer d[] = { CONV(3, 3, 3, 1, 1, 1, 1, 1, 1), RELU(), DROP(0.3f), POOL(2, 2, 2, 2),
                           CONV(2, 2, 2, 1, 1, 0, 0, 0, 0), RELU(), DENSE(3) };
    gradcheck(d, G_N_ELEMENTS(d), 8, 9, 16, 0.0);
    gradcheck(d, G_N_ELEMENTS(d), 8, 9, 16, INFINITY);
    /* Overlapping pool windows, pool before relu, two pools. */
    const tt_layer e[] = { CONV(3, 3, 2, 1, 2, 0, 1, 1, 1), POOL(2, 2, 1, 1), RELU(), POOL(2, 2, 2, 2),
                           DENSE(4), RELU(), DENSE(3) };
    gradcheck(e, G_N_ELEMENTS(e), 10, 11, 7, 0.0);
    gradcheck(e, G_N_ELEMENTS(e), 10, 11, 7, INFINITY);
}


/* The sparse-map training path and the dense one give the same loss and gradients. */
static void train_paths_agree(const tt_layer *ls, uint32_t nl, uint32_t h, uint32_t w, size_t npx, uint64_t seed,
                              double delta_cost)
{
    tt_net *net = make_net(h, w, ls, nl);
    init_random(net, seed, 0.1);
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = seed;
    tt_pixel *px = random_pixels(h, w, npx, FALSE, &st);
    float *g1 = g_new0(float, net->n_params), *g2 = g_new0(float, net->n_params);
    float lg1[TT_MAX_CLASSES], lg2[TT_MAX_CLASSES];
    uint64_t r1 = 9, r2 = 9;
    tt_ws_set_sparse_cost(ws, 0.0, delta_cost);
    float l1 = tt_net_train_one(net, ws, px, npx, 0, 0.7f, &r1, g1, lg1);
    tt_ws_set_dense_train(ws, TRUE);
    float l2 = tt_net_train_one(net, ws, px, npx, 0, 0.7f, &r2, g2, lg2);
    g_assert_cmpuint(r1, ==, r2);
    g_assert_cmpfloat(fabs(l1 - l2), <=, 1e-5 * fabs(l2) + 1e-7);
    g_assert_cmpfloat(rel_diff(lg1, lg2, net->n_out), <=, 1e-5);
    for (uint32_t i = 0; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->n_w == 0)
            continue;
        double rw = rel_diff(g1 + l->w_off, g2 + l->w_off, (uint32_t)l->n_w);
        double rb = rel_diff(g1 + l->b_off, g2 + l->b_off, (uint32_t)l->n_b);
        if (g_test_verbose())
            g_printerr("  layer %u: dW rel %.3g db rel %.3g\n", i, rw, rb);
        g_assert_cmpfloat(rw, <=, 1e-4);
        g_assert_cmpfloat(rb, <=, 1e-4);
    }
    g_free(g1);
    g_free(g2);
    g_free(px);
    tt_ws_free(ws);
    tt_net_free(net);
}

TT_TEST("/nn/train/sparse-vs-dense", test_train_paths)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t nl = tt_layers_flowpic(ls, 4);
    /* dropout rates 0 so both paths draw nothing and compute the same function */
    for (uint32_t i = 0; i < nl; i++)
        if (ls[i].kind == TT_LAYER_DROPOUT)
            ls[i].rate = 0.0f;
    train_paths_agree(ls, nl, 100, 100, 300, 1, 0.0);
    train_paths_agree(ls, nl, 100, 100, 300, 1, INFINITY);
    train_paths_agree(ls, nl, 150, 150, 5000, 2, 0.0);
    train_paths_agree(ls, nl, 150, 150, 5000, 2, INFINITY);
    nl = tt_layers_lenet(ls, 4);
    train_paths_agree(ls, nl, 32, 32, 200, 3, 0.0);
    train_paths_agree(ls, nl, 32, 32, 200, 3, INFINITY);
    const tt_layer e[] = { CONV(3, 3, 2, 1, 2, 0, 1, 1, 1), POOL(2, 2, 1, 1), RELU(), POOL(2, 2, 2, 2),
                           DENSE(4), RELU(), DENSE(3) };
    train_paths_agree(e, G_N_ELEMENTS(e), 10, 11, 40, 4, 0.0);
    train_paths_agree(e, G_N_ELEMENTS(e), 10, 11, 40, 4, INFINITY);
}

/* Inverted dropout: training-mode logits average to the inference logits,
 * the mask changes from call to call and is reproducible from the state. */
TT_TEST("/nn/dropout", test_dropout)
{
    const tt_layer ls[] = { DENSE(40), RELU(), DROP(0.5f), DENSE(2) };
    tt_net *net = make_net(3, 4, ls, G_N_ELEMENTS(ls));
    init_random(net, 5, 0.5);
    tt_ws *ws = tt_ws_new(net);
    const tt_pixel px[] = { { 0, 1.0f }, { 5, 2.0f }, { 11, 0.5f } };
    float ref[2], lg[2], first[2], again[2];
    tt_net_forward_sparse(net, ws, px, 3, ref);
    float *grad = g_new0(float, net->n_params);
    double mean[2] = { 0, 0 };
    uint64_t st = 77, st0 = 77;
    const int N = 4000;
    gboolean differs = FALSE;
    for (int i = 0; i < N; i++) {
        tt_net_train_one(net, ws, px, 3, 0, 1.0f, &st, grad, lg);
        if (i == 0)
            memcpy(first, lg, sizeof lg);
        differs |= lg[0] != first[0];
        mean[0] += lg[0] / N;
        mean[1] += lg[1] / N;
    }
    g_assert_true(differs);
    tt_net_train_one(net, ws, px, 3, 0, 1.0f, &st0, grad, again);
    g_assert_cmpmem(first, sizeof first, again, sizeof again);
    for (int k = 0; k < 2; k++)
        g_assert_cmpfloat(fabs(mean[k] - ref[k]), <=, 0.05 * (fabs(ref[0]) + fabs(ref[1])));
    g_free(grad);
    tt_ws_free(ws);
    tt_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */

/* 16 x 16 pictures of a horizontal (label 0) or vertical (label 1) line. */
static tt_pixel *line_picture(uint64_t *st, uint32_t *label, size_t *n)
{
    tt_pixel *px = g_new(tt_pixel, 16);
    *label = (uint32_t)(tt_rng_next(st) & 1);
    uint32_t pos = (uint32_t)(tt_rng_next(st) % 16);
    uint32_t len = 4 + (uint32_t)(tt_rng_next(st) % 9);
    uint32_t start = (uint32_t)(tt_rng_next(st) % (17 - len));
    for (uint32_t i = 0; i < len; i++) {
        uint32_t r = *label ? start + i : pos, c = *label ? pos : start + i;
        px[i].idx = r * 16 + c;
        px[i].v = (float)(1 + tt_rng_next(st) % 3);
    }
    *n = len;
    return px;
}

static const tt_layer toy_layers[] = {
    CONV(4, 3, 3, 1, 1, 1, 1, 1, 1), RELU(), POOL(2, 2, 2, 2),
    CONV(8, 3, 3, 1, 1, 0, 0, 0, 0), RELU(), DROP(0.1f), POOL(2, 2, 2, 2),
    DENSE(16), RELU(), DROP(0.2f), DENSE(2),
};

/* Train from a seed; returns the net and its train accuracy. */
static tt_net *train_toy(uint64_t seed, double *acc)
{
    tt_net *net = make_net(16, 16, toy_layers, G_N_ELEMENTS(toy_layers));
    tt_net_init_params(net, seed);
    enum { N = 96, BATCH = 8, EPOCHS = 25 };
    tt_pixel *px[N];
    size_t np[N];
    uint32_t lab[N];
    uint64_t data = 99;
    for (int i = 0; i < N; i++)
        px[i] = line_picture(&data, &lab[i], &np[i]);
    tt_ws *ws = tt_ws_new(net);
    tt_adam opt;
    tt_adam_init(&opt, net->n_params, 3e-3f);
    float *grad = g_new0(float, net->n_params);
    uint64_t drop = seed + 1, shuf = seed + 2;
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int e = 0; e < EPOCHS; e++) {
        for (int i = N; i > 1; i--) {
            int j = (int)(tt_rng_next(&shuf) % (uint64_t)i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (int b = 0; b < N; b += BATCH) {
            memset(grad, 0, net->n_params * sizeof(float));
            for (int k = b; k < b + BATCH; k++) {
                float l = tt_net_train_one(net, ws, px[order[k]], np[order[k]], lab[order[k]], 1.0f, &drop,
                                           grad, NULL);
                g_assert_true(isfinite(l));
            }
            tt_adam_step(&opt, net->params, grad, 1.0f / BATCH);
        }
    }
    tt_net_prepare(net);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        float lg[2];
        tt_net_forward_sparse(net, ws, px[i], np[i], lg);
        ok += tt_softmax(lg, 2, 1.0f, NULL) == lab[i];
        g_free(px[i]);
    }
    *acc = (double)ok / N;
    g_free(grad);
    tt_adam_clear(&opt);
    tt_ws_free(ws);
    return net;
}

TT_TEST("/nn/train/lines", test_train_lines)
{
    double acc0 = 0, acc1 = 0, acc2 = 0;
    tt_net *a = train_toy(7, &acc0);
    if (g_test_verbose())
        g_printerr("  train accuracy %.3f\n", acc0);
    g_assert_cmpfloat(acc0, >, 0.99);
    /* Same seed: bit-identical parameters. */
    tt_net *b = train_toy(7, &acc1);
    g_assert_cmpmem(a->params, a->n_params * sizeof(float), b->params, b->n_params * sizeof(float));
    /* Another seed: different parameters (the comparison above can fail). */
    tt_net *c = train_toy(8, &acc2);
    g_assert_true(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0);
    tt_net_free(a);
    tt_net_free(b);
    tt_net_free(c);
}

/* Training on the full paper net runs and lowers the loss of a picture. */
TT_TEST("/nn/train/flowpic", test_train_flowpic)
{
    tt_net *net = stock_net(tt_layers_flowpic, 5, 1500);
    tt_net_init_params(net, 1);
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = 3;
    tt_pixel *px = random_pixels(1500, 1500, 300, FALSE, &st);
    float *grad = g_new0(float, net->n_params);
    tt_adam opt;
    tt_adam_init(&opt, net->n_params, 1e-3f);
    uint64_t drop = 5;
    float first = 0, last = 0;
    float lg[5], ld[5];
    for (int it = 0; it < 10; it++) {
        memset(grad, 0, net->n_params * sizeof(float));
        last = tt_net_train_one(net, ws, px, 300, 2, 1.0f, &drop, grad, lg);
        g_assert_true(isfinite(last));
        if (it == 0)
            first = last;
        tt_adam_step(&opt, net->params, grad, 1.0f);
    }
    g_assert_cmpfloat(last, <, first);
    /* After training, sparse and dense inference still agree (cache rebuilt). */
    tt_net_prepare(net);
    float *d = dense_of(1500, 1500, px, 300);
    tt_net_forward_sparse(net, ws, px, 300, lg);
    tt_net_forward_dense(net, ws, d, ld);
    g_assert_cmpfloat(rel_diff(lg, ld, 5), <=, 1e-5);
    g_assert_cmpuint(tt_softmax(ld, 5, 1.0f, NULL), ==, 2);
    g_free(d);
    g_free(grad);
    g_free(px);
    tt_adam_clear(&opt);
    tt_ws_free(ws);
    tt_net_free(net);
}

/* Misuse is reported (g_critical) and changes nothing; it never aborts by itself. */
TT_TEST("/nn/misuse", test_misuse)
{
    const tt_layer a[] = { CONV(2, 3, 3, 1, 1, 1, 1, 1, 1), DENSE(3) };
    const tt_layer b[] = { DENSE(3) };
    tt_net *na = make_net(8, 8, a, 2), *nb = make_net(8, 8, b, 1);
    tt_ws *wb = tt_ws_new(nb);
    const tt_pixel px[] = { { 3, 1.0f } };
    float lg[3] = { 7, 7, 7 };
    g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*another net*");
    tt_net_forward_sparse(na, wb, px, 1, lg);
    g_test_assert_expected_messages();
    g_assert_cmpfloat(lg[0], ==, 7.0f);
    tt_ws *wa = tt_ws_new(na);
    float *grad = g_new0(float, na->n_params);
    uint64_t st = 1;
    g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*label < net->n_out*");
    g_assert_true(isnan(tt_net_train_one(na, wa, px, 1, 3, 1.0f, &st, grad, NULL)));
    g_test_assert_expected_messages();
    g_assert_cmpuint(st, ==, 1);
    /* out-of-range pixel indices are ignored by both paths */
    const tt_pixel bad[] = { { 3, 1.0f }, { 64, 5.0f }, { 0xFFFFFFFFu, 2.0f } };
    float l1[3], l2[3];
    tt_net_init_params(na, 3);
    tt_net_prepare(na);
    tt_net_forward_sparse(na, wa, bad, 3, l1);
    tt_net_forward_sparse(na, wa, px, 1, l2);
    g_assert_cmpmem(l1, sizeof l1, l2, sizeof l2);
    g_free(grad);
    tt_ws_free(wa);
    tt_ws_free(wb);
    tt_net_free(na);
    tt_net_free(nb);
}

/* ------------------------------------------------------------------------ */
/* Layer kinds                                                              */

/* A net with a layer of the given kind between its two convolutions: the
 * spot where the sparse paths run the layers on maps. Generic fields, so any
 * kind with a valid shape there fits (pool 2x2 / 2, dropout rate 0 so the
 * training paths draw nothing). */
static uint32_t net_with_middle(uint32_t kind, tt_layer *ls)
{
    const tt_layer l[] = { CONV(4, 5, 5, 3, 3, 2, 2, 2, 2), L_(kind, 4, 2, 2, 2, 2, 0, 0, 0, 0, 0.0f),
                           CONV(6, 3, 3, 2, 2, 1, 1, 1, 1), RELU(), POOL(1, 1, 1, 1), DENSE(5), RELU(), DENSE(3) };
    memcpy(ls, l, sizeof l);
    return G_N_ELEMENTS(l);
}

/* Every kind the engine knows, between the convolutions, gives the same
 * logits on the sparse path (each of its ways) as on the dense path, and the
 * same gradients on both training paths: a sparse path must run the layer on
 * its maps or hand the net to the dense path, never skip it. */
static void test_kind_between_convs(gconstpointer data)
{
    const uint32_t kind = GPOINTER_TO_UINT(data);
    tt_layer ls[TT_MAX_LAYERS];
    const uint32_t nl = net_with_middle(kind, ls);
    tt_net *net = make_net(40, 40, ls, nl);
    init_random(net, 11, 0.3);
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = 5;
    const size_t counts[] = { 1, 10, 100, 800 };
    check_random_pictures(net, ws, counts, G_N_ELEMENTS(counts), &st);
    tt_ws_free(ws);
    tt_net_free(net);
    train_paths_agree(ls, nl, 40, 40, 60, 6, 0.0);
    train_paths_agree(ls, nl, 40, 40, 60, 6, INFINITY);
}

/* Layer `at` of net made unknown (kind 77): every way of inference (sparse
 * by default, sparse with conv 0 dense, dense) and of training (conv 0 and
 * the chain on maps, conv 0 dense) refuses the net with a critical warning,
 * logits untouched, NAN and the RNG not advanced; tt_net_check says why. */
static void refused_everywhere(tt_net *net, tt_ws *ws, uint32_t at, const tt_pixel *px, size_t n)
{
    const uint32_t kind = net->layers[at].kind;
    net->layers[at].kind = 77;
    char *msg = g_strdup_printf("layer %u: unknown kind 77", at), *pattern = g_strdup_printf("*%s*", msg);
    GError *err = NULL;
    g_assert_false(tt_net_check(net, &err));
    g_assert_error(err, TT_ERROR, TT_ERROR_SHAPE);
    g_assert_cmpstr(err->message, ==, msg);
    g_clear_error(&err);
    tt_net_prepare(net);                 /* builds nothing for it */
    float lg[3] = { 7, 7, 7 };
    for (int way = 0; way < 2; way++) {
        tt_ws_set_sparse_cost(ws, way ? INFINITY : -1, -1);   /* default; conv 0 dense */
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, pattern);
        tt_net_forward_sparse(net, ws, px, n, lg);
        g_test_assert_expected_messages();
        g_assert_cmpfloat(lg[0], ==, 7.0f);
    }
    tt_ws_set_sparse_cost(ws, -1, -1);
    float *d = dense_of(net->in_h, net->in_w, px, n);
    g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, pattern);
    tt_net_forward_dense(net, ws, d, lg);
    g_test_assert_expected_messages();
    g_assert_cmpfloat(lg[0], ==, 7.0f);
    float *grad = g_new0(float, net->n_params);
    for (int way = 0; way < 2; way++) {
        tt_ws_set_dense_train(ws, way == 1);                   /* maps; conv 0 dense */
        uint64_t rng = 1;
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, pattern);
        g_assert_true(isnan(tt_net_train_one(net, ws, px, n, 0, 1.0f, &rng, grad, lg)));
        g_test_assert_expected_messages();
        g_assert_cmpuint(rng, ==, 1);
        g_assert_cmpfloat(lg[0], ==, 7.0f);
    }
    tt_ws_set_dense_train(ws, FALSE);
    for (size_t k = 0; k < net->n_params; k++)
        g_assert_cmpfloat(grad[k], ==, 0.0f);
    net->layers[at].kind = kind;
    tt_net_prepare(net);
    g_free(grad);
    g_free(d);
    g_free(pattern);
    g_free(msg);
}

/* A kind the engine does not know is refused on every path: by tt_net_new
 * and tt_net_check with an error, and by inference and training (a critical
 * warning, logits untouched, NAN) instead of being skipped as identity;
 * wherever it stands: layer 0 (no conv 0 to scatter), in the chain on maps,
 * after the conv that ends it. */
TT_TEST("/nn/kind/unknown", test_kind_unknown)
{
    const uint32_t UNKNOWN = 77;
    g_assert_null(tt_layer_kind_name(UNKNOWN));
    g_assert_null(tt_layer_kind_name(0));
    g_assert_cmpstr(tt_layer_kind_name(TT_LAYER_CONV), ==, "conv");
    g_assert_cmpstr(tt_layer_kind_name(TT_LAYER_DENSE), ==, "dense");

    tt_layer ls[TT_MAX_LAYERS];
    const uint32_t nl = net_with_middle(UNKNOWN, ls);
    GError *err = NULL;
    g_assert_null(tt_net_new(40, 40, ls, nl, &err));
    g_assert_error(err, TT_ERROR, TT_ERROR_SHAPE);
    g_assert_nonnull(strstr(err->message, "layer 1: unknown kind 77"));
    g_clear_error(&err);

    /* a valid net whose layers are changed afterwards */
    net_with_middle(TT_LAYER_RELU, ls);
    tt_net *net = make_net(40, 40, ls, nl);
    init_random(net, 12, 0.3);
    tt_ws *ws = tt_ws_new(net);
    uint64_t st = 9;
    tt_pixel *px = random_pixels(40, 40, 30, FALSE, &st);
    float ref[3], lg[3], tref[3], tlg[3];
    float *grad = g_new0(float, net->n_params);
    uint64_t rng = 1;
    tt_net_forward_sparse(net, ws, px, 30, ref);
    tt_net_train_one(net, ws, px, 30, 0, 1.0f, &rng, grad, tref);
    const uint32_t at[] = { 0, 1, 3, nl - 1 };   /* conv 0, the chain, after conv j, the last dense */
    for (size_t k = 0; k < G_N_ELEMENTS(at); k++)
        refused_everywhere(net, ws, at[k], px, 30);
    /* back as it was: the same logits as before */
    tt_net_forward_sparse(net, ws, px, 30, lg);
    g_assert_cmpmem(lg, sizeof lg, ref, sizeof ref);
    rng = 1;
    tt_net_train_one(net, ws, px, 30, 0, 1.0f, &rng, grad, tlg);
    g_assert_cmpmem(tlg, sizeof tlg, tref, sizeof tref);
    g_free(grad);
    g_free(px);
    tt_ws_free(ws);
    tt_net_free(net);
}

int main(int argc, char **argv)
{
    tt_test_init(&argc, &argv);
    tt_blas_single_thread();
    for (uint32_t k = 0; k < 256; k++)
        if (tt_layer_kind_name(k)) {
            char *path = g_strdup_printf("/nn/kind/between-convs/%s", tt_layer_kind_name(k));
            g_test_add_data_func(path, GUINT_TO_POINTER(k), test_kind_between_convs);
            g_free(path);
        }
    return tt_test_run();
}
