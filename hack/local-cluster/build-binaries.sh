#!/usr/bin/env bash
# Builds the Kubernetes binaries (control plane, kubelet, kube-proxy, kubectl), crictl, helm, and
# prometheus and promtool (the alert rules' tests, the test bed's Prometheus) from the Go module proxy into a cache folder outside the repository, keyed by version. Builds only what is missing.
# Usage: build-binaries.sh            prints the bin folder on the last line of stdout
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
# The Go module of Prometheus 3.16.0 (its Go tags are v0.3xx.y for Prometheus 3.xx.y).
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
BIN="$CACHE/k8s-$K8S_VERSION/bin"
HELM_BIN="$CACHE/helm-$HELM_VERSION/bin"
CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl kubelet)

log() { echo "[build] $*" >&2; }
mkdir -p "$BIN" "$HELM_BIN"

missing=()
for c in "${CMDS[@]}"; do [ -x "$BIN/$c" ] || missing+=("$c"); done

if [ "${#missing[@]}" -gt 0 ]; then
  work="$CACHE/k8s-$K8S_VERSION/module"
  mkdir -p "$work"
  cd "$work"
  # tools.go names every command: a module resolved for fewer commands is resolved again.
  if [ ! -f go.mod ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod || ! grep -q cmd/kubelet tools.go; then
    log "resolving k8s.io/kubernetes@$K8S_VERSION and its staging modules"
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    staging_version="v0.${K8S_VERSION#v1.}"
    {
      echo "module rro.local/k8sbuild"
      echo
      echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
    } > go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
    log "go mod tidy (downloads modules; a few minutes on a cold machine)"
    go mod tidy -e >&2
  fi
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  stamp=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do
    log "building $c $K8S_VERSION (cold: several minutes each on 2 cores)"
    start=$(date +%s)
    CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "-s -w$stamp" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$BIN/$c.tmp" "$BIN/$c"
    log "built $c in $(( $(date +%s) - start ))s"
  done
fi

if [ ! -x "$HELM_BIN/helm" ]; then
  log "building helm $HELM_VERSION"
  GOBIN="$HELM_BIN" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
ln -sf "$HELM_BIN/helm" "$BIN/helm"

CRICTL_BIN="$CACHE/crictl-$CRICTL_VERSION/bin"
if [ ! -x "$CRICTL_BIN/crictl" ]; then
  log "building crictl $CRICTL_VERSION"
  mkdir -p "$CRICTL_BIN"
  GOBIN="$CRICTL_BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
fi
ln -sf "$CRICTL_BIN/crictl" "$BIN/crictl"

PROM_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/bin"
for c in prometheus promtool; do
  if [ ! -x "$PROM_BIN/$c" ]; then
    log "building $c $PROMETHEUS_VERSION (cold: a few minutes)"
    mkdir -p "$PROM_BIN"
    minor="${PROMETHEUS_VERSION#v0.3}"; minor="${minor%%.*}"
    # remove_all_sd: only static and file service discovery (the test bed's), not every cloud's SDK.
    GOBIN="$PROM_BIN" CGO_ENABLED=0 go install -trimpath -tags remove_all_sd \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=3.$minor.${PROMETHEUS_VERSION##*.}" \
      "github.com/prometheus/prometheus/cmd/$c@$PROMETHEUS_VERSION"
  fi
  ln -sf "$PROM_BIN/$c" "$BIN/$c"
done
echo "$BIN"
