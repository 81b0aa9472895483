#!/usr/bin/python3
"""Write the small, deterministic captures of the `traffictriage label` tests.

Needs Debian's python3-scapy (apt install python3-scapy); the captures are
committed, so the tests themselves do not. Run:
    /usr/bin/python3 tests/label/make_fixtures.py [OUTDIR]   (default: tests/label/captures)
The same inputs always give the same bytes (fixed times, fixed seed).
Documentation addresses only (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).

  rtp-call.pcap      a SIP call set-up and tear-down on UDP 5060 (signalling: left out),
                     4 s of G.711 RTP both ways (payload type 0, 20 ms: voip) and 1.5 s
                     of H.263 RTP one way (payload type 34: video)
  https-page.pcap    a DNS lookup (left out), then a page load: TCP handshake, a TLS
                     ClientHello naming www.wikipedia.org, ServerHello, ~40 kB of
                     application data, FIN (nDPI: TLS.Wikipedia, Web: browsing)
  ftp-download.pcap  an FTP session: control connection on 21 (left out) and a passive
                     data connection carrying a 60 kB zip file (FTP_DATA: file_transfer)
  dns-only.pcap      DNS lookups and an NTP exchange only: nothing maps to a class
"""
import os
import random
import struct
import sys

from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, Ether, Raw, wrpcap  # noqa: E402
from scapy.layers.tls.all import (TLS, ServerName, TLS_Ext_ServerName,  # noqa: E402
                                  TLSClientHello, TLSServerHello)

T0 = 1700000000.0
CLIENT, SERVER, RESOLVER = "192.0.2.10", "198.51.100.20", "203.0.113.53"
MAC_C, MAC_S = "02:00:00:00:00:01", "02:00:00:00:00:02"


def frame(t, src, dst, l4):
    """One Ethernet frame at time t (client frames go from MAC_C)."""
    macs = (MAC_C, MAC_S) if src == CLIENT else (MAC_S, MAC_C)
    p = Ether(src=macs[0], dst=macs[1]) / IP(src=src, dst=dst, id=0, ttl=64) / l4
    p.time = t
    return p


class Tcp:
    """A TCP connection with consistent sequence and acknowledgement numbers."""

    def __init__(self, out, client_port, server, server_port, t):
        self.out, self.cp, self.server, self.sp, self.t = out, client_port, server, server_port, t
        self.seq = {CLIENT: 1000, server: 500000}

    def send(self, src, flags, payload=b"", dt=0.001):
        dst = self.server if src == CLIENT else CLIENT
        sport, dport = (self.cp, self.sp) if src == CLIENT else (self.sp, self.cp)
        ack = self.seq[dst] if "A" in flags else 0
        l4 = TCP(sport=sport, dport=dport, seq=self.seq[src], ack=ack, flags=flags, window=65535)
        if payload:
            l4 = l4 / Raw(payload)
        self.t += dt
        self.out.append(frame(self.t, src, dst, l4))
        self.seq[src] += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)

    def open(self):
        self.send(CLIENT, "S", dt=0.0)
        self.send(self.server, "SA", dt=0.020)
        self.send(CLIENT, "A", dt=0.020)

    def bulk(self, src, data, seg=1400, dt=0.002):
        """data from src in segments, the other side acknowledging every second one."""
        other = self.server if src == CLIENT else CLIENT
        for i in range(0, len(data), seg):
            self.send(src, "PA", data[i:i + seg], dt=dt)
            if (i // seg) % 2 == 1:
                self.send(other, "A", dt=0.0005)

    def close(self):
        self.send(CLIENT, "FA", dt=0.010)
        self.send(self.server, "FA", dt=0.020)
        self.send(CLIENT, "A", dt=0.020)


def udp(out, t, src, sport, dst, dport, payload):
    out.append(frame(t, src, dst, UDP(sport=sport, dport=dport) / Raw(payload)))


def dns_lookup(out, t, name, port):
    q = DNS(id=port, rd=1, qd=DNSQR(qname=name))
    a = DNS(id=port, qr=1, rd=1, ra=1, qd=DNSQR(qname=name), an=DNSRR(rrname=name, ttl=60, rdata=SERVER))
    out.append(frame(t, CLIENT, RESOLVER, UDP(sport=port, dport=53) / q))
    out.append(frame(t + 0.015, RESOLVER, CLIENT, UDP(sport=53, dport=port) / a))


def sip(method_or_status, call_id, cseq):
    if method_or_status[0].isdigit():
        start = "SIP/2.0 " + method_or_status                      # a response
    else:
        start = "%s sip:bob@198.51.100.20 SIP/2.0" % method_or_status  # a request
    body = ("%s\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK%s\r\nFrom: <sip:alice@192.0.2.10>;tag=1\r\n"
            "To: <sip:bob@198.51.100.20>\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n"
            % (start, call_id, call_id, cseq))
    return body.encode()


def rtp(pt, seq, ts, ssrc, payload):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def rtp_call():
    out = []
    t = T0
    for i, (src, msg) in enumerate([(CLIENT, "INVITE"), (SERVER, "100 Trying"), (SERVER, "180 Ringing"),
                                    (SERVER, "200 OK"), (CLIENT, "ACK")]):
        dst = SERVER if src == CLIENT else CLIENT
        udp(out, t + 0.05 * i, src, 5060, dst, 5060, sip(msg, "call1", "1 INVITE"))
    t += 0.3
    for i in range(200):                       # 4 s of G.711 both ways, 20 ms apart
        udp(out, t + 0.02 * i, CLIENT, 40000, SERVER, 50000, rtp(0, i, 160 * i, 0x1111, bytes([0xD5]) * 160))
        udp(out, t + 0.02 * i + 0.007, SERVER, 50000, CLIENT, 40000, rtp(0, 7 + i, 160 * i, 0x2222, bytes([0x55]) * 160))
    for i in range(45):                        # 1.5 s of H.263 video one way, 30 frames/s
        udp(out, t + 1.0 + i / 30.0, CLIENT, 40002, SERVER, 50002, rtp(34, i, 3000 * i, 0x3333, bytes([0x10]) * 800))
    t += 4.1
    for i, (src, msg) in enumerate([(CLIENT, "BYE"), (SERVER, "200 OK")]):
        dst = SERVER if src == CLIENT else CLIENT
        udp(out, t + 0.05 * i, src, 5060, dst, 5060, sip(msg, "call1", "2 BYE"))
    return out


def https_page(rng):
    out = []
    dns_lookup(out, T0, "www.wikipedia.org", 33000)
    c = Tcp(out, 43000, SERVER, 443, T0 + 0.05)
    c.open()
    hello = TLS(msg=[TLSClientHello(gmt_unix_time=0, random_bytes=b"\x01" * 28, ciphers=[0x1301, 0xC02F],
                                    ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=b"www.wikipedia.org")])])])
    c.send(CLIENT, "PA", bytes(hello), dt=0.001)
    shello = TLS(msg=[TLSServerHello(gmt_unix_time=0, random_bytes=b"\x02" * 28, cipher=0xC02F)])
    c.send(SERVER, "PA", bytes(shello), dt=0.025)
    c.send(CLIENT, "PA", b"\x17\x03\x03\x01\x00" + bytes(rng.getrandbits(8) for _ in range(256)), dt=0.002)
    body = b""
    while len(body) < 40000:                   # the page and its resources: TLS application data
        rec = bytes(rng.getrandbits(8) for _ in range(4000))
        body += b"\x17\x03\x03" + struct.pack("!H", len(rec)) + rec
    c.bulk(SERVER, body, dt=0.003)
    c.close()
    return out


def ftp_download(rng):
    out = []
    ctl = Tcp(out, 41000, SERVER, 21, T0)
    ctl.open()
    talk = [(SERVER, b"220 FTP server ready\r\n"), (CLIENT, b"USER anonymous\r\n"),
            (SERVER, b"331 Please specify the password.\r\n"), (CLIENT, b"PASS guest@\r\n"),
            (SERVER, b"230 Login successful.\r\n"), (CLIENT, b"TYPE I\r\n"),
            (SERVER, b"200 Switching to Binary mode.\r\n"), (CLIENT, b"PASV\r\n"),
            (SERVER, b"227 Entering Passive Mode (198,51,100,20,195,80).\r\n"),
            (CLIENT, b"RETR archive.zip\r\n"),
            (SERVER, b"150 Opening BINARY mode data connection for archive.zip (60000 bytes).\r\n")]
    for src, line in talk:
        ctl.send(src, "PA", line, dt=0.02)
    data = Tcp(out, 41001, SERVER, 50000, ctl.t + 0.001)
    data.open()
    payload = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(rng.getrandbits(8) for _ in range(60000 - 10))
    data.bulk(SERVER, payload, dt=0.001)
    data.close()
    ctl.t = data.t
    ctl.send(SERVER, "PA", b"226 Transfer complete.\r\n", dt=0.01)
    ctl.send(CLIENT, "PA", b"QUIT\r\n", dt=0.02)
    ctl.send(SERVER, "PA", b"221 Goodbye.\r\n", dt=0.02)
    ctl.close()
    return out


def dns_only():
    out = []
    for i, name in enumerate(["example.org", "example.com", "example.net"]):
        dns_lookup(out, T0 + i, name, 34000 + i)
    ntp = b"\x23" + b"\x00" * 47
    udp(out, T0 + 5, CLIENT, 123, RESOLVER, 123, ntp)
    udp(out, T0 + 5.02, RESOLVER, 123, CLIENT, 123, b"\x24" + b"\x00" * 47)
    return out


def main(argv):
    outdir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures")
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(18)
    for name, pkts in [("rtp-call.pcap", rtp_call()), ("https-page.pcap", https_page(rng)),
                       ("ftp-download.pcap", ftp_download(rng)), ("dns-only.pcap", dns_only())]:
        pkts.sort(key=lambda p: p.time)
        path = os.path.join(outdir, name)
        wrpcap(path, pkts)
        print("%s: %d packets, %d bytes" % (path, len(pkts), os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
