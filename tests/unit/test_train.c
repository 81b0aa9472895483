/* The trainer: a separable synthetic task is learnt (> 99% on held-out
 * groups), the same seed gives the same model bytes, splits never share a
 * group, and augmentation stays inside the block. */
#include <glib/gstdio.h>
#include <string.h>

#include "tt_dataset.h"
#include "tt_train.h"
#include "tt_test.h"

/* Two classes that differ in packet size: "small" (60..200 B), "large" (1200..1500 B). */
static char *write_series(int groups_per_class)
{
    char *path = tt_test_scratch("tt-test-train.tts");
    GString *s = g_string_new("#ttseries v1\n");
    uint64_t st = 99;
    for (int c = 0; c < 2; c++)
        for (int g = 0; g < groups_per_class; g++) {
            g_string_append_printf(s, "%s-%d\t%s\tf%d\tapp=%s\t", c ? "large" : "small", g, c ? "large" : "small", g, c ? "x" : "y");
            int n = 30 + g % 20;
            GString *sizes = g_string_new(NULL);
            double t = 1000.0;
            for (int i = 0; i < n; i++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                t += (double)((st >> 40) % 1000) / 2000.0;        /* up to 0.5 s apart */
                int size = c ? 1200 + (int)((st >> 20) % 301) : 60 + (int)((st >> 20) % 141);
                g_string_append_printf(s, "%s%.6f", i ? " " : "", t);
                g_string_append_printf(sizes, "%s%d", i ? " " : "", size);
            }
            g_string_append_printf(s, "\t%s\n", sizes->str);
            g_string_free(sizes, TRUE);
        }
    g_assert_true(g_file_set_contents(path, s->str, -1, NULL));
    g_string_free(s, TRUE);
    return path;
}

static tt_model *train_once(tt_dataset *ds, uint8_t *split, uint64_t seed, tt_eval *ev)
{
    const char *cls[] = { g_ptr_array_index(ds->classes, 0), g_ptr_array_index(ds->classes, 1) };
    tt_model *m = tt_test_model(TT_TEST_NET_LENET, &ds->spec, "synthetic", cls, 2, seed, NULL);
    g_assert_nonnull(m);
    tt_train_opts o;
    tt_train_opts_default(&o);
    o.seed = seed;
    o.max_epochs = 8;
    o.batch = 8;
    o.aug_rtt = 0.2f;
    o.aug_loss = 0.1f;
    GError *e = NULL;
    g_assert_true(tt_train(m, ds, split, &o, &e));
    g_assert_no_error(e);
    tt_evaluate(m, ds, split, TT_SPLIT_TEST, NULL, NULL, ev);
    return m;
}

/* The series file at path as a dataset of 16 x 16 pictures. */
static tt_dataset *load_series(const char *path)
{
    tt_spec spec;
    tt_spec_init_mini(&spec, 16);
    return tt_test_dataset(&spec, path);
}

TT_TEST("/train/separable-and-reproducible", test_separable)
{
    char *path = write_series(40);
    tt_dataset *ds = load_series(path);
    g_assert_cmpuint(ds->classes->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(ds->classes, 0), ==, "large");
    g_assert_cmpuint(ds->groups->len, ==, 80);
    g_assert_cmpuint(ds->samples->len, >=, 80);

    uint8_t *split = g_new0(uint8_t, ds->groups->len);
    tt_split_groups(ds, 0.2, 0.25, 5, split);
    uint32_t count[4] = { 0 };
    for (guint g = 0; g < ds->groups->len; g++)
        count[split[g]]++;
    g_assert_cmpuint(count[TT_SPLIT_TEST], ==, 20);    /* 10 of each class's 40 */
    g_assert_cmpuint(count[TT_SPLIT_VAL], ==, 16);
    g_assert_cmpuint(count[TT_SPLIT_TRAIN], ==, 44);

    tt_eval ev;
    tt_model *m = train_once(ds, split, 3, &ev);
    g_assert_cmpuint(ev.n, >=, 20);
    g_test_message("held-out accuracy %.4f over %" G_GUINT64_FORMAT " blocks", tt_eval_accuracy(&ev), ev.n);
    g_assert_cmpfloat(tt_eval_accuracy(&ev), >, 0.99);
    g_assert_nonnull(strstr(m->meta, "train.best_epoch="));

    /* the same seed gives the same bytes; another seed does not */
    tt_eval ev2;
    tt_model *m2 = train_once(ds, split, 3, &ev2);
    tt_model *m3 = train_once(ds, split, 4, &ev2);
    GBytes *a = tt_model_to_bytes(m, NULL), *b = tt_model_to_bytes(m2, NULL), *c = tt_model_to_bytes(m3, NULL);
    g_assert_true(g_bytes_equal(a, b));
    g_assert_false(g_bytes_equal(a, c));
    g_bytes_unref(a);
    g_bytes_unref(b);
    g_bytes_unref(c);
    tt_model_free(m);
    tt_model_free(m2);
    tt_model_free(m3);
    g_free(split);
    tt_dataset_free(ds);
    g_remove(path);
    g_free(path);
}

/* --balance-attr: within a class every cell (attribute value) weighs the same
 * and the class keeps its total weight. Class a: 30 flows app=x, 10 app=y;
 * class b: 20 flows app=z. */
TT_TEST("/train/cell-weights", test_cell_weights)
{
    char *path = tt_test_scratch("tt-test-cells.tts");
    GString *s = g_string_new("#ttseries v1\n");
    const struct { const char *label, *app; int n; } cells[] = { { "a", "x", 30 }, { "a", "y", 10 }, { "b", "z", 20 } };
    int flow = 0;
    for (guint c = 0; c < G_N_ELEMENTS(cells); c++)
        for (int i = 0; i < cells[c].n; i++, flow++) {
            g_string_append_printf(s, "g%d\t%s\tf%d\tapp=%s\t", flow, cells[c].label, flow, cells[c].app);
            for (int p = 0; p < 12; p++)
                g_string_append_printf(s, "%s%.1f", p ? " " : "", 0.1 * p);
            g_string_append_c(s, '\t');
            for (int p = 0; p < 12; p++)
                g_string_append_printf(s, "%s%d", p ? " " : "", 100 + 10 * p + c);
            g_string_append_c(s, '\n');
        }
    g_assert_true(g_file_set_contents(path, s->str, -1, NULL));
    g_string_free(s, TRUE);
    tt_spec spec;
    tt_spec_init_mini(&spec, 16);
    tt_dataset *ds = tt_dataset_new(&spec, NULL, 0);
    g_assert_true(tt_dataset_add_file(ds, path, NULL, NULL));
    tt_dataset_finish(ds);
    g_assert_cmpuint(ds->samples->len, ==, 60);
    GArray *idx = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < ds->samples->len; i++)
        g_array_append_val(idx, i);
    int map[2] = { 0, 1 };                       /* dataset classes a, b -> model classes */
    float *w = g_new(float, ds->samples->len);
    const char *by_app[] = { "app", NULL };
    g_assert_cmpuint(tt_train_cell_weights(ds, idx, map, by_app, w), ==, 3);
    double sum[3] = { 0 };
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *sm = &g_array_index(ds->samples, tt_sample, i);
        char *app = tt_attr_get(g_ptr_array_index(ds->attrs, sm->attrs), "app");
        int cell = app[0] - 'x';
        g_assert_cmpfloat_with_epsilon(w[i], cell == 0 ? 40.0 / 60.0 : cell == 1 ? 2.0 : 1.0, 1e-6);
        sum[cell] += w[i];
        g_free(app);
    }
    g_assert_cmpfloat_with_epsilon(sum[0], 20.0, 1e-4);    /* the two cells of a: equal halves */
    g_assert_cmpfloat_with_epsilon(sum[1], 20.0, 1e-4);
    g_assert_cmpfloat_with_epsilon(sum[2], 20.0, 1e-4);    /* b alone: unchanged */
    const char *absent[] = { "nokey", NULL };                /* one cell per class: all 1 */
    g_assert_cmpuint(tt_train_cell_weights(ds, idx, map, absent, w), ==, 2);
    for (guint i = 0; i < ds->samples->len; i++)
        g_assert_cmpfloat_with_epsilon(w[i], 1.0, 1e-6);
    g_free(w);
    g_array_free(idx, TRUE);
    tt_dataset_free(ds);
    g_remove(path);
    g_free(path);
}

TT_TEST("/train/augment", test_augment)
{
    tt_spec spec;
    tt_spec_init_mini(&spec, 32);
    spec.min_packets = 2;
    tt_pkt in[100], out[100];
    for (int i = 0; i < 100; i++) {
        in[i].t = (float)i * 0.149f;
        in[i].size = 100 + i;
    }
    tt_train_opts o;
    tt_train_opts_default(&o);
    o.aug_rtt = 0.5f;
    o.aug_shift = 1.0f;
    o.aug_loss = 0.3f;
    uint64_t rng = 1, rng2 = 1;
    gboolean changed = FALSE;
    for (int trial = 0; trial < 50; trial++) {
        size_t n = tt_augment(&spec, in, 100, out, &o, &rng);
        tt_pkt out2[100];
        size_t n2 = tt_augment(&spec, in, 100, out2, &o, &rng2);
        g_assert_cmpuint(n, ==, n2);                       /* deterministic per rng state */
        g_assert_cmpmem(out, n * sizeof *out, out2, n2 * sizeof *out2);
        g_assert_cmpuint(n, <=, 100);
        for (size_t i = 0; i < n; i++) {
            g_assert_cmpfloat(out[i].t, >=, 0.0f);
            g_assert_cmpfloat(out[i].t, <, (float)spec.block_seconds);
        }
        changed |= n != 100;
    }
    g_assert_true(changed);
}

/* Truncation keeps one contiguous run of the block's packets, no longer than the
 * block, moved to start near 0, and sometimes much shorter than the block. */
TT_TEST("/train/augment-truncate", test_augment_truncate)
{
    tt_spec spec;
    tt_spec_init_mini(&spec, 32);
    spec.min_packets = 2;
    tt_pkt in[150], out[150];
    for (int i = 0; i < 150; i++) {
        in[i].t = (float)i * 0.1f;               /* 0 .. 14.9 s */
        in[i].size = 100 + i;
    }
    tt_train_opts o;
    tt_train_opts_default(&o);
    o.aug_truncate = 1.0f;
    uint64_t rng = 7;
    gboolean short_seen = FALSE;
    for (int trial = 0; trial < 100; trial++) {
        size_t n = tt_augment(&spec, in, 150, out, &o, &rng);
        g_assert_cmpuint(n, >=, 2);
        g_assert_cmpuint(n, <=, 150);
        uint32_t first = out[0].size - 100;
        for (size_t i = 0; i < n; i++) {
            g_assert_cmpuint(out[i].size, ==, 100 + first + i);          /* contiguous, in order */
            g_assert_cmpfloat_with_epsilon(out[i].t, in[first + i].t - in[first].t + (out[0].t), 1e-4);
        }
        g_assert_cmpfloat(out[0].t, >=, 0.0f);
        g_assert_cmpfloat(out[0].t, <, 0.11f);                             /* starts at the window */
        g_assert_cmpfloat(out[n - 1].t - out[0].t, <=, (float)spec.block_seconds);
        short_seen |= out[n - 1].t - out[0].t < 5.0f;
    }
    g_assert_true(short_seen);
}

/* The split file: what train --split-out writes, train --split and eval --split read back. */
TT_TEST("/train/split-file", test_split_file)
{
    char *series = write_series(6);
    tt_dataset *ds = load_series(series);
    GError *e = NULL;
    guint n = ds->groups->len;
    g_assert_cmpuint(n, ==, 12);
    uint8_t *split = g_new0(uint8_t, n), *back = g_new0(uint8_t, n);
    tt_split_groups(ds, 0.2, 0.2, 3, split);
    split[0] = TT_SPLIT_NONE;
    char *path = tt_test_scratch("tt-test-train.split");
    g_assert_true(tt_split_write(ds, split, path, &e));
    g_assert_no_error(e);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_true(g_str_has_prefix(text, "#ttsplit v1\n"));
    char *line0 = g_strdup_printf("\n%s\tnone\n", (char *)g_ptr_array_index(ds->groups, 0));
    g_assert_nonnull(strstr(text, line0));
    g_free(line0);
    g_free(text);
    g_assert_true(tt_split_read(ds, path, back, &e));
    g_assert_no_error(e);
    g_assert_cmpmem(split, n, back, n);

    /* "*" covers the groups not listed; an unknown side and an unlisted group read as none */
    char *two = g_strdup_printf("#ttsplit v1\n%s\ttest\n%s\tsideways\nno tab here\n\n*\tval\n",
                                (char *)g_ptr_array_index(ds->groups, 1), (char *)g_ptr_array_index(ds->groups, 2));
    g_assert_true(g_file_set_contents(path, two, -1, NULL));
    g_assert_true(tt_split_read(ds, path, back, &e));
    g_assert_cmpuint(back[1], ==, TT_SPLIT_TEST);
    g_assert_cmpuint(back[2], ==, TT_SPLIT_NONE);
    for (guint g = 3; g < n; g++)
        g_assert_cmpuint(back[g], ==, TT_SPLIT_VAL);
    g_assert_true(g_file_set_contents(path, "#ttsplit v1\n", -1, NULL));
    g_assert_true(tt_split_read(ds, path, back, &e));
    for (guint g = 0; g < n; g++)
        g_assert_cmpuint(back[g], ==, TT_SPLIT_NONE);
    g_remove(path);
    g_assert_false(tt_split_read(ds, path, back, &e));            /* gone: an error, no crash */
    g_assert_nonnull(e);
    g_clear_error(&e);

    for (uint8_t v = TT_SPLIT_TRAIN; v <= TT_SPLIT_NONE; v++)
        g_assert_cmpuint(tt_split_from_name(tt_split_name(v)), ==, v);
    g_assert_cmpuint(tt_split_from_name("Train"), ==, TT_SPLIT_NONE);
    g_assert_cmpstr(tt_split_name(200), ==, "none");
    g_free(two);
    g_free(path);
    g_free(split);
    g_free(back);
    tt_dataset_free(ds);
    g_remove(series);
    g_free(series);
}
