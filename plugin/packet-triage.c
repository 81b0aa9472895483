/* TrafficTriage: a Wireshark post-dissector that labels every TCP/UDP packet
 * with the traffic category of its flow's current time block, predicted by a
 * FlowPic CNN from packet sizes and arrival times only.
 *
 * Layers (as in TRANSUM), one concern per file:
 *   triage-extract.c  the only code reading pinfo / the frame (-> tt_packet)
 *   triage-run.c      models, flow engines, block results (no Wireshark API);
 *                     triage-conv.c pools a block with the reverse flow's
 *   triage-frames.c   what the first pass keeps per frame (block ids, status)
 *   triage-prefs.c    the preferences: threshold, which models to load
 *   triage-display.c  the fields, subtrees and expert infos (one table each)
 *                     and what a packet shows; the records of the "triage" tap
 *   triage-stats.c    Statistics reports fed by that tap
 *   triage-menu.c     Tools > TrafficTriage (FlowPic export)
 *   triage-live.c     what Wireshark does not tell a dissector about live capture
 *   this file         registration, the post-dissector, per-file routines
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

#include "triage-display.h"
#include "triage-extract.h"
#include "triage-frames.h"
#include "triage-live.h"
#include "triage-menu.h"
#include "triage-prefs.h"
#include "triage-run.h"
#include "triage-stats.h"

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

/* ---- state --------------------------------------------------------------
 * The run: the loaded models, which survive from one file to the next, and
 * their per-capture flow state, which the init/cleanup routines reset for
 * every file and redissection (as they reset the frame store). */

static int proto_triage = -1;

static struct {
    dissector_handle_t handle;
    int                tap;         /* "triage" (triage-stats.h) */
    triage_run        *run;
    GArray            *scratch;     /* triage_closed, one packet's worth */
} triage;

/* ---- per-file routines --------------------------------------------------- */

/* Whether the post-dissector will run in this pass: the preference and the
 * protocol (Analyze > Enabled Protocols, --disable-protocol) both on. */
static gboolean
triage_active(void)
{
    return triage_prefs_enabled() && proto_is_protocol_enabled(find_protocol_by_id(proto_triage));
}

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
    gboolean streaming = triage_live_streaming_program();
    gboolean live = triage_live_capture_running();
    triage_display_start(streaming, live);
    triage_stats_set_live(live);
    /* tshark live with a triage report: complete it when the capture stops */
    if (live && streaming && have_tap_listener(triage.tap))
        triage_live_on_stop(TRIAGE_TAP_NAME, triage_display_live_stop);
    /* No wanted fields: the IP length is read from the header bytes, so the
     * first pass needs no protocol tree (tests/bench/FINDINGS.md F6). */
    triage_extract_lookup_prefs();
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
    fr->n_ids = MIN(triage_run_n_slots(triage.run), TRIAGE_MAX_MODELS);
    for (guint i = 0; i < fr->n_ids; i++)
        fr->ids[i] = refs[i].id;
    const triage_slot *s = triage_run_slot(triage.run, 0);
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
    if (!triage_display_needed(tree))
        return 0;
    triage_display(tvb, pinfo, tree, &fr);
    return 0;
}

/* ---- registration -------------------------------------------------------- */

static void
proto_register_triage(void)
{
    proto_triage = proto_register_protocol("TrafficTriage", "TrafficTriage", "triage");
    triage.run = triage_run_new();
    triage.tap = register_tap(TRIAGE_TAP_NAME);
    triage_display_register(proto_triage, triage.run, triage.tap);
    triage_prefs_register(proto_triage, triage.run);
    triage.scratch = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    triage.handle = create_dissector_handle(dissect_triage, proto_triage);
    register_postdissector(triage.handle);
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
