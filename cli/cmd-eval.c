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

int tt_cli_eval(int argc, char **argv)
{
    GError *e = NULL;
    char *split_in = NULL, *on = NULL, *by = NULL, *json_out = NULL, *label_attr = NULL, *flows_out = NULL;
    char *blocks_out = NULL;
    char **where = NULL;
    double temperature = 0.0;
    gboolean verbose = FALSE;
    GOptionEntry entries[] = {
        { "where", 0, 0, G_OPTION_ARG_STRING_ARRAY, &where, "Use only flows whose attributes match (repeatable)", "KEY=VALUE" },
        { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &temperature, "Override the model's softmax temperature (1 = uncalibrated)", "T" },
        { "label-attr", 0, 0, G_OPTION_ARG_STRING, &label_attr, "Take each flow's label from this attribute (e.g. tunnel)", "KEY" },
        { "split", 0, 0, G_OPTION_ARG_FILENAME, &split_in, "Split file written by train --split-out", "FILE" },
        { "on", 0, 0, G_OPTION_ARG_STRING, &on, "Evaluate on train, val or test groups of the split (default: all data)", "SPLIT" },
        { "by", 0, 0, G_OPTION_ARG_STRING, &by, "Also break results down by this attribute (e.g. tunnel, app): one row per value", "KEY" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "With --by: the full report (precision, recall, F1, confusion) for every value", NULL },
        { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_out, "Write the results as JSON", "FILE" },
        { "flows", 0, 0, G_OPTION_ARG_FILENAME, &flows_out, "Write one row per labelled one-way flow with its mean block probabilities (TSV)", "FILE" },
        { "blocks", 0, 0, G_OPTION_ARG_FILENAME, &blocks_out, "Write one row per classified block with its probabilities (TSV)", "FILE" },
        { NULL }
    };
    if (!tt_cli_parse_opts(entries, NULL, "MODEL DATA...", "Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.", &argc, &argv, &e))
        return tt_cli_fail(e);
    if (argc < 3)
        return tt_cli_usage("eval [OPTIONS] MODEL DATA...");
    tt_model *m = tt_model_load_file(argv[1], &e);
    if (!m)
        return tt_cli_fail(e);
    if (temperature > 0.0)
        m->temperature = (float)temperature;
    tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
    tt_dataset_set_label_attr(ds, label_attr);
    tt_dataset_set_where(ds, (const char *const *)where);
    if (!tt_cli_load_data(ds, argc - 1, argv + 1, &e))
        return tt_cli_fail(e);
    tt_cli_print_data_summary(ds, stderr);
    uint8_t *split = g_new0(uint8_t, ds->groups->len + 1);
    int which = TT_SPLIT_NONE;
    if (split_in) {
        if (!tt_split_read(ds, split_in, split, &e))
            return tt_cli_fail(e);
        which = !on ? TT_SPLIT_NONE : tt_split_from_name(on);
        if (which == TT_SPLIT_NONE && on)
            which = TT_SPLIT_TEST;   /* --on with another name: the test groups */
    }
    if (flows_out || blocks_out) {   /* one pass of the net serves both tables */
        float *block_probs = g_new(float, (size_t)ds->samples->len * m->n_classes + 1);
        tt_block_probs(m, ds, split, which, block_probs);
        gboolean ok = (!flows_out || write_prob_table(m, ds, split, which, FALSE, block_probs, flows_out, &e)) &&
                      (!blocks_out || write_prob_table(m, ds, split, which, TRUE, block_probs, blocks_out, &e));
        g_free(block_probs);
        if (!ok)
            return tt_cli_fail(e);
    }
    tt_eval ev;
    tt_evaluate(m, ds, split, which, NULL, NULL, &ev);
    printf("model %s (%.12s) on %s\n", m->name, m->sha256, which == TT_SPLIT_NONE ? "all blocks" : on);
    tt_eval_print(m, &ev, stdout);
    GString *js = g_string_new(NULL);
    char *j = tt_eval_json(m, &ev);
    g_string_append_printf(js, "{\"all\":%s", j);
    g_free(j);
    if (by) {
        GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_string_append_printf(js, ",\"by\":{\"key\":\"%s\",\"values\":{", by);
        gboolean first = TRUE;
        for (guint a = 0; a < ds->attrs->len; a++) {
            char *v = tt_attr_get(g_ptr_array_index(ds->attrs, a), by);
            if (g_hash_table_contains(seen, v)) {
                g_free(v);
                continue;
            }
            g_hash_table_add(seen, v);
            tt_eval sub;
            tt_evaluate(m, ds, split, which, by, v, &sub);
            if (!sub.n)
                continue;
            if (verbose) {
                printf("\n%s = %s\n", by, *v ? v : "(none)");
                tt_eval_print(m, &sub, stdout);
            } else {
                print_by_row(m, by, v, &sub, first);
            }
            j = tt_eval_json(m, &sub);
            g_string_append_printf(js, "%s\"%s\":%s", first ? "" : ",", v, j);
            g_free(j);
            first = FALSE;
        }
        g_string_append(js, "}}");
        g_hash_table_destroy(seen);
    }
    g_string_append(js, "}\n");
    if (json_out && !g_file_set_contents(json_out, js->str, (gssize)js->len, &e))
        return tt_cli_fail(e);
    g_string_free(js, TRUE);
    g_free(split);
    tt_dataset_free(ds);
    tt_model_free(m);
    return 0;
}
