#!/usr/bin/env bash
# Turn the real labelled data sets into TrafficTriage training formats.
#
# usage: models/data/prepare.sh [OUTDIR] [--src DIR] [--drop-raw] [--verify BIN]
#   OUTDIR        output folder (default /var/tmp/tt-data); never inside the repository
#   --src DIR     folder with the five archives
#                 (default: ../shared/data/real relative to the repository root,
#                  or $TT_REAL_DATA if set)
#   --drop-raw    delete OUTDIR/raw (the unpacked archives) at the end; the outputs do
#                 not need it (each .ttm points at its own copy of the captures)
#   --verify BIN  afterwards check every .ttm line with the trainer's reader
#                 (BIN = a built traffictriage; verify_ttm.py, output in OUTDIR/VERIFY.txt)
#
# Outputs in OUTDIR:
#   video-traffic.ttseries   label video          (Video-traffic-dataset)
#   video-platform.ttseries  label youtube|bilibili|twitch, same flows and groups
#   trafficleak.ttseries     label browsing       (TrafficLeak, SSH tunnel)
#   ndpi.ttm + pcap/         trainer manifest     (nDPI test captures; group = app family)
#   real-extra.ttm + real-extra/  trainer manifest (VCA-sense, Wireshark samples, Zeek traces, Tor)
#   real-apps.ttm + real-apps/    trainer manifest (named applications; group = repository)
#   SUMMARY.txt              per-output counts, folds and format check; prepare.log
#   VERIFY.txt, VERIFY-rows.tsv  with --verify: lines / packets matched by the reader
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd -P)"
PY=/usr/bin/python3   # Debian's interpreter, standard library only
OUT=""
SRC="${TT_REAL_DATA:-$REPO/../shared/data/real}"
DROP_RAW=0
VERIFY=""
ARCHIVES="video-traffic trafficleak ndpi-dev real-extra real-apps"

while [ $# -gt 0 ]; do
    case "$1" in
        --src) SRC="$2"; shift 2 ;;
        --drop-raw) DROP_RAW=1; shift ;;
        --verify) VERIFY="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) [ -z "$OUT" ] || { echo "one OUTDIR only" >&2; exit 2; }; OUT="$1"; shift ;;
    esac
done
OUT="${OUT:-/var/tmp/tt-data}"

[ -x "$PY" ] || { echo "need $PY" >&2; exit 1; }
if [ -n "$VERIFY" ]; then
    [ -x "$VERIFY" ] || { echo "--verify: $VERIFY is not executable" >&2; exit 1; }
    VERIFY="$(realpath "$VERIFY")"
fi
for a in $ARCHIVES; do
    [ -f "$SRC/$a.tar.xz" ] || { echo "missing $SRC/$a.tar.xz" >&2; exit 1; }
done
OUT="$(realpath -m "$OUT")"
case "$OUT/" in
    "$REPO"/*) echo "refusing to write data into the repository ($OUT)" >&2; exit 1 ;;
esac
mkdir -p "$OUT"

LOG="$OUT/prepare.log"
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }

say "prepare.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): $SRC -> $OUT"
for a in $ARCHIVES; do
    rm -rf "$OUT/raw/$a"
    mkdir -p "$OUT/raw/$a"
    say "unpacking $a.tar.xz"
    tar -xJf "$SRC/$a.tar.xz" -C "$OUT/raw/$a"
    # archive sizes, to tell later which copy was converted
    say "  sha256 $(sha256sum "$SRC/$a.tar.xz" | cut -c1-16)…  $(du -sh "$OUT/raw/$a" | cut -f1)"
done

run() { say "+ $*"; "$@" 2>&1 | tee -a "$LOG"; }
run "$PY" "$HERE/conv_video_traffic.py" "$OUT/raw/video-traffic" "$OUT"
run "$PY" "$HERE/conv_trafficleak.py"   "$OUT/raw/trafficleak"   "$OUT"
run "$PY" "$HERE/conv_ndpi.py"          "$OUT/raw/ndpi-dev"      "$OUT"
run "$PY" "$HERE/conv_labelled.py"      "$OUT/raw/real-extra"    "$OUT" real-extra
run "$PY" "$HERE/conv_labelled.py"      "$OUT/raw/real-apps"     "$OUT" real-apps

if [ "$DROP_RAW" = 1 ]; then
    rm -rf "$OUT/raw"
    say "removed $OUT/raw"
fi

echo
status=0
"$PY" "$HERE/summarize.py" "$OUT" "$LOG" || status=$?
if [ -n "$VERIFY" ]; then
    echo
    "$PY" "$HERE/verify_ttm.py" "$VERIFY" "$REPO/models/category.ttm" "$OUT"/*.ttm \
        --rows "$OUT/VERIFY-rows.tsv" > "$OUT/VERIFY.txt" || status=1
    cat "$OUT/VERIFY.txt"
    echo "per line: $OUT/VERIFY-rows.tsv"
fi
exit $status
