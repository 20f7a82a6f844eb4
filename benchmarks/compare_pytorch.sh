#!/usr/bin/env bash
# Side-by-side training throughput: Troupe vs PyTorch 1.13 (python3-torch), same model, same
# batch, alternating runs so machine noise hits both alike. Prints medians and the ratio;
# JSON on the last line. Needs python3-torch (apt-get install python3-torch); Troupe's own
# tests never do.
#   benchmarks/compare_pytorch.sh [rounds=3] [batch=64]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
batch=${2:-64}
bench=build/benchmarks/bench_train_throughput
[ -x "$bench" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
ours1=() ours2=() torch1=() torch2=()
for r in $(seq "$rounds"); do
  j=$("$bench" --batch "$batch" --repeats 3 --steps 40 | tail -1)
  ours1+=("$(echo "$j" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["threads1"]["images_per_s"])')")
  ours2+=("$(echo "$j" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["threads2"]["images_per_s"])')")
  for t in 1 2; do
    v=$(/usr/bin/python3 benchmarks/pytorch_baseline.py --threads "$t" --batch "$batch" --repeats 3 | tail -1 |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
    if [ "$t" = 1 ]; then torch1+=("$v"); else torch2+=("$v"); fi
  done
  echo "round $r: troupe ${ours1[-1]%.*} / ${ours2[-1]%.*} images/s, pytorch ${torch1[-1]%.*} / ${torch2[-1]%.*} images/s (1 / 2 threads)"
done
/usr/bin/python3 - "${ours1[*]}" "${ours2[*]}" "${torch1[*]}" "${torch2[*]}" "$batch" <<'PY'
import json, statistics, sys
o1, o2, t1, t2 = ([float(v) for v in a.split()] for a in sys.argv[1:5])
m = {k: statistics.median(v) for k, v in {"troupe_1": o1, "troupe_2": o2, "pytorch_1": t1, "pytorch_2": t2}.items()}
r1, r2 = m["troupe_1"] / m["pytorch_1"], m["troupe_2"] / m["pytorch_2"]
print(f"median images/s  troupe {m['troupe_1']:.0f} (1 thread) {m['troupe_2']:.0f} (2 threads);"
      f"  pytorch {m['pytorch_1']:.0f} / {m['pytorch_2']:.0f};  ratio {r1:.2f}x / {r2:.2f}x")
print(json.dumps({"benchmark": "compare_pytorch", "batch": int(sys.argv[5]), "rounds": len(o1), **m,
                  "ratio_1_thread": r1, "ratio_2_threads": r2}))
PY
