#!/bin/bash
# triage.conversation.category / .confidence (issue #17): with -2, every packet
# whose block has a result carries its block's answer pooled with the reverse
# flow's block of the same index: the mean of both blocks' class
# probabilities (each kept to 1/255), its top class and probability, "unknown"
# below the threshold as triage.category. Checked here against the rule
# computed independently (awk) from every class's probability as
# `traffictriage classify --probs` prints it, on mixed.pcap.gz (UDP and TCP
# conversations in both directions), with the bundled trained model (an
# untrained one answers ~0.2 for every class, too flat to tell the rule
# apart). A block without a classified reverse block answers alone: the
# conversation fields equal the per-direction ones. Single pass: no
# conversation fields on pending packets; a provisional packet (open block)
# answers alone. The Flows table's last column is
# the same answer.
. "$(dirname "$0")/common.sh"
tt_setup
bundled=$(dirname "$0")/../../models/category.ttm
[ -f "$bundled" ] || fail "no bundled model at $bundled"
cp "$bundled" "$TT_TMP/models/cat.ttm"
gunzip -c "$TT_CAPS/mixed.pcap.gz" > "$TT_TMP/caps/mixed.pcap"
tt_fix_owner
M=(-o "triage.model:$TT_TMP/models/cat.ttm")
cap=$TT_TMP/caps/mixed.pcap

# every packet with a category has a conversation category
n_cat=$(count tt_tshark -r "$cap" -2 "${M[@]}" -Y "triage.category")
expect_gt "$n_cat" 1000 "packets with triage.category"
expect_eq "$(count tt_tshark -r "$cap" -2 "${M[@]}" -Y "triage.conversation.category && triage.conversation.confidence")" \
    "$n_cat" "packets with triage.conversation.category and .confidence"
# a single pass: provisional packets (open blocks) answer alone, pending ones not at all
expect_eq "$(count tt_tshark -r "$cap" "${M[@]}" -Y 'triage.status == "pending" && triage.conversation.category')" 0 \
    "single pass: no conversation fields on pending packets"
expect_eq "$(count tt_tshark -r "$cap" "${M[@]}" -Y 'triage.status == "provisional" && triage.conversation.category != triage.category')" 0 \
    "single pass: a provisional packet's conversation answer is its own"
expect_gt "$(count tt_tshark -r "$cap" "${M[@]}" -Y 'triage.status == "provisional" && triage.conversation.category')" 0 \
    "single pass: provisional packets with a conversation answer"

# one line per block: flow, reverse flow, block, status, own and conversation answers
blocks() {
    local c=$1
    shift
    tt_tshark -r "$c" -2 "${M[@]}" "$@" -Y triage.category -T fields -E separator=/t \
        -e triage.flow -e triage.reverse_flow -e triage.block -e triage.status \
        -e triage.category -e triage.confidence -e triage.conversation.category -e triage.conversation.confidence |
        sort -u -n -k1,1 -k3,3
}
# the rule, from the CLI's probabilities: q = round(255 p) per class, the mean
# of q / 255 over both directions' classified blocks of the same index; a
# block without a classified partner (or not classified itself) answers alone
rule() {
    awk -F'\t' -v out="$TT_OUT/counts" '
    function index_of(name,   c) { for (c = 1; c <= k; c++) if (cls[c] == name) return c; return 0 }
    FNR == 1 { file++ }
    file == 1 && /^#/ { k = NF - 12; for (c = 1; c <= k; c++) cls[c] = substr($(12 + c), 3); next }
    file == 1 { if ($8 == "classified") for (c = 1; c <= k; c++) p[$1 "/" $2, c] = $(12 + c); next }
    {
        own = $1 "/" $3; mate = $2 "/" $3; n++
        if (!((own, 1) in p)) {
            if ($4 == "classified" || $4 == "low confidence") { print "FAIL: block " own " not classified by the CLI"; bad++ }
            else if ($7 != $5 || $8 != $6) { print "FAIL: unclassified block " own ": " $7 " " $8; bad++ }
            na++; next
        }
        pooled = $2 != "" && ((mate, 1) in p)
        best = 1
        for (c = 1; c <= k; c++) {
            v[c] = pooled ? (int(p[own, c] * 255 + 0.5) / 255 + int(p[mate, c] * 255 + 0.5) / 255) / 2 : p[own, c]
            if (v[c] > v[best]) best = c
        }
        # the plugin rounds down to 3 decimals; a class within 1e-5 of the best is a tie
        if ($8 < v[best] - 0.0011 || $8 > v[best] + 0.0001 || index_of($7) == 0 || v[best] - v[index_of($7)] > 1e-5) {
            print "FAIL: block " own ": plugin " $7 " " $8 ", rule " cls[best] " " v[best]; bad++
        }
        if (pooled) {
            np++
            if ($7 != $5 || $8 != $6) differ++
        } else {
            na++
            if ($7 != $5 || $8 != $6) { print "FAIL: block " own " answers alone but " $7 " " $8 " != " $5 " " $6; bad++ }
        }
    }
    END { printf "%d %d %d %d %d\n", n, np, na, differ + 0, bad + 0 > out }
    ' "$1" "$2"
}
# mixed.pcap, and a copy where partners are missing: the reverse direction of
# the TCP download dropped, and the UDP 443 server side cut after 30 s (its
# flow loses block 2; the client's block 2 answers alone)
tt_tshark -r "$cap" -Y '!(tcp.dstport == 53000) && !(udp.srcport == 443 && frame.time_relative > 30)' \
    -F pcap -w "$TT_TMP/caps/trimmed.pcap" || fail "tshark -w trimmed.pcap"
totals=(0 0 0 0 0)
for c in "$cap" "$TT_TMP/caps/trimmed.pcap"; do
    name=$(basename "$c")
    blocks "$c" -o triage.threshold:0 > "$TT_OUT/ws0.$name"
    expect_eq "$(cut -f1,3 "$TT_OUT/ws0.$name" | sort -u | wc -l)" "$(wc -l < "$TT_OUT/ws0.$name")" "$name: one answer per block"
    "$TT_CLI" classify --probs --threshold 0 "$TT_TMP/models/cat.ttm" "$c" > "$TT_OUT/cli.$name" ||
        fail "traffictriage classify --probs $name"
    rule "$TT_OUT/cli.$name" "$TT_OUT/ws0.$name"
    read -r -a counts < "$TT_OUT/counts"
    echo "--- $name: blocks $((counts[0])), pooled ${counts[1]}, alone ${counts[2]}, pooled and different ${counts[3]}"
    for i in 0 1 2 3 4; do totals[i]=$((totals[i] + counts[i])); done
done
read -r n np na differ bad <<< "${totals[*]}"
expect_eq "$bad" 0 "blocks where the plugin's conversation answer differs from the rule"
expect_gt "$n" 40 "blocks checked"
expect_gt "$np" 20 "blocks pooled with the reverse direction's block"
expect_gt "$na" 4 "blocks answering alone (no classified reverse block, or not classified)"
expect_gt "$differ" 20 "pooled blocks whose conversation answer differs from their own"
# the model's threshold: below it the conversation category reads unknown
blocks "$cap" > "$TT_OUT/ws"
echo "--- mixed.pcap (flow, reverse, block, status, category, confidence, conversation category, confidence):"
cat "$TT_OUT/ws"
thr=$("$TT_CLI" info "$TT_TMP/models/cat.ttm" | sed -n 's/^threshold=//p')
[ -n "$thr" ] || fail "the bundled model names no threshold"
awk -F'\t' -v t="$thr" '($8 < t) != ($7 == "unknown") { print "FAIL: " $0; bad = 1 } END { exit bad }' "$TT_OUT/ws" ||
    fail "conversation category and the threshold $thr disagree"
echo "ok: conversation category unknown exactly below the model's threshold $thr"

# -z triage,flows: the last column (Conversation) is the block's triage.conversation.category
tt_tshark -r "$cap" -2 "${M[@]}" -q -z triage,flows > "$TT_OUT/flows"
grep -q "| Conversation *|$" "$TT_OUT/flows" || fail "no Conversation column last in -z triage,flows"
awk -F'|' 'NF > 12 && $6 ~ /[0-9]/ { for (i = 1; i <= NF; i++) gsub(/ /, "", $i); print $6 "\t" $7 "\t" $13 }' "$TT_OUT/flows" |
    sort > "$TT_OUT/flows.conv"
cut -f1,3,7 "$TT_OUT/ws" | sort > "$TT_OUT/ws.conv"
expect_eq "$(wc -l < "$TT_OUT/flows.conv")" "$(wc -l < "$TT_OUT/ws")" "-z triage,flows: one row per block"
cmp -s "$TT_OUT/flows.conv" "$TT_OUT/ws.conv" || { diff "$TT_OUT/flows.conv" "$TT_OUT/ws.conv" | head; fail "Conversation column != triage.conversation.category"; }
echo "ok: -z triage,flows Conversation column = triage.conversation.category of each block"
echo "PASS"
