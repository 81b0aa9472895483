# What the tshark, GUI and callgrind benchmarks share; source it from bash.
#
# bench_use_build SCRIPT BUILD: exports what tests/plugin/common.sh reads for
# the plugin and CLI of the build tree BUILD (TRIAGE_SO, TT_CLI, TT_CAPTURES
# and TT_WS_MM, the Wireshark version tshark reports); exits 2, naming
# SCRIPT, when BUILD has not built them.
#
# bench_default_capture PATH PACKETS: makes PATH with make_capture.py
# --packets PACKETS unless it exists; exits 1 when that fails.
#
# bench_install_model ARCH: after tt_setup (tests/plugin/common.sh), the model
# the plugin loads as its category model: lenet (tt_setup's untrained
# mini-FlowPic, kept), flowpic (the paper's 1500 x 1500 net, untrained) or
# bundled (the repository's models/category.ttm); fails on another name.
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

bench_install_model() {
    case $1 in
    lenet) ;;
    bundled)
        cp "$bench_dir/../../models/category.ttm" "$TT_PLUGDIR/triage/category.ttm" || fail "copy the bundled model" ;;
    flowpic)
        "$TT_CLI" init-model --arch flowpic --task category --seed 1 --classes "$TT_CLASSES" \
            -o "$TT_PLUGDIR/triage/category.ttm" >/dev/null || fail "init-model flowpic" ;;
    *) fail "unknown --arch $1" ;;
    esac
}
