#!/usr/bin/python3
"""Convert TrafficLeak tshark summaries (web browsing through an SSH tunnel) to ttseries.

usage: /usr/bin/python3 conv_trafficleak.py RAW_DIR OUT_DIR
  RAW_DIR  the unpacked archive (holds Datasets/Full Dataset/<website>/<n>.trace)
  OUT_DIR  gets trafficleak.ttseries

Each trace line is `no. time src -> dst proto frame_len info`.  A trace also holds
unrelated LAN traffic (LLMNR, SSDP, MDNS, EAPOL, ...) and, in some traces, the
browser's loopback SOCKS connections; only the SSH connection (the tunnel) is kept,
one line per direction: up = client -> server (port 22), down = server -> client.
The "Toy Dataset" is a byte-identical subset of the full one and is not converted.

Link layer: most traces are Ethernet captures (14-byte header) but some were taken
on Linux' "any" device (cooked header, 16 bytes; 1516-byte full frames).  The header
length is measured per trace from SSH lines: frame_len - SSH "len=" - 20 (IPv4)
- 32 (TCP with timestamps) is 14 or 16; the IP length is frame_len - that.
"""

import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttcommon import TTSeriesWriter, attrs_str, parse_seconds_to_us, sort_by_time, log  # noqa: E402

SOURCE = "GitHub kejriwalrahul/TrafficLeak @ c1755068df8bf99be1edeefef09264858521b920"
ARROW = "\u2192"
LINE_RE = re.compile(
    r"^\s*(\d+)\s+(\d+(?:\.\d+)?)\s+(\S*)\s*" + ARROW + r"\s*(\S*)\s+(\S+)\s+(\d+)(?:\s+(.*))?$")
PORTS_RE = re.compile(r"(\d+)\s*" + ARROW + r"\s*(\d+)\s")
SSH_LEN_RE = re.compile(r"\(len=(\d+)\)")
SSH_PORT = "22"
IP_TCPTS_HDR = 20 + 32  # IPv4 + TCP with the timestamp option
L2_BY_OVERHEAD = {14 + IP_TCPTS_HDR: ("eth", 14), 16 + IP_TCPTS_HDR: ("sll", 16)}


def parse_trace(path, stats):
    """Return a list of (time_us, src, dst, proto, frame_len, info) for parseable lines."""
    rows = []
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                stats["blank_lines"] += 1
                continue
            m = LINE_RE.match(line)
            if not m:
                stats["odd_lines"] += 1
                if stats["odd_lines"] <= 5:
                    log("  odd line %s:%d: %r" % (path, lineno, line[:100]))
                continue
            _, t, src, dst, proto, flen, info = m.groups()
            try:
                t_us = parse_seconds_to_us(t)
            except ValueError:
                stats["odd_lines"] += 1
                continue
            rows.append((t_us, src, dst, proto, int(flen), info or ""))
    return rows


def find_tunnel(rows):
    """Find (client, server) address pairs of SSH connections in a trace."""
    pairs = Counter()
    for _, src, dst, proto, _, info in rows:
        if proto != "SSH":
            continue
        if info.startswith("Client:"):
            pairs[(src, dst)] += 1
        elif info.startswith("Server:"):
            pairs[(dst, src)] += 1
    for _, src, dst, proto, _, info in rows:  # SSH not dissected: fall back to port 22
        if proto == "TCP":
            m = PORTS_RE.search(info)
            if m and m.group(2) == SSH_PORT and m.group(1) != SSH_PORT:
                pairs[(src, dst)] += 0
    return sorted(pairs)


def link_layer(rows, client, server, stats):
    overhead = Counter()
    for _, src, dst, proto, flen, info in rows:
        if proto == "SSH" and {src, dst} == {client, server}:
            m = SSH_LEN_RE.search(info)
            if m:
                overhead[flen - int(m.group(1))] += 1
    for ovh, _ in overhead.most_common():
        if ovh in L2_BY_OVERHEAD:
            return L2_BY_OVERHEAD[ovh]
    stats["l2_unknown_assumed_eth"] += 1
    return ("eth?", 14)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    raw_dir, out_dir = argv[1], argv[2]
    base = os.path.join(raw_dir, "Datasets", "Full Dataset")
    if not os.path.isdir(base):
        sys.stderr.write("no 'Datasets/Full Dataset' under %s\n" % raw_dir)
        return 1
    stats = Counter()
    l2_count = Counter()
    w = TTSeriesWriter(os.path.join(out_dir, "trafficleak.ttseries"), [
        "source: " + SOURCE,
        "converter: models/data/conv_trafficleak.py",
        "label: browsing; web page loads tunnelled through SSH (client 192.168.1.x -> server :22)",
        "only the SSH connection of each trace; up = client->server, down = server->client",
        "sizes = IP total length = frame_len - link header (14 Ethernet, 16 Linux cooked: attr l2)",
        "times = tshark relative time of the trace (seconds); cache=cold for 0.trace, hot otherwise",
        "Toy Dataset not converted (identical subset of the Full Dataset)",
    ])
    try:
        for site in sorted(os.listdir(base)):
            sdir = os.path.join(base, site)
            if not os.path.isdir(sdir):
                continue
            traces = [f for f in os.listdir(sdir) if f.endswith(".trace")]
            stats["other_files"] += len(os.listdir(sdir)) - len(traces)
            for fname in sorted(traces, key=lambda f: (len(f), f)):
                n = fname[:-len(".trace")]
                stats["traces"] += 1
                rows = parse_trace(os.path.join(sdir, fname), stats)
                stats["lines_parsed"] += len(rows)
                pairs = find_tunnel(rows)
                if not pairs:
                    stats["traces_without_ssh"] += 1
                    log("  no SSH tunnel in %s/%s (%d lines): skipped" % (site, fname, len(rows)))
                    continue
                if len(pairs) > 1:
                    stats["traces_with_several_ssh_pairs"] += 1
                group = "trafficleak/%s/%s" % (site, n)
                for client, server in pairs:
                    emit_pair(w, rows, group, site, n, client, server, len(pairs) > 1,
                              stats, l2_count)
    except BaseException:
        w.abort()
        raise
    w.close()
    stats["ignored_lines_not_tunnel"] = stats["lines_parsed"] - stats["packets"]
    log("trafficleak: " + ", ".join("%s=%d" % kv for kv in sorted(stats.items())))
    log("trafficleak: link layer per trace: " + ", ".join("%s=%d" % kv for kv in sorted(l2_count.items())))
    return 0


def emit_pair(w, rows, group, site, n, client, server, several, stats, l2_count):
    l2_name, l2_len = link_layer(rows, client, server, stats)
    l2_count[l2_name] += 1
    series = {"up": ([], []), "down": ([], [])}
    cports = set()
    for t_us, src, dst, proto, flen, info in rows:
        if src == client and dst == server:
            d = "up"
        elif src == server and dst == client:
            d = "down"
        else:
            continue
        if proto == "TCP":
            m = PORTS_RE.search(info)
            if m:
                cports.add(m.group(1) if d == "up" else m.group(2))
        ip = flen - l2_len
        if ip < 40:
            stats["tiny_frames_skipped"] += 1
            continue
        series[d][0].append(t_us)
        series[d][1].append(ip)
    if len(cports) > 1:
        stats["pairs_with_several_client_ports"] += 1
    for d in ("up", "down"):
        times, sizes = series[d]
        if not sizes:
            stats["empty_dir"] += 1
            continue
        times, sizes, resorted = sort_by_time(times, sizes)
        stats["resorted_flows"] += resorted
        flow = group + "/" + d
        if several:
            flow = "%s/%s-%s/%s" % (group, client, server, d)
        attrs = [("source", "trafficleak"), ("site", site), ("tunnel", "ssh"), ("dir", d),
                 ("cache", "cold" if n == "0" else "hot"), ("l2", l2_name)]
        if len(cports) == 1:
            attrs.append(("client_port", next(iter(cports))))
        w.write(group, "browsing", flow, attrs_str(attrs), times, sizes)
        stats["flows"] += 1
        stats["packets"] += len(sizes)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
