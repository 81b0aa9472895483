#!/usr/bin/python3
"""Golden values for tests/unit/test_nn.c (/nn/golden).

An independent reference for the CNN engine (core/nn/): PyTorch (Debian's python3-torch, float64)
computes the logits, the softmax cross-entropy loss and the gradient of every
parameter for one fixed picture through a small net that has every layer kind,
non-square kernels, strides and ASYMMETRIC padding (F.pad before each conv).

    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 tests/reference/golden.py > tests/reference/golden_small.txt

The net (must match small_golden_layers() in tests/unit/test_nn.c), input 1 x 11 x 13:
  0 conv 3 @ 4x3, stride 2x1, pad top 1 bottom 2 left 0 right 1   -> 3 x 6 x 12
  1 relu
  2 maxpool 2x3, stride 2x2                                        -> 3 x 3 x 5
  3 conv 4 @ 2x3, stride 1x1, pad top 0 bottom 1 left 1 right 0   -> 4 x 3 x 4
  4 relu
  5 dropout rate 0 (identity)
  6 maxpool 1x2, stride 1x2                                        -> 4 x 3 x 2
  7 dense 7
  8 relu
  9 dense 3
Parameters are drawn from a seeded numpy generator, rounded to float32 and
written to the fixture, so the C test loads exactly the values used here.
"""
import numpy as np
import torch
import torch.nn.functional as F

H, W, LABEL = 11, 13, 1
rng = np.random.default_rng(20261126)

def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)

shapes = [((3, 1, 4, 3), 3), ((4, 3, 2, 3), 4), ((7, 24), 7), ((3, 7), 3)]
params = []
for wshape, nb in shapes:
    fan_in = int(np.prod(wshape[1:]))
    params.append(f32(rng.normal(0.0, np.sqrt(2.0 / fan_in), wshape)))
    params.append(f32(rng.normal(0.0, 0.3, nb)))

# A picture with about half of its pixels set, counts 1..5, all four corners set.
img = np.zeros((H, W))
mask = rng.random((H, W)) < 0.5
img[mask] = rng.integers(1, 6, mask.sum())
for r, c in [(0, 0), (0, W - 1), (H - 1, 0), (H - 1, W - 1)]:
    img[r, c] = 1 + (r + c) % 4

t = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
x = torch.tensor(img, dtype=torch.float64).reshape(1, 1, H, W)
h = F.pad(x, (0, 1, 1, 2))                      # (left, right, top, bottom)
h = F.conv2d(h, t[0], t[1], stride=(2, 1))
h = F.relu(h)
h = F.max_pool2d(h, (2, 3), stride=(2, 2))
h = F.pad(h, (1, 0, 0, 1))
h = F.conv2d(h, t[2], t[3], stride=1)
h = F.relu(h)
h = F.max_pool2d(h, (1, 2), stride=(1, 2))
h = h.reshape(1, -1)
h = F.relu(F.linear(h, t[4], t[5]))
logits = F.linear(h, t[6], t[7])
loss = F.cross_entropy(logits, torch.tensor([LABEL]))
loss.backward()

def dump(name, arr):
    arr = np.asarray(arr, dtype=np.float64).ravel()
    print(f"{name} {arr.size}")
    for v in arr:
        print(f"{v:.17g}" if name != "params" else f"{np.float32(v):.9g}")

print("# tests/reference/golden.py: torch", torch.__version__, "float64")
print(f"in_h {H}")
print(f"in_w {W}")
print(f"label {LABEL}")
dump("params", np.concatenate([p.ravel() for p in params]))
nz = np.flatnonzero(img.ravel())
print(f"pixels {nz.size}")
for i in nz:
    print(f"{i} {img.ravel()[i]:.9g}")
print(f"loss 1\n{loss.item():.17g}")
dump("logits", logits.detach().numpy())
dump("grad", np.concatenate([p.grad.numpy().ravel() for p in t]))
