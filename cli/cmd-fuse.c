/* traffictriage fuse: two trained models of the same task and classes as one
 * fused model file (tt_model_fuse): every block answered by the mean of both
 * nets' calibrated probabilities, each from its own picture of the block. */
#include "cli.h"

int tt_cli_fuse(int argc, char **argv)
{
    GError *e = NULL;
    char *out = NULL, *name = NULL;
    double threshold = -1.0;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Fused model file to write", "FILE" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Its name (default: the first model's)", "NAME" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold,
          "Confidence threshold it recommends, 0..1 (default: the first model's)", "T" },
        { NULL }
    };
    int rc = 1;
    tt_model *m = NULL, *c = NULL;
    if (!tt_cli_parse_opts(entries, NULL, "MODEL COMPANION",
                           "Fuse two trained models of the same task and classes, which cut flows the same way\n"
                           "(block length, idle timeout, packets per block) and may draw different pictures of a\n"
                           "block: every block is then answered by the mean of both models' probabilities.\n"
                           "MODEL's name, threshold and metadata are kept; COMPANION's are kept inside.",
                           &argc, &argv, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    if (argc != 3 || !out) {
        rc = tt_cli_usage("fuse -o OUT.ttm MODEL COMPANION");
        goto out;
    }
    if (threshold != -1.0 && !(threshold >= 0.0 && threshold <= 1.0)) {
        rc = tt_cli_fail(g_error_new(TT_ERROR, TT_ERROR_INVALID, "--threshold %g is not in 0..1", threshold));
        goto out;
    }
    if (!(m = tt_model_load_file(argv[1], &e)) || !(c = tt_model_load_file(argv[2], &e))) {
        rc = tt_cli_fail(e);
        goto out;
    }
    char *sha = g_strdup(c->sha256), *cname = g_strdup(c->name);
    if (!tt_model_fuse(m, c, &e)) {
        g_free(sha);
        g_free(cname);
        rc = tt_cli_fail(g_error_new(TT_ERROR, e->code, "%s + %s: %s", argv[1], argv[2], e->message));
        g_error_free(e);
        goto out;
    }
    c = NULL;   /* owned by m */
    if (name) {
        g_free(m->name);
        m->name = g_strdup(name);
    }
    GString *meta = g_string_new(NULL);
    char **lines = g_strsplit(m->meta ? m->meta : "", "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l && !(threshold != -1.0 && g_str_has_prefix(*l, "threshold=")))
            g_string_append_printf(meta, "%s\n", *l);
    g_strfreev(lines);
    if (threshold != -1.0)
        g_string_append_printf(meta, "threshold=%g\n", threshold);
    g_string_append_printf(meta, "fused.companion=%s\nfused.companion_sha256=%s\n", cname, sha);
    g_free(sha);
    g_free(cname);
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    if (!tt_model_save_file(m, out, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    printf("fused model %s written to %s (sha256 %.12s)\n", m->name, out, m->sha256);
    rc = 0;
out:
    tt_model_free(m);
    tt_model_free(c);
    g_free(out);
    g_free(name);
    return rc;
}
