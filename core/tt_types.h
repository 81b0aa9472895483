/* TrafficTriage core: shared plain types.
 *
 * Everything in core/ is independent of Wireshark: it needs GLib and
 * (optionally) OpenBLAS only. See models/FLOWPIC.md for the meaning of every
 * field of tt_spec and models/FORMAT.md for how it is stored in a model file.
 */
#ifndef TT_TYPES_H
#define TT_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

#define TT_ERROR (tt_error_quark())
GQuark tt_error_quark(void);

typedef enum {
    TT_ERROR_IO = 1,      /* file could not be read or written */
    TT_ERROR_FORMAT,      /* malformed input (model file, manifest, series) */
    TT_ERROR_VERSION,     /* model file written by an incompatible version */
    TT_ERROR_CHECKSUM,    /* model file checksum mismatch */
    TT_ERROR_LIMIT,       /* a count or dimension exceeds a hard bound */
    TT_ERROR_SHAPE,       /* layer shapes do not chain */
    TT_ERROR_INVALID      /* invalid argument / value */
} TtError;

/* Hard bounds: nothing read from a file may exceed these. */
#define TT_MAX_CLASSES      64
#define TT_MAX_CLASS_NAME   63        /* bytes, without the NUL */
#define TT_MAX_IMAGE_SIDE   4096      /* bins per image axis */
#define TT_MAX_LAYERS       32
#define TT_MAX_PARAMS       (64u * 1024u * 1024u)   /* floats in one net */
#define TT_MAX_ACTIVATIONS  (32u * 1024u * 1024u)   /* floats per layer output */
#define TT_MAX_TOTAL_ACTIVATIONS (64u * 1024u * 1024u) /* floats over all layer outputs */
#define TT_MAX_WORK         (1000u * 1000u * 1000u) /* dense multiply-adds per picture (paper net: 108 M) */

/* What happens to a packet whose IP length exceeds spec.max_size. */
typedef enum { TT_SIZE_DROP = 0, TT_SIZE_CLIP = 1 } tt_size_policy;

/* How arrival times map onto the time axis of a FlowPic. */
typedef enum {
    TT_TIME_FIXED = 0,   /* [0, block_seconds) maps onto time_bins columns */
    TT_TIME_SPAN = 1,    /* [first, last] packet of the block maps onto time_bins */
    TT_TIME_SEQUENCE = 2 /* no time axis: column i = the block's i-th packet; the lower half
                          * of the rows its size, the upper half the log gap to packet i-1
                          * (models/FLOWPIC.md, "The sequence picture") */
} tt_time_scale;

/* What a pixel value is, given the packet count c in its bin. */
typedef enum {
    TT_COUNT_RAW = 0,        /* c (the FlowPic paper) */
    TT_COUNT_CLIP_SCALE = 1, /* min(c, count_clip) / count_clip (tcbench) */
    TT_COUNT_LOG1P = 2       /* log(1 + c) */
} tt_count_transform;

/* The input specification of a model: how packets become a picture. */
typedef struct {
    double   block_seconds;   /* length of a block; > 0 */
    double   idle_timeout;    /* a flow idle this long ends (seconds, > 0) */
    double   min_span;        /* a block must span at least this (s); 0 = no rule */
    uint32_t time_bins;       /* image width  (columns = time) */
    uint32_t size_bins;       /* image height (rows = packet size) */
    uint32_t max_size;        /* sizes 1..max_size map onto size_bins rows */
    uint32_t min_packets;     /* fewer packets in a block => too few */
    uint32_t max_packets;     /* packets stored per block (cap); later ones are counted only */
    uint8_t  size_policy;     /* tt_size_policy */
    uint8_t  time_scale;      /* tt_time_scale */
    uint8_t  count_transform; /* tt_count_transform */
    uint8_t  reserved;
    float    count_clip;      /* for TT_COUNT_CLIP_SCALE; > 0 */
} tt_spec;

/* The paper's canonical input: 1500 x 1500, 60 s, raw counts, drop > 1500. */
void tt_spec_init_paper(tt_spec *spec);
/* mini-FlowPic (tcbench): side x side, 15 s, clip sizes, counts clipped at 255 and scaled. */
void tt_spec_init_mini(tt_spec *spec, uint32_t side);
/* Check every field; returns FALSE with a TT_ERROR on a bad spec. */
gboolean tt_spec_validate(const tt_spec *spec, GError **error);
/* The names of the time scales ("fixed", "span", "sequence") and count transforms ("raw",
 * "clip", "log"), as the trainer's options spell them: the value, or -1 for
 * another name. */
int tt_time_scale_from_name(const char *name);
int tt_count_transform_from_name(const char *name);

/* A directed 5-tuple. Always zero-initialise (it is hashed bytewise). */
typedef struct {
    uint8_t  src[16];    /* IPv4 uses the first 4 bytes */
    uint8_t  dst[16];
    uint16_t sport, dport;
    uint8_t  family;     /* 4 or 6 */
    uint8_t  proto;      /* 6 = TCP, 17 = UDP */
    uint8_t  pad[2];
} tt_key;

/* Fill the reverse direction of k into r. */
void tt_key_reverse(const tt_key *k, tt_key *r);
/* "tcp 10.0.0.1:1234 -> 10.0.0.2:80" into buf (>= 112 bytes). */
const char *tt_key_format(const tt_key *k, char *buf, size_t len);

/* Packet time in seconds from a (seconds, nanoseconds) timestamp. The plugin
 * and the capture reader both use this, so they compute identical doubles. */
static inline double tt_time(int64_t secs, int32_t nsecs)
{
    return (double)secs + (double)nsecs / 1e9;   /* as Wireshark's nstime_to_sec() */
}

/* One packet as the engine sees it. */
typedef struct {
    double   ts;        /* arrival time, seconds (any origin, e.g. epoch) */
    uint32_t ip_len;    /* IP total length of the innermost IP header (IPv6: 40 + payload length) */
    tt_key   key;
} tt_packet;

/* A packet stored in a block: time since the block's start, and size. */
typedef struct {
    float    t;         /* seconds since block start, >= 0 */
    uint32_t size;      /* IP total length as seen (before the size policy) */
} tt_pkt;

/* A non-zero pixel of a FlowPic: idx = row * time_bins + col. */
typedef struct {
    uint32_t idx;
    float    v;
} tt_pixel;

G_END_DECLS

#endif
