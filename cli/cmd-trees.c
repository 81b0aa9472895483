/* traffictriage trees: boosted trees over block statistics added to a trained
 * model (tt_trees.h, tt_gbm.h): every block is then answered by
 * (1 - W) x the model's nets + W x the trees. */
#include "cli.h"
#include "tt_gbm.h"
#include "tt_train.h"

/* The weight and temperature the trees answer with, unless told otherwise:
 * chosen on the real-traffic cross-validation (models/README.md, "How the
 * recipe was chosen"), where the trees' probabilities to the power 0.3
 * (temperature 1 / 0.3) at half the answer did best. */
#define TREES_WEIGHT 0.5
#define TREES_TEMPERATURE 3.333

int tt_cli_trees(int argc, char **argv)
{
    GError *e = NULL;
    char *out = NULL, *split_in = NULL, *json_out = NULL;
    double weight = TREES_WEIGHT, temperature = TREES_TEMPERATURE, eta = -1.0;
    int rounds = -1, depth = -1, patience = -1;
    gint64 seed = 1;
    gboolean quiet = FALSE;
    tt_cli_data_opts data;
    GOptionEntry data_entries[TT_CLI_DATA_ENTRIES];
    tt_cli_data_entries(&data, data_entries);
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Model file to write (MODEL with the trees)", "FILE" },
        { "split", 0, 0, G_OPTION_ARG_FILENAME, &split_in,
          "The split of DATA MODEL was trained on (train --split-out): the trees learn from its training groups, "
          "stop on its validation groups and are measured on its test groups", "FILE" },
        { "weight", 0, 0, G_OPTION_ARG_DOUBLE, &weight, "The trees' share of the answer, 0 < W <= 1 (default 0.5)", "W" },
        { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &temperature, "Softmax temperature of the trees' margins (default 3.333)", "T" },
        { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Boosting rounds at most (default 400)", "N" },
        { "patience", 0, 0, G_OPTION_ARG_INT, &patience, "Stop after N rounds without a better validation loss (default 30)", "N" },
        { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "Tree depth (default 6)", "D" },
        { "eta", 0, 0, G_OPTION_ARG_DOUBLE, &eta, "Learning rate (default 0.1)", "E" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (default 1)", "N" },
        { "eval-json", 0, 0, G_OPTION_ARG_FILENAME, &json_out, "Write the test-split evaluation as JSON", "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines", NULL },
        { NULL }
    };
    int rc = 1;
    tt_model *m = NULL;
    tt_dataset *ds = NULL;
    uint8_t *split = NULL;
    if (!tt_cli_parse_opts((const GOptionEntry *const[]){ entries, data_entries, NULL }, "MODEL DATA...",
                           "Add boosted trees to a trained model (fused or not): trees over each block's\n"
                           "statistics (packets, duration, sizes, gaps, bursts: models/FLOWPIC.md), trained with\n"
                           "libxgboost on the same data and split as MODEL, answer beside its nets. Trees MODEL\n"
                           "already holds are replaced.",
                           &argc, &argv, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    if (argc < 3 || !out || !split_in) {
        rc = tt_cli_usage("trees -o OUT.ttm --split FILE [OPTIONS] MODEL DATA...");
        goto out;
    }
    if (!(weight > 0.0 && weight <= 1.0) || !(temperature > 0.0 && temperature <= 1000.0)) {
        rc = tt_cli_fail(g_error_new(TT_ERROR, TT_ERROR_INVALID,
                                     "--weight must be in (0, 1] and --temperature in (0, 1000] (%g, %g)", weight, temperature));
        goto out;
    }
    if (!tt_gbm_available(&e)) {   /* before the data is read */
        rc = tt_cli_fail(e);
        goto out;
    }
    if (!(m = tt_model_load_file(argv[1], &e))) {
        rc = tt_cli_fail(e);
        goto out;
    }
    ds = tt_dataset_new(&m->spec, (const char *const *)m->classes, m->n_classes);
    if (!tt_cli_load_data(ds, &data, argc - 1, argv + 1, &e) ||
        !tt_split_read(ds, split_in, split = g_new0(uint8_t, ds->groups->len + 1), &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    if (!quiet)
        tt_cli_print_data_summary(ds, stderr);
    tt_gbm_opts o;
    tt_gbm_opts_default(&o);
    if (rounds > 0)
        o.max_rounds = (uint32_t)rounds;
    if (patience > 0)
        o.patience = (uint32_t)patience;
    if (depth > 0)
        o.depth = (uint32_t)MIN(depth, 16);
    if (eta > 0.0)
        o.eta = (float)eta;
    o.seed = (uint64_t)seed;
    o.log = quiet ? NULL : stderr;
    uint32_t kept = 0;
    double diff = 0.0;
    tt_trees *t = tt_gbm_train(m, ds, split, &o, &kept, &diff, &e);
    if (!t) {
        rc = tt_cli_fail(e);
        goto out;
    }
    t->weight = (float)weight;
    t->temperature = (float)temperature;
    tt_trees_free(m->trees);
    m->trees = t;

    tt_eval ev;
    tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, &ev);
    const char *const stale[] = { "test.", "trees.", NULL };   /* of the model without these trees */
    GString *meta = tt_cli_meta_without(m->meta, stale);
    g_string_append_printf(meta, "trees.rounds=%u (depth %u, eta %g, seed %" G_GINT64_FORMAT ", libxgboost)\n"
                           "trees.weight=%g\ntrees.temperature=%g\ntrees.engine_vs_xgboost=%.2g\n",
                           kept, o.depth, (double)o.eta, seed, weight, temperature, diff);
    tt_cli_meta_add_test(meta, &ev);
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    if (!tt_model_save_file(m, out, &e)) {
        rc = tt_cli_fail(e);
        goto out;
    }
    printf("model %s with %u trees written to %s (sha256 %.12s)\n", m->name, m->trees->n_trees, out, m->sha256);
    rc = tt_cli_report_test(m, &ev, json_out, &e) ? 0 : tt_cli_fail(e);
out:
    tt_model_free(m);
    tt_dataset_free(ds);
    g_free(split);
    g_free(out);
    g_free(split_in);
    g_free(json_out);
    tt_cli_data_opts_clear(&data);
    return rc;
}
