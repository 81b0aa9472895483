/* TrafficTriage core, CNN engine: the per-thread workspace (tt_ws). Every
 * buffer is allocated on first use and kept, so after the first call of each
 * kind inference allocates nothing.
 */
#include "nn_private.h"

tt_ws *tt_ws_new(const tt_net *net)
{
    g_return_val_if_fail(net != NULL, NULL);
    tt_ws *ws = g_new0(tt_ws, 1);
    ws->owned = g_ptr_array_new_with_free_func(g_free);
    ws->n_layers = net->n_layers;
    ws->in_h = net->in_h;
    ws->in_w = net->in_w;
    ws->n_params = net->n_params;
    ws->train.epoch = 1;
    ws->sparse.cost0 = -1.0;
    ws->sparse.cost_delta = -1.0;
    return ws;
}

/* Tuning hooks for tests/bench, declared in tt_nn_tuning.h. */
void tt_ws_set_sparse_cost(tt_ws *ws, double conv0, double delta)
{
    g_return_if_fail(ws != NULL);
    ws->sparse.cost0 = conv0 < 0.0 ? -1.0 : conv0;
    ws->sparse.cost_delta = delta < 0.0 ? -1.0 : delta;
}

void tt_ws_set_dense_train(tt_ws *ws, gboolean dense)
{
    g_return_if_fail(ws != NULL);
    ws->train.dense_train = dense;
}

void tt_ws_free(tt_ws *ws)
{
    if (!ws)
        return;
    g_ptr_array_unref(ws->owned);
    g_free(ws);
}

gboolean ws_fits(const tt_net *net, const tt_ws *ws)
{
    if (!net || !ws)
        return FALSE;
    if (ws->n_layers != net->n_layers || ws->in_h != net->in_h || ws->in_w != net->in_w ||
        ws->n_params != net->n_params) {
        g_critical("tt_nn: workspace was made for another net");
        return FALSE;
    }
    GError *e = NULL;
    if (!tt_net_check(net, &e)) {
        g_critical("tt_nn: %s", e->message);
        g_error_free(e);
        return FALSE;
    }
    return TRUE;
}

static gboolean in_place(const tt_net *net, uint32_t i)
{
    return i > 0 && nn_ops(net->layers[i].kind)->in_place;
}

/* Output buffer of layer i (allocated on first use). */
float *ws_act(const tt_net *net, tt_ws *ws, uint32_t i)
{
    if (ws->act[i])
        return ws->act[i];
    if (in_place(net, i)) {
        ws->act[i] = ws_act(net, ws, i - 1);
    } else {
        ws->act[i] = NN_NEW(ws->owned, float, MAX(layer_out_size(&net->layers[i]), 1));
    }
    return ws->act[i];
}

float *ws_col(tt_ws *ws, size_t need)
{
    if (ws->dense.col_cap < need) {
        nn_disown(ws->owned, ws->dense.col);
        ws->dense.col = NN_NEW(ws->owned, float, need);
        ws->dense.col_cap = need;
    }
    return ws->dense.col;
}

float *ws_input(const tt_net *net, tt_ws *ws)
{
    if (!ws->dense.input)
        ws->dense.input = NN_NEW(ws->owned, float, (size_t)net->in_h * net->in_w);
    return ws->dense.input;
}

void densify_input(const tt_net *net, float *dst, const tt_pixel *px, size_t n)
{
    size_t hw = (size_t)net->in_h * net->in_w;
    memset(dst, 0, hw * sizeof(float));
    for (size_t i = 0; i < n; i++)
        if (px[i].idx < hw)
            dst[px[i].idx] += px[i].v;
}

/* The span tables of layer i (conv or pool) over its input (built once). */
void ws_spans(tt_ws *ws, uint32_t i, const tt_layer *l, const span **rows, const span **cols)
{
    if (!ws->spans[i][0]) {
        const uint32_t pt = l->kind == TT_LAYER_CONV ? l->pad_t : 0, pl = l->kind == TT_LAYER_CONV ? l->pad_l : 0;
        span *r = NN_NEW(ws->owned, span, l->in_h), *c = NN_NEW(ws->owned, span, l->in_w);
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

size_t max_act(const tt_net *net)
{
    size_t mx = (size_t)net->in_h * net->in_w;
    for (uint32_t i = 0; i < net->n_layers; i++)
        mx = MAX(mx, layer_out_size(&net->layers[i]));
    return mx;
}


void ws_next_epoch(tt_ws *ws)
{
    if (++ws->train.epoch == 0) {
        for (uint32_t i = 0; i < TT_MAX_LAYERS; i++)
            if (ws->train.map[i].stamp) {
                smap *m = &ws->train.map[i];
                memset(m->stamp, 0, (size_t)m->h * m->w * sizeof(uint32_t));
                if (m->gstamp)
                    memset(m->gstamp, 0, (size_t)m->h * m->w * sizeof(uint32_t));
            }
        ws->train.epoch = 1;
    }
}

/* Conv 0's weights as [kh][kw][cs] and its bias as [cs] (in_c is 1). */
void fill_w1t(const tt_net *net, tt_ws *ws, uint32_t cs)
{
    const tt_layer *l = &net->layers[0];
    const size_t kk = (size_t)l->kh * l->kw;
    if (!ws->sparse.w1t) {
        ws->sparse.w1t = NN_NEW0(ws->owned, float, kk * cs);
        ws->sparse.b1 = NN_NEW0(ws->owned, float, cs);
    }
    const float *W = net->params + l->w_off;
    for (uint32_t o = 0; o < l->out_c; o++)
        for (size_t k = 0; k < kk; k++)
            ws->sparse.w1t[k * cs + o] = W[o * kk + k];
    memcpy(ws->sparse.b1, net->params + l->b_off, l->out_c * sizeof(float));
}

/* A scatter over layer 0 (a conv) from the pixel list (see tt_scatter). */
void scatter_start(tt_scatter *s, const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n)
{
    const span *rows, *cols;
    ws_spans(ws, 0, &net->layers[0], &rows, &cols);
    scatter_init(s, &net->layers[0], rows, cols, px, n, net->in_h, net->in_w);
}
