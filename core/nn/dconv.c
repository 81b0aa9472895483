/* TrafficTriage core, CNN engine: stride-1 convolutions (the LeNets') run
 * directly at inference, with the relu / dropout / maxpool after them folded
 * into their write-out.
 */
#include "nn_private.h"

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

gboolean dconv_ok(const tt_layer *l)
{
    if (l->kind != TT_LAYER_CONV || l->sh != 1 || l->sw != 1)
        return FALSE;
    const uint64_t hp = (uint64_t)l->in_h + l->pad_t + l->pad_b, wp = (uint64_t)l->in_w + l->pad_l + l->pad_r;
    return (uint64_t)l->in_c * (hp * wp + TT_DCONV_Q + (uint64_t)l->kh * wp) <= TT_DCONV_MAX &&
           (uint64_t)l->out_c * (l->out_h * wp + TT_DCONV_Q) <= TT_DCONV_MAX;
}

/* The buffers of direct conv layer i (allocated on first use). pin is zeroed
 * once: calls only ever write its interior, so the padding stays zero. */
dconv_buf *ws_dconv(tt_ws *ws, const tt_layer *l, uint32_t i)
{
    dconv_buf *b = &ws->infer.dc[i];
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
        b->tq = NN_NEW(ws->owned, uint32_t, b->ntq);
        for (size_t t = 0; t < b->ntq; t++)
            b->tq[t] = (uint32_t)(rows ? (t / per_row) * wp + (t % per_row) * tw : t * tw);
        const size_t end = (size_t)b->tq[b->ntq - 1] + tw;
        b->nq = (MAX(end, (size_t)l->out_h * wp) + TT_DCONV_Q - 1) / TT_DCONV_Q * TT_DCONV_Q;
        /* The last plane is read up to nq - 1 + (kh - 1) * wp + kw - 1. */
        b->pin = NN_NEW0(ws->owned, float, (l->in_c - 1) * b->ps + b->nq + (size_t)(l->kh - 1) * b->wp + l->kw);
        b->out = NN_NEW(ws->owned, float, (size_t)l->out_c * b->nq);
        /* 8 or 16 filters and at least 1/8 of the flat positions wasted
         * (the LeNet's second conv: 4 of 16): vectorise over the filters. */
        if ((l->out_c == 8 || l->out_c == 16) && (b->wp - l->out_w) * 8 >= b->wp) {
            b->wtc = NN_NEW(ws->owned, float, (size_t)l->in_c * l->kh * l->kw * l->out_c);
            b->wsrc = NN_NEW(ws->owned, float, (size_t)l->in_c * l->kh * l->kw * l->out_c);
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

/* Direct conv i and the relu / dropout layers and (first) maxpool after it in
 * one pass, from x (its dense input; unused when *staged: its padded input
 * already holds it). Writes into the padded input of the next layer when that
 * is a direct conv too (*staged is then TRUE), else into the last folded
 * layer's buffer, and returns that output; *last: the last layer folded in. */
float *dconv_forward(const tt_net *net, tt_ws *ws, uint32_t i, const float *x, gboolean *staged, uint32_t *last_out)
{
    const tt_layer *l = &net->layers[i];
    dconv_buf *b = ws_dconv(ws, l, i);
    if (!*staged)
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
    *staged = last + 1 < net->n_layers && dconv_ok(&net->layers[last + 1]);
    if (*staged) {
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
    *last_out = last;
    return dst;
}
