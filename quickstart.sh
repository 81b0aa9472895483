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
if [ $# -eq 0 ]; then
    # Which rows are which session: each session's packets (source, destination,
    # ports) looked up in the merged sample's triage.flow numbers.
    echo "== which flows of the table are which session of the sample"
    for f in tests/fixtures/lab/*-none.pcapng; do
        s=$(basename "$f" -none.pcapng)
        tshark -r "$f" -Y "tcp || udp" -T fields -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport \
            -e udp.srcport -e udp.dstport 2>/dev/null | sed "s/^/$s\t/"
    done > build/sample.sessions
    tshark -2 -r "$CAP" -Y triage.flow -T fields -e triage.flow -e ip.src -e ip.dst -e tcp.srcport \
        -e tcp.dstport -e udp.srcport -e udp.dstport 2>/dev/null |
        awk -F'\t' -v OFS='\t' 'NR == FNR { s[$2 FS $3 FS $4 FS $5 FS $6 FS $7] = $1; next }
            { k = $2 FS $3 FS $4 FS $5 FS $6 FS $7
              if ((k in s) && !seen[$1]++) f[s[k]] = f[s[k]] " " $1 }
            END { for (x in f) printf "  %-14s flows%s\n", x, f[x] }' build/sample.sessions - | sort
fi
echo "== totals (tshark -2 -z triage,tree)"
tshark -q -2 -r "$CAP" -z triage,tree 2>/dev/null
echo "== first packets with their category: their direction's, and their conversation's (tshark -2 -T fields)"
tshark -2 -r "$CAP" -Y triage -T fields -E header=y \
    -e frame.number -e ip.src -e ip.dst -e triage.flow -e triage.category -e triage.confidence \
    -e triage.conversation.category -e triage.conversation.confidence 2>/dev/null | head -12
echo
if ! command -v traffictriage >/dev/null 2>&1 && [ "$(id -u)" -ne 0 ]; then
    echo "The traffictriage command is in ~/.local/bin: on your PATH from your next login (Debian's"
    echo "~/.profile adds the folder once it exists); until then run ~/.local/bin/traffictriage."
fi
if command -v wireshark >/dev/null 2>&1; then
    echo "Open it in the GUI with the column and colours:  wireshark -C TrafficTriage $CAP"
else
    echo "The Wireshark GUI is not installed (quickstart installs tshark only):  sudo apt install wireshark"
    echo "then open the sample with the column and colours:  wireshark -C TrafficTriage $CAP"
fi
