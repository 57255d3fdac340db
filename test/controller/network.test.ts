// The resource's NetworkPolicy through the fake API: created and owned, brought back to the spec
// when it changes, deleted when turned off, and one of the same name that the resource does not own
// left alone with a Warning.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ApiError } from '../support/fake-kube.js';
import { OPERATOR_NAMESPACE, World } from '../support/world.js';

const policy = (world: World) => world.kube.networkPolicies.get('ns/cache-redis');
const peers = (world: World) => policy(world)?.spec?.ingress?.[0]?._from;
const respec = (world: World, rr: RedisReplication, spec: Record<string, unknown>) => {
  const current = world.kube.resource('ns', 'cache');
  world.kube.apply({ ...current, spec: { ...(current.spec as object), ...spec } as RedisReplication['spec'] });
  return rr;
};

describe('the NetworkPolicy <name>-redis', () => {
  it('is created, owned by the resource, letting in its own pods and the operator namespace; idle passes write nothing', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    expect(policy(world)?.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'RedisReplication', name: 'cache', controller: true })]);
    expect(policy(world)?.spec?.ingress?.[0]?.ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
    expect(peers(world)).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'cache', 'app.kubernetes.io/name': 'redis' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': OPERATOR_NAMESPACE } } },
    ]);
    const writes = world.kube.writes.length;
    await world.passes(rr, 3);
    expect(world.kube.writes.slice(writes).filter((w) => w.includes('networkpolicy'))).toEqual([]);
  });

  it('follows spec.networkPolicy.from, and is deleted with enabled false', async () => {
    const { world, rr } = World.withResource({ replicas: 0 });
    await world.passes(rr, 1);
    const web = { podSelector: { matchLabels: { app: 'web' } } };
    await world.passes(respec(world, rr, { networkPolicy: { from: [web] } }), 1);
    expect(peers(world)?.[2]).toEqual(web);
    await world.passes(respec(world, rr, { networkPolicy: { enabled: false } }), 1);
    expect(policy(world)).toBeUndefined();
  });

  it('one of that name the resource does not own is neither changed nor deleted; a Warning says so', async () => {
    const { world, rr } = World.withResource({ replicas: 0 });
    const theirs = { metadata: { name: 'cache-redis', namespace: 'ns' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
    world.kube.networkPolicies.set('ns/cache-redis', structuredClone(theirs));
    await world.passes(rr, 2);
    expect(policy(world)).toEqual(theirs);
    expect(world.kube.events.filter((e) => e.reason === 'NetworkPolicyNotOwned')).toHaveLength(1);
    await world.passes(respec(world, rr, { networkPolicy: { enabled: false } }), 1);
    expect(policy(world)).toEqual(theirs);
  });

  it('one the API server refuses (a bad peer): a Warning Event, the rest of the pass goes on, tried again when the spec changes', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what === 'networkpolicy/cache-redis') throw new ApiError(422, 'spec.ingress[0].from[2]: Required value');
    };
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.events.filter((e) => e.reason === 'NetworkPolicyRefused').map((e) => e.message)).toEqual(['NetworkPolicy cache-redis refused: 422: spec.ingress[0].from[2]: Required value']);
    world.kube.beforeCall = () => {};
    await world.passes(respec(world, rr, { networkPolicy: { from: [{ podSelector: {} }] } }), 1);
    expect(policy(world)).toBeDefined();
  });
});
