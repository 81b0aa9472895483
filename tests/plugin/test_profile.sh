#!/bin/bash
# The shipped "TrafficTriage" profile: its columns show category and
# confidence (tshark uses the profile's gui.column.format), and its
# colouring rules are valid filters.
. "$(dirname "$0")/common.sh"
need TT_PROFILE
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
# The columns as tshark prints them (-T tabs). Not -e _ws.col.Category:
# Wireshark 4.2+ has no per-title fields for custom columns. Counted from the
# end of the line: ... Category, Confidence, Flow, Status, Info.
tt_tshark -r "$cap" -2 -C TrafficTriage -o triage.threshold:0 -c 5 -T tabs > "$TT_OUT/cols" ||
    fail "tshark -C TrafficTriage failed"
tt_tshark -r "$cap" -2 -o triage.threshold:0 -c 5 -T fields -e triage.category > "$TT_OUT/cat" ||
    fail "tshark -e triage.category failed"
awk -F'\t' '{ print $(NF-4) }' "$TT_OUT/cols" | diff - "$TT_OUT/cat" > /dev/null ||
    fail "profile column Category differs from triage.category: $(cat "$TT_OUT/cols")"
n=$(awk -F'\t' '$(NF-4) != "" && $(NF-3) ~ /^[01]\.[0-9][0-9][0-9]$/' "$TT_OUT/cols" | wc -l)
expect_eq "$n" 5 "profile columns Category and Confidence (3 decimals) filled"
# every colouring rule's filter compiles
grep '^@' "$TT_PROFILE/colorfilters" | cut -d@ -f3 | while read -r f; do
    tt_tshark -r "$cap" -c 1 -Y "$f" > /dev/null || fail "colouring rule filter does not compile: $f"
done
echo "ok: colouring rules compile"
echo "PASS"
