/* TrafficTriage core: a block's statistics, the trees' input (models/FLOWPIC.md,
 * "Block statistics").
 *
 * The same packets a FlowPic is drawn from (a block of one direction: times
 * since the block's start, IP lengths, in arrival order) summarised as
 * TT_STATS_N numbers: how many, how long, the sizes' distribution, the gaps'
 * distribution, bursts and size changes. Every value is finite for any input
 * (n >= 1); times are in seconds, sizes in bytes / 1500, counts log1p'd.
 * The list is versioned (TT_STATS_VERSION): a model's trees name the version
 * and count they were trained on, and a reader refuses another.
 */
#ifndef TT_STATS_H
#define TT_STATS_H

#include "tt_types.h"

G_BEGIN_DECLS

#define TT_STATS_VERSION 1u
#define TT_STATS_N 32u

/* The statistics' names, in order (for `traffictriage info` and the docs). */
extern const char *const tt_stats_names[TT_STATS_N];

/* Compute the statistics of n >= 1 packets into out[TT_STATS_N]. scratch
 * holds at least n floats (the sizes and gaps are sorted there); n == 0
 * gives all zeros. */
void tt_block_stats(const tt_pkt *pkts, size_t n, float *scratch, float *out);

G_END_DECLS

#endif
