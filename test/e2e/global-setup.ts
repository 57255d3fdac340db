// vitest globalSetup of the e2e project: makes sure the local cluster is up and healthy, with the
// test bed's Prometheus.
// cluster:up returns in about a second when everything already runs, and restarts whatever died.
// With RRO_E2E_KUBECONFIG (another cluster, e.g. kind: test/e2e/kind/run.sh) nothing is started:
// the API server of that kubeconfig must answer, and the tests that need the local cluster are
// listed here as skipped, with why (support/where.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../hack/lib.js';
import { clusterPaths } from '../../hack/local-cluster/common.js';
import { apiReady } from '../../hack/local-cluster/control-plane.js';
import { operatorRunsInCluster, otherKubeconfig, skipReport } from './support/where.js';

export default async function setup(): Promise<void> {
  const other = otherKubeconfig();
  if (other !== undefined) return useOtherCluster(other);
  if (operatorRunsInCluster()) {
    throw new Error('RRO_E2E_OPERATOR=in-cluster needs RRO_E2E_KUBECONFIG: on the local cluster the suite runs its own operator processes');
  }
  const paths = clusterPaths();
  // With Prometheus (RRO_PROMETHEUS=1): alerts.test.ts makes its alerts fire there.
  const r = spawnSync('npx', ['tsx', 'hack/local-cluster/up.ts'], { stdio: 'inherit', cwd: repoRoot, env: { ...process.env, RRO_PROMETHEUS: '1' } });
  if (r.status !== 0 || !existsSync(paths.kubeconfig) || !(await apiReady(paths))) {
    throw new Error('cluster:up failed; see .cluster/logs/');
  }
}

async function useOtherCluster(kubeconfig: string): Promise<void> {
  if (!existsSync(kubeconfig)) throw new Error(`RRO_E2E_KUBECONFIG=${kubeconfig}: no such file`);
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(kubeconfig);
  } catch (err) {
    throw new Error(`RRO_E2E_KUBECONFIG=${kubeconfig}: not a kubeconfig (${(err as Error).message})`);
  }
  const server = kc.getCurrentCluster()?.server ?? '(no current cluster)';
  try {
    const version = await Promise.race([
      kc.makeApiClient(k8s.VersionApi).getCode(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 15 s')), 15_000).unref()),
    ]);
    console.log(`[e2e] the API server of RRO_E2E_KUBECONFIG answers: ${server}, Kubernetes ${version.gitVersion}`);
  } catch (err) {
    throw new Error(`RRO_E2E_KUBECONFIG=${kubeconfig}: the API server ${server} does not answer (${(err as Error).message}); ` +
      'the local cluster is not started when RRO_E2E_KUBECONFIG is set');
  }
  console.log(skipReport());
}
