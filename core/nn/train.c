/* TrafficTriage core, CNN engine: training on one picture, and Adam.
 *
 * tt_net_train_one runs the layers through their ops (layers.c), from the
 * first layer the picture's way in leaves dense on. That way in
 * (train_in_forward, train_in_backward) does as the sparse inference path:
 * conv 0 and the chain after it on sparse maps (the ops' smap forms; pools
 * record their argmax), then conv j as background response (computed per call
 * by separable sums, since the params change) + delta conv, or from the
 * densified map; backward mirrors it: conv j's dW from the background (bg_c x
 * dY summed over valid positions) plus the changed cells, its input gradient
 * only at the touched cells, conv 0's db from the relu-masked total of that
 * gradient and its dW from the pixels. When a kind in the chain has no map
 * form in training (a dropout with a rate), conv 0's output is dense instead.
 */
#include "nn_private.h"

/* conv 0 forward into a dense [oc][oh][ow] output: bias, then scatter. */
static void conv1_scatter_dense(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, float *y)
{
    const tt_layer *l = &net->layers[0];
    const float *W = net->params + l->w_off, *b = net->params + l->b_off;
    const size_t on = (size_t)l->out_h * l->out_w, kk = (size_t)l->kh * l->kw;
    for (uint32_t o = 0; o < l->out_c; o++)
        for (size_t p = 0; p < on; p++)
            y[o * on + p] = b[o];
    tt_scatter s;
    for (scatter_start(&s, net, ws, px, n); scatter_next(&s);) {
        const size_t k = scatter_tap(&s), p = scatter_cell(&s);
        for (uint32_t o = 0; o < l->out_c; o++)
            y[o * on + p] += s.v * W[o * kk + k];
    }
}
/* conv 0 backward from the pixels: dW += sum_p v_p g(outputs touching p), db += sum g. */
static void conv1_backward_sparse(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, const float *g,
                                  float *grad)
{
    const tt_layer *l = &net->layers[0];
    float *dW = grad + l->w_off, *db = grad + l->b_off;
    const size_t on = (size_t)l->out_h * l->out_w, kk = (size_t)l->kh * l->kw;
    tt_scatter s;
    for (scatter_start(&s, net, ws, px, n); scatter_next(&s);) {
        const size_t k = scatter_tap(&s), p = scatter_cell(&s);
        for (uint32_t o = 0; o < l->out_c; o++)
            dW[o * kk + k] += s.v * g[o * on + p];
    }
    for (uint32_t o = 0; o < l->out_c; o++) {
        const float *go = g + o * on;
        double sum = 0.0;
        for (size_t p = 0; p < on; p++)
            sum += go[p];
        db[o] += (float)sum;
    }
}
/* Can training run layers 0..j-1 on sparse maps? (conv 0, then kinds with a
 * map form in training: nn_layer_ops.smap_forward; else conv 0 runs dense). */
static gboolean chain_sparse_trainable(const tt_net *net, uint32_t j)
{
    if (net->layers[0].kind != TT_LAYER_CONV)
        return FALSE;
    for (uint32_t i = 1; i < j; i++) {
        const tt_layer *l = &net->layers[i];
        const nn_layer_ops *ops = nn_ops(l->kind);
        if (!ops->smap_forward || (ops->smap_ok && !ops->smap_ok(l)))
            return FALSE;
    }
    return TRUE;
}

/* Training forward of layers 0..j-1 on sparse maps: conv 0 by scatter into
 * map 0, then each layer's smap form; writes, in map[i], the map holding
 * layer i's output ([n touched cells][cs] + background [cs]). */
static void chain_forward_train(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t j,
                                smap **map)
{
    const tt_layer *l0 = &net->layers[0];
    ws_next_epoch(ws);
    smap *m = &ws->train.map[0];
    smap_alloc_train(ws->owned, m, l0, FALSE);
    fill_w1t(net, ws, m->cs);                          /* w1t [kh][kw][cs], b1 [cs] */
    m->n = 0;
    memcpy(m->bg, ws->sparse.b1, m->cs * sizeof(float));
    tt_scatter s;
    scatter_start(&s, net, ws, px, n);
    conv1_scatter(l0, ws->sparse.w1t, ws->sparse.b1, &s, m, ws->train.epoch);
    map[0] = m;
    for (uint32_t i = 1; i < j; i++)
        map[i] = nn_ops(net->layers[i].kind)->smap_forward(ws, i, &net->layers[i], map[i - 1]);
}

/* Is there a relu in the chain? Then conv 0's db is masked by the sign of
 * the chain's output (relu and maxpool commute). */
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
 * cells of the final map (map[j-1]->g), each layer's smap form, then conv 0's
 * dW from the pixels. */
static void chain_backward(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t j,
                           smap *const *map, float *grad)
{
    const tt_layer *l0 = &net->layers[0];
    const uint32_t epoch = ws->train.epoch;
    /* The final map's gradient is set at all its touched cells; below, a map's
     * gradient is only valid where gstamp == epoch (cells that received some). */
    smap *f = map[j - 1];
    for (uint32_t t = 0; t < f->n; t++)
        f->gstamp[f->list[t]] = epoch;
    for (uint32_t i = j - 1; i >= 1; i--)
        nn_ops(net->layers[i].kind)->smap_backward(&net->layers[i], map[i - 1], map[i], epoch);
    /* dW of conv 0: sum over pixels of value x gradient at the outputs it touches */
    const smap *m0 = map[0];
    const uint32_t cs = m0->cs;
    float *dW = grad + l0->w_off;
    const size_t kk = (size_t)l0->kh * l0->kw;
    tt_scatter s;
    for (scatter_start(&s, net, ws, px, n); scatter_next(&s);) {
        const size_t cell = scatter_cell(&s);
        if (m0->gstamp[cell] != epoch)
            continue;                       /* no gradient reached this output */
        const size_t k = scatter_tap(&s);
        const float *g = m0->g + cell * cs;
        for (uint32_t o = 0; o < l0->out_c; o++)
            dW[o * kk + k] += s.v * g[o];
    }
}

static void dtrain_alloc(tt_ws *ws, const tt_layer *l, uint32_t ocs)
{
    if (ws->dt.wt)
        return;
    const size_t kk = (size_t)l->kh * l->kw, on = (size_t)l->out_h * l->out_w;
    ws->dt.wt = NN_NEW0(ws->owned, float, kk * l->in_c * ocs);
    ws->dt.dwt = NN_NEW0(ws->owned, float, kk * l->in_c * ocs);
    ws->dt.u = NN_NEW0(ws->owned, float, kk * ocs);
    ws->dt.r = NN_NEW0(ws->owned, float, MAX((size_t)l->kh * l->out_w * ocs, (size_t)l->out_c * l->out_h * l->kw));
    ws->dt.gy = NN_NEW0(ws->owned, float, on * ocs);
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
    ws_delta_bufs(ws, l, ocs);
    float *wt = ws->dt.wt, *u = ws->dt.u, *r = ws->dt.r, *acc = ws->sparse.acc;
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
    delta_conv(l, wt, ocs, f->c, f->cs, f->w, f->list, f->n, f->val, NULL, NULL, NULL, f->bg,
               ws->sparse.dval, ws->sparse.dq, acc, NULL, 0, NULL, 0, NULL, NULL);
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
            ws->sparse.dval[nz] = d;
            ws->sparse.dq[nz] = q;
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
                        axpy(dk + (size_t)ws->sparse.dq[e] * ocs, gy, ws->sparse.dval[e], ocs);
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

/* The gradient ping-pong buffers, each as large as the largest activation. */
static void ws_grad_bufs(const tt_net *net, tt_ws *ws)
{
    const size_t gcap = max_act(net);
    if (ws->train.gcap >= gcap)
        return;
    nn_disown(ws->owned, ws->train.g[0]);
    nn_disown(ws->owned, ws->train.g[1]);
    ws->train.g[0] = NN_NEW(ws->owned, float, gcap);
    ws->train.g[1] = NN_NEW(ws->owned, float, gcap);
    ws->train.gcap = gcap;
}

/* Is conv j worth training as background response + delta conv from the
 * map f? As delta_worth at inference, with the training break-even. */
static gboolean delta_worth_train(const tt_net *net, const tt_ws *ws, uint32_t j, const smap *f)
{
    const tt_layer *lj = &net->layers[j];
    if (lj->kind != TT_LAYER_CONV)
        return FALSE;
    const double per_cell = (double)((lj->kh + lj->sh - 1) / lj->sh) * ((lj->kw + lj->sw - 1) / lj->sw) *
                            lj->in_c * cstride(lj->out_c);
    const double dense = (double)lj->out_h * lj->out_w * lj->kh * lj->kw * lj->in_c * lj->out_c;
    const double cost = ws->sparse.cost_delta >= 0.0 ? ws->sparse.cost_delta : TT_SPARSE_COST_DELTA;
    return (double)f->n * per_cell * cost <= dense;
}

/* ------------------------------------------------------------------------ */
/* The picture's way in: the layers before `start`, run here rather than by
 * their ops' dense forward and backward.                                   */

typedef enum {
    IN_MAPS,        /* conv 0 and the chain up to layer j on sparse maps; j on dense */
    IN_MAPS_DELTA,  /* the same, and conv j as background response + delta conv */
    IN_CONV0,       /* conv 0 by scatter into its dense output */
    IN_PICTURE,     /* layer 0 is no conv: the dense picture */
} train_way;

typedef struct {
    train_way way;
    uint32_t start;                 /* the first layer the ops run */
    uint32_t j;                     /* IN_MAPS*: the first layer not on maps */
    smap *map[TT_MAX_LAYERS];       /* IN_MAPS*: the map of layer i's output, i < j */
    const float *picture;           /* IN_PICTURE: [1][in_h][in_w] */
} train_in;

/* Forward of the layers before in->start (chosen here); returns layer
 * start's input, dense [in_c][in_h][in_w]. */
static const float *train_in_forward(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, train_in *in)
{
    const gboolean conv0 = net->layers[0].kind == TT_LAYER_CONV;
    in->j = conv0 ? sparse_split(net) : 0;
    in->picture = NULL;
    if (conv0 && !ws->train.dense_train && chain_sparse_trainable(net, in->j)) {
        const uint32_t j = in->j;
        chain_forward_train(net, ws, px, n, j, in->map);
        const smap *f = in->map[j - 1];
        if (delta_worth_train(net, ws, j, f)) {
            float *y = ws_act(net, ws, j);                  /* conv j's output */
            conv_delta_forward_train(net, ws, j, f, y);
            in->way = IN_MAPS_DELTA;
            in->start = j + 1;
            return y;
        }
        float *d = ws_act(net, ws, j - 1);                  /* the map densified */
        smap_densify(f, d);
        in->way = IN_MAPS;
        in->start = j;
        return d;
    }
    if (conv0) {
        float *y = ws_act(net, ws, 0);                      /* conv 0's output */
        conv1_scatter_dense(net, ws, px, n, y);
        in->way = IN_CONV0;
        in->start = 1;
        return y;
    }
    float *pic = ws_input(net, ws);
    densify_input(net, pic, px, n);
    in->way = IN_PICTURE;
    in->start = 0;
    in->picture = pic;
    return pic;
}

/* Backward of the layers before in->start, from g = dLoss/d(layer start's input). */
static void train_in_backward(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, const train_in *in,
                              const float *g, float *grad)
{
    const uint32_t j = in->j;
    switch (in->way) {
    case IN_MAPS_DELTA:
        conv_delta_backward_train(net, ws, j, in->map[j - 1], chain_has_relu(net, j), g, grad);
        chain_backward(net, ws, px, n, j, in->map, grad);
        break;
    case IN_MAPS:
        chain_grad_from_dense(net, in->map[j - 1], chain_has_relu(net, j), g, ws->act[j - 1], grad);
        chain_backward(net, ws, px, n, j, in->map, grad);
        break;
    case IN_CONV0:
        conv1_backward_sparse(net, ws, px, n, g, grad);
        break;
    case IN_PICTURE:
        break;                      /* no gradient for the picture */
    }
}

/* Softmax cross-entropy of logits [K] against label, scaled by weight:
 * g[k] = weight * (softmax(logits)[k] - (k == label)); returns the loss. */
static double softmax_xent(const float *logits, uint32_t K, uint32_t label, float weight, float *g)
{
    double mx = logits[0];
    for (uint32_t k = 1; k < K; k++)
        mx = MAX(mx, (double)logits[k]);
    double s = 0.0;
    for (uint32_t k = 0; k < K; k++)
        s += exp((double)logits[k] - mx);
    const double lse = mx + log(s);
    for (uint32_t k = 0; k < K; k++) {
        double p = exp((double)logits[k] - lse);
        g[k] = (float)(weight * (p - (k == label ? 1.0 : 0.0)));
    }
    return lse - (double)logits[label];
}

float tt_net_train_one(const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n, uint32_t label,
                       float weight, uint64_t *rng_state, float *grad, float *logits_out)
{
    g_return_val_if_fail(grad != NULL && rng_state != NULL && (px != NULL || n == 0), NAN);
    if (!ws_fits(net, ws))
        return NAN;
    g_return_val_if_fail(label < net->n_out, NAN);
    const uint32_t L = net->n_layers;
    ws_grad_bufs(net, ws);

    /* Forward, keeping every activation: the way in, then layer in.start on. */
    train_in in;
    const float *x = train_in_forward(net, ws, px, n, &in);   /* [in_c][in_h][in_w] of layer in.start */
    for (uint32_t i = in.start; i < L; i++) {
        const tt_layer *l = &net->layers[i];
        float *y = ws_act(net, ws, i);                          /* [out_c][out_h][out_w] */
        const nn_ctx c = { net, ws, i, rng_state };
        nn_ops(l->kind)->forward(&c, l, x, y);
        x = y;
    }
    const float *logits = x;                                    /* [n_out] */
    if (logits_out)
        memcpy(logits_out, logits, net->n_out * sizeof(float));

    float *g = ws->train.g[0], *gx = ws->train.g[1];                  /* gradient ping-pong, max_act floats each */
    const double loss = softmax_xent(logits, net->n_out, label, weight, g);   /* g: [n_out] */

    /* Backward, layer L-1 down to in.start (its input gradient too when the way in needs it). */
    for (uint32_t i = L; i-- > in.start;) {
        const tt_layer *l = &net->layers[i];
        const float *xin = i == 0 ? in.picture : ws->act[i - 1];   /* the layer's input, its output act[i] */
        const nn_ctx c = { net, ws, i, rng_state };
        float *gin = nn_ops(l->kind)->backward(&c, l, xin, ws->act[i], g, i > 0 ? gx : NULL, grad);
        if (gin == gx) {        /* the gradient moved to the other buffer */
            gx = g;
            g = gin;
        }
    }
    train_in_backward(net, ws, px, n, &in, g, grad);              /* g: dLoss/d(layer in.start's input) */
    return (float)(weight * loss);
}


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
