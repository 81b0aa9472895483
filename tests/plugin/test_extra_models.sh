#!/bin/bash
# Extra models by task: a tunnel model fills triage.tunnel(+_confidence) on
# every TCP/UDP packet with -2, a platform model triage.app(+_confidence) on
# those the category model calls video,
# each with its own block length; a broken extra model is reported and the
# category model keeps working.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
"$TT_CLI" init-model --block-seconds 5 --classes vpn,novpn --task tunnel --seed 3 -o "$TT_TMP/models/tunnel.ttm" > /dev/null || fail init-model
"$TT_CLI" init-model --block-seconds 30 --classes youtube,zoom,other --task platform --seed 4 -o "$TT_TMP/models/app.ttm" > /dev/null || fail init-model
# a category model that calls some of mixed.pcap's blocks video and others voip (seed 6)
"$TT_CLI" init-model --classes video,voip --seed 6 -o "$TT_TMP/models/video-voip.ttm" > /dev/null || fail init-model
tt_fix_owner
n_l4=$(count tt_tshark -r "$cap" -2 -Y "tcp || udp")
X=(-2 -o triage.threshold:0 -o "triage.model:$TT_TMP/models/video-voip.ttm"
   -o "triage.extra_models:$TT_TMP/models/tunnel.ttm; $TT_TMP/models/app.ttm")

tt_tshark -r "$cap" "${X[@]}" -Y triage -T fields -e triage.category -e triage.tunnel -e triage.tunnel_confidence \
    -e triage.app -e triage.app_confidence -e triage.status > "$TT_OUT/x"
expect_eq "$(wc -l < "$TT_OUT/x")" "$n_l4" "rows"
expect_eq "$(awk -F'\t' '$1 != "" && $2 != "" && $3 != ""' "$TT_OUT/x" | wc -l)" \
    "$n_l4" "category and tunnel fields on every TCP/UDP packet"
# the platform model answers where the category model says video, and only there
n_video=$(awk -F'\t' '$1 == "video"' "$TT_OUT/x" | wc -l)
expect_gt "$n_video" 0 "packets called video"
expect_gt "$(awk -F'\t' '$1 == "voip"' "$TT_OUT/x" | wc -l)" 0 "packets called voip"
expect_eq "$(awk -F'\t' '$1 == "video" && $4 != "" && $5 != ""' "$TT_OUT/x" | wc -l)" "$n_video" \
    "app fields on every packet called video"
expect_eq "$(awk -F'\t' '$1 != "video" && ($4 != "" || $5 != "")' "$TT_OUT/x" | wc -l)" 0 \
    "no app fields on packets of other categories"
bad=$(cut -f2 "$TT_OUT/x" | sort -u | grep -v -x -E "vpn|novpn|unknown" || true)
[ -z "$bad" ] || fail "tunnel classes: $bad"
bad=$(cut -f4 "$TT_OUT/x" | sort -u | grep -v -x -E "youtube|zoom|other|unknown" || true)
[ -z "$bad" ] || fail "app classes: $bad"
echo "ok: classes from each model"

: > "$TT_OUT/stderr"
tt_tshark -r "$cap" -2 -o triage.threshold:0 -o "triage.extra_models:$TT_TMP/models/missing.ttm" -Y triage \
    -T fields -e triage.category -e triage.tunnel > "$TT_OUT/m" || fail "tshark failed with a missing extra model"
expect_eq "$(grep -c "not loaded" "$TT_OUT/stderr")" 1 "missing extra model: one log line"
expect_eq "$(awk -F'\t' '$1 != ""' "$TT_OUT/m" | wc -l)" "$n_l4" "category model still works"
expect_eq "$(awk -F'\t' '$2 != ""' "$TT_OUT/m" | wc -l)" 0 "no tunnel fields"
echo "PASS"
