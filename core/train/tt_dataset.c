/* TrafficTriage core: labelled training data (tt_dataset.h). */
#include "tt_dataset.h"
#include "tt_capture.h"
#include "tt_corpus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE_PACKETS 50000000u

static uint32_t intern(GPtrArray *arr, GHashTable *ix, const char *s)
{
    gpointer v;
    if (g_hash_table_lookup_extended(ix, s, NULL, &v))
        return GPOINTER_TO_UINT(v) - 1;
    char *copy = g_strdup(s);
    g_ptr_array_add(arr, copy);
    g_hash_table_insert(ix, copy, GUINT_TO_POINTER(arr->len));
    return arr->len - 1;
}

tt_dataset *tt_dataset_new(const tt_spec *spec, const char *const *classes, uint32_t n_classes)
{
    tt_dataset *ds = g_new0(tt_dataset, 1);
    ds->spec = *spec;
    ds->classes = g_ptr_array_new_with_free_func(g_free);
    ds->groups = g_ptr_array_new_with_free_func(g_free);
    ds->attrs = g_ptr_array_new_with_free_func(g_free);
    ds->sources = g_ptr_array_new_with_free_func(g_free);
    ds->samples = g_array_new(FALSE, FALSE, sizeof(tt_sample));
    ds->pkts = g_array_new(FALSE, FALSE, sizeof(tt_pkt));
    ds->flows = g_array_new(FALSE, FALSE, sizeof(tt_flow_rec));
    ds->group_ix = g_hash_table_new(g_str_hash, g_str_equal);
    ds->attrs_ix = g_hash_table_new(g_str_hash, g_str_equal);
    ds->class_ix = g_hash_table_new(g_str_hash, g_str_equal);
    ds->too_few = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    if (classes) {
        for (uint32_t i = 0; i < n_classes; i++)
            intern(ds->classes, ds->class_ix, classes[i]);
        ds->fixed_classes = TRUE;
        g_array_set_size(ds->too_few, ds->classes->len);
    }
    return ds;
}

void tt_dataset_set_label_attr(tt_dataset *ds, const char *key)
{
    g_free(ds->label_attr);
    ds->label_attr = key && *key ? g_strdup(key) : NULL;
}

void tt_dataset_set_where(tt_dataset *ds, const char *const *conditions)
{
    g_strfreev(ds->where);
    ds->where = conditions && conditions[0] ? g_strdupv((char **)conditions) : NULL;
}

static gboolean meets_where(const tt_dataset *ds, const char *attrs)
{
    for (char **c = ds->where; c && *c; c++) {
        const char *eq = strchr(*c, '=');
        if (!eq)
            continue;
        gboolean negate = eq > *c && eq[-1] == '!';
        char *key = g_strndup(*c, (gsize)(eq - *c - (negate ? 1 : 0)));
        char *val = tt_attr_get(attrs, key);
        gboolean same = strcmp(val, eq + 1) == 0;
        g_free(key);
        g_free(val);
        if (same == negate)
            return FALSE;
    }
    return TRUE;
}

void tt_dataset_free(tt_dataset *ds)
{
    if (!ds)
        return;
    g_free(ds->label_attr);
    g_strfreev(ds->where);
    g_hash_table_destroy(ds->group_ix);
    g_hash_table_destroy(ds->attrs_ix);
    g_hash_table_destroy(ds->class_ix);
    g_ptr_array_free(ds->classes, TRUE);
    g_ptr_array_free(ds->groups, TRUE);
    g_ptr_array_free(ds->attrs, TRUE);
    g_ptr_array_free(ds->sources, TRUE);
    g_array_free(ds->samples, TRUE);
    g_array_free(ds->pkts, TRUE);
    g_array_free(ds->flows, TRUE);
    g_array_free(ds->too_few, TRUE);
    g_free(ds);
}

static int label_index(tt_dataset *ds, const char *label);

/* Label index for a flow's label column and attributes, or -1 when it has
 * none or the class list is fixed and lacks it. */
static int label_of(tt_dataset *ds, const char *label_column, const char *attrs)
{
    char *from_attr = NULL;
    const char *label = label_column;
    if (ds->where && !meets_where(ds, attrs)) {
        ds->filtered_flows++;
        return -2;
    }
    if (ds->label_attr) {
        from_attr = tt_attr_get(attrs, ds->label_attr);
        label = from_attr;
        if (!*label) {
            g_free(from_attr);
            return -1;
        }
    }
    int r = label_index(ds, label);
    g_free(from_attr);
    return r;
}

static int label_index(tt_dataset *ds, const char *label)
{
    gpointer v;
    if (g_hash_table_lookup_extended(ds->class_ix, label, NULL, &v))
        return (int)GPOINTER_TO_UINT(v) - 1;
    if (ds->fixed_classes)
        return -1;
    uint32_t i = intern(ds->classes, ds->class_ix, label);
    g_array_set_size(ds->too_few, ds->classes->len);
    return (int)i;
}

/* What a flow of the current source is labelled as. */
typedef struct {
    int      label;
    uint32_t group, attrs;
    uint32_t rec;          /* 1 + index into ds->flows once a block arrived, else 0 */
} flow_label;

typedef struct {
    tt_dataset *ds;
    GHashTable *flows;     /* flow id -> flow_label* */
    uint32_t    source;
} collect_ctx;

static void on_block(const tt_block *b, void *user)
{
    collect_ctx *cx = user;
    tt_dataset *ds = cx->ds;
    flow_label *fl = g_hash_table_lookup(cx->flows, &b->flow_id);
    if (!fl)
        return;
    if (fl->label == -2)
        return;                       /* filtered out by tt_dataset_set_where */
    if (fl->label < 0) {
        ds->unknown_label_blocks++;
        return;
    }
    if (!fl->rec) {
        tt_flow_rec r = { .label = (uint32_t)fl->label, .group = fl->group, .attrs = fl->attrs,
                          .source = cx->source, .flow_id = b->flow_id, .key = *b->key,
                          .first_ts = b->first_ts };
        g_array_append_val(ds->flows, r);
        fl->rec = ds->flows->len;
    }
    tt_flow_rec *rec = &g_array_index(ds->flows, tt_flow_rec, fl->rec - 1);
    rec->packets += b->n_packets;
    rec->blocks++;
    rec->blocks_ok += b->status == TT_BLOCK_OK;
    rec->last_ts = b->last_ts;
    if (b->status != TT_BLOCK_OK) {
        g_array_index(ds->too_few, uint64_t, fl->label)++;
        return;
    }
    tt_sample s;
    memset(&s, 0, sizeof s);
    s.label = (uint32_t)fl->label;
    s.group = fl->group;
    s.attrs = fl->attrs;
    s.n = b->n_stored;
    s.off = ds->pkts->len;
    s.flow_id = b->flow_id;
    s.block_index = b->block_index;
    s.source = cx->source;
    s.flow = fl->rec - 1;
    g_array_append_vals(ds->pkts, b->pkts, b->n_stored);
    g_array_append_val(ds->samples, s);
}

static void ctx_init(collect_ctx *cx, tt_dataset *ds, const char *source)
{
    cx->ds = ds;
    cx->flows = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    g_ptr_array_add(ds->sources, g_strdup(source));
    cx->source = ds->sources->len - 1;
}

static void ctx_label(collect_ctx *cx, uint64_t flow_id, int label, uint32_t group, uint32_t attrs)
{
    uint64_t *k = g_new(uint64_t, 1);
    *k = flow_id;
    flow_label *fl = g_new(flow_label, 1);
    fl->label = label;
    fl->group = group;
    fl->attrs = attrs;
    fl->rec = 0;
    g_hash_table_replace(cx->flows, k, fl);
}

/* ---- manifest ------------------------------------------------------------- */

void tt_manifest_rule_clear(tt_manifest_rule *r)
{
    g_free(r->capture);
    g_free(r->label);
    g_free(r->group);
    g_free(r->attrs);
    memset(r, 0, sizeof *r);
}

static gboolean parse_addr(const char *s, gboolean *any, tt_key *k, GError **error)
{
    *any = strcmp(s, "*") == 0;
    if (*any)
        return TRUE;
    if (inet_pton(AF_INET, s, k->src) == 1) {
        k->family = 4;
        return TRUE;
    }
    if (inet_pton(AF_INET6, s, k->src) == 1) {
        k->family = 6;
        return TRUE;
    }
    g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad address \"%s\"", s);
    return FALSE;
}

static gboolean parse_port(const char *s, gboolean *any, uint16_t *port, GError **error)
{
    *any = strcmp(s, "*") == 0;
    if (*any)
        return TRUE;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > 65535) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad port \"%s\"", s);
        return FALSE;
    }
    *port = (uint16_t)v;
    return TRUE;
}

static gboolean parse_time(const char *s, double dflt, double *t, GError **error)
{
    if (strcmp(s, "*") == 0) {
        *t = dflt;
        return TRUE;
    }
    char *end;
    *t = g_ascii_strtod(s, &end);
    if (*end || end == s || !isfinite(*t)) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad time \"%s\"", s);
        return FALSE;
    }
    return TRUE;
}

gboolean tt_manifest_parse_line(const char *line, tt_manifest_rule *r, GError **error)
{
    memset(r, 0, sizeof *r);
    char **f = g_strsplit(line, "\t", -1);
    guint n = g_strv_length(f);
    gboolean ok = FALSE;
    if (n != 11) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%u fields, expected 11 (capture label group proto addr_a port_a addr_b port_b t_start t_end attrs)", n);
        goto out;
    }
    for (guint i = 0; i < 3; i++)
        if (!*f[i]) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "field %u is empty", i + 1);
            goto out;
        }
    if (strcmp(f[3], "tcp") == 0 || strcmp(f[3], "TCP") == 0)
        r->proto = 6;
    else if (strcmp(f[3], "udp") == 0 || strcmp(f[3], "UDP") == 0)
        r->proto = 17;
    else if (strcmp(f[3], "*") != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "protocol \"%s\" is not tcp, udp or *", f[3]);
        goto out;
    }
    if (!parse_addr(f[4], &r->any_a, &r->a, error) || !parse_port(f[5], &r->any_pa, &r->a.sport, error) ||
        !parse_addr(f[6], &r->any_b, &r->b, error) || !parse_port(f[7], &r->any_pb, &r->b.sport, error) ||
        !parse_time(f[8], -INFINITY, &r->t_start, error) || !parse_time(f[9], INFINITY, &r->t_end, error))
        goto out;
    if (r->t_end < r->t_start) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "time range ends before it starts");
        goto out;
    }
    r->capture = g_strdup(f[0]);
    r->label = g_strdup(f[1]);
    r->group = g_strdup(f[2]);
    r->attrs = g_strdup(*f[10] ? f[10] : "-");
    ok = TRUE;
out:
    g_strfreev(f);
    return ok;
}

static gboolean end_matches(gboolean any_addr, gboolean any_port, const tt_key *want,
                            int family, const uint8_t *addr, uint16_t port)
{
    if (!any_addr && (want->family != family || memcmp(want->src, addr, family == 4 ? 4 : 16) != 0))
        return FALSE;
    if (!any_port && want->sport != port)
        return FALSE;
    return TRUE;
}

gboolean tt_manifest_rule_match(const tt_manifest_rule *r, const tt_packet *p)
{
    if (r->proto && r->proto != p->key.proto)
        return FALSE;
    if (p->ts < r->t_start || p->ts > r->t_end)
        return FALSE;
    const tt_key *k = &p->key;
    if (end_matches(r->any_a, r->any_pa, &r->a, k->family, k->src, k->sport) &&
        end_matches(r->any_b, r->any_pb, &r->b, k->family, k->dst, k->dport))
        return TRUE;
    return end_matches(r->any_a, r->any_pa, &r->a, k->family, k->dst, k->dport) &&
           end_matches(r->any_b, r->any_pb, &r->b, k->family, k->src, k->sport);
}

static void rule_free(gpointer p)
{
    tt_manifest_rule_clear(p);
    g_free(p);
}

static gboolean read_lines(const char *path, char ***lines, GError **error)
{
    gchar *text;
    GError *e = NULL;
    if (!g_file_get_contents(path, &text, NULL, &e)) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s", e->message);
        g_error_free(e);
        return FALSE;
    }
    *lines = g_strsplit(text, "\n", -1);
    g_free(text);
    return TRUE;
}

static gboolean add_capture(tt_dataset *ds, const char *path, GPtrArray *rules, GError **error)
{
    GError *e = NULL;
    tt_capture *cap = tt_capture_open(path, &e);
    if (!cap) {
        g_propagate_error(error, e);
        return FALSE;
    }
    collect_ctx cx;
    ctx_init(&cx, ds, path);
    tt_engine *eng = tt_engine_new(&ds->spec, 0, on_block, &cx);
    uint32_t *groups = g_new(uint32_t, rules->len), *attrs = g_new(uint32_t, rules->len);
    int *labels = g_new(int, rules->len);
    for (guint i = 0; i < rules->len; i++) {
        tt_manifest_rule *r = g_ptr_array_index(rules, i);
        groups[i] = intern(ds->groups, ds->group_ix, r->group);
        attrs[i] = intern(ds->attrs, ds->attrs_ix, r->attrs);
        labels[i] = label_of(ds, r->label, r->attrs);
    }
    tt_packet p;
    uint64_t frame;
    int rc;
    gboolean ok = TRUE;
    while ((rc = tt_capture_next(cap, &p, &frame, &e)) == 1) {
        ds->packets_read++;
        int i = tt_manifest_first_match(rules, &p);
        if (i < 0)
            continue;
        ds->packets_labelled++;
        tt_pkt_ref ref;
        if (tt_engine_add(eng, &p, &ref) && ref.new_flow)
            ctx_label(&cx, ref.flow_id, labels[i], groups[i], attrs[i]);
    }
    if (rc < 0) {
        g_propagate_error(error, e);
        ok = FALSE;
    }
    tt_engine_flush(eng);
    tt_engine_free(eng);
    g_hash_table_destroy(cx.flows);
    tt_capture_close(cap);
    g_free(groups);
    g_free(attrs);
    g_free(labels);
    return ok;
}

gboolean tt_dataset_add_capture(tt_dataset *ds, const char *path, const char *label,
                                const char *group, GError **error)
{
    tt_manifest_rule *r = g_new0(tt_manifest_rule, 1);
    r->capture = g_strdup(path);
    r->label = g_strdup(label);
    r->group = g_strdup(group);
    r->attrs = g_strdup("-");
    r->any_a = r->any_b = r->any_pa = r->any_pb = TRUE;
    r->t_start = -INFINITY;
    r->t_end = INFINITY;
    GPtrArray *rules = g_ptr_array_new_with_free_func(rule_free);
    g_ptr_array_add(rules, r);
    gboolean ok = add_capture(ds, path, rules, error);
    g_ptr_array_unref(rules);
    return ok;
}

static void manifest_capture_free(gpointer p)
{
    tt_manifest_capture *mc = p;
    g_free(mc->capture);
    g_ptr_array_unref(mc->rules);
    g_free(mc);
}

GPtrArray *tt_manifest_read(const char *path, GError **error)
{
    char **lines;
    if (!read_lines(path, &lines, error))
        return NULL;
    char *dir = g_path_get_dirname(path);
    GPtrArray *caps = g_ptr_array_new_with_free_func(manifest_capture_free);
    GHashTable *by_cap = g_hash_table_new(g_str_hash, g_str_equal);   /* capture -> its entry in caps */
    for (guint ln = 0; lines[ln]; ln++) {
        char *line = g_strchomp(lines[ln]);
        if (!*line || line[0] == '#')
            continue;
        tt_manifest_rule *r = g_new0(tt_manifest_rule, 1);
        GError *e = NULL;
        if (!tt_manifest_parse_line(line, r, &e)) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%s:%u: %s", path, ln + 1, e->message);
            g_error_free(e);
            g_free(r);
            g_ptr_array_unref(caps);
            caps = NULL;
            break;
        }
        char *cap = g_path_is_absolute(r->capture) ? g_strdup(r->capture) : g_build_filename(dir, r->capture, NULL);
        tt_manifest_capture *mc = g_hash_table_lookup(by_cap, cap);
        if (!mc) {
            mc = g_new0(tt_manifest_capture, 1);
            mc->capture = cap;
            mc->rules = g_ptr_array_new_with_free_func(rule_free);
            g_ptr_array_add(caps, mc);
            g_hash_table_insert(by_cap, mc->capture, mc);
        } else {
            g_free(cap);
        }
        g_ptr_array_add(mc->rules, r);
    }
    g_hash_table_destroy(by_cap);
    g_strfreev(lines);
    g_free(dir);
    return caps;
}

int tt_manifest_first_match(const GPtrArray *rules, const tt_packet *p)
{
    for (guint i = 0; i < rules->len; i++)
        if (tt_manifest_rule_match(g_ptr_array_index(rules, i), p))
            return (int)i;
    return -1;
}

gboolean tt_dataset_add_manifest(tt_dataset *ds, const char *path, GError **error)
{
    GPtrArray *caps = tt_manifest_read(path, error);
    if (!caps)
        return FALSE;
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < caps->len; i++) {
        tt_manifest_capture *mc = g_ptr_array_index(caps, i);
        ok = add_capture(ds, mc->capture, mc->rules, error);
    }
    g_ptr_array_unref(caps);
    return ok;
}

/* ---- packet series ------------------------------------------------------------ */

/* Feed one flow's packets into the engine, then flush it. */
static void add_flow_series(tt_dataset *ds, collect_ctx *cx, tt_engine *eng, uint64_t n_line,
                            const double *times, const uint32_t *sizes, size_t n,
                            int label, uint32_t group, uint32_t attrs)
{
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.key.family = 4;
    p.key.proto = 17;
    memcpy(p.key.src, &n_line, 4);
    for (size_t i = 0; i < n; i++) {
        p.ts = times[i];
        p.ip_len = sizes[i];
        tt_pkt_ref ref;
        if (tt_engine_add(eng, &p, &ref) && ref.new_flow)
            ctx_label(cx, ref.flow_id, label, group, attrs);
    }
    tt_engine_flush(eng);
}

/* One labelled flow of a series or CSV line into the dataset. */
static void add_flow(tt_dataset *ds, collect_ctx *cx, tt_engine *eng, uint64_t n_line, const char *group,
                     const char *label_name, const char *attrs_text, GArray *times, GArray *sizes)
{
    int label = label_of(ds, label_name, attrs_text);
    uint32_t g = intern(ds->groups, ds->group_ix, group);
    uint32_t attrs = intern(ds->attrs, ds->attrs_ix, attrs_text);
    ds->packets_read += times->len;
    if (label >= 0)
        ds->packets_labelled += times->len;
    add_flow_series(ds, cx, eng, n_line, (double *)times->data, (uint32_t *)sizes->data, times->len,
                    label, g, attrs);
}

/* One flow per text line: parse_fn fills the packet series and the flow's
 * group, label and attrs (pointers into fields it keeps in *owned, freed
 * after the line), or sets an error. */
typedef gboolean (*line_parser)(char *line, GArray *times, GArray *sizes, const char **group,
                                const char **label, const char **attrs, char ***owned,
                                void *user, GError **error);

static gboolean add_flow_lines(tt_dataset *ds, const char *path, line_parser parse, void *user,
                               GError **error)
{
    tt_textin *in = tt_textin_open(path, error);
    if (!in)
        return FALSE;
    collect_ctx cx;
    ctx_init(&cx, ds, path);
    tt_engine *eng = tt_engine_new(&ds->spec, 0, on_block, &cx);
    GArray *times = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *sizes = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    char *line;
    int rc;
    while ((rc = tt_textin_next(in, &line, error)) == 1) {
        uint64_t ln = tt_textin_line(in);
        g_strchomp(line);
        if (!*line || line[0] == '#')
            continue;
        g_array_set_size(times, 0);
        g_array_set_size(sizes, 0);
        const char *group = NULL, *label_name = NULL, *attrs_text = NULL;
        char **owned = NULL;
        GError *e = NULL;
        if (!parse(line, times, sizes, &group, &label_name, &attrs_text, &owned, user, &e)) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%s:%" G_GUINT64_FORMAT ": %s", path, ln, e->message);
            g_error_free(e);
            g_strfreev(owned);
            rc = -1;
            break;
        }
        add_flow(ds, &cx, eng, ln, group, label_name, attrs_text, times, sizes);
        g_strfreev(owned);
    }
    tt_textin_close(in);
    g_array_free(times, TRUE);
    g_array_free(sizes, TRUE);
    tt_engine_free(eng);
    g_hash_table_destroy(cx.flows);
    return rc == 0;
}

/* A v2 session's flows, fed to one engine in time order as its capture was. */
typedef struct {
    uint64_t line;
    int      label;
    uint32_t group, attrs;
    uint32_t first, n;     /* its packets in the batch arrays */
} batch_flow;

typedef struct {
    GArray *flows;         /* batch_flow */
    GArray *times, *sizes; /* all packets of the batch, flow after flow */
    char   *group;         /* NULL: empty */
} series_batch;

typedef struct {
    double   t;            /* time, clamped to the flow's last (the engine's view) */
    uint32_t flow, i;      /* flow in the batch, packet index in the batch arrays */
} batch_pkt;

static int cmp_batch_pkt(const void *a, const void *b)
{
    const batch_pkt *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->flow != y->flow)
        return x->flow < y->flow ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void batch_feed(series_batch *b, collect_ctx *cx)
{
    /* an engine of its own, as each capture has: its clock starts with the session */
    tt_engine *eng = tt_engine_new(&cx->ds->spec, 0, on_block, cx);
    guint n = b->times->len;
    batch_pkt *order = g_new(batch_pkt, n ? n : 1);
    for (guint f = 0; f < b->flows->len; f++) {
        const batch_flow *bf = &g_array_index(b->flows, batch_flow, f);
        double last = -INFINITY;
        for (uint32_t i = bf->first; i < bf->first + bf->n; i++) {
            double t = g_array_index(b->times, double, i);
            last = t > last ? t : last;
            order[i] = (batch_pkt){ last, f, i };
        }
    }
    qsort(order, n, sizeof *order, cmp_batch_pkt);
    tt_packet p;
    memset(&p, 0, sizeof p);
    p.key.family = 4;
    p.key.proto = 17;
    for (guint k = 0; k < n; k++) {
        const batch_flow *bf = &g_array_index(b->flows, batch_flow, order[k].flow);
        memcpy(p.key.src, &bf->line, 4);
        p.ts = g_array_index(b->times, double, order[k].i);
        p.ip_len = g_array_index(b->sizes, uint32_t, order[k].i);
        tt_pkt_ref ref;
        if (tt_engine_add(eng, &p, &ref) && ref.new_flow)
            ctx_label(cx, ref.flow_id, bf->label, bf->group, bf->attrs);
    }
    tt_engine_flush(eng);
    tt_engine_free(eng);
    g_free(order);
    g_array_set_size(b->flows, 0);
    g_array_set_size(b->times, 0);
    g_array_set_size(b->sizes, 0);
    g_clear_pointer(&b->group, g_free);
}

/* #ttseries v1 / v2, plain or xz (tt_corpus.h reads and checks them). A v1
 * line is a flow of its own; v2 lines of one session (consecutive lines of
 * one group, as the corpus writer keeps them) go through one engine in time
 * order by an engine of their own, so blocks come in the order, and flows
 * get the numbers, that the session's capture gives them. */
gboolean tt_dataset_add_series(tt_dataset *ds, const char *path, GError **error)
{
    tt_series_reader *r = tt_series_open(path, error);
    if (!r)
        return FALSE;
    collect_ctx cx;
    ctx_init(&cx, ds, path);
    tt_engine *eng = tt_engine_new(&ds->spec, 0, on_block, &cx);
    series_batch b = { g_array_new(FALSE, FALSE, sizeof(batch_flow)), g_array_new(FALSE, FALSE, sizeof(double)),
                       g_array_new(FALSE, FALSE, sizeof(uint32_t)), NULL };
    tt_series_flow f;
    int rc;
    while ((rc = tt_series_next(r, &f, error)) == 1) {
        if (tt_series_version(r) == 1) {
            add_flow(ds, &cx, eng, f.line, f.group, f.label, f.attrs, f.times, f.sizes);
            continue;
        }
        if (b.group && strcmp(b.group, f.group) != 0)
            batch_feed(&b, &cx);
        if (!b.group)
            b.group = g_strdup(f.group);
        batch_flow bf = { f.line, label_of(ds, f.label, f.attrs), intern(ds->groups, ds->group_ix, f.group),
                          intern(ds->attrs, ds->attrs_ix, f.attrs), b.times->len, f.times->len };
        ds->packets_read += f.times->len;
        if (bf.label >= 0)
            ds->packets_labelled += f.times->len;
        g_array_append_val(b.flows, bf);
        g_array_append_vals(b.times, f.times->data, f.times->len);
        g_array_append_vals(b.sizes, f.sizes->data, f.sizes->len);
    }
    if (rc == 0 && b.group)
        batch_feed(&b, &cx);
    g_array_free(b.flows, TRUE);
    g_array_free(b.times, TRUE);
    g_array_free(b.sizes, TRUE);
    g_free(b.group);
    tt_series_close(r);
    tt_engine_free(eng);
    g_hash_table_destroy(cx.flows);
    return rc == 0;
}

/* ---- FlowPic CSV ------------------------------------------------------------- */

/* Rows: pcap_name, ip_src, port_src, ip_dst, port_dst, proto, start_time,
 * length n, then n timestamps (seconds since the session's start), one
 * separator field, then n sizes (the layout the original FlowPic parser reads). */
static gboolean parse_flowpic_csv_line(char *line, GArray *times, GArray *sizes, const char **group,
                                       const char **label, const char **attrs, char ***owned,
                                       void *user, GError **error)
{
    char **f = g_strsplit(line, ",", -1);
    *owned = f;
    guint nf = g_strv_length(f);
    char *end = NULL;
    unsigned long n = nf > 8 ? strtoul(g_strstrip(f[7]), &end, 10) : 0;
    if (nf < 8 || !end || *end || n == 0 || n > MAX_LINE_PACKETS || (nf != 8 + 2 * n && nf != 9 + 2 * n)) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "not a FlowPic CSV row (%u fields)", nf);
        return FALSE;
    }
    guint size_at = nf == 9 + 2 * n ? 9 + (guint)n : 8 + (guint)n;
    for (guint i = 0; i < n; i++)
        if (!tt_parse_numbers(f[8 + i], times, sizes, TRUE, error))
            return FALSE;
    for (guint i = 0; i < n; i++)
        if (!tt_parse_numbers(f[size_at + i], times, sizes, FALSE, error))
            return FALSE;
    if (times->len != n || sizes->len != n) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "expected %lu times and sizes", n);
        return FALSE;
    }
    *group = g_strstrip(f[0]);
    *label = user;
    *attrs = "source=flowpic-csv";
    return TRUE;
}

gboolean tt_dataset_add_flowpic_csv(tt_dataset *ds, const char *path, const char *label_name, GError **error)
{
    if (!label_name || !*label_name) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s: a FlowPic CSV file needs a label (FILE:LABEL)", path);
        return FALSE;
    }
    return add_flow_lines(ds, path, parse_flowpic_csv_line, (void *)label_name, error);
}

gboolean tt_dataset_add_file(tt_dataset *ds, const char *path, const char *label, GError **error)
{
    /* the first line, decompressed if the file is xz */
    tt_textin *in = tt_textin_open(path, error);
    if (!in)
        return FALSE;
    char *first = NULL;
    int rc = tt_textin_next(in, &first, error);
    gboolean manifest = rc == 1 && g_str_has_prefix(first, "#ttmanifest");
    gboolean series = rc == 1 && g_str_has_prefix(first, "#ttseries");
    tt_textin_close(in);
    if (rc < 0)
        return FALSE;
    if (manifest)
        return tt_dataset_add_manifest(ds, path, error);
    if (series)
        return tt_dataset_add_series(ds, path, error);
    return tt_dataset_add_flowpic_csv(ds, path, label, error);
}

gboolean tt_dataset_add_input(tt_dataset *ds, const char *arg, GError **error)
{
    char *path = g_strdup(arg);
    char *label = NULL;
    char *colon = strrchr(path, ':');
    if (colon && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        *colon = 0;
        label = colon + 1;
    }
    gboolean ok;
    if (g_str_has_suffix(path, ".pcap") || g_str_has_suffix(path, ".pcapng") || g_str_has_suffix(path, ".cap")) {
        char *base = g_path_get_basename(path);
        ok = tt_dataset_add_capture(ds, path, label ? label : "unlabelled", base, error);
        g_free(base);
    } else {
        ok = tt_dataset_add_file(ds, path, label, error);
    }
    g_free(path);
    return ok;
}

static gint cmp_by_name(gconstpointer a, gconstpointer b, gpointer names)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return strcmp(g_ptr_array_index((GPtrArray *)names, x), g_ptr_array_index((GPtrArray *)names, y));
}

void tt_dataset_finish(tt_dataset *ds)
{
    if (ds->fixed_classes)
        return;
    uint32_t n = ds->classes->len;
    uint32_t *order = g_new(uint32_t, n), *remap = g_new(uint32_t, n);
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    g_qsort_with_data(order, (gint)n, sizeof *order, cmp_by_name, ds->classes);
    GPtrArray *sorted = g_ptr_array_new_with_free_func(g_free);
    GArray *few = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    g_array_set_size(few, n);
    for (uint32_t i = 0; i < n; i++) {
        remap[order[i]] = i;
        g_ptr_array_add(sorted, g_strdup(g_ptr_array_index(ds->classes, order[i])));
        g_array_index(few, uint64_t, i) = g_array_index(ds->too_few, uint64_t, order[i]);
    }
    for (guint i = 0; i < ds->samples->len; i++) {
        tt_sample *s = &g_array_index(ds->samples, tt_sample, i);
        s->label = remap[s->label];
    }
    for (guint i = 0; i < ds->flows->len; i++) {
        tt_flow_rec *r = &g_array_index(ds->flows, tt_flow_rec, i);
        r->label = remap[r->label];
    }
    g_hash_table_remove_all(ds->class_ix);
    g_ptr_array_free(ds->classes, TRUE);
    ds->classes = sorted;
    for (uint32_t i = 0; i < n; i++)
        g_hash_table_insert(ds->class_ix, g_ptr_array_index(sorted, i), GUINT_TO_POINTER(i + 1));
    g_array_free(ds->too_few, TRUE);
    ds->too_few = few;
    ds->fixed_classes = TRUE;
    g_free(order);
    g_free(remap);
}

char *tt_attr_get(const char *attrs, const char *key)
{
    size_t kl = strlen(key);
    char **kv = g_strsplit(attrs ? attrs : "", ";", -1);
    char *val = NULL;
    for (char **p = kv; *p && !val; p++)
        if (strncmp(*p, key, kl) == 0 && (*p)[kl] == '=')
            val = g_strdup(*p + kl + 1);
    g_strfreev(kv);
    return val ? val : g_strdup("");
}
