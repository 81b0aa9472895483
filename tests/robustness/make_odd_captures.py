#!/usr/bin/python3
"""Odd captures for the robustness tests (standard library only, deterministic).

  /usr/bin/python3 tests/robustness/make_odd_captures.py [OUTDIR]   (default: ./captures)

Complements tests/captures (snaplen 68, VLAN, IP-in-IP, GRE, IPv6, non-IP):
  ipv6_ext.pcap      IPv6 with hop-by-hop, routing, destination options, AH
                     and fragment headers (first and later fragments), then
                     UDP/TCP; an extension chain that runs past the frame
  fragments.pcap     IPv4 UDP datagrams in 2-3 fragments (in and out of
                     order), a lone middle fragment, overlapping fragments
  tunnels2.pcap      QinQ, GRE with checksum/key/sequence, GRE over IPv6,
                     transparent-Ethernet GRE, VXLAN, 6in4, 4in6, ICMP
                     errors quoting UDP, nested IP-in-IP 10 deep
  odd_ip.pcap        IPv4 total length smaller than the header / larger than
                     the frame, IHL < 5, zero-length UDP, TCP header cut
                     short, port 0, options, ip.len 65535 cut to 100 bytes,
                     a packet with a timestamp before the previous one,
                     timestamps 0 and 2^32-1
  multi_if.pcapng    pcapng, one section, four interfaces: Ethernet, raw IP,
                     Linux cooked (SLL) and NULL/loopback, packets of the
                     same flows interleaved across them, nanosecond
                     timestamps on one interface; a second section with
                     another Ethernet interface
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ttpackets import csum, ip4 as a4  # noqa: E402

MAC1 = bytes.fromhex("020000000001")
MAC2 = bytes.fromhex("020000000002")


def a6(n):
    return bytes.fromhex("20010db8") + bytes(11) + bytes([n])


def ether(payload, et=0x0800, tags=()):
    h = MAC2 + MAC1
    for tpid, vid in tags:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", et) + payload


def v4(src, dst, proto, payload, flags_off=0x4000, ident=1, total=None, ihl=5, opts=b""):
    tl = 20 + len(opts) + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl & 0xFFFF, ident, flags_off, 64, proto, 0,
                    a4(src), a4(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def v6(src, dst, nh, payload, plen=None):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen, nh, 64,
                       a6(src), a6(dst)) + payload


def udp(sp, dp, n):
    return struct.pack("!HHHH", sp, dp, 8 + n, 0) + bytes(n)


def tcp(sp, dp, n, seq=1):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, 1, 0x50, 0x18, 65535, 0, 0) + bytes(n)


class Pcap:
    def __init__(self, linktype=1, snaplen=65535):
        self.lt, self.snap, self.recs = linktype, snaplen, []

    def add(self, ts, frame, orig=None):
        self.recs.append((ts, frame[: self.snap], len(frame) if orig is None else orig))

    def bytes(self):   # records in the order added (not sorted: times may go back)
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snap, self.lt)]
        for ts, cap, orig in self.recs:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            out.append(struct.pack("<IIII", sec, usec, len(cap), orig) + cap)
        return b"".join(out)


def ext(nh, body_len8):
    """A hop-by-hop/routing/destination header of (body_len8 + 1) * 8 bytes."""
    return struct.pack("!BB", nh, body_len8) + bytes(6 + 8 * body_len8)


def ipv6_ext():
    p = Pcap()
    t = 1700000000.0
    for i in range(40):
        t += 0.05
        # hop-by-hop -> routing -> destination -> UDP
        pl = ext(43, 0) + ext(60, 1) + ext(17, 0) + udp(5000, 53, 100 + i)
        p.add(t, ether(v6(1, 2, 0, pl), 0x86DD))
        # AH (length 4 => 24 bytes) -> TCP
        ah = struct.pack("!BBHII", 6, 4, 0, 0x100, i) + bytes(12)
        p.add(t + 0.01, ether(v6(2, 1, 51, ah + tcp(443, 40000, 500 + i)), 0x86DD))
        # fragment header: first fragment (offset 0, M=1) then the last one
        frag1 = struct.pack("!BBHI", 17, 0, 0x0001, i) + udp(6000, 6001, 64)
        p.add(t + 0.02, ether(v6(3, 4, 44, frag1), 0x86DD))
        frag2 = struct.pack("!BBHI", 17, 0, (9 << 3), i) + bytes(40)
        p.add(t + 0.03, ether(v6(3, 4, 44, frag2), 0x86DD))
    # a chain that claims more than the frame holds, and an absurd payload length
    p.add(t + 1, ether(v6(1, 2, 0, struct.pack("!BB", 60, 200) + bytes(6)), 0x86DD))
    p.add(t + 1.1, ether(v6(1, 2, 17, udp(1, 2, 10), plen=65535), 0x86DD))
    return p


def fragments():
    p = Pcap()
    t = 1700000100.0
    for i in range(30):
        t += 0.1
        data = udp(7000, 7001, 2000 + 10 * i)
        parts = [data[0:1480], data[1480:2960], data[2960:]]
        offs = [0, 185, 370]
        order = [0, 1, 2] if i % 3 else [2, 0, 1]
        for k in order:
            if not parts[k]:
                continue
            mf = 0x2000 if k < 2 and parts[k + 1 if k + 1 < 3 else k] and k != 2 and (k == 0 or parts[2]) else 0
            p.add(t + 0.001 * k, ether(v4("10.9.0.1", "10.9.0.2", 17, parts[k], flags_off=mf | offs[k], ident=100 + i)))
    # a lone middle fragment and two overlapping ones
    p.add(t + 1, ether(v4("10.9.0.3", "10.9.0.4", 17, bytes(800), flags_off=0x2000 | 100, ident=7)))
    p.add(t + 1.1, ether(v4("10.9.0.3", "10.9.0.4", 17, udp(1, 2, 600), flags_off=0x2000, ident=8)))
    p.add(t + 1.2, ether(v4("10.9.0.3", "10.9.0.4", 17, bytes(600), flags_off=40, ident=8)))
    return p


def gre(proto, payload, flags=0):
    h = struct.pack("!HH", flags, proto)
    if flags & 0x8000:
        h += struct.pack("!HH", 0, 0)
    if flags & 0x2000:
        h += struct.pack("!I", 42)
    if flags & 0x1000:
        h += struct.pack("!I", 7)
    return h + payload


def tunnels2():
    p = Pcap()
    t = 1700000200.0
    for i in range(25):
        t += 0.2
        inner = v4("10.5.0.1", "10.5.0.2", 17, udp(8000, 8001, 200 + i))
        p.add(t, ether(inner, 0x0800, tags=((0x88A8, 100), (0x8100, 200))))                 # QinQ
        p.add(t + 0.01, ether(v4("192.0.2.1", "192.0.2.2", 47, gre(0x0800, inner, 0xB000))))  # GRE csum+key+seq
        p.add(t + 0.02, ether(v6(7, 8, 47, gre(0x0800, inner)), 0x86DD))                     # GRE over IPv6
        p.add(t + 0.03, ether(v4("192.0.2.1", "192.0.2.2", 47, gre(0x6558, ether(inner)))))  # TEB
        vx = struct.pack("!BBHI", 0x08, 0, 0, 5000 << 8) + ether(inner)
        p.add(t + 0.04, ether(v4("192.0.2.3", "192.0.2.4", 17, struct.pack("!HHHH", 40000 + i, 4789, 8 + len(vx), 0) + vx)))
        p.add(t + 0.05, ether(v4("192.0.2.5", "192.0.2.6", 41, v6(9, 10, 6, tcp(80, 5555, 300 + i)))))  # 6in4
        p.add(t + 0.06, ether(v6(11, 12, 4, inner), 0x86DD))                                  # 4in6
        quoted = v4("10.5.0.2", "10.5.0.1", 17, udp(8001, 8000, 50))[:28]
        icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
        p.add(t + 0.07, ether(v4("10.5.0.9", "10.5.0.2", 1, icmp)))                          # ICMP error
    nested = v4("10.6.0.1", "10.6.0.2", 17, udp(1, 2, 32))
    for _ in range(10):
        nested = v4("10.6.1.1", "10.6.1.2", 4, nested)
    p.add(t + 1, ether(nested))
    return p


def odd_ip():
    p = Pcap()
    t = 1700000300.0
    p.add(t, ether(v4("10.7.0.1", "10.7.0.2", 17, udp(1000, 2000, 50), total=10)))           # total < header
    p.add(t + 0.1, ether(v4("10.7.0.1", "10.7.0.2", 17, udp(1000, 2000, 50), total=3000)))   # total > frame
    p.add(t + 0.2, ether(v4("10.7.0.1", "10.7.0.2", 17, udp(1000, 2000, 50), ihl=3)))        # IHL < 5
    p.add(t + 0.3, ether(v4("10.7.0.1", "10.7.0.2", 17, struct.pack("!HHHH", 1000, 2000, 0, 0))))  # UDP length 0
    p.add(t + 0.4, ether(v4("10.7.0.1", "10.7.0.2", 6, tcp(1000, 2000, 0)[:10])))             # TCP cut short
    p.add(t + 0.5, ether(v4("10.7.0.1", "10.7.0.2", 6, tcp(0, 0, 20))))                       # port 0
    p.add(t + 0.6, ether(v4("10.7.0.1", "10.7.0.2", 17, udp(1000, 2000, 10), ihl=8, opts=bytes([1] * 12))))
    big = ether(v4("10.7.0.3", "10.7.0.4", 17, udp(3000, 4000, 65507)))
    p.add(t + 0.7, big[:100], orig=len(big))                                                 # 65535 cut to 100
    p.add(t + 0.5, ether(v4("10.7.0.3", "10.7.0.4", 17, udp(3000, 4000, 100))))              # time goes back
    p.add(0.0, ether(v4("10.7.0.3", "10.7.0.4", 17, udp(3000, 4000, 100))))                  # epoch 0
    p.add(4294967295.0, ether(v4("10.7.0.3", "10.7.0.4", 17, udp(3000, 4000, 100))))         # 2106
    p.add(t + 1, ether(b"\x45"))                                                             # 1-byte IP
    p.add(t + 1.1, ether(b"", 0x0800))                                                       # empty IP
    p.add(t + 1.2, MAC2 + MAC1)                                                              # no ethertype
    for i in range(20):                                                                      # a normal flow too
        p.add(t + 2 + i * 0.1, ether(v4("10.7.0.5", "10.7.0.6", 17, udp(5000, 5001, 100 + i))))
    return p


def pcapng_block(btype, body):
    body += b"\0" * ((-len(body)) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def multi_if():
    out = []

    def shb():
        out.append(pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))

    def idb(lt, tsresol=None):
        opts = b""
        if tsresol is not None:
            opts = struct.pack("<HHB", 9, 1, tsresol) + b"\0" * 3 + struct.pack("<HH", 0, 0)
        out.append(pcapng_block(1, struct.pack("<HHI", lt, 0, 65535) + opts))

    def epb(ifc, ts_units, frame):
        out.append(pcapng_block(6, struct.pack("<IIIII", ifc, ts_units >> 32, ts_units & 0xFFFFFFFF,
                                               len(frame), len(frame)) + frame))

    shb()
    idb(1)            # 0: Ethernet, microseconds
    idb(101)          # 1: raw IP
    idb(113, 9)       # 2: Linux SLL, nanoseconds
    idb(0)            # 3: BSD loopback (NULL)
    t_us = 1700000400 * 1000000
    for i in range(60):
        ip = v4("10.8.0.1", "10.8.0.2", 17, udp(9000, 9001, 100 + 7 * i))
        ifc = i % 4
        t = t_us + i * 50000
        if ifc == 0:
            epb(0, t, ether(ip))
        elif ifc == 1:
            epb(1, t, ip)
        elif ifc == 2:
            epb(2, t * 1000, struct.pack("!HHH8sH", 0, 1, 6, MAC1 + b"\0\0", 0x0800) + ip)
        else:
            epb(3, t, struct.pack("<I", 2) + ip)
    # second section: one Ethernet interface, a TCP flow
    shb()
    idb(1)
    for i in range(20):
        epb(0, t_us + 10000000 + i * 100000, ether(v4("10.8.1.1", "10.8.1.2", 6, tcp(1234, 80, 50 * i, seq=1 + 50 * i))))
    return b"".join(out)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures")
    os.makedirs(outdir, exist_ok=True)
    for name, make in (("ipv6_ext.pcap", ipv6_ext), ("fragments.pcap", fragments),
                       ("tunnels2.pcap", tunnels2), ("odd_ip.pcap", odd_ip)):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(make().bytes())
    with open(os.path.join(outdir, "multi_if.pcapng"), "wb") as f:
        f.write(multi_if())


if __name__ == "__main__":
    main()
