#!/bin/bash
# `cmake --install` puts triage.so into plugins/<major.minor>/epan of the
# Wireshark the plugin was built against, and that is the version of the
# tshark on this machine (catches a hard-coded "4.0" and a build against the
# wrong dev package). Both the per-user and the packagers' (TT_SYSTEM_INSTALL)
# destinations are checked; DESTDIR keeps the real folders untouched.
set -eu
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${TT_BUILD_DIR:-}" ] && [ -n "${TT_WS_MM:-}" ] || fail "run through ctest"
command -v tshark >/dev/null || { echo "SKIP: no tshark"; exit 77; }
# cmake --install writes install_manifest.txt into the build tree (read-only
# when tests/unprivileged.sh reruns root's build as another user)
[ -w "$TT_BUILD_DIR" ] || { echo "SKIP: $TT_BUILD_DIR is not writable (cmake --install writes its manifest there)"; exit 77; }

run_mm=$(tshark --version 2>/dev/null | sed -n '1s/.* \([0-9][0-9]*\.[0-9][0-9]*\)\.[0-9][0-9]*.*/\1/p')
[ -n "$run_mm" ] || fail "cannot read the tshark version: $(tshark --version 2>&1 | head -n1)"
[ "$TT_WS_MM" = "$run_mm" ] || fail "built against Wireshark $TT_WS_MM but tshark is $run_mm"
echo "ok: built against $TT_WS_MM, tshark is $run_mm"

tmp=$(mktemp -d /tmp/tt-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
DESTDIR=$tmp/dest cmake --install "$TT_BUILD_DIR" > "$tmp/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -n 5 "$tmp/install.log")"
so=$(find "$tmp/dest" -name triage.so -type f)
[ "$(printf '%s\n' "$so" | grep -c .)" = 1 ] || fail "expected one installed triage.so, got: $so"
case $so in
    */.local/lib/wireshark/plugins/"$run_mm"/epan/triage.so) echo "ok: per-user install: ${so#$tmp/dest}" ;;
    *) fail "per-user install went to ${so#$tmp/dest}, not .../plugins/$run_mm/epan" ;;
esac

# The packagers' destination: Wireshark's global plugin folder, taken from
# WiresharkConfig.cmake (a second configure of a scratch copy of the cache).
cfg_dir=$tmp/sys
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$TT_BUILD_DIR/CMakeCache.txt")
[ -n "$src" ] || fail "no source dir in $TT_BUILD_DIR/CMakeCache.txt"
cmake -S "$src" -B "$cfg_dir" -DTT_SYSTEM_INSTALL=ON -DCMAKE_BUILD_TYPE=Release > "$tmp/cfg.log" 2>&1 ||
    fail "configure with TT_SYSTEM_INSTALL failed: $(tail -n 5 "$tmp/cfg.log")"
dir=$(sed -n 's/^TRIAGE_PLUGIN_DIR:PATH=//p' "$cfg_dir/CMakeCache.txt")
global=$(tshark -G folders 2>/dev/null | awk -F'\t' '/^Global Plugins:/ {print $2}')
case $dir in
    */plugins/"$run_mm"/epan) ;;
    *) fail "TT_SYSTEM_INSTALL plugin dir is $dir, not .../plugins/$run_mm/epan" ;;
esac
if [ -n "$global" ]; then
    [ "$dir" = "$global/epan" ] || fail "TT_SYSTEM_INSTALL plugin dir $dir differs from tshark's global plugin folder $global/epan"
fi
echo "ok: system install: $dir (tshark's global plugins: ${global:-?})"
echo "PASS"
