#!/bin/bash
# -z triage,tree and -z triage,flows: totals consistent with the packets and
# with each other, the text table aligned, and in a single pass both say what
# they leave out and why.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

# node NAME FILE: the count of the tree row named NAME (top level or child)
# under PARENT (a top-level name; empty: the top level)
node() {
    awk -v k="$1" -v p="${3:-}" '
        match($0, /  +[0-9]/) {
            name = substr($0, 1, RSTART - 1); rest = substr($0, RSTART)
            if (name !~ /^ /) parent = name
            sub(/^ /, "", name)
            split(rest, f, " ")
            if (name == k && ((p == "" && parent == name) || (p != "" && parent == p && parent != name))) { print f[1]; exit }
        }' "$2"
}
# aligned FILE: every line of the flows table (header, rule, rows) has its
# column separators at the same places as the header
aligned() {
    awk '
        /^Source +\| Destination +\|/ { hdr = $0; next }
        hdr != "" && /^-+\+/ { r = $0; gsub(/\+/, "|", r); gsub(/-/, " ", r); if (seps(r) != seps(hdr)) bad = "rule: " $0; next }
        hdr != "" && /\|$/ { if (seps($0) != seps(hdr) || length($0) != length(hdr)) bad = "row: " $0 }
        /^=+$/ && hdr != "" { hdr = "" }
        function seps(l,   i, out) { out = ""; for (i = 1; i <= length(l); i++) if (substr(l, i, 1) == "|") out = out "," i; return out }
        END { if (bad != "") { print bad; exit 1 } }' "$1"
}

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

# the tree counts every flow of the table once, and under each category a
# flow's rows have; no burst columns (nothing bursts in flow counts)
n_flows=$(rows "$TT_OUT/z2" | awk -F'|' '{ print $6 + 0 }' | sort -u | wc -l)
expect_eq "$(node 'Flows (per category: those with a block of it)' "$TT_OUT/z2")" "$n_flows" "-2 tree: Flows = flows in the table"
for c in $(rows "$TT_OUT/z2" | awk -F'|' '{ gsub(/ /, "", $10); print $10 }' | sort -u); do
    n=$(rows "$TT_OUT/z2" | awk -F'|' -v c="$c" '{ gsub(/ /, "", $10) } $10 == c { print $6 + 0 }' | sort -u | wc -l)
    expect_eq "$(node "$c" "$TT_OUT/z2" 'Flows (per category: those with a block of it)')" "$n" "-2 tree: Flows / $c = flows with a $c row"
done
grep -q "Burst" "$TT_OUT/z2" && fail "the tree still has burst columns"
echo "ok: no burst columns"
# nor a rate (flows per millisecond): after a row's count only its percent
awk '/^Topic \/ Item/ { t = 1; next } t == 1 && /^-+$/ { t = 2; next } t == 2 && /^(-+)?$/ { exit } t == 2 && match($0, /  +[0-9]/) {
        n++; k = split(substr($0, RSTART), f, " ")
        if (k != 2 || f[2] !~ /%$/) { print "tree row with more than count and percent: " $0; bad = 1 } }
    END { if (n == 0) print "no tree rows"; exit bad || n == 0 }' "$TT_OUT/z2" || fail "-2 tree: Rate column not empty"
echo "ok: no rate in the tree"
# the text table: the line saying what a row is above the header, every
# column aligned, confidence with 3 decimals
awk '/^One row per flow and time block/ { one = NR } /^Source +\|/ { if (one && one < NR) ok = 1; exit } END { exit !ok }' "$TT_OUT/z2" ||
    fail "no 'One row per flow and time block' line above the header"
aligned "$TT_OUT/z2" || fail "-2 flows table: columns not aligned"
rows "$TT_OUT/z2" | awk -F'|' '$11 !~ /^ +[01]\.[0-9][0-9][0-9] $/ { exit 1 }' || fail "-2 flows: confidence not with 3 decimals"
echo "ok: -2 flows table aligned, explained above its header, confidence with 3 decimals"
# each row's confidence reads as its block's triage.confidence field
tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -e triage.flow -e triage.block -e triage.confidence |
    sort -u | awk '{ printf "%s/%s/%.3f\n", $1, $2, $3 }' | sort > "$TT_OUT/conf_fields"
rows "$TT_OUT/z2" | awk -F'|' '{ gsub(/ /, ""); print $6 "/" $7 "/" $11 }' | sort > "$TT_OUT/conf_rows"
cmp -s "$TT_OUT/conf_fields" "$TT_OUT/conf_rows" || fail "row confidences differ from triage.confidence: $(diff "$TT_OUT/conf_fields" "$TT_OUT/conf_rows" | head -5)"
echo "ok: each row's confidence = triage.confidence of its block"

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
# ... and both say how many packets they leave out (blocks still open) and why
open_pk=$((n_l4 - closed_pk))
expect_eq "$(node 'Packets of unfinished blocks (use tshark -2)' "$TT_OUT/z1")" "$open_pk" "single pass tree: packets of unfinished blocks"
grep -q "^Not listed: $open_pk packets of blocks still open at the end" "$TT_OUT/z1" ||
    fail "single pass flows: no 'Not listed: $open_pk packets' line"
echo "ok: single pass flows: says $open_pk packets are not listed"
aligned "$TT_OUT/z1" || fail "single pass flows table: columns not aligned"
grep -q "unfinished" "$TT_OUT/z2" && fail "-2 tree reports unfinished blocks"
grep -q "^Not listed" "$TT_OUT/z2" && fail "-2 flows: 'Not listed' line"
# a single pass in which no block closes: an empty table that says why
tt_tshark -r "$cap" "${P[@]}" -c 100 -q -z triage,flows -z triage,tree > "$TT_OUT/z0"
expect_eq "$(rows "$TT_OUT/z0" | wc -l)" 0 "single pass, 100 packets: no row"
grep -q "^No row: no block has finished" "$TT_OUT/z0" || fail "empty single-pass table does not say why: $(cat "$TT_OUT/z0")"
grep -q "tshark -2" "$TT_OUT/z0" || fail "empty single-pass table does not point at tshark -2"
echo "ok: an empty single-pass table says why"
# no TCP/UDP packet passes the filter: says so
tt_tshark -r "$cap" -2 "${P[@]}" -q -z "triage,flows,ip.addr == 192.0.2.99" > "$TT_OUT/zf"
grep -q "^No row: no TCP/UDP packet was seen" "$TT_OUT/zf" || fail "empty filtered table does not say why: $(cat "$TT_OUT/zf")"
echo "ok: an empty filtered table says why"
echo "PASS"
