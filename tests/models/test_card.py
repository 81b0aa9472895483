#!/usr/bin/python3
"""The model card (models/README.md) must describe the model files that ship.

usage: test_card.py TRAFFICTRIAGE MODELS_DIR

Checks, for every row of the card's "Bundled models" table, that the file exists, loads
(`traffictriage info`), and has the checksum prefix, parameter count (both nets' for a fused
model) and classes the row states; that the evaluation files in models/results/ are the ones written for these very
model files (the held-out accuracy recorded inside each model file equals its
results/<name>.test.json); that the card's headline figures for the default model
equal that JSON; and that its real-traffic row and the model's threshold equal
results/<name>.real-cv.json.  A retrained model installed without updating the card fails here.
"""
import json
import os
import re
import subprocess
import sys


def info(tt, path):
    out = subprocess.run([tt, "info", path], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("FAIL: traffictriage info %s: %s" % (path, out.stderr.strip()))
    head, meta = {}, {}
    for line in out.stdout.splitlines():
        if "=" in line and not line.startswith(" "):
            k, _, v = line.partition("=")
            meta[k] = v
        else:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0] == "parameters" and "parameters" in head:
                # a fused model: one line per net; the file holds their sum
                head["parameters"] = str(int(head["parameters"]) + int(parts[1]))
            elif len(parts) == 2 and parts[0] not in head:
                head[parts[0]] = parts[1]   # a fused model's first net, not its companion
    return head, meta


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    tt, mdir = sys.argv[1], sys.argv[2]
    card = open(os.path.join(mdir, "README.md"), encoding="utf-8").read()
    section = card.split("## Bundled models", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    if not rows:
        raise SystemExit("FAIL: no rows in the card's Bundled models table")
    failures = []
    default = None
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        fname = cells[0].strip("`").split("`")[0]
        classes = cells[2]
        params = cells[4].replace(",", "")
        sha = cells[5].strip("`")
        path = os.path.join(mdir, fname)
        if not os.path.exists(path):
            failures.append("%s: listed in the card, missing in models/" % fname)
            continue
        head, meta = info(tt, path)
        if not head.get("sha256", "").startswith(sha):
            failures.append("%s: card says sha256 %s..., the file has %s" % (fname, sha, head.get("sha256")))
        if head.get("parameters") != params:
            failures.append("%s: card says %s parameters, the file has %s" % (fname, params, head.get("parameters")))
        if classes != "same" and [c.strip() for c in classes.split(",")] != \
                [c.strip() for c in head.get("classes", "").split(",")]:
            failures.append("%s: card lists classes %r, the file has %r" % (fname, classes, head.get("classes")))
        name = head.get("model")
        res = os.path.join(mdir, "results", "%s.test.json" % name)
        if not os.path.exists(res):
            alt = os.path.join(mdir, "results", "%s.test.json" % os.path.splitext(fname)[0])
            res = alt if os.path.exists(alt) else res
        if not os.path.exists(res):
            failures.append("%s: no results/%s.test.json" % (fname, name))
            continue
        j = json.load(open(res))
        j = j.get("all", j)
        acc = meta.get("test.accuracy")
        if acc is None or abs(float(acc) - j["accuracy"]) > 5e-4:
            failures.append("%s: accuracy inside the file %s, results JSON %s (stale results?)" % (
                fname, acc, j["accuracy"]))
        if "(default)" in cells[0]:
            default = (fname, j)
    if default is None:
        failures.append("no row of the table is marked (default)")
    else:
        fname, j = default
        m = re.search(r"Overall: \*\*accuracy ([0-9.]+), balanced accuracy ([0-9.]+)\*\*, ([0-9,]+) blocks", card)
        if not m:
            failures.append("card: no 'Overall: **accuracy A, balanced accuracy B**, N blocks' line")
        else:
            acc, bal, n = float(m.group(1)), float(m.group(2)), int(m.group(3).replace(",", ""))
            if round(j["accuracy"], 3) != acc or round(j["balanced_accuracy"], 3) != bal or j["blocks"] != n:
                failures.append("card headline %.3f / %.3f / %d blocks, results say %.3f / %.3f / %d" % (
                    acc, bal, n, j["accuracy"], j["balanced_accuracy"], j["blocks"]))
    # The real-traffic cross-validation of the default: the card's "all" row and the threshold
    # stored in the model equal results/<default>.real-cv.json.
    if default is not None:
        fname = default[0]
        head, meta = info(tt, os.path.join(mdir, fname))
        res = os.path.join(mdir, "results", "%s.real-cv.json" % head.get("model"))
        if not os.path.exists(res):
            failures.append("%s: no results/%s.real-cv.json" % (fname, head.get("model")))
        else:
            cv = json.load(open(res))
            v = cv["views"]["all"]
            m = re.search(r"\| all \| ([0-9,]+) \| \*\*([0-9.]+)\*\* \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) % \|", card)
            if not m:
                failures.append("card: no real-traffic row '| all | N | **B** | A | R | U % |'")
            else:
                got = (int(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3)),
                       float(m.group(4)), float(m.group(5)))
                want = (v["threshold"]["flows"], round(v["threshold"]["balanced_accuracy"], 3),
                        round(v["argmax"]["balanced_accuracy"], 3), round(v["rule"]["balanced_accuracy"], 3),
                        round(100 * v["threshold"]["unknown_share"], 1))
                if got != want:
                    failures.append("card real-traffic row %s, results say %s" % (got, want))
            if abs(float(meta.get("threshold", "0.5")) - cv["threshold"]) > 1e-9:
                failures.append("%s recommends threshold %s, its cross-validation used %s" % (
                    fname, meta.get("threshold"), cv["threshold"]))
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("ok: %d bundled models match the card" % len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
