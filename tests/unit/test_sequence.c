/* The sequence picture (--time-scale sequence, models/FLOWPIC.md): a
 * hand-made packet list drawn pixel by pixel, the pixel buffer's capacity,
 * the spec's validation, and the model file keeping (or refusing) the value. */
#include <math.h>
#include <string.h>

#include "tt_arch.h"
#include "tt_flowpic.h"
#include "tt_classify.h"
#include "tt_test.h"

/* 8 rows (h = 4: sizes below, gaps above) x 6 packets, raw counts. */
static tt_spec spec_8x6(void)
{
    tt_spec s;
    tt_spec_init_mini(&s, 6);
    s.size_bins = 8;
    s.time_scale = TT_TIME_SEQUENCE;
    s.count_transform = TT_COUNT_RAW;
    return s;
}

TT_TEST("/sequence/picture/hand-made", test_picture)
{
    tt_spec s = spec_8x6();
    g_assert_true(tt_spec_validate(&s, NULL));
    /* row of a size: ((size - 1) * 4) / 1500; row of a gap: 4 + floor((log10(gap) + 5) / 6 * 4) in [4, 7] */
    const tt_pkt pk[] = {
        { 1.0f, 100 },        /* col 0: size row 0 (no gap pixel for the first packet) */
        { 1.001f, 1500 },     /* col 1: size row 3; gap ~1 ms: (-3 + 5) / 6 * 4 = 1.33 -> row 5 */
        { 1.001002f, 0 },     /* col 2: size 0 read as 1: row 0; gap ~2 us, below 10 us: row 4 */
        { 1.101f, 750 },      /* col 3: size row 1; gap ~0.1 s: 4 / 6 * 4 = 2.67 -> row 6 */
        { 21.101f, 9000 },    /* col 4: clipped to 1500: row 3; gap 20 s, above 10 s: row 7 */
        { 21.101f, 40 },      /* col 5: size row 0; gap 0: row 4 */
        { 22.0f, 1000 },      /* a 7th packet: beyond the 6 columns, not drawn */
    };
    const size_t n = G_N_ELEMENTS(pk);
    /* idx = row * 6 + col, sorted */
    const uint32_t want[] = { 0, 2, 5, 9, 19, 22, 26, 29, 31, 39, 46 };
    g_assert_cmpuint(tt_flowpic_max_pixels(&s, n), ==, G_N_ELEMENTS(want));
    tt_pixel px[G_N_ELEMENTS(want)];
    size_t m = tt_flowpic_build(&s, pk, n, px);
    g_assert_cmpuint(m, ==, G_N_ELEMENTS(want));
    for (size_t i = 0; i < m; i++) {
        g_assert_cmpuint(px[i].idx, ==, want[i]);
        g_assert_cmpfloat(px[i].v, ==, 1.0f);
    }
    /* the count transform applies to the count 1 of every pixel */
    s.count_transform = TT_COUNT_LOG1P;
    g_assert_cmpuint(tt_flowpic_build(&s, pk, n, px), ==, m);
    for (size_t i = 0; i < m; i++) {
        g_assert_cmpuint(px[i].idx, ==, want[i]);
        g_assert_cmpfloat_with_epsilon(px[i].v, logf(2.0f), 1e-7);
    }
    /* one packet: its size only; none: nothing */
    g_assert_cmpuint(tt_flowpic_build(&s, pk + 3, 1, px), ==, 1);
    g_assert_cmpuint(px[0].idx, ==, 1 * 6 + 0);
    g_assert_cmpuint(tt_flowpic_build(&s, pk, 0, px), ==, 0);
}

/* Pictures of 1, 2, time_bins and 10 x time_bins packets into buffers of
 * exactly tt_flowpic_max_pixels (ASan: tests/run's second pass). */
TT_TEST("/sequence/picture/capacity", test_capacity)
{
    tt_spec s;
    tt_spec_init_mini(&s, 32);
    g_assert_cmpuint(tt_flowpic_max_pixels(&s, 0), ==, 0);
    g_assert_cmpuint(tt_flowpic_max_pixels(&s, 1000), ==, 1000);   /* the histograms: one per packet */
    s.size_bins = 64;
    s.time_scale = TT_TIME_SEQUENCE;
    g_assert_true(tt_spec_validate(&s, NULL));
    g_assert_cmpuint(tt_flowpic_max_pixels(&s, 0), ==, 0);
    const size_t sizes[] = { 1, 2, 32, 320 };
    uint64_t x = 12345;
    for (size_t k = 0; k < G_N_ELEMENTS(sizes); k++) {
        size_t n = sizes[k], drawn = MIN(n, 32);
        tt_pkt *pk = g_new(tt_pkt, n);
        double t = 0.0;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            t += (double)((x >> 33) % 100000) * 1e-6 * (double)((x >> 20) % 4);   /* 0 .. 0.3 s, some 0 */
            pk[i].t = (float)t;
            pk[i].size = (uint32_t)((x >> 40) % 3000);                          /* 0 .. 2999: 0 and clipped */
        }
        size_t cap = tt_flowpic_max_pixels(&s, n);
        g_assert_cmpuint(cap, ==, 2 * drawn - 1);
        tt_pixel *px = g_new(tt_pixel, cap);
        size_t m = tt_flowpic_build(&s, pk, n, px);
        g_assert_cmpuint(m, ==, cap);    /* a size and a gap pixel per column, never the same cell */
        for (size_t i = 0; i < m; i++) {
            g_assert_cmpuint(px[i].idx, <, s.size_bins * s.time_bins);
            g_assert_cmpuint(px[i].idx % s.time_bins, <, drawn);
            if (i)
                g_assert_cmpuint(px[i - 1].idx, <, px[i].idx);
        }
        g_free(px);
        g_free(pk);
    }
}

TT_TEST("/sequence/spec/validate", test_validate)
{
    tt_spec s;
    tt_spec_init_mini(&s, 32);
    g_assert_cmpint(tt_time_scale_from_name("sequence"), ==, TT_TIME_SEQUENCE);
    g_assert_cmpint(tt_time_scale_from_name("sequences"), ==, -1);
    s.time_scale = TT_TIME_SEQUENCE;
    g_assert_true(tt_spec_validate(&s, NULL));          /* 32 x 32 is allowed, 64 x 32 is the CLI's */
    GError *e = NULL;
    s.size_bins = 63;
    g_assert_false(tt_spec_validate(&s, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_assert_nonnull(strstr(e->message, "even"));
    g_clear_error(&e);
    s.size_bins = 64;
    s.size_policy = TT_SIZE_DROP;
    g_assert_false(tt_spec_validate(&s, &e));
    g_assert_nonnull(strstr(e->message, "clip"));
    g_clear_error(&e);
    s.size_policy = TT_SIZE_CLIP;
    s.time_scale = 3;
    g_assert_false(tt_spec_validate(&s, &e));
    g_assert_nonnull(strstr(e->message, "unknown time scale 3"));
    g_clear_error(&e);
}

static tt_model *sequence_model(void)
{
    tt_spec s;
    tt_spec_init_mini(&s, 32);
    s.size_bins = 64;
    s.time_scale = TT_TIME_SEQUENCE;
    s.count_transform = TT_COUNT_LOG1P;
    const char *classes[] = { "a", "b", "c" };
    GError *e = NULL;
    tt_model *m = tt_arch_model(TT_ARCH_LENET, &s, "category", NULL, classes, 3, 7, &e);
    g_assert_no_error(e);
    g_assert_nonnull(m);
    return m;
}

TT_TEST("/sequence/model/round-trip", test_model_round_trip)
{
    tt_model *m = sequence_model();
    g_assert_cmpuint(m->net->in_h, ==, 64);
    g_assert_cmpuint(m->net->in_w, ==, 32);
    g_assert_cmpstr(m->name, ==, "category-lenet32seq-15s");
    /* the first pool (4 rows x 2 packets) leaves LeNet's square grid: 16 x 16 */
    char buf[64];
    g_assert_cmpstr(tt_layer_format(&m->net->layers[2], buf, sizeof buf), ==, "maxpool(4x2)");
    g_assert_cmpuint(m->net->n_params, ==, 82231);   /* 3 classes: as many as LeNet on a 32 x 32 FlowPic */
    tt_model *r = tt_test_reload(m);
    g_assert_cmpmem(&r->spec, sizeof r->spec, &m->spec, sizeof m->spec);
    g_assert_cmpuint(r->spec.time_scale, ==, TT_TIME_SEQUENCE);
    /* both classify a block alike (more packets than columns) */
    tt_pkt pk[50];
    for (int i = 0; i < 50; i++) {
        pk[i].t = 0.01f * (float)(i * i);
        pk[i].size = (uint32_t)(60 + 29 * i);
    }
    tt_classifier *ca = tt_classifier_new(m), *cb = tt_classifier_new(r);
    tt_result ra, rb;
    g_assert_true(tt_classify_packets(ca, pk, 50, &ra));
    g_assert_true(tt_classify_packets(cb, pk, 50, &rb));
    g_assert_cmpmem(ra.probs, sizeof ra.probs, rb.probs, sizeof rb.probs);
    /* a block of a single packet too (one pixel) */
    g_assert_true(tt_classify_packets(ca, pk, 1, &ra));
    tt_classifier_free(ca);
    tt_classifier_free(cb);
    tt_model_free(r);
    tt_model_free(m);
}

/* A file whose time_scale byte (SPEC payload + 45) is 3, a value no writer
 * has: refused with a message that names it. */
TT_TEST("/sequence/model/unknown-time-scale", test_model_unknown_time_scale)
{
    tt_model *m = sequence_model();
    GBytes *b = tt_model_to_bytes(m, NULL);
    gsize len;
    const guint8 *orig = g_bytes_get_data(b, &len);
    guint8 *d = g_memdup2(orig, len);
    size_t off = 64;             /* the sections: tag, flags, u64 length, payload padded to 8 */
    while (off + 16 <= len && memcmp(d + off, "SPEC", 4) != 0) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | d[off + 8 + i];
        off += 16 + ((n + 7) & ~7ull);
    }
    g_assert_cmpuint(off + 16 + 64, <=, len);
    g_assert_cmpuint(d[off + 16 + 45], ==, TT_TIME_SEQUENCE);
    d[off + 16 + 45] = 3;
    tt_test_rechecksum(d, len);
    GError *e = NULL;
    g_assert_null(tt_model_load_bytes(d, len, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_FORMAT);
    g_assert_nonnull(strstr(e->message, "unknown time scale 3"));
    g_clear_error(&e);
    /* and back to 2 (with a fresh checksum) it loads: the patch hit the right byte */
    d[off + 16 + 45] = TT_TIME_SEQUENCE;
    tt_test_rechecksum(d, len);
    tt_model *r = tt_model_load_bytes(d, len, &e);
    g_assert_no_error(e);
    tt_model_free(r);
    g_free(d);
    g_bytes_unref(b);
    tt_model_free(m);
}
