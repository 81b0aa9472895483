#!/bin/bash
# bench_live.sh: does live capture with the TrafficTriage plugin drop more
# packets, or fall further behind, than without it? (issue 19). Not a test:
# run it by hand and put its table in tests/bench/RESULTS.md.
#
#   tests/bench/bench_live.sh [--build DIR] [--rate PPS] [--seconds S]
#       [--flows N] [--reps R] [--model FILE]
#
#   --build DIR   build tree with plugin/triage.so (default build/ci)
#   --rate PPS    UDP packets per second sent on the loopback (default 20000)
#   --seconds S   capture length (default 10)
#   --flows N     concurrent UDP flows (default 200)
#   --reps R      repetitions, each running both configurations (default 3)
#   --model FILE  category model (default models/category.ttm)
#
# Needs root. Each run happens in new network and mount namespaces: the
# loopback carries only the sender's traffic (tests/bench/live_sender.py),
# and for the "plugin" configuration Wireshark's global plugin folder is
# replaced, inside the namespace only, by a copy with triage.so added (root
# ignores personal plugins; nothing changes outside the namespace). tshark
# captures exactly as a user's `tshark -i lo` does (dumpcap writes a
# temporary file, tshark reads it as it grows), printing one line per packet:
#   plugin:   tshark -i lo -a duration:S -T fields -e frame.number -e triage.category
#   absent:   tshark -i lo -a duration:S -T fields -e frame.number -e udp.length
# The sender starts 2 s after tshark (its start-up) and stops 1 s before the
# capture does. Measured per run: packets the sender sent, packets captured
# and dropped (tshark's end-of-capture lines), lines tshark printed, tshark's
# wall time past the capture length (start-up, and how far it was behind), CPU time and
# peak RSS. Output: a Markdown table of the medians over the repetitions.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
while [ $# -gt 0 ]; do
    case $1 in
    --build|--rate|--seconds|--flows|--reps|--model)
        [ $# -ge 2 ] || { echo "bench_live.sh: $1 needs a value" >&2; exit 2; }
        declare "opt_${1#--}=$2"
        shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "bench_live.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
build=${opt_build:-$src/build/ci}
rate=${opt_rate:-20000}
seconds=${opt_seconds:-10}
flows=${opt_flows:-200}
reps=${opt_reps:-3}
model=${opt_model:-$src/models/category.ttm}
[ "$(id -u)" = 0 ] || { echo "bench_live.sh: needs root (network and mount namespaces)" >&2; exit 2; }
[ -f "$build/plugin/triage.so" ] || { echo "bench_live.sh: no $build/plugin/triage.so" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_live.sh: /usr/bin/time is missing (Debian package time)" >&2; exit 2; }
mm=$(tshark --version 2>/dev/null | head -1 | sed -E 's/.* ([0-9]+)\.([0-9]+)\.[0-9]+.*/\1.\2/')
global=$(tshark -G folders 2>/dev/null | awk -F':[ \t]*' '/^Global Plugins/ { print $2 }')
[ -d "$global/epan" ] || { echo "bench_live.sh: no global plugin folder ($global)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/tt-bench-live.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -a "$global/epan" "$tmp/epan"
cp "$build/plugin/triage.so" "$tmp/epan/triage.so"
mkdir -p "$tmp/epan/triage"
cp "$model" "$tmp/epan/triage/category.ttm"

# one run: $1 = plugin|absent; prints "sent received dropped lines lag cpu rss"
run() {
    local cfg=$1 field=udp.length mount=""
    if [ "$cfg" = plugin ]; then
        field=triage.category
        mount="mount --bind '$tmp/epan' '$global/epan' &&"
    fi
    unshare --mount --net bash -c "
        $mount ip link set lo up || exit 1
        (sleep 2; /usr/bin/python3 '$here/live_sender.py' --rate $rate --seconds $seconds --flows $flows > '$tmp/sent') &
        /usr/bin/time -f '%e %U %S %M' -o '$tmp/time' tshark -i lo -a duration:$((seconds + 3)) -n \
            -T fields -e frame.number -e $field 2> '$tmp/err' | wc -l > '$tmp/lines'
        wait" || { echo "bench_live.sh: run $cfg failed" >&2; cat "$tmp/err" >&2; exit 1; }
    local sent recv drop
    sent=$(awk '{ print $2 }' "$tmp/sent")
    # tshark's own end lines: "N packets captured", "M packets dropped from lo" (when M > 0)
    recv=$(sed -nE 's/^([0-9]+) packets? captured.*/\1/p' "$tmp/err" | tail -1)
    drop=$(sed -nE 's/^([0-9]+) packets? dropped.*/\1/p' "$tmp/err" | tail -1)
    if [ "$cfg" = plugin ] && ! grep -q . "$tmp/lines"; then
        echo "bench_live.sh: no output with the plugin" >&2; exit 1
    fi
    awk -v s="$sent" -v r="${recv:-0}" -v d="${drop:-0}" -v l="$(cat "$tmp/lines")" -v cap=$((seconds + 3)) \
        '{ printf "%s %s %s %s %.2f %.2f %d\n", s, r, d, l, $1 - cap, $2 + $3, $4 }' "$tmp/time"
}

: > "$tmp/raw"
for rep in $(seq 1 "$reps"); do
    for cfg in absent plugin; do
        line=$(run "$cfg") || exit 1
        echo "rep $rep $cfg: $line" >&2
        echo "$cfg $line" >> "$tmp/raw"
    done
done
# a plugin run must really have labelled packets
unshare --mount bash -c "mount --bind '$tmp/epan' '$global/epan' && tshark -G plugins" 2>/dev/null | grep -q triage.so ||
    { echo "bench_live.sh: the plugin does not load from the namespace's global folder" >&2; exit 1; }

echo "Live capture on a loopback, $rate pps requested for $seconds s over $flows UDP flows,"
echo "model $(basename "$model"), Wireshark $mm, $reps repetitions (medians):"
echo
echo "| configuration | sent | captured | dropped | lines printed | wall time past the capture length, start-up included (s) | CPU (s) | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|---|"
for cfg in absent plugin; do
    awk -v c="$cfg" '$1 == c' "$tmp/raw" | awk '
        { for (i = 2; i <= 8; i++) v[i, NR] = $i; n = NR }
        function med(col,   a, i, k, t) { for (i = 1; i <= n; i++) a[i] = v[col, i]
            for (i = 1; i <= n; i++) for (k = i + 1; k <= n; k++) if (a[k] < a[i]) { t = a[i]; a[i] = a[k]; a[k] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { printf "| %s | %d | %d | %d | %d | %.2f | %.2f | %.0f |\n", c, med(2), med(3), med(4), med(5), med(6), med(7), med(8) / 1024 }' c="$cfg"
done
