/* TrafficTriage core: FlowPic construction (see models/FLOWPIC.md).
 *
 * A FlowPic is a size_bins x time_bins picture: row = packet-size bin (row 0
 * = the smallest sizes), column = time bin (column 0 = the block's start),
 * pixel = f(count of packets in the bin) with f from spec.count_transform.
 * It is built as a sparse list of non-zero pixels, sorted by idx; its cost
 * grows with packets, never with the picture's area.
 */
#ifndef TT_FLOWPIC_H
#define TT_FLOWPIC_H

#include "tt_types.h"

G_BEGIN_DECLS

/* Bin of a packet at time t (seconds since the block start) with IP length
 * size. t0 and span are the block's first packet time and last - first (used
 * by TT_TIME_SPAN only). Returns FALSE if the size policy drops the packet. */
gboolean tt_flowpic_bin(const tt_spec *spec, float t, uint32_t size,
                        float t0, float span, uint32_t *row, uint32_t *col);

/* Build the sparse FlowPic of n packets (times relative to the block start).
 * out must hold n entries; returns the number of pixels written (<= n),
 * sorted by idx, each with v > 0. */
size_t tt_flowpic_build(const tt_spec *spec, const tt_pkt *pkts, size_t n,
                        tt_pixel *out);

/* Dense rendering: out is size_bins * time_bins floats, zeroed then filled. */
void tt_flowpic_dense(const tt_spec *spec, const tt_pixel *px, size_t n, float *out);

G_END_DECLS

#endif
