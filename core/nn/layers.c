/* TrafficTriage core, CNN engine: the layer kinds on dense channel-first
 * tensors. Convolution is im2col + gemm, done in chunks of output positions
 * so the column buffer stays bounded (TT_COL_MAX floats) whatever the
 * picture; backward as in darknet (gemm for dW, transposed gemm + col2im for
 * dX).
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
float *ws_keep(const tt_layer *l, tt_ws *ws, uint32_t i)
{
    if (conv_chunk(l) < (size_t)l->out_h * l->out_w)
        return NULL;
    if (!ws->colkeep[i])
        ws->colkeep[i] = g_new(float, (size_t)l->in_c * l->kh * l->kw * l->out_h * l->out_w);
    return ws->colkeep[i];
}

/* keep: NULL, or a buffer for the whole column matrix (see ws_keep). */
void conv_forward(const tt_net *net, tt_ws *ws, const tt_layer *l, const float *x, float *y, float *keep)
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
void conv_backward(const tt_net *net, tt_ws *ws, const tt_layer *l, const float *x,
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

void maxpool_forward(const tt_layer *l, const float *x, float *y, uint32_t *arg)
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
