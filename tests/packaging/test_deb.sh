#!/bin/bash
# The Debian package, end to end, as a user of it would:
#   1. a separate build with -DTT_SYSTEM_INSTALL=ON, `cpack -G DEB`;
#   2. the package's control data (exact libwireshark dependency) and paths
#      (Wireshark's global plugin and profiles folders, as tshark -G folders names them);
#   3. dpkg -i, then tshark AS ROOT (the global plugin folder works for root,
#      unlike the personal one): plugin listed, triage.* fields, the
#      TrafficTriage profile's columns, -z triage,tree;
#   4. dpkg --purge, and a check that every file and folder it touched is as before.
# The machine is left as it was found: the test refuses (skips) when the package
# or any of its files is already present, and purges on every exit path.
#
# Environment: TT_SOURCE_DIR (the source tree), TT_CAPTURES (tests/captures).
# Runs only as root with CI=true or TT_TEST_PACKAGING=1; exit 77 = skipped.
set -u
PKG=wireshark-traffictriage

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok: $*"; }

[ -n "${TT_SOURCE_DIR:-}" ] && [ -n "${TT_CAPTURES:-}" ] || fail "run through ctest (TT_SOURCE_DIR, TT_CAPTURES)"
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i)"
[ "${CI:-}" = true ] || [ "${TT_TEST_PACKAGING:-}" = 1 ] ||
    skip "installs a package system-wide for a few seconds: run with TT_TEST_PACKAGING=1 (CI=true does)"
for c in dpkg dpkg-deb dpkg-query cmake cpack tshark; do
    command -v $c >/dev/null || skip "$c is not installed"
done
dpkg-query -W "$PKG" >/dev/null 2>&1 && skip "$PKG is already known to dpkg here; not touching it"

export TZ=UTC LC_ALL=C.UTF-8
TMP=$(mktemp -d /tmp/tt-packaging.XXXXXX)
mkdir -p "$TMP/home"
INSTALLED=0

# tshark as root with an empty HOME: no personal plugins or preferences of the
# machine's root user are used, and `-C` copies the global profile into $TMP.
ts() {
    env -u WIRESHARK_PLUGIN_DIR -u WIRESHARK_CONFIG_DIR HOME="$TMP/home" tshark "$@" 2>>"$TMP/tshark.err"
}

folder() {   # folder "Global Plugins": a path from tshark -G folders
    ts -G folders | awk -F'\t' -v k="$1:" '$1 ~ "^"k {print $2; exit}'
}
GPLUG=$(folder "Global Plugins")
GCONF=$(folder "Global configuration")
[ -n "$GPLUG" ] && [ -n "$GCONF" ] || fail "tshark -G folders names no global folders: $(cat "$TMP/tshark.err")"
SO=$GPLUG/epan/triage.so
MODELS=$GPLUG/epan/triage
PROFILE=$GCONF/profiles/TrafficTriage
CLI=/usr/bin/traffictriage
for p in "$SO" "$MODELS" "$PROFILE" "$CLI"; do
    [ -e "$p" ] && skip "$p already exists (installed by hand?); not overwriting it"
done

# What the package may touch, before: compared after the purge.
snapshot() {
    for d in "$GPLUG" "$GCONF/profiles" /usr/bin; do
        find "$d" -maxdepth 3 -printf '%p %y %m\n' 2>/dev/null
    done | sort
}
snapshot > "$TMP/before.txt"

cleanup() {
    local rc=$?
    if [ "$INSTALLED" = 1 ]; then
        dpkg --purge "$PKG" > "$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log" >&2; rc=1; }
        INSTALLED=0
        if dpkg-query -W "$PKG" >/dev/null 2>&1; then
            echo "FAIL: $PKG still known to dpkg after --purge" >&2; rc=1
        fi
        snapshot > "$TMP/after.txt"
        if ! diff -u "$TMP/before.txt" "$TMP/after.txt" >&2; then
            echo "FAIL: files differ after dpkg --purge (above)" >&2; rc=1
        else
            echo "ok: dpkg --purge left the plugin, profiles and bin folders as they were"
        fi
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. build the package ----------------------------------------------------
echo "--- cpack -G DEB (build in $TMP/build)"
cmake -S "$TT_SOURCE_DIR" -B "$TMP/build" -DTT_SYSTEM_INSTALL=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$TMP/configure.log" 2>&1 || { cat "$TMP/configure.log"; fail "cmake configure"; }
cmake --build "$TMP/build" -j "$(nproc 2>/dev/null || echo 2)" > "$TMP/build.log" 2>&1 ||
    { tail -40 "$TMP/build.log"; fail "cmake --build"; }
(cd "$TMP/build" && cpack -G DEB) > "$TMP/cpack.log" 2>&1 || { cat "$TMP/cpack.log"; fail "cpack -G DEB"; }
DEB=$(ls "$TMP"/build/${PKG}_*.deb 2>/dev/null | head -1)
[ -f "$DEB" ] || { cat "$TMP/cpack.log"; fail "no ${PKG}_*.deb produced"; }
ok "built $(basename "$DEB")"

# ---- 2. control data and contents -----------------------------------------------
WSPKG=$(dpkg-query -W -f='${Package} ${Status}\n' 'libwireshark[0-9]*' 2>/dev/null |
        awk '/install ok installed/ {print $1; exit}')
[ -n "$WSPKG" ] || fail "no libwireshark package installed"
WSVER=$(dpkg-query -W -f='${Version}' "$WSPKG")
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
echo "$DEPENDS" | grep -qF "$WSPKG (= $WSVER)" || fail "Depends lacks '$WSPKG (= $WSVER)': $DEPENDS"
ok "Depends pins $WSPKG (= $WSVER)"
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' > "$TMP/contents.txt"
for p in "$SO" "$PROFILE/preferences" "$PROFILE/colorfilters" "$CLI"; do
    grep -qxF "$p" "$TMP/contents.txt" || fail "package lacks $p: $(cat "$TMP/contents.txt")"
done
ok "package holds triage.so, the profile and traffictriage in the global folders"
N_MODELS=$(grep -c "^$MODELS/.*\.ttm$" "$TMP/contents.txt")
if [ -n "$(ls "$TT_SOURCE_DIR"/models/*.ttm 2>/dev/null)" ]; then
    [ "$N_MODELS" -gt 0 ] || fail "models/*.ttm exist but the package has none under $MODELS"
    grep -qxF "$MODELS/category.ttm" "$TMP/contents.txt" || echo "note: no category.ttm in the package"
fi
ok "$N_MODELS model file(s) under $MODELS"

# ---- 3. install, run tshark as root ------------------------------------------
echo "--- dpkg -i"
INSTALLED=1
dpkg -i "$DEB" > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "dpkg -i"; }
ok "$(dpkg-query -W -f='${Package} ${Version} ${Status}' "$PKG")"

ts -G plugins | grep -q "triage.so" || fail "tshark -G plugins does not list triage.so: $(cat "$TMP/tshark.err")"
ok "tshark (root) loads $(ts -G plugins | grep triage.so | tr '\t' ' ' | tr -s ' ')"
ts -G fields | cut -f3 | grep -qx "triage.category" || fail "no triage.category field"
ok "triage.category is a field"

CAP=$TT_CAPTURES/mixed.pcap.gz
ts -2 -r "$CAP" -T fields -e triage.category -e triage.status > "$TMP/fields.txt" ||
    fail "tshark -2 -T fields: $(tail -5 "$TMP/tshark.err")"
LABELLED=$(awk -F'\t' '$1 != ""' "$TMP/fields.txt" | wc -l)
[ "$LABELLED" -gt 0 ] || fail "no packet has triage.category"
ok "$LABELLED packets have triage.category; statuses: $(cut -f2 "$TMP/fields.txt" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
if [ "$N_MODELS" -gt 0 ] && grep -qxF "$MODELS/category.ttm" "$TMP/contents.txt"; then
    grep -q "no model" "$TMP/fields.txt" && fail "the bundled model did not load: $(grep -i triage "$TMP/tshark.err" | head -3)"
    ok "the bundled model loaded (no 'no model' status)"
fi

# The global profile: tshark -C copies it into the (temporary) personal folder.
ts -2 -C TrafficTriage -r "$CAP" -c 200 > "$TMP/profile.txt" || fail "tshark -C TrafficTriage: $(tail -3 "$TMP/tshark.err")"
grep -Eq "voip|video|chat|browsing|file_transfer|unknown" "$TMP/profile.txt" ||
    fail "the TrafficTriage profile shows no category column: $(head -3 "$TMP/profile.txt")"
ok "profile TrafficTriage (global) prints the Category column: $(sed -n 1p "$TMP/profile.txt" | tr -s ' ')"

ts -2 -r "$CAP" -q -z triage,tree > "$TMP/tree.txt" || fail "-z triage,tree: $(tail -3 "$TMP/tshark.err")"
grep -qi "triage\|categor" "$TMP/tree.txt" || fail "-z triage,tree printed no report: $(cat "$TMP/tree.txt")"
ok "-z triage,tree prints its report ($(wc -l < "$TMP/tree.txt") lines)"

"$CLI" help > /dev/null || fail "$CLI help"
ok "$CLI runs"

echo "--- dpkg --purge"
# cleanup (trap) purges and compares the folders with the snapshot
