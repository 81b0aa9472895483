/* traffictriage: the command-line face of the engine — train, evaluate,
 * inspect and render models, classify a capture outside Wireshark with the
 * very code the plugin runs. `traffictriage help` lists the commands; each
 * lives in a file of its own (cli.h). */
#include <string.h>

#include "cli.h"
#include "label.h"      /* `label` (nDPI) */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    { "train", tt_cli_train, "train a model on labelled captures, packet series or FlowPic CSV" },
    { "eval", tt_cli_eval, "evaluate a model (accuracy, precision/recall/F1, confusion matrix; text and JSON)" },
    { "fuse", tt_cli_fuse, "fuse two trained models into one: each block answered by the mean of both" },
    { "trees", tt_cli_trees, "add boosted trees over block statistics to a trained model (libxgboost)" },
    { "info", tt_cli_info, "print a model's task, classes, input spec, layers and checksum" },
    { "classify", tt_cli_classify, "classify the flows of a capture outside Wireshark (same engine as the plugin)" },
    { "render", tt_cli_render, "write FlowPics of blocks as PNG files" },
    { "init-model", tt_cli_init_model, "write an untrained model (random weights) for tests" },
    { "series", tt_cli_series, "write labelled captures as a packet-series corpus (.ttseries.xz), append to or check one" },
    { "label", tt_cli_label, "label the flows of captures with nDPI as the teacher: a manifest for train" },
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: traffictriage COMMAND [OPTIONS] ...\n\ncommands:\n");
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
            printf("  %-11s %s\n", commands[i].name, commands[i].help);
        printf("\n`traffictriage COMMAND --help` describes a command.\n");
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            char *prg = g_strdup_printf("traffictriage %s", argv[1]);
            g_set_prgname(prg);
            g_free(prg);
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "traffictriage: unknown command \"%s\" (try `traffictriage help`)\n", argv[1]);
    return 2;
}
