/* TrafficTriage plugin: Statistics > TrafficTriage > Categories (stats_tree,
 * `-z triage,tree`) and Statistics > TrafficTriage > Flows (stat_tap_table,
 * `-z triage,flows[,filter]`).
 *
 * The post-dissector queues one triage_tap_info per TCP/UDP packet on the tap
 * "triage". Counting rule (no block is counted twice in one pass):
 *  - has_current: the packet's own block result is known (GUI, tshark -2):
 *    the packet counts into its block; the block's first packet also counts
 *    the block.
 *  - closed[]: blocks whose result became known with this packet while their
 *    packets were still pending (first pass: single-pass tshark): each counts
 *    whole (packets and bytes from the block). Blocks still open when a
 *    single pass ends are not counted (use tshark -2); their packets
 *    (pending, or provisional: counted like pending) are counted apart, so
 *    that both reports can say so.
 * A flow counts once, when its first block is counted (the table's rows name
 * the same flows), and once under each category its counted blocks got.
 */
#ifndef TRIAGE_STATS_H
#define TRIAGE_STATS_H

#include "ws-compat.h"
#include "tt_types.h"

#define TRIAGE_TAP_NAME "triage"

typedef struct {
    guint32        flow;          /* 0 = no model / not tracked */
    guint32        block;
    const tt_key  *key;           /* the flow's 5-tuple (NULL if unknown) */
    const char    *category;      /* interned; "unknown" below the threshold */
    const char    *status;        /* interned */
    const char    *conv_category; /* interned: triage.conversation.category (a single
                                     pass: pooled only if the reverse block was closed) */
    guint32        conv_mate;     /* closed: the reverse flow whose block of this index
                                     pooled into conv_category (0: alone); that block's
                                     row, written earlier, now answers the same */
    double         confidence;
    guint32        packets;       /* has_current: 1; closed: the block's packets */
    guint64        bytes;         /* has_current: this packet's IP length */
    gboolean       first_in_block;/* has_current: the block's first packet */
} triage_tap_block;

typedef struct {
    gboolean          has_current;
    gboolean          pending;        /* the packet's own block is still open
                                         (current.flow, current.block name it) */
    triage_tap_block  current;
    guint             n_closed;
    triage_tap_block *closed;
} triage_tap_info;

/* Register both reports (from the plugin's tap registration routine). */
void triage_stats_register(void);

/* Whether the capture is live: the reports then do not advise tshark -2. */
void triage_stats_set_live(gboolean live);

/* Count the blocks still open when a live capture stopped, classified then
 * (packets, bytes: the whole block's), in every report. */
void triage_stats_add_final(const triage_tap_block *blocks, guint n);

#endif
