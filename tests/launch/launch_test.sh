#!/usr/bin/env bash
# Launched jobs end to end (docs/deploy.md): the same 1-epoch job on a slice of Fashion-MNIST,
# started once as a static 4-node topology in one process (--role all) and once by a launcher
# (--role auto, 4 processes: the aggregator + loader and 3 trainers); the bsp runs must end with
# byte-identical model_final.trpm files and the same test accuracy.
#
#   tests/launch/launch_test.sh MODE TROUPE_NODE
#   MODE: torchrun (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT by hand), mpi (mpirun -np 4),
#         slurm (a one-host Slurm cluster: munged, slurmctld, slurmd, started and stopped here,
#         running examples/slurm/fmnist.sbatch)
# Exits 0 on success, 1 on failure, 77 with "SKIPPED: reason" when this machine cannot run MODE.
set -euo pipefail
mode=${1:?mode: torchrun | mpi | slurm}
node=$(readlink -f "${2:?path to troupe-node}")
src=$(cd "$(dirname "$0")/../.." && pwd)
config=$src/examples/fmnist-launch.yaml
work=$(mktemp -d /tmp/troupe-launch-$mode.XXXXXX)
cleanup_steps=()
# Daemons this test started: stopped at exit, and waited for (they write into $work until they go).
stop_daemon() { # pid file
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#cleanup_steps[@]} - 1; i >= 0; i--)); do eval "${cleanup_steps[i]}" || true; done
  if [ "${keep:-0}" = 1 ]; then echo "launch test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; keep=1; exit 1; }

# shellcheck source=tests/launch/free_port.sh
. "$src/tests/launch/free_port.sh"
job=(--set job.epochs=1 --set job.data.max_train=3072 --set job.data.max_test=512
     --set "job.data.dir=${TROUPE_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}")

# The reference: the static topology the launched job becomes, in one process.
cd "$work"
mkdir -p static launched
(cd static && "$node" --role all --config "$config" "${job[@]}" --set checkpoint.dir=ck --set metrics.dir=m \
  --set "cluster.nodes=[{name: agg, roles: [aggregator, loader], endpoint: 'ipc://s/agg'},
                        {name: t0, roles: [trainer], endpoint: 'ipc://s/t0'},
                        {name: t1, roles: [trainer], endpoint: 'ipc://s/t1'},
                        {name: t2, roles: [trainer], endpoint: 'ipc://s/t2'}]" >log 2>&1) ||
  { cat static/log; fail "the static reference run failed"; }

port=$(free_port)
cd launched
case "$mode" in
torchrun)
  pids=()
  for r in 3 2 1 0; do # any start order works: everyone waits for the rendezvous
    RANK=$r WORLD_SIZE=4 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 240 \
      "$node" --role auto --config "$config" "${job[@]}" --set checkpoint.dir=ck --set metrics.dir=m >"log$r" 2>&1 &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  cat log0 log1 log2 log3 >log
  [ "$rc" -eq 0 ] || { cat log; fail "a launched process exited with $rc"; }
  grep -q "launcher torchrun (RANK=1 WORLD_SIZE=4" log1 || { cat log1; fail "rank 1 did not say it found torchrun"; }
  ;;
mpi)
  command -v mpirun >/dev/null || skip "mpirun not installed (apt-get install openmpi-bin)"
  as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(--allow-run-as-root)
  # Open MPI does not tell a process where rank 0 runs: the rendezvous comes from TROUPE_RENDEZVOUS.
  timeout 240 mpirun -np 4 --oversubscribe "${as_root[@]}" -x TROUPE_RENDEZVOUS="tcp://127.0.0.1:$port" \
    "$node" --role auto --config "$config" "${job[@]}" --set checkpoint.dir=ck --set metrics.dir=m >log 2>&1 ||
    { cat log; fail "mpirun -np 4 failed"; }
  grep -q "launcher openmpi (OMPI_COMM_WORLD_RANK=3 OMPI_COMM_WORLD_SIZE=4" log || { cat log; fail "no rank said openmpi"; }
  ;;
slurm)
  for t in munged slurmctld slurmd sbatch; do
    command -v "$t" >/dev/null || skip "$t not installed (apt-get install slurm-wlm munge)"
  done
  [ "$(id -u)" -eq 0 ] || skip "a one-host Slurm cluster needs root here (slurmd runs jobs as their users)"
  [ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key (the munge package makes one)"
  # munge authenticates every Slurm message; start it unless it runs already.
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
    sock=$work/munge.socket
    munged --force --socket="$sock" --pid-file="$work/munged.pid" --log-file="$work/munged.log" \
      --seed-file="$work/munged.seed" >/dev/null 2>&1 || skip "munged did not start: $(tail -1 "$work/munged.log" 2>/dev/null)"
    cleanup_steps+=("stop_daemon '$work/munged.pid'")
    # Slurm's auth/munge plugin finds the daemon through this setting.
    munge_opt="AuthInfo=socket=$sock"
  else
    munge_opt=""
  fi
  host=$(hostname -s)
  ctld_port=$(free_port); slurmd_port=$(free_port)
  mkdir -p "$work/slurm/state" "$work/slurm/spool"
  cat >"$work/slurm/slurm.conf" <<CONF
ClusterName=troupetest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
$munge_opt
StateSaveLocation=$work/slurm/state
SlurmdSpoolDir=$work/slurm/spool
SlurmctldPidFile=$work/slurm/slurmctld.pid
SlurmdPidFile=$work/slurm/slurmd.pid
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmctldLogFile=$work/slurm/slurmctld.log
SlurmdLogFile=$work/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=troupe Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  export SLURM_CONF=$work/slurm/slurm.conf
  slurmctld -f "$SLURM_CONF" -i >"$work/slurm/slurmctld.out" 2>&1 ||
    skip "slurmctld did not start: $(tail -2 "$work/slurm/slurmctld.log" 2>/dev/null)"
  cleanup_steps+=("stop_daemon '$work/slurm/slurmctld.pid'")
  slurmd -f "$SLURM_CONF" >"$work/slurm/slurmd.out" 2>&1 ||
    skip "slurmd did not start: $(tail -2 "$work/slurm/slurmd.log" 2>/dev/null)"
  cleanup_steps+=("stop_daemon '$work/slurm/slurmd.pid'")
  for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 0.2
  done
  sinfo -h -o %t 2>/dev/null | grep -q idle || skip "the Slurm node did not become idle: $(sinfo 2>&1 | tail -2)"
  TROUPE_NODE=$node TROUPE_CONFIG=$config timeout 300 sbatch --wait --ntasks=4 -o "$PWD/log" \
    "$src/examples/slurm/fmnist.sbatch" "${job[@]}" --set checkpoint.dir=ck --set metrics.dir=m \
    --set cluster.launch.port="$port" >sbatch.out 2>&1 || { cat sbatch.out log 2>/dev/null; fail "sbatch failed"; }
  grep -q "launcher slurm (SLURM_PROCID=0 SLURM_NTASKS=4 SLURM_JOB_NODELIST=$host" log ||
    { cat log; fail "task 0 did not say it found Slurm"; }
  ;;
*) echo "unknown mode '$mode'" >&2; exit 2 ;;
esac
cd "$work"

acc() { grep -o 'Acc@1 [0-9.]*' "$1" | tail -1; }
static_acc=$(acc static/log); launched_acc=$(acc launched/log)
echo "launch test ($mode): static run $static_acc, launched run $launched_acc"
[ -n "$static_acc" ] && [ "$static_acc" = "$launched_acc" ] || { cat launched/log; fail "accuracies differ"; }
cmp static/ck/model_final.trpm launched/ck/model_final.trpm ||
  fail "the launched run's final parameters differ from the static topology's"
grep -q "all 4 processes present" launched/log || fail "the rendezvous did not report 4 processes"
echo "launch test ($mode): final parameters byte-identical to the static topology"
