#!/usr/bin/python3
"""Markdown table of callgrind runs named TEST.CONFIG.out (bench_callgrind.sh).

  callgrind_table.py DIR CAPTURE ARCH
"""
import os
import re
import subprocess
import sys

PLUGIN_ROOTS = ("dissect_triage", "triage_postseq", "triage_init")


def summary(path):
    """(total Ir, inclusive Ir of the plugin's entry points)."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True).stdout
    total, plugin = 0, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not m:
            continue
        n, name = int(m.group(1).replace(",", "")), m.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = n
        for root in PLUGIN_ROOTS:
            # the function itself, from the plugin's file (not the "???:" duplicate)
            if re.search(r"packet-triage\.c:%s\b" % root, name):
                plugin[root] = max(plugin.get(root, 0), n)
    return total, sum(plugin.values())


def main():
    d, cap, arch = sys.argv[1:4]
    runs = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".out"):
            test, cfg = f[:-4].split(".", 1)
            runs[(test, cfg)] = summary(os.path.join(d, f))
    print(f"callgrind, capture `{cap}`, model {arch}: instructions (Ir), one run each\n")
    print("| test (tshark -2 -r FILE ...) | config | Ir total | Ir in the plugin (inclusive) | Ir ratio on/config |")
    print("|---|---|---:|---:|---:|")
    for (test, cfg), (tot, plug) in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1] != "on", kv[0][1])):
        ratio = ""
        if cfg != "on" and (test, "on") in runs:
            ratio = f"**{runs[(test, 'on')][0] / tot:.3f}**"
        share = f"{plug:,} ({100 * plug / tot:.1f}%)" if plug else "0"
        print(f"| {test} | {cfg} | {tot:,} | {share} | {ratio} |")


if __name__ == "__main__":
    main()
