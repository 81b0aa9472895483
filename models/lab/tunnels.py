"""Tunnels of the lab: none, OpenVPN (static key, UDP), Tor (a private Tor network).

tunnels.up() is called after the topology and WAN emulation exist and before the app's
servers start; everything it starts is torn down with the session (Lab.teardown)."""
import os
import shutil
import subprocess
import time

import lablib
from lablib import SERVER_IP, CLIENT_IP, VPN_CLIENT_IP, VPN_SERVER_IP, SERVICE_NET, TOR_NET


def up(lab, ctx, tunnel, cache):
    if tunnel == "none":
        return {}
    if tunnel == "vpn":
        if ctx.p.get("vpn_impl") == "wireguard":
            return wg_up(lab, ctx, cache)
        return vpn_up(lab, ctx, cache)
    if tunnel == "tor":
        return tor_up(lab, ctx, cache)
    raise ValueError(tunnel)


def _wait_log(lab, path, needle, timeout, what):
    t_end = time.time() + timeout
    while time.time() < t_end:
        if os.path.exists(path) and needle in open(path, errors="replace").read():
            return time.time()
        time.sleep(0.25)
    raise RuntimeError("%s: '%s' not seen within %d s (%s)" % (what, needle, timeout, path))


def vpn_up(lab, ctx, cache):
    """OpenVPN 2.6 in static-key mode over UDP 1194: server in the server namespace,
    client in the client namespace; the service subnet is routed into the tunnel."""
    key = os.path.join(cache, "vpn.key")
    common = ["--dev", "ovpn0", "--dev-type", "tun", "--proto", "udp", "--cipher", "AES-256-CBC",
              "--auth", "SHA256", "--keepalive", "10", "60", "--verb", "3", "--persist-tun"]
    lab.spawn("s", ["openvpn"] + common + ["--local", SERVER_IP, "--lport", "1194",
                                           "--ifconfig", VPN_SERVER_IP, VPN_CLIENT_IP, "--secret", key, "0"],
              "openvpn-server")
    time.sleep(0.5)
    lab.spawn("c", ["openvpn"] + common + ["--remote", SERVER_IP, "1194", "--nobind",
                                           "--ifconfig", VPN_CLIENT_IP, VPN_SERVER_IP, "--secret", key, "1",
                                           "--route", SERVICE_NET + ".0", "255.255.255.0"],
              "openvpn-client")
    logdir = os.path.join(lab.workdir, "log")
    _wait_log(lab, os.path.join(logdir, "openvpn-client.log"), "Initialization Sequence Completed", 30, "openvpn client")
    _wait_log(lab, os.path.join(logdir, "openvpn-server.log"), "Initialization Sequence Completed", 30, "openvpn server")
    for _ in range(50):
        if lab.sh("c", ["ping", "-c", "1", "-W", "1", VPN_SERVER_IP], check=False).returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("vpn: no ping through the tunnel")
    ctx.vpn_dev = "ovpn0"
    ctx.attrs["vpn"] = "openvpn"
    return {"outer": "udp %s:* <-> %s:1194" % (CLIENT_IP, SERVER_IP), "impl": "openvpn static-key",
            "dev": "ovpn0"}


WG_PORT = 51820


def wg_up(lab, ctx, cache):
    """WireGuard with wireguard-go (userspace; the kernel has no wireguard module) and
    wg: server in the server namespace (UDP 51820), client in the client namespace, the
    same inner addresses as the OpenVPN tunnel.  wireguard-go's control sockets live in
    /var/run/wireguard/, shared by all namespaces, so device names carry the session tag."""
    sdev, cdev = ("ws" + lab.tag)[:15], ("wc" + lab.tag)[:15]
    d = os.path.join(lab.workdir, "wg")
    os.makedirs(d, exist_ok=True)
    keys = {}
    for side in ("s", "c"):
        priv = lablib.run(["wg", "genkey"]).stdout.strip()
        pub = subprocess.run(["wg", "pubkey"], input=priv, text=True, capture_output=True, check=True).stdout.strip()
        with open(os.path.join(d, side + ".key"), "w") as f:
            f.write(priv + "\n")
        os.chmod(os.path.join(d, side + ".key"), 0o600)
        keys[side] = pub
    env = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1", "LOG_LEVEL": "error"}
    lab.netns_files += ["/var/run/wireguard/%s.sock" % n for n in (sdev, cdev)]   # removed at teardown
    lab.spawn("s", ["wireguard-go", "-f", sdev], "wireguard-go-server", env=env)
    lab.spawn("c", ["wireguard-go", "-f", cdev], "wireguard-go-client", env=env)
    for role, dev in (("s", sdev), ("c", cdev)):
        for _ in range(100):
            if lab.sh(role, ["ip", "link", "show", dev], check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("wireguard-go did not create %s" % dev)
    lab.sh("s", ["wg", "set", sdev, "listen-port", str(WG_PORT), "private-key", os.path.join(d, "s.key"),
                 "peer", keys["c"], "allowed-ips", VPN_CLIENT_IP + "/32"])
    lab.sh("s", "ip addr add %s/24 dev %s && ip link set %s up" % (VPN_SERVER_IP, sdev, sdev))
    lab.sh("c", ["wg", "set", cdev, "private-key", os.path.join(d, "c.key"),
                 "peer", keys["s"], "endpoint", "%s:%d" % (SERVER_IP, WG_PORT),
                 "allowed-ips", "%s/32,%s.0/24" % (VPN_SERVER_IP, SERVICE_NET),
                 "persistent-keepalive", "25"])
    lab.sh("c", "ip addr add %s/24 dev %s && ip link set %s up && ip route add %s.0/24 dev %s"
           % (VPN_CLIENT_IP, cdev, cdev, SERVICE_NET, cdev))
    for _ in range(50):
        if lab.sh("c", ["ping", "-c", "1", "-W", "1", VPN_SERVER_IP], check=False).returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("wireguard: no ping through the tunnel")
    ctx.vpn_dev = cdev
    ctx.vpn_server_dev = sdev
    ctx.attrs["vpn"] = "wireguard"
    return {"outer": "udp %s:* <-> %s:%d" % (CLIENT_IP, SERVER_IP, WG_PORT), "impl": "wireguard-go",
            "dev": sdev}


TOR_COMMON = """TestingTorNetwork 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
RunAsDaemon 0
ShutdownWaitLength 0
SafeLogging 0
ProtocolWarnings 1
DisableDebuggerAttachment 0
"""


PROBE_TRIES = 30


def tor_up(lab, ctx, cache):
    """A private Tor network in the tor namespace: 3 directory authorities (also relays)
    and 2 relays (one exit), and a Tor client in the client namespace with its SocksPort
    on the client's loopback.  Waits for the client to report Bootstrapped 100%."""
    base = os.path.join(lab.workdir, "tor")
    dirauths = open(os.path.join(cache, "tor", "dirauths")).read()
    nodes = [("auth%d" % i, "%s.%d" % (TOR_NET, 2 + i), True, False) for i in range(3)] + \
            [("relay0", "%s.5" % TOR_NET, False, False), ("relay1", "%s.6" % TOR_NET, False, True)]
    for name, ip, auth, exit_ in nodes:
        nd = os.path.join(base, name)
        shutil.copytree(os.path.join(cache, "tor", name), nd)
        os.chmod(nd, 0o700)
        conf = TOR_COMMON + dirauths + """DataDirectory {nd}
Nickname {name}
Log notice file {nd}/notice.log
Address {ip}
OutboundBindAddress {ip}
ORPort {ip}:5000
DirPort {ip}:7000
SocksPort 0
ContactInfo lab@lab.test
""".format(nd=nd, name=name, ip=ip)
        if auth:
            conf += """AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 10
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
ExitPolicy reject *:*
"""
        elif exit_:
            conf += "ExitRelay 1\nExitPolicyRejectPrivate 0\nExitPolicyRejectLocalInterfaces 0\nExitPolicy accept *:*\n"
        else:
            conf += "ExitPolicy reject *:*\n"
        with open(os.path.join(nd, "torrc"), "w") as f:
            f.write(conf)
        lab.spawn("t", ["tor", "-f", os.path.join(nd, "torrc")], "tor-" + name)
    cd = os.path.join(base, "client")
    os.makedirs(cd, mode=0o700)
    with open(os.path.join(cd, "torrc"), "w") as f:
        f.write(TOR_COMMON + dirauths + """DataDirectory {cd}
Log notice file {cd}/notice.log
SocksPort 127.0.0.1:9050
ClientRejectInternalAddresses 0
""".format(cd=cd))
    t0 = time.time()
    lab.spawn("c", ["tor", "-f", os.path.join(cd, "torrc")], "tor-client")
    t1 = _wait_log(lab, os.path.join(cd, "notice.log"), "Bootstrapped 100%", 150, "tor client")
    # bootstrapped is not yet 'an exit circuit works': probe a throw-away TCP service on
    # the server through Tor until it answers (before the capture starts)
    probe = lab.spawn("s", ["socat", "TCP-LISTEN:9999,bind=%s.8,fork,reuseaddr" % SERVICE_NET,
                            "SYSTEM:echo torprobe"], "tor-probe-server")
    ok = False
    for _ in range(PROBE_TRIES):
        # (curl, not socat: a socat whose stdin is at EOF half-closes, and Tor then ends the stream)
        r = lab.sh("c", ["curl", "-s", "--max-time", "10", "--socks5", "127.0.0.1:9050",
                         "telnet://%s.8:9999" % SERVICE_NET], check=False, timeout=20,
                   stdin=subprocess.DEVNULL)
        if "torprobe" in r.stdout:
            ok = True
            break
        time.sleep(2)
    lab.stop(probe)
    if not ok:
        raise RuntimeError("tor: no working exit circuit")
    t2 = time.time()
    return {"outer": "tcp %s:* <-> %s.x:5000 (guard)" % (CLIENT_IP, TOR_NET), "impl": "tor private network",
            "bootstrap_s": round(t1 - t0, 1), "ready_s": round(t2 - t0, 1)}
