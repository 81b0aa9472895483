"""Application stacks of the lab, one function per (category, app).

Each app function gets a Ctx and runs its servers (server namespace) and clients
(client namespace) for ctx.duration seconds of captured traffic.  Servers are started
before the capture starts (ctx.capture_start()), clients after it.

Service addresses on the server (lablib.svc):
  1 voip (SIP/RTP)   2 video (HLS nginx, RTP call)   3 XMPP   4 IRC
  5,6,7 web sites    8 'cdn' for the sites + file transfer (sshd, vsftpd, nginx files)
"""
import os
import random
import shutil
import signal
import subprocess
import time

import lablib
from lablib import svc, CLIENT_IP, VPN_CLIENT_IP

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CHROMIUM = "/usr/lib/chromium/chromium"


class Ctx:
    def __init__(self, lab, cache, sdir, duration, rng, params, tunnel):
        self.lab = lab
        self.cache = cache
        self.sdir = sdir
        self.duration = duration
        self.rng = rng
        self.p = params
        self.tunnel = tunnel
        self.capture_start = None      # set by the session runner
        self._lport = 20000
        self.attrs = {}                # extra manifest attributes chosen by the app
        self.vpn_dev = None            # client's tunnel device (vpn sessions)

    @property
    def client_ip(self):
        return VPN_CLIENT_IP if self.tunnel == "vpn" else CLIENT_IP

    def connect(self, n, port):
        """(host, port) a TCP client must use to reach service n:port.  With tor, a socat
        forwarder on the client's loopback relays through the Tor SOCKS port (loopback
        traffic is not on the captured interface)."""
        if self.tunnel != "tor":
            return svc(n), port
        self._lport += 1
        lp = self._lport
        self.lab.spawn("c", ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % lp,
                             "SOCKS4A:127.0.0.1:%s:%d,socksport=9050" % (svc(n), port)],
                       "socat-%d" % lp)
        time.sleep(0.3)
        return "127.0.0.1", lp

    def d(self, *p):
        path = os.path.join(self.sdir, *p)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def sleep_until(self, t_end):
        while time.time() < t_end:
            time.sleep(min(1.0, t_end - time.time()))


def _wait_port(lab, role, ip, port, timeout=15):
    for _ in range(int(timeout * 10)):
        r = lab.sh(role, "ss -ltnH 'sport = :%d' | grep -q LISTEN" % port, check=False)
        if r.returncode == 0:
            return True
        time.sleep(0.1)
    raise RuntimeError("service %s:%d did not come up" % (ip, port))


# =============================================================== VoIP
VOIP_CODECS = {  # name: (baresip codec string, wav tag, gst encoder+payloader)
    "opus": ("opus/48000/2", "48k2", "opusenc bitrate={br} frame-size={ptime} ! rtpopuspay"),
    "pcmu": ("PCMU/8000/1", "8k1", "mulawenc ! rtppcmupay min-ptime={ptime_ns} max-ptime={ptime_ns}"),
    "pcma": ("PCMA/8000/1", "8k1", "alawenc ! rtppcmapay min-ptime={ptime_ns} max-ptime={ptime_ns}"),
    "g722": ("G722/16000/1", "16k1", "avenc_g722 ! rtpg722pay min-ptime={ptime_ns} max-ptime={ptime_ns}"),
}


def _speech_file(ctx, tag, who):
    talkers = sorted(f for f in os.listdir(os.path.join(ctx.cache, "speech")) if f.endswith(tag + ".wav"))
    return os.path.join(ctx.cache, "speech", talkers[(ctx.p["talker"] + who) % len(talkers)])


def voip_baresip(ctx):
    """Two baresip user agents (client: alice, server: bob), direct SIP call over UDP,
    auto-answer, speech from WAV files (aufile), optional SRTP."""
    codec = ctx.p["codec"]
    cstr, wtag, _ = VOIP_CODECS[codec]
    srtp = ctx.p["srtp"]
    ctx.attrs.update({"codec": codec, "srtp": int(srtp), "ptime": ctx.p["ptime"]})
    lab = ctx.lab
    peers = {"alice": ("c", ctx.client_ip, 0, ctx.vpn_dev if ctx.tunnel == "vpn" else "c0"),
             "bob": ("s", svc(1), 1, None)}
    for user, (role, ip, who, ifname) in peers.items():
        cdir = ctx.d("baresip-" + user, "config")
        cdir = os.path.dirname(cdir)
        with open(os.path.join(cdir, "config"), "w") as f:
            f.write("""poll_method epoll
sip_listen {ip}:5060
call_local_timeout 120
call_max_calls 2
audio_player alsa,null
audio_source aufile,{wav}
audio_alert alsa,null
audio_buffer 20-160
rtp_ports 10000-10999
rtp_tos 184
rtcp_mux no
jitter_buffer_delay 5-10
module_path /usr/lib/baresip/modules
module aufile.so
module alsa.so
module opus.so
module g711.so
module g722.so
module srtp.so
module_tmp account.so
module_app menu.so
opus_bitrate {br}
""".format(ip=ip, wav=_speech_file(ctx, wtag, who), br=ctx.p["opus_bitrate"]))
            if ifname:   # media address = the interface the call runs over (tunnel or veth)
                f.write("net_interface %s\n" % ifname)
        with open(os.path.join(cdir, "accounts"), "w") as f:
            f.write("<sip:%s@%s>;regint=0;answermode=auto;audio_codecs=%s;ptime=%d%s\n"
                    % (user, ip, cstr, ctx.p["ptime"], ";mediaenc=srtp-mand" if srtp else ""))
        open(os.path.join(cdir, "contacts"), "w").close()
    _server_src(ctx, 1)
    lab.spawn("s", ["baresip", "-f", os.path.dirname(ctx.d("baresip-bob", "x"))], "baresip-bob")
    time.sleep(1.0)
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    p = lab.spawn("c", ["baresip", "-f", os.path.dirname(ctx.d("baresip-alice", "x")),
                        "-e", "/dial sip:bob@%s" % svc(1)], "baresip-alice")
    ctx.sleep_until(t_end)
    lab.stop(p, signal.SIGTERM)
    return {"servers": [("udp", svc(1), None)]}


def _server_src(ctx, n):
    """UDP media servers send from the address the client talks to (service n), so
    both directions of an RTP stream form one bidirectional flow."""
    ctx.lab.sh("s", "ip route replace 10.10.1.0/24 via %s src %s" % (lablib.ROUTER_S_IP, svc(n)))


def _rtpcall(ctx, role, streams, duration, name):
    """Start rtpcall.py (symmetric RTP endpoints from GStreamer elements) in `role`;
    streams = [(local ip, local port, remote ip, remote port, sender pipeline)]."""
    argv = [PY, os.path.join(HERE, "rtpcall.py"), "--duration", "%g" % duration]
    for lip, lp, rip, rp, pipe in streams:
        argv += ["--stream", "%s:%d %s:%d %s" % (lip, lp, rip, rp, pipe)]
    return ctx.lab.spawn(role, argv, name)


def _gst(ctx, role, pipeline, name):
    return ctx.lab.spawn(role, ["gst-launch-1.0", "-q"] + pipeline.split(), name)


def voip_gst(ctx):
    """A GStreamer RTP audio call: speech both ways, real-time paced (sync=true), symmetric
    RTP (each side sends and receives on one socket: rtpcall.py).  Over Tor (TCP only) the RTP packets are framed RFC 4571-style
    (rtpstreampay) on TCP connections through the Tor SOCKS port."""
    codec = ctx.p["codec"]
    _, wtag, enc = VOIP_CODECS[codec]
    ctx.attrs.update({"codec": codec, "ptime": ctx.p["ptime"]})
    # opusenc frame sizes are 10/20/40/60 ms only
    ptime = ctx.p["ptime"] if codec != "opus" or ctx.p["ptime"] in (10, 20, 40, 60) else 20
    ctx.attrs["ptime"] = ptime
    enc = enc.format(br=ctx.p["opus_bitrate"], ptime=ptime, ptime_ns=ptime * 1000000)
    src_c = "filesrc location=%s ! wavparse ! audioconvert ! audioresample ! %s" % (_speech_file(ctx, wtag, 0), enc)
    src_s = "filesrc location=%s ! wavparse ! audioconvert ! audioresample ! %s" % (_speech_file(ctx, wtag, 1), enc)
    lab = ctx.lab
    _server_src(ctx, 1)
    if ctx.tunnel != "tor":
        # symmetric RTP: one socket per side sends and receives (rtpcall.py)
        port = 2 * ctx.rng.randrange(5000, 10000)
        ctx.capture_start()
        t_end = time.time() + ctx.duration
        _rtpcall(ctx, "c", [(ctx.client_ip, port, svc(1), port, src_c)], ctx.duration + 2, "rtpcall-c")
        _rtpcall(ctx, "s", [(svc(1), port, ctx.client_ip, port, src_s)], ctx.duration + 5, "rtpcall-s")
        ctx.attrs["transport"] = "rtp-udp-symmetric"
    else:
        _gst(ctx, "s", "tcpserversrc host=%s port=5004 ! rtpstreamdepay ! fakesink" % svc(1), "gst-s-recv")
        _gst(ctx, "s", src_s + " ! rtpstreampay ! tcpserversink host=%s port=5006 sync=true" % svc(1), "gst-s-send")
        _wait_port(lab, "s", svc(1), 5004)
        ctx.capture_start()
        t_end = time.time() + ctx.duration
        h1, p1 = ctx.connect(1, 5004)
        h2, p2 = ctx.connect(1, 5006)
        _gst(ctx, "c", src_c + " ! rtpstreampay ! tcpclientsink host=%s port=%d sync=true" % (h1, p1), "gst-c-send")
        _gst(ctx, "c", "tcpclientsrc host=%s port=%d ! fakesink" % (h2, p2), "gst-c-recv")
        ctx.attrs["transport"] = "rtp-tcp-rfc4571"
    ctx.sleep_until(t_end)
    return {"servers": [("*", svc(1), None)]}


# =============================================================== DNS
SITE_NAMES = ["www.site%d.lab.test" % i for i in range(3)]
CDN_NAME = "cdn.lab.test"


def start_dns(ctx):
    """dnsmasq on the server answering for the lab's web names (TTL 60 s); the client's
    /etc/resolv.conf (and the Tor namespace's, for the exit) points to it.  Its flows are
    background in the manifest."""
    if getattr(ctx, "dns_started", False):
        return
    ctx.dns_started = True
    d = os.path.dirname(ctx.d("dns", "x"))
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        for i, name in enumerate(SITE_NAMES):
            f.write("%s %s\n" % (svc(5 + i), name))
        f.write("%s %s\n" % (svc(8), CDN_NAME))
    ctx.lab.spawn("s", ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                        "--bind-interfaces", "--listen-address=%s" % lablib.DNS_IP, "--port=53",
                        "--addn-hosts=%s" % hosts, "--local-ttl=60", "--user=root",
                        "--pid-file=%s" % os.path.join(d, "dnsmasq.pid"), "--log-facility=-"], "dnsmasq")
    _wait_udp(ctx.lab, "s", 53)


def _wait_udp(lab, role, port, timeout=10):
    for _ in range(int(timeout * 10)):
        if lab.sh(role, "ss -lunH 'sport = :%d' | grep -q ." % port, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("udp service :%d did not come up" % port)


# =============================================================== nginx (video, web, files)
def start_nginx(ctx, with_sites=False, with_hls=False, with_files=False):
    d = os.path.dirname(ctx.d("nginx", "x"))
    for sub in ("tmp", "logs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    crt, key = os.path.join(ctx.cache, "tls.crt"), os.path.join(ctx.cache, "tls.key")
    servers = []
    tls = "ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;" % (crt, key)
    if with_hls:
        servers.append("server { listen %s:443 ssl http2; %s root %s; location / { } }"
                       % (svc(2), tls, os.path.join(ctx.cache, "hls")))
    if with_sites:
        www = os.path.join(d, "www")
        # pages reference the cdn by name (resolved by the lab's DNS; through Tor at the exit)
        for s in range(3):
            sd = os.path.join(www, "site%d" % s)
            os.makedirs(sd, exist_ok=True)
            src = os.path.join(ctx.cache, "www", "site%d" % s)
            for fn in os.listdir(src):
                if fn.endswith(".in"):
                    with open(os.path.join(src, fn)) as f:
                        txt = f.read().replace("{CDN}", CDN_NAME)
                    with open(os.path.join(sd, fn[:-3]), "w") as f:
                        f.write(txt)
                else:
                    os.symlink(os.path.join(src, fn), os.path.join(sd, fn))
            servers.append("server { listen %s:443 ssl http2; listen %s:80; server_name %s; %s root %s; "
                           "index page0.html; add_header Cache-Control no-store; }"
                           % (svc(5 + s), svc(5 + s), SITE_NAMES[s], tls, sd))
        servers.append("server { listen %s:443 ssl http2; %s root %s; "
                       "add_header Cache-Control \"max-age=60\"; }"
                       % (svc(8), tls, os.path.join(ctx.cache, "www", "cdn")))
    if with_files:
        servers.append("server { listen %s:443 ssl http2; %s client_max_body_size 0; "
                       "location /files/ { alias %s/; } location /upload { return 204; } }"
                       % (svc(8), tls, os.path.join(ctx.cache, "files")))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
  include /etc/nginx/mime.types;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  access_log {d}/logs/access.log;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  sendfile on;
  keepalive_timeout 65;
  {servers}
}}
""".format(d=d, servers="\n  ".join(servers)))
    ctx.lab.spawn("s", ["nginx", "-c", conf, "-p", d], "nginx")
    time.sleep(0.5)
    _wait_port(ctx.lab, "s", svc(8) if (with_sites or with_files) else svc(2), 443)


# =============================================================== video
def video_mpv_hls(ctx):
    """mpv (no video/audio output, but real playback pacing) playing an HLS VOD stream of
    ffmpeg-encoded 4 s segments from nginx over HTTPS/HTTP2."""
    start_nginx(ctx, with_hls=True)
    rend = ctx.p["rendition"]
    hls = os.path.join(ctx.cache, "hls")
    if rend != "auto" and not os.path.isdir(os.path.join(hls, rend)):
        rend = "auto"                       # quick (smoke-test) assets have fewer renditions
    with open(os.path.join(hls, "360p", "index.m3u8")) as f:
        length = 4 * sum(1 for l in f if l.startswith("#EXTINF"))
    start = ctx.p["start_s"] % max(1, length - 12)
    ctx.attrs.update({"rendition": rend, "cache_secs": ctx.p["cache_secs"]})
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    h, port = ctx.connect(2, 443)
    url = "https://%s:%d/%s" % (h, port, "master.m3u8" if rend == "auto" else rend + "/index.m3u8")
    p = ctx.lab.spawn("c", ["mpv", "--no-config", "--really-quiet", "--vo=null", "--ao=null",
                            "--tls-verify=no", "--cache=yes", "--cache-secs=%d" % ctx.p["cache_secs"],
                            "--demuxer-max-bytes=%dMiB" % ctx.p["demux_mib"],
                            "--start=%d" % start, "--loop-playlist=inf", url], "mpv")
    ctx.sleep_until(t_end)
    ctx.lab.stop(p)
    return {"servers": [("tcp", svc(2), 443)]}


def video_mpv_progressive(ctx):
    """mpv playing one MP4 file by progressive download over HTTPS: one long TCP
    connection, a buffer fill at link rate, then (read-ahead limit reached) a steady
    stream at the playback rate paced by TCP flow control."""
    start_nginx(ctx, with_hls=True)
    hls = os.path.join(ctx.cache, "hls")
    mp4s = sorted(f for f in os.listdir(hls) if f.endswith(".mp4"))
    rend = ctx.p["rendition"] + ".mp4"
    if rend not in mp4s:
        rend = mp4s[ctx.p["start_s"] % len(mp4s)]
    ctx.attrs.update({"rendition": rend[:-4], "cache_secs": ctx.p["cache_secs"]})
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    h, port = ctx.connect(2, 443)
    p = ctx.lab.spawn("c", ["mpv", "--no-config", "--really-quiet", "--vo=null", "--ao=null",
                            "--tls-verify=no", "--cache=yes", "--cache-secs=%d" % ctx.p["cache_secs"],
                            "--demuxer-max-bytes=%dMiB" % ctx.p["demux_mib"],
                            "--demuxer-readahead-secs=%d" % ctx.p["cache_secs"],
                            "--start=%d" % (ctx.p["start_s"] % 20), "--loop-file=inf",
                            "https://%s:%d/%s" % (h, port, rend)], "mpv")
    ctx.sleep_until(t_end)
    ctx.lab.stop(p)
    return {"servers": [("tcp", svc(2), 443)]}


def video_gst_call(ctx):
    """A two-way video call made of GStreamer RTP streams: each side sends video
    (VP8 or H.264, real-time encoder settings) plus an Opus audio stream, symmetric RTP
    (rtpcall.py: one bidirectional flow per medium).  Through Tor
    (TCP only) the RTP streams are framed on TCP (rtpstreampay)."""
    vc = ctx.p["vcodec"]
    w, h = ctx.p["size"]
    kb = ctx.p["vbitrate"]
    ctx.attrs.update({"vcodec": vc, "size": "%dx%d" % (w, h), "vbitrate": kb, "pattern": ctx.p["pattern"]})
    if vc == "vp8":
        enc = ("vp8enc deadline=1 cpu-used=8 threads=1 end-usage=cbr target-bitrate=%d "
               "keyframe-max-dist=300 ! rtpvp8pay mtu=1200" % (kb * 1000))
    else:
        enc = ("x264enc tune=zerolatency speed-preset=ultrafast threads=1 bitrate=%d "
               "key-int-max=300 ! rtph264pay mtu=1200 config-interval=-1" % kb)
    vsrc = ("videotestsrc is-live=true pattern=%s ! video/x-raw,width=%d,height=%d,framerate=%d/1 "
            "! videoconvert ! %s" % (ctx.p["pattern"], w, h, ctx.p["fps"], enc))
    asrc = ("filesrc location=%s ! wavparse ! audioconvert ! audioresample ! opusenc bitrate=32000 "
            "! rtpopuspay" % _speech_file(ctx, "48k2", 0))
    asrc_s = asrc.replace(_speech_file(ctx, "48k2", 0), _speech_file(ctx, "48k2", 1))
    lab = ctx.lab
    _server_src(ctx, 2)
    if ctx.tunnel != "tor":
        vport = 2 * ctx.rng.randrange(5000, 10000)
        aport = vport + 2
        ctx.capture_start()
        t_end = time.time() + ctx.duration
        _rtpcall(ctx, "c", [(ctx.client_ip, vport, svc(2), vport, vsrc),
                            (ctx.client_ip, aport, svc(2), aport, asrc)], ctx.duration + 2, "rtpcall-c")
        _rtpcall(ctx, "s", [(svc(2), vport, ctx.client_ip, vport, vsrc),
                            (svc(2), aport, ctx.client_ip, aport, asrc_s)], ctx.duration + 5, "rtpcall-s")
        ctx.attrs["transport"] = "rtp-udp-symmetric"
    else:
        _gst(ctx, "s", "tcpserversrc host=%s port=5010 ! fakesink" % svc(2), "gst-s-recv")
        _gst(ctx, "s", vsrc + " ! rtpstreampay ! tcpserversink host=%s port=5020 sync=true" % svc(2), "gst-s-vid")
        _wait_port(lab, "s", svc(2), 5010)
        ctx.capture_start()
        t_end = time.time() + ctx.duration
        h1, p1 = ctx.connect(2, 5010)
        h2, p2 = ctx.connect(2, 5020)
        _gst(ctx, "c", vsrc + " ! rtpstreampay ! tcpclientsink host=%s port=%d sync=true" % (h1, p1), "gst-c-vid")
        _gst(ctx, "c", "tcpclientsrc host=%s port=%d ! fakesink" % (h2, p2), "gst-c-recv")
        ctx.attrs["transport"] = "rtp-tcp-rfc4571"
    ctx.sleep_until(t_end)
    return {"servers": [("*", svc(2), None)]}


# =============================================================== chat
def chat_xmpp(ctx):
    """prosody XMPP server; two slixmpp clients (alice in the client namespace, bob on
    the server side) chatting over STARTTLS with human-like timing."""
    lab = ctx.lab
    d = os.path.dirname(ctx.d("prosody", "x"))
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    shutil.copy(os.path.join(ctx.cache, "tls.crt"), d)
    shutil.copy(os.path.join(ctx.cache, "tls.key"), d)
    cfg = os.path.join(d, "prosody.cfg.lua")
    with open(cfg, "w") as f:
        f.write("""daemonize = false
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
interfaces = {{ "{ip}" }}
c2s_ports = {{ 5222 }}
s2s_ports = {{ }}
admins = {{ }}
plugin_paths = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "message"; "posix" }}
modules_disabled = {{ "s2s"; "http"; "bosh"; "websocket" }}
allow_registration = false
c2s_require_encryption = true
authentication = "internal_plain"
log = {{ info = "{d}/prosody.log"; error = "{d}/prosody.err" }}
certificates = "{d}"
ssl = {{ key = "{d}/tls.key"; certificate = "{d}/tls.crt" }}
VirtualHost "chat.lab.test"
""".format(d=d, ip=svc(3)))
    subprocess.run(["chown", "-R", "prosody:prosody", d], check=True)
    os.chmod(ctx.sdir, 0o755)
    for u in ("alice", "bob"):
        lab.sh("s", ["runuser", "-u", "prosody", "--", "prosodyctl", "--config", cfg,
                     "register", u, "chat.lab.test", "labpass"], timeout=30)
    lab.spawn("s", ["prosody", "--config", cfg, "-F"], "prosody", user="prosody")
    _wait_port(lab, "s", svc(3), 5222)
    bob = lab.spawn("s", [PY, os.path.join(HERE, "chatbots.py"), "--proto", "xmpp", "--role", "b",
                          "--host", svc(3), "--port", "5222", "--duration", str(ctx.duration + 5),
                          "--seed", str(ctx.p["seed"])], "bot-bob")
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    h, port = ctx.connect(3, 5222)
    lab.spawn("c", [PY, os.path.join(HERE, "chatbots.py"), "--proto", "xmpp", "--role", "a",
                    "--host", h, "--port", str(port), "--duration", str(ctx.duration - 1),
                    "--seed", str(ctx.p["seed"])], "bot-alice")
    ctx.sleep_until(t_end)
    return {"servers": [("tcp", svc(3), 5222)]}


def chat_irc(ctx):
    """ngircd IRC server with TLS on 6697; two scripted IRC clients (Python ssl sockets,
    same human timing model as the XMPP bots) in channel #lab."""
    lab = ctx.lab
    d = os.path.dirname(ctx.d("ngircd", "x"))
    conf = os.path.join(d, "ngircd.conf")
    with open(conf, "w") as f:
        f.write("""[Global]
Name = irc.lab.test
Info = TrafficTriage lab IRC
Listen = {ip}
Ports = 6667
PidFile = {d}/ngircd.pid
MotdPhrase = "welcome to the lab"
[Limits]
PingTimeout = 120
PongTimeout = 20
[Options]
PAM = no
DNS = no
Ident = no
[SSL]
CertFile = {crt}
KeyFile = {key}
Ports = 6697
[Channel]
Name = #lab
Topic = lab chat
""".format(ip=svc(4), d=d, crt=os.path.join(ctx.cache, "tls.crt"), key=os.path.join(ctx.cache, "tls.key")))
    lab.spawn("s", ["ngircd", "-n", "-f", conf], "ngircd")
    _wait_port(lab, "s", svc(4), 6697)
    lab.spawn("s", [PY, os.path.join(HERE, "chatbots.py"), "--proto", "irc", "--role", "b",
                    "--host", svc(4), "--port", "6697", "--duration", str(ctx.duration + 5),
                    "--seed", str(ctx.p["seed"])], "irc-b")
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    h, port = ctx.connect(4, 6697)
    lab.spawn("c", [PY, os.path.join(HERE, "chatbots.py"), "--proto", "irc", "--role", "a",
                    "--host", h, "--port", str(port), "--duration", str(ctx.duration - 1),
                    "--seed", str(ctx.p["seed"])], "irc-a")
    ctx.sleep_until(t_end)
    return {"servers": [("tcp", svc(4), 6697)]}


# =============================================================== browsing
def browsing_chromium(ctx):
    """Headless Chromium driven through chromedriver's WebDriver HTTP API: opens pages
    of the lab's sites (HTTPS + HTTP/2 from nginx, CSS/JS/images from a second 'cdn'
    host), reads for a think time, clicks links, sometimes switches site."""
    start_nginx(ctx, with_sites=True)
    start_dns(ctx)
    lab = ctx.lab
    lab.spawn("c", ["chromedriver", "--port=9515", "--allowed-ips=127.0.0.1"], "chromedriver")
    _wait_port(lab, "c", "127.0.0.1", 9515)
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--ignore-certificate-errors", "--disable-dev-shm-usage",
            "--window-size=%d,%d" % tuple(ctx.p["window"]),
            "--user-data-dir=%s" % os.path.dirname(ctx.d("chrome-profile", "x"))]
    if ctx.tunnel == "tor":
        args.append("--proxy-server=socks5://127.0.0.1:9050")
    spec = {"args": ["--duration", str(ctx.duration), "--seed", str(ctx.p["seed"]),
                     "--think", "%g,%g" % tuple(ctx.p["think"]), "--driver", "chromedriver",
                     "--sites", ",".join("https://%s/" % n for n in SITE_NAMES)],
            "chrome_args": args}
    ctx.attrs.update({"think": "%g-%g" % tuple(ctx.p["think"])})
    _browse(ctx, spec)
    return {"servers": [("tcp", svc(n), None) for n in (5, 6, 7, 8)], "dns": True}


def browsing_wget2(ctx):
    """wget2 fetching pages with all their requisites (HTTP/2 over TLS, parallel
    connections), link following and think times, scripted by browse.py.  Through Tor
    it runs under torsocks (TCP Fast Open off)."""
    start_nginx(ctx, with_sites=True)
    start_dns(ctx)
    spec = {"args": ["--duration", str(ctx.duration), "--seed", str(ctx.p["seed"]),
                     "--think", "%g,%g" % tuple(ctx.p["think"]), "--driver", "wget2",
                     "--sites", ",".join("https://%s/" % n for n in SITE_NAMES),
                     "--workdir", os.path.dirname(ctx.d("wget2", "x"))]}
    if ctx.tunnel == "tor":
        spec["args"] += ["--tor"]
    ctx.attrs.update({"think": "%g-%g" % tuple(ctx.p["think"])})
    _browse(ctx, spec)
    return {"servers": [("tcp", svc(n), None) for n in (5, 6, 7, 8)], "dns": True}


def _browse(ctx, spec):
    """Start browse.py; it starts the browser, signals 'ready'; then the capture starts
    and browse.py gets 'go' (browser start-up is not part of the capture)."""
    import json
    ready = ctx.d("browse.ready")
    spec["args"] += ["--ready", ready]
    sp = ctx.d("browse.json")
    with open(sp, "w") as f:
        json.dump(spec, f)
    p = ctx.lab.spawn("c", [PY, os.path.join(HERE, "browse.py"), sp], "browse")
    for _ in range(600):
        if os.path.exists(ready) or p.poll() is not None:
            break
        time.sleep(0.1)
    if not os.path.exists(ready):
        raise RuntimeError("browser did not start")
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    open(ready + ".go", "w").close()
    ctx.sleep_until(t_end)
    ctx.lab.stop(p)


# =============================================================== file transfer
def _sshd(ctx):
    d = os.path.dirname(ctx.d("sshd", "x"))
    os.makedirs("/run/sshd", exist_ok=True)
    ak = os.path.join(d, "authorized_keys")
    shutil.copy(os.path.join(ctx.cache, "client_ed25519.pub"), ak)
    hk = os.path.join(d, "host_key")
    shutil.copy(os.path.join(ctx.cache, "host_ed25519"), hk)
    os.chmod(hk, 0o600)
    cfg = os.path.join(d, "sshd_config")
    with open(cfg, "w") as f:
        f.write("""ListenAddress {ip}
Port 22
HostKey {hk}
PidFile {d}/sshd.pid
AuthorizedKeysFile {ak}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
Subsystem sftp internal-sftp
""".format(ip=svc(8), hk=hk, d=d, ak=ak))
    ctx.lab.spawn("s", ["/usr/sbin/sshd", "-D", "-e", "-f", cfg], "sshd")
    _wait_port(ctx.lab, "s", svc(8), 22)


def _vsftpd(ctx):
    d = os.path.dirname(ctx.d("vsftpd", "x"))
    root = os.path.join(d, "root")
    os.makedirs(os.path.join(root, "upload"), exist_ok=True)
    os.chmod(root, 0o755)
    subprocess.run(["chown", "ftp", os.path.join(root, "upload")], check=True)
    shutil.copytree(os.path.join(ctx.cache, "files"), os.path.join(root, "files"),
                                      copy_function=os.link)
    os.makedirs("/var/run/vsftpd/empty", exist_ok=True)
    conf = os.path.join(d, "vsftpd.conf")
    with open(conf, "w") as f:
        f.write("""listen=YES
listen_ipv6=NO
listen_address={ip}
background=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root={root}
write_enable=YES
anon_upload_enable=YES
anon_umask=022
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=NO
rsa_cert_file={crt}
rsa_private_key_file={key}
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30999
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
""".format(ip=svc(8), root=root, crt=os.path.join(ctx.cache, "tls.crt"), key=os.path.join(ctx.cache, "tls.key")))
    log = open(ctx.d("log", "vsftpd-stdin.log"), "a+")
    ctx.lab.spawn("s", ["vsftpd", conf], "vsftpd", stdin=log)   # vsftpd writes errors to fd 0
    _wait_port(ctx.lab, "s", svc(8), 21)


def file_transfer(ctx):
    """Downloads and uploads of files from 1 MB to 120 MB with one tool per session:
    scp / sftp / rsync (OpenSSH sshd), FTPS (vsftpd; lftp or curl client), HTTPS (curl
    against nginx).  Between transfers the user pauses 0.5-8 s."""
    tool = ctx.p["tool"]
    if ctx.tunnel == "tor" and tool == "ftps-lftp":
        tool = "ftps-curl"                  # lftp cannot use a SOCKS proxy
    ctx.attrs.update({"app": {"scp": "scp", "sftp": "sftp", "rsync": "rsync-ssh", "ftps-lftp": "lftp-ftps",
                              "ftps-curl": "curl-ftps", "https-curl": "curl-https"}[tool]})
    if tool in ("scp", "sftp", "rsync"):
        _sshd(ctx)
    elif tool in ("ftps-lftp", "ftps-curl"):
        _vsftpd(ctx)
    else:
        start_nginx(ctx, with_files=True)
    spec_args = ["--duration", str(ctx.duration), "--seed", str(ctx.p["seed"]), "--tool", tool,
                 "--host", svc(8), "--cache", ctx.cache, "--workdir", os.path.dirname(ctx.d("xfer", "x")),
                 "--upload-share", "%g" % ctx.p["upload_share"]]
    if ctx.tunnel == "tor":
        spec_args += ["--tor"]
    ctx.capture_start()
    t_end = time.time() + ctx.duration
    p = ctx.lab.spawn("c", [PY, os.path.join(HERE, "xfer.py")] + spec_args, "xfer")
    ctx.sleep_until(t_end)
    ctx.lab.stop(p)
    return {"servers": [("*", svc(8), None)]}


# =============================================================== registry
APPS = {
    "voip": [("baresip", voip_baresip, ("none", "vpn")), ("gst-rtp-audio", voip_gst, ("none", "vpn", "tor"))],
    "video": [("mpv-hls", video_mpv_hls, ("none", "vpn", "tor")),
              ("mpv-progressive", video_mpv_progressive, ("none", "vpn", "tor")),
              ("gst-rtp-videocall", video_gst_call, ("none", "vpn", "tor"))],
    "chat": [("xmpp-slixmpp", chat_xmpp, ("none", "vpn", "tor")), ("irc-tls", chat_irc, ("none", "vpn", "tor"))],
    "browsing": [("chromium", browsing_chromium, ("none", "vpn", "tor")),
                 ("wget2", browsing_wget2, ("none", "vpn", "tor"))],
    # one entry: the tool (scp, sftp, rsync, lftp/curl FTPS, curl HTTPS) is a parameter,
    # and becomes the manifest's app=
    "file_transfer": [("ssh-ftps-https", file_transfer, ("none", "vpn", "tor"))],
}
