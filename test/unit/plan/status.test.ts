import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplication, type RedisReplicationSpec, type RedisReplicationStatus } from '../../../src/api/schema.js';
import { nextStatus, statusPatch, statusWriteNeeded, type Refusal } from '../../../src/plan/status.js';

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
