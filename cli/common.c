/* traffictriage: what every command shares (cli.h). */
#include "cli.h"

int tt_cli_fail(GError *e)
{
    fprintf(stderr, "traffictriage: %s\n", e ? e->message : "failed");
    if (e)
        g_error_free(e);
    return 1;
}

int tt_cli_usage(const char *line)
{
    fprintf(stderr, "usage: traffictriage %s\n", line);
    return 2;
}

gboolean tt_cli_parse_opts(const GOptionEntry *entries, const GOptionEntry *more, const char *params,
                           const char *summary, int *argc, char ***argv, GError **error)
{
    GOptionContext *ctx = g_option_context_new(params);
    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (more)
        g_option_context_add_main_entries(ctx, more, NULL);
    gboolean ok = g_option_context_parse(ctx, argc, argv, error);
    g_option_context_free(ctx);
    return ok;
}

gboolean tt_cli_load_data(tt_dataset *ds, int argc, char **argv, GError **error)
{
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
