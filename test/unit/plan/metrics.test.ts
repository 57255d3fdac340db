import { describe, expect, it } from 'vitest';
import { parseSpec, type NodeStatus, type RedisReplicationSpec } from '../../../src/api/schema.js';
import { desiredByTier, resourceState, type MetricsInput } from '../../../src/plan/metrics.js';
import type { ObservedPod } from '../../../src/plan/observation.js';
import type { ReplicationInfo } from '../../../src/redis/info.js';

function spec(raw: Record<string, unknown>): RedisReplicationSpec {
  const parsed = parseSpec(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
}

const master: ReplicationInfo = { role: 'master', replId: 'x', replOffset: 500, connectedReplicas: 0, replicas: [] };
const observedPod = (name: string, info: ReplicationInfo | undefined, deleting = false): ObservedPod => ({
  name, index: Number(name.split('-')[1]), tier: 0, role: 'replica', parent: undefined, podIP: `10.0.0.${name.split('-')[1]}`, deleting, containerDown: false, info,
});
const replicaNode = (name: string, tier: number, parent: string, link: NodeStatus['link'], lagSeconds?: number): NodeStatus => ({
  name, role: 'replica', tier, parent, link, lagSeconds, read: link === 'up',
});
const primaryNode: NodeStatus = { name: 'cache-0', role: 'primary', tier: 0, offset: 500, read: false };

const input = (over: Partial<MetricsInput>): MetricsInput => ({
  spec: spec({ replicas: 2, cascade: [{ replicasPerParent: 2 }] }),
  status: undefined,
  observed: [observedPod('cache-0', master)],
  nodes: [primaryNode],
  primary: 'cache-0',
  rollingUpdateStalled: false,
  certificateNotAfterMs: undefined,
  ...over,
});

describe('resourceState: what the per-resource metrics say', () => {
  it('replicas the spec asks for by tier, and those linked', () => {
    expect(desiredByTier({ replicas: 2, cascade: [{ replicasPerParent: 2 }, { replicasPerParent: 3 }] })).toEqual([2, 4, 12]);
    const nodes = [primaryNode, replicaNode('cache-1', 1, 'cache-0', 'up'), replicaNode('cache-2', 1, 'cache-0', 'syncing'), replicaNode('cache-3', 2, 'cache-1', 'up')];
    expect(resourceState(input({ nodes })).tiers).toEqual([
      { tier: 1, desired: 2, linked: 1 },
      { tier: 2, desired: 4, linked: 1 },
    ]);
  });

  it('the primary is available when it answers as a master; every other master counts as a writable pod', () => {
    expect(resourceState(input({})).primaryAvailable).toBe(true);
    expect(resourceState(input({ observed: [observedPod('cache-0', undefined)] }))).toMatchObject({ primaryAvailable: false, writablePods: 0 });
    const twoMasters = [observedPod('cache-0', master), observedPod('cache-1', master), observedPod('cache-2', master, true)];
    expect(resourceState(input({ observed: twoMasters }))).toMatchObject({ primaryAvailable: true, writablePods: 2 });
  });

  it('counts for writeQuorum the primary\'s own replicas, linked, within its maxLagSeconds', () => {
    const nodes = [
      primaryNode,
      replicaNode('cache-1', 1, 'cache-0', 'up', 0),
      replicaNode('cache-2', 1, 'cache-0', 'up', 4),
      replicaNode('cache-3', 1, 'cache-0', 'down', 0),
      replicaNode('cache-4', 2, 'cache-1', 'up', 0),
    ];
    const quorum = spec({ replicas: 3, writeQuorum: { minReplicas: 2, maxLagSeconds: 3 } });
    expect(resourceState(input({ spec: quorum, nodes })).writeQuorum).toEqual({ minReplicas: 2, inSync: 1 });
    expect(resourceState(input({ nodes })).writeQuorum).toBeUndefined();
  });

  it('passes on the read lag limit, the primary offset, a stalled roll, the certificate and the last failover', () => {
    const state = resourceState(input({
      spec: spec({ readService: { maxLagSeconds: 7 } }),
      status: { lastFailover: { time: '2026-12-01T00:00:10.000Z', from: 'cache-0', to: 'cache-1', reason: 'Switchover' } },
      rollingUpdateStalled: true,
      certificateNotAfterMs: 123_000,
    }));
    expect(state).toMatchObject({
      readMaxLagSeconds: 7,
      primaryOffset: 500,
      rollingUpdateStalled: true,
      certificateNotAfterMs: 123_000,
      lastFailover: { reason: 'Switchover', timeMs: Date.UTC(2026, 11, 1, 0, 0, 10) },
    });
  });
});
