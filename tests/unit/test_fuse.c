/* Fused models (tt_model_fuse, the COMP section): the answer is the mean of
 * both nets' probabilities; the file round-trips exactly; pairs that cannot
 * answer together and damaged companions are refused with an error. */
#include <math.h>
#include <string.h>

#include "tt_arch.h"
#include "tt_classify.h"
#include "tt_test.h"

static const char *const CLASSES[] = { "browsing", "chat", "voip" };

/* A LeNet over a 32 x 32 picture: span or fixed time axis, a seed of its own. */
static tt_model *lenet(tt_time_scale scale, uint64_t seed, const char *name)
{
    tt_spec s;
    tt_spec_init_mini(&s, 32);
    s.time_scale = (uint8_t)scale;
    GError *e = NULL;
    tt_model *m = tt_arch_model(TT_ARCH_LENET, &s, "category", name, CLASSES, 3, seed, &e);
    g_assert_no_error(e);
    m->temperature = scale == TT_TIME_SPAN ? 1.5f : 2.0f;
    return m;
}

static tt_model *fused(void)
{
    tt_model *m = lenet(TT_TIME_FIXED, 1, "first");
    GError *e = NULL;
    g_assert_true(tt_model_fuse(m, lenet(TT_TIME_SPAN, 2, "second"), &e));
    g_assert_no_error(e);
    return m;
}

/* A block of 40 packets over 6 s, sizes cycling through small and large. */
static void block(tt_pkt *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i].t = 0.15f * (float)i;
        p[i].size = (uint32_t)(60 + (i * 397) % 1400);
    }
}

static void classify(const tt_model *m, const tt_pkt *p, size_t n, tt_result *r)
{
    tt_classifier *c = tt_classifier_new(m);
    g_assert_true(tt_classify_packets(c, p, n, r));
    tt_classifier_free(c);
}

TT_TEST("/fuse/mean", test_mean)
{
    tt_pkt p[40];
    block(p, 40);
    tt_model *m = fused();
    tt_result both, a, b;
    classify(m, p, 40, &both);
    tt_model *second = m->companion;
    m->companion = NULL;             /* the first net alone */
    classify(m, p, 40, &a);
    classify(second, p, 40, &b);
    m->companion = second;
    g_assert_cmpuint(both.n_classes, ==, 3);
    uint32_t top = 0;
    for (uint32_t c = 0; c < 3; c++) {
        g_assert_cmpfloat(both.probs[c], ==, (a.probs[c] + b.probs[c]) * 0.5f);
        g_assert_cmpfloat(fabsf(a.probs[c] - b.probs[c]), >, 1e-6f);   /* two different answers */
        if (both.probs[c] > both.probs[top])
            top = c;
    }
    g_assert_cmpuint(both.top, ==, top);
    g_assert_cmpfloat(both.confidence, ==, both.probs[top]);
    tt_model_free(m);
}

TT_TEST("/fuse/round-trip", test_round_trip)
{
    tt_pkt p[40];
    block(p, 40);
    tt_model *m = fused();
    GBytes *b = tt_test_model_bytes(m);
    tt_model *back = tt_test_reload(m);
    g_assert_nonnull(back->companion);
    g_assert_cmpstr(back->companion->name, ==, "second");
    g_assert_cmpint(back->companion->spec.time_scale, ==, TT_TIME_SPAN);
    GBytes *again = tt_test_model_bytes(back);
    g_assert_true(g_bytes_equal(b, again));   /* byte for byte */
    tt_result r1, r2;
    classify(m, p, 40, &r1);
    classify(back, p, 40, &r2);
    g_assert_cmpmem(r1.probs, sizeof r1.probs, r2.probs, sizeof r2.probs);
    g_bytes_unref(again);
    g_bytes_unref(b);
    tt_model_free(back);
    tt_model_free(m);
}

static void expect_refused(tt_model *m, tt_model *c, const char *words)
{
    GError *e = NULL;
    tt_model *before = m->companion;
    g_assert_false(tt_model_fuse(m, c, &e));
    g_assert_nonnull(e);
    g_assert_nonnull(strstr(e->message, words));
    g_assert_true(m->companion == before);   /* nothing taken */
    g_error_free(e);
    tt_model_free(c);
    tt_model_free(m);
}

TT_TEST("/fuse/refused", test_refused)
{
    /* the classes differ */
    tt_model *c = lenet(TT_TIME_SPAN, 2, "other");
    g_free(c->classes[2]);
    c->classes[2] = g_strdup("video");
    expect_refused(lenet(TT_TIME_FIXED, 1, "m"), c, "classes differ");
    /* the flows are cut differently */
    c = lenet(TT_TIME_SPAN, 2, "other");
    c->spec.block_seconds = 30.0;
    expect_refused(lenet(TT_TIME_FIXED, 1, "m"), c, "cut flows differently");
    c = lenet(TT_TIME_SPAN, 2, "other");
    c->spec.min_packets = 5;
    expect_refused(lenet(TT_TIME_FIXED, 1, "m"), c, "cut flows differently");
    /* another task */
    c = lenet(TT_TIME_SPAN, 2, "other");
    g_free(c->task);
    c->task = g_strdup("tunnel");
    expect_refused(lenet(TT_TIME_FIXED, 1, "m"), c, "tasks differ");
    /* fused twice */
    expect_refused(fused(), lenet(TT_TIME_SPAN, 3, "third"), "fused again");
}

/* The file a is refused with the error code and a message naming words. */
static void expect_load_error(const GByteArray *a, int code, const char *words)
{
    GError *e = NULL;
    g_assert_null(tt_model_load_bytes(a->data, a->len, &e));
    g_assert_error(e, TT_ERROR, code);
    g_assert_nonnull(strstr(e->message, words));
    g_clear_error(&e);
}

/* A file whose companion is damaged, or itself fused, is refused as a whole. */
TT_TEST("/fuse/bad-companion", test_bad_companion)
{
    tt_model *m = fused();
    GBytes *b = tt_test_model_bytes(m);
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    /* the COMP section is the last: its payload is the companion's file, whose
     * own header starts 16 bytes after the section header */
    const guint8 *comp = NULL;
    for (gsize off = 64; off + 16 <= len; off++)
        if (memcmp(d + off, "COMP", 4) == 0 && memcmp(d + off + 16, TT_MODEL_MAGIC, 8) == 0)
            comp = d + off + 16;
    g_assert_nonnull(comp);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, d, (guint)len);
    a->data[(comp - d) + 200] ^= 0x40;      /* inside the companion: its checksum fails */
    tt_test_rechecksum(a->data, a->len);    /* the outer one is right */
    expect_load_error(a, TT_ERROR_CHECKSUM, "companion");
    g_byte_array_unref(a);
    g_bytes_unref(b);
    tt_model_free(m);
}

static void put_le(guint8 *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (guint8)(v >> (8 * i));
}

/* A COMP section whose companion is itself fused (written by hand: the API
 * refuses to make one): refused, so a file cannot nest companions. */
TT_TEST("/fuse/nested", test_nested)
{
    tt_model *outer = lenet(TT_TIME_FIXED, 4, "outer"), *f = fused();
    GBytes *ob = tt_test_model_bytes(outer), *fb = tt_test_model_bytes(f);
    gsize olen, flen;
    const guint8 *od = g_bytes_get_data(ob, &olen), *fd = g_bytes_get_data(fb, &flen);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, od, (guint)olen);
    guint8 head[16] = { 'C', 'O', 'M', 'P' };
    put_le(head + 4, 1, 4);                  /* must be understood */
    put_le(head + 8, flen, 8);
    g_byte_array_append(a, head, 16);
    g_byte_array_append(a, fd, (guint)flen);
    static const guint8 zeros[8] = { 0 };
    if (a->len % 8)
        g_byte_array_append(a, zeros, 8 - a->len % 8);
    put_le(a->data + 56, a->data[56] + 1u, 4);   /* one more section */
    put_le(a->data + 16, a->len, 8);
    tt_test_rechecksum(a->data, a->len);
    expect_load_error(a, TT_ERROR_FORMAT, "companion of its own");
    g_byte_array_unref(a);
    g_bytes_unref(ob);
    g_bytes_unref(fb);
    tt_model_free(outer);
    tt_model_free(f);
}
