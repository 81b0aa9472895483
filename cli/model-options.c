/* traffictriage: the options that make a new model, shared by init-model and
 * train (cli.h); the architectures themselves are core's (tt_arch.h). */
#include "cli.h"

#include <string.h>

void tt_cli_model_entries(tt_cli_model_opts *o, GOptionEntry entries[TT_CLI_MODEL_ENTRIES])
{
    memset(o, 0, sizeof *o);
    o->side = 32;
    o->min_packets = -1;
    o->threshold = -1.0;
    o->seed = 1;
    const GOptionEntry table[TT_CLI_MODEL_ENTRIES] = {
        { "arch", 'a', 0, G_OPTION_ARG_STRING, &o->arch, "Net: lenet (mini-FlowPic, default) or flowpic (the paper's net)", "ARCH" },
        { "side", 0, 0, G_OPTION_ARG_INT, &o->side, "Picture side in bins (default 32 for lenet, 1500 for flowpic)", "N" },
        { "block-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &o->block, "Block length in seconds (default 15 for lenet, 60 for flowpic)", "S" },
        { "min-packets", 0, 0, G_OPTION_ARG_INT, &o->min_packets, "Packets a block needs to be classified (default 10)", "N" },
        { "time-scale", 0, 0, G_OPTION_ARG_STRING, &o->time_scale, "fixed (block length maps to the width, default), span (first to last packet), or sequence (a column per packet, the first SIDE: size below, log gap above; 2*SIDE x SIDE, sizes clipped)", "MODE" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o->threshold, "Confidence threshold the model recommends, 0..1 (stored; the plugin's default)", "T" },
        { "counts", 0, 0, G_OPTION_ARG_STRING, &o->counts, "Pixel value from a cell's packet count: clip (min(n, 255) / 255, default), log (log(1 + n)) or raw", "MODE" },
        { "classes", 'c', 0, G_OPTION_ARG_STRING, &o->classes, "Comma-separated class names (default: the labels met in the data, sorted)", "A,B,..." },
        { "task", 0, 0, G_OPTION_ARG_STRING, &o->task, "Task name: category (default), tunnel, platform, ...", "TASK" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &o->name, "Model name (default: TASK-ARCHSIDE-BLOCKs)", "NAME" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, "Seed for initialisation, split, shuffling, dropout, augmentation (default 1)", "N" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->out, "Model file to write", "FILE" },
        { NULL }
    };
    memcpy(entries, table, sizeof table);
}

void tt_cli_model_opts_clear(tt_cli_model_opts *o)
{
    char **strings[] = { &o->arch, &o->classes, &o->task, &o->name, &o->out, &o->time_scale, &o->counts };
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
        g_clear_pointer(strings[i], g_free);
}

/* The value v that option --opt's name value gave into *out, or an error
 * naming the choices when v < 0 (an unknown name). */
static gboolean named(int v, const char *opt, const char *value, const char *choices, uint8_t *out, GError **error)
{
    if (v < 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "unknown --%s %s (%s)", opt, value, choices);
        return FALSE;
    }
    *out = (uint8_t)v;
    return TRUE;
}

gboolean tt_cli_model_spec(const tt_cli_model_opts *o, tt_spec *spec, tt_arch *arch, GError **error)
{
    int a = o->arch ? tt_arch_from_name(o->arch) : TT_ARCH_LENET;
    if (a < 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "unknown --arch %s (lenet or flowpic)", o->arch);
        return FALSE;
    }
    *arch = (tt_arch)a;
    if (*arch == TT_ARCH_LENET && (o->side < 16 || o->side > 512)) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "--side %d: the LeNet net needs 16..512", o->side);
        return FALSE;
    }
    /* --side's default, 32, is the LeNet's; the paper's net keeps its own unless given another */
    uint32_t side = *arch == TT_ARCH_FLOWPIC && o->side == 32 ? tt_arch_default_side(*arch) : (uint32_t)o->side;
    tt_arch_spec(*arch, side, spec);
    if (o->block > 0.0) {
        spec->block_seconds = o->block;
        if (spec->idle_timeout < 2 * o->block)
            spec->idle_timeout = 2 * o->block;
    }
    if (o->min_packets >= 0)
        spec->min_packets = (uint32_t)o->min_packets;
    if (o->threshold > 1.0) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "--threshold %g is not in [0, 1]", o->threshold);
        return FALSE;
    }
    if (o->time_scale && !named(tt_time_scale_from_name(o->time_scale), "time-scale", o->time_scale,
                                "fixed, span or sequence", &spec->time_scale, error))
        return FALSE;
    if (spec->time_scale == TT_TIME_SEQUENCE) {
        /* SIDE packets, each a column; size and gap each get SIDE rows */
        spec->size_bins = 2 * spec->time_bins;
        spec->size_policy = TT_SIZE_CLIP;
    }
    if (o->counts) {
        if (!named(tt_count_transform_from_name(o->counts), "counts", o->counts, "clip, log or raw",
                   &spec->count_transform, error))
            return FALSE;
        if (spec->count_transform == TT_COUNT_CLIP_SCALE && spec->count_clip <= 0.0f)
            spec->count_clip = 255.0f;
    }
    return tt_spec_validate(spec, error);
}

tt_model *tt_cli_model_new(const tt_cli_model_opts *o, const tt_spec *spec, tt_arch arch, char **classes,
                           GError **error)
{
    return tt_arch_model(arch, spec, o->task ? o->task : "category", o->name, (const char *const *)classes,
                         g_strv_length(classes), (uint64_t)o->seed, error);
}
