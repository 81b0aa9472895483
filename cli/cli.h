/* traffictriage, the command-line face of the engine: what the command files
 * (cli/cmd-*.c, cli/label.c) share. main.c dispatches to one tt_cli_COMMAND
 * per command; each takes its argv with argv[0] the command's name and
 * returns the exit status (0 done, 1 failed, 2 wrong usage). */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stdio.h>

#include "tt_arch.h"
#include "tt_dataset.h"

/* The commands: cmd-train.c (train, init-model), cmd-eval.c, cmd-info.c,
 * cmd-classify.c, cmd-render.c, cmd-series.c, cmd-fuse.c; label.c (label.h). */
int tt_cli_train(int argc, char **argv);
int tt_cli_eval(int argc, char **argv);
int tt_cli_info(int argc, char **argv);
int tt_cli_classify(int argc, char **argv);
int tt_cli_render(int argc, char **argv);
int tt_cli_init_model(int argc, char **argv);
int tt_cli_series(int argc, char **argv);
int tt_cli_fuse(int argc, char **argv);

/* Prints "traffictriage: MESSAGE" on stderr, frees e, returns 1. */
int tt_cli_fail(GError *e);
/* Prints "usage: traffictriage LINE" on stderr, returns 2. */
int tt_cli_usage(const char *line);
/* Parses the options of entries (and of more, when not NULL), removing them
 * from argc/argv; --help prints params and summary. */
gboolean tt_cli_parse_opts(const GOptionEntry *entries, const GOptionEntry *more, const char *params,
                           const char *summary, int *argc, char ***argv, GError **error);
/* Adds every DATA argument argv[1..argc-1] to ds (tt_dataset_add_input), then
 * tt_dataset_finish. */
gboolean tt_cli_load_data(tt_dataset *ds, int argc, char **argv, GError **error);
/* "data: N blocks from G groups; ..." and one line per class. */
void tt_cli_print_data_summary(const tt_dataset *ds, FILE *out);

/* ---- the options that make a new model (init-model, train): model-options.c ---- */
typedef struct {
    char   *arch, *classes, *task, *name, *out, *time_scale, *counts;
    int     side;            /* 32 by default; for --arch flowpic that default means 1500 */
    double  block;           /* 0 = the architecture's */
    int     min_packets;     /* < 0: the architecture's */
    double  threshold;       /* < 0: none recommended */
    gint64  seed;
} tt_cli_model_opts;

#define TT_CLI_MODEL_ENTRIES 13   /* entries tt_cli_model_entries writes, the terminator included */
/* Defaults into o, and the GOptionEntry table bound to o's fields into entries. */
void tt_cli_model_entries(tt_cli_model_opts *o, GOptionEntry entries[TT_CLI_MODEL_ENTRIES]);
/* Frees the strings the options were given. */
void tt_cli_model_opts_clear(tt_cli_model_opts *o);
/* The input spec and architecture the options ask for. */
gboolean tt_cli_model_spec(const tt_cli_model_opts *o, tt_spec *spec, tt_arch *arch, GError **error);
/* A new model of arch over spec for classes (NULL-terminated), named and seeded as the options say. */
tt_model *tt_cli_model_new(const tt_cli_model_opts *o, const tt_spec *spec, tt_arch arch, char **classes,
                           GError **error);

#endif
