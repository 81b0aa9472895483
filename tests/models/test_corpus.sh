#!/bin/sh
# ctest corpus_check (label models): the committed lab corpus models/corpus/lab-seed1.ttseries.xz
#  1. reads whole, and its SHA-256, sizes and sessions / flows / packets per category x tunnel
#     equal the committed counts file (traffictriage series --check);
#  2. the same corpus cut in half is an error (never a smaller training set);
#  3. a tiny model trains on a slice of it (its first 15 sessions, one per category x tunnel).
# Skipped (exit 77) only when the corpus file is absent.
#   tests/models/test_corpus.sh TRAFFICTRIAGE CORPUS_DIR
set -u
TT=$1
DIR=$2
C=$DIR/lab-seed1.ttseries.xz
N=$DIR/lab-seed1.counts
if [ ! -f "$C" ]; then
    echo "SKIP: no $C (models/corpus/build writes it from a lab run)"
    exit 77
fi
[ -f "$N" ] || { echo "FAIL: $C has no counts file $N"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }

if "$TT" series --check "$C" --counts "$N"; then ok "checksum and counts of $C"; else bad "checksum and counts of $C"; fi

size=$(wc -c < "$C")
head -c $((size / 2)) "$C" > "$TMP/half.ttseries.xz"
if "$TT" series --check "$TMP/half.ttseries.xz" > "$TMP/half.out" 2>&1; then
    bad "a corpus cut in half was read without an error"
elif grep -q "half.ttseries.xz.*byte" "$TMP/half.out"; then
    ok "a corpus cut in half: $(cat "$TMP/half.out")"
else
    bad "a corpus cut in half: the error does not name the file and byte: $(cat "$TMP/half.out")"
fi

if "$TT" series --slice "$C" --slice-sessions 15 -o "$TMP/slice.ttseries" > "$TMP/train.out" 2>&1 &&
   "$TT" train --side 16 --epochs 2 --max-per-class 50 --val 0.2 --test 0.2 -q -o "$TMP/tiny.ttm" \
       "$TMP/slice.ttseries" >> "$TMP/train.out" 2>&1 &&
   "$TT" info "$TMP/tiny.ttm" | grep -q "^classes .*voip"; then
    ok "a tiny model trained on the first 15 sessions ($(grep -c . "$TMP/slice.ttseries") lines)"
else
    bad "training on a slice: $(cat "$TMP/train.out" 2>/dev/null)"
fi
# eval --blocks: one row per classified block; a flow's row in --flows is the mean of its blocks.
if "$TT" eval --flows "$TMP/tiny.flows" --blocks "$TMP/tiny.blocks" "$TMP/tiny.ttm" "$TMP/slice.ttseries" \
       > /dev/null 2>&1 &&
   /usr/bin/python3 - "$TMP/tiny.flows" "$TMP/tiny.blocks" <<'PY'
import csv, sys
from collections import defaultdict
flows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
blocks = defaultdict(list)
for r in csv.DictReader(open(sys.argv[2]), delimiter="\t"):
    blocks[(r["source"], r["group"], r["flow"])].append(r)
cols = [c for c in flows[0] if c.startswith("p_")]
checked = 0
for f in flows:
    bs = blocks.get((f["source"], f["group"], f["flow"]), [])
    assert len(bs) == int(f["blocks_ok"]), (f["flow"], len(bs), f["blocks_ok"])
    for c in cols:
        mean = sum(float(b[c]) for b in bs) / len(bs) if bs else 0.0
        assert abs(mean - float(f[c])) < 2e-4, (f["flow"], c, mean, f[c])
    checked += len(bs) > 0
assert checked > 0
PY
then
    ok "eval --blocks rows average to the --flows rows"
else
    bad "eval --blocks and --flows disagree"
fi

# Two sessions cannot give validation and test groups: train says so and stops, unless asked.
"$TT" series --slice "$C" --slice-sessions 2 -o "$TMP/two.ttseries" > /dev/null 2>&1
if "$TT" train --side 16 --epochs 1 -q -o "$TMP/two.ttm" "$TMP/two.ttseries" > "$TMP/two.out" 2>&1; then
    bad "a two-session split with empty validation/test was trained without a word"
elif grep -q "0 validation and 0 test groups" "$TMP/two.out" && grep -q -- "--allow-empty-split" "$TMP/two.out"; then
    ok "an empty validation/test split is refused: $(head -1 "$TMP/two.out")"
else
    bad "an empty split: the message does not say why or what to do: $(cat "$TMP/two.out")"
fi
# (-w: a figure printed as nan or -nan, never the letters inside the temporary directory's random name)
# (not -q: the epoch lines must not print validation figures it has not got)
if "$TT" train --side 16 --epochs 1 --allow-empty-split -o "$TMP/two.ttm" "$TMP/two.ttseries" > "$TMP/two.out" 2>&1 &&
   grep -q "no test split" "$TMP/two.out" && grep -q "^epoch   1 .*(no validation split)" "$TMP/two.out" &&
   ! grep -qiw "nan" "$TMP/two.out"; then
    ok "--allow-empty-split trains and prints no empty validation or test figures"
else
    bad "--allow-empty-split: $(cat "$TMP/two.out")"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
