#!/usr/bin/python3
"""Write the committed seed corpora of tests/fuzz (standard library only).

  /usr/bin/python3 tests/fuzz/make_seeds.py TRAFFICTRIAGE_CLI

corpus/model        small models from `traffictriage init-model` (LeNet side
                    16, 2-3 classes, fixed, span time scale) and truncations
corpus/model_fixed  the same models (the harness rewrites size and checksum)
corpus/dataset      manifest lines, manifests naming c.pcap, packet series (v1, v2 plain
                    and xz, whole, cut, a section short),
                    FlowPic CSV rows (first byte = mode, see fuzz_dataset.c)
corpus/engine       packet sequences (see fuzz_engine.c for the layout)
corpus/frame        frames from tests/captures/*.pcap, one file per distinct
                    shape, prefixed by the link-type selector byte
The output is deterministic: running it again gives the same files.
"""
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
CAPTURES = os.path.join(HERE, "..", "captures")


def reset(name):
    """The corpus directory of a target. Seeds are added (files are named by
    content), never removed: the committed corpora also hold inputs that
    longer fuzzing runs found and `-merge=1` kept (README.md)."""
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    return d


def put(d, data):
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tiny_trees(n_classes):
    """A TREE payload (models/FORMAT.md): per class a stump on statistic 0 and a leaf."""
    trees, nodes = b"", b""
    for c in range(n_classes):
        trees += struct.pack("<II", c, 3) + struct.pack("<II", c, 1)
        nodes += struct.pack("<IfII", 0, 2.0 + c, 1, 2) + struct.pack("<IfII", 0xFFFFFFFF, 0.5, 0, 0)
        nodes += struct.pack("<IfII", 0xFFFFFFFF, -0.5, 0, 0) + struct.pack("<IfII", 0xFFFFFFFF, 0.1 * c, 0, 0)
    return struct.pack("<IIIIff", 1, 32, n_classes, 2 * n_classes, 0.5, 3.0) + trees + nodes


def tiny_model(side=8, classes=(b"a", b"b"), temperature=1.0, layers=None, seed=1, trees=False):
    """A hand-made model file (models/FORMAT.md, as tt_model.c writes it) with
    a tiny net, so that mutations of fuzz_model_fixed stay cheap."""
    def section(tag, flags, body):
        pad = (-len(body)) % 8
        return tag + struct.pack("<IQ", flags, len(body)) + body + b"\0" * pad
    meta = b"name=tiny\ntask=category\nuntrained=yes\n"
    spec = struct.pack("<dddIIIIIBBBBf", 15.0, 60.0, 0.0, side, side, 1500, 2, 64, 1, 0, 1, 0, 255.0)
    spec += b"\0" * (64 - len(spec))
    clas = struct.pack("<I", len(classes)) + b"".join(struct.pack("<I", len(c)) + c for c in classes)
    if layers is None:   # kind out_c kh kw sh sw pad_t pad_b pad_l pad_r rate
        layers = [(1, 2, 3, 3, 1, 1, 1, 1, 1, 1), (2,) + (0,) * 9, (3, 0, 2, 2, 2, 2, 0, 0, 0, 0),
                  (1, 2, 3, 3, 1, 1, 0, 0, 0, 0), (2,) + (0,) * 9, (5, len(classes)) + (0,) * 8]
    layr = struct.pack("<III", side, side, len(layers)) + b"".join(struct.pack("<10If", *l, 0.0) for l in layers)
    # parameter count, following the shapes (valid layer lists only)
    c, h, w, n = 1, side, side, 0
    for l in layers:
        if l[0] == 1:
            n += l[1] * c * l[2] * l[3] + l[1]
            h = (h + l[6] + l[7] - l[2]) // l[4] + 1
            w = (w + l[8] + l[9] - l[3]) // l[5] + 1
            c = l[1]
        elif l[0] == 3:
            h = (h - l[2]) // l[4] + 1
            w = (w - l[3]) // l[5] + 1
        elif l[0] == 5:
            n += l[1] * c * h * w + l[1]
            c, h, w = l[1], 1, 1
    vals = [((i * 2654435761 + seed) % 1000) / 1000.0 - 0.5 for i in range(n)]
    parm = struct.pack("<Q", n) + struct.pack("<%df" % n, *vals)
    body = (section(b"META", 1, meta) + section(b"SPEC", 1, spec) + section(b"CLAS", 1, clas)
            + section(b"LAYR", 1, layr) + section(b"PARM", 1, parm)
            + section(b"CALB", 0, struct.pack("<f", temperature)))
    if trees:
        body += section(b"TREE", 1, tiny_trees(len(classes)))
    total = 64 + len(body)
    head = b"TTRIAGE\x1a" + struct.pack("<IIQ", 1, 64, total) + hashlib.sha256(body).digest()
    head += struct.pack("<II", 7 if trees else 6, 0)
    return head + body


def models(cli):
    d = reset("model")
    dfix = reset("model_fixed")
    variants = [
        ["--classes", "a,b", "--side", "16"],
        ["--classes", "voip,video,chat", "--side", "16", "--time-scale", "span", "--min-packets", "2"],
        ["--classes", "x,y", "--side", "16", "--block-seconds", "5", "--seed", "3"],
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, v in enumerate(variants):
            out = os.path.join(tmp, "m%d.ttm" % i)
            subprocess.run([cli, "init-model", "-o", out] + v, check=True, stdout=subprocess.DEVNULL)
            data = open(out, "rb").read()
            put(d, data)
            put(dfix, data)
            if i == 0:
                for cut in (0, 8, 63, 64, 80, len(data) // 2, len(data) - 4):
                    put(d, data[:cut])
                    put(dfix, data[:cut])
    tiny = [tiny_model(), tiny_model(side=12, classes=(b"voip", b"video", b"chat"), temperature=2.0, seed=5),
            tiny_model(layers=[(5, 2) + (0,) * 8]),
            tiny_model(layers=[(1, 1, 8, 8, 8, 8, 0, 0, 0, 0), (4,) + (0,) * 9, (5, 2) + (0,) * 8]),
            tiny_model(classes=(b"voip", b"video", b"chat"), trees=True)]
    for data in tiny:
        put(d, data)
        put(dfix, data)


def xz_without_slash(text):
    """text as one xz stream that holds no '/' byte: trailing newlines added until so."""
    import lzma
    for extra in range(50):
        for preset in range(10):
            data = lzma.compress(text + b"\n" * extra, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                                 preset=preset)
            if b"/" not in data:
                return data
    raise SystemExit("no xz encoding without '/' found")


def dataset():
    d = reset("dataset")
    lines = [
        b"c.pcap\tvideo\tg1\tudp\t10.0.0.1\t12345\t10.0.0.2\t443\t*\t*\tk=v",
        b"c.pcap\tchat\tg2\ttcp\t2001::1\t*\t*\t80\t1000\t2000.5\t",
        b"c.pcap\tvoip\tg\t*\t*\t*\t*\t*\t*\t*\t-",
        b"x\ty\tz\tUDP\t::ffff:1.2.3.4\t0\t0.0.0.0\t65535\t-1e3\t1e9\ta=b;c=d",
        b"bad line with too few fields",
    ]
    put(d, b"\0" + b"\n".join(lines))
    for l in lines:
        put(d, b"\0" + l)
    manifest = b"#ttmanifest v1\n# comment\n" + b"\n".join(lines[:3]) + b"\n"
    put(d, b"\1" + manifest)
    put(d, b"\2" + manifest)
    series = (b"#ttseries v1\n"
              b"s1\tvideo\tf1\t-\t[0.0, 0.1, 0.2, 0.3, 7.5, 7.6]\t[1500, 1500, 40, 40, 1200, 9000]\n"
              b"s2\tvoip\tf2\tk=v\t0 0.02 0.04 0.06 0.08 0.1\t200 200 200 200 200 200\n"
              b"s2\tnew\tf3\t\t1e9,1e9,1e9\t1,65535,2\n")
    put(d, b"\1" + series)
    put(d, b"\2" + series)
    put(d, b"\1#ttseries v1\ng\tl\tf\t-\t0 1\t5\n")
    csv = (b"a.pcap,10.0.0.1,1,10.0.0.2,2,udp,0,4,0.0,0.5,1.0,14.9,,100,200,300,1500\n"
           b"a.pcap,10.0.0.1,1,10.0.0.2,2,tcp,0,3,0.0,0.5,20,60,70,80\n")
    put(d, b"\1" + csv)
    put(d, b"\2" + csv)
    put(d, b"\3" + csv)
    # v2 (models/TRAINING-DATA.md): integer time differences, sections, plain and xz-compressed
    # as the corpus writer lays it out (a header stream, then one stream per section); the
    # harness turns '/' into '_', so the xz seeds are made without that byte.
    head = b"#ttseries v2 tick_pow2=-22\n#meta seed=1\n#sections 2\n#session g1 1\n#session g2 2\n"
    sec1 = (b"g1\tvideo\tudp 10.0.0.1:1 -> 10.0.0.2:2\ttunnel=none\t7532324577050624 83886 -1 4194304 5\t"
            b"1500 40 40 1200 65575\n#end section=1 flows=1 packets=5\n")
    sec2 = (b"g2\tvoip\tf\t-\t0 83886 83886 83886 83886 83886 83886 83886 83886 83886 83886 83886\t"
            b"200 200 200 200 200 200 200 200 200 200 200 200\n#end section=2 flows=1 packets=12\n")
    put(d, b"\1" + head + sec1 + sec2)
    put(d, b"\2" + head.replace(b"tick_pow2=-22", b"tick_ns=1000") + sec1 + sec2)
    put(d, b"\1" + head + sec1)                          # a section short
    xz = xz_without_slash(head) + xz_without_slash(sec1) + xz_without_slash(sec2)
    put(d, b"\1" + xz)
    put(d, b"\1" + xz[:len(xz) * 2 // 3])                 # cut inside the last stream


def engine():
    d = reset("engine")

    def seq(cfg, recs):
        return bytes(cfg) + b"".join(struct.pack("<BHBH", *r) for r in recs)

    base = [3, 10, 2, 20, 40, 0b00000101, 0xdc, 0x05]       # max_flows 4, max_packets 11, ...
    # one steady flow, then a second, sizes varying
    put(d, seq(base, [(0, 100 + 50 * i, 1, 100) for i in range(30)] + [(0, 60, 2, 500)] * 5))
    # times backwards, huge gap, same time, NaN / inf, absolute times
    put(d, seq(base, [(0, 200, 1, 10), (1, 200, 1, 100), (3, 200, 1, 0), (2, 200, 1, 9),
                      (6, 300, 1, 0), (6, 300, 1, 1), (6, 300, 1, 2), (5, 300, 1, 1), (5, 300, 1, 2),
                      (5, 300, 1, 3), (4, 300, 1, 7), (0, 0, 1, 1)]))
    # zero and 65535-byte packets, IPv6, non-TCP/UDP
    put(d, seq(base, [(8, 0, 1, 1), (16, 0, 1, 1), (64, 1400, 1, 1), (128, 100, 1, 1), (0, 70000 & 0xffff, 130, 3)]))
    # many tiny flows with a 1-flow table: evictions
    put(d, seq([0, 3, 1, 3, 2, 0xff, 0xff, 0xff], [(32, 100, 0, 5)] * 40))
    # idle timeouts
    put(d, seq([15, 63, 0, 0, 0, 0x40, 0xe8, 0x03], [(0, 500, i % 20, 1600) for i in range(60)]))


def pcap_frames(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        return None, []
    lt = struct.unpack("<I", data[20:24])[0]
    off, frames = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return lt, frames


def frame():
    d = reset("frame")
    selector = {1: 0, 12: 1, 101: 2, 228: 3, 229: 4, 113: 5, 276: 6, 0: 7, 108: 8}
    seen = set()
    for name in sorted(os.listdir(CAPTURES)):
        if not (name.endswith(".pcap") or name.endswith(".pcap.gz")):
            continue
        lt, frames = pcap_frames(os.path.join(CAPTURES, name))
        if lt not in selector:
            continue
        for fr in frames:
            shape = (lt, fr[12:14], len(fr) > 200, fr[23:24], fr[20:21])
            if shape in seen:
                continue
            seen.add(shape)
            put(d, bytes([selector[lt]]) + fr)
    # the same IPv4/UDP packet under the other link types
    ip = bytes.fromhex("4500001c000000004011000a0a0000010a000002303901bb00080000")
    put(d, bytes([1]) + ip)
    put(d, bytes([5]) + bytes(14) + b"\x08\x00" + ip)
    put(d, bytes([6]) + b"\x08\x00" + bytes(18) + ip)
    put(d, bytes([7]) + b"\x02\x00\x00\x00" + ip)
    put(d, bytes([8]) + b"\x00\x00\x00\x02" + ip)
    ip6 = bytes.fromhex("6000000000102c40" + "20010db8" + "00" * 11 + "01" + "20010db8" + "00" * 11 + "02"
                        + "1100000100000000" + "303901bb00080000")   # fragment header (first, not last)
    put(d, bytes([4]) + ip6)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py TRAFFICTRIAGE_CLI")
    models(sys.argv[1])
    dataset()
    engine()
    frame()


if __name__ == "__main__":
    main()
