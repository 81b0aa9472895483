#!/bin/sh
# Build and run the libFuzzer targets of tests/fuzz with clang
# (-fsanitize=fuzzer,address,undefined), separately from the project's
# own (gcc) build. Used by ctest (label fuzz) and by hand:
#
#   TT_FUZZ_SRC=tests/fuzz TT_FUZZ_BUILD=/tmp/ttfuzz sh tests/fuzz/run_fuzzers.sh build
#   TT_FUZZ_SRC=tests/fuzz TT_FUZZ_BUILD=/tmp/ttfuzz TT_FUZZ_SECONDS=600 \
#       sh tests/fuzz/run_fuzzers.sh run engine
#
# run TARGET: first replays tests/fuzz/regressions/TARGET (each input must
# pass), then fuzzes for TT_FUZZ_SECONDS seconds starting from the committed
# seeds (tests/fuzz/corpus/TARGET, read only) into a scratch corpus in the
# build dir. A crash, sanitizer report, leak, timeout (10 s per input) or
# memory blow-up (2 GB) fails the test; the input is kept under
# $TT_FUZZ_BUILD/run-TARGET/ (copy it into regressions/TARGET once fixed).
# The last lines give libFuzzer's figures: executions, cov (edges) and ft
# (features). Exit 77 (ctest: skipped) when clang or libFuzzer is missing.
set -eu
: "${TT_FUZZ_SRC:?}" "${TT_FUZZ_BUILD:?}"
SECONDS_EACH=${TT_FUZZ_SECONDS:-50}
cmd=${1:-}

have_libfuzzer() {
    command -v clang >/dev/null 2>&1 || return 1
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > "$1/probe.c"
    clang -fsanitize=fuzzer "$1/probe.c" -o "$1/probe" >/dev/null 2>&1
}

case "$cmd" in
build)
    mkdir -p "$TT_FUZZ_BUILD"
    if ! have_libfuzzer "$TT_FUZZ_BUILD"; then
        echo "SKIP: clang with libFuzzer not found (tests/deps.sh --test installs clang and libclang-rt-14-dev)"
        exit 77
    fi
    CC=clang cmake -S "$TT_FUZZ_SRC" -B "$TT_FUZZ_BUILD" -DCMAKE_BUILD_TYPE= >"$TT_FUZZ_BUILD/configure.log" 2>&1 ||
        { cat "$TT_FUZZ_BUILD/configure.log"; exit 1; }
    cmake --build "$TT_FUZZ_BUILD" -j "$(nproc 2>/dev/null || echo 2)"
    ;;
run)
    t=${2:?usage: run_fuzzers.sh run TARGET}
    bin=$TT_FUZZ_BUILD/fuzz_$t
    [ -x "$bin" ] || { echo "SKIP: $bin not built"; exit 77; }
    work=$TT_FUZZ_BUILD/run-$t
    rm -rf "$work"
    mkdir -p "$work/corpus"
    dict=""
    base=$t
    [ "$t" = model_fixed ] && base=model
    [ -f "$TT_FUZZ_SRC/$base.dict" ] && dict="-dict=$TT_FUZZ_SRC/$base.dict"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    if [ -d "$TT_FUZZ_SRC/regressions/$t" ] && [ -n "$(ls "$TT_FUZZ_SRC/regressions/$t")" ]; then
        echo "== replaying regressions/$t"
        "$bin" -runs=1 "$TT_FUZZ_SRC"/regressions/"$t"/* > "$work/regressions.log" 2>&1 ||
            { tail -50 "$work/regressions.log"; echo "FAIL: a regression input of $t fails again"; exit 1; }
        echo "ok: $(ls "$TT_FUZZ_SRC/regressions/$t" | wc -l) regression inputs"
    fi
    echo "== fuzzing $t for ${SECONDS_EACH}s"
    rc=0
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=100000 \
        -print_final_stats=1 -artifact_prefix="$work/" $dict \
        "$work/corpus" "$TT_FUZZ_SRC/corpus/$t" > "$work/fuzz.log" 2>&1 || rc=$?
    last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
    echo "libFuzzer $t: ${execs:-?} executions in ${SECONDS_EACH}s; last status: $last"
    echo "$t execs=${execs:-?} $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')" \
        > "$TT_FUZZ_BUILD/summary-$t.txt"
    if [ "$rc" -ne 0 ]; then
        tail -60 "$work/fuzz.log"
        echo "FAIL: fuzz_$t found a problem (exit $rc); input(s): $(ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | tr '\n' ' ')"
        exit 1
    fi
    echo "PASS: fuzz_$t"
    ;;
*)
    echo "usage: run_fuzzers.sh build | run TARGET" >&2
    exit 2
    ;;
esac
