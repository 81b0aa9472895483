#!/usr/bin/python3
"""Write the small, deterministic captures used by the plugin tests.

Standard library only. Run: /usr/bin/python3 tests/captures/make_captures.py [OUTDIR]
(default: the directory of this script). The same inputs always give the same
bytes (fixed seed, fixed timestamps, gzip without a name or time).

  mixed.pcap.gz  IPv4/Ethernet, ~40 s: five shaped TCP/UDP conversations
                 (voip-, video-, chat-, browsing-, file-transfer-like), a DNS
                 exchange with one packet per direction (too few packets),
                 ARP and ICMP frames (not TCP/UDP: no triage fields)
  ipv6.pcap      TCP and UDP over IPv6
  vlan.pcap      UDP over IPv4 in 802.1Q-tagged frames
  tunnel.pcap    UDP inside IP-in-IP and inside GRE (the innermost header counts)
  snap68.pcap    snaplen 68: large TCP/IPv4 and UDP/IPv6 packets cut to 68 bytes
                 (the IP length field still gives the real size)
  nonip.pcap     ARP, ICMP echo, ICMP port unreachable (quoting a UDP header)
                 and LLDP only
  long.pcap      one UDP flow, 2 packets/s for 130 s (block-length test)
"""
import gzip
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ttpackets import csum, ip4  # noqa: E402

T0 = 1700000000.0
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def ip6(a):
    # minimal parser for the "2001:db8::N" style addresses used here
    head, _, tail = a.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


def eth(payload, ethertype, vlan=None):
    hdr = MAC_B + MAC_A
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0):
    total = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64,
                      proto, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64,
                       ip6(src), ip6(dst)) + payload


def udp(sport, dport, size):
    return struct.pack("!HHHH", sport, dport, 8 + size, 0) + bytes(size)


class Tcp:
    """One TCP connection: consistent sequence numbers in both directions."""

    def __init__(self, sport, dport):
        self.sport, self.dport = sport, dport
        self.seq = {0: 1000, 1: 5000}

    def seg(self, direction, size, flags=0x18):
        sp, dp = (self.sport, self.dport) if direction == 0 else (self.dport, self.sport)
        seq, ack = self.seq[direction], self.seq[1 - direction]
        self.seq[direction] = (seq + size) & 0xFFFFFFFF
        return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + bytes(size)


class Pcap:
    def __init__(self, snaplen=65535, linktype=1):
        self.snaplen = snaplen
        self.linktype = linktype
        self.frames = []   # (ts, bytes)

    def add(self, ts, frame):
        self.frames.append((ts, frame))

    def data(self):
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen, self.linktype)]
        for ts, frame in sorted(self.frames, key=lambda f: f[0]):
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            cap = frame[: self.snaplen]
            out.append(struct.pack("<IIII", sec, usec, len(cap), len(frame)) + cap)
        return b"".join(out)


def tcp4(src, dst, conn, direction, size):
    s, d = (src, dst) if direction == 0 else (dst, src)
    return eth(ipv4(s, d, 6, conn.seg(direction, size)), 0x0800)


def udp4(src, dst, sport, dport, size, vlan=None):
    return eth(ipv4(src, dst, 17, udp(sport, dport, size)), 0x0800, vlan)


def arp(i):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A, ip4("10.0.0.1"),
                       bytes(6), ip4("10.0.0.%d" % (100 + i % 50)))
    return eth(body, 0x0806)


def icmp_echo(i, reply=False):
    body = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, 7, i) + bytes(32)
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    src, dst = ("10.0.1.9", "10.0.0.9") if reply else ("10.0.0.9", "10.0.1.9")
    return eth(ipv4(src, dst, 1, body, ident=i), 0x0800)


def icmp_unreachable(i):
    # port unreachable quoting the IP + UDP header of a packet 10.0.0.9 -> 10.0.1.9
    quoted = ipv4("10.0.0.9", "10.0.1.9", 17, udp(40000 + i, 33434, 100))[:28]
    body = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return eth(ipv4("10.0.1.9", "10.0.0.9", 1, body, ident=i), 0x0800)


def lldp():
    return eth(bytes.fromhex("020702") + MAC_A + bytes.fromhex("0403050203") + bytes(8), 0x88CC)


def mixed(rng):
    p = Pcap()
    # voip-like: UDP, both directions, 172 B payload every 100 ms for 40 s
    for i in range(400):
        t = T0 + i * 0.1 + rng.uniform(0, 0.004)
        p.add(t, udp4("10.0.0.1", "10.0.1.1", 40000, 3478, 172))
        p.add(t + 0.013, udp4("10.0.1.1", "10.0.0.1", 3478, 40000, 172))
    # video-like: bursts of large UDP packets downstream, small feedback upstream
    for i in range(200):
        base = T0 + 0.5 + i * 0.2
        for k in range(3):
            p.add(base + k * 0.002, udp4("10.0.1.2", "10.0.0.2", 443, 50000, 1200 + rng.randrange(0, 150)))
        if i % 5 == 0:
            p.add(base + 0.05, udp4("10.0.0.2", "10.0.1.2", 50000, 443, 60))
    # chat-like: sporadic small TCP messages
    c = Tcp(51000, 5222)
    t = T0 + 1.0
    while t < T0 + 39:
        d = rng.randrange(2)
        p.add(t, tcp4("10.0.0.3", "10.0.1.3", c, d, 40 + rng.randrange(0, 200)))
        p.add(t + 0.04, tcp4("10.0.0.3", "10.0.1.3", c, 1 - d, 0))
        t += rng.uniform(0.5, 2.5)
    # browsing-like: request, burst of responses, quiet
    c = Tcp(52000, 80)
    for burst in range(6):
        t = T0 + 2 + burst * 6.0
        p.add(t, tcp4("10.0.0.4", "10.0.1.4", c, 0, 400 + rng.randrange(0, 300)))
        for k in range(8 + rng.randrange(0, 10)):
            p.add(t + 0.03 + k * 0.004, tcp4("10.0.0.4", "10.0.1.4", c, 1, 1460))
            if k % 2:
                p.add(t + 0.035 + k * 0.004, tcp4("10.0.0.4", "10.0.1.4", c, 0, 0))
    # file-transfer-like: steady full-size segments for 20 s, acks back
    c = Tcp(53000, 2121)
    for i in range(400):
        t = T0 + 5 + i * 0.05
        p.add(t, tcp4("10.0.0.5", "10.0.1.5", c, 0, 1460))
        if i % 2:
            p.add(t + 0.001, tcp4("10.0.0.5", "10.0.1.5", c, 1, 0))
    # a DNS exchange: one packet per direction (too few packets)
    p.add(T0 + 3.0, udp4("10.0.0.6", "10.0.1.53", 33333, 53, 30))
    p.add(T0 + 3.02, udp4("10.0.1.53", "10.0.0.6", 53, 33333, 90))
    # not TCP/UDP
    for i in range(10):
        p.add(T0 + 0.25 + i * 4, arp(i))
        p.add(T0 + 0.3 + i * 4, icmp_echo(i))
        p.add(T0 + 0.31 + i * 4, icmp_echo(i, reply=True))
    return p


def ipv6_cap(rng):
    p = Pcap()
    a, b = "2001:db8::1", "2001:db8::2"
    for i in range(30):
        t = T0 + i * 0.1
        p.add(t, eth(ipv6(a, b, 17, udp(41000, 5004, 100 + rng.randrange(0, 900))), 0x86DD))
    c = Tcp(42000, 443)
    for i in range(20):
        t = T0 + 0.05 + i * 0.15
        p.add(t, eth(ipv6(b, a, 6, c.seg(1, 1200)), 0x86DD))
        p.add(t + 0.01, eth(ipv6(a, b, 6, c.seg(0, 0)), 0x86DD))
    return p


def vlan_cap(rng):
    p = Pcap()
    for i in range(25):
        t = T0 + i * 0.1
        p.add(t, udp4("10.10.0.1", "10.10.0.2", 6000, 7000, 100 + rng.randrange(0, 800), vlan=42))
    return p


def tunnel_cap(rng):
    p = Pcap()
    for i in range(15):
        t = T0 + i * 0.1
        inner = ipv4("10.1.0.1", "10.1.0.2", 17, udp(1000, 2000, 200 + 10 * i))
        p.add(t, eth(ipv4("192.0.2.1", "192.0.2.2", 4, inner), 0x0800))
        inner = ipv4("10.2.0.1", "10.2.0.2", 17, udp(3000, 4000, 300 + 10 * i))
        gre = struct.pack("!HH", 0, 0x0800) + inner
        p.add(t + 0.05, eth(ipv4("198.51.100.1", "198.51.100.2", 47, gre), 0x0800))
    return p


def snap68_cap(rng):
    p = Pcap(snaplen=68)
    c = Tcp(44000, 8080)
    for i in range(15):
        t = T0 + i * 0.1
        p.add(t, tcp4("10.3.0.1", "10.3.0.2", c, 1, 1400 + i))
    for i in range(15):
        t = T0 + 0.05 + i * 0.1
        p.add(t, eth(ipv6("2001:db8::10", "2001:db8::20", 17, udp(45000, 9000, 900 + i)), 0x86DD))
    return p


def nonip_cap(rng):
    p = Pcap()
    for i in range(10):
        p.add(T0 + i * 0.5, arp(i))
        p.add(T0 + i * 0.5 + 0.1, icmp_echo(i))
        p.add(T0 + i * 0.5 + 0.2, lldp())
        p.add(T0 + i * 0.5 + 0.3, icmp_unreachable(i))
    return p


def long_cap(rng):
    p = Pcap()
    for i in range(260):
        p.add(T0 + i * 0.5, udp4("10.4.0.1", "10.4.0.2", 46000, 5060, 100 + rng.randrange(0, 400)))
    return p


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    caps = [("mixed.pcap.gz", mixed), ("ipv6.pcap", ipv6_cap), ("vlan.pcap", vlan_cap),
            ("tunnel.pcap", tunnel_cap), ("snap68.pcap", snap68_cap),
            ("nonip.pcap", nonip_cap), ("long.pcap", long_cap)]
    for name, fn in caps:
        data = fn(random.Random(name)).data()
        path = os.path.join(out, name)
        if name.endswith(".gz"):
            with open(path, "wb") as f:
                with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
                    g.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)
        print("%-14s %7d bytes" % (name, os.path.getsize(path)))


if __name__ == "__main__":
    main()
