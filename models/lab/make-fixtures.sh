#!/bin/bash
# Cuts the short fixture captures committed under tests/fixtures/lab/: one session per
# category x tunnel, 12 s each, bandwidth capped at 1 Mbit/s and snaplen 96 so each
# capture stays around 100-300 kB.  Writes tests/fixtures/lab/<category>-<tunnel>.pcapng
# and one manifest.ttm (paths relative to that folder) plus manifest.json (full
# per-flow record, background flows included).
#   usage: models/lab/make-fixtures.sh [WORKDIR] [TUNNELS]   (default /var/tmp/tt-lab-fixtures, "none vpn tor")
set -eu
LAB=$(cd "$(dirname "$0")" && pwd)
DEST=$(cd "$LAB/../.." && pwd)/tests/fixtures/lab
WORK=${1:-/var/tmp/tt-lab-fixtures}
TUNNELS=${2:-none vpn tor}
SEED=${TT_LAB_FIXTURE_SEED:-42}
mkdir -p "$DEST" "$WORK"
for tun in $TUNNELS; do
  # start each tunnel at a different turn of the app round robin, so that the fixtures
  # show different applications (none: 2nd turn, vpn: 3rd, tor: 1st)
  case $tun in none) FK=15;; vpn) FK=30;; *) FK=0;; esac
  for cat in voip video chat browsing file_transfer; do
    /usr/bin/python3 "$LAB/run" --out "$WORK" --seed "$SEED" --only "$cat/$tun" --sessions 1 --first-k $FK \
      --duration 12 --max-mbit 1 --snaplen 96 --quick-assets --tag-prefix F || echo "fixture $cat/$tun failed"
  done
done
/usr/bin/python3 - "$WORK" "$DEST" <<'PY'
import json, os, shutil, sys
work, dest = sys.argv[1], sys.argv[2]
rows = ["#ttmanifest v1", "# TrafficTriage lab fixtures (models/lab/make-fixtures.sh); one line per labelled flow"]
meta = []
for sid in sorted(os.listdir(os.path.join(work, "sessions")), key=lambda x: ("none", "vpn", "tor").index(x.split("-")[-1])):
    sd = os.path.join(work, "sessions", sid)
    if not os.path.exists(os.path.join(sd, "done.json")):
        continue
    m = json.load(open(os.path.join(sd, "manifest.json")))
    name = "%s-%s.pcapng" % (m["category"], m["tunnel"])
    shutil.copy(os.path.join(sd, "capture.pcapng"), os.path.join(dest, name))
    for line in open(os.path.join(sd, "manifest.ttm")):
        if not line.startswith("#"):
            f = line.rstrip("\n").split("\t")
            f[0] = name
            rows.append("\t".join(f))
    m["capture"] = name
    meta.append(m)
open(os.path.join(dest, "manifest.ttm"), "w").write("\n".join(rows) + "\n")
json.dump(meta, open(os.path.join(dest, "manifest.json"), "w"), indent=1)
print("fixtures:", len(meta), "captures in", dest)
PY
chmod 644 "$DEST"/*
du -sh "$DEST"; ls -la "$DEST"
