#!/bin/sh
# FlowPic gallery for the model card: per category, three lab blocks beside three real
# ones, rendered with the default model's input spec by `traffictriage render`, one row per
# category (ImageMagick montage).
#   models/gallery.sh [MODEL] [LAB-DATA] [REAL-DATA] [OUT.png]
set -eu
cd "$(dirname "$0")/.."
TT=${TT:-build/core/traffictriage}
MODEL=${1:-models/category.ttm}
LAB=${2:-models/corpus/lab-seed1.ttseries.xz}
REAL=${3:-/var/tmp/tt-data/real-apps.ttm}
OUT=${4:-models/gallery.png}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/lab" "$TMP/real"
"$TT" render -o "$TMP/lab" --per-class 3 --scale 4 "$MODEL" "$LAB" > "$TMP/lab.txt"
"$TT" render -o "$TMP/real" --per-class 3 --scale 4 "$MODEL" "$REAL" > "$TMP/real.txt"
set --
for c in voip video chat browsing file_transfer; do
    for d in lab real; do
        # index.tsv (render): column 9 = the block's label, 11 = its file
        for f in $(awk -F'\t' -v c="$c" '$9 == c { print $11 }' "$TMP/$d/index.tsv" | head -3); do
            set -- "$@" -label "$d: $c" "$TMP/$d/$f"
        done
    done
done
montage -font DejaVu-Sans -pointsize 12 -tile 6x -geometry 200x200+6+6 \
    -bordercolor '#888888' -border 1 "$@" "$OUT"
echo "wrote $OUT (per row: 3 lab blocks, then 3 real ones; size axis bottom = small packets, time left to right)"
