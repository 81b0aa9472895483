/* TrafficTriage plugin: loaded models, their flow engines and block results.
 *
 * Wireshark-independent (GLib + core only), like TRANSUM's decoders: the
 * dissector feeds tt_packets in and reads plain results out. One slot per
 * loaded model; each slot owns a tt_engine (the block length, idle timeout,
 * packet cap ... come from the model's spec), a tt_classifier, and per-capture
 * tables: a record per flow (by flow id) and per block (by block id, with its
 * result), both in chunked arrays, and the state of the flows still open,
 * dropped when the engine ends them. The capture state is created lazily and
 * dropped by triage_run_capture_reset().
 */
#ifndef TRIAGE_RUN_H
#define TRIAGE_RUN_H

#include <glib.h>
#include "tt_types.h"
#include "tt_flow.h"
#include "tt_classify.h"

#define TRIAGE_MAX_MODELS 4

/* Which set of fields a model's result fills. */
typedef enum {
    TRIAGE_ROLE_CATEGORY = 0,   /* triage.category / triage.confidence */
    TRIAGE_ROLE_TUNNEL = 1,     /* triage.tunnel / triage.tunnel_confidence */
    TRIAGE_ROLE_APP = 2,        /* triage.app / triage.app_confidence */
    TRIAGE_ROLE_COUNT = 3
} triage_role;

/* State of a finished block. */
typedef enum {
    TRIAGE_BLOCK_CLASSIFIED = 0,
    TRIAGE_BLOCK_TOO_FEW = 1,     /* fewer packets than the model's min_packets */
    TRIAGE_BLOCK_EMPTY = 2,       /* no packet within the model's size range */
    TRIAGE_BLOCK_OPEN = 255       /* internal: not closed yet (never returned) */
} triage_block_state;

typedef struct {
    guint8   state;               /* triage_block_state */
    guint8   truncated;           /* more packets than the model's cap; only the first used */
    guint8   first_of_class;      /* first classified block of its flow with this class */
    guint8   reason;              /* tt_close_reason */
    guint32  top;                 /* class index (state CLASSIFIED) */
    float    confidence;          /* probability of top (0 unless CLASSIFIED) */
    guint32  n_packets;           /* packets in the block */
    guint32  n_stored;            /* packets used for the picture */
    guint64  n_bytes;             /* sum of their IP lengths */
} triage_result;

/* What is kept of a flow for the whole capture (display, Statistics): 48
 * bytes. Everything needed only while the flow is open (its open block's
 * provisional result, classes seen) lives in a separate record that is
 * freed when the engine ends the flow (idle, evicted, flushed). */
typedef struct {
    tt_key   key;                 /* directed 5-tuple */
    guint32  reverse;             /* flow id of the opposite direction, 0 = none seen */
    guint32  last_block_id;       /* the flow's latest block (see triage_ref.id) */
} triage_flow;

/* Where one packet went in one model's engine (flow 0 = not tracked). */
typedef struct {
    guint32 flow;
    guint32 block;
    guint32 index;                /* position in the block, 0-based */
    guint32 id;                   /* the block's id in its slot: 1, 2, ... in order of
                                   * the blocks' first packets; 0 = not tracked.
                                   * Enough to find flow, block and result later. */
} triage_ref;

/* A block closed while a packet was added (single-pass display). */
typedef struct {
    guint8  slot;
    guint32 flow;
    guint32 block;
    guint32 id;                   /* block id (triage_ref.id) */
} triage_closed;

/* Append-only storage in fixed chunks: element pointers stay valid while
 * more are added (no realloc moves), and no per-element allocation. */
typedef struct {
    guint      elem_size;
    guint32    len;
    GPtrArray *chunks;
} triage_chunks;

struct triage_run;

/* One model. Outside triage-run.c a slot is reached through triage_run_slot()
 * and only its fields above "per capture" are read (model, label, error,
 * threshold, class names, role); the per-capture tables are triage-run.c's. */
typedef struct {
    struct triage_run *run;       /* owner (for the block callback) */
    guint          index;         /* position in run->slots */
    char          *path;          /* file the model was (to be) loaded from */
    tt_model      *model;         /* NULL when loading failed */
    char          *error;         /* load error, for logs and expert info */
    char           label[96];     /* "name sha256[0:12]" */
    double         threshold;     /* the model's recommended threshold (tt_model_threshold), read at load */
    const char   **class_names;   /* the model's class names, interned (g_intern_string) at
                                   * load: the tap's consumers compare them by pointer */
    triage_role    role;
    tt_classifier *cls;
    /* per capture */
    tt_engine     *eng;
    triage_chunks  flows;         /* triage_flow, index flow id - 1 */
    triage_chunks  blocks;        /* triage_block_rec (triage-run.c), index block id - 1 */
    GHashTable    *open;          /* GUINT_TO_POINTER(flow) -> open-flow state, open flows only */
    triage_chunks  probs;         /* role category only: n_classes bytes per closed classified
                                   * block (tt_result_quantise), index block id - 1; all zero
                                   * = none. For the conversation answer (triage-conv.c). */
} triage_slot;

typedef struct triage_run {
    guint        n_slots;
    triage_slot  slots[TRIAGE_MAX_MODELS];
    guint        max_flows;
    GArray      *closing;         /* triage_closed, gathered during one add */
    gboolean     collecting;      /* record closed blocks into `closing` */
} triage_run;

/* How many models were asked for (loaded or failed): slots 0 .. n-1. */
static inline guint
triage_run_n_slots(const triage_run *run)
{
    return run->n_slots;
}

/* Slot i (in order: the primary model, then each extra), NULL beyond the last. */
static inline const triage_slot *
triage_run_slot(const triage_run *run, guint i)
{
    return run != NULL && i < run->n_slots ? &run->slots[i] : NULL;
}

/* The flow bound each model's engine was set up with (triage_run_set_models). */
static inline guint
triage_run_max_flows(const triage_run *run)
{
    return run->max_flows;
}

triage_run *triage_run_new(void);
void triage_run_free(triage_run *run);

/* (Re)load models when the set of paths changed: primary (role category,
 * whatever its task) then each ';'-separated extra (role from its task).
 * Failures are kept as slots with model == NULL and an error message (the
 * caller logs them). Drops the capture state. Returns TRUE if the models
 * changed (were reloaded). */
gboolean triage_run_set_models(triage_run *run, const char *primary,
                               const char *extras, guint max_flows);

/* Forget every flow and result (new capture file / redissection). */
void triage_run_capture_reset(triage_run *run);

/* Feed one packet to every loaded model. refs[i] is filled for slot i.
 * Closed blocks (with their results now stored) are appended to *closed
 * (may be NULL). Returns FALSE if no model took the packet. */
gboolean triage_run_add(triage_run *run, const tt_packet *pkt,
                        triage_ref refs[TRIAGE_MAX_MODELS], GArray *closed);

/* Close and classify every open block (end of the first pass). */
void triage_run_flush(triage_run *run);

/* The same, appending the blocks it closed to *closed (triage_closed). */
void triage_run_flush_closed(triage_run *run, GArray *closed);

/* Result of a block, or NULL if it is still open (or unknown). */
const triage_result *triage_run_result(const triage_run *run, guint slot,
                                       guint32 flow, guint32 block);

/* Like triage_run_result, but a block that is still open gets a provisional
 * result: the one a flush would give now, from the engine's open block
 * (tt_engine_peek), without closing it (after a GUI redissection there is no
 * end-of-pass hook; during a live capture blocks are open at the edge). The
 * result is kept until the block gets more packets. NULL only if the block
 * is unknown. */
const triage_result *triage_run_result_now(triage_run *run, guint slot,
                                           guint32 flow, guint32 block);

const triage_flow *triage_run_flow(const triage_run *run, guint slot, guint32 flow);

/* The same lookups by block id (triage_ref.id), in constant time: what the
 * dissector keeps per frame. flow/block are set to 0 for an unknown id. */
void triage_run_block_where(const triage_run *run, guint slot, guint32 id,
                            guint32 *flow, guint32 *block);
const triage_result *triage_run_block_result(const triage_run *run, guint slot, guint32 id);
const triage_result *triage_run_block_result_now(triage_run *run, guint slot, guint32 id);

/* Whether the block is still open (its results so far are provisional). */
gboolean triage_run_block_open(const triage_run *run, guint slot, guint32 id);

/* A streaming pass (single-pass tshark, live capture): the provisional result
 * of the open block `id` as of its latest checkpoint, for the packet just
 * added. A checkpoint is reached when the block has the model's min_packets
 * packets, then after each further quarter of a block length (packet time),
 * so a block is classified at most ~4 extra times (the result cached per
 * open block is shared with triage_run_block_result_now: a lookup "now"
 * counts as a checkpoint; the GUI uses one, tshark the other). NULL while no checkpoint
 * was reached or when the block would not be classified (too few packets)
 * or is closed (use triage_run_block_result). */
const triage_result *triage_run_block_result_provisional(triage_run *run, guint slot, guint32 id);

/* The block id of (flow, block), 0 if unknown. Walks the flow's blocks from
 * its latest: the dissector keeps block ids and needs it only to find the
 * reverse flow's block of the same index (triage-conv.c). */
guint32 triage_run_block_id(const triage_run *run, guint slot, guint32 flow, guint32 block);

/* The class probabilities kept for a closed, classified block of the category
 * model (n_classes bytes, tt_result_quantise), or NULL (other models, blocks
 * still open or not classified). */
const guint8 *triage_run_block_probs(const triage_run *run, guint slot, guint32 id);

/* Index of the slot filling `role` (loaded or failed), or -1. */
int triage_run_slot_for(const triage_run *run, triage_role role);

const char *triage_role_task_name(triage_role role);


#endif
