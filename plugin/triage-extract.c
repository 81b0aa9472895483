/* TrafficTriage plugin: frame -> tt_packet. See triage-extract.h. */
#include "triage-extract.h"

#include <epan/address.h>
#include <epan/ipproto.h>

/* The fields read from the tree. The LAST occurrence in a frame belongs to
 * the innermost IP header (IP-in-IP, GRE, 6in4, ...). */
static int hf_ip_len = -1;       /* ip.len: IPv4 total length */
static int hf_ipv6_plen = -1;    /* ipv6.plen: IPv6 payload length */

void
triage_extract_lookup_fields(void)
{
    hf_ip_len = proto_registrar_get_id_byname("ip.len");
    hf_ipv6_plen = proto_registrar_get_id_byname("ipv6.plen");
}

GArray *
triage_extract_wanted_hfids(void)
{
    GArray *a = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    if (hf_ip_len > 0)
        g_array_append_val(a, hf_ip_len);
    if (hf_ipv6_plen > 0)
        g_array_append_val(a, hf_ipv6_plen);
    return a;
}

/* Value of the last occurrence of an unsigned field in the tree, or FALSE. */
static gboolean
last_uint(proto_tree *tree, int hf, guint32 *out)
{
    if (tree == NULL || hf <= 0)
        return FALSE;
    GPtrArray *fis = proto_get_finfo_ptr_array(tree, hf);
    if (fis == NULL || fis->len == 0)
        return FALSE;
    field_info *fi = (field_info *)g_ptr_array_index(fis, fis->len - 1);
    *out = TRIAGE_FINFO_UINT(fi);
    return TRUE;
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
triage_extract_packet(packet_info *pinfo, proto_tree *tree, tt_packet *pkt)
{
    uint8_t proto;
    if (pinfo->ptype == PT_TCP)
        proto = IP_PROTO_TCP;
    else if (pinfo->ptype == PT_UDP)
        proto = IP_PROTO_UDP;
    else
        return FALSE;

    /* An ICMP error quotes the header of the packet that caused it: the
     * quoted TCP/UDP header sets ports (and the quoted IP header the
     * addresses) as if the original packet had been seen again. */
    if (proto_is_frame_protocol(pinfo->layers, "icmp") ||
        proto_is_frame_protocol(pinfo->layers, "icmpv6"))
        return FALSE;

    memset(pkt, 0, sizeof *pkt);   /* the key is hashed bytewise */
    int fs = copy_addr(&pinfo->net_src, pkt->key.src);
    int fd = copy_addr(&pinfo->net_dst, pkt->key.dst);
    if (fs == 0 || fs != fd)
        return FALSE;

    /* net_src is the innermost IP header's address, so its family tells which
     * length field is the innermost one. The length field is in the IP header
     * itself: it survives snaplen truncation of the payload. */
    guint32 len = 0;
    if (fs == 4) {
        if (!last_uint(tree, hf_ip_len, &len))
            return FALSE;
    } else {
        if (!last_uint(tree, hf_ipv6_plen, &len))
            return FALSE;
        len += 40;             /* IPv6: fixed header + payload length */
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
