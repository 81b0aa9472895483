/* traffictriage: what every command shares (cli.h). */
#include <string.h>

#include "cli.h"

int tt_cli_fail(GError *e)
{
    fprintf(stderr, "traffictriage: %s\n", e ? e->message : "failed");
    if (e)
        g_error_free(e);
    return 1;
}

GString *tt_cli_meta_without(const char *meta, const char *const *prefixes)
{
    GString *out = g_string_new(NULL);
    char **lines = g_strsplit(meta ? meta : "", "\n", -1);
    for (char **l = lines; *l; l++) {
        gboolean drop = !**l;
        for (const char *const *p = prefixes; !drop && *p; p++)
            drop = g_str_has_prefix(*l, *p);
        if (!drop)
            g_string_append_printf(out, "%s\n", *l);
    }
    g_strfreev(lines);
    return out;
}

void tt_cli_meta_add_test(GString *meta, const tt_eval *ev)
{
    g_string_append_printf(meta, "test.blocks=%" G_GUINT64_FORMAT "\ntest.accuracy=%.4f\ntest.balanced_accuracy=%.4f\n"
                           "test.ece=%.4f\n", ev->n, tt_eval_accuracy(ev), tt_eval_balanced_accuracy(ev), ev->ece);
}

gboolean tt_cli_report_test(const tt_model *m, const tt_eval *ev, const char *json_out, GError **error)
{
    printf("test split (groups never seen in training):\n");
    tt_eval_print(m, ev, stdout);
    char *js = json_out ? tt_eval_json(m, ev) : NULL;
    gboolean ok = !js || g_file_set_contents(json_out, js, -1, error);
    g_free(js);
    return ok;
}

int tt_cli_usage(const char *line)
{
    fprintf(stderr, "usage: traffictriage %s\n", line);
    return 2;
}

gboolean tt_cli_parse_opts(const GOptionEntry *const *tables, const char *params, const char *summary,
                           int *argc, char ***argv, GError **error)
{
    GOptionContext *ctx = g_option_context_new(params);
    g_option_context_set_summary(ctx, summary);
    for (const GOptionEntry *const *t = tables; *t; t++)
        g_option_context_add_main_entries(ctx, *t, NULL);
    gboolean ok = g_option_context_parse(ctx, argc, argv, error);
    g_option_context_free(ctx);
    return ok;
}

tt_model *tt_cli_start(const tt_cli_start_info *c, int *argc, char ***argv, int *rc)
{
    GError *e = NULL;
    if (!tt_cli_parse_opts(c->tables, c->params, c->summary, argc, argv, &e)) {
        *rc = tt_cli_fail(e);
        return NULL;
    }
    int n = *argc - 1;
    if (n < c->min_args || (c->max_args > 0 && n > c->max_args) || (c->required && !*c->required)) {
        *rc = tt_cli_usage(c->usage);
        return NULL;
    }
    tt_model *m = tt_model_load_file((*argv)[1], &e);
    if (!m)
        *rc = tt_cli_fail(e);
    return m;
}

void tt_cli_data_entries(tt_cli_data_opts *o, GOptionEntry entries[TT_CLI_DATA_ENTRIES])
{
    memset(o, 0, sizeof *o);
    const GOptionEntry table[TT_CLI_DATA_ENTRIES] = {
        { "label-attr", 0, 0, G_OPTION_ARG_STRING, &o->label_attr, "Take each flow's label from this attribute (e.g. tunnel) instead of its label", "KEY" },
        { "where", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->where, "Use only flows whose attributes match (repeatable), e.g. tunnel=none or source!=ndpi", "KEY=VALUE" },
        { NULL }
    };
    memcpy(entries, table, sizeof table);
}

void tt_cli_data_opts_clear(tt_cli_data_opts *o)
{
    g_clear_pointer(&o->label_attr, g_free);
    g_clear_pointer(&o->where, g_strfreev);
}

gboolean tt_cli_load_data(tt_dataset *ds, const tt_cli_data_opts *o, int argc, char **argv, GError **error)
{
    if (o) {
        tt_dataset_set_label_attr(ds, o->label_attr);
        tt_dataset_set_where(ds, (const char *const *)o->where);
    }
    for (int i = 1; i < argc; i++)
        if (!tt_dataset_add_input(ds, argv[i], error))
            return FALSE;
    tt_dataset_finish(ds);
    return TRUE;
}

void tt_cli_print_data_summary(const tt_dataset *ds, FILE *out)
{
    guint k = ds->classes->len;
    uint64_t *n = g_new0(uint64_t, k ? k : 1);
    for (guint i = 0; i < ds->samples->len; i++)
        n[g_array_index(ds->samples, tt_sample, i).label]++;
    fprintf(out, "data: %u blocks from %u groups; %" G_GUINT64_FORMAT " packets read, %" G_GUINT64_FORMAT " labelled\n",
            ds->samples->len, ds->groups->len, ds->packets_read, ds->packets_labelled);
    for (guint c = 0; c < k; c++)
        fprintf(out, "  %-16s %8" G_GUINT64_FORMAT " blocks  (%" G_GUINT64_FORMAT " too short, not used)\n",
                (char *)g_ptr_array_index(ds->classes, c), n[c], g_array_index(ds->too_few, uint64_t, c));
    g_free(n);
}
