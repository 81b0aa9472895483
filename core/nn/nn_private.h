/* TrafficTriage core, CNN engine (private): the structures shared by the
 * files of core/nn and their internal functions, one block per file.
 *
 * Layout conventions (all tensors float, row-major):
 *   dense activations   [C][H][W]          (channel-first, as in tt_nn.h)
 *   sparse maps         [H*W][cs] + stamps (channel-last, cs = C rounded up to 8,
 *                                          only cells stamped with the current epoch valid;
 *                                          training: smap), or compact: [touched][cs] + a cell
 *                                          -> slot table (inference: cmap)
 *   conv weights        [out_c][in_c][kh][kw], then bias [out_c]
 *   dense weights       [out][in], then bias [out]
 *
 * Where things are:
 *   kernels.c    RNG, gemm / gemv / ger (OpenBLAS or plain C), im2col, relu
 *   net.c        tt_net_new (shapes, limits, parameter offsets), init, stock nets
 *   layers.c     the layer kinds: one table, a forward and a backward per kind
 *   workspace.c  tt_ws: per-thread scratch, allocated on first use
 *   dconv.c      stride-1 convolutions run directly at inference
 *   sparse.c     sparse maps (smap, cmap), the layers' forms on them, the first conv's scatter
 *   delta.c      tt_net_prepare, the delta conv and the delta dense layer
 *   forward.c    inference: tt_net_forward_dense, tt_net_forward_sparse, softmax
 *   train.c      tt_net_train_one (the picture's way in on sparse maps, then the
 *                layers' ops, forward and backward), Adam
 *
 * No global state: scratch lives in tt_ws, randomness in the caller's state.
 */
#ifndef TT_NN_PRIVATE_H
#define TT_NN_PRIVATE_H

#include "nn_kernels.h"
#include "tt_nn_tuning.h"

/* Sparse work is done while (its multiply-adds) x factor <= (the
 * multiply-adds of the dense way it replaces): a scatter multiply-add costs
 * more than an sgemm one, but the dense way also pays for densifying and
 * im2col. Break-even factors measured with tt_bench_nn --threshold
 * (tests/bench/RESULTS-nn.md):
 *  - against im2col + sgemm (strided convs, the paper net): conv 0 (pixels
 *    vs the whole picture) ~4-6; the delta conv (changed cells vs the dense
 *    conv) ~1.6 when it fed a dense layer 1.5 (training still uses that), but
 *    with the delta dense layer behind it (inference) it won up to 150,000
 *    packets: 0.5, always on the paper net;
 *  - against a direct stride-1 conv (the LeNets), much cheaper per
 *    multiply-add: sparse conv 0 only below ~20 pixels of 1,024 (50), the
 *    delta conv while it does up to ~1.2 x the dense work (0.8). */
#define TT_SPARSE_COST_CONV0 5.0
#define TT_SPARSE_COST_DELTA 1.5
#define TT_SPARSE_COST_DELTA_INFER 0.5
#define TT_SPARSE_COST_CONV0_DIRECT 50.0
#define TT_SPARSE_COST_DELTA_DIRECT 0.8

/* Buffers of one owner (a workspace, a net's cache) are listed in its
 * GPtrArray `owned` as they are allocated and freed together with it: no
 * per-field free list to keep in step with the structs. */
#define NN_NEW(owned, T, n) ((T *)nn_own((owned), g_new(T, (n))))
#define NN_NEW0(owned, T, n) ((T *)nn_own((owned), g_new0(T, (n))))

static inline gpointer nn_own(GPtrArray *owned, gpointer p)
{
    g_ptr_array_add(owned, p);
    return p;
}

/* Frees an owned buffer before its owner (one that grows). */
static inline void nn_disown(GPtrArray *owned, gpointer p)
{
    if (p)
        g_ptr_array_remove_fast(owned, p);
}

static inline size_t layer_out_size(const tt_layer *l)
{
    return (size_t)l->out_c * l->out_h * l->out_w;
}

static inline size_t layer_in_size(const tt_layer *l)
{
    return (size_t)l->in_c * l->in_h * l->in_w;
}

/* Output range [*lo, *hi] (inclusive) of a conv/pool along one axis touched
 * by input coordinate y; returns FALSE when empty. */
static inline gboolean touched_range(int64_t y, int64_t pad, int64_t k, int64_t s, int64_t out,
                                     int64_t *lo, int64_t *hi)
{
    /* All quantities are small and non-negative here: 32-bit divisions are cheaper. */
    const uint32_t yp = (uint32_t)(y + pad), kk = (uint32_t)k, ss = (uint32_t)s;
    uint32_t l = yp + 1 <= kk ? 0 : (yp + 1 - kk + ss - 1) / ss;   /* o * s >= y + pad - k + 1 */
    int64_t h = yp / ss;                                            /* o * s <= y + pad */
    if (h > out - 1)
        h = out - 1;
    *lo = l;
    *hi = h;
    return (int64_t)l <= h;
}

/* Outputs [lo, lo + n) of a conv / pool along one axis touched by one input
 * coordinate: touched_range, tabulated per layer (ws_spans) so the scatter
 * loops of the sparse paths do no division. */
typedef struct {
    uint32_t lo, n;
} span;

/* ------------------------------------------------------------------------ */
/* The net's cache for the sparse path (delta.c, tt_net_prepare)            */

/* A conv's response to the constant background, by classes of rows and
 * columns: the value at (y, x) is v + (rc[y] * ncc + cc[x]) * stride. Rows
 * (columns) whose windows overlap the padding alike share a class, so on the
 * paper net 3 x 3 vectors stand for 900 (1 KB instead of 86, always in L1). */
typedef struct {
    float    *v;
    uint32_t *rc, *cc;
    uint32_t  ncc;
} bgtab;

struct tt_net_cache {
    GPtrArray *owned;  /* every buffer below (NN_NEW) */
    uint32_t j;        /* the conv layer computed as a delta conv */
    uint32_t ocs;      /* channel stride of wt / bgresp (out_c rounded up to 8) */
    float   *wt;       /* its weights as [kh][kw][in_c][ocs] */
    float   *bgresp;   /* its response to the background, [out_h*out_w][ocs], bias included */
    /* "Delta dense": when conv j is followed by [relu / dropout] maxpool p
     * [relu / dropout] and a dense layer d, the pooled cells whose window the
     * picture leaves untouched equal the background's, and d's output is its
     * response to the background plus the columns of the changed inputs only. */
    uint32_t p, d;     /* the maxpool and the dense layer (0 = no delta dense) */
    gboolean relu;     /* a relu between conv j and d */
    uint32_t dcs;      /* d's out_c rounded up to 8 */
    bgtab    bgc;      /* bgresp by classes (bgresp is spread from it) */
    float   *xbg;      /* d's input for the background, channel-last: [pooled h*w][ocs] */
    float   *ybg;      /* d's output for it, bias included, [dcs] */
    float   *wdt;      /* d's weights transposed, one row of dcs floats per input (padding lanes
                        * 0), rows in channel-last order: input o * pn + p is row p * out_c + o */
};

/* ------------------------------------------------------------------------ */
/* Sparse maps (sparse.c): compact at inference (cmap), by cell in training  */

#define TT_CM_HASH_MAX 16384u
#define TT_CM_DIRECT_MAX 8192u

typedef struct {
    uint32_t key;      /* cell + 1; 0 = empty */
    uint32_t slot;
} cm_ent;

typedef struct cmap {
    uint32_t c, h, w, cs;
    uint32_t n, cap;       /* slots used / allocated */
    float    *val;         /* [cap][cs], slot order */
    uint32_t *list;        /* [cap] cell of each slot */
    uint32_t *yx;          /* [cap] its row << 16 | column (sides < 65536: TT_MAX_IMAGE_SIDE x 3) */
    uint32_t *cnt;         /* [cap] pools: touched cells seen in the slot's window */
    float    *bg;          /* [cs] value of every untouched cell */
    gboolean  direct;      /* this call: stamp/slot arrays, else the hash */
    cm_ent   *ht;          /* hash, 1 << hbits entries in use (hcap allocated) */
    uint32_t  hbits, hcap;
    uint32_t *stamp, *slot; /* direct mode, [h*w], allocated when first needed */
    uint32_t  epoch;
} cmap;

typedef struct {
    uint32_t c, h, w;
    uint32_t cs;       /* channel stride: c rounded up to 8; padding lanes are 0 */
    float    *val;     /* [h*w][cs], valid where stamp == epoch */
    uint32_t *stamp;   /* [h*w] */
    uint32_t *list;    /* touched cells, n of them */
    uint32_t  n;
    float    *bg;      /* [cs] value of every untouched cell */
    /* training only */
    uint32_t *am;      /* maxpool output maps: [h*w][cs] input cell of each maximum */
    float    *g;       /* [h*w][cs] gradient, valid where gstamp == epoch (else 0) */
    uint32_t *gstamp;  /* [h*w] */
    gboolean  relu;    /* a relu was applied to it in place ... */
    gboolean  pooled;  /* ... a maxpool read it: the pool's backward applies the relu's mask */
} smap;

/* ------------------------------------------------------------------------ */
/* The workspace                                                            */

/* Buffers of a stride-1 conv run directly at inference (dconv.c). */
typedef struct {
    float   *pin;      /* zero-padded input: in_c planes of ps floats, plus slack; borders stay 0 */
    float   *out;      /* conv output without bias: out_c rows of nq floats, row stride wp;
                        * with wtc, channel-last [out_h * out_w][out_c] */
    size_t   ps, nq;   /* plane stride of pin; flat positions computed per channel */
    uint32_t wp;       /* padded row width */
    float   *wtc;      /* NULL, or the weights as [in_c][kh][kw][out_c] (dconv_run_cl) ... */
    float   *wsrc;     /* ... made from this copy of them */
    uint32_t *tq;      /* first position of each register tile (dconv_run), ntq of them */
    uint32_t ntq;
    gboolean wtc_ok;   /* wtc has been made at least once */
} dconv_buf;

/* A net's scratch for one thread (workspace.c): buffers allocated on first
 * use, one group per path that uses them. */
struct tt_ws {
    GPtrArray *owned;                /* every buffer below (NN_NEW) */
    uint32_t n_layers, in_h, in_w;   /* the net it was made for */
    size_t   n_params;
    /* every path */
    float   *act[TT_MAX_LAYERS];     /* per layer output; relu/dropout alias the previous */
    span    *spans[TT_MAX_LAYERS][2];/* per conv / pool layer: span tables of its input's rows, columns */
    struct {
        float   *input;              /* the picture densified (in_h * in_w) */
        float   *col;                /* im2col buffer, col_cap floats */
        size_t   col_cap;
    } dense;                         /* the dense way: tt_net_forward_dense, dense layer ops */
    struct {
        double   cost0, cost_delta;  /* set by tt_ws_set_sparse_cost, < 0: the defaults (TT_SPARSE_COST_*) */
        float   *w1t;                /* conv 0 weights as [kh][kw][cs] (fill_w1t) */
        float   *b1;                 /* conv 0 bias, [cs] */
        float   *acc;                /* delta conv output, channel-last */
        float   *dval;               /* one cell's non-zero changes ... */
        uint32_t *dq;                /* ... and their channels */
        float   *pmax;               /* running max over a pool window, [ocs] (ws_delta_bufs) */
    } sparse;                        /* conv 0 by scatter and the delta conv, inference and training */
    struct {
        dconv_buf dc[TT_MAX_LAYERS]; /* stride-1 convs run directly */
        cmap    *cm;                 /* compact sparse maps, TT_MAX_LAYERS */
    } infer;                         /* inference only (tt_net_forward_sparse, dconv.c) */
    struct {
        uint32_t epoch;
        uint32_t *ostamp, *olist;    /* conv j outputs set from bgresp this call ([out_h*out_w]) */
        uint32_t *pstamp;            /* pooled cells done this call ([pooled h*w]) */
        uint32_t *plist;             /* those cells, ascending */
        float    *xv;                /* their pooled values, [pooled h*w][ocs] */
        uint32_t *dk;                /* changed inputs of the dense layer ... */
        float    *dv;                /* ... and their change */
        float    *y;                 /* its output, [dcs] */
    } dd;                            /* inference: the delta dense layer (tt_net_cache) */
    struct {
        float   *g[2];               /* gradient ping-pong, gcap floats each */
        size_t   gcap;
        uint32_t *argmax[TT_MAX_LAYERS]; /* maxpool: input index of each output */
        float   *mask[TT_MAX_LAYERS];    /* dropout: 0 or 1/(1-rate) */
        float   *colkeep[TT_MAX_LAYERS]; /* conv: column matrix kept from forward to backward */
        gboolean dense_train;        /* tests: train with a dense conv 0 output */
        smap     map[TT_MAX_LAYERS]; /* the sparse maps of training */
        uint32_t epoch;              /* their stamp (ws_next_epoch) */
    } train;                         /* training (tt_net_train_one, the layers' backward) */
    struct {
        float *wt, *u, *r, *dwt, *gy;
    } dt;                            /* training: the delta conv (dtrain_alloc) */
};

/* ------------------------------------------------------------------------ */
/* The first conv's scatter                                                 */

/* The first conv's scatter (conv 0, in_c == 1, on the pixel list): every
 * pair of a non-zero pixel and an output whose window holds it, pixels in
 * list order, a pixel's outputs row by row. The one loop of conv 0 on the
 * sparse paths, forward (inference and training) and backward:
 *     tt_scatter s;
 *     for (scatter_start(&s, net, ws, px, n); scatter_next(&s);)
 *         ... s.v, s.oy, s.ox, scatter_cell(&s), scatter_tap(&s) ...
 * (scatter_start: scatter_init with layer 0's span tables, ws_spans). Pixels
 * outside the picture or of value 0 are passed over. */
typedef struct {
    const tt_layer *l;
    const span *rows, *cols;
    const tt_pixel *px;
    size_t n, i;                   /* pixels, the next one */
    size_t hw;
    uint32_t in_w;
    uint32_t r, c;                 /* the current pixel's row and column ... */
    float v;                       /* ... and value */
    uint32_t oy, ox;               /* the current output */
    uint32_t y_end, x_lo, x_end;   /* the pixel's outputs: rows [.., y_end), columns [x_lo, x_end) */
} tt_scatter;

static inline void scatter_init(tt_scatter *s, const tt_layer *l, const span *rows, const span *cols,
                                const tt_pixel *px, size_t n, uint32_t in_h, uint32_t in_w)
{
    s->l = l;
    s->rows = rows;
    s->cols = cols;
    s->px = px;
    s->n = n;
    s->i = 0;
    s->hw = (size_t)in_h * in_w;
    s->in_w = in_w;
    s->r = s->c = 0;
    s->v = 0.0f;
    s->oy = s->y_end = 0;
    s->ox = s->x_lo = s->x_end = 0;     /* no pixel yet: the first scatter_next takes one */
}

static inline gboolean scatter_next(tt_scatter *s)
{
    if (++s->ox < s->x_end)
        return TRUE;
    if (++s->oy < s->y_end) {
        s->ox = s->x_lo;
        return TRUE;
    }
    while (s->i < s->n) {
        const tt_pixel p = s->px[s->i++];
        if (p.idx >= s->hw || p.v == 0.0f)
            continue;
        const uint32_t r = p.idx / s->in_w, c = p.idx - r * s->in_w;
        const span sy = s->rows[r], sx = s->cols[c];
        if (!sy.n || !sx.n)
            continue;
        s->r = r;
        s->c = c;
        s->v = p.v;
        s->oy = sy.lo;
        s->y_end = sy.lo + sy.n;
        s->ox = s->x_lo = sx.lo;
        s->x_end = sx.lo + sx.n;
        return TRUE;
    }
    return FALSE;
}

/* The current output, oy * out_w + ox, and the kernel tap linking it to the
 * pixel, ky * kw + kx. */
static inline uint32_t scatter_cell(const tt_scatter *s)
{
    return s->oy * s->l->out_w + s->ox;
}

static inline uint32_t scatter_tap(const tt_scatter *s)
{
    const tt_layer *l = s->l;
    return (s->r + l->pad_t - s->oy * l->sh) * l->kw + (s->c + l->pad_l - s->ox * l->sw);
}


/* ------------------------------------------------------------------------ */
/* The internal functions, by file                                          */

#pragma GCC visibility push(hidden)

/* net.c */
/* Index of the first layer after layer 0 that sparse maps do not run
 * (a parametrised layer, or a kind without a map form: nn_layer_ops.map_forward). */
uint32_t sparse_split(const tt_net *net);

/* workspace.c */
gboolean ws_fits(const tt_net *net, const tt_ws *ws);
float *ws_act(const tt_net *net, tt_ws *ws, uint32_t i);
float *ws_col(tt_ws *ws, size_t need);
float *ws_input(const tt_net *net, tt_ws *ws);
void densify_input(const tt_net *net, float *dst, const tt_pixel *px, size_t n);
void ws_spans(tt_ws *ws, uint32_t i, const tt_layer *l, const span **rows, const span **cols);
void scatter_start(tt_scatter *s, const tt_net *net, tt_ws *ws, const tt_pixel *px, size_t n);
size_t max_act(const tt_net *net);
void ws_next_epoch(tt_ws *ws);
void fill_w1t(const tt_net *net, tt_ws *ws, uint32_t cs);

/* layers.c: the layer kinds */
/* What a layer's forward and backward get besides their tensors. */
typedef struct {
    const tt_net *net;
    tt_ws    *ws;
    uint32_t  i;          /* the layer's index */
    uint64_t *rng;        /* training: dropout's draws (and the forward keeps what the
                           * backward needs); NULL at inference */
} nn_ctx;

typedef struct {
    const char *name;     /* as in `traffictriage info` and in error messages */
    gboolean params;      /* has weights and biases */
    gboolean in_place;    /* after layer 0, its output is its input's buffer */
    /* Writes the layer's settings as `traffictriage info` shows them after its
     * name, e.g. "(6@5x5/1)"; NULL: a kind without settings. */
    void (*args)(const tt_layer *l, char *buf, size_t len);
    /* Checks l (layer i) against its input c x h x w, sets the output shape in
     * c, h, w, the weight and bias counts and the dense multiply-adds. */
    gboolean (*shape)(tt_layer *l, uint32_t i, uint64_t *c, uint64_t *h, uint64_t *w, uint64_t *nw,
                      uint64_t *nb, uint64_t *work, GError **error);
    /* y = layer(x): x [in_c][in_h][in_w], y [out_c][out_h][out_w] (relu and
     * dropout: the same buffer as x, see ws_act). */
    void (*forward)(const nn_ctx *c, const tt_layer *l, const float *x, float *y);
    /* From g = dLoss/dy (y: the forward's output): adds dLoss/dparams into
     * grad, returns dLoss/dx, either g (changed in place) or gx (NULL: not needed). */
    float *(*backward)(const nn_ctx *c, const tt_layer *l, const float *x, const float *y, float *g, float *gx,
                       float *grad);
    /* Inference on the compact sparse maps of the chain between conv 0 and
     * the next parametrised layer (sparse.c): m holds the input, returns the
     * map of the output. NULL: the kind has no map form, and the sparse path
     * hands the net to the dense path at that layer. */
    cmap *(*map_forward)(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m);
    /* Training on the sparse maps of that chain (train.c, sparse.c): forward
     * from m, the map of the input, returns the map of the output (m when in
     * place); backward from the gradient at the output map m's cells, the
     * gradient at the input map a's (a == m when in place). NULL, or
     * smap_ok(l) FALSE: training runs conv 0's output dense instead. */
    smap *(*smap_forward)(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m);
    void (*smap_backward)(const tt_layer *l, smap *a, smap *m, uint32_t epoch);
    gboolean (*smap_ok)(const tt_layer *l);   /* NULL: always */
} nn_layer_ops;

/* The ops of a kind; NULL for an unknown kind. */
const nn_layer_ops *nn_ops(uint32_t kind);
void dense_forward(const tt_net *net, const tt_layer *l, const float *x, float *y);

/* dconv.c */
gboolean dconv_ok(const tt_layer *l);
dconv_buf *ws_dconv(tt_ws *ws, const tt_layer *l, uint32_t i);
float *dconv_forward(const tt_net *net, tt_ws *ws, uint32_t i, const float *x, gboolean *staged, uint32_t *last);

/* sparse.c */
#define TT_AM_BACKGROUND 0x80000000u
void smap_alloc_train(GPtrArray *owned, smap *m, const tt_layer *l, gboolean argmax);
void conv1_scatter(const tt_layer *l, const float *w1t, const float *bias, tt_scatter *s, smap *m,
                   uint32_t epoch);
void smap_densify(const smap *m, float *d);
void cmap_reset(GPtrArray *owned, cmap *m, uint32_t c, uint32_t h, uint32_t w, size_t max_cells);
void cm_conv0(const float *w1t, const float *bias, tt_scatter *s, cmap *m);
void cm_relu(cmap *m);
void cm_pool(const tt_layer *l, const span *rows, const span *cols, const cmap *a, cmap *b);
void cm_densify(const cmap *m, float *d, size_t dps, size_t drs);
cmap *cm_relu_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m);
cmap *cm_pool_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m);
cmap *cm_identity_layer(tt_ws *ws, uint32_t i, const tt_layer *l, cmap *m);
smap *smap_relu_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m);
void smap_relu_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch);
smap *smap_pool_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m);
void smap_pool_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch);
smap *smap_identity_fwd(tt_ws *ws, uint32_t i, const tt_layer *l, smap *m);
void smap_identity_bwd(const tt_layer *l, smap *a, smap *m, uint32_t epoch);

/* delta.c */
void cache_free(tt_net_cache *c);
void delta_conv(const tt_layer *l, const float *wt, uint32_t ocs, uint32_t c, uint32_t cs, uint32_t iw,
                const uint32_t *list, uint32_t n, const float *val, const uint32_t *yx, const span *rows,
                const span *cols, const float *bg, float *dval, uint32_t *dq, float *acc, const bgtab *bgt,
                uint32_t ocsb, uint32_t *ostamp, uint32_t oepoch, uint32_t *olist, uint32_t *on);
void finish_channel_last(const tt_net *net, tt_ws *ws, uint32_t j, const float *acc, uint32_t ocs,
                         float *logits);
void ws_delta_bufs(tt_ws *ws, const tt_layer *lj, uint32_t ocs);
void forward_delta_conv(const tt_net *net, tt_ws *ws, const cmap *m, float *logits);
void forward_delta_dense(const tt_net *net, tt_ws *ws, const cmap *m, float *logits);

/* forward.c */
void forward_dense_from(const tt_net *net, tt_ws *ws, uint32_t start, const float *x, gboolean staged,
                        float *logits);

#pragma GCC visibility pop

#endif
