/* TrafficTriage core: reading packets from pcap / pcapng files (libpcap),
 * with the same view of a packet as the Wireshark plugin: the innermost IPv4
 * or IPv6 header's total length (IPv6: 40 + payload length, even when the
 * frame is truncated by the snap length), the innermost TCP/UDP ports, the
 * capture timestamp. Understood encapsulations: Ethernet (with 802.1Q/QinQ
 * tags, PPPoE, MPLS), Linux cooked (SLL, SLL2), PPI, BSD loopback, raw IP; IP-in-IP (4in4,
 * 6in4, 4in6, 6in6), GRE (IPv4/IPv6/transparent Ethernet), VXLAN on UDP 4789,
 * GTP-U on UDP 2152 (as Wireshark dissects them by default). An IPv4 total
 * length of 0 (TCP segmentation offload) counts as the captured length, as in
 * Wireshark. IP fragments: as after Wireshark's reassembly, a fragmented
 * TCP/UDP datagram counts once, at its last fragment, with that fragment's IP
 * length and the ports of its first fragment (tt_capture_next; the stateless
 * tt_parse_frame skips fragments).
 */
#ifndef TT_CAPTURE_H
#define TT_CAPTURE_H

#include "tt_types.h"

G_BEGIN_DECLS

typedef struct tt_capture tt_capture;

tt_capture *tt_capture_open(const char *path, GError **error);
void tt_capture_close(tt_capture *c);

/* Next TCP/UDP packet. Returns 1 with *pkt filled and *frame = 1-based frame
 * number of the file, 0 at the end, -1 on a read error (error set). Frames
 * without a TCP/UDP packet are skipped. */
int tt_capture_next(tt_capture *c, tt_packet *pkt, uint64_t *frame, GError **error);
/* The capture timestamp of the packet tt_capture_next returned last, as
 * stored (pkt->ts == tt_time(*sec, *nsec)): for writers that keep it exactly. */
void tt_capture_time(const tt_capture *c, int64_t *sec, int32_t *nsec);
/* The innermost IP header of that packet (the one its key and ip_len come
 * from) and its captured bytes, at most the IP total length: for readers of
 * the payload (`traffictriage label` feeds it to nDPI). Valid until the next
 * tt_capture_next. FALSE (*ip NULL) before the first packet. */
gboolean tt_capture_ip(const tt_capture *c, const guint8 **ip, size_t *caplen);

/* Parse one frame of the given DLT link type. Returns TRUE for TCP/UDP. */
gboolean tt_parse_frame(int linktype, const guint8 *data, size_t caplen,
                        tt_packet *pkt);

G_END_DECLS

#endif
