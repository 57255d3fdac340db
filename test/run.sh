#!/usr/bin/env bash
# npm test: unit tests, the fault simulation, integration tests (helm, kubectl; no cluster), then end-to-end tests on the local cluster,
# which is torn down (and checked clean) at the end.
# Extra arguments go to the e2e vitest run (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then npm ci; fi
missing=0
for t in etcd redis-server redis-cli iptables ip openssl unshare nsenter; do command -v "$t" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
  echo "[test] installing missing system packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server redis-server redis-tools iptables conntrack iproute2 openssl util-linux >/dev/null
fi
bash hack/local-cluster/build-binaries.sh >/dev/null

echo "[test] unit and controller tests" >&2
npx vitest run --project unit

echo "[test] fault simulation" >&2
npx vitest run --project sim

# helm and kubectl come from build-binaries.sh above.
echo "[test] integration tests" >&2
npx vitest run --project integration

# The e2e run brings the cluster up if it is not already; it is always torn down and checked at the end.
cleanup() {
  rc=$?
  if [ "$rc" != 0 ]; then
    # CI keeps only this output: show the end of each control-plane log before the cluster is removed.
    for f in .cluster/logs/etcd.log .cluster/logs/kube-apiserver.log .cluster/logs/operator-*.log; do
      [ -f "$f" ] && { echo "[test] last lines of $f" >&2; tail -n 40 "$f" >&2; }
    done
  fi
  echo "[test] cluster:down" >&2
  npx tsx hack/local-cluster/down.ts || rc=1
  bash hack/local-cluster/check-clean.sh || rc=1
  exit "$rc"
}
trap cleanup EXIT
npx tsx hack/local-cluster/up.ts
echo "[test] end-to-end tests" >&2
npx vitest run --project e2e "$@"
