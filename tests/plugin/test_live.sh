#!/bin/bash
# A live capture with the plugin (ctest -L live): a call-like UDP flow and a
# bulk TCP transfer on a loopback interface (tests/plugin/live_traffic.py),
# captured by tshark in a single pass while they run. Checks what a live
# user sees: provisional results with a category before any block closes,
# the final result of each finished block on the packet that closes it
# (triage.closed.*), notes that do not advise -2 (live capture rejects it),
# and the flows report's line about blocks still open at the stop.
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

if [ "$(id -u)" = 0 ]; then
    command -v unshare >/dev/null && command -v ip >/dev/null || skip "unshare or ip (util-linux, iproute2) missing"
    unshare --net true 2>/dev/null || skip "cannot create a network namespace here (unshare --net failed)"
    # one tshark run prints packets (-l: as they come) and, at the stop, the flows report
    unshare --net bash -c '
        ip link set lo up || exit 1
        dumpcap -q -i lo -a duration:'"$((SECONDS_LIVE + 2))"' -w - 2>"$1/dumpcap.err" |
            "${@:4}" -i - -l > "$2" 2>>"$1/stderr" &
        sleep 1
        /usr/bin/python3 "$3" '"$SECONDS_LIVE"'
        wait' _ "$TT_OUT" "$out" "$TT_TMP/live_traffic.py" \
        "${TT_AS_USER[@]}" env HOME="$TT_HOME" TZ=UTC LC_ALL=C.UTF-8 tshark "${M[@]}" "${FIELDS[@]}" -z triage,flows \
        || fail "live capture in a network namespace failed: $(tail -3 "$TT_OUT/stderr" "$TT_OUT/dumpcap.err" 2>/dev/null)"
else
    dumpcap -i lo -a duration:1 -w /dev/null >/dev/null 2>&1 ||
        skip "no permission to capture on lo (not root and not in the wireshark group; README: Live capture)"
    /usr/bin/python3 "$TT_TMP/live_traffic.py" "$SECONDS_LIVE" &
    gen=$!
    HOME=$TT_HOME TZ=UTC LC_ALL=C.UTF-8 tshark -i lo -f "port 40000 or port 40001 or port 40002" \
        -a "duration:$((SECONDS_LIVE + 1))" -l "${M[@]}" "${FIELDS[@]}" -z triage,flows > "$out" 2>>"$TT_OUT/stderr" ||
        fail "tshark -i lo failed: $(tail -3 "$TT_OUT/stderr")"
    wait "$gen"
fi
# the -z report follows the packets in the same output
sed -n '/^=\{10,\}/,$p' "$out" > "$report"
sed -i '/^=\{10,\}/,$d' "$out"
note "live output: $(wc -l < "$out") lines; provisional, closing packets, the report:"
awk -F'\t' '$5 == "provisional"' "$out" | sed -n '1p;200p' | cut -c1-120
awk -F'\t' 'NR > 1 && $10 != ""' "$out" | head -2 | cut -c1-120
head -12 "$report"

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
grep -q "still open when the capture stopped" "$report" || fail "live: the flows report does not say what is still open: $(head -5 "$report")"
grep -q "tshark -2" "$report" && fail "live: the flows report advises tshark -2"
echo "ok: flows report at the stop"
echo "PASS"
