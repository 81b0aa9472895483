/* TrafficTriage core, CNN engine: sparse maps. A FlowPic has few non-zero
 * pixels, so the first conv's output differs from its bias (the background)
 * at few cells: the maps keep those cells (channel-last) and one background
 * vector for all the others; relu and maxpool act on them without densifying.
 * smap: the training maps (indexed by cell, pools record their argmax);
 * cmap: the compact maps of inference (slots in order of first touch).
 */
#include "nn_private.h"

static void smap_alloc(GPtrArray *owned, smap *m, uint32_t c, uint32_t h, uint32_t w)
{
    if (m->val)
        return;
    size_t hw = (size_t)h * w;
    m->c = c; m->h = h; m->w = w;
    m->cs = cstride(c);
    m->val = NN_NEW(owned, float, hw * m->cs);
    m->stamp = NN_NEW0(owned, uint32_t, hw);
    m->list = NN_NEW(owned, uint32_t, hw);
    m->bg = NN_NEW0(owned, float, m->cs);
    m->n = 0;
}

/* One pixel (value v) into one output o of conv 0 through kernel tap wk
 * (channel-last, cs floats): o = bias + v wk at the output's first touch,
 * else o += v wk. */
static inline void scatter_add(float *restrict o, const float *restrict bias, const float *restrict wk, float v,
                               uint32_t cs, gboolean fresh)
{
    if (fresh)
        for (uint32_t q = 0; q < cs; q += 8)
            *(tt_v8 *)(o + q) = *(const tt_v8 *)(bias + q) + v * *(const tt_v8 *)(wk + q);
    else
        for (uint32_t q = 0; q < cs; q += 8)
            *(tt_v8 *)(o + q) += v * *(const tt_v8 *)(wk + q);
}

/* conv 0 (in_c == 1) by scatter into a channel-last map.
 * w1t: [kh][kw][cs], bias: [cs] (both zero-padded). */
TT_CLONES
void conv1_scatter(const tt_layer *l, const float *w1t, const float *bias, tt_scatter *s, smap *m,
                   uint32_t epoch)
{
    const uint32_t cs = m->cs;
    uint32_t cnt = m->n;
    while (scatter_next(s)) {
        const uint32_t cell = scatter_cell(s);
        const gboolean fresh = m->stamp[cell] != epoch;
        if (fresh) {
            m->stamp[cell] = epoch;
            m->list[cnt++] = cell;
        }
        scatter_add(m->val + (size_t)cell * cs, bias, w1t + (size_t)scatter_tap(s) * cs, s->v, cs, fresh);
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

/* Empty the map for a call that touches at most max_cells cells. */
void cmap_reset(GPtrArray *owned, cmap *m, uint32_t c, uint32_t h, uint32_t w, size_t max_cells)
{
    const size_t hw = (size_t)h * w;
    if (!m->bg) {
        m->c = c; m->h = h; m->w = w;
        m->cs = cstride(c);
        m->bg = NN_NEW0(owned, float, m->cs);
    }
    if (max_cells > hw)
        max_cells = hw;
    if (max_cells < 1)
        max_cells = 1;
    if (m->cap < max_cells) {
        nn_disown(owned, m->val);
        nn_disown(owned, m->list);
        nn_disown(owned, m->cnt);
        nn_disown(owned, m->yx);
        m->val = NN_NEW(owned, float, max_cells * m->cs);
        m->list = NN_NEW(owned, uint32_t, max_cells);
        m->cnt = NN_NEW(owned, uint32_t, max_cells);
        m->yx = NN_NEW(owned, uint32_t, max_cells);
        m->cap = (uint32_t)max_cells;
    }
    m->n = 0;
    /* small maps (the LeNets': 8 KB of table at 32 x 32) are cheaper to index directly */
    m->direct = max_cells > TT_CM_HASH_MAX || hw <= TT_CM_DIRECT_MAX;
    if (m->direct) {
        if (!m->stamp) {
            m->stamp = NN_NEW0(owned, uint32_t, hw);
            m->slot = NN_NEW(owned, uint32_t, hw);
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
        nn_disown(owned, m->ht);
        m->ht = NN_NEW(owned, cm_ent, (size_t)1 << bits);
        m->hcap = 1u << bits;
    }
    m->hbits = bits;
    memset(m->ht, 0, ((size_t)1 << bits) * sizeof(cm_ent));
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
void cm_conv0(const float *w1t, const float *bias, tt_scatter *s, cmap *m)
{
    const uint32_t cs = m->cs;
    while (scatter_next(s)) {
        gboolean fresh;
        const uint32_t slot = cm_add(m, scatter_cell(s), &fresh);
        if (fresh)
            m->yx[slot] = s->oy << 16 | s->ox;
        scatter_add(m->val + (size_t)slot * cs, bias, w1t + (size_t)scatter_tap(s) * cs, s->v, cs, fresh);
    }
}
void cm_relu(cmap *m)
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
void cm_pool(const tt_layer *l, const span *rows, const span *cols, const cmap *a, cmap *b)
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
void cm_densify(const cmap *m, float *d, size_t dps, size_t drs)
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

/* Maxpool on training maps: also records, per pooled cell and channel, the input cell
 * holding the maximum (first one in window order, as maxpool_forward), with
 * TT_AM_BACKGROUND set when that cell is untouched (it holds the background). */
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
void smap_densify(const smap *m, float *d)
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

/* The layers' forms on compact maps (nn_layer_ops.map_forward): m is the
 * map of the layer's input; returns the map of its output. */
cmap *cm_relu_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m)
{
    cm_relu(m);
    return m;
}

cmap *cm_pool_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m)
{
    const span *rows, *cols;
    cmap *b = &ws->infer.cm[i];
    cmap_reset(ws->owned, b, l->out_c, l->out_h, l->out_w,
               (size_t)m->n * ((l->kh + l->sh - 1) / l->sh) * ((l->kw + l->sw - 1) / l->sw));
    ws_spans(ws, i, l, &rows, &cols);
    cm_pool(l, rows, cols, m, b);
    return b;
}

cmap *cm_identity_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m)
{
    return m;      /* dropout at inference */
}

/* ------------------------------------------------------------------------ */
/* The layers' forms on training maps (nn_layer_ops.smap_forward and
 * smap_backward). Forward: m is the map of the layer's input; returns the
 * map of its output (m itself when in place). Backward: from the gradient at
 * the output map's cells stamped with this call's epoch (gstamp), the
 * gradient at the input map's (the same map when in place).               */

/* The training buffers of map m: values, argmax (pools), gradient. */
void smap_alloc_train(GPtrArray *owned, smap *m, const tt_layer *l, gboolean argmax)
{
    smap_alloc(owned, m, l->out_c, l->out_h, l->out_w);
    const size_t hw = (size_t)m->h * m->w;
    if (argmax && !m->am)
        m->am = NN_NEW(owned, uint32_t, hw * m->cs);
    if (!m->g) {
        m->g = NN_NEW(owned, float, hw * m->cs);
        m->gstamp = NN_NEW0(owned, uint32_t, hw);
    }
    m->relu = m->pooled = FALSE;
}

smap *smap_relu_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m)
{
    smap_relu(m);
    m->relu = TRUE;
    return m;
}

/* y = x > 0 ? g : 0 at the cells that received a gradient, unless a pool
 * read the map: its backward applied the mask at its argmax cells. */
void smap_relu_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch)
{
    if (m->pooled)
        return;
    const uint32_t c = m->c, cs = m->cs;
    for (uint32_t t = 0; t < m->n; t++) {
        if (m->gstamp[m->list[t]] != epoch)
            continue;
        const size_t o = (size_t)m->list[t] * cs;
        for (uint32_t q = 0; q < c; q++)
            m->g[o + q] = m->val[o + q] > 0.0f ? m->g[o + q] : 0.0f;
    }
}

smap *smap_pool_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *a)
{
    smap *b = &ws->train.map[i];
    smap_alloc_train(ws->owned, b, l, TRUE);
    smap_pool_arg(l, a, b, ws->train.epoch);
    a->pooled = TRUE;
    return b;
}

/* Each pooled cell's gradient to its argmax cell of a (none for the
 * background), masked there by a relu applied to a: the pooled value is that
 * cell's value. */
void smap_pool_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch)
{
    const uint32_t c = m->c, cs = m->cs;
    for (uint32_t t = 0; t < m->n; t++) {
        const uint32_t pc = m->list[t];
        if (m->gstamp[pc] != epoch)
            continue;
        const size_t o = (size_t)pc * cs;
        for (uint32_t q = 0; q < c; q++) {
            const uint32_t ic = m->am[o + q];
            if (ic & TT_AM_BACKGROUND)
                continue;                   /* background cell: no pixel there */
            if (a->relu && !(m->val[o + q] > 0.0f))
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

smap *smap_identity_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m)
{
    return m;      /* dropout of rate 0 */
}

void smap_identity_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch)
{
}
