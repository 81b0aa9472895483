/* traffictriage fuse: two trained models of the same task and classes as one
 * fused model file (tt_model_fuse): every block answered by the mean of both
 * nets' calibrated probabilities, each from its own picture of the block. */
#include "cli.h"
#include "tt_train.h"

int tt_cli_fuse(int argc, char **argv)
{
    GError *e = NULL;
    char *out = NULL, *name = NULL, *split_in = NULL, *json_out = NULL;
    double threshold = -1.0;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Fused model file to write", "FILE" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Its name (default: the first model's)", "NAME" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold,
          "Confidence threshold it recommends, 0..1 (default: the first model's)", "T" },
        { "split", 0, 0, G_OPTION_ARG_FILENAME, &split_in,
          "Evaluate the fused model on the test groups of this split of DATA (train --split-out) and record it", "FILE" },
        { "eval-json", 0, 0, G_OPTION_ARG_FILENAME, &json_out, "Write that evaluation as JSON", "FILE" },
        { NULL }
    };
    int rc = 1;
    tt_model *m = NULL, *c = NULL;
    if (!tt_cli_parse_opts((const GOptionEntry *const[]){ entries, NULL }, "MODEL COMPANION [DATA...]",
                           "Fuse two trained models of the same task and classes, which cut flows the same way\n"
                           "(block length, idle timeout, packets per block) and may draw different pictures of a\n"
                           "block: every block is then answered by the mean of both models' probabilities.\n"
                           "MODEL's name, threshold and metadata are kept, but not its held-out figures (they are of\n"
                           "one net): with --split and DATA the fused model's own are measured and recorded instead.\n"
                           "COMPANION's metadata are kept inside.",
                           &argc, &argv, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    if (argc < 3 || !out || (argc > 3) != (split_in != NULL) || (json_out && !split_in)) {
        rc = tt_cli_usage("fuse -o OUT.ttm MODEL COMPANION [--split FILE [--eval-json FILE] DATA...]");
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
    if (!tt_model_fuse(m, c, &e)) {
        rc = tt_cli_fail(g_error_new(TT_ERROR, e->code, "%s + %s: %s", argv[1], argv[2], e->message));
        g_error_free(e);
        goto out;
    }
    c = NULL;   /* owned by m */
    if (name) {
        g_free(m->name);
        m->name = g_strdup(name);
    }
    /* the held-out figures are one net's; the threshold is replaced when given */
    const char *const stale[] = { "test.", threshold != -1.0 ? "threshold=" : NULL, NULL };
    GString *meta = tt_cli_meta_without(m->meta, stale);
    if (threshold != -1.0)
        g_string_append_printf(meta, "threshold=%g\n", threshold);
    g_string_append_printf(meta, "fused.companion=%s\nfused.companion_sha256=%s\n",
                           m->companion->name, m->companion->sha256);
    tt_eval ev;
    if (split_in) {   /* the fused model's held-out figures, as train records a net's */
        tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
        uint8_t *split = NULL;
        gboolean ok = tt_cli_load_data(ds, NULL, argc - 2, argv + 2, &e) &&
                      tt_split_read(ds, split_in, split = g_new0(uint8_t, ds->groups->len + 1), &e);
        if (ok)
            tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, &ev);
        g_free(split);
        tt_dataset_free(ds);
        if (!ok) {
            g_string_free(meta, TRUE);
            rc = tt_cli_fail(e);
            goto out;
        }
        tt_cli_meta_add_test(meta, &ev);
    }
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    if (!tt_model_save_file(m, out, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    printf("fused model %s written to %s (sha256 %.12s)\n", m->name, out, m->sha256);
    if (split_in && !tt_cli_report_test(m, &ev, json_out, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    rc = 0;
out:
    tt_model_free(m);
    tt_model_free(c);
    g_free(out);
    g_free(name);
    g_free(split_in);
    g_free(json_out);
    return rc;
}
