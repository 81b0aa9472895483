#!/bin/sh
# The model card's peer row: nDPI itself (traffictriage label, its class table
# cli/label-map.c) on the labelled flows of every lab session, per tunnel and class.
#   models/ndpi-peer.sh [LAB-SESSIONS-DIR] [OUT] [ROWS.tsv]
# Needs the lab's captures (models/lab/run; the committed corpus holds packet series, not
# captures) and a build with libndpi (traffictriage label). nDPI is not trained, so every
# session counts. Writes the summary to OUT and, if asked, one row per labelled lab flow.
set -eu
cd "$(dirname "$0")/.."
TT=${TT:-build/core/traffictriage}
SESSIONS=${1:-/var/tmp/tt-lab/sessions}
OUT=${2:-models/ndpi-peer.txt}
ROWS=${3:-/dev/null}
[ -d "$SESSIONS" ] || { echo "ndpi-peer.sh: no lab sessions in $SESSIONS (models/lab/run)" >&2; exit 1; }
"$TT" label --help > /dev/null 2>&1 || { echo "ndpi-peer.sh: $TT has no label command (libndpi-dev)" >&2; exit 1; }
/usr/bin/python3 - "$TT" "$SESSIONS" "$ROWS" > "$OUT" <<'PY'
import collections, os, subprocess, sys
tt, root, rows_out = sys.argv[1:4]
CLASSES = ("browsing", "chat", "file_transfer", "video", "voip")

def flows(lines, left_out_too):
    """5-tuple (both directions, protocol) -> manifest columns of each data line."""
    out = {}
    for line in lines:
        left = line.startswith("# left out\t")
        if line.startswith("#") and not (left and left_out_too):
            continue
        c = line.rstrip("\n").split("\t")[1 if left else 0:]
        if len(c) < 11 or c[4] == "*":
            continue
        attrs = dict(kv.split("=", 1) for kv in c[10].split(";") if "=" in kv)
        out[frozenset([(c[4], c[5]), (c[6], c[7])]) | {c[3]}] = ("-" if left else c[1], attrs)
    return out

rows = []
for s in sorted(os.listdir(root)):
    cap, man = os.path.join(root, s, "capture.pcapng"), os.path.join(root, s, "manifest.ttm")
    if not (os.path.exists(cap) and os.path.exists(man)):
        continue
    res = subprocess.run([tt, "label", "--left-out", cap], capture_output=True, text=True)
    ndpi = flows(res.stdout.splitlines(), True)
    for key, (label, attrs) in flows(open(man), False).items():
        got, a = ndpi.get(key, ("-", {}))
        rows.append((s, label, attrs.get("tunnel", "?"), got, a.get("ndpi_protocol", "not seen"),
                     a.get("ndpi_category", "-")))
with open(rows_out, "w") as f:
    f.write("session\tlabel\ttunnel\tndpi_class\tndpi_protocol\tndpi_category\n")
    f.writelines("\t".join(r) + "\n" for r in rows)
print("nDPI (traffictriage label) on the labelled flows of %d lab sessions: recall per class"
      % len({r[0] for r in rows}))
print("%-8s %6s %9s  %s" % ("tunnel", "flows", "balanced", "  ".join("%s" % c for c in CLASSES)))
for t in ("none", "vpn", "tor"):
    per = collections.defaultdict(collections.Counter)
    for r in rows:
        if r[2] == t:
            per[r[1]][r[3] == r[1]] += 1
    rec = [per[c][True] / sum(per[c].values()) if per[c] else 0.0 for c in CLASSES]
    print("%-8s %6d %9.3f  %s" % (t, sum(sum(v.values()) for v in per.values()), sum(rec) / len(CLASSES),
                                  "  ".join("%*.2f" % (len(c), x) for c, x in zip(CLASSES, rec))))
answers = collections.Counter((r[2], r[4], r[5]) for r in rows)
print("\nnDPI's answers (tunnel, protocol, category: flows):")
for (t, p, c), n in sorted(answers.items(), key=lambda x: (-x[1], x[0])):
    print("  %-5s %-14s %-14s %4d" % (t, p, c, n))
PY
cat "$OUT"
