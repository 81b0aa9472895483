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
        s->flows = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
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
    if (s->error)
        g_warning("%s", s->error);

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
        if (s->error)
            g_warning("%s", s->error);
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

static void
on_block(const tt_block *b, void *user)
{
    triage_slot *s = user;
    triage_run *run = s->run;
    guint si = s->index;

    triage_result *r = g_new0(triage_result, 1);
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
            if (seen == NULL) {
                seen = g_new0(guint64, 1);
                g_hash_table_insert(s->class_seen, GUINT_TO_POINTER((guint)b->flow_id), seen);
            }
            guint64 bit = (guint64)1 << (res.top & 63);
            if (!(*seen & bit)) {
                r->first_of_class = 1;
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

    triage_key *k = g_new(triage_key, 1);
    k->flow = (guint32)b->flow_id;
    k->block = b->block_index;
    g_hash_table_replace(s->results, k, r);

    if (run->collecting) {
        triage_closed c = { (guint8)si, k->flow, k->block };
        g_array_append_val(run->closing, c);
    }
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
        if (ref.new_flow) {
            triage_flow *f = g_new0(triage_flow, 1);
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
        }
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

const triage_result *
triage_run_result_now(triage_run *run, guint slot, guint32 flow, guint32 block)
{
    const triage_result *r = triage_run_result(run, slot, flow, block);
    if (r == NULL && slot < run->n_slots && run->slots[slot].eng != NULL) {
        slot_flush(run, slot);
        r = triage_run_result(run, slot, flow, block);
    }
    return r;
}

const triage_flow *
triage_run_flow(const triage_run *run, guint slot, guint32 flow)
{
    if (slot >= run->n_slots || run->slots[slot].flows == NULL)
        return NULL;
    return g_hash_table_lookup(run->slots[slot].flows, GUINT_TO_POINTER(flow));
}
