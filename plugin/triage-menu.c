/* TrafficTriage plugin: Tools > TrafficTriage (see triage-menu.h).
 *
 * Flow of one export:
 *   1. snapshot what the GUI knows (plugin_if_get_capture_file): file name,
 *      display filter, selected frame, which frames pass the filter;
 *   2. pass 1 over the file: replay every TCP/UDP packet through a fresh
 *      tt_engine and collect the wanted flow numbers;
 *   3. pass 2: replay again; each closed block of a wanted flow becomes a PNG
 *      (tt_flowpic_build + tt_png_write_flowpic) and a row of index.tsv;
 *   4. tell the user where, in a text window (funnel).
 * Two passes keep memory bounded: a block's packets exist only while the
 * engine hands the block over.
 */
#include "ws-compat.h"

#include <errno.h>
#include <string.h>
#include <epan/funnel.h>
#include <epan/plugin_if.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h>
#include <wiretap/pcap-encap.h>
#include <wiretap/wtap.h>
#include <wsutil/buffer.h>

#include "triage-menu.h"
#include "triage-prefs.h"
#include "tt_capture.h"
#include "tt_flow.h"
#include "tt_flowpic.h"
#include "tt_classify.h"
#include "tt_png.h"

#define MENU_MAX_PICTURES 1000     /* per export; the rest are counted, not written */
#define MENU_MAX_LISTED   200      /* rows shown in the text window (index.tsv has all) */
#define MENU_WINDOW_TITLE "TrafficTriage FlowPics"

typedef enum { EXPORT_SELECTED, EXPORT_DISPLAYED } export_mode;

static triage_run *menu_run;

/* ---- what the GUI knows -------------------------------------------------- */

typedef struct {
    char    *filename;
    char    *dfilter;
    guint32  count;            /* frames in the file */
    guint32  selected;         /* selected frame number, 0 = none */
    guint8  *displayed;        /* bitset over frame numbers 0..count */
} cf_snapshot;

static void *
snapshot_capture_file(capture_file *cf, void *user)
{
    cf_snapshot *s = user;
    if (cf == NULL || cf->filename == NULL)
        return NULL;
    s->filename = g_strdup(cf->filename);
    s->dfilter = g_strdup(cf->dfilter ? cf->dfilter : "");
    s->count = cf->count;
    s->selected = cf->current_frame ? cf->current_frame->num : 0;
    s->displayed = g_malloc0(cf->count / 8 + 1);
    if (cf->provider.frames) {
        for (guint32 i = 1; i <= cf->count; i++) {
            frame_data *fd = frame_data_sequence_find(cf->provider.frames, i);
            if (fd && fd->passed_dfilter)
                s->displayed[i >> 3] |= (guint8)(1u << (i & 7));
        }
    }
    return s;
}

static gboolean
snapshot_displayed(const cf_snapshot *s, guint32 frame)
{
    return frame <= s->count && (s->displayed[frame >> 3] & (1u << (frame & 7)));
}

static void
snapshot_clear(cf_snapshot *s)
{
    g_free(s->filename);
    g_free(s->dfilter);
    g_free(s->displayed);
    memset(s, 0, sizeof *s);
}

/* ---- replaying the file -------------------------------------------------- */

/* The pcap link type (as tt_parse_frame understands it) of a wiretap
 * encapsulation, or -1. wiretap exports only the pcap -> wiretap direction. */
static int
link_type_of(int wtap_encap)
{
    static const int dlts[] = { 1 /* Ethernet */, 113 /* SLL */, 276 /* SLL2 */,
                                0 /* BSD loopback */, 108 /* OpenBSD loopback */,
                                101 /* raw IP */, 228 /* IPv4 */, 229 /* IPv6 */ };
    for (size_t i = 0; i < G_N_ELEMENTS(dlts); i++)
        if (wtap_pcap_encap_to_wtap_encap(dlts[i]) == wtap_encap)
            return dlts[i];
    return -1;
}

typedef void (*replay_fn)(guint32 frame, const tt_packet *pkt, const tt_pkt_ref *ref,
                          tt_engine *eng, void *user);

/* Feed one packet to the engine and tell fn. */
static void
replay_packet(tt_engine *eng, guint32 frame, const tt_packet *pkt, replay_fn fn, void *user)
{
    tt_pkt_ref ref;
    if (tt_engine_add(eng, pkt, &ref) && fn)
        fn(frame, pkt, &ref, eng, user);
}

/* pcap and pcapng: core's reader, the very view of the packets the trainer and
 * the equivalence tests use (IP fragments counted once at the last fragment,
 * as after Wireshark's reassembly). FALSE if libpcap cannot open the file. */
static gboolean
replay_with_core(const char *path, tt_engine *eng, replay_fn fn, void *user, char **warning)
{
    GError *err = NULL;
    tt_capture *cap = tt_capture_open(path, &err);
    if (cap == NULL) {
        g_clear_error(&err);
        return FALSE;
    }
    tt_packet pkt;
    uint64_t frame;
    int rc;
    while ((rc = tt_capture_next(cap, &pkt, &frame, &err)) == 1)
        replay_packet(eng, (guint32)frame, &pkt, fn, user);
    if (rc < 0 && warning && *warning == NULL)
        *warning = g_strdup_printf("reading stopped: %s", err ? err->message : "read error");
    g_clear_error(&err);
    tt_capture_close(cap);
    return TRUE;
}

/* Every other format Wireshark reads (compressed files, other capture
 * formats): wiretap, each frame parsed by core's stateless tt_parse_frame
 * (which skips IP fragments). */
static gboolean
replay_with_wiretap(const char *path, tt_engine *eng, replay_fn fn, void *user,
                    char **warning, GError **error)
{
    int err = 0;
    gchar *err_info = NULL;
    wtap *wth = wtap_open_offline(path, WTAP_TYPE_AUTO, &err, &err_info, FALSE);
    if (wth == NULL) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot open %s: %s%s%s", path,
                    wtap_strerror(err), err_info ? ": " : "", err_info ? err_info : "");
        g_free(err_info);
        return FALSE;
    }
    wtap_rec rec;
    Buffer buf;
    TRIAGE_WTAP_REC_INIT(&rec, 1514);
    ws_buffer_init(&buf, 1514);
    gint64 offset;
    guint32 frame = 0;
    while (TRIAGE_WTAP_READ(wth, &rec, &buf, &err, &err_info, &offset)) {
        frame++;            /* Wireshark numbers every record */
        if (rec.rec_type == REC_TYPE_PACKET) {
            int dlt = link_type_of(rec.rec_header.packet_header.pkt_encap);
            tt_packet pkt;
            memset(&pkt, 0, sizeof pkt);
            if (dlt >= 0 && tt_parse_frame(dlt, TRIAGE_WTAP_REC_DATA(&rec, &buf),
                                           rec.rec_header.packet_header.caplen, &pkt)) {
                pkt.ts = tt_time((int64_t)rec.ts.secs, (int32_t)rec.ts.nsecs);
                replay_packet(eng, frame, &pkt, fn, user);
            }
        }
        wtap_rec_reset(&rec);
    }
    if (err != 0 && warning && *warning == NULL)
        *warning = g_strdup_printf("reading stopped after frame %u: %s%s%s", frame,
                                   wtap_strerror(err), err_info ? ": " : "", err_info ? err_info : "");
    g_free(err_info);
    wtap_rec_cleanup(&rec);
    ws_buffer_free(&buf);
    wtap_close(wth);
    return TRUE;
}

/* Feed every TCP/UDP packet of the file to eng in frame order, calling fn
 * after each, then flush. A read error after some packets (a truncated file)
 * is reported in *warning and the packets read so far still count. */
static gboolean
replay_file(const char *path, tt_engine *eng, replay_fn fn, void *user,
            char **warning, GError **error)
{
    if (!replay_with_core(path, eng, fn, user, warning) &&
        !replay_with_wiretap(path, eng, fn, user, warning, error))
        return FALSE;
    tt_engine_flush(eng);
    return TRUE;
}

/* ---- pass 1: which flows ------------------------------------------------- */

typedef struct {
    export_mode        mode;
    const cf_snapshot *cf;
    GHashTable        *wanted;        /* GUINT_TO_POINTER(flow) set */
    gboolean           found;         /* the selected frame is TCP/UDP */
    tt_key             key, rev;      /* selected packet's 5-tuple and its reverse */
    gboolean           want_rev;      /* reverse direction not seen yet */
} pick_ctx;

static void
pick_flow(guint32 frame, const tt_packet *pkt, const tt_pkt_ref *ref, tt_engine *eng, void *user)
{
    pick_ctx *p = user;
    if (p->mode == EXPORT_DISPLAYED) {
        if (snapshot_displayed(p->cf, frame))
            g_hash_table_add(p->wanted, GUINT_TO_POINTER((guint)ref->flow_id));
        return;
    }
    if (frame == p->cf->selected) {
        p->found = TRUE;
        p->key = pkt->key;
        tt_key_reverse(&pkt->key, &p->rev);
        g_hash_table_add(p->wanted, GUINT_TO_POINTER((guint)ref->flow_id));
        uint64_t rf = tt_engine_flow_id(eng, &p->rev);
        if (rf)
            g_hash_table_add(p->wanted, GUINT_TO_POINTER((guint)rf));
        else
            p->want_rev = TRUE;          /* e.g. a SYN: take the first answer */
    } else if (p->want_rev && memcmp(&pkt->key, &p->rev, sizeof p->rev) == 0) {
        g_hash_table_add(p->wanted, GUINT_TO_POINTER((guint)ref->flow_id));
        p->want_rev = FALSE;
    }
}

/* ---- pass 2: one PNG per block ------------------------------------------- */

typedef struct {
    guint32 flow, block, packets;
    char    tuple[128];
    char   *line;                 /* "block 0  video 0.93  151 packets  file" */
} listed_block;

typedef struct {
    const tt_model *model;
    tt_classifier  *cls;
    double          threshold;    /* the plugin's triage.threshold */
    GHashTable     *wanted;
    const char     *dir;
    guint32         scale;
    tt_pixel       *px;
    size_t          px_cap;
    GString        *index;        /* index.tsv */
    GArray         *rows;         /* listed_block, for the text window */
    guint           written, over_limit;
    GError         *error;        /* first write error */
} render_ctx;

static void
render_block(const tt_block *b, void *user)
{
    render_ctx *r = user;
    if (r->error || !g_hash_table_contains(r->wanted, GUINT_TO_POINTER((guint)b->flow_id)))
        return;
    if (b->status == TT_BLOCK_EMPTY || b->n_stored == 0)
        return;
    if (r->written >= MENU_MAX_PICTURES) {
        r->over_limit++;
        return;
    }
    size_t need = tt_flowpic_max_pixels(&r->model->spec, b->n_stored);
    if (need > r->px_cap) {
        r->px_cap = need;
        r->px = g_renew(tt_pixel, r->px, r->px_cap);
    }
    size_t np = tt_flowpic_build(&r->model->spec, b->pkts, b->n_stored, r->px);
    if (np == 0)
        return;

    /* label: what triage.category shows (unknown below the threshold) */
    const char *label = "too-few-packets", *top = "-";
    double conf = 0.0;
    tt_result res;
    if (b->status == TT_BLOCK_OK && tt_classify_packets(r->cls, b->pkts, b->n_stored, &res)
        && res.top < r->model->n_classes) {
        top = r->model->classes[res.top];
        conf = res.confidence;
        label = tt_classify_label(r->model, res.top, conf, r->threshold);
    }
    char *base = g_strdup_printf("flow%" G_GUINT64_FORMAT "-block%u-%s.png",
                                 b->flow_id, b->block_index, label);
    char *path = g_build_filename(r->dir, base, NULL);
    if (!tt_png_write_flowpic(path, &r->model->spec, r->px, np, r->scale, &r->error)) {
        g_free(path);
        g_free(base);
        return;
    }
    char tuple[128];
    tt_key_format(b->key, tuple, sizeof tuple);
    g_string_append_printf(r->index, "%" G_GUINT64_FORMAT "\t%u\t%s\t%.6f\t%u\t%" G_GUINT64_FORMAT
                           "\t%s\t%s\t%s\t%.3f\t%s\n", b->flow_id, b->block_index, tuple, b->first_ts,
                           b->n_packets, b->n_bytes, tt_block_status_name(b->status), label, top, conf, base);
    if (r->rows->len < MENU_MAX_LISTED) {
        listed_block lb = { .flow = (guint32)b->flow_id, .block = b->block_index };
        g_strlcpy(lb.tuple, tuple, sizeof lb.tuple);
        char *answer = strcmp(label, top) == 0 || strcmp(top, "-") == 0
            ? g_strdup_printf("%s %.3f", label, tt_confidence_shown(conf))
            : g_strdup_printf("%s (%s %.3f)", label, top, tt_confidence_shown(conf));
        lb.line = g_strdup_printf("block %-3u %-28s %6u packets  %s", b->block_index, answer,
                                  b->n_packets, base);
        g_free(answer);
        g_array_append_val(r->rows, lb);
    }
    r->written++;
    g_free(path);
    g_free(base);
}

/* ---- output folder and message ------------------------------------------- */

static gint
listed_cmp(gconstpointer a, gconstpointer b)
{
    const listed_block *x = a, *y = b;
    if (x->flow != y->flow)
        return x->flow < y->flow ? -1 : 1;
    return x->block < y->block ? -1 : x->block > y->block;
}

/* The blocks grouped by flow: a line with the flow's 5-tuple, then its blocks. */
static void
append_rows(GString *out, GArray *rows)
{
    g_array_sort(rows, listed_cmp);
    for (guint i = 0; i < rows->len; i++) {
        const listed_block *lb = &g_array_index(rows, listed_block, i);
        if (i == 0 || g_array_index(rows, listed_block, i - 1).flow != lb->flow)
            g_string_append_printf(out, "\nflow %u  %s\n", lb->flow, lb->tuple);
        g_string_append_printf(out, "    %s\n", lb->line);
    }
}

/* <base>/<capture name without extensions>-<YYYYmmdd-HHMMSS>[-N], created. */
static char *
make_export_dir(const char *capture, GError **error)
{
    const char *env = g_getenv("TRAFFICTRIAGE_EXPORT_DIR");
    char *root = (env && *env) ? g_strdup(env)
                               : g_build_filename(g_get_home_dir(), "TrafficTriage-FlowPics", NULL);
    char *name = g_path_get_basename(capture);
    char *dot = strchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    GDateTime *now = g_date_time_new_now_local();
    char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
    g_date_time_unref(now);
    char *dir = NULL;
    for (int n = 1; n < 100 && dir == NULL; n++) {
        char *leaf = n == 1 ? g_strdup_printf("%s-%s", name, stamp)
                            : g_strdup_printf("%s-%s-%d", name, stamp, n);
        char *cand = g_build_filename(root, leaf, NULL);
        g_free(leaf);
        if (g_file_test(cand, G_FILE_TEST_EXISTS))
            g_free(cand);
        else
            dir = cand;
    }
    g_free(stamp);
    g_free(name);
    if (dir && g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot create %s: %s", dir, g_strerror(errno));
        g_free(dir);
        dir = NULL;
    } else if (dir == NULL) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "no free folder name under %s", root);
    }
    g_free(root);
    return dir;
}

static void
tell_user(const char *text)
{
    const funnel_ops_t *ops = funnel_get_funnel_ops();
    if (ops && ops->new_text_window && ops->set_text) {
        funnel_text_window_t *tw = ops->new_text_window(ops->ops_id, MENU_WINDOW_TITLE);
        if (tw) {
            ops->set_text(tw, text);
            return;
        }
    }
    ws_message("%s", text);
}

/* ---- the action ---------------------------------------------------------- */


static char *
export_flowpics(export_mode mode)
{
    const triage_slot *slot = triage_run_slot(menu_run, 0);
    if (slot == NULL || slot->model == NULL)
        return g_strdup_printf("No TrafficTriage model is loaded, so there is no FlowPic specification.\n\n%s\n\n"
                               "Set one in Edit > Preferences > Protocols > TrafficTriage > Category model file.",
                               slot && slot->error ? slot->error : "No model configured.");
    const tt_model *m = slot->model;

    cf_snapshot cf = { 0 };
    if (plugin_if_get_capture_file(snapshot_capture_file, &cf) == NULL)
        return g_strdup("Open a capture file first (File > Open).");
    if (mode == EXPORT_SELECTED && cf.selected == 0) {
        snapshot_clear(&cf);
        return g_strdup("Select a TCP or UDP packet first: its flow (both directions) is exported.");
    }

    GString *out = g_string_new(NULL);
    GError *err = NULL;
    char *warning = NULL;
    char *dir = NULL;
    guint max_flows = triage_run_max_flows(menu_run);
    pick_ctx pick = { .mode = mode, .cf = &cf,
                      .wanted = g_hash_table_new(g_direct_hash, g_direct_equal) };
    render_ctx rc = { .model = m, .wanted = pick.wanted };

    tt_engine *eng = tt_engine_new(&m->spec, max_flows, NULL, NULL);
    gboolean ok = replay_file(cf.filename, eng, pick_flow, &pick, &warning, &err);
    tt_engine_free(eng);
    if (!ok) {
        g_string_printf(out, "Could not read the capture file again: %s", err->message);
        goto done;
    }
    if (mode == EXPORT_SELECTED && !pick.found) {
        g_string_printf(out, "Frame %u is not a TCP or UDP packet over IP: it belongs to no flow.", cf.selected);
        goto done;
    }
    if (g_hash_table_size(pick.wanted) == 0) {
        g_string_printf(out, "No TCP/UDP packet passes the display filter (%s): nothing to export.",
                        *cf.dfilter ? cf.dfilter : "none");
        goto done;
    }
    dir = make_export_dir(cf.filename, &err);
    if (dir == NULL) {
        g_string_printf(out, "Could not create the export folder: %s", err->message);
        goto done;
    }

    rc.cls = tt_classifier_new(m);
    rc.dir = dir;
    rc.scale = tt_png_default_scale(&m->spec);
    rc.threshold = triage_threshold(slot);
    rc.index = g_string_new("#flow\tblock\t5-tuple\tfirst\tpackets\tbytes\tstatus\tcategory\ttop_class\tconfidence\tfile\n");
    rc.rows = g_array_new(FALSE, TRUE, sizeof(listed_block));
    eng = tt_engine_new(&m->spec, max_flows, render_block, &rc);
    ok = replay_file(cf.filename, eng, NULL, NULL, &warning, &err);
    tt_engine_free(eng);
    if (!ok || rc.error) {
        g_string_printf(out, "Export failed: %s", ok ? rc.error->message : err->message);
        goto done;
    }
    char *index_path = g_build_filename(dir, "index.tsv", NULL);
    if (!g_file_set_contents(index_path, rc.index->str, (gssize)rc.index->len, &err)) {
        g_string_printf(out, "Export failed: %s", err->message);
        g_free(index_path);
        goto done;
    }
    g_free(index_path);

    char tuple[128];
    if (mode == EXPORT_SELECTED)
        g_string_append_printf(out, "FlowPics of the flow of frame %u (%s) and its reverse direction\n",
                               cf.selected, tt_key_format(&pick.key, tuple, sizeof tuple));
    else
        g_string_append_printf(out, "FlowPics of the %u flows with packets passing the display filter: %s\n",
                               g_hash_table_size(pick.wanted),
                               *cf.dfilter ? cf.dfilter : "(none: every flow)");
    g_string_append_printf(out, "\nWrote %u PNG files and index.tsv to\n\n    %s\n\n", rc.written, dir);
    g_string_append_printf(out, "Model %s: %ux%u bins, %.0f s blocks; time left to right, packet size bottom "
                           "(small) to top (large), darker = more packets.\n", slot->label,
                           m->spec.time_bins, m->spec.size_bins, m->spec.block_seconds);
    if (rc.over_limit)
        g_string_append_printf(out, "Only the first %u blocks were written; %u more were skipped "
                               "(narrow the display filter).\n", MENU_MAX_PICTURES, rc.over_limit);
    if (rc.written == 0)
        g_string_append(out, "No block had a usable packet (all outside the model's size range).\n");
    append_rows(out, rc.rows);
    if (rc.written > rc.rows->len)
        g_string_append_printf(out, "\n... %u more in index.tsv\n", rc.written - rc.rows->len);

done:
    if (warning)
        g_string_append_printf(out, "\nNote: %s\n", warning);
    g_free(warning);
    g_clear_error(&err);
    g_clear_error(&rc.error);
    if (rc.cls)
        tt_classifier_free(rc.cls);
    if (rc.index)
        g_string_free(rc.index, TRUE);
    if (rc.rows) {
        for (guint i = 0; i < rc.rows->len; i++)
            g_free(g_array_index(rc.rows, listed_block, i).line);
        g_array_free(rc.rows, TRUE);
    }
    g_free(rc.px);
    g_free(dir);
    g_hash_table_destroy(pick.wanted);
    snapshot_clear(&cf);
    return g_string_free(out, FALSE);
}

static void
menu_export_selected(ext_menubar_gui_type gui_type _U_, gpointer gui_object _U_, gpointer user_data _U_)
{
    char *text = export_flowpics(EXPORT_SELECTED);
    tell_user(text);
    g_free(text);
}

static void
menu_export_displayed(ext_menubar_gui_type gui_type _U_, gpointer gui_object _U_, gpointer user_data _U_)
{
    char *text = export_flowpics(EXPORT_DISPLAYED);
    tell_user(text);
    g_free(text);
}

void
triage_menu_register(int proto, triage_run *run)
{
    menu_run = run;
    ext_menu_t *menu = ext_menubar_register_menu(proto, "TrafficTriage", TRUE);
    ext_menubar_set_parentmenu(menu, "Tools");
    ext_menubar_add_entry(menu, "Export FlowPics of the Selected Flow",
                          "Write a PNG FlowPic of every block of the selected packet's flow (both directions)",
                          menu_export_selected, NULL);
    ext_menubar_add_entry(menu, "Export FlowPics of the Displayed Flows",
                          "Write a PNG FlowPic of every block of every flow with a packet passing the display filter",
                          menu_export_displayed, NULL);
}
