// Helpers for end-to-end tests against the local cluster (.cluster/kubeconfig), or the cluster of
// RRO_E2E_KUBECONFIG when one is given (see where.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { run, stdoutOrThrow, waitFor, type RunOptions, type RunResult } from '../../../hack/lib.js';
import { cacheBinDir, clusterPaths } from '../../../hack/local-cluster/common.js';
import { localCluster, otherKubeconfig } from './where.js';

export {
  clusterPaths, podIPOf, podState, containerPid, killContainer, freezePod, thawPod, partitionPod, healPod, restartApiServer,
} from './faults.js';
export { waitFor, type WaitOptions } from '../../../hack/lib.js';
export { localCluster, operatorInCluster } from './where.js';

/** The kubeconfig of the cluster under test: RRO_E2E_KUBECONFIG, else the local cluster's .cluster/kubeconfig. */
export function kubeconfigPath(): string {
  return otherKubeconfig() ?? clusterPaths().kubeconfig;
}

/** A KubeConfig loaded from kubeconfigPath(). */
export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** The local cluster's kubectl, else the cached one; on another cluster, the cached one, else kubectl on PATH. */
export function kubectlPath(): string {
  const local = join(clusterPaths().bin, 'kubectl');
  if (localCluster && existsSync(local)) return local;
  const cached = join(cacheBinDir(), 'kubectl');
  return localCluster || existsSync(cached) ? cached : 'kubectl';
}

export type KubectlOptions = Pick<RunOptions, 'input' | 'timeoutMs'>;

/** Runs the cluster's kubectl with kubeconfigPath(); never throws, returns exit code and output. */
export function kubectlRaw(args: string[], opts: KubectlOptions = {}): Promise<RunResult> {
  return run(kubectlPath(), ['--kubeconfig', kubeconfigPath(), ...args], opts);
}

/** Runs kubectl (second argument: stdin text or options); resolves with stdout, rejects with stderr in the message on failure. */
export async function kubectl(args: string[], inputOrOpts?: string | KubectlOptions): Promise<string> {
  const opts = typeof inputOrOpts === 'string' ? { input: inputOrOpts } : inputOrOpts;
  return stdoutOrThrow(await kubectlRaw(args, opts), `kubectl ${args.join(' ')}`);
}

/** A fresh namespace (with its default ServiceAccount ready) and a cleanup that deletes it. */
export async function createNamespace(prefix = 'e2e'): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'rro.local/test': 'true' } } } });
  await waitFor(async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: name })) !== undefined, {
    timeoutMs: 60_000, what: `ServiceAccount default in ${name}`,
  });
  return {
    name,
    cleanup: async () => {
      try {
        await core.deleteNamespace({ name });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    },
  };
}
