#!/usr/bin/python3
# PyTorch 1.13 DistributedDataParallel (gloo, 2 ranks x 1 thread on this machine) training the same
# reference CNN, batch 32 per rank (global 64) -- the baseline for Troupe's 2-trainer BSP figure in
# bench_cluster --part throughput. Median images/s over timed windows; JSON on the last line.
#   /usr/bin/python3 benchmarks/pytorch_ddp_baseline.py [--ranks 2] [--batch 32]
import argparse, gzip, json, os, statistics, time
import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn


def worker(rank, a, port, out):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    torch.manual_seed(1)
    with gzip.open(f"{a.data}/train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    n = a.batch * a.ranks * 50
    x_all = torch.from_numpy(raw[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0)
    with gzip.open(f"{a.data}/train-labels-idx1-ubyte.gz") as f:
        y_all = torch.from_numpy(np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:n].astype(np.int64))
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    cursor = rank * a.batch

    def step():
        nonlocal cursor
        x, y = x_all[cursor:cursor + a.batch], y_all[cursor:cursor + a.batch]
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()
        cursor = (cursor + a.batch * a.ranks) % (n - a.batch * a.ranks + 1)

    for _ in range(10):
        step()
    windows = []
    for _ in range(a.repeats):
        dist.barrier()
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        windows.append(a.steps * a.batch * a.ranks / (time.perf_counter() - t))
    if rank == 0:
        out.put(statistics.median(windows))
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--batch", type=int, default=32, help="per rank")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(a, port, q), nprocs=a.ranks, join=True)
    ips = q.get()
    print(f"pytorch ddp gloo {a.ranks} ranks x 1 thread, batch {a.batch}/rank: {ips:.0f} images/s")
    print(json.dumps({"benchmark": "pytorch_ddp_baseline", "torch": torch.__version__, "ranks": a.ranks,
                      "batch_per_rank": a.batch, "images_per_s": ips}))
