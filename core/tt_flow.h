/* TrafficTriage core: unidirectional flows cut into time blocks.
 *
 * Feed packets one at a time (tt_engine_add). A flow is a directed 5-tuple;
 * block k of a flow covers [start + k*B, start + (k+1)*B) where start is the
 * flow's first packet and B = spec.block_seconds. A packet exactly on a
 * boundary belongs to the later block. Blocks with no packets are skipped
 * (the index jumps). A block closes, and on_block is called for it, when:
 *   - a packet of its flow arrives at or past its end        (TT_CLOSE_NEXT)
 *   - its flow has been idle longer than spec.idle_timeout   (TT_CLOSE_IDLE;
 *     the flow ends: a later packet of the same 5-tuple starts a new flow)
 *   - the flow table is full and this is the least recently
 *     seen flow, evicted to make room                          (TT_CLOSE_EVICT)
 *   - the caller flushes (end of capture)                      (TT_CLOSE_FLUSH)
 * tt_engine_peek reports an open block as a flush would, leaving it open.
 *
 * Memory: each open flow holds its current block's packets (8 bytes each, at
 * most spec.max_packets; later packets of the block are counted, not stored,
 * and the block is marked truncated) and ~150 bytes of state. At most
 * max_flows flows are tracked; the least recently seen one is evicted first.
 * Time going backwards within a flow is clamped to the flow's last time.
 */
#ifndef TT_FLOW_H
#define TT_FLOW_H

#include "tt_types.h"

G_BEGIN_DECLS

typedef enum {
    TT_CLOSE_NEXT = 0,
    TT_CLOSE_IDLE = 1,
    TT_CLOSE_EVICT = 2,
    TT_CLOSE_FLUSH = 3
} tt_close_reason;

typedef enum {
    TT_BLOCK_OK = 0,           /* enough packets: classify it */
    TT_BLOCK_TOO_FEW = 1,      /* fewer than spec.min_packets (or shorter than min_span) */
    TT_BLOCK_EMPTY = 2         /* every packet was dropped by the size policy */
} tt_block_status;

typedef struct {
    uint64_t flow_id;          /* 1, 2, ... in order of first packet */
    uint32_t block_index;      /* 0, 1, ... (may skip empty blocks) */
    tt_block_status status;
    tt_close_reason reason;
    gboolean truncated;        /* more than spec.max_packets packets: only the first are used */
    const tt_key *key;
    double   start;            /* absolute start of the block window */
    double   first_ts, last_ts;/* absolute times of its first and last packet */
    uint32_t n_packets;        /* packets seen in the block */
    uint64_t n_bytes;          /* sum of their IP lengths */
    uint32_t n_stored;         /* packets in pkts[] (<= spec.max_packets) */
    const tt_pkt *pkts;        /* valid during the callback only */
} tt_block;

typedef void (*tt_block_fn)(const tt_block *block, void *user);

/* Where a packet went. */
typedef struct {
    uint64_t flow_id;
    uint32_t block_index;
    uint32_t index_in_block;   /* 0-based, counts every packet (also those beyond the cap) */
    gboolean new_flow;         /* the packet started a new flow */
} tt_pkt_ref;

typedef struct tt_engine tt_engine;

/* The spec is copied. max_flows: bound on tracked flows (0 = default 1,000,000). */
tt_engine *tt_engine_new(const tt_spec *spec, uint32_t max_flows,
                         tt_block_fn on_block, void *user);
void tt_engine_free(tt_engine *eng);     /* does NOT flush */

/* Add one packet. Calls on_block for any block this closes (its flow's
 * previous block; idle flows) before returning. Packets with a protocol other
 * than TCP/UDP or a zero length are ignored (returns FALSE, ref untouched). */
gboolean tt_engine_add(tt_engine *eng, const tt_packet *pkt, tt_pkt_ref *ref);

/* Close every open block (reason FLUSH) and forget all flows. */
void tt_engine_flush(tt_engine *eng);

/* Look at the open block of the flow tracked for a directed 5-tuple without
 * closing it or changing any state or statistics: fn gets the block exactly
 * as tt_engine_flush would report it now (reason TT_CLOSE_FLUSH; status,
 * counts and pkts from the packets so far; pkts valid during the call only).
 * What a block would be if the capture ended here: provisional results
 * during a live capture. Returns FALSE, without calling fn, when no flow is
 * tracked for key (compare block->flow_id to tell a flow from a later one
 * with the same 5-tuple). */
gboolean tt_engine_peek(const tt_engine *eng, const tt_key *key, tt_block_fn fn, void *user);

/* Flow id currently tracked for a directed 5-tuple, or 0. */
uint64_t tt_engine_flow_id(const tt_engine *eng, const tt_key *key);

typedef struct {
    uint64_t packets, ignored, flows_created, flows_evicted, flows_idle;
    uint64_t blocks_closed, blocks_too_few, blocks_truncated;
    uint32_t flows_open, flows_max;
    uint64_t pkts_stored;     /* packets currently held in open blocks */
} tt_engine_stats;
void tt_engine_get_stats(const tt_engine *eng, tt_engine_stats *st);

const char *tt_block_status_name(tt_block_status s);   /* "ok", "too few packets", ... */
const char *tt_close_reason_name(tt_close_reason r);

G_END_DECLS

#endif
