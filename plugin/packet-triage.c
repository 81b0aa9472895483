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
#define _GNU_SOURCE 1          /* dladdr */
#include "ws-compat.h"

#include <dlfcn.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <wsutil/filesystem.h>

#include "triage-extract.h"
#include "triage-live.h"
#include "triage-prefs.h"
#include "triage-run.h"
#include "triage-conv.h"
#include "triage-stats.h"
#include "triage-menu.h"
#include "tt_nn.h"

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

static triage_prefs_t triage_prefs = {
    .enabled = TRUE,
    .model = "",
    .extra_models = "",
    .threshold = TRIAGE_DEFAULT_THRESHOLD,
    .max_flows = TRIAGE_DEFAULT_MAX_FLOWS,
    .threshold_set = FALSE,
    .threshold_value = TT_MODEL_DEFAULT_THRESHOLD,
};

static struct {
    dissector_handle_t handle;
    int                tap;
    int                expert_tap;  /* Wireshark's "expert" tap (0: not found) */
    int                expert_hfs[5]; /* _ws.expert and its fields (-1: not found) */
    triage_run        *run;
    GArray            *scratch;     /* triage_closed, one packet's worth */
    gboolean           streaming;   /* first-pass results are shown as such (not the GUI) */
    gboolean           live;        /* this capture is live (a dumpcap child runs) */
    char              *bad_threshold; /* last invalid threshold reported */
} triage;

/* The status and category words, interned once at registration: the tap's
 * consumers compare them by pointer, and interning per packet cost a hash
 * lookup each (tests/bench/FINDINGS.md F7). */
static struct {
    const char *unknown, *classified, *low_confidence, *too_few, *no_usable, *no_model, *pending,
               *provisional;
} str;

/* ---- per-frame bookkeeping ------------------------------------------------
 * What the first pass keeps per frame, for the later (visited) passes: one
 * status word and one block id per model slot (triage_ref.id: enough to find
 * the flow, block and result), in pages indexed by frame number. With one
 * model that is 8 bytes per frame and no allocation per frame (a wmem
 * file-scope record plus its proto_data list entry cost ~180 bytes per
 * frame: tests/bench/FINDINGS.md F2). The rare frames that close blocks of
 * the primary model are listed apart (closed_log, sorted by frame). */

#define FRAME_PAGE_SHIFT 16u                   /* 65536 frames per page */
#define FRAME_PAGE (1u << FRAME_PAGE_SHIFT)

#define FRAME_PRESENT   0x80000000u   /* TCP/UDP over IP: the plugin took the frame */
#define FRAME_CLOSED    0x40000000u   /* it closed blocks of the primary model */
#define FRAME_FIRST     0x20000000u   /* first packet of its primary block (index 0) */
#define FRAME_AT_CAP    0x10000000u   /* index == the primary model's packet cap */
#define FRAME_LEN_MASK  0x00ffffffu   /* IP length (at most 65535 + 40) */

typedef struct {
    guint32  status;                  /* FRAME_* flags and the IP length */
    guint32  n_ids;                   /* slots recorded in ids[] */
    guint32  ids[TRIAGE_MAX_MODELS];  /* block id per slot, 0 = not tracked */
} triage_frame;

typedef struct {
    guint32  num;                     /* frame number */
    guint32  id;                      /* block id (slot 0) the frame closed */
} frame_closed;

static struct {
    guint32   stride;                 /* words per frame: 1 + slots */
    guint32   n_pages;
    guint32 **pages;                  /* NULL until a frame of the page is stored */
    GArray   *closed_log;             /* frame_closed, sorted by num */
} frames;

static void
frames_reset(void)
{
    for (guint32 i = 0; i < frames.n_pages; i++)
        g_free(frames.pages[i]);
    g_free(frames.pages);
    frames.pages = NULL;
    frames.n_pages = 0;
    frames.stride = 0;
    if (frames.closed_log)
        g_array_free(frames.closed_log, TRUE);
    frames.closed_log = NULL;
}

/* The stored words of frame num, or NULL; `create` allocates its page. */
static guint32 *
frames_slot(guint32 num, gboolean create)
{
    if (frames.stride == 0) {
        if (!create)
            return NULL;
        /* fixed for the capture: the set of models only changes with a
         * redissection, which resets this store first */
        frames.stride = 1 + MAX(triage.run->n_slots, 1u);
        frames.closed_log = g_array_new(FALSE, FALSE, sizeof(frame_closed));
    }
    guint32 page = num >> FRAME_PAGE_SHIFT;
    if (page >= frames.n_pages) {
        if (!create)
            return NULL;
        guint32 n = MAX(page + 1, frames.n_pages * 2);
        frames.pages = g_renew(guint32 *, frames.pages, n);
        memset(frames.pages + frames.n_pages, 0, sizeof(guint32 *) * (n - frames.n_pages));
        frames.n_pages = n;
    }
    if (frames.pages[page] == NULL) {
        if (!create)
            return NULL;
        frames.pages[page] = g_malloc0(sizeof(guint32) * frames.stride * FRAME_PAGE);
    }
    return frames.pages[page] + (gsize)(num & (FRAME_PAGE - 1)) * frames.stride;
}

/* The frame's record, FALSE if the plugin did not take it. */
static gboolean
frames_get(guint32 num, triage_frame *fr)
{
    const guint32 *w = frames_slot(num, FALSE);
    if (w == NULL || !(w[0] & FRAME_PRESENT))
        return FALSE;
    fr->status = w[0];
    fr->n_ids = MIN(frames.stride - 1, TRIAGE_MAX_MODELS);
    memset(fr->ids, 0, sizeof fr->ids);
    memcpy(fr->ids, w + 1, sizeof(guint32) * fr->n_ids);
    return TRUE;
}

static void
frames_put(guint32 num, const triage_frame *fr)
{
    guint32 *w = frames_slot(num, TRUE);
    w[0] = fr->status;
    memcpy(w + 1, fr->ids, sizeof(guint32) * MIN(frames.stride - 1, TRIAGE_MAX_MODELS));
}

/* Remember that frame num closed block `id` of the primary model. Frames of
 * the first pass come in order, so this appends; anything else is inserted
 * in place to keep the log sorted. */
static void
frames_log_closed(guint32 num, guint32 id)
{
    frame_closed c = { num, id };
    GArray *a = frames.closed_log;
    guint i = a->len;
    while (i > 0 && g_array_index(a, frame_closed, i - 1).num > num)
        i--;
    g_array_insert_val(a, i, c);
}

/* Index of the first closed_log entry of frame num (binary search). */
static guint
frames_closed_first(guint32 num)
{
    const GArray *a = frames.closed_log;
    guint lo = 0, hi = a ? a->len : 0;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(a, frame_closed, mid).num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- models and preferences -------------------------------------------- */

/* <dir of the loaded triage.so>/triage/category.ttm; else the same under the
 * personal then the global plugin dir. Returns the first candidate when none
 * exists, so the error message names where the model was expected. */
static char *
bundled_model_path(void)
{
    GPtrArray *cand = g_ptr_array_new_with_free_func(g_free);
    Dl_info info;
    if (dladdr((void *)&plugin_register, &info) && info.dli_fname) {
        char *dir = g_path_get_dirname(info.dli_fname);
        g_ptr_array_add(cand, g_build_filename(dir, TRIAGE_BUNDLED_MODEL_DIR,
                                               TRIAGE_BUNDLED_MODEL_FILE, NULL));
        g_free(dir);
    }
    g_ptr_array_add(cand, g_build_filename(get_plugins_pers_dir_with_version(), "epan",
                                           TRIAGE_BUNDLED_MODEL_DIR, TRIAGE_BUNDLED_MODEL_FILE, NULL));
    g_ptr_array_add(cand, g_build_filename(get_plugins_dir_with_version(), "epan",
                                           TRIAGE_BUNDLED_MODEL_DIR, TRIAGE_BUNDLED_MODEL_FILE, NULL));
    char *found = NULL;
    for (guint i = 0; i < cand->len && !found; i++)
        if (g_file_test(g_ptr_array_index(cand, i), G_FILE_TEST_IS_REGULAR))
            found = g_strdup(g_ptr_array_index(cand, i));
    if (!found)
        found = g_strdup(g_ptr_array_index(cand, 0));
    g_ptr_array_free(cand, TRUE);
    return found;
}

/* Parse the threshold and (re)load the models if their files changed.
 * Called by Wireshark when a triage preference changed, and by the init
 * routine (Wireshark does not call apply callbacks for untouched modules). */
static void
triage_apply_prefs_load(gboolean load_models);
static void class_names_reset(void);

static void
triage_apply_prefs(void)
{
    triage_apply_prefs_load(TRUE);
}

/* Whether the post-dissector will run in this pass: the preference and the
 * protocol (Analyze > Enabled Protocols, --disable-protocol) both on. */
static gboolean
triage_active(void)
{
    return triage_prefs.enabled && proto_is_protocol_enabled(find_protocol_by_id(proto_triage));
}

static void
triage_apply_prefs_load(gboolean load_models)
{
    const char *txt = triage_prefs.threshold ? triage_prefs.threshold : "";
    while (g_ascii_isspace(*txt))
        txt++;
    char *end = NULL;
    double thr = g_ascii_strtod(txt, &end);
    while (end && g_ascii_isspace(*end))
        end++;
    if (*txt == '\0') {
        triage_prefs.threshold_set = FALSE;             /* each model's own */
    } else if (end == txt || *end != '\0' || !(thr >= 0.0 && thr <= 1.0)) {
        if (g_strcmp0(triage.bad_threshold, txt) != 0) {   /* say it once */
            ws_warning("TrafficTriage: threshold \"%s\" is not a number in [0, 1]; keeping %s",
                       txt, triage_prefs.threshold_set ? "the previous one" : "each model's own");
            g_free(triage.bad_threshold);
            triage.bad_threshold = g_strdup(txt);
        }
    } else {
        triage_prefs.threshold_set = TRUE;
        triage_prefs.threshold_value = thr;
    }

    if (!load_models)
        return;
    char *primary = (triage_prefs.model && *triage_prefs.model) ? g_strdup(triage_prefs.model) : bundled_model_path();
    class_names_reset();
    if (triage_run_set_models(triage.run, primary, triage_prefs.extra_models,
                              triage_prefs.max_flows ? triage_prefs.max_flows : TRIAGE_DEFAULT_MAX_FLOWS)) {
        /* one log line per model that failed, each time the set of files changes */
        for (guint i = 0; i < triage.run->n_slots; i++)
            if (triage.run->slots[i].error)
                ws_warning("%s", triage.run->slots[i].error);
    }
    g_free(primary);
}

/* ---- per-file routines --------------------------------------------------- */

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
    triage_apply_prefs_load(active);
    triage_run_capture_reset(triage.run);
    frames_reset();
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
    frames_reset();
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
    class_names_reset();
    if (triage.scratch)
        g_array_free(triage.scratch, TRUE);
    triage.scratch = NULL;
    g_free(triage.bad_threshold);
    triage.bad_threshold = NULL;
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

/* Class name of a result, or "unknown" (not classified / below threshold). */
static const char *
block_class(const tt_model *m, const triage_result *r, double thr)
{
    if (r->state != TRIAGE_BLOCK_CLASSIFIED || r->confidence < thr || r->top >= m->n_classes)
        return str.unknown;
    return m->classes[r->top];
}

/* Interned class names per model slot; emptied whenever the models are
 * (re)loaded (a new model may reuse a freed one's address). */
static struct {
    const tt_model *model;
    const char **names;
} class_names[TRIAGE_MAX_MODELS];

static void
class_names_reset(void)
{
    for (guint i = 0; i < TRIAGE_MAX_MODELS; i++) {
        g_free(class_names[i].names);
        class_names[i].names = NULL;
        class_names[i].model = NULL;
    }
}

/* The same as block_class, interned (the tap's strings are compared by
 * pointer): each model's class names are interned once, not per packet. */
static const char *
block_class_interned(const triage_slot *s, const triage_result *r, double thr)
{
    const char *c = block_class(s->model, r, thr);
    if (c == str.unknown)
        return c;
    guint i = MIN(s->index, TRIAGE_MAX_MODELS - 1);
    if (class_names[i].model != s->model) {
        g_free(class_names[i].names);
        class_names[i].names = g_new(const char *, s->model->n_classes);
        for (guint k = 0; k < s->model->n_classes; k++)
            class_names[i].names[k] = g_intern_string(s->model->classes[k]);
        class_names[i].model = s->model;
    }
    return class_names[i].names[r->top];
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

double
triage_threshold(const triage_slot *s)
{
    return triage_prefs.threshold_set ? triage_prefs.threshold_value : s->threshold;
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
    tb->category = block_class_interned(s, r, triage_threshold(s));
    tb->status = block_status(r, triage_threshold(s));
    tb->confidence = tt_confidence_shown(r->confidence);
    triage_result conv;
    tb->conv_mate = triage_conv_result(triage.run, s->index, id, r, &conv);
    tb->conv_category = block_class_interned(s, &conv, triage_threshold(s));
}

/* The blocks this packet closed, for the primary model: a separate subtree
 * (triage.closed.*) so that filters on triage.category see only the packet's
 * own block. Also returns them as tap records when `tap` is set. */
static void
show_closed(proto_tree *t, tvbuff_t *tvb, packet_info *pinfo, const triage_frame *fr,
            triage_tap_info *tap, wmem_allocator_t *pool)
{
    if (!(fr->status & FRAME_CLOSED))
        return;
    const triage_slot *s = &triage.run->slots[0];
    guint first = frames_closed_first(pinfo->num), n = 0;
    const GArray *log = frames.closed_log;
    while (first + n < log->len && g_array_index(log, frame_closed, first + n).num == pinfo->num)
        n++;
    if (tap && n)
        tap->closed = wmem_alloc0_array(pool, triage_tap_block, n);
    for (guint i = 0; i < n; i++) {
        guint32 id = g_array_index(log, frame_closed, first + i).id;
        const triage_result *r = triage_run_block_result(triage.run, 0, id);
        if (r == NULL)
            continue;
        guint32 flow, block;
        triage_run_block_where(triage.run, 0, id, &flow, &block);
        const char *cls = block_class(s->model, r, triage_threshold(s));
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
    add_gen_string(t, hf_conv_category, tvb, block_class(s->model, &conv, triage_threshold(s)));
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
    add_gen_string(t, *hf_role_class[s->role], tvb, block_class(s->model, r, triage_threshold(s)));
    add_gen_confidence(t, *hf_role_conf[s->role], tvb, r->confidence);
}

static void
triage_display(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const triage_frame *fr)
{
    triage_run *run = triage.run;
    gboolean visited = PINFO_FD_VISITED(pinfo);
    /* tap records only for a listener (-z triage,..., Statistics dialogs) */
    triage_tap_info *tap = have_tap_listener(triage.tap) ? wmem_new0(pinfo->pool, triage_tap_info) : NULL;
    guint32 ip_len = fr->status & FRAME_LEN_MASK;

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
    gboolean first = (fr->status & FRAME_FIRST) != 0;
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
        cls = block_class(s->model, r, triage_threshold(s));
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
        if (r->truncated && (fr->status & FRAME_AT_CAP))
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
    fr->status = FRAME_PRESENT | MIN(pkt.ip_len, FRAME_LEN_MASK);
    fr->n_ids = MIN(triage.run->n_slots, TRIAGE_MAX_MODELS);
    for (guint i = 0; i < fr->n_ids; i++)
        fr->ids[i] = refs[i].id;
    const triage_slot *s = triage.run->n_slots ? &triage.run->slots[0] : NULL;
    if (refs[0].index == 0)
        fr->status |= FRAME_FIRST;
    if (s && s->model && refs[0].index == s->model->spec.max_packets)
        fr->status |= FRAME_AT_CAP;
    /* only the primary model's closed blocks are shown (triage.closed.*) */
    for (guint i = 0; i < triage.scratch->len; i++) {
        const triage_closed *c = &g_array_index(triage.scratch, triage_closed, i);
        if (c->slot == 0) {
            fr->status |= FRAME_CLOSED;
            frames_log_closed(pinfo->num, c->id);
        }
    }
    frames_put(pinfo->num, fr);
    return TRUE;
}

static int
dissect_triage(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (!triage_prefs.enabled || triage.run == NULL)
        return 0;

    triage_frame fr;
    if (!frames_get(pinfo->num, &fr)) {
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

    module_t *m = prefs_register_protocol(proto_triage, triage_apply_prefs);
    prefs_register_bool_preference(m, "enabled", "Enable TrafficTriage",
        "Classify TCP/UDP flows (off: no triage fields)", &triage_prefs.enabled);
    prefs_register_filename_preference(m, "model", "Category model file",
        "TrafficTriage model (.ttm) for triage.category; empty = the bundled model "
        "(triage/category.ttm next to the plugin)", &triage_prefs.model, FALSE);
    prefs_register_string_preference(m, "extra_models", "Extra model files",
        "';'-separated .ttm files with task tunnel (triage.tunnel) or platform/app (triage.app)",
        &triage_prefs.extra_models);
    prefs_register_string_preference(m, "threshold", "Confidence threshold",
        "Decimal in [0, 1]: a block whose top probability is below it reads \"unknown\"; "
        "empty = the threshold each model recommends (chosen on validation data; 0.5 if it names none)",
        &triage_prefs.threshold);
    prefs_register_uint_preference(m, "max_flows", "Maximum tracked flows",
        "Flows tracked at once per model; the least recently seen is closed beyond it",
        10, &triage_prefs.max_flows);

    triage.run = triage_run_new();
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

    /* Wireshark runs dissection on one thread; keep BLAS from spawning more. */
    tt_blas_single_thread();
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
