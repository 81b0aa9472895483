/* TrafficTriage core: a block's packets -> result -> label (tt_classify.h). */
#include "tt_classify.h"
#include "tt_flowpic.h"
#include "tt_stats.h"

#include <math.h>
#include <string.h>

/* ---- classification --------------------------------------------------------- */

struct tt_classifier {
    const tt_model *m;
    tt_classifier *companion;   /* m->companion's, for a fused model */
    tt_ws *ws;
    tt_pixel *px;
    size_t cap;              /* pixels px holds */
    float logits[TT_MAX_CLASSES];
    float *scratch;          /* [max_packets] for the block statistics, with trees */
};

tt_classifier *tt_classifier_new(const tt_model *m)
{
    tt_classifier *c = g_new0(tt_classifier, 1);
    c->m = m;
    c->ws = tt_ws_new(m->net);
    if (m->companion)
        c->companion = tt_classifier_new(m->companion);
    if (m->trees)
        c->scratch = g_new(float, m->spec.max_packets);
    return c;
}

void tt_classifier_free(tt_classifier *c)
{
    while (c) {                   /* c, then its companion's */
        tt_classifier *next = c->companion;
        tt_ws_free(c->ws);
        g_free(c->px);
        g_free(c->scratch);
        g_free(c);
        c = next;
    }
}

static void result_set_top(tt_result *r);

/* A model with trees: res = (1 - w) res + w softmax(margins / T) (tt_trees.h). */
static void blend_trees(tt_classifier *c, const tt_pkt *pkts, size_t n, tt_result *res)
{
    const tt_trees *t = c->m->trees;
    float stats[TT_STATS_N], margins[TT_MAX_CLASSES], q[TT_MAX_CLASSES];
    tt_block_stats(pkts, n, c->scratch, stats);
    tt_trees_margins(t, stats, margins);
    tt_softmax(margins, t->n_classes, t->temperature, q);
    for (uint32_t k = 0; k < res->n_classes; k++)
        res->probs[k] = (1.0f - t->weight) * res->probs[k] + t->weight * q[k];
    result_set_top(res);
}

gboolean tt_classify_packets(tt_classifier *c, const tt_pkt *pkts, size_t n, tt_result *res)
{
    const tt_model *m = c->m;
    if (n > m->spec.max_packets)
        n = m->spec.max_packets;
    size_t need = tt_flowpic_max_pixels(&m->spec, n);
    if (need > c->cap) {
        c->cap = need;
        c->px = g_renew(tt_pixel, c->px, c->cap);
    }
    size_t np = tt_flowpic_build(&m->spec, pkts, n, c->px);
    memset(res, 0, sizeof *res);
    if (np == 0)
        return FALSE;
    tt_net_forward_sparse(m->net, c->ws, c->px, np, c->logits);
    res->n_classes = m->n_classes;
    res->top = tt_softmax(c->logits, m->n_classes, m->temperature, res->probs);
    res->confidence = res->probs[res->top];
    tt_result second;
    if (c->companion && tt_classify_packets(c->companion, pkts, n, &second))
        tt_result_pool(res, &second, res);   /* a fused model: the mean of both */
    if (m->trees)
        blend_trees(c, pkts, n, res);
    return TRUE;
}

/* Top class (the lowest index among equals) and its probability. */
static void result_set_top(tt_result *r)
{
    uint32_t top = 0;
    for (uint32_t c = 1; c < r->n_classes; c++)
        if (r->probs[c] > r->probs[top])
            top = c;
    r->top = top;
    r->confidence = r->n_classes ? r->probs[top] : 0.0f;
}

void tt_result_pool(const tt_result *a, const tt_result *b, tt_result *out)
{
    if (b == NULL || b->n_classes != a->n_classes || a->n_classes > TT_MAX_CLASSES) {
        if (out != a)
            *out = *a;
        return;
    }
    tt_result r;
    memset(&r, 0, sizeof r);
    r.n_classes = a->n_classes;
    for (uint32_t c = 0; c < r.n_classes; c++)
        r.probs[c] = (a->probs[c] + b->probs[c]) * 0.5f;
    result_set_top(&r);
    *out = r;
}

void tt_result_quantise(const tt_result *r, uint8_t *q)
{
    for (uint32_t c = 0; c < r->n_classes && c < TT_MAX_CLASSES; c++) {
        float p = r->probs[c];
        p = p > 0.0f ? (p < 1.0f ? p : 1.0f) : 0.0f;   /* NaN reads 0 */
        q[c] = (uint8_t)lrintf(p * (float)TT_RESULT_Q_ONE);
    }
}

void tt_result_dequantise(const uint8_t *q, uint32_t n_classes, tt_result *out)
{
    memset(out, 0, sizeof *out);
    out->n_classes = MIN(n_classes, TT_MAX_CLASSES);
    for (uint32_t c = 0; c < out->n_classes; c++)
        out->probs[c] = (float)q[c] / (float)TT_RESULT_Q_ONE;
    result_set_top(out);
}

void tt_result_pool_stored(const uint8_t *qa, const uint8_t *qb, uint32_t n_classes,
                           tt_result *out)
{
    tt_result a, b;
    tt_result_dequantise(qa, n_classes, &a);
    if (qb)
        tt_result_dequantise(qb, n_classes, &b);
    tt_result_pool(&a, qb ? &b : NULL, out);
}

unsigned tt_confidence_milli(double c)
{
    return c > 0.0 ? (unsigned)floor(c * 1000.0 + 1e-6) : 0;
}

double tt_confidence_shown(double c)
{
    return tt_confidence_milli(c) / 1000.0;
}

const char *tt_classify_label(const tt_model *m, uint32_t top, double confidence, double threshold)
{
    if (tt_below_threshold(confidence, threshold) || top >= m->n_classes)
        return TT_LABEL_UNKNOWN;
    return m->classes[top];
}

double tt_model_threshold(const tt_model *m)
{
    const char *line = m && m->meta ? m->meta : "";
    while (*line) {
        if (strncmp(line, "threshold=", 10) == 0) {
            char *end = NULL;
            double t = g_ascii_strtod(line + 10, &end);
            if (end != line + 10 && (*end == '\n' || *end == '\0') && t >= 0.0 && t <= 1.0)
                return t;
            return TT_MODEL_DEFAULT_THRESHOLD;
        }
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return TT_MODEL_DEFAULT_THRESHOLD;
}
