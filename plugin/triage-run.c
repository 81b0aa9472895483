/* TrafficTriage plugin: models, engines, results. See triage-run.h. */
#include "triage-run.h"

#include <string.h>

/* A block of one slot, by block id: where it is and its result (state
 * TRIAGE_BLOCK_OPEN until it closes). 48 bytes, no allocation of its own. */
typedef struct {
    guint32       flow;
    guint32       block;
    guint32       prev_id;        /* the flow's previous block, 0 = none */
    triage_result r;
} triage_block_rec;

/* What a flow needs only while the engine tracks it. */
typedef struct {
    guint32  cur_id;              /* block id of the flow's open block */
    guint64  class_seen;          /* classes of its classified blocks (first_of_class) */
    /* The open block's provisional result (tt_engine_peek: as if it closed
     * now), kept until it is out of date; dropped when the block closes. */
    gboolean have_provisional;
    guint32  provisional_block;
    guint32  provisional_n;       /* the block's packets when it was computed */
    double   provisional_ts;      /* the block's last packet time then */
    gboolean provisional_tried;   /* the engine called it classifiable (TT_BLOCK_OK) */
    triage_result provisional;
} triage_open;

/* ---- chunked storage ----------------------------------------------------- */

#define CHUNK_ELEMS 4096u

static void
chunks_init(triage_chunks *c, guint elem_size)
{
    c->elem_size = elem_size;
    c->len = 0;
    c->chunks = g_ptr_array_new_with_free_func(g_free);
}

static void
chunks_clear(triage_chunks *c)
{
    if (c->chunks)
        g_ptr_array_free(c->chunks, TRUE);
    c->chunks = NULL;
    c->len = 0;
}

/* Element i (0-based), or NULL past the end / when not initialised. */
static void *
chunks_at(const triage_chunks *c, guint32 i)
{
    if (c->chunks == NULL || i >= c->len)
        return NULL;
    return (char *)g_ptr_array_index(c->chunks, i / CHUNK_ELEMS) + (gsize)(i % CHUNK_ELEMS) * c->elem_size;
}

/* A new zeroed element at the end; its index is c->len - 1. */
static void *
chunks_append(triage_chunks *c)
{
    if (c->len % CHUNK_ELEMS == 0)
        g_ptr_array_add(c->chunks, g_malloc0((gsize)CHUNK_ELEMS * c->elem_size));
    c->len++;
    return chunks_at(c, c->len - 1);
}

const char *
triage_role_task_name(triage_role role)
{
    switch (role) {
    case TRIAGE_ROLE_CATEGORY: return "category";
    case TRIAGE_ROLE_TUNNEL:   return "tunnel";
    case TRIAGE_ROLE_APP:      return "app";
    default:                   return "?";
    }
}

static gboolean
role_from_task(const char *task, triage_role *role)
{
    if (task == NULL)
        return FALSE;
    if (strcmp(task, "category") == 0)
        *role = TRIAGE_ROLE_CATEGORY;
    else if (strcmp(task, "tunnel") == 0)
        *role = TRIAGE_ROLE_TUNNEL;
    else if (strcmp(task, "platform") == 0 || strcmp(task, "app") == 0)
        *role = TRIAGE_ROLE_APP;
    else
        return FALSE;
    return TRUE;
}

/* ---- per-capture state ------------------------------------------------- */

static void on_block(const tt_block *b, void *user);


static void
slot_capture_free(triage_slot *s)
{
    if (s->eng) {
        tt_engine_free(s->eng);
        s->eng = NULL;
    }
    if (s->open) {
        g_hash_table_destroy(s->open);
        s->open = NULL;
    }
    chunks_clear(&s->flows);
    chunks_clear(&s->blocks);
    chunks_clear(&s->probs);
}

/* Create the slot's engine and tables if missing. */
static gboolean
slot_capture_ensure(triage_run *run, triage_slot *s)
{
    if (s->model == NULL)
        return FALSE;
    if (s->eng == NULL) {
        s->eng = tt_engine_new(&s->model->spec, run->max_flows, on_block, s);
        s->open = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        chunks_init(&s->flows, sizeof(triage_flow));
        chunks_init(&s->blocks, sizeof(triage_block_rec));
        if (s->role == TRIAGE_ROLE_CATEGORY)
            chunks_init(&s->probs, s->model->n_classes);
    }
    return s->eng != NULL;
}

void
triage_run_capture_reset(triage_run *run)
{
    for (guint i = 0; i < run->n_slots; i++)
        slot_capture_free(&run->slots[i]);
    g_array_set_size(run->closing, 0);
}

/* ---- models ------------------------------------------------------------ */

static void
slot_clear(triage_slot *s)
{
    slot_capture_free(s);
    if (s->cls)
        tt_classifier_free(s->cls);
    if (s->model)
        tt_model_free(s->model);
    g_free(s->path);
    g_free(s->error);
    g_free(s->class_names);
    memset(s, 0, sizeof *s);
}

static void
slot_load(triage_run *run, guint index, const char *path)
{
    triage_slot *s = &run->slots[index];
    GError *err = NULL;
    s->run = run;
    s->index = index;
    s->path = g_strdup(path);
    s->model = tt_model_load_file(path, &err);
    if (s->model == NULL) {
        /* the core's message names the file */
        s->error = g_strdup_printf("TrafficTriage: model not loaded: %s",
                                   err ? err->message : path);
        g_clear_error(&err);
        g_snprintf(s->label, sizeof s->label, "none (%s)", path);
        return;
    }
    s->cls = tt_classifier_new(s->model);
    s->threshold = tt_model_threshold(s->model);
    s->class_names = g_new(const char *, s->model->n_classes);
    for (guint k = 0; k < s->model->n_classes; k++)
        s->class_names[k] = g_intern_string(s->model->classes[k]);
    g_snprintf(s->label, sizeof s->label, "%s %.12s",
               s->model->name ? s->model->name : "?", s->model->sha256);
}

triage_run *
triage_run_new(void)
{
    triage_run *run = g_new0(triage_run, 1);
    run->closing = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    run->max_flows = 200000;
    return run;
}

void
triage_run_free(triage_run *run)
{
    if (run == NULL)
        return;
    for (guint i = 0; i < run->n_slots; i++)
        slot_clear(&run->slots[i]);
    g_array_free(run->closing, TRUE);
    g_free(run);
}

/* The ';'-separated list of extra model files, trimmed, empty ones dropped. */
static GPtrArray *
split_paths(const char *extras)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    if (extras == NULL)
        return out;
    gchar **parts = g_strsplit(extras, ";", -1);
    for (gchar **p = parts; *p; p++) {
        gchar *t = g_strstrip(*p);
        if (*t)
            g_ptr_array_add(out, g_strdup(t));
    }
    g_strfreev(parts);
    return out;
}

static gboolean
same_models(const triage_run *run, const char *primary, GPtrArray *extras, guint max_flows)
{
    if (run->n_slots == 0 || run->max_flows != max_flows)
        return FALSE;
    /* slot 0 is the primary; extras follow in order (including failed ones) */
    if (g_strcmp0(run->slots[0].path, primary) != 0)
        return FALSE;
    if (run->n_slots != 1 + extras->len)
        return FALSE;
    for (guint i = 0; i < extras->len; i++)
        if (g_strcmp0(run->slots[1 + i].path, g_ptr_array_index(extras, i)) != 0)
            return FALSE;
    return TRUE;
}

gboolean
triage_run_set_models(triage_run *run, const char *primary, const char *extras,
                      guint max_flows)
{
    GPtrArray *ex = split_paths(extras);
    if (ex->len > TRIAGE_MAX_MODELS - 1)
        g_ptr_array_set_size(ex, TRIAGE_MAX_MODELS - 1);
    if (same_models(run, primary, ex, max_flows)) {
        g_ptr_array_free(ex, TRUE);
        return FALSE;
    }

    for (guint i = 0; i < run->n_slots; i++)
        slot_clear(&run->slots[i]);
    run->n_slots = 0;
    run->max_flows = max_flows;
    g_array_set_size(run->closing, 0);

    gboolean taken[TRIAGE_ROLE_COUNT] = { FALSE };
    triage_slot *s = &run->slots[run->n_slots];
    slot_load(run, run->n_slots++, primary);
    s->role = TRIAGE_ROLE_CATEGORY;
    taken[TRIAGE_ROLE_CATEGORY] = TRUE;

    for (guint i = 0; i < ex->len; i++) {
        s = &run->slots[run->n_slots];
        slot_load(run, run->n_slots++, g_ptr_array_index(ex, i));
        if (s->model) {
            triage_role role;
            if (!role_from_task(s->model->task, &role) || taken[role]) {
                char *msg = g_strdup_printf(
                    "TrafficTriage: extra model %s ignored: task \"%s\" is not "
                    "supported or already served (extra models: tunnel, platform "
                    "or app, each once)",
                    s->path, s->model->task ? s->model->task : "");
                tt_classifier_free(s->cls);
                tt_model_free(s->model);
                s->cls = NULL;
                s->model = NULL;
                s->error = msg;
                s->role = TRIAGE_ROLE_COUNT;
            } else {
                s->role = role;
                taken[role] = TRUE;
            }
        } else {
            s->role = TRIAGE_ROLE_COUNT;   /* unknown: the file did not load */
        }
    }
    g_ptr_array_free(ex, TRUE);
    return TRUE;
}

int
triage_run_slot_for(const triage_run *run, triage_role role)
{
    for (guint i = 0; i < run->n_slots; i++)
        if (run->slots[i].role == role)
            return (int)i;
    return -1;
}

/* ---- feeding ----------------------------------------------------------- */

/* The result of a finished block. `seen` holds the classes already seen in
 * the block's flow (first_of_class); `mark` adds this block's class to it
 * (provisional results only look). `full` (may be NULL) gets the classifier's
 * whole result (every class's probability) when the block is classified. */
static void
fill_result(triage_slot *s, const tt_block *b, triage_result *r, guint64 *seen, gboolean mark,
            tt_result *full)
{
    memset(r, 0, sizeof *r);
    r->truncated = b->truncated ? 1 : 0;
    r->reason = (guint8)b->reason;
    r->n_packets = b->n_packets;
    r->n_stored = b->n_stored;
    r->n_bytes = b->n_bytes;
    if (b->status == TT_BLOCK_OK) {
        tt_result res;
        if (tt_classify_packets(s->cls, b->pkts, b->n_stored, &res)) {
            r->state = TRIAGE_BLOCK_CLASSIFIED;
            r->top = res.top;
            r->confidence = res.confidence;
            guint64 bit = (guint64)1 << (res.top & 63);
            if (!(*seen & bit))
                r->first_of_class = 1;
            if (mark)
                *seen |= bit;
            if (full)
                *full = res;
        } else {
            r->state = TRIAGE_BLOCK_EMPTY;
        }
    } else if (b->status == TT_BLOCK_TOO_FEW) {
        r->state = TRIAGE_BLOCK_TOO_FEW;
    } else {
        r->state = TRIAGE_BLOCK_EMPTY;
    }
}

/* Keep a closed block's class probabilities, one byte each (category model
 * only: the conversation answer, triage-conv.c), in chunks indexed like
 * s->blocks: n_classes bytes per block id (5 for the bundled model), zero for
 * the ids of blocks not classified (or not closed yet). */
static void
keep_probs(triage_slot *s, guint32 id, const triage_result *r, const tt_result *full)
{
    if (s->probs.chunks == NULL || r->state != TRIAGE_BLOCK_CLASSIFIED)
        return;
    while (s->probs.len < id)
        chunks_append(&s->probs);
    tt_result_quantise(full, chunks_at(&s->probs, id - 1));
}

static void
on_block(const tt_block *b, void *user)
{
    triage_slot *s = user;
    triage_run *run = s->run;
    guint32 flow = (guint32)b->flow_id;

    /* the closing block is always its flow's open block */
    triage_open *o = g_hash_table_lookup(s->open, GUINT_TO_POINTER(flow));
    if (o == NULL)
        return;                   /* cannot happen: every tracked flow has one */
    guint32 id = o->cur_id;
    triage_block_rec *rec = chunks_at(&s->blocks, id - 1);
    if (rec == NULL)
        return;
    tt_result full;
    fill_result(s, b, &rec->r, &o->class_seen, TRUE, &full);
    keep_probs(s, id, &rec->r, &full);

    if (b->reason == TT_CLOSE_NEXT) {
        o->have_provisional = FALSE;      /* the next block starts afresh */
    } else {
        /* idle, evicted or flushed: the engine forgets the flow, so does the
         * run (what display needs stays in s->flows and s->blocks) */
        g_hash_table_remove(s->open, GUINT_TO_POINTER(flow));
    }

    if (run->collecting) {
        triage_closed c = { (guint8)s->index, rec->flow, rec->block, id };
        g_array_append_val(run->closing, c);
    }
}

/* A new flow id from the engine: its display record (ids are consecutive
 * from 1 per engine, so the record of flow id n is element n - 1) and its
 * open-flow state. */
static triage_open *
slot_new_flow(triage_slot *s, const tt_packet *pkt, guint32 flow)
{
    triage_flow *f = NULL;
    while (s->flows.len < flow)          /* normally exactly one append */
        f = chunks_append(&s->flows);
    if (f == NULL)
        f = chunks_at(&s->flows, flow - 1);
    memset(f, 0, sizeof *f);
    f->key = pkt->key;
    tt_key rk;
    tt_key_reverse(&pkt->key, &rk);
    f->reverse = (guint32)tt_engine_flow_id(s->eng, &rk);
    if (f->reverse) {
        triage_flow *rf = chunks_at(&s->flows, f->reverse - 1);
        if (rf)
            rf->reverse = flow;
    }
    triage_open *o = g_new0(triage_open, 1);
    g_hash_table_replace(s->open, GUINT_TO_POINTER(flow), o);
    return o;
}

gboolean
triage_run_add(triage_run *run, const tt_packet *pkt,
               triage_ref refs[TRIAGE_MAX_MODELS], GArray *closed)
{
    gboolean any = FALSE;
    memset(refs, 0, sizeof(triage_ref) * TRIAGE_MAX_MODELS);
    g_array_set_size(run->closing, 0);
    run->collecting = TRUE;
    for (guint i = 0; i < run->n_slots; i++) {
        triage_slot *s = &run->slots[i];
        if (!slot_capture_ensure(run, s))
            continue;
        tt_pkt_ref ref;
        if (!tt_engine_add(s->eng, pkt, &ref))
            continue;
        any = TRUE;
        guint32 flow = (guint32)ref.flow_id;
        refs[i].flow = flow;
        refs[i].block = ref.block_index;
        refs[i].index = ref.index_in_block;
        triage_open *o = ref.new_flow ? slot_new_flow(s, pkt, flow)
                                      : g_hash_table_lookup(s->open, GUINT_TO_POINTER(flow));
        if (o == NULL)
            continue;                    /* cannot happen: the engine tracks the flow */
        if (ref.index_in_block == 0) {   /* the packet opened a block */
            triage_block_rec *rec = chunks_append(&s->blocks);
            triage_flow *f = chunks_at(&s->flows, flow - 1);
            rec->flow = flow;
            rec->block = ref.block_index;
            rec->r.state = TRIAGE_BLOCK_OPEN;
            o->cur_id = s->blocks.len;
            if (f) {
                rec->prev_id = f->last_block_id;
                f->last_block_id = o->cur_id;
            }
        }
        refs[i].id = o->cur_id;
    }
    run->collecting = FALSE;
    if (closed && run->closing->len)
        g_array_append_vals(closed, run->closing->data, run->closing->len);
    g_array_set_size(run->closing, 0);
    return any;
}

static void
slot_flush(triage_run *run, guint i)
{
    triage_slot *s = &run->slots[i];
    if (s->eng == NULL)
        return;
    tt_engine_flush(s->eng);
}

void
triage_run_flush_closed(triage_run *run, GArray *closed)
{
    g_array_set_size(run->closing, 0);
    run->collecting = closed != NULL;
    for (guint i = 0; i < run->n_slots; i++)
        slot_flush(run, i);
    run->collecting = FALSE;
    if (closed && run->closing->len)
        g_array_append_vals(closed, run->closing->data, run->closing->len);
    g_array_set_size(run->closing, 0);
}

void
triage_run_flush(triage_run *run)
{
    triage_run_flush_closed(run, NULL);
}

static const triage_block_rec *
block_rec(const triage_run *run, guint slot, guint32 id)
{
    if (slot >= run->n_slots || id == 0)
        return NULL;
    return chunks_at(&run->slots[slot].blocks, id - 1);
}

/* Block id of (flow, block): walk the flow's blocks from the latest. The
 * dissector keeps block ids and never needs this; tests and benchmarks do. */
static guint32
block_id_of(const triage_run *run, guint slot, guint32 flow, guint32 block)
{
    const triage_flow *f = triage_run_flow(run, slot, flow);
    guint32 id = f ? f->last_block_id : 0;
    const triage_block_rec *rec;
    while ((rec = block_rec(run, slot, id)) != NULL && rec->block > block)
        id = rec->prev_id;
    return rec && rec->block == block ? id : 0;
}

guint32
triage_run_block_id(const triage_run *run, guint slot, guint32 flow, guint32 block)
{
    return block_id_of(run, slot, flow, block);
}

const guint8 *
triage_run_block_probs(const triage_run *run, guint slot, guint32 id)
{
    if (triage_run_block_result(run, slot, id) == NULL)
        return NULL;
    const guint8 *q = id ? chunks_at(&run->slots[slot].probs, id - 1) : NULL;
    for (guint c = 0; q && c < run->slots[slot].probs.elem_size; c++)
        if (q[c])
            return q;
    return NULL;              /* not classified: never stored */
}

const triage_result *
triage_run_block_result(const triage_run *run, guint slot, guint32 id)
{
    const triage_block_rec *rec = block_rec(run, slot, id);
    return rec && rec->r.state != TRIAGE_BLOCK_OPEN ? &rec->r : NULL;
}

void
triage_run_block_where(const triage_run *run, guint slot, guint32 id, guint32 *flow, guint32 *block)
{
    const triage_block_rec *rec = block_rec(run, slot, id);
    *flow = rec ? rec->flow : 0;
    *block = rec ? rec->block : 0;
}

const triage_result *
triage_run_result(const triage_run *run, guint slot, guint32 flow, guint32 block)
{
    return triage_run_block_result(run, slot, block_id_of(run, slot, flow, block));
}

/* How up to date a provisional result must be. */
typedef enum {
    PEEK_NOW,                     /* exactly the packets so far */
    PEEK_CHECKPOINT               /* the latest checkpoint (triage_run_block_result_provisional) */
} peek_mode;

typedef struct {
    triage_slot   *slot;
    triage_open   *open;
    guint32        flow, block;
    peek_mode      mode;
} peek_ctx;

/* Whether the open block reached a new checkpoint: min_packets packets for
 * the first result (and every packet while the engine would not classify
 * it: too few packets, a minimum span not reached; cheap, no CNN), then each
 * further quarter of a block length of packet time: at most ~4
 * classifications per block however many packets. */
static gboolean
checkpoint_due(const triage_slot *s, const triage_open *o, const tt_block *b)
{
    if (b->n_packets < MAX(s->model->spec.min_packets, 1u))
        return FALSE;
    if (!o->have_provisional || o->provisional_block != b->block_index || !o->provisional_tried)
        return TRUE;              /* not classifiable yet: looking is cheap */
    return b->n_packets > o->provisional_n &&
           b->last_ts - o->provisional_ts >= s->model->spec.block_seconds / 4.0;
}

static void
on_peek(const tt_block *b, void *user)
{
    peek_ctx *c = user;
    triage_open *o = c->open;
    if (b->flow_id != c->flow || b->block_index != c->block)
        return;                   /* another flow with that 5-tuple (cannot happen) */
    gboolean fresh = o->have_provisional && o->provisional_block == b->block_index;
    gboolean compute = c->mode == PEEK_NOW ? !(fresh && o->provisional_n == b->n_packets)
                                           : checkpoint_due(c->slot, o, b);
    if (!compute)
        return;
    /* the real flow's classes seen so far decide first_of_class */
    guint64 seen = o->class_seen;
    fill_result(c->slot, b, &o->provisional, &seen, FALSE, NULL);
    o->have_provisional = TRUE;
    o->provisional_block = b->block_index;
    o->provisional_n = b->n_packets;
    o->provisional_ts = b->last_ts;
    o->provisional_tried = b->status == TT_BLOCK_OK;
}

/* The provisional result of an open block (see peek_mode), or NULL. */
static const triage_result *
provisional_result(triage_run *run, guint slot, guint32 id, peek_mode mode)
{
    const triage_block_rec *rec = block_rec(run, slot, id);
    if (rec == NULL || rec->r.state != TRIAGE_BLOCK_OPEN)
        return NULL;
    triage_slot *s = &run->slots[slot];
    if (s->model == NULL || s->open == NULL)
        return NULL;
    triage_open *o = g_hash_table_lookup(s->open, GUINT_TO_POINTER(rec->flow));
    const triage_flow *f = chunks_at(&s->flows, rec->flow - 1);
    if (o == NULL || f == NULL || o->cur_id != id)
        return NULL;
    peek_ctx c = { s, o, rec->flow, rec->block, mode };
    tt_engine_peek(s->eng, &f->key, on_peek, &c);
    return o->have_provisional && o->provisional_block == rec->block ? &o->provisional : NULL;
}

gboolean
triage_run_block_open(const triage_run *run, guint slot, guint32 id)
{
    const triage_block_rec *rec = block_rec(run, slot, id);
    return rec != NULL && rec->r.state == TRIAGE_BLOCK_OPEN;
}

const triage_result *
triage_run_block_result_provisional(triage_run *run, guint slot, guint32 id)
{
    const triage_result *r = provisional_result(run, slot, id, PEEK_CHECKPOINT);
    return r && r->state == TRIAGE_BLOCK_CLASSIFIED ? r : NULL;
}

const triage_result *
triage_run_block_result_now(triage_run *run, guint slot, guint32 id)
{
    const triage_block_rec *rec = block_rec(run, slot, id);
    if (rec == NULL)
        return NULL;
    if (rec->r.state != TRIAGE_BLOCK_OPEN)
        return &rec->r;
    return provisional_result(run, slot, id, PEEK_NOW);
}

const triage_result *
triage_run_result_now(triage_run *run, guint slot, guint32 flow, guint32 block)
{
    guint32 id = block_id_of(run, slot, flow, block);
    if (id != 0)
        return triage_run_block_result_now(run, slot, id);
    return NULL;
}

const triage_flow *
triage_run_flow(const triage_run *run, guint slot, guint32 flow)
{
    if (slot >= run->n_slots || flow == 0)
        return NULL;
    return chunks_at(&run->slots[slot].flows, flow - 1);
}
