// The status a pass writes: status.nodes, counts, phase and conditions from what was observed and
// decided, and whether writing it is worth an API call (an idle, healthy resource causes none).
import type { ArchiveStatus, NodeStatus, RedisReplication, RedisReplicationSpec, RedisReplicationStatus, ReplicationBacklogStatus } from '../api/schema.js';
import type { ResyncLoop } from './backlog.js';
import { setConditions, statusChanged, type ConditionUpdate } from './conditions.js';
import { selectorString } from './names.js';
import { passwordSecret, type SecretIssue } from './secrets.js';
import { buildNodes, replicaLinks, summarize } from './nodes.js';
import type { SyncMark } from './sync.js';
import { isWritableMaster, type ObservedPod } from './observation.js';
import { decidePhase, type PrimaryState } from './phase.js';
import type { PrimaryDecision } from './primary.js';
import type { RolloutState } from './rollout.js';
import type { Plan } from './topology.js';
import type { ReplicationInfo } from '../redis/info.js';

/** A change of primary made by this pass, as status.lastFailover records it. */
export interface RoleChange {
  from: string;
  to: string;
  reason: string;
}

/** Offsets move with every write and the primary's pings, and lag jitters with load: measurements
 * alone refresh status at most this often. What they imply (read eligibility, conditions, phase)
 * is written at once. */
const MEASUREMENT_REFRESH_MS = 5 * 60_000;

/** status.nodes: every live pod where the plan puts it (tier, parent), with what its Redis said. */
export function computeNodes(
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  primary: string | undefined,
  plan: Plan | undefined,
  marks: ReadonlyMap<string, SyncMark> | undefined,
): { nodes: NodeStatus[]; marks: Map<string, SyncMark> } {
  const placement = new Map(plan?.layout.map((p) => [p.name, p]));
  const pods = observed
    .filter((p) => !p.deleting)
    .map((p) => {
      const placed = placement.get(p.name);
      return p.name === primary
        ? { ...p, tier: 0, parent: undefined }
        : { ...p, tier: placed?.tier ?? Math.max(1, p.tier), parent: placed?.parent ?? p.parent };
    });
  const input = { primary: primary ?? '', pods, readService: spec.readService, marks };
  const kept = [...replicaLinks(input)].flatMap(([name, sync]) => (sync.mark ? [[name, sync.mark] as const] : []));
  return { nodes: buildNodes(input), marks: new Map(kept) };
}

export interface StatusInput {
  decision: PrimaryDecision;
  change: RoleChange | undefined;
  observed: ObservedPod[];
  nodes: NodeStatus[];
  plan: Plan | undefined;
  primary: string | undefined;
  /** The auth Secret cannot be used (missing, no key "password", not allowed, the operator's copy
   * not its own): said in a condition. */
  authProblem?: SecretIssue | undefined;
  /** Secrets of spec.auth.users that cannot be used, said in the same condition. */
  usersProblems?: SecretIssue[] | undefined;
  /** With auth: the app users whose rules Redis refused (none: every user is applied). */
  usersRefused?: string[] | undefined;
  /** The TLS Secret cannot be used (missing, a key missing, a certificate that does not fit, not
   * allowed, the operator's own not its own). */
  tlsProblem?: SecretIssue | undefined;
  /** What the API server refused this pass (a pod, a claim, a Service), with its reason. */
  refusals?: Refusal[] | undefined;
  /** The revision pods should run, and the rolling update's state. */
  revision?: string | undefined;
  rollout?: RolloutState | undefined;
  /** The replication backlog as this pass found (and sized) it, and replicas in a full-resync loop. */
  backlog?: { status: ReplicationBacklogStatus | undefined; loops: ResyncLoop[] } | undefined;
  /** status.archive as the archive phase found it; undefined: not archiving. */
  archive?: ArchiveStatus | undefined;
  nowMs: number;
}

/** Pods still to create, re-parent or delete according to the plan. */
export function pendingChanges(plan: Plan | undefined): number {
  return plan ? plan.create.length + plan.reparent.length + plan.remove.length + (plan.primary.create ? 1 : 0) : 0;
}

/** The status after a pass that acted on a valid spec. */
export function nextStatus(rr: RedisReplication, spec: RedisReplicationSpec, input: StatusInput): RedisReplicationStatus {
  const { decision, observed, nodes, plan, primary } = input;
  const summary = summarize(nodes, spec);
  const primaryPod = observed.find((p) => p.name === primary && !p.deleting);
  const verdict = decidePhase({
    invalidSpec: undefined,
    primary: primaryState(primaryPod),
    primaryName: primary,
    nodes,
    desiredReplicas: summary.desiredReplicas,
    pendingChanges: pendingChanges(plan),
    rollout: input.rollout,
    resyncLoops: input.backlog?.loops,
  });
  const conditions = verdict.conditions.map((c) =>
    c.type === 'PrimaryAvailable' && (decision.kind === 'lost' || decision.kind === 'wait') && c.status === 'False'
      ? { ...c, reason: decision.kind === 'lost' ? decision.reason : c.reason, message: decision.message }
      : c,
  );
  const secretsCondition = secretsAvailable(rr.metadata.name, spec, input);
  if (secretsCondition) conditions.push(secretsCondition);
  if (input.usersRefused) conditions.push(usersApplied(input.usersRefused));
  conditions.push(podsRunning(observed));
  conditions.push(...admitted(input.refusals ?? []));
  const now = new Date(input.nowMs).toISOString();
  const generation = rr.metadata.generation ?? 0;
  return {
    ...rr.status,
    observedGeneration: generation,
    phase: verdict.phase,
    primary,
    // The intent of a change stays until the change is made or the primary is settled again. A
    // promotion is made in its pass, over its own intent: the one this pass started from is stale
    // (left, it would send the next pass into a change nobody decided).
    ...(input.change || decision.kind === 'ok' || decision.kind === 'promote' ? { targetPrimary: undefined, targetReason: undefined } : {}),
    nextPodIndex: plan?.nextIndex ?? rr.status?.nextPodIndex,
    replicas: summary.replicas,
    readyReplicas: summary.readyReplicas,
    desiredReplicas: summary.desiredReplicas,
    ready: summary.ready,
    selector: selectorString(rr.metadata.name),
    primaryOffset: summary.primaryOffset,
    revision: input.revision ?? rr.status?.revision,
    updatedPods: input.rollout ? nodes.length - input.rollout.outdated.filter((n) => nodes.some((x) => x.name === n)).length : rr.status?.updatedPods,
    primaryReplIds: primaryPod?.info && isWritableMaster(primaryPod) ? replIds(primaryPod.info) : rr.status?.primaryReplIds,
    maxLagSeconds: summary.maxLagSeconds,
    nodes,
    lastFailover: recordOf(input.change ?? finishedChange(rr, primary), now) ?? rr.status?.lastFailover,
    replicationBacklog: input.backlog?.status ?? rr.status?.replicationBacklog,
    archive: input.archive,
    conditions: setConditions(rr.status?.conditions, conditions, generation, now),
  };
}

/** An object the API server refused to create: Pod Security admission, a quota or a webhook (403),
 * an invalid object (422: a name too long for a Service), one it cannot decode (400: a quantity it
 * cannot parse). The operator reports it and retries at the next pass, as the user may fix the cause. */
export interface Refusal {
  kind: 'pod' | 'claim' | 'service';
  message: string;
}

export const REFUSED_CODES: readonly number[] = [400, 403, 422];
const REFUSAL_REASON = { pod: 'PodRefused', claim: 'ClaimRefused', service: 'ServiceRefused' } as const;

/** The Event reason of a refusal, which its condition's reason repeats. */
export const refusalReason = (refusal: Refusal): string => REFUSAL_REASON[refusal.kind];

/** PodsAdmitted (pods and their claims) and ServicesAdmitted: False with the API server's reasons. */
function admitted(refusals: Refusal[]): ConditionUpdate[] {
  const condition = (type: string, of: Refusal[], admits: string): ConditionUpdate =>
    of.length > 0
      ? { type, status: 'False', reason: refusalReason(of[0]!), message: of.map((r) => r.message).join('; ') }
      : { type, status: 'True', reason: 'Admitted', message: `the API server admits ${admits}` };
  return [
    condition('PodsAdmitted', refusals.filter((r) => r.kind !== 'service'), 'the pods and their claims'),
    condition('ServicesAdmitted', refusals.filter((r) => r.kind === 'service'), 'the Services'),
  ];
}

/** Whether every pod runs, or what Kubernetes says stops one (unschedulable, image, crash loop). */
function podsRunning(observed: ObservedPod[]): ConditionUpdate {
  const stuck = observed.filter((p) => p.problem);
  if (stuck.length === 0) return { type: 'PodsRunning', status: 'True', reason: 'Running', message: 'no pod is stuck' };
  return {
    type: 'PodsRunning',
    status: 'False',
    reason: stuck[0]!.problem!.reason,
    message: stuck.map((p) => `pod ${p.name}: ${p.problem!.reason}: ${p.problem!.message}`).join('; '),
  };
}

/** Whether the Secrets of the password and the TLS certificate could be used. */
function secretsAvailable(resource: string, spec: RedisReplicationSpec, input: StatusInput): ConditionUpdate | undefined {
  const problems = [...(input.authProblem ? [input.authProblem] : []), ...(input.usersProblems ?? []), ...(input.tlsProblem ? [input.tlsProblem] : [])];
  if (problems.length > 0) return { type: 'SecretsAvailable', status: 'False', reason: problems[0]!.reason, message: problems.map((p) => p.message).join('; ') };
  const read = [passwordSecret(resource, spec)?.secretName, spec.tls?.enabled ? spec.tls.secretName : undefined].filter((s): s is string => Boolean(s));
  if (read.length > 0) return { type: 'SecretsAvailable', status: 'True', reason: 'SecretsRead', message: `Secret ${read.join(' and Secret ')} ${read.length > 1 ? 'are' : 'is'} read` };
  if (spec.tls?.enabled) return { type: 'SecretsAvailable', status: 'True', reason: 'SecretsRead', message: "the TLS certificate is issued by the operator's CA" };
  return undefined;
}

/** Whether Redis took every app user's rules: a refused one keeps what the pods had. */
function usersApplied(refused: string[]): ConditionUpdate {
  if (refused.length > 0) return { type: 'UsersApplied', status: 'False', reason: 'UserRefused', message: `${refused.join('; ')}; the pods keep what they had` };
  return { type: 'UsersApplied', status: 'True', reason: 'UsersApplied', message: 'the pods have the operator, replication and declared users' };
}

/** A recorded change that an earlier operator made but could not record: its target is the primary now. */
export function finishedChange(rr: RedisReplication, primary: string | undefined): RoleChange | undefined {
  const { primary: recorded, targetPrimary, targetReason } = rr.status ?? {};
  if (!primary || !recorded || targetPrimary !== primary || recorded === primary) return undefined;
  return { from: recorded, to: primary, reason: targetReason ?? 'Unknown' };
}

/** The status of a resource whose spec the operator refuses: Ready and Progressing say why; what was
 * last known of the primary and the replicas stays. */
export function refusedStatus(rr: RedisReplication, message: string, nowMs: number): RedisReplicationStatus {
  const verdict = decidePhase({
    invalidSpec: message,
    primary: 'unreachable',
    primaryName: rr.status?.primary,
    nodes: rr.status?.nodes ?? [],
    desiredReplicas: rr.status?.desiredReplicas ?? 0,
    pendingChanges: 0,
  });
  const generation = rr.metadata.generation ?? 0;
  const keep = ['PrimaryAvailable', 'ReplicasSynced'];
  const updates = verdict.conditions.filter((c) => !keep.includes(c.type) || !rr.status?.conditions?.some((k) => k.type === c.type));
  return {
    ...rr.status,
    observedGeneration: generation,
    phase: verdict.phase,
    conditions: setConditions(rr.status?.conditions, updates, generation, new Date(nowMs).toISOString()),
  };
}

/** The intent of a role change, written before the operator acts on it, so that an operator that
 * stops in the middle finishes the same change. */
export function intentStatus(target: string, reason: string): Partial<RedisReplicationStatus> {
  return { targetPrimary: target, targetReason: reason, phase: 'FailingOver' };
}

/** The primary recorded the moment it is writable, with the change that made it so. */
export function primaryStatus(primary: string, change: RoleChange | undefined, nowMs: number, primaryReplIds?: readonly string[]): Partial<RedisReplicationStatus> {
  const lastFailover = recordOf(change, new Date(nowMs).toISOString());
  return { primary, ...(lastFailover ? { lastFailover } : {}), ...(primaryReplIds ? { primaryReplIds: [...primaryReplIds] } : {}) };
}

const recordOf = (change: RoleChange | undefined, time: string): RedisReplicationStatus['lastFailover'] => change && { time, ...change };

export const replIds = (info: ReplicationInfo): string[] => (info.replId2 ? [info.replId, info.replId2] : [info.replId]);

function primaryState(pod: ObservedPod | undefined): PrimaryState {
  if (!pod) return 'missing';
  if (!pod.podIP) return 'starting';
  return isWritableMaster(pod) ? 'writable' : 'unreachable';
}

/** Whether `next` is worth a write: it changed, and not only in measurements refreshed recently. */
export function statusWriteNeeded(current: RedisReplicationStatus | undefined, next: RedisReplicationStatus, sinceLastWriteMs: number): boolean {
  if (!statusChanged(current, next)) return false;
  const onlyMeasurements = !statusChanged(withoutMeasurements(current), withoutMeasurements(next));
  return !onlyMeasurements || sinceLastWriteMs >= MEASUREMENT_REFRESH_MS;
}

function withoutMeasurements(status: RedisReplicationStatus | undefined): RedisReplicationStatus | undefined {
  if (!status) return status;
  return {
    ...status,
    primaryOffset: undefined,
    maxLagSeconds: undefined,
    replicationBacklog: status.replicationBacklog && { size: status.replicationBacklog.size },
    nodes: status.nodes?.map((n) => ({ ...n, offset: undefined, lagBytes: undefined, lagSeconds: undefined })),
    archive: status.archive && { ...status.archive, lastArchivedOffset: undefined, lastArchivedTime: undefined, lagBytes: undefined, lagSeconds: undefined },
  };
}

/** A merge patch: fields that disappeared are sent as null so the server removes them. */
export function statusPatch(current: RedisReplicationStatus | undefined, next: RedisReplicationStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  // The intent of a change may have been written in this very pass, after `current` was read.
  for (const key of [...Object.keys(current ?? {}), 'targetPrimary', 'targetReason']) {
    if (next[key as keyof RedisReplicationStatus] === undefined) patch[key] = null;
  }
  return patch;
}
