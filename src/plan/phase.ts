// The phase and the four contract conditions, from what one reconcile observed.
import type { NodeStatus, PHASES } from '../api/schema.js';
import type { ResyncLoop } from './backlog.js';
import type { ConditionUpdate } from './conditions.js';
import type { RolloutState } from './rollout.js';

export type Phase = (typeof PHASES)[number];

/**
 * missing: no primary pod; starting: its pod exists but redis has not answered yet;
 * unreachable: it does not answer, or answers as a replica; writable: it answers as a master.
 */
export type PrimaryState = 'missing' | 'starting' | 'unreachable' | 'writable';

export interface Observation {
  /** Set when the spec failed parseSpec: the operator touches nothing. */
  invalidSpec: string | undefined;
  primary: PrimaryState;
  primaryName: string | undefined;
  /** Every node of status.nodes, primary included. */
  nodes: NodeStatus[];
  desiredReplicas: number;
  /** Pods still to create, re-parent or delete according to the plan. */
  pendingChanges: number;
  /** A rolling update under way: pods still on an older revision, and why it is stopped, if it is. */
  rollout?: RolloutState | undefined;
  /** Replicas in a full-resync loop (plan/backlog.ts). */
  resyncLoops?: ResyncLoop[] | undefined;
}

export interface Decision {
  phase: Phase;
  conditions: ConditionUpdate[];
}

const condition = (type: string, ok: boolean, reason: string, message: string): ConditionUpdate => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
});

const names = (nodes: NodeStatus[]) => nodes.map((n) => n.name).join(', ');

function facts(o: Observation) {
  const replicas = o.nodes.filter((n) => n.role === 'replica');
  const down = replicas.filter((n) => n.link === 'down');
  const syncing = replicas.filter((n) => n.link === 'syncing');
  const notReady = replicas.filter((n) => !n.read);
  const converging = o.pendingChanges > 0 || replicas.length !== o.desiredReplicas;
  return { replicas, down, syncing, notReady, converging };
}

function readyCondition(o: Observation, f: ReturnType<typeof facts>): ConditionUpdate {
  if (o.invalidSpec !== undefined) return condition('Ready', false, 'InvalidSpec', o.invalidSpec);
  if (o.primary !== 'writable') return condition('Ready', false, 'PrimaryUnavailable', `the primary is ${o.primary}`);
  if (f.converging) {
    return condition('Ready', false, 'Scaling', `${f.replicas.length} of ${o.desiredReplicas} replicas exist, ${o.pendingChanges} changes pending`);
  }
  if (f.notReady.length > 0) return condition('Ready', false, 'ReplicasNotReady', `unlinked or lagging: ${names(f.notReady)}`);
  if (o.rollout?.refused) return condition('Ready', false, 'UpdateRefused', o.rollout.refused);
  if (o.rollout && o.rollout.outdated.length > 0) {
    return condition('Ready', false, 'RollingUpdate', `${o.rollout.outdated.length} pods run an older revision: ${o.rollout.outdated.join(', ')}`);
  }
  return condition('Ready', true, 'AllReplicasReady', `${o.desiredReplicas} replicas linked and within maxLagSeconds`);
}

function primaryCondition(o: Observation): ConditionUpdate {
  if (o.primary === 'writable') return condition('PrimaryAvailable', true, 'PrimaryWritable', `${o.primaryName} accepts writes`);
  if (o.primary === 'missing') return condition('PrimaryAvailable', false, 'NoPrimary', 'there is no primary pod');
  if (o.primary === 'starting') return condition('PrimaryAvailable', false, 'PrimaryStarting', `${o.primaryName} has not answered yet`);
  return condition('PrimaryAvailable', false, 'PrimaryUnreachable', `${o.primaryName} does not answer as a master`);
}

// A loop comes first: the link is down or syncing most of the time, and the loop says why.
function syncedCondition(o: Observation, f: ReturnType<typeof facts>): ConditionUpdate {
  const loops = o.resyncLoops ?? [];
  if (loops.length > 0) {
    const which = loops.map((l) => `${l.pod} (${l.fullSyncs} full syncs in 10m, away up to ${Math.round(l.longestAwayMs / 1000)}s)`).join(', ');
    return condition('ReplicasSynced', false, 'FullResyncLoop', `full-resync loop: ${which}; the replication backlog covers less than these disconnects`);
  }
  if (f.down.length > 0) return condition('ReplicasSynced', false, 'LinkDown', `link down: ${names(f.down)}`);
  if (f.syncing.length > 0) return condition('ReplicasSynced', false, 'FullSync', `full sync in progress: ${names(f.syncing)}`);
  return condition('ReplicasSynced', true, 'Synced', 'every replica link is up');
}

function progressingCondition(o: Observation, f: ReturnType<typeof facts>): ConditionUpdate {
  if (o.invalidSpec !== undefined) return condition('Progressing', false, 'InvalidSpec', o.invalidSpec);
  if (o.primary === 'missing' || o.primary === 'starting') return condition('Progressing', true, 'Creating', 'the primary is being created');
  if (o.rollout?.refused) return condition('Progressing', false, 'UpdateRefused', o.rollout.refused);
  if (o.rollout?.stalled) return condition('Progressing', false, 'RollingUpdateStalled', o.rollout.stalled);
  if (o.rollout?.supervised) return condition('Progressing', false, 'RollingUpdateSupervised', o.rollout.supervised);
  if (o.rollout && o.rollout.outdated.length > 0) return condition('Progressing', true, 'RollingUpdate', `rolling ${o.rollout.outdated.length} pods onto the current revision`);
  if (f.converging) return condition('Progressing', true, 'Scaling', `${o.pendingChanges} pod changes pending`);
  if (f.syncing.length > 0) return condition('Progressing', true, 'Syncing', `full sync in progress: ${names(f.syncing)}`);
  return condition('Progressing', false, 'Stable', 'the topology matches the spec');
}

// Order of the checks: a refused spec overrules everything (FailingOver is written with the intent of
// a role change, before it acts, and never derived here); then whether anything
// exists yet; then whether work is under way (new pods start with their link down) before a
// link down counts as damage.
function phaseOf(o: Observation, f: ReturnType<typeof facts>, ready: boolean): Phase {
  if (o.invalidSpec !== undefined) return 'Failed';
  if (ready) return 'Ready';
  if (o.primary === 'missing') return f.replicas.length === 0 ? 'Pending' : 'Degraded';
  if (o.primary === 'starting') return f.replicas.length === 0 ? 'Pending' : 'Provisioning';
  if (o.primary === 'unreachable') return 'Degraded';
  if (f.converging || (f.syncing.length > 0 && f.down.length === 0)) return 'Provisioning';
  if (o.rollout && o.rollout.outdated.length > 0 && f.down.length === 0) return 'Provisioning';
  return 'Degraded';
}

export function decidePhase(o: Observation): Decision {
  const f = facts(o);
  const ready = readyCondition(o, f);
  return {
    phase: phaseOf(o, f, ready.status === 'True'),
    conditions: [ready, primaryCondition(o), syncedCondition(o, f), progressingCondition(o, f)],
  };
}
