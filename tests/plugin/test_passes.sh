#!/bin/bash
# Single pass vs -2. Single pass: a packet's own block is still open when it
# is printed, so it reads "pending" (with the expert note about -2) and has no
# triage.category; the packet that closes a block carries that block's result
# in triage.closed.*, and it agrees with what -2 puts on the block's packets.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

n_l4=$(count tt_tshark -r "$cap" "${P[@]}" -Y "tcp || udp")
expect_eq "$(count tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "pending"')" "$n_l4" "single pass: every TCP/UDP packet pending"
expect_eq "$(count tt_tshark -r "$cap" "${P[@]}" -Y "triage.category")" 0 "single pass: no triage.category on pending packets"
expect_eq "$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y 'triage.status == "pending"')" 0 "-2: nothing pending"

tt_tshark -r "$cap" "${P[@]}" -q -z expert > "$TT_OUT/expert1"
grep -q "use tshark -2" "$TT_OUT/expert1" || fail "single pass: no expert note about -2"
echo "ok: single pass: expert note tells to use -2"
tt_tshark -r "$cap" -2 "${P[@]}" -q -z expert > "$TT_OUT/expert2"
grep -q "use tshark -2" "$TT_OUT/expert2" && fail "-2: pending expert note present"

# closed blocks in single pass vs -2 results
tt_tshark -r "$cap" "${P[@]}" -Y triage.closed -T fields -E occurrence=a -E aggregator=, \
    -e triage.closed.flow -e triage.closed.block -e triage.closed.category > "$TT_OUT/closed"
awk -F'\t' '{ n = split($1, f, ","); split($2, b, ","); split($3, c, ",");
              for (i = 1; i <= n; i++) print f[i] "/" b[i] "\t" c[i] }' "$TT_OUT/closed" | sort -u > "$TT_OUT/closed1"
tt_tshark -r "$cap" -2 "${P[@]}" -Y triage -T fields -e triage.flow -e triage.block -e triage.category |
    awk -F'\t' '{ print $1 "/" $2 "\t" $3 }' | sort -u > "$TT_OUT/blocks2"
n_closed=$(wc -l < "$TT_OUT/closed1")
n_blocks=$(wc -l < "$TT_OUT/blocks2")
expect_gt "$n_closed" 5 "single pass: blocks closed by a later packet"
[ "$n_closed" -lt "$n_blocks" ] || fail "the last blocks of each flow cannot be closed in a single pass ($n_closed vs $n_blocks)"
missing=$(comm -23 "$TT_OUT/closed1" "$TT_OUT/blocks2")
[ -z "$missing" ] || fail "closed results disagree with -2: $missing"
echo "ok: every single-pass closed result equals the -2 result of that block ($n_closed of $n_blocks blocks)"
echo "PASS"
