/* Test helper: copy a model file, changing fields of its input spec or name.
 *   tt-model-edit IN OUT [max_packets=N] [min_packets=N] [block_seconds=S]
 *                        [idle_timeout=S] [name=NAME] [task=TASK]
 * Used by the plugin tests for specs that `traffictriage init-model` does
 * not expose (e.g. a tiny packet cap to provoke truncated blocks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tt_model.h"

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IN OUT [key=value ...]\n", argv[0]);
        return 2;
    }
    GError *err = NULL;
    tt_model *m = tt_model_load_file(argv[1], &err);
    if (m == NULL) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "bad argument %s\n", argv[i]);
            return 2;
        }
        size_t klen = (size_t)(eq - argv[i]);
        const char *v = eq + 1;
        if (klen == 11 && strncmp(argv[i], "max_packets", klen) == 0)
            m->spec.max_packets = (uint32_t)strtoul(v, NULL, 10);
        else if (klen == 11 && strncmp(argv[i], "min_packets", klen) == 0)
            m->spec.min_packets = (uint32_t)strtoul(v, NULL, 10);
        else if (klen == 13 && strncmp(argv[i], "block_seconds", klen) == 0)
            m->spec.block_seconds = g_ascii_strtod(v, NULL);
        else if (klen == 12 && strncmp(argv[i], "idle_timeout", klen) == 0)
            m->spec.idle_timeout = g_ascii_strtod(v, NULL);
        else if (klen == 4 && strncmp(argv[i], "name", klen) == 0) {
            g_free(m->name);
            m->name = g_strdup(v);
        } else if (klen == 4 && strncmp(argv[i], "task", klen) == 0) {
            g_free(m->task);
            m->task = g_strdup(v);
        } else {
            fprintf(stderr, "unknown key in %s\n", argv[i]);
            return 2;
        }
    }
    if (!tt_spec_validate(&m->spec, &err) || !tt_model_save_file(m, argv[2], &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    tt_model_free(m);
    return 0;
}
