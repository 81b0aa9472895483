#!/bin/bash
# Missing, corrupt and wrong-version model files: tshark keeps working (exit 0),
# one log line names the problem, packets read status "no model" with an
# error-level expert info.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/mixed.pcap.gz
n_l4=$(count tt_tshark -r "$cap" -2 -Y "tcp || udp")

cp "$TT_TMP/models/bundled.ttm" "$TT_TMP/models/corrupt.ttm"
size=$(stat -c %s "$TT_TMP/models/corrupt.ttm")
/usr/bin/python3 - "$TT_TMP/models/corrupt.ttm" "$TT_TMP/models/bundled.ttm" "$TT_TMP/models/version.ttm" <<'PY'
import sys
corrupt, good, version = sys.argv[1:4]
b = bytearray(open(corrupt, "rb").read())
b[len(b) // 2] ^= 0xFF                       # flip a byte in the body
open(corrupt, "wb").write(b)
b = bytearray(open(good, "rb").read())
b[8:12] = (99).to_bytes(4, "little")         # format version field
open(version, "wb").write(b)
PY
tt_fix_owner

check() {   # check NAME FILE PATTERN
    local name=$1 file=$2 pat=$3
    : > "$TT_OUT/stderr"
    tt_tshark -r "$cap" -2 -o "triage.model:$file" -T fields -e triage.status -e triage.category > "$TT_OUT/st" ||
        fail "$name: tshark exited non-zero"
    expect_eq "$(grep -c "not loaded" "$TT_OUT/stderr")" 1 "$name: one log line"
    grep -q "$pat" "$TT_OUT/stderr" || fail "$name: message does not say '$pat': $(cat "$TT_OUT/stderr")"
    expect_eq "$(grep -c "^no model	unknown$" "$TT_OUT/st")" "$n_l4" "$name: status no model on every TCP/UDP packet"
    tt_tshark -r "$cap" -2 -o "triage.model:$file" -q -z expert > "$TT_OUT/ex" || fail "$name: -z expert failed"
    grep -A3 "^Errors" "$TT_OUT/ex" | grep -q "TrafficTriage" || fail "$name: no error-level expert info"
    echo "ok: $name: $(grep "not loaded" "$TT_OUT/stderr")"
}
check missing "$TT_TMP/models/does-not-exist.ttm" "does-not-exist"
check corrupt "$TT_TMP/models/corrupt.ttm" "checksum\|sha\|SHA"
check version "$TT_TMP/models/version.ttm" "version"
# the -z reports still work
tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/corrupt.ttm" -q -z triage,tree > "$TT_OUT/t" || fail "-z triage,tree failed without model"
grep -q "no model" "$TT_OUT/t" || fail "tree does not show the no-model packets"
# one node for all of them, counting every TCP/UDP packet (not one node per packet)
expect_eq "$(grep -c "not classified" "$TT_OUT/t")" 1 "one no-model node in the tree"
expect_eq "$(sed -n 's/.*no model loaded) *\([0-9]*\).*/\1/p' "$TT_OUT/t" | head -1)" "$n_l4" "no-model node counts every TCP/UDP packet"
echo "PASS"
