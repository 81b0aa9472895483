/* TrafficTriage core: specs, keys and the error domain. */
#include "tt_types.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(tt-error-quark, tt_error)

/* What the stock specs share (sizes up to 1500 bytes, fixed time scale, at least 10
 * and at most 20000 packets a block, counts clipped at 255 where clipped), with
 * the picture side, timings and policies each chooses. */
static void spec_init(tt_spec *spec, uint32_t side, double block_seconds, double idle_timeout,
                      tt_size_policy size_policy, tt_count_transform count_transform)
{
    memset(spec, 0, sizeof *spec);
    spec->block_seconds = block_seconds;
    spec->idle_timeout = idle_timeout;
    spec->min_span = 0.0;
    spec->time_bins = side;
    spec->size_bins = side;
    spec->max_size = 1500;
    spec->min_packets = 10;
    spec->max_packets = 20000;
    spec->size_policy = (uint8_t)size_policy;
    spec->time_scale = TT_TIME_FIXED;
    spec->count_transform = (uint8_t)count_transform;
    spec->count_clip = 255.0f;
}

void tt_spec_init_paper(tt_spec *spec)
{
    spec_init(spec, 1500, 60.0, 120.0, TT_SIZE_DROP, TT_COUNT_RAW);
}

void tt_spec_init_mini(tt_spec *spec, uint32_t side)
{
    spec_init(spec, side, 15.0, 60.0, TT_SIZE_CLIP, TT_COUNT_CLIP_SCALE);
}

gboolean tt_spec_validate(const tt_spec *s, GError **error)
{
#define BAD(...) do { g_set_error(error, TT_ERROR, TT_ERROR_INVALID, __VA_ARGS__); return FALSE; } while (0)
    if (!isfinite(s->block_seconds) || s->block_seconds <= 0.0 || s->block_seconds > 86400.0)
        BAD("block length %g s is out of range (0, 86400]", s->block_seconds);
    if (!isfinite(s->idle_timeout) || s->idle_timeout <= 0.0 || s->idle_timeout > 86400.0)
        BAD("idle timeout %g s is out of range (0, 86400]", s->idle_timeout);
    if (!isfinite(s->min_span) || s->min_span < 0.0 || s->min_span > s->block_seconds)
        BAD("minimum span %g s is out of range [0, block length]", s->min_span);
    if (s->time_bins == 0 || s->time_bins > TT_MAX_IMAGE_SIDE)
        BAD("time bins %u out of range 1..%u", s->time_bins, TT_MAX_IMAGE_SIDE);
    if (s->size_bins == 0 || s->size_bins > TT_MAX_IMAGE_SIDE)
        BAD("size bins %u out of range 1..%u", s->size_bins, TT_MAX_IMAGE_SIDE);
    if (s->max_size == 0 || s->max_size > 65535)
        BAD("maximum packet size %u out of range 1..65535", s->max_size);
    if (s->max_packets == 0 || s->max_packets > 10000000)
        BAD("packet cap per block %u out of range 1..10000000", s->max_packets);
    if (s->min_packets > s->max_packets)
        BAD("minimum packets %u exceeds the packet cap %u", s->min_packets, s->max_packets);
    if (s->size_policy > TT_SIZE_CLIP)
        BAD("unknown size policy %u", s->size_policy);
    if (s->time_scale > TT_TIME_SEQUENCE)
        BAD("unknown time scale %u (0 fixed, 1 span, 2 sequence)", s->time_scale);
    if (s->time_scale == TT_TIME_SEQUENCE && s->size_bins % 2)
        BAD("the sequence picture needs an even number of size bins (two halves), not %u", s->size_bins);
    if (s->time_scale == TT_TIME_SEQUENCE && s->size_policy != TT_SIZE_CLIP)
        BAD("the sequence picture clips sizes above the maximum: its size policy must be clip");
    if (s->count_transform > TT_COUNT_LOG1P)
        BAD("unknown count transform %u", s->count_transform);
    if (!isfinite(s->count_clip) || s->count_clip <= 0.0f)
        BAD("count clip %g must be positive", (double)s->count_clip);
    return TRUE;
#undef BAD
}

static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

int tt_time_scale_from_name(const char *name)
{
    static const char *const names[] = { [TT_TIME_FIXED] = "fixed", [TT_TIME_SPAN] = "span",
                                         [TT_TIME_SEQUENCE] = "sequence" };
    return name_index(names, G_N_ELEMENTS(names), name);
}

int tt_count_transform_from_name(const char *name)
{
    static const char *const names[] = { [TT_COUNT_RAW] = "raw", [TT_COUNT_CLIP_SCALE] = "clip",
                                         [TT_COUNT_LOG1P] = "log" };
    return name_index(names, G_N_ELEMENTS(names), name);
}

void tt_key_reverse(const tt_key *k, tt_key *r)
{
    tt_key t;
    memset(&t, 0, sizeof t);
    memcpy(t.src, k->dst, sizeof t.src);
    memcpy(t.dst, k->src, sizeof t.dst);
    t.sport = k->dport;
    t.dport = k->sport;
    t.family = k->family;
    t.proto = k->proto;
    *r = t;
}

static void format_addr(const uint8_t *a, int family, char *buf, size_t len)
{
    if (family == 4) {
        g_snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    } else {
        /* Plain, uncompressed IPv6 notation is enough for logs and tables. */
        g_snprintf(buf, len, "%x:%x:%x:%x:%x:%x:%x:%x",
                   (a[0] << 8) | a[1], (a[2] << 8) | a[3], (a[4] << 8) | a[5],
                   (a[6] << 8) | a[7], (a[8] << 8) | a[9], (a[10] << 8) | a[11],
                   (a[12] << 8) | a[13], (a[14] << 8) | a[15]);
    }
}

const char *tt_key_format(const tt_key *k, char *buf, size_t len)
{
    char s[48], d[48];
    format_addr(k->src, k->family, s, sizeof s);
    format_addr(k->dst, k->family, d, sizeof d);
    const char *p = k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : "ip";
    if (k->family == 6)
        g_snprintf(buf, len, "%s [%s]:%u -> [%s]:%u", p, s, k->sport, d, k->dport);
    else
        g_snprintf(buf, len, "%s %s:%u -> %s:%u", p, s, k->sport, d, k->dport);
    return buf;
}
