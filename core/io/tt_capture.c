/* TrafficTriage core: packets from pcap / pcapng files (tt_capture.h). */
#include "tt_capture.h"

#include <pcap/pcap.h>
#include <string.h>

struct tt_capture;

#define MAX_DEPTH 8   /* nested encapsulations followed at most */

static uint16_t be16(const guint8 *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* First fragments seen, to give a datagram's last fragment its ports as
 * Wireshark's reassembly does (key: family, addresses, IP id, protocol). */
typedef struct {
    GHashTable *first;     /* frag_key* -> frag_val* */
    const guint8 *ip;      /* innermost IP header of the packet returned (tt_capture_ip) */
    size_t ip_caplen;      /* its captured bytes, at most its total length */
} frag_table;

typedef struct {
    uint8_t  family, proto, pad[2];
    uint32_t id;
    uint8_t  src[16], dst[16];
} frag_key;

typedef struct {
    uint16_t sport, dport;
} frag_val;

#define FRAG_TABLE_MAX 8192   /* beyond it the table starts over: memory stays bounded */

static guint frag_hash(gconstpointer p)
{
    const frag_key *k = p;
    guint h = k->id * 2654435761u ^ k->proto ^ ((guint)k->family << 8);
    for (int i = 0; i < 16; i++)
        h = h * 31 + k->src[i] + k->dst[i] * 7u;
    return h;
}

static gboolean frag_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(frag_key)) == 0;
}

/* A fragment: remember the first one's ports, and return TRUE (with the
 * packet's ports filled) for the last one when its first one was seen. */
static gboolean fragment(frag_table *ft, tt_packet *pkt, uint32_t id, int proto,
                         gboolean first, gboolean last, gboolean complete,
                         const guint8 *l4, size_t l4len)
{
    if (!ft || (proto != 6 && proto != 17))
        return FALSE;
    frag_key k;
    memset(&k, 0, sizeof k);
    k.family = pkt->key.family;
    k.proto = (uint8_t)proto;
    k.id = id;
    memcpy(k.src, pkt->key.src, 16);
    memcpy(k.dst, pkt->key.dst, 16);
    if (first) {
        if (l4len < 4)
            return FALSE;
        if (!ft->first)
            ft->first = g_hash_table_new_full(frag_hash, frag_equal, g_free, g_free);
        if (g_hash_table_size(ft->first) >= FRAG_TABLE_MAX)
            g_hash_table_remove_all(ft->first);
        frag_val *v = g_new(frag_val, 1);
        v->sport = be16(l4);
        v->dport = be16(l4 + 2);
        g_hash_table_replace(ft->first, g_memdup2(&k, sizeof k), v);
        return FALSE;
    }
    if (!ft->first)
        return FALSE;
    if (!complete) {                  /* a fragment cut by the snap length: no reassembly */
        g_hash_table_remove(ft->first, &k);
        return FALSE;
    }
    if (!last)
        return FALSE;
    frag_val *v = g_hash_table_lookup(ft->first, &k);
    if (!v)
        return FALSE;
    pkt->key.proto = (uint8_t)proto;
    pkt->key.sport = v->sport;
    pkt->key.dport = v->dport;
    g_hash_table_remove(ft->first, &k);
    return TRUE;
}

static uint32_t le32(const guint8 *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }

struct tt_capture {
    pcap_t    *p;
    int        linktype;
    uint64_t   frame;
    char      *path;
    frag_table frags;
    int64_t    sec;        /* timestamp of the packet last returned */
    int32_t    nsec;
};

static gboolean parse_ip(const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth);
static gboolean parse_ether(const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth);

static gboolean by_ethertype(uint16_t et, const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth)
{
    if (et == 0x0800 || et == 0x86dd)
        return parse_ip(d, len, pkt, ft, depth + 1);
    if (et == 0x8864 && len >= 8) {             /* PPPoE session: 6-byte header, PPP protocol */
        uint16_t ppp = be16(d + 6);
        if (ppp == 0x0021 || ppp == 0x0057)     /* IPv4, IPv6 */
            return parse_ip(d + 8, len - 8, pkt, ft, depth + 1);
        return FALSE;
    }
    if (et == 0x8847 || et == 0x8848) {         /* MPLS: labels up to bottom of stack, then IP */
        size_t off = 0;
        for (int i = 0; i < 16; i++, off += 4) {
            if (off + 4 > len)
                return FALSE;
            if (d[off + 2] & 0x01) {
                off += 4;
                return off < len ? parse_ip(d + off, len - off, pkt, ft, depth + 1) : FALSE;
            }
        }
    }
    return FALSE;
}

/* Layer 4 (and tunnels carried in it). ip_len and addresses are already set
 * for this IP header; an inner IP header overwrites them. */
static gboolean parse_l4(int proto, const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth)
{
    switch (proto) {
    case 4:     /* IPv4 in IP */
    case 41: {  /* IPv6 in IP */
        tt_packet inner = *pkt;
        if (parse_ip(d, len, &inner, ft, depth + 1)) {
            *pkt = inner;
            return TRUE;
        }
        return FALSE;
    }
    case 47: {  /* GRE */
        if (len < 4)
            return FALSE;
        uint16_t flags = be16(d), ptype = be16(d + 2);
        if (flags & 0x0007)                    /* version != 0 (e.g. PPTP's enhanced GRE) */
            return FALSE;
        size_t off = 4;
        if (flags & 0x8000) off += 4;          /* checksum + reserved */
        if (flags & 0x2000) off += 4;          /* key */
        if (flags & 0x1000) off += 4;          /* sequence number */
        if (off > len)
            return FALSE;
        tt_packet inner = *pkt;
        gboolean ok = ptype == 0x6558 ? parse_ether(d + off, len - off, &inner, ft, depth + 1)
                                      : by_ethertype(ptype, d + off, len - off, &inner, ft, depth);
        if (ok)
            *pkt = inner;
        return ok;
    }
    case 6:
    case 17: {
        if (len < 4)
            return FALSE;                      /* ports truncated: Wireshark has no ports either */
        pkt->key.proto = (uint8_t)proto;
        pkt->key.sport = be16(d);
        pkt->key.dport = be16(d + 2);
        if (proto == 17 && (pkt->key.dport == 2152 || pkt->key.sport == 2152) && len >= 8 + 8) {
            /* GTP-U (3GPP TS 29.281): version 1, PT 1, message type 255 (T-PDU) carries IP. */
            const guint8 *g = d + 8;
            size_t glen = len - 8, off = 8;
            if ((g[0] >> 5) == 1 && (g[0] & 0x10) && g[1] == 0xff) {
                if (g[0] & 0x07) {                       /* E, S or PN: 4 more bytes */
                    if (glen < 12)
                        return TRUE;
                    off = 12;
                    uint8_t next = g[11];
                    while ((g[0] & 0x04) && next != 0) {  /* extension headers, 4n bytes each */
                        if (off >= glen || g[off] == 0)
                            return TRUE;
                        size_t elen = (size_t)g[off] * 4;
                        if (off + elen > glen)
                            return TRUE;
                        next = g[off + elen - 1];
                        off += elen;
                    }
                }
                tt_packet inner = *pkt;
                inner.key.family = 0;
                if (off < glen && parse_ip(g + off, glen - off, &inner, ft, depth + 1)) {
                    *pkt = inner;
                    return TRUE;
                }
                if (inner.key.family != 0)
                    return FALSE;   /* inner IP packet, not TCP/UDP (or a fragment): no flow */
            }
            return TRUE;
        }
        if (proto == 17 && pkt->key.dport == 4789 && len >= 8 + 8 + 14) {
            /* VXLAN: UDP header, 8-byte VXLAN header with the I flag, then Ethernet. */
            const guint8 *v = d + 8;
            if (v[0] & 0x08) {
                tt_packet inner = *pkt;
                inner.key.family = 0;
                if (parse_ether(v + 8, len - 16, &inner, ft, depth + 1)) {
                    *pkt = inner;
                    return TRUE;
                }
                if (inner.key.family != 0)
                    return FALSE;   /* as GTP-U above */
            }
        }
        return TRUE;
    }
    default:
        return FALSE;
    }
}

/* An IP header whose packet was taken: remember it unless an inner one was
 * taken first (inner headers succeed before the outer ones return). */
static gboolean keep_ip(frag_table *ft, const guint8 *ip, size_t caplen, gboolean taken)
{
    if (taken && ft && !ft->ip) {
        ft->ip = ip;
        ft->ip_caplen = caplen;
    }
    return taken;
}

static gboolean parse_ip(const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth)
{
    if (depth > MAX_DEPTH || len < 1)
        return FALSE;
    int version = d[0] >> 4;
    if (version == 4) {
        if (len < 20)
            return FALSE;
        size_t ihl = (size_t)(d[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len)
            return FALSE;
        uint32_t total = be16(d + 2);
        uint16_t frag = be16(d + 6);
        if (total == 0)                         /* TSO: Wireshark takes the captured length */
            total = (uint32_t)len;
        if (total < ihl)
            return FALSE;
        pkt->ip_len = total;
        pkt->key.family = 4;
        memset(pkt->key.src, 0, 16);
        memset(pkt->key.dst, 0, 16);
        memcpy(pkt->key.src, d + 12, 4);
        memcpy(pkt->key.dst, d + 16, 4);
        size_t avail = len < total ? len : total;  /* trailer padding is not payload */
        /* A fragment (MF set or offset != 0). Like Wireshark, a first fragment
         * whose bytes were not all captured is not reassembled but dissected
         * as it is. */
        gboolean truncated_first = (frag & 0x1fff) == 0 && len < total;
        if ((frag & 0x3fff) && !truncated_first)
            return keep_ip(ft, d, avail,
                           fragment(ft, pkt, be16(d + 4), d[9], (frag & 0x3fff) == 0x2000, (frag & 0x2000) == 0,
                                    len >= total, d + ihl, avail - ihl));
        return keep_ip(ft, d, avail, parse_l4(d[9], d + ihl, avail - ihl, pkt, ft, depth));
    }
    if (version == 6) {
        if (len < 40)
            return FALSE;
        uint16_t plen = be16(d + 4);
        pkt->ip_len = 40u + plen;
        pkt->key.family = 6;
        memcpy(pkt->key.src, d + 8, 16);
        memcpy(pkt->key.dst, d + 24, 16);
        int nh = d[6];
        size_t off = 40;
        size_t end = len < 40u + plen ? len : 40u + plen;
        for (int i = 0; i < 8; i++) {
            if (nh == 0 || nh == 43 || nh == 60) {      /* hop-by-hop, routing, destination */
                if (off + 8 > end)
                    return FALSE;
                int next = d[off];
                off += ((size_t)d[off + 1] + 1) * 8;
                nh = next;
            } else if (nh == 44) {                      /* fragment header */
                if (off + 8 > end)
                    return FALSE;
                uint16_t fo = be16(d + off + 2);
                if ((fo & 0xfff9) && !((fo & 0xfff8) == 0 && len < 40u + plen)) {  /* offset != 0 or M flag; not a truncated first fragment */
                    uint32_t id = ((uint32_t)be16(d + off + 4) << 16) | be16(d + off + 6);
                    int next = d[off];
                    off += 8;
                    return keep_ip(ft, d, end,
                                   fragment(ft, pkt, id, next, (fo & 0xfff8) == 0, (fo & 1) == 0,
                                            len >= 40u + plen, d + off, end > off ? end - off : 0));
                }
                nh = d[off];
                off += 8;
            } else if (nh == 51) {                      /* AH */
                if (off + 8 > end)
                    return FALSE;
                int next = d[off];
                off += ((size_t)d[off + 1] + 2) * 4;
                nh = next;
            } else {
                break;
            }
        }
        if (off > end)
            return FALSE;
        return keep_ip(ft, d, end, parse_l4(nh, d + off, end - off, pkt, ft, depth));
    }
    return FALSE;
}

static gboolean parse_ether(const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft, int depth)
{
    if (depth > MAX_DEPTH || len < 14)
        return FALSE;
    size_t off = 12;
    uint16_t et = be16(d + off);
    while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
        off += 4;
        if (off + 2 > len)
            return FALSE;
        et = be16(d + off);
    }
    off += 2;
    return by_ethertype(et, d + off, len - off, pkt, ft, depth);
}

static gboolean parse_frame(int linktype, const guint8 *d, size_t len, tt_packet *pkt, frag_table *ft)
{
    memset(&pkt->key, 0, sizeof pkt->key);
    pkt->ip_len = 0;
    switch (linktype) {
    case 192: { /* PPI: version, flags, header length (LE, fields included), inner DLT (LE) */
        if (len < 8 || d[0] != 0)
            return FALSE;
        size_t hlen = d[2] | ((size_t)d[3] << 8);
        uint32_t dlt = le32(d + 4);
        if (hlen < 8 || hlen > len || dlt == 192)
            return FALSE;
        return parse_frame((int)dlt, d + hlen, len - hlen, pkt, ft);
    }
    case DLT_EN10MB:
        return parse_ether(d, len, pkt, ft, 0);
    case DLT_RAW:
    case 101:   /* LINKTYPE_RAW */
    case 228:   /* LINKTYPE_IPV4 */
    case 229:   /* LINKTYPE_IPV6 */
        return parse_ip(d, len, pkt, ft, 0);
    case DLT_LINUX_SLL:
        if (len < 16)
            return FALSE;
        return by_ethertype(be16(d + 14), d + 16, len - 16, pkt, ft, 0);
    case 276:   /* LINUX_SLL2 */
        if (len < 20)
            return FALSE;
        return by_ethertype(be16(d), d + 20, len - 20, pkt, ft, 0);
    case DLT_NULL:
    case DLT_LOOP: {
        if (len < 4)
            return FALSE;
        uint32_t af = linktype == DLT_NULL ? le32(d) : (uint32_t)be16(d + 2);
        if (linktype == DLT_NULL && af > 0xffff)         /* written big-endian */
            af = (uint32_t)d[3] | ((uint32_t)d[2] << 8);
        if (af == 2)
            return parse_ip(d + 4, len - 4, pkt, ft, 0);
        if (af == 24 || af == 28 || af == 30 || af == 10)
            return parse_ip(d + 4, len - 4, pkt, ft, 0);
        return FALSE;
    }
    default:
        return FALSE;
    }
}

gboolean tt_parse_frame(int linktype, const guint8 *d, size_t len, tt_packet *pkt)
{
    return parse_frame(linktype, d, len, pkt, NULL);
}

tt_capture *tt_capture_open(const char *path, GError **error)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
        g_set_error(error, TT_ERROR, TT_ERROR_IO, "cannot read capture %s: %s", path, errbuf);
        return NULL;
    }
    tt_capture *c = g_new0(tt_capture, 1);
    c->p = p;
    c->linktype = pcap_datalink(p);
    c->path = g_strdup(path);
    return c;
}

void tt_capture_close(tt_capture *c)
{
    if (!c)
        return;
    pcap_close(c->p);
    if (c->frags.first)
        g_hash_table_destroy(c->frags.first);
    g_free(c->path);
    g_free(c);
}

int tt_capture_next(tt_capture *c, tt_packet *pkt, uint64_t *frame, GError **error)
{
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(c->p, &h, &data);
        if (r == PCAP_ERROR_BREAK)
            return 0;
        if (r < 0) {
            g_set_error(error, TT_ERROR, TT_ERROR_IO, "reading %s after frame %" G_GUINT64_FORMAT ": %s",
                        c->path, c->frame, pcap_geterr(c->p));
            return -1;
        }
        if (r == 0)
            continue;
        c->frame++;
        c->frags.ip = NULL;
        c->frags.ip_caplen = 0;
        /* pcapng files may mix link types per interface; libpcap reports one. */
        if (parse_frame(c->linktype, data, h->caplen, pkt, &c->frags)) {
            c->sec = (int64_t)h->ts.tv_sec;
            c->nsec = (int32_t)h->ts.tv_usec;                                    /* nanoseconds */
            pkt->ts = tt_time(c->sec, c->nsec);
            *frame = c->frame;
            return 1;
        }
    }
}

void tt_capture_time(const tt_capture *c, int64_t *sec, int32_t *nsec)
{
    *sec = c->sec;
    *nsec = c->nsec;
}

gboolean tt_capture_ip(const tt_capture *c, const guint8 **ip, size_t *caplen)
{
    *ip = c->frags.ip;
    *caplen = c->frags.ip ? c->frags.ip_caplen : 0;
    return c->frags.ip != NULL;
}
