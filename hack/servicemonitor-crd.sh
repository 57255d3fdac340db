#!/usr/bin/env bash
# Generates the Prometheus Operator's ServiceMonitor CRD (monitoring.coreos.com/v1, the one kind the
# chart's templates/servicemonitor.yaml needs) into a cache folder outside the repository, keyed by
# version, so that a real API server can be asked whether it accepts the chart's ServiceMonitor.
# The Go module proxy serves the operator's API module (Go types with kubebuilder markers, no YAML)
# but not its main module (which holds the released YAML), so the CRD is generated from the types
# with controller-gen, built once into the same folder. Does nothing when the CRD is already there.
# Usage: servicemonitor-crd.sh       prints the path of the CRD file on the last line of stdout
set -euo pipefail

PROM_OPERATOR_VERSION="${PROM_OPERATOR_VERSION:-v0.95.2}"
CONTROLLER_GEN_VERSION="${CONTROLLER_GEN_VERSION:-v0.23.0}"
CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
DIR="$CACHE/servicemonitor-crd-$PROM_OPERATOR_VERSION"
CRD="$DIR/monitoring.coreos.com_servicemonitors.yaml"
MODULE="github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"
# Go comes with the machine image under /usr/local/go (only needed on a cold cache).
export PATH="$PATH:/usr/local/go/bin"

log() { echo "[smon-crd] $*" >&2; }

if [ -s "$CRD" ]; then
  echo "$CRD"
  exit 0
fi
mkdir -p "$DIR/bin"
cd "$DIR"
export GOWORK=off

if [ ! -x "$DIR/bin/controller-gen" ]; then
  log "building controller-gen $CONTROLLER_GEN_VERSION (once; about a minute on a cold machine)"
  GOBIN="$DIR/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION" >&2
fi

log "downloading $MODULE@$PROM_OPERATOR_VERSION"
src=$(go mod download -json "$MODULE@$PROM_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$src/v1" ] || { log "no v1 package in $src"; exit 1; }

# Options, as upstream's `make generate-crds` (Makefile: CRD_OPTIONS ?= "crd:crdVersions=v1", run
# from pkg/apis/monitoring with paths=./v1/.):
# - crdVersions=v1: apiextensions.k8s.io/v1, the only CRD version current API servers serve.
# - no allowDangerousTypes: the v1 types have no float fields, and upstream does not set it (the
#   generator would fail, not silently differ, if one appeared).
# - no maxDescLen=0: upstream's example/prometheus-operator-crd keeps the descriptions (only its
#   separate stripped-down-crds.yaml drops them, for client-side apply's annotation size limit);
#   the file is about 77 kB, well under that limit, and the test applies it server-side anyway.
# The v1 package holds seven kinds; controller-gen writes one file per kind and only the
# ServiceMonitor's is kept. Like upstream's scripts/generate/append-operator-version.sh, the
# operator.prometheus.io/version annotation is added after controller-gen's own.
tmp=$(mktemp -d "$DIR/gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "generating the CRDs of $MODULE/v1 with controller-gen crd:crdVersions=v1"
# The module cache is read-only: GOFLAGS=-mod=readonly, whatever the caller's (its go.sum is complete).
(cd "$src" && GOFLAGS=-mod=readonly "$DIR/bin/controller-gen" crd:crdVersions=v1 paths=./v1/. "output:crd:dir=$tmp") >&2
gen="$tmp/$(basename "$CRD")"
[ -s "$gen" ] || { log "controller-gen wrote no $(basename "$CRD") (got: $(ls "$tmp"))"; exit 1; }
sed -i "/^    controller-gen.kubebuilder.io\/version:.*/a\\    operator.prometheus.io/version: ${PROM_OPERATOR_VERSION#v}" "$gen"
for want in 'name: servicemonitors.monitoring.coreos.com' 'group: monitoring.coreos.com' 'kind: ServiceMonitor' '- name: v1'; do
  grep -qx " *$want" "$gen" || { log "the generated CRD lacks '$want'"; exit 1; }
done
mv "$gen" "$CRD"
log "ServiceMonitor CRD: $(wc -c <"$CRD") bytes"
echo "$CRD"
