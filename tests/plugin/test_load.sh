#!/bin/bash
# The plugin loads: listed by -G plugins, its fields by -G fields, its
# preferences by -G defaultprefs, its reports by -z help.
. "$(dirname "$0")/common.sh"
tt_setup

tt_tshark -G plugins > "$TT_OUT/plugins"
grep -q "^triage.so" "$TT_OUT/plugins" || fail "triage.so not in tshark -G plugins: $(cat "$TT_OUT/plugins")"
echo "ok: -G plugins lists triage.so"

tt_tshark -G fields > "$TT_OUT/fields"
for f in triage.category triage.confidence triage.flow triage.reverse_flow triage.block \
         triage.status triage.model triage.packets triage.tunnel triage.tunnel_confidence \
         triage.app triage.app_confidence triage.closed.category triage.closed.block; do
    grep -q "	$f	" "$TT_OUT/fields" || fail "field $f missing from -G fields"
done
echo "ok: -G fields has every triage field"
grep -q "^P	TrafficTriage	triage" "$TT_OUT/fields" || fail "protocol TrafficTriage/triage not registered"

tt_tshark -G defaultprefs > "$TT_OUT/prefs"
for p in enabled model extra_models threshold max_flows; do
    grep -q "^#triage.$p:" "$TT_OUT/prefs" || fail "preference triage.$p missing"
done
echo "ok: preferences registered"

tt_as_user tshark -z help > "$TT_OUT/zhelp" 2>&1 || true
grep -q "triage,tree" "$TT_OUT/zhelp" || fail "-z triage,tree not offered"
grep -q "triage,flows" "$TT_OUT/zhelp" || fail "-z triage,flows not offered"
echo "ok: -z triage,tree and -z triage,flows offered"

! grep -qi "triage" "$TT_OUT/stderr" || fail "plugin messages on stderr: $(cat "$TT_OUT/stderr")"
echo "PASS"
