// metav1.Condition bookkeeping and the "did anything change" test that keeps status writes rare.
import type { Condition, RedisReplicationStatus } from '../api/schema.js';
import { semanticEqual } from '../kube/semantic.js';

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

const byKey = (key: string) => (a: Record<string, unknown>, b: Record<string, unknown>) => {
  const x = String(a[key]);
  const y = String(b[key]);
  return x < y ? -1 : x > y ? 1 : 0;
};

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
  return !semanticEqual(normalized(current), normalized(next));
}
