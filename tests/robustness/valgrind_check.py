#!/usr/bin/python3
"""Count valgrind (memcheck) errors attributed to TrafficTriage in an XML log.

  valgrind_check.py LOG.xml

An error is attributed to TrafficTriage when any frame of its stack is in
triage.so (the plugin, which also holds the core engine statically) or names a
source file under plugin/ or core/. Counted: every non-leak error kind
(invalid reads/writes, uninitialised values, bad frees, ...) and leaks that
are definitely or indirectly lost. "Possibly lost" and "still reachable"
blocks are listed but not counted (Wireshark keeps its file-scope memory in
wmem pools until exit). Prints a summary; exits 1 when the count is not 0.
"""
import sys
import xml.etree.ElementTree as ET


def frames(err):
    for st in err.findall("stack"):
        for fr in st.findall("frame"):
            yield fr


def ours(fr):
    obj = fr.findtext("obj") or ""
    d = fr.findtext("dir") or ""
    return obj.endswith("/triage.so") or "/plugin" in d or d.endswith("/core") or "/core/" in d


def describe(err):
    out = [err.findtext("kind") + ": " + (err.findtext("xwhat/text") or err.findtext("what") or "")]
    for fr in list(frames(err))[:16]:
        out.append("    %s %s %s:%s" % (fr.findtext("fn") or "?", (fr.findtext("obj") or "").split("/")[-1],
                                        fr.findtext("file") or "", fr.findtext("line") or ""))
    return "\n".join(out)


def main():
    root = ET.parse(sys.argv[1]).getroot()
    counted, listed, total = [], [], 0
    kinds = {}
    for err in root.findall("error"):
        total += 1
        kind = err.findtext("kind") or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
        if not any(ours(fr) for fr in frames(err)):
            continue
        if kind.startswith("Leak_") and kind not in ("Leak_DefinitelyLost", "Leak_IndirectlyLost"):
            listed.append(err)
        else:
            counted.append(err)
    print("valgrind: %d error records in all (%s)" % (total, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    for err in listed:
        print("not counted (%s, TrafficTriage frames):\n%s" % (err.findtext("kind"), describe(err)))
    for err in counted:
        print("TRAFFICTRIAGE ERROR:\n" + describe(err))
    print("valgrind: %d errors attributed to the plugin or core" % len(counted))
    return 1 if counted else 0


if __name__ == "__main__":
    sys.exit(main())
