#!/bin/bash
# Preferences: threshold, enabled, model path (and the bundled default).
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
n_l4=$(count tt_tshark -r "$cap" -2 -Y "tcp || udp")

expect_eq "$(count tt_tshark -r "$cap" -2 -o triage.threshold:1.0 -Y 'triage.category != "unknown"')" 0 "threshold 1.0: every category unknown"
expect_eq "$(count tt_tshark -r "$cap" -2 -o triage.threshold:1.0 -Y 'triage.category == "unknown"')" "$n_l4" "threshold 1.0: all packets unknown"
expect_gt "$(count tt_tshark -r "$cap" -2 -o triage.threshold:0 -Y 'triage.category != "unknown"')" 0 "threshold 0: classified packets"
n=$(count tt_tshark -r "$cap" -2 -o triage.threshold:0 -Y 'triage.status == "low confidence"')
expect_eq "$n" 0 "threshold 0: no low-confidence status"

: > "$TT_OUT/stderr"
expect_eq "$(count tt_tshark -r "$cap" -2 -o triage.enabled:FALSE -Y triage)" 0 "disabled: no triage fields"
expect_eq "$(tt_tshark -r "$cap" -2 -o triage.enabled:FALSE -T fields -e triage.category | sort -u | tr -d '\n')" "" "disabled: empty field column"

: > "$TT_OUT/stderr"
tt_tshark -r "$cap" -2 -o triage.threshold:abc -c 5 > /dev/null || fail "bad threshold made tshark fail"
expect_eq "$(grep -c "threshold" "$TT_OUT/stderr")" 1 "one message about the bad threshold"
echo "ok: invalid threshold reported: $(grep threshold "$TT_OUT/stderr" | head -1)"

# max_flows: with 2 tracked flows the others are evicted and restart as new
# flows; every TCP/UDP packet is still labelled
nf=$(tt_tshark -r "$cap" -2 -Y triage -T fields -e triage.flow | sort -u | wc -l)
nf2=$(tt_tshark -r "$cap" -2 -o triage.max_flows:2 -Y triage -T fields -e triage.flow | sort -u | wc -l)
expect_gt "$nf2" "$nf" "max_flows 2: more (evicted and restarted) flows"
expect_eq "$(count tt_tshark -r "$cap" -2 -o triage.max_flows:2 -Y triage.category)" "$n_l4" "max_flows 2: every packet labelled"

# model path preference: another model with other classes
"$TT_CLI" init-model --arch lenet --side 16 --block-seconds 10 --classes alpha,beta,gamma \
    --task category --seed 7 --name other-model -o "$TT_TMP/models/other.ttm" > /dev/null || fail "init-model"
tt_fix_owner
sha=$("$TT_CLI" info "$TT_TMP/models/other.ttm" | awk '/^sha256/ {print substr($2, 1, 12)}')
tt_tshark -r "$cap" -2 -o triage.threshold:0 -o "triage.model:$TT_TMP/models/other.ttm" -Y triage \
    -T fields -e triage.model -e triage.category > "$TT_OUT/other"
expect_eq "$(cut -f1 "$TT_OUT/other" | sort -u)" "other-model $sha" "triage.model from the model pref"
bad=$(cut -f2 "$TT_OUT/other" | sort -u | grep -v -x -E "alpha|beta|gamma|unknown" || true)
[ -z "$bad" ] || fail "categories not from the configured model: $bad"
echo "ok: categories from the configured model: $(cut -f2 "$TT_OUT/other" | sort -u | tr '\n' ' ')"

# empty threshold pref = the threshold the model recommends (META threshold=)
"$TT_CLI" init-model --arch lenet --side 16 --block-seconds 10 --classes alpha,beta --threshold 1 \
    --task category --seed 7 --name strict-model -o "$TT_TMP/models/strict.ttm" > /dev/null || fail "init-model --threshold"
tt_fix_owner
S=(-o "triage.model:$TT_TMP/models/strict.ttm")
expect_eq "$(count tt_tshark -r "$cap" -2 "${S[@]}" -Y 'triage.category != "unknown"')" 0 "model threshold 1: every category unknown"
expect_gt "$(count tt_tshark -r "$cap" -2 "${S[@]}" -o triage.threshold:0 -Y 'triage.category != "unknown"')" 0 "threshold pref 0 overrides the model's 1"

# empty model pref = the bundled model next to the plugin
bundled=$("$TT_CLI" info "$TT_TMP/models/bundled.ttm" | awk '/^model/ {print $2}')
got=$(tt_tshark -r "$cap" -2 -o triage.model: -c 20 -Y triage -T fields -e triage.model | sort -u | cut -d' ' -f1)
expect_eq "$got" "$bundled" "empty model pref uses the bundled model"
echo "PASS"
