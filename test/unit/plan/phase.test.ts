import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../../src/api/schema.js';
import { decidePhase, type Observation } from '../../../src/plan/phase.js';

const primaryNode: NodeStatus = { name: 'c-0', role: 'primary', tier: 0, read: false };
const rep = (n: number, link: NodeStatus['link'], read = link === 'up'): NodeStatus => ({ name: `c-${n}`, role: 'replica', tier: 1, parent: 'c-0', link, read });
const observe = (over: Partial<Observation>): Observation => ({
  invalidSpec: undefined,
  primary: 'writable',
  primaryName: 'c-0',
  nodes: [primaryNode, rep(1, 'up'), rep(2, 'up')],
  desiredReplicas: 2,
  pendingChanges: 0,
  ...over,
});
const summary = (o: Observation) => {
  const d = decidePhase(o);
  return [d.phase, ...d.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)];
};

describe('decidePhase', () => {
  it('Ready when every pod exists, is linked and within the lag', () => {
    expect(summary(observe({}))).toEqual([
      'Ready',
      'Ready=True/AllReplicasReady',
      'PrimaryAvailable=True/PrimaryWritable',
      'ReplicasSynced=True/Synced',
      'Progressing=False/Stable',
    ]);
  });

  it('Failed with reason InvalidSpec and the message when the spec is refused', () => {
    const d = decidePhase(observe({ invalidSpec: 'spec.replicas: too big' }));
    expect(d.phase).toBe('Failed');
    expect(d.conditions[0]).toEqual({ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'spec.replicas: too big' });
    expect(d.conditions[3]).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });

  it('Pending before the primary answers for the first time', () => {
    expect(summary(observe({ primary: 'missing', nodes: [], pendingChanges: 3 }))).toEqual([
      'Pending',
      'Ready=False/PrimaryUnavailable',
      'PrimaryAvailable=False/NoPrimary',
      'ReplicasSynced=True/Synced',
      'Progressing=True/Creating',
    ]);
    expect(decidePhase(observe({ primary: 'starting', nodes: [primaryNode] })).phase).toBe('Pending');
  });

  it('Degraded when the primary is lost while replicas hold the data', () => {
    expect(decidePhase(observe({ primary: 'unreachable' })).phase).toBe('Degraded');
    expect(decidePhase(observe({ primary: 'missing', nodes: [rep(1, 'down')] })).phase).toBe('Degraded');
  });

  it('Provisioning while pods are created, even with the new ones still down', () => {
    expect(summary(observe({ nodes: [primaryNode, rep(1, 'up'), rep(2, 'down')], desiredReplicas: 3, pendingChanges: 1 }))).toEqual([
      'Provisioning',
      'Ready=False/Scaling',
      'PrimaryAvailable=True/PrimaryWritable',
      'ReplicasSynced=False/LinkDown',
      'Progressing=True/Scaling',
    ]);
  });

  it('Provisioning during a full sync', () => {
    expect(summary(observe({ nodes: [primaryNode, rep(1, 'up'), rep(2, 'syncing')] }))).toEqual([
      'Provisioning',
      'Ready=False/ReplicasNotReady',
      'PrimaryAvailable=True/PrimaryWritable',
      'ReplicasSynced=False/FullSync',
      'Progressing=True/Syncing',
    ]);
  });

  it('a full-resync loop is what ReplicasSynced says first, even while the replica is up between syncs', () => {
    const resyncLoops = [{ pod: 'c-2', fullSyncs: 3, longestAwayMs: 42_400 }];
    expect(summary(observe({ nodes: [primaryNode, rep(1, 'down'), rep(2, 'syncing')], resyncLoops }))[3]).toBe('ReplicasSynced=False/FullResyncLoop');
    const d = decidePhase(observe({ resyncLoops }));
    expect(d.phase).toBe('Ready');
    expect(d.conditions[2]).toMatchObject({ status: 'False', reason: 'FullResyncLoop', message: expect.stringContaining('c-2 (3 full syncs in 10m, away up to 42s)') });
  });

  it('Degraded when a replica link is down or a replica lags with nothing in progress', () => {
    expect(summary(observe({ nodes: [primaryNode, rep(1, 'up'), rep(2, 'down')] }))).toEqual([
      'Degraded',
      'Ready=False/ReplicasNotReady',
      'PrimaryAvailable=True/PrimaryWritable',
      'ReplicasSynced=False/LinkDown',
      'Progressing=False/Stable',
    ]);
    const lagging = decidePhase(observe({ nodes: [primaryNode, rep(1, 'up'), rep(2, 'up', false)] }));
    expect(lagging.phase).toBe('Degraded');
    expect(lagging.conditions[0]?.message).toBe('unlinked or lagging: c-2');
  });

  it('names the pods in its messages', () => {
    const d = decidePhase(observe({ primary: 'starting', nodes: [primaryNode, rep(1, 'syncing'), rep(2, 'down')] }));
    expect(d.phase).toBe('Provisioning');
    expect(d.conditions.map((c) => c.message)).toEqual([
      'the primary is starting',
      'c-0 has not answered yet',
      'link down: c-2',
      'the primary is being created',
    ]);
  });
});
