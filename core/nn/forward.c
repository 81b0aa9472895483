/* TrafficTriage core, CNN engine: inference (tt_net_forward_dense,
 * tt_net_forward_sparse) and the softmax.
 */
#include "nn_private.h"

/* Inference from layer `start` on, x being the (dense) input of that layer,
 * [in_c][in_h][in_w]; staged: that layer is a direct conv whose padded input
 * already holds it (x unused). logits: [n_out].
 * A stride-1 conv runs directly and writes its output through the relu /
 * dropout layers and the (first) maxpool that follow it, into the padded input
 * of the next layer when that is a direct conv too: no activation is copied. */
void forward_dense_from(const tt_net *net, tt_ws *ws, uint32_t start, const float *x, gboolean staged,
                        float *logits)
{
    for (uint32_t i = start; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        if (l->kind == TT_LAYER_CONV && dconv_ok(l)) {
            /* layer i and the relu / dropout / pool after it, i the last of them:
             * x = its output [out_c][out_h][out_w] (or the next conv's padded input) */
            x = dconv_forward(net, ws, i, x, &staged, &i);
            continue;
        }
        staged = FALSE;
        float *y = ws_act(net, ws, i);                 /* [out_c][out_h][out_w] */
        const nn_ctx c = { net, ws, i, NULL };
        nn_ops(l->kind)->forward(&c, l, x, y);
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


/* Too many pixels for conv 0's scatter (or layer 0 is no conv): the whole
 * net on the dense picture. The pixels go straight into the direct conv's
 * padded input when layer 0 is one, else into a dense [1][in_h][in_w]. */
static void forward_pixels_dense(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, float *logits)
{
    const tt_layer *l0 = &net->layers[0];
    if (l0->kind == TT_LAYER_CONV && dconv_ok(l0)) {
        const dconv_buf *b = ws_dconv(ws, l0, 0);
        float *in = b->pin + (size_t)l0->pad_t * b->wp + l0->pad_l;   /* [in_h][in_w], row stride wp */
        for (uint32_t y = 0; y < net->in_h; y++)
            memset(in + (size_t)y * b->wp, 0, net->in_w * sizeof(float));
        const size_t hw = (size_t)net->in_h * net->in_w;
        for (size_t i = 0; i < n; i++)
            if (px[i].idx < hw)
                in[(size_t)(px[i].idx / net->in_w) * b->wp + px[i].idx % net->in_w] += px[i].v;
        forward_dense_from(net, ws, 0, NULL, TRUE, logits);
    } else {
        float *in = ws_input(net, ws);                                 /* [1][in_h][in_w] */
        densify_input(net, in, px, n);
        forward_dense_from(net, ws, 0, in, FALSE, logits);
    }
}

/* Outputs of conv 0 one pixel touches: ceil(kh/sh) x ceil(kw/sw) at most. */
static size_t conv0_touch(const tt_layer *l0)
{
    return (size_t)((l0->kh + l0->sh - 1) / l0->sh) * ((l0->kw + l0->sw - 1) / l0->sw);
}

/* Is conv 0 by scatter worth it? A pixel costs conv0_touch scatter steps,
 * the dense conv out_h x out_w x kh x kw (both per output channel), and a
 * scatter step costs more (TT_SPARSE_COST_CONV0*). */
static gboolean conv0_sparse(const tt_net *net, const tt_ws *ws, size_t n)
{
    const tt_layer *l0 = &net->layers[0];
    if (l0->kind != TT_LAYER_CONV)          /* not a FlowPic-style first layer: all dense */
        return FALSE;
    const double cost = ws->sparse.cost0 >= 0.0 ? ws->sparse.cost0
                      : dconv_ok(l0) ? TT_SPARSE_COST_CONV0_DIRECT : TT_SPARSE_COST_CONV0;
    return !((double)n * conv0_touch(l0) * cost > (double)l0->out_h * l0->out_w * l0->kh * l0->kw);
}

/* Conv 0 by scatter into the compact map ws->infer.cm[0]: each pixel goes to the
 * outputs whose window holds it; every other output is the bias. */
static cmap *conv0_scatter(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n)
{
    const tt_layer *l0 = &net->layers[0];
    if (!ws->infer.cm)
        ws->infer.cm = NN_NEW0(ws->owned, cmap, TT_MAX_LAYERS);
    cmap *m = &ws->infer.cm[0];
    cmap_reset(ws->owned, m, l0->out_c, l0->out_h, l0->out_w, n * conv0_touch(l0));
    fill_w1t(net, ws, m->cs);                           /* w1t [kh][kw][cs], b1 [cs] */
    memcpy(m->bg, ws->sparse.b1, m->cs * sizeof(float));
    tt_scatter s;
    scatter_start(&s, net, ws, px, n);
    cm_conv0(ws->sparse.w1t, ws->sparse.b1, &s, m);
    return m;
}

/* Is layer j, fed by the map m, worth running as a delta conv? A touched
 * cell costs ceil(kh/sh) x ceil(kw/sw) x in_c x ocs multiply-adds, the dense
 * conv out_h x out_w x kh x kw x in_c x out_c (TT_SPARSE_COST_DELTA*). */
static gboolean delta_worth(const tt_net *net, const tt_ws *ws, uint32_t j, const cmap *m)
{
    const tt_layer *lj = &net->layers[j];
    const tt_net_cache *cache = net->cache;
    if (lj->kind != TT_LAYER_CONV || !cache || cache->j != j)
        return FALSE;
    const double per_cell = (double)((lj->kh + lj->sh - 1) / lj->sh) * ((lj->kw + lj->sw - 1) / lj->sw) *
                            lj->in_c * cache->ocs;
    const double dense = (double)lj->out_h * lj->out_w * lj->kh * lj->kw * lj->in_c * lj->out_c;
    const double cost = ws->sparse.cost_delta >= 0.0 ? ws->sparse.cost_delta
                        : dconv_ok(lj)        ? TT_SPARSE_COST_DELTA_DIRECT
                        : cache->d            ? TT_SPARSE_COST_DELTA_INFER
                                              : TT_SPARSE_COST_DELTA;
    return (double)m->n * per_cell * cost <= dense;
}

/* Layer j on, dense, from the map m densified: straight into the direct
 * conv's padded input when layer j is one, else into layer j-1's buffer. */
static void forward_densified(const tt_net *net, tt_ws *ws, uint32_t j, const cmap *m, float *logits)
{
    const tt_layer *lj = &net->layers[j];
    if (lj->kind == TT_LAYER_CONV && dconv_ok(lj)) {
        const dconv_buf *b = ws_dconv(ws, lj, j);
        cm_densify(m, b->pin + (size_t)lj->pad_t * b->wp + lj->pad_l, b->ps, b->wp);
        forward_dense_from(net, ws, j, NULL, TRUE, logits);
    } else {
        float *d = ws_act(net, ws, j - 1);                  /* [in_c][in_h][in_w] of layer j */
        cm_densify(m, d, (size_t)m->h * m->w, m->w);
        forward_dense_from(net, ws, j, d, FALSE, logits);
    }
}

/* Sparse inference. A FlowPic has few non-zero pixels, so:
 *  1. conv 0 scatters every pixel into the outputs whose window holds it;
 *     the map keeps those cells (channel-last) and the per-channel
 *     background (= bias) of all the others;
 *  2. relu / dropout / maxpool up to the next layer j without a map form act
 *     on the touched cells and the background only;
 *  3. if layer j is a conv and the map sparse enough, its output is the
 *     cached background response plus (cell - background) * W at the outputs
 *     each changed cell touches (delta.c), and so is a dense layer after its
 *     maxpool; otherwise the map is densified and layer j on runs dense. */
void tt_net_forward_sparse(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, float *logits)
{
    g_return_if_fail(logits != NULL && (px != NULL || n == 0));
    if (!ws_fits(net, ws))
        return;
    if (!conv0_sparse(net, ws, n)) {
        forward_pixels_dense(net, ws, px, n, logits);
        return;
    }
    /* cs = out_c of conv 0 rounded up to 8; m: [m->n touched cells][cs] + background [cs] */
    cmap *m = conv0_scatter(net, ws, px, n);
    const uint32_t j = sparse_split(net);
    for (uint32_t i = 1; i < j; i++)        /* m: layer i's output, [m->n][cs] + background */
        m = nn_ops(net->layers[i].kind)->map_forward(ws, i, &net->layers[i], m);
    if (!delta_worth(net, ws, j, m))
        forward_densified(net, ws, j, m, logits);
    else if (net->cache->d)
        forward_delta_dense(net, ws, m, logits);    /* conv j, its pool, dense d as deltas; d + 1 on dense */
    else
        forward_delta_conv(net, ws, m, logits);     /* conv j as a delta conv; j + 1 on dense */
}

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
