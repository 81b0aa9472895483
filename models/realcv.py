#!/usr/bin/python3
"""Cross-validation on real traffic, by recording group: folds, split files and scores.

The real sets (models/data/prepare.sh: ndpi.ttm, real-extra.ttm, real-apps.ttm) name their
validation unit in the group column (an nDPI capture family, a repository or recording
group). Every unit lands in exactly one of K folds; for fold i, the trainer gets a split
file with fold i as test, fold i+1 as validation (model selection and calibration on real
data the model never trained on) and everything else, lab and other real sets included,
as training. `traffictriage eval --split S --on test --flows F` writes one row per one-way
flow of the test fold; the rows of all folds together answer for every real flow once.

  realcv.py folds K SEED OUT.tsv MANIFEST...     unit -> fold (stratified by majority class)
  realcv.py split FOLDS.tsv I OUT.split          the split file of fold I
  realcv.py final FOLDS.tsv I SEED OUT.split CORPUS... [--lab-all-test]
                                                 the bundled model's split: real fold I
                                                 validates, the other real folds train; lab
                                                 sessions (the corpus' #session lines) 70/15/15
                                                 per category x tunnel (or all test)
  realcv.py thresholds [--max-unknown F] [--unit flow|conv|pair] FLOWS.tsv...
                                                 balanced / unknown / precision per candidate
                                                 threshold, then "pick T": the highest with at
                                                 most F (0.20) of the flows unknown
  realcv.py score [--unit flow|conv|pair] [--min-packets N] [--threshold T] [--json OUT] FLOWS.tsv...

Scoring (models/README.md states it): one-way flows with >= N packets (default 20), or with
--unit conv conversations (both directions of a 5-tuple, >= N packets together), or with
--unit pair one-way flows whose every block is answered together with the reverse
direction's block of the same time (the mean of the two; needs the `eval --blocks` file
beside each flows file, same name ending .blocks), as the plugin's conversation answer; a
flow's answer is the class with the highest mean probability over its classified blocks,
`unknown` when that probability is below T (default 0.5) or when no block of the flow had
enough packets to classify; `unknown` counts as wrong. Balanced accuracy = mean recall over
the classes present. Reported overall, per source, per class, per duration bucket
(< 5 s, 5-15 s, >= 15 s) and per packets per block (< 10, 10-50, 50-200, >= 200), with
argmax (T = 0) beside it and the rule "UDP -> voip, TCP -> browsing" (attribute l4) on the
same flows.
"""
import json
import random
import sys
from collections import Counter, defaultdict

CLASSES = ["browsing", "chat", "file_transfer", "video", "voip"]


def read_manifest_units(path):
    """group -> Counter of labels, from a #ttmanifest v1 file."""
    units = defaultdict(Counter)
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            units[cols[2]][cols[1]] += 1
    return units


def cmd_folds(k, seed, out, manifests):
    units = defaultdict(Counter)
    for m in manifests:
        for g, c in read_manifest_units(m).items():
            units[g].update(c)
    rng = random.Random(seed)
    by_major = defaultdict(list)
    for g in sorted(units):
        by_major[units[g].most_common(1)[0][0]].append(g)
    fold_of = {}
    # Per majority class, units in a seeded order, each to the fold with the fewest
    # rows of that class so far (the folds stay comparable in class mix and size).
    load = [Counter() for _ in range(k)]
    for cls in sorted(by_major):
        gs = by_major[cls]
        rng.shuffle(gs)
        gs.sort(key=lambda g: -sum(units[g].values()))
        for g in gs:
            i = min(range(k), key=lambda j: (load[j][cls], sum(load[j].values()), j))
            fold_of[g] = i
            load[i].update(units[g])
    with open(out, "w") as f:
        f.write("# unit\tfold\trows per label (realcv.py folds %d %d)\n" % (k, seed))
        for g in sorted(fold_of):
            f.write("%s\t%d\t%s\n" % (g, fold_of[g], ",".join("%s=%d" % kv for kv in sorted(units[g].items()))))
    for i in range(k):
        print("fold %d: %d units, %s" % (i, sum(1 for g in fold_of if fold_of[g] == i),
                                         " ".join("%s=%d" % kv for kv in sorted(load[i].items()))))


def read_folds(path):
    folds = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            g, i = line.rstrip("\n").split("\t")[:2]
            folds[g] = int(i)
    return folds


def cmd_split(folds_path, i, out):
    folds = read_folds(folds_path)
    k = max(folds.values()) + 1
    with open(out, "w") as f:
        f.write("# fold %d of %d: test = fold %d, val = fold %d, every other group trains\n"
                % (i, k, i, (i + 1) % k))
        for g in sorted(folds):
            side = "test" if folds[g] == i else "val" if folds[g] == (i + 1) % k else "train"
            f.write("%s\t%s\n" % (g, side))
        f.write("*\ttrain\n")


def corpus_sessions(path):
    """Session ids listed in a corpus header (#session ID K; first xz stream or plain)."""
    import lzma
    with open(path, "rb") as f:
        magic = f.read(6)
    opener = lzma.open if magic == b"\xfd7zXZ\x00" else open
    ids = []
    with opener(path, "rt") as f:
        for line in f:
            if not line.startswith("#"):
                break
            if line.startswith("#session "):
                ids.append(line.split()[1])
    return ids


def cmd_final(folds_path, i, seed, out, corpora, lab_all_test=False):
    folds = read_folds(folds_path)
    cells = defaultdict(list)
    for c in corpora:
        for sid in corpus_sessions(c):
            parts = sid.split("-")          # s<seed>-<k>-<category>-<tunnel>
            cells["-".join(parts[2:])].append(sid)
    rng = random.Random(seed)
    with open(out, "w") as f:
        f.write("# real fold %d validates, other real folds train; lab sessions 70/15/15 per cell (seed %d)\n"
                % (i, seed))
        for g in sorted(folds):
            f.write("%s\t%s\n" % (g, "val" if folds[g] == i else "train"))
        for cell in sorted(cells):
            ids = sorted(cells[cell])
            rng.shuffle(ids)
            n_test = n_val = round(0.15 * len(ids))
            if lab_all_test:                # a recipe without the lab: all of it is held out
                n_test, n_val = len(ids), 0
            for j, sid in enumerate(ids):
                f.write("%s\t%s\n" % (sid, "test" if j < n_test else "val" if j < n_test + n_val else "train"))
        f.write("*\ttrain\n")


def attr(attrs, key):
    for kv in attrs.split(";"):
        if kv.startswith(key + "="):
            return kv[len(key) + 1:]
    return ""


def conversation(source, key):
    """Both directions of a 5-tuple give the same conversation id."""
    proto, a, _, b = key.split(" ", 3)
    return (source, proto) + tuple(sorted((a, b)))


def reverse(key):
    proto, a, _, b = key.split(" ", 3)
    return "%s %s -> %s" % (proto, b, a)


def pair_probs(blocks_path):
    """Per one-way flow (source, group, key): the mean over its blocks of each block's
    probabilities pooled with those of the reverse direction's block of the same
    index (`eval --blocks` rows; a block without a reverse partner stands alone)."""
    blocks = defaultdict(dict)
    with open(blocks_path) as f:
        head = f.readline().rstrip("\n").split("\t")
        pcols = [(i, h[2:]) for i, h in enumerate(head) if h.startswith("p_")]
        for line in f:
            c = line.rstrip("\n").split("\t")
            blocks[(c[0], c[3], c[6])][int(c[2])] = {name: float(c[i]) for i, name in pcols}
    out = {}
    for (source, group, key), own in blocks.items():
        other = blocks.get((source, group, reverse(key)), {})
        acc = Counter()
        for b, probs in own.items():
            mate = other.get(b)
            for name, v in probs.items():
                acc[name] += (v + mate[name]) / 2 if mate else v
        out[(source, group, key)] = {name: v / len(own) for name, v in acc.items()}
    return out


def read_flows(paths, min_packets, unit="flow"):
    """Rows of `eval --flows` files; unit "conv" merges the two directions of a
    conversation (probabilities weighted by classified blocks); unit "pair" keeps
    one-way flows but answers each from its blocks pooled with the reverse
    direction's blocks of the same time (the `eval --blocks` file beside each)."""
    rows = []
    for p in paths:
        paired = pair_probs(p[:-len(".flows")] + ".blocks") if unit == "pair" else None
        with open(p) as f:
            head = f.readline().rstrip("\n").split("\t")
            pcols = [(i, h[2:]) for i, h in enumerate(head) if h.startswith("p_")]
            kcol = head.index("key")
            for line in f:
                c = line.rstrip("\n").split("\t")
                probs = {name: float(c[i]) for i, name in pcols}
                if paired is not None and int(c[6]) > 0:
                    probs = paired.get((c[0], c[2], c[kcol]), probs)
                rows.append({"label": c[3], "packets": int(c[4]), "duration": float(c[7]),
                             "attrs": c[8], "probs": probs, "blocks_ok": int(c[6]), "blocks": int(c[5]),
                             "conv": conversation(c[0], c[kcol])})
    if unit == "conv":
        convs = {}
        for r in rows:
            m = convs.get(r["conv"])
            if m is None:
                convs[r["conv"]] = dict(r, probs={c: v * r["blocks_ok"] for c, v in r["probs"].items()})
                continue
            m["packets"] += r["packets"]
            m["duration"] = max(m["duration"], r["duration"])
            m["blocks_ok"] += r["blocks_ok"]
            m["blocks"] += r["blocks"]
            for c, v in r["probs"].items():
                m["probs"][c] += v * r["blocks_ok"]
        rows = list(convs.values())
        for r in rows:
            r["probs"] = {c: v / r["blocks_ok"] if r["blocks_ok"] else 0.0 for c, v in r["probs"].items()}
    return [r for r in rows if r["packets"] >= min_packets]


def answer(row, threshold):
    if row["blocks_ok"] == 0:
        return "unknown"
    top = max(row["probs"], key=lambda c: row["probs"][c])
    return top if row["probs"][top] >= threshold else "unknown"


def rule(row):
    return {"udp": "voip", "tcp": "browsing"}.get(attr(row["attrs"], "l4"), "unknown")


def summary(rows, predict):
    per = defaultdict(Counter)
    for r in rows:
        per[r["label"]][predict(r)] += 1
    recall = {c: per[c][c] / sum(per[c].values()) for c in sorted(per)}
    n = len(rows)
    return {"flows": n,
            "balanced_accuracy": sum(recall.values()) / len(recall) if recall else 0.0,
            "accuracy": sum(per[c][c] for c in per) / n if n else 0.0,
            "unknown_share": sum(per[c]["unknown"] for c in per) / n if n else 0.0,
            "recall": recall, "support": {c: sum(per[c].values()) for c in sorted(per)},
            "confusion": {c: dict(per[c]) for c in sorted(per)}}


def precision(rows, predict):
    """(flows answered, share of those answered right): how far a given answer can be trusted."""
    given = [r for r in rows if predict(r) != "unknown"]
    return len(given), sum(predict(r) == r["label"] for r in given) / len(given) if given else 0.0


def bucket(r):
    d = r["duration"]
    return "<5s" if d < 5 else "5-15s" if d < 15 else ">=15s"


def ppb_bucket(r):
    """Packets per block: how dense the flow's pictures are."""
    ppb = r["packets"] / max(1, r["blocks"])
    return "<10" if ppb < 10 else "10-50" if ppb < 50 else "50-200" if ppb < 200 else ">=200"


def parse_options(args, options):
    """A command's arguments: options maps each --NAME that takes a value to (its type,
    its default). Returns ({--NAME: value}, the other arguments in order)."""
    values, rest = {name: default for name, (_, default) in options.items()}, []
    while args:
        a = args.pop(0)
        if a in options:
            values[a] = options[a][0](args.pop(0))
        else:
            rest.append(a)
    return values, rest


def cmd_score(args):
    o, paths = parse_options(args, {"--unit": (str, "flow"), "--min-packets": (int, 20),
                                    "--threshold": (float, 0.5), "--json": (str, None)})
    unit, min_packets, threshold, json_out = o["--unit"], o["--min-packets"], o["--threshold"], o["--json"]
    rows = read_flows(paths, min_packets, unit)
    if not rows:
        sys.exit("realcv.py score: no flow with >= %d packets in %s" % (min_packets, " ".join(paths)))
    at_t = lambda r: answer(r, threshold)
    arg = lambda r: answer(r, 0.0)
    views = [("all", rows)]
    for src in sorted({attr(r["attrs"], "source") for r in rows}):
        views.append(("source=" + src, [r for r in rows if attr(r["attrs"], "source") == src]))
    for b in ("<5s", "5-15s", ">=15s"):
        views.append(("duration" + b, [r for r in rows if bucket(r) == b]))
    for b in ("<10", "10-50", "50-200", ">=200"):
        views.append(("packets/block" + b, [r for r in rows if ppb_bucket(r) == b]))
    result = {"min_packets": min_packets, "threshold": threshold, "unit": unit, "views": {}}
    print("%-26s %6s %9s %9s %9s %8s   recall per class at the threshold"
          % ({"conv": "convs", "pair": "pooled"}.get(unit, "flows") + " (>= %d packets)" % min_packets, "n", "balanced", "argmax", "UDP/TCP", "unknown"))
    for name, rs in views:
        s, a, u = summary(rs, at_t), summary(rs, arg), summary(rs, rule)
        result["views"][name] = {"threshold": s, "argmax": a, "rule": u}
        print("%-26s %6d %9.3f %9.3f %9.3f %8.3f   %s" % (
            name, s["flows"], s["balanced_accuracy"], a["balanced_accuracy"], u["balanced_accuracy"],
            s["unknown_share"], " ".join("%s %.2f/%d" % (c, s["recall"][c], s["support"][c]) for c in s["recall"])))
    # Precision of the answers given at the threshold (how far a confident answer can be trusted).
    n_given, prec = precision(rows, at_t)
    result["precision_when_answered"] = prec
    print("answered at threshold %.2f: %d of %d flows, precision %.3f" % (threshold, n_given, len(rows), prec))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)


def cmd_thresholds(args):
    """The candidate thresholds on the same flows, then "pick T": the highest that leaves at
    most --max-unknown of them unknown (the lowest candidate if none does)."""
    o, paths = parse_options(args, {"--max-unknown": (float, 0.20), "--unit": (str, "flow")})
    max_unknown, unit = o["--max-unknown"], o["--unit"]
    rows = read_flows(paths, 20, unit)
    candidates = (0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.0)
    pick = None
    print("%-10s %9s %8s %10s" % ("threshold", "balanced", "unknown", "precision"))
    for t in candidates:
        s = summary(rows, lambda r: answer(r, t))
        prec = precision(rows, lambda r: answer(r, t))[1]
        print("%-10g %9.3f %8.3f %10.3f" % (t, s["balanced_accuracy"], s["unknown_share"], prec))
        if pick is None and t > 0 and s["unknown_share"] <= max_unknown:
            pick = t
    print("pick %g" % (pick if pick is not None else candidates[-2]))


def main(argv):
    if len(argv) >= 5 and argv[1] == "folds":
        cmd_folds(int(argv[2]), int(argv[3]), argv[4], argv[5:])
    elif len(argv) == 5 and argv[1] == "split":
        cmd_split(argv[2], int(argv[3]), argv[4])
    elif len(argv) >= 6 and argv[1] == "final":
        corpora = [a for a in argv[6:] if a != "--lab-all-test"]
        cmd_final(argv[2], int(argv[3]), int(argv[4]), argv[5], corpora, "--lab-all-test" in argv[6:])
    elif len(argv) >= 3 and argv[1] == "thresholds":
        cmd_thresholds(argv[2:])
    elif len(argv) >= 3 and argv[1] == "score":
        cmd_score(argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
