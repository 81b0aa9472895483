/* TrafficTriage trainer: boosted trees with libxgboost (tt_gbm.h). */
#include "tt_gbm.h"
#include "tt_stats.h"
#include "tt_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tt_gbm_opts_default(tt_gbm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_rounds = 400;
    o->patience = 30;
    o->depth = 6;
    o->eta = 0.1f;
    o->subsample = 0.8f;
    o->colsample = 0.8f;
    o->seed = 1;
}

#ifndef TT_HAVE_XGBOOST

gboolean tt_gbm_available(GError **error)
{
    g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                "this traffictriage was built without libxgboost: install libxgboost-dev and rebuild to train trees");
    return FALSE;
}

tt_trees *tt_gbm_train(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                       const tt_gbm_opts *o, uint32_t *rounds, double *max_diff, GError **error)
{
    (void)m; (void)ds; (void)split; (void)o; (void)rounds; (void)max_diff;
    tt_gbm_available(error);
    return NULL;
}

#else

#include <xgboost/c_api.h>

gboolean tt_gbm_available(GError **error)
{
    (void)error;
    return TRUE;
}

/* The statistics and labels of the blocks of one split side. */
typedef struct {
    GArray *x;        /* float [rows][TT_STATS_N] */
    GArray *label;    /* float [rows] class index */
    GArray *weight;   /* float [rows] */
    guint   rows;
} table;

static void table_fill(table *t, const tt_model *m, const tt_dataset *ds, const uint8_t *split, int side)
{
    t->x = g_array_new(FALSE, FALSE, sizeof(float));
    t->label = g_array_new(FALSE, FALSE, sizeof(float));
    t->weight = g_array_new(FALSE, FALSE, sizeof(float));
    t->rows = 0;
    float *scratch = g_new(float, m->spec.max_packets);
    float row[TT_STATS_N];
    uint64_t per_class[TT_MAX_CLASSES] = { 0 };
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if (split[s->group] != side || s->label >= m->n_classes)
            continue;
        size_t n = MIN(s->n, m->spec.max_packets);   /* as tt_classify_packets sees the block */
        tt_block_stats(&g_array_index(ds->pkts, tt_pkt, s->off), n, scratch, row);
        g_array_append_vals(t->x, row, TT_STATS_N);
        float y = (float)s->label;
        g_array_append_val(t->label, y);
        per_class[s->label]++;
        t->rows++;
    }
    g_free(scratch);
    /* Every class weighs the same in total (mean weight 1). */
    uint32_t present = 0;
    for (uint32_t c = 0; c < m->n_classes; c++)
        present += per_class[c] > 0;
    for (guint r = 0; r < t->rows; r++) {
        uint32_t c = (uint32_t)g_array_index(t->label, float, r);
        float w = (float)((double)t->rows / ((double)present * (double)per_class[c]));
        g_array_append_val(t->weight, w);
    }
}

static void table_clear(table *t)
{
    g_array_free(t->x, TRUE);
    g_array_free(t->label, TRUE);
    g_array_free(t->weight, TRUE);
}

#define XGB(call) do { if ((call) != 0) { xgb_error(error, #call); goto out; } } while (0)

static void xgb_error(GError **error, const char *what)
{
    if (!*error)
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "libxgboost: %s (%s)", XGBGetLastError(), what);
}

static gboolean dmatrix(const table *t, DMatrixHandle *h, GError **error)
{
    XGB(XGDMatrixCreateFromMat((const float *)t->x->data, t->rows, TT_STATS_N, NAN, h));
    XGB(XGDMatrixSetFloatInfo(*h, "label", (const float *)t->label->data, t->rows));
    XGB(XGDMatrixSetFloatInfo(*h, "weight", (const float *)t->weight->data, t->rows));
    return TRUE;
out:
    return FALSE;
}

/* One parsed line of a text dump: "ID:[fF<V] yes=A,no=B,missing=C" or "ID:leaf=V". */
typedef struct {
    gboolean seen;
    tt_tree_node node;
} dump_node;

/* A tree's text dump into nodes appended to out, renumbered breadth-first
 * from the root so that every child lies after its parent. */
static gboolean parse_tree(const char *text, GArray *out, uint32_t *count, GError **error)
{
    GArray *byid = g_array_new(FALSE, TRUE, sizeof(dump_node));
    char **lines = g_strsplit(text, "\n", -1);
    gboolean ok = TRUE;
    for (char **l = lines; ok && *l; l++) {
        const char *s = *l + strspn(*l, "\t ");
        if (!*s)
            continue;
        unsigned id, f, yes, no;
        float v;
        dump_node d = { TRUE, { TT_TREE_LEAF, 0.0f, 0, 0 } };
        if (sscanf(s, "%u:[f%u<%g] yes=%u,no=%u", &id, &f, &v, &yes, &no) == 5) {
            d.node = (tt_tree_node){ f, v, yes, no };
        } else if (sscanf(s, "%u:leaf=%g", &id, &v) == 2) {
            d.node.value = v;
        } else {
            ok = FALSE;
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "libxgboost's tree dump has a line not understood: %.80s", s);
            break;
        }
        if (id >= TT_TREES_MAX_NODES) {
            ok = FALSE;
            g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "a tree node numbered %u", id);
            break;
        }
        if (id >= byid->len)
            g_array_set_size(byid, id + 1);
        g_array_index(byid, dump_node, id) = d;
    }
    g_strfreev(lines);
    /* Breadth-first: queue[k] = the dump id of the k-th node written. */
    GArray *queue = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    uint32_t root = 0;
    if (ok && (byid->len == 0 || !g_array_index(byid, dump_node, 0).seen)) {
        ok = FALSE;
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "libxgboost's tree dump has no root");
    }
    if (ok)
        g_array_append_val(queue, root);
    for (guint k = 0; ok && k < queue->len; k++) {
        tt_tree_node nd = g_array_index(byid, dump_node, g_array_index(queue, uint32_t, k)).node;
        if (nd.feature != TT_TREE_LEAF) {
            uint32_t kids[2] = { nd.yes, nd.no };
            for (int j = 0; j < 2; j++) {
                if (kids[j] >= byid->len || !g_array_index(byid, dump_node, kids[j]).seen || queue->len >= byid->len) {
                    ok = FALSE;
                    g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "libxgboost's tree dump names a missing node %u", kids[j]);
                    break;
                }
                g_array_append_val(queue, kids[j]);
            }
            nd.yes = queue->len - 2;   /* the two just queued, in their new numbering */
            nd.no = queue->len - 1;
        }
        g_array_append_val(out, nd);
    }
    *count = ok ? queue->len : 0;
    g_array_free(queue, TRUE);
    g_array_free(byid, TRUE);
    return ok;
}

tt_trees *tt_gbm_train(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                       const tt_gbm_opts *o, uint32_t *rounds, double *max_diff, GError **error_out)
{
    GError *failure = NULL, **error = &failure;   /* set by every failure below, then passed on */
    tt_trees *t = NULL;
    table tr, va;
    table_fill(&tr, m, ds, split, TT_SPLIT_TRAIN);
    table_fill(&va, m, ds, split, TT_SPLIT_VAL);
    DMatrixHandle dtr = NULL, dva = NULL;
    BoosterHandle bst = NULL, best = NULL;
    const char **dump = NULL;
    bst_ulong n_dump = 0;
    if (tr.rows == 0 || va.rows == 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "trees need training and validation blocks (%u, %u)", tr.rows, va.rows);
        goto out;
    }
    if (!dmatrix(&tr, &dtr, error) || !dmatrix(&va, &dva, error))
        goto out;
    DMatrixHandle both[2] = { dtr, dva };
    XGB(XGBoosterCreate(both, 2, &bst));
    char buf[64];
    const char *fixed[][2] = { { "objective", "multi:softprob" }, { "eval_metric", "mlogloss" },
                               { "tree_method", "hist" }, { "nthread", "1" }, { "verbosity", "0" } };
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
        XGB(XGBoosterSetParam(bst, fixed[i][0], fixed[i][1]));
#define SETP(key, fmt, val) do { g_snprintf(buf, sizeof buf, fmt, val); XGB(XGBoosterSetParam(bst, key, buf)); } while (0)
    SETP("num_class", "%u", m->n_classes);
    SETP("max_depth", "%u", o->depth);
    SETP("eta", "%g", (double)o->eta);
    SETP("subsample", "%g", (double)o->subsample);
    SETP("colsample_bytree", "%g", (double)o->colsample);
    SETP("seed", "%" G_GUINT64_FORMAT, o->seed % 2147483647u);
#undef SETP
    const char *names[1] = { "val" };
    double best_loss = INFINITY;
    uint32_t best_round = 0;
    for (uint32_t r = 0; r < o->max_rounds && r < best_round + o->patience; r++) {
        XGB(XGBoosterUpdateOneIter(bst, (int)r, dtr));
        const char *res = NULL;
        XGB(XGBoosterEvalOneIter(bst, (int)r, &dva, names, 1, &res));
        const char *at = res ? strstr(res, "val-mlogloss:") : NULL;
        double loss = at ? g_ascii_strtod(at + 13, NULL) : NAN;
        if (!isfinite(loss)) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "libxgboost reported no validation loss (%s)", res ? res : "nothing");
            goto out;
        }
        if (loss < best_loss) {
            best_loss = loss;
            best_round = r;
        }
        if (o->log && (r % 25 == 0))
            fprintf(o->log, "trees: round %u, validation log-loss %.4f (best %.4f at round %u)\n", r, loss, best_loss, best_round);
    }
    *rounds = best_round + 1;
    XGB(XGBoosterSlice(bst, 0, (int)(best_round + 1), 1, &best));
    XGB(XGBoosterDumpModelEx(best, "", 0, "text", &n_dump, &dump));
    if (n_dump == 0 || n_dump != (bst_ulong)*rounds * m->n_classes || n_dump > TT_TREES_MAX_TREES) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "libxgboost gave %" G_GUINT64_FORMAT " trees for %u rounds of %u classes",
                    (guint64)n_dump, *rounds, m->n_classes);
        goto out;
    }
    t = g_new0(tt_trees, 1);
    t->stats_version = TT_STATS_VERSION;
    t->n_features = TT_STATS_N;
    t->n_classes = m->n_classes;
    t->n_trees = (uint32_t)n_dump;
    t->weight = 1.0f;
    t->temperature = 1.0f;
    t->tree_class = g_new(uint32_t, t->n_trees);
    t->tree_start = g_new(uint32_t, t->n_trees + 1);
    GArray *nodes = g_array_new(FALSE, FALSE, sizeof(tt_tree_node));
    for (uint32_t k = 0; k < t->n_trees; k++) {
        uint32_t count;
        t->tree_class[k] = k % m->n_classes;   /* multi:softprob: round r's tree for class c is r * classes + c */
        t->tree_start[k] = nodes->len;
        if (!parse_tree(dump[k], nodes, &count, error) || nodes->len > TT_TREES_MAX_NODES) {
            if (!failure)
                g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "the trees hold more than %u nodes", TT_TREES_MAX_NODES);
            g_array_free(nodes, TRUE);
            goto out;
        }
    }
    t->tree_start[t->n_trees] = nodes->len;
    t->nodes = (tt_tree_node *)(void *)g_array_free(nodes, FALSE);

    /* The engine's answer against libxgboost's, on every block it learnt or validated on. */
    *max_diff = 0.0;
    for (int side = 0; side < 2 && t; side++) {
        const table *tb = side ? &va : &tr;
        bst_ulong len = 0;
        const float *pred = NULL;
        XGB(XGBoosterPredict(best, side ? dva : dtr, 0, 0, 0, &len, &pred));
        if (len != (bst_ulong)tb->rows * m->n_classes) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "libxgboost predicted %" G_GUINT64_FORMAT " values", (guint64)len);
            goto out;
        }
        float margins[TT_MAX_CLASSES], probs[TT_MAX_CLASSES];
        for (guint r = 0; r < tb->rows; r++) {
            tt_trees_margins(t, &g_array_index(tb->x, float, (size_t)r * TT_STATS_N), margins);
            tt_softmax(margins, m->n_classes, 1.0f, probs);
            for (uint32_t c = 0; c < m->n_classes; c++)
                *max_diff = MAX(*max_diff, fabs((double)probs[c] - (double)pred[(size_t)r * m->n_classes + c]));
        }
    }
    if (*max_diff > 1e-3) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                    "the converted trees answer differently from libxgboost (a probability off by %.4g): not saved", *max_diff);
        goto out;
    }
    if (o->log)
        fprintf(o->log, "trees: %u rounds kept (validation log-loss %.4f), %u trees, %u nodes; engine vs libxgboost: %.2g\n",
                *rounds, best_loss, t->n_trees, t->tree_start[t->n_trees], *max_diff);
out:
    if (failure) {
        tt_trees_free(t);
        t = NULL;
        g_propagate_error(error_out, failure);
    }
    if (best)
        XGBoosterFree(best);
    if (bst)
        XGBoosterFree(bst);
    if (dtr)
        XGDMatrixFree(dtr);
    if (dva)
        XGDMatrixFree(dva);
    table_clear(&tr);
    table_clear(&va);
    return t;
}

#endif
