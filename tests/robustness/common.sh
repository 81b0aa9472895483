# Shared setup for the robustness tests (sourced by test_*.sh). Builds on
# tests/plugin/common.sh (temporary HOME, plugin in the personal plugin
# folder, tshark as an unprivileged user) and adds:
#   - the AddressSanitizer + UBSan plugin: TRIAGE_SO points at a triage.so
#     built with -DTT_SANITIZE=ON; tshark itself is not instrumented, so the
#     sanitizer runtimes are preloaded (LD_PRELOAD, libasan first) -- see
#     tests/robustness/README.md;
#   - sanitizer_reports: count and print the reports a run left.
. "$(dirname "$0")/../plugin/common.sh"

ROBUST_DIR=$(cd "$(dirname "$0")" && pwd)
ROBUST_CAPTURES=$ROBUST_DIR/captures

# The sanitizer runtimes the plugin was linked with (empty if none).
asan_preload() {
    local so=$1 libs
    libs=$(ldd "$so" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | sort | tr '\n' ' ')
    # libasan must come first in the process
    echo "$libs" | tr ' ' '\n' | grep asan | grep -v ubsan
    echo "$libs" | tr ' ' '\n' | grep ubsan
}

# robust_setup: tt_setup plus a directory for sanitizer logs.
robust_setup() {
    tt_setup
    mkdir -p "$TT_TMP/san" "$TT_TMP/rcaps"
    cp "$ROBUST_CAPTURES"/* "$TT_TMP/rcaps/"
    ROBUST_CAPS=$TT_TMP/rcaps
    TT_PRELOAD=$(asan_preload "$TRIAGE_SO" | tr '\n' ' ' | sed 's/ *$//')
    tt_fix_owner
}

# tt_tshark_san ARGS...: tshark with the sanitizer runtimes preloaded (when
# the plugin has them). Every report goes to $TT_TMP/san/report.PID (ASan,
# LeakSanitizer, UBSan): an error aborts the run (exit 23 / signal).
tt_tshark_san() {
    tt_as_user env LD_PRELOAD="$TT_PRELOAD" \
        ASAN_OPTIONS="log_path=$TT_TMP/san/report:detect_leaks=1:exitcode=23:abort_on_error=0:symbolize=1:external_symbolizer_path=/usr/bin/llvm-symbolizer" \
        UBSAN_OPTIONS="log_path=$TT_TMP/san/report:print_stacktrace=1:halt_on_error=1:external_symbolizer_path=/usr/bin/llvm-symbolizer" \
        tshark "$@" 2>>"$TT_OUT/stderr"
}

# sanitizer_reports: print every report written so far and their count.
sanitizer_reports() {
    local n=0 f
    for f in "$TT_TMP"/san/report.*; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        echo "==== sanitizer report $f" >&2
        head -80 "$f" >&2
    done
    echo "$n"
}

# asan_canary CAPTURE: prove the sanitizer runtime is really active in tshark
# (preloaded, options read, logs writable): one run with atexit=1 must leave
# AddressSanitizer's exit statistics. Fails unless the plugin is built with
# -DTT_SANITIZE=ON (TT_ALLOW_NO_ASAN=1 runs the checks without it).
asan_canary() {
    if [ -z "$TT_PRELOAD" ]; then
        [ "${TT_ALLOW_NO_ASAN:-0}" = 1 ] || fail "$TRIAGE_SO is not built with AddressSanitizer (-DTT_SANITIZE=ON)"
        note "no sanitizer runtime in the plugin: TT_ALLOW_NO_ASAN=1, running without ASan"
        return
    fi
    mkdir -p "$TT_TMP/canary"
    tt_fix_owner
    tt_as_user env LD_PRELOAD="$TT_PRELOAD" ASAN_OPTIONS="log_path=$TT_TMP/canary/r:atexit=1:detect_leaks=0" \
        tshark -r "$1" -q 2>>"$TT_OUT/stderr" || fail "canary tshark run failed"
    grep -qs "AddressSanitizer exit stats" "$TT_TMP"/canary/r.* || fail "AddressSanitizer is not active in tshark (LD_PRELOAD=$TT_PRELOAD)"
    echo "ok: AddressSanitizer active in tshark (LD_PRELOAD=$TT_PRELOAD)"
}
