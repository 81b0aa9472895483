#!/bin/sh
# ctest cli_trees: `traffictriage trees` adds boosted trees to a model (fused or
# not) and the file works everywhere a model does; what it refuses, it says.
#   - trees on a packet series of two classes, split by group: the model file
#     holds them (`info`), answers with them (`eval`, `classify`), and trees
#     added again replace the old ones (one set of trees. lines);
#   - train --init from a model with trees writes a net without them, and says so;
#   - a model with trees cannot be a fused model's companion;
#   - no --split, a weight outside (0, 1], a missing model: a message, no model.
# Usage: test_trees.sh TRAFFICTRIAGE SOURCE_DIR (exit 77 when built without libxgboost)
set -u
TT=$1
SRC=$2
TMP=$(mktemp -d /tmp/tt-cli-trees.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failed=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failed=1; }

# Two classes: voip (small packets every ~20 ms) and file (large packets back to back);
# groups tr*, va*, te* are the training, validation and test sides.
awk 'BEGIN {
    srand(5); print "#ttseries v1"
    for (f = 0; f < 60; f++) {
        bulk = f % 2; k = f % 10; side = k < 6 ? "tr" : (k < 8 ? "va" : "te")
        printf "%s%d\t%s\tf%d\t-\t", side, int(f / 2), bulk ? "file" : "voip", f
        t = 0
        for (i = 0; i < 50; i++) { t += bulk ? rand() * 0.01 : 0.015 + rand() * 0.01; printf "%s%.6f", i ? " " : "", t }
        printf "\t"
        for (i = 0; i < 50; i++) printf "%s%d", i ? " " : "", bulk ? 1200 + int(rand() * 300) : 150 + int(rand() * 70)
        printf "\n"
    } }' > "$TMP/two.ttseries"
awk -F'\t' 'NR > 1 { print $1 }' "$TMP/two.ttseries" | sort -u |
    awk '{ s = substr($1, 1, 2) == "tr" ? "train" : substr($1, 1, 2) == "va" ? "val" : "test"; print $1 "\t" s }' > "$TMP/split"
"$TT" init-model --classes file,voip --side 32 --block-seconds 15 --min-packets 5 -o "$TMP/net.ttm" > /dev/null ||
    bad "init-model"
"$TT" trees --quiet -o "$TMP/with.ttm" --split "$TMP/split" "$TMP/net.ttm" "$TMP/two.ttseries" > "$TMP/trees.out" 2> "$TMP/trees.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "without libxgboost" "$TMP/trees.err"; then
    echo "skip: built without libxgboost"
    exit 77
fi
[ "$rc" -eq 0 ] && grep -q "with [0-9]* trees written" "$TMP/trees.out" || bad "trees: rc $rc: $(cat "$TMP/trees.err")"
"$TT" info "$TMP/with.ttm" > "$TMP/info" || bad "info"
grep -q "^--- boosted trees: [0-9]* over 32 block statistics" "$TMP/info" && grep -q "^trees.weight=0.5$" "$TMP/info" &&
    ok "info shows the trees and their weight" || bad "info: $(cat "$TMP/info")"
# weight 1: the trees alone, which separate the two kinds
"$TT" trees --quiet --weight 1 -o "$TMP/alone.ttm" --split "$TMP/split" "$TMP/with.ttm" "$TMP/two.ttseries" > /dev/null 2>&1 ||
    bad "trees on a model with trees"
[ "$("$TT" info "$TMP/alone.ttm" | grep -c '^trees.weight=')" -eq 1 ] && "$TT" info "$TMP/alone.ttm" | grep -q '^trees.weight=1$' &&
    ok "trees again: replaced, one set of trees. lines" || bad "trees again: $("$TT" info "$TMP/alone.ttm" | grep '^trees')"
"$TT" eval --split "$TMP/split" --on test "$TMP/alone.ttm" "$TMP/two.ttseries" > "$TMP/eval" 2>/dev/null || bad "eval"
grep -q "accuracy 1.0000" "$TMP/eval" && ok "eval: the trees alone separate the held-out flows" || bad "eval: $(head -3 "$TMP/eval")"
# train --init from a model with trees: the net is trained on, the trees (of other data) are dropped, said
"$TT" train --quiet --init "$TMP/with.ttm" --epochs 1 --split "$TMP/split" -o "$TMP/retrained.ttm" "$TMP/two.ttseries" \
    > /dev/null 2> "$TMP/init.err" || bad "train --init: $(cat "$TMP/init.err")"
grep -q "holds boosted trees" "$TMP/init.err" && ! "$TT" info "$TMP/retrained.ttm" | grep -q "boosted trees" &&
    ok "train --init drops the trees and says so" || bad "train --init: $(cat "$TMP/init.err")"
# a companion with trees is refused
"$TT" fuse -o "$TMP/fused.ttm" "$TMP/net.ttm" "$TMP/with.ttm" > /dev/null 2> "$TMP/fuse.err" && bad "fuse with a trees companion succeeded"
grep -q "holds trees" "$TMP/fuse.err" && [ ! -e "$TMP/fused.ttm" ] && ok "fuse refuses a companion with trees" ||
    bad "fuse: $(cat "$TMP/fuse.err")"
# refusals: a message, exit 2 or 1, no file
"$TT" trees -o "$TMP/x.ttm" "$TMP/net.ttm" "$TMP/two.ttseries" > /dev/null 2>&1; rc1=$?
"$TT" trees --weight 0 -o "$TMP/x.ttm" --split "$TMP/split" "$TMP/net.ttm" "$TMP/two.ttseries" 2> "$TMP/w.err" > /dev/null; rc2=$?
"$TT" trees -o "$TMP/x.ttm" --split "$TMP/split" "$TMP/none.ttm" "$TMP/two.ttseries" 2> "$TMP/m.err" > /dev/null; rc3=$?
[ "$rc1" -eq 2 ] && [ "$rc2" -ne 0 ] && grep -q "weight" "$TMP/w.err" && [ "$rc3" -ne 0 ] && grep -q "none.ttm" "$TMP/m.err" &&
    [ ! -e "$TMP/x.ttm" ] && ok "no --split, weight 0, no model: refused with a message" ||
    bad "refusals: rc $rc1 $rc2 $rc3: $(cat "$TMP/w.err" "$TMP/m.err")"
[ "$failed" -eq 0 ] && echo PASS
exit $failed
