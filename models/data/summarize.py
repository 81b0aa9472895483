#!/usr/bin/python3
"""Check and summarise the converter outputs in OUT_DIR (*.ttseries, *.ttm).

usage: /usr/bin/python3 summarize.py OUT_DIR [EXTRA_NOTES_FILE]
Prints per output and label: groups, flows, packets and packets-per-flow percentiles;
writes the same text to OUT_DIR/SUMMARY.txt (followed by EXTRA_NOTES_FILE, if given).
Exit status 1 if a file breaks its format.
"""

import os
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


def check_ttseries(path, errors):
    accs = defaultdict(Acc)
    flow_ids = set()
    group_labels = defaultdict(set)
    max_size = 0
    over_1500 = 0
    by_dir = defaultdict(list)
    with open(path, "r", encoding="utf-8") as fh:
        first = fh.readline().rstrip("\n")
        if first != TTSERIES_MAGIC:
            errors.append("%s: first line %r" % (path, first))
        for lineno, line in enumerate(fh, 2):
            line = line.rstrip("\n")
            if line.startswith("#") or not line:
                continue

            def bad(msg):
                errors.append("%s:%d: %s" % (os.path.basename(path), lineno, msg))

            f = line.split("\t")
            if len(f) != 6:
                bad("%d fields" % len(f))
                continue
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


def check_ttm(path, errors):
    accs = defaultdict(Acc)
    base = os.path.dirname(os.path.abspath(path))
    rows = 0
    encrypted = defaultdict(int)
    missing = set()
    with open(path, "r", encoding="utf-8") as fh:
        first = fh.readline().rstrip("\n")
        if first != TTMANIFEST_MAGIC:
            errors.append("%s: first line %r" % (path, first))
        for lineno, line in enumerate(fh, 2):
            line = line.rstrip("\n")
            if line.startswith("#") or not line:
                continue
            f = line.split("\t")
            if len(f) != 11:
                errors.append("%s:%d: %d fields" % (os.path.basename(path), lineno, len(f)))
                continue
            cap, label, group, proto, aa, pa, ab, pb, t0, t1, attrs = f
            if proto not in ("tcp", "udp") or not (pa.isdigit() and pb.isdigit()):
                errors.append("%s:%d: bad proto/ports" % (os.path.basename(path), lineno))
            if not os.path.isfile(os.path.join(base, cap)):
                missing.add(cap)
            kv = dict(x.split("=", 1) for x in attrs.split(";") if "=" in x)
            rows += 1
            encrypted[(label, kv.get("encrypted", "?"))] += 1
            a = accs[label]
            a.groups.add(group)
            for k in ("pkts_ab", "pkts_ba"):
                try:
                    n = int(kv.get(k, ""))
                except ValueError:
                    continue
                if n > 0:
                    a.flows += 1
                    a.packets += n
                    a.per_flow.append(n)
    if missing:
        errors.append("%s: %d captures missing, e.g. %s" % (path, len(missing), sorted(missing)[0]))
    extra = ["bidirectional rows: %d (flows/packets above: non-empty unidirectional flows,"
             " packet counts from nDPI)" % rows,
             "encrypted per label: " + ", ".join("%s/%s=%d" % (k[0], k[1], v) for k, v in sorted(encrypted.items()))]
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
            lines += table(name + " (ttmanifest)", accs, "uniflows", extra) + [""]
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
