#!/usr/bin/env python3
"""Print why each skipped ctest test was skipped (tests/run, tests/unprivileged.sh).

    tests/skips.py JUNIT.xml

JUNIT.xml is ctest's --output-junit file. ctest itself only says "Skipped";
every test that skips (exit 77) prints its reason, and this prints that line
next to the test's name. Exits 1 when a skipped test printed no reason.
"""
import sys
import xml.etree.ElementTree as ET


def reason(case):
    out = (case.findtext("system-out") or "").strip().splitlines()
    said = [line.strip() for line in out if "skip" in line.lower()]
    if said:
        return said[-1]
    if out:
        return out[-1].strip()
    return None


def main(path):
    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (OSError, ET.ParseError) as e:
        print(f"skips.py: cannot read {path}: {e}", file=sys.stderr)
        return 1
    skipped = [c for c in cases if c.get("status") in ("notrun", "disabled")]
    silent = 0
    if skipped:
        print(f"== {len(skipped)} skipped, and why")
    for c in skipped:
        r = reason(c)
        m = c.find("skipped")
        why = m.get("message", "") if m is not None else ""
        if r is None and why and not why.startswith("SKIP_"):
            r = why                      # not run by ctest itself (e.g. a failed fixture)
        if r is None:
            silent += 1
            r = f"NO REASON PRINTED ({why})"
        print(f"  {c.get('name')}: {r}")
    if silent:
        print(f"skips.py: {silent} skipped test(s) printed no reason: make them say why", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
