// The pods-and-claims phase (controller/pods.ts): the claim marks that decisions wait on, the claims a
// fence keeps, creation failures, and the order of role label changes. Each test kills mutants of
// pods.ts that the rest of the suite let live (test/mutation/survivors.md).
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import type { Pass } from '../../src/controller/pass.js';
import { syncPodMeta } from '../../src/controller/pods.js';
import { ANNOTATION, LABEL } from '../../src/plan/names.js';
import type { PodMeta } from '../../src/plan/specs.js';
import { ApiError } from '../support/fake-kube.js';
import { World } from '../support/world.js';

const setup = World.withResource;
const primaryOf = (world: World, rr: RedisReplication) => world.kube.serverOf('ns', world.status(rr)!.primary!)!;

describe('claims', () => {
  it('the claim of every pod that holds data is marked as holding it (decisions wait for a marked claim whose pod is gone)', async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    for (let id = 1; id <= 10; id++) world.redis.write(primaryOf(world, rr).ip, id);
    world.redis.replicate();
    await world.passes(rr, 2);
    const marks = [...world.kube.claims.values()].map((c) => [c.metadata!.name, c.metadata!.annotations?.[ANNOTATION.holdsData]]);
    expect(marks.sort()).toEqual([
      ['data-cache-0', 'true'],
      ['data-cache-1', 'true'],
    ]);
  });

  it('without persistence no claim is created', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.claims.size).toBe(0);
    expect(world.kube.writes.filter((w) => w.includes('persistentvolumeclaim'))).toEqual([]);
  });

  it("fencing a lost primary deletes its pod, never its claim: the volume may hold what it acknowledged", async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true }, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    primaryOf(world, rr).unreachable = true;
    await world.settle(rr, () => world.status(rr)!.primary !== old);
    expect(world.kube.writes).toContain(`delete pod/${old}`);
    expect(world.kube.writes.filter((w) => w.startsWith('delete persistentvolumeclaim'))).toEqual([]);
    expect(world.kube.claims.has(`ns/data-${old}`)).toBe(true);
  });
});

describe('creation', () => {
  it('a failure of the API server (500) fails the pass: it is not reported as a refusal of the pod', async () => {
    const { world, rr } = setup({ replicas: 0 });
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what.startsWith('pod/')) throw new ApiError(500, 'etcdserver: request timed out');
    };
    await expect(world.reconcile(rr)).rejects.toMatchObject({ code: 500 });
    expect(world.kube.events.filter((e) => e.reason === 'PodRefused')).toEqual([]);
  });
});

describe('placement', () => {
  it('zone-aware on nodes without zones: the tier-1 replicas are created all the same (only a cascade replica waits for its parent zone)', async () => {
    const { world, rr } = setup({ replicas: 2, placement: { zoneAware: true } });
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.nodes).toHaveLength(3);
  });
});

describe('syncPodMeta', () => {
  const podWith = (name: string, role: string, parent?: string): V1Pod => ({
    metadata: { name, labels: { [LABEL.role]: role }, ...(parent ? { annotations: { [ANNOTATION.parent]: parent } } : {}) },
  });
  async function patches(pods: V1Pod[], desired: Record<string, PodMeta>) {
    const calls: { pod: string; labels: Record<string, string>; annotations: Record<string, string | null> }[] = [];
    const pass = { namespace: 'ns', deps: { kube: { patchPodMeta: async (_ns: string, pod: string, labels: Record<string, string>, annotations: Record<string, string | null>) => void calls.push({ pod, labels, annotations }) } } } as unknown as Pass;
    await syncPodMeta(pass, pods, new Map(Object.entries(desired)));
    return calls;
  }

  it('demotes before it promotes, whatever the order of the pods: `<name>-primary` never selects two pods', async () => {
    const calls = await patches([podWith('r-1', 'replica', 'r-0'), podWith('r-0', 'primary')], {
      'r-1': { labels: { [LABEL.role]: 'primary' }, parent: null },
      'r-0': { labels: { [LABEL.role]: 'replica' }, parent: 'r-1' },
    });
    expect(calls).toEqual([
      { pod: 'r-0', labels: { [LABEL.role]: 'replica' }, annotations: { [ANNOTATION.parent]: 'r-1' } },
      { pod: 'r-1', labels: { [LABEL.role]: 'primary' }, annotations: { [ANNOTATION.parent]: null } },
    ]);
  });

  it('patches only what differs: labels alone, the parent alone, or nothing', async () => {
    expect(await patches([podWith('r-1', 'replica', 'r-0')], { 'r-1': { labels: { [LABEL.role]: 'replica' }, parent: 'r-0' } })).toEqual([]);
    expect(await patches([podWith('r-1', 'replica', 'r-0')], { 'r-1': { labels: { [LABEL.role]: 'replica' }, parent: 'r-2' } })).toEqual([{ pod: 'r-1', labels: {}, annotations: { [ANNOTATION.parent]: 'r-2' } }]);
    expect(await patches([podWith('r-1', 'replica', 'r-0')], { 'r-1': { labels: { [LABEL.role]: 'replica', [LABEL.read]: 'true' }, parent: 'r-0' } })).toEqual([{ pod: 'r-1', labels: { [LABEL.read]: 'true' }, annotations: {} }]);
  });
});
