#!/bin/bash
# Single pass vs -2. Single pass (a file read once, or a live capture): a
# packet's own block is still open when it is printed, so it reads "pending"
# (with the expert note about -2) and has no triage.category until the block
# has the model's min_packets packets; from then on it reads "provisional"
# with the result a flush at a recent checkpoint gives (checked against
# tshark -2 -c K: two passes over the first K packets flush the block with
# exactly the packets the checkpoint saw). The packet that closes a block
# carries that block's result in triage.closed.*, and it agrees with what -2
# puts on the block's packets.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
P=(-o triage.threshold:0)

n_l4=$(count tt_tshark -r "$cap" "${P[@]}" -Y "tcp || udp")
n_pending=$(count tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "pending"')
n_prov=$(count tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "provisional"')
expect_eq "$((n_pending + n_prov))" "$n_l4" "single pass: every TCP/UDP packet pending or provisional"
expect_gt "$n_prov" 0 "single pass: provisional results"
expect_gt "$n_pending" 0 "single pass: pending packets (blocks below min_packets)"
expect_eq "$(count tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "pending" && triage.category')" 0 "single pass: no triage.category on pending packets"
expect_eq "$(count tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "provisional" && triage.category && triage.confidence')" "$n_prov" "single pass: provisional packets have a category"
expect_eq "$(count tt_tshark -r "$cap" -2 "${P[@]}" -Y 'triage.status == "pending" || triage.status == "provisional"')" 0 "-2: nothing pending or provisional"

# A provisional result is the flush result of its block at the checkpoint
# that computed it: the first packet showing a new triage.packets value is
# that checkpoint; two passes over the capture cut there give the same.
tt_tshark -r "$cap" "${P[@]}" -Y 'triage.status == "provisional"' -T fields \
    -e frame.number -e triage.flow -e triage.block -e triage.packets -e triage.category -e triage.confidence \
    > "$TT_OUT/prov"
awk -F'\t' '{ k = $2 "/" $3 "/" $4; if (!(k in seen)) { seen[k] = 1; print } }' "$TT_OUT/prov" > "$TT_OUT/checkpoints"
expect_gt "$(wc -l < "$TT_OUT/checkpoints")" 5 "single pass: checkpoints"
awk -F'\t' '{ k = $2 "/" $3; n[k]++ } END { for (k in n) if (n[k] > 6) print k, n[k] }' "$TT_OUT/checkpoints" > "$TT_OUT/many"
[ -s "$TT_OUT/many" ] && fail "more than 6 checkpoints in a block: $(head -3 "$TT_OUT/many")"
checked=0
# the first checkpoints, a late one and the last one
for line in "$(sed -n 1p "$TT_OUT/checkpoints")" "$(sed -n 2p "$TT_OUT/checkpoints")" \
            "$(sed -n "$(( $(wc -l < "$TT_OUT/checkpoints") / 2 ))p" "$TT_OUT/checkpoints")" "$(tail -1 "$TT_OUT/checkpoints")"; do
    IFS=$'\t' read -r num flow block packets category confidence <<< "$line"
    got=$(tt_tshark -r "$cap" -2 -c "$num" "${P[@]}" -Y "triage.flow == $flow && triage.block == $block" -T fields \
          -e triage.packets -e triage.category -e triage.confidence -e triage.status | sort -u)
    expect_eq "$got" "$packets	$category	$confidence	classified" "frame $num: provisional = two passes over the first $num frames (flow $flow block $block)"
    checked=$((checked + 1))
done

tt_tshark -r "$cap" "${P[@]}" -q -z expert > "$TT_OUT/expert1"
grep -q "use tshark -2" "$TT_OUT/expert1" || fail "single pass: no expert note about -2"
echo "ok: single pass: expert note tells to use -2"
tt_tshark -r "$cap" "${P[@]}" -c 300 -V > "$TT_OUT/details1"
grep -q "Block still open: provisional result from its first" "$TT_OUT/details1" ||
    fail "single pass -V: no expert note on provisional results"
grep -q "TrafficTriage: [a-z_]* (0\.[0-9]*, provisional), flow" "$TT_OUT/details1" ||
    fail "single pass -V: the TrafficTriage line does not say provisional"
echo "ok: single pass -V: provisional results marked in the details and by an expert note"
tt_tshark -r "$cap" -2 "${P[@]}" -q -z expert > "$TT_OUT/expert2"
grep -q "use tshark -2" "$TT_OUT/expert2" && fail "-2: pending expert note present"
grep -q "provisional" "$TT_OUT/expert2" && fail "-2: provisional expert note present"

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
