#!/bin/bash
# Re-entry: results must not depend on what the engine saw before.
#
# tshark opens one capture per process, so the closest honest checks are:
#  1. the same capture twice in one run: mergecap -a of A and A shifted by one
#     day (editcap -t 86400, so every flow of the first copy has ended by idle
#     timeout before the second starts). Every packet of the second copy must
#     get exactly what the same packet of the first copy got (status,
#     category, confidence, block, packets in block; flow numbers go on
#     counting), and the first copy exactly what a separate run of A gives;
#  2. two passes vs one: in `tshark -2` the second pass re-dissects every
#     frame from stored results (as the GUI does on a re-dissection); the
#     category each block gets there must be the one the single-pass run
#     reports when the block closes (triage.closed.*), block by block;
#  3. the same run twice (a fresh process each time) gives identical output.
# The GUI's close-one-file-open-another path runs the same init/cleanup
# routines as 1. (see tests/robustness/README.md).
. "$(dirname "$0")/common.sh"
robust_setup
asan_canary "$TT_CAPS/vlan.pcap"
A=$TT_TMP/a.pcap
editcap -F pcap "$TT_CAPS/mixed.pcap.gz" "$A" >/dev/null 2>&1 || fail "editcap"
editcap -t 86400 "$A" "$TT_TMP/a-later.pcap" >/dev/null 2>&1 || fail "editcap -t"
mergecap -a -F pcap -w "$TT_TMP/twice.pcap" "$A" "$TT_TMP/a-later.pcap" || fail "mergecap"
tt_fix_owner
N=$(capinfos -c -M "$A" | awk '/Number of packets/ { print $NF }')
expect_gt "$N" 100 "packets in A"
F=(-T fields -e frame.number -e triage.status -e triage.category -e triage.confidence -e triage.block -e triage.packets -e triage.flow)
P=(-o triage.threshold:0)

tt_tshark_san -r "$A" -2 "${P[@]}" "${F[@]}" > "$TT_OUT/sep" || fail "tshark A"
tt_tshark_san -r "$TT_TMP/twice.pcap" -2 "${P[@]}" "${F[@]}" > "$TT_OUT/twice" || fail "tshark twice"
expect_eq "$(wc -l < "$TT_OUT/twice")" "$((2 * N))" "frames in the doubled capture"
labelled=$(awk -F'\t' '$3 != ""' "$TT_OUT/sep" | wc -l)
expect_gt "$labelled" 100 "packets with a category in A"
head -n "$N" "$TT_OUT/twice" > "$TT_OUT/first"
cmp -s "$TT_OUT/first" "$TT_OUT/sep" || { diff "$TT_OUT/first" "$TT_OUT/sep" | head; fail "first copy differs from a separate run of A"; }
echo "ok: first copy = separate run ($N frames, every field incl. flow numbers)"
# second copy: same results, frame and flow numbers aside
cut -f2-6 "$TT_OUT/sep" > "$TT_OUT/sep.res"
tail -n "$N" "$TT_OUT/twice" | cut -f2-6 > "$TT_OUT/second.res"
cmp -s "$TT_OUT/second.res" "$TT_OUT/sep.res" || { diff "$TT_OUT/second.res" "$TT_OUT/sep.res" | head; fail "second copy differs"; }
echo "ok: second copy = first copy (status, category, confidence, block, packets)"
f1=$(tail -n "$N" "$TT_OUT/twice" | awk -F'\t' '$7 != "" { print $7 }' | sort -n | head -1)
fmax=$(awk -F'\t' '$7 != "" { print $7 }' "$TT_OUT/sep" | sort -n | tail -1)
expect_gt "$f1" "$fmax" "the second copy's flows are new flows"

# 2. -2 vs single pass, per (flow, block)
tt_tshark_san -r "$A" "${P[@]}" -T fields -e triage.closed.flow -e triage.closed.block -e triage.closed.category \
    -e triage.closed.confidence > "$TT_OUT/single" || fail "tshark single pass"
awk -F'\t' '$1 != "" {
    n = split($1, f, ","); split($2, b, ","); split($3, c, ","); split($4, p, ",")
    for (i = 1; i <= n; i++) print f[i] "/" b[i], c[i], p[i] }' "$TT_OUT/single" | sort -u > "$TT_OUT/single.blocks"
awk -F'\t' '$3 != "" { print $7 "/" $5, $3, $4 }' "$TT_OUT/sep" | sort -u > "$TT_OUT/two.blocks"
nb=$(wc -l < "$TT_OUT/two.blocks")
expect_gt "$nb" 3 "classified blocks"
expect_eq "$(awk '{ print $1 }' "$TT_OUT/two.blocks" | uniq -d | wc -l)" 0 "one result per block in the two-pass run"
# every block the single pass closed before the end has the same result in -2
missing=$(comm -23 "$TT_OUT/single.blocks" "$TT_OUT/two.blocks" | wc -l)
expect_eq "$missing" 0 "single-pass block results that -2 does not show identically"
expect_gt "$(wc -l < "$TT_OUT/single.blocks")" 0 "blocks closed during the single pass"

# 3. a fresh process gives the same bytes
tt_tshark_san -r "$A" -2 "${P[@]}" "${F[@]}" > "$TT_OUT/sep2" || fail "tshark A again"
cmp -s "$TT_OUT/sep" "$TT_OUT/sep2" || fail "two runs of the same command differ"
echo "ok: identical output from a second process"

n=$(sanitizer_reports)
expect_eq "$n" 0 "sanitizer reports"
echo "PASS"
