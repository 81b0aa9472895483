/* TrafficTriage core: training, evaluation and calibration of a model on a
 * tt_dataset. Splits are by group (session / capture), never by block. */
#ifndef TT_TRAIN_H
#define TT_TRAIN_H

#include <stdio.h>

#include "tt_dataset.h"
#include "tt_model.h"

G_BEGIN_DECLS

enum { TT_SPLIT_TRAIN = 0, TT_SPLIT_VAL = 1, TT_SPLIT_TEST = 2, TT_SPLIT_NONE = 3 };

/* Assign every group to train / val / test: groups are taken per majority
 * label in a seeded random order, so each class is split in the given
 * fractions (by groups). out has ds->groups->len entries. */
void tt_split_groups(const tt_dataset *ds, double val_frac, double test_frac,
                     uint64_t seed, uint8_t *out);
/* The same, but the unit kept on one side of the split is the first capture
 * group of unit_regex matched against the group name (the whole group when
 * it does not match): e.g. "^trafficleak/([^/]+)/" keeps all traces of one
 * website together. */
gboolean tt_split_groups_by_unit(const tt_dataset *ds, const char *unit_regex,
                                 double val_frac, double test_frac, uint64_t seed,
                                 uint8_t *out, GError **error);
/* Assign groups whose name matches regex to TEST and the rest as given. */
gboolean tt_split_by_regex(const tt_dataset *ds, const char *regex, uint8_t split_if_match,
                           uint8_t *out, GError **error);
/* The name of a side ("train", "val", "test", "none") and back: TT_SPLIT_NONE
 * for any other name. */
const char *tt_split_name(uint8_t side);
uint8_t tt_split_from_name(const char *name);
/* The split file (`train --split-out`, `--split`): "#ttsplit v1", then one
 * line "GROUP<TAB>SIDE" per group of ds. Reading takes the side after a
 * line's last tab; lines without a tab, empty ones and comments are skipped;
 * a group "*" gives the side of every group not listed, and a group neither
 * listed nor covered is TT_SPLIT_NONE. out has ds->groups->len entries. */
gboolean tt_split_write(const tt_dataset *ds, const uint8_t *split, const char *path, GError **error);
gboolean tt_split_read(const tt_dataset *ds, const char *path, uint8_t *out, GError **error);

typedef struct {
    uint64_t seed;
    uint32_t max_epochs;     /* passes over the training split */
    uint32_t patience;       /* early stopping: epochs without val improvement */
    uint32_t batch;
    float    lr, weight_decay;
    gboolean balance;        /* class-weighted loss (inverse frequency) */
    float    aug_rtt;        /* times scaled by 1 + U(-aug_rtt, aug_rtt); 0 = off */
    float    aug_shift;      /* times shifted by U(-aug_shift, aug_shift) s; 0 = off */
    float    aug_loss;       /* packets dropped with probability U(0, aug_loss); 0 = off */
    float    aug_truncate;   /* with this probability, keep only a random window of
                              * U(1 s, block) of the block, as a short flow shows it */
    uint32_t max_per_class;  /* cap training blocks per class per epoch (0 = all) */
    const char *const *balance_attrs;  /* NULL or NULL-terminated attribute keys: within a
                                        * class, every combination of their values (a "cell",
                                        * e.g. tunnel=vpn) weighs as much as every other */
    FILE    *log;            /* progress lines, or NULL */
} tt_train_opts;

void tt_train_opts_default(tt_train_opts *o);

/* Per-sample weight factors for o->balance_attrs: for each sample i listed in
 * idx (dataset indices) of class class_map[label] >= 0, out[i] = n_class /
 * (cells_in_class * n_cell), so each cell of a class sums to the same weight
 * and the class keeps its total. Entries not in idx are left alone. Returns the
 * number of cells. */
guint tt_train_cell_weights(const tt_dataset *ds, const GArray *idx, const int *class_map,
                            const char *const *attrs, float *out);

/* Train m->net in place on the samples whose group is in TRAIN, pick the
 * epoch with the best validation balanced accuracy (VAL), then fit the
 * softmax temperature on VAL. Appends a summary to m->meta. */
gboolean tt_train(tt_model *m, const tt_dataset *ds, const uint8_t *group_split,
                  const tt_train_opts *o, GError **error);

typedef struct {
    uint32_t k;
    uint64_t confusion[TT_MAX_CLASSES * TT_MAX_CLASSES];  /* [true][pred] */
    uint64_t n, correct, skipped;
    double   nll;            /* mean negative log-likelihood */
    double   ece;            /* expected calibration error, 10 bins */
    uint64_t bin_n[10];
    double   bin_conf[10], bin_acc[10];
} tt_eval;

/* Evaluate on samples in split `which` (TT_SPLIT_NONE = all samples) and,
 * if attr_key/attr_value are set, only those whose attrs has that value.
 * Dataset labels are matched to model classes by name. */
void tt_evaluate(const tt_model *m, const tt_dataset *ds, const uint8_t *group_split,
                 int which, const char *attr_key, const char *attr_value, tt_eval *ev);

/* Per-block answer: out[i * m->n_classes + c] = the calibrated probability of
 * class c for sample i (ds->samples order) in split `which` (TT_SPLIT_NONE =
 * all); others zero. */
void tt_block_probs(const tt_model *m, const tt_dataset *ds, const uint8_t *group_split,
                    int which, float *out);
/* Per-flow answer from tt_block_probs' output (k classes): out[f * k + c] =
 * the mean over flow f's blocks in split `which` (ds->flows order) of class
 * c's probability; all zero for a flow without one. */
void tt_flow_probs(const tt_dataset *ds, const uint8_t *group_split, int which,
                   uint32_t k, const float *block_probs, float *out);

double tt_eval_accuracy(const tt_eval *ev);
double tt_eval_balanced_accuracy(const tt_eval *ev);
/* The report people read: accuracy, per-class precision/recall/F1/support ("-"
 * for the figures of a class with no block), confusion matrix. */
void   tt_eval_print(const tt_model *m, const tt_eval *ev, FILE *out);
/* JSON object text (caller frees). */
char  *tt_eval_json(const tt_model *m, const tt_eval *ev);

/* Augment a block's packet list into out (capacity n); returns the count. */
size_t tt_augment(const tt_spec *spec, const tt_pkt *in, size_t n, tt_pkt *out,
                  const tt_train_opts *o, uint64_t *rng);

G_END_DECLS

#endif
