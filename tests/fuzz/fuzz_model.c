/* Fuzz target: the model-file loader (tt_model_load_bytes).
 *
 * Built twice:
 *   fuzz_model        the bytes as they are. The loader checks the declared
 *                     size and a SHA-256 over the body before parsing, so
 *                     mutations mostly exercise the header checks.
 *   fuzz_model_fixed  (TT_FUZZ_FIX_HEADER) the harness first writes the magic,
 *                     version, header size, the real file size and the body's
 *                     SHA-256 into the header, so mutations reach the section
 *                     parser, the shape checks and the net construction.
 *
 * A model that loads must: have 2..TT_MAX_CLASSES named classes and a valid
 * spec, classify a small block into probabilities that sum to 1, and
 * serialise to bytes that load again and serialise identically.
 */
#include "fuzz_common.h"

#include <math.h>

#include "tt_classify.h"
#include "tt_flowpic.h"

/* Skip running nets whose activations or multiply-adds exceed these: the
 * loader accepts them (they are within its TT_MAX_* bounds), but one forward
 * pass would take seconds and the fuzzer would report a timeout instead of
 * exploring. tests/fuzz/README.md discusses the bound. */
#define RUN_MAX_ACTIVATIONS (4u * 1024u * 1024u)
#define RUN_MAX_MACS        (64ull * 1024ull * 1024ull)

static int net_is_cheap(const tt_net *net)
{
    uint64_t acts = 0, macs = 0;
    for (uint32_t i = 0; i < net->n_layers; i++) {
        const tt_layer *l = &net->layers[i];
        uint64_t out = (uint64_t)l->out_c * l->out_h * l->out_w;
        acts += out;
        if (l->kind == TT_LAYER_CONV)
            macs += out * l->in_c * l->kh * l->kw;
        else if (l->kind == TT_LAYER_DENSE)
            macs += out * l->in_c * l->in_h * l->in_w;
        else if (l->kind == TT_LAYER_MAXPOOL)
            macs += out * l->kh * l->kw;
    }
    return acts <= RUN_MAX_ACTIVATIONS && macs <= RUN_MAX_MACS;
}

static void check_model(tt_model *m)
{
    GError *e = NULL;
    FUZZ_CHECK(m->n_classes >= 2 && m->n_classes <= TT_MAX_CLASSES);
    for (uint32_t i = 0; i < m->n_classes; i++)
        FUZZ_CHECK(m->classes[i] && *m->classes[i]);
    FUZZ_CHECK(tt_spec_validate(&m->spec, NULL));
    FUZZ_CHECK(m->net->n_out == m->n_classes);
    FUZZ_CHECK(isfinite(m->temperature) && m->temperature > 0.0f);

    if (net_is_cheap(m->net)) {
        /* A small block spread over the picture: sizes 1..65535, times inside
         * and beyond the block, one packet at the same time as another. */
        tt_pkt pkts[24];
        for (uint32_t i = 0; i < 24; i++) {
            pkts[i].t = (float)(m->spec.block_seconds * i / 20.0);
            pkts[i].size = i == 0 ? 65535u : 1u + i * 97u;
        }
        pkts[23].t = pkts[22].t;
        tt_classifier *c = tt_classifier_new(m);
        tt_result res;
        for (size_t n = 1; n <= 24; n += 23) {
            if (!tt_classify_packets(c, pkts, n, &res))
                continue;
            FUZZ_CHECK(res.n_classes == m->n_classes);
            FUZZ_CHECK(res.top < res.n_classes);
            float sum = 0.0f;
            int finite = 1;
            for (uint32_t k = 0; k < res.n_classes; k++) {
                if (!isfinite(res.probs[k]))
                    finite = 0;
                else {
                    FUZZ_CHECK(res.probs[k] >= 0.0f && res.probs[k] <= 1.0f);
                    sum += res.probs[k];
                }
            }
            /* Finite weights can still overflow to inf logits in a deep net;
             * then the probabilities may be NaN: the plugin must cope, the
             * fuzzer only insists on sane results for finite outputs. */
            if (finite) {
                FUZZ_CHECK(fabsf(sum - 1.0f) < 1e-3f);
                FUZZ_CHECK(res.confidence == res.probs[res.top]);
            }
        }
        tt_classifier_free(c);
    }

    GBytes *b = tt_model_to_bytes(m, &e);
    FUZZ_CHECK(b != NULL);
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    tt_model *m2 = tt_model_load_bytes(d, len, &e);
    if (!m2)
        fprintf(stderr, "reload failed: %s\n", e->message);
    FUZZ_CHECK(m2 != NULL);
    GBytes *b2 = tt_model_to_bytes(m2, NULL);
    FUZZ_CHECK(b2 != NULL && g_bytes_equal(b, b2));
    g_bytes_unref(b2);
    tt_model_free(m2);
    g_bytes_unref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const guint8 *in = data;
#ifdef TT_FUZZ_FIX_HEADER
    guint8 *copy = NULL;
    if (size >= 64) {
        copy = g_memdup2(data, size);
        memcpy(copy, TT_MODEL_MAGIC, 8);
        copy[8] = 1; copy[9] = copy[10] = copy[11] = 0;        /* version */
        copy[12] = 64; copy[13] = copy[14] = copy[15] = 0;     /* header size */
        for (int i = 0; i < 8; i++)
            copy[16 + i] = (guint8)((uint64_t)size >> (8 * i));
        GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(ck, copy + 64, size - 64);
        gsize dlen = 32;
        g_checksum_get_digest(ck, copy + 24, &dlen);
        g_checksum_free(ck);
        in = copy;
    }
#endif
    GError *e = NULL;
    tt_model *m = tt_model_load_bytes(in, size, &e);
    if (m) {
        FUZZ_CHECK(e == NULL);
        check_model(m);
        tt_model_free(m);
    } else {
        /* Every failure explains itself in the TT_ERROR domain. */
        FUZZ_CHECK(e != NULL && e->domain == TT_ERROR && e->message && *e->message);
        g_error_free(e);
    }
#ifdef TT_FUZZ_FIX_HEADER
    g_free(copy);
#endif
    return 0;
}
