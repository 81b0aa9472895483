#!/bin/bash
# -z triage,tree and -z triage,flows: totals consistent with the packets.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

n_l4=$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y "tcp || udp")
bytes=$(tt_tshark -r "$cap" -2 "${P[@]}" -Y "tcp || udp" -T fields -e ip.len | awk '{ s += $1 } END { print s }')

tt_tshark -r "$cap" -2 "${P[@]}" -q -z triage,tree -z triage,flows > "$TT_OUT/z2"
# tree: top-level rows start at column 0
top() { awk -v k="$1" 'index($0, k) == 1 { $0 = substr($0, length(k) + 1); print $1; exit }' "$2"; }
expect_eq "$(top Packets "$TT_OUT/z2")" "$n_l4" "-2 tree: Packets = TCP/UDP packets"
expect_eq "$(top 'Bytes (IP length)' "$TT_OUT/z2")" "$bytes" "-2 tree: Bytes = sum of ip.len"
# flows table: one row per (flow, block)
rows() { awk -F'|' 'NF > 10 && $6 ~ /[0-9]/' "$1"; }
n_rows=$(rows "$TT_OUT/z2" | wc -l)
n_blocks=$(tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -e triage.flow -e triage.block | sort -u | wc -l)
expect_eq "$n_rows" "$n_blocks" "-2 flows: one row per block"
expect_eq "$(top Blocks "$TT_OUT/z2")" "$n_blocks" "-2 tree: Blocks = blocks"
expect_eq "$(rows "$TT_OUT/z2" | awk -F'|' '{ s += $8 } END { print s }')" "$n_l4" "-2 flows: sum of Packets"
expect_eq "$(rows "$TT_OUT/z2" | awk -F'|' '{ s += $9 } END { print s }')" "$bytes" "-2 flows: sum of Bytes"
# per-row packet count equals the triage.packets field of the block's packets
tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -e triage.flow -e triage.block -e triage.packets |
    sort -u | awk '{ print $1 "/" $2 "/" $3 }' | sort > "$TT_OUT/pk_fields"
rows "$TT_OUT/z2" | awk -F'|' '{ gsub(/ /, ""); print $6 "/" $7 "/" $8 }' | sort > "$TT_OUT/pk_rows"
cmp -s "$TT_OUT/pk_fields" "$TT_OUT/pk_rows" || fail "row packet counts differ from triage.packets"
echo "ok: each row's packets = triage.packets of its block"

# filter argument
tt_tshark -r "$cap" -2 "${P[@]}" -q -z triage,flows,udp > "$TT_OUT/zudp"
[ "$(rows "$TT_OUT/zudp" | wc -l)" -gt 0 ] || fail "-z triage,flows,udp is empty"
rows "$TT_OUT/zudp" | awk -F'|' '{ gsub(/ /, "", $5); if ($5 != "UDP") exit 1 }' || fail "-z triage,flows,udp has non-UDP rows"
echo "ok: -z triage,flows,udp has only UDP rows"

# single pass: not empty; counts the blocks that closed, consistently
tt_tshark -r "$cap" "${P[@]}" -q -z triage,tree -z triage,flows > "$TT_OUT/z1"
closed_pk=$(tt_tshark -r "$cap" "${P[@]}" -Y triage.closed -T fields -E occurrence=a -E aggregator=, -e triage.closed.packets |
    tr ',' '\n' | awk '{ s += $1 } END { print s + 0 }')
expect_gt "$(top Blocks "$TT_OUT/z1")" 0 "single pass tree: finished blocks counted"
expect_eq "$(top Packets "$TT_OUT/z1")" "$closed_pk" "single pass tree: Packets = packets of closed blocks"
expect_eq "$(rows "$TT_OUT/z1" | awk -F'|' '{ s += $8 } END { print s }')" "$closed_pk" "single pass flows: sum of Packets"
echo "PASS"
