// Which pod is the primary, and what to do when it is lost: pure decisions over an observation.
import { dataOffset, isBooting, isWritableMaster, type ObservedPod } from './observed.js';

export type LossReason = 'PrimaryDeleted' | 'PrimaryUnreachable' | 'PrimaryRestarted';

export type PrimaryDecision =
  /** No pod exists yet: the planner creates the primary. */
  | { kind: 'create' }
  /** The primary is writable: nothing to do. */
  | { kind: 'ok'; primary: string }
  /** The primary booted and nothing else holds data: make it writable. */
  | { kind: 'promote'; primary: string }
  /** The primary is not answering (yet), or has not started: wait and look again. */
  | { kind: 'wait'; primary: string; message: string }
  | { kind: 'failover'; from: string; to: string; reason: LossReason }
  /** Lost, and no failover is allowed or possible: keep every replica's data, say so. */
  | { kind: 'lost'; primary: string; reason: LossReason; message: string };

export interface PrimaryInput {
  /** The primary as recorded (status, else the role label). */
  recorded: string | undefined;
  /** A failover target written before the promotion (survives an operator restart). */
  target: string | undefined;
  pods: ObservedPod[];
  failoverEnabled: boolean;
  primaryDownSeconds: number;
  /** Since when the recorded primary has been unreachable (ms epoch), if it is. */
  unreachableSinceMs: number | undefined;
  nowMs: number;
}

export function decidePrimary(input: PrimaryInput): PrimaryDecision {
  const { pods } = input;
  const live = pods.filter((p) => !p.deleting);
  if (pods.length === 0) return { kind: 'create' };

  // A promotion whose intent was written before the operator stopped: finish it, unless the target
  // has since restarted empty while another pod holds the data.
  if (input.target && input.target !== input.recorded) {
    const target = live.find((p) => p.name === input.target);
    if (target?.info && !(isBooting(target) && othersHoldData(target, live))) {
      if (!input.recorded) {
        const master = live.find(isWritableMaster);
        return master ? { kind: 'ok', primary: master.name } : promoteIfAllAnswered(target, live);
      }
      const old = pods.find((p) => p.name === input.recorded);
      return { kind: 'failover', from: input.recorded, to: target.name, reason: old && isBooting(old) ? 'PrimaryRestarted' : 'PrimaryUnreachable' };
    }
  }

  const recorded = input.recorded ? pods.find((p) => p.name === input.recorded) : undefined;
  if (!recorded) {
    const master = live.find(isWritableMaster);
    if (master) return { kind: 'ok', primary: master.name };
    if (!input.recorded) {
      const first = [...live].sort((a, b) => a.tier - b.tier || a.index - b.index)[0];
      return first ? startOrWait(first, live) : { kind: 'create' };
    }
    return lost(input, input.recorded, 'PrimaryDeleted', `primary pod ${input.recorded} no longer exists`);
  }
  if (recorded.deleting) return lost(input, recorded.name, 'PrimaryDeleted', `primary pod ${recorded.name} is being deleted`);

  if (isWritableMaster(recorded)) return { kind: 'ok', primary: recorded.name };
  if (recorded.info) {
    if (isBooting(recorded) && othersHoldData(recorded, live)) {
      return lost(input, recorded.name, 'PrimaryRestarted', `primary ${recorded.name} restarted without the data its replicas hold`);
    }
    const master = live.find(isWritableMaster);
    if (master) return { kind: 'ok', primary: master.name };
    return promoteIfAllAnswered(recorded, live);
  }

  if (!recorded.podIP) return { kind: 'wait', primary: recorded.name, message: `waiting for primary pod ${recorded.name} to start` };
  // A crashed container is lost now, not after primaryDownSeconds: it serves nothing, and when it
  // restarts it boots fenced (a replica of nothing), so there is no second writer to fear.
  if (recorded.containerDown) return lost(input, recorded.name, 'PrimaryRestarted', `primary ${recorded.name}'s container is not running`);
  const downFor = input.unreachableSinceMs === undefined ? 0 : input.nowMs - input.unreachableSinceMs;
  if (downFor >= input.primaryDownSeconds * 1000) {
    return lost(input, recorded.name, 'PrimaryUnreachable', `primary ${recorded.name} has not answered for ${Math.round(downFor / 1000)}s`);
  }
  return { kind: 'wait', primary: recorded.name, message: `primary ${recorded.name} is not answering` };
}

function startOrWait(pod: ObservedPod, live: ObservedPod[]): PrimaryDecision {
  if (!pod.info) return { kind: 'wait', primary: pod.name, message: `waiting for primary pod ${pod.name} to start` };
  if (isWritableMaster(pod)) return { kind: 'ok', primary: pod.name };
  const best = chooseCandidate(live, pod.name);
  return promoteIfAllAnswered(best && dataOffset(best) > dataOffset(pod) ? best : pod, live);
}

/** A promotion is safe only when every other running pod answered: one that did not may be a writable
 * master or hold more data (a slow INFO must never let an empty, restarted primary wipe its replicas). */
function promoteIfAllAnswered(pod: ObservedPod, live: ObservedPod[]): PrimaryDecision {
  const silent = live.filter((p) => p.name !== pod.name && p.podIP && !p.info).map((p) => p.name);
  if (silent.length === 0) return { kind: 'promote', primary: pod.name };
  return { kind: 'wait', primary: pod.name, message: `waiting for ${silent.join(', ')} to answer before promoting ${pod.name}` };
}

/** Another pod answered with more data than `primary`. */
function othersHoldData(primary: ObservedPod, live: ObservedPod[]): boolean {
  return live.some((p) => p.name !== primary.name && dataOffset(p) > dataOffset(primary) && dataOffset(p) > 0);
}

function lost(input: PrimaryInput, primary: string, reason: LossReason, message: string): PrimaryDecision {
  if (!input.failoverEnabled) {
    return { kind: 'lost', primary, reason, message: `${message}; failover is disabled, replicas keep their data` };
  }
  const candidate = chooseCandidate(input.pods.filter((p) => !p.deleting), primary);
  if (!candidate) return { kind: 'lost', primary, reason, message: `${message}; no reachable replica to promote` };
  return { kind: 'failover', from: primary, to: candidate.name, reason };
}

/** The reachable replica with the most data, tier 1 before deeper tiers; ties go to the oldest pod. */
export function chooseCandidate(pods: ObservedPod[], exclude: string): ObservedPod | undefined {
  const candidates = pods.filter((p) => p.name !== exclude && !p.deleting && p.info && p.podIP);
  const rank = (p: ObservedPod) => (isBooting(p) ? 1 : 0);
  return candidates.sort(
    (a, b) => rank(a) - rank(b) || Math.max(a.tier, 1) - Math.max(b.tier, 1) || dataOffset(b) - dataOffset(a) || a.index - b.index,
  )[0];
}

/** While the primary is in doubt, look again sooner than the health period: a crashed primary that
 * restarts is seen a few hundred milliseconds later instead of up to a period later. */
export function nextCheckMs(healthIntervalMs: number, decision: PrimaryDecision): number {
  return decision.kind === 'wait' ? Math.min(healthIntervalMs, IN_DOUBT_RECHECK_MS) : healthIntervalMs;
}

const IN_DOUBT_RECHECK_MS = 200;
