/* Flows and blocks: boundaries, caps, idle timeout, eviction, flush. */
#include <string.h>

#include "tt_flow.h"
#include "tt_test.h"

typedef struct {
    GArray *blocks;    /* tt_block copies (pkts not kept) */
} sink;

static void on_block(const tt_block *b, void *user)
{
    sink *s = user;
    tt_block c = *b;
    c.pkts = NULL;
    c.key = NULL;
    g_array_append_val(s->blocks, c);
}

static void sink_init(sink *s)
{
    s->blocks = g_array_new(FALSE, FALSE, sizeof(tt_block));
}

static void sink_clear(sink *s)
{
    g_array_free(s->blocks, TRUE);
}

static tt_packet pkt(double ts, uint32_t len, uint8_t host, uint16_t sport)
{
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.ts = ts;
    p.ip_len = len;
    p.key.family = 4;
    p.key.proto = 17;
    p.key.src[0] = 10; p.key.src[3] = host;
    p.key.dst[0] = 10; p.key.dst[3] = 200;
    p.key.sport = sport;
    p.key.dport = 443;
    return p;
}

static tt_spec spec15(void)
{
    tt_spec s;
    tt_test_spec(&s, 32, 15.0, 3, 100, 60.0);
    return s;
}

TT_TEST("/flow/block/boundaries", test_boundaries)
{
    tt_spec s = spec15();
    sink k;
    sink_init(&k);
    tt_engine *e = tt_engine_new(&s, 0, on_block, &k);
    double times[] = { 100.0, 105.0, 114.999, 115.0, 116.0, 117.0, 145.0, 146.0, 147.0 };
    uint32_t expect_block[] = { 0, 0, 0, 1, 1, 1, 3, 3, 3 };
    for (size_t i = 0; i < G_N_ELEMENTS(times); i++) {
        tt_packet p = pkt(times[i], 100 + (uint32_t)i, 1, 1000);
        tt_pkt_ref r;
        g_assert_true(tt_engine_add(e, &p, &r));
        g_assert_cmpuint(r.flow_id, ==, 1);
        g_assert_cmpuint(r.block_index, ==, expect_block[i]);
        g_assert_true(r.new_flow == (i == 0));
    }
    /* blocks 0 and 1 closed by later packets; block 2 never existed (empty) */
    g_assert_cmpuint(k.blocks->len, ==, 2);
    tt_block *b0 = &g_array_index(k.blocks, tt_block, 0);
    g_assert_cmpuint(b0->block_index, ==, 0);
    g_assert_cmpuint(b0->n_packets, ==, 3);
    g_assert_cmpuint(b0->n_bytes, ==, 100 + 101 + 102);
    g_assert_cmpint(b0->reason, ==, TT_CLOSE_NEXT);
    g_assert_cmpint(b0->status, ==, TT_BLOCK_OK);
    g_assert_cmpfloat(b0->start, ==, 100.0);
    tt_block *b1 = &g_array_index(k.blocks, tt_block, 1);
    g_assert_cmpuint(b1->block_index, ==, 1);
    g_assert_cmpfloat(b1->start, ==, 115.0);
    tt_engine_flush(e);
    g_assert_cmpuint(k.blocks->len, ==, 3);
    tt_block *b3 = &g_array_index(k.blocks, tt_block, 2);
    g_assert_cmpuint(b3->block_index, ==, 3);
    g_assert_cmpfloat(b3->start, ==, 145.0);
    g_assert_cmpint(b3->reason, ==, TT_CLOSE_FLUSH);
    tt_engine_stats st;
    tt_engine_get_stats(e, &st);
    g_assert_cmpuint(st.flows_open, ==, 0);
    g_assert_cmpuint(st.pkts_stored, ==, 0);
    tt_engine_free(e);
    sink_clear(&k);
}

static uint32_t last_n;
static float last_t[8];

static void keep_times(const tt_block *b, void *user)
{
    last_n = b->n_stored;
    for (uint32_t i = 0; i < b->n_stored && i < 8; i++)
        last_t[i] = b->pkts[i].t;
    (void)user;
}

TT_TEST("/flow/block/relative-times", test_relative_times_and_backwards)
{
    tt_spec s = spec15();
    tt_engine *e = tt_engine_new(&s, 0, keep_times, NULL);
    double times[] = { 1000.0, 1001.5, 1001.0 /* backwards: clamped */, 1016.25 };
    for (size_t i = 0; i < 3; i++) {
        tt_packet p = pkt(times[i], 60, 1, 1);
        tt_engine_add(e, &p, NULL);
    }
    tt_engine_flush(e);
    g_assert_cmpuint(last_n, ==, 3);
    g_assert_cmpfloat(last_t[0], ==, 0.0f);
    g_assert_cmpfloat(last_t[1], ==, 1.5f);
    g_assert_cmpfloat(last_t[2], ==, 1.5f);
    /* block 1 packets are relative to the block window (1015), not the packet */
    tt_packet a = pkt(2000.0, 60, 2, 2), b = pkt(2016.25, 60, 2, 2);
    tt_engine_add(e, &a, NULL);
    tt_engine_add(e, &b, NULL);
    tt_engine_flush(e);
    g_assert_cmpuint(last_n, ==, 1);
    g_assert_cmpfloat_with_epsilon(last_t[0], 1.25f, 1e-4);
    tt_engine_free(e);
}

TT_TEST("/flow/block/min-packets-and-cap", test_min_packets_and_cap)
{
    tt_spec s = spec15();
    s.min_packets = 5;
    s.max_packets = 6;
    sink k;
    sink_init(&k);
    tt_engine *e = tt_engine_new(&s, 0, on_block, &k);
    for (int i = 0; i < 4; i++) {          /* flow 1: 4 packets, too few */
        tt_packet p = pkt(10.0 + i, 100, 1, 1);
        tt_engine_add(e, &p, NULL);
    }
    for (int i = 0; i < 9; i++) {          /* flow 2: 9 packets, 6 stored */
        tt_packet p = pkt(10.0 + i * 0.1, 200, 2, 2);
        tt_pkt_ref r;
        tt_engine_add(e, &p, &r);
        g_assert_cmpuint(r.index_in_block, ==, (uint32_t)i);
    }
    tt_engine_flush(e);
    g_assert_cmpuint(k.blocks->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        tt_block *b = &g_array_index(k.blocks, tt_block, i);
        if (b->flow_id == 1) {
            g_assert_cmpint(b->status, ==, TT_BLOCK_TOO_FEW);
            g_assert_false(b->truncated);
        } else {
            g_assert_cmpint(b->status, ==, TT_BLOCK_OK);
            g_assert_true(b->truncated);
            g_assert_cmpuint(b->n_packets, ==, 9);
            g_assert_cmpuint(b->n_stored, ==, 6);
            g_assert_cmpuint(b->n_bytes, ==, 1800);
        }
    }
    tt_engine_stats st;
    tt_engine_get_stats(e, &st);
    g_assert_cmpuint(st.blocks_too_few, ==, 1);
    g_assert_cmpuint(st.blocks_truncated, ==, 1);
    tt_engine_free(e);
    sink_clear(&k);
}

TT_TEST("/flow/block/size-policy", test_size_policy_status)
{
    tt_spec s = spec15();
    s.size_policy = TT_SIZE_DROP;
    s.min_packets = 2;
    sink k;
    sink_init(&k);
    tt_engine *e = tt_engine_new(&s, 0, on_block, &k);
    for (int i = 0; i < 5; i++) {          /* all above max_size: nothing usable */
        tt_packet p = pkt(1.0 + i, 9000, 1, 1);
        tt_engine_add(e, &p, NULL);
    }
    tt_engine_flush(e);
    g_assert_cmpuint(k.blocks->len, ==, 1);
    g_assert_cmpint(g_array_index(k.blocks, tt_block, 0).status, ==, TT_BLOCK_EMPTY);
    tt_engine_free(e);
    sink_clear(&k);
}

TT_TEST("/flow/table/idle-timeout", test_idle_timeout)
{
    tt_spec s = spec15();
    sink k;
    sink_init(&k);
    tt_engine *e = tt_engine_new(&s, 0, on_block, &k);
    tt_packet a = pkt(0.0, 100, 1, 1);
    tt_pkt_ref ra, rb, rc;
    tt_engine_add(e, &a, &ra);
    tt_packet b = pkt(61.0, 100, 2, 2);           /* another flow, 61 s later */
    tt_engine_add(e, &b, &rb);
    g_assert_cmpuint(k.blocks->len, ==, 1);       /* flow 1 ended as idle */
    g_assert_cmpint(g_array_index(k.blocks, tt_block, 0).reason, ==, TT_CLOSE_IDLE);
    g_assert_cmpuint(tt_engine_flow_id(e, &a.key), ==, 0);
    tt_packet a2 = pkt(62.0, 100, 1, 1);
    tt_engine_add(e, &a2, &rc);
    g_assert_true(rc.new_flow);
    g_assert_cmpuint(rc.flow_id, ==, 3);
    g_assert_cmpuint(tt_engine_flow_id(e, &a2.key), ==, 3);
    /* a packet of its own flow after the timeout also ends it first */
    tt_packet a3 = pkt(200.0, 100, 1, 1);
    tt_engine_add(e, &a3, &rc);
    g_assert_true(rc.new_flow);
    tt_engine_free(e);
    sink_clear(&k);
}

TT_TEST("/flow/table/eviction", test_eviction)
{
    tt_spec s = spec15();
    sink k;
    sink_init(&k);
    tt_engine *e = tt_engine_new(&s, 2, on_block, &k);
    for (int i = 0; i < 3; i++) {
        tt_packet p = pkt(1.0 + i, 100, (uint8_t)(i + 1), 1);
        tt_engine_add(e, &p, NULL);
    }
    g_assert_cmpuint(k.blocks->len, ==, 1);
    tt_block *b = &g_array_index(k.blocks, tt_block, 0);
    g_assert_cmpuint(b->flow_id, ==, 1);
    g_assert_cmpint(b->reason, ==, TT_CLOSE_EVICT);
    tt_engine_stats st;
    tt_engine_get_stats(e, &st);
    g_assert_cmpuint(st.flows_open, ==, 2);
    g_assert_cmpuint(st.flows_evicted, ==, 1);
    /* touching flow 2 makes flow 3 the least recently seen */
    tt_packet p2 = pkt(5.0, 100, 2, 1), p4 = pkt(6.0, 100, 4, 1);
    tt_engine_add(e, &p2, NULL);
    tt_engine_add(e, &p4, NULL);
    g_assert_cmpuint(g_array_index(k.blocks, tt_block, 1).flow_id, ==, 3);
    tt_engine_free(e);   /* without flush: no callback, no leak (checked under ASan) */
    g_assert_cmpuint(k.blocks->len, ==, 2);
    sink_clear(&k);
}

TT_TEST("/flow/table/keys", test_keys)
{
    tt_spec s = spec15();
    tt_engine *e = tt_engine_new(&s, 0, NULL, NULL);
    tt_packet a = pkt(1.0, 100, 1, 1), b = a, c = a, d = a;
    b.key.src[8] = 0x55;                 /* garbage beyond an IPv4 address is ignored */
    c.key.proto = 6;                     /* TCP and UDP are different flows */
    tt_key_reverse(&a.key, &d.key);      /* the reverse direction is another flow */
    tt_pkt_ref ra, rb, rc, rd;
    tt_engine_add(e, &a, &ra);
    tt_engine_add(e, &b, &rb);
    tt_engine_add(e, &c, &rc);
    tt_engine_add(e, &d, &rd);
    g_assert_cmpuint(ra.flow_id, ==, rb.flow_id);
    g_assert_cmpuint(rc.flow_id, !=, ra.flow_id);
    g_assert_cmpuint(rd.flow_id, !=, ra.flow_id);
    g_assert_cmpuint(tt_engine_flow_id(e, &d.key), ==, rd.flow_id);
    tt_packet icmp = a;
    icmp.key.proto = 1;
    tt_packet zero = a;
    zero.ip_len = 0;
    g_assert_false(tt_engine_add(e, &icmp, NULL));
    g_assert_false(tt_engine_add(e, &zero, NULL));
    char buf[160];
    g_assert_cmpstr(tt_key_format(&a.key, buf, sizeof buf), ==, "udp 10.0.0.1:1 -> 10.0.0.200:443");
    tt_engine_stats st;
    tt_engine_get_stats(e, &st);
    g_assert_cmpuint(st.ignored, ==, 2);
    g_assert_cmpuint(st.flows_open, ==, 3);
    tt_engine_free(e);
}

TT_TEST("/flow/spec/validation", test_spec_validation)
{
    tt_spec s;
    tt_spec_init_paper(&s);
    g_assert_true(tt_spec_validate(&s, NULL));
    tt_spec b = s; b.block_seconds = 0;
    GError *e = NULL;
    g_assert_false(tt_spec_validate(&b, &e));
    g_assert_error(e, TT_ERROR, TT_ERROR_INVALID);
    g_clear_error(&e);
    b = s; b.time_bins = 0;
    g_assert_false(tt_spec_validate(&b, NULL));
    b = s; b.size_bins = TT_MAX_IMAGE_SIDE + 1;
    g_assert_false(tt_spec_validate(&b, NULL));
    b = s; b.min_packets = b.max_packets + 1;
    g_assert_false(tt_spec_validate(&b, NULL));
    b = s; b.count_clip = 0;
    g_assert_false(tt_spec_validate(&b, NULL));
    b = s; b.idle_timeout = 1.0 / 0.0;
    g_assert_false(tt_spec_validate(&b, NULL));
}

/* ---- peek: an open block as a flush would report it, left open ---------- */

/* A deep copy of a reported block (its packets included). */
typedef struct {
    tt_block b;
    tt_pkt  *pkts;
    gboolean seen;
} block_copy;

static void copy_block(const tt_block *b, void *user)
{
    block_copy *c = user;
    g_free(c->pkts);
    c->b = *b;
    c->b.key = NULL;
    c->pkts = g_memdup2(b->pkts, sizeof(tt_pkt) * b->n_stored);
    c->b.pkts = NULL;
    c->seen = TRUE;
}

/* Keeps, per flow id, the last block reported (a flush reports one per flow). */
static void copy_flushed(const tt_block *b, void *user)
{
    GHashTable *by_flow = user;
    block_copy *c = g_new0(block_copy, 1);
    copy_block(b, c);
    g_hash_table_replace(by_flow, GUINT_TO_POINTER((guint)b->flow_id), c);
}

static void block_copy_free(gpointer p)
{
    block_copy *c = p;
    g_free(c->pkts);
    g_free(c);
}

static void assert_same_block(const block_copy *a, const block_copy *b)
{
    g_assert_cmpuint(a->b.flow_id, ==, b->b.flow_id);
    g_assert_cmpuint(a->b.block_index, ==, b->b.block_index);
    g_assert_cmpint(a->b.status, ==, b->b.status);
    g_assert_cmpint(a->b.reason, ==, b->b.reason);
    g_assert_cmpint(a->b.truncated, ==, b->b.truncated);
    g_assert_cmpfloat(a->b.start, ==, b->b.start);
    g_assert_cmpfloat(a->b.first_ts, ==, b->b.first_ts);
    g_assert_cmpfloat(a->b.last_ts, ==, b->b.last_ts);
    g_assert_cmpuint(a->b.n_packets, ==, b->b.n_packets);
    g_assert_cmpuint(a->b.n_bytes, ==, b->b.n_bytes);
    g_assert_cmpuint(a->b.n_stored, ==, b->b.n_stored);
    g_assert_cmpmem(a->pkts, sizeof(tt_pkt) * a->b.n_stored, b->pkts, sizeof(tt_pkt) * b->b.n_stored);
}

typedef struct {
    const char *name;
    uint32_t    min_packets, max_packets;
    tt_size_policy policy;
    uint32_t    n;          /* packets of flow 1 */
    double      gap;        /* seconds between them */
    uint32_t    big_every;  /* every k-th packet is 9000 bytes (0 = none) */
} peek_case;

static const peek_case peek_cases[] = {
    { "one-block",        3, 100, TT_SIZE_CLIP,  12, 0.5,  0 },
    { "across-blocks",    3, 100, TT_SIZE_CLIP,  40, 1.3,  0 },   /* closes blocks 0, 1, 2 on the way */
    { "too-few",         50, 100, TT_SIZE_CLIP,  20, 0.2,  0 },
    { "truncated",        3,   6, TT_SIZE_CLIP,  20, 0.1,  0 },
    { "size-drop",        3, 100, TT_SIZE_DROP,  10, 0.4,  2 },
    { "all-dropped",      1, 100, TT_SIZE_DROP,   5, 0.4,  1 },
};

static tt_packet peek_packet(const peek_case *c, uint32_t i, uint8_t host)
{
    uint32_t len = (c->big_every && i % c->big_every == 0) ? 9000 : 100 + i % 700;
    return pkt(1000.0 + c->gap * i, len, host, 7);
}

/* After every packet, a peek of engine A reports exactly the block that a
 * flush of an identical engine B reports, and leaves A as if never peeked:
 * every later callback and the statistics equal those of engine C. */
static void test_peek_equals_flush(gconstpointer data)
{
    const peek_case *c = data;
    tt_spec s = spec15();
    s.min_packets = c->min_packets;
    s.max_packets = c->max_packets;
    s.size_policy = c->policy;
    s.max_size = 1500;
    sink ka, kc;
    sink_init(&ka);
    sink_init(&kc);
    tt_engine *a = tt_engine_new(&s, 0, on_block, &ka);
    tt_engine *cc = tt_engine_new(&s, 0, on_block, &kc);
    for (uint32_t n = 1; n <= c->n; n++) {
        GHashTable *flushed = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, block_copy_free);
        tt_engine *b = tt_engine_new(&s, 0, copy_flushed, flushed);
        for (uint32_t i = 0; i < n; i++) {
            tt_packet p = peek_packet(c, i, 1), q = pkt(1000.0 + i, 60, 2, 9);
            tt_engine_add(b, &p, NULL);
            tt_engine_add(b, &q, NULL);                 /* another flow alongside */
        }
        g_hash_table_remove_all(flushed);               /* blocks closed before the flush */
        tt_engine_flush(b);

        tt_packet p = peek_packet(c, n - 1, 1), q = pkt(1000.0 + (n - 1), 60, 2, 9);
        tt_engine_add(a, &p, NULL);
        tt_engine_add(a, &q, NULL);
        tt_engine_add(cc, &p, NULL);
        tt_engine_add(cc, &q, NULL);
        tt_engine_stats before, after;
        tt_engine_get_stats(a, &before);
        block_copy peeked = { .seen = FALSE };
        g_assert_true(tt_engine_peek(a, &p.key, copy_block, &peeked));
        g_assert_true(peeked.seen);
        g_assert_cmpint(peeked.b.reason, ==, TT_CLOSE_FLUSH);
        tt_engine_get_stats(a, &after);
        g_assert_cmpmem(&before, sizeof before, &after, sizeof after);
        const block_copy *want = g_hash_table_lookup(flushed, GUINT_TO_POINTER((guint)peeked.b.flow_id));
        g_assert_nonnull(want);
        assert_same_block(&peeked, want);
        g_free(peeked.pkts);
        g_hash_table_destroy(flushed);
        tt_engine_free(b);
    }
    tt_engine_flush(a);
    tt_engine_flush(cc);
    g_assert_cmpuint(ka.blocks->len, ==, kc.blocks->len);
    for (guint i = 0; i < ka.blocks->len; i++)
        g_assert_cmpmem(&g_array_index(ka.blocks, tt_block, i), sizeof(tt_block),
                        &g_array_index(kc.blocks, tt_block, i), sizeof(tt_block));
    tt_engine_stats sa, sc;
    tt_engine_get_stats(a, &sa);
    tt_engine_get_stats(cc, &sc);
    g_assert_cmpmem(&sa, sizeof sa, &sc, sizeof sc);
    tt_engine_free(a);
    tt_engine_free(cc);
    sink_clear(&ka);
    sink_clear(&kc);
}
TT_TEST_CASES("/flow/peek/equals-flush", peek_cases, test_peek_equals_flush);

TT_TEST("/flow/peek/untracked", test_peek_untracked)
{
    tt_spec s = spec15();
    tt_engine *e = tt_engine_new(&s, 0, NULL, NULL);
    tt_packet a = pkt(1.0, 100, 1, 1), other = pkt(1.0, 100, 2, 1);
    block_copy c = { .seen = FALSE };
    g_assert_false(tt_engine_peek(e, &a.key, copy_block, &c));      /* empty engine */
    tt_engine_add(e, &a, NULL);
    g_assert_false(tt_engine_peek(e, &other.key, copy_block, &c));  /* another 5-tuple */
    tt_key rev;
    tt_key_reverse(&a.key, &rev);
    g_assert_false(tt_engine_peek(e, &rev, copy_block, &c));        /* the reverse direction */
    g_assert_false(c.seen);
    g_assert_true(tt_engine_peek(e, &a.key, NULL, NULL));           /* tracked; no callback wanted */
    tt_engine_flush(e);
    g_assert_false(tt_engine_peek(e, &a.key, copy_block, &c));      /* flushed: forgotten */
    tt_engine_free(e);
}
