#!/bin/bash
# Hostile model files through the plugin's preference path (-o triage.model:FILE),
# with a good second model (-o triage.extra_models:TUNNEL.ttm, task tunnel):
# for every file of hostile_models.py (the unit tests' table of corrupt files,
# as files) plus a missing file and a directory:
#   - tshark exits 0 (with the plugin built with ASan + UBSan: no report);
#   - exactly one "model not loaded" message, naming the file;
#   - every TCP/UDP packet has status "no model" and no category;
#   - the extra model still labels every TCP/UDP packet (triage.tunnel)
#     (was bug 1 of BUGS-plugin.md, fixed).
# Then the roles swapped for every file: the category model is good, the
# hostile files are extra models; it keeps labelling every packet.
. "$(dirname "$0")/common.sh"
robust_setup
asan_canary "$TT_CAPS/vlan.pcap"
cap=$TT_CAPS/vlan.pcap
H=$TT_TMP/hostile
mkdir -p "$H"
"$TT_CLI" init-model --arch lenet --side 32 --task tunnel --seed 2 --classes plain,vpn,tor \
    -o "$TT_TMP/models/tunnel.ttm" >/dev/null || fail "init-model tunnel"
/usr/bin/python3 "$ROBUST_DIR/hostile_models.py" "$TT_TMP/models/bundled.ttm" "$H" > "$TT_TMP/hostile.list" ||
    fail "hostile_models.py"
mkdir -p "$H/a-directory.ttm"
tt_fix_owner
n_l4=$(count tt_tshark_san -r "$cap" -Y "tcp || udp")
expect_gt "$n_l4" 0 "TCP/UDP packets in $(basename "$cap")"

check_primary() {   # check_primary NAME FILE
    local name=$1 file=$2
    : > "$TT_OUT/stderr"
    tt_tshark_san -r "$cap" -2 -o "triage.model:$file" -o "triage.extra_models:$TT_TMP/models/tunnel.ttm" \
        -Y "tcp || udp" -T fields -e triage.status -e triage.category -e triage.tunnel > "$TT_OUT/f" ||
        fail "$name: tshark exited $? ($(tail -3 "$TT_OUT/stderr"))"
    expect_eq "$(grep -c "model not loaded" "$TT_OUT/stderr")" 1 "$name: one message"
    grep "model not loaded" "$TT_OUT/stderr" | grep -qF "$(basename "$file")" ||
        fail "$name: the message does not name the file: $(grep "not loaded" "$TT_OUT/stderr")"
    expect_eq "$(awk -F'\t' '$1 == "no model" && $2 == "unknown"' "$TT_OUT/f" | wc -l)" "$n_l4" \
        "$name: status no model on every TCP/UDP packet"
    # The tunnel model goes on labelling (BUGS-plugin.md 1, fixed).
    tunnel=$(awk -F'\t' '$3 != ""' "$TT_OUT/f" | wc -l)
    expect_eq "$tunnel" "$n_l4" "$name: the tunnel model still labels every TCP/UDP packet"
}

while read -r name; do
    check_primary "$name" "$H/$name.ttm"
done < "$TT_TMP/hostile.list"
check_primary missing "$H/does-not-exist.ttm"
check_primary directory "$H/a-directory.ttm"

# Roles swapped: the category model is good and every hostile file is an
# extra model (three per run, the plugin's limit): one message per file,
# naming it, and the category model labels every TCP/UDP packet.
batch=()
run_batch() {
    [ ${#batch[@]} -gt 0 ] || return 0
    local list
    list=$(printf "%s;" "${batch[@]}")
    : > "$TT_OUT/stderr"
    tt_tshark_san -r "$cap" -2 -o "triage.extra_models:${list%;}" -Y "tcp || udp" \
        -T fields -e triage.status -e triage.category > "$TT_OUT/f" || fail "extras ${batch[*]}: tshark exited $?"
    expect_eq "$(grep -c "model not loaded" "$TT_OUT/stderr")" "${#batch[@]}" "extras $(basename -a "${batch[@]}" | tr '\n' ' '): one message each"
    for f in "${batch[@]}"; do
        grep "model not loaded" "$TT_OUT/stderr" | grep -qF "$(basename "$f")" || fail "no message names $f"
    done
    expect_eq "$(awk -F'\t' '$1 != "no model" && $1 != "" && $2 != ""' "$TT_OUT/f" | wc -l)" "$n_l4" \
        "the category model still labels every TCP/UDP packet"
    batch=()
}
while read -r name; do
    batch+=("$H/$name.ttm")
    [ ${#batch[@]} = 3 ] && run_batch
done < <(cat "$TT_TMP/hostile.list"; echo does-not-exist)
run_batch

n=$(sanitizer_reports)
expect_eq "$n" 0 "sanitizer reports"
echo "PASS"
