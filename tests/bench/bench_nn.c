/* tt_bench_nn: speed of the CNN (core/nn/ (the CNN engine)), one thread.
 *
 *   tt_bench_nn [--seconds S] [--threshold] [--quick]
 *
 * Prints Markdown tables:
 *  - inference, FlowPics per second, for random blocks of 10 / 100 / 1,000 /
 *    10,000 packets (sizes spread over 1..1500, times over the whole block):
 *    the 1500x1500 paper net on the sparse path and on the dense im2col path
 *    (measured in the same run, with the ratio), and the LeNet on 32x32 / 64x64;
 *  - training (forward + backward of one picture, and the Adam step), with the
 *    time for 10,000 blocks x 20 epochs derived from it;
 *  - with --threshold: the delta-conv vs densify + dense conv crossovers.
 * The inference table times the net alone (tt_net_forward_*, logits): not
 * building the pixel list (tt_flowpic_build), not the softmax, and for the
 * dense path not rendering the dense picture; the workspace is reused, so no
 * call allocates after the first. The end-to-end table times what the plugin
 * pays per block (tt_classify_packets: packets to FlowPic, net, softmax).
 * Times are thread CPU time, best of 5 rounds. Machines are noisy: compare the
 * ratios of one run, not absolute times across runs.
 */
#include "tt_flowpic.h"
#include "tt_classify.h"
#include "tt_nn.h"
#include "tt_nn_tuning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static double g_seconds = 0.5;

/* Thread CPU time: the machine is shared, so time spent descheduled is not
 * counted; each figure is the best of ROUNDS rounds (noise only adds). */
#define ROUNDS 5
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A random block of n packets: sizes bimodal (ACK-like, MTU-like) plus a
 * uniform part over 1..1500, times uniform over the block. */
static void random_block(uint64_t *st, size_t n, double block_s, tt_pkt *pk)
{
    for (size_t i = 0; i < n; i++) {
        double u = tt_rng_uniform(st);
        uint32_t size;
        if (u < 0.40)
            size = 40 + (uint32_t)(tt_rng_next(st) % 41);
        else if (u < 0.75)
            size = 1200 + (uint32_t)(tt_rng_next(st) % 301);
        else
            size = 1 + (uint32_t)(tt_rng_next(st) % 1500);
        pk[i].size = size;
        pk[i].t = (float)(tt_rng_uniform(st) * block_s);
    }
}

typedef struct {
    size_t n;
    tt_pixel *px;
} picture;

static picture *make_pictures(const tt_spec *spec, size_t packets, int count, uint64_t seed, double *avg_px)
{
    picture *p = g_new(picture, count);
    tt_pkt *pk = g_new(tt_pkt, packets);
    uint64_t st = seed;
    double s = 0;
    for (int i = 0; i < count; i++) {
        random_block(&st, packets, spec->block_seconds, pk);
        p[i].px = g_new(tt_pixel, tt_flowpic_max_pixels(spec, packets));
        p[i].n = tt_flowpic_build(spec, pk, packets, p[i].px);
        s += (double)p[i].n;
    }
    g_free(pk);
    *avg_px = s / count;
    return p;
}

static void free_pictures(picture *p, int count)
{
    for (int i = 0; i < count; i++)
        g_free(p[i].px);
    g_free(p);
}

/* Best (over ROUNDS) seconds per call of fn(ctx, i), i = 0..count-1 round robin;
 * each round lasts at least g_seconds / ROUNDS and min_calls calls; one warm-up call. */
typedef void (*bench_fn)(void *ctx, int i);

static double time_calls(bench_fn fn, void *ctx, int count, long min_calls)
{
    fn(ctx, 0);
    double best = INFINITY;
    for (int r = 0; r < ROUNDS; r++) {
        long calls = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < count; i++)
                fn(ctx, i);
            calls += count;
            t = now();
        } while (t - t0 < g_seconds / ROUNDS || calls < min_calls);
        best = MIN(best, (t - t0) / (double)calls);
    }
    return best;
}

typedef struct {
    const tt_net *net;
    tt_ws *ws;
    const picture *p;
    float *const *d;
    float *grad;
    uint64_t rng;
    float lg[TT_MAX_CLASSES];
} net_call;

static void call_sparse(void *ctx, int i)
{
    net_call *c = ctx;
    tt_net_forward_sparse(c->net, c->ws, c->p[i].px, c->p[i].n, c->lg);
}

static void call_dense(void *ctx, int i)
{
    net_call *c = ctx;
    tt_net_forward_dense(c->net, c->ws, c->d[i], c->lg);
}

static void call_train(void *ctx, int i)
{
    net_call *c = ctx;
    tt_net_train_one(c->net, c->ws, c->p[i].px, c->p[i].n, (uint32_t)i % c->net->n_out, 1.0f, &c->rng,
                     c->grad, c->lg);
}

/* Seconds per call of the sparse forward over the pictures (round robin). */
static double time_sparse(const tt_net *net, tt_ws *ws, const picture *p, int count)
{
    net_call c = { .net = net, .ws = ws, .p = p };
    return time_calls(call_sparse, &c, count, 0);
}

static double time_dense(const tt_net *net, tt_ws *ws, float *const *d, int count, int min_calls)
{
    net_call c = { .net = net, .ws = ws, .d = d };
    return time_calls(call_dense, &c, count, min_calls);
}

/* The same pictures with the sparse/dense switches forced three ways: all
 * sparse (*sparse), sparse conv1 + dense conv2 (*mixed), all dense (*dense,
 * over the first n_dense pictures only: it is slow on big nets). */
static void time_switches(const tt_net *net, tt_ws *ws, const picture *p, int count, int n_dense,
                          double *sparse, double *mixed, double *dense)
{
    tt_ws_set_sparse_cost(ws, 0.0, 0.0);
    *sparse = time_sparse(net, ws, p, count);
    tt_ws_set_sparse_cost(ws, 0.0, INFINITY);
    *mixed = time_sparse(net, ws, p, count);
    tt_ws_set_sparse_cost(ws, INFINITY, INFINITY);
    *dense = time_sparse(net, ws, p, n_dense);
}

static double time_train(const tt_net *net, tt_ws *ws, const picture *p, int count, float *grad)
{
    net_call c = { .net = net, .ws = ws, .p = p, .grad = grad, .rng = 1 };
    return time_calls(call_train, &c, count, 0);
}

static double time_adam(tt_net *net, float *grad)
{
    tt_adam opt;
    tt_adam_init(&opt, net->n_params, 1e-6f);
    float *copy = g_memdup2(net->params, net->n_params * sizeof(float));
    double best = INFINITY;
    for (int r = 0; r < ROUNDS; r++) {
        long calls = 0;
        double t0 = now(), t;
        do {
            tt_adam_step(&opt, copy, grad, 1.0f / 128);
            calls++;
            t = now();
        } while (t - t0 < g_seconds / ROUNDS);
        best = MIN(best, (t - t0) / (double)calls);
    }
    g_free(copy);
    tt_adam_clear(&opt);
    return best;
}

static tt_net *make_net(const tt_spec *spec, gboolean paper, uint32_t classes)
{
    tt_layer ls[TT_MAX_LAYERS];
    uint32_t n = paper ? tt_layers_flowpic(ls, classes) : tt_layers_lenet(ls, classes);
    GError *err = NULL;
    tt_net *net = tt_net_new(spec->size_bins, spec->time_bins, ls, n, &err);
    if (!net) {
        fprintf(stderr, "tt_net_new: %s\n", err->message);
        exit(1);
    }
    tt_net_init_params(net, 42);
    /* small random biases so the background is not trivially zero */
    uint64_t st = 7;
    for (uint32_t i = 0; i < net->n_layers; i++)
        for (size_t k = 0; k < net->layers[i].n_b; k++)
            net->params[net->layers[i].b_off + k] = (float)(0.05 * tt_rng_normal(&st));
    tt_net_prepare(net);
    return net;
}

static float **densify(const tt_spec *spec, const picture *p, int count)
{
    float **d = g_new(float *, count);
    for (int i = 0; i < count; i++) {
        d[i] = g_new(float, (size_t)spec->size_bins * spec->time_bins);
        tt_flowpic_dense(spec, p[i].px, p[i].n, d[i]);
    }
    return d;
}

static void free_dense(float **d, int count)
{
    for (int i = 0; i < count; i++)
        g_free(d[i]);
    g_free(d);
}

/* Fraction of the paper net's pooled conv1 cells (150 x 150) a picture touches. */
static double pooled_fraction(const tt_net *net, const picture *p)
{
    const tt_layer *c = &net->layers[0], *pl = &net->layers[2];
    guint8 *mark = g_new0(guint8, (size_t)pl->out_h * pl->out_w);
    size_t cnt = 0;
    for (size_t i = 0; i < p->n; i++) {
        int64_t r = p->px[i].idx / net->in_w, col = p->px[i].idx % net->in_w;
        for (int64_t oy = 0; oy < c->out_h; oy++) {
            int64_t ky = r + c->pad_t - oy * c->sh;
            if (ky < 0 || ky >= c->kh)
                continue;
            for (int64_t ox = 0; ox < c->out_w; ox++) {
                int64_t kx = col + c->pad_l - ox * c->sw;
                if (kx < 0 || kx >= c->kw)
                    continue;
                int64_t py = oy / 2, px = ox / 2;
                if (py < pl->out_h && px < pl->out_w && !mark[py * pl->out_w + px]++)
                    cnt++;
            }
        }
    }
    g_free(mark);
    return (double)cnt / ((double)pl->out_h * pl->out_w);
}

/* Seconds per tt_classify_packets call over the blocks (round robin). */
typedef struct {
    tt_classifier *c;
    tt_pkt *const *blocks;
    size_t n;
    tt_result res;
} classify_call;

static void call_classify(void *ctx, int i)
{
    classify_call *c = ctx;
    tt_classify_packets(c->c, c->blocks[i], c->n, &c->res);
}

static double time_classify(tt_classifier *c, tt_pkt *const *blocks, size_t n, int count)
{
    classify_call cc = { .c = c, .blocks = blocks, .n = n };
    return time_calls(call_classify, &cc, count, 0);
}

/* End to end, as the plugin classifies a block: FlowPic from the packets,
 * the net (sparse path), softmax; next to the net alone on the same blocks. */
static void classify_table(void)
{
    static const char *const names[] = { "a", "b", "c", "d", "e" };
    const size_t packets[] = { 10, 100, 1000, 10000 };
    enum { N = 16 };
    printf("\n### End to end (tt_classify_packets: packets -> FlowPic -> net -> softmax), one thread\n\n");
    printf("| net | packets | classify us | classify /s | net alone us | net share |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < 3; k++) {
        tt_spec spec;
        if (k == 0)
            tt_spec_init_paper(&spec);
        else
            tt_spec_init_mini(&spec, k == 1 ? 32 : 64);
        tt_net *net = make_net(&spec, k == 0, 5);
        GError *err = NULL;
        tt_model *m = tt_model_new("bench", "category", 5, names, &spec, net, &err);
        if (!m) {
            fprintf(stderr, "tt_model_new: %s\n", err->message);
            exit(1);
        }
        tt_classifier *c = tt_classifier_new(m);
        tt_ws *ws = tt_ws_new(m->net);
        for (size_t s = 0; s < G_N_ELEMENTS(packets); s++) {
            tt_pkt *blocks[N];
            picture p[N];
            uint64_t st = 6000 + s;
            for (int i = 0; i < N; i++) {
                blocks[i] = g_new(tt_pkt, packets[s]);
                random_block(&st, packets[s], spec.block_seconds, blocks[i]);
                p[i].px = g_new(tt_pixel, tt_flowpic_max_pixels(&spec, packets[s]));
                p[i].n = tt_flowpic_build(&spec, blocks[i], packets[s], p[i].px);
            }
            const double tc = time_classify(c, blocks, packets[s], N), tn = time_sparse(m->net, ws, p, N);
            const char *label = k == 0 ? "paper 1500x1500" : k == 1 ? "LeNet 32x32" : "LeNet 64x64";
            printf("| %s | %zu | %.1f | %.0f | %.1f | %.0f%% |\n", label, packets[s], tc * 1e6, 1 / tc, tn * 1e6,
                   100 * tn / tc);
            fflush(stdout);
            for (int i = 0; i < N; i++) {
                g_free(blocks[i]);
                g_free(p[i].px);
            }
        }
        tt_ws_free(ws);
        tt_classifier_free(c);
        tt_model_free(m);
    }
}

/* Per-picture times of the three ways through the paper net, and of the LeNet. */
static void threshold_sweep(void)
{
    tt_spec spec;
    tt_spec_init_paper(&spec);
    tt_net *net = make_net(&spec, TRUE, 5);
    tt_ws *ws = tt_ws_new(net);
    const tt_layer *c2 = &net->layers[3];
    const double dense2 = (double)c2->out_h * c2->out_w * c2->kh * c2->kw * c2->in_c * c2->out_c;
    const double cell2 = 4.0 * c2->in_c * 24;   /* 2x2 outputs per cell, 20 filters padded to 24 */
    printf("\n### Crossovers: paper net (sparse conv1 + delta conv2 + delta dense / sparse conv1 + sgemm conv2 / all dense)\n\n");
    printf("| packets | pixels | pooled cells touched | delta us | sgemm conv2 us | dense us | dense/delta MACs conv2 |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    const size_t sizes[] = { 1000, 2000, 4000, 6000, 8000, 12000, 20000, 50000 };
    for (size_t s = 0; s < G_N_ELEMENTS(sizes); s++) {
        double avg;
        picture *p = make_pictures(&spec, sizes[s], 4, 100 + s, &avg);
        double frac = 0;
        for (int i = 0; i < 4; i++)
            frac += pooled_fraction(net, &p[i]) / 4;
        double td, tg, tf;
        time_switches(net, ws, p, 4, 1, &td, &tg, &tf);
        printf("| %zu | %.0f | %.1f%% | %.0f | %.0f | %.0f | %.1f |\n", sizes[s], avg, 100 * frac, td * 1e6,
               tg * 1e6, tf * 1e6, dense2 / (frac * 22500 * cell2));
        fflush(stdout);
        free_pictures(p, 4);
    }
    tt_ws_free(ws);
    tt_net_free(net);

    tt_spec_init_mini(&spec, 32);
    net = make_net(&spec, FALSE, 5);
    ws = tt_ws_new(net);
    printf("\n### Crossovers: LeNet 32x32 (all sparse / sparse conv1 + direct conv2 / all dense, direct convs)\n\n");
    printf("| packets | pixels | sparse us | direct conv2 us | dense us | dense/sparse MACs conv1 |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    const size_t sz2[] = { 10, 30, 60, 100, 200, 400, 1000 };
    for (size_t s = 0; s < G_N_ELEMENTS(sz2); s++) {
        double avg;
        picture *p = make_pictures(&spec, sz2[s], 16, 200 + s, &avg);
        double td, tg, tf;
        time_switches(net, ws, p, 16, 16, &td, &tg, &tf);
        printf("| %zu | %.0f | %.1f | %.1f | %.1f | %.1f |\n", sz2[s], avg, td * 1e6, tg * 1e6, tf * 1e6,
               (32.0 * 32 * 25) / (avg * 25));
        fflush(stdout);
        free_pictures(p, 16);
    }
    tt_ws_free(ws);
    tt_net_free(net);
}

int main(int argc, char **argv)
{
    gboolean thr = FALSE, quick = FALSE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threshold"))
            thr = TRUE;
        else if (!strcmp(argv[i], "--quick"))
            quick = TRUE;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            g_seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--threshold] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (quick)
        g_seconds = 0.1;
    tt_blas_single_thread();

    const size_t packets[] = { 10, 100, 1000, 10000 };
    const int NPIC = 32, NDENSE = 2;
    tt_spec paper, mini32, mini64;
    tt_spec_init_paper(&paper);
    tt_spec_init_mini(&mini32, 32);
    tt_spec_init_mini(&mini64, 64);
    tt_net *pn = make_net(&paper, TRUE, 5);
    tt_net *l32 = make_net(&mini32, FALSE, 5);
    tt_net *l64 = make_net(&mini64, FALSE, 5);
    tt_ws *wp = tt_ws_new(pn), *w32 = tt_ws_new(l32), *w64 = tt_ws_new(l64);

    printf("### Inference, one thread (FlowPics per second)\n\n");
    printf("| packets | paper pixels | paper sparse us | paper sparse /s | paper dense us | paper dense /s | sparse speed-up "
           "| LeNet 32x32 dense us | 32x32 /s | LeNet 32x32 sparse /s | LeNet 64x64 dense /s | LeNet 64x64 sparse /s |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < G_N_ELEMENTS(packets); s++) {
        double avg, a32, a64;
        picture *p = make_pictures(&paper, packets[s], NPIC, 1000 + s, &avg);
        picture *q = make_pictures(&mini32, packets[s], NPIC, 2000 + s, &a32);
        picture *r = make_pictures(&mini64, packets[s], NPIC, 3000 + s, &a64);
        double ts = time_sparse(pn, wp, p, NPIC);
        float **d = densify(&paper, p, NDENSE);
        double td = time_dense(pn, wp, d, NDENSE, 4);
        free_dense(d, NDENSE);
        float **d32 = densify(&mini32, q, NPIC), **d64 = densify(&mini64, r, NPIC);
        double t32 = time_dense(l32, w32, d32, NPIC, 1);
        double t32s = time_sparse(l32, w32, q, NPIC);
        double t64 = time_dense(l64, w64, d64, NPIC, 1);
        double t64s = time_sparse(l64, w64, r, NPIC);
        free_dense(d32, NPIC);
        free_dense(d64, NPIC);
        printf("| %zu | %.0f | %.1f | %.0f | %.0f | %.0f | %.0fx | %.1f | %.0f | %.0f | %.0f | %.0f |\n", packets[s],
               avg, ts * 1e6, 1 / ts, td * 1e6, 1 / td, td / ts, t32 * 1e6, 1 / t32, 1 / t32s, 1 / t64, 1 / t64s);
        fflush(stdout);
        free_pictures(p, NPIC);
        free_pictures(q, NPIC);
        free_pictures(r, NPIC);
    }

    classify_table();

    printf("\n### Training, one thread (forward + backward of one picture; Adam step per batch of 128)\n\n");
    printf("| net | packets | train us/picture | Adam step us | 10,000 blocks x 20 epochs |\n");
    printf("|---|---:|---:|---:|---:|\n");
    float *gp = g_new0(float, pn->n_params), *g32 = g_new0(float, l32->n_params);
    const double adam_p = time_adam(pn, gp), adam_32 = time_adam(l32, g32);
    for (size_t s = 0; s < G_N_ELEMENTS(packets); s++) {
        double avg;
        picture *p = make_pictures(&paper, packets[s], 8, 4000 + s, &avg);
        double t = time_train(pn, wp, p, 8, gp);
        double total = 200000.0 * t + 200000.0 / 128 * adam_p;
        printf("| paper 1500x1500 | %zu | %.0f | %.0f | %.1f min |\n", packets[s], t * 1e6, adam_p * 1e6, total / 60);
        fflush(stdout);
        free_pictures(p, 8);
    }
    for (size_t s = 0; s < G_N_ELEMENTS(packets); s++) {
        double avg;
        picture *p = make_pictures(&mini32, packets[s], 32, 5000 + s, &avg);
        double t = time_train(l32, w32, p, 32, g32);
        double total = 200000.0 * t + 200000.0 / 128 * adam_32;
        printf("| LeNet 32x32 | %zu | %.1f | %.0f | %.2f min |\n", packets[s], t * 1e6, adam_32 * 1e6, total / 60);
        fflush(stdout);
        free_pictures(p, 32);
    }
    g_free(gp);
    g_free(g32);

    if (thr)
        threshold_sweep();

    tt_ws_free(wp);
    tt_ws_free(w32);
    tt_ws_free(w64);
    tt_net_free(pn);
    tt_net_free(l32);
    tt_net_free(l64);
    return 0;
}
