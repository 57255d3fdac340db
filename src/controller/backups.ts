// Backups phase: each RedisBackup of the resource that has not ended is started from the pod
// backupSource picks, as the backup user, in the background (a full sync takes as long as the data
// needs; the pass goes on). The background run only records its outcome in this process's memory;
// passes write it to the RedisBackup's status (so a failed status write is retried). A backup found
// Running that this process does not run was cut off by an operator restart: its upload was never
// completed (the manifest, written last, is missing), and it is Failed.
import type { RedisBackup, RedisBackupStatus } from '../api/backup.js';
import type { NodeStatus, ObjectStore } from '../api/schema.js';
import { s3Client, type S3Credentials } from '../backup/object-store.js';
import { takeBackup } from '../backup/take-backup.js';
import { BACKUP_USER } from '../plan/acl.js';
import { backupSource, basePrefix, DUMP_FILE, type BackupManifest } from '../plan/backup.js';
import type { RedisTarget } from '../redis/client.js';
import type { Pass } from './pass.js';
import { SecretProblem } from './secrets.js';

const ENDED = new Set(['Completed', 'Failed']);

export async function runBackups(pass: Pass, nodes: NodeStatus[]): Promise<void> {
  const { deps, memory } = pass;
  const running = (memory.backupsRunning ??= new Set());
  const outcomes = (memory.backupOutcomes ??= new Map());
  for (const backup of deps.cache.backups(pass.namespace, pass.name)) {
    const name = backup.metadata.name;
    const phase = backup.status?.phase;
    const outcome = outcomes.get(name);
    if (outcome) {
      await setStatus(pass, backup, 'manifest' in outcome ? completed(outcome.manifest) : { phase: 'Failed', ...outcome });
      outcomes.delete(name);
    } else if (phase !== undefined && ENDED.has(phase)) {
      continue;
    } else if (running.has(name)) {
      continue;
    } else if (phase === 'Running') {
      await setStatus(pass, backup, { phase: 'Failed', reason: 'Interrupted', message: 'the operator restarted during the backup: it was not completed (create another RedisBackup)' });
    } else {
      await start(pass, backup, nodes);
    }
  }
}

async function start(pass: Pass, backup: RedisBackup, nodes: NodeStatus[]): Promise<void> {
  const { deps, spec } = pass;
  const store = spec.backup?.objectStore;
  if (!store) {
    return setStatus(pass, backup, { phase: 'Pending', reason: 'NoObjectStore', message: `RedisReplication ${pass.name} has no spec.backup.objectStore` });
  }
  let credentials: S3Credentials;
  try {
    credentials = await storeCredentials(pass, store);
  } catch (err) {
    if (!(err instanceof SecretProblem)) throw err;
    return setStatus(pass, backup, { phase: 'Failed', reason: err.reason, message: `spec.backup.objectStore.credentialsSecret: ${err.message}` });
  }
  const source = backupSource(nodes);
  if (!('pod' in source)) return setStatus(pass, backup, { phase: 'Pending', reason: source.reason, message: source.message });
  const pod = source.pod;
  const startedAt = new Date(deps.now());
  const prefix = basePrefix(store, pass.name, startedAt);
  await setStatus(pass, backup, {
    phase: 'Running', reason: 'Streaming', message: `full sync from ${pod.name}`, sourcePod: pod.name,
    endpoint: store.endpoint, bucket: store.bucket, region: store.region, credentialsSecret: store.credentialsSecret, key: `${prefix}${DUMP_FILE}`, startedAt: startedAt.toISOString(),
  });
  const name = backup.metadata.name;
  pass.memory.backupsRunning!.add(name);
  const client = s3Client(store, credentials);
  const target = backupTarget(pass, pod.podIP!);
  const from = { target, resource: pass.name, pod: pod.name, engine: pod.server ?? 'unknown', engineVersion: pod.version ?? 'unknown' };
  const log = deps.log.child({ resource: `${pass.namespace}/${pass.name}`, backup: name });
  void takeBackup(from, { client, bucket: store.bucket, prefix }, () => new Date(deps.now()))
    .then(
      (manifest) => {
        pass.memory.backupOutcomes!.set(name, { manifest });
        log.info({ size: manifest.size, sha256: manifest.sha256 }, 'backup completed');
      },
      (err: unknown) => {
        pass.memory.backupOutcomes!.set(name, failure(err));
        log.warn({ err: String(err) }, 'backup failed');
      },
    )
    .finally(() => {
      pass.memory.backupsRunning!.delete(name);
      client.destroy();
    });
}

/** A pod as the backup user sees it (a backup's full sync, the archiver's stream). */
export function backupTarget(pass: Pass, ip: string): RedisTarget {
  return {
    host: ip,
    ...(pass.auth ? { username: BACKUP_USER, password: pass.auth.backupPassword } : {}),
    ...(pass.tls?.client ? { tls: pass.tls.client } : {}),
  };
}

/** The keys of the object store, from its Secret: SecretProblem when the Secret cannot be used. */
export async function storeCredentials(pass: Pass, store: ObjectStore): Promise<S3Credentials> {
  const key = (name: string) => pass.deps.passwords.get(pass.rr.metadata, store.credentialsSecret, 'named', name);
  return { accessKeyId: await key('accessKeyId'), secretAccessKey: await key('secretAccessKey') };
}

function completed(m: BackupManifest): RedisBackupStatus {
  return {
    phase: 'Completed', reason: 'Completed', message: `${m.size} bytes from ${m.sourcePod}`, completedAt: m.completedAt,
    engine: m.engine, engineVersion: m.engineVersion, rdbVersion: m.rdbVersion, replid: m.replid, offset: m.offset, size: m.size, sha256: m.sha256,
  };
}

/** Why a backup failed: the object store's refusal (its error code, or the HTTP status), or the sync's. */
function failure(err: unknown): { reason: string; message: string } {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.$metadata !== undefined) {
    const code = e.$metadata.httpStatusCode;
    return { reason: 'ObjectStoreRefused', message: `${e.name ?? 'error'}${code ? ` (HTTP ${code})` : ''}: ${e.message ?? ''}`.trim() };
  }
  return { reason: 'SyncFailed', message: e.message ?? String(err) };
}

async function setStatus(pass: Pass, backup: RedisBackup, status: RedisBackupStatus): Promise<void> {
  const current = backup.status ?? {};
  const changed = Object.entries(status).some(([k, v]) => current[k as keyof RedisBackupStatus] !== v);
  if (!changed) return;
  await pass.deps.kube.patchBackupStatus(pass.namespace, backup.metadata.name, status);
  if (status.phase !== current.phase && (status.phase === 'Completed' || status.phase === 'Failed')) {
    const type = status.phase === 'Completed' ? 'Normal' : 'Warning';
    await pass.deps.events.record(pass.rr, type, `Backup${status.phase}`, `RedisBackup ${backup.metadata.name}: ${status.message ?? ''}`);
  }
}
