"""Builds the lab's media, web sites, files and keys once per output folder (cache/).

Everything here is generated on the machine from Debian tools (espeak-ng, sox, ffmpeg,
openssl, ssh-keygen, openvpn, tor-gencert); nothing is downloaded.
"""
import fcntl
import os
import random
import shutil
import subprocess

from lablib import run, TOR_NET

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(LAB_DIR, "corpus", "chat.txt")

HLS_RENDITIONS = [  # name, width, height, video kbit/s, noise strength
    ("360p", 640, 360, 600, 12),
    ("540p", 960, 540, 1500, 16),
    ("720p", 1280, 720, 3000, 20),
]
HLS_SECONDS = 120
FILE_SIZES_MB = [1, 3, 8, 20, 50, 120]


def corpus_lines():
    with open(CORPUS) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def _speech(cache, rng, name, voice, speed, seconds):
    """A conversation-like track: spoken corpus lines separated by pauses, `seconds` long."""
    d = os.path.join(cache, "speech", name)
    os.makedirs(d, exist_ok=True)
    lines = corpus_lines()
    parts = []
    total = 0.0
    i = 0
    while total < seconds:
        txt = " ".join(rng.choice(lines) for _ in range(rng.randint(1, 3)))
        w = os.path.join(d, "p%03d.wav" % i)
        run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", w, txt])
        sil = os.path.join(d, "s%03d.wav" % i)
        pause = rng.uniform(0.5, 6.0)
        run(["sox", "-n", "-r", "22050", "-c", "1", sil, "trim", "0", "%.2f" % pause])
        parts += [w, sil]
        dur = float(run(["soxi", "-D", w]).stdout.strip())
        total += dur + pause
        i += 1
    joined = os.path.join(d, "joined.wav")
    run(["sox"] + parts + [joined])
    # low background noise so silence is not digital zero (a room, a mic)
    for rate, ch, tag in ((48000, 2, "48k2"), (16000, 1, "16k1"), (8000, 1, "8k1")):
        out = os.path.join(cache, "speech", "%s-%s.wav" % (name, tag))
        run(["sox", joined, "-r", str(rate), "-c", str(ch), "-b", "16", out])
    shutil.rmtree(d)


QUICK = False   # smoke tests: shorter/smaller media and files (set by build(quick=True))


def build(cache, log=print, quick=False):
    """Build missing assets.  quick=True (smoke tests, CI) makes a smaller set: 30 s of
    HLS in two low renditions, 60 s speech tracks, files up to 8 MB."""
    global QUICK, HLS_RENDITIONS, HLS_SECONDS, FILE_SIZES_MB
    if quick:
        QUICK = True
        HLS_RENDITIONS = HLS_RENDITIONS[:2]
        HLS_SECONDS = 30
        FILE_SIZES_MB = FILE_SIZES_MB[:3]
    os.makedirs(cache, exist_ok=True)
    lockf = open(os.path.join(cache, ".lock"), "w")
    fcntl.flock(lockf, fcntl.LOCK_EX)
    try:
        _build(cache, log)
    finally:
        fcntl.flock(lockf, fcntl.LOCK_UN)
        lockf.close()


def _done(cache, what):
    return os.path.exists(os.path.join(cache, ".done-" + what))


def _mark(cache, what):
    open(os.path.join(cache, ".done-" + what), "w").close()


def _build(cache, log):
    rng = random.Random(12345)   # assets are fixed; per-session variety comes from the seed
    if not _done(cache, "tls"):
        log("assets: TLS certificate")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/CN=lab.test", "-addext", "subjectAltName=DNS:*.lab.test,DNS:lab.test",
             "-keyout", os.path.join(cache, "tls.key"), "-out", os.path.join(cache, "tls.crt")])
        os.chmod(os.path.join(cache, "tls.key"), 0o644)
        _mark(cache, "tls")
    if not _done(cache, "ssh"):
        log("assets: ssh keys")
        for k in ("client_ed25519", "host_ed25519"):
            p = os.path.join(cache, k)
            if os.path.exists(p):
                os.remove(p)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p])
        _mark(cache, "ssh")
    if not _done(cache, "vpn"):
        log("assets: openvpn static key")
        run(["openvpn", "--genkey", "secret", os.path.join(cache, "vpn.key")])
        _mark(cache, "vpn")
    if not _done(cache, "speech"):
        log("assets: speech tracks (espeak-ng)")
        for i, (voice, speed) in enumerate([("en-us", 150), ("en", 170), ("en-us+f3", 160),
                                            ("en+m3", 140), ("de", 150), ("fr", 155)]):
            _speech(cache, rng, "talker%d" % i, voice, speed, 60 if QUICK else 200)
        _mark(cache, "speech")
    if not _done(cache, "files"):
        log("assets: transfer files")
        d = os.path.join(cache, "files")
        os.makedirs(d, exist_ok=True)
        for mb in FILE_SIZES_MB:
            run(["dd", "if=/dev/urandom", "of=%s/f%dM.bin" % (d, mb), "bs=1M", "count=%d" % mb],
                timeout=300)
        _mark(cache, "files")
    if not _done(cache, "sites"):
        log("assets: web sites")
        build_sites(cache, rng)
        _mark(cache, "sites")
    if not _done(cache, "hls"):
        log("assets: HLS renditions (ffmpeg, takes a few minutes once)")
        build_hls(cache)
        _mark(cache, "hls")
    if not _done(cache, "mp4"):
        log("assets: progressive MP4 files (remuxed HLS renditions)")
        for name, *_ in HLS_RENDITIONS:
            rd = os.path.join(cache, "hls", name)
            run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", os.path.join(rd, "index.m3u8"),
                 "-c", "copy", "-bsf:a", "aac_adtstoasc", "-movflags", "+faststart",
                 os.path.join(cache, "hls", name + ".mp4")], timeout=600)
        _mark(cache, "mp4")
    if not _done(cache, "tor"):
        log("assets: tor authority keys")
        build_tor_keys(cache)
        _mark(cache, "tor")


def build_hls(cache):
    d = os.path.join(cache, "hls")
    os.makedirs(d, exist_ok=True)
    master = ["#EXTM3U"]
    for name, w, h, kb, noise in HLS_RENDITIONS:
        rd = os.path.join(d, name)
        os.makedirs(rd, exist_ok=True)
        # testsrc2 with temporal noise so the encoder really spends its bitrate; a sine tone
        # as the audio track
        run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=25,noise=alls=%d:allf=t" % (w, h, noise),
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
             "-t", str(HLS_SECONDS), "-c:v", "libx264", "-preset", "veryfast",
             "-b:v", "%dk" % kb, "-maxrate", "%dk" % int(kb * 1.2), "-bufsize", "%dk" % (kb * 2),
             "-g", "100", "-keyint_min", "100", "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "96k", "-threads", "2",
             "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod",
             "-hls_segment_filename", os.path.join(rd, "seg%03d.ts"), os.path.join(rd, "index.m3u8")],
            timeout=1800)
        master.append("#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d" % ((kb + 96) * 1000, w, h))
        master.append("%s/index.m3u8" % name)
    with open(os.path.join(d, "master.m3u8"), "w") as f:
        f.write("\n".join(master) + "\n")


WORDS = ("network packet flow video voice chat browser transfer server client router delay "
         "jitter tunnel onion relay stream segment codec frame window socket kernel queue "
         "latency bandwidth capture label session model train block image picture").split()


def _text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build_sites(cache, rng):
    """Three sites (one per service address) with 6 pages each, plus a shared 'cdn' host.
    Pages have 4-20 subresources: CSS, JS, JPEG/PNG images of many sizes."""
    root = os.path.join(cache, "www")
    img = os.path.join(root, "cdn", "img")
    os.makedirs(img, exist_ok=True)
    # images: frames from testsrc2/mandelbrot-like sources at several sizes
    sizes = [(160, 120), (320, 240), (480, 320), (640, 480), (800, 600), (1280, 720), (1920, 1080)]
    if QUICK:
        sizes = sizes[:4]
    n = 0
    for (w, h) in sizes:
        for src in ("testsrc2", "rgbtestsrc", "smptehdbars"):
            for fmt, q in (("jpg", rng.choice([2, 5, 10])), ("png", 0)):
                out = os.path.join(img, "i%03d.%s" % (n, fmt))
                args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "%s=size=%dx%d,noise=alls=%d:allf=u" % (src, w, h, rng.choice([0, 10, 30])),
                        "-frames:v", "1"]
                if fmt == "jpg":
                    args += ["-q:v", str(q)]
                run(args + [out])
                n += 1
    images = sorted(os.listdir(img))
    for lib in range(6):
        with open(os.path.join(root, "cdn", "lib%d.js" % lib), "w") as f:
            for k in range(rng.randint(200, 3000)):
                f.write("function f%d_%d(a,b){return a*%d+b; /* %s */}\n"
                        % (lib, k, k, _text(rng, rng.randint(3, 12))))
    for s in range(3):
        sd = os.path.join(root, "site%d" % s)
        os.makedirs(sd, exist_ok=True)
        with open(os.path.join(sd, "style.css"), "w") as f:
            for k in range(rng.randint(100, 800)):
                f.write(".c%d{margin:%dpx;padding:%dpx;color:#%06x}\n"
                        % (k, rng.randint(0, 20), rng.randint(0, 20), rng.randint(0, 0xffffff)))
        with open(os.path.join(sd, "app.js"), "w") as f:
            for k in range(rng.randint(100, 1500)):
                f.write("var v%d = '%s';\n" % (k, _text(rng, rng.randint(2, 10))))
        for p in range(6):
            res = []
            for _ in range(rng.randint(4, 20)):
                res.append(rng.choice(images))
            links = ["page%d.html" % q for q in range(6) if q != p]
            body = ["<!doctype html><html><head><meta charset='utf-8'><title>site %d page %d</title>" % (s, p),
                    "<link rel='stylesheet' href='style.css'><script src='app.js'></script>",
                    "<script src='https://{CDN}/lib%d.js'></script></head><body>" % rng.randrange(6)]
            for k in range(rng.randint(3, 30)):
                body.append("<p>%s</p>" % _text(rng, rng.randint(20, 120)))
            for r in res:
                body.append("<img src='https://{CDN}/img/%s' width='200'>" % r)
            for l in links:
                body.append("<a href='%s'>%s</a>" % (l, _text(rng, 3)))
            body.append("</body></html>")
            with open(os.path.join(sd, "page%d.html" % p + ".in"), "w") as f:
                f.write("\n".join(body))


def build_tor_keys(cache):
    """Identity keys for 3 directory authorities and 2 relays of the private Tor network."""
    d = os.path.join(cache, "tor")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    empty = os.path.join(d, "empty-torrc")
    open(empty, "w").close()
    auths = []
    for i in range(3):
        ip = "%s.%d" % (TOR_NET, 2 + i)
        nd = os.path.join(d, "auth%d" % i)
        kd = os.path.join(nd, "keys")
        os.makedirs(kd)
        subprocess.run(["tor-gencert", "--create-identity-key", "-m", "24", "-a", ip + ":7000",
                        "-i", kd + "/authority_identity_key", "-s", kd + "/authority_signing_key",
                        "-c", kd + "/authority_certificate", "--passphrase-fd", "0"],
                       input="\n", text=True, check=True, capture_output=True)
        out = run(["tor", "--quiet", "--list-fingerprint", "--DataDirectory", nd, "--ORPort",
                   ip + ":5000", "--Nickname", "auth%d" % i, "-f", empty]).stdout
        fpr = "".join(out.strip().splitlines()[-1].split()[1:])
        with open(kd + "/authority_certificate") as f:
            v3 = [l.split()[1] for l in f if l.startswith("fingerprint")][0]
        auths.append("DirAuthority auth%d orport=5000 no-v2 v3ident=%s %s:7000 %s" % (i, v3, ip, fpr))
    for i in range(2):
        ip = "%s.%d" % (TOR_NET, 5 + i)
        nd = os.path.join(d, "relay%d" % i)
        os.makedirs(nd)
        run(["tor", "--quiet", "--list-fingerprint", "--DataDirectory", nd, "--ORPort",
             ip + ":5000", "--Nickname", "relay%d" % i, "-f", empty])
    with open(os.path.join(d, "dirauths"), "w") as f:
        f.write("\n".join(auths) + "\n")
