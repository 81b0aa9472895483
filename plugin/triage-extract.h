/* TrafficTriage plugin: the only code that reads packet_info and the
 * protocol tree. It turns one dissected frame into a tt_packet (innermost IP
 * header's 5-tuple, its IP length, arrival time) for the engine.
 */
#ifndef TRIAGE_EXTRACT_H
#define TRIAGE_EXTRACT_H

#include "ws-compat.h"
#include "tt_types.h"

/* Look up the hfids of the fields the extractor reads (ip.len, ipv6.plen).
 * Call once all protocols are registered (handoff or init routine). */
void triage_extract_lookup_fields(void);

/* A new GArray of those hfids, for set_postdissector_wanted_hfids() (which
 * takes ownership). */
GArray *triage_extract_wanted_hfids(void);

/* Fill pkt from the frame. Returns FALSE when the frame is not TCP or UDP
 * over IPv4/IPv6 or carries no usable IP length; pkt is then undefined. */
gboolean triage_extract_packet(packet_info *pinfo, proto_tree *tree, tt_packet *pkt);

#endif
