#!/usr/bin/python3
"""models/data/conv_labelled.py, summarize.py and verify_ttm.py on a tiny synthetic set.

usage: test_data_conv.py REPO_ROOT [TRAFFICTRIAGE]

Builds both archive layouts in a temporary folder (real-apps: one top labels.tsv and
SOURCES.md; real-extra: one labels.tsv per <owner+repo>/), with small pcap files holding
an IPv4 TCP flow, an IPv6 UDP flow (note written with uncompressed addresses) and
background packets; converts them, checks the manifest lines (group = fold, l4, app,
addresses, skipped rows), that summarize.py accepts the output, and, given the binary,
that the trainer's reader matches every line with exactly the note's packet count.
"""
import ipaddress
import os
import struct
import subprocess
import sys
import tempfile

PY = "/usr/bin/python3"


def ipv4(s):
    return bytes(int(x) for x in s.split("."))


def frame(src, dst, sport, dport, proto, ip_len):
    """Ethernet + IP header + L4 header (the rest cut, as with editcap -s)."""
    l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x10, 1024, 0, 0) if proto == 6 \
        else struct.pack("!HHHH", sport, dport, ip_len - (20 if ":" not in src else 40), 0)
    if ":" in src:
        ip = struct.pack("!IHBB", 6 << 28, ip_len - 40, proto, 64) + \
            ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
        et = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0x4000, 64, proto, 0, ipv4(src), ipv4(dst))
        et = 0x0800
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb" + struct.pack("!H", et) + ip + l4


def write_pcap(path, packets):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 128, 1))
        for i, (ts, data, wire_len) in enumerate(packets):
            fh.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(data), wire_len + 14))
            fh.write(data)


def flow(a, b, sport, dport, proto, n, t0=1700000000.0):
    """n packets alternating a->b (1200 B) and b->a (80 B), 50 ms apart."""
    out = []
    for i in range(n):
        up = i % 2 == 0
        size = 1200 if up else 80
        f = frame(a, b, sport, dport, proto, size) if up else frame(b, a, dport, sport, proto, size)
        out.append((t0 + 0.05 * i, f, size))
    return out


def check(cond, msg):
    if not cond:
        raise SystemExit("FAIL: " + msg)


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    data_dir = os.path.join(argv[1], "models", "data")
    tt = argv[2] if len(argv) == 3 else None
    with tempfile.TemporaryDirectory(prefix="tt-data-conv-") as tmp:
        raw_apps = os.path.join(tmp, "raw", "real-apps")
        raw_extra = os.path.join(tmp, "raw", "real-extra")
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        bg = flow("10.9.9.9", "10.8.8.8", 1111, 53, 17, 6)
        # real-apps: one top labels.tsv, paths start with <owner+repo>/
        root = os.path.join(raw_apps, "real-apps")
        write_pcap(os.path.join(root, "alice+proj", "Call Audio", "call 1.pcap"),
                   sorted(flow("2001:db8::10", "2001:db8:0:0:0:0:0:20", 50000, 3478, 17, 30) + bg))
        write_pcap(os.path.join(root, "bob+chat", "msg.pcap"),
                   flow("192.168.1.2", "203.0.113.5", 40000, 443, 6, 24))
        with open(os.path.join(root, "SOURCES.md"), "w") as fh:
            fh.write("# Sources\n\n## alice/proj\n- application: Microsoft Teams (Linux)\n\n## bob/chat\n- what: x\n")
        with open(os.path.join(root, "labels.tsv"), "w") as fh:
            fh.write("relative_path\tcategory\ttunnel\tnote\n")
            fh.write("alice+proj/Call Audio/call 1.pcap\tvoip\tnone\tUDP 2001:0db8:0000::0010:50000 <-> "
                     "2001:db8:0:0:0:0:0:20:3478; pkts=30 bytes=1; dur=1.5s; call; confidence=high\n")
            fh.write("bob+chat/msg.pcap\tchat\tnone\tTCP 203.0.113.5:443 <-> 192.168.1.2:40000;"
                     " pkts=24 bytes=1 dur=1.2s; app=WhatsApp Web (Firefox); confidence: medium\n")
            fh.write("bob+chat/msg.pcap\tchat\tnone\tno tuple here\n")
            fh.write("bob+chat/msg.pcap\tgaming\tnone\tTCP 1.1.1.1:1 <-> 2.2.2.2:2\n")
        # real-extra: one labels.tsv per <owner+repo>/, paths relative to it
        root = os.path.join(raw_extra, "real-extra")
        write_pcap(os.path.join(root, "zeek+zeek", "testing", "ftp.pcap"),
                   flow("10.0.0.1", "10.0.0.2", 20, 38035, 6, 40))
        write_pcap(os.path.join(root, "zeek+zeek", "testing", "irc.pcap"),
                   flow("10.0.0.7", "10.0.0.22", 59069, 6667, 6, 22))
        with open(os.path.join(root, "zeek+zeek", "labels.tsv"), "w") as fh:
            fh.write("relative_path\tcategory\ttunnel\tnote\n")
            fh.write("testing/ftp.pcap\tfile_transfer\tnone\tZeek btest trace: FTP data; "
                     "TCP 10.0.0.1:20 <-> 10.0.0.2:38035; pkts=40 bytes=1 dur=2.0s\n")
            fh.write("testing/irc.pcap\tchat\tnone\tZeek btest trace: IRC session (lab); "
                     "TCP 10.0.0.7:59069 <-> 10.0.0.22:6667; pkts=22 bytes=1 dur=1.0s\n")

        for raw, name in ((raw_apps, "real-apps"), (raw_extra, "real-extra")):
            p = subprocess.run([PY, os.path.join(data_dir, "conv_labelled.py"), raw, out, name],
                               capture_output=True, text=True)
            check(p.returncode == 0, "conv_labelled %s: %s" % (name, p.stderr))
            if name == "real-apps":
                check("rows_unusable=1" in p.stdout and "rows_other_category=1" in p.stdout,
                      "bad rows not counted: " + p.stdout)

        def lines(name):
            with open(os.path.join(out, name + ".ttm")) as fh:
                check(fh.readline() == "#ttmanifest v1\n", name + ": magic")
                return [ln.rstrip("\n").split("\t") for ln in fh if not ln.startswith("#")]

        apps = lines("real-apps")
        check(len(apps) == 2, "real-apps: %d lines" % len(apps))
        v, c = apps
        check(v[0] == "real-apps/alice+proj/Call Audio/call 1.pcap", "capture path " + v[0])
        check(v[1:10] == ["voip", "alice+proj", "udp", "2001:db8::10", "50000", "2001:db8::20", "3478", "*", "*"],
              "voip line %r" % v)
        check(v[10] == "source=real-apps;repo=alice+proj;fold=alice+proj;tunnel=none;l4=udp;app=teams;"
                       "conf=high;pkts=30;bytes=1;dur_s=1.5", "voip attrs " + v[10])
        check(c[2] == "bob+chat" and c[3] == "tcp" and "app=whatsapp" in c[10] and "conf=medium" in c[10],
              "chat line %r" % c)
        extra = lines("real-extra")
        check([x[2] for x in extra] == ["zeek+zeek/testing/ftp.pcap", "zeek+zeek/testing/irc.pcap"],
              "per-capture folds %r" % [x[2] for x in extra])
        check("app=ftp" in extra[0][10] and "app=irc" in extra[1][10], "real-extra apps")
        check(all(os.path.isfile(os.path.join(out, x[0])) for x in apps + extra), "captures copied")

        p = subprocess.run([PY, os.path.join(data_dir, "summarize.py"), out], capture_output=True, text=True)
        check(p.returncode == 0 and "format check: all outputs OK" in p.stdout, "summarize: " + p.stdout[-500:])

        if tt:
            p = subprocess.run([PY, os.path.join(data_dir, "verify_ttm.py"), tt,
                                os.path.join(argv[1], "models", "category.ttm"),
                                os.path.join(out, "real-apps.ttm"), os.path.join(out, "real-extra.ttm")],
                               capture_output=True, text=True)
            check(p.returncode == 0 and "matched nothing" not in p.stdout, "verify_ttm: " + p.stdout + p.stderr)
            # per manifest: 2 lines, 2 matched, 2 with exactly the note's packet count
            check(p.stdout.count("TOTAL              2     2     2") == 2, "verify_ttm counts: " + p.stdout)
    print("ok: conv_labelled / summarize%s" % (" / verify_ttm" if tt else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
