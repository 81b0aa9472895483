#!/bin/sh
# TrafficTriage quick start on Debian 12: install what is needed, build,
# install the plugin (your personal Wireshark folders; system-wide when run as
# root, because Wireshark ignores personal plugins for root), then classify
# the bundled sample capture with tshark.
#   sh quickstart.sh [CAPTURE]
set -eu
cd "$(dirname "$0")"
sh tests/deps.sh
if [ "$(id -u)" -eq 0 ]; then
    OPTS="-DTT_SYSTEM_INSTALL=ON -DCMAKE_INSTALL_PREFIX=/usr/local"
else
    OPTS="-DTT_SYSTEM_INSTALL=OFF -DCMAKE_INSTALL_PREFIX=$HOME/.local"   # traffictriage in ~/.local/bin
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF $OPTS >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
cmake --install build >/dev/null
echo "== installed:"
tshark -G plugins 2>/dev/null | grep -i triage || { echo "the plugin did not load: see README.md, Troubleshooting"; exit 1; }

# The sample: one short session per category from the traffic lab (not used in training).
if [ $# -ge 1 ]; then
    CAP=$1
else
    CAP=build/sample.pcapng
    mergecap -w "$CAP" tests/fixtures/lab/*-none.pcapng
fi
echo "== per-flow categories of $CAP (tshark -2 -z triage,flows)"
tshark -q -2 -r "$CAP" -z triage,flows 2>/dev/null
echo "== totals (tshark -2 -z triage,tree)"
tshark -q -2 -r "$CAP" -z triage,tree 2>/dev/null
echo "== first packets with their category: their direction's, and their conversation's (tshark -2 -T fields)"
tshark -2 -r "$CAP" -Y triage -T fields -E header=y \
    -e frame.number -e ip.src -e ip.dst -e triage.flow -e triage.category -e triage.confidence \
    -e triage.conversation.category -e triage.conversation.confidence 2>/dev/null | head -12
echo
echo "Open it in the GUI with the column and colours:  wireshark -C TrafficTriage $CAP"
