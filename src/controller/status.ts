// Status phase: what was observed becomes status.nodes, counts, phase and conditions, written only
// when it changed, so an idle, healthy resource causes no API writes.
import type { NodeStatus, RedisReplication, RedisReplicationSpec, RedisReplicationStatus } from '../api/schema.js';
import { setConditions, statusChanged } from '../status/conditions.js';
import { buildNodes, summarize } from '../status/nodes.js';
import { decide, type PrimaryState } from '../status/phase.js';
import type { Plan } from '../topology/plan.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import { patchStatus } from './actions.js';
import type { Deps, ResourceMemory } from './deps.js';
import type { RoleChange } from './failover.js';
import { selectorString } from './names.js';
import { isWritableMaster, type ObservedPod } from './observed.js';
import type { PrimaryDecision } from './primary.js';

/** Offsets move with every write and the primary's pings, and lag jitters with load: measurements
 * alone refresh status at most this often. What they imply (read eligibility, conditions, phase)
 * is written at once. */
const MEASUREMENT_REFRESH_MS = 5 * 60_000;

export function computeNodes(spec: RedisReplicationSpec, observed: ObservedPod[], primary: string | undefined, plan: Plan | undefined): NodeStatus[] {
  const placement = new Map(plan?.layout.map((p) => [p.name, p]));
  const pods = observed
    .filter((p) => !p.deleting)
    .map((p) => {
      const placed = placement.get(p.name);
      return p.name === primary
        ? { ...p, tier: 0, parent: undefined }
        : { ...p, tier: placed?.tier ?? Math.max(1, p.tier), parent: placed?.parent ?? p.parent };
    });
  return buildNodes({ primary: primary ?? '', pods, readService: spec.readService });
}

export interface StatusInput {
  decision: PrimaryDecision;
  change: RoleChange | undefined;
  observed: ObservedPod[];
  nodes: NodeStatus[];
  plan: Plan | undefined;
  primary: string | undefined;
  memory: ResourceMemory;
}

export async function writeStatus(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec, input: StatusInput): Promise<void> {
  const { decision, observed, nodes, plan, primary } = input;
  const summary = summarize(nodes, spec);
  const primaryPod = observed.find((p) => p.name === primary && !p.deleting);
  const verdict = decide({
    invalidSpec: undefined,
    failingOver: false,
    primary: primaryState(primaryPod),
    primaryName: primary,
    nodes,
    desiredReplicas: summary.desiredReplicas,
    pendingChanges: plan ? plan.create.length + plan.reparent.length + plan.remove.length + (plan.primary.create ? 1 : 0) : 0,
  });
  const conditions = verdict.conditions.map((c) =>
    c.type === 'PrimaryAvailable' && (decision.kind === 'lost' || decision.kind === 'wait') && c.status === 'False'
      ? { ...c, reason: decision.kind === 'lost' ? decision.reason : c.reason, message: decision.message }
      : c,
  );
  const now = new Date(deps.now()).toISOString();
  const generation = rr.metadata.generation ?? 0;
  const next: RedisReplicationStatus = {
    ...rr.status,
    observedGeneration: generation,
    phase: verdict.phase,
    primary,
    targetPrimary: undefined,
    nextPodIndex: plan?.nextIndex ?? rr.status?.nextPodIndex,
    replicas: summary.replicas,
    readyReplicas: summary.readyReplicas,
    desiredReplicas: summary.desiredReplicas,
    ready: summary.ready,
    selector: selectorString(rr.metadata.name),
    primaryOffset: summary.primaryOffset,
    maxLagSeconds: summary.maxLagSeconds,
    nodes,
    lastFailover: input.change ? { time: now, ...input.change } : rr.status?.lastFailover,
    conditions: setConditions(rr.status?.conditions, conditions, generation, now),
  };
  await writeIfChanged(deps, rr, next, input.memory);
}

export async function refuseSpec(deps: Deps, rr: RedisReplication, message: string): Promise<void> {
  const nodes = rr.status?.nodes ?? [];
  const verdict = decide({
    invalidSpec: message,
    failingOver: false,
    primary: 'unreachable',
    primaryName: rr.status?.primary,
    nodes,
    desiredReplicas: rr.status?.desiredReplicas ?? 0,
    pendingChanges: 0,
  });
  const generation = rr.metadata.generation ?? 0;
  const keep = ['PrimaryAvailable', 'ReplicasSynced'];
  const updates = verdict.conditions.filter((c) => !keep.includes(c.type) || !rr.status?.conditions?.some((k) => k.type === c.type));
  const next: RedisReplicationStatus = {
    ...rr.status,
    observedGeneration: generation,
    phase: verdict.phase,
    conditions: setConditions(rr.status?.conditions, updates, generation, new Date(deps.now()).toISOString()),
  };
  if (statusChanged(rr.status, next)) {
    await patchStatus(deps, rr, toPatch(rr.status, next));
    await deps.events.record(rr, 'Warning', 'InvalidSpec', message);
  }
}

function primaryState(pod: ObservedPod | undefined): PrimaryState {
  if (!pod) return 'missing';
  if (!pod.podIP) return 'starting';
  return isWritableMaster(pod) ? 'writable' : 'unreachable';
}

async function writeIfChanged(deps: Deps, rr: RedisReplication, next: RedisReplicationStatus, memory: ResourceMemory): Promise<void> {
  if (!statusChanged(rr.status, next)) return;
  const onlyMeasurements = !statusChanged(withoutMeasurements(rr.status), withoutMeasurements(next));
  if (onlyMeasurements && deps.now() - (memory.lastStatusWriteMs ?? 0) < MEASUREMENT_REFRESH_MS) return;
  await patchStatus(deps, rr, toPatch(rr.status, next));
  memory.lastStatusWriteMs = deps.now();
}

function withoutMeasurements(status: RedisReplicationStatus | undefined): RedisReplicationStatus | undefined {
  if (!status) return status;
  return {
    ...status,
    primaryOffset: undefined,
    maxLagSeconds: undefined,
    nodes: status.nodes?.map((n) => ({ ...n, offset: undefined, lagBytes: undefined, lagSeconds: undefined })),
  };
}

/** A merge patch: fields that disappeared are sent as null so the server removes them. */
function toPatch(current: RedisReplicationStatus | undefined, next: RedisReplicationStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const key of Object.keys(current ?? {})) if (next[key as keyof RedisReplicationStatus] === undefined) patch[key] = null;
  return patch;
}

export function recordNodeMetrics(metrics: OperatorMetrics, rr: RedisReplication, nodes: NodeStatus[]): void {
  const base = { namespace: rr.metadata.namespace, resource: rr.metadata.name };
  for (const node of nodes) {
    const labels = { ...base, pod: node.name };
    metrics.setRole(labels, node.role);
    if (node.role === 'replica') {
      metrics.setLinkUp(labels, 'up', node.link === 'up');
      metrics.setReplicationLag(labels, node.lagBytes ?? 0, node.lagSeconds ?? 0);
    }
  }
}
