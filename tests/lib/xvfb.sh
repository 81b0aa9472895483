# A headless X server for the GUI tests, benchmarks and screenshots
# (tests/plugin/test_gui.sh, tests/bench/bench_gui.sh, screenshots/make.sh).
# Source it from bash, then:
#   xvfb_start FIRST LAST LOG
# starts Xvfb (1600x1000x24, no TCP) on the first free display number in
# FIRST..LAST, its output in LOG; waits until its socket is there (10 s at
# most); sets XVFB_DISPLAY (the number) and XVFB_PID and exports DISPLAY.
# Returns 1 with the reason on stderr when no display is free or Xvfb does
# not come up (XVFB_PID is set as soon as Xvfb was started: kill it on exit).
xvfb_start() {
    local first=$1 last=$2 log=$3 n
    XVFB_DISPLAY=
    XVFB_PID=
    for n in $(seq "$first" "$last"); do
        if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then XVFB_DISPLAY=$n; break; fi
    done
    [ -n "$XVFB_DISPLAY" ] || { echo "no free X display in :$first..:$last" >&2; return 1; }
    Xvfb ":$XVFB_DISPLAY" -screen 0 1600x1000x24 -nolisten tcp > "$log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$XVFB_DISPLAY" ] && break; sleep 0.2; done
    [ -e "/tmp/.X11-unix/X$XVFB_DISPLAY" ] || { echo "Xvfb did not start: $(cat "$log")" >&2; return 1; }
    export DISPLAY=":$XVFB_DISPLAY"
}
