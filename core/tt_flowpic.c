/* TrafficTriage core: FlowPic construction (tt_flowpic.h, models/FLOWPIC.md). */
#include "tt_flowpic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gboolean tt_flowpic_bin(const tt_spec *s, float t, uint32_t size,
                        float t0, float span, uint32_t *row, uint32_t *col)
{
    if (size == 0)
        return FALSE;
    if (size > s->max_size) {
        if (s->size_policy == TT_SIZE_DROP)
            return FALSE;
        size = s->max_size;
    }
    /* Sizes 1..max_size split into size_bins equal bins; row 0 holds the smallest. */
    *row = (uint32_t)(((uint64_t)(size - 1) * s->size_bins) / s->max_size);

    double x;
    if (s->time_scale == TT_TIME_SPAN)
        x = span > 0.0f ? (double)(t - t0) / (double)span : 0.0;
    else
        x = (double)t / s->block_seconds;
    double c = floor(x * (double)s->time_bins);
    if (!(c >= 0.0))                 /* also catches NaN */
        c = 0.0;
    if (c > (double)(s->time_bins - 1))
        c = (double)(s->time_bins - 1);
    *col = (uint32_t)c;
    return TRUE;
}

/* Counting instead of sorting (tt_flowpic_build): for pictures of at most
 * this many cells (64 x 64; 16 KB of counters on the stack) and more than
 * TT_FLOWPIC_COUNT_MIN packets, where a pass over every cell costs less than
 * the sort. */
#define TT_FLOWPIC_COUNT_AREA 4096
#define TT_FLOWPIC_COUNT_MIN 64

static int cmp_pixel(const void *a, const void *b)
{
    uint32_t x = ((const tt_pixel *)a)->idx, y = ((const tt_pixel *)b)->idx;
    return (x > y) - (x < y);
}

static float transform(const tt_spec *s, uint32_t count)
{
    switch (s->count_transform) {
    case TT_COUNT_CLIP_SCALE:
        return (count < s->count_clip ? (float)count : s->count_clip) / s->count_clip;
    case TT_COUNT_LOG1P:
        return log1pf((float)count);
    default:
        return (float)count;
    }
}

size_t tt_flowpic_max_pixels(const tt_spec *s, size_t n)
{
    if (s->time_scale != TT_TIME_SEQUENCE)
        return n;                                   /* at most one pixel per packet */
    size_t drawn = n < s->time_bins ? n : s->time_bins;
    return drawn ? 2 * drawn - 1 : 0;               /* a size pixel each, a gap pixel from the second */
}

/* The sequence picture (TT_TIME_SEQUENCE): column i is the i-th packet, the
 * lower h = size_bins / 2 rows its size, the upper h rows the log10 gap to the
 * packet before it over 10 us .. 10 s. Every pixel is one packet's, so a
 * count of 1; at most tt_flowpic_max_pixels pixels, sorted by idx. */
static size_t build_sequence(const tt_spec *s, const tt_pkt *pkts, size_t n, tt_pixel *out)
{
    uint32_t h = s->size_bins / 2;
    size_t drawn = n < s->time_bins ? n : s->time_bins;
    float v = transform(s, 1);
    size_t m = 0;
    for (size_t i = 0; i < drawn; i++) {
        uint32_t size = pkts[i].size ? pkts[i].size : 1;
        if (size > s->max_size)
            size = s->max_size;
        uint32_t row = (uint32_t)(((uint64_t)(size - 1) * h) / s->max_size);
        out[m].idx = row * s->time_bins + (uint32_t)i;
        out[m++].v = v;
        if (i == 0)
            continue;
        double gap = (double)pkts[i].t - (double)pkts[i - 1].t;
        double c = gap > 0.0 ? floor((log10(gap) + 5.0) / 6.0 * h) : 0.0;
        if (!(c >= 0.0))                 /* also catches NaN */
            c = 0.0;
        if (c > (double)(h - 1))
            c = (double)(h - 1);
        out[m].idx = (h + (uint32_t)c) * s->time_bins + (uint32_t)i;
        out[m++].v = v;
    }
    qsort(out, m, sizeof *out, cmp_pixel);
    return m;
}

size_t tt_flowpic_build(const tt_spec *s, const tt_pkt *pkts, size_t n, tt_pixel *out)
{
    if (n == 0)
        return 0;
    if (s->time_scale == TT_TIME_SEQUENCE)
        return build_sequence(s, pkts, n, out);
    float t0 = pkts[0].t, t1 = pkts[0].t;
    for (size_t i = 1; i < n; i++) {
        if (pkts[i].t < t0) t0 = pkts[i].t;
        if (pkts[i].t > t1) t1 = pkts[i].t;
    }
    float span = t1 - t0;

    /* Collect bin indices in out[].idx, sort them, then merge runs into counts
     * (k <= i always holds, so merging in place is safe). */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t row, col;
        if (tt_flowpic_bin(s, pkts[i].t, pkts[i].size, t0, span, &row, &col))
            out[m++].idx = row * s->time_bins + col;
    }
    if (m == 0)
        return 0;
    size_t area = (size_t)s->size_bins * s->time_bins;
    if (area <= TT_FLOWPIC_COUNT_AREA && m > TT_FLOWPIC_COUNT_MIN) {
        /* Small pictures (up to 64 x 64) with many packets: count per cell and
         * read the cells in index order, which gives exactly what sorting does
         * in O(m + area) instead of O(m log m). */
        uint32_t count[TT_FLOWPIC_COUNT_AREA];
        memset(count, 0, area * sizeof count[0]);
        for (size_t i = 0; i < m; i++)
            count[out[i].idx]++;
        size_t k = 0;
        for (uint32_t idx = 0; idx < area; idx++)
            if (count[idx]) {
                out[k].idx = idx;
                out[k].v = transform(s, count[idx]);
                k++;
            }
        return k;
    }
    qsort(out, m, sizeof *out, cmp_pixel);
    size_t k = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && out[j].idx == out[i].idx)
            j++;
        out[k].idx = out[i].idx;
        out[k].v = transform(s, (uint32_t)(j - i));
        k++;
        i = j;
    }
    return k;
}

void tt_flowpic_dense(const tt_spec *s, const tt_pixel *px, size_t n, float *out)
{
    size_t area = (size_t)s->size_bins * s->time_bins;
    memset(out, 0, area * sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (px[i].idx < area)
            out[px[i].idx] = px[i].v;
}
