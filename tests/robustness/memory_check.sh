#!/bin/bash
# Peak RSS of tshark with and without the plugin on generated captures
# (gen_big_capture.py): many flows (evictions at triage.max_flows) and one
# long flow (the per-block packet cap). Reports the figures and fails when
# with/without exceeds TT_MEM_MAX_RATIO (default 1.3).
#
#   ctest (label robustness): small sizes, see CMakeLists.txt
#   by hand, the issue's sizes (captures kept in /var/tmp, ~1.2 GB, ~20 min):
#     TRIAGE_SO=... TT_CLI=... TT_CAPTURES=tests/captures TT_WS_MM=4.0 \
#     TT_MEM_FLOWS=1000000 TT_MEM_SINGLE=10000000 TT_MEM_KEEP=/var/tmp/tt-mem \
#     bash tests/robustness/memory_check.sh
# Environment: TT_MEM_FLOWS (flows, 2 packets each), TT_MEM_SINGLE (packets of
# the single flow), TT_MEM_MAX_FLOWS (triage.max_flows, default: the
# plugin's default), TT_MEM_MODES ("1 2": single pass and two-pass -2),
# TT_MEM_KEEP (directory to keep/reuse the generated captures),
# TT_MEM_WITH_ARGS (more tshark arguments for the run with the plugin, e.g.
# "-z triage,tree": that tap makes tshark build the full protocol tree of
# every packet, which costs as much as `-Y ip.len` does without the plugin).
#
# Both runs are `tshark -r FILE [-2] -T fields -e frame.number` (the run with
# the plugin also prints triage.flow, to prove it processed packets). Not
# `-q` alone: with nothing asking for a protocol tree the plugin does not run
# at all (BUGS-plugin.md), which would measure nothing.
. "$(dirname "$0")/common.sh"
tt_setup
FLOWS=${TT_MEM_FLOWS:-50000}
SINGLE=${TT_MEM_SINGLE:-500000}
RATIO=${TT_MEM_MAX_RATIO:-1.3}
MODES=${TT_MEM_MODES:-1 2}
KEEP=${TT_MEM_KEEP:-$TT_TMP/big}
mkdir -p "$KEEP" "$TT_TMP/home-absent"
GEN="/usr/bin/python3 $(dirname "$0")/gen_big_capture.py"
[ -s "$KEEP/flows-$FLOWS.pcap" ] || $GEN flows "$FLOWS" "$KEEP/flows-$FLOWS.pcap" || fail "generate flows"
[ -s "$KEEP/single-$SINGLE.pcap" ] || $GEN single "$SINGLE" "$KEEP/single-$SINGLE.pcap" || fail "generate single"
chmod 755 "$KEEP"; chmod 644 "$KEEP"/*.pcap
tt_fix_owner
OPTS=()
[ -n "${TT_MEM_MAX_FLOWS:-}" ] && OPTS=(-o "triage.max_flows:$TT_MEM_MAX_FLOWS")

peak() {   # peak HOME ARGS... -> "KB seconds" (peak RSS of the tshark process); output in $TT_OUT/fields
    local home=$1
    shift
    /usr/bin/time -f "%M %e" -o "$TT_TMP/time" "${TT_AS_USER[@]}" env HOME="$home" TZ=UTC LC_ALL=C.UTF-8 \
        tshark "$@" >"$TT_OUT/fields" 2>>"$TT_OUT/stderr" || fail "tshark $* failed"
    cat "$TT_TMP/time"
}

# "extra B/pkt": (with - without) peak RSS per packet of the capture, the
# plugin's memory per frame plus its share of flow and block records
printf "%-26s %-5s %12s %12s %7s %11s %9s %9s\n" capture pass "with KB" "without KB" ratio "extra B/pkt" "with s" "without s"
worst=0
for cap in "$KEEP/flows-$FLOWS.pcap" "$KEEP/single-$SINGLE.pcap"; do
    npkt=$(capinfos -c -M "$cap" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
    for mode in $MODES; do
        pass=(); [ "$mode" = 2 ] && pass=(-2)
        # shellcheck disable=SC2086
        read -r kb_on s_on < <(peak "$TT_HOME" -r "$cap" "${pass[@]}" "${OPTS[@]}" -T fields -e frame.number -e triage.flow ${TT_MEM_WITH_ARGS:-})
        seen=$(awk -F'\t' '$2 != ""' "$TT_OUT/fields" | wc -l)
        expect_gt "$seen" 0 "$(basename "$cap") pass $mode: packets the plugin processed"
        read -r kb_off s_off < <(peak "$TT_TMP/home-absent" -r "$cap" "${pass[@]}" -T fields -e frame.number)
        [ -n "${kb_on:-}" ] && [ -n "${kb_off:-}" ] || fail "measurement failed: $(tail -3 "$TT_OUT/stderr")"
        r=$(awk -v a="$kb_on" -v b="$kb_off" 'BEGIN { printf "%.3f", a / b }')
        bpp=$(awk -v a="$kb_on" -v b="$kb_off" -v n="${npkt:-0}" 'BEGIN { if (n > 0) printf "%.1f", (a - b) * 1024 / n; else print "?" }')
        printf "%-26s %-5s %12s %12s %7s %11s %9s %9s\n" "$(basename "$cap")" "$mode" "$kb_on" "$kb_off" "$r" "$bpp" "$s_on" "$s_off"
        worst=$(awk -v a="$r" -v w="$worst" 'BEGIN { print (a > w) ? a : w }')
    done
done
grep -q "model not loaded" "$TT_OUT/stderr" && fail "the model did not load"
awk -v w="$worst" -v r="$RATIO" 'BEGIN { exit !(w <= r) }' || fail "peak RSS with the plugin is $worst x without (limit $RATIO)"
echo "ok: worst ratio $worst <= $RATIO"
echo "PASS"
