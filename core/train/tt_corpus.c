/* TrafficTriage core: the training corpus as packet series (tt_corpus.h). */
#include "tt_corpus.h"
#include "tt_capture.h"
#include "tt_dataset.h"
#include "tt_flow.h"

#include <errno.h>
#include <lzma.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define MAX_LINE_BYTES (1u << 30)
#define MAX_LINE_PACKETS 50000000u
#define MAX_V2_SIZE 65575u              /* IPv6: 40 + a payload length of 65535 */
#define NS_PER_S 1000000000LL

static const uint8_t XZ_MAGIC[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };

gboolean tt_is_xz(const void *head, size_t n)
{
    return n >= sizeof XZ_MAGIC && memcmp(head, XZ_MAGIC, sizeof XZ_MAGIC) == 0;
}

static const char *lzma_message(lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
    case LZMA_FORMAT_ERROR: return "not xz data";
    case LZMA_OPTIONS_ERROR: return "unsupported xz options";
    case LZMA_DATA_ERROR: return "corrupt xz data";
    case LZMA_BUF_ERROR: return "the xz data ends inside a stream (truncated)";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
    default: return "xz error";
    }
}

/* ---- lines ------------------------------------------------------------------------------- */

struct tt_textin {
    FILE       *fp;
    char       *path;
    gboolean    xz, eof;
    lzma_stream strm;
    uint8_t     inbuf[1 << 16];
    char       *buf;           /* text not yet returned: buf[pos, len) */
    size_t      pos, len, cap;
    uint64_t    line, offset;
};

tt_textin *tt_textin_open(const char *path, GError **error)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
        return NULL;
    }
    tt_textin *in = g_new0(tt_textin, 1);
    in->fp = fp;
    in->path = g_strdup(path);
    in->cap = 1 << 20;
    in->buf = g_malloc(in->cap + 1);
    uint8_t head[sizeof XZ_MAGIC];
    size_t n = fread(head, 1, sizeof head, fp);
    rewind(fp);
    in->xz = tt_is_xz(head, n);
    if (in->xz) {
        lzma_stream init = LZMA_STREAM_INIT;
        in->strm = init;
        lzma_ret r = lzma_stream_decoder(&in->strm, UINT64_MAX, LZMA_CONCATENATED);
        if (r != LZMA_OK) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s: %s", path, lzma_message(r));
            tt_textin_close(in);
            return NULL;
        }
    }
    return in;
}

void tt_textin_close(tt_textin *in)
{
    if (!in)
        return;
    if (in->xz)
        lzma_end(&in->strm);
    fclose(in->fp);
    g_free(in->path);
    g_free(in->buf);
    g_free(in);
}

uint64_t tt_textin_line(const tt_textin *in) { return in->line; }
uint64_t tt_textin_offset(const tt_textin *in) { return in->offset - (in->xz ? in->strm.avail_in : 0); }
const char *tt_textin_path(const tt_textin *in) { return in->path; }

/* Append more text to buf[len, cap); sets eof when there is none. */
static gboolean fill(tt_textin *in, GError **error)
{
    if (!in->xz) {
        size_t n = fread(in->buf + in->len, 1, in->cap - in->len, in->fp);
        in->offset += n;
        in->len += n;
        if (n == 0) {
            if (ferror(in->fp)) {
                g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s: read error at byte %" G_GUINT64_FORMAT, in->path, in->offset);
                return FALSE;
            }
            in->eof = TRUE;
        }
        return TRUE;
    }
    lzma_stream *s = &in->strm;
    s->next_out = (uint8_t *)in->buf + in->len;
    s->avail_out = in->cap - in->len;
    while (s->avail_out == in->cap - in->len) {          /* until some text came out */
        if (s->avail_in == 0 && !feof(in->fp)) {
            size_t n = fread(in->inbuf, 1, sizeof in->inbuf, in->fp);
            if (ferror(in->fp)) {
                g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s: read error at byte %" G_GUINT64_FORMAT, in->path, in->offset);
                return FALSE;
            }
            in->offset += n;
            s->next_in = in->inbuf;
            s->avail_in = n;
        }
        lzma_ret r = lzma_code(s, s->avail_in == 0 && feof(in->fp) ? LZMA_FINISH : LZMA_RUN);
        if (r == LZMA_STREAM_END) {
            in->eof = TRUE;
            break;
        }
        if (r != LZMA_OK) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT,
                        "%s: %s at compressed byte %" G_GUINT64_FORMAT " of the file (after line %" G_GUINT64_FORMAT ")",
                        in->path, lzma_message(r), tt_textin_offset(in), in->line);
            return FALSE;
        }
    }
    in->len = in->cap - s->avail_out;
    return TRUE;
}

int tt_textin_next(tt_textin *in, char **line, GError **error)
{
    for (;;) {
        char *start = in->buf + in->pos;
        char *nl = memchr(start, '\n', in->len - in->pos);
        size_t n = nl ? (size_t)(nl - start) : in->len - in->pos;
        if (nl || (in->eof && n > 0)) {
            start[n] = 0;                        /* buf has one spare byte past cap */
            in->pos += n + (nl ? 1 : 0);
            in->line++;
            if (memchr(start, 0, n)) {
                g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%s:%" G_GUINT64_FORMAT ": NUL byte in a text line",
                            in->path, in->line);
                return -1;
            }
            *line = start;
            return 1;
        }
        if (in->eof)
            return 0;
        memmove(in->buf, start, n);
        in->len = n;
        in->pos = 0;
        if (in->len == in->cap) {
            if (in->cap >= MAX_LINE_BYTES) {
                g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "%s:%" G_GUINT64_FORMAT ": line longer than %u bytes",
                            in->path, in->line + 1, MAX_LINE_BYTES);
                return -1;
            }
            in->cap *= 2;
            in->buf = g_realloc(in->buf, in->cap + 1);
        }
        if (!fill(in, error))
            return -1;
    }
}

struct tt_textout {
    FILE       *fp;
    char       *path;
    gboolean    xz;
    lzma_stream strm;
    uint8_t     out[1 << 16];
};

tt_textout *tt_textout_new(FILE *fp, const char *path, int xz_preset, GError **error)
{
    tt_textout *o = g_new0(tt_textout, 1);
    o->fp = fp;
    o->path = g_strdup(path);
    o->xz = xz_preset >= 0;
    if (o->xz) {
        lzma_stream init = LZMA_STREAM_INIT;
        o->strm = init;
        lzma_ret r = lzma_easy_encoder(&o->strm, (uint32_t)xz_preset, LZMA_CHECK_CRC64);
        if (r != LZMA_OK) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s: xz preset %d: %s", path, xz_preset, lzma_message(r));
            g_free(o->path);
            g_free(o);
            return NULL;
        }
        o->strm.next_out = o->out;
        o->strm.avail_out = sizeof o->out;
    }
    return o;
}

static gboolean out_code(tt_textout *o, lzma_action action, GError **error)
{
    lzma_stream *s = &o->strm;
    for (;;) {
        lzma_ret r = lzma_code(s, action);
        if (s->avail_out == 0 || r == LZMA_STREAM_END) {
            size_t n = sizeof o->out - s->avail_out;
            if (fwrite(o->out, 1, n, o->fp) != n) {
                g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write %s: %s", o->path, g_strerror(errno));
                return FALSE;
            }
            s->next_out = o->out;
            s->avail_out = sizeof o->out;
        }
        if (r == LZMA_STREAM_END)
            return TRUE;
        if (r != LZMA_OK) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s: %s", o->path, lzma_message(r));
            return FALSE;
        }
        if (action == LZMA_RUN && s->avail_in == 0)
            return TRUE;
    }
}

gboolean tt_textout_write(tt_textout *o, const char *s, size_t n, GError **error)
{
    if (!o->xz) {
        if (fwrite(s, 1, n, o->fp) != n) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write %s: %s", o->path, g_strerror(errno));
            return FALSE;
        }
        return TRUE;
    }
    o->strm.next_in = (const uint8_t *)s;
    o->strm.avail_in = n;
    return out_code(o, LZMA_RUN, error);
}

gboolean tt_textout_end(tt_textout *o, GError **error)
{
    gboolean ok = TRUE;
    if (o->xz) {
        o->strm.avail_in = 0;
        ok = out_code(o, LZMA_FINISH, error);
        lzma_end(&o->strm);
    }
    g_free(o->path);
    g_free(o);
    return ok;
}

/* ---- packet series --------------------------------------------------------------------- */

gboolean tt_parse_numbers(const char *s, GArray *times, GArray *sizes, gboolean is_time, GError **error)
{
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '[' || *p == ']')
            p++;
        if (!*p)
            break;
        char *end;
        if (is_time) {
            double t = g_ascii_strtod(p, &end);
            if (end == p || !isfinite(t)) {
                g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad time near \"%.12s\"", p);
                return FALSE;
            }
            g_array_append_val(times, t);
        } else {
            errno = 0;
            unsigned long v = strtoul(p, &end, 10);
            if (end == p || errno || v == 0 || v > 65535) {
                g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad size near \"%.12s\" (1..65535)", p);
                return FALSE;
            }
            uint32_t u = (uint32_t)v;
            g_array_append_val(sizes, u);
        }
        if ((is_time ? times->len : sizes->len) > MAX_LINE_PACKETS) {
            g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "more than %u packets in one flow", MAX_LINE_PACKETS);
            return FALSE;
        }
        p = end;
        if (*p && *p != ' ' && *p != ',' && *p != ']') {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "unexpected character '%c'", *p);
            return FALSE;
        }
    }
    return TRUE;
}

struct tt_series_reader {
    tt_textin *in;
    int        version;
    tt_tick    tick;
    int64_t    sections_declared;     /* -1: no #sections line */
    uint64_t   sections_seen;
    uint64_t   sec_flows, sec_packets;  /* since the last #end */
    uint64_t   last_end_line;
    char     **fields;
    GArray    *times, *sizes;
};

tt_series_reader *tt_series_open(const char *path, GError **error)
{
    tt_textin *in = tt_textin_open(path, error);
    if (!in)
        return NULL;
    tt_series_reader *r = g_new0(tt_series_reader, 1);
    r->in = in;
    r->version = 1;
    r->tick = (tt_tick){ 1000, 0 };
    r->sections_declared = -1;
    r->times = g_array_new(FALSE, FALSE, sizeof(double));
    r->sizes = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    return r;
}

void tt_series_close(tt_series_reader *r)
{
    if (!r)
        return;
    tt_textin_close(r->in);
    g_strfreev(r->fields);
    g_array_free(r->times, TRUE);
    g_array_free(r->sizes, TRUE);
    g_free(r);
}

int tt_series_version(const tt_series_reader *r)
{
    return r->version;
}

static gboolean parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    if (!g_ascii_isdigit(*s))
        return FALSE;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return FALSE;
    *v = x;
    return TRUE;
}

/* "key=value" among space-separated tokens: its value as a number. */
static gboolean token_u64(char **tok, const char *key, uint64_t max, uint64_t *v)
{
    size_t kl = strlen(key);
    for (; *tok; tok++)
        if (strncmp(*tok, key, kl) == 0 && (*tok)[kl] == '=')
            return parse_u64(*tok + kl + 1, max, v);
    return FALSE;
}

static gboolean v2_header(tt_series_reader *r, const char *line, GError **error)
{
    char **tok = g_strsplit(line, " ", -1);
    gboolean ok = TRUE;
    for (char **t = tok + 2; *t && ok; t++) {
        if (!**t)
            continue;
        if (!tt_tick_parse(*t, &r->tick)) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "unknown or bad header option \"%s\"", *t);
            ok = FALSE;
        }
    }
    g_strfreev(tok);
    return ok;
}

/* "#sections N" and "#end section=K flows=F packets=P" of v2; other comments pass. */
static gboolean v2_comment(tt_series_reader *r, const char *line, GError **error)
{
    uint64_t v;
    if (g_str_has_prefix(line, "#sections ")) {
        if (!parse_u64(line + 10, G_MAXINT64, &v)) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad #sections line");
            return FALSE;
        }
        r->sections_declared = (int64_t)v;
        return TRUE;
    }
    if (strcmp(line, "#end") != 0 && !g_str_has_prefix(line, "#end "))
        return TRUE;
    char **tok = g_strsplit(line, " ", -1);
    uint64_t sec = 0, flows = 0, packets = 0;
    gboolean has_sec = token_u64(tok, "section", G_MAXUINT64, &sec);
    gboolean ok = token_u64(tok, "flows", G_MAXUINT64, &flows) && token_u64(tok, "packets", G_MAXUINT64, &packets);
    g_strfreev(tok);
    r->sections_seen++;
    if (!ok)
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "an #end line needs flows=N packets=N");
    else if (has_sec && sec != r->sections_seen)
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "#end of section %" G_GUINT64_FORMAT " where section %" G_GUINT64_FORMAT " ends",
                    sec, r->sections_seen);
    else if (flows != r->sec_flows || packets != r->sec_packets)
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT,
                    "section %" G_GUINT64_FORMAT " holds %" G_GUINT64_FORMAT " flows and %" G_GUINT64_FORMAT
                    " packets but its #end line says %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT,
                    r->sections_seen, r->sec_flows, r->sec_packets, flows, packets);
    else if (r->sections_declared >= 0 && r->sections_seen > (uint64_t)r->sections_declared)
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "more sections than the %" G_GINT64_FORMAT " declared",
                    r->sections_declared);
    else {
        r->sec_flows = r->sec_packets = 0;
        r->last_end_line = tt_textin_line(r->in);
        return TRUE;
    }
    return FALSE;
}

/* The next space-separated integer of *p: 1 (and *p moved past it), 0 at the end, -1 on an error. */
static int next_integer(const char **p, long long *v, const char *what, GError **error)
{
    while (**p == ' ')
        (*p)++;
    if (!**p)
        return 0;
    char *end;
    errno = 0;
    *v = strtoll(*p, &end, 10);
    if (end == *p || errno || (*end && *end != ' ')) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "bad %s near \"%.12s\" (integers expected)", what, *p);
        return -1;
    }
    *p = end;
    return 1;
}

static gboolean too_many(const GArray *a, GError **error)
{
    if (a->len <= MAX_LINE_PACKETS)
        return FALSE;
    g_set_error(error, TT_ERROR, TT_ERROR_LIMIT, "more than %u packets in one flow", MAX_LINE_PACKETS);
    return TRUE;
}

gboolean tt_tick_parse(const char *tok, tt_tick *t)
{
    uint64_t v;
    if (g_str_has_prefix(tok, "tick_ns=") && parse_u64(tok + 8, 1000000000, &v) && v > 0) {
        *t = (tt_tick){ (uint32_t)v, 0 };
        return TRUE;
    }
    if (g_str_has_prefix(tok, "tick_pow2=-") && parse_u64(tok + 11, 40, &v)) {
        *t = (tt_tick){ 0, -(int32_t)v };
        return TRUE;
    }
    return FALSE;
}

char *tt_tick_format(tt_tick t)
{
    return t.ns ? g_strdup_printf("tick_ns=%u", t.ns) : g_strdup_printf("tick_pow2=%d", t.pow2);
}

/* Seconds of T ticks, as tt_time() computes them from (seconds, nanoseconds). */
static gboolean tick_seconds(tt_tick tick, int64_t t, double *ts)
{
    if (!tick.ns) {
        if (t > (1LL << 53) || t < -(1LL << 53))
            return FALSE;
        *ts = ldexp((double)t, tick.pow2);       /* exact */
        return TRUE;
    }
    int64_t ns;
    if (__builtin_mul_overflow(t, (int64_t)tick.ns, &ns))
        return FALSE;
    int64_t sec = ns / NS_PER_S, nsec = ns % NS_PER_S;
    if (nsec < 0) {
        nsec += NS_PER_S;
        sec--;
    }
    *ts = tt_time(sec, (int32_t)nsec);
    return TRUE;
}

/* v2 times: the first in ticks, then signed differences. */
static gboolean v2_times(const char *s, tt_tick tick, GArray *times, GError **error)
{
    const char *p = s;
    int64_t t = 0;
    long long d;
    double ts;
    int rc;
    while ((rc = next_integer(&p, &d, "time", error)) == 1) {
        if ((times->len == 0 ? (t = d, FALSE) : __builtin_add_overflow(t, (int64_t)d, &t)) ||
            !tick_seconds(tick, t, &ts)) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "time out of range after %u times", times->len);
            return FALSE;
        }
        g_array_append_val(times, ts);
        if (too_many(times, error))
            return FALSE;
    }
    return rc == 0;
}

static gboolean v2_sizes(const char *s, GArray *sizes, GError **error)
{
    const char *p = s;
    long long v;
    int rc;
    while ((rc = next_integer(&p, &v, "size", error)) == 1) {
        if (v < 1 || v > MAX_V2_SIZE) {
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "size %lld out of range 1..%u", v, MAX_V2_SIZE);
            return FALSE;
        }
        uint32_t u = (uint32_t)v;
        g_array_append_val(sizes, u);
        if (too_many(sizes, error))
            return FALSE;
    }
    return rc == 0;
}

static gboolean parse_flow(tt_series_reader *r, char *line, tt_series_flow *f, GError **error)
{
    g_strfreev(r->fields);            /* split copies: line stays whole */
    char **fl = r->fields = g_strsplit(line, "\t", 7);
    if (g_strv_length(fl) != 6) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%u fields, expected 6 (group label flow attrs times sizes)",
                    g_strv_length(fl));
        return FALSE;
    }
    if (r->version == 2 && (!*fl[0] || !*fl[1])) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "empty group or label");
        return FALSE;
    }
    g_array_set_size(r->times, 0);
    g_array_set_size(r->sizes, 0);
    if (r->version == 2 ? !v2_times(fl[4], r->tick, r->times, error) || !v2_sizes(fl[5], r->sizes, error)
                        : !tt_parse_numbers(fl[4], r->times, r->sizes, TRUE, error) ||
                          !tt_parse_numbers(fl[5], r->times, r->sizes, FALSE, error))
        return FALSE;
    if (r->times->len != r->sizes->len) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%u times but %u sizes", r->times->len, r->sizes->len);
        return FALSE;
    }
    if (r->version == 2 && r->times->len == 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "a flow without packets");
        return FALSE;
    }
    f->group = fl[0];
    f->label = fl[1];
    f->flow = fl[2];
    f->attrs = *fl[3] ? fl[3] : "-";
    f->times = r->times;
    f->sizes = r->sizes;
    f->line = tt_textin_line(r->in);
    f->text = line;
    r->sec_flows++;
    r->sec_packets += r->times->len;
    return TRUE;
}

/* At the end of a v2 file: every flow inside a section, every declared section there. */
static gboolean v2_complete(tt_series_reader *r, GError **error)
{
    const char *path = tt_textin_path(r->in);
    if (r->sec_flows > 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT,
                    "%s:%" G_GUINT64_FORMAT ": the file ends (byte %" G_GUINT64_FORMAT ") with %" G_GUINT64_FORMAT
                    " flows after the last #end line (line %" G_GUINT64_FORMAT "): truncated, or a section without its #end line",
                    path, tt_textin_line(r->in), tt_textin_offset(r->in), r->sec_flows, r->last_end_line);
        return FALSE;
    }
    if (r->sections_declared >= 0 && r->sections_seen != (uint64_t)r->sections_declared) {
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT,
                    "%s:%" G_GUINT64_FORMAT ": the header declares %" G_GINT64_FORMAT " sections, the file ends (byte %"
                    G_GUINT64_FORMAT ") after %" G_GUINT64_FORMAT ": truncated",
                    path, tt_textin_line(r->in), r->sections_declared, tt_textin_offset(r->in), r->sections_seen);
        return FALSE;
    }
    return TRUE;
}

int tt_series_next(tt_series_reader *r, tt_series_flow *f, GError **error)
{
    char *line;
    int rc;
    while ((rc = tt_textin_next(r->in, &line, error)) == 1) {
        uint64_t ln = tt_textin_line(r->in);
        g_strchomp(line);
        GError *e = NULL;
        gboolean ok = TRUE;
        if (ln == 1 && g_str_has_prefix(line, "#ttseries v")) {
            if (g_str_has_prefix(line, "#ttseries v2") && (line[12] == 0 || line[12] == ' ')) {
                r->version = 2;
                ok = v2_header(r, line, &e);
            } else if (!g_str_has_prefix(line, "#ttseries v1")) {
                g_set_error(&e, TT_ERROR, TT_ERROR_VERSION, "unsupported version \"%s\" (v1 and v2 are known)", line + 10);
                ok = FALSE;
            }
        } else if (!*line) {
            continue;
        } else if (line[0] == '#') {
            ok = r->version != 2 || v2_comment(r, line, &e);
        } else if (parse_flow(r, line, f, &e)) {
            return 1;
        } else {
            ok = FALSE;
        }
        if (!ok) {
            g_set_error(error, e->domain, e->code, "%s:%" G_GUINT64_FORMAT ": %s", tt_textin_path(r->in), ln, e->message);
            g_error_free(e);
            return -1;
        }
    }
    if (rc < 0)
        return -1;
    return r->version == 2 && !v2_complete(r, error) ? -1 : 0;
}

/* ---- extraction from labelled captures ---------------------------------------------------- */

typedef struct {
    tt_key key;                 /* normalised, as the engine hashes it */
    int    rule;
    int    pad;
} series_key;

typedef struct {
    series_key k;
    GArray    *ns;              /* int64_t: capture time in nanoseconds */
    GArray    *size;            /* uint32_t */
} series_acc;

static guint series_key_hash(gconstpointer p)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;                 /* FNV-1a */
    for (size_t i = 0; i < sizeof(series_key); i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static gboolean series_key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(series_key)) == 0;
}

static void series_acc_free(gpointer p)
{
    series_acc *s = p;
    g_array_free(s->ns, TRUE);
    g_array_free(s->size, TRUE);
    g_free(s);
}

/* Mark the packets the cut keeps: under each TT_CUT_SPECS spec, the first max
 * packets of every block (what a block stores when spec.max_packets = max) and
 * the last one (so that idle gaps, block spans and block indices stay). */
static void cut_mask(const double *ts, size_t n, uint32_t max, uint8_t *keep)
{
    static const double block[2] = { 15.0, 60.0 }, idle[2] = { 60.0, 120.0 };
    memset(keep, 0, n);
    for (int s = 0; s < 2; s++) {
        tt_spec spec;
        tt_spec_init_mini(&spec, 16);
        spec.block_seconds = block[s];
        spec.idle_timeout = idle[s];
        spec.max_packets = max;
        spec.min_packets = 1;
        tt_engine *eng = tt_engine_new(&spec, 0, NULL, NULL);
        tt_packet p;
        memset(&p, 0, sizeof p);
        p.key.family = 4;
        p.key.proto = 17;
        p.ip_len = 1;
        tt_pkt_ref ref, prev = { 0 };
        for (size_t i = 0; i < n; i++) {
            p.ts = ts[i];
            tt_engine_add(eng, &p, &ref);
            if (i > 0 && (ref.flow_id != prev.flow_id || ref.block_index != prev.block_index))
                keep[i - 1] = 1;
            if (ref.index_in_block < max)
                keep[i] = 1;
            prev = ref;
        }
        if (n)
            keep[n - 1] = 1;
        tt_engine_free(eng);
    }
}

static int64_t round_div(int64_t a, int64_t b)   /* a / b rounded half up, b > 0 */
{
    int64_t q = a / b, r = a % b;
    if (r < 0) {
        r += b;
        q--;
    }
    return q + (2 * r >= b);
}

static gboolean emit_series(const series_acc *sa, const tt_manifest_rule *rule, const tt_extract_opts *o,
                            GString *line, tt_extract_fn fn, void *user, GError **error)
{
    size_t n = sa->ns->len;
    int64_t *ticks = g_new(int64_t, n);
    double *ts = g_new(double, n);
    uint8_t *keep = g_new(uint8_t, n);
    for (size_t i = 0; i < n; i++) {
        int64_t ns = g_array_index(sa->ns, int64_t, i);
        ticks[i] = o->tick.ns ? round_div(ns, o->tick.ns)
                              : llround(ldexp(tt_time(ns / NS_PER_S, (int32_t)(ns % NS_PER_S)), -o->tick.pow2));
        tick_seconds(o->tick, ticks[i], &ts[i]);  /* what a reader will compute */
    }
    if (o->max_block_packets)
        cut_mask(ts, n, o->max_block_packets, keep);
    else
        memset(keep, 1, n);
    char flow[160];
    tt_key_format(&sa->k.key, flow, sizeof flow);
    g_string_truncate(line, 0);
    g_string_append_printf(line, "%s\t%s\t%s\t", rule->group, rule->label, flow);
    gboolean plain = strcmp(rule->attrs, "-") == 0;
    if (o->add_attrs && *o->add_attrs)
        g_string_append_printf(line, "%s%s%s", plain ? "" : rule->attrs, plain ? "" : ";", o->add_attrs);
    else
        g_string_append(line, rule->attrs);
    g_string_append_c(line, '\t');
    int64_t prev = 0;
    uint64_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        g_string_append_printf(line, kept ? " %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, kept ? ticks[i] - prev : ticks[i]);
        prev = ticks[i];
        kept++;
    }
    g_string_append_c(line, '\t');
    const uint32_t *sz = (const uint32_t *)sa->size->data;
    gboolean first = TRUE;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        g_string_append_printf(line, first ? "%u" : " %u", sz[i]);
        first = FALSE;
    }
    g_string_append_c(line, '\n');
    g_free(ticks);
    g_free(ts);
    g_free(keep);
    tt_extracted x = { line->str, line->len, rule->group, rule->label, rule->attrs, kept, n - kept };
    return fn(&x, user, error);
}

static gboolean extract_capture(const tt_manifest_capture *mc, const tt_extract_opts *o,
                                tt_extract_fn fn, void *user, GError **error)
{
    GPtrArray *rules = mc->rules;
    gboolean any = FALSE;
    for (guint i = 0; i < rules->len && !any; i++) {
        const tt_manifest_rule *r = g_ptr_array_index(rules, i);
        any = !o->skip_groups || !g_hash_table_contains(o->skip_groups, r->group);
    }
    if (!any)
        return TRUE;
    tt_capture *cap = tt_capture_open(mc->capture, error);
    if (!cap)
        return FALSE;
    GHashTable *ix = g_hash_table_new(series_key_hash, series_key_equal);
    GPtrArray *order = g_ptr_array_new_with_free_func(series_acc_free);
    tt_packet p;
    uint64_t frame;
    int rc;
    while ((rc = tt_capture_next(cap, &p, &frame, error)) == 1) {
        int ri = tt_manifest_first_match(rules, &p);
        if (ri < 0 || p.ip_len == 0)          /* unlabelled, or what the engine ignores */
            continue;
        const tt_manifest_rule *r = g_ptr_array_index(rules, ri);
        if (o->skip_groups && g_hash_table_contains(o->skip_groups, r->group))
            continue;
        series_key k;
        memset(&k, 0, sizeof k);
        k.key = p.key;
        memset(k.key.pad, 0, sizeof k.key.pad);
        if (k.key.family == 4) {
            memset(k.key.src + 4, 0, 12);
            memset(k.key.dst + 4, 0, 12);
        }
        k.rule = ri;
        series_acc *sa = g_hash_table_lookup(ix, &k);
        if (!sa) {
            sa = g_new0(series_acc, 1);
            sa->k = k;
            sa->ns = g_array_new(FALSE, FALSE, sizeof(int64_t));
            sa->size = g_array_new(FALSE, FALSE, sizeof(uint32_t));
            g_ptr_array_add(order, sa);
            g_hash_table_insert(ix, &sa->k, sa);
        }
        int64_t sec;
        int32_t nsec;
        tt_capture_time(cap, &sec, &nsec);
        int64_t ns = sec * NS_PER_S + nsec;
        g_array_append_val(sa->ns, ns);
        g_array_append_val(sa->size, p.ip_len);
    }
    tt_capture_close(cap);
    GString *line = g_string_new(NULL);
    for (guint i = 0; rc == 0 && i < order->len; i++) {
        const series_acc *sa = g_ptr_array_index(order, i);
        if (!emit_series(sa, g_ptr_array_index(rules, sa->k.rule), o, line, fn, user, error))
            rc = -1;
    }
    g_string_free(line, TRUE);
    g_hash_table_destroy(ix);
    g_ptr_array_unref(order);
    return rc == 0;
}

gboolean tt_extract_manifest(const char *manifest, const tt_extract_opts *o,
                             tt_extract_fn fn, void *user, GError **error)
{
    if (o->tick.ns > 1000000000u || (!o->tick.ns && (o->tick.pow2 > 0 || o->tick.pow2 < -40))) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "time unit out of range (1..1e9 ns, 2^-40..1 s)");
        return FALSE;
    }
    GPtrArray *caps = tt_manifest_read(manifest, error);
    if (!caps)
        return FALSE;
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < caps->len; i++)
        ok = extract_capture(g_ptr_array_index(caps, i), o, fn, user, error);
    g_ptr_array_unref(caps);
    return ok;
}

/* ---- corpus files ------------------------------------------------------------------------ */

void tt_corpus_header_init(tt_corpus_header *h)
{
    h->tick = TT_TICK_DEFAULT;
    h->meta = g_ptr_array_new_with_free_func(g_free);
    h->sections = g_ptr_array_new_with_free_func(g_free);
    h->sessions = g_ptr_array_new_with_free_func(g_free);
}

void tt_corpus_header_clear(tt_corpus_header *h)
{
    if (h->meta)
        g_ptr_array_unref(h->meta);
    if (h->sections)
        g_ptr_array_unref(h->sections);
    if (h->sessions)
        g_ptr_array_unref(h->sessions);
    memset(h, 0, sizeof *h);
}

char *tt_corpus_header_format(const tt_corpus_header *h)
{
    GString *s = g_string_new(NULL);
    char *tick = tt_tick_format(h->tick);
    g_string_append_printf(s, "#ttseries v2 %s\n", tick);
    g_free(tick);
    for (guint i = 0; i < h->meta->len; i++)
        g_string_append_printf(s, "#meta %s\n", (char *)g_ptr_array_index(h->meta, i));
    g_string_append_printf(s, "#sections %u\n", h->sections->len);
    for (guint i = 0; i < h->sections->len; i++)
        g_string_append_printf(s, "#section %u %s\n", i + 1, (char *)g_ptr_array_index(h->sections, i));
    for (guint i = 0; i < h->sessions->len; i++)
        g_string_append_printf(s, "#session %s\n", (char *)g_ptr_array_index(h->sessions, i));
    return g_string_free(s, FALSE);
}

/* The header lines (first xz stream) into h. */
static gboolean parse_header_text(const char *path, char *text, tt_corpus_header *h, GError **error)
{
    char **lines = g_strsplit(text, "\n", -1);
    gboolean ok = TRUE;
    for (guint i = 0; lines[i] && ok; i++) {
        const char *l = lines[i];
        if (i == 0) {
            const char *t = strchr(l + 10, ' ');
            ok = g_str_has_prefix(l, "#ttseries v2 ") && t && tt_tick_parse(t + 1, &h->tick);
        } else if (g_str_has_prefix(l, "#meta ")) {
            g_ptr_array_add(h->meta, g_strdup(l + 6));
        } else if (g_str_has_prefix(l, "#section ")) {
            const char *sp = strchr(l + 9, ' ');
            ok = sp != NULL;
            if (ok)
                g_ptr_array_add(h->sections, g_strdup(sp + 1));
        } else if (g_str_has_prefix(l, "#session ")) {
            g_ptr_array_add(h->sessions, g_strdup(l + 9));
        } else {
            ok = !*l || g_str_has_prefix(l, "#sections ");
        }
        if (!ok)
            g_set_error(error, TT_ERROR, TT_ERROR_FORMAT,
                        "%s:%u: not a corpus header line (written by traffictriage series?)", path, i + 1);
    }
    g_strfreev(lines);
    return ok;
}

gboolean tt_corpus_header_read(const char *path, tt_corpus_header *h, uint64_t *stream_bytes, GError **error)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r = lzma_stream_decoder(&s, UINT64_MAX, 0);   /* the first stream only */
    GString *text = g_string_new(NULL);
    uint8_t in[1 << 14], out[1 << 16];
    uint64_t read = 0;
    while (r == LZMA_OK) {
        if (s.avail_in == 0) {
            size_t n = fread(in, 1, sizeof in, fp);
            read += n;
            s.next_in = in;
            s.avail_in = n;
        }
        s.next_out = out;
        s.avail_out = sizeof out;
        r = lzma_code(&s, s.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
        g_string_append_len(text, (const char *)out, (gssize)(sizeof out - s.avail_out));
        if (text->len > (64u << 20)) {
            r = LZMA_MEMLIMIT_ERROR;
            break;
        }
    }
    fclose(fp);
    *stream_bytes = read - s.avail_in;
    lzma_end(&s);
    gboolean ok = r == LZMA_STREAM_END;
    if (!ok)
        g_set_error(error, TT_ERROR, TT_ERROR_FORMAT, "%s: header stream: %s at byte %" G_GUINT64_FORMAT,
                    path, lzma_message(r), *stream_bytes);
    else
        ok = parse_header_text(path, text->str, h, error);
    g_string_free(text, TRUE);
    return ok;
}

/* The same "key=value" entries in both lists (any order); else *diff says how they differ. */
static gboolean same_meta(GPtrArray *have, const char *const *want, char **diff)
{
    guint n = want ? g_strv_length((char **)want) : 0;
    const char *missing = NULL;
    for (guint i = 0; i < n && !missing; i++) {
        gboolean found = FALSE;
        for (guint j = 0; j < have->len && !found; j++)
            found = strcmp(want[i], g_ptr_array_index(have, j)) == 0;
        if (!found)
            missing = want[i];
    }
    if (!missing && n == have->len)
        return TRUE;
    GString *s = g_string_new(NULL);
    if (missing)
        g_string_append_printf(s, "%s; ", missing);
    g_string_append(s, "the corpus has");
    for (guint j = 0; j < have->len; j++)
        g_string_append_printf(s, " %s", (char *)g_ptr_array_index(have, j));
    *diff = g_string_free(s, FALSE);
    return FALSE;
}

typedef struct {
    tt_textout *out;
    uint64_t    flows, packets, cut;
    GHashTable *seen;           /* groups of this section */
    GPtrArray  *order;          /* the same, in order of first flow */
} section_ctx;

static gboolean section_add(const tt_extracted *x, void *user, GError **error)
{
    section_ctx *sc = user;
    if (!g_hash_table_contains(sc->seen, x->group)) {
        char *g = g_strdup(x->group);
        g_hash_table_add(sc->seen, g);
        g_ptr_array_add(sc->order, g);
    }
    sc->flows++;
    sc->packets += x->packets;
    sc->cut += x->packets_cut;
    return tt_textout_write(sc->out, x->line, x->len, error);
}

static gboolean check_words(const char *const *kv, const char *what, GError **error)
{
    for (const char *const *p = kv; p && *p; p++)
        if (!strchr(*p, '=') || strpbrk(*p, " \t\n\r")) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s \"%s\": key=value without spaces expected", what, *p);
            return FALSE;
        }
    return TRUE;
}

static gboolean copy_bytes(FILE *from, uint64_t offset, FILE *to, const char *path, GError **error)
{
    if (fseeko(from, (off_t)offset, SEEK_SET) != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "%s: %s", path, g_strerror(errno));
        return FALSE;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, to) != n) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write: %s", g_strerror(errno));
            return FALSE;
        }
    if (ferror(from)) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot read %s", path);
        return FALSE;
    }
    return TRUE;
}

static FILE *temp_beside(const char *path, char **tmp, GError **error)
{
    *tmp = g_strdup_printf("%s.tmp-XXXXXX", path);
    int fd = g_mkstemp(*tmp);
    if (fd >= 0)
        (void)fchmod(fd, 0644);                  /* as a file written the usual way */
    FILE *fp = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!fp) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot create %s: %s", *tmp, g_strerror(errno));
        g_free(*tmp);
        *tmp = NULL;
    }
    return fp;
}

/* Read a corpus to its end: every check of the reader passes (before it is appended to). */
static gboolean read_whole(const char *path, GError **error)
{
    tt_series_reader *r = tt_series_open(path, error);
    if (!r)
        return FALSE;
    tt_series_flow f;
    int rc;
    while ((rc = tt_series_next(r, &f, error)) == 1)
        ;
    tt_series_close(r);
    if (rc < 0)
        g_prefix_error(error, "cannot append to a damaged corpus: ");
    return rc == 0;
}

gboolean tt_corpus_write(const char *path, const tt_corpus_write_opts *o, uint64_t *added, GError **error)
{
    gboolean xz = g_str_has_suffix(path, ".xz"), ok = FALSE;
    *added = 0;
    if (!check_words(o->meta, "--meta", error) || !check_words(o->section_meta, "--section-meta", error))
        return FALSE;
    if (o->append && !xz && g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s: appending needs an .xz corpus", path);
        return FALSE;
    }
    tt_corpus_header h;
    tt_corpus_header_init(&h);
    h.tick = o->extract.tick;
    uint64_t old_header = 0;
    gboolean appending = o->append && g_file_test(path, G_FILE_TEST_EXISTS);
    char *cut = g_strdup_printf("cut=%u", o->extract.max_block_packets);
    GPtrArray *want = g_ptr_array_new();
    for (const char *const *m = o->meta; m && *m; m++)
        g_ptr_array_add(want, (gpointer)*m);
    g_ptr_array_add(want, cut);
    g_ptr_array_add(want, NULL);
    char *tmp = NULL, *sectmp = NULL, *diff = NULL;
    FILE *sec = NULL, *fp = NULL;
    section_ctx sc = { NULL, 0, 0, 0, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), g_ptr_array_new() };
    GHashTable *skip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (appending) {
        if (!tt_corpus_header_read(path, &h, &old_header, error) || !read_whole(path, error))
            goto out;
        if (h.tick.ns != o->extract.tick.ns || h.tick.pow2 != o->extract.tick.pow2) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s has times in another unit: cannot append", path);
            goto out;
        }
        if (!same_meta(h.meta, (const char *const *)want->pdata, &diff)) {
            g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s: cannot append with other file-level settings (%s)",
                        path, diff);
            goto out;
        }
        for (guint i = 0; i < h.sessions->len; i++) {
            const char *s = g_ptr_array_index(h.sessions, i);
            const char *sp = strrchr(s, ' ');
            g_hash_table_add(skip, sp ? g_strndup(s, (gsize)(sp - s)) : g_strdup(s));
        }
    } else {
        for (guint i = 0; i + 1 < want->len; i++)
            g_ptr_array_add(h.meta, g_strdup(g_ptr_array_index(want, i)));
    }
    /* The new section into its own temporary file first: the header that
     * precedes it lists what it holds. */
    sec = temp_beside(path, &sectmp, error);
    if (!sec)
        goto out;
    sc.out = tt_textout_new(sec, sectmp, xz ? o->xz_preset : -1, error);
    if (!sc.out)
        goto out;
    tt_extract_opts eo = o->extract;
    eo.skip_groups = skip;
    for (const char *const *m = o->manifests; m && *m; m++) {
        uint64_t before = sc.flows;
        if (!tt_extract_manifest(*m, &eo, section_add, &sc, error)) {
            tt_textout_end(sc.out, NULL);
            goto out;
        }
        if (o->log)
            fprintf(o->log, "%s: %" G_GUINT64_FORMAT " flows\n", *m, sc.flows - before);
    }
    if (sc.flows == 0 && appending) {
        tt_textout_end(sc.out, NULL);
        ok = TRUE;                               /* nothing new: the corpus stays as it is */
        goto out;
    }
    gboolean wrote = TRUE;
    if (sc.flows == 0) {                         /* a new corpus without any flow: its header only */
        tt_textout_end(sc.out, NULL);
    } else {
        uint32_t n = h.sections->len + 1;
        char *end = g_strdup_printf("#end section=%u flows=%" G_GUINT64_FORMAT " packets=%" G_GUINT64_FORMAT "\n",
                                    n, sc.flows, sc.packets);
        wrote = tt_textout_write(sc.out, end, strlen(end), error);
        g_free(end);
        if (!tt_textout_end(sc.out, wrote ? error : NULL) || !wrote)
            goto out;
        GString *sm = g_string_new(NULL);
        g_string_append_printf(sm, "flows=%" G_GUINT64_FORMAT " packets=%" G_GUINT64_FORMAT " packets_cut=%"
                               G_GUINT64_FORMAT " sessions=%u", sc.flows, sc.packets, sc.cut, sc.order->len);
        for (const char *const *m = o->section_meta; m && *m; m++)
            g_string_append_printf(sm, " %s", *m);
        g_ptr_array_add(h.sections, g_string_free(sm, FALSE));
        for (guint i = 0; i < sc.order->len; i++)
            g_ptr_array_add(h.sessions, g_strdup_printf("%s %u", (char *)g_ptr_array_index(sc.order, i), n));
    }

    /* header stream, the old sections as they are, the new one */
    fp = temp_beside(path, &tmp, error);
    if (!fp)
        goto out;
    char *head = tt_corpus_header_format(&h);
    tt_textout *ho = tt_textout_new(fp, tmp, xz ? o->xz_preset : -1, error);
    wrote = ho && tt_textout_write(ho, head, strlen(head), error);
    g_free(head);
    if (!ho || !tt_textout_end(ho, wrote ? error : NULL) || !wrote)
        goto out;
    if (appending) {
        FILE *old = fopen(path, "rb");
        gboolean copied = old && copy_bytes(old, old_header, fp, path, error);
        if (old)
            fclose(old);
        else
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
        if (!copied)
            goto out;
    }
    if (sc.flows && !copy_bytes(sec, 0, fp, sectmp, error))
        goto out;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0) {
        fp = NULL;
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot write %s: %s", tmp, g_strerror(errno));
        goto out;
    }
    fp = NULL;
    if (g_rename(tmp, path) != 0) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot rename %s to %s: %s", tmp, path, g_strerror(errno));
        goto out;
    }
    g_free(tmp);
    tmp = NULL;
    *added = sc.flows;
    ok = TRUE;
out:
    if (fp)
        fclose(fp);
    if (tmp) {
        g_unlink(tmp);
        g_free(tmp);
    }
    if (sec)
        fclose(sec);
    if (sectmp) {
        g_unlink(sectmp);
        g_free(sectmp);
    }
    g_free(diff);
    g_free(cut);
    g_ptr_array_free(want, TRUE);
    g_hash_table_destroy(sc.seen);
    g_ptr_array_free(sc.order, TRUE);
    g_hash_table_destroy(skip);
    tt_corpus_header_clear(&h);
    return ok;
}

/* ---- counts ------------------------------------------------------------------------------ */

typedef struct {
    GHashTable *groups;
    uint64_t    flows, packets;
} cell;

static void cell_free(gpointer p)
{
    cell *c = p;
    g_hash_table_destroy(c->groups);
    g_free(c);
}

static cell *cell_get(GHashTable *cells, const char *key)
{
    cell *c = g_hash_table_lookup(cells, key);
    if (!c) {
        c = g_new0(cell, 1);
        c->groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(cells, g_strdup(key), c);
    }
    return c;
}

static void cell_add(cell *c, const tt_series_flow *f)
{
    if (!g_hash_table_contains(c->groups, f->group))
        g_hash_table_add(c->groups, g_strdup(f->group));
    c->flows++;
    c->packets += f->times->len;
}

static gboolean file_sha256(const char *path, char **hex, uint64_t *bytes, GError **error)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    uint8_t buf[1 << 16];
    size_t n;
    *bytes = 0;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        g_checksum_update(ck, buf, (gssize)n);
        *bytes += n;
    }
    gboolean ok = !ferror(fp);
    fclose(fp);
    *hex = g_strdup(g_checksum_get_string(ck));
    g_checksum_free(ck);
    if (!ok)
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot read %s", path);
    return ok;
}

char *tt_corpus_counts(const char *path, const char *by_key, GError **error)
{
    char *sha = NULL;
    uint64_t bytes;
    if (!file_sha256(path, &sha, &bytes, error))
        return NULL;
    tt_series_reader *r = tt_series_open(path, error);
    if (!r) {
        g_free(sha);
        return NULL;
    }
    GHashTable *cells = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cell_free);
    cell *all = cell_get(cells, "");
    tt_series_flow f;
    int rc;
    while ((rc = tt_series_next(r, &f, error)) == 1) {
        char *v = tt_attr_get(f.attrs, by_key);
        char *key = g_strdup_printf("%s\t%s", f.label, *v ? v : "-");
        cell_add(all, &f);
        cell_add(cell_get(cells, key), &f);
        g_free(key);
        g_free(v);
    }
    GString *s = NULL;
    if (rc == 0) {
        s = g_string_new("#ttcounts v1\n");
        char *base = g_path_get_basename(path);
        g_string_append_printf(s, "file\t%s\nbytes\t%" G_GUINT64_FORMAT "\nsha256\t%s\n", base, bytes, sha);
        g_free(base);
        g_string_append_printf(s, "format\tttseries v%d\nsections\t%" G_GUINT64_FORMAT "\n", tt_series_version(r),
                               r->sections_seen);
        g_string_append_printf(s, "sessions\t%u\nflows\t%" G_GUINT64_FORMAT "\npackets\t%" G_GUINT64_FORMAT "\n",
                               g_hash_table_size(all->groups), all->flows, all->packets);
        g_string_append_printf(s, "#cell\tlabel\t%s\tsessions\tflows\tpackets\n", by_key);
        GList *keys = g_list_sort(g_hash_table_get_keys(cells), (GCompareFunc)strcmp);
        for (GList *k = keys; k; k = k->next) {
            if (!*(char *)k->data)
                continue;
            cell *c = g_hash_table_lookup(cells, k->data);
            g_string_append_printf(s, "cell\t%s\t%u\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\n",
                                   (char *)k->data, g_hash_table_size(c->groups), c->flows, c->packets);
        }
        g_list_free(keys);
    }
    g_hash_table_destroy(cells);
    tt_series_close(r);
    g_free(sha);
    return s ? g_string_free(s, FALSE) : NULL;
}

gboolean tt_corpus_slice(const char *path, const char *out, uint32_t n_groups, GError **error)
{
    tt_series_reader *r = tt_series_open(path, error);
    if (!r)
        return FALSE;
    GString *s = g_string_new(NULL);
    GHashTable *groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    uint64_t flows = 0, packets = 0;
    tt_series_flow f;
    int rc;
    while ((rc = tt_series_next(r, &f, error)) == 1) {
        if (!g_hash_table_contains(groups, f.group)) {
            if (g_hash_table_size(groups) == n_groups)
                break;                               /* a corpus keeps a session's flows together */
            g_hash_table_add(groups, g_strdup(f.group));
        }
        g_string_append_printf(s, "%s\n", f.text);
        flows++;
        packets += f.times->len;
    }
    char *tick = tt_tick_format(r->tick);
    char *head = g_strdup_printf("#ttseries v2 %s\n#meta slice_of=%s groups=%u\n#sections 1\n", tick, path,
                                 g_hash_table_size(groups));
    g_string_prepend(s, head);
    g_string_append_printf(s, "#end section=1 flows=%" G_GUINT64_FORMAT " packets=%" G_GUINT64_FORMAT "\n", flows, packets);
    gboolean ok = rc >= 0 && r->version == 2;
    if (rc >= 0 && !ok)
        g_set_error(error, TT_ERROR, TT_ERROR_INVALID, "%s: only v2 series can be sliced", path);
    if (ok)
        ok = g_file_set_contents(out, s->str, (gssize)s->len, error);
    g_free(tick);
    g_free(head);
    g_string_free(s, TRUE);
    g_hash_table_destroy(groups);
    tt_series_close(r);
    return ok;
}
