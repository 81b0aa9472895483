/* TrafficTriage plugin: every difference between Wireshark versions lives here.
 *
 * Built and tested (tests/versions/run.sh) against:
 *   4.0  Debian 12 (bookworm)
 *   4.4  Debian 13 (trixie)
 *   4.6  Debian unstable (sid)
 * Include this header instead of <wireshark.h> in every plugin source; no
 * other plugin file tests the Wireshark version.
 *
 * What differs, and where it is handled:
 *   plugin_describe()       new in 4.2 (WS_PLUGIN_DESC_* in wsutil/plugins.h)
 *                                                                  -> TRIAGE_HAVE_PLUGIN_DESCRIBE
 *   bool preferences        gboolean * in 4.0, C99 bool * in 4.4 (4.2 presumed) -> triage_pref_bool
 *   wiretap reading         packet bytes move into wtap_rec in 4.6 -> TRIAGE_WTAP_*
 *   linking                 4.2+'s epan target no longer brings wiretap: plugin/CMakeLists.txt
 *                           links wiretap itself
 * Unchanged from 4.0 to 4.6 (checked against the installed headers): the
 * exported plugin_version / plugin_want_major / plugin_want_minor /
 * plugin_register symbols, proto_register_plugin / tap_register_plugin,
 * stats_tree_register_plugin (returns a stats_tree_cfg * since 4.2; ignored
 * here), the stat_tap_table_ui layout, tap packet
 * callbacks (tap_flags_t), have_tap_listener / find_tap_id, pinfo->data_src
 * with get_data_source_tvb, PTREE_DATA and header_field_info.ref_type,
 * prefs_get_bool_value, the prefs_register_*_preference calls used here, and
 * BASE_CUSTOM on FT_DOUBLE fields (custom_fmt_func_double_t, CF_FUNC; 4.0 uses
 * it for labels and custom columns, not for -T fields). The WIRESHARK_PLUGIN_REGISTER_*
 * macros of later Wireshark development versions are not in any of these
 * three releases' headers, so the plugin defines the symbols itself.
 */
#ifndef TRIAGE_WS_COMPAT_H
#define TRIAGE_WS_COMPAT_H

/* Without WS_BUILD_DLL, WS_DLL_PUBLIC_DEF is hidden and Wireshark reports
 * "has no plugin_version symbol". */
#ifndef WS_BUILD_DLL
#define WS_BUILD_DLL
#endif
#include <wireshark.h>
#include <ws_version.h>
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/ftypes/ftypes.h>
#include <epan/tap.h>

#define TRIAGE_WS_AT_LEAST(maj, min) \
    (WIRESHARK_VERSION_MAJOR > (maj) || \
     (WIRESHARK_VERSION_MAJOR == (maj) && WIRESHARK_VERSION_MINOR >= (min)))

#if !TRIAGE_WS_AT_LEAST(4, 0)
#error "TrafficTriage needs Wireshark 4.0 or later"
#endif

/* Plugin description (4.2+): Wireshark calls plugin_describe() to list the
 * plugin's kind in `tshark -G plugins` and About > Plugins. */
#if TRIAGE_WS_AT_LEAST(4, 2)
#include <wsutil/plugins.h>
#define TRIAGE_HAVE_PLUGIN_DESCRIBE 1
#define TRIAGE_PLUGIN_DESC (WS_PLUGIN_DESC_DISSECTOR | WS_PLUGIN_DESC_TAP_LISTENER)
#else
#define TRIAGE_HAVE_PLUGIN_DESCRIBE 0
#endif

/* Type of the variable behind prefs_register_bool_preference(). */
#if TRIAGE_WS_AT_LEAST(4, 2)
typedef bool triage_pref_bool;
#else
typedef gboolean triage_pref_bool;
#endif

/* Reading a capture file with wiretap (triage-menu.c). Since 4.6 a wtap_rec
 * holds its packet bytes itself (rec->data): wtap_rec_init() takes an initial
 * size and wtap_read() has no Buffer argument. Callers keep a Buffer for
 * older versions (unused from 4.6 on) and go through these three. */
#include <wiretap/wtap.h>
#include <wsutil/buffer.h>
#if TRIAGE_WS_AT_LEAST(4, 6)
#define TRIAGE_WTAP_REC_INIT(rec, space)  wtap_rec_init((rec), (space))
#define TRIAGE_WTAP_READ(wth, rec, buf, err, err_info, offset) \
    wtap_read((wth), (rec), (err), (err_info), (offset))
#define TRIAGE_WTAP_REC_DATA(rec, buf)    ws_buffer_start_ptr(&(rec)->data)
#else
#define TRIAGE_WTAP_REC_INIT(rec, space)  wtap_rec_init(rec)
#define TRIAGE_WTAP_READ(wth, rec, buf, err, err_info, offset) \
    wtap_read((wth), (rec), (buf), (err), (err_info), (offset))
#define TRIAGE_WTAP_REC_DATA(rec, buf)    ws_buffer_start_ptr(buf)
#endif

/* A stats_tree shows only the columns before the burst ones: Topic, Count,
 * Average, Min, Max, Rate, Percent (st->num_columns, stats_tree_priv.h).
 * Every release from 4.0 on sets num_columns before calling the tree's init
 * callback (stats_tree_reinit; tshark's stats_tree_new too) and formats a
 * node's burst columns only when num_columns reaches them; tshark prints
 * num_columns columns. The Qt dialog (4.0) builds its header from
 * stats_tree_new's num_columns, before any init callback: it keeps the Burst
 * Rate and Burst Start headers, with empty cells (seen in the screenshot). Columns are positional: Rate cannot go without
 * Percent, so Rate stays and is left blank (triage_stats_tree_blank_rate). */
#include <epan/stats_tree_priv.h>
#define TRIAGE_STATS_TREE_NO_BURST_COLUMNS 7
static inline void
triage_stats_tree_drop_burst_columns(stats_tree *st)
{
    if (st->num_columns > TRIAGE_STATS_TREE_NO_BURST_COLUMNS)
        st->num_columns = TRIAGE_STATS_TREE_NO_BURST_COLUMNS;
}

/* Rate (ms) is a node's count over the milliseconds from the tree's first
 * packet to its latest (st->elapsed, which stats_tree_packet sets before
 * each packet callback); a node's rate is printed only when st->elapsed is
 * non-zero, in every release from 4.0 on. Flows or blocks per millisecond
 * mean nothing, so the tree's packet callback zeroes it after each packet
 * (st->start, from which the next packet computes it again, stays). */
static inline void
triage_stats_tree_blank_rate(stats_tree *st)
{
    st->elapsed = 0.0;
}

/* Callback type of register_postseq_cleanup_routine (unchanged so far). */
typedef void (*triage_void_fn)(void);

/* Tap listener flag type (tap_flags_t exists since 3.6). */
typedef tap_flags_t triage_tap_flags_t;

#endif
