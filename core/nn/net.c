/* TrafficTriage core, CNN engine: a net's construction (shapes, limits,
 * parameter offsets into the one flat parameter block), its initialisation
 * and the two stock nets.
 */
#include "nn_private.h"

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

#define FAIL(CODE, ...) do { g_set_error(error, TT_ERROR, (CODE), __VA_ARGS__); goto fail; } while (0)

    for (uint32_t i = 0; i < n_layers; i++) {
        const tt_layer *src = &layers[i];
        tt_layer *l = &ls[i];
        l->kind = src->kind;
        l->out_c = src->out_c;
        l->kh = src->kh; l->kw = src->kw; l->sh = src->sh; l->sw = src->sw;
        l->pad_t = src->pad_t; l->pad_b = src->pad_b; l->pad_l = src->pad_l; l->pad_r = src->pad_r;
        l->rate = src->rate;
        l->in_c = (uint32_t)c; l->in_h = (uint32_t)h; l->in_w = (uint32_t)w;
        const nn_layer_ops *ops = nn_ops(l->kind);
        if (!ops)
            FAIL(TT_ERROR_SHAPE, "layer %u: unknown kind %u", i, l->kind);
        uint64_t nw = 0, nb = 0, lwork = 0;
        if (!ops->shape(l, i, &c, &h, &w, &nw, &nb, &lwork, error))
            goto fail;
        l->out_c = (uint32_t)c;
        l->out_h = (uint32_t)h;
        l->out_w = (uint32_t)w;
        acts += c * h * w;
        work += lwork;
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
        FAIL(TT_ERROR_SHAPE, "last layer is %s, must be dense", tt_layer_kind_name(ls[n_layers - 1].kind));
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
    return NULL;
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

/* Index of the first layer after layer 0 that has no form on sparse maps
 * (nn_layer_ops.map_forward): the next parametrised layer, or a kind only the dense
 * path runs. Layers 1 .. j-1 are relu / maxpool / dropout. */
uint32_t sparse_split(const tt_net *net)
{
    uint32_t i = 1;
    while (i < net->n_layers && nn_ops(net->layers[i].kind) && nn_ops(net->layers[i].kind)->map_forward)
        i++;
    return i;   /* < n_layers since the last layer is dense */
}


/* The stock nets as tables; the last layer's out_c is the caller's class count. */
#define CONV(oc, k, s, pt, pb) { .kind = TT_LAYER_CONV, .out_c = (oc), .kh = (k), .kw = (k), .sh = (s), .sw = (s), \
                                 .pad_t = (pt), .pad_l = (pt), .pad_b = (pb), .pad_r = (pb) }
#define RELU { .kind = TT_LAYER_RELU }
#define MAXPOOL(k) { .kind = TT_LAYER_MAXPOOL, .kh = (k), .kw = (k), .sh = (k), .sw = (k) }
#define MAXPOOL_HW(h, w) { .kind = TT_LAYER_MAXPOOL, .kh = (h), .kw = (w), .sh = (h), .sw = (w) }
#define DROPOUT(r) { .kind = TT_LAYER_DROPOUT, .rate = (r) }
#define DENSE(n) { .kind = TT_LAYER_DENSE, .out_c = (n) }

static const tt_layer FLOWPIC[] = {
    CONV(10, 10, 5, 2, 3), RELU, MAXPOOL(2), CONV(20, 10, 5, 2, 3), RELU, DROPOUT(0.25f), MAXPOOL(2),
    DENSE(64), RELU, DROPOUT(0.5f), DENSE(0),
};
static const tt_layer LENET[] = {
    CONV(6, 5, 1, 2, 2), RELU, MAXPOOL(2), CONV(16, 5, 1, 0, 0), RELU, MAXPOOL(2),
    DENSE(120), RELU, DENSE(84), RELU, DENSE(0),
};
/* LeNet on the sequence picture (2*SIDE rows x SIDE packets): the first pool
 * takes 4 rows x 2 packets, so the rest of the net works on the grid LeNet has
 * on a square picture (measured: as accurate as a 2 x 2 pool, 2.3x fewer
 * multiply-adds; models/README.md). */
static const tt_layer LENET_SEQUENCE[] = {
    CONV(6, 5, 1, 2, 2), RELU, MAXPOOL_HW(4, 2), CONV(16, 5, 1, 0, 0), RELU, MAXPOOL(2),
    DENSE(120), RELU, DENSE(84), RELU, DENSE(0),
};

static uint32_t stock(const tt_layer *net, uint32_t n, tt_layer *layers, uint32_t n_classes)
{
    memcpy(layers, net, n * sizeof(tt_layer));
    layers[n - 1].out_c = n_classes;
    return n;
}

uint32_t tt_layers_flowpic(tt_layer *layers, uint32_t n_classes)
{
    return stock(FLOWPIC, G_N_ELEMENTS(FLOWPIC), layers, n_classes);
}

uint32_t tt_layers_lenet(tt_layer *layers, uint32_t n_classes)
{
    return stock(LENET, G_N_ELEMENTS(LENET), layers, n_classes);
}

uint32_t tt_layers_lenet_sequence(tt_layer *layers, uint32_t n_classes)
{
    return stock(LENET_SEQUENCE, G_N_ELEMENTS(LENET_SEQUENCE), layers, n_classes);
}
