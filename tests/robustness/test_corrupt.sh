#!/bin/bash
# Corrupted and odd captures through tshark with the plugin built with
# AddressSanitizer + UBSan (as Wireshark's own fuzz-test does with
# `editcap -E`): zero sanitizer reports, tshark exits 0 every time.
#   - odd captures (tests/robustness/captures, see make_odd_captures.py):
#     IPv6 extension headers, fragments, more tunnels, broken IP headers,
#     pcapng with several interfaces and link types -- as they are;
#   - every committed capture (tests/captures, the odd ones, and the
#     captures of tests/fixtures/lab concatenated into one file) corrupted
#     with `editcap -E 0.02` under several seeds.
# Seed 1 runs two-pass with the -z reports, seed 2 single pass with an
# 8-flow table (evictions), seed 3 two-pass with the full packet tree.
# TT_CORRUPT_SEEDS overrides the seeds ("1 2 3").
. "$(dirname "$0")/common.sh"
robust_setup
SEEDS=${TT_CORRUPT_SEEDS:-1 2 3}
LAB=$(cd "$(dirname "$0")/../fixtures/lab" 2>/dev/null && pwd || true)
labcaps=()
if [ -n "$LAB" ]; then
    for f in "$LAB"/*.pcap "$LAB"/*.pcapng "$LAB"/*.pcap.gz; do
        [ -e "$f" ] && labcaps+=("$f")
    done
fi
if [ ${#labcaps[@]} -gt 0 ]; then
    # the lab captures, one after the other in one file: one run per seed
    mergecap -a -w "$TT_CAPS/lab-all.pcapng" "${labcaps[@]}" || fail "mergecap of the lab captures"
    tt_fix_owner
    note "tests/fixtures/lab: ${#labcaps[@]} captures concatenated into lab-all.pcapng"
fi
asan_canary "$ROBUST_CAPS/odd_ip.pcap"

runs=0
run() {   # run LABEL tshark-args...
    local label=$1
    shift
    runs=$((runs + 1))
    tt_tshark_san "$@" > "$TT_OUT/fields" || fail "$label: tshark exited $? ($(tail -3 "$TT_OUT/stderr"))"
}

mode_args() {   # mode_args SEED
    case $(( $1 % 3 )) in
        1) echo "-2 -q -z triage,tree -z triage,flows" ;;
        2) echo "-o triage.max_flows:8 -T fields -e frame.number -e triage.status -e triage.category -e triage.closed.category" ;;
        0) echo "-2 -V" ;;
    esac
}

# odd captures as they are: the plugin labels their TCP/UDP packets
for cap in "$ROBUST_CAPS"/*; do
    name=$(basename "$cap")
    run "$name" -r "$cap" -2 -T fields -e frame.number -e triage.status -e triage.flow
    labelled=$(awk -F'\t' '$2 != ""' "$TT_OUT/fields" | wc -l)
    if [ "$name" != odd_ip.pcap ] || [ "$labelled" -gt 0 ]; then
        expect_gt "$labelled" 0 "$name: packets with a triage status"
    fi
done

# corrupted captures
mkdir -p "$TT_TMP/corrupt"
for cap in "$TT_CAPS"/* "$ROBUST_CAPS"/*; do
    name=$(basename "$cap")
    for seed in $SEEDS; do
        out=$TT_TMP/corrupt/$name.$seed.pcapng
        editcap -E 0.02 --seed "$seed" "$cap" "$out" >/dev/null 2>&1 || fail "editcap on $name"
        chmod 644 "$out"
        # shellcheck disable=SC2046
        run "$name seed $seed" -r "$out" $(mode_args "$seed")
    done
    echo "ok: $name corrupted with seeds $SEEDS"
done

n=$(sanitizer_reports)
grep -E "runtime error|AddressSanitizer|LeakSanitizer" "$TT_OUT/stderr" >&2 && n=$((n + 1))
expect_eq "$n" 0 "sanitizer reports over $runs tshark runs"
echo "PASS"
