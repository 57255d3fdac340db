// The controller: informers on RedisReplications and the objects they own, and the prober of their
// pods' Redis, feed a rate-limited work queue; workers run reconcile(key), never two at once for the
// same key. A lost primary (its pod going, or silent to the prober) takes the queue's urgent lane.
import { setTimeout } from 'node:timers/promises';
import type { KubeConfig, KubernetesListObject, KubernetesObject, V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type RedisReplication } from '../api/schema.js';
import { BACKUP_PLURAL, type RedisBackup } from '../api/backup.js';
import type { Clients } from '../kube/client.js';
import { s3BackupFiles } from '../backup/object-store.js';
import { s3Archives, s3RecoveryStore } from '../backup/archive-store.js';
import { startInformer, type InformerEventType, type RobustInformer } from '../kube/informer.js';
import { WorkQueue, defaultRateLimiter, runWorkers } from '../kube/workqueue.js';
import { RedisPool } from '../redis/client.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import { LABEL, MANAGED_BY } from '../plan/names.js';
import { isDraining } from '../plan/observation.js';
import { losesPrimary } from '../plan/probe.js';
import { kubeApi } from './kube-api.js';
import type { Deps, Recorder } from './pass.js';
import { measure } from './measure.js';
import { PassRedis, Prober } from './prober.js';
import { ReplicationRdbServer } from '../backup/rdb-server.js';
import { reconcile } from './reconcile.js';
import { stopArchive } from './archive.js';
import { passwordCache } from './secrets.js';

export interface ControllerOptions {
  kc: KubeConfig;
  clients: Clients;
  log: Logger;
  namespaces: string[];
  concurrency: number;
  /** How often the prober asks each pod's Redis for its replication state. */
  healthIntervalMs: number;
  /** How often the Secrets passes read are read again, and a resource whose pass wrote something, or
   * has work beside passes (backups, the archive), is looked at again (plan/next-pass.ts). */
  resyncIntervalMs: number;
  /** Where the operator runs; undefined outside a cluster (see plan/network.ts). */
  operatorNamespace: string | undefined;
  /** Where pods reach this process to load a backup (backup/rdb-server.ts); no address: no restores. */
  restore: { address: string | undefined; port: number };
  events: Recorder;
  metrics: OperatorMetrics;
}

export interface Controller {
  synced(): boolean;
  stop(): Promise<void>;
}

const OWNED_SELECTOR = `${LABEL.managedBy}=${MANAGED_BY}`;
const BY_INSTANCE = 'instance';
const BY_NODE = 'node';

const ownerKey = (obj: KubernetesObject): string[] => {
  const instance = obj.metadata?.labels?.[LABEL.instance];
  return instance ? [`${obj.metadata?.namespace}/${instance}`] : [];
};

export function startController(opts: ControllerOptions): Controller {
  const { kc, clients, log } = opts;
  // A failed pass is retried with backoff, but never later than the health period: a failover must
  // keep its time bound while the API server is in trouble.
  const queue = new WorkQueue({
    onLatency: (ms) => opts.metrics.observeQueueLatency(ms),
    rateLimiter: defaultRateLimiter(Date.now, opts.healthIntervalMs),
  });
  opts.metrics.setQueueDepthSource(() => queue.len());
  const scopes = opts.namespaces.length > 0 ? opts.namespaces : [undefined];

  const informers = <T extends KubernetesObject>(
    kind: string,
    path: (ns?: string) => string,
    list: (ns?: string) => Promise<KubernetesListObject<T>>,
    keys: (obj: T) => string[],
    more: { labelSelector?: string; indexers?: Record<string, (obj: T) => string[]>; urgent?: (type: InformerEventType, obj: T) => boolean } = {},
  ): RobustInformer<T>[] =>
    scopes.map((ns) =>
      startInformer<T>(kc, {
        path: path(ns),
        list: () => list(ns),
        ...(more.labelSelector ? { labelSelector: more.labelSelector } : {}),
        indexers: { [BY_INSTANCE]: ownerKey, ...more.indexers },
        onEvent: (type, obj) => keys(obj).forEach((k) => (more.urgent?.(type, obj) ? queue.addUrgent(k) : queue.add(k))),
        onError: (err) => log.warn({ kind, namespace: ns, err: String(err) }, 'watch failed; restarting'),
      }),
    );

  const { core, custom } = clients;
  const resourceKey = (obj: KubernetesObject) => [`${obj.metadata?.namespace}/${obj.metadata?.name}`];
  const apiBase = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}` : '/api/v1');
  const crdBase = (ns?: string) => `/apis/${GROUP}/${VERSION}${ns ? `/namespaces/${ns}` : ''}/${PLURAL}`;

  const resources = informers<RedisReplication & KubernetesObject>(
    'RedisReplication',
    crdBase,
    (ns) =>
      (ns
        ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns })
        : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<KubernetesListObject<RedisReplication & KubernetesObject>>,
    resourceKey,
  );
  const pods = informers(
    'Pod',
    (ns) => `${apiBase(ns)}/pods`,
    (ns) => (ns ? core.listNamespacedPod({ namespace: ns, labelSelector: OWNED_SELECTOR }) : core.listPodForAllNamespaces({ labelSelector: OWNED_SELECTOR })),
    ownerKey,
    {
      labelSelector: OWNED_SELECTOR,
      indexers: { [BY_NODE]: (pod) => (pod.spec?.nodeName ? [pod.spec.nodeName] : []) },
      urgent: (type, pod) => losesPrimary(pod.metadata?.labels?.[LABEL.instance] ?? '', type, pod),
    },
  );
  const services = informers(
    'Service',
    (ns) => `${apiBase(ns)}/services`,
    (ns) => (ns ? core.listNamespacedService({ namespace: ns, labelSelector: OWNED_SELECTOR }) : core.listServiceForAllNamespaces({ labelSelector: OWNED_SELECTOR })),
    ownerKey,
    { labelSelector: OWNED_SELECTOR },
  );
  const claims = informers(
    'PersistentVolumeClaim',
    (ns) => `${apiBase(ns)}/persistentvolumeclaims`,
    (ns) =>
      ns
        ? core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: OWNED_SELECTOR })
        : core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: OWNED_SELECTOR }),
    ownerKey,
    { labelSelector: OWNED_SELECTOR },
  );

  // RedisBackups: a change is a pass of the resource they name (the backups phase starts them).
  const backupKey = (b: RedisBackup & KubernetesObject) => (b.spec?.replication ? [`${b.metadata?.namespace}/${b.spec.replication}`] : []);
  const backups = scopes.map((ns) =>
    startInformer<RedisBackup & KubernetesObject>(kc, {
      path: `/apis/${GROUP}/${VERSION}${ns ? `/namespaces/${ns}` : ''}/${BACKUP_PLURAL}`,
      list: () =>
        (ns
          ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace: ns })
          : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL })) as Promise<KubernetesListObject<RedisBackup & KubernetesObject>>,
      indexers: { [BY_INSTANCE]: backupKey },
      onEvent: (_type, obj) => backupKey(obj).forEach((k) => queue.add(k)),
      onError: (err) => log.warn({ kind: 'RedisBackup', namespace: ns, err: String(err) }, 'watch failed; restarting'),
    }),
  );

  // Nodes: only whether one is being drained (its pods move). When that changes, the resources with
  // a pod there are enqueued; other node updates (status heartbeats) enqueue nothing.
  const draining = new Map<string, boolean>();
  const nodes = startInformer<V1Node & KubernetesObject>(kc, {
    path: '/api/v1/nodes',
    list: () => core.listNode() as Promise<KubernetesListObject<V1Node & KubernetesObject>>,
    onEvent: (type, node) => {
      const name = node.metadata?.name ?? '';
      const now = type !== 'delete' && isDraining(node);
      if (now === (draining.get(name) ?? false)) return;
      draining.set(name, now);
      new Set(pods.flatMap((i) => i.byIndex(BY_NODE, name)).flatMap(ownerKey)).forEach((k) => queue.add(k));
    },
    onError: (err) => log.warn({ kind: 'Node', err: String(err) }, 'watch failed; restarting'),
  });

  const owned = <T extends KubernetesObject>(list: RobustInformer<T>[]) => (namespace: string, instance: string) =>
    list.flatMap((i) => i.byIndex(BY_INSTANCE, `${namespace}/${instance}`));

  const redis = new RedisPool({ connectMs: 1000, commandMs: 1000, onConnect: () => opts.metrics.countRedisConnection() });
  const passRedis = new PassRedis(redis, opts.metrics);
  const rdbServer = new ReplicationRdbServer(opts.restore.address, opts.restore.port);
  const kube = kubeApi(clients);
  const deps: Deps = {
    kube,
    redis: passRedis,
    events: opts.events,
    metrics: opts.metrics,
    log,
    now: Date.now,
    sleep: async (ms) => void (await setTimeout(ms)),
    healthIntervalMs: opts.resyncIntervalMs,
    memory: new Map(),
    passwords: passwordCache(kube, Date.now),
    operatorNamespace: opts.operatorNamespace,
    rdbServer,
    // The prober is made below, once the caches it reads exist.
    silentSince: (key, pod, ip) => prober.silentSince(key, pod, ip),
    backupFiles: s3BackupFiles,
    archives: s3Archives,
    recoveryStore: s3RecoveryStore,
    cache: {
      resource: (namespace, name) => {
        for (const i of resources) {
          const found = i.get(namespace, name);
          if (found) return found;
        }
        return undefined;
      },
      resources: (namespace) => resources.flatMap((i) => i.list()).filter((r) => r.metadata.namespace === namespace),
      pods: owned(pods),
      claims: owned(claims),
      services: owned(services),
      node: (name) => nodes.get(undefined, name),
      backups: owned(backups),
      backup: (namespace, name) => backups.map((i) => i.get(namespace, name)).find((b) => b !== undefined),
    },
  };

  const all = [...resources, ...pods, ...services, ...claims, ...backups, nodes];
  const synced = () => all.every((i) => i.hasSynced());

  const prober = new Prober({
    redis,
    targets: passRedis,
    resources: () => resources.flatMap((i) => i.list()),
    pods: owned(pods),
    enqueue: (key, urgent) => (urgent ? queue.addUrgent(key) : queue.add(key)),
    measure: (measured) => measure({ ...deps, redis }, measured),
    // Nothing to do and nothing pending for it: the resource is as reconciled now as by a pass (the
    // staleness alert reads this; a pass that keeps failing or waits in the queue stops it).
    quiet: (key) => {
      if (!queue.idle(key)) return;
      const [namespace, name] = key.split('/') as [string, string];
      opts.metrics.setReconciled(namespace, name, Date.now());
    },
    intervalMs: opts.healthIntervalMs,
    now: Date.now,
    metrics: opts.metrics,
    log,
  });
  // Secrets cannot be watched (secrets.ts): those passes read are read again at the resync interval.
  let secretPoll: NodeJS.Timeout | undefined;
  let polling = false;
  const pollSecrets = () => {
    if (polling) return;
    polling = true;
    const live = (key: string) => {
      const [namespace, name] = key.split('/') as [string, string];
      return deps.cache.resource(namespace, name) !== undefined;
    };
    void deps.passwords
      .changed(live)
      .then(
        (keys) => keys.forEach((k) => queue.add(k)),
        (err: unknown) => log.warn({ err: String(err) }, 'reading the Secrets again failed; retrying at the next interval'),
      )
      .finally(() => (polling = false));
  };
  let stopped = false;
  const workers = waitFor(synced).then(() => {
    if (!stopped) {
      prober.start();
      secretPoll = setInterval(pollSecrets, opts.resyncIntervalMs);
    }
    return runWorkers(
      queue,
      opts.concurrency,
      async (key) => {
        const started = performance.now();
        try {
          const result = await reconcile(deps, key);
          opts.metrics.observeReconcile('success', (performance.now() - started) / 1000);
          return result;
        } catch (err) {
          opts.metrics.observeReconcile('error', (performance.now() - started) / 1000);
          throw err;
        }
      },
      (key, err) => log.warn({ resource: key, err: err instanceof Error ? err.message : String(err) }, 'reconcile failed; will retry'),
    );
  });

  return {
    synced,
    async stop() {
      stopped = true;
      clearInterval(secretPoll);
      await prober.stop();
      await queue.shutDown();
      await workers.catch(() => undefined);
      // What the archivers received is stored before the process goes.
      await Promise.all([...deps.memory.values()].map(stopArchive));
      await Promise.all(all.map((i) => i.stop()));
      await Promise.all([redis.close(), rdbServer.close()]);
    },
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await setTimeout(50);
}
