/* TrafficTriage core: the stock architectures by name (tt_arch.h). */
#include "tt_arch.h"

#include <string.h>

static const char *const ARCH_NAMES[] = { [TT_ARCH_LENET] = "lenet", [TT_ARCH_FLOWPIC] = "flowpic" };

int tt_arch_from_name(const char *name)
{
    for (int i = 0; i < (int)G_N_ELEMENTS(ARCH_NAMES); i++)
        if (strcmp(name, ARCH_NAMES[i]) == 0)
            return i;
    return -1;
}

const char *tt_arch_name(tt_arch arch)
{
    return arch == TT_ARCH_FLOWPIC ? ARCH_NAMES[TT_ARCH_FLOWPIC] : ARCH_NAMES[TT_ARCH_LENET];
}

uint32_t tt_arch_default_side(tt_arch arch)
{
    return arch == TT_ARCH_FLOWPIC ? 1500 : 32;
}

void tt_arch_spec(tt_arch arch, uint32_t side, tt_spec *spec)
{
    if (arch == TT_ARCH_FLOWPIC) {
        tt_spec_init_paper(spec);
        spec->time_bins = spec->size_bins = side;
    } else {
        tt_spec_init_mini(spec, side);
    }
}

uint32_t tt_arch_layers(tt_arch arch, const tt_spec *spec, uint32_t n_classes, tt_layer *layers)
{
    if (arch == TT_ARCH_FLOWPIC)
        return tt_layers_flowpic(layers, n_classes);
    return spec->time_scale == TT_TIME_SEQUENCE ? tt_layers_lenet_sequence(layers, n_classes)
                                                : tt_layers_lenet(layers, n_classes);
}

tt_model *tt_arch_model(tt_arch arch, const tt_spec *spec, const char *task, const char *name,
                        const char *const *classes, uint32_t n_classes, uint64_t seed, GError **error)
{
    tt_layer layers[TT_MAX_LAYERS];
    uint32_t nl = tt_arch_layers(arch, spec, n_classes, layers);
    tt_net *net = tt_net_new(spec->size_bins, spec->time_bins, layers, nl, error);
    if (!net)
        return NULL;
    tt_net_init_params(net, seed);
    char *own = name ? g_strdup(name)
              : spec->time_scale == TT_TIME_SEQUENCE   /* size_bins = 2 x side there */
              ? g_strdup_printf("%s-%s%useq-%gs", task, tt_arch_name(arch), spec->time_bins, spec->block_seconds)
              : g_strdup_printf("%s-%s%u-%gs", task, tt_arch_name(arch), spec->size_bins, spec->block_seconds);
    tt_model *m = tt_model_new(own, task, n_classes, classes, spec, net, error);
    g_free(own);
    if (!m) {
        tt_net_free(net);
        return NULL;
    }
    tt_net_prepare(m->net);
    return m;
}
