#!/bin/bash
# `traffictriage label` on the committed fixtures (tests/label/captures, see
# make_fixtures.py), on damaged and odd captures, and through the trainer:
#   - an RTP call is voip (its video stream video, its SIP left out), an HTTPS
#     page load browsing (its DNS lookup left out), an FTP download
#     file_transfer (its control connection left out);
#   - a capture with nothing nDPI can map: an empty manifest, and it says so;
#   - every line written is found by the trainer's reader with exactly the
#     flow's packets (models/data/verify_ttm.py), and `train` trains on it;
#   - truncated, corrupted (editcap -E), not-a-capture and odd captures
#     (tests/robustness/make_odd_captures.py): a clear error or a manifest,
#     never a crash, and -o leaves no file behind on an error;
#   - without nDPI: `label` says how to get it and fails (then this skips).
# Env: TT_CLI (traffictriage), TT_SRC (source tree), TT_HAVE_NDPI (ON/OFF).
set -u
CLI=${TT_CLI:?}
SRC=${TT_SRC:?}
CAPS=$SRC/tests/label/captures
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# run NAME ARGS...: label with ARGS, stdout in $TMP/NAME.out, stderr in .err, status in $rc
run() {
    local name=$1
    shift
    "$CLI" label "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    if [ $rc -ge 128 ] || grep -q "Sanitizer\|runtime error" "$TMP/$name.err"; then
        fail "$name: crashed or a sanitizer report (status $rc)"
        sed -n 1,20p "$TMP/$name.err"
    fi
}

# has_line FILE LABEL PROTO PORT_A PORT_B: a data line with this label and ports (either order)
has_line() {
    awk -F'\t' -v l="$2" -v p="$3" -v a="$4" -v b="$5" '
        !/^#/ && $2 == l && $4 == p && (($6 == a && $8 == b) || ($6 == b && $8 == a)) { found = 1 }
        END { exit !found }' "$1"
}
data_lines() { grep -vc '^#' "$1"; }

if [ "${TT_HAVE_NDPI:-OFF}" != "ON" ]; then
    run nondpi "$CAPS/rtp-call.pcap"
    if [ $rc -ne 0 ] && grep -q "libndpi-dev" "$TMP/nondpi.err" && [ ! -s "$TMP/nondpi.out" ]; then
        ok "without nDPI, label fails (status $rc) and says how to get it"
    else
        fail "without nDPI, label should fail and name libndpi-dev (status $rc)"
        cat "$TMP/nondpi.err"
    fi
    [ $failures -eq 0 ] || exit 1
    echo "SKIP: traffictriage was built without nDPI (libndpi-dev): only checked that label says how to get it"
    exit 77
fi

# ---- the fixtures, one by one ---------------------------------------------------------------
# fixture NAME CAPTURE LINES STDERR_REGEX STDOUT_REGEX MESSAGE LABEL:PROTO:PORT_A:PORT_B...
fixture() {
    local name=$1 cap=$2 lines=$3 errpat=$4 outpat=$5 msg=$6 good=1 want l p a b
    shift 6
    run "$name" "$cap"
    if [ $rc -ne 0 ] || [ "$(data_lines "$TMP/$name.out")" -ne "$lines" ] || ! grep -q -- "$errpat" "$TMP/$name.err" \
       || ! grep -q -- "$outpat" "$TMP/$name.out" || ! head -1 "$TMP/$name.out" | grep -qx '#ttmanifest v1'; then
        good=0
    fi
    for want in "$@"; do
        IFS=: read -r l p a b <<<"$want"
        has_line "$TMP/$name.out" "$l" "$p" "$a" "$b" || good=0
    done
    if [ $good -eq 1 ]; then
        ok "$msg"
    else
        fail "$msg (status $rc)"; cat "$TMP/$name.out" "$TMP/$name.err"
    fi
}
fixture rtp "$CAPS/rtp-call.pcap" 2 "VoIP .* SIP 1" \
    $'\tsource=ndpi-label;ndpi_protocol=RTP;ndpi_app=RTP;ndpi_category=Media;ndpi_confidence=dpi;encrypted=false;l4=udp;pkts_ab=200;pkts_ba=200$' \
    "RTP call: voip, its H.263 stream video, its SIP signalling left out (and counted); attrs" \
    voip:udp:40000:50000 video:udp:40002:50002
fixture https "$CAPS/https-page.pcap" 1 "Web .* DNS.Wikipedia 1" "ndpi_protocol=TLS.Wikipedia;.*encrypted=true" \
    "HTTPS page load: browsing (TLS.Wikipedia, encrypted); its DNS lookup left out" browsing:tcp:43000:443
fixture ftp "$CAPS/ftp-download.pcap" 1 "Download .* FTP_CONTROL 1" "ndpi_protocol=FTP_DATA" \
    "FTP download: the data connection file_transfer, the control connection left out" file_transfer:tcp:41001:50000

run dns "$CAPS/dns-only.pcap"
if [ $rc -eq 0 ] && [ "$(data_lines "$TMP/dns.out")" -eq 0 ] && head -1 "$TMP/dns.out" | grep -qx '#ttmanifest v1' \
   && grep -q "no flow could be mapped to a class: the manifest has no data lines" "$TMP/dns.err" \
   && grep -q "Network .* DNS 3" "$TMP/dns.err"; then
    ok "nothing mappable: an empty manifest, and the summary says so and what was left out"
else
    fail "nothing mappable (status $rc)"; cat "$TMP/dns.out" "$TMP/dns.err"
fi

run leftout --left-out "$CAPS/ftp-download.pcap"
if [ $rc -eq 0 ] && grep -q $'^# left out\t.*\t-\tftp-download.pcap\ttcp\t.*ndpi_protocol=FTP_CONTROL' "$TMP/leftout.out"; then
    ok "--left-out writes the flows left out as comments"
else
    fail "--left-out"; cat "$TMP/leftout.out"
fi

run minpk --min-packets 100 "$CAPS/rtp-call.pcap"
if [ $rc -eq 0 ] && has_line "$TMP/minpk.out" voip udp 40000 50000 && ! has_line "$TMP/minpk.out" video udp 40002 50002 \
   && grep -q "too short *2 flows" "$TMP/minpk.err"; then
    ok "--min-packets 100 leaves out the 45-packet video stream and the SIP exchange"
else
    fail "--min-packets"; cat "$TMP/minpk.out" "$TMP/minpk.err"
fi

# ---- all of them into one file, then through the trainer -------------------------------------
run all -o "$TMP/all.ttm" "$CAPS/rtp-call.pcap" "$CAPS/https-page.pcap" "$CAPS/ftp-download.pcap" "$CAPS/dns-only.pcap"
if [ $rc -eq 0 ] && [ ! -s "$TMP/all.out" ] && [ "$(data_lines "$TMP/all.ttm")" -eq 4 ] \
   && grep -q "labelled *4 flows: voip 1, video 1, chat 0, browsing 1, file_transfer 1" "$TMP/all.err" \
   && [ -z "$(ls "$TMP" | grep 'all.ttm.')" ]; then
    ok "-o: four captures, four lines, the summary on stderr, no temporary file left"
else
    fail "-o with four captures (status $rc)"; cat "$TMP/all.err"
fi
if /usr/bin/python3 "$SRC/models/data/verify_ttm.py" "$CLI" "$SRC/models/category.ttm" "$TMP/all.ttm" \
        --rows "$TMP/rows.tsv" -j 1 >"$TMP/verify.txt" 2>&1 \
   && awk -F'\t' 'NR > 1 { n++; if ($6 == "" || $6 != $7 || $7 == 0) bad++ } END { exit !(n == 4 && !bad) }' "$TMP/rows.tsv"; then
    ok "the trainer's reader finds every labelled flow, with exactly its packets (verify_ttm.py)"
else
    fail "the trainer's reader did not find every labelled flow"; cat "$TMP/verify.txt" "$TMP/rows.tsv"
fi
# Three groups (one per capture with a labelled flow), one per side of the split.
printf 'rtp-call.pcap\ttrain\nhttps-page.pcap\tval\nftp-download.pcap\ttest\n' >"$TMP/three.split"
if "$CLI" train --init "$SRC/models/category.ttm" --epochs 1 --split "$TMP/three.split" -q -o "$TMP/my.ttm" "$TMP/all.ttm" \
        >"$TMP/train.out" 2>&1 && [ -s "$TMP/my.ttm" ]; then
    ok "train --init the bundled model reads the manifest as it is and writes a model"
    # the bundled default is fused: --init trains its first net and says so
    if "$CLI" info "$SRC/models/category.ttm" | grep -q '^--- fused with'; then
        grep -q "is fused (two nets); training starts from its first net" "$TMP/train.out" &&
            ! "$CLI" info "$TMP/my.ttm" | grep -q '^--- fused with' ||
            fail "train --init a fused model: no note, or the result is still fused"
    fi
else
    fail "train on the labels"; cat "$TMP/train.out"
fi

# each capture is labelled on its own: one with later times first changes nothing in the next
if command -v editcap >/dev/null 2>&1 && editcap -t 1000000 "$CAPS/rtp-call.pcap" "$TMP/later.pcap" >/dev/null 2>&1; then
    run two "$TMP/later.pcap" "$CAPS/rtp-call.pcap"
    if [ $rc -eq 0 ] && [ "$(grep -v '^#' "$TMP/two.out" | grep -F "$CAPS/rtp-call.pcap")" = "$(grep -v '^#' "$TMP/rtp.out")" ] \
       && [ "$(data_lines "$TMP/two.out")" -eq 4 ]; then
        ok "two captures, the later one first: the same lines as each alone"
    else
        fail "two captures, the later one first"; cat "$TMP/two.out"
    fi
fi

# ---- damaged, foreign and odd input ----------------------------------------------------------
head -c 60000 "$CAPS/rtp-call.pcap" >"$TMP/cut.pcap"            # cut in the middle of a packet
run cut -o "$TMP/cut.ttm" "$TMP/cut.pcap"
if [ $rc -eq 1 ] && grep -q "damaged or cut short" "$TMP/cut.err" && grep -q "no manifest written" "$TMP/cut.err" \
   && [ ! -e "$TMP/cut.ttm" ] && [ -z "$(ls "$TMP" | grep 'cut.ttm.')" ]; then
    ok "a truncated capture: a clear error, status 1, no manifest file"
else
    fail "truncated capture (status $rc)"; cat "$TMP/cut.err"
fi
run cutstdout "$TMP/cut.pcap"
if [ $rc -eq 1 ] && [ ! -s "$TMP/cutstdout.out" ]; then
    ok "a truncated capture, to stdout: nothing printed"
else
    fail "truncated capture to stdout (status $rc)"
fi
printf 'hello, not a capture\n' >"$TMP/text.pcap"
run text "$TMP/text.pcap"
if [ $rc -eq 1 ] && grep -q "cannot read capture" "$TMP/text.err"; then
    ok "not a capture: a clear error"
else
    fail "not a capture (status $rc)"; cat "$TMP/text.err"
fi
run missing "$TMP/nonexistent.pcap"
[ $rc -eq 1 ] && ok "a missing file: status 1" || fail "missing file (status $rc)"
head -c 24 "$CAPS/rtp-call.pcap" >"$TMP/empty.pcap"            # the file header alone
run empty "$TMP/empty.pcap"
if [ $rc -eq 0 ] && [ "$(data_lines "$TMP/empty.out")" -eq 0 ] && grep -q "no flow could be mapped" "$TMP/empty.err"; then
    ok "a capture without packets: an empty manifest"
else
    fail "capture without packets (status $rc)"
fi
run usage --min-packets -3 "$CAPS/rtp-call.pcap"
[ $rc -eq 2 ] && ok "a bad option: usage, status 2" || fail "bad option (status $rc)"
run noargs
[ $rc -eq 2 ] && ok "no capture: usage, status 2" || fail "no capture (status $rc)"

if command -v editcap >/dev/null 2>&1; then
    n=0
    for seed in 1 2 3; do
        for f in "$CAPS"/*.pcap; do
            editcap -E 0.05 --seed $seed "$f" "$TMP/bad.pcap" >/dev/null 2>&1 || continue
            run "editcap-$seed" "$TMP/bad.pcap"
            [ $rc -le 1 ] || fail "editcap -E 0.05 --seed $seed $(basename "$f"): status $rc"
            n=$((n + 1))
        done
    done
    ok "$n corrupted copies (editcap -E 0.05): a manifest or a clear error each"
else
    echo "note: editcap missing (wireshark-common): no corrupted copies tried"
fi
if /usr/bin/python3 "$SRC/tests/robustness/make_odd_captures.py" "$TMP/odd" >/dev/null 2>&1; then
    for f in "$TMP"/odd/*; do
        run "odd-$(basename "$f")" "$f"
        [ $rc -le 1 ] || fail "odd capture $(basename "$f"): status $rc"
    done
    ok "odd captures (tests/robustness/make_odd_captures.py): no crash"
else
    fail "make_odd_captures.py"
fi

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all label checks passed"
