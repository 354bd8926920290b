#!/usr/bin/python3
"""bench.py — the PyTorch twin of bench/bench.lua: the same workloads, the
same keys, one workload per run, "key value" lines on stdout.
    /usr/bin/python3 bench/bench.py WORKLOAD [scale]
Threads: BENCH_THREADS (torch.set_num_threads), default torch's own.
When torch cannot be imported it prints "skipped torch is absent" and
exits 0 (Debian: make bench-deps, i.e. apt-get install python3-torch)."""
import gzip
import os
import resource
import statistics
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("skipped torch is absent (make bench-deps installs python3-torch)")
    sys.exit(0)

if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))

workload = sys.argv[1] if len(sys.argv) > 1 else ""
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
clock = time.perf_counter


def timed(fn, reps, warm=2):
    """median seconds of one call of fn over reps timed calls (after warm)"""
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return statistics.median(ts)


def emit(key, value):
    print(f"{key} {value:.6g}")


def ceil(x):
    return max(1, int(-(-x // 1)))


def w_tutorial():
    steps = 2000

    def batch():
        for _ in range(steps):
            x = torch.tensor(2.0, requires_grad=True)
            y = x ** 2 + 3 * x + 2
            y.backward()
    emit("us_per_step", timed(batch, ceil(15 * scale), 3) / steps * 1e6)


def chain(x):
    y = x
    for _ in range(4):
        y = y * 0.5
        y = y + 1
        y = y.tanh()
        y = y - 0.25
        y = y.exp()
    return y


def w_tiny():
    steps = 1000
    x = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)

    def batch():
        for _ in range(steps):
            chain(x)
    emit("us_per_op_grad", timed(batch, ceil(15 * scale), 3) / (20 * steps) * 1e6)
    with torch.no_grad():
        emit("us_per_op_nograd", timed(batch, ceil(15 * scale), 3) / (20 * steps) * 1e6)


def w_elementwise():
    n = 10_000_000
    torch.manual_seed(0)
    a = torch.rand(n) - 0.5
    b = torch.rand(n) - 0.5
    reps = ceil(10 * scale)
    nbytes = 4 * n
    with torch.no_grad():
        emit("add_gbps", 3 * nbytes / timed(lambda: a + b, reps) / 1e9)
        emit("exp_gbps", 2 * nbytes / timed(lambda: a.exp(), reps) / 1e9)
        emit("relu_gbps", 2 * nbytes / timed(lambda: torch.relu(a), reps) / 1e9)
        emit("sum_gbps", nbytes / timed(lambda: a.sum(), reps) / 1e9)


def w_sgemm():
    torch.manual_seed(0)
    with torch.no_grad():
        for n in (256, 512, 1024, 2048):
            a, b = torch.rand(n, n), torch.rand(n, n)
            reps = ceil((20 if n <= 512 else 10 if n <= 1024 else 5) * scale)
            emit(f"gflops_{n}", 2 * n ** 3 / timed(lambda: torch.matmul(a, b), reps) / 1e9)


def w_conv():
    torch.manual_seed(0)
    layers = [("conv1_ms", (128, 1, 28, 28), (32, 1, 3, 3), False),
              ("conv2_ms", (128, 32, 13, 13), (64, 32, 3, 3), True)]
    for key, xs, ws, xvar in layers:
        x = torch.randn(*xs).requires_grad_(xvar)
        w = (torch.randn(*ws) * 0.1).requires_grad_()
        b = torch.zeros(ws[0], requires_grad=True)

        def step():
            y = F.conv2d(x, w, b)
            y.sum().backward()
        emit(key, timed(step, ceil(10 * scale)) * 1e3)


def read_idx(path):
    """an IDX file (gzip) as a uint8 tensor of its shape"""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = bytearray(data[4 + 4 * ndim:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(*dims)


def fashion_mnist():
    root = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    images = read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")).float() / 255
    labels = read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).long()
    return images, labels


def train(model, flat):
    images, labels = fashion_mnist()
    images = images.reshape(-1, 784) if flat else images.reshape(-1, 1, 28, 28)
    n = images.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    limit = max(1, int(n * min(scale, 1) // 128))
    batches, total = 0, 0.0
    t0 = clock()
    perm = torch.randperm(n)
    for start in range(0, n, 128):
        idx = perm[start:start + 128]
        xb, yb = images[idx], labels[idx]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        batches += 1
        if batches >= limit:
            break
    t = clock() - t0
    emit("s_per_epoch", t * (n / 128) / batches)
    emit("mean_loss", total / batches)
    emit("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def w_mlp():
    torch.manual_seed(0)
    nn = torch.nn
    train(nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10)), True)


def w_cnn():
    torch.manual_seed(0)
    nn = torch.nn
    train(nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
                        nn.Linear(128, 10)), False)


WORKLOADS = {"tutorial": w_tutorial, "tiny": w_tiny, "elementwise": w_elementwise,
             "sgemm": w_sgemm, "conv": w_conv, "mlp": w_mlp, "cnn": w_cnn}

if workload not in WORKLOADS:
    sys.stderr.write("usage: bench.py tutorial|tiny|elementwise|sgemm|conv|mlp|cnn [scale]\n")
    sys.exit(2)
WORKLOADS[workload]()
