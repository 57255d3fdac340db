// metav1.Condition bookkeeping and the "did anything change" test that keeps status writes rare.
import type { Condition, RedisReplicationStatus } from '../api/schema.js';

export type ConditionUpdate = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** Sets one condition; lastTransitionTime moves only when the status flips. Order is kept, new types go last. */
export function setCondition(conditions: Condition[] | undefined, next: ConditionUpdate, generation: number, now: string): Condition[] {
  const list = conditions ?? [];
  const current = list.find((c) => c.type === next.type);
  const updated: Condition = {
    ...next,
    observedGeneration: generation,
    lastTransitionTime: current && current.status === next.status ? current.lastTransitionTime : now,
  };
  return current ? list.map((c) => (c === current ? updated : c)) : [...list, updated];
}

export function setConditions(conditions: Condition[] | undefined, updates: ConditionUpdate[], generation: number, now: string): Condition[] {
  return updates.reduce((list, update) => setCondition(list, update, generation, now), conditions ?? []);
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

const byKey = (key: string) => (a: Record<string, unknown>, b: Record<string, unknown>) => {
  const x = String(a[key]);
  const y = String(b[key]);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Deep equality of JSON values where a field set to undefined equals a missing one (the API server drops both). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x).filter((k) => x[k] !== undefined);
  return keys.length === Object.keys(y).filter((k) => y[k] !== undefined).length && keys.every((k) => same(x[k], y[k]));
}

/** Conditions and nodes are list-maps (keyed by type and name): their order carries no meaning. */
function normalized(status: RedisReplicationStatus | undefined): RedisReplicationStatus {
  if (!status) return {};
  return {
    ...status,
    conditions: status.conditions && [...status.conditions].sort(byKey('type')),
    nodes: status.nodes && [...status.nodes].sort(byKey('name')),
  };
}

/** Whether writing `next` over `current` would change anything. */
export function statusChanged(current: RedisReplicationStatus | undefined, next: RedisReplicationStatus | undefined): boolean {
  return !same(normalized(current), normalized(next));
}
