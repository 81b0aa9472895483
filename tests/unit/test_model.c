/* Model files: exact round trip, and a table of corrupt and hostile files
 * each rejected with its own error (never a crash). */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tt_arch.h"
#include "tt_classify.h"
#include "tt_test.h"

static tt_model *tiny_model(void)
{
    tt_spec s;
    tt_spec_init_mini(&s, 8);
    GError *e = NULL;
    tt_model *m = tt_test_model(TT_TEST_NET_TINY, &s, "tiny", NULL, 3, 7, &e);
    g_assert_no_error(e);
    g_free(m->meta);
    m->meta = g_strdup("note=unit test\n");
    m->temperature = 1.5f;
    return m;
}

static GByteArray *tiny_bytes(void)
{
    tt_model *m = tiny_model();
    GBytes *b = tt_test_model_bytes(m);
    tt_model_free(m);
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, d, (guint)len);
    g_bytes_unref(b);
    return a;
}

static uint32_t get32(const guint8 *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static void put32(guint8 *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

/* Offset of a section's payload (its header is 16 bytes before). */
static size_t section(GByteArray *a, const char *tag)
{
    size_t off = 64;
    while (off + 16 <= a->len) {
        uint64_t len = get32(a->data + off + 8) | ((uint64_t)get32(a->data + off + 12) << 32);
        if (memcmp(a->data + off, tag, 4) == 0)
            return off + 16;
        off += 16 + ((len + 7) & ~7ull);
    }
    g_assert_not_reached();
    return 0;
}

TT_TEST("/model/round-trip", test_round_trip)
{
    tt_model *m = tiny_model();
    GError *e = NULL;
    char *path = tt_test_scratch("tt-test-model.ttm");
    g_assert_true(tt_model_save_file(m, path, &e));
    g_assert_no_error(e);
    tt_model *r = tt_model_load_file(path, &e);
    g_assert_no_error(e);
    g_assert_nonnull(r);
    g_assert_cmpstr(r->name, ==, "tiny");
    g_assert_cmpstr(r->task, ==, "category");
    g_assert_cmpuint(r->n_classes, ==, 3);
    g_assert_cmpstr(r->classes[2], ==, "c");
    g_assert_cmpstr(r->meta, ==, "note=unit test\n");
    g_assert_cmpfloat(r->temperature, ==, 1.5f);
    g_assert_cmpmem(&r->spec, sizeof r->spec, &m->spec, sizeof m->spec);
    g_assert_cmpmem(r->net->params, r->net->n_params * sizeof(float), m->net->params, m->net->n_params * sizeof(float));
    g_assert_cmpstr(r->sha256, ==, m->sha256);
    /* saving what was loaded gives the same bytes */
    GBytes *a = tt_model_to_bytes(m, NULL), *b = tt_model_to_bytes(r, NULL);
    g_assert_true(g_bytes_equal(a, b));
    g_bytes_unref(a);
    g_bytes_unref(b);
    tt_model_free(r);
    tt_model_free(m);
    g_remove(path);
    g_free(path);
}

TT_TEST("/model/truncated-everywhere", test_truncated_everywhere)
{
    GByteArray *a = tiny_bytes();
    for (guint len = 0; len < a->len; len++) {
        GError *e = NULL;
        tt_model *m = tt_model_load_bytes(a->data, len, &e);
        g_assert_null(m);
        g_assert_nonnull(e);
        g_assert_true(e->domain == TT_ERROR);
        g_error_free(e);
    }
    /* and with the size field and checksum made consistent with the cut */
    for (guint len = 64; len < a->len; len += 4) {
        GByteArray *c = g_byte_array_new();
        g_byte_array_append(c, a->data, len);
        for (int i = 0; i < 8; i++)
            c->data[16 + i] = (guint8)((uint64_t)len >> (8 * i));
        tt_test_rechecksum(c->data, c->len);
        GError *e = NULL;
        g_assert_null(tt_model_load_bytes(c->data, c->len, &e));
        g_assert_nonnull(e);
        g_error_free(e);
        g_byte_array_unref(c);
    }
    g_byte_array_unref(a);
}

typedef struct {
    const char *name;
    void (*mutate)(GByteArray *a);
    gboolean fix_checksum;
    int code;
    const char *message;       /* substring of the error message */
} hostile_case;

static void m_magic(GByteArray *a) { a->data[0] = 'X'; }
static void m_version(GByteArray *a) { put32(a->data + 8, 2); }
static void m_total(GByteArray *a) { a->data[16] ^= 1; }
static void m_flip_body(GByteArray *a) { a->data[a->len / 2] ^= 0x40; }
static void m_sections0(GByteArray *a) { put32(a->data + 56, 0); }
static void m_sections_more(GByteArray *a) { put32(a->data + 56, 7); }
static void m_classes0(GByteArray *a) { put32(a->data + section(a, "CLAS"), 0); }
static void m_classes_huge(GByteArray *a) { put32(a->data + section(a, "CLAS"), 100000); }
static void m_class_len(GByteArray *a) { put32(a->data + section(a, "CLAS") + 4, 0xffffffffu); }
static void m_layers_huge(GByteArray *a) { put32(a->data + section(a, "LAYR") + 8, 1000000); }
static void m_conv_zero(GByteArray *a) { put32(a->data + section(a, "LAYR") + 12 + 4, 0); }
static void m_conv_giant(GByteArray *a) { put32(a->data + section(a, "LAYR") + 12 + 4, 0x7fffffffu); }
static void m_kernel_big(GByteArray *a) { put32(a->data + section(a, "LAYR") + 12 + 8, 1000); }
static void m_dense_more(GByteArray *a) { put32(a->data + section(a, "LAYR") + 12 + 3 * 44 + 4, 4); }
static void m_layer_kind(GByteArray *a) { put32(a->data + section(a, "LAYR") + 12 + 44, 99); }
static void m_input_mismatch(GByteArray *a) { put32(a->data + section(a, "LAYR"), 9); }
static void m_nan_weight(GByteArray *a) { put32(a->data + section(a, "PARM") + 8 + 12, 0x7fc00000u); }
static void m_inf_weight(GByteArray *a) { put32(a->data + section(a, "PARM") + 8, 0x7f800000u); }
static void m_param_count(GByteArray *a) { put32(a->data + section(a, "PARM"), get32(a->data + section(a, "PARM")) + 1); }
static void m_spec_bins0(GByteArray *a) { put32(a->data + section(a, "SPEC") + 24, 0); }
static void m_spec_bins_huge(GByteArray *a) { put32(a->data + section(a, "SPEC") + 28, 1u << 30); }
static void m_temp_nan(GByteArray *a) { put32(a->data + section(a, "CALB"), 0x7fc00000u); }
static void m_unknown_required(GByteArray *a) { size_t p = section(a, "CALB") - 16; memcpy(a->data + p, "ZZZZ", 4); put32(a->data + p + 4, 1); }
static void m_duplicate(GByteArray *a)
{
    size_t p = section(a, "CALB") - 16;
    guint8 copy[24];
    memcpy(copy, a->data + p, sizeof copy);      /* header + 4 bytes + padding */
    g_byte_array_append(a, copy, sizeof copy);
    put32(a->data + 56, get32(a->data + 56) + 1);
    put32(a->data + 16, a->len);
}
static void m_no_name(GByteArray *a) { size_t p = section(a, "META"); memcpy(a->data + p, "nome", 4); }

static const hostile_case cases[] = {
    { "bad-magic", m_magic, FALSE, TT_ERROR_FORMAT, "bad magic" },
    { "wrong-version", m_version, FALSE, TT_ERROR_VERSION, "version 2" },
    { "size-field", m_total, FALSE, TT_ERROR_FORMAT, "header says" },
    { "bad-checksum", m_flip_body, FALSE, TT_ERROR_CHECKSUM, "checksum" },
    { "zero-sections", m_sections0, TRUE, TT_ERROR_LIMIT, "sections" },
    { "more-sections", m_sections_more, TRUE, TT_ERROR_FORMAT, "past the end" },
    { "zero-classes", m_classes0, TRUE, TT_ERROR_LIMIT, "classes" },
    { "huge-classes", m_classes_huge, TRUE, TT_ERROR_LIMIT, "classes" },
    { "class-name-length", m_class_len, TRUE, TT_ERROR_FORMAT, "runs past" },
    { "huge-layer-count", m_layers_huge, TRUE, TT_ERROR_LIMIT, "layers" },
    { "zero-filters", m_conv_zero, TRUE, TT_ERROR_SHAPE, "layer" },
    { "huge-filters", m_conv_giant, TRUE, TT_ERROR_SHAPE, "layer" },
    { "kernel-larger-than-input", m_kernel_big, TRUE, TT_ERROR_SHAPE, "layer" },
    { "outputs-vs-classes", m_dense_more, TRUE, TT_ERROR_SHAPE, "parameters" },
    { "unknown-layer-kind", m_layer_kind, TRUE, TT_ERROR_FORMAT, "unknown kind" },
    { "input-vs-spec", m_input_mismatch, TRUE, TT_ERROR_SHAPE, "does not match" },
    { "nan-weight", m_nan_weight, TRUE, TT_ERROR_FORMAT, "NaN" },
    { "inf-weight", m_inf_weight, TRUE, TT_ERROR_FORMAT, "NaN or infinite" },
    { "parameter-count", m_param_count, TRUE, TT_ERROR_FORMAT, "parameter section" },
    { "zero-time-bins", m_spec_bins0, TRUE, TT_ERROR_FORMAT, "time bins" },
    { "huge-size-bins", m_spec_bins_huge, TRUE, TT_ERROR_FORMAT, "size bins" },
    { "nan-temperature", m_temp_nan, TRUE, TT_ERROR_FORMAT, "temperature" },
    { "unknown-required-section", m_unknown_required, TRUE, TT_ERROR_VERSION, "required" },
    { "duplicate-section", m_duplicate, TRUE, TT_ERROR_FORMAT, "appears twice" },
    { "no-name", m_no_name, TRUE, TT_ERROR_FORMAT, "name" },
};

static void test_hostile(gconstpointer data)
{
    const hostile_case *c = data;
    GByteArray *a = tiny_bytes();
    c->mutate(a);
    if (c->fix_checksum)
        tt_test_rechecksum(a->data, a->len);
    GError *e = NULL;
    tt_model *m = tt_model_load_bytes(a->data, a->len, &e);
    g_assert_null(m);
    g_assert_error(e, TT_ERROR, c->code);
    if (!strstr(e->message, c->message))
        g_error("case %s: message \"%s\" lacks \"%s\"", c->name, e->message, c->message);
    g_error_free(e);
    g_byte_array_unref(a);
}
TT_TEST_CASES_ISOLATED("/model/hostile", cases, test_hostile);

TT_TEST("/model/unknown-optional-section", test_unknown_optional_section)
{
    GByteArray *a = tiny_bytes();
    size_t p = section(a, "CALB") - 16;
    memcpy(a->data + p, "ZZZZ", 4);          /* optional: skipped, temperature stays 1 */
    tt_test_rechecksum(a->data, a->len);
    GError *e = NULL;
    tt_model *m = tt_model_load_bytes(a->data, a->len, &e);
    g_assert_no_error(e);
    g_assert_cmpfloat(m->temperature, ==, 1.0f);
    tt_model_free(m);
    g_byte_array_unref(a);
}

TT_TEST("/model/missing-file", test_missing_file)
{
    GError *e = NULL;
    g_assert_null(tt_model_load_file("/nonexistent/dir/model.ttm", &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_IO);
    g_assert_nonnull(strstr(e->message, "/nonexistent/dir/model.ttm"));
    g_error_free(e);
}

TT_TEST("/model/new-checks", test_model_new_checks)
{
    tt_model *m = tiny_model();
    GError *e = NULL;
    const char *bad[] = { "a", "a", "c" };
    tt_net *net = m->net;
    m->net = NULL;
    g_assert_null(tt_model_new("x", "category", 3, bad, &m->spec, net, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    const char *sp[] = { "a b", "c", "d" };
    g_assert_null(tt_model_new("x", "category", 3, sp, &m->spec, net, &e));
    g_clear_error(&e);
    const char *ok[] = { "a", "b", "c" };
    g_assert_null(tt_model_new("x", "Bad Task", 3, ok, &m->spec, net, &e));
    g_clear_error(&e);
    g_assert_null(tt_model_new("x", "category", 2, ok, &m->spec, net, &e));   /* 3 outputs */
    g_assert_error(e, TT_ERROR, TT_ERROR_SHAPE);
    g_clear_error(&e);
    m->net = net;
    net->params[0] = NAN;
    g_assert_null(tt_model_to_bytes(m, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    tt_model_free(m);
}

/* A small file must not buy a huge net: the 1,872-byte model of
 * tests/fuzz/BUGS-nn.md (28 1x1 convs over 4096 x 4096) took 2.8 GB. */
TT_TEST("/model/cost-bounds", test_cost_bounds)
{
    tt_layer l[30];
    memset(l, 0, sizeof l);
    for (int i = 0; i < 28; i++) {
        l[i].kind = TT_LAYER_CONV;
        l[i].out_c = 1; l[i].kh = l[i].kw = 1; l[i].sh = l[i].sw = 1;
    }
    l[28].kind = TT_LAYER_MAXPOOL; l[28].kh = l[28].kw = l[28].sh = l[28].sw = 4096;
    l[29].kind = TT_LAYER_DENSE; l[29].out_c = 2;
    GError *e = NULL;
    g_assert_null(tt_net_new(4096, 4096, l, 30, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_LIMIT);
    g_assert_nonnull(strstr(e->message, "add up to"));
    g_clear_error(&e);
    /* work: 8 filters of 63 x 63 over 1024 x 1024 is ~33 G multiply-adds */
    memset(l, 0, sizeof l);
    l[0].kind = TT_LAYER_CONV; l[0].out_c = 8; l[0].kh = l[0].kw = 63; l[0].sh = l[0].sw = 1;
    l[0].pad_t = l[0].pad_l = 31; l[0].pad_b = l[0].pad_r = 31;
    l[1].kind = TT_LAYER_MAXPOOL; l[1].kh = l[1].kw = l[1].sh = l[1].sw = 1024;
    l[2].kind = TT_LAYER_DENSE; l[2].out_c = 2;
    g_assert_null(tt_net_new(1024, 1024, l, 3, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_LIMIT);
    g_assert_nonnull(strstr(e->message, "multiply-adds"));
    g_clear_error(&e);
    /* the paper's net stays well inside both */
    uint32_t n = tt_layers_flowpic(l, 5);
    tt_net *net = tt_net_new(1500, 1500, l, n, &e);
    g_assert_no_error(e);
    tt_net_free(net);
}

TT_TEST("/model/classify", test_classify)
{
    tt_model *m = tiny_model();
    tt_classifier *c = tt_classifier_new(m);
    tt_pkt pk[] = { { 0.1f, 100 }, { 1.0f, 1400 }, { 5.0f, 600 } };
    tt_result r;
    g_assert_true(tt_classify_packets(c, pk, 3, &r));
    g_assert_cmpuint(r.n_classes, ==, 3);
    double sum = 0.0;
    for (int i = 0; i < 3; i++) {
        sum += r.probs[i];
        g_assert_cmpfloat(r.probs[i], <=, r.confidence);
    }
    g_assert_cmpfloat_with_epsilon(sum, 1.0, 1e-5);
    g_assert_cmpfloat(r.probs[r.top], ==, r.confidence);
    g_assert_false(tt_classify_packets(c, pk, 0, &r));
    tt_classifier_free(c);
    tt_model_free(m);
}

/* The recommended threshold travels in META and survives a save/load round trip;
 * a missing, malformed or out-of-range value gives the default. */
TT_TEST("/model/threshold", test_threshold)
{
    static const struct { const char *meta; double want; } cases[] = {
        { "note=x\nthreshold=0.35\nseed=1\n", 0.35 },
        { "threshold=0\n", 0.0 },
        { "note=x\n", TT_MODEL_DEFAULT_THRESHOLD },
        { "threshold=abc\n", TT_MODEL_DEFAULT_THRESHOLD },
        { "threshold=1.5\n", TT_MODEL_DEFAULT_THRESHOLD },
        { "threshold=0.4x\n", TT_MODEL_DEFAULT_THRESHOLD },
        { "xthreshold=0.2\n", TT_MODEL_DEFAULT_THRESHOLD },
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        tt_model *m = tiny_model();
        g_free(m->meta);
        m->meta = g_strdup(cases[i].meta);
        g_assert_cmpfloat_with_epsilon(tt_model_threshold(m), cases[i].want, 1e-9);
        tt_model *back = tt_test_reload(m);
        g_assert_cmpfloat_with_epsilon(tt_model_threshold(back), cases[i].want, 1e-9);
        tt_model_free(back);
        tt_model_free(m);
    }
}

/* The one "unknown" rule: below the threshold (or a top class the model has not)
 * reads "unknown"; at the threshold the class. */
TT_TEST("/model/label", test_label)
{
    static const struct { uint32_t top; double conf, thr; gboolean known; } cases[] = {
        { 1, 0.30, 0.30, TRUE }, { 1, 0.2999, 0.30, FALSE }, { 2, 0.9, 0.5, TRUE },
        { 0, 0.0, 0.0, TRUE }, { 0, 0.7f, 0.7, FALSE }, { 3, 0.9, 0.5, FALSE },
    };
    tt_model *m = tiny_model();
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *got = tt_classify_label(m, cases[i].top, cases[i].conf, cases[i].thr);
        g_assert_cmpstr(got, ==, cases[i].known ? m->classes[cases[i].top] : TT_LABEL_UNKNOWN);
        if (cases[i].top < m->n_classes)
            g_assert_cmpint(tt_below_threshold(cases[i].conf, cases[i].thr), ==, !cases[i].known);
    }
    tt_model_free(m);
}

/* A result of n probabilities (top and confidence as tt_classify_packets sets them). */
static tt_result result_of(const float *p, uint32_t n)
{
    tt_result r;
    memset(&r, 0, sizeof r);
    r.n_classes = n;
    for (uint32_t c = 0; c < n; c++) {
        r.probs[c] = p[c];
        if (p[c] > p[r.top])
            r.top = c;
    }
    r.confidence = p[r.top];
    return r;
}

/* The conversation answer: the mean of both directions' probabilities, its
 * top class and probability; a block without a partner stands alone. */
typedef struct {
    const char *name;
    float a[3], b[3];
    gboolean alone;           /* b is NULL */
    uint32_t top;
    float confidence;
} pool_case;

static const pool_case pool_cases[] = {
    /* the uplink of a download (ACKs, read as browsing) joins the downlink's file transfer */
    { "ack-uplink", { 0.50f, 0.10f, 0.40f }, { 0.05f, 0.05f, 0.90f }, FALSE, 2, 0.65f },
    { "agree", { 0.70f, 0.20f, 0.10f }, { 0.60f, 0.30f, 0.10f }, FALSE, 0, 0.65f },
    { "tie-lower-index", { 0.60f, 0.40f, 0.00f }, { 0.40f, 0.60f, 0.00f }, FALSE, 0, 0.50f },
    { "alone", { 0.20f, 0.30f, 0.50f }, { 0 }, TRUE, 2, 0.50f },
};

static void test_pool(gconstpointer data)
{
    const pool_case *pc = data;
    tt_result a = result_of(pc->a, 3), b = result_of(pc->b, 3), out;
    tt_result_pool(&a, pc->alone ? NULL : &b, &out);
    g_assert_cmpuint(out.n_classes, ==, 3);
    g_assert_cmpuint(out.top, ==, pc->top);
    g_assert_cmpfloat_with_epsilon(out.confidence, pc->confidence, 1e-6);
    g_assert_cmpfloat(out.probs[out.top], ==, out.confidence);
    for (uint32_t c = 0; c < 3; c++)
        g_assert_cmpfloat_with_epsilon(out.probs[c], pc->alone ? pc->a[c] : (pc->a[c] + pc->b[c]) / 2, 1e-6);
    /* symmetric, and out may alias an input */
    if (!pc->alone) {
        tt_result back;
        tt_result_pool(&b, &a, &back);
        g_assert_cmpmem(back.probs, sizeof back.probs, out.probs, sizeof out.probs);
        tt_result_pool(&a, &b, &a);
        g_assert_cmpmem(a.probs, sizeof a.probs, out.probs, sizeof out.probs);
    }
}
TT_TEST_CASES("/model/pool", pool_cases, test_pool);

/* Different class counts do not pool; the stored form (one byte per class)
 * is within 1/510 of each probability and pools as its dequantised values. */
TT_TEST("/model/pool/stored", test_pool_stored)
{
    static const float pa[5] = { 0.5f, 0.1f, 0.2f, 0.15f, 0.05f }, pb[5] = { 0.0f, 0.0f, 0.9f, 0.1f, 0.0f };
    tt_result a = result_of(pa, 5), b = result_of(pb, 3), out;
    tt_result_pool(&a, &b, &out);
    g_assert_cmpmem(&out, sizeof out, &a, sizeof a);

    b = result_of(pb, 5);
    uint8_t qa[5], qb[5];
    tt_result_quantise(&a, qa);
    tt_result_quantise(&b, qb);
    g_assert_cmpuint(qb[2], ==, 230);   /* 0.9 * 255 = 229.5 -> 230 */
    tt_result da, db, want;
    tt_result_dequantise(qa, 5, &da);
    tt_result_dequantise(qb, 5, &db);
    for (uint32_t c = 0; c < 5; c++)
        g_assert_cmpfloat(fabsf(da.probs[c] - pa[c]), <=, 0.5f / 255 + 1e-6f);
    g_assert_cmpuint(da.top, ==, 0);
    tt_result_pool(&da, &db, &want);
    tt_result_pool_stored(qa, qb, 5, &out);
    g_assert_cmpmem(&out, sizeof out, &want, sizeof want);
    g_assert_cmpuint(out.top, ==, 2);
    tt_result_pool_stored(qa, NULL, 5, &out);
    g_assert_cmpmem(&out, sizeof out, &da, sizeof da);
    /* out of range (and NaN) probabilities are clamped, not wrapped */
    a.probs[0] = 1.5f;
    a.probs[1] = -0.2f;
    a.probs[2] = NAN;
    tt_result_quantise(&a, qa);
    g_assert_cmpuint(qa[0], ==, 255);
    g_assert_cmpuint(qa[1], ==, 0);
    g_assert_cmpuint(qa[2], ==, 0);
}

/* ---- the stock architectures by name (tt_arch.h), and the names the trainer
 * and `traffictriage info` use for time scales, count transforms and layers ---- */

TT_TEST("/model/arch/names", test_arch_names)
{
    g_assert_cmpint(tt_arch_from_name("lenet"), ==, TT_ARCH_LENET);
    g_assert_cmpint(tt_arch_from_name("flowpic"), ==, TT_ARCH_FLOWPIC);
    g_assert_cmpint(tt_arch_from_name("LeNet"), ==, -1);
    g_assert_cmpint(tt_arch_from_name(""), ==, -1);
    g_assert_cmpstr(tt_arch_name(TT_ARCH_LENET), ==, "lenet");
    g_assert_cmpstr(tt_arch_name(TT_ARCH_FLOWPIC), ==, "flowpic");
    g_assert_cmpint(tt_time_scale_from_name("fixed"), ==, TT_TIME_FIXED);
    g_assert_cmpint(tt_time_scale_from_name("span"), ==, TT_TIME_SPAN);
    g_assert_cmpint(tt_time_scale_from_name("spans"), ==, -1);
    g_assert_cmpint(tt_count_transform_from_name("raw"), ==, TT_COUNT_RAW);
    g_assert_cmpint(tt_count_transform_from_name("clip"), ==, TT_COUNT_CLIP_SCALE);
    g_assert_cmpint(tt_count_transform_from_name("log"), ==, TT_COUNT_LOG1P);
    g_assert_cmpint(tt_count_transform_from_name("log1p"), ==, -1);
}

TT_TEST("/model/arch/spec", test_arch_spec)
{
    tt_spec a, b;
    tt_arch_spec(TT_ARCH_LENET, 48, &a);
    tt_spec_init_mini(&b, 48);
    g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
    g_assert_cmpuint(tt_arch_default_side(TT_ARCH_LENET), ==, 32);
    tt_arch_spec(TT_ARCH_FLOWPIC, tt_arch_default_side(TT_ARCH_FLOWPIC), &a);
    tt_spec_init_paper(&b);
    g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
    tt_arch_spec(TT_ARCH_FLOWPIC, 64, &a);
    g_assert_cmpuint(a.time_bins, ==, 64);
    g_assert_cmpuint(a.size_bins, ==, 64);
    g_assert_cmpfloat(a.block_seconds, ==, 60.0);
}

TT_TEST("/model/arch/model", test_arch_model)
{
    tt_spec s;
    tt_arch_spec(TT_ARCH_LENET, 32, &s);
    const char *cls[] = { "chat", "video", "voip" };
    GError *e = NULL;
    tt_model *m = tt_arch_model(TT_ARCH_LENET, &s, "category", NULL, cls, 3, 7, &e);
    g_assert_no_error(e);
    g_assert_nonnull(m);
    g_assert_cmpstr(m->name, ==, "category-lenet32-15s");
    g_assert_cmpstr(m->task, ==, "category");
    g_assert_cmpuint(m->n_classes, ==, 3);
    g_assert_cmpuint(m->net->n_out, ==, 3);
    tt_layer layers[TT_MAX_LAYERS];
    uint32_t nl = tt_arch_layers(TT_ARCH_LENET, &s, 3, layers);
    g_assert_cmpuint(m->net->n_layers, ==, nl);
    /* the same seed, the same weights; another seed, others */
    tt_model *same = tt_arch_model(TT_ARCH_LENET, &s, "tunnel", "x", cls, 3, 7, NULL);
    tt_model *other = tt_arch_model(TT_ARCH_LENET, &s, "tunnel", "x", cls, 3, 8, NULL);
    g_assert_cmpstr(same->name, ==, "x");
    g_assert_cmpmem(m->net->params, m->net->n_params * sizeof(float), same->net->params, same->net->n_params * sizeof(float));
    g_assert_true(memcmp(m->net->params, other->net->params, m->net->n_params * sizeof(float)) != 0);
    char buf[64];
    g_assert_cmpstr(tt_layer_format(&m->net->layers[0], buf, sizeof buf), ==, "conv(6@5x5/1)");
    g_assert_cmpstr(tt_layer_format(&m->net->layers[1], buf, sizeof buf), ==, "relu");
    g_assert_cmpstr(tt_layer_format(&m->net->layers[2], buf, sizeof buf), ==, "maxpool(2)");
    g_assert_cmpstr(tt_layer_format(&m->net->layers[nl - 1], buf, sizeof buf), ==, "dense(3)");
    tt_layer odd = { .kind = 99 };
    g_assert_cmpstr(tt_layer_format(&odd, buf, sizeof buf), ==, "(null)");
    tt_model_free(m);
    tt_model_free(same);
    tt_model_free(other);
}

TT_TEST("/model/arch/model-errors", test_arch_model_errors)
{
    tt_spec s;
    tt_arch_spec(TT_ARCH_LENET, 8, &s);            /* too small for the LeNet's convolutions */
    const char *cls[] = { "a", "b" };
    GError *e = NULL;
    g_assert_null(tt_arch_model(TT_ARCH_LENET, &s, "category", NULL, cls, 2, 1, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_SHAPE);
    g_clear_error(&e);
    tt_arch_spec(TT_ARCH_LENET, 32, &s);
    const char *dup[] = { "a", "a" };               /* a class twice */
    g_assert_null(tt_arch_model(TT_ARCH_LENET, &s, "category", NULL, dup, 2, 1, &e));
    g_assert_nonnull(e);
    g_clear_error(&e);
}

/* A confidence as people read it: 3 decimals rounded down, the same whether
 * printed from the double ("%.3f") or from thousandths ("%u.%03u"). */
TT_TEST("/model/confidence-shown", test_confidence_shown)
{
    const struct { double c; unsigned milli; } cases[] = {   /* 0.7f is below 0.7: below a threshold of 0.7 too */
        { 0.0, 0 }, { 0.4996, 499 }, { 0.801101624965668, 801 }, { 0.7, 700 }, { 0.7f, 699 }, { 1.0, 1000 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpuint(tt_confidence_milli(cases[i].c), ==, cases[i].milli);
        g_assert_cmpfloat(tt_confidence_shown(cases[i].c), ==, cases[i].milli / 1000.0);
    }
    uint64_t st = 5;
    for (int i = 0; i < 100000; i++) {
        float c = (float)tt_rng_uniform(&st);
        unsigned m = tt_confidence_milli(c);
        char a[16], b[16];
        g_snprintf(a, sizeof a, "%.3f", tt_confidence_shown(c));
        g_snprintf(b, sizeof b, "%u.%03u", m / 1000, m % 1000);
        g_assert_cmpstr(a, ==, b);
    }
}
