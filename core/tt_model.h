/* TrafficTriage core: a model = input spec + class names + CNN + metadata,
 * and its file format (models/FORMAT.md).
 *
 * The loader reads the whole file, checks magic, version, declared size and
 * SHA-256 before parsing anything else, bounds every count and dimension and
 * rejects NaN/Inf weights. It returns NULL and a GError (domain TT_ERROR) with
 * a message naming the file and the problem; it never aborts.
 *
 * Classifying with a model (blocks -> results -> labels, the threshold) is
 * tt_classify.h.
 */
#ifndef TT_MODEL_H
#define TT_MODEL_H

#include "tt_types.h"
#include "tt_nn.h"
#include "tt_trees.h"

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
    tt_trees *trees;            /* boosted trees over block statistics (tt_trees.h), or NULL;
                                 * only a first model holds them, never a companion */
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
 * companion (nor trees) of its own. Saved as a COMP section (models/FORMAT.md). On
 * failure nothing is taken and FALSE is returned. */
gboolean tt_model_fuse(tt_model *m, tt_model *companion, GError **error);

tt_model *tt_model_load_file(const char *path, GError **error);
tt_model *tt_model_load_bytes(const guint8 *data, gsize len, GError **error);
/* Serialise; fills m->sha256. */
GBytes   *tt_model_to_bytes(tt_model *m, GError **error);
gboolean  tt_model_save_file(tt_model *m, const char *path, GError **error);

G_END_DECLS

#endif
