"""TrafficTriage traffic lab: isolated namespaces, WAN emulation, capture, manifest.

One `Lab` object is one session's private network:

    client (c) --veth-- router (r) --veth-- server (s)
                          |
                          +--veth-- tor (t)      (only for tunnel=tor)

Addresses exist only on these veths (plus service addresses on the server's
loopback); every namespace has `unreachable default`, so nothing can leave the
namespaces.  Namespace names carry a per-session tag, interface names live only
inside the namespaces, so any number of sessions can run side by side.

Must run as root, with Debian's /usr/bin/python3.
"""
import json
import os
import signal
import struct
import subprocess
import time

LAB_DIR = os.path.dirname(os.path.abspath(__file__))

CLIENT_IP = "10.10.1.2"
ROUTER_C_IP = "10.10.1.1"
SERVER_IP = "10.10.2.2"          # server's veth address (VPN endpoint lives here)
ROUTER_S_IP = "10.10.2.1"
TOR_NET = "10.10.3"              # tor namespace: .2-.6 relays, router .1
ROUTER_T_IP = "10.10.3.1"
SERVICE_NET = "10.20.0"          # app services: 10.20.0.1 .. 10.20.0.9 on server lo
DNS_IP = "10.20.0.9"             # the lab's DNS server (dnsmasq, browsing sessions)
VPN_CLIENT_IP = "10.8.0.2"
VPN_SERVER_IP = "10.8.0.1"


def svc(n):
    """Address of application service number n (1..9) on the server."""
    return "%s.%d" % (SERVICE_NET, n)


def run(cmd, check=True, timeout=60, **kw):
    """Run a command (list), return CompletedProcess; raise with its output on failure."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return p


class Lab:
    def __init__(self, tag, workdir, tunnel="none", log=None):
        self.tag = tag
        self.workdir = workdir
        self.tunnel = tunnel
        self.procs = []              # (name, Popen), started by us, killed at teardown
        self.netns = []
        self.netns_files = []
        self.logf = log
        os.makedirs(workdir, exist_ok=True)

    # ------------------------------------------------------------ helpers
    def ns(self, role):
        return "tt%s%s" % (self.tag, role)

    def log(self, msg):
        line = "%s [%s] %s" % (time.strftime("%H:%M:%S"), self.tag, msg)
        if self.logf:
            self.logf.write(line + "\n")
            self.logf.flush()

    def sh(self, role, cmd, check=True, timeout=60, **kw):
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        return run(["ip", "netns", "exec", self.ns(role)] + cmd, check=check, timeout=timeout, **kw)

    def spawn(self, role, argv, name, env=None, user=None, stdin=None, cwd=None):
        """Start a long-running process inside namespace `role`; output to workdir/log/name.log."""
        logdir = os.path.join(self.workdir, "log")
        os.makedirs(logdir, exist_ok=True)
        out = open(os.path.join(logdir, name + ".log"), "ab")
        pre = ["ip", "netns", "exec", self.ns(role)]
        if user:
            pre += ["runuser", "-u", user, "--"]
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen(pre + list(argv), stdout=out, stderr=subprocess.STDOUT,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             env=e, cwd=cwd, start_new_session=True)
        out.close()
        self.procs.append((name, p))
        self.log("spawned %s pid %d: %s" % (name, p.pid, " ".join(argv)[:200]))
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=5.0):
        """Stop one process we started (its own process group, by id)."""
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    # ------------------------------------------------------------ topology
    def setup(self):
        roles = ["c", "r", "s"] + (["t"] if self.tunnel == "tor" else [])
        for r in roles:
            run(["ip", "netns", "add", self.ns(r)])
            self.netns.append(self.ns(r))
            self.sh(r, "ip link set lo up; "
                       "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        # veth pairs created directly inside the namespaces (no host-side names)
        pairs = [("c", "c0", "rc"), ("s", "s0", "rs")]
        if self.tunnel == "tor":
            pairs.append(("t", "t0", "rt"))
        for role, inner, outer in pairs:
            run(["ip", "link", "add", inner, "netns", self.ns(role), "type", "veth",
                 "peer", "name", outer, "netns", self.ns("r")])
            for rr, dev in ((role, inner), ("r", outer)):
                # no offloads: captures must show wire-sized frames, not 64 KB super-packets
                self.sh(rr, ["ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off",
                             "tx", "off", "rx", "off"], check=False)
                self.sh(rr, ["ip", "link", "set", dev, "up"])
        self.sh("c", "ip addr add %s/24 dev c0" % CLIENT_IP)
        self.sh("r", "ip addr add %s/24 dev rc; ip addr add %s/24 dev rs" % (ROUTER_C_IP, ROUTER_S_IP))
        self.sh("s", "ip addr add %s/24 dev s0" % SERVER_IP)
        for n in range(1, 10):
            self.sh("s", "ip addr add %s/32 dev lo" % svc(n))
        # name resolution inside the namespaces: only the lab's DNS server (and no host
        # /etc/hosts entries); `ip netns exec` bind-mounts these files over /etc/
        for role in ("c", "t") if self.tunnel == "tor" else ("c",):
            d = "/etc/netns/%s" % self.ns(role)
            os.makedirs(d, exist_ok=True)
            self.netns_files.append(d)
            with open(d + "/resolv.conf", "w") as f:
                f.write("nameserver %s\noptions timeout:2 attempts:2\n" % DNS_IP)
            with open(d + "/hosts", "w") as f:
                f.write("127.0.0.1 localhost\n")
        # routes: lab subnets only, unreachable default everywhere
        self.sh("c", "ip route add 10.10.2.0/24 via %s; ip route add 10.10.3.0/24 via %s; "
                     "ip route add unreachable default" % (ROUTER_C_IP, ROUTER_C_IP))
        if self.tunnel == "none":
            self.sh("c", "ip route add %s.0/24 via %s" % (SERVICE_NET, ROUTER_C_IP))
        # with vpn the service net is routed into the tunnel by openvpn; with tor the
        # client has no route to it at all, so only Tor can reach the services
        self.sh("s", "ip route add 10.10.1.0/24 via %s; ip route add 10.10.3.0/24 via %s; "
                     "ip route add unreachable default" % (ROUTER_S_IP, ROUTER_S_IP))
        self.sh("r", "sysctl -qw net.ipv4.ip_forward=1; ip route add %s.0/24 via %s; "
                     "ip route add unreachable default" % (SERVICE_NET, SERVER_IP))
        if self.tunnel == "tor":
            self.sh("r", "ip addr add %s/24 dev rt" % ROUTER_T_IP)
            self.sh("t", "ip addr add %s.2/24 dev t0" % TOR_NET)
            for i in range(3, 8):
                self.sh("t", "ip addr add %s.%d/24 dev t0" % (TOR_NET, i))
            self.sh("t", "ip route add 10.10.1.0/24 via %s; ip route add 10.10.2.0/24 via %s; "
                         "ip route add %s.0/24 via %s; ip route add unreachable default"
                    % (ROUTER_T_IP, ROUTER_T_IP, SERVICE_NET, ROUTER_T_IP))
        self.log("topology up (%s)" % ",".join(self.netns))

    # ------------------------------------------------------------ WAN emulation
    def wan(self, cond, seed):
        """tbf rate limits on the router plus tt-delay (one-way delay, jitter, loss)
        on a TUN device that policy routing puts into every forwarded path."""
        def tbf(dev, mbit):
            rate_bytes = mbit * 1e6 / 8
            burst = max(4000, int(rate_bytes / 250))          # >= one timer tick of data
            self.sh("r", ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                          "%dkbit" % int(mbit * 1000), "burst", str(burst), "latency",
                          "%dms" % cond.get("queue_ms", 50)])
        tbf("rc", cond["down_mbit"])
        tbf("rs", cond["up_mbit"])
        if self.tunnel == "tor":
            tbf("rt", cond["up_mbit"])
        if cond["delay_ms"] > 0 or cond["loss_pct"] > 0:
            binp = delay_binary()
            # higher priority than the apps: its timing is the emulated network's
            p = self.spawn("r", ["nice", "-n", "-15", binp, "-i", "dl0", "-d", "%.3f" % cond["delay_ms"],
                                 "-j", "%.3f" % cond["jitter_ms"], "-l", "%.4f" % cond["loss_pct"],
                                 "-s", str(seed)], "tt-delay")
            for _ in range(100):
                if self.sh("r", "ip link show dl0", check=False).returncode == 0:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("tt-delay did not create its TUN device")
            ifs = ["rc", "rs"] + (["rt"] if self.tunnel == "tor" else [])
            cmds = ["ip link set dl0 up", "ip route add default dev dl0 table 100",
                    "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0",
                    "sysctl -qw net.ipv4.conf.dl0.rp_filter=0"]
            for i in ifs:
                cmds.append("ip rule add iif %s lookup 100 pref 100" % i)
            self.sh("r", "; ".join(cmds))
        self.log("wan: %s" % json.dumps(cond))

    # ------------------------------------------------------------ capture
    def start_capture(self, path, iface="c0", snaplen=128):
        self.cap_path = path
        self.cap = self.spawn("c", ["dumpcap", "-q", "-i", iface, "-s", str(snaplen), "-w", path],
                              "dumpcap")
        for _ in range(100):
            if os.path.exists(path) and os.path.getsize(path) > 0:
                break
            time.sleep(0.05)
        time.sleep(0.3)

    def stop_capture(self):
        time.sleep(0.5)
        self.stop(self.cap, signal.SIGINT, wait=10)

    # ------------------------------------------------------------ teardown
    def teardown(self):
        for name, p in reversed(self.procs):
            self.stop(p, signal.SIGTERM, wait=3)
        # anything still alive inside our namespaces was started by us: end it by pid
        for n in self.netns:
            r = run(["ip", "netns", "pids", n], check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for n in self.netns:
            run(["ip", "netns", "del", n], check=False)
        for d in self.netns_files:
            run(["rm", "-rf", d], check=False)
        self.netns = []
        self.log("teardown done")


def delay_binary():
    """Build tt-delay once (cached next to the source's build dir)."""
    src = os.path.join(LAB_DIR, "src", "tt-delay.c")
    out = os.environ.get("TT_LAB_BUILD", "/var/tmp/tt-lab-build")
    os.makedirs(out, exist_ok=True)
    binp = os.path.join(out, "tt-delay")
    if not os.path.exists(binp) or os.path.getmtime(binp) < os.path.getmtime(src):
        tmp = binp + ".%d" % os.getpid()
        run(["gcc", "-O2", "-Wall", "-o", tmp, src])
        os.rename(tmp, binp)
    return binp


# ---------------------------------------------------------------- pcapng reading
def read_pcapng_packets(path):
    """Yield (epoch_seconds, frame_len, ipv4 header+L4 bytes) from a pcapng or pcap
    file with Ethernet link type.  Small, dependency-free reader."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):            # classic pcap
        nano = magic == 0xa1b23c4d
        off = 24
        while off + 16 <= len(data):
            ts_s, ts_f, incl, orig = struct.unpack("<IIII", data[off:off + 16])
            pkt = data[off + 16:off + 16 + incl]
            off += 16 + incl
            yield ts_s + ts_f / (1e9 if nano else 1e6), orig, pkt
        return
    off = 0
    tsres = {}
    ifidx = 0
    endian = "<"
    while off + 12 <= len(data):
        btype, blen = struct.unpack(endian + "II", data[off:off + 8])
        if btype == 0x0A0D0D0A:
            bom = struct.unpack("<I", data[off + 8:off + 12])[0]
            endian = "<" if bom == 0x1A2B3C4D else ">"
            blen = struct.unpack(endian + "I", data[off + 4:off + 8])[0]
            tsres = {}
            ifidx = 0
        elif btype == 1:                                  # IDB
            res = 1e-6
            o = off + 16
            end = off + blen - 4
            while o + 4 <= end:
                code, ln = struct.unpack(endian + "HH", data[o:o + 4])
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = data[o + 4]
                    res = (2.0 ** -(v & 0x7f)) if v & 0x80 else 10.0 ** -v
                o += 4 + ((ln + 3) & ~3)
            tsres[ifidx] = res
            ifidx += 1
        elif btype == 6:                                  # EPB
            iid, tsh, tsl, cap, orig = struct.unpack(endian + "IIIII", data[off + 8:off + 28])
            pkt = data[off + 28:off + 28 + cap]
            yield ((tsh << 32) | tsl) * tsres.get(iid, 1e-6), orig, pkt
        if blen < 12:
            break
        off += blen


def flows_from_capture(path):
    """Aggregate a capture into bidirectional flows keyed by (proto, a, pa, b, pb) with
    a the client side (first sender).  Returns dict key -> stats."""
    flows = {}
    for ts, orig, pkt in read_pcapng_packets(path):
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 0x0f) * 4
        proto = ip[9]
        src = ".".join(str(x) for x in ip[12:16])
        dst = ".".join(str(x) for x in ip[16:20])
        if proto in (6, 17) and len(ip) >= ihl + 4:
            sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
        else:
            continue
        pname = "tcp" if proto == 6 else "udp"
        k1 = (pname, src, sp, dst, dp)
        k2 = (pname, dst, dp, src, sp)
        if k2 in flows:
            st = flows[k2]
            st["pkts_ba"] += 1
            st["bytes_ba"] += orig
        else:
            st = flows.setdefault(k1, {"t_start": ts, "t_end": ts, "pkts_ab": 0, "bytes_ab": 0,
                                       "pkts_ba": 0, "bytes_ba": 0})
            st["pkts_ab"] += 1
            st["bytes_ab"] += orig
        st["t_start"] = min(st["t_start"], ts)
        st["t_end"] = max(st["t_end"], ts)
    return flows


def write_ttm(path, rows, header_comment=None):
    """Write manifest.ttm rows: dicts with capture,label,group,proto,addr_a,port_a,addr_b,
    port_b,t_start,t_end,attrs(dict)."""
    with open(path + ".tmp", "w") as f:
        f.write("#ttmanifest v1\n")
        if header_comment:
            for line in header_comment.splitlines():
                f.write("# %s\n" % line)
        for r in rows:
            attrs = ";".join("%s=%s" % (k, v) for k, v in sorted(r["attrs"].items())) or "-"
            f.write("\t".join([r["capture"], r["label"], r["group"], r["proto"], r["addr_a"],
                               str(r["port_a"]), r["addr_b"], str(r["port_b"]),
                               "%.6f" % r["t_start"], "%.6f" % r["t_end"], attrs]) + "\n")
    os.rename(path + ".tmp", path)
