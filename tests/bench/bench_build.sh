# What the tshark, GUI and callgrind benchmarks share; source it from bash.
#
# bench_use_build SCRIPT BUILD: exports what tests/plugin/common.sh reads for
# the plugin and CLI of the build tree BUILD (TRIAGE_SO, TT_CLI, TT_CAPTURES
# and TT_WS_MM, the Wireshark version tshark reports); exits 2, naming
# SCRIPT, when BUILD has not built them.
#
# bench_default_capture PATH PACKETS: makes PATH with make_capture.py
# --packets PACKETS unless it exists; exits 1 when that fails.
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bench_use_build() {
    export TRIAGE_SO=$2/plugin/triage.so
    export TT_CLI=$2/core/traffictriage
    export TT_CAPTURES=$bench_dir/../captures
    TT_WS_MM=$(tshark --version 2>/dev/null | head -1 | sed -E 's/.* ([0-9]+)\.([0-9]+)\.[0-9]+.*/\1.\2/')
    export TT_WS_MM
    [ -x "$TT_CLI" ] && [ -f "$TRIAGE_SO" ] || { echo "$1: build $2 first" >&2; exit 2; }
}

bench_default_capture() {
    [ -s "$1" ] || /usr/bin/python3 "$bench_dir/make_capture.py" --packets "$2" --out "$1" >&2 || exit 1
}
