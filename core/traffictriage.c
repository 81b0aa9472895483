/* traffictriage: the command-line face of the engine — train, evaluate,
 * inspect and render models, classify a capture outside Wireshark with the
 * very code the plugin runs. `traffictriage help` lists the commands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_capture.h"
#include "tt_corpus.h"
#include "tt_dataset.h"
#include "tt_flow.h"
#include "tt_flowpic.h"
#include "tt_model.h"
#include "tt_nn.h"
#include "tt_png.h"
#include "tt_train.h"
#include "label.h"      /* cli/: `label` (nDPI) */

static int fail(GError *e)
{
    fprintf(stderr, "traffictriage: %s\n", e ? e->message : "failed");
    if (e)
        g_error_free(e);
    return 1;
}

static gboolean parse_opts(GOptionEntry *entries, const char *params, const char *summary,
                           int *argc, char ***argv, GError **error)
{
    GOptionContext *ctx = g_option_context_new(params);
    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    gboolean ok = g_option_context_parse(ctx, argc, argv, error);
    g_option_context_free(ctx);
    return ok;
}

/* ---- model building options shared by init-model and train --------------------------- */

static char *o_arch = NULL, *o_classes = NULL, *o_task = NULL, *o_name = NULL, *o_out = NULL;
static int o_side = 32;
static double o_block = 0.0;
static int o_min_packets = -1;
static double o_threshold = -1.0;
static gint64 o_seed = 1;
static char *o_time_scale = NULL, *o_counts = NULL;

static GOptionEntry model_entries[] = {
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &o_arch, "Net: lenet (mini-FlowPic, default) or flowpic (the paper's net)", "ARCH" },
    { "side", 0, 0, G_OPTION_ARG_INT, &o_side, "Picture side in bins (default 32 for lenet, 1500 for flowpic)", "N" },
    { "block-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &o_block, "Block length in seconds (default 15 for lenet, 60 for flowpic)", "S" },
    { "min-packets", 0, 0, G_OPTION_ARG_INT, &o_min_packets, "Packets a block needs to be classified (default 10)", "N" },
    { "time-scale", 0, 0, G_OPTION_ARG_STRING, &o_time_scale, "fixed (block length maps to the width, default) or span", "MODE" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o_threshold, "Confidence threshold the model recommends, 0..1 (stored; the plugin's default)", "T" },
    { "counts", 0, 0, G_OPTION_ARG_STRING, &o_counts, "Pixel value from a cell's packet count: clip (min(n, 255) / 255, default), log (log(1 + n)) or raw", "MODE" },
    { "classes", 'c', 0, G_OPTION_ARG_STRING, &o_classes, "Comma-separated class names (default: the labels met in the data, sorted)", "A,B,..." },
    { "task", 0, 0, G_OPTION_ARG_STRING, &o_task, "Task name: category (default), tunnel, platform, ...", "TASK" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o_name, "Model name (default: TASK-ARCHSIDE-BLOCKs)", "NAME" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o_seed, "Seed for initialisation, split, shuffling, dropout, augmentation (default 1)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o_out, "Model file to write", "FILE" },
    { NULL }
};

static gboolean build_spec(tt_spec *spec, gboolean *paper, GError **error)
{
    *paper = o_arch && strcmp(o_arch, "flowpic") == 0;
    if (o_arch && !*paper && strcmp(o_arch, "lenet") != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "unknown --arch %s (lenet or flowpic)", o_arch);
        return FALSE;
    }
    if (*paper) {
        tt_spec_init_paper(spec);
        if (o_side != 32) {
            spec->time_bins = spec->size_bins = (uint32_t)o_side;
        }
    } else {
        if (o_side < 16 || o_side > 512) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "--side %d: the LeNet net needs 16..512", o_side);
            return FALSE;
        }
        tt_spec_init_mini(spec, (uint32_t)o_side);
    }
    if (o_block > 0.0) {
        spec->block_seconds = o_block;
        if (spec->idle_timeout < 2 * o_block)
            spec->idle_timeout = 2 * o_block;
    }
    if (o_min_packets >= 0)
        spec->min_packets = (uint32_t)o_min_packets;
    if (o_threshold > 1.0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "--threshold %g is not in [0, 1]", o_threshold);
        return FALSE;
    }
    if (o_time_scale) {
        if (strcmp(o_time_scale, "span") != 0 && strcmp(o_time_scale, "fixed") != 0) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "unknown --time-scale %s (fixed or span)", o_time_scale);
            return FALSE;
        }
        spec->time_scale = strcmp(o_time_scale, "span") == 0 ? TT_TIME_SPAN : TT_TIME_FIXED;
    }
    if (o_counts) {
        static const char *const names[] = { [TT_COUNT_RAW] = "raw", [TT_COUNT_CLIP_SCALE] = "clip",
                                             [TT_COUNT_LOG1P] = "log" };
        guint i = 0;
        while (i < G_N_ELEMENTS(names) && strcmp(o_counts, names[i]) != 0)
            i++;
        if (i == G_N_ELEMENTS(names)) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "unknown --counts %s (clip, log or raw)", o_counts);
            return FALSE;
        }
        spec->count_transform = (uint8_t)i;
        if (i == TT_COUNT_CLIP_SCALE && spec->count_clip <= 0.0f)
            spec->count_clip = 255.0f;
    }
    return tt_spec_validate(spec, error);
}

static tt_model *build_model(const tt_spec *spec, gboolean paper, char **classes, GError **error)
{
    uint32_t k = g_strv_length(classes);
    tt_layer layers[TT_MAX_LAYERS];
    uint32_t nl = paper ? tt_layers_flowpic(layers, k) : tt_layers_lenet(layers, k);
    tt_net *net = tt_net_new(spec->size_bins, spec->time_bins, layers, nl, error);
    if (!net)
        return NULL;
    tt_net_init_params(net, (uint64_t)o_seed);
    const char *task = o_task ? o_task : "category";
    char *name = o_name ? g_strdup(o_name)
                        : g_strdup_printf("%s-%s%u-%gs", task, paper ? "flowpic" : "lenet", spec->size_bins, spec->block_seconds);
    tt_model *m = tt_model_new(name, task, k, (const char *const *)classes, spec, net, error);
    g_free(name);
    if (!m) {
        tt_net_free(net);
        return NULL;
    }
    tt_net_prepare(m->net);
    return m;
}

/* ---- info ------------------------------------------------------------------------------ */

static int cmd_info(int argc, char **argv)
{
    GError *e = NULL;
    GOptionEntry none[] = { { NULL } };
    if (!parse_opts(none, "MODEL", "Print a model's task, classes, input spec, layers and checksum.", &argc, &argv, &e))
        return fail(e);
    if (argc != 2) {
        fprintf(stderr, "usage: traffictriage info MODEL\n");
        return 2;
    }
    tt_model *m = tt_model_load_file(argv[1], &e);
    if (!m)
        return fail(e);
    const tt_spec *s = &m->spec;
    printf("model        %s\ntask         %s\nsha256       %s\nclasses      ", m->name, m->task, m->sha256);
    for (uint32_t i = 0; i < m->n_classes; i++)
        printf("%s%s", i ? ", " : "", m->classes[i]);
    printf("\nflowpic      %u x %u (size x time), sizes 1..%u (%s above), %s time over %g s blocks\n",
           s->size_bins, s->time_bins, s->max_size, s->size_policy == TT_SIZE_CLIP ? "clipped" : "dropped",
           s->time_scale == TT_TIME_SPAN ? "span-scaled" : "fixed", s->block_seconds);
    printf("pixels       %s\n", s->count_transform == TT_COUNT_RAW ? "raw counts"
                              : s->count_transform == TT_COUNT_LOG1P ? "log(1 + count)" : "min(count, clip) / clip");
    printf("blocks       at least %u packets%s, at most %u stored; flows idle %g s end\n",
           s->min_packets, s->min_span > 0 ? " and the min span" : "", s->max_packets, s->idle_timeout);
    printf("temperature  %g\nparameters   %zu\nlayers      ", (double)m->temperature, m->net->n_params);
    for (uint32_t i = 0; i < m->net->n_layers; i++) {
        const tt_layer *l = &m->net->layers[i];
        printf(" %s", tt_layer_kind_name(l->kind));
        if (l->kind == TT_LAYER_CONV)
            printf("(%u@%ux%u/%u)", l->out_c, l->kh, l->kw, l->sh);
        else if (l->kind == TT_LAYER_DENSE)
            printf("(%u)", l->out_c);
        else if (l->kind == TT_LAYER_MAXPOOL)
            printf("(%u)", l->kh);
        else if (l->kind == TT_LAYER_DROPOUT)
            printf("(%g)", (double)l->rate);
    }
    printf("\n");
    if (m->meta && *m->meta)
        printf("--- metadata\n%s", m->meta);
    tt_model_free(m);
    return 0;
}

/* ---- init-model ------------------------------------------------------------------------ */

static int cmd_init_model(int argc, char **argv)
{
    GError *e = NULL;
    if (!parse_opts(model_entries, "", "Write a randomly initialised (untrained) model: for tests and as a training start.", &argc, &argv, &e))
        return fail(e);
    if (!o_out || !o_classes) {
        fprintf(stderr, "traffictriage init-model: --classes and --output are required\n");
        return 2;
    }
    tt_spec spec;
    gboolean paper;
    if (!build_spec(&spec, &paper, &e))
        return fail(e);
    char **classes = g_strsplit(o_classes, ",", -1);
    tt_model *m = build_model(&spec, paper, classes, &e);
    g_strfreev(classes);
    if (!m)
        return fail(e);
    g_free(m->meta);
    m->meta = g_strdup_printf("untrained=yes (random weights from seed %" G_GINT64_FORMAT ")\n", o_seed);
    if (o_threshold >= 0.0) {
        char *with = g_strdup_printf("%sthreshold=%g\n", m->meta, o_threshold);
        g_free(m->meta);
        m->meta = with;
    }
    if (!tt_model_save_file(m, o_out, &e)) {
        tt_model_free(m);
        return fail(e);
    }
    printf("%s  %s\n", m->sha256, o_out);
    tt_model_free(m);
    return 0;
}

/* ---- data loading ------------------------------------------------------------------------ */

/* DATA arguments: a manifest, a packet-series file, a capture (FILE[:LABEL]),
 * or a FlowPic CSV with FILE:LABEL. */
static gboolean load_data(tt_dataset *ds, int argc, char **argv, GError **error)
{
    for (int i = 1; i < argc; i++) {
        char *arg = g_strdup(argv[i]);
        char *label = NULL;
        char *colon = strrchr(arg, ':');
        if (colon && !g_file_test(arg, G_FILE_TEST_EXISTS)) {
            *colon = 0;
            label = colon + 1;
        }
        gboolean ok;
        if (g_str_has_suffix(arg, ".pcap") || g_str_has_suffix(arg, ".pcapng") || g_str_has_suffix(arg, ".cap")) {
            char *base = g_path_get_basename(arg);
            ok = tt_dataset_add_capture(ds, arg, label ? label : "unlabelled", base, error);
            g_free(base);
        } else {
            ok = tt_dataset_add_file(ds, arg, label, error);
        }
        g_free(arg);
        if (!ok)
            return FALSE;
    }
    tt_dataset_finish(ds);
    return TRUE;
}

static void print_data_summary(const tt_dataset *ds, FILE *out)
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

static gboolean write_split(const tt_dataset *ds, const uint8_t *split, const char *path, GError **error)
{
    static const char *names[] = { "train", "val", "test", "none" };
    GString *s = g_string_new("#ttsplit v1\n");
    for (guint g = 0; g < ds->groups->len; g++)
        g_string_append_printf(s, "%s\t%s\n", (char *)g_ptr_array_index(ds->groups, g), names[split[g]]);
    GError *e = NULL;
    gboolean ok = g_file_set_contents(path, s->str, (gssize)s->len, &e);
    g_string_free(s, TRUE);
    if (!ok)
        g_propagate_error(error, e);
    return ok;
}

static gboolean read_split(const tt_dataset *ds, const char *path, uint8_t *split, GError **error)
{
    char *text;
    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    for (char **l = lines; *l; l++) {
        if (!**l || **l == '#')
            continue;
        char *tab = strrchr(*l, '\t');
        if (!tab)
            continue;
        *tab = 0;
        int v = strcmp(tab + 1, "train") == 0 ? TT_SPLIT_TRAIN : strcmp(tab + 1, "val") == 0 ? TT_SPLIT_VAL
              : strcmp(tab + 1, "test") == 0 ? TT_SPLIT_TEST : TT_SPLIT_NONE;
        g_hash_table_insert(h, g_strdup(*l), GINT_TO_POINTER(v + 1));
    }
    g_strfreev(lines);
    /* A line for the group "*" gives the side of every group not listed. */
    gpointer dflt = g_hash_table_lookup(h, "*");
    for (guint g = 0; g < ds->groups->len; g++) {
        gpointer v = g_hash_table_lookup(h, g_ptr_array_index(ds->groups, g));
        if (!v)
            v = dflt;
        split[g] = v ? (uint8_t)(GPOINTER_TO_INT(v) - 1) : TT_SPLIT_NONE;
    }
    g_hash_table_destroy(h);
    return TRUE;
}

/* ---- train -------------------------------------------------------------------------------- */

static int cmd_train(int argc, char **argv)
{
    GError *e = NULL;
    double val = 0.15, test = 0.15;
    int epochs = 30, patience = 6, batch = 32, per_class = 0;
    double lr = 1e-3, wd = 0.0, aug_rtt = 0.0, aug_shift = 0.0, aug_loss = 0.0, aug_trunc = 0.0;
    char *split_unit = NULL, *label_attr = NULL;
    char **where = NULL, **balance_attrs = NULL;
    char *test_groups = NULL, *split_out = NULL, *split_in = NULL, *json_out = NULL, *init = NULL, *note = NULL;
    gboolean no_balance = FALSE, quiet = FALSE, allow_empty = FALSE;
    GOptionEntry extra[] = {
        { "val", 0, 0, G_OPTION_ARG_DOUBLE, &val, "Fraction of groups (sessions/captures) for validation (default 0.15)", "F" },
        { "test", 0, 0, G_OPTION_ARG_DOUBLE, &test, "Fraction of groups held out for the test (default 0.15)", "F" },
        { "test-groups", 0, 0, G_OPTION_ARG_STRING, &test_groups, "Also hold out the groups matching this regex", "REGEX" },
        { "label-attr", 0, 0, G_OPTION_ARG_STRING, &label_attr, "Take each flow's label from this attribute (e.g. tunnel) instead of its label", "KEY" },
        { "where", 0, 0, G_OPTION_ARG_STRING_ARRAY, &where, "Use only flows whose attributes match (repeatable), e.g. tunnel=none or source!=ndpi", "KEY=VALUE" },
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
    GOptionContext *ctx = g_option_context_new("DATA...");
    g_option_context_set_summary(ctx, "Train a model on labelled data split by group (session/capture).\n"
                                 "DATA: #ttmanifest files (labelled captures), #ttseries files, captures as FILE.pcap:LABEL,\n"
                                 "or original FlowPic CSV files as FILE.csv:LABEL.");
    g_option_context_add_main_entries(ctx, model_entries, NULL);
    g_option_context_add_main_entries(ctx, extra, NULL);
    gboolean ok = g_option_context_parse(ctx, &argc, &argv, &e);
    g_option_context_free(ctx);
    if (!ok)
        return fail(e);
    if (!o_out || argc < 2) {
        fprintf(stderr, "usage: traffictriage train [OPTIONS] -o MODEL DATA...\n");
        return 2;
    }
    tt_model *m = NULL;
    tt_spec spec;
    gboolean paper = FALSE;
    if (init) {
        m = tt_model_load_file(init, &e);
        if (!m)
            return fail(e);
        spec = m->spec;
    } else if (!build_spec(&spec, &paper, &e)) {
        return fail(e);
    }
    char **classes = o_classes ? g_strsplit(o_classes, ",", -1) : NULL;
    if (m) {
        g_strfreev(classes);
        classes = g_new0(char *, m->n_classes + 1);
        for (uint32_t i = 0; i < m->n_classes; i++)
            classes[i] = g_strdup(m->classes[i]);
    }
    tt_dataset *ds = tt_dataset_new(&spec, (const char *const *)classes, classes ? g_strv_length(classes) : 0);
    tt_dataset_set_label_attr(ds, label_attr);
    tt_dataset_set_where(ds, (const char *const *)where);
    if (!load_data(ds, argc, argv, &e))
        return fail(e);
    if (!quiet)
        print_data_summary(ds, stderr);
    if (ds->classes->len < 2) {
        fprintf(stderr, "traffictriage train: the data has fewer than two classes\n");
        return 1;
    }
    if (!m) {
        g_strfreev(classes);
        classes = g_new0(char *, ds->classes->len + 1);
        for (guint i = 0; i < ds->classes->len; i++)
            classes[i] = g_strdup(g_ptr_array_index(ds->classes, i));
        m = build_model(&spec, paper, classes, &e);
        if (!m)
            return fail(e);
    }
    g_strfreev(classes);

    uint8_t *split = g_new0(uint8_t, ds->groups->len + 1);
    if (split_in) {
        if (!read_split(ds, split_in, split, &e))
            return fail(e);
    } else if (split_unit) {
        if (!tt_split_groups_by_unit(ds, split_unit, val, test, (uint64_t)o_seed, split, &e))
            return fail(e);
    } else {
        tt_split_groups(ds, val, test, (uint64_t)o_seed, split);
        if (test_groups && !tt_split_by_regex(ds, test_groups, TT_SPLIT_TEST, split, &e))
            return fail(e);
    }
    if (split_out && !write_split(ds, split, split_out, &e))
        return fail(e);
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
    o.seed = (uint64_t)o_seed;
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
    if (o_threshold >= 0.0)
        g_string_append_printf(meta, "threshold=%g\n", o_threshold);
    if (split_in) {
        char *base = g_path_get_basename(split_in);   /* no machine-local path in a shipped model */
        g_string_append_printf(meta, "split=by group (session/capture), read from %s; groups train %u, val %u, test %u\n",
                               base, gcount[0], gcount[1], gcount[2]);
        g_free(base);
    } else
        g_string_append_printf(meta, "split=by group (session/capture)%s%s, seed %" G_GINT64_FORMAT ", val %.2f, test %.2f%s%s; groups train %u, val %u, test %u\n",
                               split_unit ? ", unit " : "", split_unit ? split_unit : "",
                               o_seed, val, test, test_groups ? ", held out: " : "", test_groups ? test_groups : "",
                               gcount[0], gcount[1], gcount[2]);
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);
    if (!tt_train(m, ds, split, &o, &e))
        return fail(e);

    tt_eval ev;
    tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, &ev);
    gboolean have_test = gcount[TT_SPLIT_TEST] > 0;
    if (have_test) {
        char *line = g_strdup_printf("%stest.blocks=%" G_GUINT64_FORMAT "\ntest.accuracy=%.4f\ntest.balanced_accuracy=%.4f\ntest.ece=%.4f\n",
                                     m->meta, ev.n, tt_eval_accuracy(&ev), tt_eval_balanced_accuracy(&ev), ev.ece);
        g_free(m->meta);
        m->meta = line;
    }
    if (!tt_model_save_file(m, o_out, &e))
        return fail(e);
    printf("model %s written to %s (sha256 %.12s)\n", m->name, o_out, m->sha256);
    if (have_test) {
        printf("test split (groups never seen in training):\n");
        tt_eval_print(m, &ev, stdout);
    } else {
        printf("no test split (--allow-empty-split): no held-out figures; evaluate on other captures with traffictriage eval\n");
    }
    if (json_out) {
        char *js = tt_eval_json(m, &ev);
        if (!g_file_set_contents(json_out, js, -1, &e))
            return fail(e);
        g_free(js);
    }
    g_free(split);
    tt_dataset_free(ds);
    tt_model_free(m);
    g_free(split_unit);
    g_free(label_attr);
    g_free(test_groups);
    g_free(split_out);
    g_free(split_in);
    g_free(json_out);
    g_free(init);
    g_free(note);
    g_strfreev(where);
    g_strfreev(balance_attrs);
    return 0;
}

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

static int cmd_eval(int argc, char **argv)
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
    if (!parse_opts(entries, "MODEL DATA...", "Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.", &argc, &argv, &e))
        return fail(e);
    if (argc < 3) {
        fprintf(stderr, "usage: traffictriage eval [OPTIONS] MODEL DATA...\n");
        return 2;
    }
    tt_model *m = tt_model_load_file(argv[1], &e);
    if (!m)
        return fail(e);
    if (temperature > 0.0)
        m->temperature = (float)temperature;
    tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
    tt_dataset_set_label_attr(ds, label_attr);
    tt_dataset_set_where(ds, (const char *const *)where);
    if (!load_data(ds, argc - 1, argv + 1, &e))
        return fail(e);
    print_data_summary(ds, stderr);
    uint8_t *split = g_new0(uint8_t, ds->groups->len + 1);
    int which = TT_SPLIT_NONE;
    if (split_in) {
        if (!read_split(ds, split_in, split, &e))
            return fail(e);
        which = !on ? TT_SPLIT_NONE : strcmp(on, "train") == 0 ? TT_SPLIT_TRAIN
              : strcmp(on, "val") == 0 ? TT_SPLIT_VAL : TT_SPLIT_TEST;
    }
    if (flows_out || blocks_out) {   /* one pass of the net serves both tables */
        float *block_probs = g_new(float, (size_t)ds->samples->len * m->n_classes + 1);
        tt_block_probs(m, ds, split, which, block_probs);
        gboolean ok = (!flows_out || write_prob_table(m, ds, split, which, FALSE, block_probs, flows_out, &e)) &&
                      (!blocks_out || write_prob_table(m, ds, split, which, TRUE, block_probs, blocks_out, &e));
        g_free(block_probs);
        if (!ok)
            return fail(e);
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
        return fail(e);
    g_string_free(js, TRUE);
    g_free(split);
    tt_dataset_free(ds);
    tt_model_free(m);
    return 0;
}

/* ---- classify ------------------------------------------------------------------------------ */

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
            category = row->confidence >= cx->threshold ? cx->m->classes[row->top] : "unknown";
            conf = row->confidence;
            conv_category = pooled.confidence >= cx->threshold ? cx->m->classes[pooled.top] : "unknown";
            conv_conf = pooled.confidence;
        }
        printf("%" G_GUINT64_FORMAT "\t%u\t%s\t%.6f\t%.6f\t%u\t%" G_GUINT64_FORMAT "\t%s%s\t%s\t%.4f\t%s\t%.4f",
               row->flow_id, row->block, key, row->first_ts, row->last_ts, row->n_packets, row->n_bytes,
               row->classified ? "classified" : tt_block_status_name(row->status),
               row->truncated ? " (truncated)" : "", category, conf, conv_category, conv_conf);
        for (uint32_t c = 0; probs && c < k; c++)
            printf("\t%.6f", p[c]);
        printf("\n");
    }
    g_array_free(order, TRUE);
}

static int cmd_classify(int argc, char **argv)
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
    if (!parse_opts(entries, "MODEL CAPTURE", "Classify every flow block of a capture, as the plugin does (one line per block,\n"
                    "printed at the end of the capture): its own class and confidence, and the conversation's\n"
                    "(pooled with the reverse direction's block of the same index: triage.conversation.*).",
                    &argc, &argv, &e))
        return fail(e);
    if (argc != 3) {
        fprintf(stderr, "usage: traffictriage classify [OPTIONS] MODEL CAPTURE\n");
        return 2;
    }
    tt_model *m = tt_model_load_file(argv[1], &e);
    if (!m)
        return fail(e);
    tt_capture *cap = tt_capture_open(argv[2], &e);
    if (!cap)
        return fail(e);
    tt_blas_single_thread();
    classify_ctx cx = { m, tt_classifier_new(m), (float)(threshold >= 0.0 ? threshold : tt_model_threshold(m)),
                        g_array_new(FALSE, FALSE, sizeof(classify_row)), g_array_new(FALSE, FALSE, sizeof(float)),
                        g_array_new(FALSE, TRUE, sizeof(uint64_t)) };
    tt_engine *eng = tt_engine_new(&m->spec, (uint32_t)MAX(0, max_flows), packets ? NULL : classify_block, &cx);
    if (packets)
        printf("#frame\tflow\tblock\tip_len\n");
    tt_packet p;
    uint64_t frame;
    int rc;
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
    g_array_free(cx.rows, TRUE);
    g_array_free(cx.probs, TRUE);
    g_array_free(cx.reverse, TRUE);
    tt_classifier_free(cx.cl);
    tt_capture_close(cap);
    tt_model_free(m);
    if (rc < 0)
        return fail(e);
    return 0;
}

/* ---- render ------------------------------------------------------------------------------- */

static int cmd_render(int argc, char **argv)
{
    GError *e = NULL;
    char *outdir = NULL;
    gint64 flow = -1;
    int block = -1, per_class = 0, scale = 0, limit = 200;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &outdir, "Folder for the PNG files (created)", "DIR" },
        { "flow", 0, 0, G_OPTION_ARG_INT64, &flow, "Only this flow number", "N" },
        { "block", 0, 0, G_OPTION_ARG_INT, &block, "Only this block index", "N" },
        { "per-class", 0, 0, G_OPTION_ARG_INT, &per_class, "At most N blocks per class (a gallery)", "N" },
        { "scale", 0, 0, G_OPTION_ARG_INT, &scale, "Pixels per bin (default: 1 for large pictures, up to 8 for small)", "N" },
        { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N pictures in all (default 200)", "N" },
        { NULL }
    };
    if (!parse_opts(entries, "MODEL DATA...", "Render FlowPics of blocks as PNG files, with the model's input spec.\n"
                    "DATA: captures (FILE.pcap), manifests or packet-series files.", &argc, &argv, &e))
        return fail(e);
    if (argc < 3 || !outdir) {
        fprintf(stderr, "usage: traffictriage render -o DIR [OPTIONS] MODEL DATA...\n");
        return 2;
    }
    tt_model *m = tt_model_load_file(argv[1], &e);
    if (!m)
        return fail(e);
    if (g_mkdir_with_parents(outdir, 0755) != 0) {
        fprintf(stderr, "traffictriage: cannot create %s: %s\n", outdir, g_strerror(errno));
        return 1;
    }
    tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
    if (!load_data(ds, argc - 1, argv + 1, &e))
        return fail(e);
    if (scale <= 0)
        scale = (int)tt_png_default_scale(&m->spec);
    /* Files named as the GUI's export names them (flow, block, answer), prefixed by the
     * group where the data holds several captures or sessions; index.tsv lists them. */
    gboolean prefix = ds->groups->len > 1;
    double threshold = tt_model_threshold(m);
    GString *index = g_string_new("#flow\tblock\t5-tuple\tpackets\tbytes\tcategory\ttop_class\tconfidence\tlabel\tgroup\tfile\n");
    tt_classifier *cl = tt_classifier_new(m);
    uint32_t *done = g_new0(uint32_t, ds->classes->len + 1);
    tt_pixel *px = NULL;
    size_t cap = 0;
    int written = 0;
    for (guint i = 0; i < ds->samples->len && written < limit; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if ((flow >= 0 && s->flow_id != (uint64_t)flow) || (block >= 0 && s->block_index != (uint32_t)block))
            continue;
        if (per_class && done[s->label] >= (uint32_t)per_class)
            continue;
        if (s->n > cap) {
            cap = s->n;
            px = g_renew(tt_pixel, px, cap);
        }
        const tt_pkt *pk = &g_array_index(ds->pkts, tt_pkt, s->off);
        size_t np = tt_flowpic_build(&m->spec, pk, s->n, px);
        tt_result r;
        gboolean have = tt_classify_packets(cl, pk, s->n, &r) && r.top < m->n_classes;
        const char *top = have ? m->classes[r.top] : "-";
        const char *category = !have ? "too-few-packets" : r.confidence < threshold ? "unknown" : top;
        const char *label = g_ptr_array_index(ds->classes, s->label);
        const char *group = g_ptr_array_index(ds->groups, s->group);
        char *src = g_strdup(group);
        g_strcanon(src, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.", '_');
        char *base = g_strdup_printf("%s%sflow%" G_GUINT64_FORMAT "-block%u-%s.png", prefix ? src : "",
                                     prefix ? "-" : "", s->flow_id, s->block_index, category);
        g_free(src);
        char *name = g_build_filename(outdir, base, NULL);
        if (!tt_png_write_flowpic(name, &m->spec, px, np, (uint32_t)scale, &e))
            return fail(e);
        uint64_t bytes = 0;
        for (uint32_t j = 0; j < s->n; j++)
            bytes += pk[j].size;
        char tuple[128];
        tt_key_format(&g_array_index(ds->flows, tt_flow_rec, s->flow).key, tuple, sizeof tuple);
        g_string_append_printf(index, "%" G_GUINT64_FORMAT "\t%u\t%s\t%u\t%" G_GUINT64_FORMAT "\t%s\t%s\t%.3f\t%s\t%s\t%s\n",
                               s->flow_id, s->block_index, tuple, s->n, bytes, category, top,
                               have ? r.confidence : 0.0, label, group, base);
        printf("%s\t%s\t%u packets\tpredicted %s (%.2f)\n", name, label, s->n, have ? top : "none",
               have ? r.confidence : 0.0);
        g_free(base);
        g_free(name);
        done[s->label]++;
        written++;
    }
    if (written > 0) {
        char *index_path = g_build_filename(outdir, "index.tsv", NULL);
        gboolean ok = g_file_set_contents(index_path, index->str, (gssize)index->len, &e);
        g_free(index_path);
        if (!ok)
            return fail(e);
    }
    g_string_free(index, TRUE);
    g_free(px);
    g_free(done);
    tt_classifier_free(cl);
    tt_dataset_free(ds);
    tt_model_free(m);
    if (written == 0) {
        fprintf(stderr, "traffictriage render: no block matched\n");
        return 1;
    }
    return 0;
}

/* ---- series: the training corpus ------------------------------------------------------- */

/* Compare a corpus's counts with a counts file (or print them): 0 when equal. */
static int series_check(const char *corpus, const char *counts, const char *by)
{
    GError *e = NULL;
    char *got = tt_corpus_counts(corpus, by, &e), *want = NULL;
    if (!got || (counts && !g_file_get_contents(counts, &want, NULL, &e))) {
        g_free(got);
        return fail(e);
    }
    int rc = 0;
    if (!counts) {
        fputs(got, stdout);
    } else {
        char **g = g_strsplit(got, "\n", -1), **w = g_strsplit(want, "\n", -1);
        for (guint i = 0; !rc && (g[i] || w[i]); i++)
            if (!g[i] || !w[i] || strcmp(g[i], w[i]) != 0) {
                fprintf(stderr, "traffictriage series: %s does not match %s at line %u:\n  counted: %s\n  recorded: %s\n",
                        corpus, counts, i + 1, g[i] ? g[i] : "(end)", w[i] ? w[i] : "(end)");
                rc = 1;
            }
        if (!rc)
            printf("%s: checksum and counts match %s\n", corpus, counts);
        g_strfreev(g);
        g_strfreev(w);
    }
    g_free(want);
    g_free(got);
    return rc;
}

static int series_write(const char *out, const char *counts, const char *by, const tt_corpus_write_opts *o)
{
    GError *e = NULL;
    uint64_t added;
    if (!tt_corpus_write(out, o, &added, &e))
        return fail(e);
    printf("%s: %" G_GUINT64_FORMAT " flows added\n", out, added);
    if (!counts)
        return 0;
    char *text = tt_corpus_counts(out, by, &e);
    gboolean ok = text && g_file_set_contents(counts, text, -1, &e);
    g_free(text);
    return ok ? 0 : fail(e);
}

static int cmd_series(int argc, char **argv)
{
    GError *e = NULL;
    char *out = NULL, *check = NULL, *counts = NULL, *counts_by = NULL, *slice = NULL;
    char **meta = NULL, **section_meta = NULL, **add_attrs = NULL;
    gboolean append = FALSE;
    int tick_ns = 0, max_block_packets = 0, preset = 6, slice_sessions = 15;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Corpus to write (.xz: compressed, one stream per section; else plain text)", "FILE" },
        { "append", 0, 0, G_OPTION_ARG_NONE, &append, "Add a section to an existing .xz corpus; its sessions (groups) are skipped", NULL },
        { "meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &meta, "File-level key=value for the header (repeatable; must be the same to append)", "KEY=VALUE" },
        { "section-meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &section_meta, "key=value recorded for this section (repeatable)", "KEY=VALUE" },
        { "add-attr", 0, 0, G_OPTION_ARG_STRING_ARRAY, &add_attrs, "key=value added to every flow's attrs (repeatable), e.g. source=lab", "KEY=VALUE" },
        { "tick-ns", 0, 0, G_OPTION_ARG_INT, &tick_ns, "Time unit in nanoseconds (default: 2^-22 s, exact for epoch times)", "N" },
        { "max-block-packets", 0, 0, G_OPTION_ARG_INT, &max_block_packets, "Keep the first N and the last packet of every 15 s and 60 s block (default 0: all)", "N" },
        { "xz-preset", 0, 0, G_OPTION_ARG_INT, &preset, "xz preset 0-9 (default 6: as small as 9 here, 8 MiB to read instead of 64)", "N" },
        { "check", 0, 0, G_OPTION_ARG_FILENAME, &check, "Read a corpus whole and print its counts (or compare them with --counts)", "FILE" },
        { "counts", 0, 0, G_OPTION_ARG_FILENAME, &counts, "Counts file: written with -o, compared with --check", "FILE" },
        { "counts-by", 0, 0, G_OPTION_ARG_STRING, &counts_by, "Attribute that splits the counts of each label (default tunnel)", "KEY" },
        { "slice", 0, 0, G_OPTION_ARG_FILENAME, &slice, "Write the flows of a corpus's first sessions to -o as plain text", "CORPUS" },
        { "slice-sessions", 0, 0, G_OPTION_ARG_INT, &slice_sessions, "Sessions in a --slice (default 15)", "N" },
        { NULL }
    };
    if (!parse_opts(entries, "[MANIFEST...]", "Write labelled one-way flows of manifests' captures as a packet-series corpus\n"
                    "(#ttseries v2, models/TRAINING-DATA.md), or check one.", &argc, &argv, &e))
        return fail(e);
    const char *by = counts_by ? counts_by : "tunnel";
    int rc;
    if (check) {
        rc = series_check(check, counts, by);
    } else if (slice && out) {
        rc = tt_corpus_slice(slice, out, (uint32_t)MAX(1, slice_sessions), &e) ? 0 : fail(e);
    } else if (!out || argc < 2) {
        fprintf(stderr, "usage: traffictriage series -o CORPUS [OPTIONS] MANIFEST...\n"
                        "       traffictriage series --check CORPUS [--counts FILE]\n"
                        "       traffictriage series --slice CORPUS [--slice-sessions N] -o FILE\n");
        rc = 2;
    } else if (tick_ns < 0 || max_block_packets < 0 || preset < 0 || preset > 9) {
        fprintf(stderr, "traffictriage series: --tick-ns >= 1, --max-block-packets >= 0, --xz-preset 0..9\n");
        rc = 2;
    } else {
        char *joined = add_attrs ? g_strjoinv(";", add_attrs) : NULL;
        tt_corpus_write_opts o = {
            .manifests = (const char *const *)argv + 1,
            .meta = (const char *const *)meta,
            .section_meta = (const char *const *)section_meta,
            .append = append,
            .xz_preset = preset,
            .extract = { .tick = tick_ns ? (tt_tick){ (uint32_t)tick_ns, 0 } : TT_TICK_DEFAULT,
                         .max_block_packets = (uint32_t)max_block_packets, .add_attrs = joined },
        };
        rc = series_write(out, counts, by, &o);
        g_free(joined);
    }
    g_free(out);
    g_free(check);
    g_free(counts);
    g_free(counts_by);
    g_free(slice);
    g_strfreev(meta);
    g_strfreev(section_meta);
    g_strfreev(add_attrs);
    return rc;
}

/* ---- main ----------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    { "train", cmd_train, "train a model on labelled captures, packet series or FlowPic CSV" },
    { "eval", cmd_eval, "evaluate a model (accuracy, precision/recall/F1, confusion matrix; text and JSON)" },
    { "info", cmd_info, "print a model's task, classes, input spec, layers and checksum" },
    { "classify", cmd_classify, "classify the flows of a capture outside Wireshark (same engine as the plugin)" },
    { "render", cmd_render, "write FlowPics of blocks as PNG files" },
    { "init-model", cmd_init_model, "write an untrained model (random weights) for tests" },
    { "series", cmd_series, "write labelled captures as a packet-series corpus (.ttseries.xz), append to or check one" },
    { "label", tt_cli_label, "label the flows of captures with nDPI as the teacher: a manifest for train" },
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: traffictriage COMMAND [OPTIONS] ...\n\ncommands:\n");
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
            printf("  %-11s %s\n", commands[i].name, commands[i].help);
        printf("\n`traffictriage COMMAND --help` describes a command.\n");
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            char *prg = g_strdup_printf("traffictriage %s", argv[1]);
            g_set_prgname(prg);
            g_free(prg);
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "traffictriage: unknown command \"%s\" (try `traffictriage help`)\n", argv[1]);
    return 2;
}
