// Restore phase: a resource made from a backup (spec.bootstrap.recovery) runs this instead of the
// rest of the pass until its first pod holds the backup. Only that pod exists meanwhile, with no role
// label (no Service sends it a client), and no replica: replicas are made by the passes after, and
// sync from the restored primary as from any other.
//
// The pod is restored as a replica of this process (backup/rdb-server.ts), which serves it the
// backup's RDB, checked, at the backup's replication ID and offset; once the pod is linked at that
// offset, REPLICAOF NO ONE makes it the primary, and the status says Completed. Each step is level
// triggered: an operator that restarts in the middle serves the backup again (a full sync replaces
// whatever the pod held, and nothing else could write to it).
//
// A point-in-time restore (recovery.objectStore and resource) reads the store instead of a
// RedisBackup: the base backups' manifests and the archive's indexes, once (plan/pitr.ts chooses the
// base and the cut). The pod is served the base's RDB and then the archived stream up to the cut on
// the same link; it is made the primary only once its offset is the cut's.
import type { Requeue } from '../kube/workqueue.js';
import { recoveryJob, SegmentMismatch, type RecoveryStore } from '../backup/archive-store.js';
import { RdbMismatch } from '../backup/rdb-server.js';
import type { ObjectStore, RestoreStatus } from '../api/schema.js';
import { parseInfo } from '../redis/info.js';
import { walRoot, type ByteRange } from '../plan/archive.js';
import { baseRoot, DUMP_FILE } from '../plan/backup.js';
import { statusChanged } from '../plan/conditions.js';
import { folderName, recoveryPlan } from '../plan/pitr.js';
import { statusPatch } from '../plan/status.js';
import { canLoad, checkBackup, isRestoring, loaded, restoringStatus, type RestoreSource } from '../plan/restore.js';
import type { ClaimRef } from '../plan/topology.js';
import { observePods } from './observe.js';
import { redisTarget, type Pass } from './pass.js';
import { applyTopology } from './pods.js';
import { SecretProblem } from './secrets.js';

/** How soon a restoring resource is looked at again: the pod's load is watched closely; a restore
 * that waits on the user (a failed backup, an image too old) or on the archive only now and then. */
const WATCH_MS = 1000;
const WAIT_MS = 10_000;

export function restoring(pass: Pass): boolean {
  return isRestoring(pass.spec, pass.rr.status);
}

/** What is restored: the RDB, and for a point in time the archived stream after it. */
interface Restorable {
  /** The status fields that say what is restored. */
  status: RestoreStatus;
  /** How messages name it. */
  what: string;
  source: RestoreSource;
  /** The Secret with the store's keys. */
  secret: string;
  replay?: { root: string; ranges: ByteRange[] } | undefined;
  /** The offset the pod is at once it holds all of it. */
  offset: number;
}

/** Not (yet) restorable: the status that says why, and when to look again. */
interface Unrestorable {
  status: RestoreStatus;
  requeueAfterMs: number;
}

export async function restore(pass: Pass, claimRefs: ClaimRef[], ready: boolean): Promise<Requeue> {
  const { deps, rr, spec, memory } = pass;
  const recovery = spec.bootstrap!.recovery!;
  const startedAt = rr.status?.restore?.startedAt ?? new Date(deps.now()).toISOString();
  // parseSpec lets through a backup, or a store and a resource.
  const found = recovery.backup !== undefined ? fromBackup(pass, recovery.backup, startedAt) : await fromStore(pass, { ...recovery, objectStore: recovery.objectStore!, resource: recovery.resource! }, startedAt);
  if (!('source' in found)) return report(pass, found.status, found.requeueAfterMs);
  const { source, what } = found;
  const base = found.status;
  if (!ready) return report(pass, { ...base, phase: 'Pending', reason: 'Preparing', message: 'waiting for the password or certificate the pods start with' }, WATCH_MS);

  // The first pod alone: the plan of the same resource with no replicas.
  const observed = (await observePods(pass)).filter((p) => !p.deleting);
  await applyTopology({ ...pass, spec: { ...spec, replicas: 0, cascade: [] } }, observed, observed[0]?.name, claimRefs, false);
  const pod = observed[0];
  if (!pod?.podIP || !pod.info || !pod.server) return report(pass, { ...base, phase: 'Pending', reason: 'PodStarting', message: `waiting for ${pod?.name ?? 'the first pod'} to start` }, WATCH_MS);
  const load = canLoad(pod.server, source.rdbVersion);
  if (!load.ok) return report(pass, { ...base, phase: 'Failed', reason: 'RdbVersionUnsupported', message: load.message, pod: pod.name }, WAIT_MS);

  let run = memory.restoreRun;
  if (run && (run.pod !== pod.name || run.podIP !== pod.podIP)) {
    run.serving.cancel();
    run = memory.restoreRun = undefined;
  }
  if (run?.failed?.reason) return report(pass, { ...base, phase: 'Failed', reason: run.failed.reason, message: run.failed.message, pod: pod.name }, WAIT_MS);
  if (run?.failed) {
    pass.log.warn({ pod: pod.name, err: run.failed.message }, 'restore transfer failed; serving the backup again');
    run = memory.restoreRun = undefined;
  }
  const target = redisTarget(pass, pod.podIP);
  if (run?.sent && loaded(pod.info, { replid: source.replid, offset: found.offset })) {
    await deps.redis.promote(target);
    const keys = keyCount(await deps.redis.info(target, 'keyspace'));
    run.serving.cancel();
    memory.restoreRun = undefined;
    memory.recoveryPlan = undefined;
    const message = `${keys} keys from ${what} loaded into ${pod.name}, the primary`;
    await report(pass, { ...base, phase: 'Completed', reason: 'Restored', message, pod: pod.name, keys, completedAt: new Date(deps.now()).toISOString() }, 0);
    await deps.events.record(rr, 'Normal', 'Restored', message);
    return { requeueAfterMs: 0 };
  }
  if (!run) {
    const address = await deps.rdbServer.address();
    if (!address) {
      return report(pass, { ...base, phase: 'Failed', reason: 'NoRestoreAddress', message: 'the operator was started without --restore-address (RESTORE_ADDRESS): pods cannot reach it', pod: pod.name }, WAIT_MS);
    }
    let store: RecoveryStore;
    try {
      store = await storeOf(pass, source, found.secret);
    } catch (err) {
      if (!(err instanceof SecretProblem)) throw err;
      return report(pass, secretFailure(base, found.secret, err, pod.name), WAIT_MS);
    }
    const serving = deps.rdbServer.serve(recoveryJob(store, source, pod.podIP, pass.auth?.replicationPassword, found.replay));
    const started: NonNullable<typeof memory.restoreRun> = { pod: pod.name, podIP: pod.podIP, serving };
    memory.restoreRun = started;
    serving.sent.then(
      () => void (started.sent = true),
      (err: unknown) => {
        const reason = err instanceof RdbMismatch ? 'BackupCorrupt' : err instanceof SegmentMismatch ? 'ArchiveCorrupt' : undefined;
        started.failed = { message: String((err as Error).message ?? err), ...(reason ? { reason } : {}) };
      },
    );
    await deps.redis.replicaOf(target, address.host, address.port);
    pass.log.info({ pod: pod.name, restoring: what, size: source.size, offset: found.offset }, 'restoring: the pod syncs from the operator');
  }
  const message = memory.restoreRun?.sent ? `${pod.name} is loading ${what} (up to offset ${found.offset})` : `streaming ${what} to ${pod.name}`;
  return report(pass, { ...base, phase: 'Running', reason: 'Loading', message, pod: pod.name }, WATCH_MS);
}

function fromBackup(pass: Pass, backup: string, startedAt: string): Restorable | Unrestorable {
  const status: RestoreStatus = { backup, startedAt };
  const check = checkBackup(pass.deps.cache.backup(pass.namespace, backup), backup);
  if (!check.ok) return { status: { ...status, phase: check.wait ? 'Pending' : 'Failed', reason: check.reason, message: check.message }, requeueAfterMs: WAIT_MS };
  // This resource's own objectStore's Secret, when it has one (a Secret allows one resource: the
  // backed-up one's is not for this one), else the one the backup used.
  const secret = pass.spec.backup?.objectStore.credentialsSecret ?? check.source.credentialsSecret;
  return { status, what: `RedisBackup ${backup} (${check.source.size} bytes)`, source: check.source, secret, offset: check.source.offset };
}

/** The plan of a point-in-time restore, read from the store once and kept (see ResourceMemory). */
async function fromStore(pass: Pass, recovery: { objectStore: ObjectStore; resource: string; targetTime?: string | undefined }, startedAt: string): Promise<Restorable | Unrestorable> {
  const { deps, rr, memory } = pass;
  const { objectStore, resource, targetTime } = recovery;
  const status: RestoreStatus = { resource, ...(targetTime ? { targetTime } : {}), startedAt };
  const secret = objectStore.credentialsSecret;
  let plan = memory.recoveryPlan?.uid === rr.metadata.uid ? memory.recoveryPlan.plan : undefined;
  if (!plan) {
    try {
      const store = await storeOf(pass, objectStore, secret);
      const [bases, archive] = await Promise.all([store.bases(baseRoot(objectStore, resource)), store.archive(walRoot(objectStore, resource))]);
      plan = recoveryPlan(bases, archive, targetTime === undefined ? undefined : Date.parse(targetTime), deps.now());
    } catch (err) {
      if (err instanceof SecretProblem) return { status: secretFailure(status, secret, err), requeueAfterMs: WAIT_MS };
      // Not kept: a store that could not be read (wrong keys, no bucket, not answering) is asked again.
      const message = `could not read the base backups and archive of ${resource} from ${objectStore.endpoint}/${objectStore.bucket}: ${(err as Error).message}`;
      return { status: { ...status, phase: 'Failed', reason: 'ObjectStoreError', message }, requeueAfterMs: WAIT_MS };
    }
    if (!('reason' in plan && plan.wait)) memory.recoveryPlan = { uid: rr.metadata.uid, plan };
  }
  if ('reason' in plan) return { status: { ...status, phase: plan.wait ? 'Pending' : 'Failed', reason: plan.reason, message: plan.message }, requeueAfterMs: WAIT_MS };
  const { base, cut, ranges, bytes } = plan;
  const m = base.manifest;
  const source: RestoreSource = {
    endpoint: objectStore.endpoint, bucket: objectStore.bucket, region: objectStore.region, credentialsSecret: secret, key: `${base.prefix}${DUMP_FILE}`,
    replid: m.replid, offset: m.offset, size: m.size, sha256: m.sha256, rdbVersion: m.rdbVersion,
  };
  const cutTime = new Date(cut.at).toISOString();
  return {
    status: { ...status, base: folderName(base), cutTime, cutOffset: cut.offset, replayedBytes: bytes },
    what: `${resource}'s base backup ${folderName(base)}${bytes > 0 ? ` and ${bytes} archived bytes up to ${cutTime}` : ''}`,
    source,
    secret,
    replay: ranges.length > 0 ? { root: walRoot(objectStore, resource), ranges } : undefined,
    offset: cut.offset,
  };
}

function secretFailure(status: RestoreStatus, secret: string, err: SecretProblem, pod?: string): RestoreStatus {
  return { ...status, phase: 'Failed', reason: err.reason, message: `the object store's keys, Secret ${secret}: ${err.message}`, ...(pod ? { pod } : {}) };
}

/** The store, with the keys of `secret` (this resource's namespace, allowed to it). */
async function storeOf(pass: Pass, store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'region'>, secret: string): Promise<RecoveryStore> {
  const get = (key: string) => pass.deps.passwords.get(pass.rr.metadata, secret, 'named', key);
  return pass.deps.recoveryStore(store, { accessKeyId: await get('accessKeyId'), secretAccessKey: await get('secretAccessKey') });
}

/** The keys of every database, from INFO keyspace (`db0:keys=3,expires=0,...`). */
function keyCount(text: string): number {
  return Object.values(parseInfo(text)['keyspace'] ?? {}).reduce((sum, v) => sum + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0);
}

async function report(pass: Pass, restore: RestoreStatus, requeueAfterMs: number): Promise<Requeue> {
  const { deps, rr } = pass;
  const next = restoringStatus(rr, restore, deps.now());
  if (statusChanged(rr.status, next)) {
    pass.resourceVersion = await deps.kube.patchStatus(pass.namespace, pass.name, statusPatch(rr.status, next));
    const was = rr.status?.restore;
    if (restore.phase === 'Failed' && (was?.phase !== 'Failed' || was.reason !== restore.reason)) {
      await deps.events.record(rr, 'Warning', 'RestoreFailed', restore.message ?? restore.reason ?? '');
    }
  }
  deps.metrics.setReconciled(pass.namespace, pass.name, deps.now());
  return { requeueAfterMs };
}
