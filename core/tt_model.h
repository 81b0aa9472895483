/* TrafficTriage core: a model = input spec + class names + CNN + metadata,
 * and its file format (models/FORMAT.md).
 *
 * The loader reads the whole file, checks magic, version, declared size and
 * SHA-256 before parsing anything else, bounds every count and dimension and
 * rejects NaN/Inf weights. It returns NULL and a GError (domain TT_ERROR) with
 * a message naming the file and the problem; it never aborts.
 */
#ifndef TT_MODEL_H
#define TT_MODEL_H

#include "tt_types.h"
#include "tt_nn.h"

G_BEGIN_DECLS

#define TT_MODEL_MAGIC   "TTRIAGE\x1a"
#define TT_MODEL_VERSION 1u
#define TT_MODEL_MAX_FILE (512u * 1024u * 1024u)
#define TT_MODEL_MAX_META (64u * 1024u)

typedef struct tt_model_s {
    char     *name;             /* short model name, e.g. "category-mini32" */
    char     *task;             /* "category", "tunnel", "platform", ... */
    uint32_t  n_classes;
    char    **classes;          /* n_classes NUL-terminated names */
    tt_spec   spec;
    float     temperature;      /* softmax calibration (1 = none) */
    char     *meta;             /* free text "key=value" lines: data, split, seed, metrics */
    tt_net   *net;
    char      sha256[65];       /* hex checksum of the file it was loaded from / saved to */
    struct tt_model_s *companion; /* a fused model's second net (tt_model_fuse), or NULL */
} tt_model;

/* A new model owning net (which must end in n_classes outputs). */
tt_model *tt_model_new(const char *name, const char *task, uint32_t n_classes,
                       const char *const *classes, const tt_spec *spec,
                       tt_net *net, GError **error);
void tt_model_free(tt_model *m);

/* A fused model: `companion` (owned from now on) answers every block beside m,
 * from its own picture of the same packets (its spec's bins, time axis and
 * pixel values), and a block's probabilities are the mean of the two models'
 * calibrated ones (tt_classify_packets). The two must have the same task and
 * classes in the same order and cut flows the same way (block length, idle
 * timeout, minimum span, minimum and stored packets); a companion has no
 * companion of its own. Saved as a COMP section (models/FORMAT.md). On
 * failure nothing is taken and FALSE is returned. */
gboolean tt_model_fuse(tt_model *m, tt_model *companion, GError **error);

tt_model *tt_model_load_file(const char *path, GError **error);
tt_model *tt_model_load_bytes(const guint8 *data, gsize len, GError **error);
/* Serialise; fills m->sha256. */
GBytes   *tt_model_to_bytes(tt_model *m, GError **error);
gboolean  tt_model_save_file(tt_model *m, const char *path, GError **error);

/* The confidence below which a block's answer reads "unknown", as the model's
 * trainer recommends it (META line `threshold=T`, chosen on validation data;
 * `traffictriage train --threshold`), or TT_MODEL_DEFAULT_THRESHOLD when the
 * model names none or an invalid one. */
#define TT_MODEL_DEFAULT_THRESHOLD 0.5
double tt_model_threshold(const tt_model *m);

/* A confidence as people read it, wherever the plugin or the CLI shows one
 * (fields, labels, the Flows table, the FlowPic export, `classify`, `render`):
 * 3 decimals, rounded down, so 3 significant digits for any top-class
 * probability of 5 or fewer classes (>= 0.2). The plugin's fields keep this
 * value (not the model's full float), so that -T fields, JSON and CSV exports
 * print 0.801 instead of 0.801101624965668; rounding down keeps
 * `triage.confidence >= T` in step with the status for any threshold T of up
 * to 3 decimals (0.4996 reads 0.499 and "low confidence" at 0.5). The 1e-6
 * lets a float just under k/1000 by representation error read k/1000. */
double tt_confidence_shown(double c);
/* The same in thousandths (tt_confidence_shown(c) == tt_confidence_milli(c) / 1000.0),
 * for text written without floating-point formatting ("%u.%03u"). */
unsigned tt_confidence_milli(double c);

/* Result of classifying one block. */
typedef struct {
    uint32_t top;               /* class index */
    float    confidence;        /* probs[top] */
    uint32_t n_classes;
    float    probs[TT_MAX_CLASSES];
} tt_result;

/* The conversation answer (issue #17): a one-way flow's block and the reverse
 * direction's block of the same index (the same 5-tuple, the other way) answer
 * together with the mean of their class probabilities, equal weights; the
 * pooled top class and its probability are the answer. b == NULL (the reverse
 * direction has no classified block of that index): out = *a, the block stands
 * alone. Results with different n_classes do not pool (out = *a). Ties go to
 * the lower class index, as in tt_softmax. out may be a or b. */
void tt_result_pool(const tt_result *a, const tt_result *b, tt_result *out);

/* Probabilities kept in one byte per class (p rounded to the nearest 1/255):
 * what the plugin stores per closed block, and what the CLI pools too, so
 * that both give the same conversation answer. q holds r->n_classes bytes. */
#define TT_RESULT_Q_ONE 255u
void tt_result_quantise(const tt_result *r, uint8_t *q);
/* The result of n_classes stored bytes (probabilities q / 255, top, confidence). */
void tt_result_dequantise(const uint8_t *q, uint32_t n_classes, tt_result *out);
/* tt_result_pool of two stored vectors (qb NULL: qa alone). */
void tt_result_pool_stored(const uint8_t *qa, const uint8_t *qb, uint32_t n_classes,
                           tt_result *out);

/* Per-thread classification state (workspace + pixel buffer). */
typedef struct tt_classifier tt_classifier;
tt_classifier *tt_classifier_new(const tt_model *m);
void tt_classifier_free(tt_classifier *c);
/* Build the block's FlowPic and run the net (sparse path). Returns FALSE if
 * the block has no usable pixel (all dropped by the size policy). */
gboolean tt_classify_packets(tt_classifier *c, const tt_pkt *pkts, size_t n,
                             tt_result *res);

G_END_DECLS

#endif
