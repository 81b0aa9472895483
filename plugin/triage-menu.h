/* TrafficTriage plugin: the Tools > TrafficTriage menu (GUI only).
 *
 * Entries (plugin_if ext_menubar):
 *   Export FlowPics of the Selected Flow     the selected packet's flow and
 *                                            its reverse direction
 *   Export FlowPics of the Displayed Flows   every flow with at least one
 *                                            packet passing the display filter
 * Each writes one PNG per block (core's tt_png / tt_flowpic, the primary
 * model's input spec, as `traffictriage render`) plus an index.tsv into
 *   $TRAFFICTRIAGE_EXPORT_DIR, else ~/TrafficTriage-FlowPics,
 *   /<capture name>-<YYYYmmdd-HHMMSS>/
 * and says where in a text window.
 *
 * The plugin's engine keeps no packets after a block is classified, so the
 * menu action re-reads the open capture file and replays it through its own
 * tt_engine with the same spec and flow bound as the plugin's: flow and block
 * numbers are the ones the triage.flow / triage.block fields show. pcap and
 * pcapng files are read with core's tt_capture (the trainer's and the
 * equivalence tests' view, IP fragments included); any other format Wireshark
 * opens (pcap.gz, ...) with wiretap, each frame parsed by core's tt_parse_frame.
 * Nothing of the dissection state is touched.
 */
#ifndef TRIAGE_MENU_H
#define TRIAGE_MENU_H

#include "triage-run.h"

/* Register the menu. run is the plugin's (its primary model gives the spec
 * and the class names; read at click time, so preference changes apply). */
void triage_menu_register(int proto, triage_run *run);

#endif
