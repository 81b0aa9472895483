#!/usr/bin/python3
"""Check and summarise the converter outputs in OUT_DIR (*.ttseries, *.ttm).

usage: /usr/bin/python3 summarize.py OUT_DIR [EXTRA_NOTES_FILE]
Prints per output and label: groups, flows, packets and packets-per-flow percentiles
(manifests: rows = bidirectional flows, packets as the labels count them, and rows per fold);
writes the same text to OUT_DIR/SUMMARY.txt (followed by EXTRA_NOTES_FILE, if given).
Exit status 1 if a file breaks its format.
"""

import ipaddress
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttcommon import TTSERIES_MAGIC, TTMANIFEST_MAGIC, percentile  # noqa: E402

PCTS = (0, 5, 25, 50, 75, 95, 100)
MAX_ERRORS_SHOWN = 10


class Acc:
    def __init__(self):
        self.groups = set()
        self.flows = 0
        self.packets = 0
        self.per_flow = []
        self.durations = []
        self.bytes = 0


def pct_str(vals, fmt="%d"):
    vals = sorted(vals)
    if not vals:
        return "-"
    return " ".join(("p%d=" % p) + (fmt % percentile(vals, p)) for p in PCTS)


def table(title, accs, unit, extra=None):
    lines = [title]
    lines.append("  %-14s %7s %8s %10s  %s" % ("label", "groups", unit, "packets", "packets per flow"))
    total = Acc()
    for label in sorted(accs):
        a = accs[label]
        total.groups |= a.groups
        total.flows += a.flows
        total.packets += a.packets
        total.per_flow += a.per_flow
        total.durations += a.durations
        lines.append("  %-14s %7d %8d %10d  %s" % (label, len(a.groups), a.flows, a.packets, pct_str(a.per_flow)))
    lines.append("  %-14s %7d %8d %10d  %s" % ("TOTAL", len(total.groups), total.flows, total.packets,
                                               pct_str(total.per_flow)))
    lines.append("  flows with >=20 packets: " + ", ".join(
        "%s=%d" % (label, sum(1 for n in accs[label].per_flow if n >= 20)) for label in sorted(accs)))
    if total.durations:
        lines.append("  flow duration (s): " + pct_str(total.durations, "%.1f"))
    if extra:
        lines.extend("  " + e for e in extra)
    return lines


def records(path, magic, n_fields, errors):
    """The data lines of a #ttseries / #ttmanifest file at path, as (line number,
    its tab-separated fields, bad(msg): an error at that line, added to errors);
    comments and blank lines passed over. A first line other than magic, or a
    line without n_fields fields, is an error (the line is skipped)."""
    with open(path, "r", encoding="utf-8") as fh:
        first = fh.readline().rstrip("\n")
        if first != magic:
            errors.append("%s: first line %r" % (path, first))
        for lineno, line in enumerate(fh, 2):
            line = line.rstrip("\n")
            if line.startswith("#") or not line:
                continue

            def bad(msg, lineno=lineno):
                errors.append("%s:%d: %s" % (os.path.basename(path), lineno, msg))

            f = line.split("\t")
            if len(f) != n_fields:
                bad("%d fields" % len(f))
                continue
            yield lineno, f, bad


def check_ttseries(path, errors):
    accs = defaultdict(Acc)
    flow_ids = set()
    group_labels = defaultdict(set)
    max_size = 0
    over_1500 = 0
    by_dir = defaultdict(list)
    for lineno, f, bad in records(path, TTSERIES_MAGIC, 6, errors):
        group, label, flow, attrs, times, sizes = f
        if any(not x or " " in x for x in (group, label, flow)):
            bad("empty id or space in id")
        if flow in flow_ids:
            bad("duplicate flow id " + flow)
        flow_ids.add(flow)
        group_labels[group].add(label)
        direction = "?"
        if attrs != "-":
            kv = attrs.split(";")
            if any(x.count("=") != 1 for x in kv):
                bad("attrs not key=value")
            for x in kv:
                if x.startswith("dir="):
                    direction = x[4:]
        try:
            t = [float(x) for x in times.split(" ")]
            s = [int(x) for x in sizes.split(" ")]
        except ValueError:
            bad("non-numeric times/sizes")
            continue
        if len(t) != len(s):
            bad("%d times vs %d sizes" % (len(t), len(s)))
            continue
        if any(b < a for a, b in zip(t, t[1:])):
            bad("times decrease")
        if any(x <= 0 for x in s):
            bad("size <= 0")
        max_size = max(max_size, max(s))
        over_1500 += sum(1 for x in s if x > 1500)
        a = accs[label]
        a.groups.add(group)
        a.flows += 1
        a.packets += len(s)
        a.per_flow.append(len(s))
        a.durations.append(t[-1] - t[0])
        a.bytes += sum(s)
        by_dir[direction].append(len(s))
    mixed = sum(1 for g in group_labels.values() if len(g) > 1)
    extra = ["dir %s: flows=%d packets=%d, packets per flow %s" % (d, len(v), sum(v), pct_str(v))
             for d, v in sorted(by_dir.items())]
    extra += [
             "IP length: max=%d, packets over 1500=%d; groups with more than one label: %d"
             % (max_size, over_1500, mixed)]
    return accs, extra


def valid_addr(a):
    if a == "*":
        return True
    try:
        ipaddress.ip_address(a)
    except ValueError:
        return False
    return True


def valid_port(p):
    return p == "*" or (p.isdigit() and int(p) <= 65535)


def valid_time(t):
    if t == "*":
        return True
    try:
        float(t)
    except ValueError:
        return False
    return True


def check_ttm(path, errors):
    """Rows = bidirectional flows; packets from pkts= or pkts_ab + pkts_ba (the labels' counts)."""
    accs = defaultdict(Acc)
    base = os.path.dirname(os.path.abspath(path))
    rows = 0
    encrypted = defaultdict(int)
    tunnel = defaultdict(int)
    dirs20 = defaultdict(int)
    folds = defaultdict(lambda: defaultdict(int))
    missing = set()
    seen = {}
    for lineno, f, bad in records(path, TTMANIFEST_MAGIC, 11, errors):
        cap, label, group, proto, aa, pa, ab, pb, t0, t1, attrs = f
        if any(not x or re.search(r"\s", x) for x in (label, group)) or not cap:
            bad("empty field or blank in label/group")
        if proto not in ("tcp", "udp", "*") or not (valid_port(pa) and valid_port(pb)):
            bad("bad proto/ports")
        if not (valid_addr(aa) and valid_addr(ab)):
            bad("bad address")
        if not (valid_time(t0) and valid_time(t1)):
            bad("bad t_start/t_end")
        if not os.path.isfile(os.path.join(base, cap)):
            missing.add(cap)
        kv = {}
        if attrs != "-":
            items = attrs.split(";")
            if any(x.count("=") != 1 or re.search(r"\s", x) for x in items):
                bad("attrs not key=value")
            kv = dict(x.split("=", 1) for x in items if "=" in x)
        if "fold" in kv and kv["fold"] != group:
            bad("fold=%s differs from group %s" % (kv["fold"], group))
        if "l4" in kv and kv["l4"] != proto:
            bad("l4=%s differs from proto %s" % (kv["l4"], proto))
        key = (cap, proto) + tuple(sorted([(aa, pa), (ab, pb)]))
        if key in seen:
            bad("same flow as line %d (the trainer takes the first line's label)" % seen[key])
        seen[key] = lineno
        rows += 1
        if "encrypted" in kv:
            encrypted[(label, kv["encrypted"])] += 1
        if "tunnel" in kv:
            tunnel[(label, kv["tunnel"])] += 1
        folds[group][label] += 1
        a = accs[label]
        a.groups.add(group)
        a.flows += 1
        try:
            if "pkts" in kv:
                n = int(kv["pkts"])
            else:
                ab_ba = [int(kv[k]) for k in ("pkts_ab", "pkts_ba") if k in kv]
                dirs20[label] += sum(1 for x in ab_ba if x >= 20)
                n = sum(ab_ba) if ab_ba else None
        except ValueError:
            n = None
        if n is not None:
            a.packets += n
            a.per_flow.append(n)
        if "dur_s" in kv or "duration_s" in kv:
            try:
                a.durations.append(float(kv.get("dur_s", kv.get("duration_s"))))
            except ValueError:
                pass
    if missing:
        errors.append("%s: %d captures missing, e.g. %s" % (path, len(missing), sorted(missing)[0]))
    extra = ["rows: %d bidirectional flows; groups = folds: %d; packets = the labels' counts"
             " (pkts=, or nDPI's pkts_ab + pkts_ba)" % (rows, len(folds))]
    if dirs20:
        extra.append("directions with >=20 packets: " + ", ".join(
            "%s=%d" % (k, dirs20[k]) for k in sorted(accs)))
    if encrypted:
        extra.append("encrypted per label: " + ", ".join("%s/%s=%d" % (k[0], k[1], v)
                                                         for k, v in sorted(encrypted.items())))
    if tunnel:
        extra.append("tunnel per label: " + ", ".join("%s/%s=%d" % (k[0], k[1], v)
                                                      for k, v in sorted(tunnel.items())))
    sizes = sorted(sum(c.values()) for c in folds.values())
    extra.append("rows per fold: " + pct_str(sizes))
    extra.append("folds (rows per label):")
    for g in sorted(folds, key=lambda g: (-sum(folds[g].values()), g)):
        c = folds[g]
        extra.append("  %-44s %4d  %s" % (g, sum(c.values()), " ".join(
            "%s=%d" % kv for kv in sorted(c.items()))))
    return accs, extra


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    out_dir = argv[1]
    errors = []
    lines = ["TrafficTriage real-data summary for %s" % os.path.abspath(out_dir),
             "percentiles are nearest-rank; groups = train/test split unit", ""]
    for name in sorted(os.listdir(out_dir)):
        path = os.path.join(out_dir, name)
        if name.endswith(".ttseries"):
            accs, extra = check_ttseries(path, errors)
            lines += table(name + " (ttseries, unidirectional flows)", accs, "flows", extra) + [""]
        elif name.endswith(".ttm"):
            accs, extra = check_ttm(path, errors)
            lines += table(name + " (ttmanifest, bidirectional flows)", accs, "rows", extra) + [""]
    if errors:
        lines.append("FORMAT ERRORS (%d):" % len(errors))
        lines += ["  " + e for e in errors[:MAX_ERRORS_SHOWN]]
    else:
        lines.append("format check: all outputs OK")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(out_dir, "SUMMARY.txt"), "w", encoding="utf-8") as fh:
        fh.write(text)
        if len(argv) == 3 and os.path.isfile(argv[2]):
            fh.write("\nConverter log\n")
            with open(argv[2], "r", encoding="utf-8", errors="replace") as notes:
                fh.write(notes.read())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
