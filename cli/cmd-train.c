/* traffictriage init-model and train: make a model, untrained (random weights
 * for tests and as a start) or trained on labelled data split by group. */
#include <string.h>

#include "cli.h"
#include "tt_train.h"

static int init_model(tt_cli_model_opts *mo, const GOptionEntry *model_entries, int argc, char **argv)
{
    GError *e = NULL;
    if (!tt_cli_parse_opts((const GOptionEntry *const[]){ model_entries, NULL }, "", "Write a randomly initialised (untrained) model: for tests and as a training start.", &argc, &argv, &e))
        return tt_cli_fail(e);
    if (!mo->out || !mo->classes) {
        fprintf(stderr, "traffictriage init-model: --classes and --output are required\n");
        return 2;
    }
    tt_spec spec;
    tt_arch arch;
    if (!tt_cli_model_spec(mo, &spec, &arch, &e))
        return tt_cli_fail(e);
    char **classes = g_strsplit(mo->classes, ",", -1);
    tt_model *m = tt_cli_model_new(mo, &spec, arch, classes, &e);
    g_strfreev(classes);
    if (!m)
        return tt_cli_fail(e);
    g_free(m->meta);
    m->meta = g_strdup_printf("untrained=yes (random weights from seed %" G_GINT64_FORMAT ")\n", mo->seed);
    if (mo->threshold >= 0.0) {
        char *with = g_strdup_printf("%sthreshold=%g\n", m->meta, mo->threshold);
        g_free(m->meta);
        m->meta = with;
    }
    if (!tt_model_save_file(m, mo->out, &e)) {
        tt_model_free(m);
        return tt_cli_fail(e);
    }
    printf("%s  %s\n", m->sha256, mo->out);
    tt_model_free(m);
    return 0;
}

static int train(tt_cli_model_opts *mo, const GOptionEntry *model_entries, int argc, char **argv)
{
    GError *e = NULL;
    double val = 0.15, test = 0.15;
    int epochs = 30, patience = 6, batch = 32, per_class = 0;
    double lr = 1e-3, wd = 0.0, aug_rtt = 0.0, aug_shift = 0.0, aug_loss = 0.0, aug_trunc = 0.0;
    char *split_unit = NULL;
    char **balance_attrs = NULL;
    tt_cli_data_opts data;
    GOptionEntry data_entries[TT_CLI_DATA_ENTRIES];
    tt_cli_data_entries(&data, data_entries);
    char *test_groups = NULL, *split_out = NULL, *split_in = NULL, *json_out = NULL, *init = NULL, *note = NULL;
    gboolean no_balance = FALSE, quiet = FALSE, allow_empty = FALSE;
    GOptionEntry extra[] = {
        { "val", 0, 0, G_OPTION_ARG_DOUBLE, &val, "Fraction of groups (sessions/captures) for validation (default 0.15)", "F" },
        { "test", 0, 0, G_OPTION_ARG_DOUBLE, &test, "Fraction of groups held out for the test (default 0.15)", "F" },
        { "test-groups", 0, 0, G_OPTION_ARG_STRING, &test_groups, "Also hold out the groups matching this regex", "REGEX" },
        { "split-unit", 0, 0, G_OPTION_ARG_STRING, &split_unit, "Keep groups whose names give the same first capture of REGEX on one side (e.g. one website)", "REGEX" },
        { "balance-attr", 0, 0, G_OPTION_ARG_STRING_ARRAY, &balance_attrs, "Within each class, weigh every value of this attribute equally (repeatable), e.g. tunnel", "KEY" },
        { "split", 0, 0, G_OPTION_ARG_FILENAME, &split_in, "Use this split file (group<TAB>train|val|test; a group * gives every group not listed)", "FILE" },
        { "split-out", 0, 0, G_OPTION_ARG_FILENAME, &split_out, "Write the split used", "FILE" },
        { "allow-empty-split", 0, 0, G_OPTION_ARG_NONE, &allow_empty, "Train even if the validation or test split has no group (no early stopping or calibration / no test figures)", NULL },
        { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "Maximum epochs (default 30)", "N" },
        { "patience", 0, 0, G_OPTION_ARG_INT, &patience, "Early stopping patience in epochs (default 6)", "N" },
        { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Mini-batch size (default 32)", "N" },
        { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 0.001)", "LR" },
        { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "AdamW decoupled weight decay (default 0)", "WD" },
        { "max-per-class", 0, 0, G_OPTION_ARG_INT, &per_class, "Use at most N training blocks per class per epoch", "N" },
        { "no-balance", 0, 0, G_OPTION_ARG_NONE, &no_balance, "Do not weight classes by inverse frequency", NULL },
        { "aug-rtt", 0, 0, G_OPTION_ARG_DOUBLE, &aug_rtt, "Scale block times by 1 +- U(F) (e.g. 0.5)", "F" },
        { "aug-shift", 0, 0, G_OPTION_ARG_DOUBLE, &aug_shift, "Shift block times by +- U(S) seconds", "S" },
        { "aug-loss", 0, 0, G_OPTION_ARG_DOUBLE, &aug_loss, "Drop packets with probability U(0, P)", "P" },
        { "aug-truncate", 0, 0, G_OPTION_ARG_DOUBLE, &aug_trunc, "With probability P, keep a random 1 s..block window of a block (short flows)", "P" },
        { "init", 0, 0, G_OPTION_ARG_FILENAME, &init, "Start from this model's weights, spec and classes", "MODEL" },
        { "note", 0, 0, G_OPTION_ARG_STRING, &note, "Free text stored in the model (e.g. data sources)", "TEXT" },
        { "eval-json", 0, 0, G_OPTION_ARG_FILENAME, &json_out, "Write the test-split evaluation as JSON", "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines", NULL },
        { NULL }
    };
    if (!tt_cli_parse_opts((const GOptionEntry *const[]){ model_entries, data_entries, extra, NULL }, "DATA...",
                           "Train a model on labelled data split by group (session/capture).\n"
                           "DATA: #ttmanifest files (labelled captures), #ttseries files, captures as FILE.pcap:LABEL,\n"
                           "or original FlowPic CSV files as FILE.csv:LABEL.", &argc, &argv, &e))
        return tt_cli_fail(e);
    if (!mo->out || argc < 2)
        return tt_cli_usage("train [OPTIONS] -o MODEL DATA...");
    tt_model *m = NULL;
    tt_spec spec;
    tt_arch arch = TT_ARCH_LENET;
    if (init) {
        m = tt_model_load_file(init, &e);
        if (!m)
            return tt_cli_fail(e);
        if (m->companion) {   /* a fused model: its first net (the FlowPic) is what trains on */
            fprintf(stderr, "traffictriage train: %s is fused (two nets); training starts from its first net, "
                    "%s, and writes one net (fuse it again with a companion trained alike, if wanted)\n",
                    init, m->name);
            tt_model_free(m->companion);
            m->companion = NULL;
        }
        if (m->trees) {   /* trees belong to the data they learnt: add new ones with `trees` */
            fprintf(stderr, "traffictriage train: %s holds boosted trees; the model written has none "
                    "(add trees trained on your data with traffictriage trees)\n", init);
            tt_trees_free(m->trees);
            m->trees = NULL;
        }
        spec = m->spec;
    } else if (!tt_cli_model_spec(mo, &spec, &arch, &e)) {
        return tt_cli_fail(e);
    }
    char **classes = mo->classes ? g_strsplit(mo->classes, ",", -1) : NULL;
    if (m) {
        g_strfreev(classes);
        classes = g_new0(char *, m->n_classes + 1);
        for (uint32_t i = 0; i < m->n_classes; i++)
            classes[i] = g_strdup(m->classes[i]);
    }
    tt_dataset *ds = tt_dataset_new(&spec, (const char *const *)classes, classes ? g_strv_length(classes) : 0);
    if (!tt_cli_load_data(ds, &data, argc, argv, &e))
        return tt_cli_fail(e);
    if (!quiet)
        tt_cli_print_data_summary(ds, stderr);
    if (ds->classes->len < 2) {
        fprintf(stderr, "traffictriage train: the data has fewer than two classes\n");
        return 1;
    }
    if (!m) {
        g_strfreev(classes);
        classes = g_new0(char *, ds->classes->len + 1);
        for (guint i = 0; i < ds->classes->len; i++)
            classes[i] = g_strdup(g_ptr_array_index(ds->classes, i));
        m = tt_cli_model_new(mo, &spec, arch, classes, &e);
        if (!m)
            return tt_cli_fail(e);
    }
    g_strfreev(classes);

    uint8_t *split = g_new0(uint8_t, ds->groups->len + 1);
    if (split_in) {
        if (!tt_split_read(ds, split_in, split, &e))
            return tt_cli_fail(e);
    } else if (split_unit) {
        if (!tt_split_groups_by_unit(ds, split_unit, val, test, (uint64_t)mo->seed, split, &e))
            return tt_cli_fail(e);
    } else {
        tt_split_groups(ds, val, test, (uint64_t)mo->seed, split);
        if (test_groups && !tt_split_by_regex(ds, test_groups, TT_SPLIT_TEST, split, &e))
            return tt_cli_fail(e);
    }
    if (split_out && !tt_split_write(ds, split, split_out, &e))
        return tt_cli_fail(e);
    uint32_t gcount[4] = { 0 };
    for (guint g = 0; g < ds->groups->len; g++)
        gcount[split[g]]++;
    if ((gcount[TT_SPLIT_VAL] == 0 || gcount[TT_SPLIT_TEST] == 0) && !allow_empty) {
        fprintf(stderr, "traffictriage train: the split has %u training, %u validation and %u test groups "
                "(a group is one capture or session, never divided); with an empty %s split %s.\n"
                "Give more captures or sessions per class, set --val/--test, a --split file, or "
                "--allow-empty-split to train anyway.\n",
                gcount[TT_SPLIT_TRAIN], gcount[TT_SPLIT_VAL], gcount[TT_SPLIT_TEST],
                gcount[TT_SPLIT_VAL] == 0 ? "validation" : "test",
                gcount[TT_SPLIT_VAL] == 0 ? "there is no early stopping and no calibration"
                                          : "no accuracy can be measured");
        return 2;
    }

    tt_train_opts o;
    tt_train_opts_default(&o);
    o.seed = (uint64_t)mo->seed;
    o.max_epochs = (uint32_t)MAX(1, epochs);
    o.patience = (uint32_t)MAX(1, patience);
    o.batch = (uint32_t)MAX(1, batch);
    o.lr = (float)lr;
    o.weight_decay = (float)wd;
    o.balance = !no_balance;
    o.aug_rtt = (float)aug_rtt;
    o.aug_shift = (float)aug_shift;
    o.aug_loss = (float)aug_loss;
    o.aug_truncate = (float)aug_trunc;
    o.max_per_class = (uint32_t)MAX(0, per_class);
    o.balance_attrs = (const char *const *)balance_attrs;
    o.log = quiet ? NULL : stderr;

    GString *meta = g_string_new(NULL);
    if (note)
        g_string_append_printf(meta, "note=%s\n", note);
    if (mo->threshold >= 0.0)
        g_string_append_printf(meta, "threshold=%g\n", mo->threshold);
    if (split_in) {
        char *base = g_path_get_basename(split_in);   /* no machine-local path in a shipped model */
        g_string_append_printf(meta, "split=by group (session/capture), read from %s; groups train %u, val %u, test %u\n",
                               base, gcount[0], gcount[1], gcount[2]);
        g_free(base);
    } else
        g_string_append_printf(meta, "split=by group (session/capture)%s%s, seed %" G_GINT64_FORMAT ", val %.2f, test %.2f%s%s; groups train %u, val %u, test %u\n",
                               split_unit ? ", unit " : "", split_unit ? split_unit : "",
                               mo->seed, val, test, test_groups ? ", held out: " : "", test_groups ? test_groups : "",
                               gcount[0], gcount[1], gcount[2]);
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    if (!tt_train(m, ds, split, &o, &e))
        return tt_cli_fail(e);

    tt_eval ev;
    tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, &ev);
    gboolean have_test = gcount[TT_SPLIT_TEST] > 0;
    if (have_test) {
        GString *with_test = g_string_new(m->meta);
        tt_cli_meta_add_test(with_test, &ev);
        g_free(m->meta);
        m->meta = g_string_free(with_test, FALSE);
    }
    if (!tt_model_save_file(m, mo->out, &e))
        return tt_cli_fail(e);
    printf("model %s written to %s (sha256 %.12s)\n", m->name, mo->out, m->sha256);
    if (have_test) {
        printf("test split (groups never seen in training):\n");
        tt_eval_print(m, &ev, stdout);
    } else {
        printf("no test split (--allow-empty-split): no held-out figures; evaluate on other captures with traffictriage eval\n");
    }
    if (json_out) {
        char *js = tt_eval_json(m, &ev);
        if (!g_file_set_contents(json_out, js, -1, &e))
            return tt_cli_fail(e);
        g_free(js);
    }
    g_free(split);
    tt_dataset_free(ds);
    tt_model_free(m);
    g_free(split_unit);
    g_free(test_groups);
    g_free(split_out);
    g_free(split_in);
    g_free(json_out);
    g_free(init);
    g_free(note);
    tt_cli_data_opts_clear(&data);
    g_strfreev(balance_attrs);
    return 0;
}

/* Both commands: the model options bound, the command run, the options' strings freed. */
static int with_model_opts(int (*cmd)(tt_cli_model_opts *, const GOptionEntry *, int, char **), int argc, char **argv)
{
    tt_cli_model_opts mo;
    GOptionEntry model_entries[TT_CLI_MODEL_ENTRIES];
    tt_cli_model_entries(&mo, model_entries);
    int rc = cmd(&mo, model_entries, argc, argv);
    tt_cli_model_opts_clear(&mo);
    return rc;
}

int tt_cli_init_model(int argc, char **argv)
{
    return with_model_opts(init_model, argc, argv);
}

int tt_cli_train(int argc, char **argv)
{
    return with_model_opts(train, argc, argv);
}
