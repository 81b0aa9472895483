#!/bin/bash
# The sequence picture (--time-scale sequence) through the one FlowPic path:
# a small model trained with it on the lab fixtures (traffictriage train),
# described by `info`, read by `classify`, then trainer = plugin with it on
# the committed captures (test_trainer_vs_plugin.sh with TT_EQ_MODEL).
set -u
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$TT_CLI" train --seed 1 --quiet --epochs 3 --time-scale sequence --counts log --min-packets 5 \
    --allow-empty-split -o "$dir/seq.ttm" "$TT_LAB/manifest.ttm" > "$dir/train.log" 2>&1 \
    || { cat "$dir/train.log"; fail "train --time-scale sequence"; }
"$TT_CLI" info "$dir/seq.ttm" > "$dir/info.txt" || fail "info"
grep -q '^flowpic      64 x 32 .*sequence of the first 32 packets: size and log gap' "$dir/info.txt" \
    || { cat "$dir/info.txt"; fail "info does not describe the sequence picture"; }
n=$("$TT_CLI" classify "$dir/seq.ttm" "$TT_LAB/voip-none.pcapng" | awk -F'\t' '$8 == "classified"' | wc -l)
[ "$n" -gt 0 ] || fail "classify: no classified block with the sequence model"
echo "ok: a sequence model (64 x 32) trained, described and read by classify ($n blocks)"
TT_EQ_MODEL=$dir/seq.ttm bash "$(dirname "$0")/test_trainer_vs_plugin.sh"
