/* TrafficTriage plugin: models, engines, results. See triage-run.h. */
#include "triage-run.h"

#include <string.h>

typedef struct {
    guint32 flow;
    guint32 block;
} triage_key;

static guint
key_hash(gconstpointer p)
{
    const triage_key *k = p;
    return (guint)(k->flow * 2654435761u) ^ (guint)(k->block * 40503u);
}

static gboolean
key_equal(gconstpointer a, gconstpointer b)
{
    const triage_key *x = a, *y = b;
    return x->flow == y->flow && x->block == y->block;
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
flow_free(gpointer p)
{
    triage_flow *f = p;
    if (f->open_pkts)
        g_array_free(f->open_pkts, TRUE);
    g_free(f);
}

static void
slot_capture_free(triage_slot *s)
{
    if (s->eng) {
        tt_engine_free(s->eng);
        s->eng = NULL;
    }
    if (s->results) {
        g_hash_table_destroy(s->results);
        s->results = NULL;
    }
    if (s->flows) {
        g_hash_table_destroy(s->flows);
        s->flows = NULL;
    }
    if (s->class_seen) {
        g_hash_table_destroy(s->class_seen);
        s->class_seen = NULL;
    }
}

/* Create the slot's engine and maps if missing. */
static gboolean
slot_capture_ensure(triage_run *run, triage_slot *s)
{
    if (s->model == NULL)
        return FALSE;
    if (s->eng == NULL) {
        s->eng = tt_engine_new(&s->model->spec, run->max_flows, on_block, s);
        s->results = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);
        s->flows = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, flow_free);
        s->class_seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
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

/* The result of a finished block. `mark` records the block's class as seen
 * for its flow (first_of_class); provisional results only look. */
static void
fill_result(triage_slot *s, const tt_block *b, triage_result *r, gboolean mark)
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
            guint64 *seen = g_hash_table_lookup(s->class_seen, GUINT_TO_POINTER((guint)b->flow_id));
            guint64 bit = (guint64)1 << (res.top & 63);
            if (seen == NULL || !(*seen & bit))
                r->first_of_class = 1;
            if (mark) {
                if (seen == NULL) {
                    seen = g_new0(guint64, 1);
                    g_hash_table_insert(s->class_seen, GUINT_TO_POINTER((guint)b->flow_id), seen);
                }
                *seen |= bit;
            }
        } else {
            r->state = TRIAGE_BLOCK_EMPTY;
        }
    } else if (b->status == TT_BLOCK_TOO_FEW) {
        r->state = TRIAGE_BLOCK_TOO_FEW;
    } else {
        r->state = TRIAGE_BLOCK_EMPTY;
    }
}

static void
on_block(const tt_block *b, void *user)
{
    triage_slot *s = user;
    triage_run *run = s->run;
    guint si = s->index;

    triage_result *r = g_new(triage_result, 1);
    fill_result(s, b, r, TRUE);
    triage_key *k = g_new(triage_key, 1);
    k->flow = (guint32)b->flow_id;
    k->block = b->block_index;
    g_hash_table_replace(s->results, k, r);

    /* the block's packets are no longer needed for on-demand results */
    triage_flow *f = g_hash_table_lookup(s->flows, GUINT_TO_POINTER(k->flow));
    if (f && f->open_block == k->block) {
        if (f->open_pkts)
            g_array_set_size(f->open_pkts, 0);
        f->have_provisional = FALSE;
    }

    if (run->collecting) {
        triage_closed c = { (guint8)si, k->flow, k->block };
        g_array_append_val(run->closing, c);
    }
}

/* Keep the packet for on-demand results of its (open) block. */
static void
flow_keep_packet(triage_flow *f, const tt_packet *pkt, const tt_pkt_ref *ref)
{
    if (ref->new_flow)
        f->first_ts = pkt->ts;
    if (f->open_pkts == NULL)
        f->open_pkts = g_array_new(FALSE, FALSE, sizeof(triage_open_pkt));
    if (ref->index_in_block == 0 || f->open_block != ref->block_index) {
        g_array_set_size(f->open_pkts, 0);
        f->open_block = ref->block_index;
        f->open_overflow = FALSE;
        f->have_provisional = FALSE;
    }
    if (f->open_pkts->len >= TRIAGE_MAX_OPEN_PKTS) {
        f->open_overflow = TRUE;
        return;
    }
    triage_open_pkt op = { pkt->ts, pkt->ip_len };
    g_array_append_val(f->open_pkts, op);
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
        refs[i].flow = (guint32)ref.flow_id;
        refs[i].block = ref.block_index;
        refs[i].index = ref.index_in_block;
        triage_flow *f;
        if (ref.new_flow) {
            f = g_new0(triage_flow, 1);
            f->key = pkt->key;
            tt_key rk;
            tt_key_reverse(&pkt->key, &rk);
            f->reverse = (guint32)tt_engine_flow_id(s->eng, &rk);
            g_hash_table_replace(s->flows, GUINT_TO_POINTER(refs[i].flow), f);
            if (f->reverse) {
                triage_flow *rf = g_hash_table_lookup(s->flows, GUINT_TO_POINTER(f->reverse));
                if (rf)
                    rf->reverse = refs[i].flow;
            }
        } else {
            f = g_hash_table_lookup(s->flows, GUINT_TO_POINTER(refs[i].flow));
        }
        if (f)
            flow_keep_packet(f, pkt, &ref);
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
triage_run_flush(triage_run *run)
{
    for (guint i = 0; i < run->n_slots; i++)
        slot_flush(run, i);
}

const triage_result *
triage_run_result(const triage_run *run, guint slot, guint32 flow, guint32 block)
{
    if (slot >= run->n_slots || run->slots[slot].results == NULL)
        return NULL;
    triage_key k = { flow, block };
    return g_hash_table_lookup(run->slots[slot].results, &k);
}

/* Collects the result of block 1 of the replay engine. */
typedef struct {
    triage_slot   *slot;
    triage_flow   *flow;
    guint32        flow_id;
    gboolean       found;
} replay_ctx;

static void
on_replay_block(const tt_block *b, void *user)
{
    replay_ctx *c = user;
    if (b->block_index != 1)
        return;                  /* block 0 holds only the anchor */
    tt_block bb = *b;
    bb.flow_id = c->flow_id;     /* class_seen is keyed by the real flow */
    fill_result(c->slot, &bb, &c->flow->provisional, FALSE);
    c->found = TRUE;
}

/* The result the open block would get if it closed now: replay its packets
 * through a private engine with the model's spec. An anchor packet one
 * block length before the block's window makes the replayed block's window
 * coincide with the real one (block 1 of the replay); the idle timeout is
 * lifted so that the anchor's flow lives on. */
static const triage_result *
provisional_result(triage_slot *s, triage_flow *f, guint32 flow, guint32 block)
{
    if (f->open_block != block || f->open_pkts == NULL || f->open_pkts->len == 0 || f->open_overflow)
        return NULL;
    if (f->have_provisional && f->provisional_block == block && f->provisional_n == f->open_pkts->len)
        return &f->provisional;

    tt_spec spec = s->model->spec;
    spec.idle_timeout = 1e12;
    replay_ctx c = { s, f, flow, FALSE };
    tt_engine *e = tt_engine_new(&spec, 4, on_replay_block, &c);
    if (e == NULL)
        return NULL;
    double start = f->first_ts + (double)block * spec.block_seconds;
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.key = f->key;
    p.ts = start - spec.block_seconds;
    p.ip_len = 1;
    tt_pkt_ref ref;
    tt_engine_add(e, &p, &ref);
    for (guint i = 0; i < f->open_pkts->len; i++) {
        const triage_open_pkt *op = &g_array_index(f->open_pkts, triage_open_pkt, i);
        p.ts = op->ts;
        p.ip_len = op->ip_len;
        tt_engine_add(e, &p, &ref);
    }
    tt_engine_flush(e);
    tt_engine_free(e);
    if (!c.found)
        return NULL;
    f->have_provisional = TRUE;
    f->provisional_block = block;
    f->provisional_n = f->open_pkts->len;
    return &f->provisional;
}

const triage_result *
triage_run_result_now(triage_run *run, guint slot, guint32 flow, guint32 block)
{
    const triage_result *r = triage_run_result(run, slot, flow, block);
    if (r != NULL || slot >= run->n_slots)
        return r;
    triage_slot *s = &run->slots[slot];
    if (s->model == NULL || s->flows == NULL)
        return NULL;
    triage_flow *f = g_hash_table_lookup(s->flows, GUINT_TO_POINTER(flow));
    return f ? provisional_result(s, f, flow, block) : NULL;
}

const triage_flow *
triage_run_flow(const triage_run *run, guint slot, guint32 flow)
{
    if (slot >= run->n_slots || run->slots[slot].flows == NULL)
        return NULL;
    return g_hash_table_lookup(run->slots[slot].flows, GUINT_TO_POINTER(flow));
}
