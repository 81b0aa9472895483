#!/usr/bin/python3
"""Write the trainer manifest ndpi.ttm for the nDPI test captures (no pcap parsing here).

usage: /usr/bin/python3 conv_ndpi.py RAW_DIR OUT_DIR [--pcap-dir NAME]
  RAW_DIR  the unpacked archive (holds labels.tsv, pcap/, README.md)
  OUT_DIR  gets ndpi.ttm and a copy of the captures in OUT_DIR/NAME (default pcap/);
           the manifest's capture column is relative to OUT_DIR.

Manifest (tab separated, first line '#ttmanifest v1', '#' lines are comments):
  capture label group proto addr_a port_a addr_b port_b t_start t_end attrs
One line per bidirectional flow of labels.tsv whose category is one of ours; the
trainer cuts both unidirectional flows out of the capture. group = attr fold = the
capture's application family (family() below), the unit to split folds by.
"""

import os
import re
import shutil
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttcommon import AtomicText, TTMANIFEST_MAGIC, attrs_str, log, remove_path  # noqa: E402

SOURCE = "GitHub ntop/nDPI @ 3b1286ab03b0c9223ac208a01868d8c1f6c0ae00 (tests/cfgs/default/pcap, LGPL-3.0)"
LABELS = ("voip", "video", "chat", "browsing", "file_transfer")
COLUMNS = ("pcap", "l4", "ip_a", "port_a", "ip_b", "port_b", "category", "ndpi_protocol",
           "ndpi_category", "packets_a_to_b", "packets_b_to_a", "duration_s", "encrypted")


def family(capture):
    """Validation fold unit: the capture name before the first '_', '.', '-' or digit,
    lower-cased (skype.pcap, skype_udp.pcap -> skype); for names that start with a digit
    the part before the first '_', '.' or '-' (1kxun.pcap -> 1kxun, 443-curl.pcap -> 443)."""
    fam = re.match(r"[^_.\-0-9]*", capture).group(0) or re.match(r"[^_.\-]*", capture).group(0)
    return clean(fam.lower()) or "unnamed"


def clean(v):
    """Attr values must not hold whitespace, ';' or '='."""
    for ch in " \t;=":
        v = v.replace(ch, "_")
    return v


def main(argv):
    args = argv[1:]
    pcap_name = "pcap"
    if "--pcap-dir" in args:
        i = args.index("--pcap-dir")
        pcap_name = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    raw_dir, out_dir = args
    labels_path = os.path.join(raw_dir, "labels.tsv")
    src_pcaps = os.path.join(raw_dir, "pcap")
    if not (os.path.isfile(labels_path) and os.path.isdir(src_pcaps)):
        sys.stderr.write("need labels.tsv and pcap/ under %s\n" % raw_dir)
        return 1

    # Copy the captures next to the manifest, so the manifest stays valid on its own.
    dst_pcaps = os.path.join(out_dir, pcap_name)
    remove_path(dst_pcaps)
    shutil.copytree(src_pcaps, dst_pcaps)

    stats = Counter()
    skipped_cat = Counter()
    folds = set()
    out = AtomicText(os.path.join(out_dir, "ndpi.ttm"))
    try:
        out.write(TTMANIFEST_MAGIC + "\n")
        out.write("# source: %s\n" % SOURCE)
        out.write("# converter: models/data/conv_ndpi.py; labels = nDPI's category mapped to ours"
                  " (DPI judgement, not ground truth)\n")
        out.write("# one line per bidirectional flow; the trainer takes both directions;"
                  " pkts_ab/pkts_ba/duration_s as counted by nDPI\n")
        out.write("# group = fold attr = application family (capture name before the first"
                  " '_', '.', '-' or digit): split folds by family, never by flow\n")
        out.write("# capture\tlabel\tgroup\tproto\taddr_a\tport_a\taddr_b\tport_b\tt_start\tt_end\tattrs\n")
        with open(labels_path, "r", encoding="utf-8", errors="replace") as fh:
            header = fh.readline().rstrip("\r\n").split("\t")
            if tuple(header) != COLUMNS:
                log("  ndpi: unexpected labels.tsv header %r" % (header,))
            col = {name: i for i, name in enumerate(header)}
            missing = [c for c in COLUMNS if c not in col]
            if missing:
                raise SystemExit("labels.tsv lacks columns %s" % missing)
            for lineno, raw in enumerate(fh, 2):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                f = line.split("\t")
                if len(f) != len(header):
                    stats["odd_rows"] += 1
                    log("  ndpi: odd row %d: %r" % (lineno, line[:100]))
                    continue
                r = {name: f[i].strip() for name, i in col.items()}
                cat = r["category"]
                if cat not in LABELS:
                    skipped_cat[cat] += 1
                    continue
                proto = r["l4"].lower()
                ok = proto in ("tcp", "udp") and r["port_a"].isdigit() and r["port_b"].isdigit() \
                    and r["ip_a"] and r["ip_b"] and "/" not in r["pcap"] and r["pcap"]
                if not ok:
                    stats["odd_rows"] += 1
                    log("  ndpi: unusable row %d: %r" % (lineno, line[:100]))
                    continue
                if not os.path.isfile(os.path.join(dst_pcaps, r["pcap"])):
                    stats["rows_missing_capture"] += 1
                    log("  ndpi: capture missing for row %d: %s" % (lineno, r["pcap"]))
                    continue
                fam = family(r["pcap"])
                attrs = attrs_str([
                    ("source", "ndpi"),
                    ("fold", fam),
                    ("l4", proto),
                    ("ndpi_protocol", clean(r["ndpi_protocol"])),
                    ("encrypted", r["encrypted"].lower()),
                    ("ndpi_category", clean(r["ndpi_category"])),
                    ("pkts_ab", clean(r["packets_a_to_b"])),
                    ("pkts_ba", clean(r["packets_b_to_a"])),
                    ("duration_s", clean(r["duration_s"])),
                ])
                out.write("\t".join((
                    pcap_name + "/" + r["pcap"], cat, fam, proto,
                    r["ip_a"], r["port_a"], r["ip_b"], r["port_b"], "*", "*", attrs)) + "\n")
                stats["rows"] += 1
                stats["rows_" + cat] += 1
                folds.add(fam)
    except BaseException:
        out.abort()
        raise
    out.close()
    log("ndpi: " + ", ".join("%s=%d" % kv for kv in sorted(stats.items())) + ", folds=%d" % len(folds))
    if skipped_cat:
        log("ndpi: rows skipped for category: " + ", ".join("%s=%d" % kv for kv in sorted(skipped_cat.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
