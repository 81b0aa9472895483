#!/usr/bin/python3
"""Measures the lab's userspace delay element (tt-delay) with ping between the client
and server namespaces and checks it against its configuration.

Each case sets a one-way delay D (applied in each direction), jitter J and loss L,
pings N times, and checks: median RTT within 2*D +- (max(3 ms, 10%) + J), loss within a
binomial tolerance (RTT loss ~ 1-(1-L)^2).  Prints one line per case and a closing
'N passed, N failed' line.  Exit code 0 only if all cases pass.
"""
import os
import re
import sys
import time

sys.dont_write_bytecode = True          # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib  # noqa: E402

CASES = [  # (delay_ms one-way, jitter_ms, loss_pct, pings)
    (10.0, 0.0, 0.0, 60),
    (30.0, 0.0, 0.0, 60),
    (20.0, 5.0, 0.0, 80),
    (15.0, 2.0, 5.0, 200),
]


def one(case, idx):
    d, j, l, n = case
    lab = lablib.Lab("Ld%d%d" % (os.getpid() % 10000, idx), "/var/tmp/tt-lab-test/delay%d" % idx)
    try:
        lab.setup()
        lab.wan({"down_mbit": 100, "up_mbit": 100, "delay_ms": d, "jitter_ms": j,
                 "loss_pct": l}, seed=idx + 1)
        r = lab.sh("c", ["ping", "-n", "-c", str(n), "-i", "0.02", "-W", "2",
                         lablib.SERVER_IP], check=False, timeout=120)
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", r.stdout)
        lm = re.search(r"(\d+) received", r.stdout)
        rtts = sorted(float(x) for x in re.findall(r"time=([\d.]+) ms", r.stdout))
        if not m or not lm or not rtts:
            return False, "no ping result: " + r.stdout[-300:]
        mn, avg, mx, mdev = (float(x) for x in m.groups())
        med = rtts[len(rtts) // 2]
        recv = int(lm.group(1))
        exp = 2 * d
        tol = max(3.0, 0.1 * exp) + j
        # the median is checked (the machine is shared: scheduling delays of ping and
        # tt-delay show up as a few outliers in the mean)
        ok = abs(med - exp) <= tol
        exp_loss = 1 - (1 - l / 100) ** 2
        got_loss = 1 - recv / n
        sd = (exp_loss * (1 - exp_loss) / n) ** 0.5
        ok_loss = abs(got_loss - exp_loss) <= 3 * sd + 0.01
        msg = ("delay=%gms jitter=%gms loss=%g%%: rtt min/median/avg/max/mdev=%.1f/%.1f/%.1f/%.1f/%.1f ms "
               "(expect median %.1f+-%.1f), pkt loss %.1f%% (expect %.1f%%)"
               % (d, j, l, mn, med, avg, mx, mdev, exp, tol, 100 * got_loss, 100 * exp_loss))
        return ok and ok_loss, msg
    finally:
        lab.teardown()


def main():
    if os.geteuid() != 0:
        print("test-delay: needs root (network namespaces)")
        return 2
    passed = failed = 0
    for i, c in enumerate(CASES):
        ok, msg = one(c, i)
        print(("PASS " if ok else "FAIL ") + msg, flush=True)
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
