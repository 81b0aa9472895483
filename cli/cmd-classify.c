/* traffictriage classify: every flow block of a capture classified outside
 * Wireshark with the very engine the plugin runs, one line per block. */
#include <string.h>

#include "cli.h"
#include "tt_capture.h"
#include "tt_flow.h"

/* One closed block, kept until the end of the capture: its line ends with the conversation
 * answer, which needs the reverse direction's block of the same index (closed later, maybe). */
typedef struct {
    uint64_t flow_id;
    uint32_t block;
    uint32_t n_packets;
    double   first_ts, last_ts;
    uint64_t n_bytes;
    tt_block_status status;
    gboolean truncated;
    gboolean classified;
    uint32_t top;
    float    confidence;
    tt_key   key;
} classify_row;

typedef struct {
    tt_model *m;
    tt_classifier *cl;
    float threshold;
    GArray *rows;                /* classify_row, in the order the blocks closed */
    GArray *probs;               /* float [rows][n_classes]: every class's probability, 0 if not classified */
    GArray *reverse;             /* uint64_t per flow id: the opposite direction, as the plugin links them */
} classify_ctx;

static void classify_ctx_clear(classify_ctx *cx)
{
    g_array_free(cx->rows, TRUE);
    g_array_free(cx->probs, TRUE);
    g_array_free(cx->reverse, TRUE);
    tt_classifier_free(cx->cl);
}

static void classify_block(const tt_block *b, void *user)
{
    classify_ctx *cx = user;
    classify_row row = { b->flow_id, b->block_index, b->n_packets, b->first_ts, b->last_ts, b->n_bytes,
                         b->status, b->truncated, FALSE, 0, 0.0f, *b->key };
    tt_result r;
    memset(&r, 0, sizeof r);
    if (b->status == TT_BLOCK_OK && tt_classify_packets(cx->cl, b->pkts, b->n_stored, &r)) {
        row.classified = TRUE;
        row.top = r.top;
        row.confidence = r.confidence;
    }
    g_array_append_val(cx->rows, row);
    g_array_append_vals(cx->probs, r.probs, cx->m->n_classes);
}

/* The flow's reverse direction as the plugin links it (triage-run.c slot_new_flow): the
 * flow tracked for the opposite 5-tuple when this one starts, and that flow then points back. */
static void classify_link_reverse(classify_ctx *cx, const tt_engine *eng, const tt_packet *p, uint64_t flow)
{
    tt_key rk;
    tt_key_reverse(&p->key, &rk);
    uint64_t rev = tt_engine_flow_id(eng, &rk);
    if (cx->reverse->len <= flow)
        g_array_set_size(cx->reverse, (guint)flow + 1);
    g_array_index(cx->reverse, uint64_t, flow) = rev;
    if (rev && rev < cx->reverse->len)
        g_array_index(cx->reverse, uint64_t, rev) = flow;
}

static gint row_order(gconstpointer a, gconstpointer b, gpointer user)
{
    const classify_row *ra = &g_array_index((GArray *)user, classify_row, *(const guint *)a);
    const classify_row *rb = &g_array_index((GArray *)user, classify_row, *(const guint *)b);
    if (ra->flow_id != rb->flow_id)
        return ra->flow_id < rb->flow_id ? -1 : 1;
    return ra->block < rb->block ? -1 : ra->block > rb->block;
}

/* Row of (flow, block) in `order` (rows sorted by flow, block), or -1. */
static gint64 row_find(const GArray *rows, const GArray *order, uint64_t flow, uint32_t block)
{
    guint lo = 0, hi = order->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2, i = g_array_index(order, guint, mid);
        const classify_row *r = &g_array_index(rows, classify_row, i);
        if (r->flow_id == flow && r->block == block)
            return i;
        if (r->flow_id < flow || (r->flow_id == flow && r->block < block))
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* One line per block, in the order they closed; the conversation answer as the plugin's
 * triage.conversation.* (tt_result_pool of both directions' stored probabilities). */
static void classify_print(const classify_ctx *cx, gboolean probs)
{
    uint32_t k = cx->m->n_classes;
    GArray *order = g_array_sized_new(FALSE, FALSE, sizeof(guint), cx->rows->len);
    for (guint i = 0; i < cx->rows->len; i++)
        g_array_append_val(order, i);
    g_array_sort_with_data(order, row_order, cx->rows);
    printf("#flow\tblock\t5-tuple\tfirst\tlast\tpackets\tbytes\tstatus\tclass\tconfidence\tconv_class\tconv_confidence");
    for (uint32_t c = 0; probs && c < k; c++)
        printf("\tp_%s", cx->m->classes[c]);
    printf("\n");
    for (guint i = 0; i < cx->rows->len; i++) {
        const classify_row *row = &g_array_index(cx->rows, classify_row, i);
        const float *p = &g_array_index(cx->probs, float, (gsize)i * k);
        char key[160];
        tt_key_format(&row->key, key, sizeof key);
        const char *category = "-", *conv_category = "-";
        double conf = 0.0, conv_conf = 0.0;
        if (row->classified) {
            uint64_t rev = row->flow_id < cx->reverse->len ? g_array_index(cx->reverse, uint64_t, row->flow_id) : 0;
            gint64 mate = rev ? row_find(cx->rows, order, rev, row->block) : -1;
            tt_result pooled = { row->top, row->confidence, k, { 0 } };
            if (mate >= 0 && g_array_index(cx->rows, classify_row, mate).classified) {
                tt_result own, other;
                uint8_t qo[TT_MAX_CLASSES], qm[TT_MAX_CLASSES];
                own.n_classes = other.n_classes = k;
                memcpy(own.probs, p, k * sizeof *p);
                memcpy(other.probs, &g_array_index(cx->probs, float, (gsize)mate * k), k * sizeof *p);
                tt_result_quantise(&own, qo);
                tt_result_quantise(&other, qm);
                tt_result_pool_stored(qo, qm, k, &pooled);
            }
            category = tt_classify_label(cx->m, row->top, row->confidence, cx->threshold);
            conf = tt_confidence_shown(row->confidence);
            conv_category = tt_classify_label(cx->m, pooled.top, pooled.confidence, cx->threshold);
            conv_conf = tt_confidence_shown(pooled.confidence);
        }
        printf("%" G_GUINT64_FORMAT "\t%u\t%s\t%.6f\t%.6f\t%u\t%" G_GUINT64_FORMAT "\t%s%s\t%s\t%.3f\t%s\t%.3f",
               row->flow_id, row->block, key, row->first_ts, row->last_ts, row->n_packets, row->n_bytes,
               row->classified ? "classified" : tt_block_status_name(row->status),
               row->truncated ? " (truncated)" : "", category, conf, conv_category, conv_conf);
        for (uint32_t c = 0; probs && c < k; c++)
            printf("\t%.6f", p[c]);
        printf("\n");
    }
    g_array_free(order, TRUE);
}

int tt_cli_classify(int argc, char **argv)
{
    GError *e = NULL;
    double threshold = -1.0;
    int max_flows = 0;
    gboolean packets = FALSE, probs = FALSE;
    GOptionEntry entries[] = {
        { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold, "Confidence below which the class reads \"unknown\" (default: the model's own, as in the plugin)", "P" },
        { "max-flows", 0, 0, G_OPTION_ARG_INT, &max_flows, "Flow table bound (default 1000000)", "N" },
        { "packets", 0, 0, G_OPTION_ARG_NONE, &packets, "Print frame, flow and block of every TCP/UDP packet instead", NULL },
        { "probs", 0, 0, G_OPTION_ARG_NONE, &probs, "Also print every class's probability (columns p_CLASS)", NULL },
        { NULL }
    };
    int rc;
    const tt_cli_start_info start = {
        (const GOptionEntry *const[]){ entries, NULL }, "MODEL CAPTURE",
        "Classify every flow block of a capture, as the plugin does (one line per block,\n"
        "printed at the end of the capture): its own class and confidence, and the conversation's\n"
        "(pooled with the reverse direction's block of the same index: triage.conversation.*).",
        "classify [OPTIONS] MODEL CAPTURE", 2, 2, NULL };
    tt_model *m = tt_cli_start(&start, &argc, &argv, &rc);
    if (!m)
        return rc;
    tt_capture *cap = tt_capture_open(argv[2], &e);
    if (!cap)
        return tt_cli_fail(e);
    tt_blas_single_thread();
    classify_ctx cx = { m, tt_classifier_new(m), (float)(threshold >= 0.0 ? threshold : tt_model_threshold(m)),
                        g_array_new(FALSE, FALSE, sizeof(classify_row)), g_array_new(FALSE, FALSE, sizeof(float)),
                        g_array_new(FALSE, TRUE, sizeof(uint64_t)) };
    tt_engine *eng = tt_engine_new(&m->spec, (uint32_t)MAX(0, max_flows), packets ? NULL : classify_block, &cx);
    if (packets)
        printf("#frame\tflow\tblock\tip_len\n");
    tt_packet p;
    uint64_t frame;
    while ((rc = tt_capture_next(cap, &p, &frame, &e)) == 1) {
        tt_pkt_ref ref;
        if (!tt_engine_add(eng, &p, &ref))
            continue;
        if (packets)
            printf("%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%u\t%u\n", frame, ref.flow_id, ref.block_index, p.ip_len);
        else if (ref.new_flow)
            classify_link_reverse(&cx, eng, &p, ref.flow_id);
    }
    tt_engine_flush(eng);
    tt_engine_free(eng);
    if (!packets && rc >= 0)
        classify_print(&cx, probs);
    classify_ctx_clear(&cx);
    tt_capture_close(cap);
    tt_model_free(m);
    if (rc < 0)
        return tt_cli_fail(e);
    return 0;
}
