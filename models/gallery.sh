#!/bin/sh
# FlowPic gallery for the model card: three blocks per category from the lab,
# rendered with the default model's input spec by `traffictriage render`,
# one row per category (ImageMagick montage).
#   models/gallery.sh [MODEL] [DATA] [OUT.png]
set -eu
cd "$(dirname "$0")/.."
TT=${TT:-build/core/traffictriage}
MODEL=${1:-models/category.ttm}
DATA=${2:-/var/tmp/tt-models/lab.ttm}
OUT=${3:-models/gallery.png}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$TT" render -o "$TMP" --per-class 3 --scale 4 "$MODEL" "$DATA" > "$TMP/list.txt"
files=""
for c in voip video chat browsing file_transfer; do
    files="$files $(ls "$TMP"/${c}_*.png 2>/dev/null | head -3 | tr '\n' ' ')"
done
montage -font DejaVu-Sans -pointsize 12 -label '%t' -tile 3x -geometry 256x256+8+8 \
    -bordercolor '#888888' -border 1 $files "$OUT"
echo "wrote $OUT (size axis bottom = small packets, time left to right)"
