#!/bin/bash
# Expert infos: too few packets (the one-packet DNS-like flows), block
# truncated by the packet cap (a model whose cap is 5 packets).
. "$(dirname "$0")/common.sh"
need TT_MODEL_EDIT
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
"$TT_MODEL_EDIT" "$TT_TMP/models/bundled.ttm" "$TT_TMP/models/cap5.ttm" max_packets=5 min_packets=3 name=cap5 || fail "tt-model-edit"
tt_fix_owner

tt_tshark -r "$cap" -2 -q -z expert > "$TT_OUT/ex"
grep -q "too few packets to classify" "$TT_OUT/ex" || fail "no too-few expert info: $(cat "$TT_OUT/ex")"
n_too_few=$(tt_tshark -r "$cap" -2 -Y triage -T fields -e triage.flow -e triage.block -e triage.status | grep "too few packets" | sort -u | wc -l)
n_ei=$(count tt_tshark -r "$cap" -2 -Y "_ws.expert.message contains \"too few packets\"")
expect_eq "$n_ei" "$n_too_few" "one too-few expert info per too-few block"
grep -q "truncated" "$TT_OUT/ex" && fail "truncated blocks with the default cap"

tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/cap5.ttm" -q -z expert > "$TT_OUT/ex5"
grep -q "Block truncated" "$TT_OUT/ex5" || fail "no truncated expert info with a 5-packet cap"
n_trunc=$(tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/cap5.ttm" -Y "triage.packets > 5" -T fields -e triage.flow -e triage.block | sort -u | wc -l)
n_ei=$(count tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/cap5.ttm" -Y "_ws.expert.message contains \"Block truncated\"")
expect_gt "$n_trunc" 0 "blocks above the cap"
expect_eq "$n_ei" "$n_trunc" "one truncated expert info per block above the cap"
# the packet carrying it is the first one beyond the cap (6th of its block)
first=$(tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/cap5.ttm" -Y "_ws.expert.message contains \"Block truncated\"" -T fields -e triage.flow -e triage.block -e frame.number | head -1)
f=$(echo "$first" | cut -f1); b=$(echo "$first" | cut -f2); fn=$(echo "$first" | cut -f3)
pos=$(tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/cap5.ttm" -Y "triage.flow == $f && triage.block == $b" -T fields -e frame.number | grep -n -x "$fn" | cut -d: -f1)
expect_eq "$pos" 6 "truncated note on the first packet beyond the cap"
echo "PASS"
