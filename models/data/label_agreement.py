#!/usr/bin/python3
"""How far `traffictriage label` (nDPI 4.2 + cli/label-map.c) agrees with the shipped
labels of the nDPI test captures (../shared/data/real/ndpi-dev.tar.xz, labelled with a
newer nDPI and mapped by models/data/conv_ndpi.py's rules).

usage: /usr/bin/python3 label_agreement.py TRAFFICTRIAGE RAW_DIR [--out MANIFEST] [--disagreements N]
  TRAFFICTRIAGE  the built CLI, with nDPI (build/core/traffictriage)
  RAW_DIR        the unpacked archive: labels.tsv and pcap/
Runs `TRAFFICTRIAGE label --left-out` on each capture alone (a capture it cannot read
is reported and skipped), then matches every labels.tsv row to the flow of the same
capture, L4 protocol and endpoints (either order). Prints: rows, rows whose flow was
found, found rows that `label` labelled (not left out), same class among those; the same
for the rows where nDPI 4.2 gave the same answer as the shipped one (protocol names
without numbers); and the disagreements, counted by (shipped class and answer, ours).
Standard library only; writes nothing into the repository.
"""

import hashlib
import ipaddress
import os
import subprocess
import sys
from collections import Counter, defaultdict


def norm_proto(p):
    """'7.295/HTTP.1kxun' -> 'HTTP.1kxun' (the shipped column holds ids, then names)."""
    return p.split("/", 1)[1] if "/" in p else p


def endpoints(a, pa, b, pb):
    """Both endpoints, in a fixed order, addresses parsed (2001:db8::0:1 == 2001:db8::1)."""
    return tuple(sorted([(ipaddress.ip_address(a).packed, int(pa)), (ipaddress.ip_address(b).packed, int(pb))]))


def attrs_of(s):
    return dict(x.split("=", 1) for x in s.split(";") if "=" in x)


def label_captures(binary, pcap_dir):
    """-> {(capture, l4, endpoints): [(class or None, attrs)]}, [(capture, error)]"""
    flows = defaultdict(list)
    errors = []
    for name in sorted(os.listdir(pcap_dir)):
        p = subprocess.run([binary, "label", "--left-out", os.path.join(pcap_dir, name)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        if p.returncode != 0:
            errors.append((name, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[0]))
            continue
        for line in p.stdout.splitlines():
            left = line.startswith("# left out\t")
            if line.startswith("#") and not left:
                continue
            f = line.split("\t")[1:] if left else line.split("\t")
            cls = None if left else f[1]
            key = (name, f[3], endpoints(f[4], f[5], f[6], f[7]))
            flows[key].append((cls, attrs_of(f[10])))
    return flows, errors


def main(argv):
    args = argv[1:]
    top = 25
    if "--disagreements" in args:
        i = args.index("--disagreements")
        top = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    binary, raw = args
    flows, errors = label_captures(binary, os.path.join(raw, "pcap"))
    rows = found = labelled = same = 0
    same_answer = Counter()
    disagree = Counter()
    not_found = Counter()
    left_out = Counter()
    with open(os.path.join(raw, "labels.tsv"), encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        col = {n: i for i, n in enumerate(header)}
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) != len(header):
                continue
            r = {n: f[i] for n, i in col.items()}
            rows += 1
            key = (r["pcap"], r["l4"].lower(), endpoints(r["ip_a"], r["port_a"], r["ip_b"], r["port_b"]))
            theirs = norm_proto(r["ndpi_protocol"])
            cands = flows.get(key)
            if not cands:
                not_found[r["pcap"]] += 1
                continue
            found += 1
            # several flows of one 5-tuple (idle gaps): the one with the most packets
            cls, at = max(cands, key=lambda c: int(c[1].get("pkts_ab", 0)) + int(c[1].get("pkts_ba", 0)))
            ours = at.get("ndpi_protocol", "?")
            eq_answer = ours == theirs
            same_answer["rows"] += eq_answer
            if cls is None:
                left_out[(r["category"], theirs, ours, at.get("ndpi_category", "?"))] += 1
                continue
            labelled += 1
            same_answer["labelled"] += eq_answer
            if cls == r["category"]:
                same += 1
                same_answer["same"] += eq_answer
            else:
                disagree[(r["category"], theirs, cls, ours)] += 1

    def pct(a, b):
        return "%.1f %%" % (100.0 * a / b) if b else "-"

    with open(os.path.join(raw, "labels.tsv"), "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    print("traffictriage label (cli/label-map.c) vs the shipped ndpi-dev labels (labels.tsv sha256 %.16s...)"
          % digest)
    print("captures label could not read: %d%s" % (len(errors), "".join(
        "\n  %s: %s" % e for e in errors)))
    print("shipped rows (bidirectional flows):            %5d" % rows)
    print("  flow found by label (same capture, 5-tuple): %5d  (%s)" % (found, pct(found, rows)))
    print("  of those, labelled (not left out):           %5d  (%s)" % (labelled, pct(labelled, found)))
    print("  of those, same class:                        %5d  (%s)" % (same, pct(same, labelled)))
    print("rows where nDPI 4.2 gave the shipped answer:   %5d  (%s of the found)" % (
        same_answer["rows"], pct(same_answer["rows"], found)))
    print("  of those, labelled:                          %5d" % same_answer["labelled"])
    print("  of those, same class:                        %5d  (%s)" % (
        same_answer["same"], pct(same_answer["same"], same_answer["labelled"])))
    print("\ndisagreements (shipped class, shipped answer -> our class, our answer): rows")
    for (tc, tp, oc, op), n in disagree.most_common(top):
        print("  %-13s %-26s -> %-13s %-26s %4d" % (tc, tp, oc, op, n))
    if len(disagree) > top:
        print("  ... %d more kinds, %d rows" % (len(disagree) - top, sum(n for _, n in disagree.most_common()[top:])))
    print("\nfound but left out by label (shipped class, shipped answer; our answer, our nDPI category): rows")
    for (tc, tp, op, oc), n in left_out.most_common(top):
        print("  %-13s %-26s ; %-26s %-14s %4d" % (tc, tp, op, oc, n))
    if len(left_out) > top:
        print("  ... %d more kinds, %d rows" % (len(left_out) - top, sum(n for _, n in left_out.most_common()[top:])))
    print("\nrows whose flow label did not find, per capture:")
    for cap, n in not_found.most_common(top):
        print("  %-40s %4d" % (cap, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
