#!/usr/bin/python3
"""Check with the C trainer's own reader that every manifest line matches packets.

usage: /usr/bin/python3 verify_ttm.py TRAFFICTRIAGE MODEL MANIFEST.ttm... [-j N] [--rows FILE]
  TRAFFICTRIAGE  the built binary (e.g. build/helper-data/core/traffictriage)
  MODEL          any model whose classes include the manifest's labels (models/category.ttm)
Runs `TRAFFICTRIAGE eval MODEL` once on each manifest (its data summary: blocks per class)
and once per line on a one-line copy of the manifest (absolute capture path), reading the
"packets labelled" count: the packets the reader matched to that line. A line matches when
that count is > 0; it is compared with the packet count the labels give (pkts=, or
pkts_ab + pkts_ba). Prints per manifest and label: lines, lines matched, lines whose count
equals the given one, blocks kept / too short; then every line that matched nothing or a
different number of packets. --rows FILE also writes one TSV line per manifest line.
Exit status 1 if a line matched no packet or the reader failed.
"""

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

DATA_RX = re.compile(r"data: (\d+) blocks from (\d+) groups; (\d+) packets read, (\d+) labelled")
CLASS_RX = re.compile(r"^\s+(\S+)\s+(\d+) blocks\s+\((\d+) too short")


def run_eval(binary, model, manifest):
    """-> (ok, blocks_ok, too_short, packets_read, packets_labelled, per_class, message)."""
    p = subprocess.run([binary, "eval", model, manifest], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    text = p.stderr + "\n" + p.stdout
    m = DATA_RX.search(text)
    per_class = {}
    for line in text.splitlines():
        c = CLASS_RX.match(line)
        if c:
            per_class[c.group(1)] = (int(c.group(2)), int(c.group(3)))
    if not m:
        msg = " ".join(x for x in p.stderr.strip().splitlines()[-2:])
        return False, 0, 0, 0, 0, per_class, msg or "exit status %d" % p.returncode
    ok_blocks = sum(v[0] for v in per_class.values())
    short = sum(v[1] for v in per_class.values())
    return True, ok_blocks, short, int(m.group(3)), int(m.group(4)), per_class, ""


def given_packets(attrs):
    kv = dict(x.split("=", 1) for x in attrs.split(";") if "=" in x)
    try:
        if "pkts" in kv:
            return int(kv["pkts"])
        if "pkts_ab" in kv and "pkts_ba" in kv:
            return int(kv["pkts_ab"]) + int(kv["pkts_ba"])
    except ValueError:
        pass
    return None


def main(argv):
    args = argv[1:]
    jobs = 2
    rows_out = None
    if "-j" in args:
        i = args.index("-j")
        jobs = int(args[i + 1])
        del args[i:i + 2]
    if "--rows" in args:
        i = args.index("--rows")
        rows_out = args[i + 1]
        del args[i:i + 2]
    if len(args) < 3:
        sys.stderr.write(__doc__)
        return 2
    binary, model, manifests = args[0], args[1], args[2:]
    failed = False
    report = []
    tsv = ["manifest\tline\tlabel\tgroup\tcapture\tgiven_pkts\tmatched_pkts\tblocks_ok\tblocks_short\terror"]
    with tempfile.TemporaryDirectory(prefix="tt-verify-") as tmp:
        for mpath in manifests:
            base = os.path.dirname(os.path.abspath(mpath))
            header, lines = [], []
            with open(mpath, "r", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    line = line.rstrip("\n")
                    if not line or line.startswith("#"):
                        header.append(line)
                        continue
                    lines.append((n, line))
            ok, blocks, short, read, labelled, per_class, msg = run_eval(binary, model, mpath)
            report.append("%s: whole manifest: %s" % (os.path.basename(mpath),
                          "%d blocks kept, %d too short; %d packets read, %d labelled" %
                          (blocks, short, read, labelled) if ok else "FAILED: " + msg))
            if not ok:
                failed = True
            for cls, (b, s) in sorted(per_class.items()):
                report.append("  %-14s %6d blocks kept, %6d too short" % (cls, b, s))

            def one(item):
                i, (n, line) = item
                f = line.split("\t")
                if not os.path.isabs(f[0]):
                    f[0] = os.path.join(base, f[0])
                path = os.path.join(tmp, "l%d.ttm" % i)
                with open(path, "w", encoding="utf-8") as out:
                    out.write("#ttmanifest v1\n" + "\t".join(f) + "\n")
                res = run_eval(binary, model, path)
                os.unlink(path)
                return n, f, res

            with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
                results = list(ex.map(one, enumerate(lines)))
            by_label = defaultdict(Counter)
            problems = []
            for n, f, (ok, b, s, read, lab, _, msg) in results:
                label = f[1]
                given = given_packets(f[10])
                c = by_label[label]
                c["lines"] += 1
                c["matched"] += ok and lab > 0
                c["equal"] += ok and given is not None and lab == given
                c["blocks_ok"] += b
                c["blocks_short"] += s
                c["flows_with_block"] += b > 0
                if not ok or lab == 0:
                    failed = True
                if not ok or lab == 0 or (given is not None and lab != given):
                    problems.append("  line %d %s %s %s %s:%s <-> %s:%s: given %s, matched %d%s" % (
                        n, label, f[2], f[3], f[4], f[5], f[6], f[7], given, lab, "; " + msg if msg else ""))
                tsv.append("\t".join(str(x) for x in (
                    os.path.basename(mpath), n, label, f[2], os.path.relpath(f[0], base),
                    "" if given is None else given, lab, b, s, msg)))
            report.append("%s: per label: lines / matched packets / matched the given count /"
                          " lines with a kept block; blocks kept / too short" % os.path.basename(mpath))
            tot = Counter()
            for label in sorted(by_label):
                c = by_label[label]
                tot.update(c)
                report.append("  %-14s %5d %5d %5d %5d   %6d %6d" % (
                    label, c["lines"], c["matched"], c["equal"], c["flows_with_block"],
                    c["blocks_ok"], c["blocks_short"]))
            report.append("  %-14s %5d %5d %5d %5d   %6d %6d" % (
                "TOTAL", tot["lines"], tot["matched"], tot["equal"], tot["flows_with_block"],
                tot["blocks_ok"], tot["blocks_short"]))
            if problems:
                report.append("  lines that matched nothing or another packet count (%d):" % len(problems))
                report += problems
            report.append("")
    print("\n".join(report))
    if rows_out:
        with open(rows_out, "w", encoding="utf-8") as fh:
            fh.write("\n".join(tsv) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
