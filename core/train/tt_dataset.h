/* TrafficTriage core: labelled training data, cut into blocks by the same
 * engine (tt_flow.h) and FlowPic code the plugin uses.
 *
 * Inputs (models/TRAINING-DATA.md documents each format):
 *  - a manifest (#ttmanifest v1) that labels flows of pcap/pcapng captures;
 *  - packet series (#ttseries v1): one labelled flow per line;
 *  - the original FlowPic processed CSV (label given per file).
 * A sample is one block with status ok; blocks with too few packets are
 * counted per class but not kept.
 */
#ifndef TT_DATASET_H
#define TT_DATASET_H

#include "tt_types.h"
#include "tt_flow.h"

G_BEGIN_DECLS

typedef struct {
    uint32_t label;        /* index into ds->classes */
    uint32_t group;        /* index into ds->groups (session / capture) */
    uint32_t attrs;        /* index into ds->attrs ("key=value;..." or "-") */
    uint32_t n;            /* packets */
    uint64_t off;          /* first packet in ds->pkts */
    uint64_t flow_id;      /* as numbered by the engine within its source */
    uint32_t block_index;
    uint32_t source;       /* index into ds->sources (file it came from) */
    uint32_t flow;         /* index into ds->flows */
} tt_sample;

/* One labelled one-way flow as the engine cut it, whatever its blocks'
 * status: a flow whose blocks all had too few packets has no sample but is
 * still here, so a per-flow evaluation counts it (as unanswered). */
typedef struct {
    uint32_t label, group, attrs, source;
    uint64_t flow_id;      /* as numbered by the engine within its source */
    tt_key   key;          /* its 5-tuple (synthetic for packet series) */
    uint64_t packets;      /* in all its blocks */
    uint32_t blocks, blocks_ok;
    double   first_ts, last_ts;
} tt_flow_rec;

typedef struct {
    tt_spec    spec;
    GPtrArray *classes;    /* char*, fixed if given at creation, else grows */
    gboolean   fixed_classes;
    GPtrArray *groups;     /* char* */
    GPtrArray *attrs;      /* char* */
    GPtrArray *sources;    /* char* */
    GArray    *samples;    /* tt_sample */
    GArray    *pkts;       /* tt_pkt, all samples' packets */
    GArray    *flows;      /* tt_flow_rec, every labelled flow kept */
    GHashTable *group_ix, *attrs_ix, *class_ix;
    /* counts of blocks not kept, per class: too few packets / unknown label */
    GArray    *too_few;    /* uint64 per class */
    uint64_t   unknown_label_blocks;
    uint64_t   packets_read, packets_labelled;
    char      *label_attr;  /* if set: the label is this attribute's value (e.g. "tunnel") */
    char     **where;       /* NULL or "key=value" conditions a flow's attrs must all meet */
    uint64_t   filtered_flows;
} tt_dataset;

/* classes: NULL = learn the class list from the labels met (sorted at the end
 * by tt_dataset_finish); otherwise labels outside it are skipped and counted. */
tt_dataset *tt_dataset_new(const tt_spec *spec, const char *const *classes, uint32_t n_classes);
void tt_dataset_free(tt_dataset *ds);
/* Take labels from attribute KEY of each flow instead of its label column
 * (flows without it are skipped). Call before adding data. */
void tt_dataset_set_label_attr(tt_dataset *ds, const char *key);
/* Keep only flows whose attrs meet every "key=value" (or "key!=value")
 * condition; others are skipped (counted in filtered_flows). */
void tt_dataset_set_where(tt_dataset *ds, const char *const *conditions);

/* Every TCP/UDP flow of a capture, with one label and group. */
gboolean tt_dataset_add_capture(tt_dataset *ds, const char *path, const char *label,
                                const char *group, GError **error);
gboolean tt_dataset_add_manifest(tt_dataset *ds, const char *path, GError **error);
gboolean tt_dataset_add_series(tt_dataset *ds, const char *path, GError **error);
gboolean tt_dataset_add_flowpic_csv(tt_dataset *ds, const char *path, const char *label, GError **error);
/* Dispatch on the first line: #ttmanifest, #ttseries; otherwise FlowPic CSV
 * (which then needs label). */
gboolean tt_dataset_add_file(tt_dataset *ds, const char *path, const char *label, GError **error);
/* One DATA argument of the trainer: "FILE" or "FILE:LABEL" (the last colon,
 * unless FILE:LABEL itself names an existing file). A capture (.pcap,
 * .pcapng, .cap) gives every flow the label ("unlabelled" without one) and
 * the file's base name as group; any other file goes to tt_dataset_add_file. */
gboolean tt_dataset_add_input(tt_dataset *ds, const char *arg, GError **error);

/* Sort a learned class list by name (remapping labels). */
void tt_dataset_finish(tt_dataset *ds);

/* Value of key in a sample's attrs ("" if absent); returned string is owned by caller. */
char *tt_attr_get(const char *attrs, const char *key);

/* Parse one manifest data line's flow matcher; exposed for tests/fuzzing. */
typedef struct {
    char    *capture, *label, *group, *attrs;
    uint8_t  proto;              /* 0 = any */
    gboolean any_a, any_b, any_pa, any_pb;
    tt_key   a, b;               /* addresses in src, ports in sport (a) */
    double   t_start, t_end;     /* -inf / +inf for any */
} tt_manifest_rule;
gboolean tt_manifest_parse_line(const char *line, tt_manifest_rule *rule, GError **error);
void tt_manifest_rule_clear(tt_manifest_rule *rule);
gboolean tt_manifest_rule_match(const tt_manifest_rule *r, const tt_packet *p);
/* Index of the first rule that matches p, or -1 (unlabelled): a packet takes
 * that rule's label, group and attrs. */
int tt_manifest_first_match(const GPtrArray *rules, const tt_packet *p);

/* A manifest's rules grouped by capture: captures in the order they first
 * appear (paths absolute or joined to the manifest's folder), each with its
 * rules in file order. */
typedef struct {
    char      *capture;
    GPtrArray *rules;      /* tt_manifest_rule* */
} tt_manifest_capture;
/* Read and parse a whole manifest: a GPtrArray of tt_manifest_capture*
 * (free with g_ptr_array_unref), or NULL with "FILE:LINE: ..." set. */
GPtrArray *tt_manifest_read(const char *path, GError **error);

G_END_DECLS

#endif
