// Schedule and retention phase (spec.backup.schedule, spec.backup.retention), after the backups
// phase. The schedule creates the RedisBackup of a slot that has come (the backups phase of the next
// pass starts it) and records it in status.backup. Retention deletes the files of an expired backup
// in the background, as a backup is streamed in the background (a store that hangs must hold up
// neither the pass nor a failover); a later pass, once they are all gone, deletes the RedisBackup.
// Memory only says what runs: an operator that restarts deletes again what it had not finished, and
// deleting what is already gone is no error.
import { BACKUP_KIND, type RedisBackup } from '../api/backup.js';
import { GROUP, VERSION } from '../api/schema.js';
import { ignore, isConflict, isNotFound } from '../kube/client.js';
import type { BackupFiles } from '../backup/object-store.js';
import { backupBeingRestored } from '../plan/restore.js';
import { expiredBackups, parseRetention, scheduleProblem, scheduleStep, type RetentionInput, type ScheduleStatus } from '../plan/backup-schedule.js';
import { storeCredentials } from './backups.js';
import type { Pass } from './pass.js';
import { SecretProblem } from './secrets.js';

const ENDED = new Set(['Completed', 'Failed']);

/** Takes the scheduled backup whose time has come; returns in how many milliseconds the next comes. */
export async function runSchedule(pass: Pass): Promise<number | undefined> {
  const { deps, rr, namespace, name } = pass;
  const recorded = rr.status?.backup;
  const schedule = pass.spec.backup?.schedule;
  if (schedule === undefined) {
    // Nothing is awaited any more; when the last scheduled backup was taken stays.
    if (recorded?.schedule !== undefined || recorded?.nextScheduleTime !== undefined) await writeScheduleStatus(pass, { schedule: null, nextScheduleTime: null });
    return undefined;
  }
  const problem = scheduleProblem(schedule);
  if (problem !== undefined) {
    await deps.events.record(rr, 'Warning', 'BackupScheduleInvalid', `spec.backup.schedule ${JSON.stringify(schedule)}: ${problem}; no backup is scheduled`);
    return undefined;
  }
  const unfinished = deps.cache.backups(namespace, name).filter((b) => !ENDED.has(b.status?.phase ?? '')).map((b) => b.metadata.name);
  const step = scheduleStep({ resource: name, schedule, recorded, unfinished, nowMs: deps.now() });
  if (step.create) {
    // AlreadyExists: another pass or operator created this slot's backup.
    await ignore(isConflict, deps.kube.createBackup(scheduledBackup(namespace, step.create, name)));
    pass.log.info({ backup: step.create }, 'scheduled backup created');
  }
  if (step.skipped) {
    const { slot, unfinished: busy } = step.skipped;
    await deps.events.record(rr, 'Warning', 'BackupSkipped', `the scheduled backup of ${slot} was not taken: RedisBackup ${busy} has not ended`);
  }
  const unchanged = (['schedule', 'lastScheduleTime', 'nextScheduleTime'] as const).every((k) => recorded?.[k] === step.status[k]);
  if (!unchanged) await writeScheduleStatus(pass, step.status);
  return step.nextMs - deps.now();
}

function scheduledBackup(namespace: string, name: string, resource: string): RedisBackup {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: BACKUP_KIND, metadata: { name, namespace }, spec: { replication: resource } };
}

/** Conditional on the version this pass read or wrote: a pass working from a stale view does not
 * move the schedule back. */
async function writeScheduleStatus(pass: Pass, backup: ScheduleStatus | { schedule: null; nextScheduleTime: null }): Promise<void> {
  pass.resourceVersion = await pass.deps.kube.patchStatus(pass.namespace, pass.name, { backup }, pass.resourceVersion);
}

/** Deletes the backups retention no longer keeps: their files first, then the RedisBackup. */
export async function runRetention(pass: Pass): Promise<void> {
  const { deps, rr, memory } = pass;
  const deleting = (memory.backupFilesDeleting ??= new Set());
  const outcomes = (memory.backupFilesOutcomes ??= new Map());
  const reported = new Set<string>();
  for (const [backupName, problem] of outcomes) {
    outcomes.delete(backupName);
    reported.add(backupName);
    // Its files are gone: the RedisBackup goes too, even if retention was changed meanwhile.
    if (problem === undefined) await deleteBackup(pass, backupName);
    else await deps.events.record(rr, 'Warning', 'BackupRetentionFailed', `RedisBackup ${backupName}: its files could not be deleted, it is kept and tried again: ${problem}`);
  }
  const backup = pass.spec.backup;
  const retention = retentionInput(pass);
  if (backup === undefined || retention === undefined) return;
  const expired = expiredBackups(retention);
  const withFiles: { name: string; prefix: string }[] = [];
  for (const e of expired) {
    if (reported.has(e.name) || deleting.has(e.name)) continue;
    if (e.prefix === undefined) await deleteBackup(pass, e.name);
    else withFiles.push({ name: e.name, prefix: e.prefix });
  }
  if (withFiles.length === 0) return;
  let files: BackupFiles;
  try {
    files = deps.backupFiles(backup.objectStore, await storeCredentials(pass, backup.objectStore));
  } catch (err) {
    if (!(err instanceof SecretProblem)) throw err;
    return deps.events.record(rr, 'Warning', 'BackupRetentionFailed', `spec.backup.objectStore.credentialsSecret: ${err.message}; expired backups are kept`);
  }
  withFiles.forEach((e) => deleting.add(e.name));
  const log = pass.log;
  void (async () => {
    for (const e of withFiles) {
      try {
        await files.deleteFolder(e.prefix);
        outcomes.set(e.name, undefined);
      } catch (err) {
        outcomes.set(e.name, err instanceof Error ? err.message : String(err));
        log.warn({ backup: e.name, prefix: e.prefix, err: String(err) }, 'deleting the files of an expired backup failed');
      } finally {
        deleting.delete(e.name);
      }
    }
    files.close();
  })();
}

/** What retention decides from, when spec.backup.retention is set. */
export function retentionInput(pass: Pass): RetentionInput | undefined {
  const { deps, namespace, name, spec } = pass;
  if (spec.backup?.retention === undefined) return undefined;
  return {
    backups: deps.cache.backups(namespace, name),
    retention: parseRetention(spec.backup.retention),
    store: spec.backup.objectStore,
    resource: name,
    nowMs: deps.now(),
    restoring: new Set(deps.cache.resources(namespace).flatMap((r) => backupBeingRestored(r) ?? [])),
    archiveBase: spec.backup.archive ? (pass.memory.archive?.base ?? pass.rr.status?.archive?.base) : undefined,
  };
}

async function deleteBackup(pass: Pass, name: string): Promise<void> {
  await ignore(isNotFound, pass.deps.kube.deleteBackup(pass.namespace, name));
  pass.log.info({ backup: name }, 'expired backup deleted');
  await pass.deps.events.record(pass.rr, 'Normal', 'BackupDeleted', `RedisBackup ${name} deleted: spec.backup.retention does not keep it`);
}
