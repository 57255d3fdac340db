// Rolling updates driven through the fake: every pod ends on the new revision, replicas first,
// the primary by switchover, with no acknowledged write lost.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { World } from '../support/world.js';

function setup(spec: Record<string, unknown>): { world: World; rr: RedisReplication; apply: (spec: Record<string, unknown>, annotations?: Record<string, string>) => RedisReplication } {
  const world = new World();
  const apply = (s: Record<string, unknown>, annotations?: Record<string, string>) =>
    world.kube.apply({
      apiVersion: 'redis.replication.dev/v1alpha1',
      kind: 'RedisReplication',
      metadata: { name: 'cache', namespace: 'ns', ...(annotations ? { annotations } : {}) },
      spec: s as RedisReplication['spec'],
    });
  return { world, rr: apply(spec), apply };
}

const images = (world: World) => [...world.kube.pods.values()].filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.spec!.containers[0]!.image);

/** Passes, with client writes through the pod labelled primary, until `done`; returns the writes acknowledged. */
async function underWrites(world: World, rr: RedisReplication, done: () => boolean, maxPasses = 120): Promise<number[]> {
  const acked: number[] = [];
  let id = 1;
  for (let n = 0; n < maxPasses && !done(); n++) {
    for (const pod of world.kube.pods.values()) {
      if (pod.metadata!.labels?.['redis.replication.dev/role'] !== 'primary' || pod.metadata!.deletionTimestamp) continue;
      for (let i = 0; i < 5; i++, id++) if (world.redis.write(pod.status!.podIP!, id)) acked.push(id);
    }
    await world.reconcile(rr);
    world.redis.replicate();
    world.kube.finishDeletions();
    world.advance(1000);
  }
  if (!done()) throw new Error(`not done after ${maxPasses} passes: ${JSON.stringify(world.status(rr)?.conditions)}`);
  return acked;
}

describe('rolling update', () => {
  it('an image change on a 1+2+2 cascade: replicas deepest first, then a switchover, then the old primary; no write lost', async () => {
    const { world, rr, apply } = setup({ replicas: 2, cascade: [{ replicasPerParent: 1 }] });
    await world.settle(rr, () => world.ready(rr));
    const before = world.status(rr)!;
    const order: string[] = [];
    const recordEvents = () => world.kube.events.filter((e) => e.reason === 'RollingUpdate').map((e) => e.message.split(' ')[1]!);
    apply({ replicas: 2, cascade: [{ replicasPerParent: 1 }], image: 'redis:8.2' });
    await world.reconcile(rr);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingUpdate' });
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RollingUpdate' });
    const acked = await underWrites(world, rr, () => world.ready(rr) && images(world).every((i) => i === 'redis:8.2'));
    order.push(...recordEvents());
    const after = world.status(rr)!;
    expect(images(world)).toHaveLength(5);
    expect(after.primary).not.toBe(before.primary);
    expect(after.lastFailover).toMatchObject({ from: before.primary, reason: 'Switchover' });
    // Tier 2 before tier 1, and the old primary last.
    const tierOf = (name: string) => before.nodes!.find((n) => n.name === name)?.tier;
    const tiers = order.map(tierOf);
    expect(tiers.slice(0, 2)).toEqual([2, 2]);
    expect(order.at(-1)).toBe(before.primary);
    expect(world.kube.serverOf('ns', after.primary!)!.log).toEqual(expect.arrayContaining(acked));
    expect(after.updatedPods).toBe(5);
  });

  it('changing the restartedAt annotation rolls every pod the same way', async () => {
    const { world, rr, apply } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const names = new Set(world.status(rr)!.nodes!.map((n) => n.name));
    apply({ replicas: 1 }, { [ANNOTATION.restartedAt]: '2026-12-01T12:00:00Z' });
    await underWrites(world, rr, () => world.ready(rr) && world.status(rr)!.nodes!.every((n) => !names.has(n.name) || n.role === 'primary') && world.status(rr)!.updatedPods === 2);
    expect(world.status(rr)!.updatedPods).toBe(2);
  });

  it('OnDelete leaves running pods alone; Supervised leaves the primary for the user', async () => {
    const onDelete = setup({ replicas: 1 });
    await onDelete.world.settle(onDelete.rr, () => onDelete.world.ready(onDelete.rr));
    onDelete.apply({ replicas: 1, image: 'redis:8.2', updateStrategy: { type: 'OnDelete' } });
    await onDelete.world.settle(onDelete.rr, () => onDelete.world.ready(onDelete.rr));
    expect(images(onDelete.world)).toEqual(['redis:8.0', 'redis:8.0']);

    const supervised = setup({ replicas: 1 });
    await supervised.world.settle(supervised.rr, () => supervised.world.ready(supervised.rr));
    const primary = supervised.world.status(supervised.rr)!.primary!;
    supervised.apply({ replicas: 1, image: 'redis:8.2', updateStrategy: { primary: 'Supervised' } });
    await underWrites(supervised.world, supervised.rr, () =>
      supervised.world.status(supervised.rr)!.conditions!.some((c) => c.reason === 'RollingUpdateSupervised'),
    );
    expect(supervised.world.status(supervised.rr)!.primary).toBe(primary);
    expect(images(supervised.world).sort()).toEqual(['redis:8.0', 'redis:8.2']);
  });

  it('a roll whose re-created pod never syncs stops there, says why, and keeps the rest serving', async () => {
    const { world, rr, apply } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    apply({ replicas: 2, image: 'redis:8.2' });
    // Every new server comes up frozen: the first re-created replica never links.
    const start = world.redis.start.bind(world.redis);
    world.redis.start = (ip, options) => Object.assign(start(ip, options), { unreachable: true });
    await underWrites(world, rr, () => world.status(rr)!.conditions!.some((c) => c.reason === 'RollingUpdateStalled'), 400);
    expect(world.kube.events.some((e) => e.reason === 'RollingUpdateStalled')).toBe(true);
    expect(world.kube.events.filter((e) => e.reason === 'RollingUpdate')).toHaveLength(1);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.kube.serverOf('ns', primary)!.role).toBe('master');
    expect(await world.deps.metrics.registry.metrics()).toContain('rro_rolling_update_stalled{namespace="ns",resource="cache"} 1');
  });
});

describe('server versions', () => {
  it('an image whose server is older than a running pod (Valkey 8.1 to Redis 6.2) is refused before any pod is touched', async () => {
    const { world, rr, apply } = setup({ replicas: 2, image: 'valkey/valkey:8.1' });
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.nodes!.map((n) => `${n.server} ${n.version}`)).toEqual(Array(3).fill('valkey 8.1.8'));
    const uids = () => [...world.kube.pods.values()].map((p) => p.metadata!.uid).sort();
    const before = uids();
    const primary = world.status(rr)!.primary!;
    apply({ replicas: 2, image: 'redis:6.2' });
    let passes = 0;
    await underWrites(world, rr, () => passes++ >= 30);
    const refused = world.status(rr)!.conditions!.find((c) => c.type === 'Progressing')!;
    expect(refused).toMatchObject({ status: 'False', reason: 'UpdateRefused' });
    expect(refused.message).toMatch(/Redis 6.2, which cannot load the data of cache-\d+ \(Valkey 8.1, 8.1.8\)/);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'UpdateRefused' });
    expect(world.kube.events.filter((e) => e.reason === 'UpdateRefused')).toHaveLength(1);
    expect(world.kube.events.filter((e) => e.reason === 'RollingUpdate')).toHaveLength(0);
    expect(uids()).toEqual(before);
    expect(world.kube.serverOf('ns', primary)!.role).toBe('master');
    // Set back: Ready again, nothing rolled.
    apply({ replicas: 2, image: 'valkey/valkey:8.1' });
    await world.settle(rr, () => world.ready(rr));
    expect(uids()).toEqual(before);
  });

  it('while a downgrade is refused, a pod re-created meanwhile runs what the others run, not the refused image', async () => {
    const { world, rr, apply } = setup({ replicas: 2, image: 'valkey/valkey:8.1' });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    apply({ replicas: 2, image: 'redis:6.2' });
    await underWrites(world, rr, () => world.status(rr)!.conditions!.some((c) => c.reason === 'UpdateRefused'));
    // A replica is lost (its node died, someone deleted it): its replacement must be able to sync.
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    await world.kube.deletePod('ns', replica, 0);
    world.kube.finishDeletions();
    await underWrites(world, rr, () => world.kube.pods.size === 3 && world.status(rr)!.nodes!.filter((n) => n.role === 'replica' && n.link === 'up').length === 2);
    expect(images(world)).toEqual(Array(3).fill('valkey/valkey:8.1'));
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Progressing')).toMatchObject({ reason: 'UpdateRefused' });
  });

  it('an upgrade (Redis 6.2 to 7.0, then to Valkey 8.1) rolls every pod', async () => {
    const { world, rr, apply } = setup({ replicas: 1, image: 'redis:6.2' });
    await world.settle(rr, () => world.ready(rr));
    for (const image of ['redis:7.0', 'valkey/valkey:8.1']) {
      apply({ replicas: 1, image });
      await underWrites(world, rr, () => world.ready(rr) && images(world).every((i) => i === image));
    }
    expect(world.status(rr)!.nodes!.map((n) => n.server)).toEqual(['valkey', 'valkey']);
  });
});

describe('disruption budgets and drains', () => {
  it('creates <name>-primary (no eviction of the primary) and <name>-replicas (one at a time)', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.budgets.get('ns/cache-primary')!.spec).toMatchObject({ maxUnavailable: 0, selector: { matchLabels: { 'redis.replication.dev/role': 'primary' } } });
    expect(world.kube.budgets.get('ns/cache-replicas')!.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: { 'redis.replication.dev/role': 'replica' } } });
  });

  it("a primary whose node is cordoned is switched over to a replica on another node, with no write lost", async () => {
    const { world, rr } = setup({ replicas: 2 });
    for (const n of ['n1', 'n2', 'n3']) world.kube.nodes.set(n, { metadata: { name: n }, spec: {} });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const node = world.kube.pods.get(`ns/${old}`)!.spec!.nodeName!;
    world.kube.nodes.get(node)!.spec!.unschedulable = true;
    const acked = await underWrites(world, rr, () => world.status(rr)!.primary !== old && world.ready(rr));
    const now = world.status(rr)!.primary!;
    expect(world.kube.pods.get(`ns/${now}`)!.spec!.nodeName).not.toBe(node);
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: old, to: now, reason: 'Switchover' });
    expect(world.kube.serverOf('ns', now)!.log).toEqual(expect.arrayContaining(acked));
  });
});

describe('placement', () => {
  it('status shows each pod node and zone; a zone-aware cascade replica is placed in its parent zone', async () => {
    const { world, rr } = setup({ replicas: 2, cascade: [{ replicasPerParent: 1 }], placement: { zoneAware: true } });
    for (const [n, zone] of [['n1', 'zone-a'], ['n2', 'zone-b'], ['n3', 'zone-c']] as const) {
      world.kube.nodes.set(n, { metadata: { name: n, labels: { 'topology.kubernetes.io/zone': zone } }, spec: {} });
    }
    await world.settle(rr, () => world.ready(rr));
    const nodes = world.status(rr)!.nodes!;
    for (const n of nodes) {
      expect(n.node).toMatch(/^n[123]$/);
      expect(n.zone).toBe(world.kube.nodes.get(n.node!)!.metadata!.labels!['topology.kubernetes.io/zone']);
    }
    for (const child of nodes.filter((n) => n.tier === 2)) {
      const parentZone = nodes.find((n) => n.name === child.parent)!.zone;
      const terms = world.kube.pods.get(`ns/${child.name}`)!.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
      expect(terms).toEqual([{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: [parentZone] }] }]);
    }
  });
});
