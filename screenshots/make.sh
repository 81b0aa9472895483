#!/bin/bash
# Make the README's screenshots with the real Wireshark GUI, and the FlowPic gallery.
#
#   screenshots/make.sh [--build DIR] [--model FILE] [--capture FILE]
#                       [--gallery-data FILE]... [--only gui|gallery] [--keep]
#
#   --build DIR         CMake build of this tree (default build/screenshots; built if needed)
#   --model FILE        the category model (default models/category.ttm, the bundled one)
#   --capture FILE      capture to open (default: the lab fixtures tests/fixtures/lab/*-none.pcapng,
#                       one per category, time-aligned and merged; else tests/captures/mixed.pcap.gz)
#   --gallery-data F    labelled data for the gallery (manifest .ttm or .ttseries; repeatable;
#                       default: tests/fixtures/lab/manifest.ttm, else /var/tmp/tt-lab/manifest.ttm,
#                       else /var/tmp/tt-data/ndpi.ttm)
#   --threshold X       confidence threshold (-o triage.threshold:X; default: the plugin's)
#   --only gui|gallery  make only one part
#   --keep              keep the temporary folder (logs, raw screenshots)
#
# GUI part: Xvfb, Wireshark as an unprivileged user (uid 65534 when run as root:
# root ignores personal plugins) with a temporary HOME holding the built plugin,
# the model as the bundled triage/category.ttm and the TrafficTriage profile;
# driven with xdotool (keyboard first), captured with ImageMagick `import`.
# Writes screenshots/*.png; look at every one before committing it.
# Needs: wireshark-qt xvfb xdotool imagemagick x11-utils (tests/deps.sh --test).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. "$ROOT/tests/lib/xvfb.sh"
OUT=$ROOT/screenshots
BUILD=$ROOT/build/screenshots
MODEL=$ROOT/models/category.ttm
CAPTURE=
GALLERY_DATA=()
ONLY=
KEEP=no
PREFS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$(realpath -m "$2"); shift ;;
    --model) MODEL=$(realpath "$2"); shift ;;
    --capture) CAPTURE=$(realpath "$2"); shift ;;
    --gallery-data) GALLERY_DATA+=("$(realpath "$2")"); shift ;;
    --only) ONLY=$2; shift ;;
    --threshold) PREFS=(-o "triage.threshold:$2"); shift ;;
    --keep) KEEP=yes ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
    shift
done

die() { echo "screenshots/make.sh: $*" >&2; exit 1; }
say() { echo "== $*"; }

[ -f "$MODEL" ] || die "no model $MODEL: the screenshots show the bundled, trained model (or pass --model FILE)"
for c in wireshark Xvfb xdotool import convert montage xwininfo; do
    command -v $c >/dev/null || die "$c is not installed (sh tests/deps.sh --test)"
done

# ---- build --------------------------------------------------------------------
if [ ! -f "$BUILD/plugin/triage.so" ] || [ ! -x "$BUILD/core/traffictriage" ]; then
    say "building into $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target triage traffictriage >/dev/null
SO=$BUILD/plugin/triage.so
TT=$BUILD/core/traffictriage
WS_MM=$(tshark -v 2>/dev/null | sed -n '1s/.* \([0-9]\+\.[0-9]\+\)\..*/\1/p')
[ -n "$WS_MM" ] || die "cannot tell the Wireshark version (tshark -v)"

TMP=$(mktemp -d /tmp/tt-shots.XXXXXX)
chmod 755 "$TMP"
XPID=
WSPID=
cleanup() {
    [ -n "$WSPID" ] && kill "$WSPID" 2>/dev/null
    [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
    wait 2>/dev/null || true
    if [ "$KEEP" = yes ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# ---- the FlowPic gallery ----------------------------------------------------------
# One row per category: the label, then the K blocks the model is most sure of
# among those it gets right (then the fullest blocks), like the FlowPic paper's
# exploration figure. Rendered with the model's own input spec.
make_gallery() {
    local data=("${GALLERY_DATA[@]}")
    if [ ${#data[@]} -eq 0 ]; then
        for f in "$ROOT/tests/fixtures/lab/manifest.ttm" /var/tmp/tt-lab/manifest.ttm /var/tmp/tt-data/ndpi.ttm; do
            [ -f "$f" ] && { data=("$f"); break; }
        done
    fi
    [ ${#data[@]} -gt 0 ] || { echo "no labelled data for the gallery: skipped"; return 0; }
    say "FlowPic gallery from ${data[*]}"
    local g=$TMP/gallery K=4
    mkdir -p "$g/png"
    "$TT" render --per-class 60 --limit 2000 -o "$g/png" "$MODEL" "${data[@]}" > "$g/render.tsv" 2> "$g/render.err" ||
        { cat "$g/render.err"; die "traffictriage render failed"; }
    # file, label, packets, predicted, confidence
    sed -E 's/^([^\t]+)\t([^\t]+)\t([0-9]+) packets\tpredicted ([^ ]+) \(([0-9.]+)\)$/\1\t\2\t\3\t\4\t\5/' \
        "$g/render.tsv" > "$g/blocks.tsv"
    local classes
    classes=$("$TT" info "$MODEL" | sed -n 's/^classes  *//p' | tr -d ',' | head -1)
    [ -n "$classes" ] || classes=$(cut -f2 "$g/blocks.tsv" | sort -u | tr '\n' ' ')
    local rows=() cls
    for cls in $classes; do
        awk -F'\t' -v c="$cls" '$2 == c { print ($4 == c ? 1 : 0) "\t" $5 "\t" $3 "\t" $1 "\t" $4 }' "$g/blocks.tsv" |
            sort -t$'\t' -k1,1nr -k2,2gr -k3,3nr | head -$K > "$g/$cls.pick"
        [ -s "$g/$cls.pick" ] || continue
        local tiles=() n=0
        convert -size 170x240 xc:white -font DejaVu-Sans-Bold -pointsize 22 -fill black \
            -gravity center -annotate +0+0 "$cls" "$g/$cls-label.png"
        tiles+=("$g/$cls-label.png")
        while IFS=$'\t' read -r _right conf pk file pred; do
            n=$((n + 1))
            convert "$file" -filter point -resize 192x192 -bordercolor '#888888' -border 1 \
                -background white -gravity north -extent 204x240 -font DejaVu-Sans -pointsize 13 \
                -gravity south -annotate +0+4 "$pk packets\nmodel: $pred $(printf %.2f "$conf")" \
                "$g/$cls-$n.png"
            tiles+=("$g/$cls-$n.png")
        done < "$g/$cls.pick"
        while [ $n -lt $K ]; do   # pad short rows
            n=$((n + 1)); convert -size 204x240 xc:white "$g/$cls-$n.png"; tiles+=("$g/$cls-$n.png")
        done
        convert "${tiles[@]}" +append "$g/row-$cls.png"
        rows+=("$g/row-$cls.png")
    done
    [ ${#rows[@]} -gt 0 ] || die "the gallery has no rows (render output: $(head -3 "$g/render.tsv"))"
    local src spec
    src=$(for d in "${data[@]}"; do echo "${d#$ROOT/}"; done | paste -sd, | sed 's/,/, /g')
    spec=$("$TT" info "$MODEL" | sed -n 's/^flowpic  *//p' | head -1)
    convert "${rows[@]}" -append -bordercolor white -border 10 "$g/rows.png"
    local width
    width=$(identify -format %w "$g/rows.png")
    convert -size "$((width - 24))x" -background white -fill '#222222' -font DejaVu-Sans -pointsize 15 \
        caption:"FlowPics per category, $K blocks each (labelled data: $src; rendered with the input spec of $(basename "$MODEL"): $spec). Time runs left to right, packet size from bottom (small) to top (large); darker = more packets. Under each: packets in the block, the model's top class and its probability." \
        -bordercolor white -border 12 "$g/title.png"
    convert "$g/title.png" "$g/rows.png" -background white -gravity west -append "$OUT/flowpic-gallery.png"
    echo "wrote $OUT/flowpic-gallery.png"
}

# ---- the GUI ------------------------------------------------------------------
UIDN=65534
HOMED=$TMP/home
PLUGDIR=$HOMED/.local/lib/wireshark/plugins/$WS_MM/epan
PROFDIR=$HOMED/.config/wireshark/profiles/TrafficTriage
RUND=$TMP/run

as_user() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=$UIDN --regid=$UIDN --clear-groups env HOME="$HOMED" XDG_RUNTIME_DIR="$RUND" \
            TZ=UTC LC_ALL=C.UTF-8 "$@"
    else
        env HOME="$HOMED" XDG_RUNTIME_DIR="$RUND" TZ=UTC LC_ALL=C.UTF-8 "$@"
    fi
}

# The capture to open: --capture, else the lab fixtures of every category
# without a tunnel (tests/fixtures/lab/*-none.pcapng) shifted to start at the
# same moment and merged (editcap -t, mergecap), so that the first screen of
# the packet list holds several categories at once; else tests/captures/mixed.pcap.gz.
pick_capture() {
    if [ -n "$CAPTURE" ]; then
        CAPFILE=$TMP/caps/$(basename "$CAPTURE")
        cp "$CAPTURE" "$CAPFILE"
        return
    fi
    local fx=() f t0 first shift
    for f in "$ROOT"/tests/fixtures/lab/*-none.pcapng; do [ -f "$f" ] && fx+=("$f"); done
    if [ ${#fx[@]} -ge 2 ] && command -v editcap >/dev/null && command -v mergecap >/dev/null; then
        t0=
        for f in "${fx[@]}"; do
            first=$(capinfos -a -S -T -r "$f" | tail -1 | cut -f2)
            shift=$(awk -v a="$first" 'BEGIN {printf "%.6f", 1800000000 - a}')   # all start at the same second
            editcap -t "$shift" "$f" "$TMP/caps/shift-$(basename "$f")"
        done
        CAPFILE=$TMP/caps/lab-categories.pcapng
        mergecap -w "$TMP/caps/merged.pcapng" "$TMP"/caps/shift-*.pcapng
        tshark -r "$TMP/caps/merged.pcapng" -Y "ip or ipv6" -w "$CAPFILE" 2>/dev/null   # no ARP
        rm -f "$TMP"/caps/shift-*.pcapng "$TMP/caps/merged.pcapng"
        CAPTURE="tests/fixtures/lab/{$(for f in "${fx[@]}"; do basename "$f" .pcapng; done | paste -sd,)}.pcapng, time-aligned and merged, IP only"
    else
        CAPTURE=$ROOT/tests/captures/mixed.pcap.gz
        CAPFILE=$TMP/caps/mixed.pcap.gz
        cp "$CAPTURE" "$CAPFILE"
    fi
}

setup_home() {
    mkdir -p "$PLUGDIR/triage" "$PROFDIR" "$RUND" "$TMP/caps"
    chmod 700 "$RUND"
    cp "$SO" "$PLUGDIR/triage.so"
    cp "$ROOT"/models/*.ttm "$PLUGDIR/triage/" 2>/dev/null || true
    cp "$MODEL" "$PLUGDIR/triage/category.ttm"
    cp -r "$ROOT/plugin/profile/TrafficTriage/." "$PROFDIR/"
    # Window layout (no window manager under Xvfb): main window 1280x800 at 0,0;
    # find bar searching strings in the packet details (to reveal the
    # TrafficTriage subtree); no bytes pane.
    cat > "$HOMED/.config/wireshark/recent_common" <<EOF
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: 1280
gui.geometry_main_height: 800
gui.geometry_main_maximized: FALSE
gui.last_used_profile: TrafficTriage
privs.warn_if_elevated: FALSE
sys.warn_if_no_capture: FALSE
gui.search_in: PACKET_DETAILS
gui.search_char_set: NARROW_AND_WIDE
gui.search_case_sensitive: TRUE
gui.search_type: STRING
gui.geom.Funnel TrafficTriage FlowPics.x: 240
gui.geom.Funnel TrafficTriage FlowPics.y: 120
gui.geom.Funnel TrafficTriage FlowPics.width: 800
gui.geom.Funnel TrafficTriage FlowPics.height: 460
gui.geom.Funnel TrafficTriage FlowPics.maximized: FALSE
EOF
    cat > "$PROFDIR/recent" <<'EOF'
gui.toolbar_main_show: TRUE
gui.filter_toolbar_show: TRUE
gui.packet_list_show: TRUE
gui.tree_view_show: TRUE
gui.byte_view_show: FALSE
gui.packet_diagram_show: FALSE
gui.statusbar_show: TRUE
gui.packet_list_colorize: TRUE
gui.time_format: RELATIVE
gui.time_precision: MSEC
gui.geometry_main_upper_pane: 430
column.width:
	%m, 60,
	%t, 90,
	%s, 120,
	%d, 120,
	%p, 70,
	%L, 60,
	"%Cus:triage.category", 115,
	"%Cus:triage.confidence", 95,
	"%Cus:triage.conversation.category", 115,
	"%Cus:triage.flow", 50,
	"%Cus:triage.status", 110,
	%i, 300
EOF
    if [ "$(id -u)" = 0 ]; then chown -R $UIDN:$UIDN "$TMP"; fi
}

start_x() {
    xvfb_start 80 120 "$TMP/xvfb.log" || { XPID=$XVFB_PID; die "no X server (above)"; }
    XPID=$XVFB_PID
    DISP=$XVFB_DISPLAY
}

# start_ws LOG ARGS...: Wireshark on the capture; sets WSPID and WID (main window).
start_ws() {
    local log=$1; shift
    as_user env DISPLAY=:$DISP QT_X11_NO_MITSHM=1 wireshark -C TrafficTriage ${PREFS[@]+"${PREFS[@]}"} "$@" -r "$CAPFILE" > "$log" 2>&1 &
    WSPID=$!
    WID=
    for _ in $(seq 120); do
        WID=$(xdotool search --onlyvisible --name "^$(basename "$CAPFILE")" 2>/dev/null | head -1)
        [ -n "$WID" ] && break
        kill -0 "$WSPID" 2>/dev/null || die "wireshark exited: $(cat "$log")"
        sleep 0.5
    done
    [ -n "$WID" ] || die "no Wireshark window: $(cat "$log")"
    xdotool windowmove "$WID" 0 0 windowsize "$WID" 1280 800
    settle 4
}

settle() { sleep "$1"; }   # the file loads, the first pass classifies, the view repaints

quit_ws() {
    [ -n "$WSPID" ] || return 0
    xdotool windowfocus --sync "$WID" 2>/dev/null || true
    xdotool key --clearmodifiers ctrl+q
    for _ in $(seq 40); do kill -0 "$WSPID" 2>/dev/null || break; sleep 0.25; done
    kill "$WSPID" 2>/dev/null || true
    wait "$WSPID" 2>/dev/null || true
    WSPID=
}

focus_main() { xdotool windowfocus --sync "$WID"; sleep 0.3; }

# shot_window WID NAME: the window as it is on screen.
shot_window() {
    local geo x y w h
    geo=$(xwininfo -id "$1")
    x=$(echo "$geo" | awk '/Absolute upper-left X/ {print $4}')
    y=$(echo "$geo" | awk '/Absolute upper-left Y/ {print $4}')
    w=$(echo "$geo" | awk '/Width:/ {print $2}')
    h=$(echo "$geo" | awk '/Height:/ {print $2}')
    shot_area "$2" "${w}x${h}+${x}+${y}"
}

# shot_area NAME GEOMETRY: part of the screen (menus are separate windows).
shot_area() {
    import -display :$DISP -window root "$TMP/root.png"
    convert "$TMP/root.png" -crop "$2" +repage "$OUT/$1.png"
    cp "$OUT/$1.png" "$TMP/$1.raw.png"
    echo "wrote $OUT/$1.png ($2)"
}

window_named() {   # window_named REGEX: newest visible window whose title matches
    local w
    for _ in $(seq 40); do
        w=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | tail -1)
        [ -n "$w" ] && [ "$w" != "$WID" ] && { echo "$w"; return 0; }
        sleep 0.5
    done
    return 1
}

make_gui() {
    say "GUI screenshots"
    setup_home
    pick_capture
    if [ "$(id -u)" = 0 ]; then chown -R $UIDN:$UIDN "$TMP/caps"; fi
    echo "capture: $CAPTURE; model: $MODEL"
    # A packet of the most common category (other than unknown), for the
    # filter and the packet details.
    as_user tshark ${PREFS[@]+"${PREFS[@]}"} -2 -r "$CAPFILE" -T fields -e frame.number -e triage.category -e triage.confidence \
        2>/dev/null > "$TMP/labels.tsv"
    CAT=$(awk -F'\t' '$2 != "" && $2 != "unknown" {print $2}' "$TMP/labels.tsv" | sort | uniq -c | sort -rn |
          awk 'NR == 1 {print $2}')
    [ -n "$CAT" ] || die "no packet of $CAPTURE has a category other than unknown with $MODEL"
    FRAME=$(awk -F'\t' -v c="$CAT" '$2 == c {print $1; exit}' "$TMP/labels.tsv")
    FILTER="triage.category == \"$CAT\""
    echo "category shown: $CAT (first packet: frame $FRAME)"
    start_x

    # 1. the packet list with the Category and Confidence columns
    start_ws "$TMP/ws1.log"
    focus_main
    shot_window "$WID" packet-list

    # 2. a display filter on a category
    xdotool key --clearmodifiers ctrl+slash
    sleep 0.5
    xdotool type --delay 20 "$FILTER"
    xdotool key Return
    settle 3
    shot_window "$WID" display-filter

    # 3. the packet details with the TrafficTriage subtree: go to a packet of
    #    the category, then find the string "Confidence" in the packet details
    #    (the find bar is set to that in recent_common), which expands the subtree.
    focus_main
    xdotool key --clearmodifiers ctrl+g
    sleep 0.5
    xdotool type --delay 20 "$FRAME"
    xdotool key Return
    sleep 1
    xdotool key --clearmodifiers ctrl+f
    sleep 0.5
    xdotool type --delay 20 "Confidence:"
    xdotool key Return
    settle 2
    xdotool key Escape
    sleep 0.5
    shot_window "$WID" packet-details

    # 4. Tools > TrafficTriage, and what "Export FlowPics of the Selected Flow" says
    focus_main
    xdotool key --clearmodifiers alt+t
    sleep 0.8
    xdotool key Up          # TrafficTriage is the last entry of Tools
    sleep 0.3
    xdotool key Right
    sleep 0.8
    shot_area tools-menu 1000x260+0+0
    xdotool key Return      # the first entry: the selected flow
    local tw
    tw=$(window_named "TrafficTriage FlowPics") || die "no FlowPics text window"
    settle 2
    shot_window "$tw" flowpic-export
    as_user sh -c 'ls -d "$HOME"/TrafficTriage-FlowPics/*/' > "$TMP/export-dir.txt" || true
    EXPORT_DIR=$(head -1 "$TMP/export-dir.txt")
    # the export wrote what it said: one PNG per index.tsv row
    [ -n "$EXPORT_DIR" ] && [ -f "$EXPORT_DIR/index.tsv" ] || die "the FlowPic export wrote no index.tsv"
    [ "$(ls "$EXPORT_DIR"/*.png | wc -l)" -eq "$(grep -vc '^#' "$EXPORT_DIR/index.tsv")" ] ||
        die "the FlowPic export's PNG files and index.tsv disagree"
    quit_ws

    # 5. Statistics > TrafficTriage > Categories (stats_tree: no GUI -z, so the menu;
    #    TrafficTriage is the last entry of Statistics)
    start_ws "$TMP/ws2.log"
    focus_main
    xdotool key --clearmodifiers alt+s
    sleep 0.8
    xdotool key Up
    sleep 0.3
    xdotool key Right
    sleep 0.8
    shot_area stats-menu 1000x820+0+0
    xdotool key Return
    local d
    d=$(window_named "Categories") || die "no Categories window: $(cat "$TMP/ws2.log")"
    xdotool windowmove "$d" 60 60 windowsize "$d" 900 640
    settle 3
    shot_window "$d" stats-categories
    quit_ws

    # 6. Statistics > TrafficTriage Flows (stat_tap_table: -z triage,flows opens it)
    start_ws "$TMP/ws3.log" -z triage,flows
    d=$(window_named "TrafficTriage Flows") || die "no Flows window: $(cat "$TMP/ws3.log")"
    xdotool windowmove "$d" 60 60 windowsize "$d" 1200 520
    settle 3
    shot_window "$d" stats-flows
    quit_ws

    # The exported FlowPics of the selected flow, side by side.
    if [ -n "$EXPORT_DIR" ] && ls "$EXPORT_DIR"/*.png >/dev/null 2>&1; then
        local npng
        npng=$(ls "$EXPORT_DIR"/*.png | wc -l)
        [ "$npng" -gt 6 ] && npng=6
        montage -label '%t' -font DejaVu-Sans -pointsize 12 "$EXPORT_DIR"/*.png -filter point \
            -resize 192x192 -bordercolor '#888888' -border 1 -geometry +8+8 -tile "${npng}x" -background white \
            "$OUT/flowpic-export-files.png" 2>/dev/null || true
        [ -f "$OUT/flowpic-export-files.png" ] && echo "wrote $OUT/flowpic-export-files.png"
    fi
}

case "$ONLY" in
gui) make_gui ;;
gallery) make_gallery ;;
"") make_gui; make_gallery ;;
*) die "--only gui|gallery" ;;
esac
say "done: look at every screenshots/*.png"
