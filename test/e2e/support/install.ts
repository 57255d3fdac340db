// Helpers for the install tests: the operator installed INTO the local cluster (Helm chart or the
// plain manifests) from the image built from the Dockerfile (`npm run image:build`), which every
// kubelet node has as redis-replication-operator:dev (the node agent runs `node dist/main.js` for it).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppsV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { repoRoot, run, stdoutOrThrow, type RunOptions, type RunResult } from '../../../hack/lib.js';
import { clusterNodeKind } from '../../../hack/local-cluster/common.js';
import { OPERATOR_IMAGE, operatorImageArchive } from '../../../hack/local-cluster/lifecycle.js';
import { findHelm } from '../../../hack/render-manifests.js';
import { clusterPaths, createNamespace, kubeConfig, kubeconfigPath, kubectl, kubectlRaw, localCluster, waitFor } from './cluster.js';
import { api } from './operator.js';

export const CHART = resolve(repoRoot, 'helm/redis-replication-operator');
export const CHART_NAME = 'redis-replication-operator';
/** Tag of the in-cluster operator's image (`npm run image:build` makes redis-replication-operator:dev). */
export const IMAGE_TAG = 'dev';

/** The operator's image on the local cluster's nodes: built from the Dockerfile when there is none
 * yet, else the built one loaded (test/run.sh builds it afresh before the e2e run). The node agent
 * runs dist/main.js instead. */
export async function ensureOperatorImage(): Promise<void> {
  if (clusterNodeKind() === 'agent') return buildDist();
  const r = existsSync(operatorImageArchive())
    ? await run('npx', ['tsx', 'hack/local-cluster/load-image.ts', OPERATOR_IMAGE, operatorImageArchive()], { timeoutMs: 300_000 })
    : await run('bash', ['hack/image-build.sh'], { timeoutMs: 1_200_000 });
  if (r.code !== 0) throw new Error(`the operator image could not be built or loaded (${r.code}): ${r.stderr.slice(-2000)}`);
}

/** `npm run build`: dist/ so the node agent runs the compiled operator (it falls back to tsx without it). */
async function buildDist(): Promise<void> {
  const r = await run('npm', ['run', 'build'], { timeoutMs: 240_000 });
  if (r.code !== 0) throw new Error(`npm run build failed (${r.code}): ${r.stdout}\n${r.stderr}`);
  if (!existsSync(join(repoRoot, 'dist', 'main.js'))) throw new Error('npm run build left no dist/main.js');
}

/** The local cluster's helm, else the cached one (or RRO_HELM); on another cluster, helm on PATH when neither is there. */
export function helmPath(): string {
  const local = join(clusterPaths().bin, 'helm');
  if (localCluster) return existsSync(local) ? local : findHelm();
  try {
    return findHelm();
  } catch {
    return 'helm';
  }
}

type HelmOptions = Pick<RunOptions, 'input' | 'timeoutMs'>;

/** Runs helm against the cluster under test (default timeout 120 s); never throws. */
export function helmRaw(args: string[], opts: HelmOptions = {}): Promise<RunResult> {
  return run(helmPath(), ['--kubeconfig', kubeconfigPath(), ...args], { timeoutMs: 120_000, ...opts });
}

/** Runs helm; resolves with stdout, rejects with stderr in the message. */
export async function helm(args: string[], opts: HelmOptions = {}): Promise<string> {
  return stdoutOrThrow(await helmRaw(args, opts), `helm ${args.join(' ')}`);
}

/** A release name of our own (the chart's ClusterRole is cluster-scoped and named after the release). */
export function releaseName(prefix = 'rro'): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** The chart's full name of a release (templates/_helpers.tpl "rro.fullname"). */
export function fullName(release: string): string {
  return release.includes(CHART_NAME) ? release : `${release}-${CHART_NAME}`.slice(0, 63).replace(/-+$/, '');
}

/** `--set` arguments of an install into the local cluster, watching only `watch`. */
export function installSets(watch: string[], extra: Record<string, string | number> = {}): string[] {
  const sets = [`watchNamespaces={${watch.join(',')}}`, `image.tag=${IMAGE_TAG}`, 'image.pullPolicy=Never', ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
  return sets.flatMap((s) => ['--set', s]);
}

export function isPodReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && Boolean(p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) && !p.metadata?.deletionTimestamp;
}

export async function podsBySelector(namespace: string, labelSelector: string): Promise<V1Pod[]> {
  return (await api().core.listNamespacedPod({ namespace, labelSelector })).items;
}

/** The operator pods of a Helm release (selector labels of the chart). */
export function operatorSelector(release: string, name = CHART_NAME): string {
  return `app.kubernetes.io/name=${name},app.kubernetes.io/instance=${release}`;
}

/**
 * Waits until the Deployment has rolled out: `count` Ready pods of its current template, none
 * left of older ones (nor terminating). Returns those pods.
 */
export async function waitDeploymentReady(namespace: string, deployment: string, count: number, timeoutMs = 120_000): Promise<V1Pod[]> {
  let last = '';
  return waitFor(
    async () => {
      const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: deployment, namespace });
      const s = d.status ?? {};
      last = JSON.stringify({ generation: d.metadata?.generation, ...s, conditions: undefined });
      if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 1)) return false;
      if (s.updatedReplicas !== count || s.readyReplicas !== count || s.availableReplicas !== count || s.replicas !== count) return false;
      const selector = Object.entries(d.spec!.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = await podsBySelector(namespace, selector);
      if (pods.length !== count || !pods.every(isPodReady)) return false;
      return pods;
    },
    { timeoutMs, intervalMs: 250, what: `Deployment ${namespace}/${deployment} with ${count} Ready pod(s) (last: ${last})` },
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await diagnose(namespace)}`);
  });
}

/** What went wrong in a namespace: pods, events and the operator's container output. */
export async function diagnose(namespace: string): Promise<string> {
  const parts: string[] = [];
  for (const args of [['get', 'pods', '-o', 'wide', '-n', namespace], ['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']]) {
    const r = await kubectlRaw(args);
    parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  }
  const pods = await podsBySelector(namespace, '').catch(() => []);
  for (const p of pods) {
    const r = await kubectlRaw(['logs', '-n', namespace, p.metadata!.name!, '--tail', '30']);
    parts.push(`--- logs ${p.metadata!.name}\n${r.stdout}${r.stderr}`);
  }
  return parts.join('\n').slice(-20_000);
}

/** `kubectl auth can-i VERB RESOURCE` as a ServiceAccount; `namespace` undefined = all namespaces, null = cluster scope. */
export async function canI(sa: { namespace: string; name: string }, verb: string, resource: string, namespace?: string | null): Promise<boolean> {
  const scope = namespace === undefined ? ['--all-namespaces'] : namespace === null ? [] : ['-n', namespace];
  const r = await kubectlRaw(['auth', 'can-i', verb, resource, ...scope, `--as=system:serviceaccount:${sa.namespace}:${sa.name}`]);
  const answer = r.stdout.trim();
  if (answer.startsWith('yes')) return true;
  if (answer.startsWith('no')) return false;
  throw new Error(`kubectl auth can-i ${verb} ${resource}: ${r.code} ${r.stdout}${r.stderr}`);
}

/** The holder of a Lease, or undefined (free or absent). */
export async function leaseHolder(namespace: string, name: string): Promise<string | undefined> {
  try {
    const lease = await api().coordination.readNamespacedLease({ name, namespace });
    return lease.spec?.holderIdentity || undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** GET http://ip:port/path from the host (pod IPs are on the host bridge rro0). */
export async function httpGet(ip: string, port: number, path: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${ip}:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Deletes a namespace and waits until it is gone (bounded). Never throws. */
export async function deleteNamespace(name: string, timeoutMs = 90_000): Promise<void> {
  await kubectlRaw(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
  await waitFor(async () => (await kubectlRaw(['get', 'namespace', name])).code !== 0, { timeoutMs, intervalMs: 500, what: `namespace ${name} gone` }).catch(() => undefined);
}

export interface ReleaseFixture {
  release: string;
  /** The chart's full name (Deployment, ServiceAccount, Lease). */
  full: string;
  /** The namespace the release is installed in. */
  sysNs: string;
  /** The namespace the operator watches; set once the block's beforeAll has run. */
  app: string;
}

/** For a describe block: a release name and its own namespace, plus one app namespace to watch,
 * created before the block; release and both namespaces are removed after it. */
export function releaseFixture(sysPrefix: string): ReleaseFixture {
  const release = releaseName();
  const fixture: ReleaseFixture = { release, full: fullName(release), sysNs: `${sysPrefix}-${release.slice(-6)}`, app: '' };
  let cleanupApp: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const app = await createNamespace('rro-app');
    fixture.app = app.name;
    cleanupApp = app.cleanup;
  });
  afterAll(async () => {
    await uninstallQuietly(release, fixture.sysNs);
    await cleanupApp?.();
    await deleteNamespace(fixture.sysNs);
  });
  return fixture;
}

/** `helm uninstall` that never throws (for afterAll). */
export async function uninstallQuietly(release: string, namespace: string): Promise<void> {
  await helmRaw(['uninstall', release, '-n', namespace, '--wait', '--timeout', '90s']);
}

export { kubectl, kubectlRaw };
