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
import type { Requeue } from '../kube/workqueue.js';
import { s3Client } from '../backup/object-store.js';
import { RdbMismatch } from '../backup/rdb-server.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { RestoreStatus } from '../api/schema.js';
import { parseInfo } from '../redis/info.js';
import { statusChanged } from '../plan/conditions.js';
import { statusPatch } from '../plan/status.js';
import { canLoad, checkBackup, isRestoring, loaded, restoringStatus, type RestoreSource } from '../plan/restore.js';
import type { ClaimRef } from '../plan/topology.js';
import { observePods } from './observe.js';
import { redisTarget, type Pass } from './pass.js';
import { applyTopology } from './pods.js';
import { SecretProblem } from './secrets.js';

/** How soon a restoring resource is looked at again: the pod's load is watched closely; a restore
 * that waits on the user (a failed backup, an image too old) only now and then. */
const WATCH_MS = 1000;
const WAIT_MS = 10_000;

export function restoring(pass: Pass): boolean {
  return isRestoring(pass.spec, pass.rr.status);
}

export async function restore(pass: Pass, claimRefs: ClaimRef[], ready: boolean): Promise<Requeue> {
  const { deps, rr, spec, memory } = pass;
  // parseSpec refuses a recovery without a backup (an archive's is not built yet).
  const backup = spec.bootstrap!.recovery!.backup!;
  const base: RestoreStatus = { backup, startedAt: rr.status?.restore?.startedAt ?? new Date(deps.now()).toISOString() };
  const check = checkBackup(deps.cache.backup(pass.namespace, backup), backup);
  if (!check.ok) return report(pass, { ...base, phase: check.wait ? 'Pending' : 'Failed', reason: check.reason, message: check.message }, WAIT_MS);
  const source = check.source;
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
  if (run?.failed?.final) return report(pass, { ...base, phase: 'Failed', reason: 'BackupCorrupt', message: run.failed.message, pod: pod.name }, WAIT_MS);
  if (run?.failed) {
    pass.log.warn({ pod: pod.name, err: run.failed.message }, 'restore transfer failed; serving the backup again');
    run = memory.restoreRun = undefined;
  }
  const target = redisTarget(pass, pod.podIP);
  if (run?.sent && loaded(pod.info, source)) {
    await deps.redis.promote(target);
    const keys = keyCount(await deps.redis.info(target, 'keyspace'));
    run.serving.cancel();
    memory.restoreRun = undefined;
    const message = `${keys} keys from RedisBackup ${backup} loaded into ${pod.name}, the primary`;
    await report(pass, { ...base, phase: 'Completed', reason: 'Restored', message, pod: pod.name, keys, completedAt: new Date(deps.now()).toISOString() }, 0);
    await deps.events.record(rr, 'Normal', 'Restored', message);
    return { requeueAfterMs: 0 };
  }
  if (!run) {
    const address = await deps.rdbServer.address();
    if (!address) {
      return report(pass, { ...base, phase: 'Failed', reason: 'NoRestoreAddress', message: 'the operator was started without --restore-address (RESTORE_ADDRESS): pods cannot reach it', pod: pod.name }, WAIT_MS);
    }
    let open: () => Promise<Readable>;
    try {
      open = await opener(pass, source);
    } catch (err) {
      if (!(err instanceof SecretProblem)) throw err;
      return report(pass, { ...base, phase: 'Failed', reason: err.reason, message: `the object store's keys, Secret ${credentialsSecret(pass, source)}: ${err.message}`, pod: pod.name }, WAIT_MS);
    }
    const serving = deps.rdbServer.serve({ podIP: pod.podIP, ...source, password: pass.auth?.replicationPassword, open });
    const started: NonNullable<typeof memory.restoreRun> = { pod: pod.name, podIP: pod.podIP, serving };
    memory.restoreRun = started;
    serving.sent.then(
      () => void (started.sent = true),
      (err: unknown) => void (started.failed = { message: String((err as Error).message ?? err), final: err instanceof RdbMismatch }),
    );
    await deps.redis.replicaOf(target, address.host, address.port);
    pass.log.info({ pod: pod.name, backup, size: source.size }, 'restoring: the pod syncs the backup from the operator');
  }
  const message = memory.restoreRun?.sent ? `${pod.name} is loading the backup (${source.size} bytes)` : `streaming ${source.size} bytes of RedisBackup ${backup} to ${pod.name}`;
  return report(pass, { ...base, phase: 'Running', reason: 'Loading', message, pod: pod.name }, WATCH_MS);
}

/** The Secret with the store's keys: this resource's own objectStore's, when it has one (a Secret
 * allows one resource: the backed-up one's is not for this one), else the one the backup used. */
function credentialsSecret(pass: Pass, source: RestoreSource): string {
  return pass.spec.backup?.objectStore.credentialsSecret ?? source.credentialsSecret;
}

/** How to open the backup's file in its store. */
async function opener(pass: Pass, source: RestoreSource): Promise<() => Promise<Readable>> {
  const get = (key: string) => pass.deps.passwords.get(pass.rr.metadata, credentialsSecret(pass, source), 'named', key);
  const credentials = { accessKeyId: await get('accessKeyId'), secretAccessKey: await get('secretAccessKey') };
  return async () => {
    const client = s3Client(source, credentials);
    const object = await client.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }));
    const body = object.Body as Readable;
    body.once('close', () => client.destroy());
    return body;
  };
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
