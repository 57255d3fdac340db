import type { V1NetworkPolicy } from '@kubernetes/client-node';
// client-node's own serializer: what goes on the wire, where `_from` becomes `from`.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplication, type RedisReplicationSpecInput } from '../../../src/api/schema.js';
import { buildNetworkPolicy } from '../../../src/plan/network.js';

const rr: RedisReplication = { apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', metadata: { name: 'cache', namespace: 'ns', uid: 'uid-1' }, spec: {} };
const specOf = (input: RedisReplicationSpecInput = {}) => {
  const parsed = parseSpec(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
};
const wire = (policy: V1NetworkPolicy | undefined) => ObjectSerializer.serialize(policy, 'V1NetworkPolicy', '') as Record<string, unknown>;
const ownPods = { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'cache', 'app.kubernetes.io/name': 'redis' } } };

describe('buildNetworkPolicy', () => {
  it('by default: port 6379 of the pods from their own pods and the operator namespace only, owned by the resource', () => {
    const policy = wire(buildNetworkPolicy(rr, specOf(), 'rro-system'));
    expect(policy).toMatchObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'cache-redis', namespace: 'ns', ownerReferences: [{ kind: 'RedisReplication', name: 'cache', uid: 'uid-1', controller: true }] },
    });
    expect(policy['spec']).toEqual({
      podSelector: ownPods.podSelector,
      policyTypes: ['Ingress'],
      ingress: [{ from: [ownPods, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'rro-system' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
    });
  });

  it("passes the spec's peers through as they are (ipBlock.except included)", () => {
    const from = [{ podSelector: { matchLabels: { app: 'web' } } }, { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }];
    const policy = wire(buildNetworkPolicy(rr, specOf({ networkPolicy: { from } }), 'rro-system')) as { spec: { ingress: { from: unknown[] }[] } };
    expect(policy.spec.ingress[0]!.from.slice(2)).toEqual(from);
  });

  it('outside a cluster (no operator namespace): no namespace is let in for the operator', () => {
    const policy = wire(buildNetworkPolicy(rr, specOf(), undefined)) as { spec: { ingress: { from: unknown[] }[] } };
    expect(policy.spec.ingress[0]!.from).toEqual([ownPods]);
  });

  it('none with networkPolicy.enabled false', () => {
    expect(buildNetworkPolicy(rr, specOf({ networkPolicy: { enabled: false } }), 'rro-system')).toBeUndefined();
  });
});
