/* TrafficTriage core, CNN engine: the layer kinds, one table (nn_ops): per
 * kind its name, its shape rule, and a forward and a backward on dense
 * channel-first tensors. Adding a kind means one entry here (plus, if it is
 * to run on the sparse maps between conv 0 and the next parametrised layer,
 * its map forms in sparse.c: .map_forward for inference, .smap_forward and
 * .smap_backward for training; without them the sparse paths hand the net
 * to the dense path at that layer).
 *
 * Convolution is im2col + gemm, done in chunks of output positions so the
 * column buffer stays bounded (TT_COL_MAX floats) whatever the picture;
 * backward as in darknet (gemm for dW, transposed gemm + col2im for dX).
 */
#include "nn_private.h"

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

/* Training keeps a conv's whole column matrix from the forward for the
 * backward when it fits in one chunk (NULL otherwise). */
static float *ws_keep(const tt_layer *l, tt_ws *ws, uint32_t i)
{
    if (conv_chunk(l) < (size_t)l->out_h * l->out_w)
        return NULL;
    if (!ws->train.colkeep[i])
        ws->train.colkeep[i] = NN_NEW(ws->owned, float, (size_t)l->in_c * l->kh * l->kw * l->out_h * l->out_w);
    return ws->train.colkeep[i];
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

void dense_forward(const tt_net *net, const tt_layer *l, const float *x, float *y)
{
    const int in = (int)layer_in_size(l), out = (int)l->out_c;
    memcpy(y, net->params + l->b_off, (size_t)out * sizeof(float));
    gemv_rows(out, in, net->params + l->w_off, in, x, y);
}

/* ------------------------------------------------------------------------ */
/* Shapes: check a layer against its input c x h x w (layer index i), set the
 * output shape in c, h, w, the weight and bias counts and the multiply-adds
 * of the dense way (for the limits of tt_net_new). FALSE with a GError.    */

#define SHAPE_FAIL(CODE, ...) do { g_set_error(error, TT_ERROR, (CODE), __VA_ARGS__); return FALSE; } while (0)

static gboolean conv_shape(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                           uint64_t *nb, uint64_t *work, GError **error)
{
    if (l->out_c == 0 || l->kh == 0 || l->kw == 0 || l->sh == 0 || l->sw == 0)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (conv): zero filters, kernel or stride", i);
    if (l->kh > TT_MAX_IMAGE_SIDE || l->kw > TT_MAX_IMAGE_SIDE || l->sh > TT_MAX_IMAGE_SIDE ||
        l->sw > TT_MAX_IMAGE_SIDE || l->pad_t > TT_MAX_IMAGE_SIDE || l->pad_b > TT_MAX_IMAGE_SIDE ||
        l->pad_l > TT_MAX_IMAGE_SIDE || l->pad_r > TT_MAX_IMAGE_SIDE)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (conv): kernel, stride or padding exceeds %u", i,
                   (unsigned)TT_MAX_IMAGE_SIDE);
    if (l->out_c > TT_MAX_ACTIVATIONS)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (conv): %u filters exceeds %u", i, l->out_c,
                   (unsigned)TT_MAX_ACTIVATIONS);
    const uint64_t ph = *h + l->pad_t + l->pad_b, pw = *w + l->pad_l + l->pad_r;
    if (l->kh > ph || l->kw > pw)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (conv): kernel %ux%u larger than padded input %llux%llu", i, l->kh,
                   l->kw, (unsigned long long)ph, (unsigned long long)pw);
    const uint64_t oh = (ph - l->kh) / l->sh + 1, ow = (pw - l->kw) / l->sw + 1;
    if ((uint64_t)l->out_c * oh * ow > TT_MAX_ACTIVATIONS)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (conv): output %ux%llux%llu exceeds %u floats", i, l->out_c,
                   (unsigned long long)oh, (unsigned long long)ow, (unsigned)TT_MAX_ACTIVATIONS);
    uint64_t n = (uint64_t)l->out_c * *c;
    if (n > TT_MAX_PARAMS || (n *= l->kh) > TT_MAX_PARAMS || (n *= l->kw) > TT_MAX_PARAMS)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (conv): weights exceed %u floats", i, (unsigned)TT_MAX_PARAMS);
    *nw = n;
    *nb = l->out_c;
    *c = l->out_c; *h = oh; *w = ow;
    *work = n * oh * ow;
    return TRUE;
}

static gboolean maxpool_shape(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                              uint64_t *nb, uint64_t *work, GError **error)
{
    if (l->kh == 0 || l->kw == 0 || l->sh == 0 || l->sw == 0)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): zero window or stride", i);
    if (l->pad_t || l->pad_b || l->pad_l || l->pad_r)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): padding is not supported", i);
    if (l->sh > TT_MAX_IMAGE_SIDE || l->sw > TT_MAX_IMAGE_SIDE)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (maxpool): stride exceeds %u", i, (unsigned)TT_MAX_IMAGE_SIDE);
    if (l->kh > *h || l->kw > *w)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (maxpool): window %ux%u larger than input %llux%llu", i, l->kh, l->kw,
                   (unsigned long long)*h, (unsigned long long)*w);
    *h = (*h - l->kh) / l->sh + 1;
    *w = (*w - l->kw) / l->sw + 1;
    *nw = *nb = 0;
    *work = *c * *h * *w * l->kh * l->kw;
    return TRUE;
}

static gboolean relu_shape(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                           uint64_t *nb, uint64_t *work, GError **error)
{
    *nw = *nb = 0;
    *work = *c * *h * *w;
    return TRUE;
}

static gboolean dropout_shape(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                              uint64_t *nb, uint64_t *work, GError **error)
{
    if (!(l->rate >= 0.0f && l->rate < 1.0f))
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (dropout): rate %g not in [0, 1)", i, (double)l->rate);
    return relu_shape(l, i, c, h, w, nw, nb, work, error);
}

static gboolean dense_shape(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                            uint64_t *nb, uint64_t *work, GError **error)
{
    if (l->out_c == 0)
        SHAPE_FAIL(TT_ERROR_SHAPE, "layer %u (dense): zero units", i);
    if (l->out_c > TT_MAX_ACTIVATIONS)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (dense): %u units exceeds %u", i, l->out_c,
                   (unsigned)TT_MAX_ACTIVATIONS);
    const uint64_t n = (uint64_t)l->out_c * (*c * *h * *w);
    if (n > TT_MAX_PARAMS)
        SHAPE_FAIL(TT_ERROR_LIMIT, "layer %u (dense): %llu weights exceed %u", i, (unsigned long long)n,
                   (unsigned)TT_MAX_PARAMS);
    *nw = n;
    *nb = l->out_c;
    *c = l->out_c; *h = 1; *w = 1;
    *work = n;
    return TRUE;
}

#undef SHAPE_FAIL

/* ------------------------------------------------------------------------ */
/* Forward and backward of each kind. x: the input [in_c][in_h][in_w], y: the
 * output [out_c][out_h][out_w] (the same buffer as x for relu and dropout);
 * g: dLoss/dy, gx: room for dLoss/dx (NULL when not needed); a backward adds
 * dLoss/dparams into grad and returns dLoss/dx: g itself (changed in place)
 * or gx.                                                                   */

static void conv_fwd(const nn_ctx *c, const tt_layer *l, const float *x, float *y)
{
    conv_forward(c->net, c->ws, l, x, y, c->rng ? ws_keep(l, c->ws, c->i) : NULL);
}

static float *conv_bwd(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                       float *grad)
{
    conv_backward(c->net, c->ws, l, x, g, grad, gx, c->ws->train.colkeep[c->i]);
    return gx ? gx : g;
}

static void relu_fwd(const nn_ctx *c, const tt_layer *l, const float *x, float *y)
{
    relu_forward(x, y, layer_out_size(l));
}

static float *relu_bwd(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                       float *grad)
{
    relu_backward(y, g, layer_out_size(l));
    return g;
}

/* Identity at inference; in training inverted dropout: an element is dropped
 * when a 32-bit draw is below rate * 2^32 (each 64-bit draw gives two), the
 * others scaled by 1 / (1 - rate); the mask is kept for the backward. */
static void dropout_fwd(const nn_ctx *c, const tt_layer *l, const float *x, float *y)
{
    const size_t no = layer_out_size(l);
    if (y != x)
        memcpy(y, x, no * sizeof(float));
    if (!c->rng || !(l->rate > 0.0f))
        return;
    tt_ws *ws = c->ws;
    if (!ws->train.mask[c->i])
        ws->train.mask[c->i] = NN_NEW(ws->owned, float, no);
    float *mk = ws->train.mask[c->i];
    const float keep = 1.0f / (1.0f - l->rate);
    const uint64_t thr = (uint64_t)((double)l->rate * 4294967296.0);
    uint64_t bits = 0;
    for (size_t k = 0; k < no; k++) {
        if (!(k & 1))
            bits = tt_rng_next(c->rng);
        const uint64_t u = (k & 1) ? bits >> 32 : bits & 0xFFFFFFFFu;
        mk[k] = u < thr ? 0.0f : keep;
        y[k] *= mk[k];
    }
}

static float *dropout_bwd(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                          float *grad)
{
    if (l->rate > 0.0f) {
        const float *mk = c->ws->train.mask[c->i];
        const size_t no = layer_out_size(l);
        for (size_t k = 0; k < no; k++)
            g[k] *= mk[k];
    }
    return g;
}

/* In training the input index of each maximum is kept for the backward. */
static void maxpool_fwd(const nn_ctx *c, const tt_layer *l, const float *x, float *y)
{
    uint32_t *arg = NULL;
    if (c->rng) {
        if (!c->ws->train.argmax[c->i])
            c->ws->train.argmax[c->i] = NN_NEW(c->ws->owned, uint32_t, layer_out_size(l));
        arg = c->ws->train.argmax[c->i];
    }
    maxpool_forward(l, x, y, arg);
}

static float *maxpool_bwd(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                          float *grad)
{
    if (!gx)
        return g;
    const uint32_t *am = c->ws->train.argmax[c->i];
    const size_t no = layer_out_size(l);
    memset(gx, 0, layer_in_size(l) * sizeof(float));
    for (size_t k = 0; k < no; k++)
        gx[am[k]] += g[k];
    return gx;
}

static void dense_fwd(const nn_ctx *c, const tt_layer *l, const float *x, float *y)
{
    dense_forward(c->net, l, x, y);
}

/* dW += g x^T, db += g, dx = W^T g. */
static float *dense_bwd(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                        float *grad)
{
    const int in = (int)layer_in_size(l), out = (int)l->out_c;
    tt_ger(out, in, 1.0f, g, x, grad + l->w_off, in);
    float *db = grad + l->b_off;
    for (int k = 0; k < out; k++)
        db[k] += g[k];
    if (!gx)
        return g;
    tt_gemv(1, out, in, 1.0f, c->net->params + l->w_off, in, g, 0.0f, gx);
    return gx;
}

/* ------------------------------------------------------------------------ */
/* Settings, as `traffictriage info` lists them                              */

static void conv_args(const tt_layer *l, char *buf, size_t len)
{
    g_snprintf(buf, len, "(%u@%ux%u/%u)", l->out_c, l->kh, l->kw, l->sh);
}

static void maxpool_args(const tt_layer *l, char *buf, size_t len)
{
    if (l->kh == l->kw)
        g_snprintf(buf, len, "(%u)", l->kh);
    else
        g_snprintf(buf, len, "(%ux%u)", l->kh, l->kw);   /* rows x columns */
}

static void dropout_args(const tt_layer *l, char *buf, size_t len)
{
    g_snprintf(buf, len, "(%g)", (double)l->rate);
}

static void dense_args(const tt_layer *l, char *buf, size_t len)
{
    g_snprintf(buf, len, "(%u)", l->out_c);
}

/* A drawn dropout mask is dense: training does not run it on sparse maps. */
static gboolean dropout_smap_ok(const tt_layer *l)
{
    return !(l->rate > 0.0f);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static const nn_layer_ops OPS[] = {
    [TT_LAYER_CONV] = { .name = "conv", .params = TRUE, .args = conv_args, .shape = conv_shape,
                        .forward = conv_fwd, .backward = conv_bwd },
    [TT_LAYER_RELU] = { .name = "relu", .in_place = TRUE, .shape = relu_shape,
                        .forward = relu_fwd, .backward = relu_bwd, .map_forward = cm_relu_layer,
                        .smap_forward = smap_relu_fwd, .smap_backward = smap_relu_bwd },
    [TT_LAYER_MAXPOOL] = { .name = "maxpool", .args = maxpool_args, .shape = maxpool_shape,
                           .forward = maxpool_fwd, .backward = maxpool_bwd, .map_forward = cm_pool_layer,
                           .smap_forward = smap_pool_fwd, .smap_backward = smap_pool_bwd },
    [TT_LAYER_DROPOUT] = { .name = "dropout", .in_place = TRUE, .args = dropout_args, .shape = dropout_shape,
                           .forward = dropout_fwd, .backward = dropout_bwd, .map_forward = cm_identity_layer,
                           .smap_forward = smap_identity_fwd, .smap_backward = smap_identity_bwd,
                           .smap_ok = dropout_smap_ok },
    [TT_LAYER_DENSE] = { .name = "dense", .params = TRUE, .args = dense_args, .shape = dense_shape,
                         .forward = dense_fwd, .backward = dense_bwd },
};

const nn_layer_ops *nn_ops(uint32_t kind)
{
    return kind < G_N_ELEMENTS(OPS) && OPS[kind].name ? &OPS[kind] : NULL;
}

const char *tt_layer_kind_name(uint32_t kind)
{
    const nn_layer_ops *ops = nn_ops(kind);
    return ops ? ops->name : NULL;
}

const char *tt_layer_format(const tt_layer *l, char *buf, size_t len)
{
    const nn_layer_ops *ops = nn_ops(l->kind);
    char args[64] = "";
    if (ops && ops->args)
        ops->args(l, args, sizeof args);
    if (ops)
        g_snprintf(buf, len, "%s%s", ops->name, args);
    else
        g_snprintf(buf, len, "(null)");   /* printf("%s", NULL) in glibc, as before */
    return buf;
}

gboolean tt_net_check(const tt_net *net, GError **error)
{
    g_return_val_if_fail(net != NULL, FALSE);
    for (uint32_t i = 0; i < net->n_layers; i++)
        if (!nn_ops(net->layers[i].kind)) {
            g_set_error(error, TT_ERROR, TT_ERROR_SHAPE, "layer %u: unknown kind %u", i, net->layers[i].kind);
            return FALSE;
        }
    return TRUE;
}
