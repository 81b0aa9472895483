/* TrafficTriage trainer: boosted trees over block statistics (tt_trees.h),
 * trained with libxgboost and converted into the engine's plain nodes.
 *
 * The trees learn a model's classes from the statistics (tt_block_stats) of
 * the training split's blocks, each class weighing the same, and stop at the
 * round with the lowest weighted log-loss on the validation split. Before the
 * trees are returned, their answer in the engine is compared with
 * libxgboost's own on every training and validation block: a conversion that
 * does not reproduce it is an error, never a silently different model.
 * Built only where libxgboost is (TT_HAVE_XGBOOST); elsewhere tt_gbm_train
 * says so.
 */
#ifndef TT_GBM_H
#define TT_GBM_H

#include <stdio.h>

#include "tt_model.h"
#include "tt_dataset.h"

G_BEGIN_DECLS

typedef struct {
    uint32_t max_rounds;   /* boosting rounds at most (each: one tree per class) */
    uint32_t patience;     /* stop after this many rounds without a better validation loss */
    uint32_t depth;        /* tree depth */
    float    eta;          /* learning rate */
    float    subsample;    /* share of blocks per tree */
    float    colsample;    /* share of statistics per tree */
    uint64_t seed;
    FILE    *log;          /* progress lines, or NULL */
} tt_gbm_opts;

void tt_gbm_opts_default(tt_gbm_opts *o);

/* TRUE when this build can train trees (linked with libxgboost); otherwise FALSE
 * with an error that says how to get them. */
gboolean tt_gbm_available(GError **error);

/* Trees for m's classes from ds (whose labels are m's class indices: a
 * dataset made with m's classes) split by group; weight and temperature are
 * set to 1 (the caller sets them). On the way, *rounds gets the rounds
 * kept and *max_diff the largest difference of a probability between the
 * engine and libxgboost. */
tt_trees *tt_gbm_train(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                       const tt_gbm_opts *o, uint32_t *rounds, double *max_diff, GError **error);

G_END_DECLS

#endif
