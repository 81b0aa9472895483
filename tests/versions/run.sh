#!/bin/bash
# Build TrafficTriage against other Wireshark versions and run its tests there.
#
#   run.sh [SUITE...]     default: trixie sid  (Wireshark 4.4 and 4.6)
#
# SUITE is a Debian suite, run in a debootstrap root made (or reused) by
# chroot.sh, or "host" for this machine's own Wireshark (a separate build
# directory, no chroot). For each: copy the source tree (this script's
# checkout, without .git and build*/) into the root, configure, build, run
# `ctest -L "$TT_VERSIONS_LABELS"` (default "plugin|unit") inside it, and
# print one line:
#   versions: wireshark 4.4.10 (trixie): 15 passed, 0 failed, 1 skipped
# Exit status: 0 when every suite built and had no failed test.
#
# Environment:
#   TT_ROOTS            where roots live (default /var/tmp/tt-roots)
#   TT_VERSIONS_LABELS  ctest label regex run in each root (default plugin|unit;
#                       "plugin|unit|packaging" also builds the .deb in each root,
#                       installs it there and checks its exact libwireshark
#                       dependency: about 3 more minutes per root)
#   TT_VERSIONS_CLEAN=1 start from an empty build directory
#   TT_VERSIONS_JOBS    build/test parallelism (default: nproc)
# Logs: $TT_ROOTS/SUITE.prep.log (making the root), SUITE.run.log (build + ctest).
set -euo pipefail
# (one brace group: bash reads it whole, so editing this file mid-run is safe)
{

HERE=$(cd "$(dirname "$0")" && pwd)
SRC_TOP=$(cd "$HERE/../.." && pwd)
ROOTS=${TT_ROOTS:-/var/tmp/tt-roots}
LABELS=${TT_VERSIONS_LABELS:-plugin|unit}
JOBS=${TT_VERSIONS_JOBS:-$(nproc 2>/dev/null || echo 2)}
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(trixie sid)
mapfile -t SUITES < <(printf '%s\n' "${SUITES[@]}" | awk '!seen[$0]++')

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (debootstrap, chroot); skipped"; exit 77; }
mkdir -p "$ROOTS"

# The script that runs inside a root (or on the host): configure, build, test.
# $1 source dir, $2 build dir, $3 labels, $4 jobs.
BUILD_AND_TEST='
set -e
src=$1 build=$2 labels=$3 jobs=$4
# in a throwaway root the packaging test may install its .deb (tests/packaging)
[ "${5:-}" = chroot ] && export TT_TEST_PACKAGING=1
echo "== configure"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_NATIVE=OFF
echo "== build"
cmake --build "$build" -j "$jobs"
echo "== BUILD OK"
echo "== ctest -L $labels"
cd "$build"
ctest -L "$labels" -j "$jobs" --output-on-failure --timeout 600
'

# Copy the tree (keeping mtimes, so that an unchanged file is not rebuilt).
copy_tree() {   # copy_tree DEST
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$SRC_TOP" --exclude=./.git --exclude='./build' --exclude='./build-*' \
        --exclude='./build_*' -cf - . | tar -C "$dest" -xf -
}

# Summarise a run log: "N passed, F failed, S skipped" (or a build failure).
summarise() {   # summarise LOG RC
    local log=$1 rc=$2 total failed skipped
    if ! grep -q '^== BUILD OK' "$log"; then
        echo "build FAILED (exit $rc)"
        return
    fi
    total=$(sed -n 's/.*tests passed, [0-9]* tests\{0,1\} failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
    failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of.*/\1/p' "$log" | tail -n1)
    if [ -z "$total" ]; then
        if grep -q 'No tests were found' "$log"; then echo "0 passed, 1 failed (no tests found)"; return; fi
        echo "0 passed, 1 failed (ctest did not finish, exit $rc)"
        return
    fi
    skipped=$(grep -c -- '\*\*\*Skipped\|Not Run' "$log" || true)
    echo "$(( total - failed - skipped )) passed, $failed failed, $skipped skipped"
}

# Make (or check) every root first, all at once: debootstrap and apt-get are
# mostly waiting on the network, so two roots take little longer than one.
declare -A PREP
for suite in "${SUITES[@]}"; do
    [ "$suite" = host ] && continue
    [ -n "${PREP[$suite]:-}" ] && continue
    echo "versions: $suite: preparing the root ($ROOTS/$suite)" >&2
    bash "$HERE/chroot.sh" "$suite" "$ROOTS/$suite" > "$ROOTS/$suite.prep.log" 2>&1 &
    PREP[$suite]=$!
done

# fresh_build_for DIR: a build directory serves one source tree. Another tree's
# object files (another clone or worktree, copied with newer times) would not be
# rebuilt, so a build last made from another tree, or TT_VERSIONS_CLEAN=1,
# starts empty. DIR.src names the tree it was made from.
fresh_build_for() {
    if [ "${TT_VERSIONS_CLEAN:-0}" = 1 ] || [ "$(cat "$1.src" 2>/dev/null)" != "$SRC_TOP" ]; then
        rm -rf "$1"
    fi
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$SRC_TOP" > "$1.src"
}

status=0
results=()
for suite in "${SUITES[@]}"; do
    # One run per suite at a time: the copied tree, the build directory and
    # the log are shared by every run on this machine (several ctest runs may
    # start this script at once). Released when this iteration ends.
    exec {lockfd}>"$ROOTS/$suite.run.lock"
    if ! flock -n "$lockfd"; then
        echo "versions: $suite: waiting for another run of this suite" >&2
        flock "$lockfd"
    fi
    log=$ROOTS/$suite.run.log
    t0=$(date +%s)
    : > "$log"
    if [ "$suite" = host ]; then
        wsver=$(dpkg-query -W -f='${Version}' tshark 2>/dev/null || echo unknown)
        build=$ROOTS/host-build
        fresh_build_for "$build"
        set +e
        bash -c "$BUILD_AND_TEST" build-and-test "$SRC_TOP" "$build" "$LABELS" "$JOBS" >> "$log" 2>&1
        rc=$?
        set -e
    else
        if ! wait "${PREP[$suite]}"; then
            cat "$ROOTS/$suite.prep.log" >> "$log"
            tail -n 20 "$ROOTS/$suite.prep.log" >&2
            results+=("versions: $suite: root could not be made (see $log)")
            status=1
            exec {lockfd}>&-
            continue
        fi
        root=$ROOTS/$suite
        wsver=$(chroot "$root" dpkg-query -W -f='${Version}' tshark 2>/dev/null || echo unknown)
        copy_tree "$root/tt/src"
        fresh_build_for "$root/tt/build"
        echo "versions: $suite: building and testing against Wireshark $wsver" >&2
        set +e
        bash "$HERE/chroot.sh" "$suite" "$root" -- /bin/bash -c "$BUILD_AND_TEST" build-and-test \
            /tt/src /tt/build "$LABELS" "$JOBS" chroot >> "$log" 2>&1
        rc=$?
        set -e
    fi
    ver=${wsver%%-*}
    ver=${ver#*:}
    line="versions: wireshark $ver ($suite): $(summarise "$log" "$rc")"
    if [ "$rc" != 0 ]; then
        status=1
        echo "---- $suite: last lines of $log" >&2
        grep -E 'error:|FAIL|\*\*\*Failed|\(Failed\)|Timeout' "$log" | head -n 40 >&2 || true
        tail -n 30 "$log" >&2
    fi
    echo "$line   [$(( $(date +%s) - t0 )) s]"
    results+=("$line")
    exec {lockfd}>&-
done

echo "== versions summary"
printf '%s\n' "${results[@]}"
exit $status
exit
}
