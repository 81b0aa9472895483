#!/bin/bash
# A live capture with the plugin (ctest -L live): a call-like UDP flow and a
# bulk TCP transfer on a loopback interface (tests/plugin/live_traffic.py),
# captured by tshark in a single pass while they run. Checks what a live
# user sees: provisional results with a category before any block closes,
# the final result of each finished block on the packet that closes it
# (triage.closed.*), notes that do not advise -2 (live capture rejects it),
# and the flows report at the stop: every block, the ones still open then
# classified at the stop, equal to tshark -2 on the saved capture.
#
# As root: in a new network namespace (its own loopback: no other traffic),
# dumpcap captures lo there and pipes into tshark -i - run as the
# unprivileged test user (Wireshark ignores personal plugins for root);
# tshark's own dumpcap child reads the pipe, so this is tshark's live
# capture path. As a normal user: tshark -i lo directly, with a capture
# filter on the test's ports; skipped without capture permission (see
# README "Live capture"). No timing is asserted.
. "$(dirname "$0")/common.sh"
skip() { echo "SKIP: $*"; exit 77; }
command -v dumpcap >/dev/null || skip "dumpcap is not installed"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
tt_setup
SECONDS_LIVE=10
tt_model "$TT_TMP/models/b4.ttm" --block-seconds 4
cp "$(dirname "$0")/live_traffic.py" "$TT_TMP/live_traffic.py"
tt_fix_owner
M=(-o "triage.model:$TT_TMP/models/b4.ttm" -o triage.threshold:0)
FIELDS=(-T fields -E header=y -e frame.number -e ip.proto -e triage.flow -e triage.block
        -e triage.status -e triage.category -e triage.packets
        -e triage.closed.flow -e triage.closed.block -e triage.closed.category -e _ws.expert.message)
out=$TT_OUT/live.tsv
report=$TT_OUT/flows.txt

saved=$TT_OUT/live.pcapng
# dumpcap captures lo and writes to a pipe; tee keeps a copy (for the -2
# comparison); tshark -i - reads the pipe through its own dumpcap child:
# tshark's live capture path. $1 = the tshark command (as the test user).
capture_pipeline() {
    dumpcap -q -i lo -f "$FILTER" -a "duration:$((SECONDS_LIVE + 2))" -w - 2>"$TT_OUT/dumpcap.err" |
        tee "$saved" | "$@" -i - -l > "$out" 2>>"$TT_OUT/stderr" &
    local cap=$!
    sleep 1
    /usr/bin/python3 "$TT_TMP/live_traffic.py" "$SECONDS_LIVE"
    wait "$cap"
}
TSHARK=(env HOME="$TT_HOME" TZ=UTC LC_ALL=C.UTF-8 tshark "${M[@]}" "${FIELDS[@]}" -z triage,flows -z triage,tree)
if [ "$(id -u)" = 0 ]; then
    command -v unshare >/dev/null && command -v ip >/dev/null || skip "unshare or ip (util-linux, iproute2) missing"
    unshare --net true 2>/dev/null || skip "cannot create a network namespace here (unshare --net failed)"
    FILTER=""       # the namespace's loopback carries only this test's traffic
    export -f capture_pipeline
    export FILTER SECONDS_LIVE TT_OUT TT_TMP saved out
    unshare --net bash -c 'ip link set lo up && capture_pipeline "$@"' _ "${TT_AS_USER[@]}" "${TSHARK[@]}" ||
        fail "live capture in a network namespace failed: $(tail -3 "$TT_OUT/stderr" "$TT_OUT/dumpcap.err" 2>/dev/null)"
    chmod 644 "$saved"
else
    dumpcap -i lo -a duration:1 -w /dev/null >/dev/null 2>&1 ||
        skip "no permission to capture on lo (not root and not in the wireshark group; README: Live capture)"
    FILTER="port 40000 or port 40001 or port 40002"
    capture_pipeline "${TSHARK[@]}" || fail "live capture on lo failed: $(tail -3 "$TT_OUT/stderr" "$TT_OUT/dumpcap.err")"
fi
# the -z report follows the packets in the same output
sed -n '/^=\{10,\}/,$p' "$out" > "$report"
sed -i '/^=\{10,\}/,$d' "$out"
note "live output: $(wc -l < "$out") lines; provisional, closing packets, the report:"
awk -F'\t' '$5 == "provisional"' "$out" | sed -n '1p;200p' | cut -c1-120
awk -F'\t' 'NR > 1 && $10 != ""' "$out" | head -2 | cut -c1-120
cat "$report"

n=$(awk -F'\t' 'NR > 1 && $3 != ""' "$out" | wc -l)
expect_gt "$n" 200 "live: TCP/UDP packets labelled"
n_prov=$(awk -F'\t' '$5 == "provisional" && $6 != ""' "$out" | wc -l)
expect_gt "$n_prov" 0 "live: provisional results with a category"
n_closed=$(awk -F'\t' 'NR > 1 && $10 != ""' "$out" | wc -l)
expect_gt "$n_closed" 0 "live: finished blocks' results (triage.closed.category)"
udp_prov=$(awk -F'\t' '$2 == 17 && $5 == "provisional"' "$out" | wc -l)
expect_gt "$udp_prov" 0 "live: the UDP call has provisional results"
grep -q "tshark -2" "$out" && fail "live: a note advises tshark -2"
grep -q "provisional category comes once" "$out" || fail "live: no live note on pending packets"
echo "ok: live notes without -2 advice"
grep -Eq "(blocks|block) still open when the capture stopped, classified then" "$report" ||
    fail "live: the flows report does not say what it classified at the stop: $(head -5 "$report")"
grep -q "Not listed" "$report" && fail "live: the flows report leaves blocks out"
echo "ok: flows report at the stop"
# The report at the stop lists every block with the result tshark -2 gives on
# the same packets (the blocks still open were classified at the stop, as -2's
# end-of-pass hook does): the same rows, the Conversation column included (a
# block that closed while the reverse direction's block of that time was still
# open takes the pooled answer when that one closes, as -2 gives it).
rows() { sed -n '/^-*+-/,$p' "$1" | sed 1d | grep '|' | sort; }
tt_tshark -r "$saved" -2 "${M[@]}" -q -z triage,flows > "$TT_OUT/flows2.txt"
rows "$report" > "$TT_OUT/rows.live"
rows "$TT_OUT/flows2.txt" > "$TT_OUT/rows.2"
expect_gt "$(wc -l < "$TT_OUT/rows.2")" 3 "tshark -2 on the saved capture: rows"
diff "$TT_OUT/rows.live" "$TT_OUT/rows.2" > "$TT_OUT/rows.diff" ||
    fail "live report rows differ from tshark -2 on the same packets: $(head -6 "$TT_OUT/rows.diff")"
echo "ok: the live report at the stop equals tshark -2 on the saved capture ($(wc -l < "$TT_OUT/rows.live") rows)"
blocks=$(awk '/^Blocks  / { print $2 }' "$report")
expect_eq "$blocks" "$(wc -l < "$TT_OUT/rows.live")" "live -z triage,tree at the stop: every block counted"
grep -q "unfinished" "$report" && fail "live -z triage,tree leaves unfinished blocks out"
echo "PASS"
