// Role changes: first promotion, failover of a lost primary, planned switchover. The decisions
// (who, and what becomes of the old primary) are made in plan/primary.ts; this file carries them
// out. Each writes its intent (status.targetPrimary) right before it promotes, so that an operator
// killed in the middle finishes the change instead of electing another primary; a hand-over writes
// it only once the target caught up, so that an intent always names a pod holding everything the
// old primary acknowledged (or whose loss the decision accepted).
import { isConflict } from '../kube/client.js';
import { ANNOTATION, LABEL } from '../plan/names.js';
import { dataOffset, type ObservedPod } from '../plan/observation.js';
import { retireOldPrimary, type PrimaryDecision } from '../plan/primary.js';
import type { RoleChange } from '../plan/status.js';
import { parseReplication } from '../redis/info.js';
import { replIds } from '../plan/status.js';
import type { RedisTarget } from '../redis/client.js';
import { redisTarget, type Pass } from './pass.js';
import { deletePod, patchPodMeta } from './pods.js';
import { clearIntent, recordPrimary, writeIntent } from './status.js';
import { applyWriteQuorum } from './wiring.js';

// The pause outlasts the catch-up plus the promotion and the demotion (1 s command timeout each):
// the old primary is a replica before its clients can write again.
const SWITCHOVER_PAUSE_MS = 10_000;
const CATCH_UP_TIMEOUT_MS = 5_000;

/** Makes a pod the writable primary: intent first (conditional on an up-to-date view), then
 * REPLICAOF NO ONE, then the write-quorum settings. Resuming a change onto the target its intent
 * names keeps that intent's reason: a hand-over's says the target holds everything the old primary
 * acknowledged (plan/primary.ts latestPrimary), which a plain promotion's does not. Rewritten, a
 * second interruption left each pod waiting for the other (seed 702630). */
export async function promote(pass: Pass, observed: ObservedPod[], name: string): Promise<void> {
  const status = pass.rr.status;
  await writeIntent(pass, name, status?.targetPrimary === name && status.targetReason ? status.targetReason : 'Promotion');
  await makePrimary(pass, observed, name);
  await pass.deps.events.record(pass.rr, 'Normal', 'Promoted', `pod ${name} is the primary`);
}

/** No pod can have this many replicas: a master with it refuses every write (-NOREPLICAS). */
const REFUSE_WRITES = '2147483647';

/** REPLICAOF NO ONE, the record of the new primary, then the write-quorum settings. Until the record
 * is written the new primary refuses writes: a client still connected to it (it was the primary
 * before a switchover, or a client of the read Service) could write the moment it is promoted, and
 * a pass that stopped before the record would leave acknowledged writes on a pod no decision counts
 * as the latest primary (plan/primary.ts latestPrimary; seed 410831). The write-quorum settings that
 * follow the record lift it. */
async function makePrimary(pass: Pass, observed: ObservedPod[], name: string, change?: RoleChange): Promise<void> {
  const target = targetOf(pass, observed, name);
  await pass.deps.redis.configSet(target, 'min-replicas-to-write', REFUSE_WRITES);
  await pass.deps.redis.promote(target);
  await recordPrimary(pass, name, change, await newReplIds(pass, target));
  await applyWriteQuorum(pass, target);
}

export async function failover(pass: Pass, observed: ObservedPod[], decision: Extract<PrimaryDecision, { kind: 'failover' }>): Promise<RoleChange> {
  const { deps, rr } = pass;
  const { from, to, reason } = decision;
  pass.log.warn({ from, to, reason }, 'failing over');
  const retire = retireOldPrimary(observed.find((p) => p.name === from), reason);
  if (retire === 'handOver') {
    // The old primary still takes writes: it is demoted only once the target holds all of them. If
    // it does not catch up, nothing is promoted; the next pass tries again.
    await handOver(pass, observed, from, to, reason);
  } else {
    await writeIntent(pass, to, reason);
    if (retire === 'fence') await deletePod(pass, from, { fence: true });
    await makePrimary(pass, observed, to, { from, to, reason });
  }
  await moveRoleLabels(pass, from, to);
  deps.metrics.countFailover(pass.namespace, pass.name, reason);
  await deps.events.record(rr, 'Warning', 'FailedOver', `primary ${from} lost (${reason}); promoted ${to} (offset ${dataOffset(observed.find((p) => p.name === to)!)})`);
  return { from, to, reason };
}

/** Planned (annotation) or resumed switchover, with no acknowledged write lost. One that fails
 * (the target does not catch up) leaves the old primary in place and says why. */
export async function switchover(pass: Pass, observed: ObservedPod[], from: string, to: string): Promise<RoleChange | 'none'> {
  try {
    await handOver(pass, observed, from, to, 'Switchover');
  } catch (err) {
    // A stale view (the intent's conditional write refused) must not touch the status; nor may a
    // hand-over that moved the role before it failed.
    if (isConflict(err) || err instanceof RoleMoved) throw err;
    await clearIntent(pass);
    await liftRefusal(pass, targetOf(pass, observed, from));
    await pass.deps.events.record(pass.rr, 'Warning', 'SwitchoverFailed', `switchover from ${from} to ${to} failed, ${from} stays the primary: ${(err as Error).message}`);
    return 'none';
  }
  await moveRoleLabels(pass, from, to);
  await pass.deps.events.record(pass.rr, 'Normal', 'Switchover', `switched over from ${from} to ${to}`);
  return { from, to, reason: 'Switchover' };
}

/** A hand-over that failed after its old primary became the target's replica: the role has moved
 * (the target is the one writable pod and holds everything the old primary acknowledged), only its
 * record is missing. The intent stays, naming the target: the next pass adopts it. Cleared, status
 * would name the old primary, a replica now, and once the target restarted from its volume (offset
 * 0) nothing would tell which volume is newer: the decision would wait for ever (seed 324225). */
class RoleMoved extends Error {}

/** Pause writes on the old primary, wait until the new one holds all of them, record the intent,
 * promote it and make the old one its replica before the pause ends: at no moment do two pods take
 * writes. A target that does not replicate from the old primary (a deeper tier, one whose parent
 * went away, or a master an interrupted hand-over promoted and left behind: plan/primary.ts
 * staleMaster) is pointed at it first: it could never catch up otherwise. Promoted by a hand-over
 * that never recorded it, that master took no write of its own (makePrimary: none before a record). */
async function handOver(pass: Pass, observed: ObservedPod[], from: string, to: string, reason: string): Promise<void> {
  const { redis } = pass.deps;
  const old = targetOf(pass, observed, from);
  const next = targetOf(pass, observed, to);
  const info = observed.find((p) => p.name === to)?.info;
  // An intent already in status (a hand-over interrupted before its promotion) said a target caught
  // up with the old primary paused then. The old primary is writable now and may have taken writes
  // since: that intent must not outlive this attempt, which unpauses it when it fails (its own
  // intent write may be refused with 409, which leaves status as it is; seed 783783). Cleared first,
  // conditional on this pass's view: a stale view stops here, before any pause.
  if (pass.rr.status?.targetPrimary) await clearIntent(pass, pass.resourceVersion);
  let step: 'catchUp' | 'intent' | 'promote' | 'demoted' = 'catchUp';
  try {
    if (!(info?.role === 'replica' && info.masterHost === old.host)) await redis.replicaOf(next, old.host);
    await pauseAndCatchUp(pass, old, next);
    // The intent says the target holds everything the old primary acknowledged: true only while the
    // old primary takes no write, and the pause ends by itself (an operator killed now, the old
    // primary wrote again once it ended, then was lost at once: the target was adopted without those
    // writes). The refusal lasts until a pass lifts it with no intent standing (switchover below, or
    // a settled pass: wiring.ts applyConfig, after reconcile.ts cleared a stale intent), or until
    // the old primary is promoted again (makePrimary).
    step = 'intent';
    await redis.configSet(old, 'min-replicas-to-write', REFUSE_WRITES);
    pass.memory.configured?.delete(old.host);
    await writeIntent(pass, to, reason);
    step = 'promote';
    // As in makePrimary: no write before a record names it (clients that reach the target, through
    // the read Service, could write the moment it is promoted; seed 606862). applyWriteQuorum lifts it.
    await redis.configSet(next, 'min-replicas-to-write', REFUSE_WRITES);
    await redis.promote(next);
    await redis.replicaOf(old, next.host);
    step = 'demoted';
    await recordPrimary(pass, to, { from, to, reason }, await newReplIds(pass, next));
  } catch (err) {
    // An intent write refused (409) left status without one (any earlier intent was cleared above).
    if (step === 'intent' && isConflict(err)) await liftRefusal(pass, old);
    // A demotion that failed may have been made all the same (the reply lost): the old primary
    // says. One that says nothing is taken as not made: it goes on as the primary.
    if (!isConflict(err) && (step === 'demoted' || (step === 'promote' && (await isReplicaOf(pass, old, next))))) {
      throw new RoleMoved(`${from} is a replica of ${to}, the change is not recorded yet: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  } finally {
    await redis.unpause(old).catch(() => undefined);
  }
  await applyWriteQuorum(pass, next);
}

/** The write quorum back on a hand-over's old primary once no intent vouches for its target. One
 * that does not answer keeps refusing until the next settled pass configures it (handOver made
 * wiring.ts applyConfig forget it). */
async function liftRefusal(pass: Pass, old: RedisTarget): Promise<void> {
  await applyWriteQuorum(pass, old).catch(() => undefined);
}

/** Pauses writes on the primary, then waits until the replica holds everything it acknowledged. */
async function pauseAndCatchUp(pass: Pass, primary: RedisTarget, replica: RedisTarget): Promise<void> {
  const { deps } = pass;
  await deps.redis.pauseWrites(primary, SWITCHOVER_PAUSE_MS);
  const deadline = deps.now() + CATCH_UP_TIMEOUT_MS;
  const primaryInfo = parseReplication(await deps.redis.info(primary));
  let linked = false;
  for (;;) {
    const info = parseReplication(await deps.redis.info(replica));
    const ofPrimary = info.role === 'replica' && info.masterHost === primary.host;
    // Linked to this primary now: an offset from an earlier link (or another history) proves nothing.
    if (ofPrimary && info.linkUp && info.replicaOffset >= primaryInfo.replOffset) return;
    // The link dropped: the old primary went away (a deleted pod's Redis exits on SIGTERM once its
    // replicas have caught up). No use waiting out the timeout: the next pass fails over.
    if (linked && ofPrimary && !info.linkUp) throw new Error(`switchover: ${primary.host} went away during the hand-over`);
    linked ||= ofPrimary && info.linkUp;
    if (deps.now() > deadline) throw new Error(`switchover: ${replica.host} did not catch up within ${CATCH_UP_TIMEOUT_MS} ms`);
    await deps.sleep(20);
  }
}

/** Demotes the old primary's labels before promoting the new one's, so `<name>-primary` never
 * selects two pods. */
async function moveRoleLabels(pass: Pass, from: string, to: string): Promise<void> {
  await patchPodMeta(pass, from, { [LABEL.role]: 'replica', [LABEL.read]: 'false', [LABEL.tier]: '1' }, {});
  await patchPodMeta(pass, to, { [LABEL.role]: 'primary', [LABEL.tier]: '0' }, { [ANNOTATION.parent]: null });
}

/** The replication IDs a pod took when it was promoted, recorded with it: its followers from now on
 * carry the new one, and a later failover that read the old primary's IDs from status would not
 * count them as followers (it would wait for ever on a pod that restarted empty). Unknown when the
 * pod stops answering right after the promotion: the IDs recorded before stay. */
async function newReplIds(pass: Pass, target: RedisTarget): Promise<string[] | undefined> {
  const info = await pass.deps.redis.info(target).then(parseReplication, () => undefined);
  return info?.role === 'master' ? replIds(info) : undefined;
}

/** `pod` answers as a replica of `parent` (no answer: not known to be). */
async function isReplicaOf(pass: Pass, pod: RedisTarget, parent: RedisTarget): Promise<boolean> {
  const info = await pass.deps.redis.info(pod).then(parseReplication, () => undefined);
  return info?.role === 'replica' && info.masterHost === parent.host;
}

function targetOf(pass: Pass, observed: ObservedPod[], name: string): RedisTarget {
  const pod = observed.find((p) => p.name === name);
  if (!pod?.podIP) throw new Error(`pod ${name} has no IP`);
  return redisTarget(pass, pod.podIP);
}
