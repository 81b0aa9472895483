#!/usr/bin/python3
"""Synthetic benchmark captures for TrafficTriage (stdlib only, deterministic).

  make_capture.py --packets N --out FILE [--seed S] [--mode mix|concurrent]
                  [--flows F] [--duration SEC] [--snaplen BYTES]

mode mix (default): realistic flow sizes over --duration seconds (default 600):
  - many short flows: DNS-like UDP exchanges (2-4 packets), short TCP
    connections (handshake, a few requests, FIN: 7-20 packets);
  - some medium flows: browsing-like TCP/443 and QUIC-like UDP/443 bursts
    (50-1,500 packets over 5-90 s), VoIP-like RTP (50 pps each way, 10-120 s);
  - a few long heavy flows: video streaming and file transfers (thousands to
    tens of thousands of MTU-size packets, ACKs upstream);
  IPv4 and IPv6 (about 70/30), TCP and UDP. Heavy flows carry about 60% of the
  packets, medium about 25%, short flows about 15% (but are most of the flows).
  Flows are generated until each share is reached, so the file holds N or a
  little more packets (never fewer); nothing is cut at the end.
mode concurrent: --flows F distinct 5-tuples, all open at once, N packets
  spread round-robin (in a shuffled order) over --duration seconds (default
  50 s: below every model's idle timeout), so exactly min(F, N) flows are
  concurrently alive; sizes bimodal (ACK-like / MTU-like) plus uniform.

Packets are Ethernet + IPv4/IPv6 + TCP/UDP with zero payload, truncated to
--snaplen (default 96) bytes as a capture with a snap length would be: the IP
length field holds the real size (what TrafficTriage reads), the file stays
small. Output is classic pcap (microsecond timestamps). The same arguments
give the same bytes.
"""
import argparse
import heapq
import random
import struct
import sys

ETH_V4 = b"\x00\x16\x3e\x00\x00\x02" + b"\x00\x16\x3e\x00\x00\x01" + b"\x08\x00"
ETH_V6 = b"\x00\x16\x3e\x00\x00\x02" + b"\x00\x16\x3e\x00\x00\x01" + b"\x86\xdd"
T0 = 1700000000.0
MTU_V4 = 1500
TCP, UDP = 6, 17


class Flow:
    """One bidirectional connection: a 5-tuple and TCP sequence state."""
    __slots__ = ("v6", "proto", "cli", "srv", "cport", "sport", "seq", "hdr")

    def __init__(self, rng, idx, v6, proto, sport):
        self.v6 = v6
        self.proto = proto
        if v6:
            self.cli = b"\x20\x01\x0d\xb8\x00\x01" + struct.pack(">IIH", 0, idx & 0xFFFFFFFF, 1)
            self.srv = b"\x20\x01\x0d\xb8\x00\x02" + struct.pack(">IIH", 0, rng.randrange(1, 5000), 1)
        else:
            # clients in 10.0.0.0/8 (idx spreads over it), servers in 198.18.0.0/15
            self.cli = struct.pack(">I", (10 << 24) | (idx // 50000 + 1) << 8 | (idx % 250 + 1))
            self.srv = struct.pack(">I", (198 << 24) | (18 << 16) | rng.randrange(1, 1 << 16))
        self.cport = 32768 + (idx * 7 + rng.randrange(0, 7)) % 28000
        self.sport = sport
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]


def packet(fl, up, ip_len, flags, snaplen):
    """Frame bytes (truncated to snaplen) and the original length."""
    src, dst = (fl.cli, fl.srv) if up else (fl.srv, fl.cli)
    sp, dp = (fl.cport, fl.sport) if up else (fl.sport, fl.cport)
    l4len = 20 if fl.proto == TCP else 8
    iph = 40 if fl.v6 else 20
    ip_len = max(ip_len, iph + l4len)
    payload = ip_len - iph - l4len
    if fl.proto == TCP:
        d = 0 if up else 1
        seq = fl.seq[d]
        ack = fl.seq[1 - d]
        adv = payload + (1 if flags & 0x03 else 0)   # SYN / FIN take one
        fl.seq[d] = (seq + adv) & 0xFFFFFFFF
        l4 = struct.pack(">HHIIBBHHH", sp, dp, seq, ack if flags & 0x10 else 0, 5 << 4, flags, 64240, 0, 0)
    else:
        # the payload is zeros: the checksum covers the pseudo-header and the UDP header
        ulen = 8 + payload
        words = src + dst + struct.pack(">HHHHH", UDP, ulen, sp, dp, ulen)
        s = sum(struct.unpack(">%dH" % (len(words) // 2), words))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        l4 = struct.pack(">HHHH", sp, dp, ulen, (~s & 0xFFFF) or 0xFFFF)
    if fl.v6:
        ip = struct.pack(">IHBB", 6 << 28, ip_len - 40, fl.proto, 64) + src + dst
        eth = ETH_V6
    else:
        ip = struct.pack(">BBHHHBBH", 0x45, 0, ip_len, 0, 0x4000, 64, fl.proto, 0) + src + dst
        eth = ETH_V4
    frame = eth + ip + l4
    orig = 14 + ip_len
    cap = min(orig, snaplen)
    if cap > len(frame):
        frame += bytes(cap - len(frame))
    return frame[:cap], orig


# ---- flow shapes: each returns a list of (t, up, ip_len, tcp_flags) -----------------

def tcp_open(t, rng):
    rtt = rng.uniform(0.005, 0.12)
    return [(t, True, 60, 0x02), (t + rtt, False, 60, 0x12), (t + rtt * 1.05, True, 52, 0x10)], t + rtt * 1.1, rtt


def tcp_close(t, rtt):
    return [(t, True, 52, 0x11), (t + rtt, False, 52, 0x11), (t + rtt * 1.02, True, 52, 0x10)]


def shape_dns(t, rng):
    out = [(t, True, rng.randint(60, 90), 0), (t + rng.uniform(0.002, 0.08), False, rng.randint(90, 400), 0)]
    if rng.random() < 0.3:   # a second query (AAAA after A)
        t2 = t + rng.uniform(0.001, 0.01)
        out += [(t2, True, rng.randint(60, 90), 0), (t2 + rng.uniform(0.002, 0.08), False, rng.randint(90, 400), 0)]
    return out


def shape_short_tcp(t, rng):
    out, t, rtt = tcp_open(t, rng)
    for _ in range(rng.randint(0, 4)):   # request / response pairs
        out.append((t, True, rng.randint(200, 900), 0x18))
        t += rtt
        out.append((t, False, rng.randint(100, 1500), 0x18))
        t += rng.uniform(0.01, 0.5)
    out += tcp_close(t, rtt)
    return out


def shape_browsing(t, rng, n):
    out, t, rtt = tcp_open(t, rng)
    while len(out) < n - 3:
        out.append((t, True, rng.randint(300, 1200), 0x18))
        t += rtt
        burst = rng.randint(2, 60)
        for i in range(burst):
            out.append((t, False, 1500 if i < burst - 1 else rng.randint(100, 1500), 0x10))
            if i % 2:
                out.append((t + 0.0005, True, 52, 0x10))
            t += rng.uniform(0.0002, 0.003)
        t += rng.expovariate(1 / 2.0)   # think time
    out += tcp_close(t, rtt)
    return out


def shape_quic(t, rng, n):
    out = []
    while len(out) < n:
        out.append((t, True, rng.randint(80, 1350), 0))
        t += rng.uniform(0.01, 0.1)
        for i in range(rng.randint(2, 40)):
            out.append((t, False, 1280 + rng.randint(0, 72), 0))
            if i % 3 == 2:
                out.append((t + 0.0004, True, rng.randint(60, 90), 0))
            t += rng.uniform(0.0002, 0.004)
        t += rng.expovariate(1 / 1.5)
    return out


def shape_voip(t, rng, seconds):
    out = []
    size = rng.choice([100, 132, 200, 214])
    for k in range(int(seconds * 50)):
        tt = t + k * 0.02
        out.append((tt + rng.uniform(0, 0.002), True, size, 0))
        out.append((tt + 0.01 + rng.uniform(0, 0.004), False, size, 0))
    return out


def shape_video(t, rng, n, proto):
    """Chunked streaming: every 2-6 s a burst of MTU packets at line rate."""
    out, t, rtt = tcp_open(t, rng) if proto == TCP else ([], t, 0.03)
    chunk = rng.randint(150, 900)
    while len(out) < n:
        out.append((t, True, rng.randint(400, 1000), 0x18 if proto == TCP else 0))
        t += rng.uniform(0.02, 0.1)
        for i in range(min(chunk, n - len(out))):
            out.append((t, False, 1500 if proto == TCP else 1350, 0x10 if proto == TCP else 0))
            if i % 2:
                out.append((t + 0.0002, True, 52 if proto == TCP else 80, 0x10 if proto == TCP else 0))
            t += rng.uniform(0.00005, 0.0008)
        t += rng.uniform(2.0, 6.0)
    return out


def shape_transfer(t, rng, n):
    out, t, rtt = tcp_open(t, rng)
    rate = rng.uniform(800, 8000)   # packets/s
    i = 0
    while len(out) < n - 3:
        out.append((t, False, 1500, 0x10))
        if i % 2:
            out.append((t + 0.0001, True, 52, 0x10))
        t += rng.expovariate(rate)
        i += 1
    out += tcp_close(t, rtt)
    return out


def gen_mix(rng, target, duration):
    """(packet list per flow, flow descriptors) summing to about target packets."""
    flows = []
    budget = {"heavy": 0.60 * target, "medium": 0.25 * target, "short": 0.15 * target}

    idx = 0
    for kind in ("heavy", "medium", "short"):
        left = budget[kind]
        while left > 0:
            v6 = rng.random() < 0.3
            if kind == "short":
                if rng.random() < 0.55:
                    proto, sport, pk = UDP, 53, shape_dns(0.0, rng)
                else:
                    proto, sport, pk = TCP, rng.choice([443, 80, 443, 8443]), shape_short_tcp(0.0, rng)
            elif kind == "medium":
                u = rng.random()
                n = int(rng.lognormvariate(5.0, 0.9)) + 20   # median ~170, tail to ~1,500
                n = min(n, 1500)
                if u < 0.55:
                    proto, sport, pk = TCP, 443, shape_browsing(0.0, rng, n)
                elif u < 0.8:
                    proto, sport, pk = UDP, 443, shape_quic(0.0, rng, n)
                else:
                    secs = rng.uniform(10, 120)
                    proto, sport, pk = UDP, rng.randrange(16384, 32768), shape_voip(0.0, rng, secs)
            else:
                n = int(rng.uniform(2000, 30000))
                n = int(min(n, max(left, 1000)))
                u = rng.random()
                if u < 0.45:
                    proto, sport, pk = TCP, 443, shape_video(0.0, rng, n, TCP)
                elif u < 0.7:
                    proto, sport, pk = UDP, 443, shape_video(0.0, rng, n, UDP)
                else:
                    proto, sport, pk = TCP, rng.choice([443, 443, 80]), shape_transfer(0.0, rng, n)
            span = max(e[0] for e in pk)
            off = rng.uniform(0, max(duration - span, 0.0))
            pk = [(t + off, up, ln, fg) for t, up, ln, fg in pk]
            flows.append((Flow(rng, idx, v6, proto, sport), pk))
            idx += 1
            left -= len(pk)
    return flows


def write_pcap(path, events, snaplen, limit):
    """events: iterable of (t, flow, up, ip_len, flags) in time order."""
    n = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        for t, fl, up, ip_len, flags in events:
            if n >= limit:
                break
            frame, orig = packet(fl, up, ip_len, flags, snaplen)
            ts = T0 + t
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(frame), orig))
            f.write(frame)
            n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=("mix", "concurrent"), default="mix")
    ap.add_argument("--flows", type=int, default=1000, help="concurrent mode: number of flows")
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--snaplen", type=int, default=96)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    if a.mode == "mix":
        dur = a.duration or 600.0
        flows = gen_mix(rng, a.packets, dur)

        def streams():
            for fl, pk in flows:
                pk.sort(key=lambda e: e[0])
                yield [(t, id(fl), fl, up, ln, fg) for t, up, ln, fg in pk]
        merged = heapq.merge(*streams(), key=lambda e: (e[0], e[1]))
        events = ((t, fl, up, ln, fg) for t, _, fl, up, ln, fg in merged)
        nflows = len(flows)
    else:
        dur = a.duration or 50.0
        nflows = min(a.flows, a.packets)
        fls = [Flow(rng, i, rng.random() < 0.3, TCP if rng.random() < 0.6 else UDP, 443) for i in range(nflows)]
        order = list(range(nflows))
        rng.shuffle(order)

        def conc():
            step = dur / a.packets
            for k in range(a.packets):
                fl = fls[order[k % nflows]]
                u = rng.random()
                size = (rng.randint(40, 80) if u < 0.4 else rng.randint(1200, 1500) if u < 0.75
                        else rng.randint(40, 1500))
                yield k * step, fl, rng.random() < 0.3, size, 0x10
        events = conc()

    n = write_pcap(a.out, events, a.snaplen, a.packets if a.mode == "concurrent" else 1 << 62)
    print(f"{a.out}: {n} packets, {nflows} connections (x2 directions), mode {a.mode}, seed {a.seed}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
