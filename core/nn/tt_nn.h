/* TrafficTriage core: the CNN (inference and training).
 *
 * A net is a list of layers applied to a 1 x H x W input (a FlowPic), ending
 * with a dense layer whose outputs are the logits; softmax is applied by the
 * caller (tt_softmax) so a calibration temperature can be folded in.
 *
 * Parameters live in ONE flat float array (net->params), layer by layer:
 *   conv:  W[out_c][in_c][kh][kw], then b[out_c]
 *   dense: W[out][in],             then b[out]        (in = flattened C*H*W, row-major)
 * Gradients and Adam moments use the same layout.
 *
 * Activations are channel-first (C x H x W), row-major.
 *
 * Two forward paths that must agree (<= 1e-5 relative on logits):
 *  - tt_net_forward_dense: every conv on the whole picture (the baseline):
 *    im2col + sgemm, or, for stride-1 convs, a direct convolution with the
 *    following relu / dropout / maxpool folded into its write-out;
 *  - tt_net_forward_sparse: the first conv (in_c == 1) scatters each non-zero
 *    pixel into the outputs it touches; the untouched outputs equal the
 *    per-channel background relu(bias). If that conv is followed by [relu]
 *    [maxpool] and then another conv, the second conv is computed as its
 *    precomputed response to the constant background plus the contribution
 *    of the changed cells only ("delta conv"), switching back to the dense
 *    path when the picture has too many distinct pixels; if that conv is
 *    followed by [relu] maxpool [relu] and a dense layer, the dense layer is
 *    its precomputed response to the background plus the columns of the
 *    inputs that changed ("delta dense"). Needs tt_net_prepare (without it,
 *    conv 0 is sparse and the rest dense); call it again whenever the params
 *    change, or the sparse path computes with the old ones.
 *
 * No function here aborts or exits; allocation failures are GLib's (g_malloc).
 */
#ifndef TT_NN_H
#define TT_NN_H

#include "tt_types.h"

G_BEGIN_DECLS

typedef enum {
    TT_LAYER_CONV = 1,
    TT_LAYER_RELU = 2,
    TT_LAYER_MAXPOOL = 3,   /* no padding, floor((in - k) / s) + 1 */
    TT_LAYER_DROPOUT = 4,   /* identity at inference; inverted dropout in training */
    TT_LAYER_DENSE = 5      /* flattens its input */
} tt_layer_kind;

typedef struct {
    uint32_t kind;                  /* tt_layer_kind */
    /* conv: out_c filters of kh x kw, stride sh x sw, zero padding top/bottom/left/right.
     * maxpool: window kh x kw, stride sh x sw.  dense: out_c units. */
    uint32_t out_c, kh, kw, sh, sw;
    uint32_t pad_t, pad_b, pad_l, pad_r;
    float    rate;                  /* dropout probability in [0, 1) */
    /* Derived by tt_net_init (not stored in files): */
    uint32_t in_c, in_h, in_w;
    uint32_t out_h, out_w;          /* dense: out_h = out_w = 1 */
    size_t   w_off, b_off;          /* offsets into params; n_w = 0 for parameterless layers */
    size_t   n_w, n_b;
} tt_layer;

typedef struct tt_net_cache tt_net_cache;   /* private: background responses */

typedef struct {
    uint32_t  in_c, in_h, in_w;     /* in_c must be 1 (a FlowPic) */
    uint32_t  n_layers;
    tt_layer *layers;               /* n_layers entries, owned */
    uint32_t  n_out;                /* = last dense layer's out_c */
    size_t    n_params;
    float    *params;               /* n_params floats, owned */
    tt_net_cache *cache;            /* built by tt_net_prepare, owned */
} tt_net;

/* Create a net over an in_h x in_w picture from a layer list (copied; only the
 * non-derived fields are read). Checks that shapes chain, every dimension is
 * non-zero and within TT_MAX_*, no product overflows, the last layer is dense.
 * Allocates zeroed params. Returns NULL with a TT_ERROR_SHAPE/LIMIT error. */
tt_net *tt_net_new(uint32_t in_h, uint32_t in_w, const tt_layer *layers,
                   uint32_t n_layers, GError **error);
void tt_net_free(tt_net *net);

/* Name of a layer kind ("conv", "relu", "maxpool", "dropout", "dense");
 * NULL for a kind the engine does not know. */
const char *tt_layer_kind_name(uint32_t kind);
/* A layer as `traffictriage info` lists it: its kind's name and settings,
 * e.g. "conv(6@5x5/1)", "relu", "maxpool(2)", "dropout(0.25)", "dense(120)";
 * "(null)" for a kind the engine does not know. Returns buf (>= 64 bytes). */
const char *tt_layer_format(const tt_layer *l, char *buf, size_t len);

/* Checks that the engine can run every layer of net (a net made by
 * tt_net_new can, unless its layers were changed since): FALSE with a
 * TT_ERROR_SHAPE error naming the first layer it cannot. The inference and
 * training calls below check it too, and refuse such a net (a critical
 * warning; logits untouched, NAN from training). */
gboolean tt_net_check(const tt_net *net, GError **error);

/* He-normal weights, zero biases, from a seed (deterministic). */
void tt_net_init_params(tt_net *net, uint64_t seed);

/* Precompute what the sparse path needs (background responses, transposed
 * weights of the delta conv and delta dense layers: about the size of those
 * layers' weights again). Call after params are set or changed. */
void tt_net_prepare(tt_net *net);

/* Scratch memory for one thread; reusable across calls, sized for the net.
 * Buffers are allocated on first use and kept: after the first call of each
 * kind, inference allocates nothing (sparse maps grow only to a larger
 * picture than seen before). */
typedef struct tt_ws tt_ws;
tt_ws *tt_ws_new(const tt_net *net);
void tt_ws_free(tt_ws *ws);

/* Inference. px: n non-zero pixels (idx = row * in_w + col, unique, any
 * order, v != 0). logits: net->n_out floats. */
void tt_net_forward_sparse(const tt_net *net, tt_ws *ws,
                           const tt_pixel *px, size_t n, float *logits);
/* Inference on a dense 1 x in_h x in_w input (the baseline path). */
void tt_net_forward_dense(const tt_net *net, tt_ws *ws,
                          const float *input, float *logits);

/* probs[i] = softmax(logits / temperature)[i]; returns the argmax. */
uint32_t tt_softmax(const float *logits, uint32_t n, float temperature, float *probs);

/* Training on one picture: forward with dropout (drawn from *rng_state, a
 * 64-bit state advanced by this call), softmax cross-entropy against label,
 * backward; ADDS weight * dLoss/dparam into grad (net->n_params floats).
 * Returns weight * loss. If logits_out is not NULL, writes the logits. */
float tt_net_train_one(const tt_net *net, tt_ws *ws,
                       const tt_pixel *px, size_t n, uint32_t label,
                       float weight, uint64_t *rng_state,
                       float *grad, float *logits_out);

/* Adam / AdamW over the flat parameter array. */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;   /* weight_decay: decoupled (AdamW) */
    uint64_t t;
    size_t n;
    float *m, *v;                  /* owned, n floats each */
} tt_adam;
void tt_adam_init(tt_adam *opt, size_t n, float lr);   /* beta 0.9/0.999, eps 1e-8, wd 0 */
void tt_adam_clear(tt_adam *opt);
/* params -= update(grad * grad_scale). */
void tt_adam_step(tt_adam *opt, float *params, const float *grad, float grad_scale);

/* Layer lists of the two standard nets (written into *layers, returns count):
 * the FlowPic paper's net (conv 10@10x10 stride 5 padding 2 before / 3 after,
 * relu, maxpool 2, conv 20@10x10 stride 5 padding 2/3, relu, dropout .25,
 * maxpool 2, dense 64, relu, dropout .5, dense n_classes) and a LeNet-5 style mini net (conv 6@5x5 pad 2,
 * relu, maxpool 2, conv 16@5x5, relu, maxpool 2, dense 120, relu, dense 84,
 * relu, dense n_classes); the same mini net for the sequence picture
 * (2*SIDE x SIDE) pools 4 rows x 2 columns first. layers must hold
 * TT_MAX_LAYERS entries. */
uint32_t tt_layers_flowpic(tt_layer *layers, uint32_t n_classes);
uint32_t tt_layers_lenet(tt_layer *layers, uint32_t n_classes);
uint32_t tt_layers_lenet_sequence(tt_layer *layers, uint32_t n_classes);

/* 64-bit RNG helpers (splitmix64) used for init, shuffling, dropout, augmentation. */
uint64_t tt_rng_next(uint64_t *state);
double   tt_rng_uniform(uint64_t *state);            /* [0, 1) */
double   tt_rng_normal(uint64_t *state);             /* N(0, 1) */

/* Matrix product used by every dense step; OpenBLAS sgemm when available,
 * a plain C loop otherwise. Row-major: C[m x n] = alpha*op(A)*op(B) + beta*C. */
void tt_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc);
/* Make BLAS single-threaded (for hosts such as Wireshark). */
void tt_blas_single_thread(void);

G_END_DECLS

#endif
