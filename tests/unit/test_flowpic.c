/* FlowPic construction: hand-computed pictures for small packet lists. */
#include <math.h>
#include <string.h>

#include "tt_flowpic.h"
#include "tt_test.h"

static tt_spec spec4(void)
{
    tt_spec s;
    tt_spec_init_mini(&s, 4);            /* 4 x 4, 15 s, clip sizes, clip-scale counts */
    s.block_seconds = 4.0;
    s.count_transform = TT_COUNT_RAW;
    return s;
}

static float at(const tt_spec *s, const tt_pixel *px, size_t n, uint32_t row, uint32_t col)
{
    for (size_t i = 0; i < n; i++)
        if (px[i].idx == row * s->time_bins + col)
            return px[i].v;
    return 0.0f;
}

TT_TEST("/flowpic/bins", test_bins)
{
    tt_spec s = spec4();
    uint32_t r, c;
    /* sizes 1..1500 into 4 rows of 375: 1..375 -> 0, 376..750 -> 1, ..., 1126..1500 -> 3 */
    g_assert_true(tt_flowpic_bin(&s, 0.0f, 1, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 0); g_assert_cmpuint(c, ==, 0);
    g_assert_true(tt_flowpic_bin(&s, 0.999f, 375, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 0); g_assert_cmpuint(c, ==, 0);
    g_assert_true(tt_flowpic_bin(&s, 1.0f, 376, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 1); g_assert_cmpuint(c, ==, 1);
    g_assert_true(tt_flowpic_bin(&s, 3.999f, 1500, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 3); g_assert_cmpuint(c, ==, 3);
    /* exactly at the block's end (only via clamping) stays in the last column */
    g_assert_true(tt_flowpic_bin(&s, 4.0f, 1126, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 3); g_assert_cmpuint(c, ==, 3);
    /* above max_size: clipped to the top row, or dropped */
    g_assert_true(tt_flowpic_bin(&s, 2.0f, 9000, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 3); g_assert_cmpuint(c, ==, 2);
    s.size_policy = TT_SIZE_DROP;
    g_assert_false(tt_flowpic_bin(&s, 2.0f, 1501, 0, 0, &r, &c));
    g_assert_true(tt_flowpic_bin(&s, 2.0f, 1500, 0, 0, &r, &c));
    /* the paper's 1500 x 1500: one byte per row, 40 ms per column */
    tt_spec p;
    tt_spec_init_paper(&p);
    g_assert_true(tt_flowpic_bin(&p, 0.041f, 1, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 0); g_assert_cmpuint(c, ==, 1);
    g_assert_true(tt_flowpic_bin(&p, 59.999f, 1500, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 1499); g_assert_cmpuint(c, ==, 1499);
    g_assert_true(tt_flowpic_bin(&p, 30.0f, 740, 0, 0, &r, &c));
    g_assert_cmpuint(r, ==, 739); g_assert_cmpuint(c, ==, 750);
}

TT_TEST("/flowpic/span-scaling", test_span_scaling)
{
    tt_spec s = spec4();
    s.time_scale = TT_TIME_SPAN;
    uint32_t r, c;
    /* block's own [t0, t0 + span] maps onto 4 columns */
    g_assert_true(tt_flowpic_bin(&s, 10.0f, 100, 10.0f, 2.0f, &r, &c));
    g_assert_cmpuint(c, ==, 0);
    g_assert_true(tt_flowpic_bin(&s, 11.0f, 100, 10.0f, 2.0f, &r, &c));
    g_assert_cmpuint(c, ==, 2);
    g_assert_true(tt_flowpic_bin(&s, 12.0f, 100, 10.0f, 2.0f, &r, &c));
    g_assert_cmpuint(c, ==, 3);
    g_assert_true(tt_flowpic_bin(&s, 10.0f, 100, 10.0f, 0.0f, &r, &c));   /* zero span */
    g_assert_cmpuint(c, ==, 0);
}

TT_TEST("/flowpic/build/hand-computed", test_build)
{
    tt_spec s = spec4();
    tt_pkt pk[] = {
        { 0.5f, 100 }, { 0.7f, 120 }, { 0.9f, 375 },     /* (0,0) x3 */
        { 1.5f, 800 },                                   /* (2,1) */
        { 3.2f, 1500 }, { 3.3f, 1499 },                  /* (3,3) x2 */
        { 3.9f, 40 },                                    /* (0,3) */
    };
    size_t n = G_N_ELEMENTS(pk);
    tt_pixel px[G_N_ELEMENTS(pk)];
    size_t m = tt_flowpic_build(&s, pk, n, px);
    g_assert_cmpuint(m, ==, 4);
    for (size_t i = 1; i < m; i++)
        g_assert_cmpuint(px[i - 1].idx, <, px[i].idx);
    g_assert_cmpfloat(at(&s, px, m, 0, 0), ==, 3.0f);
    g_assert_cmpfloat(at(&s, px, m, 2, 1), ==, 1.0f);
    g_assert_cmpfloat(at(&s, px, m, 3, 3), ==, 2.0f);
    g_assert_cmpfloat(at(&s, px, m, 0, 3), ==, 1.0f);
    /* dense rendering holds the same values, zero elsewhere */
    float dense[16];
    tt_flowpic_dense(&s, px, m, dense);
    float sum = 0.0f;
    for (int i = 0; i < 16; i++)
        sum += dense[i];
    g_assert_cmpfloat(sum, ==, 7.0f);
    g_assert_cmpfloat(dense[2 * 4 + 1], ==, 1.0f);
    /* count transforms */
    s.count_transform = TT_COUNT_CLIP_SCALE;
    s.count_clip = 2.0f;
    m = tt_flowpic_build(&s, pk, n, px);
    g_assert_cmpfloat(at(&s, px, m, 0, 0), ==, 1.0f);     /* min(3, 2) / 2 */
    g_assert_cmpfloat(at(&s, px, m, 2, 1), ==, 0.5f);
    s.count_transform = TT_COUNT_LOG1P;
    m = tt_flowpic_build(&s, pk, n, px);
    g_assert_cmpfloat_with_epsilon(at(&s, px, m, 0, 0), logf(4.0f), 1e-6);
    /* size policy drop: the 1500-byte packet stays (<= max), bigger ones go */
    s.count_transform = TT_COUNT_RAW;
    s.size_policy = TT_SIZE_DROP;
    tt_pkt big[] = { { 0.1f, 1600 }, { 0.2f, 1600 } };
    g_assert_cmpuint(tt_flowpic_build(&s, big, 2, px), ==, 0);
    g_assert_cmpuint(tt_flowpic_build(&s, pk, 0, px), ==, 0);
}

TT_TEST("/flowpic/build/many", test_build_many)
{
    /* Total of all pixel values equals the packet count for raw counts. */
    tt_spec s;
    tt_spec_init_paper(&s);
    enum { N = 5000 };
    tt_pkt *pk = g_new(tt_pkt, N);
    uint64_t st = 42;
    for (int i = 0; i < N; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        pk[i].t = (float)((st >> 33) % 60000) / 1000.0f;
        pk[i].size = 1 + (uint32_t)((st >> 13) % 1500);
    }
    tt_pixel *px = g_new(tt_pixel, N);
    size_t m = tt_flowpic_build(&s, pk, N, px);
    double total = 0.0;
    for (size_t i = 0; i < m; i++) {
        total += px[i].v;
        g_assert_cmpuint(px[i].idx, <, 1500u * 1500u);
        if (i)
            g_assert_cmpuint(px[i - 1].idx, <, px[i].idx);
    }
    g_assert_cmpfloat(total, ==, (double)N);
    g_free(pk);
    g_free(px);
}

/* Small pictures with many packets are counted, not sorted: both give the
 * same pixels (index order, counts, clip transform) as a dense count made
 * here from tt_flowpic_bin; the sizes straddle the switch (64 packets). */
TT_TEST("/flowpic/build/counted", test_build_counted)
{
    const uint32_t sides[] = { 32, 64 };
    const size_t ns[] = { 1, 10, 64, 65, 300, 5000, 20000 };
    uint64_t st = 7;
    for (guint a = 0; a < G_N_ELEMENTS(sides); a++)
        for (guint b = 0; b < G_N_ELEMENTS(ns); b++) {
            tt_spec s;
            tt_spec_init_mini(&s, sides[a]);
            size_t n = ns[b], area = (size_t)sides[a] * sides[a];
            tt_pkt *pk = g_new(tt_pkt, n);
            for (size_t i = 0; i < n; i++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                pk[i].t = (float)((st >> 33) % 15000) / 1000.0f;
                /* many packets in few sizes, some above the 1500-byte cap */
                pk[i].size = 40 + (uint32_t)((st >> 13) % 8) * 230;
            }
            uint32_t *cnt = g_new0(uint32_t, area);
            float t0 = pk[0].t, t1 = pk[0].t;
            for (size_t i = 1; i < n; i++) {
                t0 = MIN(t0, pk[i].t);
                t1 = MAX(t1, pk[i].t);
            }
            for (size_t i = 0; i < n; i++) {
                uint32_t row, col;
                if (tt_flowpic_bin(&s, pk[i].t, pk[i].size, t0, t1 - t0, &row, &col))
                    cnt[row * s.time_bins + col]++;
            }
            tt_pixel *px = g_new(tt_pixel, n);
            size_t m = tt_flowpic_build(&s, pk, n, px), k = 0;
            for (uint32_t idx = 0; idx < area; idx++) {
                if (!cnt[idx])
                    continue;
                g_assert_cmpuint(k, <, m);
                g_assert_cmpuint(px[k].idx, ==, idx);
                float want = (cnt[idx] < s.count_clip ? (float)cnt[idx] : s.count_clip) / s.count_clip;
                g_assert_cmpfloat(px[k].v, ==, want);
                k++;
            }
            g_assert_cmpuint(k, ==, m);
            g_free(cnt);
            g_free(px);
            g_free(pk);
        }
}
