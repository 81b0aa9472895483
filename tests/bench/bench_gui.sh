#!/bin/bash
# bench_gui.sh: time for the Wireshark GUI to open a capture with the
# TrafficTriage plugin, as a ratio to the same GUI without it (issue 7).
#
#   tests/bench/bench_gui.sh [--build DIR] [--capture FILE] [--reps N]
#       [--arch lenet|flowpic] [--configs LIST] [--idle SEC] [--raw FILE]
#
# Method (no hook inside Wireshark, so nothing of the load is left out):
# the real wireshark-qt runs headless under Xvfb (as uid 65534 when started
# as root, as the caller otherwise) with a temporary HOME (personal plugins),
# started with -r FILE. A poller reads the
# process's CPU time (utime + stime of all threads, /proc/PID/stat) every
# 0.1 s. Opening a file in Wireshark is CPU-bound from start to end: reading
# and dissecting every frame (the first pass, coloring rules), the
# end-of-pass hook (the plugin classifies every flow's last block there),
# building the packet list and drawing the first rows. The load is over when
# the process stops using CPU: the first moment after which none of its
# threads is runnable (state R/D in /proc/PID/task/*/stat: on a loaded
# machine a starved thread is still busy) and it uses less than 5% of a
# core, for --idle seconds (default 2). Reported per run:
#   wall  seconds from exec to that moment (includes Wireshark's start-up)
#   cpu   CPU seconds used up to that moment
# and the process is then killed. Idle counts only once a main window shows
# the file's name (xdotool): before, Wireshark is still starting up. All
# configurations run with -o capture.no_interface_load:TRUE (no dumpcap
# interface scan at start-up, which only adds waiting). Configurations: on (plugin installed and
# enabled), disabled (--disable-protocol triage), absent (not installed).
# Each repetition runs every configuration once in a rotated order; the
# table gives medians and the median of the paired ratios on/baseline.
# --parallel starts the configurations of a repetition at the same time (same
# machine load for all; on a shared, oversubscribed machine a repetition then
# takes one run's time); each has its own poller and X client.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=/tmp/perfbuild
cap=
reps=5
arch=lenet
configs=on,disabled,absent
idle=2
raw=
parallel=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --capture) cap=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --parallel) parallel=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "bench_gui.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for c in wireshark Xvfb xdotool; do
    command -v $c >/dev/null || { echo "bench_gui.sh: $c is not installed (tests/deps.sh --test)" >&2; exit 77; }
done

# shellcheck source=bench_build.sh
. "$here/bench_build.sh"
bench_use_build bench_gui.sh "$build"
if [ -z "$cap" ]; then
    cap=/var/tmp/tt-bench-mix-1M.pcap
    bench_default_capture "$cap" 1000000
fi

# shellcheck source=../plugin/common.sh
. "$src/tests/plugin/common.sh"
# shellcheck source=../lib/xvfb.sh
. "$src/tests/lib/xvfb.sh"
tt_setup >/dev/null
if [ "$arch" = flowpic ]; then
    "$TT_CLI" init-model --arch flowpic --task category --seed 1 --classes "$TT_CLASSES" \
        -o "$TT_PLUGDIR/triage/category.ttm" >/dev/null || fail "init-model flowpic"
fi
NOPLUG_HOME=$TT_TMP/home-absent
mkdir -p "$NOPLUG_HOME" "$TT_TMP/run"
chmod 700 "$TT_TMP/run"
capcopy=$cap
if ! "${TT_AS_USER[@]}" test -r "$cap" 2>/dev/null; then
    capcopy=$TT_TMP/$(basename "$cap")
    cp "$cap" "$capcopy"
fi
tt_fix_owner
capname=$(basename "$capcopy")
hz=$(getconf CLK_TCK)

WSPID=
XVFB_PID=
gui_cleanup() {
    [ -n "$WSPID" ] && kill "$WSPID" 2>/dev/null
    for f in "$TT_TMP"/wspid.*; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    tt_cleanup
}
trap gui_cleanup EXIT
xvfb_start 131 160 "$TT_OUT/xvfb.log" || fail "no X server (above)"
disp=$XVFB_DISPLAY

tree_pids() {   # the process and its live children (Wireshark runs dumpcap at start-up)
    echo "$1"
    ps -o pid= --ppid "$1" 2>/dev/null
}

cpu_ticks() {   # utime + stime (all threads) + reaped children, of the process and its live children
    local p
    for p in $(tree_pids "$1"); do cat /proc/"$p"/stat 2>/dev/null; done |
        awk '{ sub(/.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

runnable() {    # true if a thread of the process or of a child is running or waiting for a CPU (R) or disk (D)
    local p
    for p in $(tree_pids "$1"); do cat /proc/"$p"/task/*/stat 2>/dev/null; done |
        awk '{ sub(/.*\) /, ""); if ($1 == "R" || $1 == "D") f = 1 } END { exit !f }'
}

# run_gui CONFIG -> "wall cpu rss_kb"
run_gui() {
    local cfg=$1 home=$TT_HOME
    local -a extra=()
    case $cfg in
    disabled) extra=(--disable-protocol triage) ;;
    absent) home=$NOPLUG_HOME ;;
    esac
    local t0 t_last c_last c now rss=0 win=
    t0=$(date +%s.%N)
    "${TT_AS_USER[@]}" env HOME="$home" TZ=UTC LC_ALL=C.UTF-8 DISPLAY=:$disp XDG_RUNTIME_DIR="$TT_TMP/run" \
        QT_X11_NO_MITSHM=1 OPENBLAS_NUM_THREADS=1 \
        wireshark -o capture.no_interface_load:TRUE "${extra[@]}" -r "$capcopy" >"$TT_OUT/ws.$cfg.log" 2>&1 &
    WSPID=$!
    echo "$WSPID" >"$TT_TMP/wspid.$cfg"
    t_last=$t0
    c_last=0
    while :; do
        sleep 0.1
        kill -0 "$WSPID" 2>/dev/null || { echo "bench_gui.sh: wireshark died: $(tail -3 "$TT_OUT/ws.$cfg.log")" >&2; return 1; }
        c=$(cpu_ticks "$WSPID")
        [ -n "$c" ] || continue
        now=$(date +%s.%N)
        # busy if it used more than 5% of a core since the last busy moment
        # (a starved thread, runnable but not given a CPU on a loaded machine, is busy too)
        if runnable "$WSPID" || awk -v c="$c" -v cl="$c_last" -v n="$now" -v tl="$t_last" -v hz="$hz" \
            'BEGIN { exit !((c - cl) / hz > 0.05 * (n - tl) + 1.0 / hz) }'; then
            t_last=$now
            c_last=$c
        elif awk -v n="$now" -v tl="$t_last" -v i="$idle" 'BEGIN { exit !(n - tl >= i) }'; then
            # idle: done if the main window shows the file (else still starting up)
            win=$(DISPLAY=:$disp xdotool search --onlyvisible --name "$capname" 2>/dev/null | head -1)
            [ -n "$win" ] && break
            t_last=$now
            c_last=$c
        fi
        awk -v n="$now" -v t0="$t0" 'BEGIN { exit !(n - t0 > 1200) }' && { echo "bench_gui.sh: no idle after 20 min" >&2; return 1; }
    done
    rss=$(awk '/VmHWM/ {print $2}' /proc/"$WSPID"/status 2>/dev/null)
    kill "$WSPID" 2>/dev/null
    wait "$WSPID" 2>/dev/null
    rm -f "$TT_TMP/wspid.$cfg"
    WSPID=
    [ -n "$win" ] || { echo "bench_gui.sh: no window showing $capname ($cfg): $(tail -3 "$TT_OUT/ws.$cfg.log")" >&2; return 1; }
    awk -v tl="$t_last" -v t0="$t0" -v c="$c_last" -v hz="$hz" -v r="${rss:-0}" \
        'BEGIN { printf "%.2f %.2f %d\n", tl - t0, c / hz, r }'
}

IFS=, read -r -a C <<<"$configs"
data=$TT_TMP/gui.tsv
: >"$data"
for ((r = 1; r <= reps; r++)); do
    n=${#C[@]}
    if [ $parallel = 1 ]; then
        pids=()
        for c in "${C[@]}"; do
            run_gui "$c" >"$TT_TMP/m.$c" &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || exit 1; done
        for c in "${C[@]}"; do
            m=$(cat "$TT_TMP/m.$c")
            printf '%s\t%s\t%s\n' "$r" "$c" "$m" | tr ' ' '\t' >>"$data"
            echo "rep $r gui $c: $m" >&2
        done
    else
        for ((k = 0; k < n; k++)); do
            c=${C[$(((k + r - 1) % n))]}
            m=$(run_gui "$c") || exit 1
            printf '%s\t%s\t%s\n' "$r" "$c" "$m" | tr ' ' '\t' >>"$data"
            echo "rep $r gui $c: $m" >&2
        done
    fi
done
[ -n "$raw" ] && cp "$data" "$raw"
packets=$(capinfos -c -M "$cap" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
mode=""
[ $parallel = 1 ] && mode=", configurations of a repetition started at the same time (--parallel)"
/usr/bin/python3 - "$data" "$cap" "$packets" "$reps" "$arch" "$mode" <<'EOF'
import sys, statistics as st
path, cap, packets, reps, arch, mode = sys.argv[1:]
m = {}
for l in open(path):
    if not l.strip():
        continue
    rep, c, wall, cpu, rss = l.split()
    m.setdefault(c, {})[rep] = (float(wall), float(cpu), int(rss))
print(f"capture `{cap}` ({packets} packets), model {arch}, N = {reps} repetitions (medians){mode}\n")
print("| wireshark -r FILE | wall s to idle | CPU s to idle | peak RSS MiB | wall ratio on/config | CPU ratio | RSS ratio | target <= 1.15 |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for c, d in m.items():
    w = st.median(v[0] for v in d.values()); u = st.median(v[1] for v in d.values())
    s = st.median(v[2] for v in d.values()) / 1024
    cells = ["", "", "", ""]
    if c != "on" and "on" in m:
        on = m["on"]
        rs = [r for r in d if r in on]
        rw = st.median(on[r][0] / d[r][0] for r in rs)
        rc = st.median(on[r][1] / d[r][1] for r in rs)
        rr = st.median(on[r][2] / d[r][2] for r in rs)
        cells = [f"**{rw:.3f}**", f"**{rc:.3f}**", f"{rr:.3f}", "met" if max(rw, rc) <= 1.15 else "MISSED"]
    print(f"| {c} | {w:.2f} | {u:.2f} | {s:.0f} | " + " | ".join(cells) + " |")
EOF
