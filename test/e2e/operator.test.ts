// The operator end to end on the local cluster: a real API server, real redis-server processes.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_NAME } from '../../src/redis/client.js';
import { parseReplication } from '../../src/redis/info.js';
import { ANNOTATION, LABEL } from '../../src/plan/names.js';
import { repoRoot } from '../../hack/lib.js';
import { createNamespace, kubectl, waitFor } from './support/cluster.js';
import { api, createAllowedSecret, createRR, getRR, installCrd, redisCommand, startOperator, waitReady, type OperatorProcess } from './support/operator.js';
import { localCluster, operatorInCluster } from './support/where.js';

let operator: OperatorProcess | undefined;
// One namespace per group of tests, all created first: the operator under test watches only them,
// so other operators on the same cluster cannot interfere.
const namespaces: Record<'cascade' | 'secure' | 'sneaky', { name: string; cleanup: () => Promise<void> }> = {} as never;

beforeAll(async () => {
  await installCrd();
  for (const key of ['cascade', 'secure', 'sneaky'] as const) namespaces[key] = await createNamespace();
  // RRO_E2E_OPERATOR=in-cluster: the operator in the cluster watches every namespace, these too.
  if (!operatorInCluster) operator = startOperator({ WATCH_NAMESPACES: Object.values(namespaces).map((n) => n.name).join(',') });
});

afterAll(async () => {
  await operator?.stop();
  await Promise.all(Object.values(namespaces).map((n) => n.cleanup()));
});

async function podsOf(namespace: string, name: string): Promise<V1Pod[]> {
  const list = await api().core.listNamespacedPod({ namespace, labelSelector: `${LABEL.instance}=${name}` });
  return list.items;
}

async function infoAt(ip: string, password?: string) {
  return parseReplication(String(await redisCommand(ip, ['INFO', 'replication'], password)));
}

describe('a cascade: replicas 2, cascade [2]', () => {
  let ns: string;
  const name = 'cache';

  beforeAll(async () => {
    ns = namespaces.cascade.name;
    await createRR(ns, name, { replicas: 2, cascade: [{ replicasPerParent: 2 }] });
  });

  it('reaches Ready with a primary, 2 tier-1 and 4 tier-2 replicas', async () => {
    const rr = await waitReady(ns, name);
    const nodes = rr.status!.nodes!;
    expect(nodes).toHaveLength(7);
    expect(nodes.filter((n) => n.tier === 0).map((n) => n.role)).toEqual(['primary']);
    expect(nodes.filter((n) => n.tier === 1)).toHaveLength(2);
    expect(nodes.filter((n) => n.tier === 2)).toHaveLength(4);
    expect(rr.status!.readyReplicas).toBe(6);
    expect(rr.status!.desiredReplicas).toBe(6);
    expect(rr.status!.replicas).toBe(2);
    expect(rr.status!.selector).toBe(`app.kubernetes.io/instance=${name},app.kubernetes.io/name=redis`);
    for (const type of ['Ready', 'PrimaryAvailable', 'ReplicasSynced']) {
      expect(rr.status!.conditions!.find((c) => c.type === type)?.status).toBe('True');
    }
    expect(rr.status!.conditions!.find((c) => c.type === 'Progressing')?.status).toBe('False');
  });

  it.skipIf(!localCluster)('replicates keys written to the primary to every pod of every tier', async () => {
    const rr = await getRR(ns, name);
    const primary = rr.status!.nodes!.find((n) => n.role === 'primary')!;
    for (let i = 0; i < 50; i++) await redisCommand(primary.podIP!, ['SET', `key:${i}`, `value-${i}`]);
    for (const node of rr.status!.nodes!) {
      await waitFor(async () => (await redisCommand(node.podIP!, ['GET', 'key:49'])) === 'value-49', {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: `key:49 on ${node.name}`,
      });
      expect(await redisCommand(node.podIP!, ['DBSIZE'])).toBe(50);
    }
  });

  it.skipIf(!localCluster)('shows for every replica the parent that INFO on that pod reports, and replicas are read-only', async () => {
    const rr = await getRR(ns, name);
    const ipOf = new Map(rr.status!.nodes!.map((n) => [n.name, n.podIP]));
    const pods = await podsOf(ns, name);
    for (const node of rr.status!.nodes!.filter((n) => n.role === 'replica')) {
      const info = await infoAt(node.podIP!);
      expect(info.role).toBe('replica');
      if (info.role !== 'replica') continue;
      expect(info.masterHost).toBe(ipOf.get(node.parent!));
      expect(info.readOnly).toBe(true);
      const pod = pods.find((p) => p.metadata!.name === node.name)!;
      expect(pod.metadata!.annotations![ANNOTATION.parent]).toBe(node.parent);
      expect(pod.metadata!.labels![LABEL.tier]).toBe(String(node.tier));
      await expect(redisCommand(node.podIP!, ['SET', 'x', '1'])).rejects.toThrow(/READONLY/);
    }
    const primary = rr.status!.nodes!.find((n) => n.role === 'primary')!;
    expect((await infoAt(primary.podIP!)).role).toBe('master');
  });

  it.skipIf(!localCluster)('routes <name>-primary to the primary and <name>-read to exactly the read-eligible pods', async () => {
    const rr = await getRR(ns, name);
    const readable = rr.status!.nodes!.filter((n) => n.read).map((n) => n.podIP).sort();
    const primaryIP = rr.status!.nodes!.find((n) => n.role === 'primary')!.podIP;
    const endpoints = async (service: string) => {
      const slices = await api().discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` });
      return slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses)).sort();
    };
    await waitFor(async () => JSON.stringify(await endpoints(`${name}-read`)) === JSON.stringify(readable), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: `${name}-read endpoints = ${readable.join(',')}`,
    });
    await waitFor(async () => JSON.stringify(await endpoints(`${name}-primary`)) === JSON.stringify([primaryIP]), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: `${name}-primary endpoints = ${primaryIP}`,
    });
    const service = await api().core.readNamespacedService({ name: `${name}-primary`, namespace: ns });
    expect((await infoAt(service.spec!.clusterIP!)).role).toBe('master');
  });

  it.skipIf(!localCluster)('causes no status write while idle and Ready, over a minute, and keeps its Redis connections open', async () => {
    const before = await getRR(ns, name);
    const ips = before.status!.nodes!.map((n) => n.podIP!);
    const deadline = Date.now() + 60_000;
    await waitFor(
      async () => {
        const now = await getRR(ns, name);
        expect(now.metadata.resourceVersion, `status written: ${JSON.stringify(now.status)} was ${JSON.stringify(before.status)}`).toBe(
          before.metadata.resourceVersion,
        );
        return Date.now() >= deadline;
      },
      { timeoutMs: 75_000, intervalMs: 2_000, what: 'a minute without status writes' },
    );
    // The operator polls every pod each second over one pooled connection, open all along.
    for (const ip of ips) {
      const clients = String(await redisCommand(ip, ['CLIENT', 'LIST'])).split('\n').filter((l) => l.includes(` name=${CLIENT_NAME} `));
      expect(clients, ip).toHaveLength(1);
      expect(Number(/ age=(\d+)/.exec(clients[0]!)![1]), `${ip}: ${clients[0]}`).toBeGreaterThanOrEqual(60);
    }
  });

  it('scales up and down with kubectl scale, removing leaves first and never orphaning a replica', async () => {
    await kubectl(['-n', ns, 'scale', `rr/${name}`, '--replicas=3']);
    let rr = await waitReady(ns, name);
    expect(rr.status!.nodes!.filter((n) => n.tier === 1)).toHaveLength(3);
    expect(rr.status!.nodes!.filter((n) => n.tier === 2)).toHaveLength(6);

    const primaryBefore = rr.status!.primary;
    await kubectl(['-n', ns, 'scale', `rr/${name}`, '--replicas=1']);
    // While it converges, every replica that is not being deleted points at a live parent.
    await waitFor(
      async () => {
        const pods = await podsOf(ns, name);
        const live = new Set(pods.filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name!));
        for (const pod of pods) {
          const parent = pod.metadata!.annotations?.[ANNOTATION.parent];
          if (!pod.metadata!.deletionTimestamp && parent) expect(live.has(parent), `${pod.metadata!.name} -> ${parent}`).toBe(true);
        }
        const current = await getRR(ns, name);
        return current.status?.phase === 'Ready' && current.status.observedGeneration === current.metadata.generation && pods.length === 4;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'scale-down to 1+1+2' },
    );
    rr = await getRR(ns, name);
    expect(rr.status!.primary).toBe(primaryBefore);
    expect(rr.status!.nodes!.map((n) => n.tier).sort()).toEqual([0, 1, 2, 2]);
  });
});

describe('auth and persistence', () => {
  let ns: string;
  const name = 'secure';
  const password = 'e2e-secret-password';

  beforeAll(async () => {
    ns = namespaces.secure.name;
    await createAllowedSecret(ns, 'secure-auth', name, { password });
    await createRR(ns, name, { replicas: 2, auth: { secretName: 'secure-auth' }, persistence: { enabled: true, size: '64Mi' } });
  });

  it.skipIf(!localCluster)('reaches Ready; a client without the password is refused, one with it is served', async () => {
    const rr = await waitReady(ns, name);
    const primary = rr.status!.nodes!.find((n) => n.role === 'primary')!;
    await expect(redisCommand(primary.podIP!, ['SET', 'k', 'v'])).rejects.toThrow(/NOAUTH|Authentication required/);
    expect(await redisCommand(primary.podIP!, ['SET', 'k', 'v'], password)).toBe('OK');
  });

  it('keeps the password out of pod specs, status and Events', async () => {
    // Ready already when the test before ran (elsewhere it is skipped: the pods must exist first).
    await waitReady(ns, name);
    const pods = await podsOf(ns, name);
    const rr = await getRR(ns, name);
    const events = await api().core.listNamespacedEvent({ namespace: ns });
    for (const text of [JSON.stringify(pods.map((p) => p.spec)), JSON.stringify(rr.status), JSON.stringify(events.items)]) {
      expect(text).not.toContain(password);
    }
  });

  it.skipIf(!localCluster)('re-creates a deleted replica on its own PVC, with its data', async () => {
    const rr = await getRR(ns, name);
    const primary = rr.status!.nodes!.find((n) => n.role === 'primary')!;
    await redisCommand(primary.podIP!, ['SET', 'durable', 'yes'], password);
    const replica = rr.status!.nodes!.find((n) => n.role === 'replica')!;
    await waitFor(async () => (await redisCommand(replica.podIP!, ['GET', 'durable'], password)) === 'yes', {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'durable key on the replica',
    });
    const claim = await api().core.readNamespacedPersistentVolumeClaim({ name: `data-${replica.name}`, namespace: ns });
    const oldPod = await api().core.readNamespacedPod({ name: replica.name, namespace: ns });
    await api().core.deleteNamespacedPod({ name: replica.name, namespace: ns });
    await waitFor(
      async () => {
        const pod = await api().core.readNamespacedPod({ name: replica.name, namespace: ns }).catch(() => undefined);
        return pod !== undefined && pod.metadata!.uid !== oldPod.metadata!.uid && pod.status?.phase === 'Running';
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `${replica.name} re-created` },
    );
    const again = await api().core.readNamespacedPersistentVolumeClaim({ name: `data-${replica.name}`, namespace: ns });
    expect(again.metadata!.uid).toBe(claim.metadata!.uid);
    const after = await waitReady(ns, name);
    const node = after.status!.nodes!.find((n) => n.name === replica.name)!;
    expect(await redisCommand(node.podIP!, ['GET', 'durable'], password)).toBe('yes');
  });
});

describe('a spec that gets past the API server but not the operator', () => {
  let ns: string;
  beforeAll(() => {
    ns = namespaces.sneaky.name;
  });

  it('sets Ready=False with reason InvalidSpec naming the field, and creates nothing', async () => {
    // An object stored before a CRD upgrade tightened its rules is not validated again: simulate it
    // by storing it under a CRD without the rule on owned directives, then restoring the real CRD.
    const crd = parse(readFileSync(resolve(repoRoot, 'crds/redisreplications.yaml'), 'utf8'));
    const config = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.config;
    delete config['x-kubernetes-validations'];
    try {
      await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify(crd));
      await waitFor(
        async () =>
          createRR(ns, 'sneaky', { replicas: 1, config: { port: '7000' } }).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 20_000, intervalMs: 200, what: 'the relaxed CRD to take effect' },
      );
    } finally {
      await installCrd();
    }
    await waitFor(
      async () => {
        const rr = await getRR(ns, 'sneaky');
        const ready = rr.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'InvalidSpec' && ready.status === 'False' && /spec\.config/.test(ready.message);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'InvalidSpec condition' },
    );
    expect((await getRR(ns, 'sneaky')).status?.phase).toBe('Failed');
    expect(await podsOf(ns, 'sneaky')).toHaveLength(0);
  });
});
