/* Unit tests of the plugin's Wireshark-independent layer (plugin/triage-run.c):
 * models, engines, block results, closed blocks, reverse flows, the
 * classify-on-demand path used after a GUI redissection (no end-of-pass
 * hook), model load failures, and the conversation answer (triage-conv.c). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "triage-run.h"
#include "triage-conv.h"
#include "tt_nn.h"
#include "tt_test.h"

typedef struct {
    char *dir;
    char *model;        /* 4 s blocks, min 2 packets, classes a, b, c */
    char *model_cap4;   /* the same with a cap of 4 stored packets per block */
} Fixture;

static char *
make_model(const char *dir, const char *file, double block_seconds, uint32_t max_packets)
{
    GError *err = NULL;
    tt_spec spec;
    tt_spec_init_mini(&spec, 32);
    spec.block_seconds = block_seconds;
    spec.min_packets = 2;
    if (max_packets)
        spec.max_packets = max_packets;
    tt_model *m = tt_test_model(TT_TEST_NET_LENET, &spec, "unit", NULL, 3, 1, &err);
    g_assert_no_error(err);
    char *path = g_build_filename(dir, file, NULL);
    g_assert_true(tt_model_save_file(m, path, &err));
    g_assert_no_error(err);
    tt_model_free(m);
    return path;
}

static void
setup(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *err = NULL;
    f->dir = g_dir_make_tmp("tt-run-XXXXXX", &err);
    g_assert_no_error(err);
    f->model = make_model(f->dir, "m.ttm", 4.0, 0);
    f->model_cap4 = make_model(f->dir, "cap4.ttm", 4.0, 4);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    g_unlink(f->model);
    g_unlink(f->model_cap4);
    g_rmdir(f->dir);
    g_free(f->model);
    g_free(f->model_cap4);
    g_free(f->dir);
}

/* Packet i of a UDP conversation: flows 0..2 go a->b, flow 3 is the reverse of flow 0. */
static tt_packet
pkt(int conv, int i)
{
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.ts = 1700000000.0 + i * 0.4 + conv * 0.013;  /* 25 packets span 9.6 s: blocks 0, 1, 2 */
    p.ip_len = 100 + (uint32_t)((i * 37 + conv * 11) % 1200);
    p.key.family = 4;
    p.key.proto = 17;
    int c = conv == 3 ? 0 : conv;
    uint8_t a[4] = { 10, 0, 0, (uint8_t)(1 + c) }, b[4] = { 10, 0, 1, (uint8_t)(1 + c) };
    memcpy(p.key.src, conv == 3 ? b : a, 4);
    memcpy(p.key.dst, conv == 3 ? a : b, 4);
    p.key.sport = conv == 3 ? 5000 : (uint16_t)(40000 + c);
    p.key.dport = conv == 3 ? (uint16_t)(40000 + c) : 5000;
    return p;
}

#define N_CONV 4
#define N_PKT 25

/* Feed every packet; refs[conv][i] receives where it went. */
/* Packets of all conversations, interleaved. max_open > 0: also check that every
 * packet got a block id and that at most max_open flows hold open-flow state. */
static void
feed_checked(triage_run *run, triage_ref refs[N_CONV][N_PKT], GArray *closed, guint max_open)
{
    for (int i = 0; i < N_PKT; i++)
        for (int c = 0; c < N_CONV; c++) {
            tt_packet p = pkt(c, i);
            triage_ref r[TRIAGE_MAX_MODELS];
            g_assert_true(triage_run_add(run, &p, r, closed));
            refs[c][i] = r[0];
            if (max_open) {
                g_assert_cmpuint(r[0].id, !=, 0);
                g_assert_cmpuint(g_hash_table_size(run->slots[0].open), <=, max_open);
            }
        }
}

static void
feed(triage_run *run, triage_ref refs[N_CONV][N_PKT], GArray *closed)
{
    feed_checked(run, refs, closed, 0);
}

static void
test_flush(Fixture *f, gconstpointer data)
{
    (void)data;
    triage_run *run = triage_run_new();
    g_assert_true(triage_run_set_models(run, f->model, "", 1000));
    g_assert_false(triage_run_set_models(run, f->model, "", 1000));   /* unchanged */
    triage_ref refs[N_CONV][N_PKT];
    GArray *closed = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    feed(run, refs, closed);

    /* blocks 0 and 1 of each flow closed when the next block began */
    g_assert_cmpuint(closed->len, ==, N_CONV * 2);
    for (guint k = 0; k < closed->len; k++) {
        triage_closed *c = &g_array_index(closed, triage_closed, k);
        g_assert_cmpuint(c->slot, ==, 0);
        g_assert_cmpuint(c->block, <, 2);
        g_assert_nonnull(triage_run_result(run, 0, c->flow, c->block));
    }
    /* the last blocks are open until the flush */
    const triage_ref *last = &refs[0][N_PKT - 1];
    g_assert_cmpuint(last->block, ==, 2);
    g_assert_null(triage_run_result(run, 0, last->flow, last->block));
    triage_run_flush(run);
    for (int c = 0; c < N_CONV; c++)
        for (int i = 0; i < N_PKT; i++) {
            const triage_result *r = triage_run_result(run, 0, refs[c][i].flow, refs[c][i].block);
            g_assert_nonnull(r);
            g_assert_cmpuint(r->state, ==, TRIAGE_BLOCK_CLASSIFIED);
            g_assert_cmpuint(r->top, <, 3);
            g_assert_cmpfloat(r->confidence, >, 0.0f);
            g_assert_cmpfloat(r->confidence, <=, 1.0f);
        }
    /* 25 packets at 0.4 s in 4 s blocks: 10 + 10 + 5 */
    g_assert_cmpuint(triage_run_result(run, 0, refs[1][0].flow, 0)->n_packets, ==, 10);
    g_assert_cmpuint(triage_run_result(run, 0, refs[1][0].flow, 2)->n_packets, ==, 5);
    g_array_free(closed, TRUE);
    triage_run_free(run);
}

static void
test_reverse(Fixture *f, gconstpointer data)
{
    (void)data;
    triage_run *run = triage_run_new();
    triage_run_set_models(run, f->model, NULL, 1000);
    triage_ref refs[N_CONV][N_PKT];
    feed(run, refs, NULL);
    guint32 f0 = refs[0][0].flow, f3 = refs[3][0].flow;
    g_assert_cmpuint(f0, !=, f3);
    g_assert_cmpuint(triage_run_flow(run, 0, f0)->reverse, ==, f3);
    g_assert_cmpuint(triage_run_flow(run, 0, f3)->reverse, ==, f0);
    g_assert_cmpuint(triage_run_flow(run, 0, refs[1][0].flow)->reverse, ==, 0);
    triage_run_free(run);
}

static void
assert_same_result(const triage_result *r, const triage_result *w)
{
    g_assert_nonnull(r);
    g_assert_nonnull(w);
    g_assert_cmpuint(r->state, ==, w->state);
    g_assert_cmpuint(r->top, ==, w->top);
    g_assert_cmpfloat_with_epsilon(r->confidence, w->confidence, 1e-6);
    g_assert_cmpuint(r->n_packets, ==, w->n_packets);
    g_assert_cmpuint(r->n_stored, ==, w->n_stored);
    g_assert_cmpuint(r->n_bytes, ==, w->n_bytes);
    g_assert_cmpuint(r->truncated, ==, w->truncated);
}

/* The reference: every packet fed once, then the end-of-pass flush. */
static triage_run *
flushed_run(const char *model, triage_ref want[N_CONV][N_PKT])
{
    triage_run *run = triage_run_new();
    triage_run_set_models(run, model, "", 1000);
    feed(run, want, NULL);
    triage_run_flush(run);
    return run;
}

/* A redissection: capture state reset, every packet fed again, and no
 * end-of-pass flush. Looking a block up "now" gives every open block the
 * result a flush would give, without closing anything. */
static void
test_on_demand(Fixture *f, gconstpointer data)
{
    const char *model = data ? f->model_cap4 : f->model;
    triage_ref want[N_CONV][N_PKT];
    triage_run *ref_run = flushed_run(model, want);

    triage_run *run = triage_run_new();
    triage_run_set_models(run, model, "", 1000);
    triage_ref refs[N_CONV][N_PKT];
    feed(run, refs, NULL);
    triage_run_flush(run);
    triage_run_capture_reset(run);       /* redissection */
    feed(run, refs, NULL);               /* its sequential pass; no flush */
    g_assert_null(triage_run_result(run, 0, refs[2][N_PKT - 1].flow, refs[2][N_PKT - 1].block));
    for (int c = 0; c < N_CONV; c++)
        for (int i = 0; i < N_PKT; i++) {
            g_assert_cmpuint(refs[c][i].flow, ==, want[c][i].flow);
            g_assert_cmpuint(refs[c][i].block, ==, want[c][i].block);
            assert_same_result(triage_run_result_now(run, 0, refs[c][i].flow, refs[c][i].block),
                               triage_run_result(ref_run, 0, want[c][i].flow, want[c][i].block));
        }
    /* still open: on-demand results are not stored as final */
    g_assert_null(triage_run_result(run, 0, refs[2][N_PKT - 1].flow, refs[2][N_PKT - 1].block));
    triage_run_free(run);
    triage_run_free(ref_run);
}

/* A run fed with the first `upto` packets (in feeding order) and then flushed:
 * what every open block would be if the capture ended there. */
static triage_run *
flushed_after(const char *model, int upto)
{
    triage_run *run = triage_run_new();
    triage_run_set_models(run, model, "", 1000);
    int k = 0;
    for (int i = 0; i < N_PKT && k < upto; i++)
        for (int c = 0; c < N_CONV && k < upto; c++, k++) {
            tt_packet p = pkt(c, i);
            triage_ref r[TRIAGE_MAX_MODELS];
            triage_run_add(run, &p, r, NULL);
        }
    triage_run_flush(run);
    return run;
}

/* A live capture: a block still open, looked up right after each packet, has
 * the result a flush at that point would give (the engine's peek), is marked
 * open, and the lookups do not disturb the engine (same flows, blocks and
 * final results). Streaming checkpoints (single pass) are flush results of
 * an earlier point of the same block. */
static void
test_on_demand_live(Fixture *f, gconstpointer data)
{
    const char *model = data ? f->model_cap4 : f->model;
    triage_ref want[N_CONV][N_PKT];
    triage_run *ref_run = flushed_run(model, want);

    triage_run *run = triage_run_new();
    triage_run_set_models(run, model, "", 1000);
    int k = 0, n_checkpoints = 0;
    for (int i = 0; i < N_PKT; i++)
        for (int c = 0; c < N_CONV; c++) {
            tt_packet p = pkt(c, i);
            triage_ref r[TRIAGE_MAX_MODELS];
            g_assert_true(triage_run_add(run, &p, r, NULL));
            k++;
            g_assert_cmpuint(r[0].flow, ==, want[c][i].flow);
            g_assert_cmpuint(r[0].block, ==, want[c][i].block);
            g_assert_true(triage_run_block_open(run, 0, r[0].id));
            g_assert_null(triage_run_block_result(run, 0, r[0].id));
            triage_run *flushed = flushed_after(model, k);
            const triage_result *at_flush = triage_run_result(flushed, 0, r[0].flow, r[0].block);
            /* the streaming checkpoint first, as the dissector does */
            const triage_result *cp = triage_run_block_result_provisional(run, 0, r[0].id);
            if (cp) {
                g_assert_cmpuint(cp->state, ==, TRIAGE_BLOCK_CLASSIFIED);
                g_assert_cmpuint(cp->n_packets, <=, r[0].index + 1);
                if (cp->n_packets == r[0].index + 1) {
                    assert_same_result(cp, at_flush);      /* a checkpoint taken now */
                    n_checkpoints++;
                }
            } else {
                g_assert_cmpuint(at_flush->state, !=, TRIAGE_BLOCK_CLASSIFIED);
            }
            /* look at the packet's own (open) block right away */
            const triage_result *now = triage_run_result_now(run, 0, r[0].flow, r[0].block);
            g_assert_nonnull(now);
            g_assert_cmpuint(now->n_packets, ==, r[0].index + 1);
            assert_same_result(now, at_flush);
            triage_run_free(flushed);
        }
    g_assert_cmpint(n_checkpoints, >=, N_CONV * 3);   /* at least one per block */
    g_assert_cmpint(n_checkpoints, <, k / 2);         /* not one per packet */
    triage_run_flush(run);
    for (int c = 0; c < N_CONV; c++)
        for (int i = 0; i < N_PKT; i++) {
            assert_same_result(triage_run_result(run, 0, want[c][i].flow, want[c][i].block),
                               triage_run_result(ref_run, 0, want[c][i].flow, want[c][i].block));
        }
    triage_run_free(run);
    triage_run_free(ref_run);
}

/* Block ids (what the dissector keeps per frame) find the same flow, block
 * and result as (flow, block); a flow's open-block state is dropped as soon as
 * the engine ends the flow (evicted at max_flows, flushed), while its display
 * record (key, reverse) and its blocks' results stay. */
static void
test_block_ids(Fixture *f, gconstpointer data)
{
    (void)data;
    triage_run *run = triage_run_new();
    triage_run_set_models(run, f->model, "", 2);      /* 4 conversations, 2 tracked at once */
    triage_ref refs[N_CONV][N_PKT];
    GArray *closed = g_array_new(FALSE, FALSE, sizeof(triage_closed));
    feed_checked(run, refs, closed, 2);   /* open-flow state only for the flows the engine tracks */
    for (guint k = 0; k < closed->len; k++) {
        const triage_closed *c = &g_array_index(closed, triage_closed, k);
        guint32 flow, block;
        triage_run_block_where(run, c->slot, c->id, &flow, &block);
        g_assert_cmpuint(flow, ==, c->flow);
        g_assert_cmpuint(block, ==, c->block);
        g_assert_nonnull(triage_run_block_result(run, c->slot, c->id));
    }
    triage_run_flush(run);
    g_assert_cmpuint(g_hash_table_size(run->slots[0].open), ==, 0);
    guint32 max_flow = 0;
    for (int c = 0; c < N_CONV; c++)
        for (int i = 0; i < N_PKT; i++) {
            const triage_ref *r = &refs[c][i];
            guint32 flow, block;
            triage_run_block_where(run, 0, r->id, &flow, &block);
            g_assert_cmpuint(flow, ==, r->flow);
            g_assert_cmpuint(block, ==, r->block);
            const triage_result *by_id = triage_run_block_result(run, 0, r->id);
            g_assert_nonnull(by_id);
            g_assert_true(by_id == triage_run_result(run, 0, r->flow, r->block));
            g_assert_true(by_id == triage_run_block_result_now(run, 0, r->id));
            const triage_flow *fl = triage_run_flow(run, 0, r->flow);
            g_assert_nonnull(fl);
            tt_packet p = pkt(c, i);
            g_assert_cmpmem(&fl->key, sizeof fl->key, &p.key, sizeof p.key);
            max_flow = MAX(max_flow, r->flow);
        }
    /* eviction ended flows and their packets started new ones */
    g_assert_cmpuint(max_flow, >, N_CONV);
    g_assert_null(triage_run_block_result(run, 0, 0));
    g_assert_null(triage_run_flow(run, 0, max_flow + 1));
    g_array_free(closed, TRUE);
    triage_run_free(run);
}

static void
test_bad_model(Fixture *f, gconstpointer data)
{
    (void)data;
    char *missing = g_build_filename(f->dir, "missing.ttm", NULL);
    triage_run *run = triage_run_new();
    g_assert_true(triage_run_set_models(run, missing, "", 1000));
    g_assert_cmpuint(run->n_slots, ==, 1);
    g_assert_null(run->slots[0].model);
    g_assert_nonnull(strstr(run->slots[0].error, "missing.ttm"));
    tt_packet p = pkt(0, 0);
    triage_ref r[TRIAGE_MAX_MODELS];
    g_assert_false(triage_run_add(run, &p, r, NULL));
    g_assert_cmpuint(r[0].flow, ==, 0);
    triage_run_flush(run);

    /* same (failed) path again: not reloaded (the caller logs only on reload) */
    g_assert_false(triage_run_set_models(run, missing, "", 1000));
    /* a good primary and a missing extra: the primary works */
    g_assert_true(triage_run_set_models(run, f->model, missing, 1000));
    g_assert_nonnull(strstr(run->slots[1].error, "model not loaded"));
    g_assert_cmpuint(run->n_slots, ==, 2);
    g_assert_nonnull(run->slots[0].model);
    g_assert_null(run->slots[1].model);
    g_assert_true(triage_run_add(run, &p, r, NULL));
    g_assert_cmpuint(r[0].flow, ==, 1);
    g_assert_cmpuint(r[1].flow, ==, 0);
    triage_run_free(run);
    g_free(missing);
}

/* Block id of the packets of conversation c in block k. */
static guint32
id_in_block(triage_ref refs[N_CONV][N_PKT], int c, guint32 k)
{
    for (int i = 0; i < N_PKT; i++)
        if (refs[c][i].block == k)
            return refs[c][i].id;
    return 0;
}

/* The conversation answer: a closed classified block pools its kept
 * probabilities with those of the reverse flow's block of the same index; a
 * block with no reverse flow, or still open, answers alone. */
static void
test_conversation(Fixture *f, gconstpointer data)
{
    (void)data;
    triage_run *run = triage_run_new();
    triage_run_set_models(run, f->model, "", 1000);
    triage_ref refs[N_CONV][N_PKT];
    feed(run, refs, NULL);
    triage_result conv;
    /* before the flush the last blocks are open: their own on-demand answer */
    guint32 open_id = refs[0][N_PKT - 1].id;
    const triage_result *own = triage_run_block_result_now(run, 0, open_id);
    g_assert_null(triage_run_block_probs(run, 0, open_id));
    triage_conv_result(run, 0, open_id, own, &conv);
    assert_same_result(&conv, own);
    triage_run_flush(run);
    g_assert_null(triage_run_block_probs(run, 0, 0));
    for (guint32 k = 0; k < 3; k++) {
        guint32 a = id_in_block(refs, 0, k), b = id_in_block(refs, 3, k), alone = id_in_block(refs, 1, k);
        const guint8 *qa = triage_run_block_probs(run, 0, a), *qb = triage_run_block_probs(run, 0, b);
        g_assert_nonnull(qa);
        g_assert_nonnull(qb);
        g_assert_cmpuint(triage_run_block_id(run, 0, refs[3][0].flow, k), ==, b);
        /* the kept form is the block's own answer to within 1/510 */
        const triage_result *ra = triage_run_block_result(run, 0, a);
        tt_result da;
        tt_result_dequantise(qa, 3, &da);
        g_assert_cmpfloat(fabsf(da.probs[ra->top] - ra->confidence), <=, 0.5f / 255 + 1e-6f);
        tt_result want;
        tt_result_pool_stored(qa, qb, 3, &want);
        for (int side = 0; side < 2; side++) {   /* both directions give the same answer */
            guint32 id = side ? b : a;
            const triage_result *r = triage_run_block_result(run, 0, id);
            triage_conv_result(run, 0, id, r, &conv);
            g_assert_cmpuint(conv.top, ==, want.top);
            g_assert_cmpfloat(conv.confidence, ==, want.confidence);
            g_assert_cmpuint(conv.n_packets, ==, r->n_packets);
        }
        own = triage_run_block_result(run, 0, alone);
        triage_conv_result(run, 0, alone, own, &conv);
        assert_same_result(&conv, own);
    }
    triage_run_free(run);
}

int
main(int argc, char **argv)
{
    tt_test_init(&argc, &argv);
    tt_blas_single_thread();
    g_test_add("/plugin/run/flush", Fixture, NULL, setup, test_flush, teardown);
    g_test_add("/plugin/run/reverse", Fixture, NULL, setup, test_reverse, teardown);
    g_test_add("/plugin/run/on-demand", Fixture, NULL, setup, test_on_demand, teardown);
    g_test_add("/plugin/run/on-demand-live", Fixture, NULL, setup, test_on_demand_live, teardown);
    g_test_add("/plugin/run/on-demand-truncated", Fixture, GINT_TO_POINTER(1), setup, test_on_demand, teardown);
    g_test_add("/plugin/run/on-demand-live-truncated", Fixture, GINT_TO_POINTER(1), setup, test_on_demand_live, teardown);
    g_test_add("/plugin/run/bad-model", Fixture, NULL, setup, test_bad_model, teardown);
    g_test_add("/plugin/run/block-ids", Fixture, NULL, setup, test_block_ids, teardown);
    g_test_add("/plugin/run/conversation", Fixture, NULL, setup, test_conversation, teardown);
    return tt_test_run();
}
