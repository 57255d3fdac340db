// Restore, the pure part: whether a RedisBackup can be restored, whether the server of the pod to
// restore can load its RDB, and when the restored pod holds all of it.
import type { RedisBackup } from '../api/backup.js';
import type { RedisReplication, RedisReplicationSpec, RedisReplicationStatus, RestoreStatus } from '../api/schema.js';
import type { ReplicationInfo, ServerInfo } from '../redis/info.js';
import { setConditions, type ConditionUpdate } from './conditions.js';

/** What a restore serves: the backup's file, where it is and how to check it. */
export interface RestoreSource {
  endpoint: string;
  bucket: string;
  region: string;
  credentialsSecret: string;
  key: string;
  replid: string;
  offset: number;
  size: number;
  sha256: string;
  rdbVersion: number;
}

/** Made from a backup (a RedisBackup, or a store's base and archive), and its first pod does not hold it yet. */
export function isRestoring(spec: Pick<RedisReplicationSpec, 'bootstrap'>, status: RedisReplicationStatus | undefined): boolean {
  return spec.bootstrap?.recovery !== undefined && status?.restore?.phase !== 'Completed';
}

/** The RedisBackup a resource is still being restored from, read from its spec as stored (it may
 * not parse: retention must keep what any resource may still read). */
export function backupBeingRestored(rr: Pick<RedisReplication, 'spec' | 'status'>): string | undefined {
  const backup = (rr.spec as { bootstrap?: { recovery?: { backup?: unknown } } } | undefined)?.bootstrap?.recovery?.backup;
  return typeof backup === 'string' && rr.status?.restore?.phase !== 'Completed' ? backup : undefined;
}

export type BackupCheck =
  | { ok: true; source: RestoreSource }
  /** wait: the backup may still become restorable (missing, or not finished); fail: it never will. */
  | { ok: false; wait: boolean; reason: string; message: string };

export function checkBackup(backup: RedisBackup | undefined, name: string): BackupCheck {
  if (!backup) return { ok: false, wait: true, reason: 'BackupNotFound', message: `RedisBackup ${name} does not exist in this namespace` };
  const s = backup.status ?? {};
  if (s.phase === 'Failed') return { ok: false, wait: false, reason: 'BackupFailed', message: `RedisBackup ${name} failed (${s.reason ?? 'unknown'}): it holds nothing to restore` };
  if (s.phase !== 'Completed') return { ok: false, wait: true, reason: 'BackupNotCompleted', message: `RedisBackup ${name} is ${s.phase ?? 'Pending'}: waiting for it to complete` };
  const { endpoint, bucket, region, credentialsSecret, key, replid, offset, size, sha256, rdbVersion } = s;
  if (!endpoint || !bucket || !region || !credentialsSecret || !key || !replid || offset === undefined || size === undefined || !sha256 || rdbVersion === undefined) {
    return { ok: false, wait: false, reason: 'BackupIncomplete', message: `RedisBackup ${name} does not record where its file is or how to check it (taken by an older operator?)` };
  }
  return { ok: true, source: { endpoint, bucket, region, credentialsSecret, key, replid, offset, size, sha256, rdbVersion } };
}

/** The newest RDB format each server line loads. Redis 7.4 and 8 write 12, which no Valkey loads;
 * Valkey 9 adds formats of its own (80 and up, `VALKEY` header) that no Redis loads. */
const LOADS: { server: ServerInfo['server']; from: [number, number]; rdb: number }[] = [
  { server: 'redis', from: [7, 4], rdb: 12 },
  { server: 'redis', from: [7, 2], rdb: 11 },
  { server: 'redis', from: [7, 0], rdb: 10 },
  { server: 'redis', from: [6, 0], rdb: 9 },
  { server: 'valkey', from: [9, 0], rdb: 80 },
  { server: 'valkey', from: [7, 2], rdb: 11 },
];

/** Newer formats than 11 that Valkey 9 loads are its own (80+): Redis's 12 is not one of them. */
const FOREIGN = (server: ServerInfo['server'], rdb: number) => server === 'valkey' && rdb > 11 && rdb < 80;

export function canLoad(server: ServerInfo, rdbVersion: number): { ok: true } | { ok: false; message: string } {
  const [major = 0, minor = 0] = server.version.split('.').map(Number);
  const line = LOADS.find((l) => l.server === server.server && (major > l.from[0] || (major === l.from[0] && minor >= l.from[1])));
  const max = line?.rdb;
  if (max !== undefined && rdbVersion <= max && !FOREIGN(server.server, rdbVersion)) return { ok: true };
  return {
    ok: false,
    message: `${server.server} ${server.version} cannot load RDB version ${rdbVersion}${max !== undefined ? ` (it loads up to ${max})` : ''}: ` +
      'restore into an image of the server that took the backup, or a newer one',
  };
}

/** The pod holds the whole backup: it loaded the full sync and is linked, at the backup's offset. */
export function loaded(info: ReplicationInfo | undefined, source: Pick<RestoreSource, 'replid' | 'offset'>): boolean {
  return info?.role === 'replica' && info.linkUp && !info.syncInProgress && info.replId === source.replid && info.replicaOffset >= source.offset;
}

/** The status of a resource while its first pod is being restored: not Ready, nothing let in. A
 * restore that cannot succeed (the backup failed, the server cannot load its RDB) is Failed. */
export function restoringStatus(rr: RedisReplication, restore: RestoreStatus, nowMs: number): RedisReplicationStatus {
  const generation = rr.metadata.generation ?? 0;
  const failed = restore.phase === 'Failed';
  const reason = failed ? 'RestoreFailed' : 'Restoring';
  const what = restore.backup !== undefined ? `RedisBackup ${restore.backup}` : `${restore.resource ?? ''} ${restore.targetTime ? `to ${restore.targetTime}` : 'to the latest point archived'}`;
  const message = `restoring ${what}: ${restore.message ?? restore.reason ?? ''}`;
  const conditions: ConditionUpdate[] = [
    { type: 'Ready', status: 'False', reason, message },
    { type: 'PrimaryAvailable', status: 'False', reason, message: 'no pod takes writes before the backup is loaded' },
    { type: 'Progressing', status: failed ? 'False' : 'True', reason, message },
  ];
  return {
    ...rr.status,
    observedGeneration: generation,
    phase: failed ? 'Failed' : 'Provisioning',
    restore,
    conditions: setConditions(rr.status?.conditions, conditions, generation, new Date(nowMs).toISOString()),
  };
}
