/* traffictriage info: a model's task, classes, input spec, layers and checksum. */
#include "cli.h"

/* The picture, blocks, calibration and layers of one net. */
static void print_net(const tt_model *m)
{
    const tt_spec *s = &m->spec;
    if (s->time_scale == TT_TIME_SEQUENCE)
        printf("flowpic      %u x %u (size and gap x packet), sizes 1..%u (clipped above), sequence of the first "
               "%u packets: size and log gap, %g s blocks\n",
               s->size_bins, s->time_bins, s->max_size, s->time_bins, s->block_seconds);
    else
        printf("flowpic      %u x %u (size x time), sizes 1..%u (%s above), %s time over %g s blocks\n",
               s->size_bins, s->time_bins, s->max_size, s->size_policy == TT_SIZE_CLIP ? "clipped" : "dropped",
               s->time_scale == TT_TIME_SPAN ? "span-scaled" : "fixed", s->block_seconds);
    printf("pixels       %s\n", s->count_transform == TT_COUNT_RAW ? "raw counts"
                              : s->count_transform == TT_COUNT_LOG1P ? "log(1 + count)" : "min(count, clip) / clip");
    printf("blocks       at least %u packets%s, at most %u stored; flows idle %g s end\n",
           s->min_packets, s->min_span > 0 ? " and the min span" : "", s->max_packets, s->idle_timeout);
    printf("temperature  %g\nparameters   %zu\nlayers      ", (double)m->temperature, m->net->n_params);
    for (uint32_t i = 0; i < m->net->n_layers; i++) {
        char layer[96];
        printf(" %s", tt_layer_format(&m->net->layers[i], layer, sizeof layer));
    }
    printf("\n");
}

int tt_cli_info(int argc, char **argv)
{
    GOptionEntry none[] = { { NULL } };
    const tt_cli_start_info start = { (const GOptionEntry *const[]){ none, NULL }, "MODEL",
                                      "Print a model's task, classes, input spec, layers and checksum.",
                                      "info MODEL", 1, 1, NULL };
    int rc;
    tt_model *m = tt_cli_start(&start, &argc, &argv, &rc);
    if (!m)
        return rc;
    printf("model        %s\ntask         %s\nsha256       %s\nclasses      ", m->name, m->task, m->sha256);
    for (uint32_t i = 0; i < m->n_classes; i++)
        printf("%s%s", i ? ", " : "", m->classes[i]);
    printf("\n");
    print_net(m);
    if (m->companion) {
        printf("--- fused with %s (sha256 %s): each block answered by the mean of both\n",
               m->companion->name, m->companion->sha256);
        print_net(m->companion);
    }
    if (m->trees) {
        const tt_trees *t = m->trees;
        printf("--- boosted trees: %u over %u block statistics (version %u), %u nodes; weight %.3g of the answer, "
               "temperature %.4g\n", t->n_trees, t->n_features, t->stats_version, t->tree_start[t->n_trees],
               (double)t->weight, (double)t->temperature);
    }
    if (m->meta && *m->meta)
        printf("--- metadata\n%s", m->meta);
    tt_model_free(m);
    return 0;
}
