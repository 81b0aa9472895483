#!/bin/bash
# ctest bench_smoke (label bench-smoke): the issue-7 benchmark scripts run on
# a tiny input and print well-formed tables. No timing is asserted.
#   bench_smoke.sh BUILD_DIR
set -u
build=${1:?usage: bench_smoke.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time not installed"; exit 77; }
tmp=$(mktemp -d /tmp/tt-bench-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. the generator: deterministic, the requested size, both modes
/usr/bin/python3 "$here/make_capture.py" --packets 3000 --seed 7 --out "$tmp/a.pcap" 2>/dev/null || fail "make_capture mix"
/usr/bin/python3 "$here/make_capture.py" --packets 3000 --seed 7 --out "$tmp/b.pcap" 2>/dev/null || fail "make_capture mix (2)"
cmp -s "$tmp/a.pcap" "$tmp/b.pcap" || fail "make_capture is not deterministic"
/usr/bin/python3 "$here/make_capture.py" --packets 2000 --mode concurrent --flows 500 --out "$tmp/c.pcap" 2>/dev/null ||
    fail "make_capture concurrent"
n=$(capinfos -c -M "$tmp/c.pcap" | awk -F': *' '/Number of packets/ {print $2}')
[ "$n" = 2000 ] || fail "concurrent capture has $n packets, expected 2000"
n=$(capinfos -c -M "$tmp/a.pcap" | awk -F': *' '/Number of packets/ {print $2}')
[ "$n" -ge 3000 ] || fail "mix capture has $n packets, expected >= 3000"
echo "ok: make_capture.py (mix $n packets, deterministic; concurrent 2000)"

# 2. tshark ratios: one repetition, two configurations, a Markdown table
"$here/bench_tshark.sh" --build "$build" --capture "$tmp/a.pcap" --reps 1 --tests fields,category \
    --configs on,disabled >"$tmp/t.md" 2>"$tmp/t.err" || fail "bench_tshark.sh: $(tail -5 "$tmp/t.err")"
cat "$tmp/t.md"
grep -q '^| test (tshark -2 -r FILE ...) | config |' "$tmp/t.md" || fail "bench_tshark.sh: no table header"
rows=$(grep -c -E '^\| -T fields .* \| disabled \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| \*\*[0-9.]+\*\* \|' "$tmp/t.md")
[ "$rows" = 2 ] || fail "bench_tshark.sh: expected 2 ratio rows, got $rows"
grep -q "check: [1-9][0-9]* of" "$tmp/t.err" || fail "bench_tshark.sh: triage.category never filled"
echo "ok: bench_tshark.sh table"

# 3. the engine benchmark
if [ -x "$build/tests/bench/tt_bench_engine" ]; then
    "$build/core/traffictriage" init-model --arch lenet --side 32 --task category --seed 1 \
        --classes voip,video,chat,browsing,file_transfer -o "$tmp/m.ttm" >/dev/null || fail "init-model"
    "$build/tests/bench/tt_bench_engine" --rounds 1 "$tmp/m.ttm" "$tmp/a.pcap" "$tmp/c.pcap" >"$tmp/e.md" ||
        fail "tt_bench_engine"
    cat "$tmp/e.md"
    rows=$(grep -c -E '^\| [ac]\.pcap \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \|' "$tmp/e.md")
    [ "$rows" = 2 ] || fail "tt_bench_engine: expected 2 rows, got $rows"
    echo "ok: tt_bench_engine table"
fi
echo "1 passed, 0 failed"
