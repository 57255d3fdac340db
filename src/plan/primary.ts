// Who should be the primary: the first promotion, failover of a lost primary (and what becomes of
// the old one), a planned or resumed switchover. Pure decisions over an observation.
//
// The safety rules (docs/failover-and-safety.md, "The invariants"):
// - a pod is promoted only if no other pod that may come back (silent, frozen, restarting, or
//   waiting to be re-created on its volume) may hold data it lacks. The one accepted loss is the
//   unreplicated tail of a lost primary, when its most up-to-date linked replica takes over; a
//   user may also accept more after `failover.acceptDataLossAfterSeconds`;
// - a replica that restarted (booting) knows nothing of the primary's stream: it is promoted only
//   when every pod answered and nothing else can hold more;
// - with persistence, a pod's volume is its data: a restarted primary is promoted again (its
//   append-only file holds what it acknowledged), and a primary whose pod is gone is re-created on
//   its volume when no linked replica can take over;
// - an existing writable master is adopted before anything is promoted;
// - a change recorded as intent (status.targetPrimary) is finished; if the old primary is a
//   healthy writable master, only as a switchover (catch-up first), never by fencing it.
import { dataOffset, isBooting, isWritableMaster, type ObservedPod } from './observation.js';

export type LossReason = 'PrimaryDeleted' | 'PrimaryUnreachable' | 'PrimaryRestarted';

export type PrimaryDecision =
  /** No pod exists yet: the planner creates the primary. */
  | { kind: 'create' }
  /** The primary is writable: nothing to do. */
  | { kind: 'ok'; primary: string }
  /** The primary booted and nothing else holds data: make it writable. */
  | { kind: 'promote'; primary: string }
  /** The primary is not answering (yet), is being re-created, or a promotion must wait: look again. */
  | { kind: 'wait'; primary: string; message: string }
  | { kind: 'failover'; from: string; to: string; reason: LossReason }
  /** Hand the role over from a writable primary: pause, let the target catch up, then move. */
  | { kind: 'switchover'; from: string; to: string }
  | { kind: 'refuseSwitchover'; primary: string; message: string }
  /** Lost, and no failover is allowed or possible: keep every replica's data, say so. */
  | { kind: 'lost'; primary: string; reason: LossReason; message: string };

export interface PrimaryInput {
  /** The primary as recorded (status, else the role label). */
  recorded: string | undefined;
  /** A role change written before it was made (survives an operator restart). */
  target: string | undefined;
  /** That intent was written by a hand-over, once the target held all the old primary acknowledged
   * (a switchover: the old primary was paused, then demoted). */
  targetCaughtUp?: boolean;
  /** A switchover asked for by annotation: a pod name or `auto`. */
  switchoverRequest?: string | undefined;
  pods: ObservedPod[];
  /** Pods whose data lives on a claim (persistence): their data survives restarts and re-creation. */
  claims?: ReadonlySet<string>;
  failoverEnabled: boolean;
  primaryDownSeconds: number;
  /** After this long in doubt, a failover may lose more than a lost primary's tail (opt-in). */
  acceptDataLossAfterSeconds?: number | undefined;
  /** master_replid (and replid2) of the primary when last seen writable: its replicas carry one; a
   * pod that does not never followed its stream (it restarted from an older volume, not synced since). */
  primaryReplIds?: readonly string[] | undefined;
  /** Since when the recorded primary has been unreachable (ms epoch), if it is. */
  unreachableSinceMs: number | undefined;
  /** Since when a hand-over's target (`targetCaughtUp`) has had an IP but no answer, if it has. */
  targetUnreachableSinceMs?: number | undefined;
  /** Since when the primary has not been a writable master (ms epoch), if it has not. */
  inDoubtSinceMs?: number | undefined;
  nowMs: number;
}

export function decidePrimary(input: PrimaryInput): PrimaryDecision {
  const { pods } = input;
  const live = pods.filter((p) => !p.deleting);
  const claims = input.claims ?? new Set<string>();
  if (pods.length === 0) {
    // Every pod is gone. With persistence, the primary comes back on its volume under its name.
    if (input.recorded && claims.has(input.recorded)) return { kind: 'wait', primary: input.recorded, message: `re-creating primary ${input.recorded} on its volume` };
    return { kind: 'create' };
  }

  const recorded = input.recorded ? pods.find((p) => p.name === input.recorded) : undefined;
  const target = input.target && input.target !== input.recorded ? live.find((p) => p.name === input.target) : undefined;

  // A writable primary: nothing to decide, but a requested switchover or an interrupted role change.
  if (recorded && !recorded.deleting && isWritableMaster(recorded)) {
    // A hand-over that promoted its target and stopped before demoting the old primary (paused since
    // the target caught up): the target holds everything, and clients that still reach it may have
    // written to it since. It is the primary; the old one is demoted under it.
    if (input.targetCaughtUp && target && isWritableMaster(target) && !staleMaster(target, pods, input)) return { kind: 'ok', primary: target.name };
    // The same hand-over's target silent: it may have been promoted, and clients that reach it may
    // write to it. The old primary, paused, must not take writes again beside it (nor be handed over
    // from, which unpauses it at the end): it holds everything the target caught up with, so once the
    // target has been silent for primaryDownSeconds the role comes back to it, the target fenced (a
    // failover from the target; seed 440073).
    if (input.targetCaughtUp && target && !target.info && target.podIP && !(target.containerDown && !claims.has(target.name))) {
      return interruptedHandOver(recorded, target, live, claims, input);
    }
    if (target && isLinkedTo(target, recorded)) return { kind: 'switchover', from: recorded.name, to: target.name };
    if (input.switchoverRequest) {
      const choice = chooseSwitchover(pods, recorded.name, input.switchoverRequest);
      return choice.kind === 'switch'
        ? { kind: 'switchover', from: recorded.name, to: choice.to.name }
        : { kind: 'refuseSwitchover', primary: recorded.name, message: choice.message };
    }
    // Its node is being drained: hand the role to a replica on another node first (the primary's
    // disruption budget holds the eviction until the role has moved).
    if (recorded.draining) {
      const choice = chooseSwitchover(pods.filter((p) => !p.draining), recorded.name, 'auto');
      if (choice.kind === 'switch') return { kind: 'switchover', from: recorded.name, to: choice.to.name };
    }
    return { kind: 'ok', primary: recorded.name };
  }

  // Another writable master (promoted by a change the status does not show yet): adopt it, never
  // promote a second one.
  // Not one the recorded history left behind (staleMaster).
  const master = chooseCandidate(live.filter((p) => isWritableMaster(p) && !staleMaster(p, pods, input)), input.recorded ?? '');
  if (master) return { kind: 'ok', primary: master.name };

  // A hand-over's target holds everything (latestPrimary): gone with its volume, it is re-created on
  // it, as a lost primary would be.
  if (input.targetCaughtUp && input.target && !pods.some((p) => p.name === input.target) && claims.has(input.target)) {
    return { kind: 'wait', primary: input.target, message: `re-creating ${input.target}, the target of a switchover, on its volume` };
  }

  // A change whose intent was written before the operator stopped: finish it onto its target, unless
  // another pod may hold more than the target. Restarted from its volume, the target's offset says
  // nothing of what it holds: it is promoted only if no other pod may hold more, the old primary
  // back on its volume included (the target of a failover, never recorded, never acknowledged a
  // write of its own: latestPrimary), or waited for while its pod is re-created on it; the tail of
  // an old primary that is silent was given up. Otherwise the change is decided again.
  if (target?.info && isBooting(target) && claims.has(target.name)) {
    if (!input.recorded) return promoteIfSafe(target, live, claims, input);
    const doubts = mayHoldMore(target, live, claims, latestPrimary(input), givenUp(recorded, claims, input));
    if (doubts.length === 0 || acceptsLoss(input)) return { kind: 'promote', primary: target.name };
  }
  if (target?.info && !isBooting(target)) {
    if (!input.recorded) return promoteIfSafe(target, live, claims, input);
    const reason: LossReason = !recorded ? 'PrimaryDeleted' : recorded.deleting ? 'PrimaryDeleted' : isBooting(recorded) || recorded.containerDown ? 'PrimaryRestarted' : 'PrimaryUnreachable';
    // Finished by a hand-over, the target first catches up with the old primary. Otherwise it is
    // promoted with what it holds: not if another pod may hold more since (it kept syncing from the
    // old primary, the hand-over failed, or the old primary is back on its volume with the tail the
    // failover gave up while it was silent or gone), as a fresh decision would not; ties keep the
    // target. After a hand-over no pod holds more than its target: every one's data comes from the
    // stream the target caught up with (the old primary is no longer writable here).
    if ((input.targetCaughtUp && !staleMaster(target, pods, input)) || retireOldPrimary(recorded, reason) === 'handOver' || mayHoldMore(target, live, claims, latestPrimary(input), givenUp(recorded, claims, input)).length === 0) {
      return { kind: 'failover', from: input.recorded, to: target.name, reason };
    }
  }

  if (!recorded) {
    if (!input.recorded) {
      const first = [...live].sort((a, b) => a.tier - b.tier || a.index - b.index)[0];
      return first ? startOrWait(first, live, claims, input) : { kind: 'create' };
    }
    const gone = `primary pod ${input.recorded} no longer exists`;
    return lost(input, input.recorded, 'PrimaryDeleted', gone, claims.has(input.recorded) ? 'recreate' : 'none');
  }
  // Being deleted: hand over to a linked replica. While it still runs, it is the one that holds the
  // data: nothing else is promoted in its place.
  if (recorded.deleting) {
    // Restarted from its volume and being deleted: it comes back on that volume with the most data.
    if (isBooting(recorded) && claims.has(recorded.name)) return { kind: 'wait', primary: recorded.name, message: `primary ${recorded.name} restarted and is being deleted; it is re-created on its volume` };
    // Silent while being deleted: without a volume its process is gone or going (SIGTERM), and its
    // data with it, so a linked replica takes over at once. With a volume it may still hold more:
    // give it primaryDownSeconds, as for an unreachable primary.
    if (claims.has(recorded.name) && recorded.podIP && !recorded.info && !recorded.containerDown && downFor(input) < input.primaryDownSeconds * 1000) {
      return { kind: 'wait', primary: recorded.name, message: `primary ${recorded.name} is being deleted and does not answer` };
    }
    return lost(input, recorded.name, 'PrimaryDeleted', `primary pod ${recorded.name} is being deleted`, recorded.podIP ? 'wait' : 'none');
  }

  if (recorded.info) {
    // With persistence a restarted primary loaded its append-only file: it holds what it
    // acknowledged, more than any replica. Without, it lost everything a replica may hold.
    if (isBooting(recorded) && !claims.has(recorded.name) && othersHoldData(recorded, live)) {
      return lost(input, recorded.name, 'PrimaryRestarted', `primary ${recorded.name} restarted without the data its replicas hold`, 'none');
    }
    return promoteIfSafe(recorded, live, claims, input);
  }

  if (!recorded.podIP) return { kind: 'wait', primary: recorded.name, message: `waiting for primary pod ${recorded.name} to start` };
  // A crashed container is lost now, not after primaryDownSeconds: it serves nothing, and when it
  // restarts it boots fenced (a replica of nothing), so there is no second writer to fear. With
  // persistence it comes back with its data: give it primaryDownSeconds like an unreachable one.
  if (recorded.containerDown && !claims.has(recorded.name)) {
    return lost(input, recorded.name, 'PrimaryRestarted', `primary ${recorded.name}'s container is not running`, 'none');
  }
  if (downFor(input) >= input.primaryDownSeconds * 1000) {
    return lost(input, recorded.name, 'PrimaryUnreachable', `primary ${recorded.name} has not answered for ${Math.round(downFor(input) / 1000)}s`, 'wait');
  }
  return { kind: 'wait', primary: recorded.name, message: `primary ${recorded.name} is not answering` };
}

/** The recorded primary whose tail an interrupted change may give up: silent for primaryDownSeconds,
 * as a fresh failover would require (it may have come back and taken writes since the intent was
 * written, then gone silent again), or its container down with no volume to bring the data back. */
function givenUp(recorded: ObservedPod | undefined, claims: ReadonlySet<string>, input: PrimaryInput): string | undefined {
  if (!recorded || recorded.info) return undefined;
  const dataGone = recorded.containerDown && !claims.has(recorded.name);
  return dataGone || downFor(input) >= input.primaryDownSeconds * 1000 ? recorded.name : undefined;
}

/**
 * A master the recorded history left behind, never to be adopted as the primary:
 * - one on a stream the recorded primary's promotion replaced (its replication ID is the recorded
 *   primary's replid2): an old primary a hand-over or failover never demoted, holding at most what
 *   the recorded primary started from, and its own tail, lost with it (seed 427879);
 * - one promoted from that same replaced stream, a sibling of the recorded primary (a hand-over's
 *   target promoted, then another hand-over from the old primary recorded), unless it is the target
 *   of the intent in status: the recorded primary's writes since are not in it;
 * - one promoted from the recorded primary's stream (its replid2) while a pod still on that stream
 *   holds more than it: the recorded primary went on taking writes after it (a hand-over's old
 *   primary unpaused), which it lacks (seed 440073).
 * Unknown recorded IDs (a status from before they were recorded) leave every master adoptable.
 */
function staleMaster(pod: ObservedPod, pods: ObservedPod[], input: PrimaryInput): boolean {
  const ids = input.primaryReplIds;
  const info = pod.info;
  if (!ids || ids.length === 0 || info?.role !== 'master') return false;
  const replaced = ids.slice(1);
  if (replaced.includes(info.replId)) return true;
  if (info.replId2 !== undefined && replaced.includes(info.replId2) && pod.name !== input.target) return true;
  return info.replId2 === ids[0] && pods.some((p) => p.name !== pod.name && p.info?.replId === ids[0] && dataOffset(p) > dataOffset(pod));
}

/** A hand-over promoted its target (or was about to) and stopped before demoting the old primary,
 * still a writable master; the target does not answer. Wait for it primaryDownSeconds; then give the
 * role back to the old primary, unless another pod may hold more than it (one that followed the
 * target since its promotion). */
function interruptedHandOver(old: ObservedPod, target: ObservedPod, live: ObservedPod[], claims: ReadonlySet<string>, input: PrimaryInput): PrimaryDecision {
  const silentMs = input.targetUnreachableSinceMs === undefined ? 0 : input.nowMs - input.targetUnreachableSinceMs;
  const waiting = `${target.name}, the target of an interrupted switchover, does not answer and may have been promoted`;
  if (silentMs < input.primaryDownSeconds * 1000) return { kind: 'wait', primary: old.name, message: waiting };
  const doubts = mayHoldMore(old, live, claims, old.name, target.name);
  if (doubts.length > 0 && !acceptsLoss(input)) return { kind: 'wait', primary: old.name, message: `${waiting}; waiting for ${doubts.join(', ')} to answer before giving the role back to ${old.name}` };
  return { kind: 'failover', from: target.name, to: old.name, reason: 'PrimaryUnreachable' };
}

function downFor(input: PrimaryInput): number {
  return input.unreachableSinceMs === undefined ? 0 : input.nowMs - input.unreachableSinceMs;
}

function startOrWait(pod: ObservedPod, live: ObservedPod[], claims: ReadonlySet<string>, input: PrimaryInput): PrimaryDecision {
  if (!pod.info) return { kind: 'wait', primary: pod.name, message: `waiting for primary pod ${pod.name} to start` };
  const best = chooseCandidate(live, pod.name);
  return promoteIfSafe(best && dataOffset(best) > dataOffset(pod) ? best : pod, live, claims, input);
}

/** Pods other than `pod` (and `exclude`) that may hold data `pod` lacks: they did not answer
 * (running, or to be re-created on a volume), restarted from a volume (their offset says nothing:
 * Redis reports offset 0 after loading an append-only file), or hold more. Of two pods restarted
 * from their volumes, the latest primary (`latest`) holds everything the other was sent, whatever
 * their offsets or labels say (a pod re-created on its volume has the labels of its new place);
 * else the lower tier is the nearer to the primary's stream. */
function mayHoldMore(pod: ObservedPod, others: ObservedPod[], claims: ReadonlySet<string>, latest: string | undefined, exclude?: string): string[] {
  const fromVolume = (p: ObservedPod) => isBooting(p) && claims.has(p.name);
  const restartedPrimary = pod.name === latest && fromVolume(pod);
  const doubts = others.filter((p) => {
    if (p.name === pod.name || p.name === exclude) return false;
    if (!p.info) return Boolean(p.podIP) || claims.has(p.name);
    if (restartedPrimary) return false;
    if (fromVolume(p)) return !fromVolume(pod) || p.name === latest || (pod.name !== latest && p.tier < pod.tier);
    return dataOffset(p) > dataOffset(pod) && dataOffset(p) > 0;
  });
  // Volumes whose pod is gone (it is re-created on them) hold data nobody can see yet.
  const waiting = restartedPrimary ? [] : [...claims].filter((c) => c !== pod.name && c !== exclude && !others.some((p) => p.name === c));
  return [...doubts.map((p) => p.name), ...waiting];
}

/** Promotes `pod` only when no other pod may hold more data; otherwise waits, or after the opt-in
 * delay promotes anyway. */
function promoteIfSafe(pod: ObservedPod, live: ObservedPod[], claims: ReadonlySet<string>, input: PrimaryInput): PrimaryDecision {
  const doubts = mayHoldMore(pod, live, claims, latestPrimary(input));
  if (doubts.length === 0 || acceptsLoss(input)) return { kind: 'promote', primary: pod.name };
  return { kind: 'wait', primary: pod.name, message: `waiting for ${doubts.join(', ')} to answer before promoting ${pod.name}` };
}

/** The pod that holds everything any other pod was sent: the target of a hand-over (it caught up
 * with the old primary, paused, before its intent was written), else the recorded primary, else the
 * target of the first promotion. A promoted pod is recorded as soon as it is writable, before
 * clients can reach it (controller/roles.ts), so the target of a failover that differs from the
 * recorded primary never acknowledged a write: it holds only what the recorded primary sent it. */
function latestPrimary(input: PrimaryInput): string | undefined {
  return input.targetCaughtUp && input.target ? input.target : (input.recorded ?? input.target);
}

function acceptsLoss(input: PrimaryInput): boolean {
  const after = input.acceptDataLossAfterSeconds;
  return after !== undefined && input.inDoubtSinceMs !== undefined && input.nowMs - input.inDoubtSinceMs >= after * 1000;
}

/** Another pod answered with more data than `primary`. */
function othersHoldData(primary: ObservedPod, live: ObservedPod[]): boolean {
  return live.some((p) => p.name !== primary.name && dataOffset(p) > dataOffset(primary) && dataOffset(p) > 0);
}

/**
 * The primary is lost. Fail over to its most up-to-date replica that followed its stream, if no
 * other pod may hold more; else wait (`otherwise`: 'recreate' re-creates the primary on its volume,
 * 'wait' waits for it), or report it lost when nothing can be done.
 */
function lost(input: PrimaryInput, primary: string, reason: LossReason, message: string, otherwise: 'recreate' | 'wait' | 'none'): PrimaryDecision {
  if (!input.failoverEnabled) {
    if (otherwise === 'recreate') return { kind: 'wait', primary, message: `${message}; re-creating it on its volume (failover is disabled)` };
    return { kind: 'lost', primary, reason, message: `${message}; failover is disabled, replicas keep their data` };
  }
  const claims = input.claims ?? new Set<string>();
  const others = input.pods.filter((p) => !p.deleting && p.name !== primary);
  // Followers of the lost primary's stream hold a prefix of what it acknowledged; a booting pod, or
  // one restarted from an older volume and not synced since, may hold anything.
  // The lost primary's own answer names its stream best; else the one status recorded.
  const lostInfo = input.pods.find((p) => p.name === primary)?.info;
  const lineage = lostInfo?.role === 'master' ? [lostInfo.replId, ...(lostInfo.replId2 ? [lostInfo.replId2] : [])] : input.primaryReplIds;
  // A pod whose replid2 is of that stream continues it through a promotion: the target of a failover
  // from it, promoted but not recorded, and that target's replicas (seed 402059).
  // A stale master is none (staleMaster): it would bring back a history the recorded one replaced.
  const followers = others.filter(
    (p) => p.info && !isBooting(p) && !staleMaster(p, input.pods, input) && (lineage === undefined || lineage.includes(p.info.replId) || (p.info.replId2 !== undefined && lineage.includes(p.info.replId2))),
  );
  const candidate = chooseCandidate(followers.length > 0 ? followers : others, primary);
  const waiting = (why: string): PrimaryDecision =>
    otherwise === 'recreate'
      ? { kind: 'wait', primary, message: `${message}; re-creating it on its volume (${why})` }
      : otherwise === 'wait'
        ? { kind: 'wait', primary, message: `${message}; ${why}` }
        : { kind: 'lost', primary, reason, message: `${message}; ${why}` };
  if (!candidate) return waiting('no reachable replica to promote');
  // A pod that did not follow the lost primary's stream may stand in only when the lost primary's
  // data is gone for good (no volume, not running) and every other pod is known.
  if (!followers.includes(candidate) && (otherwise !== 'none' || claims.has(primary)) && !acceptsLoss(input)) {
    return waiting(`${candidate.name} did not follow ${primary}'s stream and may hold less`);
  }
  // A pod restarted from its volume and pointed at a parent, not synced since, still holds what its
  // append-only file held: its offset (0 after loading it) and its replication ID say nothing of
  // that, as while it was booting.
  const unsynced = others.filter((p) => p !== candidate && claims.has(p.name) && p.info && !isBooting(p) && !followers.includes(p) && dataOffset(p) === 0);
  const doubts = [...mayHoldMore(candidate, others, claims, latestPrimary(input), primary), ...unsynced.map((p) => p.name)];
  if (doubts.length > 0 && !acceptsLoss(input)) return waiting(`waiting for ${doubts.join(', ')} to answer before promoting ${candidate.name}`);
  return { kind: 'failover', from: primary, to: candidate.name, reason };
}

/** A replica linked to `primary`'s stream. */
function isLinkedTo(pod: ObservedPod, primary: ObservedPod): boolean {
  return pod.info?.role === 'replica' && pod.info.linkUp && pod.info.masterHost === primary.podIP;
}

/** The reachable pod with the most data (booting pods last: their offset says nothing); ties go to
 * tier 1 before deeper tiers, then to the oldest pod. */
export function chooseCandidate(pods: ObservedPod[], exclude: string): ObservedPod | undefined {
  const candidates = pods.filter((p) => p.name !== exclude && !p.deleting && p.info && p.podIP);
  const rank = (p: ObservedPod) => (isBooting(p) ? 1 : 0);
  return candidates.sort(
    (a, b) => rank(a) - rank(b) || dataOffset(b) - dataOffset(a) || Math.max(a.tier, 1) - Math.max(b.tier, 1) || a.index - b.index,
  )[0];
}

export type SwitchoverChoice = { kind: 'switch'; to: ObservedPod } | { kind: 'refuse'; message: string };

/** The replica a switchover request (`auto` or a pod name) goes to, or why it is refused. */
export function chooseSwitchover(pods: ObservedPod[], primary: string, wanted: string): SwitchoverChoice {
  const chosen =
    wanted === 'auto' ? chooseCandidate(pods.filter((p) => p.tier === 1 && p.parent === primary), primary) : pods.find((p) => p.name === wanted);
  if (!chosen) return { kind: 'refuse', message: wanted === 'auto' ? 'no replica to switch over to' : `switchover to ${wanted}: no such pod` };
  if (chosen.name === primary) return { kind: 'refuse', message: `switchover to ${wanted}: it is already the primary` };
  // It is going away, and its volume with it when scaled down: the primary would be left on nothing.
  if (chosen.deleting) return { kind: 'refuse', message: `switchover to ${wanted}: it is being deleted` };
  if (chosen.tier !== 1 || chosen.parent !== primary) return { kind: 'refuse', message: `switchover to ${wanted}: only a tier-1 replica of the primary can take over` };
  if (chosen.info?.role !== 'replica' || !chosen.info.linkUp) return { kind: 'refuse', message: `switchover to ${wanted}: its replication link is not up` };
  return { kind: 'switch', to: chosen };
}

/**
 * What happens to the old primary in a failover:
 * - handOver: it is being deleted gracefully and still takes writes: pause them and let the target
 *   catch up first, as a switchover does, so that no acknowledged write is lost;
 * - fence: it was unreachable and may still be running and writable: delete its pod at once;
 * - keep: it restarted (booted fenced, a replica of nothing) or is already gone.
 */
export function retireOldPrimary(old: ObservedPod | undefined, reason: LossReason): 'handOver' | 'fence' | 'keep' {
  if (old?.deleting && old.podIP && isWritableMaster(old)) return 'handOver';
  if (old && !old.deleting && reason !== 'PrimaryRestarted') return 'fence';
  return 'keep';
}
