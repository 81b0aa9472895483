#!/usr/bin/python3
"""PyTorch peer of tt_bench_nn (issue 7): the same FlowPic nets, one thread.

  /usr/bin/python3 tests/bench/bench_torch.py [--seconds S] [--tt-table FILE]

Needs Debian's python3-torch (apt-get install -y python3-torch): a benchmark
peer only, never a TrafficTriage dependency.

Nets (as tt_layers_flowpic / tt_layers_lenet in core/nn/net.c, eval mode):
  paper 1500x1500: conv 10@10x10 stride 5, pad 2 before / 3 after (F.pad),
    relu, maxpool 2, conv 20@10x10/5 pad 2/3, relu, dropout, maxpool 2,
    dense 64, relu, dropout, dense 5;
  LeNet 32x32: conv 6@5x5 pad 2, relu, maxpool 2, conv 16@5x5, relu,
    maxpool 2, dense 120, relu, dense 84, relu, dense 5.
Blocks of 10 / 100 / 1,000 / 10,000 packets drawn like tests/bench/bench_nn.c
(sizes: 40% 40-80 B, 35% 1200-1500 B, 25% uniform 1..1500; times uniform
over the block), binned as core/tt_flowpic.c does (raw counts, paper spec;
clipped counts / 255, mini spec). Timed, batch 1, torch.no_grad(),
torch.set_num_threads(1), thread CPU time, best of 5 rounds (as tt_bench_nn):
  model   the net's forward on a ready dense tensor
  +input  also building the dense picture from the packet list
          (torch.zeros + index_put_ with accumulate)
glibc's malloc is set to keep freed big blocks (mallopt; --no-malloc-cache
leaves it alone), which spares PyTorch a page-fault storm per call.
With --tt-table (the output of tt_bench_nn, same machine, same session) the
speed-up TrafficTriage / PyTorch per block size is added: TrafficTriage's
paper sparse path (which starts from the pixel list) against PyTorch +input
and model only, and the LeNet 32x32 dense path against PyTorch model only.
"""
import argparse
import ctypes
import re
import time

import numpy as np
import torch
import torch.nn.functional as F

PACKETS = (10, 100, 1000, 10000)


def paper_params(g):
    def w(*shape):
        fan = int(np.prod(shape[1:]))
        return torch.randn(*shape, generator=g) * (2.0 / fan) ** 0.5
    return [w(10, 1, 10, 10), torch.randn(10, generator=g) * 0.05,
            w(20, 10, 10, 10), torch.randn(20, generator=g) * 0.05,
            w(64, 20 * 15 * 15), torch.randn(64, generator=g) * 0.05,
            w(5, 64), torch.randn(5, generator=g) * 0.05]


def paper_forward(p, x):
    h = F.pad(x, (2, 3, 2, 3))
    h = F.relu(F.conv2d(h, p[0], p[1], stride=5))
    h = F.max_pool2d(h, 2)
    h = F.pad(h, (2, 3, 2, 3))
    h = F.relu(F.conv2d(h, p[2], p[3], stride=5))
    h = F.max_pool2d(h, 2)
    h = F.relu(F.linear(h.reshape(1, -1), p[4], p[5]))
    return F.linear(h, p[6], p[7])


def lenet_params(g):
    def w(*shape):
        fan = int(np.prod(shape[1:]))
        return torch.randn(*shape, generator=g) * (2.0 / fan) ** 0.5
    return [w(6, 1, 5, 5), torch.zeros(6), w(16, 6, 5, 5), torch.zeros(16),
            w(120, 16 * 6 * 6), torch.zeros(120), w(84, 120), torch.zeros(84), w(5, 84), torch.zeros(5)]


def lenet_forward(p, x):
    h = F.relu(F.conv2d(x, p[0], p[1], padding=2))
    h = F.max_pool2d(h, 2)
    h = F.relu(F.conv2d(h, p[2], p[3]))
    h = F.max_pool2d(h, 2)
    h = F.relu(F.linear(h.reshape(1, -1), p[4], p[5]))
    h = F.relu(F.linear(h, p[6], p[7]))
    return F.linear(h, p[8], p[9])


def random_block(rng, n, block_s):
    u = rng.random(n)
    size = np.where(u < 0.40, rng.integers(40, 81, n),
                    np.where(u < 0.75, rng.integers(1200, 1501, n), rng.integers(1, 1501, n)))
    t = rng.random(n) * block_s
    return t.astype(np.float32), size.astype(np.int64)


def bins(t, size, side, block_s, max_size=1500):
    row = ((np.minimum(size, max_size) - 1) * side) // max_size
    col = np.clip(np.floor(t.astype(np.float64) / block_s * side), 0, side - 1).astype(np.int64)
    return torch.from_numpy(row * side + col)


def to_dense(idx, side, clip):
    x = torch.zeros(side * side)
    x.index_put_((idx,), torch.ones(idx.shape[0]), accumulate=True)
    if clip:
        x = torch.clamp(x, max=255.0) / 255.0
    return x.reshape(1, 1, side, side)


def best_time(fn, items, seconds):
    fn(items[0])
    best = float("inf")
    for _ in range(5):
        calls = 0
        t0 = time.thread_time()
        while True:
            for it in items:
                fn(it)
            calls += len(items)
            t = time.thread_time()
            if t - t0 >= seconds / 5:
                break
        best = min(best, (t - t0) / calls)
    return best


def parse_tt(path):
    """tt_bench_nn's inference table -> {packets: (paper sparse us, lenet32 dense us)}."""
    out = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 11 and re.fullmatch(r"\d+", cells[0]):
            out[int(cells[0])] = (float(cells[2]), float(cells[7]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="timing budget per figure")
    ap.add_argument("--tt-table", help="tt_bench_nn output of the same session")
    ap.add_argument("--no-malloc-cache", action="store_true",
                    help="leave glibc's malloc as it is (default: keep freed big blocks, see below)")
    a = ap.parse_args()
    if not a.no_malloc_cache:
        # PyTorch allocates each activation afresh; above 128 KiB glibc maps and
        # unmaps it every call, so every call page-faults the 9 MB picture and
        # activations in again. Keeping freed memory (M_MMAP_THRESHOLD,
        # M_TRIM_THRESHOLD) gives the peer its best case.
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    g = torch.Generator().manual_seed(1)
    pp, lp = paper_params(g), lenet_params(g)
    rng = np.random.default_rng(1)
    res = {}
    with torch.no_grad():
        for n in PACKETS:
            blocks = [random_block(rng, n, 60.0) for _ in range(4)]
            idx = [bins(t, s, 1500, 60.0) for t, s in blocks]
            dense = [to_dense(i, 1500, False) for i in idx]
            t_model = best_time(lambda x: paper_forward(pp, x), dense, a.seconds)
            t_input = best_time(lambda i: paper_forward(pp, to_dense(i, 1500, False)), idx, a.seconds)
            mblocks = [random_block(rng, n, 15.0) for _ in range(16)]
            midx = [bins(t, s, 32, 15.0) for t, s in mblocks]
            mdense = [to_dense(i, 32, True) for i in midx]
            t_lenet = best_time(lambda x: lenet_forward(lp, x), mdense, a.seconds / 2)
            res[n] = (t_model, t_input, t_lenet)
    print(f"### PyTorch {torch.__version__} CPU, one thread (torch.set_num_threads(1)), batch 1, eval\n")
    print("| packets | paper model us | paper model /s | paper +input us | paper +input /s | LeNet 32x32 us | LeNet 32x32 /s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, (tm, ti, tl) in res.items():
        print(f"| {n} | {tm * 1e6:.0f} | {1 / tm:.0f} | {ti * 1e6:.0f} | {1 / ti:.0f} | {tl * 1e6:.1f} | {1 / tl:.0f} |")
    if a.tt_table:
        tt = parse_tt(a.tt_table)
        print("\n### Speed-up TrafficTriage / PyTorch (same machine, same session)\n")
        print("| packets | TT paper sparse us | vs PyTorch +input | vs PyTorch model only | TT LeNet 32x32 us | vs PyTorch LeNet |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n, (tm, ti, tl) in res.items():
            if n not in tt:
                continue
            ps, l32 = tt[n]
            print(f"| {n} | {ps:.1f} | **{ti * 1e6 / ps:.0f}x** | {tm * 1e6 / ps:.0f}x | {l32:.1f} | {tl * 1e6 / l32:.1f}x |")


if __name__ == "__main__":
    main()
