// The operator installed INTO the local cluster (Helm chart, plain manifests), running under its own
// ServiceAccount and RBAC: the node agent runs `node dist/main.js` for the image
// `redis-replication-operator:*` in the pod's network namespace, with the pod's env and projected token.
// Every install watches only namespaces of this file (other operators share the cluster).
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURAL } from '../../src/api/schema.js';
import { parseProm, repoRoot } from '../../hack/lib.js';
import { createNamespace, freezePod, thawPod, waitFor } from './support/cluster.js';
import { api, createRR, getRR, installCrd, waitReady } from './support/operator.js';
import {
  CHART, IMAGE_TAG, canI, deleteNamespace, diagnose, helm, httpGet, installSets, isPodReady,
  ensureOperatorImage, kubectl, kubectlRaw, leaseHolder, operatorSelector, podsBySelector, releaseFixture, releaseName, waitDeploymentReady,
} from './support/install.js';
import { localCluster, operatorInCluster } from './support/where.js';

const figures: Record<string, string> = {};

beforeAll(async () => {
  // The local cluster's nodes get the image built from the Dockerfile; another cluster has its own.
  if (localCluster) await ensureOperatorImage();
  await installCrd();
});

afterAll(() => {
  if (Object.keys(figures).length > 0) console.log(`install.test.ts figures: ${JSON.stringify(figures)}`);
});

function envOf(pod: V1Pod, name: string): string | undefined {
  return pod.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
}

async function expectNoDeployment(namespace: string, name: string): Promise<void> {
  await waitFor(async () => (await kubectlRaw(['get', 'deployment', name, '-n', namespace])).code !== 0, {
    timeoutMs: 60_000, what: `Deployment ${namespace}/${name} gone`,
  });
}

async function patchReplicas(namespace: string, name: string, replicas: number): Promise<void> {
  await kubectl(['patch', `${PLURAL}.${GROUP}`, name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { replicas } })]);
}

describe('helm template', () => {
  let ns: { name: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    ns = await createNamespace('rro-tpl');
  });
  afterAll(async () => ns?.cleanup());

  it('renders objects the API server accepts (kubectl apply --dry-run=server)', async () => {
    const rendered = await helm(['template', releaseName(), CHART, '-n', ns.name, '--include-crds', ...installSets([ns.name], { replicaCount: 2, imageAllowList: '{redis:8.0,valkey/valkey:*}' })]);
    const kinds = parseAllDocuments(rendered).map((d) => d.toJS() as { kind?: string } | null).filter((d) => d?.kind).map((d) => d!.kind);
    expect(kinds).toEqual(expect.arrayContaining([
      'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Service', 'Deployment',
      'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
    ]));
    const out = await kubectl(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], rendered);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(kinds.length);
    for (const line of lines) expect(line).toMatch(/\(server dry run\)$/);
    // Nothing was created.
    expect((await kubectlRaw(['get', 'deployments', '-n', ns.name, '-o', 'name'])).stdout.trim()).toBe('');
  });
});

/** hack/servicemonitor-crd.sh: generates the ServiceMonitor CRD once (cached outside the repository); its path. */
function serviceMonitorCrdFile(): string {
  const r = spawnSync('bash', [resolve(repoRoot, 'hack/servicemonitor-crd.sh')], {
    cwd: repoRoot, encoding: 'utf8', timeout: 280_000, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const file = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !file.endsWith('.yaml')) throw new Error(`hack/servicemonitor-crd.sh failed (${r.status ?? r.signal}): ${r.stdout}`);
  return file;
}

describe('ServiceMonitor (metrics.serviceMonitor.enabled) against the Prometheus Operator CRD', () => {
  const CRD = 'servicemonitors.monitoring.coreos.com';
  let ns: { name: string; cleanup: () => Promise<void> } | undefined;
  let applied = false;
  beforeAll(async () => {
    const file = serviceMonitorCrdFile();
    // The local cluster has no Prometheus Operator: a CRD already there is someone else's, not ours to replace or delete.
    if ((await kubectlRaw(['get', 'crd', CRD])).code === 0) throw new Error(`CRD ${CRD} already exists on the cluster (someone else's?); not touching it`);
    ns = await createNamespace('rro-smon');
    applied = true;
    await kubectl(['apply', '--server-side', '-f', file]);
    // Polled rather than `kubectl wait`: right after the create the CRD has no conditions yet, and
    // kubectl wait then fails at once ("status.conditions accessor error") instead of waiting.
    await waitFor(async () => {
      const crd = JSON.parse(await kubectl(['get', 'crd', CRD, '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    }, { timeoutMs: 60_000, intervalMs: 250, what: `CRD ${CRD} Established` });
  });
  afterAll(async () => {
    if (applied) await kubectlRaw(['delete', 'crd', CRD, '--ignore-not-found', '--timeout=60s']);
    await ns?.cleanup();
  });

  it('the chart\'s ServiceMonitor is accepted (kubectl apply --dry-run=server); broken ones are refused by its schema', async () => {
    const release = releaseName();
    const rendered = await helm([
      'template', release, CHART, '-n', ns!.name, '--show-only', 'templates/servicemonitor.yaml',
      ...installSets([ns!.name], { 'metrics.enabled': 'true', 'metrics.serviceMonitor.enabled': 'true', 'metrics.serviceMonitor.labels.release': 'prom' }),
    ]);
    const sm = parseYaml(rendered) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> & { endpoints: Record<string, unknown>[] } };
    expect(sm.kind).toBe('ServiceMonitor');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http-metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' });
    const dryRun = (input: string, output: string[] = []) => kubectlRaw(['apply', '--dry-run=server', '-n', ns!.name, ...output, '-f', '-'], { input });

    // Accepted as rendered. Right after Established, kubectl's discovery may not know the kind yet: retried a few seconds.
    const accepted = await waitFor(async () => {
      const r = await dryRun(rendered, ['-o', 'json']);
      if (r.code !== 0 && /no matches for kind|could not find the requested resource/.test(r.stderr)) return false;
      return r;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'the ServiceMonitor kind served' });
    expect(accepted.code, accepted.stderr).toBe(0);
    // Nothing pruned: the object the API server would store has the rendered spec, field for field.
    expect((JSON.parse(accepted.stdout) as { spec: unknown }).spec).toEqual(sm.spec);
    expect((await kubectl(['get', 'servicemonitors', '-n', ns!.name, '-o', 'name'])).trim()).toBe('');

    // The same API server refuses what the CRD's schema (or kubectl's strict field validation) does not allow.
    const broken: [string, (s: typeof sm) => void, RegExp][] = [
      ['interval as a number', (s) => { s.spec.endpoints[0]!.interval = 30; }, /interval.*must be of type string/],
      ['interval not a duration', (s) => { s.spec.endpoints[0]!.interval = '30 seconds'; }, /interval.*should match/],
      ['endpoints as a string', (s) => { (s.spec as Record<string, unknown>).endpoints = 'http-metrics'; }, /endpoints.*must be of type array/],
      ['namespaceSelector.matchNames as a string', (s) => { s.spec.namespaceSelector = { matchNames: ns!.name }; }, /matchNames.*must be of type array/],
      ['no selector', (s) => { delete s.spec.selector; }, /selector.*Required value/],
      ['an unknown field', (s) => { s.spec.endpoints[0]!.scrapeInterval = '30s'; }, /unknown field "spec\.endpoints\[0\]\.scrapeInterval"/],
    ];
    for (const [what, mutate, message] of broken) {
      const copy = structuredClone(sm);
      mutate(copy);
      const r = await dryRun(stringifyYaml(copy));
      expect({ what, code: r.code, refused: message.test(r.stderr) ? 'as expected' : r.stderr }).toEqual({ what, code: 1, refused: 'as expected' });
    }
  });
});

describe('helm install: one replica, watching one namespace', () => {
  const r = releaseFixture('rro-sys');
  const { release, full, sysNs } = r;
  let operatorPod: V1Pod;

  it('installs; the operator pod becomes Ready under its own ServiceAccount', async () => {
    const started = Date.now();
    const notes = await helm(['install', release, CHART, '-n', sysNs, '--create-namespace', ...installSets([r.app], { imageAllowList: '{redis:8.0,valkey/valkey:*}' })]);
    // NOTES: the example goes to the watched namespace, and the metrics Service is named as rendered.
    expect(notes).toContain(`kubectl apply --namespace ${r.app} -f -`);
    expect(notes).toContain(`service ${full}-metrics`);
    const pods = await waitDeploymentReady(sysNs, full, 1, 120_000);
    figures['helm install -> operator Ready (ms)'] = String(Date.now() - started);
    operatorPod = pods[0]!;
    expect(operatorPod.spec!.serviceAccountName).toBe(full);
    expect(operatorPod.spec!.containers[0]!.image).toBe(`redis-replication-operator:${IMAGE_TAG}`);
    expect(envOf(operatorPod, 'WATCH_NAMESPACES')).toBe(r.app);
    // The projected ServiceAccount token (the operator talks to the API server with it, in-cluster).
    expect(operatorPod.spec!.volumes!.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(true);
    const logs = await kubectl(['logs', '-n', sysNs, operatorPod.metadata!.name!]);
    expect(logs).toContain('starting controller');
    expect(logs).toContain(r.app);
  });

  it.skipIf(operatorInCluster)('a RedisReplication (replicas 1) in the watched namespace reaches Ready through the in-cluster operator', async () => {
    await createRR(r.app, 'cache', { replicas: 1 });
    const rr = await waitReady(r.app, 'cache', 120_000);
    expect(rr.status!.nodes!.map((n) => n.role).sort()).toEqual(['primary', 'replica']);
  });

  it('imageAllowList: the API server refuses a RedisReplication with an image outside the list, in the watched namespace only', async () => {
    const create = (namespace: string, image: string) =>
      kubectlRaw(['create', '--dry-run=server', '-n', namespace, '-f', '-'], {
        input: JSON.stringify({ apiVersion: `${GROUP}/v1alpha1`, kind: 'RedisReplication', metadata: { name: 'img' }, spec: { image, auth: { enabled: false } } }),
      });
    // The API server loads a new policy asynchronously: polled until it refuses.
    const refused = await waitFor(async () => {
      const res = await create(r.app, 'redis:7.0');
      return res.code !== 0 ? res : false;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'the image allow-list policy in force' });
    expect(refused.stderr).toContain('spec.image redis:7.0 is not in the image allow-list');
    for (const allowed of ['redis:8.0', 'valkey/valkey:8.1']) {
      const ok = await create(r.app, allowed);
      expect(ok.code, ok.stderr).toBe(0);
    }
    // Outside the watched namespaces the policy does not apply.
    const outside = await create(sysNs, 'redis:7.0');
    expect(outside.code, outside.stderr).toBe(0);
  });

  it.skipIf(!localCluster)('/metrics of the in-cluster operator (pod IP, port 8080) shows replication lag for the replicas', async () => {
    const ip = operatorPod.status!.podIP!;
    expect(ip).toMatch(/^198\.18\./);
    const rr = await getRR(r.app, 'cache');
    const replicas = rr.status!.nodes!.filter((n) => n.role === 'replica').map((n) => n.name);
    expect(replicas.length).toBeGreaterThan(0);
    let text = '';
    await waitFor(
      async () => {
        const res = await httpGet(ip, 8080, '/metrics');
        text = res.body;
        if (res.status !== 200) return false;
        for (const metric of ['rro_replication_lag_seconds', 'rro_replication_lag_bytes']) {
          const pods = parseProm(text, metric).filter((s) => s.labels.namespace === r.app && s.labels.resource === 'cache').map((s) => s.labels.pod);
          if (!replicas.every((p) => pods.includes(p))) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `lag series of ${replicas.join(',')} on http://${ip}:8080/metrics` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${text.split('\n').filter((l) => l.startsWith('rro_')).join('\n')}`);
    });
    for (const metric of ['rro_replication_lag_seconds', 'rro_replication_lag_bytes']) {
      for (const s of parseProm(text, metric).filter((x) => x.labels.namespace === r.app)) {
        expect(Number.isFinite(s.value)).toBe(true);
        expect(s.value).toBeGreaterThanOrEqual(0);
      }
    }
    expect(parseProm(text, 'rro_replication_lag_bytes').filter((s) => s.labels.resource === 'cache' && s.labels.namespace === r.app).length).toBe(replicas.length);
    // The probes' endpoints, and the chart's metrics Service selects the pod.
    expect((await httpGet(ip, 8080, '/healthz')).status).toBe(200);
    expect((await httpGet(ip, 8080, '/readyz')).status).toBe(200);
    const ep = await kubectl(['get', 'endpointslices', '-n', sysNs, '-l', `kubernetes.io/service-name=${full}-metrics`, '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    expect(ep.split(/\s+/)).toContain(ip);
  });

  it('its ServiceAccount has least privilege (kubectl auth can-i)', async () => {
    const sa = { namespace: sysNs, name: full };
    // What it needs, in the watched namespace.
    expect(await canI(sa, 'create', 'pods', r.app)).toBe(true);
    expect(await canI(sa, 'delete', 'pods', r.app)).toBe(true);
    expect(await canI(sa, 'create', 'services', r.app)).toBe(true);
    expect(await canI(sa, 'create', 'persistentvolumeclaims', r.app)).toBe(true);
    expect(await canI(sa, 'patch', `${PLURAL}.${GROUP}/status`, r.app)).toBe(true);
    expect(await canI(sa, 'get', 'secrets', r.app)).toBe(true);
    expect(await canI(sa, 'update', 'leases.coordination.k8s.io', sysNs)).toBe(true);
    // What it must not do.
    expect(await canI(sa, 'create', 'pods', sysNs)).toBe(false);
    expect(await canI(sa, 'get', 'secrets', sysNs)).toBe(false);
    expect(await canI(sa, 'delete', 'nodes', null)).toBe(false);
    expect(await canI(sa, 'list', 'secrets')).toBe(false);
    expect(await canI(sa, 'list', 'secrets', r.app)).toBe(false);
    expect(await canI(sa, 'delete', 'deployments', r.app)).toBe(false);
    expect(await canI(sa, 'create', `${PLURAL}.${GROUP}`, r.app)).toBe(false);
    expect(await canI(sa, 'delete', `${PLURAL}.${GROUP}`, r.app)).toBe(false);
    expect(await canI(sa, 'update', 'leases.coordination.k8s.io', r.app)).toBe(false);
    expect(await canI(sa, 'create', 'clusterrolebindings', null)).toBe(false);
    expect(await canI(sa, '*', '*')).toBe(false);
  });

  it.skipIf(operatorInCluster)('helm upgrade (logLevel warn) rolls the operator; the resource stays Ready and is still reconciled', async () => {
    const before = new Set((await podsBySelector(sysNs, operatorSelector(release))).map((p) => p.metadata!.name!));
    const phases = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        phases.add(String((await getRR(r.app, 'cache').catch(() => undefined))?.status?.phase));
        await sleep(200);
      }
    })();
    try {
      await helm(['upgrade', release, CHART, '-n', sysNs, '--reuse-values', '--set', 'logLevel=warn']);
      const pods = await waitDeploymentReady(sysNs, full, 1, 120_000);
      expect(before.has(pods[0]!.metadata!.name!)).toBe(false);
      expect(envOf(pods[0]!, 'LOG_LEVEL')).toBe('warn');
      expect(envOf(pods[0]!, 'WATCH_NAMESPACES')).toBe(r.app);
      await waitFor(async () => (await podsBySelector(sysNs, operatorSelector(release))).length === 1, { timeoutMs: 60_000, what: 'old operator pod gone' });
      // The new level is in force: the info lines of a start are gone (the operator logs nothing at debug level, so warn it is).
      const logs = await kubectl(['logs', '-n', sysNs, pods[0]!.metadata!.name!]);
      expect(logs).not.toContain('starting controller');
    } finally {
      sampling = false;
      await sampler;
    }
    expect([...phases]).toEqual(['Ready']);
    // The new pod reconciles: scale the resource up.
    await patchReplicas(r.app, 'cache', 2);
    const rr = await waitReady(r.app, 'cache', 120_000);
    expect(rr.status!.readyReplicas).toBe(2);
  });

  it('helm uninstall removes the Deployment, its pods and the cluster-wide RBAC', async () => {
    await helm(['uninstall', release, '-n', sysNs, '--wait', '--timeout', '90s']);
    await expectNoDeployment(sysNs, full);
    await waitFor(async () => (await podsBySelector(sysNs, operatorSelector(release))).length === 0, { timeoutMs: 60_000, what: 'operator pods gone' });
    expect((await kubectlRaw(['get', 'clusterrole', full])).code).not.toBe(0);
    expect((await kubectlRaw(['get', 'clusterrolebinding', full])).code).not.toBe(0);
    // The CRD stays (Helm never deletes CRDs), and so do the resources.
    expect((await getRR(r.app, 'cache')).metadata.name).toBe('cache');
  });
});

describe('plain manifests: kubectl apply -f crds/ -f manifests/', () => {
  const NS = 'redis-replication-operator';
  const NAME = 'redis-replication-operator';
  const manifestFile = resolve(repoRoot, 'manifests/redis-replication-operator.yaml');
  let app: { name: string; cleanup: () => Promise<void> };
  let applied = false;

  /** The manifests with the image this run built (a "kustomized" copy); they watch their own namespace only. */
  function withImage(): string {
    const docs = parseAllDocuments(readFileSync(manifestFile, 'utf8'));
    for (const doc of docs) {
      const obj = doc.toJS() as { kind?: string } | null;
      if (obj?.kind !== 'Deployment') continue;
      doc.setIn(['spec', 'template', 'spec', 'containers', 0, 'image'], `redis-replication-operator:${IMAGE_TAG}`);
      doc.setIn(['spec', 'template', 'spec', 'containers', 0, 'imagePullPolicy'], 'Never');
    }
    return docs.map((d) => d.toString()).join('---\n');
  }

  beforeAll(async () => {
    const existing = await kubectlRaw(['get', 'namespace', NS]);
    if (existing.code === 0) throw new Error(`namespace ${NS} already exists on the cluster (someone else's install?); not touching it`);
    app = await createNamespace('rro-app');
  });
  afterAll(async () => {
    if (applied) await kubectlRaw(['delete', '-f', '-', '--ignore-not-found', '--wait=false'], { input: withImage() });
    if (applied) await deleteNamespace(NS);
    await app?.cleanup();
  });

  it.skipIf(operatorInCluster)('applies, the operator becomes Ready and brings a RedisReplication to Ready, then deletes cleanly', async () => {
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', resolve(repoRoot, 'crds')]);
    applied = true;
    const started = Date.now();
    await kubectl(['apply', '-f', '-'], withImage());
    // The unmodified manifests are accepted as they are, too (server-side dry run, now that the namespace exists).
    const dry = await kubectl(['apply', '--dry-run=server', '-f', resolve(repoRoot, 'crds'), '-f', resolve(repoRoot, 'manifests')]);
    expect(dry).toContain('deployment.apps/redis-replication-operator');
    const pods = await waitDeploymentReady(NS, NAME, 1, 120_000);
    figures['kubectl apply manifests -> operator Ready (ms)'] = String(Date.now() - started);
    expect(pods[0]!.spec!.serviceAccountName).toBe(NAME);
    expect(envOf(pods[0]!, 'WATCH_NAMESPACES')).toBe(NS);

    // Its own namespace only: nothing of another namespace (issue 24: no cluster-wide Secret write by default).
    const sa = { namespace: NS, name: NAME };
    expect(await canI(sa, 'create', 'pods', NS)).toBe(true);
    expect(await canI(sa, 'patch', 'secrets', NS)).toBe(true);
    expect(await canI(sa, 'create', 'pods', app.name)).toBe(false);
    expect(await canI(sa, 'get', 'secrets', app.name)).toBe(false);
    expect(await canI(sa, 'create', 'secrets', app.name)).toBe(false);
    expect(await canI(sa, 'list', 'nodes', null)).toBe(true);
    expect(await canI(sa, 'delete', 'nodes', null)).toBe(false);
    expect(await canI(sa, 'list', 'secrets')).toBe(false);
    expect(await canI(sa, 'delete', 'deployments', NS)).toBe(false);

    // A resource in its namespace is reconciled; one in another namespace is not touched.
    await createRR(app.name, 'elsewhere', { replicas: 1 });
    await createRR(NS, 'plain', { replicas: 1 });
    await waitReady(NS, 'plain', 120_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose(NS)}`);
    });
    expect((await getRR(app.name, 'elsewhere')).status?.phase).toBeUndefined();
    expect((await kubectl(['get', 'pods', '-n', app.name, '-o', 'name'])).trim()).toBe('');

    // Delete what manifests/ created (not the CRD: other tests on the cluster use it).
    await kubectl(['delete', '-f', resolve(repoRoot, 'manifests'), '--wait=false']);
    await expectNoDeployment(NS, NAME);
    await waitFor(async () => (await kubectlRaw(['get', 'namespace', NS])).code !== 0, { timeoutMs: 90_000, intervalMs: 500, what: `namespace ${NS} gone` });
    expect((await kubectlRaw(['get', 'clusterrole', NAME])).code).not.toBe(0);
    applied = false;
  });
});

describe('leader election: replicaCount 2', () => {
  const r = releaseFixture('rro-ha');
  const { release, full, sysNs } = r;

  it.skipIf(operatorInCluster)('exactly one pod holds the Lease; when it is deleted the other takes over within the lease duration', async () => {
    await helm(['install', release, CHART, '-n', sysNs, '--create-namespace', ...installSets([r.app], { replicaCount: 2 })]);
    const pods = await waitDeploymentReady(sysNs, full, 2, 120_000);
    for (const p of pods) expect(envOf(p, 'LEADER_ELECT')).toBe('true');
    const names = pods.map((p) => p.metadata!.name!);
    const leader = await waitFor(async () => {
      const h = await leaseHolder(sysNs, full);
      return h && names.includes(h) ? h : undefined;
    }, { timeoutMs: 30_000, what: `Lease ${sysNs}/${full} held by one of ${names.join(',')}` });
    const follower = names.find((n) => n !== leader)!;

    // Only the leader runs the controller.
    await createRR(r.app, 'before', { replicas: 1 });
    await waitReady(r.app, 'before', 120_000);
    await waitFor(async () => (await kubectl(['logs', '-n', sysNs, leader])).includes('became leader'), { timeoutMs: 10_000, what: 'leader log' });
    const followerLogs = await kubectl(['logs', '-n', sysNs, follower]);
    expect(followerLogs).not.toContain('became leader');
    expect(followerLogs).not.toContain('starting controller');
    expect(await leaseHolder(sysNs, full)).toBe(leader);

    const t0 = Date.now();
    await kubectl(['delete', 'pod', leader, '-n', sysNs, '--wait=false']);
    const successor = await waitFor(async () => {
      const h = await leaseHolder(sysNs, full);
      return h && h !== leader ? h : undefined;
    }, { timeoutMs: 15_000 + 10_000, intervalMs: 100, what: `a new holder of Lease ${sysNs}/${full} after deleting ${leader}` });
    const handOverMs = Date.now() - t0;
    figures['leader hand-over after pod delete (ms)'] = String(handOverMs);
    figures['leader successor'] = successor === follower ? 'the other pod' : `a new pod (${successor})`;
    expect(handOverMs).toBeLessThan(15_000 + 5_000);
    const live = (await podsBySelector(sysNs, operatorSelector(release))).filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
    expect(live).toContain(successor);

    // The new leader reconciles.
    await createRR(r.app, 'after', { replicas: 1 });
    await waitReady(r.app, 'after', 120_000);
    await waitFor(async () => (await kubectl(['logs', '-n', sysNs, successor])).includes('became leader'), { timeoutMs: 10_000, what: 'successor log' });
    // The Deployment is whole again, and still exactly one holder.
    const after = await waitDeploymentReady(sysNs, full, 2, 120_000);
    expect(after.every(isPodReady)).toBe(true);
    expect(await leaseHolder(sysNs, full)).toBe(successor);
    const lease = await api().coordination.readNamespacedLease({ name: full, namespace: sysNs });
    expect(lease.spec!.leaseDurationSeconds).toBe(15);
    expect(lease.spec!.leaseTransitions ?? 0).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!localCluster)('a leader that stops answering (SIGSTOP, no release of the Lease) is replaced within the lease duration', async () => {
    const pods = await waitDeploymentReady(sysNs, full, 2, 120_000);
    const names = pods.map((p) => p.metadata!.name!);
    const leader = await waitFor(async () => {
      const h = await leaseHolder(sysNs, full);
      return h && names.includes(h) ? h : undefined;
    }, { timeoutMs: 30_000, what: `Lease ${sysNs}/${full} held by one of ${names.join(',')}` });
    const other = names.find((n) => n !== leader)!;
    const t0 = Date.now();
    await freezePod(sysNs, leader);
    try {
      await waitFor(async () => (await leaseHolder(sysNs, full)) === other, {
        timeoutMs: 15_000 + 10_000, intervalMs: 100, what: `${other} taking Lease ${sysNs}/${full} from frozen ${leader}`,
      });
      const ms = Date.now() - t0;
      figures['leader hand-over from a frozen leader (ms)'] = String(ms);
      // client-go semantics: the record must stay unchanged for a lease duration (15 s) seen by the follower's clock,
      // which retries every 2 s.
      expect(ms).toBeLessThan(15_000 + 5_000);
      await createRR(r.app, 'frozen', { replicas: 1 });
      await waitReady(r.app, 'frozen', 120_000);
    } finally {
      await thawPod(sysNs, leader);
    }
    // The thawed ex-leader notices it lost the Lease and exits (the container restarts as a follower); the holder stays.
    await waitDeploymentReady(sysNs, full, 2, 120_000);
    await waitFor(async () => (await podsBySelector(sysNs, operatorSelector(release))).every((p) => isPodReady(p)), { timeoutMs: 60_000, what: 'both operator pods Ready' });
    expect(await leaseHolder(sysNs, full)).toBe(other);
  });
});
