/* traffictriage label (label.h): nDPI names each bidirectional flow of the
 * captures, label-map.c turns its answer into one of the five classes, and
 * every flow that maps becomes one #ttmanifest line for `traffictriage train`.
 *
 * Flows: the packets come from core's capture reader (tt_capture: the same
 * packets, 5-tuples and times the trainer reads); a flow is both directions
 * of a 5-tuple until it has been idle longer than the idle timeout (default:
 * the trainer's default input's, 60 s), so each line's 5-tuple and time range
 * select exactly its packets in `train`. nDPI sees the innermost IP packet
 * (tt_capture_ip) of at most 80 (TCP) / 24 (UDP) packets of a flow, as
 * ndpiReader does, and its state is freed as soon as it is done (named, or
 * given up): memory is ~200 bytes per open flow plus nDPI's state of the
 * flows still being dissected, at most LABEL_MAX_FLOWS flows at once.
 */
#include "label.h"
#include "label-map.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#ifndef TT_HAVE_NDPI

int tt_cli_label(int argc, char **argv)
{
    fprintf(stderr,
            "traffictriage label: this traffictriage was built without nDPI, which `label` needs to name flows.\n"
            "Install it and rebuild: on Debian or Ubuntu `sudo apt install libndpi-dev`, then\n"
            "`cmake -S . -B build && cmake --build build` (CMake finds it with pkg-config: libndpi).\n");
    return 1;
}

#else

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>

#include <ndpi_api.h>

#include "tt_capture.h"
#include "tt_types.h"

#define LABEL_MAX_FLOWS 200000u      /* open flows; beyond, the least recently seen ends early */
#define LABEL_DISSECT_TCP 80u        /* packets nDPI sees of a TCP flow at most (ndpiReader's default) */
#define LABEL_DISSECT_UDP 24u        /* ... of a UDP flow */
#define LABEL_LIST_PROTOCOLS 6       /* protocols named per category in the summary */

typedef struct {
    int      min_packets;
    double   idle_timeout;
    gboolean no_guess;
    gboolean left_out;         /* also write the flows left out, as comments */
} label_opts;

typedef struct {
    tt_key   key;              /* canonical (lower endpoint first): the hash key */
    tt_key   ab;               /* the first packet's direction: a -> b */
    double   t_min, t_max;     /* earliest and latest packet */
    uint64_t pkts_ab, pkts_ba;
    struct ndpi_flow_struct *nf;   /* nDPI's state while it dissects, NULL once done */
    ndpi_protocol proto;
    uint32_t dissected;
    uint8_t  confidence;       /* ndpi_confidence_t */
    gboolean video;            /* an RTP packet with a video codec's payload type was seen */
    GList    lru;              /* link in run->lru; data = this flow */
} lflow;

typedef struct {
    uint64_t captures, packets, flows, labelled, left_out, too_short, evicted;
    uint64_t per_class[G_N_ELEMENTS(tt_label_classes)];
    GHashTable *left;          /* nDPI category -> GHashTable (protocol -> count as pointer) */
} label_stats;

typedef struct {
    const label_opts *o;
    struct ndpi_detection_module_struct *ndpi;
    GHashTable *flows;         /* tt_key* (canonical) -> lflow* */
    GQueue      lru;           /* least recently seen at the head */
    double      now;           /* the latest packet time of this capture */
    gboolean    have_now;
    const char *capture;       /* absolute path, as written */
    char       *group;
    FILE       *out;
    label_stats *st;
} label_run;

/* ---- flow table ------------------------------------------------------------------------- */

static guint key_hash(gconstpointer p)
{
    const tt_key *k = p;
    guint h = ((guint)k->sport << 16 | k->dport) ^ ((guint)k->proto << 8) ^ k->family;
    for (size_t i = 0; i < sizeof k->src; i += 4) {
        guint32 s, d;
        memcpy(&s, k->src + i, 4);
        memcpy(&d, k->dst + i, 4);
        h = h * 31u + s * 2654435761u + d;
    }
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(tt_key)) == 0;
}

/* Both directions of a 5-tuple give the same key: the lower endpoint first. */
static void canonical(const tt_key *k, tt_key *c)
{
    int d = memcmp(k->src, k->dst, sizeof k->src);
    if (d > 0 || (d == 0 && k->sport > k->dport))
        tt_key_reverse(k, c);
    else
        *c = *k;
    memset(c->pad, 0, sizeof c->pad);
}

/* The RTP payload type of a UDP packet is a static video codec's (RFC 3551:
 * CelB 25, JPEG 26, nv 28, H261 31, MPV 32, MP2T 33, H263 34). */
static gboolean rtp_video(const guint8 *ip, size_t len)
{
    size_t off;
    if (len >= 20 && ip[0] >> 4 == 4 && ip[9] == 17)
        off = (size_t)(ip[0] & 0x0f) * 4;
    else if (len >= 40 && ip[0] >> 4 == 6 && ip[6] == 17)
        off = 40;
    else
        return FALSE;
    if (off + 8 + 2 > len || ip[off + 8] >> 6 != 2)
        return FALSE;
    switch (ip[off + 9] & 0x7f) {
    case 25: case 26: case 28: case 31: case 32: case 33: case 34:
        return TRUE;
    default:
        return FALSE;
    }
}

static gboolean named(const ndpi_protocol *p)
{
    return p->app_protocol != NDPI_PROTOCOL_UNKNOWN || p->master_protocol != NDPI_PROTOCOL_UNKNOWN;
}

/* nDPI is done with the flow: give up on it if unnamed, keep the answer, free the state. */
static void dissect_end(label_run *r, lflow *f)
{
    if (!f->nf)
        return;
    if (!named(&f->proto) && f->dissected > 0) {
        u_int8_t guessed = 0;
        f->proto = ndpi_detection_giveup(r->ndpi, f->nf, r->o->no_guess ? 0 : 1, &guessed);
    }
    f->confidence = (uint8_t)f->nf->confidence;
    ndpi_flow_free(f->nf);
    f->nf = NULL;
}

/* ---- what nDPI said, in words ----------------------------------------------------------- */

typedef struct {
    char protocol[64];         /* "TLS.YouTube" */
    const char *master;        /* "TLS", or NULL */
    const char *app;           /* "YouTube": the most specific name */
    const char *category;      /* "Media" */
} answer;

static void describe(label_run *r, const lflow *f, answer *a)
{
    ndpi_protocol p = f->proto;
    ndpi_protocol2name(r->ndpi, p, a->protocol, sizeof a->protocol);
    a->app = ndpi_get_proto_name(r->ndpi, p.app_protocol != NDPI_PROTOCOL_UNKNOWN ? p.app_protocol : p.master_protocol);
    a->master = p.master_protocol != NDPI_PROTOCOL_UNKNOWN && p.master_protocol != p.app_protocol
              ? ndpi_get_proto_name(r->ndpi, p.master_protocol) : NULL;
    ndpi_protocol_category_t c = p.category;
    if (c == NDPI_PROTOCOL_CATEGORY_UNSPECIFIED)
        c = ndpi_get_proto_category(r->ndpi, p);
    a->category = ndpi_category_get_name(r->ndpi, c);
    if (!a->app)
        a->app = "Unknown";
    if (!a->category || !*a->category)
        a->category = "Unspecified";
}

/* An attr value: no whitespace, ';' or '=' (models/TRAINING-DATA.md). */
static char *attr_value(const char *s)
{
    char *v = g_strdup(s && *s ? s : "-");
    for (char *c = v; *c; c++)
        if (g_ascii_isspace(*c) || *c == ';' || *c == '=' || (unsigned char)*c < 0x20)
            *c = '_';
    return v;
}

static const char *confidence_name(uint8_t c)
{
    static const char *const names[] = {
        [NDPI_CONFIDENCE_UNKNOWN] = "unknown", [NDPI_CONFIDENCE_MATCH_BY_PORT] = "port",
        [NDPI_CONFIDENCE_MATCH_BY_IP] = "ip", [NDPI_CONFIDENCE_DPI_CACHE] = "dpi_cache",
        [NDPI_CONFIDENCE_DPI] = "dpi",
    };
    return c < G_N_ELEMENTS(names) && names[c] ? names[c] : "unknown";
}

static void count_left_out(label_stats *st, const char *category, const char *protocol)
{
    GHashTable *per = g_hash_table_lookup(st->left, category);
    if (!per) {
        per = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(st->left, g_strdup(category), per);
    }
    gpointer n = g_hash_table_lookup(per, protocol);
    g_hash_table_replace(per, g_strdup(protocol), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
    st->left_out++;
}

/* A time in the manifest: rounded outwards to the microsecond, with a
 * microsecond to spare, so the range holds every packet of the flow. */
static void format_time(char *buf, size_t len, double t, int dir)
{
    double us = dir < 0 ? floor(t * 1e6) - 1.0 : ceil(t * 1e6) + 1.0;
    g_ascii_formatd(buf, (int)len, "%.6f", us / 1e6);
}

static void format_addr(const tt_key *k, const uint8_t *addr, char *buf, size_t len)
{
    if (!inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
        g_strlcpy(buf, "?", len);
}

/* One manifest line; a flow left out is written as a comment ("# left out")
 * with the label "-" when --left-out asks for it. */
static void write_line(label_run *r, const lflow *f, const answer *a, const char *cls)
{
    char addr_a[INET6_ADDRSTRLEN], addr_b[INET6_ADDRSTRLEN], t0[G_ASCII_DTOSTR_BUF_SIZE], t1[G_ASCII_DTOSTR_BUF_SIZE];
    format_addr(&f->ab, f->ab.src, addr_a, sizeof addr_a);
    format_addr(&f->ab, f->ab.dst, addr_b, sizeof addr_b);
    format_time(t0, sizeof t0, f->t_min, -1);
    format_time(t1, sizeof t1, f->t_max, +1);
    char *proto = attr_value(a->protocol), *app = attr_value(a->app), *cat = attr_value(a->category);
    const char *l4 = f->ab.proto == 6 ? "tcp" : "udp";
    fprintf(r->out,
            "%s%s\t%s\t%s\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t"
            "source=ndpi-label;ndpi_protocol=%s;ndpi_app=%s;ndpi_category=%s;ndpi_confidence=%s;"
            "encrypted=%s;l4=%s;pkts_ab=%" G_GUINT64_FORMAT ";pkts_ba=%" G_GUINT64_FORMAT "\n",
            cls ? "" : "# left out\t", r->capture, cls ? cls : "-", r->group, l4, addr_a, f->ab.sport, addr_b,
            f->ab.dport, t0, t1, proto, app, cat, confidence_name(f->confidence),
            ndpi_is_encrypted_proto(r->ndpi, f->proto) ? "true" : "false", l4, f->pkts_ab, f->pkts_ba);
    g_free(proto);
    g_free(app);
    g_free(cat);
}

static void emit(label_run *r, lflow *f)
{
    label_stats *st = r->st;
    st->flows++;
    if (f->pkts_ab + f->pkts_ba < (uint64_t)r->o->min_packets) {
        st->too_short++;
        return;
    }
    answer a;
    describe(r, f, &a);
    const char *cls = tt_label_map(a.master, a.app, a.category, f->video ? "video" : NULL, NULL);
    if (cls) {
        for (guint i = 0; i < G_N_ELEMENTS(tt_label_classes); i++)
            if (strcmp(cls, tt_label_classes[i]) == 0)
                st->per_class[i]++;
        st->labelled++;
    } else {
        count_left_out(st, a.category, a.protocol);
    }
    if (cls || r->o->left_out)
        write_line(r, f, &a, cls);
}

static void flow_end(label_run *r, lflow *f, gboolean write)
{
    dissect_end(r, f);
    if (write)
        emit(r, f);
    g_hash_table_remove(r->flows, &f->key);
    g_queue_unlink(&r->lru, &f->lru);
    g_free(f);
}

/* ---- one capture ------------------------------------------------------------------------ */

static gboolean add_packet(label_run *r, tt_capture *cap, const tt_packet *p, GError **error)
{
    if (p->ts > r->now || !r->have_now)
        r->now = p->ts;
    r->have_now = TRUE;
    r->st->packets++;
    while (r->lru.head) {                               /* flows idle too long end, oldest first */
        lflow *old = r->lru.head->data;
        if (old->t_max + r->o->idle_timeout >= r->now)
            break;
        flow_end(r, old, TRUE);
    }
    tt_key k;
    canonical(&p->key, &k);
    lflow *f = g_hash_table_lookup(r->flows, &k);
    if (!f) {
        if (g_hash_table_size(r->flows) >= LABEL_MAX_FLOWS) {
            r->st->evicted++;
            flow_end(r, r->lru.head->data, TRUE);
        }
        f = g_new0(lflow, 1);
        f->key = k;
        f->ab = p->key;
        f->t_min = f->t_max = p->ts;
        f->lru.data = f;
        f->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!f->nf) {
            g_free(f);
            g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "out of memory for nDPI's flow state");
            return FALSE;
        }
        memset(f->nf, 0, SIZEOF_FLOW_STRUCT);
        g_hash_table_insert(r->flows, &f->key, f);
    } else {
        g_queue_unlink(&r->lru, &f->lru);
    }
    g_queue_push_tail_link(&r->lru, &f->lru);
    if (memcmp(&p->key, &f->ab, sizeof(tt_key)) == 0)
        f->pkts_ab++;
    else
        f->pkts_ba++;
    f->t_min = MIN(f->t_min, p->ts);
    f->t_max = MAX(f->t_max, p->ts);

    const guint8 *ip;
    size_t caplen;
    if (!f->nf || !tt_capture_ip(cap, &ip, &caplen))
        return TRUE;
    double ms = p->ts * 1000.0;
    uint64_t when = ms > 0.0 && ms < 1.8e19 ? (uint64_t)ms : 0;
    f->proto = ndpi_detection_process_packet(r->ndpi, f->nf, ip, (unsigned short)MIN(caplen, 65535u), when);
    f->dissected++;
    if (named(&f->proto)) {
        const char *app = ndpi_get_proto_name(r->ndpi, f->proto.app_protocol ? f->proto.app_protocol
                                                                               : f->proto.master_protocol);
        if (app && (strcmp(app, "RTP") == 0 || strcmp(app, "SRTP") == 0) && rtp_video(ip, caplen))
            f->video = TRUE;
    }
    uint32_t most = p->key.proto == 6 ? LABEL_DISSECT_TCP : LABEL_DISSECT_UDP;
    if ((named(&f->proto) && !ndpi_extra_dissection_possible(r->ndpi, f->nf)) || f->dissected >= most)
        dissect_end(r, f);
    return TRUE;
}

static struct ndpi_detection_module_struct *ndpi_open(GError **error)
{
    struct ndpi_detection_module_struct *n = ndpi_init_detection_module(ndpi_no_prefs);
    if (!n) {
        g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "nDPI could not start (ndpi_init_detection_module failed)");
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(n, &all);
    ndpi_finalize_initialization(n);
    return n;
}

/* Label one capture into out. On a read error nothing of it is written
 * (the caller drops the whole output): the trainer could not read it either. */
static gboolean label_capture(const char *path, const label_opts *o, FILE *out, label_stats *st, GError **error)
{
    if (strpbrk(path, "\t\n\r")) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID,
                    "capture path \"%s\" holds a tab or line break, which a manifest cannot hold", path);
        return FALSE;
    }
    tt_capture *cap = tt_capture_open(path, error);
    if (!cap)
        return FALSE;
    label_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.out = out;
    r.st = st;
    r.ndpi = ndpi_open(error);
    if (!r.ndpi) {
        tt_capture_close(cap);
        return FALSE;
    }
    char *abs = g_canonicalize_filename(path, NULL);
    r.capture = abs;
    char *base = g_path_get_basename(path);
    r.group = attr_value(base);
    g_free(base);
    r.flows = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&r.lru);

    tt_packet p;
    uint64_t frame;
    int rc;
    gboolean ok = TRUE;
    while (ok && (rc = tt_capture_next(cap, &p, &frame, error)) == 1)
        ok = add_packet(&r, cap, &p, error);
    if (ok && rc < 0) {
        g_prefix_error(error, "the capture is damaged or cut short, and the trainer cannot read it either: ");
        ok = FALSE;
    }
    while (r.lru.head)
        flow_end(&r, r.lru.head->data, ok);
    st->captures += ok;
    g_hash_table_destroy(r.flows);
    ndpi_exit_detection_module(r.ndpi);
    tt_capture_close(cap);
    g_free(abs);
    g_free(r.group);
    return ok;
}

/* ---- output and summary ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint64_t n;
} name_count;

static gint by_count(gconstpointer a, gconstpointer b)
{
    const name_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The entries of a name -> count table, most first. */
static GArray *sorted_counts(GHashTable *t, uint64_t (*count)(gpointer value))
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(name_count));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        name_count nc = { k, count(v) };
        g_array_append_val(a, nc);
    }
    g_array_sort(a, by_count);
    return a;
}

static uint64_t protocol_count(gpointer v)
{
    return GPOINTER_TO_SIZE(v);
}

static uint64_t category_count(gpointer v)
{
    uint64_t n = 0;
    GHashTableIter it;
    gpointer k, c;
    g_hash_table_iter_init(&it, v);
    while (g_hash_table_iter_next(&it, &k, &c))
        n += GPOINTER_TO_SIZE(c);
    return n;
}

static void print_summary(const label_stats *st, const label_opts *o, FILE *f)
{
    fprintf(f, "traffictriage label: %" G_GUINT64_FORMAT " capture(s), %" G_GUINT64_FORMAT " TCP/UDP packets, %"
            G_GUINT64_FORMAT " flows (both directions of a 5-tuple, idle timeout %g s)\n",
            st->captures, st->packets, st->flows, o->idle_timeout);
    fprintf(f, "  labelled      %6" G_GUINT64_FORMAT " flows:", st->labelled);
    for (guint i = 0; i < G_N_ELEMENTS(tt_label_classes); i++)
        fprintf(f, "%s %s %" G_GUINT64_FORMAT, i ? "," : "", tt_label_classes[i], st->per_class[i]);
    fprintf(f, "\n  left out      %6" G_GUINT64_FORMAT " flows nDPI could not name or no class fits (cli/label-map.c)%s\n",
            st->left_out, st->left_out ? ", per nDPI category:" : "");
    GArray *cats = sorted_counts(st->left, category_count);
    for (guint i = 0; i < cats->len; i++) {
        name_count *c = &g_array_index(cats, name_count, i);
        fprintf(f, "    %-22s %6" G_GUINT64_FORMAT "  ", c->name, c->n);
        GArray *protos = sorted_counts(g_hash_table_lookup(st->left, c->name), protocol_count);
        for (guint j = 0; j < protos->len && j < LABEL_LIST_PROTOCOLS; j++) {
            name_count *p = &g_array_index(protos, name_count, j);
            fprintf(f, "%s%s %" G_GUINT64_FORMAT, j ? ", " : "", p->name, p->n);
        }
        if (protos->len > LABEL_LIST_PROTOCOLS)
            fprintf(f, ", %u more", protos->len - LABEL_LIST_PROTOCOLS);
        fputc('\n', f);
        g_array_free(protos, TRUE);
    }
    g_array_free(cats, TRUE);
    fprintf(f, "  too short     %6" G_GUINT64_FORMAT " flows with fewer than %d packet(s) (--min-packets)\n",
            st->too_short, o->min_packets);
    if (st->evicted)
        fprintf(f, "  %" G_GUINT64_FORMAT " flows were ended early: more than %u were open at once\n",
                st->evicted, LABEL_MAX_FLOWS);
    if (st->labelled == 0)
        fprintf(f, "traffictriage label: no flow could be mapped to a class: the manifest has no data lines\n");
}

/* Copy a finished temporary output to where it belongs. */
static gboolean copy_stream(FILE *from, FILE *to, GError **error)
{
    char buf[65536];
    size_t n;
    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, to) != n)
            break;
    if (ferror(from) || ferror(to) || fflush(to) != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "writing the manifest: %s", g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* Everything is written to a temporary file first, so that a capture that
 * fails half way leaves no manifest behind (with -o) and prints none. */
static gboolean write_manifest(char **captures, const char *out_path, const label_opts *o, label_stats *st,
                               GError **error)
{
    char *tmp_path = NULL;
    FILE *tmp;
    if (out_path) {
        tmp_path = g_strdup_printf("%s.XXXXXX", out_path);
        int fd = g_mkstemp(tmp_path);
        tmp = fd >= 0 ? fdopen(fd, "w+") : NULL;
        if (!tmp) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write %s: %s", out_path, g_strerror(errno));
            if (fd >= 0)
                close(fd);
            g_free(tmp_path);
            return FALSE;
        }
    } else if (!(tmp = tmpfile())) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot make a temporary file: %s", g_strerror(errno));
        return FALSE;
    }
    fprintf(tmp, "#ttmanifest v1\n"
            "# written by traffictriage label with nDPI %s: one line per bidirectional flow whose nDPI answer\n"
            "# maps to a class (cli/label-map.c); nDPI's labels are its judgement from payload, not ground truth\n"
            "# flows: 5-tuple, idle timeout %g s, --min-packets %d; group = the capture's file name\n"
            "# capture\tlabel\tgroup\tproto\taddr_a\tport_a\taddr_b\tport_b\tt_start\tt_end\tattrs\n",
            ndpi_revision(), o->idle_timeout, o->min_packets);
    gboolean ok = TRUE;
    for (guint i = 0; ok && captures[i]; i++)
        ok = label_capture(captures[i], o, tmp, st, error);
    if (ok && (fflush(tmp) != 0 || ferror(tmp))) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "writing the manifest: %s", g_strerror(errno));
        ok = FALSE;
    }
    if (ok && !out_path)
        ok = copy_stream(tmp, stdout, error);
    if (fclose(tmp) != 0 && ok) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "writing the manifest: %s", g_strerror(errno));
        ok = FALSE;
    }
    if (tmp_path) {
        if (ok && rename(tmp_path, out_path) != 0) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write %s: %s", out_path, g_strerror(errno));
            ok = FALSE;
        }
        if (!ok)
            unlink(tmp_path);
        g_free(tmp_path);
    }
    return ok;
}

int tt_cli_label(int argc, char **argv)
{
    char *out_path = NULL;
    tt_spec trainer;
    tt_spec_init_mini(&trainer, 32);
    label_opts o = { .min_packets = 1, .idle_timeout = trainer.idle_timeout };
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, "Write the manifest to FILE (default: standard output)", "FILE" },
        { "min-packets", 0, 0, G_OPTION_ARG_INT, &o.min_packets, "Leave out flows with fewer packets, both directions together (default 1)", "N" },
        { "idle-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.idle_timeout, "A flow idle this long ends; use the trainer's (default 60 s, the default input's; 120 for --arch flowpic)", "S" },
        { "no-guess", 0, 0, G_OPTION_ARG_NONE, &o.no_guess, "Do not let nDPI guess unnamed flows from their ports and addresses", NULL },
        { "left-out", 0, 0, G_OPTION_ARG_NONE, &o.left_out, "Also write each flow left out, as a comment line \"# left out\" with the label -", NULL },
        { NULL }
    };
    GError *e = NULL;
    GOptionContext *ctx = g_option_context_new("CAPTURE...");
    g_option_context_set_summary(ctx,
        "Label every bidirectional flow of the captures with nDPI as the teacher: a #ttmanifest\n"
        "(models/TRAINING-DATA.md) that `traffictriage train` reads as it is. Each flow nDPI names\n"
        "gets a class from the table in cli/label-map.c and, in attrs, nDPI's protocol, application,\n"
        "category and confidence and whether it was encrypted. A summary on standard error counts\n"
        "the flows left out, per nDPI category.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    gboolean parsed = g_option_context_parse(ctx, &argc, &argv, &e);
    g_option_context_free(ctx);
    if (!parsed) {
        fprintf(stderr, "traffictriage label: %s\n", e->message);
        g_error_free(e);
        return 2;
    }
    if (argc < 2 || o.min_packets < 0 || !(o.idle_timeout > 0.0 && o.idle_timeout <= 86400.0)) {
        fprintf(stderr, "usage: traffictriage label [-o FILE] [--min-packets N] [--idle-timeout S] CAPTURE...\n"
                        "(--min-packets >= 0, --idle-timeout in (0, 86400] s; --help says more)\n");
        g_free(out_path);
        return 2;
    }
    label_stats st;
    memset(&st, 0, sizeof st);
    st.left = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_destroy);
    gboolean ok = write_manifest(argv + 1, out_path, &o, &st, &e);
    if (ok)
        print_summary(&st, &o, stderr);
    else {
        fprintf(stderr, "traffictriage label: %s\n%s", e->message,
                out_path ? "no manifest written\n" : "no manifest printed\n");
        g_error_free(e);
    }
    g_hash_table_destroy(st.left);
    g_free(out_path);
    return ok ? 0 : 1;
}

#endif /* TT_HAVE_NDPI */
