#!/bin/sh
# Run ctest labels of an existing build again as an unprivileged user: CI runs
# as root, so this is how it proves that the suite also passes for a normal
# user (tshark then runs as the caller, without setpriv; root-only tests skip
# and say why). Called by .ci/run after tests/run.
#
#   tests/unprivileged.sh BUILD_DIR [LABELS]
#
# Must run as root. The user is uid/gid 65534 (setpriv, no supplementary
# groups) with a fresh HOME; TT_UNPRIV_USER=NAME uses that account instead
# (e.g. one made with `useradd -m`). The build and source trees are only read:
# ctest runs from a copy of the build's CTestTestfile.cmake files in a
# temporary directory the user owns (ctest writes its logs there); the tests
# themselves use their own temporary directories. The sanitizer and libFuzzer
# builds (tests named *_build, which write into the build tree) are not rerun:
# the root run made them. LABELS defaults to every label whose tests behave
# differently without root; EXCLUDE (a regex, TT_UNPRIV_EXCLUDE) leaves out
# robust_corrupt and robust_hostile_models, which take the path robust_reentry
# already proves (the sanitizer preload as the user) for ~80 s more.
set -eu
BUILD=${1:?usage: tests/unprivileged.sh BUILD_DIR [LABELS]}
LABELS=${2:-plugin|equivalence|bench-smoke|robustness|packaging|versions}
EXCLUDE=${TT_UNPRIV_EXCLUDE:-_build\$|^robust_corrupt\$|^robust_hostile_models\$}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
JOBS=${TT_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$(id -u)" = 0 ] || { echo "unprivileged.sh: run as root (it switches to an unprivileged user)" >&2; exit 2; }
[ -f "$BUILD/CTestTestfile.cmake" ] || { echo "unprivileged.sh: $BUILD is not a configured build" >&2; exit 2; }

TMP=$(mktemp -d /tmp/tt-unpriv.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
mkdir -p "$TMP/build" "$TMP/home"
(cd "$BUILD" && find . -name CTestTestfile.cmake -exec cp --parents {} "$TMP/build" \;)
if [ -n "${TT_UNPRIV_USER:-}" ]; then
    id "$TT_UNPRIV_USER" >/dev/null || { echo "unprivileged.sh: no user $TT_UNPRIV_USER" >&2; exit 2; }
    chown -R "$TT_UNPRIV_USER:" "$TMP"
    AS="runuser -u $TT_UNPRIV_USER --"
    who=$TT_UNPRIV_USER
    name=$TT_UNPRIV_USER
else
    chown -R 65534:65534 "$TMP"
    AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
    who="uid 65534"
    name=$(getent passwd 65534 | cut -d: -f1)
    name=${name:-nobody}
fi
# The user must be able to read the trees (a checkout made with umask 022 is).
# shellcheck disable=SC2086
if ! $AS test -r "$HERE/run" -a -x "$BUILD/core/traffictriage" 2>/dev/null; then
    echo "unprivileged.sh: $who cannot read $HERE or $BUILD: make the checkout and build readable by others (umask 022)" >&2
    exit 1
fi

echo "== ctest -L '$LABELS' -E '$EXCLUDE' as $who (HOME=$TMP/home)"
rc=0
# shellcheck disable=SC2086
$AS env -u XDG_RUNTIME_DIR -u SUDO_USER HOME="$TMP/home" USER="$name" LOGNAME="$name" \
    ctest --test-dir "$TMP/build" --output-on-failure -j "$JOBS" -L "$LABELS" -E "$EXCLUDE" -FA '.*' \
    --output-junit "$TMP/build/junit.xml" || rc=$?
python3 "$HERE/skips.py" "$TMP/build/junit.xml" || rc=1
[ $rc = 0 ] && echo "== unprivileged run passed"
exit $rc
