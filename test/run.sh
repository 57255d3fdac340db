#!/usr/bin/env bash
# npm test: unit tests, dead code (knip), the fault simulation, integration tests (helm, kubectl; no cluster), then end-to-end tests on the local cluster,
# which is torn down (and checked clean) at the end.
# Extra arguments go to the e2e vitest run (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/bootstrap.sh

echo "[test] unit and controller tests" >&2
npx vitest run --project unit

echo "[test] dead code (knip: unused files, dependencies, exports)" >&2
npx knip

echo "[test] fault simulation" >&2
npx vitest run --project sim

# helm and kubectl come from build-binaries.sh above.
echo "[test] integration tests" >&2
npx vitest run --project integration

report=test-results/e2e.json
rm -f "$report"
# The e2e run brings the cluster up if it is not already; it is always torn down and checked at the end.
cleanup() {
  rc=$?
  if [ "$rc" != 0 ]; then
    # CI keeps only this output: show the end of each control-plane log before the cluster is removed.
    for f in .cluster/logs/etcd.log .cluster/logs/kube-apiserver.log .cluster/logs/operator-*.log; do
      [ -f "$f" ] && { echo "[test] last lines of $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  echo "[test] cluster:down" >&2
  npx tsx hack/local-cluster/down.ts || rc=1
  bash hack/local-cluster/check-clean.sh || rc=1
  # Last, so that the end of the log names what failed.
  if [ "$rc" != 0 ] && [ -f "$report" ]; then npx tsx test/failures.ts "$report" || true; fi
  exit "$rc"
}
trap cleanup EXIT
# With the test bed's Prometheus (the chart's alert rules, scraping the e2e operators): test/e2e/alerts.test.ts.
export RRO_PROMETHEUS=1
npx tsx hack/local-cluster/up.ts
# The install tests run the operator in the cluster from the image of this checkout's Dockerfile.
echo "[test] operator image (npm run image:build)" >&2
bash hack/image-build.sh
echo "[test] end-to-end tests" >&2
npx vitest run --project 'e2e*' --reporter=default --reporter=json --outputFile.json="$report" "$@"
