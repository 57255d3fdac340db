// What the effect layer needs from the outside world, as narrow interfaces so that unit tests can
// drive reconcile through a fake (test/controller/fake.ts): the Kubernetes verbs the operator
// calls, the Redis commands it sends, the cache of watched objects, and the per-pass context.
import type { V1NetworkPolicy, V1Node, V1PersistentVolumeClaim, V1Pod, V1PodDisruptionBudget, V1Secret, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ObjectStore, RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import type { BackupFiles, S3Credentials } from '../backup/object-store.js';
import type { Archives, RecoveryStore, RunningArchive } from '../backup/archive-store.js';
import type { ArchiveEnd } from '../backup/archiver.js';
import type { RecoveryPlan } from '../plan/pitr.js';
import type { Validity } from '../plan/tls.js';
import type { RedisBackup, RedisBackupStatus } from '../api/backup.js';
import type { BackupManifest } from '../plan/backup.js';
import type { RdbServer, RdbServing } from '../backup/rdb-server.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import type { RedisCommands, RedisTarget, RedisTls } from '../redis/client.js';
import type { ServerInfo } from '../redis/info.js';
import { OPERATOR_USER, type AclUser, type AppliedAuth } from '../plan/acl.js';
import type { FullSync, OffsetSample, SyncWatch } from '../plan/backlog.js';
import type { SecretUse, SecretUser } from '../plan/secrets.js';
import type { Refusal } from '../plan/status.js';
import type { SyncMark } from '../plan/sync.js';
import type { OwnWrite } from '../plan/own-write.js';

/** The API calls of the operator. Each throws the API error as it came (404, 409...): the phases
 * decide which failures mean "already done". */
export interface KubeApi {
  createPod(pod: V1Pod): Promise<void>;
  /** graceSeconds 0 removes the object at once (fencing). */
  deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void>;
  patchPodMeta(namespace: string, name: string, labels: Record<string, string>, annotations: Record<string, string | null>): Promise<void>;
  createClaim(claim: V1PersistentVolumeClaim): Promise<void>;
  deleteClaim(namespace: string, name: string): Promise<void>;
  patchClaimAnnotations(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void>;
  createService(service: V1Service): Promise<void>;
  createDisruptionBudget(budget: V1PodDisruptionBudget): Promise<void>;
  createNetworkPolicy(policy: V1NetworkPolicy): Promise<void>;
  readNetworkPolicy(namespace: string, name: string): Promise<V1NetworkPolicy>;
  /** Replaces the object (PUT, with its resourceVersion): typed, so client-node serializes `_from`. */
  replaceNetworkPolicy(policy: V1NetworkPolicy): Promise<void>;
  deleteNetworkPolicy(namespace: string, name: string): Promise<void>;
  /** Merge patch of the Service's selector and traffic distribution (`null` removes it). */
  patchServiceSpec(namespace: string, name: string, spec: { selector: Record<string, string>; trafficDistribution: string | null }): Promise<void>;
  /** JSON merge patch of /status; `null` values remove fields. With `resourceVersion`, the write
   * fails with 409 Conflict if the resource changed since that version. Returns the new version. */
  patchStatus(namespace: string, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<string | undefined>;
  /** JSON merge patch of metadata.annotations of the resource; `null` removes a key. With
   * `resourceVersion`, conditional as patchStatus is. Returns the new version. */
  patchAnnotations(namespace: string, name: string, annotations: Record<string, string | null>, resourceVersion?: string): Promise<string | undefined>;
  readSecret(namespace: string, name: string): Promise<V1Secret>;
  createSecret(secret: V1Secret): Promise<void>;
  /** Merge patch of stringData. */
  patchSecretData(namespace: string, name: string, stringData: Record<string, string>): Promise<void>;
  /** JSON merge patch of a RedisBackup's /status. */
  patchBackupStatus(namespace: string, name: string, status: RedisBackupStatus): Promise<void>;
  /** A scheduled backup: 409 when the backup of that time exists. */
  createBackup(backup: RedisBackup): Promise<void>;
  /** A backup retention removes (its files are gone already). */
  deleteBackup(namespace: string, name: string): Promise<void>;
}

/** The Redis commands of the operator (RedisPool in production). */
type RedisApi = RedisCommands;

/** Watched objects, from the informers' caches. */
export interface Caches {
  resource(namespace: string, name: string): RedisReplication | undefined;
  /** The RedisReplications of a namespace. */
  resources(namespace: string): RedisReplication[];
  pods(namespace: string, instance: string): V1Pod[];
  claims(namespace: string, instance: string): V1PersistentVolumeClaim[];
  services(namespace: string, instance: string): V1Service[];
  node(name: string): V1Node | undefined;
  /** The RedisBackups of a resource (spec.replication). */
  backups(namespace: string, resource: string): RedisBackup[];
  /** One RedisBackup by name (the one a restore reads). */
  backup(namespace: string, name: string): RedisBackup | undefined;
}

export interface Recorder {
  record(rr: RedisReplication, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface PasswordSource {
  /** The value of a key (`password` by default) of a Secret of the user's namespace, read for `use`;
   * throws SecretMissing when the Secret or the key is missing, SecretProblem when the user may not
   * use it (plan/secrets.ts). */
  get(user: SecretUser & { namespace: string }, secretName: string, use: SecretUse, key?: string): Promise<string>;
  /** Forgets a cached value (the operator just wrote that Secret). */
  forget(namespace: string, secretName: string): void;
  /** Reads again every Secret a pass read (missing ones too) and forgets those that changed: the
   * resources that read them (those `live` keeps), whose pass is due. */
  changed(live: (resource: string) => boolean): Promise<string[]>;
}

/** Process-wide dependencies, wired once by the controller. */
export interface Deps {
  kube: KubeApi;
  redis: RedisApi;
  events: Recorder;
  metrics: OperatorMetrics;
  cache: Caches;
  log: Logger;
  now(): number;
  /** Waits (a timer in production, the fake clock in tests). */
  sleep(ms: number): Promise<void>;
  /** The resync interval: when a resource whose last pass wrote something, or that has work beside
   * passes, is looked at again (plan/next-pass.ts). A settled resource whose pass wrote nothing is
   * not: the prober, the watches and the Secret poll wake it when something changes. */
  healthIntervalMs: number;
  /** Memory of one operator process: lost on restart, so nothing here may be needed for safety. */
  memory: Map<string, ResourceMemory>;
  passwords: PasswordSource;
  /** Where the operator runs (its NetworkPolicy peer); undefined outside a cluster. */
  operatorNamespace: string | undefined;
  /** Serves backups to the pods being restored, as their primary (backup/rdb-server.ts). */
  rdbServer: RdbServer;
  /** Since when the prober has had no answer from a pod at this IP (controller/prober.ts), if so. */
  silentSince(key: string, pod: string, ip: string): number | undefined;
  /** The files of backups in an object store, for retention (S3 in production, a fake in tests). */
  backupFiles(store: ObjectStore, credentials: S3Credentials): BackupFiles;
  /** The archives of the replication stream and their archivers (S3 and backup/archiver.ts in
   * production, fakes in tests). */
  archives: Archives;
  /** What a restore reads from an object store (S3 in production, a fake in tests). */
  recoveryStore(store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'region'>, credentials: S3Credentials): RecoveryStore;
}

export interface ResourceMemory {
  /** The version this process's last write to the resource replaced (plan/own-write.ts). */
  ownWrite?: OwnWrite | undefined;
  unreachableSinceMs?: number;
  /** The same for a hand-over's target, while its intent is in status (controller/reconcile.ts). */
  targetUnreachableSinceMs?: number;
  /** Since when the primary has not been a writable master (for failover.acceptDataLossAfterSeconds). */
  inDoubtSinceMs?: number;
  lastStatusWriteMs?: number;
  /** Per replica, the parent's offset when it was first seen online after its last full sync
   * (plan/sync.ts). Lost on restart: every replica is then unsynced until it proves it again. */
  syncMarks?: Map<string, SyncMark>;
  /** Pods that had metric series, to drop the series of pods that went away. */
  pods?: Set<string>;
  /** The spec generation whose config each pod (by IP) has had applied at run time. */
  configured?: Map<string, number>;
  configRefusedGeneration?: number;
  /** The server and version of each pod, by IP (INFO server). */
  servers?: Map<string, ServerInfo>;
  /** The disruption budgets were created by this process (they never change). */
  budgetsEnsured?: boolean;
  /** The NetworkPolicy spec this process last made sure of (JSON; "none" when off). */
  networkPolicy?: string;
  /** When the rolling update last took a step, and whether its stall was reported. */
  rollStepAtMs?: number;
  rollStallReported?: boolean;
  /** Pods (and reasons) Kubernetes could not run, already reported in an Event. */
  stuckPodsReported?: Set<string>;
  /** The image whose refusal (a downgrade) was last reported in an Event. */
  refusedImage?: string;
  /** The users (and default password) each pod (by IP) was last given, as a digest. */
  usersSynced?: Map<string, string>;
  /** App users (by the digest of name, password and rules) Redis accepted, and refused with why. */
  acceptedUsers?: Set<string>;
  refusedUsers?: Map<string, string>;
  /** When the certificate each pod serves was last compared with the one it should serve. */
  tlsCheckedAtMs?: number;
  /** When the memory of the pods was last asked for (controller/metrics.ts). */
  memoryPolledAtMs?: number;
  /** The primary's offsets of the last minute (its write rate), what was last seen of each replica's
   * link, and the full syncs of each pod in the last 10 minutes (plan/backlog.ts). A restarted
   * operator starts them over: no rate for the first 10 s, and a loop needs two new full syncs. */
  offsetSamples?: OffsetSample[];
  syncWatch?: SyncWatch;
  fullSyncs?: Record<string, FullSync[]>;
  /** The fingerprint every pod served at the last such check, if they all served the same. */
  tlsServedEverywhere?: string;
  /** The name constraints of the operator's CA (reading them takes milliseconds: once per CA). */
  caPermitted?: { cert: string; names: string[] | undefined };
  /** Backups this process runs (by name), and how those that ended did, until status says so. */
  backupsRunning?: Set<string>;
  backupOutcomes?: Map<string, { manifest: BackupManifest } | { reason: string; message: string }>;
  /** The restore this process serves (controller/restore.ts), and how its transfer ended. */
  restoreRun?: RestoreRun;
  /** The plan of a point-in-time restore of the resource with this uid, once made: the store is read
   * once (a day of archive is over a thousand index files). One that may still change (the archive
   * is catching up to the target) is not kept. */
  recoveryPlan?: { uid: string; plan: RecoveryPlan };
  /** Expired backups whose files retention is deleting in the background, and how those that ended
   * did (undefined: every file is gone, the RedisBackup goes next; else why not). */
  backupFilesDeleting?: Set<string>;
  backupFilesOutcomes?: Map<string, string | undefined>;
  /** The archive of the replication stream this process runs (controller/archive.ts). */
  archive?: ArchiveRun;
  /** The archive's failures in a row, the last one's message, and when it is tried again. */
  archiveRetry?: { failures: number; atMs: number; lastError: string };
  /** Since when the archive needs a new base (its source answered +FULLRESYNC): older bases would
   * leave the same gap. */
  archiveNeedsBaseSinceMs?: number;
  /** The base backup this process created for the archive, until it ends. */
  archiveBaseRequested?: string;
  /** When the archive's segments that retention no longer needs were last looked for, and whether
   * their deletion is under way. */
  archivePrunedAtMs?: number;
  archivePruning?: boolean;
}

export interface ArchiveRun {
  /** The object store it writes to, as JSON of its settings: another store is another archive. */
  store: string;
  /** The RedisBackup the archive continues from (it moves to newer ones the archive passed). */
  base: string;
  /** Where this run started, and the replids it has been on since. */
  from: { replid: string; offset: number };
  replids: Set<string>;
  /** The pod it follows. */
  source: { pod: string; ip: string };
  /** Undefined while the archive is read to find where to resume. */
  archiver?: RunningArchive;
  /** When what was archived before this run had been received. */
  resumedAt?: number;
  /** How it ended, or why it could not start. */
  end?: ArchiveEnd;
  /** spec.backup.archive went off, or the operator stops: no archiver is started any more. */
  stopping?: boolean;
}

interface RestoreRun {
  pod: string;
  podIP: string;
  serving: RdbServing;
  /** Every byte sent and checked. */
  sent?: boolean;
  /** Why the transfer ended early; with a reason, the stored files are wrong (trying again cannot help). */
  failed?: { message: string; reason?: 'BackupCorrupt' | 'ArchiveCorrupt' };
}

/** TLS of a resource with spec.tls.enabled, as this pass found it. */
export interface TlsState {
  /** How the operator speaks to the pods; undefined while no certificate was ever applied (no pod
   * can start without one). */
  client: RedisTls | undefined;
  /** The SHA-256 fingerprint of the certificate every pod should serve. */
  fingerprint: string | undefined;
  /** The operator's CA is being renewed: every pod re-reads its files (the CAs it trusts) at each check. */
  caRenewal: boolean;
  /** Why the certificate wanted cannot be applied (a missing or unusable Secret). */
  problem: { reason: string; message: string } | undefined;
  /** When the certificate every pod should serve became valid and expires. */
  validity: Validity | undefined;
}

/** One reconcile pass over one resource: what every phase reads. */
export interface Pass {
  deps: Deps;
  rr: RedisReplication;
  spec: RedisReplicationSpec;
  namespace: string;
  name: string;
  /** What the pods have (the applied-auth Secret), if auth is on and it was ever applied. */
  auth: AppliedAuth | undefined;
  /** The default user's password wanted, while a rotation is under way. */
  newPassword: string | undefined;
  /** spec.auth.users as wanted this pass (see resolveUsers). */
  users: AclUser[];
  /** How each pod (by IP) was reached, when not as the operator's own user: a pod of a resource
   * created before ACL users existed, or one that restarted with an old auth.conf. */
  credentialsOf: Map<string, Credentials>;
  memory: ResourceMemory;
  log: Logger;
  /** The resource's version as this pass last wrote or read it: intent writes are conditional on it. */
  resourceVersion: string | undefined;
  /** What the API server refused to create this pass (see refuse() in pods.ts). */
  refusals: Refusal[];
  tls?: TlsState | undefined;
}

/** Who a connection authenticates as: no username is the default user. */
export interface Credentials {
  username?: string | undefined;
  password: string | undefined;
}

/** With auth, the operator is its own ACL user (its password is in the applied-auth Secret only);
 * without, it sends no password. */
function ownCredentials(pass: Pick<Pass, 'auth'>): Credentials {
  return pass.auth ? { username: OPERATOR_USER, password: pass.auth.operatorPassword } : { password: undefined };
}

/** The credentials a pod is tried with, in order: the operator's user, then the default user with
 * each password a pod may have (applied, wanted by a rotation, the one before). The default user
 * is how the operator reaches pods that do not have its user yet: those of a resource created
 * before ACL users existed (the ACL phase then creates the users on them), and a container that
 * restarted with a stale auth.conf. */
export function candidateCredentials(pass: Pick<Pass, 'auth' | 'newPassword'>): Credentials[] {
  const { auth } = pass;
  if (!auth) return [ownCredentials(pass)];
  const passwords = [...new Set([auth.password, pass.newPassword ?? auth.password, auth.previous ?? auth.password])];
  return [ownCredentials(pass), ...passwords.map((password) => ({ password }))];
}

/** How to reach the Redis of a pod: its IP, with the credentials it answered to. */
export function redisTarget(pass: Pass, ip: string): RedisTarget {
  return redisTargetAs(pass, ip, pass.credentialsOf.get(ip) ?? ownCredentials(pass));
}

/** How to reach the Redis of a pod with given credentials (over TLS when it is on). */
export function redisTargetAs(pass: Pass, ip: string, credentials: Credentials): RedisTarget {
  return { host: ip, ...credentials, ...(pass.tls?.client ? { tls: pass.tls.client } : {}) };
}
