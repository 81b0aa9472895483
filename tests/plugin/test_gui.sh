#!/bin/bash
# The real Wireshark GUI, headless (Xvfb), as the unprivileged user with the
# plugin and the TrafficTriage profile: opens a capture and the plugin's
# Flows table (-z triage,flows), stays up, logs no plugin error, quits
# cleanly on Ctrl+Q. A second start with a missing model
# file must log the model message and still stay up (no crash, no abort).
# Skipped (77) when wireshark-qt or Xvfb/xdotool are not installed.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/../lib/xvfb.sh"
for c in wireshark Xvfb xdotool; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed"; exit 77; }
done
tt_setup
mkdir -p "$TT_TMP/run"
chmod 700 "$TT_TMP/run"
tt_fix_owner

WSPID=
XVFB_PID=
cleanup_gui() {
    [ -n "$WSPID" ] && kill "$WSPID" 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    tt_cleanup
}
trap cleanup_gui EXIT
xvfb_start 91 120 "$TT_OUT/xvfb.log" || fail "no X server (above)"
disp=$XVFB_DISPLAY

# start_ws LOG ARGS...: start wireshark as the test user; sets WSPID, waits for its main window.
start_ws() {
    local log=$1
    shift
    tt_as_user env DISPLAY=:$disp XDG_RUNTIME_DIR="$TT_TMP/run" QT_X11_NO_MITSHM=1 \
        wireshark "$@" > "$log" 2>&1 &
    WSPID=$!
    WID=
    for _ in $(seq 60); do
        WID=$(xdotool search --onlyvisible --name "mixed.pcap.gz" 2>/dev/null | head -1)
        [ -n "$WID" ] && break
        kill -0 "$WSPID" 2>/dev/null || fail "wireshark exited early: $(cat "$log")"
        sleep 0.5
    done
    [ -n "$WID" ] || fail "no Wireshark main window showing the capture: $(cat "$log")"
}

stays_up() {   # stays_up SECONDS LOG
    sleep "$1"
    kill -0 "$WSPID" 2>/dev/null || fail "wireshark died: $(cat "$2")"
    # no dialog other than the main window
    local names
    names=$(for w in $(xdotool search --onlyvisible --name . 2>/dev/null); do xdotool getwindowname "$w"; done | sort -u)
    echo "$names" | grep -i -E "error|warning|crash" && fail "error dialog: $names"
    echo "ok: wireshark up after $1 s; windows: $(echo "$names" | tr '\n' '|')"
}

quit_ws() {
    # no window manager: give the window the input focus, then type (XTEST)
    xdotool windowfocus --sync "$WID" 2>/dev/null || true
    sleep 0.5
    xdotool key ctrl+q
    local rc=
    for _ in $(seq 40); do
        if ! kill -0 "$WSPID" 2>/dev/null; then
            wait "$WSPID"; rc=$?; break
        fi
        sleep 0.25
    done
    [ -n "$rc" ] || { kill "$WSPID"; fail "wireshark did not quit on Ctrl+Q"; }
    WSPID=
    expect_eq "$rc" 0 "wireshark exit status"
}

cap=$TT_CAPS/mixed.pcap.gz
note "with the bundled model and the TrafficTriage profile"
start_ws "$TT_OUT/ws1.log" -C TrafficTriage -o triage.threshold:0 -z triage,flows -r "$cap"
stays_up 5 "$TT_OUT/ws1.log"
# the plugin's Flows table opened from the command line: the plugin is loaded in the GUI
xdotool search --onlyvisible --name "TrafficTriage Flows" > /dev/null || fail "no TrafficTriage Flows window"
echo "ok: Statistics window TrafficTriage Flows is open"
command -v import >/dev/null && import -display :$disp -window root "$TT_OUT/gui.png" 2>/dev/null &&
    [ -n "${TT_GUI_SCREENSHOT:-}" ] && cp "$TT_OUT/gui.png" "$TT_GUI_SCREENSHOT"
grep -i -E "triage|plugin" "$TT_OUT/ws1.log" && fail "plugin messages in the log: $(cat "$TT_OUT/ws1.log")"
echo "ok: no plugin message in the log"
quit_ws

note "with a missing model file"
start_ws "$TT_OUT/ws2.log" -C TrafficTriage -o "triage.model:$TT_TMP/nope.ttm" -r "$cap"
stays_up 4 "$TT_OUT/ws2.log"
grep -q "TrafficTriage: model not loaded" "$TT_OUT/ws2.log" || fail "no model message in the GUI log: $(cat "$TT_OUT/ws2.log")"
echo "ok: the GUI logged: $(grep "TrafficTriage" "$TT_OUT/ws2.log" | head -1)"
quit_ws
echo "PASS"
