// Helpers for end-to-end tests against the local cluster (.cluster/kubeconfig).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { cacheBinDir, clusterPaths } from '../../../src/cluster/common.js';

export {
  clusterPaths, podIPOf, podState, containerPid, killContainer, freezePod, thawPod, partitionPod, healPod, restartApiServer,
} from '../../../src/cluster/faults.js';

/** A KubeConfig loaded from .cluster/kubeconfig. */
export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterPaths().kubeconfig);
  return kc;
}

export function kubectlPath(): string {
  const local = join(clusterPaths().bin, 'kubectl');
  return existsSync(local) ? local : join(cacheBinDir(), 'kubectl');
}

export interface KubectlResult { code: number; stdout: string; stderr: string }
export interface KubectlOptions { input?: string; timeoutMs?: number }

/** Runs the cluster's kubectl with .cluster/kubeconfig; never throws, returns exit code and output. */
export function kubectlRaw(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(kubectlPath(), ['--kubeconfig', clusterPaths().kubeconfig, ...args], { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** Runs kubectl (second argument: stdin text or options); resolves with stdout, rejects with stderr in the message on failure. */
export async function kubectl(args: string[], inputOrOpts?: string | KubectlOptions): Promise<string> {
  const opts = typeof inputOrOpts === 'string' ? { input: inputOrOpts } : (inputOrOpts ?? {});
  const r = await kubectlRaw(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface WaitOptions { timeoutMs?: number; intervalMs?: number; what?: string }

/**
 * Polls fn until it returns a value other than undefined/false/null (which is returned), or throws
 * after timeoutMs with `what` and the last error or value in the message. Errors thrown by fn count as "not yet".
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
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
