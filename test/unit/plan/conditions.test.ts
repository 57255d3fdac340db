import { describe, expect, it } from 'vitest';
import type { Condition, RedisReplicationStatus } from '../../../src/api/schema.js';
import { setCondition, setConditions, statusChanged } from '../../../src/plan/conditions.js';

const T0 = '2026-11-24T12:00:00Z';
const T1 = '2026-11-24T12:05:00Z';
const ready = (status: Condition['status'], reason = 'R') => ({ type: 'Ready', status, reason, message: 'm' });

describe('setCondition', () => {
  it('adds a condition with the generation and the time', () => {
    expect(setCondition(undefined, ready('True'), 3, T0)).toEqual([{ ...ready('True'), observedGeneration: 3, lastTransitionTime: T0 }]);
  });

  it('keeps lastTransitionTime while the status stays, even if reason and message change', () => {
    const first = setCondition([], ready('False', 'A'), 1, T0);
    const second = setCondition(first, { ...ready('False', 'B'), message: 'other' }, 2, T1);
    expect(second).toEqual([{ type: 'Ready', status: 'False', reason: 'B', message: 'other', observedGeneration: 2, lastTransitionTime: T0 }]);
  });

  it('moves lastTransitionTime when the status flips', () => {
    const flipped = setCondition(setCondition([], ready('False'), 1, T0), ready('True'), 1, T1);
    expect(flipped.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(T1);
  });

  it('keeps the order and appends new types, without touching the input', () => {
    const start = setConditions([], [ready('True'), { type: 'PrimaryAvailable', status: 'True', reason: 'x', message: '' }], 1, T0);
    const frozen = JSON.stringify(start);
    const next = setConditions(start, [{ type: 'Progressing', status: 'False', reason: 'y', message: '' }, ready('False')], 2, T1);
    expect(next.map((c) => c.type)).toEqual(['Ready', 'PrimaryAvailable', 'Progressing']);
    expect(JSON.stringify(start)).toBe(frozen);
    expect(next.find((c) => c.type === 'Missing')).toBeUndefined();
  });
});

describe('statusChanged', () => {
  const base: RedisReplicationStatus = {
    phase: 'Ready',
    primary: 'r-0',
    conditions: setConditions([], [ready('True'), { type: 'ReplicasSynced', status: 'True', reason: 's', message: '' }], 1, T0),
    nodes: [
      { name: 'r-0', role: 'primary', tier: 0, read: false },
      { name: 'r-1', role: 'replica', tier: 1, parent: 'r-0', read: true },
    ],
  };

  it('sees no change in an equal status, with conditions or nodes reordered, or undefined fields', () => {
    expect(statusChanged(base, structuredClone(base))).toBe(false);
    expect(statusChanged(base, { ...base, conditions: [...base.conditions!].reverse(), nodes: [...base.nodes!].reverse() })).toBe(false);
    expect(statusChanged(base, { ...base, lastFailover: undefined })).toBe(false);
    expect(statusChanged(undefined, {})).toBe(false);
  });

  it('sees any changed value', () => {
    expect(statusChanged(base, { ...base, phase: 'Degraded' })).toBe(true);
    expect(statusChanged(base, { ...base, nodes: [base.nodes![0]!, { ...base.nodes![1]!, read: false }] })).toBe(true);
    expect(statusChanged(base, { ...base, conditions: setCondition(base.conditions, ready('True'), 2, T1) })).toBe(true);
    expect(statusChanged(undefined, base)).toBe(true);
  });
});
