/* traffictriage render: FlowPics of blocks as PNG files, with the model's
 * input spec, and an index.tsv of what each shows. */
#include <errno.h>

#include "cli.h"
#include "tt_flow.h"
#include "tt_flowpic.h"
#include "tt_png.h"

/* render with the folder option bound to *outdir (the caller frees it). */
static int render(char **outdir, int argc, char **argv)
{
    GError *e = NULL;
    gint64 flow = -1;
    int block = -1, per_class = 0, scale = 0, limit = 200;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, outdir, "Folder for the PNG files (created)", "DIR" },
        { "flow", 0, 0, G_OPTION_ARG_INT64, &flow, "Only this flow number", "N" },
        { "block", 0, 0, G_OPTION_ARG_INT, &block, "Only this block index", "N" },
        { "per-class", 0, 0, G_OPTION_ARG_INT, &per_class, "At most N blocks per class (a gallery)", "N" },
        { "scale", 0, 0, G_OPTION_ARG_INT, &scale, "Pixels per bin (default: 1 for large pictures, up to 8 for small)", "N" },
        { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N pictures in all (default 200)", "N" },
        { NULL }
    };
    const tt_cli_start_info start = {
        (const GOptionEntry *const[]){ entries, NULL }, "MODEL DATA...",
        "Render FlowPics of blocks as PNG files, with the model's input spec.\n"
        "DATA: captures (FILE.pcap), manifests or packet-series files.",
        "render -o DIR [OPTIONS] MODEL DATA...", 2, 0, outdir };
    int rc;
    tt_model *m = tt_cli_start(&start, &argc, &argv, &rc);
    if (!m)
        return rc;
    if (g_mkdir_with_parents(*outdir, 0755) != 0) {
        fprintf(stderr, "traffictriage: cannot create %s: %s\n", *outdir, g_strerror(errno));
        return 1;
    }
    tt_dataset *ds = tt_dataset_new(&m->spec, NULL, 0);
    if (!tt_cli_load_data(ds, NULL, argc - 1, argv + 1, &e))
        return tt_cli_fail(e);
    if (scale <= 0)
        scale = (int)tt_png_default_scale(&m->spec);
    /* Files named as the GUI's export names them (flow, block, answer), prefixed by the
     * group where the data holds several captures or sessions; index.tsv lists them. */
    gboolean prefix = ds->groups->len > 1;
    double threshold = tt_model_threshold(m);
    GString *index = g_string_new("#flow\tblock\t5-tuple\tpackets\tbytes\tcategory\ttop_class\tconfidence\tlabel\tgroup\tfile\n");
    tt_classifier *cl = tt_classifier_new(m);
    uint32_t *done = g_new0(uint32_t, ds->classes->len + 1);
    tt_pixel *px = NULL;
    size_t cap = 0;
    int written = 0;
    for (guint i = 0; i < ds->samples->len && written < limit; i++) {
        const tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        if ((flow >= 0 && s->flow_id != (uint64_t)flow) || (block >= 0 && s->block_index != (uint32_t)block))
            continue;
        if (per_class && done[s->label] >= (uint32_t)per_class)
            continue;
        size_t need = tt_flowpic_max_pixels(&m->spec, s->n);
        if (need > cap) {
            cap = need;
            px = g_renew(tt_pixel, px, cap);
        }
        const tt_pkt *pk = &g_array_index(ds->pkts, tt_pkt, s->off);
        size_t np = tt_flowpic_build(&m->spec, pk, s->n, px);
        tt_result r;
        gboolean have = tt_classify_packets(cl, pk, s->n, &r) && r.top < m->n_classes;
        const char *top = have ? m->classes[r.top] : "-";
        const char *category = have ? tt_classify_label(m, r.top, r.confidence, threshold) : "too-few-packets";
        double shown = have ? tt_confidence_shown(r.confidence) : 0.0;
        const char *label = g_ptr_array_index(ds->classes, s->label);
        const char *group = g_ptr_array_index(ds->groups, s->group);
        char *src = g_strdup(group);
        g_strcanon(src, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.", '_');
        char *base = g_strdup_printf("%s%sflow%" G_GUINT64_FORMAT "-block%u-%s.png", prefix ? src : "",
                                     prefix ? "-" : "", s->flow_id, s->block_index, category);
        g_free(src);
        char *name = g_build_filename(*outdir, base, NULL);
        if (!tt_png_write_flowpic(name, &m->spec, px, np, (uint32_t)scale, &e))
            return tt_cli_fail(e);
        uint64_t bytes = 0;
        for (uint32_t j = 0; j < s->n; j++)
            bytes += pk[j].size;
        char tuple[128];
        tt_key_format(&g_array_index(ds->flows, tt_flow_rec, s->flow).key, tuple, sizeof tuple);
        g_string_append_printf(index, "%" G_GUINT64_FORMAT "\t%u\t%s\t%u\t%" G_GUINT64_FORMAT "\t%s\t%s\t%.3f\t%s\t%s\t%s\n",
                               s->flow_id, s->block_index, tuple, s->n, bytes, category, top, shown, label, group, base);
        printf("%s\t%s\t%u packets\tpredicted %s (%.3f)\n", name, label, s->n, have ? top : "none", shown);
        g_free(base);
        g_free(name);
        done[s->label]++;
        written++;
    }
    if (written > 0) {
        char *index_path = g_build_filename(*outdir, "index.tsv", NULL);
        gboolean ok = g_file_set_contents(index_path, index->str, (gssize)index->len, &e);
        g_free(index_path);
        if (!ok)
            return tt_cli_fail(e);
    }
    g_string_free(index, TRUE);
    g_free(px);
    g_free(done);
    tt_classifier_free(cl);
    tt_dataset_free(ds);
    tt_model_free(m);
    if (written == 0) {
        fprintf(stderr, "traffictriage render: no block matched\n");
        return 1;
    }
    return 0;
}

int tt_cli_render(int argc, char **argv)
{
    char *outdir = NULL;
    int rc = render(&outdir, argc, argv);
    g_free(outdir);
    return rc;
}
