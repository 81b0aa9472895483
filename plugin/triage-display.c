/* TrafficTriage plugin: what a packet shows (see triage-display.h). */
#include "triage-display.h"

#include <epan/expert.h>

#include "triage-conv.h"
#include "triage-prefs.h"
#include "triage-stats.h"

/* ---- fields, subtrees, expert infos --------------------------------------
 * One table each, registered by triage_display_register; the same tables
 * give triage_display_needed the ids it asks about. */

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

/* Label and custom-column text of the confidence fields (BASE_CUSTOM):
 * always 3 decimals, so a column of them lines up (0.800, not 0.8). */
static void
format_confidence(gchar *buf, double v)
{
    snprintf(buf, ITEM_LABEL_LENGTH, "%.3f", v);
}

/* The kinds of field the plugin adds (all generated, none from packet bytes):
 * a word, a count, a confidence (0..1 shown with 3 decimals), the head of a
 * subtree. */
#define TEXT_FIELD(id, name, abbrev, blurb) \
    { &id, { name, abbrev, FT_STRING, BASE_NONE, NULL, 0x0, blurb, HFILL } }
#define NUMBER_FIELD(id, name, abbrev, blurb) \
    { &id, { name, abbrev, FT_UINT32, BASE_DEC, NULL, 0x0, blurb, HFILL } }
#define CONFIDENCE_FIELD(id, name, abbrev, blurb) \
    { &id, { name, abbrev, FT_DOUBLE, BASE_CUSTOM, CF_FUNC(format_confidence), 0x0, blurb, HFILL } }
#define SUBTREE_FIELD(id, name, abbrev, blurb) \
    { &id, { name, abbrev, FT_NONE, BASE_NONE, NULL, 0x0, blurb, HFILL } }

static hf_register_info fields[] = {
    TEXT_FIELD(hf_category, "Category", "triage.category",
        "Traffic category of this packet's flow block (\"unknown\" below the confidence threshold)"),
    CONFIDENCE_FIELD(hf_confidence, "Confidence", "triage.confidence",
        "Model probability of the top category (0..1, 3 decimals rounded down)"),
    TEXT_FIELD(hf_conv_category, "Conversation category", "triage.conversation.category",
        "Category of this time block of the conversation: the block's class probabilities pooled "
        "(mean) with those of the reverse flow's block of the same index; the block's own answer "
        "when that block is missing, unclassified or still open (\"unknown\" below the threshold)"),
    CONFIDENCE_FIELD(hf_conv_confidence, "Conversation confidence", "triage.conversation.confidence",
        "Pooled probability of the conversation category (0..1, 3 decimals rounded down)"),
    NUMBER_FIELD(hf_flow, "Flow", "triage.flow",
        "Unidirectional flow number (directed 5-tuple of the innermost IP header)"),
    NUMBER_FIELD(hf_reverse_flow, "Reverse flow", "triage.reverse_flow",
        "Flow number of the opposite direction"),
    NUMBER_FIELD(hf_block, "Block", "triage.block", "Time block index within the flow"),
    TEXT_FIELD(hf_status, "Status", "triage.status",
        "classified, low confidence, provisional (the block is still open), pending, too few packets, "
        "no usable packets, no model"),
    TEXT_FIELD(hf_model, "Model", "triage.model", "Model name and the first 12 hex digits of its SHA-256"),
    NUMBER_FIELD(hf_packets, "Packets in block", "triage.packets", NULL),
    NUMBER_FIELD(hf_ip_len, "IP length", "triage.ip_len",
        "Length of the innermost IP packet, header included: the size this packet has in the FlowPic"),
    TEXT_FIELD(hf_tunnel, "Tunnel", "triage.tunnel",
        "Result of the tunnel model (extra model, task \"tunnel\")"),
    CONFIDENCE_FIELD(hf_tunnel_confidence, "Tunnel confidence", "triage.tunnel_confidence", NULL),
    TEXT_FIELD(hf_app, "Application", "triage.app",
        "Result of the application/platform model (extra model, task \"platform\" or \"app\")"),
    CONFIDENCE_FIELD(hf_app_confidence, "Application confidence", "triage.app_confidence", NULL),
    SUBTREE_FIELD(hf_closed, "Block closed by this packet", "triage.closed",
        "A block of some flow that this packet finished, with its result"),
    TEXT_FIELD(hf_closed_category, "Category", "triage.closed.category", NULL),
    CONFIDENCE_FIELD(hf_closed_confidence, "Confidence", "triage.closed.confidence", NULL),
    NUMBER_FIELD(hf_closed_flow, "Flow", "triage.closed.flow", NULL),
    NUMBER_FIELD(hf_closed_block, "Block", "triage.closed.block", NULL),
    TEXT_FIELD(hf_closed_status, "Status", "triage.closed.status", NULL),
    NUMBER_FIELD(hf_closed_packets, "Packets", "triage.closed.packets", NULL),
};
static gint *subtrees[] = { &ett_triage, &ett_triage_closed };
static ei_register_info expert_infos[] = {
    { &ei_pending, { "triage.pending", PI_SEQUENCE, PI_CHAT, "Block still open: its category comes "
      "with a later packet (use tshark -2 to label every packet)", EXPFILL } },
    { &ei_pending_live, { "triage.pending_live", PI_SEQUENCE, PI_CHAT, "Block still open: a provisional "
      "category comes once it has enough packets, the final one with the packet that closes it "
      "(triage.closed.*)", EXPFILL } },
    { &ei_provisional, { "triage.provisional", PI_SEQUENCE, PI_CHAT,
      "Block still open: provisional result from its packets so far", EXPFILL } },
    { &ei_too_few, { "triage.too_few", PI_SEQUENCE, PI_NOTE, "Block has too few packets to classify", EXPFILL } },
    { &ei_truncated, { "triage.truncated", PI_SEQUENCE, PI_NOTE, "Block truncated by the model's packet cap",
      EXPFILL } },
    { &ei_no_model, { "triage.no_model", PI_UNDECODED, PI_ERROR, "TrafficTriage model failed to load", EXPFILL } },
};

/* The status and category words, interned once at registration: the tap's
 * consumers compare them by pointer, and interning per packet cost a hash
 * lookup each (tests/bench/FINDINGS.md F7). */
static struct {
    const char *unknown, *classified, *low_confidence, *too_few, *no_usable, *no_model, *pending,
               *provisional;
} str;

static struct {
    triage_run *run;
    int         tap;            /* the "triage" tap */
    int         ids[1 + G_N_ELEMENTS(fields) + G_N_ELEMENTS(expert_infos)];
                                /* the protocol, each field, each expert info (registration) */
    int         expert_tap;     /* Wireshark's "expert" tap (0: not found) */
    int         expert_hfs[5];  /* _ws.expert and its fields (-1: not found) */
    gboolean    streaming;      /* first-pass results are shown as such (not the GUI) */
    gboolean    live;           /* this capture is live (a dumpcap child runs) */
} display;

void
triage_display_register(int proto, triage_run *run, int tap)
{
    str.unknown = g_intern_static_string(TT_LABEL_UNKNOWN);   /* the label core gives, tt_classify.h */
    str.classified = g_intern_static_string("classified");
    str.low_confidence = g_intern_static_string("low confidence");
    str.too_few = g_intern_static_string("too few packets");
    str.no_usable = g_intern_static_string("no usable packets");
    str.no_model = g_intern_static_string("no model");
    str.pending = g_intern_static_string("pending");
    str.provisional = g_intern_static_string("provisional");


    proto_triage = proto;
    proto_register_field_array(proto, fields, array_length(fields));
    proto_register_subtree_array(subtrees, array_length(subtrees));
    expert_module_t *em = expert_register_protocol(proto);
    expert_register_field_array(em, expert_infos, array_length(expert_infos));

    guint n = 0;
    display.ids[n++] = proto;
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++)
        display.ids[n++] = *fields[i].p_id;
    for (guint i = 0; i < G_N_ELEMENTS(expert_infos); i++)
        display.ids[n++] = expert_infos[i].ids->hf;
    display.run = run;
    display.tap = tap;
    display.expert_tap = 0;     /* looked up per file (triage_display_start), once registered */
}

void
triage_display_start(gboolean streaming, gboolean live)
{
    display.streaming = streaming;
    display.live = live;
    display.expert_tap = find_tap_id("expert");
    static const char *const expert_fields[G_N_ELEMENTS(display.expert_hfs)] = {
        "_ws.expert", "_ws.expert.message", "_ws.expert.severity", "_ws.expert.group", "_ws.expert.groups",
    };
    for (guint i = 0; i < G_N_ELEMENTS(expert_fields); i++)
        display.expert_hfs[i] = proto_registrar_get_id_byname(expert_fields[i]);
}

/* ---- what a packet shows ------------------------------------------------- */

static const char *
block_status(const triage_result *r, double thr)
{
    switch (r->state) {
    case TRIAGE_BLOCK_CLASSIFIED:
        return tt_below_threshold(r->confidence, thr) ? str.low_confidence : str.classified;
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
    if (r->state != TRIAGE_BLOCK_CLASSIFIED || tt_below_threshold(r->confidence, thr) ||
        r->top >= s->model->n_classes)
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
gboolean
triage_display_needed(proto_tree *tree)
{
    if (have_tap_listener(display.tap))
        return TRUE;
    if (display.expert_tap <= 0 || have_tap_listener(display.expert_tap))
        return TRUE;
    if (tree == NULL)
        return FALSE;
    if (PTREE_DATA(tree)->visible)
        return TRUE;
    for (guint i = 0; i < G_N_ELEMENTS(display.ids); i++)
        if (hf_referenced(display.ids[i]))
            return TRUE;
    /* Wireshark's generic expert fields (_ws.expert.message, ...) */
    for (guint i = 0; i < G_N_ELEMENTS(display.expert_hfs); i++)
        if (hf_referenced(display.expert_hfs[i]))
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
    if (display.expert_tap <= 0 || have_tap_listener(display.expert_tap))
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
    const triage_flow *f = triage_run_flow(display.run, s->index, flow);
    double thr = triage_threshold(s);
    tb->flow = flow;
    tb->block = block;
    tb->key = f ? &f->key : NULL;
    tb->category = block_class(s, r, thr);
    tb->status = block_status(r, thr);
    tb->confidence = tt_confidence_shown(r->confidence);
    triage_result conv;
    tb->conv_mate = triage_conv_result(display.run, s->index, id, r, &conv);
    tb->conv_category = block_class(s, &conv, thr);
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
    const triage_slot *s = triage_run_slot(display.run, 0);
    double thr = triage_threshold(s);
    const triage_frame_closed *closed;
    guint n = triage_frames_closed(pinfo->num, &closed);
    if (tap && n)
        tap->closed = wmem_alloc0_array(pool, triage_tap_block, n);
    for (guint i = 0; i < n; i++) {
        guint32 id = closed[i].id;
        const triage_result *r = triage_run_block_result(display.run, 0, id);
        if (r == NULL)
            continue;
        guint32 flow, block;
        triage_run_block_where(display.run, 0, id, &flow, &block);
        const char *cls = block_class(s, r, thr);
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
        add_gen_string(ct, hf_closed_status, tvb, block_status(r, thr));
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
                  double thr, guint32 id, const triage_result *r)
{
    if (tree == NULL || !(PTREE_DATA(tree)->visible || hf_referenced(hf_conv_category) ||
                          hf_referenced(hf_conv_confidence)))
        return;
    triage_result conv;
    triage_conv_result(display.run, s->index, id, r, &conv);
    add_gen_string(t, hf_conv_category, tvb, block_class(s, &conv, thr));
    add_gen_confidence(t, hf_conv_confidence, tvb, conv.confidence);
}

/* Result fields of an extra model (tunnel, app) for this packet. `category` is
 * the packet's triage.category, NULL without a category model: an application
 * (video platform) model answers only for packets the category model calls
 * video, where its question makes sense. */
static void
show_extra(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, proto_item *ti,
           const triage_frame *fr, const triage_slot *s, gboolean have_category, const char *category)
{
    if (s->model == NULL) {
        expert_add_info_format(pinfo, ti, &ei_no_model, "%s", s->error ? s->error : "model not loaded");
        return;
    }
    guint si = s->index;
    guint32 id = si < fr->n_ids ? fr->ids[si] : 0;
    if (s->role >= TRIAGE_ROLE_COUNT || id == 0)
        return;
    if (s->role == TRIAGE_ROLE_APP && have_category && g_strcmp0(category, "video") != 0)
        return;
    const triage_result *r = PINFO_FD_VISITED(pinfo)
        ? triage_run_block_result_now(display.run, si, id)
        : triage_run_block_result(display.run, si, id);
    if (r == NULL)
        return;   /* pending: the primary model's status already says so */
    add_gen_string(t, *hf_role_class[s->role], tvb, block_class(s, r, triage_threshold(s)));
    add_gen_confidence(t, *hf_role_conf[s->role], tvb, r->confidence);
}

/* The fields of every extra model (slots 1, ...). */
static void
show_extras(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, proto_item *ti,
            const triage_frame *fr, gboolean have_category, const char *category)
{
    const triage_slot *s;
    for (guint si = 1; (s = triage_run_slot(display.run, si)) != NULL; si++)
        show_extra(t, tvb, pinfo, ti, fr, s, have_category, category);
}

void
triage_display(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const triage_frame *fr)
{
    triage_run *run = display.run;
    gboolean visited = PINFO_FD_VISITED(pinfo);
    /* tap records only for a listener (-z triage,..., Statistics dialogs) */
    triage_tap_info *tap = have_tap_listener(display.tap) ? wmem_new0(pinfo->pool, triage_tap_info) : NULL;
    guint32 ip_len = fr->status & TRIAGE_FRAME_LEN_MASK;

    proto_item *ti = proto_tree_add_item(tree, proto_triage, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    proto_tree *t = proto_item_add_subtree(ti, ett_triage);

    const triage_slot *s = triage_run_slot(run, 0);
    if (s == NULL || s->model == NULL) {
        add_gen_string(t, hf_category, tvb, str.unknown);
        add_gen_string(t, hf_status, tvb, str.no_model);
        add_gen_string(t, hf_model, tvb, s ? s->label : "none");
        expert_add_info_format(pinfo, ti, &ei_no_model, "%s",
                               s && s->error ? s->error : "TrafficTriage: no model configured");
        proto_item_append_text(ti, ": no model");
        show_extras(t, tvb, pinfo, ti, fr, FALSE, NULL);   /* the other models still answer */
        if (tap) {
            tap->has_current = TRUE;
            tap->current.category = str.unknown;
            tap->current.conv_category = str.unknown;
            tap->current.status = str.no_model;
            tap->current.packets = 1;
            tap->current.bytes = ip_len;
            tap_queue_packet(display.tap, pinfo, tap);
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
        if (r == NULL && display.streaming && may_be_printed(tree)) {
            r = triage_run_block_result_provisional(run, 0, id);
            provisional = r != NULL;
        }
    }

    double thr = triage_threshold(s);
    const char *cls = NULL;
    if (r) {
        cls = block_class(s, r, thr);
        add_gen_string(t, hf_category, tvb, cls);
        add_gen_confidence(t, hf_confidence, tvb, r->confidence);
        show_conversation(t, tvb, tree, s, thr, id, r);
    }
    add_gen_uint(t, hf_flow, tvb, flow);
    const triage_flow *f = triage_run_flow(run, 0, flow);
    if (f && f->reverse)
        add_gen_uint(t, hf_reverse_flow, tvb, f->reverse);
    add_gen_uint(t, hf_block, tvb, block);
    proto_item *st;
    if (r) {
        st = add_gen_string(t, hf_status, tvb, provisional ? str.provisional : block_status(r, thr));
        add_gen_uint(t, hf_packets, tvb, r->n_packets);
    } else {
        st = add_gen_string(t, hf_status, tvb, str.pending);
    }
    add_gen_string(t, hf_model, tvb, s->label);
    add_gen_uint(t, hf_ip_len, tvb, ip_len);

    show_extras(t, tvb, pinfo, ti, fr, TRUE, cls);

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
            expert_add_info(pinfo, st, display.live ? &ei_pending_live : &ei_pending);
        if (tap) {
            tap->pending = TRUE;
            tap->current.flow = flow;
            tap->current.block = block;
        }
    }
    if (tap && (tap->has_current || tap->n_closed || tap->pending))
        tap_queue_packet(display.tap, pinfo, tap);
}

/* ---- the end of a live capture ------------------------------------------ */

/* A live tshark capture stopped (triage-live.c): classify every block still
 * open, as the end-of-pass hook of tshark -2 does, and hand them to the
 * -z reports, which tshark draws next. */
void
triage_display_live_stop(void)
{
    const triage_slot *s = triage_run_slot(display.run, 0);
    if (s == NULL)
        return;
    GArray *closed = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    triage_run_flush_closed(display.run, closed);
    GArray *blocks = g_array_new(FALSE, TRUE, sizeof(triage_tap_block));
    for (guint i = 0; s->model && i < closed->len; i++) {
        const triage_closed *c = &g_array_index(closed, triage_closed, i);
        const triage_result *r = c->slot == 0 ? triage_run_block_result(display.run, 0, c->id) : NULL;
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
