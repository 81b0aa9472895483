/* TrafficTriage plugin: the conversation answer. See triage-conv.h. */
#include "triage-conv.h"

guint32
triage_conv_result(const triage_run *run, guint slot, guint32 id,
                   const triage_result *own, triage_result *out)
{
    *out = *own;
    const guint8 *q = triage_run_block_probs(run, slot, id);
    if (q == NULL)
        return 0;
    guint32 flow, block;
    triage_run_block_where(run, slot, id, &flow, &block);
    const triage_flow *f = triage_run_flow(run, slot, flow);
    guint32 mate = f && f->reverse ? triage_run_block_id(run, slot, f->reverse, block) : 0;
    const guint8 *qm = mate ? triage_run_block_probs(run, slot, mate) : NULL;
    if (qm == NULL)
        return 0;
    tt_result pooled;
    tt_result_pool_stored(q, qm, triage_run_slot(run, slot)->model->n_classes, &pooled);
    out->top = pooled.top;
    out->confidence = pooled.confidence;
    return f->reverse;
}
