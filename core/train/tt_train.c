/* TrafficTriage core: training, evaluation, calibration (tt_train.h). */
#include "tt_train.h"
#include "tt_classify.h"
#include "tt_flowpic.h"

#include <math.h>
#include <string.h>

/* ---- splits ------------------------------------------------------------------ */

/* Split units (groups, or what unit_of maps them to) per majority label. */
static void split_units(const tt_dataset *ds, const uint32_t *unit_of, uint32_t nu,
                        double val_frac, double test_frac, uint64_t seed, uint8_t *out)
{
    uint32_t ng = ds->groups->len, k = ds->classes->len ? ds->classes->len : 1;
    uint32_t *count = g_new0(uint32_t, (size_t)(nu ? nu : 1) * k);
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        count[(size_t)unit_of[s->group] * k + s->label]++;
    }
    int *major = g_new(int, nu ? nu : 1);
    uint8_t *usplit = g_new(uint8_t, nu ? nu : 1);
    for (uint32_t u = 0; u < nu; u++) {
        major[u] = -1;
        uint32_t best = 0;
        for (uint32_t c = 0; c < k; c++)
            if (count[(size_t)u * k + c] > best) {
                best = count[(size_t)u * k + c];
                major[u] = (int)c;
            }
        usplit[u] = TT_SPLIT_NONE;      /* units without samples */
    }
    /* Per class: its units in input order, shuffled by the seed. */
    uint32_t *list = g_new(uint32_t, nu ? nu : 1);
    for (uint32_t c = 0; c < k; c++) {
        uint32_t n = 0;
        for (uint32_t u = 0; u < nu; u++)
            if (major[u] == (int)c)
                list[n++] = u;
        uint64_t rng = seed ^ (0x9e3779b97f4a7c15ull * (c + 1));
        for (uint32_t i = n; i > 1; i--) {
            uint32_t j = (uint32_t)(tt_rng_next(&rng) % i);
            uint32_t t = list[i - 1]; list[i - 1] = list[j]; list[j] = t;
        }
        uint32_t n_test = (uint32_t)floor(n * test_frac + 0.5);
        uint32_t n_val = (uint32_t)floor(n * val_frac + 0.5);
        /* With few units keep at least one for training. */
        while (n_test + n_val >= n && (n_test > 0 || n_val > 0)) {
            if (n_test >= n_val && n_test > 0) n_test--; else n_val--;
        }
        for (uint32_t i = 0; i < n; i++)
            usplit[list[i]] = i < n_test ? TT_SPLIT_TEST : i < n_test + n_val ? TT_SPLIT_VAL : TT_SPLIT_TRAIN;
    }
    for (uint32_t g = 0; g < ng; g++)
        out[g] = usplit[unit_of[g]];
    g_free(list);
    g_free(usplit);
    g_free(major);
    g_free(count);
}

void tt_split_groups(const tt_dataset *ds, double val_frac, double test_frac,
                     uint64_t seed, uint8_t *out)
{
    uint32_t ng = ds->groups->len;
    uint32_t *unit_of = g_new(uint32_t, ng ? ng : 1);
    for (uint32_t g = 0; g < ng; g++)
        unit_of[g] = g;
    split_units(ds, unit_of, ng, val_frac, test_frac, seed, out);
    g_free(unit_of);
}

gboolean tt_split_groups_by_unit(const tt_dataset *ds, const char *unit_regex,
                                 double val_frac, double test_frac, uint64_t seed,
                                 uint8_t *out, GError **error)
{
    GRegex *re = g_regex_new(unit_regex, 0, 0, error);
    if (!re)
        return FALSE;
    uint32_t ng = ds->groups->len;
    uint32_t *unit_of = g_new(uint32_t, ng ? ng : 1);
    GHashTable *units = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (uint32_t g = 0; g < ng; g++) {
        const char *name = g_ptr_array_index(ds->groups, g);
        GMatchInfo *mi = NULL;
        char *unit = NULL;
        if (g_regex_match(re, name, 0, &mi))
            unit = g_match_info_fetch(mi, g_regex_get_capture_count(re) > 0 ? 1 : 0);
        g_match_info_free(mi);
        if (!unit)
            unit = g_strdup(name);
        gpointer v;
        if (g_hash_table_lookup_extended(units, unit, NULL, &v)) {
            unit_of[g] = GPOINTER_TO_UINT(v);
            g_free(unit);
        } else {
            unit_of[g] = g_hash_table_size(units);
            g_hash_table_insert(units, unit, GUINT_TO_POINTER(unit_of[g]));
        }
    }
    split_units(ds, unit_of, g_hash_table_size(units), val_frac, test_frac, seed, out);
    g_hash_table_destroy(units);
    g_free(unit_of);
    g_regex_unref(re);
    return TRUE;
}

gboolean tt_split_by_regex(const tt_dataset *ds, const char *regex, uint8_t split_if_match,
                           uint8_t *out, GError **error)
{
    GRegex *re = g_regex_new(regex, 0, 0, error);
    if (!re)
        return FALSE;
    for (guint g = 0; g < ds->groups->len; g++)
        if (g_regex_match(re, g_ptr_array_index(ds->groups, g), 0, NULL))
            out[g] = split_if_match;
    g_regex_unref(re);
    return TRUE;
}

static const char *const SPLIT_NAMES[] = { [TT_SPLIT_TRAIN] = "train", [TT_SPLIT_VAL] = "val",
                                            [TT_SPLIT_TEST] = "test", [TT_SPLIT_NONE] = "none" };

const char *tt_split_name(uint8_t side)
{
    return SPLIT_NAMES[side < G_N_ELEMENTS(SPLIT_NAMES) ? side : TT_SPLIT_NONE];
}

uint8_t tt_split_from_name(const char *name)
{
    for (uint8_t i = 0; i < TT_SPLIT_NONE; i++)
        if (strcmp(name, SPLIT_NAMES[i]) == 0)
            return i;
    return TT_SPLIT_NONE;
}

/* ---- the split file ------------------------------------------------------------- */

gboolean tt_split_write(const tt_dataset *ds, const uint8_t *split, const char *path, GError **error)
{
    GString *s = g_string_new("#ttsplit v1\n");
    for (guint g = 0; g < ds->groups->len; g++)
        g_string_append_printf(s, "%s\t%s\n", (char *)g_ptr_array_index(ds->groups, g), tt_split_name(split[g]));
    gboolean ok = g_file_set_contents(path, s->str, (gssize)s->len, error);
    g_string_free(s, TRUE);
    return ok;
}

gboolean tt_split_read(const tt_dataset *ds, const char *path, uint8_t *out, GError **error)
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
        g_hash_table_insert(h, g_strdup(*l), GINT_TO_POINTER(tt_split_from_name(tab + 1) + 1));
    }
    g_strfreev(lines);
    gpointer dflt = g_hash_table_lookup(h, "*");
    for (guint g = 0; g < ds->groups->len; g++) {
        gpointer v = g_hash_table_lookup(h, g_ptr_array_index(ds->groups, g));
        if (!v)
            v = dflt;
        out[g] = v ? (uint8_t)(GPOINTER_TO_INT(v) - 1) : TT_SPLIT_NONE;
    }
    g_hash_table_destroy(h);
    return TRUE;
}

/* ---- augmentation --------------------------------------------------------------- */

void tt_train_opts_default(tt_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->max_epochs = 30;
    o->patience = 5;
    o->batch = 32;
    o->lr = 1e-3f;
    o->weight_decay = 0.0f;
    o->balance = TRUE;
    o->aug_rtt = 0.0f;
    o->aug_shift = 0.0f;
    o->aug_loss = 0.0f;
}

/* Cell of a sample: its class and the values of the balance attributes. */
static char *cell_key(const tt_dataset *ds, const tt_sample *s, int c, const char *const *attrs)
{
    GString *k = g_string_new(NULL);
    g_string_append_printf(k, "%d", c);
    const char *a = g_ptr_array_index(ds->attrs, s->attrs);
    for (const char *const *key = attrs; *key; key++) {
        char *v = tt_attr_get(a, *key);
        g_string_append_c(k, '\x1f');
        g_string_append(k, v);
        g_free(v);
    }
    return g_string_free(k, FALSE);
}

guint tt_train_cell_weights(const tt_dataset *ds, const GArray *idx, const int *class_map,
                            const char *const *attrs, float *out)
{
    GHashTable *cells = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    uint64_t n_class[TT_MAX_CLASSES] = { 0 }, cells_in_class[TT_MAX_CLASSES] = { 0 };
    char **keys = g_new0(char *, idx->len ? idx->len : 1);
    for (guint j = 0; j < idx->len; j++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, g_array_index(idx, guint, j));
        int c = class_map[s->label];
        if (c < 0)
            continue;
        keys[j] = cell_key(ds, s, c, attrs);
        gpointer n = g_hash_table_lookup(cells, keys[j]);
        if (!n)
            cells_in_class[c]++;
        g_hash_table_replace(cells, g_strdup(keys[j]), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
        n_class[c]++;
    }
    for (guint j = 0; j < idx->len; j++) {
        if (!keys[j])
            continue;
        guint i = g_array_index(idx, guint, j);
        int c = class_map[g_array_index(ds->samples, tt_sample, i).label];
        double n_cell = (double)GPOINTER_TO_SIZE(g_hash_table_lookup(cells, keys[j]));
        out[i] = (float)((double)n_class[c] / ((double)cells_in_class[c] * n_cell));
        g_free(keys[j]);
    }
    g_free(keys);
    guint n = g_hash_table_size(cells);
    g_hash_table_destroy(cells);
    return n;
}

size_t tt_augment(const tt_spec *spec, const tt_pkt *in, size_t n, tt_pkt *out,
                  const tt_train_opts *o, uint64_t *rng)
{
    double scale = 1.0, shift = 0.0, loss = 0.0;
    if (o->aug_rtt > 0.0f)
        scale = 1.0 + (2.0 * tt_rng_uniform(rng) - 1.0) * o->aug_rtt;
    if (o->aug_shift > 0.0f)
        shift = (2.0 * tt_rng_uniform(rng) - 1.0) * o->aug_shift;
    if (o->aug_loss > 0.0f)
        loss = tt_rng_uniform(rng) * o->aug_loss;
    /* Truncation: a window [w0, w0 + len) of the block, moved to the block's start. */
    double w0 = 0.0, w1 = INFINITY;
    if (o->aug_truncate > 0.0f && n > 0 && tt_rng_uniform(rng) < o->aug_truncate) {
        double first = in[0].t, last = in[n - 1].t;
        double len = 1.0 + tt_rng_uniform(rng) * (spec->block_seconds - 1.0);
        if (last - first > len) {
            w0 = first + tt_rng_uniform(rng) * (last - first - len);
            w1 = w0 + len;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i].t < w0 || in[i].t >= w1)
            continue;
        if (loss > 0.0 && tt_rng_uniform(rng) < loss)
            continue;
        double t = (in[i].t - w0) * scale + shift;
        if (t < 0.0 || t >= spec->block_seconds)
            continue;
        out[m].t = (float)t;
        out[m].size = in[i].size;
        m++;
    }
    if (m < spec->min_packets || m == 0) {        /* too damaged: keep the original */
        memcpy(out, in, n * sizeof *in);
        return n;
    }
    return m;
}

/* ---- training ------------------------------------------------------------------- */

typedef struct {
    const tt_model *m;
    const tt_dataset *ds;
    tt_ws *ws;
    tt_pixel *px;
    tt_pkt *buf;
    size_t cap, px_cap;      /* packets in buf, pixels in px */
    int *class_map;          /* dataset label -> model class, -1 = not in the model */
    tt_classifier *cls;      /* evaluation of a fused model (sample_probs) */
} runner;

static void runner_init(runner *r, const tt_model *m, const tt_dataset *ds)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->ds = ds;
    r->ws = tt_ws_new(m->net);
    r->class_map = g_new(int, ds->classes->len ? ds->classes->len : 1);
    for (guint i = 0; i < ds->classes->len; i++) {
        r->class_map[i] = -1;
        for (uint32_t c = 0; c < m->n_classes; c++)
            if (strcmp(g_ptr_array_index(ds->classes, i), m->classes[c]) == 0)
                r->class_map[i] = (int)c;
    }
}

static void runner_clear(runner *r)
{
    tt_classifier_free(r->cls);
    tt_ws_free(r->ws);
    g_free(r->px);
    g_free(r->buf);
    g_free(r->class_map);
}

static const tt_pkt *sample_pkts(const tt_dataset *ds, const tt_sample *s)
{
    return &g_array_index(ds->pkts, tt_pkt, s->off);
}

/* Pixels of a sample (optionally augmented) into r->px; returns the count. */
static size_t sample_pixels(runner *r, const tt_sample *s, const tt_train_opts *aug, uint64_t *rng)
{
    size_t n = s->n;
    if (n > r->cap) {
        r->cap = n;
        r->buf = g_renew(tt_pkt, r->buf, n);
    }
    const tt_pkt *p = sample_pkts(r->ds, s);
    if (aug && (aug->aug_rtt > 0 || aug->aug_shift > 0 || aug->aug_loss > 0 || aug->aug_truncate > 0)) {
        n = tt_augment(&r->m->spec, p, n, r->buf, aug, rng);
        p = r->buf;
    }
    size_t need = tt_flowpic_max_pixels(&r->m->spec, n);
    if (need > r->px_cap) {
        r->px_cap = need;
        r->px = g_renew(tt_pixel, r->px, need);
    }
    return tt_flowpic_build(&r->m->spec, p, n, r->px);
}

static double balanced_acc(const uint64_t *conf, uint32_t k)
{
    double sum = 0.0;
    uint32_t present = 0;
    for (uint32_t t = 0; t < k; t++) {
        uint64_t row = 0;
        for (uint32_t p = 0; p < k; p++)
            row += conf[t * k + p];
        if (row) {
            sum += (double)conf[t * k + t] / (double)row;
            present++;
        }
    }
    return present ? sum / present : 0.0;
}

/* Logits of every sample in a split (no augmentation). */
static float *split_logits(runner *r, const uint8_t *split, int which, GArray *idx)
{
    const tt_dataset *ds = r->ds;
    uint32_t k = r->m->n_classes;
    g_array_set_size(idx, 0);
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if ((which == TT_SPLIT_NONE || split[s->group] == which) && r->class_map[s->label] >= 0)
            g_array_append_val(idx, i);
    }
    float *logits = g_new0(float, (size_t)idx->len * k + 1);
    for (guint j = 0; j < idx->len; j++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, g_array_index(idx, guint, j));
        size_t np = sample_pixels(r, s, NULL, NULL);
        tt_net_forward_sparse(r->m->net, r->ws, r->px, np, logits + (size_t)j * k);
    }
    return logits;
}

static double nll_at(const float *logits, const GArray *idx, const tt_dataset *ds, const int *map,
                     uint32_t k, float temp)
{
    float probs[TT_MAX_CLASSES];
    double nll = 0.0;
    for (guint j = 0; j < idx->len; j++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, g_array_index(idx, guint, j));
        tt_softmax(logits + (size_t)j * k, k, temp, probs);
        double p = probs[map[s->label]];
        nll -= log(p > 1e-12 ? p : 1e-12);
    }
    return idx->len ? nll / idx->len : 0.0;
}

gboolean tt_train(tt_model *m, const tt_dataset *ds, const uint8_t *split,
                  const tt_train_opts *o, GError **error)
{
    if (m->companion) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                    "a fused model is not trained: train each net, then `traffictriage fuse` them");
        return FALSE;
    }
    tt_net *net = m->net;
    uint32_t k = m->n_classes;
    runner r;
    runner_init(&r, m, ds);

    GArray *train = g_array_new(FALSE, FALSE, sizeof(guint));
    uint64_t per_class[TT_MAX_CLASSES] = { 0 };
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if (split[s->group] == TT_SPLIT_TRAIN && r.class_map[s->label] >= 0) {
            g_array_append_val(train, i);
            per_class[r.class_map[s->label]]++;
        }
    }
    if (train->len == 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "no training block has a label among the model's classes");
        g_array_free(train, TRUE);
        runner_clear(&r);
        return FALSE;
    }
    float weight[TT_MAX_CLASSES];
    uint32_t present = 0;
    for (uint32_t c = 0; c < k; c++)
        present += per_class[c] > 0;
    /* Inverse-frequency weights over what an epoch actually draws (capped per class). */
    double drawn[TT_MAX_CLASSES], total_drawn = 0.0;
    for (uint32_t c = 0; c < k; c++) {
        drawn[c] = (double)per_class[c];
        if (o->max_per_class && drawn[c] > o->max_per_class)
            drawn[c] = o->max_per_class;
        total_drawn += drawn[c];
    }
    for (uint32_t c = 0; c < k; c++)
        weight[c] = (o->balance && drawn[c] > 0) ? (float)(total_drawn / ((double)present * drawn[c])) : 1.0f;
    /* Within a class, each cell of the balance attributes weighs the same (a cap per class
     * draws a uniform subset, so the cells keep their shares in expectation). */
    float *cell_w = NULL;
    guint n_cells = 0;
    if (o->balance_attrs && o->balance_attrs[0]) {
        cell_w = g_new(float, ds->samples->len);
        n_cells = tt_train_cell_weights(ds, train, r.class_map, o->balance_attrs, cell_w);
    }

    tt_blas_single_thread();
    uint64_t rng_shuffle = o->seed ^ 0x5368756666ull;
    uint64_t rng_drop = o->seed ^ 0x44726f70ull;
    uint64_t rng_aug = o->seed ^ 0x417567ull;
    tt_adam opt;
    tt_adam_init(&opt, net->n_params, o->lr);
    opt.weight_decay = o->weight_decay;
    float *grad = g_new0(float, net->n_params);
    float *best = g_memdup2(net->params, net->n_params * sizeof(float));
    double best_score = -1.0;
    uint32_t best_epoch = 0, since = 0, epoch;
    GArray *vidx = g_array_new(FALSE, FALSE, sizeof(guint));
    guint *order = g_new(guint, train->len);
    gboolean have_val = FALSE;
    for (guint i = 0; i < ds->samples->len && !have_val; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        have_val = split[s->group] == TT_SPLIT_VAL && r.class_map[s->label] >= 0;
    }

    for (epoch = 1; epoch <= o->max_epochs; epoch++) {
        /* Optionally cap blocks per class: shuffle, then take the first max_per_class of each class. */
        memcpy(order, train->data, train->len * sizeof(guint));
        for (guint i = train->len; i > 1; i--) {
            guint j = (guint)(tt_rng_next(&rng_shuffle) % i);
            guint t = order[i - 1]; order[i - 1] = order[j]; order[j] = t;
        }
        guint n_ep = train->len;
        if (o->max_per_class) {
            uint32_t taken[TT_MAX_CLASSES] = { 0 };
            n_ep = 0;
            for (guint i = 0; i < train->len; i++) {
                int c = r.class_map[g_array_index(ds->samples, tt_sample, order[i]).label];
                if (taken[c] < o->max_per_class) {
                    taken[c]++;
                    order[n_ep++] = order[i];
                }
            }
        }
        double loss_sum = 0.0, w_sum_all = 0.0;
        uint64_t correct = 0;
        for (guint b0 = 0; b0 < n_ep; b0 += o->batch) {
            guint b1 = MIN(n_ep, b0 + o->batch);
            memset(grad, 0, net->n_params * sizeof(float));
            double wsum = 0.0;
            for (guint i = b0; i < b1; i++) {
                const tt_sample *s = &g_array_index(ds->samples, tt_sample, order[i]);
                int c = r.class_map[s->label];
                size_t np = sample_pixels(&r, s, o, &rng_aug);
                float logits[TT_MAX_CLASSES];
                float w = cell_w ? weight[c] * cell_w[order[i]] : weight[c];
                loss_sum += tt_net_train_one(net, r.ws, r.px, np, (uint32_t)c, w, &rng_drop, grad, logits);
                wsum += w;
                uint32_t top = 0;
                for (uint32_t j = 1; j < k; j++)
                    if (logits[j] > logits[top])
                        top = j;
                correct += top == (uint32_t)c;
            }
            w_sum_all += wsum;
            tt_adam_step(&opt, net->params, grad, (float)(1.0 / wsum));
        }
        tt_net_prepare(net);

        double score;
        double val_acc = 0.0;
        if (have_val) {
            float *lg = split_logits(&r, split, TT_SPLIT_VAL, vidx);
            uint64_t conf[TT_MAX_CLASSES * TT_MAX_CLASSES] = { 0 };
            uint64_t ok = 0;
            for (guint j = 0; j < vidx->len; j++) {
                const tt_sample *s = &g_array_index(ds->samples, tt_sample, g_array_index(vidx, guint, j));
                uint32_t top = 0;
                for (uint32_t c = 1; c < k; c++)
                    if (lg[(size_t)j * k + c] > lg[(size_t)j * k + top])
                        top = c;
                conf[r.class_map[s->label] * k + top]++;
                ok += top == (uint32_t)r.class_map[s->label];
            }
            score = balanced_acc(conf, k);
            val_acc = vidx->len ? (double)ok / vidx->len : 0.0;
            g_free(lg);
        } else {
            score = n_ep ? (double)correct / n_ep : 0.0;   /* no validation split: training accuracy */
        }
        if (o->log && have_val)
            fprintf(o->log, "epoch %3u  train loss %.4f  train acc %.4f  val balanced acc %.4f  val acc %.4f\n",
                    epoch, w_sum_all > 0 ? loss_sum / w_sum_all : 0.0, n_ep ? (double)correct / n_ep : 0.0,
                    score, val_acc);
        else if (o->log)   /* --allow-empty-split: nothing to validate on (was "nan") */
            fprintf(o->log, "epoch %3u  train loss %.4f  train acc %.4f  (no validation split)\n",
                    epoch, w_sum_all > 0 ? loss_sum / w_sum_all : 0.0, n_ep ? (double)correct / n_ep : 0.0);
        if (score > best_score) {
            best_score = score;
            best_epoch = epoch;
            memcpy(best, net->params, net->n_params * sizeof(float));
            since = 0;
        } else if (++since >= o->patience) {
            break;
        }
    }
    memcpy(net->params, best, net->n_params * sizeof(float));
    tt_net_prepare(net);

    /* Temperature scaling on the validation split: the T minimising NLL on a log grid. */
    float temp = 1.0f;
    if (have_val) {
        float *lg = split_logits(&r, split, TT_SPLIT_VAL, vidx);
        double best_nll = nll_at(lg, vidx, ds, r.class_map, k, 1.0f);
        for (int i = 0; i <= 80; i++) {
            float t = (float)exp(log(0.1) + (log(20.0) - log(0.1)) * i / 80.0);
            double nll = nll_at(lg, vidx, ds, r.class_map, k, t);
            if (nll < best_nll - 1e-12) {
                best_nll = nll;
                temp = t;
            }
        }
        g_free(lg);
    }
    m->temperature = temp;

    GString *meta = g_string_new(m->meta);
    g_string_append_printf(meta, "train.seed=%" G_GUINT64_FORMAT "\ntrain.epochs_run=%u\ntrain.best_epoch=%u\n"
                           "train.batch=%u\ntrain.lr=%g\ntrain.weight_decay=%g\ntrain.balance=%d\n"
                           "train.aug=rtt %g, shift %g s, loss %g, truncate %g\ntrain.blocks=%u\n"
                           "train.val_balanced_accuracy=%.4f\ntrain.temperature=%.4f\n",
                           o->seed, MIN(epoch, o->max_epochs), best_epoch, o->batch, (double)o->lr,
                           (double)o->weight_decay, o->balance, (double)o->aug_rtt, (double)o->aug_shift,
                           (double)o->aug_loss, (double)o->aug_truncate, train->len, best_score, (double)temp);
    if (cell_w) {
        char *keys = g_strjoinv(",", (char **)o->balance_attrs);
        g_string_append_printf(meta, "train.balance_attrs=%s (%u cells)\n", keys, n_cells);
        g_free(keys);
    }
    for (uint32_t c = 0; c < k; c++)
        g_string_append_printf(meta, "train.blocks.%s=%" G_GUINT64_FORMAT "\n", m->classes[c], per_class[c]);
    g_free(m->meta);
    m->meta = g_string_free(meta, FALSE);

    g_free(order);
    g_free(cell_w);
    g_array_free(vidx, TRUE);
    g_free(best);
    g_free(grad);
    tt_adam_clear(&opt);
    g_array_free(train, TRUE);
    runner_clear(&r);
    return TRUE;
}

/* ---- evaluation ------------------------------------------------------------------ */

/* Calibrated class probabilities of one sample (no augmentation); returns the top class. */
static uint32_t sample_probs(runner *r, const tt_sample *s, float *probs)
{
    if (r->m->companion || r->m->trees) {   /* fused or with trees: answers as in the plugin (tt_classify_packets) */
        if (!r->cls)
            r->cls = tt_classifier_new(r->m);
        tt_result res;
        if (!tt_classify_packets(r->cls, sample_pkts(r->ds, s), s->n, &res))
            memset(&res, 0, sizeof res);
        memcpy(probs, res.probs, r->m->n_classes * sizeof *probs);
        return res.top;
    }
    float logits[TT_MAX_CLASSES];
    size_t np = sample_pixels(r, s, NULL, NULL);
    tt_net_forward_sparse(r->m->net, r->ws, r->px, np, logits);
    return tt_softmax(logits, r->m->n_classes, r->m->temperature, probs);
}

void tt_evaluate(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                 int which, const char *attr_key, const char *attr_value, tt_eval *ev)
{
    memset(ev, 0, sizeof *ev);
    uint32_t k = m->n_classes;
    ev->k = k;
    runner r;
    runner_init(&r, m, ds);
    float probs[TT_MAX_CLASSES];
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if (which != TT_SPLIT_NONE && split[s->group] != which)
            continue;
        if (attr_key) {
            char *v = tt_attr_get(g_ptr_array_index(ds->attrs, s->attrs), attr_key);
            gboolean keep = strcmp(v, attr_value) == 0;
            g_free(v);
            if (!keep)
                continue;
        }
        int c = r.class_map[s->label];
        if (c < 0) {
            ev->skipped++;
            continue;
        }
        uint32_t top = sample_probs(&r, s, probs);
        ev->confusion[(uint32_t)c * k + top]++;
        ev->n++;
        ev->correct += top == (uint32_t)c;
        ev->nll -= log(probs[c] > 1e-12f ? probs[c] : 1e-12);
        int bin = (int)(probs[top] * 10.0f);
        if (bin > 9) bin = 9;
        if (bin < 0) bin = 0;
        ev->bin_n[bin]++;
        ev->bin_conf[bin] += probs[top];
        ev->bin_acc[bin] += top == (uint32_t)c;
    }
    if (ev->n) {
        ev->nll /= (double)ev->n;
        for (int b = 0; b < 10; b++)
            if (ev->bin_n[b]) {
                ev->ece += fabs(ev->bin_acc[b] - ev->bin_conf[b]) / (double)ev->n;
                ev->bin_conf[b] /= (double)ev->bin_n[b];
                ev->bin_acc[b] /= (double)ev->bin_n[b];
            }
    }
    runner_clear(&r);
}

void tt_block_probs(const tt_model *m, const tt_dataset *ds, const uint8_t *split,
                    int which, float *out)
{
    uint32_t k = m->n_classes;
    memset(out, 0, (size_t)ds->samples->len * k * sizeof *out);
    runner r;
    runner_init(&r, m, ds);
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if (which == TT_SPLIT_NONE || split[s->group] == which)
            sample_probs(&r, s, out + (size_t)i * k);
    }
    runner_clear(&r);
}

void tt_flow_probs(const tt_dataset *ds, const uint8_t *split, int which,
                   uint32_t k, const float *bp, float *out)
{
    memset(out, 0, (size_t)ds->flows->len * k * sizeof *out);
    uint32_t *n = g_new0(uint32_t, ds->flows->len + 1);
    for (guint i = 0; i < ds->samples->len; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if (which == TT_SPLIT_NONE || split[s->group] == which) {
            for (uint32_t c = 0; c < k; c++)
                out[(size_t)s->flow * k + c] += bp[(size_t)i * k + c];
            n[s->flow]++;
        }
    }
    for (guint f = 0; f < ds->flows->len; f++)
        for (uint32_t c = 0; n[f] && c < k; c++)
            out[(size_t)f * k + c] /= (float)n[f];
    g_free(n);
}

double tt_eval_accuracy(const tt_eval *ev)
{
    return ev->n ? (double)ev->correct / (double)ev->n : 0.0;
}

double tt_eval_balanced_accuracy(const tt_eval *ev)
{
    return balanced_acc(ev->confusion, ev->k);
}

static void class_prf(const tt_eval *ev, uint32_t c, double *p, double *r, double *f, uint64_t *support)
{
    uint64_t tp = ev->confusion[c * ev->k + c], col = 0, row = 0;
    for (uint32_t j = 0; j < ev->k; j++) {
        col += ev->confusion[j * ev->k + c];
        row += ev->confusion[c * ev->k + j];
    }
    *p = col ? (double)tp / col : 0.0;
    *r = row ? (double)tp / row : 0.0;
    *f = (*p + *r) > 0 ? 2 * *p * *r / (*p + *r) : 0.0;
    *support = row;
}

void tt_eval_print(const tt_model *m, const tt_eval *ev, FILE *out)
{
    fprintf(out, "blocks %" G_GUINT64_FORMAT "  accuracy %.4f  balanced accuracy %.4f  NLL %.4f  ECE %.4f\n",
            ev->n, tt_eval_accuracy(ev), tt_eval_balanced_accuracy(ev), ev->nll, ev->ece);
    fprintf(out, "%-16s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
    for (uint32_t c = 0; c < ev->k; c++) {
        double p, r, f;
        uint64_t sup, predicted = 0;
        class_prf(ev, c, &p, &r, &f, &sup);
        for (uint32_t t = 0; t < ev->k; t++)
            predicted += ev->confusion[t * ev->k + c];
        /* a class with no block here (as eval --by): "-" for its recall and F1, and for its
         * precision too unless some block was answered with it */
        char ps[16] = "-", rs[16] = "-", fs[16] = "-";
        if (sup || predicted)
            g_snprintf(ps, sizeof ps, "%.4f", p);
        if (sup) {
            g_snprintf(rs, sizeof rs, "%.4f", r);
            g_snprintf(fs, sizeof fs, "%.4f", f);
        }
        fprintf(out, "%-16s %9s %9s %9s %9" G_GUINT64_FORMAT "\n", m->classes[c], ps, rs, fs, sup);
    }
    fprintf(out, "confusion (rows = true, columns = predicted)\n%-16s", "");
    for (uint32_t c = 0; c < ev->k; c++)
        fprintf(out, " %9.9s", m->classes[c]);
    fputc('\n', out);
    for (uint32_t t = 0; t < ev->k; t++) {
        fprintf(out, "%-16s", m->classes[t]);
        for (uint32_t c = 0; c < ev->k; c++)
            fprintf(out, " %9" G_GUINT64_FORMAT, ev->confusion[t * ev->k + c]);
        fputc('\n', out);
    }
}

char *tt_eval_json(const tt_model *m, const tt_eval *ev)
{
    GString *s = g_string_new("{");
    g_string_append_printf(s, "\"model\":\"%s\",\"blocks\":%" G_GUINT64_FORMAT ",\"accuracy\":%.6f,"
                           "\"balanced_accuracy\":%.6f,\"nll\":%.6f,\"ece\":%.6f,\"classes\":[",
                           m->name, ev->n, tt_eval_accuracy(ev), tt_eval_balanced_accuracy(ev), ev->nll, ev->ece);
    for (uint32_t c = 0; c < ev->k; c++) {
        double p, r, f;
        uint64_t sup;
        class_prf(ev, c, &p, &r, &f, &sup);
        g_string_append_printf(s, "%s{\"name\":\"%s\",\"precision\":%.6f,\"recall\":%.6f,\"f1\":%.6f,\"support\":%" G_GUINT64_FORMAT "}",
                               c ? "," : "", m->classes[c], p, r, f, sup);
    }
    g_string_append(s, "],\"confusion\":[");
    for (uint32_t t = 0; t < ev->k; t++) {
        g_string_append(s, t ? ",[" : "[");
        for (uint32_t c = 0; c < ev->k; c++)
            g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, c ? "," : "", ev->confusion[t * ev->k + c]);
        g_string_append(s, "]");
    }
    g_string_append(s, "]}");
    return g_string_free(s, FALSE);
}
