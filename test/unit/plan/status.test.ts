import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplication, type RedisReplicationSpec } from '../../../src/api/schema.js';
import { nextStatus, type Refusal } from '../../../src/plan/status.js';

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
