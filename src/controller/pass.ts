// What the effect layer needs from the outside world, as narrow interfaces so that unit tests can
// drive reconcile through a fake (test/controller/fake.ts): the Kubernetes verbs the operator
// calls, the Redis commands it sends, the cache of watched objects, and the per-pass context.
import type { V1Node, V1PersistentVolumeClaim, V1Pod, V1PodDisruptionBudget, V1Secret, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import type { RedisCommands, RedisTarget, RedisTls } from '../redis/client.js';
import type { ServerInfo } from '../redis/info.js';

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
  /** Merge patch of the Service's selector and traffic distribution (`null` removes it). */
  patchServiceSpec(namespace: string, name: string, spec: { selector: Record<string, string>; trafficDistribution: string | null }): Promise<void>;
  /** JSON merge patch of /status; `null` values remove fields. With `resourceVersion`, the write
   * fails with 409 Conflict if the resource changed since that version. Returns the new version. */
  patchStatus(namespace: string, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<string | undefined>;
  /** JSON merge patch of metadata.annotations of the resource; `null` removes a key. Returns the new version. */
  patchAnnotations(namespace: string, name: string, annotations: Record<string, string | null>): Promise<string | undefined>;
  readSecret(namespace: string, name: string): Promise<V1Secret>;
  createSecret(secret: V1Secret): Promise<void>;
  /** Merge patch of stringData. */
  patchSecretData(namespace: string, name: string, stringData: Record<string, string>): Promise<void>;
}

/** The Redis commands of the operator (RedisPool in production). */
export type RedisApi = RedisCommands;

/** Watched objects, from the informers' caches. */
export interface Caches {
  resource(namespace: string, name: string): RedisReplication | undefined;
  pods(namespace: string, instance: string): V1Pod[];
  claims(namespace: string, instance: string): V1PersistentVolumeClaim[];
  services(namespace: string, instance: string): V1Service[];
  node(name: string): V1Node | undefined;
}

export interface Recorder {
  record(rr: RedisReplication, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface PasswordSource {
  /** The value of a key (`password` by default); throws SecretMissing when the Secret or the key is missing. */
  get(namespace: string, secretName: string, key?: string): Promise<string>;
  /** Forgets a cached value (the operator just wrote that Secret). */
  forget(namespace: string, secretName: string): void;
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
  /** How often a healthy resource is looked at again (Redis health is polled, not watched). */
  healthIntervalMs: number;
  /** Memory of one operator process: lost on restart, so nothing here may be needed for safety. */
  memory: Map<string, ResourceMemory>;
  passwords: PasswordSource;
}

export interface ResourceMemory {
  unreachableSinceMs?: number;
  /** Since when the primary has not been a writable master (for failover.acceptDataLossAfterSeconds). */
  inDoubtSinceMs?: number;
  lastStatusWriteMs?: number;
  /** Pods that had metric series, to drop the series of pods that went away. */
  pods?: Set<string>;
  /** The spec generation whose config each pod (by IP) has had applied at run time. */
  configured?: Map<string, number>;
  configRefusedGeneration?: number;
  /** The server and version of each pod, by IP (INFO server). */
  servers?: Map<string, ServerInfo>;
  /** The disruption budgets were created by this process (they never change). */
  budgetsEnsured?: boolean;
  /** When the rolling update last took a step, and whether its stall was reported. */
  rollStepAtMs?: number;
  rollStallReported?: boolean;
  /** The image whose refusal (a downgrade) was last reported in an Event. */
  refusedImage?: string;
  /** When the certificate each pod serves was last compared with the one it should serve. */
  tlsCheckedAtMs?: number;
}

/** TLS of a resource with spec.tls.enabled, as this pass found it. */
export interface TlsState {
  /** How the operator speaks to the pods; undefined while no certificate was ever applied (no pod
   * can start without one). */
  client: RedisTls | undefined;
  /** The SHA-256 fingerprint of the certificate every pod should serve. */
  fingerprint: string | undefined;
  /** Why the certificate wanted cannot be applied (a missing or unusable Secret). */
  problem: { reason: string; message: string } | undefined;
}

/** One reconcile pass over one resource: what every phase reads. */
export interface Pass {
  deps: Deps;
  rr: RedisReplication;
  spec: RedisReplicationSpec;
  namespace: string;
  name: string;
  /** The password the pods have (the applied one), if auth is on. */
  password: string | undefined;
  /** The password wanted, while a rotation is under way. */
  newPassword: string | undefined;
  /** The password before the last rotation: a container restarted from a volume the kubelet had not
   * refreshed yet still has it. */
  oldPassword?: string | undefined;
  /** The password each pod answered to (by IP), when it is not `password`. */
  passwordOf: Map<string, string | undefined>;
  memory: ResourceMemory;
  log: Logger;
  /** The resource's version as this pass last wrote or read it: intent writes are conditional on it. */
  resourceVersion: string | undefined;
  /** Why the API server refused a pod this pass, if it did. */
  podRefusal?: string | undefined;
  tls?: TlsState | undefined;
}

/** How to reach the Redis of a pod: its IP, with the password it answered to. */
export function redisTarget(pass: Pass, ip: string): RedisTarget {
  return redisTargetAs(pass, ip, pass.passwordOf.has(ip) ? pass.passwordOf.get(ip) : pass.password);
}

/** How to reach the Redis of a pod with a given password (over TLS when it is on). */
export function redisTargetAs(pass: Pass, ip: string, password: string | undefined): RedisTarget {
  return { host: ip, password, ...(pass.tls?.client ? { tls: pass.tls.client } : {}) };
}
