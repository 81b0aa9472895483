#!/bin/bash
# The shipped "TrafficTriage" profile: its columns show category and
# confidence (tshark uses the profile's gui.column.format), and its
# colouring rules are valid filters.
. "$(dirname "$0")/common.sh"
need TT_PROFILE
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
tt_tshark -r "$cap" -2 -C TrafficTriage -o triage.threshold:0 -c 5 -T fields -E header=y -e _ws.col.Category -e _ws.col.Confidence > "$TT_OUT/cols" ||
    fail "tshark -C TrafficTriage failed"
head -1 "$TT_OUT/cols" | grep -q "_ws.col.Category" || fail "no header"
n=$(tail -n +2 "$TT_OUT/cols" | awk -F'\t' '$1 != "" && $2 != ""' | wc -l)
expect_eq "$n" 5 "profile columns Category and Confidence filled"
# every colouring rule's filter compiles
grep '^@' "$TT_PROFILE/colorfilters" | cut -d@ -f3 | while read -r f; do
    tt_tshark -r "$cap" -c 1 -Y "$f" > /dev/null || fail "colouring rule filter does not compile: $f"
done
echo "ok: colouring rules compile"
echo "PASS"
