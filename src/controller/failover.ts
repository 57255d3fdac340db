// Role changes: first promotion, failover of a lost primary, planned switchover.
// Each writes its intent (status.targetPrimary) before it promotes, so that an operator killed in
// the middle finishes the change instead of electing another primary.
import type { V1Pod } from '@kubernetes/client-node';
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import type { RedisTarget } from '../redis/client.js';
import { parseReplication } from '../redis/info.js';
import { deletePod, patchPodMeta, patchStatus, removeAnnotation } from './actions.js';
import type { Deps } from './deps.js';
import { ANNOTATION, LABEL } from './names.js';
import { dataOffset, isWritableMaster, type ObservedPod } from './observed.js';
import { chooseCandidate, type PrimaryDecision } from './primary.js';

export interface RoleChange {
  from: string;
  to: string;
  reason: string;
}

const SWITCHOVER_PAUSE_MS = 10_000;
const CATCH_UP_TIMEOUT_MS = 5_000;

/** Makes a pod the writable primary: REPLICAOF NO ONE, then the write-quorum settings. */
export async function promote(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  name: string,
  password: string | undefined,
): Promise<void> {
  const target = targetOf(observed, name, password);
  await deps.redis.promote(target);
  await applyWriteQuorum(deps, spec, target);
  await deps.events.record(rr, 'Normal', 'Promoted', `pod ${name} is the primary`);
}

export async function applyWriteQuorum(deps: Deps, spec: RedisReplicationSpec, target: RedisTarget): Promise<void> {
  const quorum = spec.writeQuorum;
  await deps.redis.configSet(target, 'min-replicas-to-write', String(quorum?.minReplicas ?? 0));
  await deps.redis.configSet(target, 'min-replicas-max-lag', String(quorum?.maxLagSeconds ?? 10));
}

export async function failover(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  decision: Extract<PrimaryDecision, { kind: 'failover' }>,
  password: string | undefined,
): Promise<RoleChange> {
  const { from, to, reason } = decision;
  deps.log.warn({ resource: `${rr.metadata.namespace}/${rr.metadata.name}`, from, to, reason }, 'failing over');
  await patchStatus(deps, rr, { targetPrimary: to, phase: 'FailingOver' });
  faultPoint('failover-intent');
  const old = observed.find((p) => p.name === from);
  const handOver = old?.deleting && old.podIP && isWritableMaster(old);
  if (handOver) {
    // A primary being deleted gracefully still answers: stop its writes and let the target catch
    // up first, as a switchover does, so that no acknowledged write is lost.
    await pauseAndCatchUp(deps, targetOf(observed, from, password), targetOf(observed, to, password)).catch((err: unknown) =>
      deps.log.warn({ from, to, err: String(err) }, 'hand-over from the deleted primary incomplete'),
    );
  } else if (old && !old.deleting && reason !== 'PrimaryRestarted') {
    // A primary that was unreachable may still be running and writable: fence it by deleting its
    // pod at once. A restarted primary booted fenced (replica of nothing) and can stay.
    await deletePod(deps, rr, from, { fence: true });
  }
  await promote(deps, rr, spec, observed, to, password);
  faultPoint('failover-promoted');
  if (handOver) await deps.redis.replicaOf(targetOf(observed, from, password), targetOf(observed, to, password).host).catch(() => undefined);
  await moveRoleLabels(deps, rr, from, to);
  deps.metrics.countFailover(rr.metadata.namespace, rr.metadata.name, reason);
  await deps.events.record(rr, 'Warning', 'FailedOver', `primary ${from} lost (${reason}); promoted ${to} (offset ${dataOffset(observed.find((p) => p.name === to)!)})`);
  return { from, to, reason };
}

/** Planned switchover (annotation): pause writes, wait for the target to catch up, promote, re-point, release. */
export async function switchover(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  primary: string,
  wanted: string,
  password: string | undefined,
): Promise<RoleChange | undefined> {
  const chosen =
    wanted === 'auto'
      ? chooseCandidate(observed.filter((p) => p.tier === 1 && p.parent === primary), primary)
      : observed.find((p) => p.name === wanted);
  const refusal = switchoverRefusal(chosen, wanted, primary);
  await removeAnnotation(deps, rr, ANNOTATION.switchover);
  if (refusal || !chosen) {
    await deps.events.record(rr, 'Warning', 'SwitchoverRefused', refusal ?? `no replica to switch over to`);
    return undefined;
  }
  const old = targetOf(observed, primary, password);
  const next = targetOf(observed, chosen.name, password);
  let switched = false;
  try {
    await pauseAndCatchUp(deps, old, next);
    await patchStatus(deps, rr, { targetPrimary: chosen.name, phase: 'FailingOver' });
    await deps.redis.promote(next);
    await applyWriteQuorum(deps, spec, next);
    await moveRoleLabels(deps, rr, primary, chosen.name);
    await deps.redis.replicaOf(old, next.host);
    switched = true;
  } finally {
    await deps.redis.command(old, ['CLIENT', 'UNPAUSE']).catch(() => undefined);
  }
  if (switched) await deps.events.record(rr, 'Normal', 'Switchover', `switched over from ${primary} to ${chosen.name}`);
  return { from: primary, to: chosen.name, reason: 'Switchover' };
}

function switchoverRefusal(chosen: ObservedPod | undefined, wanted: string, primary: string): string | undefined {
  if (!chosen) return `switchover to ${wanted}: no such pod`;
  if (chosen.name === primary) return `switchover to ${wanted}: it is already the primary`;
  if (chosen.tier !== 1 || chosen.parent !== primary) return `switchover to ${wanted}: only a tier-1 replica of the primary can take over`;
  if (chosen.info?.role !== 'replica' || !chosen.info.linkUp) return `switchover to ${wanted}: its replication link is not up`;
  return undefined;
}

/** Pauses writes on the primary, then waits until the replica holds everything it acknowledged. */
async function pauseAndCatchUp(deps: Deps, primary: RedisTarget, replica: RedisTarget): Promise<void> {
  await deps.redis.command(primary, ['CLIENT', 'PAUSE', String(SWITCHOVER_PAUSE_MS), 'WRITE']);
  await waitForCatchUp(deps, primary, replica);
}

async function waitForCatchUp(deps: Deps, primary: RedisTarget, replica: RedisTarget): Promise<void> {
  const deadline = deps.now() + CATCH_UP_TIMEOUT_MS;
  const primaryInfo = parseReplication(await deps.redis.info(primary));
  for (;;) {
    const info = parseReplication(await deps.redis.info(replica));
    if (info.role === 'replica' && info.replicaOffset >= primaryInfo.replOffset) return;
    if (deps.now() > deadline) throw new Error(`switchover: ${replica.host} did not catch up within ${CATCH_UP_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Demotes the old primary's labels before promoting the new one's, so `<name>-primary` never
 * selects two pods. */
async function moveRoleLabels(deps: Deps, rr: RedisReplication, from: string, to: string): Promise<void> {
  const pod = (name: string): V1Pod => ({ metadata: { name, namespace: rr.metadata.namespace } });
  await patchPodMeta(deps, pod(from), { [LABEL.role]: 'replica', [LABEL.read]: 'false', [LABEL.tier]: '1' }, {});
  await patchPodMeta(deps, pod(to), { [LABEL.role]: 'primary', [LABEL.tier]: '0' }, { [ANNOTATION.parent]: null });
}

/** Fault injection for the end-to-end tests: RRO_FAULT_EXIT_AT=<point> makes the process die there,
 * as an operator killed in the middle of a failover would. */
function faultPoint(point: string): void {
  if (process.env['RRO_FAULT_EXIT_AT'] === point) process.kill(process.pid, 'SIGKILL');
}

function targetOf(observed: ObservedPod[], name: string, password: string | undefined): RedisTarget {
  const pod = observed.find((p) => p.name === name);
  if (!pod?.podIP) throw new Error(`pod ${name} has no IP`);
  return { host: pod.podIP, password };
}
