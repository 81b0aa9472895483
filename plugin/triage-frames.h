/* TrafficTriage plugin: what the first pass keeps per frame, for the later
 * (visited) passes.
 *
 * One status word and one block id per model slot (triage_ref.id: enough to
 * find the flow, block and result), in pages indexed by frame number. With
 * one model that is 8 bytes per frame and no allocation per frame (a wmem
 * file-scope record plus its proto_data list entry cost ~180 bytes per
 * frame: tests/bench/FINDINGS.md F2). The rare frames that close blocks of
 * the primary model are listed apart (the closed log, sorted by frame).
 * GLib only; one store per capture, emptied by triage_frames_reset() (the
 * init and cleanup routines).
 */
#ifndef TRIAGE_FRAMES_H
#define TRIAGE_FRAMES_H

#include <glib.h>
#include "triage-run.h"   /* TRIAGE_MAX_MODELS */

#define TRIAGE_FRAME_PRESENT   0x80000000u   /* TCP/UDP over IP: the plugin took the frame */
#define TRIAGE_FRAME_CLOSED    0x40000000u   /* it closed blocks of the primary model */
#define TRIAGE_FRAME_FIRST     0x20000000u   /* first packet of its primary block (index 0) */
#define TRIAGE_FRAME_AT_CAP    0x10000000u   /* index == the primary model's packet cap */
#define TRIAGE_FRAME_LEN_MASK  0x00ffffffu   /* IP length (at most 65535 + 40) */

typedef struct {
    guint32  status;                  /* TRIAGE_FRAME_* flags and the IP length */
    guint32  n_ids;                   /* slots recorded in ids[] */
    guint32  ids[TRIAGE_MAX_MODELS];  /* block id per slot, 0 = not tracked */
} triage_frame;

/* One entry of the closed log. */
typedef struct {
    guint32  num;                     /* frame number */
    guint32  id;                      /* block id (slot 0) the frame closed */
} triage_frame_closed;

/* Forget every frame (new capture file, redissection, shutdown). */
void triage_frames_reset(void);

/* The frame's record; FALSE if the plugin did not take it. */
gboolean triage_frames_get(guint32 num, triage_frame *fr);

/* Store the frame's record. The first frame stored after a reset fixes the
 * number of slots kept per frame (fr->n_ids) for the capture: the set of
 * models only changes with a redissection, which resets the store first. */
void triage_frames_put(guint32 num, const triage_frame *fr);

/* Remember that frame num closed block `id` of the primary model. */
void triage_frames_log_closed(guint32 num, guint32 id);

/* The closed log's entries of frame num: their count, *first the first of
 * them (valid until the next triage_frames_log_closed / reset). */
guint triage_frames_closed(guint32 num, const triage_frame_closed **first);

#endif
