#!/bin/bash
# bench_callgrind.sh: instruction counts (valgrind --tool=callgrind) of tshark
# with and without the TrafficTriage plugin: the noise-free complement of
# bench_tshark.sh's timings on a shared machine (issue 7).
#
#   tests/bench/bench_callgrind.sh [--build DIR] [--capture FILE] [--arch lenet|flowpic|bundled]
#
# Default capture: /var/tmp/tt-bench-mix-100k.pcap (make_capture.py
# --packets 100000); callgrind runs tshark ~50x slower, so 1M packets takes
# too long. All runs start at the same time (each is single-threaded):
#   fields    tshark -2 -r F -T fields -e frame.number           on / disabled / absent
#   category  ... -e frame.number -e triage.category               on / disabled / absent
#             (absent: -e frame.number alone, the field does not exist)
#   tree      tshark -2 -r F -q -z triage,tree                     on / disabled / absent
#             (absent: -q -z io,stat,0, a trivial tap)
# Prints per run the total instructions (Ir), the plugin's own inclusive
# share (dissect_triage + the end-of-pass flush + the per-file init) and the
# ratio on/baseline. Note: wmem maps hash with a random seed, so counts vary
# by ~0.1-1% from run to run even for the same command.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=/tmp/perfbuild
cap=/var/tmp/tt-bench-mix-100k.pcap
arch=lenet
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --capture) cap=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench_callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "bench_callgrind.sh: valgrind is not installed" >&2; exit 77; }
# shellcheck source=bench_build.sh
. "$here/bench_build.sh"
bench_default_capture "$cap" 100000
bench_use_build bench_callgrind.sh "$build"
# shellcheck source=../plugin/common.sh
. "$src/tests/plugin/common.sh"
tt_setup >/dev/null
bench_install_model "$arch"
mkdir -p "$TT_TMP/absent" "$TT_TMP/cg"
tt_fix_owner

cg() {   # cg NAME HOME ARGS...
    local name=$1 home=$2
    shift 2
    "${TT_AS_USER[@]}" env HOME="$home" TZ=UTC OPENBLAS_NUM_THREADS=1 \
        valgrind --tool=callgrind --callgrind-out-file="$TT_TMP/cg/$name.out" \
        tshark -2 -r "$cap" "$@" >/dev/null 2>"$TT_TMP/cg/$name.log"
}
H=$TT_HOME
cg fields.on "$H" -T fields -e frame.number &
cg fields.disabled "$H" -T fields -e frame.number --disable-protocol triage &
cg fields.absent "$TT_TMP/absent" -T fields -e frame.number &
cg category.on "$H" -T fields -e frame.number -e triage.category &
cg category.disabled "$H" -T fields -e frame.number -e triage.category --disable-protocol triage &
cg category.absent "$TT_TMP/absent" -T fields -e frame.number &
cg tree.on "$H" -q -z triage,tree &
cg tree.disabled "$H" -q -z triage,tree --disable-protocol triage &
cg tree.absent "$TT_TMP/absent" -q -z io,stat,0 &
wait
/usr/bin/python3 "$here/callgrind_table.py" "$TT_TMP/cg" "$cap" "$arch"
