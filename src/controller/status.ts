// Status phase: writes what plan/status.ts computed, only when it changed, and the intent of a
// role change before the change is made.
import type { RedisReplicationStatus } from '../api/schema.js';
import { statusChanged } from '../plan/conditions.js';
import { intentStatus, nextStatus, primaryStatus, refusedStatus, statusPatch, statusWriteNeeded, type RoleChange, type StatusInput } from '../plan/status.js';
import type { Deps, Pass } from './pass.js';
import type { RedisReplication } from '../api/schema.js';

/** Conditional on the version this pass read (or wrote last): a pass that worked from a view the
 * API has moved past since (an informer lagging behind) gets 409 and does not write back the
 * primary it saw. */
export async function writeStatus(pass: Pass, input: Omit<StatusInput, 'nowMs'>): Promise<void> {
  const { deps, rr, memory } = pass;
  const next = nextStatus(rr, pass.spec, { ...input, nowMs: deps.now() });
  if (!statusWriteNeeded(rr.status, next, deps.now() - (memory.lastStatusWriteMs ?? 0))) return;
  pass.resourceVersion = await deps.kube.patchStatus(pass.namespace, pass.name, statusPatch(rr.status, next), pass.resourceVersion);
  memory.lastStatusWriteMs = deps.now();
}

/** Records the change about to be made, conditional on the resource not having changed since this
 * pass read it: a pass working from a stale view gets 409 Conflict and acts on nothing. */
export async function writeIntent(pass: Pass, target: string, reason: string): Promise<void> {
  const { deps, namespace, name } = pass;
  pass.resourceVersion = await deps.kube.patchStatus(namespace, name, intentStatus(target, reason), pass.resourceVersion);
}

/** Records the new primary (and the change, if any) as soon as it is writable, before clients can
 * reach it through its role label: from then on it may hold writes no other pod has, and a pass
 * that stops before its status write must not leave the old primary recorded, since pods
 * re-created on their volumes keep no label and restarted ones no offset (plan/primary.ts
 * latestPrimary). */
export async function recordPrimary(pass: Pass, primary: string, change?: RoleChange, replIds?: readonly string[]): Promise<void> {
  const { deps, namespace, name } = pass;
  pass.resourceVersion = await deps.kube.patchStatus(namespace, name, primaryStatus(primary, change, deps.now(), replIds), pass.resourceVersion);
}

/** Clears the intent; with `resourceVersion`, only if the resource has not changed since. */
export async function clearIntent(pass: Pass, resourceVersion?: string): Promise<void> {
  const { deps, namespace, name } = pass;
  pass.resourceVersion = await deps.kube.patchStatus(namespace, name, { targetPrimary: null, targetReason: null }, resourceVersion);
}

/** A spec the operator refuses: say so in status and in an Event, touch nothing else. */
export async function refuseSpec(deps: Deps, rr: RedisReplication, message: string): Promise<void> {
  const next = refusedStatus(rr, message, deps.now());
  if (!statusChanged(rr.status, next)) return;
  await patch(deps, rr, statusPatch(rr.status, next));
  await deps.events.record(rr, 'Warning', 'InvalidSpec', message);
}

async function patch(deps: Deps, rr: RedisReplication, status: Partial<RedisReplicationStatus> | Record<string, unknown>): Promise<void> {
  await deps.kube.patchStatus(rr.metadata.namespace, rr.metadata.name, status as Record<string, unknown>);
}
