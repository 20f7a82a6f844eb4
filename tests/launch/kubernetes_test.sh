#!/usr/bin/env bash
# The Kubernetes recipe (examples/kubernetes/, docs/deploy.md) without a Kubernetes cluster:
#  1. kubectl parses every manifest client-side (no API server), and the pieces fit: a headless
#     Service, the two StatefulSets with probes on the port the job's Prometheus exporter uses.
#  2. The pods are reproduced on this host: one network namespace per pod (named as its pod, on one
#     bridge), the Service's DNS names resolvable inside them (/etc/netns/<pod>/hosts), each process
#     started with exactly the env its StatefulSet sets, HOSTNAME = the pod name, and the job YAML
#     taken out of the ConfigMap. CURVE is on (the pod network is not loopback): keys from keygen.
#     The run must end byte-identical to the equivalent static topology.
#   tests/launch/kubernetes_test.sh TROUPE_NODE
# Exits 0 on success, 1 on failure, 77 with "SKIPPED: reason" when this machine cannot run it.
set -euo pipefail
node=$(readlink -f "${1:?path to troupe-node}")
src=$(cd "$(dirname "$0")/../.." && pwd)
k8s=$src/examples/kubernetes
work=$(mktemp -d /tmp/troupe-k8s.XXXXXX)
tag=$(( $$ % 10000 ))
pods=(troupe-aggregator-0 troupe-trainer-0 troupe-trainer-1)
cleanup() {
  local p
  for p in "${pods[@]}"; do
    ip netns pids "$p-$tag" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$p-$tag" 2>/dev/null || true
    rm -rf "/etc/netns/$p-$tag"
  done
  ip link del "trpk8s$tag" 2>/dev/null || true
  if [ "${keep:-0}" = 1 ]; then echo "kubernetes test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; keep=1; exit 1; }

# 1. The manifests, client-side.
command -v kubectl >/dev/null || skip "kubectl not installed (apt-get install kubernetes-client)"
for f in "$k8s"/*.yaml; do
  kubectl label --local -f "$f" troupe-check=1 -o name >"$work/names" 2>"$work/kubectl.err" ||
    fail "kubectl cannot parse $f: $(cat "$work/kubectl.err")"
  echo "kubernetes test: $(basename "$f"): $(tr '\n' ' ' <"$work/names")"
done
[ "$(kubectl label --local -f "$k8s/service.yaml" x=1 -o jsonpath='{.spec.clusterIP}')" = None ] ||
  fail "the Service is not headless"
kubectl label --local -f "$k8s/configmap.yaml" x=1 -o jsonpath='{.data.job\.yaml}' >"$work/job.yaml"
grep -q "prometheus_port: 9400" "$work/job.yaml" || fail "the job YAML does not export Prometheus on 9400"
get() { # file jsonpath: the value, from kubectl's own parse of the manifest
  kubectl label --local -f "$k8s/$1" troupe-check=1 -o jsonpath="$2" 2>"$work/kubectl.err" ||
    fail "kubectl: $1: $2: $(cat "$work/kubectl.err")"
}
for f in aggregator.yaml trainers.yaml; do
  [ "$(get $f '{.kind} {.spec.serviceName}')" = "StatefulSet troupe" ] || fail "$f is not a StatefulSet of Service troupe"
  [ "$(get $f '{.spec.template.spec.containers[0].livenessProbe.httpGet.port}')" = metrics ] ||
    fail "$f: the liveness probe is not on the metrics port"
  [ "$(get $f '{.spec.template.spec.containers[0].ports[?(@.name=="metrics")].containerPort}')" = 9400 ] ||
    fail "$f: the metrics port is not 9400"
done
replicas=$(get trainers.yaml '{.spec.replicas}')
env_of() { # file -> NAME=value lines of its container's env
  get "$1" '{range .spec.template.spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}'
}
env_of aggregator.yaml >"$work/env.aggregator"
env_of trainers.yaml >"$work/env.trainer"
for e in aggregator trainer; do
  grep -qx "TROUPE_WORLD_SIZE=$((replicas + 1))" "$work/env.$e" ||
    fail "$e: TROUPE_WORLD_SIZE is not 1 + the trainers' $replicas replicas"
done
[ "$replicas" -eq 2 ] || fail "this test reproduces 2 trainer pods; the manifest has $replicas"

# 2. The pods, on this host.
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
ip netns add "probe-$tag" 2>"$work/ip.err" || skip "ip netns add failed: $(cat "$work/ip.err")"
ip netns del "probe-$tag"
br=trpk8s$tag
ip link add "$br" type bridge && ip link set "$br" up || skip "cannot make a bridge"
hosts="127.0.0.1 localhost"
for i in "${!pods[@]}"; do
  hosts+=$'\n'"10.231.$((tag % 200)).$((i + 1)) ${pods[i]}.troupe ${pods[i]}.troupe.default.svc.cluster.local ${pods[i]}"
done
for i in "${!pods[@]}"; do
  ns=${pods[i]}-$tag
  ip netns add "$ns"
  ip link add "k$tag-$i" type veth peer name "p$tag-$i"
  ip link set "k$tag-$i" master "$br" up
  ip link set "p$tag-$i" netns "$ns"
  ip -n "$ns" link set "p$tag-$i" name eth0
  ip -n "$ns" addr add "10.231.$((tag % 200)).$((i + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  mkdir -p "/etc/netns/$ns"
  printf '%s\n' "$hosts" >"/etc/netns/$ns/hosts" # ip netns exec mounts it over /etc/hosts: the Service's DNS
done

mkdir -m 700 "$work/keys"
sets=()
for n in agg t0 t1; do
  key=$("$node" keygen --name "$n" --dir "$work/keys" | sed -n 's/.*public_key: *"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/p')
  [ ${#key} -eq 40 ] || fail "keygen did not print a public key for $n"
  sets+=(--set "cluster.launch.public_keys.$n='$key'") # quoted: Z85 has YAML's * & ! [ {
done
job=(--set job.epochs=1 --set job.data.max_train=2048 --set job.data.max_test=512
     --set "job.model=$src/examples/models/fmnist_cnn.yaml"
     --set "job.data.dir=${TROUPE_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
     --set "cluster.security.key_dir=$work/keys")

cd "$work"
pids=()
for i in "${!pods[@]}"; do
  pod=${pods[i]}
  [ "$i" -eq 0 ] && envfile=env.aggregator || envfile=env.trainer
  mkdir -p "$pod"
  # The pod's whole environment: what the manifest sets, what Kubernetes sets (HOSTNAME), and this
  # host's OpenBLAS kernel choice (OPENBLAS_CORETYPE, ...: it changes the GEMMs' rounding, and the
  # static run below keeps it).
  (cd "$pod" && ip netns exec "$pod-$tag" env -i PATH="$PATH" HOSTNAME="$pod" \
     $(env | grep '^OPENBLAS_' | grep -v '^OPENBLAS_NUM_THREADS=' || true) $(cat "../$envfile") \
     timeout 240 "$node" --role auto --config ../job.yaml "${job[@]}" "${sets[@]}" \
     --set checkpoint.dir=ck --set metrics.dir=m >log 2>&1) &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
[ "$rc" -eq 0 ] || { tail -n 20 */log; fail "a pod's process exited with $rc"; }
grep -q "launcher kubernetes (HOSTNAME=troupe-trainer-1 TROUPE_RANK_OFFSET=1 TROUPE_WORLD_SIZE=3" troupe-trainer-1/log ||
  { cat troupe-trainer-1/log; fail "troupe-trainer-1 did not take rank 2 from its ordinal"; }
grep -q "rendezvous tcp://troupe-aggregator-0.troupe:29500" troupe-trainer-0/log || fail "no rendezvous by DNS name"

# The equivalent static topology, in one process (CURVE off: ipc sockets in a private directory),
# with the pods' OpenBLAS threads (the GEMMs' summation order depends on them).
mkdir static
(cd static && env $(grep OPENBLAS_NUM_THREADS ../env.trainer) "$node" --role all --config ../job.yaml "${job[@]}" "${sets[@]}" --set checkpoint.dir=ck --set metrics.dir=m \
  --set metrics.prometheus_port=0 --set cluster.security.curve=off \
  --set "cluster.nodes=[{name: agg, roles: [aggregator, loader], endpoint: 'ipc://s/agg'},
                        {name: t0, roles: [trainer], endpoint: 'ipc://s/t0'},
                        {name: t1, roles: [trainer], endpoint: 'ipc://s/t1'}]" >log 2>&1) ||
  { cat static/log; fail "the static reference run failed"; }
cmp static/ck/model_final.trpm troupe-aggregator-0/ck/model_final.trpm ||
  fail "the pods' final parameters differ from the static topology's"
echo "kubernetes test: 3 pods (CURVE, rendezvous by the Service's DNS name) ended byte-identical to the static topology"
