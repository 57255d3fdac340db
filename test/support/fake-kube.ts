// An in-memory Kubernetes for the controller tests and the fault simulation: the API verbs the
// operator calls (KubeApi), the informer caches it reads (Caches), Events, and a node agent that
// runs every pod's Redis in the Redis model. Errors carry the HTTP code the real API would send.
import type { V1ContainerState, V1NetworkPolicy, V1Node, V1PersistentVolumeClaim, V1Pod, V1PodDisruptionBudget, V1Secret, V1Service } from '@kubernetes/client-node';
import type { RedisReplication } from '../../src/api/schema.js';
import type { RedisBackup, RedisBackupStatus } from '../../src/api/backup.js';
import type { Caches, KubeApi, Recorder } from '../../src/controller/pass.js';
import { LABEL } from '../../src/plan/names.js';
import type { RedisModel, RedisServer } from './redis-model.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface Disk {
  log: number[];
  /** The pod that ran on it last, and the pod its data came from. */
  pod: string;
  origin: string | undefined;
}

export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
}

const clone = <T>(v: T): T => structuredClone(v);

/** JSON merge patch (RFC 7386). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube implements KubeApi {
  readonly resources = new Map<string, RedisReplication>();
  readonly pods = new Map<string, V1Pod>();
  readonly claims = new Map<string, V1PersistentVolumeClaim>();
  readonly services = new Map<string, V1Service>();
  readonly secrets = new Map<string, V1Secret>();
  readonly budgets = new Map<string, V1PodDisruptionBudget>();
  readonly networkPolicies = new Map<string, V1NetworkPolicy>();
  readonly nodes = new Map<string, V1Node>();
  readonly backups = new Map<string, RedisBackup>();
  /** What each claim's volume holds while no pod runs on it, and the server that wrote it last. */
  readonly disks = new Map<string, Disk>();
  readonly events: RecordedEvent[] = [];
  /** API writes, for assertions: "verb kind/name". */
  readonly writes: string[] = [];
  /** Called before each API call: the simulation may throw here (API errors, operator crashes). */
  beforeCall: (verb: string, what: string) => void = () => {};
  /** Called when a pod goes away, before its Redis stops. */
  beforeRemove: (server: RedisServer) => void = () => {};
  private nextIP = 1;

  /** A scheduler: the schedulable node with the fewest pods ("local" when the test defines none). */
  private schedule(): string {
    const count = (node: string) => [...this.pods.values()].filter((p) => p.spec?.nodeName === node).length;
    const free = [...this.nodes.values()].filter((n) => !n.spec?.unschedulable).map((n) => n.metadata!.name!);
    return free.sort((a, b) => count(a) - count(b) || (a < b ? -1 : 1))[0] ?? 'local';
  }
  private resourceVersion = 1;

  constructor(
    readonly redis: RedisModel,
    readonly now: () => number,
  ) {}

  // Test setup and faults.

  apply(rr: Omit<RedisReplication, 'metadata'> & { metadata: Partial<RedisReplication['metadata']> & { name: string } }): RedisReplication {
    const key = `${rr.metadata.namespace ?? 'default'}/${rr.metadata.name}`;
    const current = this.resources.get(key);
    const generation = (current?.metadata.generation ?? 0) + (current && JSON.stringify(current.spec) === JSON.stringify(rr.spec) ? 0 : 1);
    const next: RedisReplication = {
      ...clone(rr),
      metadata: { namespace: 'default', uid: `uid-${rr.metadata.name}`, ...current?.metadata, ...clone(rr.metadata), generation, resourceVersion: String(this.resourceVersion++) },
      status: current?.status ?? rr.status,
    } as RedisReplication;
    this.resources.set(key, next);
    return next;
  }

  resource(namespace: string, name: string): RedisReplication {
    const rr = this.resources.get(`${namespace}/${name}`);
    if (!rr) throw new Error(`no resource ${namespace}/${name}`);
    return rr;
  }

  /** Creates or replaces a Secret's data, as a user would (`labels` only when it is created; an
   * existing one keeps its labels and owners). */
  setSecret(namespace: string, name: string, stringData: Record<string, string>, labels?: Record<string, string>): void {
    const metadata = this.secrets.get(`${namespace}/${name}`)?.metadata ?? { name, namespace, ...(labels ? { labels } : {}) };
    this.putSecret(`${namespace}/${name}`, withData({ metadata, stringData }));
  }

  /** Stores a Secret with a new resourceVersion, as the API server does on every write. */
  private putSecret(key: string, secret: V1Secret): void {
    secret.metadata = { ...secret.metadata, resourceVersion: String(this.resourceVersion++) };
    this.secrets.set(key, secret);
  }

  serverOf(namespace: string, pod: string): RedisServer | undefined {
    const ip = this.pods.get(`${namespace}/${pod}`)?.status?.podIP;
    return ip ? this.redis.servers.get(ip) : undefined;
  }

  /** Pods whose graceful deletion was asked for go away (their Redis stops). */
  finishDeletions(): void {
    for (const [key, pod] of [...this.pods]) if (pod.metadata?.deletionTimestamp) this.removePod(key);
  }

  /** The container of a pod crashes and restarts (restartPolicy Always). */
  restartContainer(namespace: string, pod: string): void {
    this.killContainer(namespace, pod);
    this.startContainer(namespace, pod);
  }

  /** The container of a pod is killed (SIGKILL, OOM) and not restarted yet: its Redis is gone, the
   * pod's status says its container is not running. */
  killContainer(namespace: string, pod: string): void {
    const server = this.serverOf(namespace, pod);
    if (!server) throw new Error(`pod ${namespace}/${pod} has no server to kill`);
    this.stop(server);
    this.setContainerState(namespace, pod, { terminated: { exitCode: 137, reason: 'Error' } });
  }

  /** The kubelet restarts a container that is down. */
  startContainer(namespace: string, pod: string): void {
    const server = this.serverOf(namespace, pod);
    if (!server) throw new Error(`pod ${namespace}/${pod} has no server to start`);
    server.restart();
    this.setContainerState(namespace, pod, { running: {} });
  }

  /** A Redis process stops: its replicas' links drop at once (the connection closes), as INFO says
   * on their side. */
  private stop(server: RedisServer): void {
    server.running = false;
    for (const r of this.redis.servers.values()) if (r.role === 'replica' && r.masterHost === server.ip) r.linkUp = false;
  }

  private setContainerState(namespace: string, pod: string, state: V1ContainerState): void {
    const object = this.pods.get(`${namespace}/${pod}`)!;
    const [status] = object.status!.containerStatuses!;
    object.status!.containerStatuses = [{ ...status!, state, ready: Boolean(state.running), restartCount: status!.restartCount + (state.running ? 1 : 0) }];
    object.metadata!.resourceVersion = String(this.resourceVersion++);
  }

  // KubeApi

  async createPod(pod: V1Pod): Promise<void> {
    const key = this.call('create', 'pod', pod);
    if (this.pods.has(key)) throw new ApiError(409, `pods "${pod.metadata!.name}" already exists`);
    const ip = `10.0.${Math.floor(this.nextIP / 250)}.${(this.nextIP++ % 250) + 1}`;
    const created: V1Pod = {
      ...clone(pod),
      spec: { ...clone(pod.spec!), nodeName: this.schedule() },
      metadata: { ...clone(pod.metadata), uid: `pod-uid-${ip}`, resourceVersion: String(this.resourceVersion++) },
      status: { phase: 'Running', podIP: ip, containerStatuses: [{ name: 'redis', ready: true, restartCount: 0, image: '', imageID: '', state: { running: {} } }] },
    };
    this.pods.set(key, created);
    const claimName = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    const server = this.redis.start(ip, {
      pod: pod.metadata!.name!,
      persistent: Boolean(claimName),
      authConf: this.authConfOf(pod),
      config: configOf(pod),
      tlsFiles: () => this.tlsFilesOf(pod),
      ...serverOfImage(pod.spec!.containers[0]!.image!),
    });
    const disk = claimName ? this.disks.get(`${pod.metadata!.namespace}/${claimName}`) : undefined;
    if (disk) {
      server.log = [...disk.log];
      server.origin = disk.origin;
      this.disks.delete(`${pod.metadata!.namespace}/${claimName}`);
    }
  }

  async deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void> {
    const key = this.call('delete', 'pod', { metadata: { namespace, name } });
    const pod = this.pods.get(key);
    if (!pod) throw new ApiError(404, `pods "${name}" not found`);
    if (graceSeconds === 0) this.removePod(key);
    else pod.metadata!.deletionTimestamp = new Date(this.now());
  }

  async patchPodMeta(namespace: string, name: string, labels: Record<string, string>, annotations: Record<string, string | null>): Promise<void> {
    const key = this.call('patch', 'pod', { metadata: { namespace, name } });
    const pod = this.pods.get(key);
    if (!pod) throw new ApiError(404, `pods "${name}" not found`);
    pod.metadata = mergePatch(pod.metadata, { labels, annotations }) as V1Pod['metadata'];
    pod.metadata!.resourceVersion = String(this.resourceVersion++);
  }

  async createClaim(claim: V1PersistentVolumeClaim): Promise<void> {
    const key = this.call('create', 'persistentvolumeclaim', claim);
    if (this.claims.has(key)) throw new ApiError(409, `persistentvolumeclaims "${claim.metadata!.name}" already exists`);
    this.claims.set(key, clone(claim));
  }

  async deleteClaim(namespace: string, name: string): Promise<void> {
    const key = this.call('delete', 'persistentvolumeclaim', { metadata: { namespace, name } });
    if (!this.claims.delete(key)) throw new ApiError(404, `persistentvolumeclaims "${name}" not found`);
    this.disks.delete(key);
  }

  async patchClaimAnnotations(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
    const key = this.call('patch', 'persistentvolumeclaim', { metadata: { namespace, name } });
    const claim = this.claims.get(key);
    if (!claim) throw new ApiError(404, `persistentvolumeclaims "${name}" not found`);
    claim.metadata = mergePatch(claim.metadata, { annotations }) as V1PersistentVolumeClaim['metadata'];
  }

  async createService(service: V1Service): Promise<void> {
    const key = this.call('create', 'service', service);
    if (this.services.has(key)) throw new ApiError(409, `services "${service.metadata!.name}" already exists`);
    this.services.set(key, clone(service));
  }

  async createDisruptionBudget(budget: V1PodDisruptionBudget): Promise<void> {
    const key = this.call('create', 'poddisruptionbudget', budget);
    if (this.budgets.has(key)) throw new ApiError(409, `poddisruptionbudgets "${budget.metadata!.name}" already exists`);
    this.budgets.set(key, clone(budget));
  }

  async createNetworkPolicy(policy: V1NetworkPolicy): Promise<void> {
    const key = this.call('create', 'networkpolicy', policy);
    if (this.networkPolicies.has(key)) throw new ApiError(409, `networkpolicies "${policy.metadata!.name}" already exists`);
    this.networkPolicies.set(key, clone(policy));
  }

  async readNetworkPolicy(namespace: string, name: string): Promise<V1NetworkPolicy> {
    this.beforeCall('get', `networkpolicy/${name}`);
    const policy = this.networkPolicies.get(`${namespace}/${name}`);
    if (!policy) throw new ApiError(404, `networkpolicies "${name}" not found`);
    return clone(policy);
  }

  async replaceNetworkPolicy(policy: V1NetworkPolicy): Promise<void> {
    const key = this.call('update', 'networkpolicy', policy);
    if (!this.networkPolicies.has(key)) throw new ApiError(404, `networkpolicies "${policy.metadata!.name}" not found`);
    this.networkPolicies.set(key, clone(policy));
  }

  async deleteNetworkPolicy(namespace: string, name: string): Promise<void> {
    const key = this.call('delete', 'networkpolicy', { metadata: { namespace, name } });
    if (!this.networkPolicies.delete(key)) throw new ApiError(404, `networkpolicies "${name}" not found`);
  }

  async patchServiceSpec(namespace: string, name: string, spec: { selector: Record<string, string>; trafficDistribution: string | null }): Promise<void> {
    const key = this.call('patch', 'service', { metadata: { namespace, name } });
    const service = this.services.get(key);
    if (!service) throw new ApiError(404, `services "${name}" not found`);
    service.spec = mergePatch(service.spec, spec) as V1Service['spec'];
  }

  async patchStatus(namespace: string, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<string | undefined> {
    const key = this.call('patch', 'redisreplication/status', { metadata: { namespace, name } });
    const rr = this.resources.get(key);
    if (!rr) throw new ApiError(404, `redisreplications "${name}" not found`);
    this.checkVersion(rr, resourceVersion);
    rr.status = mergePatch(rr.status, status) as RedisReplication['status'];
    rr.metadata.resourceVersion = String(this.resourceVersion++);
    return rr.metadata.resourceVersion;
  }

  async patchAnnotations(namespace: string, name: string, annotations: Record<string, string | null>, resourceVersion?: string): Promise<string | undefined> {
    const key = this.call('patch', 'redisreplication', { metadata: { namespace, name } });
    const rr = this.resources.get(key);
    if (!rr) throw new ApiError(404, `redisreplications "${name}" not found`);
    this.checkVersion(rr, resourceVersion);
    rr.metadata = mergePatch(rr.metadata, { annotations }) as RedisReplication['metadata'];
    rr.metadata.resourceVersion = String(this.resourceVersion++);
    return rr.metadata.resourceVersion;
  }

  /** A write conditional on `resourceVersion` fails once the object has moved past it. */
  private checkVersion(rr: RedisReplication, resourceVersion: string | undefined): void {
    if (resourceVersion !== undefined && resourceVersion !== rr.metadata.resourceVersion) {
      throw new ApiError(409, `the object has been modified; please apply your changes to the latest version`);
    }
  }

  async createSecret(secret: V1Secret): Promise<void> {
    const key = this.call('create', 'secret', secret);
    if (this.secrets.has(key)) throw new ApiError(409, `secrets "${secret.metadata!.name}" already exists`);
    this.putSecret(key, withData(secret));
  }

  async patchSecretData(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
    const key = this.call('patch', 'secret', { metadata: { namespace, name } });
    const secret = this.secrets.get(key);
    if (!secret) throw new ApiError(404, `secrets "${name}" not found`);
    this.putSecret(key, withData({ ...secret, stringData }));
  }

  async patchBackupStatus(namespace: string, name: string, status: RedisBackupStatus): Promise<void> {
    const key = this.call('patch', 'redisbackup/status', { metadata: { namespace, name } });
    const backup = this.backups.get(key);
    if (!backup) throw new ApiError(404, `redisbackups "${name}" not found`);
    backup.status = mergePatch(backup.status, status) as RedisBackupStatus;
  }

  async createBackup(backup: RedisBackup): Promise<void> {
    const key = this.call('create', 'redisbackup', backup);
    if (this.backups.has(key)) throw new ApiError(409, `redisbackups "${backup.metadata.name}" already exists`);
    this.backups.set(key, { ...clone(backup), metadata: { ...clone(backup.metadata), creationTimestamp: new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z') } });
  }

  async deleteBackup(namespace: string, name: string): Promise<void> {
    const key = this.call('delete', 'redisbackup', { metadata: { namespace, name } });
    if (!this.backups.delete(key)) throw new ApiError(404, `redisbackups "${name}" not found`);
  }

  async readSecret(namespace: string, name: string): Promise<V1Secret> {
    this.beforeCall('get', `secret/${name}`);
    const secret = this.secrets.get(`${namespace}/${name}`);
    if (!secret) throw new ApiError(404, `secrets "${name}" not found`);
    return clone(secret);
  }

  // What the informers would show: the objects as they are, or while `lagCache` holds, as they
  // were then (a watch that fell behind: reads lag writes, and a write conditional on a version
  // read there gets 409 Conflict).

  private lagging: Pick<FakeKube, 'resources' | 'pods' | 'claims' | 'services'> | undefined;

  /** The informers stop seeing changes until `catchUpCache`. */
  lagCache(): void {
    this.lagging ??= { resources: clone(this.resources), pods: clone(this.pods), claims: clone(this.claims), services: clone(this.services) };
  }

  catchUpCache(): void {
    this.lagging = undefined;
  }

  get cacheLags(): boolean {
    return this.lagging !== undefined;
  }

  readonly cache: Caches = {
    resource: (namespace, name) => clone((this.lagging ?? this).resources.get(`${namespace}/${name}`)),
    resources: (namespace) => [...(this.lagging ?? this).resources.values()].filter((r) => r.metadata.namespace === namespace).map(clone),
    pods: (namespace, instance) => this.owned((this.lagging ?? this).pods, namespace, instance),
    claims: (namespace, instance) => this.owned((this.lagging ?? this).claims, namespace, instance),
    services: (namespace, instance) => this.owned((this.lagging ?? this).services, namespace, instance),
    node: (name) => clone(this.nodes.get(name)),
    backups: (namespace, resource) => [...this.backups.values()].filter((b) => b.metadata.namespace === namespace && b.spec.replication === resource).map(clone),
    backup: (namespace, name) => {
      const found = this.backups.get(`${namespace}/${name}`);
      return found && clone(found);
    },
  };

  readonly recorder: Recorder = {
    record: async (_rr, type, reason, message) => {
      this.events.push({ type, reason, message });
    },
  };

  private owned<T extends { metadata?: { namespace?: string; labels?: Record<string, string> } }>(map: Map<string, T>, namespace: string, instance: string): T[] {
    return [...map.values()].filter((o) => o.metadata?.namespace === namespace && o.metadata?.labels?.[LABEL.instance] === instance).map(clone);
  }

  private call(verb: string, kind: string, obj: { metadata?: { namespace?: string; name?: string } }): string {
    const { namespace, name } = obj.metadata ?? {};
    this.beforeCall(verb, `${kind}/${name}`);
    this.writes.push(`${verb} ${kind}/${name}`);
    return `${namespace}/${name}`;
  }

  private removePod(key: string): void {
    const pod = this.pods.get(key);
    if (!pod) return;
    this.pods.delete(key);
    const server = this.redis.servers.get(pod.status?.podIP ?? '');
    if (server) {
      this.beforeRemove(server);
      this.stop(server);
      this.redis.servers.delete(server.ip);
      const claim = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
      const claimKey = `${pod.metadata!.namespace}/${claim}`;
      if (claim && this.claims.has(claimKey)) {
        this.disks.set(claimKey, { log: [...server.log], pod: server.options.pod, origin: server.role === 'master' ? server.options.pod : server.origin });
      }
    }
  }

  /** The kubelet stops refreshing Secret volumes (it does so a minute or so after a change). */
  freezeVolumes(): void {
    this.frozenSecrets = clone(this.secrets);
  }

  thawVolumes(): void {
    this.frozenSecrets = undefined;
  }

  private frozenSecrets: Map<string, V1Secret> | undefined;

  /** The certificate and key files of the pod's TLS volume, as the kubelet shows them. */
  private tlsFilesOf(pod: V1Pod): { cert: string; key: string } | undefined {
    const secretName = pod.spec?.volumes?.find((v) => v.name === 'tls')?.secret?.secretName;
    const data = (this.frozenSecrets ?? this.secrets).get(`${pod.metadata!.namespace}/${secretName}`)?.data;
    if (!data?.['tls.crt'] || !data['tls.key']) return undefined;
    const decode = (v: string) => Buffer.from(v, 'base64').toString('utf8');
    return { cert: decode(data['tls.crt']), key: decode(data['tls.key']) };
  }

  /** The auth.conf of the auth Secret volume the pod mounts (redis-server includes it), as the pod
   * is created: a restarted container starts with it again (its volume not refreshed yet). */
  private authConfOf(pod: V1Pod): string | undefined {
    const secretName = pod.spec?.volumes?.find((v) => v.name === 'auth')?.secret?.secretName;
    const data = secretName ? this.secrets.get(`${pod.metadata!.namespace}/${secretName}`)?.data?.['auth.conf'] : undefined;
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  }
}

/** What the API server stores: stringData merged into base64 data. */
function withData(secret: V1Secret): V1Secret {
  const { stringData, ...rest } = clone(secret);
  const encoded = Object.fromEntries(Object.entries(stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { ...rest, data: { ...rest.data, ...encoded } };
}

/** `--directive value` pairs of the container's arguments. */
function configOf(pod: V1Pod): Record<string, string> {
  const config: Record<string, string> = {};
  let directive: string | undefined;
  for (const arg of pod.spec?.containers[0]?.args ?? []) {
    if (arg.startsWith('--')) config[(directive = arg.slice(2))] = '';
    else if (directive) config[directive] = config[directive] ? `${config[directive]} ${arg}` : arg;
  }
  return config;
}

/** The server an image runs, as the local cluster maps it (hack/local-cluster/node-agent/servers.ts). */
function serverOfImage(image: string): { server: 'redis' | 'valkey'; version: string } {
  if (image.includes('valkey')) return { server: 'valkey', version: '8.1.8' };
  return { server: 'redis', version: /:6\.2/.test(image) ? '6.2.14' : '7.0.15' };
}
