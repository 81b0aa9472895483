/* TrafficTriage core: FlowPic construction (see models/FLOWPIC.md).
 *
 * A FlowPic is a size_bins x time_bins picture: row = packet-size bin (row 0
 * = the smallest sizes), column = time bin (column 0 = the block's start),
 * pixel = f(count of packets in the bin) with f from spec.count_transform.
 * The sequence picture (TT_TIME_SEQUENCE) has a column per packet instead:
 * its size in the lower half of the rows, its gap to the previous packet in
 * the upper half.
 * It is built as a sparse list of non-zero pixels, sorted by idx; its cost
 * grows with packets, never with the picture's area.
 */
#ifndef TT_FLOWPIC_H
#define TT_FLOWPIC_H

#include "tt_types.h"

G_BEGIN_DECLS

/* Bin of a packet in the time histograms (fixed, span; the sequence picture
 * has no time bins) at time t (seconds since the block start) with IP length
 * size. t0 and span are the block's first packet time and last - first (used
 * by TT_TIME_SPAN only). Returns FALSE if the size policy drops the packet. */
gboolean tt_flowpic_bin(const tt_spec *spec, float t, uint32_t size,
                        float t0, float span, uint32_t *row, uint32_t *col);

/* The most pixels tt_flowpic_build can write for n packets: n for the time
 * histograms, 2 * min(n, time_bins) - 1 for the sequence picture. Size every
 * pixel buffer with this. */
size_t tt_flowpic_max_pixels(const tt_spec *spec, size_t n);

/* Build the sparse FlowPic of n packets (times relative to the block start,
 * in arrival order). out must hold tt_flowpic_max_pixels(spec, n) entries;
 * returns the number of pixels written (at most that), sorted by idx, each
 * with v > 0. */
size_t tt_flowpic_build(const tt_spec *spec, const tt_pkt *pkts, size_t n,
                        tt_pixel *out);

/* Dense rendering: out is size_bins * time_bins floats, zeroed then filled. */
void tt_flowpic_dense(const tt_spec *spec, const tt_pixel *px, size_t n, float *out);

G_END_DECLS

#endif
