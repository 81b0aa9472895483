#!/bin/sh
# K-fold cross-validation of one training recipe on real traffic (models/realcv.py).
#
#   models/cv.sh TT FOLDS OUT NAME REAL -- TRAIN-ARGS... DATA...
#
#   TT      the traffictriage binary
#   FOLDS   unit -> fold file (realcv.py folds)
#   OUT     output folder: NAME.fold<i>.{split,ttm,flows,blocks,train.txt}, NAME.cv.{txt,json}
#   REAL    space-separated real manifests evaluated per fold (their groups are the units)
#
# Fold i trains on every group but folds i and i+1 (lab and other real sets included),
# picks its epoch and temperature on fold i+1 and answers for the flows of fold i.
#
# CV_COMPANION="ARGS": a fused model (traffictriage fuse) per fold: a second net trained
# the same way with ARGS added (e.g. --time-scale sequence), answering beside the first.
# CV_TREES="OPTIONS": then boosted trees added to each fold's model (traffictriage trees
# OPTIONS), trained on the fold's split of CV_TREES_DATA (default: REAL).
set -eu
[ $# -ge 6 ] && [ "$6" = "--" ] || { sed -n 2,12p "$0" >&2; exit 2; }
TT=$1 FOLDS=$2 OUT=$3 NAME=$4 REAL=$5
shift 6
HERE=$(dirname "$0")
K=$(awk -F'\t' '!/^#/ && NF >= 2 && $2 + 1 > k { k = $2 + 1 } END { print k + 0 }' "$FOLDS")
[ "$K" -ge 3 ] || { echo "cv.sh: $FOLDS has $K folds (need 3 or more)" >&2; exit 1; }
i=0
while [ "$i" -lt "$K" ]; do
    base=$OUT/$NAME.fold$i
    /usr/bin/python3 "$HERE/realcv.py" split "$FOLDS" "$i" "$base.split"
    if [ -n "${CV_COMPANION:-}" ]; then
        "$TT" train --quiet --split "$base.split" -o "$base.first.ttm" "$@" > "$base.train.txt"
        # shellcheck disable=SC2086 # CV_COMPANION is a list of options, after the data
        "$TT" train --quiet --split "$base.split" -o "$base.second.ttm" "$@" $CV_COMPANION > "$base.second.train.txt"
        "$TT" fuse -o "$base.ttm" "$base.first.ttm" "$base.second.ttm" > /dev/null
    else
        "$TT" train --quiet --split "$base.split" -o "$base.ttm" "$@" > "$base.train.txt"
    fi
    if [ -n "${CV_TREES+set}" ]; then
        mv "$base.ttm" "$base.nets.ttm"
        # shellcheck disable=SC2086 # options and paths are word lists
        "$TT" trees --quiet --split "$base.split" -o "$base.ttm" $CV_TREES "$base.nets.ttm" ${CV_TREES_DATA:-$REAL} > "$base.trees.txt"
    fi
    # shellcheck disable=SC2086 # REAL is a list of paths
    "$TT" eval --split "$base.split" --on test --flows "$base.flows" --blocks "$base.blocks" "$base.ttm" $REAL > "$base.eval.txt" 2>/dev/null
    i=$((i + 1))
done
/usr/bin/python3 "$HERE/realcv.py" score --json "$OUT/$NAME.cv.json" "$OUT/$NAME".fold*.flows | tee "$OUT/$NAME.cv.txt"
