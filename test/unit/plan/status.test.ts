import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplication, type RedisReplicationSpec, type RedisReplicationStatus } from '../../../src/api/schema.js';
import { finishedChange, nextStatus, statusPatch, statusWriteNeeded, type Refusal, type StatusInput } from '../../../src/plan/status.js';

const rr: RedisReplication = { apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', metadata: { name: 'cache', namespace: 'ns', uid: 'u', generation: 1 }, spec: {} };
const spec = (parseSpec({}) as { spec: RedisReplicationSpec }).spec;
const conditionsAfter = (refusals: Refusal[]) =>
  nextStatus(rr, spec, { decision: { kind: 'create' }, change: undefined, observed: [], nodes: [], plan: undefined, primary: undefined, refusals, nowMs: 0 }).conditions!;

describe('what the API server refused, in status', () => {
  it('PodsAdmitted (pods and claims) and ServicesAdmitted are True when nothing was refused', () => {
    const conditions = conditionsAfter([]);
    expect(conditions.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'True', reason: 'Admitted' });
    expect(conditions.find((c) => c.type === 'ServicesAdmitted')).toMatchObject({ status: 'True', reason: 'Admitted' });
  });

  it('each is False with the first refusal as its reason and every message', () => {
    const conditions = conditionsAfter([
      { kind: 'claim', message: 'claim data-cache-0 refused: 400' },
      { kind: 'pod', message: 'pod cache-1 refused: 403' },
      { kind: 'service', message: 'Service cache-primary refused: 422' },
    ]);
    expect(conditions.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'False', reason: 'ClaimRefused', message: 'claim data-cache-0 refused: 400; pod cache-1 refused: 403' });
    expect(conditions.find((c) => c.type === 'ServicesAdmitted')).toMatchObject({ status: 'False', reason: 'ServiceRefused', message: 'Service cache-primary refused: 422' });
  });
});

describe('statusPatch: a merge patch of the next status', () => {
  it('sends every field that went away as null, so the server removes it', () => {
    const current = { phase: 'Ready', primary: 'cache-0', lastFailover: { time: 't', from: 'cache-1', to: 'cache-0', reason: 'Switchover' } } as RedisReplicationStatus;
    expect(statusPatch(current, { phase: 'Ready', primary: 'cache-0' } as RedisReplicationStatus)).toEqual({ phase: 'Ready', primary: 'cache-0', lastFailover: null, targetPrimary: null, targetReason: null });
  });

  it('clears the intent even when the status it was computed from had none (written in this very pass)', () => {
    expect(statusPatch({ phase: 'Ready' } as RedisReplicationStatus, { phase: 'Ready' } as RedisReplicationStatus)).toEqual({ phase: 'Ready', targetPrimary: null, targetReason: null });
    expect(statusPatch(undefined, { phase: 'FailingOver', targetPrimary: 'cache-1', targetReason: 'Switchover' } as RedisReplicationStatus)).toEqual({ phase: 'FailingOver', targetPrimary: 'cache-1', targetReason: 'Switchover' });
  });
});

describe('statusWriteNeeded: a write only when status changed, measurements at most every 5 minutes', () => {
  const node = (offset: number) => ({ name: 'cache-1', role: 'replica', tier: 1, offset, lagBytes: 0, lagSeconds: 0, read: true });
  const status = (phase: string, offset: number) => ({ phase, primary: 'cache-0', primaryOffset: offset, nodes: [node(offset)] }) as RedisReplicationStatus;

  it('nothing changed: no write, however long since the last', () => {
    expect(statusWriteNeeded(status('Ready', 10), status('Ready', 10), 3_600_000)).toBe(false);
  });

  it('only offsets and lag moved: written once 5 minutes have passed since the last write, not before', () => {
    expect(statusWriteNeeded(status('Ready', 10), status('Ready', 99), 5 * 60_000 - 1)).toBe(false);
    expect(statusWriteNeeded(status('Ready', 10), status('Ready', 99), 5 * 60_000)).toBe(true);
  });

  it('anything else changed: written at once', () => {
    expect(statusWriteNeeded(status('Ready', 10), status('Degraded', 10), 0)).toBe(true);
    expect(statusWriteNeeded(undefined, status('Ready', 10), 0)).toBe(true);
  });
});

describe('the intent of a role change in the next status', () => {
  const withIntent: RedisReplication = { ...rr, status: { primary: 'cache-0', targetPrimary: 'cache-1', targetReason: 'Switchover' } };
  const after = (decision: StatusInput['decision'], change?: StatusInput['change']) =>
    nextStatus(withIntent, spec, { decision, change, observed: [], nodes: [], plan: undefined, primary: 'cache-0', nowMs: 0 });

  it('stays while the change is undecided or under way: a wait, or a failover or switchover this pass did not make', () => {
    expect(after({ kind: 'wait', primary: 'cache-0', message: 'waiting' })).toMatchObject({ targetPrimary: 'cache-1', targetReason: 'Switchover' });
    expect(after({ kind: 'switchover', from: 'cache-0', to: 'cache-1' })).toMatchObject({ targetPrimary: 'cache-1' });
  });

  it('goes once the change is made, the primary settled, or a promotion made over its own intent', () => {
    expect(after({ kind: 'switchover', from: 'cache-0', to: 'cache-1' }, { from: 'cache-0', to: 'cache-1', reason: 'Switchover' }).targetPrimary).toBeUndefined();
    expect(after({ kind: 'ok', primary: 'cache-0' }).targetPrimary).toBeUndefined();
    expect(after({ kind: 'promote', primary: 'cache-0' })).toMatchObject({ targetPrimary: undefined, targetReason: undefined });
  });
});

describe('finishedChange: a change an earlier operator made and could not record', () => {
  const status = (s: RedisReplicationStatus) => ({ ...rr, status: s });

  it('the intent names the primary now, status another: the change, from the recorded primary, with its reason', () => {
    expect(finishedChange(status({ primary: 'cache-0', targetPrimary: 'cache-1', targetReason: 'PrimaryUnreachable' }), 'cache-1')).toEqual({ from: 'cache-0', to: 'cache-1', reason: 'PrimaryUnreachable' });
    expect(finishedChange(status({ primary: 'cache-0', targetPrimary: 'cache-1' }), 'cache-1')).toEqual({ from: 'cache-0', to: 'cache-1', reason: 'Unknown' });
  });

  it('none: no primary now, none recorded, an intent naming another pod, or the primary already recorded', () => {
    expect(finishedChange(status({ primary: 'cache-0', targetPrimary: 'cache-1' }), undefined)).toBeUndefined();
    expect(finishedChange(status({ targetPrimary: 'cache-1' }), 'cache-1')).toBeUndefined();
    expect(finishedChange(status({ primary: 'cache-0', targetPrimary: 'cache-2' }), 'cache-1')).toBeUndefined();
    expect(finishedChange(status({ primary: 'cache-1', targetPrimary: 'cache-1' }), 'cache-1')).toBeUndefined();
    expect(finishedChange(rr, 'cache-1')).toBeUndefined();
  });
});
