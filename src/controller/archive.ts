// Archive phase (spec.backup.archive): one archiver per resource, in this process (the leader's),
// in the background as backups are: a store or a pod that hangs holds up no pass. It continues from
// the newest Completed base backup (a base RedisBackup is created when there is none), from where the
// archive of that base already ends (an operator that restarted goes on, not back to the base); it
// follows a linked replica (plan/archive.ts archiveSource) and is retargeted when that changes (a
// failover, a switchover, the pod gone). Its end: +FULLRESYNC (the source no longer has its history)
// takes a new base; a failure is retried with back-off. Passes report it in status.archive and
// rro_archive_lag_*; with spec.backup.retention, segments older than the oldest kept base go, once an
// hour, in the background.
//
// Its link is one more replica connection of the backup user, from the operator's address: status
// (nodes), the read Service and the full-sync figures only look at replicas whose IP is a pod's
// (plan/nodes.ts, plan/sync.ts, plan/backlog.ts), so it is never taken for a replica of the resource.
import { BACKUP_KIND } from '../api/backup.js';
import { GROUP, VERSION, type ArchiveStatus, type NodeStatus } from '../api/schema.js';
import type { S3Credentials } from '../backup/object-store.js';
import { ignore, isConflict } from '../kube/client.js';
import { archiveAckIntervalMs, archiveBase, archiveRetryMs, archiveSource, baseBackupName, coveredBase, oldestKeptBase, prunableKeys, resumeFrom, walRoot } from '../plan/archive.js';
import { expiredBackups } from '../plan/backup-schedule.js';
import { retentionInput } from './backup-schedule.js';
import { backupTarget, storeCredentials } from './backups.js';
import type { ArchiveRun, Pass, ResourceMemory } from './pass.js';
import { SecretProblem } from './secrets.js';

const ENDED = new Set(['Completed', 'Failed']);
/** The longest wait for the archive's listing when an archiver starts. */
const READ_TIMEOUT_MS = 5 * 60_000;
/** How often the archive is looked through for segments retention no longer needs. */
const PRUNE_INTERVAL_MS = 3_600_000;

/** One pass of the archive phase; `settled`: the primary decision is ok (only then is anything
 * started, created or retargeted). Returns status.archive (undefined: not archiving). */
export async function runArchive(pass: Pass, nodes: NodeStatus[], settled: boolean): Promise<ArchiveStatus | undefined> {
  const { deps, memory, namespace, name } = pass;
  const backup = pass.spec.backup;
  const store = backup?.archive ? storeId(backup.objectStore) : undefined;
  if (memory.archive && memory.archive.store !== store) void stopArchive(memory);
  if (store === undefined) {
    delete memory.archiveRetry;
    delete memory.archiveNeedsBaseSinceMs;
    delete memory.archiveBaseRequested;
    deps.metrics.setArchiveLag(namespace, name, undefined);
    return undefined;
  }
  let waiting: string | undefined;
  if (memory.archive?.end) waiting = await ended(pass, memory.archive);
  const run = memory.archive;
  if (run?.archiver && settled) follow(pass, run, nodes);
  if (!run && settled) waiting = (await begin(pass, nodes, store)) ?? waiting;
  const status = archiveStatus(pass, nodes, waiting);
  deps.metrics.setArchiveLag(namespace, name, { seconds: status.lagSeconds, bytes: status.lagBytes });
  if (settled) await prune(pass);
  return status;
}

/** Stops the archiver of a resource, if this process runs one: what it received is stored. */
export async function stopArchive(memory: ResourceMemory): Promise<void> {
  const run = memory.archive;
  if (!run) return;
  delete memory.archive;
  run.stopping = true;
  await run.archiver?.stop();
}

const storeId = (s: { endpoint: string; bucket: string; path: string; region?: string | undefined; credentialsSecret: string }): string =>
  JSON.stringify([s.endpoint, s.bucket, s.path, s.region, s.credentialsSecret]);

/** An archiver that ended: a new base is needed, or it failed and is retried later. Returns what
 * status says meanwhile. */
async function ended(pass: Pass, run: ArchiveRun): Promise<string | undefined> {
  const { deps, memory, rr } = pass;
  delete memory.archive;
  const end = run.end!;
  if (end.reason === 'stopped') return undefined;
  if (end.reason === 'failed') return failed(pass, `the archive ended at ${end.stored.replid} ${end.stored.offset}: ${end.error.message}`);
  pass.log.warn({ stored: end.stored }, 'archive needs a new base');
  memory.archiveNeedsBaseSinceMs = deps.now();
  await deps.events.record(rr, 'Warning', 'ArchiveNeedsBase', `${end.message}; the archive ends at ${end.stored.replid} ${end.stored.offset}`);
  return end.message;
}

/** Records a failure: tried again after a back-off that grows with the failures in a row. */
async function failed(pass: Pass, message: string): Promise<string> {
  const { deps, memory } = pass;
  const failures = (memory.archiveRetry?.failures ?? 0) + 1;
  memory.archiveRetry = { failures, atMs: deps.now() + archiveRetryMs(failures), lastError: message };
  pass.log.warn({ failures, err: message }, 'archive failed');
  await deps.events.record(pass.rr, 'Warning', 'ArchiveFailed', message);
  return message;
}

/** Starts the archive from the newest base, or creates a base and waits for it. Returns why it waits. */
async function begin(pass: Pass, nodes: NodeStatus[], store: string): Promise<string | undefined> {
  const { deps, memory, namespace, name, spec } = pass;
  const objectStore = spec.backup!.objectStore;
  if (memory.archiveRetry && memory.archiveRetry.atMs > deps.now()) return memory.archiveRetry.lastError;
  const backups = deps.cache.backups(namespace, name);
  const requested = backups.find((b) => b.metadata.name === memory.archiveBaseRequested);
  if (requested && ENDED.has(requested.status?.phase ?? '')) delete memory.archiveBaseRequested;
  if (requested?.status?.phase === 'Failed') {
    return failed(pass, `base backup ${requested.metadata.name} failed: ${requested.status.reason ?? ''} ${requested.status.message ?? ''}`.trim());
  }
  const base = archiveBase(backups, objectStore, name, memory.archiveNeedsBaseSinceMs);
  if (!base) {
    // Any backup that has not ended (scheduled, by hand, this phase's own) is the next base.
    const unfinished = backups.find((b) => !ENDED.has(b.status?.phase ?? ''));
    if (unfinished) return `waiting for RedisBackup ${unfinished.metadata.name}: the archive starts from it`;
    const backupName = baseBackupName(name, deps.now());
    await ignore(isConflict, deps.kube.createBackup({ apiVersion: `${GROUP}/${VERSION}`, kind: BACKUP_KIND, metadata: { name: backupName, namespace }, spec: { replication: name } }));
    memory.archiveBaseRequested = backupName;
    pass.log.info({ backup: backupName }, 'base backup for the archive created');
    await deps.events.record(pass.rr, 'Normal', 'ArchiveBaseCreated', `RedisBackup ${backupName} created: the archive starts from it`);
    return `waiting for RedisBackup ${backupName}: the archive starts from it`;
  }
  let credentials: S3Credentials;
  try {
    credentials = await storeCredentials(pass, objectStore);
  } catch (err) {
    if (!(err instanceof SecretProblem)) throw err;
    return failed(pass, `spec.backup.objectStore.credentialsSecret: ${err.message}`);
  }
  const source = archiveSource(nodes, undefined, spec.writeQuorum !== undefined);
  if (!('pod' in source)) return source.message;
  const baseAt = { replid: base.status!.replid!, offset: base.status!.offset! };
  const run: ArchiveRun = { store, base: base.metadata.name, from: baseAt, replids: new Set([baseAt.replid]), source: { pod: source.pod.name, ip: source.pod.podIP! } };
  memory.archive = run;
  const root = walRoot(objectStore, name);
  const ackIntervalMs = archiveAckIntervalMs(spec.config);
  const log = pass.log;
  // The archive is read in the background too: listing a long one takes a while, and a store that
  // does not answer fails the start (retried) rather than holding it forever.
  void withTimeout(deps.archives.read(objectStore, credentials, root), READ_TIMEOUT_MS, `listing ${root}`).then(
    (archive) => {
      if (run.stopping) return;
      const resume = resumeFrom(baseAt, archive);
      run.from = { replid: resume.replid, offset: resume.offset };
      run.replids.add(resume.replid);
      if (resume.at !== undefined) run.resumedAt = resume.at;
      log.info({ base: run.base, from: run.from, source: run.source.pod }, 'archive started');
      run.archiver = deps.archives.start(backupTarget(pass, run.source.ip), run.from, objectStore, credentials, root, ackIntervalMs);
      void run.archiver.done.then((end) => (run.end = end));
    },
    (err: unknown) => (run.end = { reason: 'failed', stored: baseAt, error: err instanceof Error ? err : new Error(String(err)) }),
  );
  return undefined;
}

/** Follows the source the nodes show now, and the base the archive has passed. */
function follow(pass: Pass, run: ArchiveRun, nodes: NodeStatus[]): void {
  const { memory, spec, namespace, name } = pass;
  const position = run.archiver!.position;
  run.replids.add(position.received.replid).add(position.stored.replid);
  if (position.linked) delete memory.archiveRetry;
  run.base = coveredBase(pass.deps.cache.backups(namespace, name), spec.backup!.objectStore, name, { base: run.base, from: run.from, replids: run.replids, stored: position.stored });
  const source = archiveSource(nodes, run.source.pod, spec.writeQuorum !== undefined);
  if (!('pod' in source) || (source.pod.name === run.source.pod && source.pod.podIP === run.source.ip)) return;
  pass.log.info({ from: run.source.pod, to: source.pod.name }, 'archive follows another pod');
  run.source = { pod: source.pod.name, ip: source.pod.podIP! };
  run.archiver!.retarget(backupTarget(pass, run.source.ip));
}

/** status.archive: the live archiver's position, or what was last known and why it waits. */
function archiveStatus(pass: Pass, nodes: NodeStatus[], waiting: string | undefined): ArchiveStatus {
  const { deps, memory, rr } = pass;
  const run = memory.archive;
  const previous = rr.status?.archive;
  const position = run?.archiver?.position;
  const stored = position?.stored ?? (previous?.replid !== undefined && previous.lastArchivedOffset !== undefined ? { replid: previous.replid, offset: previous.lastArchivedOffset } : undefined);
  const storedAtMs = position ? (position.storedAt ?? run!.resumedAt) : Date.parse(previous?.lastArchivedTime ?? '');
  const primaryOffset = nodes.find((n) => n.role === 'primary')?.offset;
  const known = storedAtMs !== undefined && !Number.isNaN(storedAtMs);
  const lastError = run ? run.archiver?.lastError : (waiting ?? memory.archiveRetry?.lastError ?? previous?.lastError);
  return {
    base: run?.base ?? previous?.base,
    replid: stored?.replid,
    lastArchivedOffset: stored?.offset,
    lastArchivedTime: known ? new Date(storedAtMs).toISOString() : undefined,
    lagBytes: stored && primaryOffset !== undefined ? Math.max(0, primaryOffset - stored.offset) : undefined,
    lagSeconds: known ? Math.max(0, Math.floor((deps.now() - storedAtMs) / 1000)) : undefined,
    sourcePod: run?.source.pod,
    lastError,
  };
}

/** With spec.backup.retention: once an hour, in the background, deletes the segments older than the
 * oldest base retention keeps. */
async function prune(pass: Pass): Promise<void> {
  const { deps, memory, spec, name } = pass;
  const retention = retentionInput(pass);
  if (!retention || memory.archivePruning || deps.now() - (memory.archivePrunedAtMs ?? -Infinity) < PRUNE_INTERVAL_MS) return;
  const expired = new Set(expiredBackups(retention).map((e) => e.name));
  const oldest = oldestKeptBase(retention.backups.filter((b) => !expired.has(b.metadata.name)), retention.store, name);
  memory.archivePrunedAtMs = deps.now();
  if (oldest === undefined) return;
  const store = spec.backup!.objectStore;
  let credentials: S3Credentials;
  try {
    credentials = await storeCredentials(pass, store);
  } catch (err) {
    if (err instanceof SecretProblem) return;
    throw err;
  }
  memory.archivePruning = true;
  const root = walRoot(store, name);
  const log = pass.log;
  void (async () => {
    const archive = await deps.archives.read(store, credentials, root);
    const keys = prunableKeys(root, archive.segments, oldest);
    if (keys.length > 0) await deps.archives.delete(store, credentials, keys);
    log.info({ deleted: keys.length / 2 }, 'archive segments older than the oldest kept base deleted');
  })()
    .catch((err: unknown) => log.warn({ err: String(err) }, 'deleting old archive segments failed; tried again in an hour'))
    .finally(() => (memory.archivePruning = false));
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the object store in ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
