#!/bin/sh
# Build the plugin with AddressSanitizer + UBSan (-DTT_SANITIZE=ON) in its own
# build directory, for the robustness tests (ctest fixture, label robustness).
#   TT_SRC=/work/main TT_ASAN_BUILD=/tmp/x sh tests/robustness/asan_build.sh
set -eu
: "${TT_SRC:?}" "${TT_ASAN_BUILD:?}"
cmake -S "$TT_SRC" -B "$TT_ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DTT_SANITIZE=ON -DBUILD_TESTING=OFF \
    >"$TT_ASAN_BUILD.configure.log" 2>&1 || { cat "$TT_ASAN_BUILD.configure.log"; exit 1; }
cmake --build "$TT_ASAN_BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target triage traffictriage
ldd "$TT_ASAN_BUILD/plugin/triage.so" | grep -q libasan || { echo "FAIL: triage.so is not linked with libasan"; exit 1; }
echo "built $TT_ASAN_BUILD/plugin/triage.so"
