#!/bin/sh
# Install the Debian 12 packages TrafficTriage needs.
#   tests/deps.sh            build + run (compiler, libraries, Wireshark dev files, tshark;
#                            libndpi-dev for `traffictriage label` and libxgboost-dev for
#                            `traffictriage trees`, linked into the CLI only, never the plugin)
#   tests/deps.sh --test     also what the whole test suite uses (GUI under Xvfb,
#                            clang/libFuzzer, valgrind, debootstrap)
# Runs apt-get through sudo when not root. Safe to run again.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
BUILD="gcc make cmake pkg-config libglib2.0-dev libopenblas-dev libpng-dev libpcap-dev liblzma-dev
       wireshark-dev libwireshark-dev tshark wireshark-common file libndpi-dev libxgboost-dev"
TEST="wireshark-qt xvfb xauth x11-utils xdotool imagemagick clang libclang-rt-14-dev llvm
      valgrind debootstrap util-linux procps time dpkg-dev fonts-dejavu-core python3"
PKGS="$BUILD"
[ "${1:-}" = "--test" ] && PKGS="$BUILD $TEST"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "tests/deps.sh: installing$missing"
    $SUDO apt-get update -qq
    # wireshark-common asks whether non-root users may capture: answer no, quietly.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
