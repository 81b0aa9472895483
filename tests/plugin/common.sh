# Shared setup for the TrafficTriage plugin tests (sourced by test_*.sh).
#
# Environment (set by tests/plugin/CMakeLists.txt):
#   TRIAGE_SO      the built plugin (triage.so)
#   TT_CLI         the traffictriage command (init-model, info)
#   TT_CAPTURES    tests/captures
#   TT_PROFILE     plugin/profile/TrafficTriage
#   TT_WS_MM       Wireshark major.minor (plugin folder name)
#
# tt_setup makes a temporary HOME with the plugin installed in the personal
# plugin folder and an untrained model (init-model) as the bundled
# triage/category.ttm, owned by an unprivileged user: Wireshark ignores
# personal plugins when the real uid is 0, so as root tshark runs as
# uid/gid 65534 (setpriv). A normal user runs tshark as itself (setpriv
# would fail: only root may change its uid). Every tshark call gets TZ=UTC
# and explicit -o prefs.
set -u

TT_UID=65534
# Command prefix that runs something as the test user: setpriv as root,
# nothing otherwise. For commands that cannot take a shell function (e.g.
# under /usr/bin/time): "${TT_AS_USER[@]}" env HOME=... CMD.
if [ "$(id -u)" = 0 ]; then
    TT_AS_USER=(setpriv --reuid=$TT_UID --regid=$TT_UID --clear-groups)
else
    TT_AS_USER=()
fi
TT_CLASSES=voip,video,chat,browsing,file_transfer

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

note() {
    echo "--- $*"
}

need() {
    [ -n "${!1:-}" ] || fail "environment variable $1 is not set (run through ctest)"
}

tt_cleanup() {
    [ -n "${TT_TMP:-}" ] && [ -d "$TT_TMP" ] && rm -rf "$TT_TMP"
}

# tt_model FILE [init-model options...]: an untrained model (fixed seed).
tt_model() {
    local out=$1
    shift
    "$TT_CLI" init-model --arch lenet --side 32 --task category --seed 1 \
        --classes "$TT_CLASSES" "$@" -o "$out" >/dev/null || fail "init-model $*"
}

tt_setup() {
    need TRIAGE_SO; need TT_CLI; need TT_CAPTURES; need TT_WS_MM
    command -v tshark >/dev/null || fail "tshark is not installed"
    TT_TMP=$(mktemp -d /tmp/tt-plugin.XXXXXX)
    trap tt_cleanup EXIT
    chmod 755 "$TT_TMP"
    export TT_HOME=$TT_TMP/home
    TT_PLUGDIR=$TT_HOME/.local/lib/wireshark/plugins/$TT_WS_MM/epan
    mkdir -p "$TT_PLUGDIR/triage" "$TT_TMP/models" "$TT_TMP/caps" "$TT_TMP/out"
    cp "$TRIAGE_SO" "$TT_PLUGDIR/triage.so"
    tt_model "$TT_TMP/models/bundled.ttm" --block-seconds 15
    cp "$TT_TMP/models/bundled.ttm" "$TT_PLUGDIR/triage/category.ttm"
    if [ -n "${TT_PROFILE:-}" ] && [ -d "$TT_PROFILE" ]; then
        mkdir -p "$TT_HOME/.config/wireshark/profiles"
        cp -r "$TT_PROFILE" "$TT_HOME/.config/wireshark/profiles/"
    fi
    cp "$TT_CAPTURES"/*.pcap* "$TT_TMP/caps/"
    TT_CAPS=$TT_TMP/caps
    TT_OUT=$TT_TMP/out
    tt_fix_owner
}

# Give the temporary tree to the unprivileged user (call after adding files).
tt_fix_owner() {
    if [ "$(id -u)" = 0 ]; then
        chown -R $TT_UID:$TT_UID "$TT_TMP"
    fi
}

# tt_as_user CMD ARGS...: run as the unprivileged user with the test HOME.
tt_as_user() {
    tt_as_user_home "$TT_HOME" "$@"
}

# tt_as_user_home HOME CMD ARGS...: the same with another HOME (e.g. one
# without the plugin).
tt_as_user_home() {
    local home=$1
    shift
    "${TT_AS_USER[@]}" env HOME="$home" TZ=UTC LC_ALL=C.UTF-8 "$@"
}

# tshark as the test user; stderr goes to $TT_OUT/stderr (appended).
tt_tshark() {
    tt_as_user tshark "$@" 2>>"$TT_OUT/stderr"
}

# Count lines of a command's output.
count() {
    "$@" | wc -l | tr -d ' '
}

expect_eq() {
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
    echo "ok: $3 ($1)"
}

expect_gt() {
    [ "$1" -gt "$2" ] || fail "$3: got $1, expected more than $2"
    echo "ok: $3 ($1 > $2)"
}
