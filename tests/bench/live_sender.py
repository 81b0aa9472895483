#!/usr/bin/python3
"""UDP traffic at a stated packet rate, for tests/bench/bench_live.sh.

    live_sender.py --rate PPS --seconds S [--flows N] [--port P]

Sends to 127.0.0.1 only (run it in the benchmark's own network namespace):
N flows (source ports P+1 .. P+N, all to port P), round robin, payload sizes
cycling through 60..1360 bytes, paced in 1 ms slices. Prints the packets it
sent and the rate it achieved (Python may not reach a high rate: the rate
achieved is the one to state). Bounded: at most 120 s and 200,000 pps.
"""
import argparse
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--port", type=int, default=41000)
    a = ap.parse_args()
    rate = min(a.rate, 200000.0)
    seconds = min(a.seconds, 120.0)
    socks = []
    for i in range(a.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", a.port + 1 + i))
        socks.append(s)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", a.port))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    payloads = [bytes(60 + (k * 130) % 1300) for k in range(11)]
    dst = ("127.0.0.1", a.port)
    start = time.monotonic()
    end = start + seconds
    sent = 0
    k = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - start) * rate) + 1
        while sent < due:
            try:
                socks[k % len(socks)].sendto(payloads[k % len(payloads)], dst)
            except OSError:
                pass                      # a full socket buffer: the kernel drops it, not our count
            k += 1
            sent += 1
        time.sleep(0.001)
    took = time.monotonic() - start
    print(f"sent {sent} packets in {took:.2f} s: {sent / took:.0f} pps over {len(socks)} flows")


if __name__ == "__main__":
    main()
