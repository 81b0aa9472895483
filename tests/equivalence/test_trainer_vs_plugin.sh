#!/bin/bash
# One FlowPic path: what the trainer sees of a capture equals what the plugin
# sees. For each committed capture, `traffictriage classify` (core's capture
# reader + engine + classifier, as used for training and evaluation) and
# tshark with the plugin (Wireshark's dissectors + the same engine) must agree
#   1. packet by packet: frame number, flow number, block index, IP length
#      (the length the plugin fed its engine, triage.ip_len, read from the
#      header bytes without a protocol tree; and Wireshark's own ip.len /
#      ipv6.plen of the innermost header, from the tree);
#   2. block by block: class and confidence, the block's own and the
#      conversation's (triage.conversation.*, `classify`'s conv columns).
# A fragmented datagram counts once, at its last fragment, on both sides
# (Wireshark reassembles; the reader mirrors it, models/FLOWPIC.md).
source "$(dirname "$0")/../plugin/common.sh"
tt_setup
MODEL=${TT_EQ_MODEL:-$TT_TMP/models/bundled.ttm}
cp "$MODEL" "$TT_TMP/models/eq.ttm"
# TT_EQ_FUSED=1: the model fused with a second net that draws the same blocks
# another way (time over the block's span): both sides answer with the mean
if [ -n "${TT_EQ_FUSED:-}" ]; then
    tt_model "$TT_TMP/models/companion.ttm" --block-seconds 15 --time-scale span --seed 2
    "$TT_CLI" fuse -o "$TT_TMP/models/eq.ttm" "$MODEL" "$TT_TMP/models/companion.ttm" >/dev/null ||
        fail "traffictriage fuse failed"
    "$TT_CLI" info "$TT_TMP/models/eq.ttm" | grep -q "^--- fused with" || fail "info does not show the companion"
fi
tt_fix_owner
MODEL=$TT_TMP/models/eq.ttm
checked=0
failed=0
# TT_EQ_KEEP_GOING=1: report every differing capture instead of stopping at the first
fail_cap() {
    if [ -n "${TT_EQ_KEEP_GOING:-}" ]; then echo "DIFF: $*"; failed=$((failed + 1)); else fail "$*"; fi
}
for cap in "$TT_CAPS"/*.pcap "$TT_CAPS"/*.pcapng "$TT_CAPS"/*.pcap.gz; do
    [ -e "$cap" ] || continue
    name=$(basename "$cap")
    src=$cap
    case "$cap" in
    *.gz) gunzip -c "$cap" > "$TT_TMP/${name%.gz}"; src=$TT_TMP/${name%.gz}; tt_fix_owner ;;
    esac
    # 1. per packet
    "$TT_CLI" classify --packets "$MODEL" "$src" | grep -v '^#' | sort -n > "$TT_OUT/core.$name" \
        || fail "$name: traffictriage classify failed"
    tt_tshark -r "$src" -2 -o "triage.model:$MODEL" -o triage.threshold:0 \
        -Y '(tcp || udp) && triage.flow' \
        -T fields -E separator=/t -e frame.number -e triage.flow -e triage.block -e ip.len -e ipv6.plen \
        -e triage.ip_len > "$TT_OUT/ws.raw.$name" || fail "$name: tshark failed"
    # the plugin's own length (what its engine got): equal to the trainer's on every packet
    awk -F'\t' '{ print $1 "\t" $2 "\t" $3 "\t" $6 }' "$TT_OUT/ws.raw.$name" | sort -n > "$TT_OUT/ws.own.$name"
    if ! diff -q "$TT_OUT/core.$name" "$TT_OUT/ws.own.$name" >/dev/null; then
        diff "$TT_OUT/core.$name" "$TT_OUT/ws.own.$name" | head -20
        fail_cap "$name: per-packet flow/block/length differ between trainer and the plugin's triage.ip_len"
        continue
    fi
    # innermost IP length: last ip.len, or 40 + last ipv6.plen when the innermost header is IPv6
    awk -F'\t' '{ n = split($4, a, ","); m = split($5, b, ",");
                  len = (m > 0 && $5 != "" && (n == 0 || $4 == "")) ? 40 + b[m] : a[n];
                  if ($4 != "" && $5 != "") len = "?";
                  print $1 "\t" $2 "\t" $3 "\t" len }' "$TT_OUT/ws.raw.$name" | sort -n > "$TT_OUT/ws.$name"
    # mixed IPv4/IPv6 nesting gives "?": compare those rows without the length
    if grep -q '?' "$TT_OUT/ws.$name"; then
        cut -f1-3 "$TT_OUT/core.$name" > "$TT_OUT/a"; cut -f1-3 "$TT_OUT/ws.$name" > "$TT_OUT/b"
    else
        cp "$TT_OUT/core.$name" "$TT_OUT/a"; cp "$TT_OUT/ws.$name" "$TT_OUT/b"
    fi
    n=$(wc -l < "$TT_OUT/a")
    if ! diff -q "$TT_OUT/a" "$TT_OUT/b" >/dev/null; then
        diff "$TT_OUT/a" "$TT_OUT/b" | head -20
        fail_cap "$name: per-packet flow/block/length differ between trainer and plugin"
        continue
    fi
    echo "ok: $name: $n packets, same flow, block and IP length"

    # 2. per block: class and confidence, the block's own and the conversation's
    #    (triage.conversation.*: pooled with the reverse flow's block of the same index)
    "$TT_CLI" classify --threshold 0 "$MODEL" "$src" |
        awk -F'\t' '!/^#/ && $8 == "classified" { print $1 "\t" $2 "\t" $9 "\t" $10 "\t" $11 "\t" $12 }' \
        | LC_ALL=C sort > "$TT_OUT/core.blocks.$name"
    tt_tshark -r "$src" -2 -o "triage.model:$MODEL" -o triage.threshold:0 -Y 'triage.status == "classified"' \
        -T fields -E separator=/t -e triage.flow -e triage.block -e triage.category -e triage.confidence \
        -e triage.conversation.category -e triage.conversation.confidence \
        | LC_ALL=C sort -u > "$TT_OUT/ws.blocks.$name"
    nb=$(wc -l < "$TT_OUT/core.blocks.$name")
    if ! diff -q <(cut -f1-3 "$TT_OUT/core.blocks.$name") <(cut -f1-3 "$TT_OUT/ws.blocks.$name") >/dev/null; then
        diff <(cut -f1-3 "$TT_OUT/core.blocks.$name") <(cut -f1-3 "$TT_OUT/ws.blocks.$name") | head -20
        fail_cap "$name: per-block classes differ between trainer and plugin"
        continue
    fi
    if ! diff -q <(cut -f1,2,5 "$TT_OUT/core.blocks.$name") <(cut -f1,2,5 "$TT_OUT/ws.blocks.$name") >/dev/null; then
        diff <(cut -f1,2,5 "$TT_OUT/core.blocks.$name") <(cut -f1,2,5 "$TT_OUT/ws.blocks.$name") | head -20
        fail_cap "$name: per-block conversation classes differ between trainer and plugin"
        continue
    fi
    # both print the confidence as people read it (tt_confidence_shown: 3
    # decimals, rounded down): the same numbers
    paste "$TT_OUT/core.blocks.$name" "$TT_OUT/ws.blocks.$name" |
        awk -F'\t' '$4 + 0 != $10 + 0 || $6 + 0 != $12 + 0' > "$TT_OUT/conf.$name"
    if [ -s "$TT_OUT/conf.$name" ]; then
        head -20 "$TT_OUT/conf.$name"
        fail_cap "$name: per-block confidences (own or conversation) differ between trainer and plugin"
        continue
    fi
    echo "ok: $name: $nb classified blocks, same class and confidence, own and conversation"
    [ "$n" -gt 0 ] && checked=$((checked + 1))
done
echo "captures identical: $checked, differing: $failed"
[ "$failed" -eq 0 ] || fail "$failed captures differ"
expect_gt "$checked" 2 "captures compared"
