#!/usr/bin/env bash
# Elastic membership end to end (docs/deploy.md, "Elastic jobs"): a launched job of 2 processes
# (agg + trainer t0) with one free place (cluster.launch.max_trainers: 2); once it trains, a third
# process started with `--role trainer` and only the rendezvous address takes the place (t1),
# is admitted at the current round and trains. Checks: every process exits 0; both sides say who
# joined; the aggregator records the membership going from 1 to 2 trainers; every cut of a clock's
# global batch adds up to it (every sample once per epoch) and, after the join, gives t1 a share;
# t1's own records show it trained. (Refusals — all places taken, a taken or unknown name,
# another cluster, a job that is not elastic — are tested in tests/runtime/rendezvous_test.cpp.)
#
#   tests/launch/elastic_test.sh TROUPE_NODE
set -euo pipefail
node=$(readlink -f "${1:?path to troupe-node}")
src=$(cd "$(dirname "$0")/../.." && pwd)
config=$src/examples/fmnist-launch.yaml
work=$(mktemp -d /tmp/troupe-elastic.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "${keep:-0}" = 1 ]; then echo "elastic test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; keep=1; exit 1; }
# shellcheck source=tests/launch/free_port.sh
. "$src/tests/launch/free_port.sh"
port=$(free_port)
export TROUPE_RENDEZVOUS="tcp://127.0.0.1:$port"
job=(--config "$config" --set job.epochs=2 --set job.data.max_train=6144 --set job.data.max_test=512
     --set "job.data.dir=${TROUPE_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
     --set job.on_trainer_loss=shrink --set cluster.launch.max_trainers=2 --set cluster.launch.timeout_s=60
     --set checkpoint.dir=ck --set metrics.dir=m --set metrics.print_freq=10)
cd "$work"
for r in 0 1; do
  # t0 is slowed so that the job runs long enough for a process to join it.
  extra=(); [ "$r" = 1 ] && extra=(--slow-trainer 0=3)
  TROUPE_RANK=$r TROUPE_WORLD_SIZE=2 timeout 300 "$node" --role auto "${job[@]}" "${extra[@]}" >"log$r" 2>&1 &
  pids+=($!)
done
# Wait until the job trains with its free place empty (its first progress line), then join.
for _ in $(seq 600); do
  grep -q "Epoch: \[1\]\[ *10/" log0 2>/dev/null && break
  sleep 0.1
done
grep -q "membership: 1 of 2 trainers" log0 || { cat log0 log1; fail "the job did not start with its place free"; }
grep -q "Epoch: \[1\]\[ *10/" log0 || { cat log0 log1; fail "the job did not train"; }
timeout 300 "$node" --role trainer "${job[@]}" >log2 2>&1 &
joiner=$!
pids+=($joiner)
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
cat log0 log1 log2 >log
[ "$rc" -eq 0 ] || { cat log; fail "a process exited with $rc"; }

grep -q "joined the running job as 't1' (rank 2)" log0 || { cat log0; fail "the rendezvous did not admit t1"; }
grep -q "joined the running job at $TROUPE_RENDEZVOUS as node 't1'" log2 || { cat log2; fail "the joiner did not say"; }
grep -q "membership: 2 of 2 trainers" log0 || { cat log0; fail "the aggregator did not readmit t1"; }
python3 - "$work/m" <<'PY' || { keep=1; exit 1; }
import glob, json, sys
recs = []
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    with open(f) as fh:
        recs += [json.loads(l) for l in fh if l.strip()]
members = [r for r in recs if r.get("event") == "membership"]
assert [m["trainers"] for m in members][:2] == [1, 2], f"membership events {members}"
assert "joined" in members[1]["reason"], members[1]
assert members[1]["clock"] >= 10, f"t1 joined at clock {members[1]['clock']}, not mid-run"  # admitted at the current round
cuts = [r for r in recs if r.get("event") == "balance"]
assert cuts, "no cut recorded"
assert all(sum(c["shares"]) == 64 for c in cuts), [c["shares"] for c in cuts]  # 2 places x batch 32
assert any(c["shares"][1] > 0 for c in cuts), "t1 never got a share"
assert cuts[0]["shares"][1] == 0, "the free place had a share before anyone took it"
t1 = [r for r in recs if r.get("node") == "t1" and r.get("role") == "trainer" and r.get("images_per_s", 0) > 0]
assert t1, "t1 recorded no training"
print(f"elastic test: {len(members)} membership events, {len(cuts)} cuts, t1 trained in {len(t1)} records")
PY
echo "elastic test: t1 joined the running job, was admitted and trained; every cut adds up to the global batch"
