/* TrafficTriage: a Wireshark post-dissector that labels every TCP/UDP packet
 * with the traffic category of its flow's current time block, predicted by a
 * FlowPic CNN from packet sizes and arrival times only.
 *
 * Layers (as in TRANSUM):
 *   triage-extract.c  the only code reading pinfo / the tree (-> tt_packet)
 *   triage-run.c      models, flow engines, block results (no Wireshark API)
 *   triage-stats.c    Statistics reports fed by the "triage" tap
 *   this file         registration, prefs, per-frame bookkeeping, display
 *
 * Passes. On the first pass (!visited) each packet is fed to one engine per
 * model and the frame keeps only its block ids and a status word. A
 * block's result exists once the block closes; the end-of-pass hook flushes
 * the flows' last, unfinished blocks. So with tshark -2 and in the GUI every
 * packet shows its block's result. In single-pass tshark (a file or a live
 * capture) a packet of an open block reads "provisional" with the result
 * its block would have if it ended there (from a checkpoint: the model's
 * min_packets packets, then every quarter block), or "pending" before that;
 * the packet that closes a block carries that block's result under
 * triage.closed.*. The GUI marks results of blocks still open (live
 * capture, after a redissection) "provisional" too.
 */
#include "ws-compat.h"

#include <epan/expert.h>
#include <epan/proto_data.h>

#include "triage-extract.h"
#include "triage-frames.h"
#include "triage-live.h"
#include "triage-prefs.h"
#include "triage-run.h"
#include "triage-conv.h"
#include "triage-stats.h"
#include "triage-menu.h"

#ifndef TRIAGE_VERSION
#define TRIAGE_VERSION "0.0.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = TRIAGE_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
#if TRIAGE_HAVE_PLUGIN_DESCRIBE
WS_DLL_PUBLIC uint32_t plugin_describe(void);
#endif

/* ---- registration ids -------------------------------------------------- */

static int proto_triage = -1;

static int hf_category = -1;
static int hf_confidence = -1;
static int hf_flow = -1;
static int hf_reverse_flow = -1;
static int hf_block = -1;
static int hf_status = -1;
static int hf_model = -1;
static int hf_packets = -1;
static int hf_ip_len = -1;
static int hf_tunnel = -1;
static int hf_tunnel_confidence = -1;
static int hf_app = -1;
static int hf_app_confidence = -1;
static int hf_closed = -1;
static int hf_closed_category = -1;
static int hf_closed_confidence = -1;
static int hf_closed_flow = -1;
static int hf_closed_block = -1;
static int hf_closed_status = -1;
static int hf_closed_packets = -1;
static int hf_conv_category = -1;
static int hf_conv_confidence = -1;

static gint ett_triage = -1;
static gint ett_triage_closed = -1;

static expert_field ei_pending = EI_INIT;
static expert_field ei_pending_live = EI_INIT;
static expert_field ei_provisional = EI_INIT;
static expert_field ei_too_few = EI_INIT;
static expert_field ei_truncated = EI_INIT;
static expert_field ei_no_model = EI_INIT;

/* Field ids of the per-role result fields (category, tunnel, app). */
static int *const hf_role_class[TRIAGE_ROLE_COUNT] = { &hf_category, &hf_tunnel, &hf_app };
static int *const hf_role_conf[TRIAGE_ROLE_COUNT] = { &hf_confidence, &hf_tunnel_confidence, &hf_app_confidence };

/* ---- state --------------------------------------------------------------
 * Preferences (registered with Wireshark) and the run: the loaded models,
 * which survive from one file to the next, and their per-capture flow state,
 * which the init/cleanup routines reset for every file and redissection. */


static struct {
    dissector_handle_t handle;
    int                tap;
    int                expert_tap;  /* Wireshark's "expert" tap (0: not found) */
    int                expert_hfs[5]; /* _ws.expert and its fields (-1: not found) */
    triage_run        *run;
    GArray            *scratch;     /* triage_closed, one packet's worth */
    gboolean           streaming;   /* first-pass results are shown as such (not the GUI) */
    gboolean           live;        /* this capture is live (a dumpcap child runs) */
} triage;

/* The status and category words, interned once at registration: the tap's
 * consumers compare them by pointer, and interning per packet cost a hash
 * lookup each (tests/bench/FINDINGS.md F7). */
static struct {
    const char *unknown, *classified, *low_confidence, *too_few, *no_usable, *no_model, *pending,
               *provisional;
} str;

/* ---- per-file routines --------------------------------------------------- */

/* Whether the post-dissector will run in this pass: the preference and the
 * protocol (Analyze > Enabled Protocols, --disable-protocol) both on. */
static gboolean
triage_active(void)
{
    return triage_prefs_enabled() && proto_is_protocol_enabled(find_protocol_by_id(proto_triage));
}


static void triage_live_stop(void);
static void tap_block(triage_tap_block *tb, const triage_slot *s, guint32 id, guint32 flow,
                      guint32 block, const triage_result *r);

static void
triage_init(void)
{
    gboolean active = triage_active();
    /* A disabled plugin does not load its models (a few ms per file); they
     * load at the first init after it is enabled again (enabling the
     * protocol or the preference redissects, which runs this routine). */
    triage_prefs_apply(active);
    triage_run_capture_reset(triage.run);
    triage_frames_reset();
    triage.streaming = triage_live_streaming_program();
    triage.live = triage_live_capture_running();
    triage_stats_set_live(triage.live);
    /* tshark live with a triage report: complete it when the capture stops */
    if (triage.live && triage.streaming && have_tap_listener(triage.tap))
        triage_live_on_stop(TRIAGE_TAP_NAME, triage_live_stop);
    /* No wanted fields: the IP length is read from the header bytes, so the
     * first pass needs no protocol tree (tests/bench/FINDINGS.md F6). */
    triage_extract_lookup_prefs();
    triage.expert_tap = find_tap_id("expert");
    static const char *const expert_fields[G_N_ELEMENTS(triage.expert_hfs)] = {
        "_ws.expert", "_ws.expert.message", "_ws.expert.severity", "_ws.expert.group", "_ws.expert.groups",
    };
    for (guint i = 0; i < G_N_ELEMENTS(expert_fields); i++)
        triage.expert_hfs[i] = proto_registrar_get_id_byname(expert_fields[i]);
}

static void
triage_cleanup(void)
{
    triage_live_on_stop_cancel();
    triage_run_capture_reset(triage.run);
    triage_frames_reset();
}

/* End of the first sequential pass (GUI, tshark -2): classify every flow's
 * last, unfinished block. */
static void
triage_postseq(void)
{
    triage_run_flush(triage.run);
}

/* A live tshark capture stopped (triage-live.c): classify every block still
 * open, as the end-of-pass hook of tshark -2 does, and hand them to the
 * -z reports, which tshark draws next. */
static void
triage_live_stop(void)
{
    if (triage.run == NULL || triage.run->n_slots == 0)
        return;
    GArray *closed = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    triage_run_flush_closed(triage.run, closed);
    const triage_slot *s = &triage.run->slots[0];
    GArray *blocks = g_array_new(FALSE, TRUE, sizeof(triage_tap_block));
    for (guint i = 0; s->model && i < closed->len; i++) {
        const triage_closed *c = &g_array_index(closed, triage_closed, i);
        const triage_result *r = c->slot == 0 ? triage_run_block_result(triage.run, 0, c->id) : NULL;
        if (r == NULL)
            continue;
        triage_tap_block tb;
        memset(&tb, 0, sizeof tb);
        tap_block(&tb, s, c->id, c->flow, c->block, r);
        tb.packets = r->n_packets;
        tb.bytes = r->n_bytes;
        g_array_append_val(blocks, tb);
    }
    triage_stats_add_final((const triage_tap_block *)(void *)blocks->data, blocks->len);
    g_array_free(blocks, TRUE);
    g_array_free(closed, TRUE);
}

static void
triage_shutdown(void)
{
    triage_run_free(triage.run);
    triage.run = NULL;
    if (triage.scratch)
        g_array_free(triage.scratch, TRUE);
    triage.scratch = NULL;
    triage_prefs_shutdown();
}

/* ---- display ------------------------------------------------------------- */

static const char *
block_status(const triage_result *r, double thr)
{
    switch (r->state) {
    case TRIAGE_BLOCK_CLASSIFIED:
        return r->confidence < thr ? str.low_confidence : str.classified;
    case TRIAGE_BLOCK_TOO_FEW:
        return str.too_few;
    default:
        return str.no_usable;
    }
}

/* Class name of a result, or "unknown" (not classified / below threshold);
 * interned, as the tap's consumers compare them by pointer. */
static const char *
block_class(const triage_slot *s, const triage_result *r, double thr)
{
    if (r->state != TRIAGE_BLOCK_CLASSIFIED || r->confidence < thr || r->top >= s->model->n_classes)
        return str.unknown;
    return s->class_names[r->top];
}

/* Whether a filter, coloring rule, column or -e refers to this field
 * (Wireshark's own per-item faking test). */
static gboolean
hf_referenced(int hf)
{
    return hf > 0 && proto_registrar_get_nth(hf)->ref_type != HF_REF_TYPE_NONE;
}

/* Whether the protocol item's summary text ("voip (0.912), flow 3 block 0")
 * can be seen: a visible tree (packet details, -V) or the protocol field
 * referenced (a filter or -e triage). Otherwise formatting it would cost a
 * printf per packet for nothing (tests/bench/FINDINGS.md F7). */
static gboolean
want_text(proto_tree *tree)
{
    return tree != NULL && (PTREE_DATA(tree)->visible || hf_referenced(proto_triage));
}

/* Whether this dissection can use anything the plugin adds: a listener of
 * its tap or of the expert infos, a visible tree, or one of its fields
 * (the protocol, a field, an expert info) referenced by a filter, a
 * coloring rule or a column. Otherwise the display is skipped: the GUI's
 * loading pass builds an invisible tree for the coloring rules on every
 * frame, and filling the plugin's part of it cost ~+30% of the load time
 * (FINDINGS F7). The same test Wireshark applies to each item, for the
 * whole subtree at once. */
static gboolean
display_needed(proto_tree *tree)
{
    if (have_tap_listener(triage.tap))
        return TRUE;
    if (triage.expert_tap <= 0 || have_tap_listener(triage.expert_tap))
        return TRUE;
    if (tree == NULL)
        return FALSE;
    if (PTREE_DATA(tree)->visible)
        return TRUE;
    static const int *const hfs[] = {
        &proto_triage, &hf_category, &hf_confidence, &hf_flow, &hf_reverse_flow, &hf_block,
        &hf_status, &hf_model, &hf_packets, &hf_ip_len, &hf_tunnel, &hf_tunnel_confidence,
        &hf_app, &hf_app_confidence, &hf_closed, &hf_closed_category, &hf_closed_confidence,
        &hf_closed_flow, &hf_closed_block, &hf_closed_status, &hf_closed_packets,
        &hf_conv_category, &hf_conv_confidence,
        &ei_pending.hf, &ei_pending_live.hf, &ei_provisional.hf, &ei_too_few.hf, &ei_truncated.hf, &ei_no_model.hf,
    };
    for (guint i = 0; i < G_N_ELEMENTS(hfs); i++)
        if (hf_referenced(*hfs[i]))
            return TRUE;
    /* Wireshark's generic expert fields (_ws.expert.message, ...) */
    for (guint i = 0; i < G_N_ELEMENTS(triage.expert_hfs); i++)
        if (hf_referenced(triage.expert_hfs[i]))
            return TRUE;
    return FALSE;
}

/* The "pending" chat-level expert info marks nearly every packet of the
 * first pass. Worth its cost (an expert subtree per packet) only where it
 * can be seen: a visible tree (single-pass tshark -V, live capture details),
 * a listener of the expert tap (-z expert, the Expert Information dialog),
 * or a filter on triage.pending. The GUI's loading pass (an invisible tree
 * for the coloring rules) has none of them, and it re-dissects what it shows
 * once the results are known (FINDINGS F7). */
static gboolean
want_pending_info(proto_tree *tree)
{
    if (tree != NULL && PTREE_DATA(tree)->visible)
        return TRUE;
    if (triage.expert_tap <= 0 || have_tap_listener(triage.expert_tap))
        return TRUE;
    return hf_referenced(ei_pending.hf);
}

/* Whether anything of this dissection may be printed or filtered on now: a
 * protocol tree is built (lines with custom columns, fields, details, a
 * display filter). Only then is a provisional result worth its
 * classification: the reports count a provisional packet as pending, and
 * tshark -2's first pass builds no tree unless a filter (-Y, -R) needs one.
 * (Whether the tree is visible or columns are filled differs between
 * Wireshark versions for -T fields, so neither can tell.) */
static gboolean
may_be_printed(proto_tree *tree)
{
    return tree != NULL;
}

static proto_item *
add_gen_string(proto_tree *t, int hf, tvbuff_t *tvb, const char *v)
{
    proto_item *it = proto_tree_add_string(t, hf, tvb, 0, 0, v);
    proto_item_set_generated(it);
    return it;
}

static proto_item *
add_gen_uint(proto_tree *t, int hf, tvbuff_t *tvb, guint32 v)
{
    proto_item *it = proto_tree_add_uint(t, hf, tvb, 0, 0, v);
    proto_item_set_generated(it);
    return it;
}

/* Label and custom-column text of the confidence fields (BASE_CUSTOM):
 * always 3 decimals, so a column of them lines up (0.800, not 0.8). */
static void
format_confidence(gchar *buf, double v)
{
    snprintf(buf, ITEM_LABEL_LENGTH, "%.3f", v);
}

static proto_item *
add_gen_confidence(proto_tree *t, int hf, tvbuff_t *tvb, double conf)
{
    proto_item *it = proto_tree_add_double(t, hf, tvb, 0, 0, tt_confidence_shown(conf));
    proto_item_set_generated(it);
    return it;
}

/* Fill a tap record for a finished block (block id `id`). */
static void
tap_block(triage_tap_block *tb, const triage_slot *s, guint32 id, guint32 flow, guint32 block,
          const triage_result *r)
{
    const triage_flow *f = triage_run_flow(triage.run, s->index, flow);
    tb->flow = flow;
    tb->block = block;
    tb->key = f ? &f->key : NULL;
    tb->category = block_class(s, r, triage_threshold(s));
    tb->status = block_status(r, triage_threshold(s));
    tb->confidence = tt_confidence_shown(r->confidence);
    triage_result conv;
    tb->conv_mate = triage_conv_result(triage.run, s->index, id, r, &conv);
    tb->conv_category = block_class(s, &conv, triage_threshold(s));
}

/* The blocks this packet closed, for the primary model: a separate subtree
 * (triage.closed.*) so that filters on triage.category see only the packet's
 * own block. Also returns them as tap records when `tap` is set. */
static void
show_closed(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, const triage_frame *fr,
            triage_tap_info *tap, wmem_allocator_t *pool)
{
    if (!(fr->status & TRIAGE_FRAME_CLOSED))
        return;
    const triage_slot *s = &triage.run->slots[0];
    const triage_frame_closed *closed;
    guint n = triage_frames_closed(pinfo->num, &closed);
    if (tap && n)
        tap->closed = wmem_alloc0_array(pool, triage_tap_block, n);
    for (guint i = 0; i < n; i++) {
        guint32 id = closed[i].id;
        const triage_result *r = triage_run_block_result(triage.run, 0, id);
        if (r == NULL)
            continue;
        guint32 flow, block;
        triage_run_block_where(triage.run, 0, id, &flow, &block);
        const char *cls = block_class(s, r, triage_threshold(s));
        proto_item *ci = proto_tree_add_item(t, hf_closed, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(ci);
        if (want_text(t)) {
            unsigned m = tt_confidence_milli(r->confidence);
            proto_item_append_text(ci, ": flow %u block %u -> %s (%u.%03u)", flow, block, cls, m / 1000, m % 1000);
        }
        proto_tree *ct = proto_item_add_subtree(ci, ett_triage_closed);
        add_gen_string(ct, hf_closed_category, tvb, cls);
        add_gen_confidence(ct, hf_closed_confidence, tvb, r->confidence);
        add_gen_uint(ct, hf_closed_flow, tvb, flow);
        add_gen_uint(ct, hf_closed_block, tvb, block);
        add_gen_string(ct, hf_closed_status, tvb, block_status(r, triage_threshold(s)));
        add_gen_uint(ct, hf_closed_packets, tvb, r->n_packets);
        if (tap) {
            triage_tap_block *tb = &tap->closed[tap->n_closed++];
            tap_block(tb, s, id, flow, block, r);
            tb->packets = r->n_packets;
            tb->bytes = r->n_bytes;
        }
    }
}

/* triage.conversation.*: the block's answer pooled with the reverse flow's
 * block of the same index (triage-conv.h), shown like triage.category. Only
 * computed where it can be seen (a visible tree or a reference to one of
 * the two fields): the lookup walks the reverse flow's blocks. */
static void
show_conversation(proto_tree *t, tvbuff_t *tvb, proto_tree *tree, const triage_slot *s,
                  guint32 id, const triage_result *r)
{
    if (tree == NULL || !(PTREE_DATA(tree)->visible || hf_referenced(hf_conv_category) ||
                          hf_referenced(hf_conv_confidence)))
        return;
    triage_result conv;
    triage_conv_result(triage.run, s->index, id, r, &conv);
    add_gen_string(t, hf_conv_category, tvb, block_class(s, &conv, triage_threshold(s)));
    add_gen_confidence(t, hf_conv_confidence, tvb, conv.confidence);
}

/* Result fields of an extra model (tunnel, app) for this packet. `category` is
 * the packet's triage.category, NULL without a category model: an application
 * (video platform) model answers only for packets the category model calls
 * video, where its question makes sense. */
static void
show_extra(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, proto_item *ti,
           const triage_frame *fr, guint si, gboolean have_category, const char *category)
{
    triage_slot *s = &triage.run->slots[si];
    if (s->model == NULL) {
        expert_add_info_format(pinfo, ti, &ei_no_model, "%s", s->error ? s->error : "model not loaded");
        return;
    }
    guint32 id = si < fr->n_ids ? fr->ids[si] : 0;
    if (s->role >= TRIAGE_ROLE_COUNT || id == 0)
        return;
    if (s->role == TRIAGE_ROLE_APP && have_category && g_strcmp0(category, "video") != 0)
        return;
    const triage_result *r = PINFO_FD_VISITED(pinfo)
        ? triage_run_block_result_now(triage.run, si, id)
        : triage_run_block_result(triage.run, si, id);
    if (r == NULL)
        return;   /* pending: the primary model's status already says so */
    add_gen_string(t, *hf_role_class[s->role], tvb, block_class(s, r, triage_threshold(s)));
    add_gen_confidence(t, *hf_role_conf[s->role], tvb, r->confidence);
}

static void
triage_display(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const triage_frame *fr)
{
    triage_run *run = triage.run;
    gboolean visited = PINFO_FD_VISITED(pinfo);
    /* tap records only for a listener (-z triage,..., Statistics dialogs) */
    triage_tap_info *tap = have_tap_listener(triage.tap) ? wmem_new0(pinfo->pool, triage_tap_info) : NULL;
    guint32 ip_len = fr->status & TRIAGE_FRAME_LEN_MASK;

    proto_item *ti = proto_tree_add_item(tree, proto_triage, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    proto_tree *t = proto_item_add_subtree(ti, ett_triage);

    const triage_slot *s = run->n_slots ? &run->slots[0] : NULL;
    if (s == NULL || s->model == NULL) {
        add_gen_string(t, hf_category, tvb, str.unknown);
        add_gen_string(t, hf_status, tvb, str.no_model);
        add_gen_string(t, hf_model, tvb, s ? s->label : "none");
        expert_add_info_format(pinfo, ti, &ei_no_model, "%s",
                               s && s->error ? s->error : "TrafficTriage: no model configured");
        proto_item_append_text(ti, ": no model");
        for (guint si = 1; si < run->n_slots; si++)   /* the other models still answer */
            show_extra(t, tvb, pinfo, ti, fr, si, FALSE, NULL);
        if (tap) {
            tap->has_current = TRUE;
            tap->current.category = str.unknown;
            tap->current.conv_category = str.unknown;
            tap->current.status = str.no_model;
            tap->current.packets = 1;
            tap->current.bytes = ip_len;
            tap_queue_packet(triage.tap, pinfo, tap);
        }
        return;
    }

    guint32 id = fr->n_ids ? fr->ids[0] : 0;
    guint32 flow, block;
    triage_run_block_where(run, 0, id, &flow, &block);
    gboolean first = (fr->status & TRIAGE_FRAME_FIRST) != 0;
    const triage_result *r = NULL;
    gboolean provisional = FALSE;     /* r is of a block still open */
    if (id != 0 && visited) {
        r = triage_run_block_result_now(run, 0, id);
        provisional = r != NULL && triage_run_block_open(run, 0, id);
    } else if (id != 0) {
        r = triage_run_block_result(run, 0, id);
        if (r == NULL && triage.streaming && may_be_printed(tree)) {
            r = triage_run_block_result_provisional(run, 0, id);
            provisional = r != NULL;
        }
    }

    const char *cls = NULL;
    if (r) {
        cls = block_class(s, r, triage_threshold(s));
        add_gen_string(t, hf_category, tvb, cls);
        add_gen_confidence(t, hf_confidence, tvb, r->confidence);
        show_conversation(t, tvb, tree, s, id, r);
    }
    add_gen_uint(t, hf_flow, tvb, flow);
    const triage_flow *f = triage_run_flow(run, 0, flow);
    if (f && f->reverse)
        add_gen_uint(t, hf_reverse_flow, tvb, f->reverse);
    add_gen_uint(t, hf_block, tvb, block);
    proto_item *st;
    if (r) {
        st = add_gen_string(t, hf_status, tvb, provisional ? str.provisional : block_status(r, triage_threshold(s)));
        add_gen_uint(t, hf_packets, tvb, r->n_packets);
    } else {
        st = add_gen_string(t, hf_status, tvb, str.pending);
    }
    add_gen_string(t, hf_model, tvb, s->label);
    add_gen_uint(t, hf_ip_len, tvb, ip_len);

    for (guint si = 1; si < run->n_slots; si++)
        show_extra(t, tvb, pinfo, ti, fr, si, TRUE, cls);

    show_closed(t, tvb, pinfo, fr, visited ? NULL : tap, pinfo->pool);

    gboolean text = want_text(tree);
    if (r) {
        if (text) {   /* integers only: a per-packet printf of a double cost ~1 % of tshark -T fields */
            unsigned m = tt_confidence_milli(r->confidence);
            proto_item_append_text(ti, ": %s (%u.%03u%s), flow %u block %u", cls, m / 1000, m % 1000,
                                   provisional ? ", provisional" : "", flow, block);
        }
        if (provisional && want_pending_info(tree))
            expert_add_info_format(pinfo, st, &ei_provisional,
                                   "Block still open: provisional result from its first %u packets",
                                   r->n_packets);
        if (r->state == TRIAGE_BLOCK_TOO_FEW && first && !provisional)
            expert_add_info_format(pinfo, st, &ei_too_few,
                                   "Block has too few packets to classify (%u < %u)",
                                   r->n_packets, s->model->spec.min_packets);
        if (r->truncated && (fr->status & TRIAGE_FRAME_AT_CAP))
            expert_add_info_format(pinfo, st, &ei_truncated,
                                   "Block truncated: %u packets, only the first %u are used",
                                   r->n_packets, r->n_stored);
        if (tap && !visited && provisional) {
            /* counted when the block closes (closed[]), as a pending packet is */
            tap->pending = TRUE;
            tap->current.flow = flow;
            tap->current.block = block;
        } else if (tap) {
            tap->has_current = TRUE;
            tap_block(&tap->current, s, id, flow, block, r);
            if (provisional)                 /* GUI, block still open */
                tap->current.status = str.provisional;
            tap->current.packets = 1;
            tap->current.bytes = ip_len;
            tap->current.first_in_block = first;
        }
    } else {
        if (text)
            proto_item_append_text(ti, ": pending, flow %u block %u", flow, block);
        if (want_pending_info(tree))
            expert_add_info(pinfo, st, triage.live ? &ei_pending_live : &ei_pending);
        if (tap) {
            tap->pending = TRUE;
            tap->current.flow = flow;
            tap->current.block = block;
        }
    }
    if (tap && (tap->has_current || tap->n_closed || tap->pending))
        tap_queue_packet(triage.tap, pinfo, tap);
}

/* ---- the post-dissector -------------------------------------------------- */

/* First pass: feed the packet to the engines and keep its frame record. */
static gboolean
triage_take_frame(packet_info *pinfo, triage_frame *fr)
{
    tt_packet pkt;
    if (!triage_extract_packet(pinfo, &pkt))
        return FALSE;
    triage_ref refs[TRIAGE_MAX_MODELS];
    g_array_set_size(triage.scratch, 0);
    triage_run_add(triage.run, &pkt, refs, triage.scratch);

    memset(fr, 0, sizeof *fr);
    fr->status = TRIAGE_FRAME_PRESENT | MIN(pkt.ip_len, TRIAGE_FRAME_LEN_MASK);
    fr->n_ids = MIN(triage.run->n_slots, TRIAGE_MAX_MODELS);
    for (guint i = 0; i < fr->n_ids; i++)
        fr->ids[i] = refs[i].id;
    const triage_slot *s = triage.run->n_slots ? &triage.run->slots[0] : NULL;
    if (refs[0].index == 0)
        fr->status |= TRIAGE_FRAME_FIRST;
    if (s && s->model && refs[0].index == s->model->spec.max_packets)
        fr->status |= TRIAGE_FRAME_AT_CAP;
    /* only the primary model's closed blocks are shown (triage.closed.*) */
    for (guint i = 0; i < triage.scratch->len; i++) {
        const triage_closed *c = &g_array_index(triage.scratch, triage_closed, i);
        if (c->slot == 0) {
            fr->status |= TRIAGE_FRAME_CLOSED;
            triage_frames_log_closed(pinfo->num, c->id);
        }
    }
    triage_frames_put(pinfo->num, fr);
    return TRUE;
}

static int
dissect_triage(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (!triage_prefs_enabled() || triage.run == NULL)
        return 0;

    triage_frame fr;
    if (!triage_frames_get(pinfo->num, &fr)) {
        if (PINFO_FD_VISITED(pinfo))
            return 0;               /* not TCP/UDP over IP (or arrived while disabled) */
        if (!triage_take_frame(pinfo, &fr))
            return 0;
    }
    /* Nobody to show anything to (tshark -2's first pass, the GUI's
     * loading pass): skip the display work (FINDINGS F7). */
    if (!display_needed(tree))
        return 0;
    triage_display(tvb, pinfo, tree, &fr);
    return 0;
}

/* ---- registration -------------------------------------------------------- */

static void
proto_register_triage(void)
{
    str.unknown = g_intern_static_string("unknown");
    str.classified = g_intern_static_string("classified");
    str.low_confidence = g_intern_static_string("low confidence");
    str.too_few = g_intern_static_string("too few packets");
    str.no_usable = g_intern_static_string("no usable packets");
    str.no_model = g_intern_static_string("no model");
    str.pending = g_intern_static_string("pending");
    str.provisional = g_intern_static_string("provisional");

    static hf_register_info hf[] = {
        { &hf_category, { "Category", "triage.category", FT_STRING, BASE_NONE, NULL, 0x0,
          "Traffic category of this packet's flow block (\"unknown\" below the confidence threshold)", HFILL } },
        { &hf_confidence, { "Confidence", "triage.confidence", FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0,
          "Model probability of the top category (0..1, 3 decimals rounded down)", HFILL } },
        { &hf_conv_category, { "Conversation category", "triage.conversation.category", FT_STRING, BASE_NONE, NULL, 0x0,
          "Category of this time block of the conversation: the block's class probabilities pooled "
          "(mean) with those of the reverse flow's block of the same index; the block's own answer "
          "when that block is missing, unclassified or still open (\"unknown\" below the threshold)", HFILL } },
        { &hf_conv_confidence, { "Conversation confidence", "triage.conversation.confidence", FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0,
          "Pooled probability of the conversation category (0..1, 3 decimals rounded down)", HFILL } },
        { &hf_flow, { "Flow", "triage.flow", FT_UINT32, BASE_DEC, NULL, 0x0,
          "Unidirectional flow number (directed 5-tuple of the innermost IP header)", HFILL } },
        { &hf_reverse_flow, { "Reverse flow", "triage.reverse_flow", FT_UINT32, BASE_DEC, NULL, 0x0,
          "Flow number of the opposite direction", HFILL } },
        { &hf_block, { "Block", "triage.block", FT_UINT32, BASE_DEC, NULL, 0x0,
          "Time block index within the flow", HFILL } },
        { &hf_status, { "Status", "triage.status", FT_STRING, BASE_NONE, NULL, 0x0,
          "classified, low confidence, provisional (the block is still open), pending, too few packets, no usable packets, no model", HFILL } },
        { &hf_model, { "Model", "triage.model", FT_STRING, BASE_NONE, NULL, 0x0,
          "Model name and the first 12 hex digits of its SHA-256", HFILL } },
        { &hf_packets, { "Packets in block", "triage.packets", FT_UINT32, BASE_DEC, NULL, 0x0,
          NULL, HFILL } },
        { &hf_ip_len, { "IP length", "triage.ip_len", FT_UINT32, BASE_DEC, NULL, 0x0,
          "Length of the innermost IP packet, header included: the size this packet has in the FlowPic", HFILL } },
        { &hf_tunnel, { "Tunnel", "triage.tunnel", FT_STRING, BASE_NONE, NULL, 0x0,
          "Result of the tunnel model (extra model, task \"tunnel\")", HFILL } },
        { &hf_tunnel_confidence, { "Tunnel confidence", "triage.tunnel_confidence", FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0,
          NULL, HFILL } },
        { &hf_app, { "Application", "triage.app", FT_STRING, BASE_NONE, NULL, 0x0,
          "Result of the application/platform model (extra model, task \"platform\" or \"app\")", HFILL } },
        { &hf_app_confidence, { "Application confidence", "triage.app_confidence", FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0,
          NULL, HFILL } },
        { &hf_closed, { "Block closed by this packet", "triage.closed", FT_NONE, BASE_NONE, NULL, 0x0,
          "A block of some flow that this packet finished, with its result", HFILL } },
        { &hf_closed_category, { "Category", "triage.closed.category", FT_STRING, BASE_NONE, NULL, 0x0,
          NULL, HFILL } },
        { &hf_closed_confidence, { "Confidence", "triage.closed.confidence", FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0,
          NULL, HFILL } },
        { &hf_closed_flow, { "Flow", "triage.closed.flow", FT_UINT32, BASE_DEC, NULL, 0x0,
          NULL, HFILL } },
        { &hf_closed_block, { "Block", "triage.closed.block", FT_UINT32, BASE_DEC, NULL, 0x0,
          NULL, HFILL } },
        { &hf_closed_status, { "Status", "triage.closed.status", FT_STRING, BASE_NONE, NULL, 0x0,
          NULL, HFILL } },
        { &hf_closed_packets, { "Packets", "triage.closed.packets", FT_UINT32, BASE_DEC, NULL, 0x0,
          NULL, HFILL } },
    };
    static gint *ett[] = { &ett_triage, &ett_triage_closed };
    static ei_register_info ei[] = {
        { &ei_pending, { "triage.pending", PI_SEQUENCE, PI_CHAT,
          "Block still open: its category comes with a later packet (use tshark -2 to label every packet)", EXPFILL } },
        { &ei_pending_live, { "triage.pending_live", PI_SEQUENCE, PI_CHAT,
          "Block still open: a provisional category comes once it has enough packets, the final one with the packet that closes it (triage.closed.*)", EXPFILL } },
        { &ei_provisional, { "triage.provisional", PI_SEQUENCE, PI_CHAT,
          "Block still open: provisional result from its packets so far", EXPFILL } },
        { &ei_too_few, { "triage.too_few", PI_SEQUENCE, PI_NOTE,
          "Block has too few packets to classify", EXPFILL } },
        { &ei_truncated, { "triage.truncated", PI_SEQUENCE, PI_NOTE,
          "Block truncated by the model's packet cap", EXPFILL } },
        { &ei_no_model, { "triage.no_model", PI_UNDECODED, PI_ERROR,
          "TrafficTriage model failed to load", EXPFILL } },
    };

    proto_triage = proto_register_protocol("TrafficTriage", "TrafficTriage", "triage");
    proto_register_field_array(proto_triage, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_module_t *em = expert_register_protocol(proto_triage);
    expert_register_field_array(em, ei, array_length(ei));


    triage.run = triage_run_new();
    triage_prefs_register(proto_triage, triage.run);
    triage.scratch = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    triage.handle = create_dissector_handle(dissect_triage, proto_triage);
    register_postdissector(triage.handle);
    triage.tap = register_tap(TRIAGE_TAP_NAME);
    triage.expert_tap = 0;          /* looked up per file (triage_init), once registered */
    triage_menu_register(proto_triage, triage.run);   /* Tools > TrafficTriage */

    register_init_routine(triage_init);
    register_cleanup_routine(triage_cleanup);
    register_postseq_cleanup_routine(triage_postseq);
    register_shutdown_routine(triage_shutdown);
}

static void
proto_reg_handoff_triage(void)
{
    triage_extract_lookup_prefs();
}

#if TRIAGE_HAVE_PLUGIN_DESCRIBE
uint32_t
plugin_describe(void)
{
    return TRIAGE_PLUGIN_DESC;
}
#endif

void
plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_triage;
    plug.register_handoff = proto_reg_handoff_triage;
    proto_register_plugin(&plug);

    static tap_plugin tplug;
    tplug.register_tap_listener = triage_stats_register;
    tap_register_plugin(&tplug);
}
