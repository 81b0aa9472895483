/* TrafficTriage plugin: live capture, what Wireshark 4.0 does not tell a
 * dissector. Whether the capture is live, whether the program prints its
 * first pass (tshark) or re-dissects what it shows (the GUI), and a call
 * when a live tshark capture stops, before its -z reports are printed. */
#ifndef TRIAGE_LIVE_H
#define TRIAGE_LIVE_H

#include "ws-compat.h"

/* Whether the capture being opened is live: a dumpcap child of this process
 * runs (tshark and the GUI open a live capture's file after starting
 * dumpcap). Read from /proc once per call; FALSE where that is unavailable.
 * Call from the init routine. */
gboolean triage_live_capture_running(void);

/* Whether the first pass is what the user sees (tshark: every packet is
 * printed as it is dissected), as opposed to the GUI, which shows nothing of
 * its first pass and dissects rows again when it shows them. */
gboolean triage_live_streaming_program(void);

/* Call on_stop once, when tshark draws its reports after the capture
 * stopped: a tap listener on `tap`, registered now (in the init routine of a
 * live capture, after the reports registered theirs) and therefore drawn
 * just before them. Only for tshark, which draws only then. */
void triage_live_on_stop(const char *tap, void (*on_stop)(void));

/* Remove that listener (cleanup routine); harmless when none. */
void triage_live_on_stop_cancel(void);

#endif
