/* The small specs, datasets and models the C tests build (tt_test.h). */
#include <string.h>

#include "tt_arch.h"
#include "tt_test.h"

void tt_test_spec(tt_spec *spec, uint32_t side, double block_seconds, uint32_t min_packets,
                  uint32_t max_packets, double idle_timeout)
{
    tt_spec_init_mini(spec, side);
    spec->block_seconds = block_seconds;
    spec->min_packets = min_packets;
    spec->max_packets = max_packets;
    spec->idle_timeout = idle_timeout;
}

tt_dataset *tt_test_dataset(const tt_spec *spec, const char *path)
{
    tt_dataset *ds = tt_dataset_new(spec, NULL, 0);
    GError *e = NULL;
    g_assert_true(tt_dataset_add_file(ds, path, NULL, &e));
    g_assert_no_error(e);
    tt_dataset_finish(ds);
    return ds;
}

GBytes *tt_test_model_bytes(tt_model *m)
{
    GError *e = NULL;
    GBytes *b = tt_model_to_bytes(m, &e);
    g_assert_no_error(e);
    return b;
}

tt_model *tt_test_reload(tt_model *m)
{
    GBytes *b = tt_test_model_bytes(m);
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    GError *e = NULL;
    tt_model *back = tt_model_load_bytes(d, len, &e);
    g_assert_no_error(e);
    g_assert_nonnull(back);
    g_bytes_unref(b);
    return back;
}

/* A kh x kw convolution to out_c channels, stride 1, padded by pad on every side. */
static void conv(tt_layer *l, uint32_t out_c, uint32_t k, uint32_t pad)
{
    l->kind = TT_LAYER_CONV;
    l->out_c = out_c;
    l->kh = l->kw = k;
    l->sh = l->sw = 1;
    l->pad_t = l->pad_b = l->pad_l = l->pad_r = pad;
}

/* The layers of a small net into l (6 entries); returns their count. */
static uint32_t small_layers(tt_test_net net, uint32_t n_classes, tt_layer *l)
{
    memset(l, 0, 6 * sizeof *l);
    uint32_t n = 0;
    conv(&l[n++], 2, 3, 1);
    l[n++].kind = TT_LAYER_RELU;
    l[n].kind = TT_LAYER_MAXPOOL;
    l[n].kh = l[n].kw = 2;
    l[n].sh = l[n].sw = 2;
    n++;
    if (net == TT_TEST_NET_TWO_CONV) {
        conv(&l[n++], 3, 3, 0);
        l[n++].kind = TT_LAYER_RELU;
    }
    l[n].kind = TT_LAYER_DENSE;
    l[n++].out_c = n_classes;
    return n;
}

tt_model *tt_test_model(tt_test_net net, const tt_spec *spec, const char *name, const char *const *classes,
                        uint32_t n_classes, uint64_t seed, GError **error)
{
    static const char *const letters[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    if (!classes) {
        g_return_val_if_fail(n_classes <= G_N_ELEMENTS(letters), NULL);
        classes = letters;
    }
    if (net == TT_TEST_NET_LENET)
        return tt_arch_model(TT_ARCH_LENET, spec, "category", name, classes, n_classes, seed, error);
    tt_layer l[6];
    uint32_t nl = small_layers(net, n_classes, l);
    tt_net *nn = tt_net_new(spec->size_bins, spec->time_bins, l, nl, error);
    if (!nn)
        return NULL;
    tt_net_init_params(nn, seed);
    tt_model *m = tt_model_new(name, "category", n_classes, classes, spec, nn, error);
    if (!m) {
        tt_net_free(nn);
        return NULL;
    }
    tt_net_prepare(m->net);
    return m;
}

void tt_test_rechecksum(guint8 *file, gsize len)
{
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, file + 64, len - 64);
    gsize n = 32;
    g_checksum_get_digest(ck, file + 24, &n);
    g_checksum_free(ck);
}
