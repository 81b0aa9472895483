#!/bin/bash
# A Debian root with another Wireshark, for building and testing TrafficTriage
# against it (tests/versions/run.sh uses it).
#
#   chroot.sh SUITE [DIR]              create DIR (or reuse it when complete)
#   chroot.sh SUITE [DIR] -- CMD ARGS  the same, then run CMD inside it with
#                                      /proc, /sys, /dev, /dev/pts mounted for
#                                      the duration of CMD only
#
# SUITE is a Debian suite: trixie (Wireshark 4.4), sid (4.6), or any other
# that debootstrap knows. DIR defaults to $TT_ROOTS/SUITE, TT_ROOTS to
# /var/tmp/tt-roots; it must lie outside the source tree. Must run as root.
#
# The mirror is the Debian archive this host's apt uses (first "debian" URI in
# /etc/apt/sources.list{,.d/*}); TT_MIRROR overrides it.
#
# A root is "complete" when DIR/.tt-ready holds the current package list; a
# root whose debootstrap or install did not finish is finished (or, if
# debootstrap itself was interrupted, made again). TT_REFRESH=1 runs apt-get
# update/upgrade in a complete root. One run per root at a time (flock).
set -euo pipefail
# (one brace group: bash reads it whole, so editing this file mid-run is safe)
{

HERE=$(cd "$(dirname "$0")" && pwd)
SRC_TOP=$(cd "$HERE/../.." && pwd)

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
log() { echo "chroot.sh[$SUITE]: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
SUITE=$1; shift
ROOT=${TT_ROOTS:-/var/tmp/tt-roots}/$SUITE
if [ $# -ge 1 ] && [ "$1" != "--" ]; then
    ROOT=$1; shift
fi
RUN=0
if [ $# -ge 1 ]; then
    [ "$1" = "--" ] || usage
    shift
    [ $# -ge 1 ] || usage
    RUN=1
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

mkdir -p "$(dirname "$ROOT")"
ROOT=$(cd "$(dirname "$ROOT")" && pwd)/$(basename "$ROOT")
case $ROOT/ in
    "$SRC_TOP"/*) die "$ROOT is inside the source tree; use a directory outside it" ;;
    /) die "refusing to use / as the root" ;;
esac

# Packages: build (CMakeLists.txt: pkg-config glib png pcap lzma openblas, Wireshark
# CMake config), plugin tests (tshark, text2pcap/editcap in wireshark-common,
# setpriv in util-linux, file, python3 for the capture generator).
# The dev package name is looked up inside the root (WS_DEV below).
PKGS_BASE="gcc make cmake pkg-config libglib2.0-dev libopenblas-dev libpng-dev liblzma-dev
           libpcap-dev tshark wireshark-common util-linux file python3 gzip
           ca-certificates"

mirror() {
    if [ -n "${TT_MIRROR:-}" ]; then echo "$TT_MIRROR"; return; fi
    local m
    # deb822 sources: "URIs: http://host/debian"; one-line: "deb [opts] http://host/debian suite ..."
    m=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i=2;i<=NF;i++) print $i}';
           cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
               awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'; } |
         grep -E '/debian/?$' | head -n1 || true)
    [ -n "$m" ] || die "no Debian mirror found in /etc/apt/sources.list*; set TT_MIRROR"
    echo "${m%/}"
}

# ---- mounts (only while a command runs inside) --------------------------------
MOUNTED=()
umount_all() {
    local i
    for (( i=${#MOUNTED[@]}-1; i>=0; i-- )); do
        umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" 2>/dev/null || \
            log "warning: could not unmount ${MOUNTED[$i]}"
    done
    MOUNTED=()
}
mount_one() {   # mount_one TARGET mount-args...
    local target=$ROOT/$1; shift
    mkdir -p "$target"
    mountpoint -q "$target" && return 0   # someone else's (should not happen under the lock)
    mount "$@" "$target"
    MOUNTED+=("$target")
}
mount_all() {
    mount_one proc -t proc proc
    mount_one sys -t sysfs sysfs
    mount_one dev --bind /dev
    mount_one dev/pts -t devpts devpts -o newinstance,ptmxmode=0666
    mount_one dev/shm -t tmpfs tmpfs -o mode=1777
}
# Anything of ours still mounted below ROOT (an earlier run that was killed).
stale_mounts() {
    awk -v r="$ROOT/" '{ if (index($2 "/", r) == 1) print $2 }' /proc/self/mounts | sort -r
}
cleanup() {
    local rc=$?
    umount_all
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

in_root() {   # in_root CMD...: run inside (mounts must be up)
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb "$@"
}

# ---- lock ---------------------------------------------------------------------
exec 9>"$ROOT.lock"
if ! flock -n 9; then
    log "waiting for another run on $ROOT"
    flock 9
fi
for m in $(stale_mounts); do
    log "unmounting stale $m"
    umount "$m" 2>/dev/null || umount -l "$m"
done

# ---- debootstrap ----------------------------------------------------------------
if [ ! -e "$ROOT/.tt-bootstrapped" ]; then
    if [ -e "$ROOT" ]; then
        [ -z "$(stale_mounts)" ] || die "$ROOT still has mounts; not removing it"
        log "removing incomplete $ROOT"
        rm -rf --one-file-system "$ROOT"
    fi
    MIRROR=$(mirror)
    log "debootstrap --variant=minbase $SUITE $ROOT $MIRROR"
    t0=$(date +%s)
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1 || {
        tail -n 30 "$ROOT.debootstrap.log" >&2
        die "debootstrap failed (log: $ROOT.debootstrap.log)"
    }
    echo "$MIRROR $SUITE" > "$ROOT/.tt-bootstrapped"
    log "debootstrap done in $(( $(date +%s) - t0 )) s"
fi

# ---- packages -------------------------------------------------------------------
want="$(echo $PKGS_BASE)"
if [ "$(cat "$ROOT/.tt-ready" 2>/dev/null || true)" != "$want" ] || [ "${TT_REFRESH:-0}" = 1 ]; then
    t0=$(date +%s)
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    # no daemons from postinst scripts
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    # sid's Release file carries a Valid-Until date; this host's mirror (or
    # clock) may lag behind it, and a stale package list is fine for a test root.
    printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' \
        > "$ROOT/etc/apt/apt.conf.d/99tt-no-valid-until"
    printf 'APT::Install-Recommends "false";\nDpkg::Use-Pty "false";\n' \
        > "$ROOT/etc/apt/apt.conf.d/99tt-quiet"
    # a throwaway test root: no fsync after every unpacked file
    echo force-unsafe-io > "$ROOT/etc/dpkg/dpkg.cfg.d/99tt-unsafe-io"
    mount_all
    log "apt-get update"
    in_root apt-get update -q > "$ROOT.apt.log" 2>&1 || { tail -n 20 "$ROOT.apt.log" >&2; die "apt-get update failed"; }
    # The development package: wireshark-dev (tools, CMake config) + libwireshark-dev
    # (headers); take whichever names this suite has.
    WS_DEV=""
    for p in wireshark-dev libwireshark-dev libwiretap-dev libwsutil-dev; do
        if in_root apt-cache show "$p" >/dev/null 2>&1; then WS_DEV="$WS_DEV $p"; fi
    done
    [ -n "$WS_DEV" ] || die "no Wireshark development package in $SUITE"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | in_root debconf-set-selections
    log "apt-get install$WS_DEV $want"
    in_root apt-get install -y -q --no-install-recommends $WS_DEV $want >> "$ROOT.apt.log" 2>&1 || {
        tail -n 30 "$ROOT.apt.log" >&2
        die "apt-get install failed (log: $ROOT.apt.log)"
    }
    if [ "${TT_REFRESH:-0}" = 1 ]; then
        in_root apt-get upgrade -y -q >> "$ROOT.apt.log" 2>&1 || die "apt-get upgrade failed"
    fi
    in_root apt-get clean
    umount_all
    echo "$want" > "$ROOT/.tt-ready"
    log "packages installed in $(( $(date +%s) - t0 )) s: $(chroot "$ROOT" dpkg-query -W -f='${Version}' tshark 2>/dev/null || echo '?') tshark"
fi

# ---- run ------------------------------------------------------------------------
if [ $RUN = 1 ]; then
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    mount_all
    set +e
    in_root "$@"
    rc=$?
    set -e
    umount_all
    exit $rc
fi
echo "$ROOT"
exit
}
