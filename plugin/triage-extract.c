/* TrafficTriage plugin: frame -> tt_packet. See triage-extract.h. */
#define _GNU_SOURCE 1          /* memmem */
#include "triage-extract.h"

#include <string.h>
#include <epan/address.h>
#include <epan/ipproto.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h>

/* The IP length is read from the innermost IP header's bytes, not from the
 * protocol tree: asking for ip.len made Wireshark build a full tree for
 * every frame of the first pass, which was most of the plugin's cost
 * (tests/bench/FINDINGS.md F6). The header is found in the frame's data
 * sources (the frame itself, or a reassembled/decrypted buffer), located by
 * the addresses the IP dissector left in pinfo->net_src/net_dst. */

static pref_t *ip_tso_pref;      /* ip.tso_support: zero total length = TSO */
static int proto_ip = -1, proto_ipv6 = -1, proto_tcp = -1, proto_udp = -1;
static int proto_icmp = -1, proto_icmpv6 = -1;

void
triage_extract_lookup_prefs(void)
{
    module_t *ip = prefs_find_module("ip");
    ip_tso_pref = ip ? prefs_find_preference(ip, "tso_support") : NULL;
    proto_ip = proto_get_id_by_filter_name("ip");
    proto_ipv6 = proto_get_id_by_filter_name("ipv6");
    proto_tcp = proto_get_id_by_filter_name("tcp");
    proto_udp = proto_get_id_by_filter_name("udp");
    proto_icmp = proto_get_id_by_filter_name("icmp");
    proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
}

/* One walk over the frame's layers (protocol ids, no name comparisons).
 * The innermost IP packet must be the TCP/UDP one: a TCP or UDP layer after
 * the last IP layer. Otherwise pinfo's ports belong to an outer packet (e.g.
 * GTP-U or VXLAN carrying ESP, or an inner IP fragment) while its addresses
 * are the inner ones: no flow of its own, as the trainer's reader
 * (core/io/tt_capture.c) decides. And no ICMP anywhere: an ICMP error quotes
 * the header of the packet that caused it, whose TCP/UDP header sets ports
 * (and the quoted IP header the addresses) as if that packet were seen
 * again. */
static gboolean
own_transport_layer(packet_info *pinfo)
{
    gboolean ok = FALSE;
    for (wmem_list_frame_t *f = wmem_list_head(pinfo->layers); f != NULL; f = wmem_list_frame_next(f)) {
        int id = GPOINTER_TO_INT(wmem_list_frame_data(f));
        if (id == proto_ip || id == proto_ipv6)
            ok = FALSE;
        else if (id == proto_tcp || id == proto_udp)
            ok = TRUE;
        else if (id == proto_icmp || id == proto_icmpv6)
            return FALSE;
    }
    return ok;
}

static gboolean
ip_tso_supported(void)
{
    /* Wireshark's default is on; follow the user's setting when it can be read */
    return ip_tso_pref == NULL || prefs_get_bool_value(ip_tso_pref, pref_current);
}

/* The data source that holds bytes [p, p + n), and p's offset in it. */
static tvbuff_t *
source_of(packet_info *pinfo, const guint8 *p, guint n, guint *off)
{
    for (GSList *l = pinfo->data_src; l != NULL; l = l->next) {
        tvbuff_t *t = get_data_source_tvb((const struct data_source *)l->data);
        guint cap = t ? tvb_captured_length(t) : 0;
        if (cap < n)
            continue;
        uintptr_t b = (uintptr_t)tvb_get_ptr(t, 0, cap), q = (uintptr_t)p;
        if (q >= b && q - b <= cap - n) {
            *off = (guint)(q - b);
            return t;
        }
    }
    return NULL;
}

/* Header geometry per family: where the two addresses start, their size and
 * the minimal header length. */
typedef struct {
    guint version, addr_at, addr_len, min_len;
} ip_shape;
static const ip_shape ipv4_shape = { 4, 12, 4, 20 };
static const ip_shape ipv6_shape = { 6, 8, 16, 40 };

static gboolean
header_at(const ip_shape *sh, const guint8 *h, guint avail, const guint8 *src, const guint8 *dst)
{
    if (avail < sh->min_len || (h[0] >> 4) != sh->version)
        return FALSE;
    if (sh->version == 4 && (h[0] & 0x0f) < 5)
        return FALSE;
    return memcmp(h + sh->addr_at, src, sh->addr_len) == 0 &&
           memcmp(h + sh->addr_at + sh->addr_len, dst, sh->addr_len) == 0;
}

/* Find the innermost header with these addresses: first where net_src points
 * (IPv4 in every release: the address refers to the header bytes), else the
 * last match in the last data source that has one (IPv6 addresses are copies
 * in Wireshark 4.0). Returns the source tvb and the header's offset in it. */
static tvbuff_t *
find_header(packet_info *pinfo, const ip_shape *sh, guint *off)
{
    const guint8 *src = (const guint8 *)pinfo->net_src.data;
    const guint8 *dst = (const guint8 *)pinfo->net_dst.data;

    tvbuff_t *t = source_of(pinfo, src, sh->addr_len, off);
    if (t != NULL && *off >= sh->addr_at) {
        guint h = *off - sh->addr_at;
        guint cap = tvb_captured_length(t);
        if (h + sh->min_len <= cap &&
            header_at(sh, tvb_get_ptr(t, h, sh->min_len), sh->min_len, src, dst)) {
            *off = h;
            return t;
        }
    }

    tvbuff_t *found = NULL;
    guint8 pat[32];
    memcpy(pat, src, sh->addr_len);
    memcpy(pat + sh->addr_len, dst, sh->addr_len);
    for (GSList *l = pinfo->data_src; l != NULL; l = l->next) {
        tvbuff_t *s = get_data_source_tvb((const struct data_source *)l->data);
        guint cap = s ? tvb_captured_length(s) : 0;
        if (cap < sh->min_len)
            continue;
        const guint8 *b = tvb_get_ptr(s, 0, cap);
        const guint8 *p = b + sh->addr_at;
        const guint8 *end = b + cap;
        const guint8 *m;
        while (p < end && (m = memmem(p, (size_t)(end - p), pat, 2 * sh->addr_len)) != NULL) {
            const guint8 *h = m - sh->addr_at;
            if (m >= b + sh->addr_at && header_at(sh, h, (guint)(end - h), src, dst)) {
                found = s;
                *off = (guint)(h - b);
            }
            p = m + 1;
        }
    }
    return found;
}

/* Copy an AT_IPv4 / AT_IPv6 address into 16 bytes; returns the family (4/6) or 0. */
static int
copy_addr(const address *a, uint8_t out[16])
{
    if (a->type == AT_IPv4 && a->len == 4) {
        memcpy(out, a->data, 4);
        return 4;
    }
    if (a->type == AT_IPv6 && a->len == 16) {
        memcpy(out, a->data, 16);
        return 6;
    }
    return 0;
}

gboolean
triage_extract_packet(packet_info *pinfo, tt_packet *pkt)
{
    uint8_t proto;
    if (pinfo->ptype == PT_TCP)
        proto = IP_PROTO_TCP;
    else if (pinfo->ptype == PT_UDP)
        proto = IP_PROTO_UDP;
    else
        return FALSE;

    if (!own_transport_layer(pinfo))
        return FALSE;

    memset(pkt, 0, sizeof *pkt);   /* the key is hashed bytewise */
    int fs = copy_addr(&pinfo->net_src, pkt->key.src);
    int fd = copy_addr(&pinfo->net_dst, pkt->key.dst);
    if (fs == 0 || fs != fd)
        return FALSE;

    /* net_src is the innermost IP header's address, so its family tells which
     * header to read. The length field is in the header itself: it survives
     * snaplen truncation of the payload. Same values as Wireshark's ip.len
     * (with its TSO substitute) and 40 + ipv6.plen. */
    guint off = 0;
    const ip_shape *sh = fs == 4 ? &ipv4_shape : &ipv6_shape;
    tvbuff_t *t = find_header(pinfo, sh, &off);
    if (t == NULL)
        return FALSE;
    guint32 len;
    if (fs == 4) {
        len = tvb_get_ntohs(t, off + 2);
        if (len == 0 && ip_tso_supported()) {
            guint rep = tvb_reported_length(t);
            len = rep > off ? rep - off : 0;
        }
    } else {
        len = 40 + tvb_get_ntohs(t, off + 4);
    }
    if (len == 0)
        return FALSE;

    pkt->ip_len = len;
    pkt->ts = nstime_to_sec(&pinfo->abs_ts);
    pkt->key.family = (uint8_t)fs;
    pkt->key.proto = proto;
    pkt->key.sport = (uint16_t)pinfo->srcport;
    pkt->key.dport = (uint16_t)pinfo->destport;
    return TRUE;
}
