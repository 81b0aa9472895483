#!/bin/bash
# Display filters on triage.category select exactly the packets of the blocks
# so classified (checked against the per-packet field listing and the flows report).
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -e frame.number -e triage.flow -e triage.block \
    -e triage.category -e triage.confidence > "$TT_OUT/all"
cats=$(cut -f4 "$TT_OUT/all" | sort -u | grep -v -x unknown || true)
[ -n "$cats" ] || fail "no packet classified (threshold 0)"
tt_tshark -r "$cap" -2 "${P[@]}" -q -z triage,flows > "$TT_OUT/flows"
for c in $cats; do
    want=$(awk -F'\t' -v c="$c" '$4 == c { print $1 }' "$TT_OUT/all" | sort -n | md5sum)
    got=$(tt_tshark -r "$cap" -2 "${P[@]}" -Y "triage.category == \"$c\"" -T fields -e frame.number | sort -n | md5sum)
    expect_eq "$got" "$want" "triage.category == \"$c\" selects exactly its packets"
    # blocks with packets of this category == rows of the flows report with it
    b1=$(awk -F'\t' -v c="$c" '$4 == c { print $2 "/" $3 }' "$TT_OUT/all" | sort -u | md5sum)
    b2=$(awk -F'|' -v c="$c" 'NF > 10 { gsub(/ /, "", $6); gsub(/ /, "", $7); gsub(/ /, "", $10);
                                       if ($10 == c) print $6 "/" $7 }' "$TT_OUT/flows" | sort -u | md5sum)
    expect_eq "$b2" "$b1" "flows report rows with \"$c\" = blocks of its packets"
done
n=$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y 'triage.category != "unknown" && triage.confidence > 0.1')
expect_gt "$n" 0 "combined filter on category and confidence"
echo "PASS"
