#!/usr/bin/env python3
"""conv_bench.py — the PyTorch side of bench/conv_bench.lua: forward and
forward+backward time of torch.nn.functional.conv2d (with bias) on
64x1x28x28 through 32 3x3 filters and 64x32x13x13 through 64 3x3 filters,
and max_pool2d 2x2 on 64x32x26x26; float32 on the CPU, median of N runs.
Prints that torch is absent when it cannot be imported (Debian: apt-get
install python3-torch, then run with /usr/bin/python3)."""
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch is absent: no PyTorch numbers (apt-get install python3-torch)")
    sys.exit(0)

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def timed(fn):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


torch.manual_seed(0)
print(f"PyTorch {torch.__version__} conv bench (float32, {torch.get_num_threads()} threads, "
      f"wall clock, median of {reps})")
for name, xs, ws in [("conv2d 64x1x28x28, 32 3x3 filters", (64, 1, 28, 28), (32, 1, 3, 3)),
                     ("conv2d 64x32x13x13, 64 3x3 filters", (64, 32, 13, 13), (64, 32, 3, 3))]:
    x = torch.randn(*xs, requires_grad=True)
    w = (torch.randn(*ws) * 0.1).requires_grad_(True)
    b = torch.zeros(ws[0], requires_grad=True)

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, b)

    def both():
        F.conv2d(x, w, b).sum().backward()
        x.grad = w.grad = b.grad = None

    print(f"  {name:38s} forward {timed(forward):8.2f} ms   forward+backward {timed(both):8.2f} ms")

x = torch.randn(64, 32, 26, 26, requires_grad=True)


def pool():
    F.max_pool2d(x, 2).sum().backward()
    x.grad = None


print(f"  {'max_pool 2x2 on 64x32x26x26':38s} forward+backward {timed(pool):8.2f} ms")
