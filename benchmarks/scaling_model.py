#!/usr/bin/python3
"""The cost model of docs/scaling.md: predicted communication time per step of a parameter server
with K shards and of a ring allreduce, for N trainers and P floats.

    benchmarks/scaling_model.py [--c-ns 2.469] [--a-ms 0.101] [--link-gbit 25] [--alpha-us 50]

c and a come from `bench_cluster --part scaling` (its "model:" line); the link bandwidth and the
per-message latency are assumptions about the target cluster. Prints a Markdown table and, last,
one JSON line with every prediction.
"""
import argparse
import json


def ps(n, p, k, a, c, alpha, bw):
    """One step through K shards on their own hosts: the shards' CPU, their links and each
    trainer's own link all work at once; the slowest of them sets the pace."""
    return a + 2 * alpha + max(n * p * c / k, 4 * n * p / (k * bw), 4 * p / bw)


def ring(n, p, alpha, bw, gamma):
    """Ring allreduce: 2(N-1) latency-bound steps, 2(N-1)/N x 4P bytes per host, and the adds."""
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * 4 * p / bw + (n - 1) / n * p * gamma


def fmt(t):
    return f"{t * 1e3:,.1f} ms" if t < 10 else f"{t:,.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--c-ns", type=float, default=2.469, help="aggregator cost per float (ns), measured")
    ap.add_argument("--a-ms", type=float, default=0.101, help="fixed cost per round (ms), measured")
    ap.add_argument("--link-gbit", type=float, default=25.0, help="NIC bandwidth (Gb/s), assumed")
    ap.add_argument("--alpha-us", type=float, default=50.0, help="latency per message (us), assumed")
    ap.add_argument("--gamma-ns", type=float, default=0.25, help="add per float (ns), memory speed")
    args = ap.parse_args()
    a, c = args.a_ms * 1e-3, args.c_ns * 1e-9
    bw, alpha, gamma = args.link_gbit * 1e9 / 8, args.alpha_us * 1e-6, args.gamma_ns * 1e-9
    rows = []
    print("| P | N | PS, K = 1 | PS, K = N/8 | PS, K = N | ring allreduce |")
    print("|---|---|---|---|---|---|")
    for p in (225034, 1_000_000, 25_000_000, 100_000_000):
        for n in (2, 8, 64, 1000):
            row = {"floats": p, "trainers": n, "ps_k1_s": ps(n, p, 1, a, c, alpha, bw),
                   "ps_k_n_over_8_s": ps(n, p, max(1, n // 8), a, c, alpha, bw),
                   "ps_k_n_s": ps(n, p, n, a, c, alpha, bw), "ring_s": ring(n, p, alpha, bw, gamma)}
            rows.append(row)
            print(f"| {p / 1e6:g}M | {n} | {fmt(row['ps_k1_s'])} | {fmt(row['ps_k_n_over_8_s'])} | "
                  f"{fmt(row['ps_k_n_s'])} | {fmt(row['ring_s'])} |")
    print(json.dumps({"model": "docs/scaling.md", "constants": vars(args), "predictions": rows}))


if __name__ == "__main__":
    main()
