/* TrafficTriage core: unidirectional flows cut into time blocks (tt_flow.h). */
#include "tt_flow.h"

#include <math.h>
#include <string.h>

#define TT_DEFAULT_MAX_FLOWS 1000000u
#define TT_PKTS_INITIAL 16u
#define TT_PKTS_KEEP 256u   /* larger buffers are released when a block closes */

typedef struct {
    tt_key   key;           /* hash key: must stay first and zero-padded */
    uint64_t id;
    double   start;         /* the flow's first packet */
    double   last_ts;       /* last (clamped) packet time */
    double   block_start;   /* start of the current block's window */
    double   block_first, block_last;
    uint32_t block_index;
    uint32_t n_packets;     /* in the current block */
    uint32_t n_usable;      /* of those, kept by the size policy */
    uint64_t n_bytes;
    uint32_t n_stored, cap;
    tt_pkt  *pkts;
    GList    lru;           /* link in eng->lru; data = this flow */
} tt_flow;

struct tt_engine {
    tt_spec     spec;
    uint32_t    max_flows;
    tt_block_fn on_block;
    void       *user;
    GHashTable *flows;      /* tt_key* -> tt_flow* */
    GQueue      lru;        /* least recently seen at the head */
    uint64_t    next_id;
    double      now;        /* latest packet time seen */
    gboolean    have_now;
    tt_engine_stats st;
};

/* The key as hashed: padding and the unused bytes of IPv4 addresses zeroed. */
static tt_key normalize_key(const tt_key *in)
{
    tt_key k = *in;
    memset(k.pad, 0, sizeof k.pad);
    if (k.family == 4) {
        memset(k.src + 4, 0, 12);
        memset(k.dst + 4, 0, 12);
    }
    return k;
}

static guint key_hash(gconstpointer p)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < sizeof(tt_key); i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h ^= w;
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return (guint)(h ^ (h >> 32));
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(tt_key)) == 0;
}

G_STATIC_ASSERT(sizeof(tt_key) % 8 == 0);

tt_engine *tt_engine_new(const tt_spec *spec, uint32_t max_flows,
                         tt_block_fn on_block, void *user)
{
    tt_engine *e = g_new0(tt_engine, 1);
    e->spec = *spec;
    e->max_flows = max_flows ? max_flows : TT_DEFAULT_MAX_FLOWS;
    e->on_block = on_block;
    e->user = user;
    e->flows = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&e->lru);
    e->next_id = 1;
    e->st.flows_max = e->max_flows;
    return e;
}

static void flow_free(tt_flow *f)
{
    g_free(f->pkts);
    g_free(f);
}

void tt_engine_free(tt_engine *e)
{
    if (!e)
        return;
    GList *l = e->lru.head;
    while (l) {
        GList *next = l->next;
        flow_free(l->data);
        l = next;
    }
    g_hash_table_destroy(e->flows);
    g_free(e);
}

static gboolean usable(const tt_spec *s, uint32_t size)
{
    return s->size_policy == TT_SIZE_CLIP || size <= s->max_size;
}

/* The flow's current block as it would be reported if it closed now. */
static void describe_block(const tt_engine *e, const tt_flow *f, tt_close_reason reason, tt_block *b)
{
    memset(b, 0, sizeof *b);
    b->flow_id = f->id;
    b->block_index = f->block_index;
    b->reason = reason;
    b->truncated = f->n_packets > f->n_stored;
    b->key = &f->key;
    b->start = f->block_start;
    b->first_ts = f->block_first;
    b->last_ts = f->block_last;
    b->n_packets = f->n_packets;
    b->n_bytes = f->n_bytes;
    b->n_stored = f->n_stored;
    b->pkts = f->pkts;
    if (f->n_usable == 0)
        b->status = TT_BLOCK_EMPTY;
    else if (f->n_usable < e->spec.min_packets ||
             (e->spec.min_span > 0.0 && f->block_last - f->block_first < e->spec.min_span))
        b->status = TT_BLOCK_TOO_FEW;
    else
        b->status = TT_BLOCK_OK;
}

/* Report the flow's current block (if it has packets) and reset it. */
static void close_block(tt_engine *e, tt_flow *f, tt_close_reason reason)
{
    if (f->n_packets == 0)
        return;
    tt_block b;
    describe_block(e, f, reason, &b);

    e->st.blocks_closed++;
    if (b.status != TT_BLOCK_OK)
        e->st.blocks_too_few++;
    if (b.truncated)
        e->st.blocks_truncated++;
    if (e->on_block)
        e->on_block(&b, e->user);

    e->st.pkts_stored -= f->n_stored;
    f->n_packets = f->n_usable = f->n_stored = 0;
    f->n_bytes = 0;
    if (f->cap > TT_PKTS_KEEP) {
        g_free(f->pkts);
        f->pkts = NULL;
        f->cap = 0;
    }
}

static void end_flow(tt_engine *e, tt_flow *f, tt_close_reason reason)
{
    close_block(e, f, reason);
    g_hash_table_remove(e->flows, &f->key);
    g_queue_unlink(&e->lru, &f->lru);
    flow_free(f);
    e->st.flows_open--;
}

/* End flows idle for longer than the timeout, oldest first. */
static void sweep_idle(tt_engine *e)
{
    while (e->lru.head) {
        tt_flow *f = e->lru.head->data;
        if (f->last_ts + e->spec.idle_timeout >= e->now)
            break;
        e->st.flows_idle++;
        end_flow(e, f, TT_CLOSE_IDLE);
    }
}

/* Index of the block window containing ts, exact at boundaries. */
static uint32_t block_of(const tt_spec *s, double start, double ts)
{
    double k = floor((ts - start) / s->block_seconds);
    if (k < 0.0)
        k = 0.0;
    if (k > 4.0e9)
        k = 4.0e9;
    uint32_t i = (uint32_t)k;
    if (start + (double)(i + 1) * s->block_seconds <= ts)
        i++;
    else if (i > 0 && start + (double)i * s->block_seconds > ts)
        i--;
    return i;
}

gboolean tt_engine_add(tt_engine *e, const tt_packet *p, tt_pkt_ref *ref)
{
    if ((p->key.proto != 6 && p->key.proto != 17) || p->ip_len == 0 || !isfinite(p->ts)) {
        e->st.ignored++;
        return FALSE;
    }
    e->st.packets++;
    if (!e->have_now || p->ts > e->now) {
        e->now = p->ts;
        e->have_now = TRUE;
    }

    tt_key key = normalize_key(&p->key);

    tt_flow *f = g_hash_table_lookup(e->flows, &key);
    /* A flow idle past the timeout ends before this packet joins anything. */
    if (f && f->last_ts + e->spec.idle_timeout < p->ts) {
        e->st.flows_idle++;
        end_flow(e, f, TT_CLOSE_IDLE);
        f = NULL;
    }
    if (f)
        g_queue_unlink(&e->lru, &f->lru);   /* out of the sweep's reach */
    sweep_idle(e);

    gboolean is_new = FALSE;
    double ts = p->ts;
    if (!f) {
        if (e->st.flows_open >= e->max_flows && e->lru.head) {
            e->st.flows_evicted++;
            end_flow(e, e->lru.head->data, TT_CLOSE_EVICT);
        }
        f = g_new0(tt_flow, 1);
        f->key = key;
        f->id = e->next_id++;
        f->start = f->last_ts = f->block_start = ts;
        f->lru.data = f;
        g_hash_table_insert(e->flows, &f->key, f);
        e->st.flows_open++;
        e->st.flows_created++;
        is_new = TRUE;
    } else {
        if (ts < f->last_ts)
            ts = f->last_ts;                 /* time went backwards: clamp */
        uint32_t k = block_of(&e->spec, f->start, ts);
        if (k != f->block_index) {
            close_block(e, f, TT_CLOSE_NEXT);
            f->block_index = k;
            f->block_start = f->start + (double)k * e->spec.block_seconds;
        }
    }
    g_queue_push_tail_link(&e->lru, &f->lru);
    f->last_ts = ts;

    uint32_t idx = f->n_packets;
    if (f->n_packets == 0)
        f->block_first = ts;
    f->block_last = ts;
    if (f->n_packets < UINT32_MAX)
        f->n_packets++;
    f->n_bytes += p->ip_len;
    if (usable(&e->spec, p->ip_len))
        f->n_usable++;
    if (f->n_stored < e->spec.max_packets) {
        if (f->n_stored == f->cap) {
            uint32_t cap = f->cap ? f->cap * 2 : TT_PKTS_INITIAL;
            if (cap > e->spec.max_packets)
                cap = e->spec.max_packets;
            f->pkts = g_renew(tt_pkt, f->pkts, cap);
            f->cap = cap;
        }
        double t = ts - f->block_start;
        f->pkts[f->n_stored].t = (float)(t > 0.0 ? t : 0.0);
        f->pkts[f->n_stored].size = p->ip_len;
        f->n_stored++;
        e->st.pkts_stored++;
    }

    if (ref) {
        ref->flow_id = f->id;
        ref->block_index = f->block_index;
        ref->index_in_block = idx;
        ref->new_flow = is_new;
    }
    return TRUE;
}

void tt_engine_flush(tt_engine *e)
{
    while (e->lru.head)
        end_flow(e, e->lru.head->data, TT_CLOSE_FLUSH);
}

gboolean tt_engine_peek(const tt_engine *e, const tt_key *key, tt_block_fn fn, void *user)
{
    tt_key k = normalize_key(key);
    const tt_flow *f = g_hash_table_lookup(e->flows, &k);
    if (f == NULL || f->n_packets == 0)
        return FALSE;
    tt_block b;
    describe_block(e, f, TT_CLOSE_FLUSH, &b);
    if (fn)
        fn(&b, user);
    return TRUE;
}

uint64_t tt_engine_flow_id(const tt_engine *e, const tt_key *key)
{
    tt_key k = normalize_key(key);
    tt_flow *f = g_hash_table_lookup(e->flows, &k);
    return f ? f->id : 0;
}

void tt_engine_get_stats(const tt_engine *e, tt_engine_stats *st)
{
    *st = e->st;
}

const char *tt_block_status_name(tt_block_status s)
{
    switch (s) {
    case TT_BLOCK_OK: return "ok";
    case TT_BLOCK_TOO_FEW: return "too few packets";
    case TT_BLOCK_EMPTY: return "no packet within the size range";
    }
    return "unknown";
}

const char *tt_close_reason_name(tt_close_reason r)
{
    switch (r) {
    case TT_CLOSE_NEXT: return "next block";
    case TT_CLOSE_IDLE: return "idle timeout";
    case TT_CLOSE_EVICT: return "evicted (flow table full)";
    case TT_CLOSE_FLUSH: return "end of capture";
    }
    return "unknown";
}
