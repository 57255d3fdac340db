// vitest globalSetup of the e2e project: makes sure the local cluster is up and healthy.
// cluster:up returns in about a second when everything already runs, and restarts whatever died.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { repoRoot } from '../../hack/lib.js';
import { clusterPaths } from '../../hack/local-cluster/common.js';
import { apiReady } from '../../hack/local-cluster/control-plane.js';

export default async function setup(): Promise<void> {
  const paths = clusterPaths();
  const r = spawnSync('npx', ['tsx', 'hack/local-cluster/up.ts'], { stdio: 'inherit', cwd: repoRoot });
  if (r.status !== 0 || !existsSync(paths.kubeconfig) || !(await apiReady(paths))) {
    throw new Error('cluster:up failed; see .cluster/logs/');
  }
}
