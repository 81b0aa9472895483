#!/bin/bash
# Smoke test of the traffic lab (ctest label `lab`): one short session per category,
# end to end (namespaces, WAN emulation, real applications, capture, manifest), plus the
# delay-element test.  Needs root and the lab's packages (models/lab/install-deps.sh;
# set TT_LAB_INSTALL=1 to run it first).  Uses quick assets (built once into the output
# folder, ~1-2 min the first time); the sessions then take ~3 minutes.
#   usage: tests/lab/smoke.sh [OUTDIR]        (default /var/tmp/tt-lab-smoke)
#   TT_LAB_SMOKE_TUNNEL=vpn|tor runs the sessions through that tunnel instead of none;
#   TT_LAB_SMOKE_FIRST_K=15 (or 30) picks the other application stacks.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=$(cd "$HERE/../../models/lab" && pwd)
OUT=${1:-/var/tmp/tt-lab-smoke}
TUN=${TT_LAB_SMOKE_TUNNEL:-none}
SEED=${TT_LAB_SMOKE_SEED:-7}
FIRSTK=${TT_LAB_SMOKE_FIRST_K:-0}   # 15, 30: the next turns of the app round robin
PASS=0; FAIL=0
ok()  { echo "PASS $*"; PASS=$((PASS+1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL+1)); }

if [ "$(id -u)" != 0 ]; then echo "smoke: SKIP, needs root (network namespaces)"; exit 77; fi
if [ "${TT_LAB_INSTALL:-0}" = 1 ]; then "$LAB/install-deps.sh" >/tmp/tt-lab-install.log 2>&1 || { echo "install failed"; exit 1; }; fi
for t in baresip gst-launch-1.0 mpv nginx prosody ngircd chromium chromedriver wget2 vsftpd lftp tor openvpn dumpcap tshark gcc; do
  # exit 77 = skipped (ctest: SKIP_RETURN_CODE 77); TT_LAB_INSTALL=1 installs instead
  command -v $t >/dev/null || { echo "smoke: SKIP, missing $t (run models/lab/install-deps.sh or set TT_LAB_INSTALL=1)"; exit 77; }
done

rm -rf "$OUT/sessions" "$OUT/manifest.ttm"   # keep the asset cache
mkdir -p "$OUT"
# 1. the delay element
if /usr/bin/python3 "$LAB/test-delay.py"; then ok "delay element"; else bad "delay element"; fi

# 2. one session per category
for cat in voip video chat browsing file_transfer; do
  if ! /usr/bin/python3 "$LAB/run" --out "$OUT" --seed "$SEED" --only "$cat/$TUN" --sessions 1 --first-k "$FIRSTK" \
        --duration 12 --quick-assets --jobs 1 --tag-prefix S > "$OUT.$cat.log" 2>&1; then
    bad "$cat/$TUN: run failed ($(tail -2 "$OUT.$cat.log" | tr '\n' ' '))"; continue
  fi
  sdir=$(ls -d "$OUT"/sessions/s$SEED-*-$cat-$TUN 2>/dev/null | head -1)
  if [ -z "$sdir" ] || [ ! -f "$sdir/done.json" ]; then bad "$cat/$TUN: no finished session"; continue; fi
  cap="$sdir/capture.pcapng"; man="$sdir/manifest.ttm"
  npk=$(tshark -r "$cap" 2>/dev/null | wc -l)
  [ "$npk" -gt 20 ] || { bad "$cat/$TUN: capture has only $npk packets"; continue; }
  head -1 "$man" | grep -q '^#ttmanifest v1$' || { bad "$cat/$TUN: manifest header"; continue; }
  nl=$(grep -v '^#' "$man" | awk -F'\t' -v c="$cat" 'NF==11 && $2==c' | wc -l)
  [ "$nl" -ge 1 ] || { bad "$cat/$TUN: no '$cat' line in manifest"; continue; }
  # the labelled flows must be in the capture: count their packets with tshark
  tot=0
  while IFS=$'\t' read -r capf label group proto a pa b pb ts te attrs; do
    f="ip.addr==$a && ip.addr==$b && $proto.port==$pa && $proto.port==$pb"
    n=$(tshark -r "$sdir/$capf" -Y "$f" 2>/dev/null | wc -l)
    tot=$((tot+n))
  done < <(grep -v '^#' "$man")
  [ "$tot" -gt 10 ] || { bad "$cat/$TUN: labelled flows have $tot packets"; continue; }
  grep -v '^#' "$man" | head -1 | cut -f11 | grep -q "tunnel=$TUN" || { bad "$cat/$TUN: attrs lack tunnel"; continue; }
  ok "$cat/$TUN: $npk packets, $nl labelled flows ($tot packets), app=$(grep -v '^#' "$man" | head -1 | cut -f11 | tr ';' '\n' | grep '^app=' | cut -d= -f2)"
done
[ -s "$OUT/manifest.ttm" ] && ok "aggregate manifest $(grep -vc '^#' "$OUT/manifest.ttm") lines" || bad "aggregate manifest"
# 3. nothing left behind
left=$(ip netns list | grep -c '^ttS' || true)
[ "$left" = 0 ] && ok "teardown: no lab namespaces left" || bad "teardown: $left namespaces left"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
