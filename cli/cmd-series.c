/* traffictriage series: labelled captures written as a packet-series corpus
 * (#ttseries v2, models/TRAINING-DATA.md), appended to, sliced or checked. */
#include <string.h>

#include "cli.h"
#include "tt_corpus.h"

/* Compare a corpus's counts with a counts file (or print them): 0 when equal. */
static int series_check(const char *corpus, const char *counts, const char *by)
{
    GError *e = NULL;
    char *got = tt_corpus_counts(corpus, by, &e), *want = NULL;
    if (!got || (counts && !g_file_get_contents(counts, &want, NULL, &e))) {
        g_free(got);
        return tt_cli_fail(e);
    }
    int rc = 0;
    if (!counts) {
        fputs(got, stdout);
    } else {
        char **g = g_strsplit(got, "\n", -1), **w = g_strsplit(want, "\n", -1);
        for (guint i = 0; !rc && (g[i] || w[i]); i++)
            if (!g[i] || !w[i] || strcmp(g[i], w[i]) != 0) {
                fprintf(stderr, "traffictriage series: %s does not match %s at line %u:\n  counted: %s\n  recorded: %s\n",
                        corpus, counts, i + 1, g[i] ? g[i] : "(end)", w[i] ? w[i] : "(end)");
                rc = 1;
            }
        if (!rc)
            printf("%s: checksum and counts match %s\n", corpus, counts);
        g_strfreev(g);
        g_strfreev(w);
    }
    g_free(want);
    g_free(got);
    return rc;
}

static int series_write(const char *out, const char *counts, const char *by, const tt_corpus_write_opts *o)
{
    GError *e = NULL;
    uint64_t added;
    if (!tt_corpus_write(out, o, &added, &e))
        return tt_cli_fail(e);
    printf("%s: %" G_GUINT64_FORMAT " flows added\n", out, added);
    if (!counts)
        return 0;
    char *text = tt_corpus_counts(out, by, &e);
    gboolean ok = text && g_file_set_contents(counts, text, -1, &e);
    g_free(text);
    return ok ? 0 : tt_cli_fail(e);
}

int tt_cli_series(int argc, char **argv)
{
    GError *e = NULL;
    char *out = NULL, *check = NULL, *counts = NULL, *counts_by = NULL, *slice = NULL;
    char **meta = NULL, **section_meta = NULL, **add_attrs = NULL;
    gboolean append = FALSE;
    int tick_ns = 0, max_block_packets = 0, preset = 6, slice_sessions = 15;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Corpus to write (.xz: compressed, one stream per section; else plain text)", "FILE" },
        { "append", 0, 0, G_OPTION_ARG_NONE, &append, "Add a section to an existing .xz corpus; its sessions (groups) are skipped", NULL },
        { "meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &meta, "File-level key=value for the header (repeatable; must be the same to append)", "KEY=VALUE" },
        { "section-meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &section_meta, "key=value recorded for this section (repeatable)", "KEY=VALUE" },
        { "add-attr", 0, 0, G_OPTION_ARG_STRING_ARRAY, &add_attrs, "key=value added to every flow's attrs (repeatable), e.g. source=lab", "KEY=VALUE" },
        { "tick-ns", 0, 0, G_OPTION_ARG_INT, &tick_ns, "Time unit in nanoseconds (default: 2^-22 s, exact for epoch times)", "N" },
        { "max-block-packets", 0, 0, G_OPTION_ARG_INT, &max_block_packets, "Keep the first N and the last packet of every 15 s and 60 s block (default 0: all)", "N" },
        { "xz-preset", 0, 0, G_OPTION_ARG_INT, &preset, "xz preset 0-9 (default 6: as small as 9 here, 8 MiB to read instead of 64)", "N" },
        { "check", 0, 0, G_OPTION_ARG_FILENAME, &check, "Read a corpus whole and print its counts (or compare them with --counts)", "FILE" },
        { "counts", 0, 0, G_OPTION_ARG_FILENAME, &counts, "Counts file: written with -o, compared with --check", "FILE" },
        { "counts-by", 0, 0, G_OPTION_ARG_STRING, &counts_by, "Attribute that splits the counts of each label (default tunnel)", "KEY" },
        { "slice", 0, 0, G_OPTION_ARG_FILENAME, &slice, "Write the flows of a corpus's first sessions to -o as plain text", "CORPUS" },
        { "slice-sessions", 0, 0, G_OPTION_ARG_INT, &slice_sessions, "Sessions in a --slice (default 15)", "N" },
        { NULL }
    };
    if (!tt_cli_parse_opts((const GOptionEntry *const[]){ entries, NULL }, "[MANIFEST...]", "Write labelled one-way flows of manifests' captures as a packet-series corpus\n"
                    "(#ttseries v2, models/TRAINING-DATA.md), or check one.", &argc, &argv, &e))
        return tt_cli_fail(e);
    const char *by = counts_by ? counts_by : "tunnel";
    int rc;
    if (check) {
        rc = series_check(check, counts, by);
    } else if (slice && out) {
        rc = tt_corpus_slice(slice, out, (uint32_t)MAX(1, slice_sessions), &e) ? 0 : tt_cli_fail(e);
    } else if (!out || argc < 2) {
        fprintf(stderr, "usage: traffictriage series -o CORPUS [OPTIONS] MANIFEST...\n"
                        "       traffictriage series --check CORPUS [--counts FILE]\n"
                        "       traffictriage series --slice CORPUS [--slice-sessions N] -o FILE\n");
        rc = 2;
    } else if (tick_ns < 0 || max_block_packets < 0 || preset < 0 || preset > 9) {
        fprintf(stderr, "traffictriage series: --tick-ns >= 1, --max-block-packets >= 0, --xz-preset 0..9\n");
        rc = 2;
    } else {
        char *joined = add_attrs ? g_strjoinv(";", add_attrs) : NULL;
        tt_corpus_write_opts o = {
            .manifests = (const char *const *)argv + 1,
            .meta = (const char *const *)meta,
            .section_meta = (const char *const *)section_meta,
            .append = append,
            .xz_preset = preset,
            .extract = { .tick = tick_ns ? (tt_tick){ (uint32_t)tick_ns, 0 } : TT_TICK_DEFAULT,
                         .max_block_packets = (uint32_t)max_block_packets, .add_attrs = joined },
        };
        rc = series_write(out, counts, by, &o);
        g_free(joined);
    }
    g_free(out);
    g_free(check);
    g_free(counts);
    g_free(counts_by);
    g_free(slice);
    g_strfreev(meta);
    g_strfreev(section_meta);
    g_strfreev(add_attrs);
    return rc;
}
