#!/bin/sh
# ctest cli_output (labels cli, unit: the sanitizer pass runs it too, so that
# LeakSanitizer checks the commands' option strings): what `traffictriage`
# prints where people read it.
#   - confidence as the plugin shows it (tt_confidence_shown: 3 decimals,
#     rounded down): `classify`'s class and conversation columns, `render`'s
#     "predicted CLASS (C)" lines and its index.tsv;
#   - `eval`'s report marks with "-" the figures of a class that has no block,
#     as `eval --by` does, instead of rows of 0.0000.
# Usage: test_output.sh TRAFFICTRIAGE SOURCE_DIR
set -u
TT=$1
SRC=$2
TMP=$(mktemp -d /tmp/tt-cli-output.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
MODEL=$SRC/models/category.ttm
CAP=$SRC/tests/captures/long.pcap
failed=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failed=1; }

# classify: the confidence columns are the top probability (p_* columns, 6 decimals) rounded down to 3
gunzip -c "$SRC/tests/captures/mixed.pcap.gz" > "$TMP/mixed.pcap"
"$TT" classify --probs "$MODEL" "$TMP/mixed.pcap" > "$TMP/classify" || bad "classify --probs"
awk -F'\t' '
    /^#/ || $8 != "classified" { next }
    {
        n++
        top = 0
        for (i = 13; i <= NF; i++) if ($i + 0 > top) top = $i + 0
        if ($10 !~ /^[01]\.[0-9][0-9][0-9]$/ || $12 !~ /^[01]\.[0-9][0-9][0-9]$/) { print "not 3 decimals: " $0; bad++ }
        else if ($10 > top + 5e-7 || $10 + 0.001 <= top - 5e-7) { print "not the top probability rounded down: " $0; bad++ }
        if (sprintf("%.3f", top) != $10) rounded_differs++
    }
    END { printf "%d %d %d\n", n, bad + 0, rounded_differs + 0 > "/dev/stderr" }' "$TMP/classify" 2> "$TMP/classify.counts"
read -r n nbad differs < "$TMP/classify.counts"
[ "$n" -gt 10 ] && [ "$nbad" -eq 0 ] && [ "$differs" -gt 0 ] &&
    ok "classify: $n blocks, confidence = top probability rounded down to 3 decimals ($differs of them differ from rounding to nearest)" ||
    bad "classify: $n blocks, $nbad wrong, $differs where rounding down matters"

# render: "predicted CLASS (C)" with the index's confidence, 3 decimals
"$TT" render -o "$TMP/r" --limit 5 "$MODEL" "$CAP" > "$TMP/render" || bad "render"
sed -n 's/.*predicted [^ ]* (\(.*\))$/\1/p' "$TMP/render" > "$TMP/render.conf"
tail -n +2 "$TMP/r/index.tsv" | cut -f8 > "$TMP/index.conf"
if [ "$(wc -l < "$TMP/render.conf")" -eq 5 ] && cmp -s "$TMP/render.conf" "$TMP/index.conf" &&
   ! grep -qv '^[01]\.[0-9][0-9][0-9]$' "$TMP/render.conf"; then
    ok "render: the confidence it prints is index.tsv's, 3 decimals"
else
    bad "render: printed $(tr '\n' ' ' < "$TMP/render.conf"), index $(tr '\n' ' ' < "$TMP/index.conf")"
fi

# eval on video blocks only: the other classes have no block; their recall and F1 read "-"
# (precision too, unless some block was answered with the class), as in eval --by
"$TT" eval --by app --json "$TMP/eval.json" --flows "$TMP/flows.tsv" --blocks "$TMP/blocks.tsv" \
    --where source!=none --label-attr label "$MODEL" "$CAP:video" > "$TMP/eval" 2> "$TMP/eval.err" ||
    bad "eval with every string option: $(cat "$TMP/eval.err")"
"$TT" eval "$MODEL" "$CAP:video" > "$TMP/eval.plain" 2>/dev/null || bad "eval"
awk '/^confusion/ { exit } $1 == "browsing" || $1 == "chat" || $1 == "file_transfer" || $1 == "voip" { if (NF == 5) print }' "$TMP/eval.plain" > "$TMP/absent"
if [ "$(wc -l < "$TMP/absent")" -ge 3 ] && awk '$5 != 0 || $3 != "-" || $4 != "-" { exit 1 }' "$TMP/absent" &&
   ! grep -Eq '^[a-z_]+ +0\.0000 +0\.0000 +0\.0000 +0$' "$TMP/eval.plain" &&
   grep -Eq '^video +1\.0000 +[01]\.[0-9]{4} +[01]\.[0-9]{4} +[1-9]' "$TMP/eval.plain"; then
    ok "eval: classes with no block read - (recall, F1), the class present reads figures"
else
    bad "eval report: $(cat "$TMP/eval.plain")"
fi
[ "$failed" -eq 0 ] && echo PASS
exit $failed
