/* TrafficTriage core: gradient-boosted trees over a block's statistics
 * (tt_stats.h), a model's optional third answer (models/FORMAT.md, TREE).
 *
 * Each tree adds its leaf to one class's margin; the trees' answer is
 * softmax(margins / temperature), and a model with trees answers
 * (1 - weight) * (its nets' answer) + weight * (the trees' answer)
 * (tt_classify_packets). Trees are trained by `traffictriage trees`
 * (libxgboost) and stored here as plain nodes, so classifying needs no
 * library: a node sends x to `yes` when x[feature] < value, else to `no`.
 */
#ifndef TT_TREES_H
#define TT_TREES_H

#include "tt_types.h"

G_BEGIN_DECLS

#define TT_TREES_MAX_TREES 65536u
#define TT_TREES_MAX_NODES (4u * 1024u * 1024u)   /* over all trees */
#define TT_TREE_LEAF 0xffffffffu                 /* tt_tree_node.feature of a leaf */

typedef struct {
    uint32_t feature;   /* statistic index, or TT_TREE_LEAF */
    float    value;     /* split threshold, or the leaf's margin */
    uint32_t yes, no;   /* children (node indices within the tree, > this node's); unused in a leaf */
} tt_tree_node;

typedef struct {
    uint32_t n_features;     /* TT_STATS_N of stats_version */
    uint32_t stats_version;  /* TT_STATS_VERSION */
    uint32_t n_classes;
    uint32_t n_trees;
    float    weight;         /* share of the fused answer, (0, 1] */
    float    temperature;    /* softmax temperature of the margins, (0, 1000] */
    uint32_t *tree_class;    /* [n_trees] the class each tree adds to */
    uint32_t *tree_start;    /* [n_trees + 1] first node of each tree in nodes */
    tt_tree_node *nodes;     /* [tree_start[n_trees]] */
} tt_trees;

void tt_trees_free(tt_trees *t);

/* Margins of one statistics vector x[n_features] into margins[n_classes]. */
void tt_trees_margins(const tt_trees *t, const float *x, float *margins);

/* The TREE section's payload (models/FORMAT.md) and back. The reader checks
 * everything before using it (counts, bounds, that every child lies after
 * its parent inside its tree, finite values) and that the trees read the
 * statistics of this version with n_classes classes. */
GBytes *tt_trees_to_bytes(const tt_trees *t);
tt_trees *tt_trees_from_bytes(const guint8 *p, gsize len, uint32_t n_classes, GError **error);

G_END_DECLS

#endif
