#!/bin/bash
# tshark with the plugin under valgrind (memcheck, full leak check) on one
# capture, two-pass with the -z reports: zero errors attributed to the plugin
# or the core engine (valgrind_check.py: any frame in triage.so or in
# plugin/ or core/ sources; definite and indirect leaks count).
# tests/robustness/valgrind.supp hides Wireshark's and GLib's own noise (seen
# with the plugin absent); it names no TrafficTriage frame, so it cannot hide
# an error of ours. Uses the normal (not ASan) plugin: TRIAGE_SO.
. "$(dirname "$0")/common.sh"
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
tt_setup
# Self-check: valgrind_check.py must see an error in code under plugin/ (a
# tiny leaking program built there), or the real check below proves nothing.
mkdir -p "$TT_TMP/self/plugin"
printf '#include <stdlib.h>\nvoid *keep;\nint main(void) { keep = malloc(40); keep = 0; return 0; }\n' > "$TT_TMP/self/plugin/leak.c"
cc -g -O0 "$TT_TMP/self/plugin/leak.c" -o "$TT_TMP/self/plugin/leak" || fail "cc"
valgrind --leak-check=full --xml=yes --xml-file="$TT_TMP/self/vg.xml" "$TT_TMP/self/plugin/leak" 2>/dev/null ||
    fail "valgrind on the self-check program"
if /usr/bin/python3 "$(dirname "$0")/valgrind_check.py" "$TT_TMP/self/vg.xml" > "$TT_TMP/self/out"; then
    fail "valgrind_check.py missed the self-check leak: $(cat "$TT_TMP/self/out")"
fi
echo "ok: valgrind_check.py reports a leak in plugin/ code (self-check)"
cap=$TT_CAPS/${TT_VALGRIND_CAPTURE:-vlan.pcap}
tt_fix_owner
tt_as_user valgrind --tool=memcheck --leak-check=full --num-callers=40 --track-origins=no \
    --suppressions="$(dirname "$0")/valgrind.supp" --xml=yes --xml-file="$TT_OUT/vg.xml" \
    tshark -r "$cap" -2 -q -z triage,tree -z triage,flows > "$TT_OUT/report" 2>>"$TT_OUT/stderr" ||
    fail "tshark under valgrind exited $? ($(tail -5 "$TT_OUT/stderr"))"
grep -q "TrafficTriage\|triage" "$TT_OUT/report" || fail "no TrafficTriage report in the output: the plugin did not run"
grep -q "model not loaded" "$TT_OUT/stderr" && fail "the model did not load: $(grep "not loaded" "$TT_OUT/stderr")"
/usr/bin/python3 "$(dirname "$0")/valgrind_check.py" "$TT_OUT/vg.xml" || fail "valgrind errors in TrafficTriage code"
echo "PASS"
