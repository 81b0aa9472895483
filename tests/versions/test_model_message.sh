#!/bin/bash
# A model file written by another version of the TrafficTriage model format
# (older or newer) is reported once per tshark run, and the message names
# both versions (the file's and the one this plugin reads), in every
# Wireshark version the matrix covers. (The broader bad-model behaviour is in
# tests/plugin/test_bad_models.sh.)
. "$(dirname "$0")/../plugin/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
good=$TT_TMP/models/bundled.ttm
ours=$(od -An -t u4 -j 8 -N 4 "$good" | tr -d ' ')
[ -n "$ours" ] || fail "cannot read the format version of a fresh model"

for v in 0 $(( ours + 1 )) 4000000000; do
    f=$TT_TMP/models/v$v.ttm
    cp "$good" "$f"
    # bytes 8..11: format version, little-endian (models/FORMAT.md)
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(( v & 255 )) $(( (v >> 8) & 255 )) \
        $(( (v >> 16) & 255 )) $(( (v >> 24) & 255 )))" |
        dd of="$f" bs=1 seek=8 count=4 conv=notrunc status=none
    tt_fix_owner
    : > "$TT_OUT/stderr"
    # two passes and a report: the model is loaded once per run, so one message
    tt_tshark -r "$cap" -2 -o "triage.model:$f" -q -z triage,tree > "$TT_OUT/tree" ||
        fail "v$v: tshark exited non-zero"
    n=$(grep -c "version" "$TT_OUT/stderr" || true)
    expect_eq "$n" 1 "v$v: one message about the version"
    grep -q "version $v\b" "$TT_OUT/stderr" || fail "v$v: message does not name the file's version $v: $(cat "$TT_OUT/stderr")"
    grep -q "version $ours\b" "$TT_OUT/stderr" || fail "v$v: message does not name the supported version $ours: $(cat "$TT_OUT/stderr")"
    grep -qi "retrain\|upgrade" "$TT_OUT/stderr" || fail "v$v: message does not say what to do: $(cat "$TT_OUT/stderr")"
    echo "ok: v$v: $(grep version "$TT_OUT/stderr")"
done
echo "PASS"
