#!/usr/bin/python3
"""Write a trainer manifest for a set of captures labelled per flow (real-apps, real-extra).

usage: /usr/bin/python3 conv_labelled.py RAW_DIR OUT_DIR NAME
  RAW_DIR  the unpacked archive: holds NAME/ (or is it) with <owner+repo>/ folders and
           labels.tsv files, either one at the top (real-apps, paths start with <owner+repo>/)
           or one per <owner+repo>/ (real-extra, paths relative to that folder)
  OUT_DIR  gets NAME.ttm and the labelled captures under OUT_DIR/NAME/<owner+repo>/<path>
           (hard links into RAW_DIR where possible, else copies; plus SOURCES.md and the
           labels.tsv files, for provenance); the capture column is relative to OUT_DIR
  NAME     the set's name: source= attribute, manifest and folder name

labels.tsv: relative_path, category, tunnel, note; one row per bidirectional flow. The note
holds the 5-tuple as "TCP|UDP a:p <-> b:p" (IPv6 addresses without brackets, the port after
the last colon), and maybe pkts=, bytes=, dur=, app=, confidence=.
One manifest line per row:
  capture label group proto addr_a port_a addr_b port_b * * attrs
attrs: source, repo, fold, tunnel, l4, app (a short name, when the note or SOURCES.md names
the application), conf, pkts, bytes, dur_s (when the note gives them). group = fold = the
repository (one recording group), except for repositories that collect unrelated captures
(PER_CAPTURE below), where each capture is its own fold.
"""

import ipaddress
import os
import re
import shutil
import sys
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttcommon import AtomicText, TTMANIFEST_MAGIC, attrs_str, log, remove_path  # noqa: E402

LABELS = ("voip", "video", "chat", "browsing", "file_transfer")
COLUMNS = ("relative_path", "category", "tunnel", "note")

SOURCE_TEXT = {
    "real-apps": "recordings of named applications from public GitHub repositories (UCLouvain LINFO1341"
                 " projects 2023-24, networks-course final projects, chhans/tor-automation);"
                 " per repository URL, commit, licence and activity see real-apps/SOURCES.md",
    "real-extra": "Lin-z-w/VCA-sense, t0data/PCAP_wireshark (Wireshark sample captures), zeek/zeek"
                  " testing traces (BSD), sourish001/Protocol_Protectors (Tor); see"
                  " ../shared/data/README.md",
}

# Repositories that are collections of unrelated sample captures (different contributors,
# networks and years), not one recording group: each capture file is its own fold.
PER_CAPTURE = {
    "t0data+PCAP_wireshark": "Wireshark's SampleCaptures: one contributor and network per file",
    "zeek+zeek": "Zeek's btest traces: one source per file",
}

# The 5-tuple in the note: "TCP 10.0.0.1:443 <-> 2001:db8::1:51000" (brackets tolerated).
TUPLE_RX = re.compile(r"\b(TCP|UDP|tcp|udp)\s+\[?([0-9A-Fa-f:.]+)\]?:(\d+)\s+<->\s+"
                      r"\[?([0-9A-Fa-f:.]+)\]?:(\d+)(?=[\s;,)]|$)")
PKTS_RX = re.compile(r"\bpkts=(\d+)")
BYTES_RX = re.compile(r"\bbytes=(\d+)")
DUR_RX = re.compile(r"\bdur=(\d+(?:\.\d+)?)s\b")
APP_RX = re.compile(r"\bapp=([^;]*)")
CONF_RX = re.compile(r"\bconfidence[=:]\s*([A-Za-z-]+)")

# Application text -> short name; first match wins, so specific names come before browsers
# and protocols. Parenthesised parts of the text are ignored ("YouTube ... (Chrome, Linux)").
APPS = [
    (r"\btor\b", "tor"),
    (r"\bteams\b", "teams"),
    (r"\bdiscord\b", "discord"),
    (r"\bzoom\b", "zoom"),
    (r"\bsignal\b", "signal"),
    (r"\bskype\b", "skype"),
    (r"\bmsn ?messenger\b|\bmsnms\b", "msn_messenger"),
    (r"\bmessenger\b", "messenger"),
    (r"\bwhatsapp\b", "whatsapp"),
    (r"\bfeishu\b", "feishu"),
    (r"\btencent", "tencent_meeting"),
    (r"\bonedrive\b|\bsharepoint\b", "onedrive"),
    (r"\bgoogle drive\b", "google_drive"),
    (r"\bshadow drive\b|\bshadow\.tech\b", "shadow_drive"),
    (r"\bnextcloud\b", "nextcloud"),
    (r"\bgoogle meet\b", "google_meet"),
    (r"\bspotify\b", "spotify"),
    (r"\byoutube\b", "youtube"),
    (r"\bgmail\b", "gmail"),
    (r"\bsip\b|\brtp\b", "sip_rtp"),
    (r"\birc\b", "irc"),
    (r"\bxmpp\b", "xmpp"),
    (r"\btftp\b", "tftp"),
    (r"\bftp\b", "ftp"),
    (r"\bsmb\d?\b", "smb"),
    (r"\bssh\b", "ssh"),
    (r"\bfirefox\b", "firefox"),
    (r"\bchrom(e|ium)\b", "chrome"),
    (r"\bedge\b", "edge"),
    (r"\bbrowser\b", "web_browser"),
    (r"\bhttp\b", "http"),
]
APPS = [(re.compile(rx, re.I), name) for rx, name in APPS]


def clean(v):
    """Attr values must not hold whitespace, ';' or '='."""
    return re.sub(r"[\s;=]", "_", v)


def app_name(text):
    text = re.sub(r"\([^)]*\)?", " ", text or "")
    for rx, name in APPS:
        if rx.search(text):
            return name
    return ""


def read_sources_apps(path):
    """SOURCES.md: '## owner/repo' sections with '- application: X' lines -> {owner+repo: X}."""
    apps = {}
    if not os.path.isfile(path):
        return apps
    repo = None
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = re.match(r"##\s+([^\s/]+)/(\S+)", line)
            if m:
                repo = m.group(1) + "+" + m.group(2)
                continue
            m = re.match(r"\s*-\s*application:\s*(.+)", line)
            if m and repo:
                apps[repo] = m.group(1).strip()
    return apps


def find_root(raw_dir, name):
    """The folder holding the <owner+repo>/ folders (the archive has a top folder NAME/)."""
    sub = os.path.join(raw_dir, name)
    return sub if os.path.isdir(sub) else raw_dir


def label_files(root):
    """labels.tsv files: the top one, else one per <owner+repo>/ folder."""
    top = os.path.join(root, "labels.tsv")
    if os.path.isfile(top):
        return [top]
    return sorted(os.path.join(root, d, "labels.tsv") for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, "labels.tsv")))


def link_or_copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def parse_row(f, lt_dir, root, stats, where):
    """One labels.tsv row -> dict, or None (logged and counted)."""
    relpath, cat, tunnel, note = (x.strip() for x in f)

    def bad(why):
        stats["rows_unusable"] += 1
        log("  %s: %s: %r" % (where, why, "\t".join(f)[:140]))
        return None

    if cat not in LABELS:
        stats["rows_other_category"] += 1
        log("  %s: category %r is not one of ours, skipped" % (where, cat))
        return None
    full = os.path.normpath(os.path.join(lt_dir, relpath))
    rel = os.path.relpath(full, root)
    if rel.startswith("..") or os.sep not in rel:
        return bad("capture outside an <owner+repo>/ folder")
    if any(ch in rel for ch in "\t\r\n"):
        return bad("tab or line break in the capture path")
    if not os.path.isfile(full):
        stats["rows_missing_capture"] += 1
        return bad("capture missing")
    tuples = TUPLE_RX.findall(note)
    if len(tuples) != 1:
        return bad("%d 5-tuples in the note" % len(tuples))
    proto, a, pa, b, pb = tuples[0]
    try:
        a, b = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return bad("bad address")
    if not (0 < int(pa) < 65536 and 0 < int(pb) < 65536):
        return bad("bad port")
    if not tunnel or re.search(r"[\s;=]", tunnel):
        return bad("bad tunnel value")
    return {"rel": rel, "repo": rel.split(os.sep)[0], "cat": cat, "tunnel": tunnel, "note": note,
            "proto": proto.lower(), "a": a.compressed, "pa": str(int(pa)),
            "b": b.compressed, "pb": str(int(pb))}


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    raw_dir, out_dir, name = argv[1:]
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        sys.stderr.write("NAME must be a plain file name\n")
        return 2
    root = find_root(raw_dir, name)
    lts = label_files(root)
    if not lts:
        sys.stderr.write("no labels.tsv under %s\n" % root)
        return 1
    sources_apps = read_sources_apps(os.path.join(root, "SOURCES.md"))

    stats = Counter()
    rows = []
    for lt in lts:
        with open(lt, "r", encoding="utf-8", errors="replace", newline="") as fh:
            header = tuple(x.strip() for x in fh.readline().rstrip("\r\n").split("\t"))
            if header != COLUMNS:
                raise SystemExit("%s: header %r, expected %r" % (lt, header, COLUMNS))
            for lineno, line in enumerate(fh, 2):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                stats["rows_read"] += 1
                f = line.split("\t")
                where = "%s:%d" % (os.path.relpath(lt, root), lineno)
                if len(f) != len(COLUMNS):
                    stats["rows_unusable"] += 1
                    log("  %s: %d fields" % (where, len(f)))
                    continue
                r = parse_row(f, os.path.dirname(lt), root, stats, where)
                if r:
                    rows.append(r)

    # The same flow twice in one capture: the trainer would give it the first row's label.
    seen = {}
    kept = []
    for r in rows:
        key = (r["rel"], r["proto"]) + tuple(sorted([(r["a"], r["pa"]), (r["b"], r["pb"])]))
        if key in seen:
            stats["rows_duplicate"] += 1
            log("  %s: flow listed twice (%s, %s), second row dropped" % (r["rel"], seen[key], r["cat"]))
            continue
        seen[key] = r["cat"]
        kept.append(r)
    rows = kept

    # Captures (and provenance files) next to the manifest, so it stays valid on its own.
    dst_root = os.path.join(out_dir, name)
    remove_path(dst_root)
    for rel in sorted({r["rel"] for r in rows}):
        link_or_copy(os.path.join(root, rel), os.path.join(dst_root, rel))
    for lt in lts:
        link_or_copy(lt, os.path.join(dst_root, os.path.relpath(lt, root)))
    if os.path.isfile(os.path.join(root, "SOURCES.md")):
        link_or_copy(os.path.join(root, "SOURCES.md"), os.path.join(dst_root, "SOURCES.md"))

    per_label = Counter()
    per_fold = defaultdict(Counter)
    apps = Counter()
    out = AtomicText(os.path.join(out_dir, name + ".ttm"))
    try:
        out.write(TTMANIFEST_MAGIC + "\n")
        out.write("# source: %s\n" % SOURCE_TEXT.get(name, name))
        out.write("# converter: models/data/conv_labelled.py; label = labels.tsv category (by construction"
                  " from the recorded activity, see each note); one line per bidirectional flow\n")
        out.write("# group = fold attr = validation fold: the repository (one recording group)%s\n"
                  % "".join("; %s: per capture (%s)" % kv for kv in sorted(PER_CAPTURE.items())
                            if any(r["repo"] == kv[0] for r in rows)))
        out.write("# capture\tlabel\tgroup\tproto\taddr_a\tport_a\taddr_b\tport_b\tt_start\tt_end\tattrs\n")
        for r in rows:
            repo = r["repo"]
            fold = clean(r["rel"].replace(os.sep, "/")) if repo in PER_CAPTURE else clean(repo)
            note = r["note"]
            m = APP_RX.search(note)
            app_text = m.group(1) if m else sources_apps.get(repo, "")
            if not app_text:
                app_text = note.split(";")[0]      # real-extra: "Zeek btest trace: FTP data ..."
                app_text = app_text.split(":", 1)[1] if ":" in app_text and " " in app_text.split(":")[0] else app_text
            app = "tor" if r["tunnel"] == "tor" else app_name(app_text)
            if not app:
                stats["rows_without_app"] += 1
            pairs = [("source", name), ("repo", clean(repo)), ("fold", fold), ("tunnel", r["tunnel"]),
                     ("l4", r["proto"])]
            if app:
                pairs.append(("app", app))
            for key, rx in (("conf", CONF_RX), ("pkts", PKTS_RX), ("bytes", BYTES_RX), ("dur_s", DUR_RX)):
                m = rx.search(note)
                if m:
                    pairs.append((key, clean(m.group(1).lower())))
            out.write("\t".join((
                name + "/" + r["rel"].replace(os.sep, "/"), r["cat"], fold, r["proto"],
                r["a"], r["pa"], r["b"], r["pb"], "*", "*", attrs_str(pairs))) + "\n")
            stats["rows"] += 1
            per_label[r["cat"]] += 1
            per_fold[fold][r["cat"]] += 1
            apps[app or "?"] += 1
    except BaseException:
        out.abort()
        raise
    out.close()
    log("%s: %s" % (name, ", ".join("%s=%d" % kv for kv in sorted(stats.items()))))
    log("%s: rows per label: %s; %d folds, %d captures" % (
        name, ", ".join("%s=%d" % (k, per_label[k]) for k in LABELS), len(per_fold),
        len({r["rel"] for r in rows})))
    log("%s: app: %s" % (name, ", ".join("%s=%d" % kv for kv in sorted(apps.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
