#!/usr/bin/python3
"""Generate large captures for the bounded-memory checks (standard library only).

  gen_big_capture.py flows N OUT.pcap    N UDP/IPv4 flows of 2 packets each (2N frames),
                                         all within N * 10 us, so every flow is still
                                         open (idle timeout) when the table fills up
  gen_big_capture.py single N OUT.pcap   one UDP flow of N packets, 1 ms apart,
                                         sizes cycling 60..1500
Frames are Ethernet + IPv4 + UDP, captured with snaplen 64 (the IP total
length still gives the real size, as in tests/captures/snap68.pcap), so the
files stay small. Deterministic. Keep the output outside the repository
(/var/tmp): 1M flows is ~150 MB, 10M packets ~800 MB.
"""
import struct
import sys

T0 = 1700000000
SNAPLEN = 64   # frames are cut to 64 bytes; the IP length field keeps the real size


def frame(src, dst, sport, dport, payload):
    udp_len = 8 + payload
    total = 20 + udp_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0, src, dst)
    return (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip
            + struct.pack("!HHHH", sport, dport, udp_len, 0) + bytes(payload))


def write(out, records):
    with open(out, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))
        buf = []
        for usec_total, fr in records:
            sec, usec = divmod(usec_total, 1000000)
            cap = fr[:SNAPLEN]
            buf.append(struct.pack("<IIII", T0 + sec, usec, len(cap), len(fr)))
            buf.append(cap)
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def flows(n):
    dst = bytes([192, 168, 0, 1])
    lag = 100

    def pkt(i, second):
        src = struct.pack("!I", 0x0A000000 + (i >> 6))       # 10.x.y.z
        sport = 1024 + (i & 63)
        return frame(src, dst, sport, 443, 18 if not second else 6)
    for i in range(n + lag):
        if i < n:
            yield i * 10, pkt(i, False)
        j = i - lag
        if j >= 0:
            yield j * 10 + lag * 10 + 5, pkt(j, True)


def single(n):
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    templates = [frame(src, dst, 5004, 5004, p) for p in range(18, 1473, 97)]
    for i in range(n):
        yield i * 1000, templates[i % len(templates)]


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("flows", "single"):
        sys.exit(__doc__)
    n = int(sys.argv[2])
    write(sys.argv[3], flows(n) if sys.argv[1] == "flows" else single(n))


if __name__ == "__main__":
    main()
