#!/usr/bin/python3
"""Write hostile model files derived from a good one (standard library only).

  /usr/bin/python3 tests/robustness/hostile_models.py GOOD.ttm OUTDIR

Prints one line per file: NAME. The same kinds of damage as the unit tests'
table (tests/unit/test_model.c), as files, so they can go through the
plugin's preference path: damage the loader sees before the checksum (size,
magic, version, checksum, truncation, padding, garbage, empty) and damage
behind a valid checksum (the harness recomputes it), reaching the section
parser and the shape checks.
"""
import hashlib
import os
import struct
import sys


def parse(data):
    n = struct.unpack_from("<I", data, 56)[0]
    off, secs = 64, []
    for _ in range(n):
        tag, flags, ln = struct.unpack_from("<4sIQ", data, off)
        body = data[off + 16: off + 16 + ln]
        secs.append([tag, flags, bytearray(body)])
        off += 16 + ln + ((-ln) % 8)
    return secs


def build(secs, n_sections=None):
    body = b""
    for tag, flags, b in secs:
        body += tag + struct.pack("<IQ", flags, len(b)) + bytes(b) + b"\0" * ((-len(b)) % 8)
    head = b"TTRIAGE\x1a" + struct.pack("<IIQ", 1, 64, 64 + len(body)) + hashlib.sha256(body).digest()
    head += struct.pack("<II", len(secs) if n_sections is None else n_sections, 0)
    return head + body


def sec(secs, tag):
    for s in secs:
        if s[0] == tag:
            return s
    raise KeyError(tag)


def main():
    good, outdir = sys.argv[1], sys.argv[2]
    data = open(good, "rb").read()
    os.makedirs(outdir, exist_ok=True)
    cases = {}

    # before the checksum
    cases["empty"] = b""
    cases["header-only"] = data[:64]
    cases["truncated"] = data[: len(data) // 2]
    b = bytearray(data); b[0:8] = b"NOTMODEL"; cases["bad-magic"] = bytes(b)
    b = bytearray(data); b[8:12] = struct.pack("<I", 99); cases["wrong-version"] = bytes(b)
    b = bytearray(data); b[16:24] = struct.pack("<Q", len(data) + 1); cases["size-field"] = bytes(b)
    b = bytearray(data); b[16:24] = struct.pack("<Q", 1 << 62); cases["huge-size-field"] = bytes(b)
    b = bytearray(data); b[len(b) // 2] ^= 0xFF; cases["bad-checksum"] = bytes(b)
    cases["padded"] = data + bytes(8)
    x, g = 12345, bytearray()
    for _ in range(4096):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        g.append(x >> 16 & 0xFF)
    cases["garbage"] = bytes(g)
    cases["png-not-model"] = b"\x89PNG\r\n\x1a\n" + bytes(100)

    # behind a valid checksum
    def mutate(name, fn, n_sections=None):
        secs = parse(data)
        fn(secs)
        cases[name] = build(secs, n_sections)

    mutate("zero-sections", lambda s: None, n_sections=0)
    mutate("more-sections", lambda s: None, n_sections=7)
    mutate("zero-classes", lambda s: sec(s, b"CLAS")[2].__setitem__(slice(0, 4), struct.pack("<I", 0)))
    mutate("huge-classes", lambda s: sec(s, b"CLAS")[2].__setitem__(slice(0, 4), struct.pack("<I", 100000)))
    mutate("class-name-length", lambda s: sec(s, b"CLAS")[2].__setitem__(slice(4, 8), struct.pack("<I", 0xFFFFFFF0)))
    mutate("huge-layer-count", lambda s: sec(s, b"LAYR")[2].__setitem__(slice(8, 12), struct.pack("<I", 1 << 30)))
    mutate("unknown-layer-kind", lambda s: sec(s, b"LAYR")[2].__setitem__(slice(12, 16), struct.pack("<I", 77)))
    mutate("giant-filters", lambda s: sec(s, b"LAYR")[2].__setitem__(slice(16, 20), struct.pack("<I", 0x7FFFFFFF)))
    mutate("input-vs-spec", lambda s: sec(s, b"LAYR")[2].__setitem__(slice(0, 4), struct.pack("<I", 17)))
    mutate("nan-weight", lambda s: sec(s, b"PARM")[2].__setitem__(slice(8, 12), struct.pack("<f", float("nan"))))
    mutate("inf-weight", lambda s: sec(s, b"PARM")[2].__setitem__(slice(12, 16), struct.pack("<f", float("inf"))))
    mutate("parameter-count", lambda s: sec(s, b"PARM")[2].__setitem__(slice(0, 8), struct.pack("<Q", 1 << 40)))
    mutate("zero-time-bins", lambda s: sec(s, b"SPEC")[2].__setitem__(slice(24, 28), struct.pack("<I", 0)))
    mutate("huge-size-bins", lambda s: sec(s, b"SPEC")[2].__setitem__(slice(28, 32), struct.pack("<I", 1 << 31)))
    mutate("nan-block-length", lambda s: sec(s, b"SPEC")[2].__setitem__(slice(0, 8), struct.pack("<d", float("nan"))))
    mutate("nan-temperature", lambda s: sec(s, b"CALB")[2].__setitem__(slice(0, 4), struct.pack("<f", float("nan"))))
    mutate("unknown-required-section", lambda s: s.append([b"XTRA", 1, bytearray(8)]))
    mutate("duplicate-section", lambda s: s.append(list(sec(s, b"CALB"))))
    mutate("no-name", lambda s: sec(s, b"META").__setitem__(2, bytearray(b"task=category\n")))
    mutate("meta-not-utf8", lambda s: sec(s, b"META").__setitem__(2, bytearray(b"name=\xff\xfe\ntask=category\n")))

    for name, d in sorted(cases.items()):
        with open(os.path.join(outdir, name + ".ttm"), "wb") as f:
            f.write(d)
        print(name)


if __name__ == "__main__":
    main()
