/* TrafficTriage plugin: what a packet shows, and what the "triage" tap gets.
 *
 * The triage.* fields, the two subtrees and the expert infos are declared in
 * one table each (triage-display.c); the same tables give
 * triage_display_needed the ids to ask about. Display code only reads: the
 * results come from triage-run (through its functions), the frame's record
 * from triage-frames, the threshold from triage-prefs; the texts and tap
 * words are interned once (the tap's consumers compare them by pointer).
 */
#ifndef TRIAGE_DISPLAY_H
#define TRIAGE_DISPLAY_H

#include "ws-compat.h"
#include "triage-frames.h"
#include "triage-run.h"

/* Register the fields, subtrees and expert infos of protocol `proto`
 * (registration routine). Results are read from `run`; tap records are
 * queued on tap `tap`. */
void triage_display_register(int proto, triage_run *run, int tap);

/* Per capture (init routine): whether first-pass results are shown as they
 * come (tshark; the GUI shows nothing of its first pass), whether the capture
 * is live; looks up Wireshark's expert tap and fields. */
void triage_display_start(gboolean streaming, gboolean live);

/* Whether this dissection can use anything the plugin adds: a listener of
 * its tap or of the expert infos, a visible tree, or one of its fields
 * (the protocol, a field, an expert info) referenced by a filter, a
 * coloring rule or a column. Otherwise the display is skipped (FINDINGS F7). */
gboolean triage_display_needed(proto_tree *tree);

/* Add the triage subtree for frame fr (its record from the first pass) and
 * queue its tap record when the tap has a listener. */
void triage_display(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const triage_frame *fr);

/* A live tshark capture stopped (triage-live.c): classify every block still
 * open and hand them to the -z reports (triage_stats_add_final). */
void triage_display_live_stop(void);

#endif
