/* traffictriage, the command-line face of the engine: what the command files
 * (cli/cmd-*.c, cli/label.c) share. main.c dispatches to one tt_cli_COMMAND
 * per command; each takes its argv with argv[0] the command's name and
 * returns the exit status (0 done, 1 failed, 2 wrong usage). */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stdio.h>

#include "tt_arch.h"
#include "tt_dataset.h"
#include "tt_classify.h"
#include "tt_train.h"

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
int tt_cli_trees(int argc, char **argv);

/* Prints "traffictriage: MESSAGE" on stderr, frees e, returns 1. */
int tt_cli_fail(GError *e);
/* Prints "usage: traffictriage LINE" on stderr, returns 2. */
int tt_cli_usage(const char *line);
/* Parses the options of the tables (a NULL-terminated list, each table ending in
 * a { NULL } entry), removing them from argc/argv; --help prints params and
 * summary. */
gboolean tt_cli_parse_opts(const GOptionEntry *const *tables, const char *params, const char *summary,
                           int *argc, char ***argv, GError **error);

/* ---- the start of the commands that read a MODEL (info, classify, render, eval) ---- */
typedef struct {
    const GOptionEntry *const *tables;   /* the command's options, as tt_cli_parse_opts takes them */
    const char *params, *summary;        /* for --help */
    const char *usage;                   /* the usage line, after "traffictriage " */
    int min_args, max_args;              /* arguments after the options, MODEL included (max 0: no limit) */
    char *const *required;               /* an option that must be given (its variable), or NULL */
} tt_cli_start_info;

/* Options parsed, arguments counted, the model (argv[1]) loaded: the model, with
 * *argc and *argv the arguments left (argv[0] the command's name). NULL when a step
 * fails, the message printed and *rc the exit status (1 failed, 2 wrong usage). */
tt_model *tt_cli_start(const tt_cli_start_info *c, int *argc, char ***argv, int *rc);

/* ---- a written model's metadata and held-out figures (train, fuse, trees) ---- */
/* meta's non-empty lines but those starting with one of prefixes (NULL-terminated), each
 * ending in a newline: the lines of an older model that still hold for the new one. */
GString *tt_cli_meta_without(const char *meta, const char *const *prefixes);
/* The held-out figures a model records, as test.* lines appended to meta. */
void tt_cli_meta_add_test(GString *meta, const tt_eval *ev);
/* "test split (groups never seen in training):" and the report on stdout; with json_out,
 * the same as JSON into that file. */
gboolean tt_cli_report_test(const tt_model *m, const tt_eval *ev, const char *json_out, GError **error);

/* ---- the options that select and label the data (train, eval) ---- */
typedef struct {
    char  *label_attr;   /* --label-attr: labels from this attribute */
    char **where;        /* --where KEY=VALUE (repeatable) */
} tt_cli_data_opts;

#define TT_CLI_DATA_ENTRIES 3   /* entries tt_cli_data_entries writes, the terminator included */
/* Nothing selected into o, and the GOptionEntry table bound to o's fields into entries. */
void tt_cli_data_entries(tt_cli_data_opts *o, GOptionEntry entries[TT_CLI_DATA_ENTRIES]);
/* Frees the strings the options were given. */
void tt_cli_data_opts_clear(tt_cli_data_opts *o);
/* Applies o (NULL: none) to ds, adds every DATA argument argv[1..argc-1] to ds
 * (tt_dataset_add_input), then tt_dataset_finish. */
gboolean tt_cli_load_data(tt_dataset *ds, const tt_cli_data_opts *o, int argc, char **argv, GError **error);
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
