#!/bin/bash
# Frames without TCP/UDP over IP (ARP, ICMP echo and errors quoting UDP, LLDP) get no triage fields and
# do not disturb tshark or the reports.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/nonip.pcap
n=$(count tt_tshark -r "$cap" -2)
expect_eq "$n" 40 "frames read"
expect_eq "$(count tt_tshark -r "$cap" -2 -Y triage)" 0 "no triage fields on non-TCP/UDP frames"
tt_tshark -r "$cap" -2 -q -z triage,tree -z triage,flows > "$TT_OUT/z" || fail "reports failed"
grep -q "TrafficTriage/Categories" "$TT_OUT/z" || fail "no tree report"
! grep -qi "triage" "$TT_OUT/stderr" || fail "messages on stderr: $(cat "$TT_OUT/stderr")"
echo "PASS"
