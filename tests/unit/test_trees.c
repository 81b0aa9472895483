/* Boosted trees over block statistics (tt_stats.h, tt_trees.h, the TREE
 * section, tt_gbm.h): the statistics of known packets, finite for hostile
 * ones; the walk; the blend with the nets; the file round trip; damaged
 * payloads refused; and trees trained by libxgboost that the engine answers
 * with exactly as libxgboost does. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tt_classify.h"
#include "tt_gbm.h"
#include "tt_stats.h"
#include "tt_test.h"
#include "tt_train.h"

#define EPS 1e-6

TT_TEST("/trees/stats/known", test_stats_known)
{
    const tt_pkt p[] = { { 0.0f, 60 }, { 0.0005f, 1500 }, { 0.2f, 1500 }, { 1.7f, 200 } };
    float scratch[4], x[TT_STATS_N];
    tt_block_stats(p, 4, scratch, x);
    g_assert_cmpfloat_with_epsilon(x[0], log1p(4.0), EPS);               /* packets */
    g_assert_cmpfloat_with_epsilon(x[1], log1p(1.7), EPS);               /* duration */
    g_assert_cmpfloat_with_epsilon(x[2], log1p(3260.0 / 1500.0), EPS);   /* bytes */
    g_assert_cmpfloat_with_epsilon(x[5], 60.0 / 1500.0, EPS);            /* size_min */
    g_assert_cmpfloat_with_epsilon(x[6], 1.0, EPS);                      /* size_max */
    g_assert_cmpfloat_with_epsilon(x[9], 200.0 / 1500.0, EPS);           /* size_q50: lower rank of 4 */
    g_assert_cmpfloat_with_epsilon(x[12], 0.25, EPS);                    /* <= 100 B */
    g_assert_cmpfloat_with_epsilon(x[13], 0.25, EPS);                    /* 101..300 */
    g_assert_cmpfloat_with_epsilon(x[14], 0.0, EPS);                     /* 301..1000 */
    g_assert_cmpfloat_with_epsilon(x[15], 0.5, EPS);                     /* > 1000 */
    g_assert_cmpfloat_with_epsilon(x[16], 0.5, EPS);                     /* >= 1300 */
    g_assert_cmpfloat_with_epsilon(x[17], 0.75, EPS);                    /* 3 distinct sizes */
    g_assert_cmpfloat_with_epsilon(x[23], log10(1.5 + 1e-6), 1e-5);      /* gap_max */
    g_assert_cmpfloat_with_epsilon(x[24], 1.0 / 3.0, EPS);               /* gaps < 1 ms */
    g_assert_cmpfloat_with_epsilon(x[25], 2.0 / 3.0, EPS);               /* gaps > 100 ms */
    g_assert_cmpfloat_with_epsilon(x[26], 1.0 / 3.0, EPS);               /* gaps > 1 s */
    g_assert_cmpfloat_with_epsilon(x[29], log1p(3.0), EPS);              /* 3 bursts */
    g_assert_cmpfloat_with_epsilon(x[31], 2.0 / 3.0, EPS);               /* 2 size changes of 3 */
    for (uint32_t i = 0; i < TT_STATS_N; i++)
        g_assert_nonnull(tt_stats_names[i]);
}

/* Whatever the packets, every statistic is a finite number. */
TT_TEST("/trees/stats/finite", test_stats_finite)
{
    tt_pkt p[6] = { { 5.0f, 0 }, { 1.0f, 0xffffffffu }, { NAN, 1 }, { INFINITY, 40 }, { -3.0f, 0 }, { 1e30f, 9000 } };
    float scratch[6], x[TT_STATS_N];
    for (size_t n = 0; n <= 6; n++) {
        tt_block_stats(p, n, scratch, x);
        for (uint32_t i = 0; i < TT_STATS_N; i++)
            g_assert_true(isfinite(x[i]));
    }
}

/* Two trees for three classes: class 0 gets +1 below 3 packets' worth of
 * statistic 0 and -1 from there on; class 2 always gets 0.5. */
static tt_trees *hand_trees(void)
{
    tt_trees *t = g_new0(tt_trees, 1);
    t->stats_version = TT_STATS_VERSION;
    t->n_features = TT_STATS_N;
    t->n_classes = 3;
    t->n_trees = 2;
    t->weight = 0.4f;
    t->temperature = 2.0f;
    t->tree_class = g_new(uint32_t, 2);
    t->tree_start = g_new(uint32_t, 3);
    t->nodes = g_new(tt_tree_node, 4);
    t->tree_class[0] = 0;
    t->tree_class[1] = 2;
    t->tree_start[0] = 0;
    t->tree_start[1] = 3;
    t->tree_start[2] = 4;
    t->nodes[0] = (tt_tree_node){ 0, (float)log1p(3.0), 1, 2 };
    t->nodes[1] = (tt_tree_node){ TT_TREE_LEAF, 1.0f, 0, 0 };
    t->nodes[2] = (tt_tree_node){ TT_TREE_LEAF, -1.0f, 0, 0 };
    t->nodes[3] = (tt_tree_node){ TT_TREE_LEAF, 0.5f, 0, 0 };
    return t;
}

TT_TEST("/trees/margins", test_margins)
{
    tt_trees *t = hand_trees();
    float x[TT_STATS_N] = { 0 }, m[3];
    x[0] = (float)log1p(2.0);
    tt_trees_margins(t, x, m);
    g_assert_cmpfloat(m[0], ==, 1.0f);
    g_assert_cmpfloat(m[1], ==, 0.0f);
    g_assert_cmpfloat(m[2], ==, 0.5f);
    x[0] = (float)log1p(3.0);   /* not below the threshold: "no" */
    tt_trees_margins(t, x, m);
    g_assert_cmpfloat(m[0], ==, -1.0f);
    tt_trees_free(t);
}

static tt_model *net_model(void)
{
    tt_spec s;
    tt_test_spec(&s, 32, 15.0, 2, 1000, 60.0);
    GError *e = NULL;
    static const char *const classes[] = { "browsing", "chat", "voip" };
    tt_model *m = tt_test_model(TT_TEST_NET_TINY, &s, "net", classes, 3, 7, &e);
    g_assert_no_error(e);
    return m;
}

static void block(tt_pkt *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i].t = 0.05f * (float)(i * i % 97);
        p[i].size = (uint32_t)(40 + (i * 613) % 1460);
    }
    for (size_t i = 1; i < n; i++)   /* arrival order */
        if (p[i].t < p[i - 1].t)
            p[i].t = p[i - 1].t;
}

/* A model with trees answers (1 - w) x its net + w x softmax(margins / T), and
 * its file reads back byte for byte with the same answer. */
TT_TEST("/trees/blend-and-round-trip", test_blend)
{
    tt_pkt p[30];
    block(p, 30);
    tt_model *m = net_model();
    tt_result alone, with, again;
    tt_classifier *c = tt_classifier_new(m);
    g_assert_true(tt_classify_packets(c, p, 30, &alone));
    tt_classifier_free(c);
    m->trees = hand_trees();
    c = tt_classifier_new(m);
    g_assert_true(tt_classify_packets(c, p, 30, &with));
    tt_classifier_free(c);
    float scratch[30], x[TT_STATS_N], mg[3], q[3];
    tt_block_stats(p, 30, scratch, x);
    tt_trees_margins(m->trees, x, mg);
    tt_softmax(mg, 3, 2.0f, q);
    for (uint32_t k = 0; k < 3; k++)
        g_assert_cmpfloat_with_epsilon(with.probs[k], 0.6f * alone.probs[k] + 0.4f * q[k], 1e-6);

    GBytes *b = tt_test_model_bytes(m);
    tt_model *back = tt_test_reload(m);
    g_assert_nonnull(back->trees);
    GBytes *b2 = tt_test_model_bytes(back);
    g_assert_true(g_bytes_equal(b, b2));
    c = tt_classifier_new(back);
    g_assert_true(tt_classify_packets(c, p, 30, &again));
    tt_classifier_free(c);
    g_assert_cmpmem(with.probs, sizeof with.probs, again.probs, sizeof again.probs);

    /* a companion never holds trees */
    GError *e = NULL;
    tt_model *first = net_model();
    g_assert_false(tt_model_fuse(first, back, &e));
    g_assert_nonnull(strstr(e->message, "holds trees"));
    g_clear_error(&e);
    tt_model_free(first);
    g_bytes_unref(b);
    g_bytes_unref(b2);
    tt_model_free(back);
    tt_model_free(m);
}

static void set32(guint8 *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (guint8)(v >> (8 * i));
}

/* Damaged TREE payloads: each refused with a message naming the problem. */
typedef struct {
    const char *name;
    gsize at;          /* byte offset to overwrite with value (G_MAXSIZE: truncate by value bytes) */
    uint32_t value;
    const char *words;
} bad_case;

/* The hand trees' payload: header 24, tree records 2 x 8 (at 24, 32), nodes 4 x 16 from 40. */
static const bad_case bad_cases[] = {
    { "short", G_MAXSIZE, 90, "too short" },
    { "truncated-node", G_MAXSIZE, 4, "need" },
    { "stats-version", 0, 2, "statistics version" },
    { "stats-count", 4, 31, "statistics version" },
    { "classes", 8, 4, "answer 4 classes" },
    { "no-trees", 12, 0, "0 trees" },
    { "too-many-trees", 12, 0x7fffffff, "trees (1.." },
    { "weight-zero", 16, 0, "weight" },
    { "temperature-nan", 20, 0x7fc00000, "temperature" },
    { "tree-class", 24, 3, "class 3 of 3" },
    { "empty-tree", 36, 0, "no node" },
    { "huge-tree", 28, 0x7fffffff, "more than" },
    { "feature", 40, TT_STATS_N, "splits on statistic" },
    { "child-self", 48, 0, "child outside" },
    { "child-outside", 52, 3, "child outside" },
    { "leaf-nan", 76, 0x7f800000, "NaN or infinite" },
};

static void test_bad(gconstpointer data)
{
    const bad_case *bc = data;
    tt_trees *t = hand_trees();
    GBytes *b = tt_trees_to_bytes(t);
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    g_assert_cmpuint(len, ==, 104);
    guint8 *a = g_memdup2(d, len);
    if (bc->at == G_MAXSIZE)
        len -= bc->value;
    else
        set32(a + bc->at, bc->value);
    GError *e = NULL;
    tt_trees *back = tt_trees_from_bytes(a, len, 3, &e);
    g_assert_null(back);
    g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
    if (!strstr(e->message, bc->words))
        g_error("%s: \"%s\" does not say \"%s\"", bc->name, e->message, bc->words);
    g_clear_error(&e);
    g_free(a);
    g_bytes_unref(b);
    tt_trees_free(t);
}
TT_TEST_CASES("/trees/bad", bad_cases, test_bad);

/* Trees trained by libxgboost on two classes that differ in packet sizes and
 * pace: the engine's walk answers as libxgboost does (tt_gbm_train checks it
 * on every block and reports the largest difference), and they separate
 * held-out flows of both kinds. */
TT_TEST("/trees/xgboost", test_xgboost)
{
    if (!tt_gbm_available(NULL)) {
        g_test_skip("built without libxgboost");
        return;
    }
    char *path = tt_test_scratch("two.ttseries");
    GString *s = g_string_new("#ttseries v1\n");
    GRand *r = g_rand_new_with_seed(3);
    for (int f = 0; f < 90; f++) {
        gboolean bulk = f % 2;
        const char *side = f % 10 < 6 ? "tr" : f % 10 < 8 ? "va" : "te";
        g_string_append_printf(s, "%s%d\t%s\tf%d\t-\t", side, f / 2, bulk ? "file" : "voip", f);
        double t = 0.0;
        for (int i = 0; i < 60; i++) {
            t += bulk ? g_rand_double_range(r, 0.0, 0.01) : g_rand_double_range(r, 0.015, 0.025);
            g_string_append_printf(s, "%s%.6f", i ? " " : "", t);
        }
        g_string_append_c(s, '\t');
        for (int i = 0; i < 60; i++)
            g_string_append_printf(s, "%s%d", i ? " " : "", bulk ? g_rand_int_range(r, 1200, 1501) : g_rand_int_range(r, 150, 220));
        g_string_append_c(s, '\n');
    }
    g_rand_free(r);
    g_assert_true(g_file_set_contents(path, s->str, -1, NULL));
    g_string_free(s, TRUE);

    static const char *const classes[] = { "file", "voip" };
    tt_spec spec;
    tt_test_spec(&spec, 32, 15.0, 2, 1000, 60.0);
    GError *e = NULL;
    tt_model *m = tt_test_model(TT_TEST_NET_TINY, &spec, "net", classes, 2, 1, &e);
    g_assert_no_error(e);
    tt_dataset *ds = tt_test_dataset(&spec, path);
    uint8_t *split = g_new0(uint8_t, ds->groups->len + 1);
    for (guint g = 0; g < ds->groups->len; g++) {
        const char *name = g_ptr_array_index(ds->groups, g);
        split[g] = name[0] == 't' && name[1] == 'r' ? TT_SPLIT_TRAIN : name[0] == 'v' ? TT_SPLIT_VAL : TT_SPLIT_TEST;
    }
    tt_gbm_opts o;
    tt_gbm_opts_default(&o);
    o.max_rounds = 20;
    uint32_t rounds = 0;
    double diff = 1.0;
    tt_trees *t = tt_gbm_train(m, ds, split, &o, &rounds, &diff, &e);
    g_assert_no_error(e);
    g_assert_nonnull(t);
    g_assert_cmpuint(rounds, >=, 1);
    g_assert_cmpuint(t->n_trees, ==, rounds * 2);
    g_assert_cmpfloat(diff, <=, 1e-5);
    t->weight = 1.0f;   /* the trees alone */
    m->trees = t;
    tt_eval ev;
    tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, &ev);
    g_assert_cmpuint(ev.n, >, 0);
    g_assert_cmpfloat(tt_eval_accuracy(&ev), ==, 1.0);
    tt_dataset_free(ds);
    g_free(split);
    tt_model_free(m);
    g_free(path);
}
