#!/bin/bash
# The shipped "TrafficTriage" profile: its columns show category, confidence
# and the conversation's category (tshark uses the profile's
# gui.column.format), and its colouring rules are valid filters.
. "$(dirname "$0")/common.sh"
need TT_PROFILE
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
# The columns as tshark prints them (-T tabs). Not -e _ws.col.Category:
# Wireshark 4.2+ has no per-title fields for custom columns. Counted from the
# end of the line: ... Category, Confidence, Conversation, Flow, Status, Info.
tt_tshark -r "$cap" -2 -C TrafficTriage -o triage.threshold:0 -c 5 -T tabs > "$TT_OUT/cols" ||
    fail "tshark -C TrafficTriage failed"
tt_tshark -r "$cap" -2 -o triage.threshold:0 -c 5 -T fields -e triage.category -e triage.conversation.category > "$TT_OUT/cat" ||
    fail "tshark -e triage.category failed"
awk -F'\t' '{ print $(NF-5) "\t" $(NF-3) }' "$TT_OUT/cols" | diff - "$TT_OUT/cat" > /dev/null ||
    fail "profile columns Category / Conversation differ from triage.category / triage.conversation.category: $(cat "$TT_OUT/cols")"
n=$(awk -F'\t' '$(NF-5) != "" && $(NF-4) ~ /^[01]\.[0-9][0-9][0-9]$/ && $(NF-3) != ""' "$TT_OUT/cols" | wc -l)
expect_eq "$n" 5 "profile columns Category, Confidence (3 decimals) and Conversation filled"
# every colouring rule's filter compiles
grep '^@' "$TT_PROFILE/colorfilters" | cut -d@ -f3 | while read -r f; do
    tt_tshark -r "$cap" -c 1 -Y "$f" > /dev/null || fail "colouring rule filter does not compile: $f"
done
echo "ok: colouring rules compile"
echo "PASS"
