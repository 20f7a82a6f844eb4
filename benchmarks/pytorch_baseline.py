#!/usr/bin/python3
# PyTorch 1.13 (Debian python3-torch, CPU) training throughput of the same reference CNN, for a
# side-by-side comparison with bench_train_throughput (run by compare_pytorch.sh). Same model,
# same batch, SGD with momentum, steady state, median of timed windows; JSON on the last line.
#   /usr/bin/python3 benchmarks/pytorch_baseline.py --threads 2 --batch 64
import argparse, gzip, json, statistics, time
import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

with gzip.open(f"{a.data}/train-images-idx3-ubyte.gz") as f:
    raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
n = a.batch * 50
x_all = torch.from_numpy(raw[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0)
with gzip.open(f"{a.data}/train-labels-idx1-ubyte.gz") as f:
    y_all = torch.from_numpy(np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:n].astype(np.int64))

model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
cursor = 0

def step():
    global cursor
    x = x_all[cursor:cursor + a.batch]
    y = y_all[cursor:cursor + a.batch]
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()
    cursor = (cursor + a.batch) % (n - a.batch + 1)

for _ in range(10):
    step()
windows = []
for _ in range(a.repeats):
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    windows.append(a.steps * a.batch / (time.perf_counter() - t))
ips = statistics.median(windows)
print(f"pytorch threads {a.threads}: {ips:.0f} images/s  {1e3 * a.batch / ips:.2f} ms/step")
print(json.dumps({"benchmark": "pytorch_baseline", "torch": torch.__version__, "threads": a.threads,
                  "batch": a.batch, "images_per_s": ips}))
