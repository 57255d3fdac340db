#!/usr/bin/env bash
# End-to-end tests on a kind cluster. NEEDS DOCKER (a running daemon) and kind on PATH,
# plus helm 3 and kubectl; it cannot run where Docker is not available.
#
# Creates a kind cluster, builds the operator image from the Dockerfile, loads it into the
# cluster, installs the chart, then runs the e2e suite (`npx vitest run --project 'e2e*'`) with
# KUBECONFIG and RRO_E2E_KUBECONFIG pointing at the kind cluster (the suite normally starts a
# local cluster of its own; RRO_E2E_KUBECONFIG tells it to use this one instead, and
# RRO_E2E_OPERATOR=in-cluster that the operator is already running from the chart, watching every
# namespace, so the suite starts no operator process of its own).
#
# Skipped on kind (the suite prints the list, test/e2e/support/where.ts has it): tests that need the
# local node agent's faults (SIGKILL/SIGSTOP of container processes, network partitions, node-down, an
# API server restart) or internals (its pod state, /proc of pod processes, the local server binaries,
# .cluster/logs), tests that talk to pod/Service IPs from the test process (not reachable from the
# host of a kind cluster), and, with RRO_E2E_OPERATOR=in-cluster, the install tests whose resources
# the chart's operator would reconcile in place of the install under test. Files skipped whole:
# cluster, day2, failover, node-loss, nodes, safety, security, tls, versions.
#
# Usage (from anywhere):  bash test/e2e/kind/run.sh [extra vitest args]
# Environment:
#   KIND_CLUSTER_NAME   cluster name (default rro-e2e)
#   KIND_NODE_IMAGE     node image, e.g. kindest/node:v1.32.2 (default: kind's own)
#   IMAGE               image to build and load (default redis-replication-operator:e2e)
#   KEEP_CLUSTER=1      leave the cluster running afterwards (default: delete it)
#   REUSE_CLUSTER=1     use an existing cluster of that name instead of creating one
#   HELM                helm binary (default: the project's cache, else helm on PATH)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cluster="${KIND_CLUSTER_NAME:-rro-e2e}"
image="${IMAGE:-redis-replication-operator:e2e}"
namespace="redis-replication-operator"
release="rro"
workdir="$root/.cluster/kind-$cluster"
kubeconfig="$workdir/kubeconfig"

log() { echo "[kind-e2e] $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites ---
command -v docker >/dev/null 2>&1 || die "docker is not installed: this script needs Docker"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (docker info failed): this script needs Docker"
command -v kind >/dev/null 2>&1 || die "kind is not installed (https://kind.sigs.k8s.io)"
command -v kubectl >/dev/null 2>&1 || die "kubectl is not installed"
command -v npx >/dev/null 2>&1 || die "node/npx is not installed"
if [ -z "${HELM:-}" ]; then
  cached="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}/helm-v3.22.0/bin/helm"
  if [ -x "$cached" ]; then HELM="$cached"
  elif command -v helm >/dev/null 2>&1; then HELM="$(command -v helm)"
  else die "helm not found: run hack/local-cluster/build-binaries.sh (or install helm 3, or set HELM)"
  fi
fi

mkdir -p "$workdir"

# --- cluster ---
created=0
cleanup() {
  status=$?
  if [ "$created" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    log "deleting kind cluster $cluster (KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
    rm -f "$kubeconfig"
  fi
  exit "$status"
}
trap cleanup EXIT

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  [ "${REUSE_CLUSTER:-0}" = 1 ] || die "a kind cluster named $cluster already exists (delete it, or set REUSE_CLUSTER=1)"
  log "reusing kind cluster $cluster"
  kind get kubeconfig --name "$cluster" > "$kubeconfig"
else
  log "creating kind cluster $cluster"
  node_image_args=()
  [ -n "${KIND_NODE_IMAGE:-}" ] && node_image_args=(--image "$KIND_NODE_IMAGE")
  created=1
  kind create cluster --name "$cluster" --config "$here/kind-config.yaml" \
    --kubeconfig "$kubeconfig" --wait 180s "${node_image_args[@]}"
fi
export KUBECONFIG="$kubeconfig"
kubectl get nodes -o wide

# --- image ---
log "building $image"
docker build -t "$image" "$root"
log "loading $image into $cluster"
kind load docker-image "$image" --name "$cluster"

# --- operator ---
log "installing the chart (release $release, namespace $namespace)"
"$HELM" upgrade --install "$release" "$root/helm/redis-replication-operator" \
  --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" \
  --set image.tag="${image##*:}" \
  --set image.pullPolicy=Never \
  --wait --timeout 5m
# The CRD ships in the chart's crds/ (installed once, never upgraded by helm): apply the current one.
kubectl apply -f "$root/crds/"
kubectl --namespace "$namespace" rollout status "deployment/$release-redis-replication-operator" --timeout 180s

# --- tests ---
log "running the e2e suite against $cluster"
cd "$root"
export RRO_E2E_KUBECONFIG="$kubeconfig"
# The chart already runs the operator in the cluster: the suite should not start one of its own.
export RRO_E2E_OPERATOR=in-cluster
# The suite's helm (install tests) is this one.
export RRO_HELM="$HELM"
npx vitest run --project 'e2e*' "$@"
