/* Fuzz target: the flow/block engine, FlowPic construction and classification.
 *
 * The input is a small configuration followed by a packet sequence:
 *   bytes 0..7   spec and engine: max_flows 1..16, max_packets 1..64,
 *                min_packets, block length, idle timeout, time/size bins,
 *                max size, size policy, time scale, count transform (count
 *                bits 3 with clipped sizes: raw counts, the sequence picture)
 *   then 6-byte records  [op] [len lo] [len hi] [flow] [arg lo] [arg hi]
 *     op & 7 chooses the time step: small step forward, backwards, a huge
 *     gap, NaN, +-inf, an absolute time (0, +-1e300, 2^53), or the same time;
 *     op bit 3: length 0, bit 4: length 65535; bit 5: a fresh flow (a new
 *     5-tuple: many tiny flows); bit 6: IPv6; bit 7: a protocol other than
 *     TCP/UDP (ignored by the engine).
 * Each block the engine closes is checked and, if it is ok, classified with
 * a tiny model whose spec is the engine's spec (conv, relu, maxpool, conv,
 * relu, dense: the sparse "delta conv" path). Finally the engine is flushed.
 *
 * Invariants: flows_open <= max_flows after every packet; every accepted
 * packet lands in exactly one closed block (sum of n_packets); a block stores
 * min(n_packets, max_packets) packets with times >= 0; truncated iff more
 * packets than stored; first_ts <= last_ts; probabilities are finite, in
 * [0, 1], sum to 1; after the flush no flow is open and no packet is stored.
 */
#include "fuzz_common.h"

#include <math.h>

#include "tt_flow.h"
#include "tt_flowpic.h"
#include "tt_classify.h"
#include "tt_test.h"

typedef struct {
    const tt_spec *spec;
    tt_classifier *cls;
    uint64_t packets_in_blocks;
    uint64_t blocks;
    tt_pixel *px;
} ctx;

static void on_block(const tt_block *b, void *user)
{
    ctx *c = user;
    const tt_spec *s = c->spec;
    c->blocks++;
    c->packets_in_blocks += b->n_packets;
    FUZZ_CHECK(b->n_packets >= 1);
    FUZZ_CHECK(b->n_stored <= b->n_packets && b->n_stored <= s->max_packets);
    FUZZ_CHECK(b->n_stored == (b->n_packets < s->max_packets ? b->n_packets : s->max_packets));
    FUZZ_CHECK(b->truncated == (b->n_packets > b->n_stored));
    FUZZ_CHECK(b->first_ts <= b->last_ts);
    FUZZ_CHECK(b->start <= b->first_ts);
    FUZZ_CHECK(b->key && (b->key->proto == 6 || b->key->proto == 17));
    FUZZ_CHECK(b->status <= TT_BLOCK_EMPTY && b->reason <= TT_CLOSE_FLUSH);
    for (uint32_t i = 0; i < b->n_stored; i++) {
        FUZZ_CHECK(b->pkts[i].t >= 0.0f);      /* also false for NaN */
        FUZZ_CHECK(b->pkts[i].size >= 1);
    }
    /* The FlowPic: at most tt_flowpic_max_pixels, sorted, inside the picture. */
    size_t np = tt_flowpic_build(s, b->pkts, b->n_stored, c->px);
    FUZZ_CHECK(np <= tt_flowpic_max_pixels(s, b->n_stored));
    for (size_t i = 0; i < np; i++) {
        FUZZ_CHECK(c->px[i].idx < s->size_bins * s->time_bins);
        FUZZ_CHECK(c->px[i].v > 0.0f && isfinite(c->px[i].v));
        if (i)
            FUZZ_CHECK(c->px[i - 1].idx < c->px[i].idx);
    }
    if (b->status == TT_BLOCK_EMPTY)
        FUZZ_CHECK(np == 0 || b->n_stored < b->n_packets);
    if (b->status != TT_BLOCK_OK)
        return;
    tt_result r;
    if (!tt_classify_packets(c->cls, b->pkts, b->n_stored, &r))
        return;
    FUZZ_CHECK(r.n_classes == 3 && r.top < 3);
    float sum = 0.0f;
    for (uint32_t k = 0; k < r.n_classes; k++) {
        FUZZ_CHECK(isfinite(r.probs[k]) && r.probs[k] >= 0.0f && r.probs[k] <= 1.0f);
        sum += r.probs[k];
    }
    FUZZ_CHECK(fabsf(sum - 1.0f) < 1e-4f);
    FUZZ_CHECK(r.confidence == r.probs[r.top]);
}

static tt_model *tiny_model(const tt_spec *spec)
{
    GError *e = NULL;
    tt_model *m = tt_test_model(TT_TEST_NET_TWO_CONV, spec, "fuzz", NULL, 3, 7, &e);
    if (!m) {
        fprintf(stderr, "tiny model: %s\n", e->message);
        abort();
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r = { data, size, 0 };
    tt_spec s;
    tt_spec_init_mini(&s, 8);
    uint32_t max_flows = 1 + fz_u8(&r) % 16;
    s.max_packets = 1 + fz_u8(&r) % 64;
    uint8_t b = fz_u8(&r);
    s.min_packets = (b & 15) % (s.max_packets + 1);
    s.min_span = (b & 16) ? 0.5 : 0.0;
    s.block_seconds = 0.25 * (1 + fz_u8(&r) % 64);
    if (s.min_span > s.block_seconds)
        s.min_span = 0.0;
    s.idle_timeout = 0.5 * (1 + fz_u8(&r) % 128);
    b = fz_u8(&r);
    s.time_bins = 8 + 4 * (b & 3);
    s.size_bins = 8 + 4 * ((b >> 2) & 3);
    s.size_policy = (b >> 4) & 1;
    s.time_scale = (b >> 5) & 1;
    s.count_transform = (uint8_t)(((b >> 6) & 3) % 3);
    if (((b >> 6) & 3) == 3 && s.size_policy == TT_SIZE_CLIP)   /* raw counts, one pixel per packet */
        s.time_scale = TT_TIME_SEQUENCE;                         /* or two: the sequence picture */
    s.max_size = 1u + fz_u16(&r) % 65535u;
    if (s.count_transform == TT_COUNT_CLIP_SCALE)
        s.count_clip = 1.0f + (float)(s.max_packets % 7);
    FUZZ_CHECK(tt_spec_validate(&s, NULL));

    tt_model *m = tiny_model(&s);
    ctx c = { &s, tt_classifier_new(m), 0, 0, g_new(tt_pixel, tt_flowpic_max_pixels(&s, s.max_packets)) };
    tt_engine *eng = tt_engine_new(&s, max_flows, on_block, &c);

    double now = 1.7e9;
    uint32_t fresh = 0;
    uint64_t accepted = 0;
    while (fz_left(&r)) {
        uint8_t op = fz_u8(&r);
        uint16_t len = fz_u16(&r);
        uint8_t flow = fz_u8(&r);
        uint16_t arg = fz_u16(&r);
        switch (op & 7) {
        case 0: now += arg * 1e-3; break;                 /* 0..65 s forward */
        case 1: now -= arg * 1e-2; break;                 /* backwards */
        case 2: now += (double)arg * 1e6; break;          /* a huge gap */
        case 3: break;                                    /* same time */
        case 4: now += arg * 1e-6; break;                 /* microseconds */
        case 5: {
            static const double abs_t[8] = { 0.0, 1e300, -1e300, 9007199254740992.0,
                                             -1.0, 1e-300, 4294967296.0, 1.7e9 };
            now = abs_t[arg & 7];
            break;
        }
        case 6: break;                                    /* non-finite below */
        default: now += 0.01; break;
        }
        tt_packet p;
        memset(&p, 0, sizeof p);
        p.ts = now;
        if ((op & 7) == 6) {
            static const double odd[3] = { NAN, INFINITY, -INFINITY };
            p.ts = odd[arg % 3];
        }
        p.ip_len = (op & 8) ? 0 : (op & 16) ? 65535 : len;
        uint32_t id = (op & 32) ? 1000u + fresh++ : flow & 31u;
        p.key.family = (op & 64) ? 6 : 4;
        p.key.proto = (op & 128) ? 1 : (flow & 128) ? 17 : 6;
        memcpy(p.key.src, &id, 4);
        p.key.dst[0] = 10;
        p.key.dst[15] = (uint8_t)(flow >> 5);     /* ignored for IPv4 */
        p.key.sport = (uint16_t)(id * 7);
        p.key.dport = 443;
        tt_pkt_ref ref;
        if (tt_engine_add(eng, &p, &ref)) {
            accepted++;
            FUZZ_CHECK(isfinite(p.ts) && p.ip_len > 0);
            FUZZ_CHECK(ref.flow_id >= 1);
            FUZZ_CHECK(tt_engine_flow_id(eng, &p.key) == ref.flow_id);
        } else {
            FUZZ_CHECK(!isfinite(p.ts) || p.ip_len == 0 || (p.key.proto != 6 && p.key.proto != 17));
        }
        tt_engine_stats st;
        tt_engine_get_stats(eng, &st);
        FUZZ_CHECK(st.flows_open <= max_flows);
        FUZZ_CHECK(st.pkts_stored <= (uint64_t)st.flows_open * s.max_packets);
    }
    tt_engine_flush(eng);
    tt_engine_stats st;
    tt_engine_get_stats(eng, &st);
    FUZZ_CHECK(st.flows_open == 0);
    FUZZ_CHECK(st.pkts_stored == 0);
    FUZZ_CHECK(st.packets == accepted);
    FUZZ_CHECK(c.packets_in_blocks == accepted);
    FUZZ_CHECK(st.blocks_closed == c.blocks);
    FUZZ_CHECK(st.flows_evicted + st.flows_idle <= st.flows_created);

    tt_engine_free(eng);
    g_free(c.px);
    tt_classifier_free(c.cls);
    tt_model_free(m);
    return 0;
}
