#!/usr/bin/python3
"""Loopback traffic for the live-capture test (tests/plugin/test_live.sh).

    live_traffic.py SECONDS

For SECONDS seconds (at most 60) on 127.0.0.1: a call-like UDP flow (200-byte
datagrams, 50 per second, port 40000 -> 40001) and a bulk TCP transfer
(1400-byte writes every 10 ms, port 40002). Bounded in time and count; it
sends only to this machine's loopback and stops by itself.
"""
import socket
import sys
import threading
import time


def udp_call(until):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 40001))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 40000))
    payload = bytes(172)                      # 200 bytes with the IP and UDP headers
    while time.monotonic() < until:
        tx.sendto(payload, ("127.0.0.1", 40001))
        try:
            while rx.recv(2048):
                pass
        except BlockingIOError:
            pass
        time.sleep(0.02)
    tx.close()
    rx.close()


def tcp_bulk(until):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 40002))
    srv.listen(1)

    def sink():
        conn, _ = srv.accept()
        conn.settimeout(1.0)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()

    t = threading.Thread(target=sink, daemon=True)
    t.start()
    cli = socket.create_connection(("127.0.0.1", 40002), timeout=2.0)
    chunk = bytes(1400)
    while time.monotonic() < until:
        cli.sendall(chunk)
        time.sleep(0.01)
    cli.close()
    t.join(2.0)
    srv.close()


def main():
    seconds = min(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, 60.0)
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=f, args=(until,)) for f in (udp_call, tcp_bulk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5.0)


if __name__ == "__main__":
    main()
