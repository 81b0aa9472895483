/* TrafficTriage plugin: the conversation answer of a block (issue #17).
 *
 * A one-way flow's block answers together with the reverse flow's block of the
 * same index (triage_flow.reverse; the same 15 s window of the same 5-tuple,
 * the other direction): the mean of both blocks' class probabilities
 * (tt_result_pool, the rule models/realcv.py --unit pair measured). Shown as
 * triage.conversation.category / .confidence beside the per-direction fields,
 * which stay as they are. Wireshark-independent (GLib + core only), like
 * triage-run.c.
 */
#ifndef TRIAGE_CONV_H
#define TRIAGE_CONV_H

#include "triage-run.h"

/* The conversation answer of block `id` of `slot`, whose own result is `own`
 * (closed, or provisional for a block still open): a copy of *own with top
 * and confidence replaced by the pooled ones when both this block and the
 * reverse flow's block of the same index are closed and classified (their
 * probabilities are kept); otherwise *own, the block standing alone. So a
 * block still open (single pass, a GUI redissection or live capture, where
 * `own` is computed on demand and no probabilities are kept) or whose
 * partner is still open answers alone, as does a block that is not
 * classified (too few packets): it has no probabilities to pool.
 * Returns the reverse flow whose block pooled in (its own conversation
 * answer is the same: the mean is symmetric), or 0 when the block answers
 * alone. */
guint32 triage_conv_result(const triage_run *run, guint slot, guint32 id,
                           const triage_result *own, triage_result *out);

#endif
