#!/bin/bash
# With -2, every TCP/UDP packet carries the triage fields, no other packet
# does, categories are the model's classes (or "unknown"), both directions of
# a conversation get two flows that point at each other.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

n_l4=$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y "tcp || udp")
n_cat=$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y "triage.category")
n_all=$(count tt_tshark -r "$cap" -2 "${P[@]}")
expect_gt "$n_l4" 1000 "TCP/UDP packets in the capture"
expect_eq "$n_cat" "$n_l4" "packets with triage.category == TCP/UDP packets"
expect_gt "$n_all" "$n_l4" "the capture also has non-TCP/UDP frames"
expect_eq "$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y "triage && !(tcp || udp)")" 0 "no triage on other frames"
for f in triage.confidence triage.flow triage.block triage.status triage.model; do
    expect_eq "$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y "$f")" "$n_l4" "packets with $f"
done

tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -E separator=/t \
    -e triage.category -e triage.confidence -e triage.status -e triage.model > "$TT_OUT/f"
bad=$(cut -f1 "$TT_OUT/f" | sort -u | grep -v -x -E "voip|video|chat|browsing|file_transfer|unknown" || true)
[ -z "$bad" ] || fail "categories outside the model's classes: $bad"
echo "ok: categories among the model's classes: $(cut -f1 "$TT_OUT/f" | sort -u | tr '\n' ' ')"
awk -F'\t' '$2 < 0 || $2 > 1 { exit 1 }' "$TT_OUT/f" || fail "confidence outside [0, 1]"
echo "ok: confidence in [0, 1]"
# a confidence as people read it: 3 decimals at most (0.801, not 0.801101624965668)
awk -F'\t' '$2 !~ /^[01](\.[0-9]?[0-9]?[0-9])?$/ { print "FAIL: triage.confidence " $2; exit 1 }' "$TT_OUT/f" >&2 ||
    fail "triage.confidence printed with more than 3 decimals"
echo "ok: triage.confidence with at most 3 decimals in -T fields"
grep -q "pending" "$TT_OUT/f" && fail "pending status with -2"
sha=$("$TT_CLI" info "$TT_TMP/models/bundled.ttm" | awk '/^sha256/ {print substr($2, 1, 12)}')
name=$("$TT_CLI" info "$TT_TMP/models/bundled.ttm" | awk '/^model/ {print $2}')
expect_eq "$(cut -f4 "$TT_OUT/f" | sort -u)" "$name $sha" "triage.model = bundled model name + sha256 prefix"

# reverse flows: the first UDP conversation (10.0.0.1:40000 <-> 10.0.1.1:3478)
fwd=$(tt_tshark -r "$cap" -2 -Y "ip.src == 10.0.0.1 && udp" -T fields -e triage.flow -e triage.reverse_flow | sort -u)
rev=$(tt_tshark -r "$cap" -2 -Y "ip.src == 10.0.1.1 && udp" -T fields -e triage.flow -e triage.reverse_flow | sort -u)
[ "$(echo "$fwd" | wc -l)" = 1 ] || fail "one flow expected per direction: $fwd"
f1=$(echo "$fwd" | cut -f1); r1=$(echo "$fwd" | cut -f2)
f2=$(echo "$rev" | cut -f1); r2=$(echo "$rev" | cut -f2)
[ "$f1" != "$f2" ] || fail "both directions got flow $f1"
expect_eq "$r1:$r2" "$f2:$f1" "reverse_flow links the two directions"
echo "PASS"
