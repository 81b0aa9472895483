/* TrafficTriage plugin: the only code that reads packet_info and the frame's
 * bytes. It turns one dissected frame into a tt_packet (innermost IP
 * header's 5-tuple, its IP length, arrival time) for the engine. It needs no
 * protocol tree, so the first pass runs without one unless something else
 * asks for it.
 */
#ifndef TRIAGE_EXTRACT_H
#define TRIAGE_EXTRACT_H

#include "ws-compat.h"
#include "tt_types.h"

/* Look up the IP dissector's preferences the extractor follows (TSO length
 * substitute). Call once all protocols are registered (handoff or init). */
void triage_extract_lookup_prefs(void);

/* Fill pkt from the frame. Returns FALSE when the frame is not TCP or UDP
 * over IPv4/IPv6 or carries no usable IP length; pkt is then undefined. */
gboolean triage_extract_packet(packet_info *pinfo, tt_packet *pkt);

#endif
