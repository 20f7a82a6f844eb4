#!/usr/bin/env bash
# Side-by-side training throughput: Troupe vs PyTorch 1.13 (python3-torch), same model (the
# reference CNN), same batch, alternating runs so machine noise hits both alike. Prints medians
# and the ratios; JSON on the last line. Needs python3-torch (apt-get install python3-torch);
# Troupe's own tests never do.
#   benchmarks/compare_pytorch.sh [rounds=3] [batch=64]
# The PyTorch side is TORCH_REFERENCE (default ../shared/bench/torch_reference.py when it exists):
# it pins OpenBLAS to one thread inside torch, as a tuned user would. Without it the project's own
# benchmarks/pytorch_baseline.py is used, which does not, and halves PyTorch's 2-thread figure
# here: the script says so. Troupe runs each conv2d backend it was built with (gemm, and dnnl and
# the per-layer auto when oneDNN was found).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
batch=${2:-64}
bench=build/benchmarks/bench_train_throughput
[ -x "$bench" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
reference=${TORCH_REFERENCE:-../shared/bench/torch_reference.py}
if [ -f "$reference" ]; then
  torch_run() { /usr/bin/python3 "$reference" throughput --threads "$1" --batch "$batch" --repeats 3 | tail -1; }
  torch_name="$reference"
else
  echo "note: $reference not found; using benchmarks/pytorch_baseline.py, which leaves OpenBLAS" \
    "multi-threaded inside torch (PyTorch's 2-thread figure is then about half what a tuned user gets)" >&2
  torch_run() { /usr/bin/python3 benchmarks/pytorch_baseline.py --threads "$1" --batch "$batch" --repeats 3 | tail -1; }
  torch_name=benchmarks/pytorch_baseline.py
fi
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "python3-torch is not installed: apt-get install python3-torch" >&2; exit 1; }
convs=gemm
"$bench" --conv dnnl --repeats 1 --steps 1 >/dev/null 2>&1 && convs=gemm,dnnl,auto

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for r in $(seq "$rounds"); do
  "$bench" --batch "$batch" --conv "$convs" --repeats 3 --steps 40 | tail -1 | sed 's/^/troupe /' >>"$results"
  for t in 1 2; do
    torch_run "$t" | sed "s/^/torch$t /" >>"$results"
  done
  echo "round $r of $rounds done" >&2
done
/usr/bin/python3 - "$results" "$batch" "$torch_name" <<'PY'
import json, statistics, sys
path, batch, torch_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ours, torch = {}, {1: [], 2: []}
for line in open(path):
    tag, _, text = line.partition(" ")
    j = json.loads(text)
    if tag == "troupe":
        by_conv = j.get("by_conv") or {j["conv"][0]: j}
        for conv, v in by_conv.items():
            for t in (1, 2):
                ours.setdefault((conv, t), []).append(v[f"threads{t}"]["images_per_s"])
    else:
        ips = j["images_per_s"]
        torch[int(tag[-1])].append(ips["median"] if isinstance(ips, dict) else ips)
out = {"benchmark": "compare_pytorch", "batch": batch, "rounds": len(torch[1]), "pytorch": torch_name}
for t in (1, 2):
    pt = statistics.median(torch[t])
    out[f"pytorch_{t}"] = pt
    line = [f"{t} thread{'s' if t > 1 else ''}: pytorch {pt:.0f} images/s"]
    for (conv, tt), v in sorted(ours.items()):
        if tt != t:
            continue
        m = statistics.median(v)
        out[f"troupe_{conv}_{t}"] = m
        out[f"ratio_{conv}_{t}"] = m / pt
        line.append(f"troupe [{conv}] {m:.0f} ({m / pt:.2f}x)")
    print(";  ".join(line))
print(json.dumps(out))
PY
