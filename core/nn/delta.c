/* TrafficTriage core, CNN engine: the delta layers of the sparse path.
 *
 * The sparse path (tt_net_forward_sparse) runs conv 0 by scatter and the
 * relu/maxpool/dropout layers up to the next parametrised layer j on sparse
 * maps (touched cells + a per-channel background), then conv j as its cached
 * background response plus a "delta conv" of the changed cells; when conv j
 * is followed by a maxpool and a dense layer, that layer too is its cached
 * background response plus the columns of the inputs that changed ("delta
 * dense", forward_delta_dense). tt_net_prepare builds the caches.
 */
#include "nn_private.h"

void cache_free(tt_net_cache *c)
{
    if (!c)
        return;
    g_ptr_array_unref(c->owned);
    g_free(c);
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
void delta_conv(const tt_layer *l, const float *wt, uint32_t ocs, uint32_t c, uint32_t cs, uint32_t iw,
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
static void bgtab_build(GPtrArray *owned, bgtab *t, const tt_layer *l, const float *W, const float *b, const float *bg,
                        uint32_t ocs)
{
    uint32_t *ry = g_new(uint32_t, l->out_h), *rx = g_new(uint32_t, l->out_w);
    t->rc = NN_NEW(owned, uint32_t, l->out_h);
    t->cc = NN_NEW(owned, uint32_t, l->out_w);
    const uint32_t nr = axis_classes(l->out_h, l->in_h, l->pad_t, l->kh, l->sh, t->rc, ry);
    const uint32_t nc = axis_classes(l->out_w, l->in_w, l->pad_l, l->kw, l->sw, t->cc, rx);
    t->ncc = nc;
    t->v = NN_NEW0(owned, float, (size_t)nr * nc * ocs);
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
    cache->ybg = NN_NEW0(cache->owned, float, cache->dcs);
    dense_forward(net, ld, x, cache->ybg);
    cache->xbg = NN_NEW0(cache->owned, float, pn * ocs);
    for (size_t o = 0; o < oc; o++)
        for (size_t pp = 0; pp < pn; pp++)
            cache->xbg[pp * ocs + o] = x[o * pn + pp];
    g_free(x);
    cache->wdt = NN_NEW0(cache->owned, float, in * cache->dcs);
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
    if (net->n_layers < 2 || net->layers[0].kind != TT_LAYER_CONV || !tt_net_check(net, NULL))
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
    cache->owned = g_ptr_array_new_with_free_func(g_free);
    cache->j = j;
    const uint32_t ic = lj->in_c, oc = lj->out_c, ocs = cstride(oc);
    cache->ocs = ocs;
    const size_t kk = (size_t)lj->kh * lj->kw, n = (size_t)lj->out_h * lj->out_w;
    const float *W = net->params + lj->w_off;
    cache->wt = NN_NEW0(cache->owned, float, kk * ic * ocs);
    for (uint32_t o = 0; o < oc; o++)
        for (uint32_t c = 0; c < ic; c++)
            for (size_t k = 0; k < kk; k++)
                cache->wt[(k * ic + c) * ocs + o] = W[((size_t)o * ic + c) * kk + k];
    /* Response to the constant background (zero padding makes the borders
     * differ), by classes of rows and columns, then spread over every output. */
    bgtab_build(cache->owned, &cache->bgc, lj, W, net->params + lj->b_off, bg, ocs);
    cache->bgresp = NN_NEW(cache->owned, float, n * ocs);
    for (uint32_t y = 0; y < lj->out_h; y++)
        for (uint32_t x = 0; x < lj->out_w; x++)
            memcpy(cache->bgresp + ((size_t)y * lj->out_w + x) * ocs,
                   cache->bgc.v + ((size_t)cache->bgc.rc[y] * cache->bgc.ncc + cache->bgc.cc[x]) * ocs,
                   ocs * sizeof(float));
    g_free(bg);
    prepare_delta_dense(net, cache);
    net->cache = cache;
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
void finish_channel_last(const tt_net *net, tt_ws *ws, uint32_t j, const float *acc, uint32_t ocs,
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
        float *mx = ws->sparse.pmax;
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
void forward_delta_dense(const tt_net *net, tt_ws *ws, const cmap *m, float *logits)
{
    const tt_net_cache *cache = net->cache;
    const uint32_t j = cache->j;
    const tt_layer *lj = &net->layers[j], *lp = &net->layers[cache->p], *ld = &net->layers[cache->d];
    const size_t on = (size_t)lj->out_h * lj->out_w, pn = (size_t)lp->out_h * lp->out_w, in = layer_in_size(ld);
    const uint32_t ocs = cache->ocs, oc = lj->out_c, ow = lj->out_w, pw = lp->out_w;
    ws_delta_bufs(ws, lj, ocs);
    if (!ws->dd.ostamp) {
        ws->dd.ostamp = NN_NEW0(ws->owned, uint32_t, on);
        ws->dd.olist = NN_NEW(ws->owned, uint32_t, on);
        ws->dd.pstamp = NN_NEW0(ws->owned, uint32_t, pn);
        ws->dd.plist = NN_NEW(ws->owned, uint32_t, pn);
        ws->dd.xv = NN_NEW(ws->owned, float, pn * ocs);
        ws->dd.dk = NN_NEW(ws->owned, uint32_t, in);
        ws->dd.dv = NN_NEW(ws->owned, float, in);
        ws->dd.y = NN_NEW(ws->owned, float, cache->dcs);
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
    delta_conv(lj, cache->wt, ocs, m->c, m->cs, m->w, m->list, m->n, m->val, m->yx, rows, cols, m->bg, ws->sparse.dval,
               ws->sparse.dq, ws->sparse.acc, &cache->bgc, ocs, ostamp, ep, olist, &no);

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
                const float *src = ostamp[c0] == ep ? ws->sparse.acc + c0 * ocs
                                                    : bt->v + ((size_t)bt->rc[y0] * bt->ncc + bt->cc[x0]) * ocs;
                for (uint32_t q = 0; q < ocs; q += 8)
                    *(tt_v8 *)(xv + q) = *(const tt_v8 *)(src + q);
                for (uint32_t wy = 0; wy < lp->kh; wy++)
                    for (uint32_t wx = 0; wx < lp->kw; wx++) {
                        const size_t ci = c0 + (size_t)wy * ow + wx;
                        src = ostamp[ci] == ep
                                  ? ws->sparse.acc + ci * ocs
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

/* Scratch of the delta conv lj (out_c rounded up to ocs), inference and training. */
void ws_delta_bufs(tt_ws *ws, const tt_layer *lj, uint32_t ocs)
{
    if (ws->sparse.acc)
        return;
    ws->sparse.acc = NN_NEW(ws->owned, float, (size_t)lj->out_h * lj->out_w * ocs);
    ws->sparse.dval = NN_NEW(ws->owned, float, lj->in_c);
    ws->sparse.dq = NN_NEW(ws->owned, uint32_t, lj->in_c);
    ws->sparse.pmax = NN_NEW(ws->owned, float, ocs);
}

/* Layers j on of the sparse path, m holding layer j's input: conv j as its
 * background response plus the delta conv of the changed cells, then the
 * rest (finish_channel_last). */
void forward_delta_conv(const tt_net *net, tt_ws *ws, const cmap *m, float *logits)
{
    const tt_net_cache *cache = net->cache;
    const uint32_t j = cache->j;
    const tt_layer *lj = &net->layers[j];
    const size_t on = (size_t)lj->out_h * lj->out_w;
    ws_delta_bufs(ws, lj, cache->ocs);
    memcpy(ws->sparse.acc, cache->bgresp, on * cache->ocs * sizeof(float));    /* [out_h*out_w][ocs] */
    const span *rows, *cols;
    ws_spans(ws, j, lj, &rows, &cols);
    delta_conv(lj, cache->wt, cache->ocs, m->c, m->cs, m->w, m->list, m->n, m->val, m->yx, rows, cols, m->bg,
               ws->sparse.dval, ws->sparse.dq, ws->sparse.acc, NULL, 0, NULL, 0, NULL, NULL);
    finish_channel_last(net, ws, j, ws->sparse.acc, cache->ocs, logits);
}
