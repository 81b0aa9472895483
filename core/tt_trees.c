/* TrafficTriage core: boosted trees over block statistics (tt_trees.h). */
#include "tt_trees.h"
#include "tt_bytes.h"
#include "tt_stats.h"

#include <math.h>
#include <string.h>

#define TREES_HEADER 24u   /* version, features, classes, trees, weight, temperature */
#define TREE_RECORD 8u     /* class, nodes */
#define NODE_RECORD 16u    /* feature, value, yes, no */

void tt_trees_free(tt_trees *t)
{
    if (!t)
        return;
    g_free(t->tree_class);
    g_free(t->tree_start);
    g_free(t->nodes);
    g_free(t);
}

void tt_trees_margins(const tt_trees *t, const float *x, float *margins)
{
    memset(margins, 0, t->n_classes * sizeof *margins);
    for (uint32_t k = 0; k < t->n_trees; k++) {
        const tt_tree_node *tree = t->nodes + t->tree_start[k];
        uint32_t i = 0;   /* children lie after their parent: the walk ends */
        while (tree[i].feature != TT_TREE_LEAF)
            i = x[tree[i].feature] < tree[i].value ? tree[i].yes : tree[i].no;
        margins[t->tree_class[k]] += tree[i].value;
    }
}

/* ---- the TREE payload ---------------------------------------------------------- */

GBytes *tt_trees_to_bytes(const tt_trees *t)
{
    GByteArray *b = g_byte_array_new();
    tt_put32(b, t->stats_version);
    tt_put32(b, t->n_features);
    tt_put32(b, t->n_classes);
    tt_put32(b, t->n_trees);
    tt_putf32(b, t->weight);
    tt_putf32(b, t->temperature);
    for (uint32_t k = 0; k < t->n_trees; k++) {
        tt_put32(b, t->tree_class[k]);
        tt_put32(b, t->tree_start[k + 1] - t->tree_start[k]);
    }
    for (uint32_t i = 0; i < t->tree_start[t->n_trees]; i++) {
        const tt_tree_node *nd = &t->nodes[i];
        tt_put32(b, nd->feature);
        tt_putf32(b, nd->value);
        tt_put32(b, nd->yes);
        tt_put32(b, nd->no);
    }
    return g_byte_array_free_to_bytes(b);
}

#define FAIL(...) do { g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, __VA_ARGS__); tt_trees_free(t); return NULL; } while (0)

tt_trees *tt_trees_from_bytes(const guint8 *p, gsize len, uint32_t n_classes, GError **error)
{
    tt_trees *t = NULL;
    if (len < TREES_HEADER)
        FAIL("TREE section is %" G_GSIZE_FORMAT " bytes, too short", len);
    uint32_t version = tt_rd32(p), n_features = tt_rd32(p + 4), classes = tt_rd32(p + 8), n_trees = tt_rd32(p + 12);
    float weight = tt_rdf32(p + 16), temperature = tt_rdf32(p + 20);
    if (version != TT_STATS_VERSION || n_features != TT_STATS_N)
        FAIL("the trees read block statistics version %u (%u values); this TrafficTriage computes version %u (%u)",
             version, n_features, TT_STATS_VERSION, TT_STATS_N);
    if (classes != n_classes)
        FAIL("the trees answer %u classes, the model has %u", classes, n_classes);
    if (n_trees == 0 || n_trees > TT_TREES_MAX_TREES)
        FAIL("%u trees (1..%u allowed)", n_trees, TT_TREES_MAX_TREES);
    if (!(weight > 0.0f && weight <= 1.0f))
        FAIL("the trees' weight %g is outside (0, 1]", (double)weight);
    if (!(temperature > 0.0f && temperature <= 1000.0f))
        FAIL("the trees' temperature %g is outside (0, 1000]", (double)temperature);
    if ((len - TREES_HEADER) / TREE_RECORD < n_trees)
        FAIL("the TREE section ends inside its list of trees");
    t = g_new0(tt_trees, 1);
    t->stats_version = version;
    t->n_features = n_features;
    t->n_classes = n_classes;
    t->n_trees = n_trees;
    t->weight = weight;
    t->temperature = temperature;
    t->tree_class = g_new(uint32_t, n_trees);
    t->tree_start = g_new(uint32_t, n_trees + 1);
    uint64_t total = 0;
    const guint8 *r = p + TREES_HEADER;
    for (uint32_t k = 0; k < n_trees; k++, r += TREE_RECORD) {
        t->tree_class[k] = tt_rd32(r);
        uint32_t nodes = tt_rd32(r + 4);
        if (t->tree_class[k] >= n_classes)
            FAIL("tree %u adds to class %u of %u", k, t->tree_class[k], n_classes);
        if (nodes == 0)
            FAIL("tree %u has no node", k);
        t->tree_start[k] = (uint32_t)total;
        total += nodes;
        if (total > TT_TREES_MAX_NODES)
            FAIL("the trees hold more than %u nodes", TT_TREES_MAX_NODES);
    }
    t->tree_start[n_trees] = (uint32_t)total;
    uint64_t body = (uint64_t)TREES_HEADER + (uint64_t)n_trees * TREE_RECORD;
    if (len - body != total * NODE_RECORD)
        FAIL("the TREE section is %" G_GSIZE_FORMAT " bytes; its trees' %" G_GUINT64_FORMAT " nodes need %" G_GUINT64_FORMAT,
             len, total, body + total * NODE_RECORD);
    t->nodes = g_new(tt_tree_node, total);
    r = p + body;
    for (uint32_t k = 0; k < n_trees; k++) {
        uint32_t first = t->tree_start[k], count = t->tree_start[k + 1] - first;
        for (uint32_t i = 0; i < count; i++, r += NODE_RECORD) {
            tt_tree_node *nd = &t->nodes[first + i];
            nd->feature = tt_rd32(r);
            nd->value = tt_rdf32(r + 4);
            nd->yes = tt_rd32(r + 8);
            nd->no = tt_rd32(r + 12);
            if (!isfinite(nd->value))
                FAIL("tree %u node %u holds a NaN or infinite value", k, i);
            if (nd->feature == TT_TREE_LEAF)
                continue;
            if (nd->feature >= n_features)
                FAIL("tree %u node %u splits on statistic %u of %u", k, i, nd->feature, n_features);
            if (nd->yes <= i || nd->yes >= count || nd->no <= i || nd->no >= count)
                FAIL("tree %u node %u has a child outside the tree or not after it", k, i);
        }
    }
    return t;
}
