/* traffictriage eval: a model's accuracy, per-class precision/recall/F1 and
 * confusion on labelled data (text and JSON), per attribute value with --by,
 * and the probabilities of every flow or block as TSV. */
#include <string.h>

#include "cli.h"
#include "tt_train.h"

/* One line of eval --by: blocks, accuracy, balanced accuracy and the recall of each
 * class present for one attribute value ("-" where the value has no block of a class);
 * with the header line before the first. */
static void print_by_row(const tt_model *m, const char *by, const char *value, const tt_eval *ev,
                         gboolean header)
{
    if (header) {
        printf("\n%-20s %8s %9s %9s   recall:", by, "blocks", "accuracy", "balanced");
        for (uint32_t c = 0; c < ev->k; c++)
            printf(" %9.9s", m->classes[c]);
        putchar('\n');
    }
    printf("%-20.20s %8" G_GUINT64_FORMAT " %9.4f %9.4f          ", *value ? value : "(none)", ev->n,
           tt_eval_accuracy(ev), tt_eval_balanced_accuracy(ev));
    for (uint32_t t = 0; t < ev->k; t++) {
        uint64_t row = 0;
        for (uint32_t c = 0; c < ev->k; c++)
            row += ev->confusion[t * ev->k + c];
        if (row)
            printf(" %9.4f", (double)ev->confusion[t * ev->k + t] / (double)row);
        else
            printf(" %9s", "-");
    }
    putchar('\n');
}

/* ---- eval --------------------------------------------------------------------------------- */

/* eval --flows: one row per labelled one-way flow (what it is, how much of it there was, and
 * its answer: the mean calibrated probability per class over its classified blocks, all 0 =
 * none); eval --blocks (per_block): one row per classified block of such a flow, with its
 * own probabilities (the inputs of any pooling across blocks or a conversation's two
 * directions). */
static gboolean write_prob_table(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                                 int which, gboolean per_block, const float *block_probs,
                                 const char *path, GError **error)
{
    uint32_t k = m->n_classes;
    guint n = per_block ? ds->samples->len : ds->flows->len;
    float *flow_probs = per_block ? NULL : g_new(float, (size_t)n * k + 1);   /* [flows][k] */
    if (flow_probs)
        tt_flow_probs(ds, split, which, k, block_probs, flow_probs);
    const float *probs = per_block ? block_probs : flow_probs;   /* [n][k] */
    GString *out = g_string_new(per_block ? "source\tflow\tblock\tgroup\tlabel\tpackets\tkey"
                                          : "source\tflow\tgroup\tlabel\tpackets\tblocks\tblocks_ok\tduration\tattrs\tkey");
    for (uint32_t c = 0; c < k; c++)
        g_string_append_printf(out, "\tp_%s", m->classes[c]);
    g_string_append_c(out, '\n');
    for (guint i = 0; i < n; i++) {
        const tt_sample *s = per_block ? &g_array_index(ds->samples, tt_sample, i) : NULL;
        const tt_flow_rec *r = &g_array_index(ds->flows, tt_flow_rec, s ? s->flow : i);
        if (which != TT_SPLIT_NONE && split[r->group] != which)
            continue;
        const char *source = g_ptr_array_index(ds->sources, r->source);
        const char *group = g_ptr_array_index(ds->groups, r->group);
        const char *label = g_ptr_array_index(ds->classes, r->label);
        char key[160];
        tt_key_format(&r->key, key, sizeof key);
        if (s)
            g_string_append_printf(out, "%s\t%" G_GUINT64_FORMAT "\t%u\t%s\t%s\t%u\t%s", source, s->flow_id,
                                   s->block_index, group, label, s->n, key);
        else
            g_string_append_printf(out, "%s\t%" G_GUINT64_FORMAT "\t%s\t%s\t%" G_GUINT64_FORMAT "\t%u\t%u\t%.3f\t%s\t%s",
                                   source, r->flow_id, group, label, r->packets, r->blocks, r->blocks_ok,
                                   r->last_ts - r->first_ts, (const char *)g_ptr_array_index(ds->attrs, r->attrs), key);
        for (uint32_t c = 0; c < k; c++)
            g_string_append_printf(out, "\t%.4f", probs[(size_t)i * k + c]);
        g_string_append_c(out, '\n');
    }
    gboolean ok = g_file_set_contents(path, out->str, (gssize)out->len, error);
    g_string_free(out, TRUE);
    g_free(flow_probs);
    return ok;
}

/* eval's options; the strings are the options' own (eval_opts_clear). */
typedef struct {
    tt_cli_data_opts data;
    char  *split_in, *on, *by, *json_out, *flows_out, *blocks_out;
    double temperature;
    gboolean verbose;
} eval_opts;

static void eval_opts_clear(eval_opts *o)
{
    tt_cli_data_opts_clear(&o->data);
    char **strings[] = { &o->split_in, &o->on, &o->by, &o->json_out, &o->flows_out, &o->blocks_out };
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
        g_clear_pointer(strings[i], g_free);
}

/* The --by part: one row (or with -v one full report) per value of the attribute o->by,
 * appended to the JSON in js. */
static void eval_by(const tt_model *m, const tt_dataset *ds, const uint8_t *split, int which,
                    const eval_opts *o, GString *js)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_string_append_printf(js, ",\"by\":{\"key\":\"%s\",\"values\":{", o->by);
    gboolean first = TRUE;
    for (guint a = 0; a < ds->attrs->len; a++) {
        char *v = tt_attr_get(g_ptr_array_index(ds->attrs, a), o->by);
        if (g_hash_table_contains(seen, v)) {
            g_free(v);
            continue;
        }
        g_hash_table_add(seen, v);
        tt_eval sub;
        tt_evaluate(m, ds, split, which, o->by, v, &sub);
        if (!sub.n)
            continue;
        if (o->verbose) {
            printf("\n%s = %s\n", o->by, *v ? v : "(none)");
            tt_eval_print(m, &sub, stdout);
        } else {
            print_by_row(m, o->by, v, &sub, first);
        }
        char *j = tt_eval_json(m, &sub);
        g_string_append_printf(js, "%s\"%s\":%s", first ? "" : ",", v, j);
        g_free(j);
        first = FALSE;
    }
    g_string_append(js, "}}");
    g_hash_table_destroy(seen);
}

/* eval once the options are parsed and the model loaded: 0, or 1 with the error in *error. */
static int eval_run(tt_model *m, const eval_opts *o, int argc, char **argv, GError **error)
{
    if (o->temperature > 0.0)   /* every net of a fused model */
        for (tt_model *n = m; n; n = n->companion)
            n->temperature = (float)o->temperature;
    tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
    uint8_t *split = NULL;
    GString *js = NULL;
    gboolean ok = tt_cli_load_data(ds, &o->data, argc - 1, argv + 1, error);
    if (!ok)
        goto out;
    tt_cli_print_data_summary(ds, stderr);
    split = g_new0(uint8_t, ds->groups->len + 1);
    int which = TT_SPLIT_NONE;
    if (o->split_in) {
        if (!(ok = tt_split_read(ds, o->split_in, split, error)))
            goto out;
        which = !o->on ? TT_SPLIT_NONE : tt_split_from_name(o->on);
        if (which == TT_SPLIT_NONE && o->on)
            which = TT_SPLIT_TEST;   /* --on with another name: the test groups */
    }
    if (o->flows_out || o->blocks_out) {   /* one pass of the net serves both tables */
        float *block_probs = g_new(float, (size_t)ds->samples->len * m->n_classes + 1);
        tt_block_probs(m, ds, split, which, block_probs);
        ok = (!o->flows_out || write_prob_table(m, ds, split, which, FALSE, block_probs, o->flows_out, error)) &&
             (!o->blocks_out || write_prob_table(m, ds, split, which, TRUE, block_probs, o->blocks_out, error));
        g_free(block_probs);
        if (!ok)
            goto out;
    }
    tt_eval ev;
    tt_evaluate(m, ds, split, which, NULL, NULL, &ev);
    printf("model %s (%.12s) on %s\n", m->name, m->sha256, which == TT_SPLIT_NONE ? "all blocks" : o->on);
    tt_eval_print(m, &ev, stdout);
    js = g_string_new(NULL);
    char *j = tt_eval_json(m, &ev);
    g_string_append_printf(js, "{\"all\":%s", j);
    g_free(j);
    if (o->by)
        eval_by(m, ds, split, which, o, js);
    g_string_append(js, "}\n");
    ok = !o->json_out || g_file_set_contents(o->json_out, js->str, (gssize)js->len, error);
out:
    if (js)
        g_string_free(js, TRUE);
    g_free(split);
    tt_dataset_free(ds);
    return ok ? 0 : 1;
}

int tt_cli_eval(int argc, char **argv)
{
    eval_opts o = { .temperature = 0.0 };
    GOptionEntry data_entries[TT_CLI_DATA_ENTRIES];
    tt_cli_data_entries(&o.data, data_entries);
    GOptionEntry entries[] = {
        { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &o.temperature, "Override the model's softmax temperature (1 = uncalibrated)", "T" },
        { "split", 0, 0, G_OPTION_ARG_FILENAME, &o.split_in, "Split file written by train --split-out", "FILE" },
        { "on", 0, 0, G_OPTION_ARG_STRING, &o.on, "Evaluate on train, val or test groups of the split (default: all data)", "SPLIT" },
        { "by", 0, 0, G_OPTION_ARG_STRING, &o.by, "Also break results down by this attribute (e.g. tunnel, app): one row per value", "KEY" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o.verbose, "With --by: the full report (precision, recall, F1, confusion) for every value", NULL },
        { "json", 0, 0, G_OPTION_ARG_FILENAME, &o.json_out, "Write the results as JSON", "FILE" },
        { "flows", 0, 0, G_OPTION_ARG_FILENAME, &o.flows_out, "Write one row per labelled one-way flow with its mean block probabilities (TSV)", "FILE" },
        { "blocks", 0, 0, G_OPTION_ARG_FILENAME, &o.blocks_out, "Write one row per classified block with its probabilities (TSV)", "FILE" },
        { NULL }
    };
    const tt_cli_start_info start = {
        (const GOptionEntry *const[]){ data_entries, entries, NULL }, "MODEL DATA...",
        "Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.",
        "eval [OPTIONS] MODEL DATA...", 2, 0, NULL };
    int rc;
    tt_model *m = tt_cli_start(&start, &argc, &argv, &rc);
    if (m) {
        GError *e = NULL;
        rc = eval_run(m, &o, argc, argv, &e);
        if (rc)
            tt_cli_fail(e);
        tt_model_free(m);
    }
    eval_opts_clear(&o);
    return rc;
}
