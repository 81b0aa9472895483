/* TrafficTriage core: the training corpus as packet series (models/TRAINING-DATA.md).
 *
 *  - tt_textin: the lines of a text file, plain or xz-compressed (one or more
 *    concatenated xz streams), every error naming the file, line and byte;
 *  - tt_textout: text written plainly or as one xz stream;
 *  - tt_series_*: #ttseries v1 and v2 files read flow by flow (tt_dataset
 *    loads them through this reader), v2's sections checked against their
 *    #end lines so that a cut or damaged file is an error, never less data;
 *  - tt_extract_manifest: a manifest's labelled one-way flows as v2 lines, read
 *    by the capture reader and matched by the manifest rules exactly as
 *    tt_dataset_add_manifest does, so their blocks are the capture's blocks;
 *  - tt_corpus_*: a corpus file (header stream + one xz stream per section),
 *    written, appended to without recompressing, and counted.
 */
#ifndef TT_CORPUS_H
#define TT_CORPUS_H

#include <stdio.h>

#include "tt_types.h"

G_BEGIN_DECLS

/* ---- lines ------------------------------------------------------------------------------- */

typedef struct tt_textin tt_textin;

/* Open a text file; xz data (magic FD 37 7A 58 5A 00) is decompressed on the fly. */
tt_textin *tt_textin_open(const char *path, GError **error);
/* The next line without its line end (NUL-terminated, valid until the next
 * call): 1, 0 at the end, -1 with an error (corrupt or truncated xz data, a
 * NUL byte in a line, a line over 1 GiB). */
int tt_textin_next(tt_textin *in, char **line, GError **error);
uint64_t tt_textin_line(const tt_textin *in);      /* 1-based number of the last line returned */
uint64_t tt_textin_offset(const tt_textin *in);    /* bytes of the file read so far */
const char *tt_textin_path(const tt_textin *in);
void tt_textin_close(tt_textin *in);
gboolean tt_is_xz(const void *head, size_t n);

typedef struct tt_textout tt_textout;

/* Write to fp (left open): xz_preset < 0 plain text, else one xz stream
 * (presets 0-9, | LZMA_PRESET_EXTREME allowed). path only names errors. */
tt_textout *tt_textout_new(FILE *fp, const char *path, int xz_preset, GError **error);
gboolean tt_textout_write(tt_textout *o, const char *s, size_t n, GError **error);
/* End the stream and free o (also after an error). */
gboolean tt_textout_end(tt_textout *o, GError **error);

/* ---- packet series --------------------------------------------------------------------- */

/* One flow of a series file; strings and arrays valid until the next call. */
typedef struct {
    const char *group, *label, *flow, *attrs;   /* attrs: "-" when empty */
    GArray     *times;    /* double, seconds, as tt_time() computes them */
    GArray     *sizes;    /* uint32_t IP lengths */
    uint64_t    line;
    const char *text;     /* the whole line as read */
} tt_series_flow;

typedef struct tt_series_reader tt_series_reader;

tt_series_reader *tt_series_open(const char *path, GError **error);
/* 1 with *f filled, 0 at the end (every check passed), -1 with an error
 * "FILE:LINE: ..." (or "FILE: ... at byte N" for compressed data). */
int tt_series_next(tt_series_reader *r, tt_series_flow *f, GError **error);
int tt_series_version(const tt_series_reader *r);     /* 1 or 2 */
void tt_series_close(tt_series_reader *r);

/* Space/comma separated numbers (optionally in [ ]) appended to times
 * (doubles, finite) or sizes (1..65535); used for v1 series and FlowPic CSV. */
gboolean tt_parse_numbers(const char *s, GArray *times, GArray *sizes, gboolean is_time, GError **error);

/* The unit of v2 times: ns > 0: ns nanoseconds ("tick_ns=N"); ns = 0: 2^pow2
 * seconds ("tick_pow2=E"). 2^-22 s is the resolution of a double holding an
 * epoch time of 2004-2038, so those capture times are kept bit for bit. */
typedef struct {
    uint32_t ns;
    int32_t  pow2;
} tt_tick;

#define TT_TICK_DEFAULT ((tt_tick){ 0, -22 })

/* "tick_ns=N" / "tick_pow2=E" (E in -40..0) */
gboolean tt_tick_parse(const char *token, tt_tick *t);
char *tt_tick_format(tt_tick t);

/* ---- extraction from labelled captures ---------------------------------------------------- */

/* The block lengths (and idle timeouts) whose pictures the packet cut keeps
 * exact: the trainer's 15 s (mini-FlowPic) and 60 s (paper) inputs. */
#define TT_CUT_SPECS "15 s blocks / 60 s idle, 60 s blocks / 120 s idle"

typedef struct {
    tt_tick     tick;               /* unit of the written times */
    uint32_t    max_block_packets;  /* 0 = every packet; else the cut (see TRAINING-DATA.md) */
    const char *add_attrs;          /* "k=v;..." appended to every flow's attrs, or NULL */
    GHashTable *skip_groups;        /* char* set: groups not extracted, or NULL */
} tt_extract_opts;

typedef struct {
    const char *line;               /* the v2 data line, '\n' included */
    size_t      len;
    const char *group, *label, *attrs;
    uint64_t    packets;            /* written */
    uint64_t    packets_cut;        /* left out by the cut */
} tt_extracted;

typedef gboolean (*tt_extract_fn)(const tt_extracted *x, void *user, GError **error);

/* Every labelled one-way flow of a manifest's captures, in order of first
 * packet per capture: one line per (directed 5-tuple, manifest line). */
gboolean tt_extract_manifest(const char *manifest, const tt_extract_opts *o,
                             tt_extract_fn fn, void *user, GError **error);

/* ---- corpus files ------------------------------------------------------------------------ */

typedef struct {
    tt_tick    tick;
    GPtrArray *meta;        /* char* "key=value": file-level, equal across appends */
    GPtrArray *sections;    /* char* "key=value ...": one per section, in order */
    GPtrArray *sessions;    /* char* "GROUP SECTION" */
} tt_corpus_header;

void tt_corpus_header_init(tt_corpus_header *h);
void tt_corpus_header_clear(tt_corpus_header *h);
/* Read the header stream of an xz corpus: *stream_bytes = its compressed size. */
gboolean tt_corpus_header_read(const char *path, tt_corpus_header *h, uint64_t *stream_bytes,
                               GError **error);
char *tt_corpus_header_format(const tt_corpus_header *h);

typedef struct {
    const char *const *manifests;
    const char *const *meta;            /* file-level key=value (must match on append) */
    const char *const *section_meta;    /* this section's key=value */
    gboolean    append;
    int         xz_preset;              /* plain text when the output does not end in .xz */
    tt_extract_opts extract;
    FILE       *log;                    /* progress per manifest, or NULL */
} tt_corpus_write_opts;

/* Write (or append one section to) an xz corpus: sessions (groups) already in
 * it are skipped. *added = flows written. Atomic: a temporary file renamed. */
gboolean tt_corpus_write(const char *path, const tt_corpus_write_opts *o, uint64_t *added,
                         GError **error);

/* The counts file of a corpus: SHA-256, sizes, and sessions / flows / packets
 * per label x value of attribute by_key, computed by reading it all. */
char *tt_corpus_counts(const char *path, const char *by_key, GError **error);

/* A plain v2 file (one section) with the flows of the first n_groups groups
 * (sessions) of a series file: a small training set read by the same reader. */
gboolean tt_corpus_slice(const char *path, const char *out, uint32_t n_groups, GError **error);

G_END_DECLS

#endif
