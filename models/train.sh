#!/bin/sh
# Retrain every bundled model and reproduce the numbers of models/README.md, from a fresh
# clone: the committed lab corpus plus the real sets in ../shared/data (no lab run needed).
#
#   models/train.sh [--corpus FILE] [--data DIR] [--out DIR] [--build DIR] [--install] [--quick]
#
#   --corpus FILE  lab corpus (models/corpus/build); default models/corpus/lab-seed1.ttseries.xz
#   --data DIR     real sets converted by models/data/prepare.sh (run if missing); default /var/tmp/tt-data
#   --out DIR      models, splits and every evaluation (text + JSON); default /var/tmp/tt-models
#   --build DIR    a CMake build of this tree with core/traffictriage; default build
#   --install      copy the bundled models into models/ (category.ttm, tunnel.ttm, platform.ttm,
#                  category-flowpic1500-60s.ttm) and this run's evaluations into models/results/
#   --quick        fewer epochs (a smoke run of the recipe, not the card's numbers)
#
# Everything is seeded (SEED below); training is single-threaded and bit-reproducible.
set -eu
cd "$(dirname "$0")/.."
CORPUS=models/corpus/lab-seed1.ttseries.xz
DATA=/var/tmp/tt-data
OUT=/var/tmp/tt-models
BUILD=build
INSTALL=no
EPOCHS=30
EPOCHS_BIG=15
while [ $# -gt 0 ]; do
    case "$1" in
    --corpus) CORPUS=$2; shift ;;
    --data) DATA=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --install) INSTALL=yes ;;
    --quick) EPOCHS=3; EPOCHS_BIG=1 ;;
    *) sed -n '5,13p' "$0" >&2; exit 2 ;;
    esac
    shift
done
SEED=1
TT=$BUILD/core/traffictriage
[ -x "$TT" ] || { cmake -S . -B "$BUILD" >/dev/null && cmake --build "$BUILD" -j 2 --target traffictriage; }
mkdir -p "$OUT"
[ -f "$DATA/real-apps.ttm" ] || bash models/data/prepare.sh "$DATA"
[ -f "$CORPUS" ] || { echo "train.sh: no lab corpus $CORPUS (models/corpus/build)" >&2; exit 1; }
"$TT" series --check "$CORPUS" --counts "${CORPUS%.ttseries.xz}.counts" > "$OUT/corpus-check.txt"
SESSIONS=$(sed -n 's/^sessions\t//p' "${CORPUS%.ttseries.xz}.counts")   # checked just above
echo "lab corpus: $CORPUS, $SESSIONS sessions"

LAB=$CORPUS
VIDEO=$DATA/video-traffic.ttseries
WEB=$DATA/trafficleak.ttseries
PLATFORM=$DATA/video-platform.ttseries
# The real sets with a recording-group column: trained on, and the cross-validation's folds.
REAL="$DATA/ndpi.ttm $DATA/real-extra.ttm $DATA/real-apps.ttm"
AUG="--aug-rtt 0.3 --aug-shift 1 --aug-loss 0.1"
MINI="--side 32 --block-seconds 15 --epochs $EPOCHS --patience 6 --max-per-class 3000"
# Short flows: the time axis over the block's own span, log(1 + count) pixels (one packet
# is visible), 5 packets suffice, and training sees random 1..15 s windows of most blocks.
SHORT="--time-scale span --counts log --min-packets 5 --aug-truncate 0.8"
# The fused recipes' second net: the same blocks drawn as their packet sequence (models/FLOWPIC.md).
SEQ="--time-scale sequence"
NOTE_CAT="lab: models/corpus ($SESSIONS sessions, seed $SEED); real: nDPI test captures, real-extra, real-apps (recordings of named applications); see models/README.md"

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

cv() {   # cv NAME TRAIN-ARGS... : 5-fold cross-validation on real traffic (models/cv.sh)
    name=$1; shift
    echo "== real-traffic cross-validation: $name"
    sh models/cv.sh "$TT" "$OUT/real-folds.tsv" "$OUT" "$name" "$REAL" -- --seed $SEED "$@"
}

# ---- 1. the recipe, chosen by cross-validation on real traffic --------------------------
# Folds by recording group (an nDPI capture family, a repository): fold i is answered by a
# model trained on every other fold but i+1, which picks its epoch and temperature.
/usr/bin/python3 models/realcv.py folds 5 $SEED "$OUT/real-folds.tsv" $REAL
cv cv-short-all $MINI $AUG $SHORT "$LAB" $REAL "$VIDEO" "$WEB"  # every set
cv cv-short $MINI $AUG $SHORT "$LAB" $REAL                      # lab + the real sets with groups
cv cv-short-bal $MINI $AUG $SHORT --balance-attr source "$LAB" $REAL   # each source weighs the same
cv cv-short-real $MINI $AUG $SHORT $REAL                        # the real sets with groups alone
export CV_COMPANION="$SEQ"                                      # ... and a second net on the packet
cv cv-fused-real $MINI $AUG $SHORT $REAL                        # sequence, fused (traffictriage fuse)
export CV_TREES=""                                              # ... and boosted trees over the blocks'
cv cv-fused-trees-real $MINI $AUG $SHORT $REAL                  # statistics (traffictriage trees)
unset CV_COMPANION CV_TREES
# Picked by discrimination (balanced accuracy of the top class); the threshold below then
# decides how many answers read "unknown".
echo "== recipes: mean per-class recall on real flows (>= 20 packets; argmax, and at 0.5 with unknown = wrong)"
for r in cv-short-all cv-short cv-short-bal cv-short-real cv-fused-real cv-fused-trees-real; do
    /usr/bin/python3 - "$OUT/$r.cv.json" "$r" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["views"]["all"]
print("%s\targmax=%.4f\tat_0.5=%.4f\tunknown_0.5=%.3f" % (sys.argv[2], v["argmax"]["balanced_accuracy"],
      v["threshold"]["balanced_accuracy"], v["threshold"]["unknown_share"]))
PY
done | tee "$OUT/recipes.txt"
RECIPE=$(sort -t= -k2 -gr "$OUT/recipes.txt" | cut -f1 | sed -n 1p)
echo "recipe: $RECIPE"
LAB_SPLIT=""
FUSED=""
TREES=""
case $RECIPE in
cv-short-all) ARGS="$MINI $AUG $SHORT"; SETS="$LAB $REAL $VIDEO $WEB" ;;
cv-short-bal) ARGS="$MINI $AUG $SHORT --balance-attr source"; SETS="$LAB $REAL" ;;
cv-short-real) ARGS="$MINI $AUG $SHORT"; SETS="$LAB $REAL"; LAB_SPLIT=--lab-all-test ;;   # lab: test only
cv-fused-real) ARGS="$MINI $AUG $SHORT"; SETS="$LAB $REAL"; LAB_SPLIT=--lab-all-test; FUSED=yes ;;
cv-fused-trees-real) ARGS="$MINI $AUG $SHORT"; SETS="$LAB $REAL"; LAB_SPLIT=--lab-all-test; FUSED=yes; TREES=yes ;;
*) ARGS="$MINI $AUG $SHORT"; SETS="$LAB $REAL" ;;
esac

# The threshold the model will recommend (the plugin's default, for triage.category and
# triage.conversation.category): the highest of these that leaves at most 20 % of the real
# flows unknown in the cross-validation, for the conversation answer (every block pooled with
# the reverse direction's block of the same time: realcv.py --unit pair). The per-direction
# table is kept beside it.
BEST=category-lenet32-15s
/usr/bin/python3 models/realcv.py thresholds --max-unknown 0.20 "$OUT/$RECIPE".fold*.flows \
    > "$OUT/$BEST.real-cv-thresholds.txt"
/usr/bin/python3 models/realcv.py thresholds --max-unknown 0.20 --unit pair "$OUT/$RECIPE".fold*.flows \
    > "$OUT/$BEST.real-cv-pair-thresholds.txt"
THRESHOLD=$(sed -n 's/^pick //p' "$OUT/$BEST.real-cv-pair-thresholds.txt")
echo "threshold: $THRESHOLD"

# ---- 2. the default category model: the recipe on all data ------------------------------
# Real fold 0 validates (epoch, temperature); lab sessions are split 70/15/15 per category x
# tunnel for the held-out lab figures; every other group trains.
/usr/bin/python3 models/realcv.py final "$OUT/real-folds.tsv" 0 $SEED "$OUT/final.split" "$LAB" $LAB_SPLIT
# The paper-net comparison model always trains on the lab too (its split: lab 70/15/15).
/usr/bin/python3 models/realcv.py final "$OUT/real-folds.tsv" 0 $SEED "$OUT/final-lab.split" "$LAB"
# A fused recipe: two nets on the same split, fused into one model file ($BEST.ttm); with
# trees, the fused nets ($BEST-nets.ttm) get boosted trees on the same split.
FIRST=$BEST
[ -z "$FUSED" ] || FIRST=$BEST-first
NETS=$BEST
[ -z "$TREES" ] || NETS=$BEST-nets
# shellcheck disable=SC2086 # ARGS and SETS are word lists
train $FIRST --task category --name $BEST $ARGS --threshold "$THRESHOLD" --split "$OUT/final.split" \
    --note "$NOTE_CAT (recipe $RECIPE)" $SETS
if [ -n "$FUSED" ]; then
    # shellcheck disable=SC2086
    train $BEST-second --task category --name $BEST-sequence $ARGS $SEQ --split "$OUT/final.split" \
        --note "$NOTE_CAT (recipe $RECIPE, the second net)" $SETS
    "$TT" fuse -o "$OUT/$NETS.ttm" --split "$OUT/final.split" --eval-json "$OUT/$NETS.test.json" \
        "$OUT/$BEST-first.ttm" "$OUT/$BEST-second.ttm" $SETS 2>/dev/null | tee "$OUT/$NETS.train.txt"
fi
if [ -n "$TREES" ]; then
    # shellcheck disable=SC2086
    "$TT" trees --quiet -o "$OUT/$BEST.ttm" --split "$OUT/final.split" --eval-json "$OUT/$BEST.test.json" \
        "$OUT/$NETS.ttm" $SETS | tee "$OUT/$BEST.train.txt"
fi
train category-flowpic1500-60s --task category --name category-flowpic1500-60s --arch flowpic --side 1500 \
    --block-seconds 60 --epochs $EPOCHS_BIG --patience 4 --max-per-class 1500 $AUG --split "$OUT/final-lab.split" \
    --note "$NOTE_CAT, video-traffic, TrafficLeak (the FlowPic paper's input and net)" "$LAB" $REAL "$VIDEO" "$WEB"

# ---- 3. the default in detail ------------------------------------------------------------------
# The recipe's cross-validation at the model's threshold: per flow and per conversation.
/usr/bin/python3 models/realcv.py score --threshold "$THRESHOLD" --json "$OUT/$BEST.real-cv.json" \
    "$OUT/$RECIPE".fold*.flows > "$OUT/$BEST.real-cv.txt"
/usr/bin/python3 models/realcv.py score --unit conv --threshold "$THRESHOLD" --json "$OUT/$BEST.real-cv-conv.json" \
    "$OUT/$RECIPE".fold*.flows > "$OUT/$BEST.real-cv-conv.txt"
# Conversation answers: every block pooled with the reverse direction's block of the same
# time (realcv.py --unit pair), at the same threshold.
/usr/bin/python3 models/realcv.py score --unit pair --threshold "$THRESHOLD" --json "$OUT/$BEST.real-cv-pair.json" \
    "$OUT/$RECIPE".fold*.flows > "$OUT/$BEST.real-cv-pair.txt"
cat "$OUT/$BEST.real-cv-conv.txt" "$OUT/$BEST.real-cv-thresholds.txt" "$OUT/$BEST.real-cv-pair.txt"
for m in "$BEST" category-flowpic1500-60s; do
    split=$OUT/final.split
    [ "$m" = "$BEST" ] || split=$OUT/final-lab.split
    evaluate "$m" test-by-tunnel --split "$split" --on test --by tunnel "$LAB"
    evaluate "$m" test-by-app --split "$split" --on test --by app "$LAB"
    evaluate "$m" uncalibrated --split "$split" --on test --temperature 1 "$LAB"
done
# The two one-class real sets, all of it (the default recipe may not train on them).
evaluate "$BEST" video-traffic --where source=video-traffic "$VIDEO"
evaluate "$BEST" trafficleak --where source=trafficleak "$WEB"

# ---- 4. cross-domain rows (the FlowPic paper's): trained without tunnels, tested through them
# shellcheck disable=SC2086
train category-notunnel --task category --name category-notunnel $ARGS --where tunnel=none \
    --note "lab sessions without tunnel only" "$LAB"
evaluate category-notunnel vpn --where tunnel=vpn "$LAB"
evaluate category-notunnel tor --where tunnel=tor "$LAB"

# ---- 5. tunnel model (none / vpn / tor), lab sessions: two inputs on one split, picked by validation.
# A VPN adds a constant 40-80 bytes to every packet: 1-byte size bins can see it, 47-byte bins
# (32 x 32) mostly cannot.
NOTE_TUN="lab sessions, label = tunnel (none/vpn/tor)"
train tunnel-lenet32-15s --task tunnel --name tunnel-lenet32-15s --side 32 --block-seconds 15 --label-attr tunnel \
    --epochs $EPOCHS --patience 6 --max-per-class 3000 $AUG --note "$NOTE_TUN" "$LAB"
train tunnel-flowpic1500-15s --task tunnel --name tunnel-flowpic1500-15s --arch flowpic --side 1500 \
    --block-seconds 15 --label-attr tunnel --epochs $EPOCHS_BIG --patience 4 --max-per-class 1500 $AUG \
    --split "$OUT/tunnel-lenet32-15s.split" --note "$NOTE_TUN" "$LAB"
for m in tunnel-lenet32-15s tunnel-flowpic1500-15s; do
    val=$("$TT" info "$OUT/$m.ttm" | sed -n 's/^train.val_balanced_accuracy=//p')
    echo "$m	val_balanced=$val"
done | tee "$OUT/tunnel-specs.txt"
BEST_TUN=$(sort -t= -k2 -gr "$OUT/tunnel-specs.txt" | cut -f1 | sed -n 1p)
echo "tunnel model: $BEST_TUN"
evaluate "$BEST_TUN" test-by-category --label-attr tunnel --split "$OUT/$BEST_TUN.split" --on test --by app "$LAB"

# ---- 6. video platform (real sessions) ---------------------------------------------------------
train platform --task platform --name platform-lenet32-15s --side 32 --block-seconds 15 \
    --epochs $EPOCHS --patience 6 $AUG \
    --note "Video-traffic-dataset: YouTube (QUIC), Bilibili (TLS/QUIC), Twitch (TLS); split by session" "$PLATFORM"

if [ "$INSTALL" = yes ]; then
    cp "$OUT/$BEST.ttm" models/category.ttm
    cp "$OUT/category-flowpic1500-60s.ttm" models/category-flowpic1500-60s.ttm
    cp "$OUT/$BEST_TUN.ttm" models/tunnel.ttm
    cp "$OUT/platform.ttm" models/platform.ttm
    # models/results/ holds exactly this run's evaluations (none left over from an older one)
    # (the cross-validation's per-fold models and logs stay in $OUT)
    rm -rf models/results && mkdir -p models/results
    for f in "$OUT"/*.txt "$OUT"/*.json "$OUT"/real-folds.tsv; do
        case $f in *.fold[0-9]*) ;; *) cp "$f" models/results/ ;; esac
    done
    echo "installed into models/: category.ttm ($BEST), category-flowpic1500-60s.ttm, tunnel.ttm ($BEST_TUN), platform.ttm"
fi
echo "== done: $OUT"
