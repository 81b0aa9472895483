/* TrafficTriage core: a block's statistics (tt_stats.h, models/FLOWPIC.md). */
#include "tt_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const tt_stats_names[TT_STATS_N] = {
    "packets", "duration", "bytes",
    "size_mean", "size_std", "size_min", "size_max",
    "size_q10", "size_q25", "size_q50", "size_q75", "size_q90",
    "share_le100", "share_101_300", "share_301_1000", "share_gt1000", "share_ge1300",
    "distinct_sizes",
    "gap_logmean", "gap_logstd", "gap_q10", "gap_q50", "gap_q90", "gap_max",
    "gap_lt1ms", "gap_gt100ms", "gap_gt1s",
    "rate", "throughput", "bursts", "burst_bytes", "size_changes",
};

#define MTU 1500.0
#define GAP_FLOOR 1e-6     /* seconds: log10 of a gap never goes below -6 */
#define BURST_GAP 0.1      /* seconds: a longer gap starts a new burst */
#define SIZE_CHANGE 100    /* bytes: a bigger step between neighbours counts as a change */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The p-quantile of sorted a[0..m-1] (m >= 1): the lower nearest rank. */
static float quantile(const float *a, size_t m, double p)
{
    return a[(size_t)floor(p * (double)(m - 1))];
}

/* A time difference kept in [0, 1e6] s (NaN reads 0): finite statistics
 * whatever a hostile capture's times are. */
static double clamp_time(double x)
{
    return x > 0.0 ? (x < 1e6 ? x : 1e6) : 0.0;
}

static float log_gap(double g)
{
    return (float)log10(g + GAP_FLOOR);
}

void tt_block_stats(const tt_pkt *p, size_t n, float *scratch, float *out)
{
    memset(out, 0, TT_STATS_N * sizeof *out);
    if (n == 0)
        return;

    /* ---- sizes, in arrival order, then sorted in scratch ---- */
    double bytes = 0.0, sum = 0.0, sum2 = 0.0;
    size_t le100 = 0, le300 = 0, le1000 = 0, ge1300 = 0, changes = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = p[i].size;
        double x = s / MTU;
        bytes += s;
        sum += x;
        sum2 += x * x;
        le100 += s <= 100;
        le300 += s > 100 && s <= 300;
        le1000 += s > 300 && s <= 1000;
        ge1300 += s >= 1300;
        if (i > 0) {
            uint32_t a = p[i - 1].size;
            changes += (a > s ? a - s : s - a) > SIZE_CHANGE;
        }
        scratch[i] = (float)x;
    }
    double mean = sum / n;
    double var = sum2 / n - mean * mean;
    qsort(scratch, n, sizeof *scratch, cmp_float);
    size_t distinct = 1;
    for (size_t i = 1; i < n; i++)
        distinct += scratch[i] != scratch[i - 1];

    double span = clamp_time((double)p[n - 1].t - (double)p[0].t);
    double per_s = span > 1e-3 ? span : 1e-3;
    double dn = (double)n;
    out[0] = (float)log1p(dn);
    out[1] = (float)log1p(span);
    out[2] = (float)log1p(bytes / MTU);
    out[3] = (float)mean;
    out[4] = (float)sqrt(var > 0.0 ? var : 0.0);
    out[5] = scratch[0];
    out[6] = scratch[n - 1];
    out[7] = quantile(scratch, n, 0.10);
    out[8] = quantile(scratch, n, 0.25);
    out[9] = quantile(scratch, n, 0.50);
    out[10] = quantile(scratch, n, 0.75);
    out[11] = quantile(scratch, n, 0.90);
    out[12] = (float)(le100 / dn);
    out[13] = (float)(le300 / dn);
    out[14] = (float)(le1000 / dn);
    out[15] = (float)((dn - le100 - le300 - le1000) / dn);
    out[16] = (float)(ge1300 / dn);
    out[17] = (float)(distinct / dn);
    out[27] = (float)log1p(dn / per_s);
    out[28] = (float)log1p(bytes / MTU / per_s);

    /* ---- gaps between neighbours (n - 1 of them), bursts ---- */
    size_t bursts = 1;
    if (n >= 2) {
        size_t m = n - 1, lt1ms = 0, gt100ms = 0, gt1s = 0;
        double lsum = 0.0, lsum2 = 0.0;
        for (size_t i = 1; i < n; i++) {
            double g = clamp_time((double)p[i].t - (double)p[i - 1].t);
            float lg = log_gap(g);
            lsum += lg;
            lsum2 += (double)lg * lg;
            lt1ms += g < 1e-3;
            gt100ms += g > BURST_GAP;
            gt1s += g > 1.0;
            scratch[i - 1] = lg;
        }
        bursts += gt100ms;
        qsort(scratch, m, sizeof *scratch, cmp_float);
        double lmean = lsum / m, lvar = lsum2 / m - lmean * lmean;
        out[18] = (float)lmean;
        out[19] = (float)sqrt(lvar > 0.0 ? lvar : 0.0);
        out[20] = quantile(scratch, m, 0.10);
        out[21] = quantile(scratch, m, 0.50);
        out[22] = quantile(scratch, m, 0.90);
        out[23] = scratch[m - 1];
        out[24] = (float)((double)lt1ms / m);
        out[25] = (float)((double)gt100ms / m);
        out[26] = (float)((double)gt1s / m);
        out[31] = (float)((double)changes / m);
    }
    out[29] = (float)log1p((double)bursts);
    out[30] = (float)log1p(bytes / MTU / (double)bursts);
}
