#!/bin/sh
# Retrain every bundled model and reproduce the numbers of models/README.md.
#
#   models/train.sh [--lab DIR] [--data DIR] [--out DIR] [--build DIR] [--install] [--quick]
#
#   --lab DIR    traffic lab output (models/lab/run --out DIR); default /var/tmp/tt-lab
#   --data DIR   real sets converted by models/data/prepare.sh (run if missing); default /var/tmp/tt-data
#   --out DIR    models, splits and every evaluation (text + JSON); default /var/tmp/tt-models
#   --build DIR  a CMake build of this tree with core/traffictriage; default build
#   --install    copy the bundled models into models/ (category.ttm, tunnel.ttm, platform.ttm,
#                category-flowpic1500-60s.ttm)
#   --quick      fewer epochs (a smoke run of the recipe, not the card's numbers)
#
# Everything is seeded (SEED below); training is single-threaded and bit-reproducible.
set -eu
cd "$(dirname "$0")/.."
LAB=/var/tmp/tt-lab
DATA=/var/tmp/tt-data
OUT=/var/tmp/tt-models
BUILD=build
INSTALL=no
EPOCHS=30
EPOCHS_BIG=15
while [ $# -gt 0 ]; do
    case "$1" in
    --lab) LAB=$2; shift ;;
    --data) DATA=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --install) INSTALL=yes ;;
    --quick) EPOCHS=3; EPOCHS_BIG=1 ;;
    *) echo "usage: $0 [--lab DIR] [--data DIR] [--out DIR] [--build DIR] [--install] [--quick]" >&2; exit 2 ;;
    esac
    shift
done
SEED=1
TT=$BUILD/core/traffictriage
[ -x "$TT" ] || { cmake -S . -B "$BUILD" >/dev/null && cmake --build "$BUILD" -j 2 --target traffictriage; }
mkdir -p "$OUT"
[ -f "$DATA/video-traffic.ttseries" ] || sh models/data/prepare.sh "$DATA"

# One manifest for all lab sessions, with absolute capture paths.
LABM=$OUT/lab.ttm
echo "#ttmanifest v1" > "$LABM"
find "$LAB" -name manifest.ttm -path '*/sessions/*' | sort | while read -r m; do
    d=$(cd "$(dirname "$m")" && pwd)
    awk -F'\t' -v d="$d" 'BEGIN { OFS = "\t" } /^#/ { next } NF == 11 { if ($1 !~ /^\//) $1 = d "/" $1; print }' "$m"
done >> "$LABM"
echo "lab: $(grep -vc '^#' "$LABM") labelled flows from $(find "$LAB" -name manifest.ttm -path '*/sessions/*' | wc -l) sessions"

VIDEO=$DATA/video-traffic.ttseries
WEB=$DATA/trafficleak.ttseries
NDPI=$DATA/ndpi.ttm
PLATFORM=$DATA/video-platform.ttseries
# Keep every TrafficLeak website on one side of the split (its traces are similar).
UNIT='^trafficleak/([^/]+)/'
AUG="--aug-rtt 0.3 --aug-shift 1 --aug-loss 0.1"
NOTE_CAT="lab: models/lab (seed $SEED, $(grep -vc '^#' "$LABM") flows); real: Video-traffic-dataset (YouTube/Bilibili/Twitch, video), TrafficLeak (SSH-tunnelled browsing); see models/README.md"

train() {   # train NAME ARGS... : model, split, log and test evaluation in $OUT
    name=$1; shift
    echo "== train $name"
    "$TT" train --seed $SEED --quiet --split-out "$OUT/$name.split" --eval-json "$OUT/$name.test.json" \
        -o "$OUT/$name.ttm" "$@" > "$OUT/$name.train.txt"
    cat "$OUT/$name.train.txt"
}

evaluate() {   # evaluate NAME TAG ARGS... : an extra evaluation of model NAME
    name=$1; tag=$2; shift 2
    echo "== eval $name: $tag"
    "$TT" eval --json "$OUT/$name.$tag.json" "$OUT/$name.ttm" "$@" > "$OUT/$name.$tag.txt" 2>"$OUT/$name.$tag.log"
    cat "$OUT/$name.$tag.txt"
}

# ---- 1. input specs compared on the same sessions (validation split) -----------------
train category-lenet32-15s --task category --name category-lenet32-15s --side 32 --block-seconds 15 \
    --epochs $EPOCHS --patience 6 --max-per-class 3000 $AUG --split-unit "$UNIT" --note "$NOTE_CAT" \
    "$LABM" "$VIDEO" "$WEB"
SPLIT=$OUT/category-lenet32-15s.split
train category-lenet64-15s --task category --name category-lenet64-15s --side 64 --block-seconds 15 \
    --epochs $EPOCHS --patience 6 --max-per-class 3000 $AUG --split "$SPLIT" --note "$NOTE_CAT" \
    "$LABM" "$VIDEO" "$WEB"
train category-flowpic1500-15s --task category --name category-flowpic1500-15s --arch flowpic --side 1500 \
    --block-seconds 15 --epochs $EPOCHS_BIG --patience 4 --max-per-class 1500 $AUG --split "$SPLIT" \
    --note "$NOTE_CAT" "$LABM" "$VIDEO" "$WEB"
train category-flowpic1500-60s --task category --name category-flowpic1500-60s --arch flowpic --side 1500 \
    --block-seconds 60 --epochs $EPOCHS_BIG --patience 4 --max-per-class 1500 $AUG --split "$SPLIT" \
    --note "$NOTE_CAT (the FlowPic paper's input and net)" "$LABM" "$VIDEO" "$WEB"

echo "== input specs: validation balanced accuracy (picks the default) and held-out test accuracy"
for m in category-lenet32-15s category-lenet64-15s category-flowpic1500-15s category-flowpic1500-60s; do
    val=$("$TT" info "$OUT/$m.ttm" | sed -n 's/^train.val_balanced_accuracy=//p')
    test=$("$TT" info "$OUT/$m.ttm" | sed -n 's/^test.accuracy=//p')
    echo "$m	val_balanced=$val	test_accuracy=$test"
done | tee "$OUT/specs.txt"
BEST=$(sort -t= -k2 -gr "$OUT/specs.txt" | cut -f1 | sed -n 1p)
echo "default category model: $BEST"

# ---- 2. the default category model in detail ------------------------------------------------
for m in "$BEST" category-flowpic1500-60s; do
    evaluate "$m" test-by-tunnel --split "$OUT/$m.split" --on test --by tunnel "$LABM" "$VIDEO" "$WEB"
    evaluate "$m" test-by-app --split "$OUT/$m.split" --on test --by app "$LABM"
    evaluate "$m" test-video --split "$OUT/$m.split" --on test --where source=video-traffic "$VIDEO"
    evaluate "$m" test-web --split "$OUT/$m.split" --on test --where source=trafficleak "$WEB"
    evaluate "$m" uncalibrated --split "$OUT/$m.split" --on test --temperature 1 "$LABM" "$VIDEO" "$WEB"
done
evaluate "$BEST" ndpi "$NDPI"

# ---- 3. cross-domain rows (the FlowPic paper's): trained without tunnels, tested through them
train category-notunnel --task category --name category-notunnel --side 32 --block-seconds 15 \
    --epochs $EPOCHS --patience 6 --max-per-class 3000 $AUG --where tunnel=none --note "lab sessions without tunnel only" \
    "$LABM"
evaluate category-notunnel vpn --where tunnel=vpn "$LABM"
evaluate category-notunnel tor --where tunnel=tor "$LABM"

# ---- 4. tunnel model (none / vpn / tor), lab sessions: two inputs on one split, picked by validation.
# A VPN adds a constant 40-80 bytes to every packet: 1-byte size bins can see it, 47-byte bins
# (32 x 32) mostly cannot.
NOTE_TUN="lab sessions, label = tunnel (none/vpn/tor)"
train tunnel-lenet32-15s --task tunnel --name tunnel-lenet32-15s --side 32 --block-seconds 15 --label-attr tunnel \
    --epochs $EPOCHS --patience 6 --max-per-class 3000 $AUG --note "$NOTE_TUN" "$LABM"
train tunnel-flowpic1500-15s --task tunnel --name tunnel-flowpic1500-15s --arch flowpic --side 1500 \
    --block-seconds 15 --label-attr tunnel --epochs $EPOCHS_BIG --patience 4 --max-per-class 1500 $AUG \
    --split "$OUT/tunnel-lenet32-15s.split" --note "$NOTE_TUN" "$LABM"
for m in tunnel-lenet32-15s tunnel-flowpic1500-15s; do
    val=$("$TT" info "$OUT/$m.ttm" | sed -n 's/^train.val_balanced_accuracy=//p')
    echo "$m	val_balanced=$val"
done | tee "$OUT/tunnel-specs.txt"
BEST_TUN=$(sort -t= -k2 -gr "$OUT/tunnel-specs.txt" | cut -f1 | sed -n 1p)
echo "tunnel model: $BEST_TUN"
evaluate "$BEST_TUN" test-by-category --label-attr tunnel --split "$OUT/$BEST_TUN.split" --on test --by app "$LABM"

# ---- 5. video platform (real sessions) ---------------------------------------------------------
train platform --task platform --name platform-lenet32-15s --side 32 --block-seconds 15 \
    --epochs $EPOCHS --patience 6 $AUG \
    --note "Video-traffic-dataset: YouTube (QUIC), Bilibili (TLS/QUIC), Twitch (TLS); split by session" "$PLATFORM"

if [ "$INSTALL" = yes ]; then
    cp "$OUT/$BEST.ttm" models/category.ttm
    cp "$OUT/category-flowpic1500-60s.ttm" models/category-flowpic1500-60s.ttm
    cp "$OUT/$BEST_TUN.ttm" models/tunnel.ttm
    cp "$OUT/platform.ttm" models/platform.ttm
    # models/results/ holds exactly this run's evaluations (none left over from an older one)
    rm -rf models/results && mkdir -p models/results && cp "$OUT"/*.txt "$OUT"/*.json models/results/
    echo "installed into models/: category.ttm ($BEST), category-flowpic1500-60s.ttm, tunnel.ttm ($BEST_TUN), platform.ttm"
fi
echo "== done: $OUT"
