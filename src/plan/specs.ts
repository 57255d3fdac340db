// Builders of the Kubernetes objects the operator owns, and of the labels that route traffic to
// them: pure functions of the resource, the spec and the plan.
import type {
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodDisruptionBudget,
  V1PodSpec,
  V1Affinity,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1ResourceRequirements,
  V1Secret,
  V1Service,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { GROUP, KIND, VERSION, type RedisReplication, type RedisReplicationSpec } from '../api/schema.js';
import {
  ANNOTATION,
  BOOT_PARENT,
  LABEL,
  baseLabels,
  dataClaimName,
  primaryBudgetName,
  primaryServiceName,
  readServiceName,
  replicasBudgetName,
  REDIS_CONTAINER,
  REDIS_PORT,
  appliedAuthSecretName,
  tlsSecretName,
} from './names.js';
import { AUTH_CONF_KEY } from './acl.js';
import { isRestoring } from './restore.js';
import { podRevision } from './rollout.js';
import { TLS_DIR, TLS_KEYS } from './tls.js';
import type { Plan } from './topology.js';

const DATA_DIR = '/data';
/** Where the applied-auth Secret is mounted; redis-server includes its `auth.conf`. */
const AUTH_DIR = '/etc/redis-auth';
/** The redis user of the official Redis and Valkey images. */
const REDIS_UID = 999;

export function ownerReference(rr: RedisReplication): V1OwnerReference {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    name: rr.metadata.name,
    uid: rr.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** redis-server arguments: operator-owned directives first, then the user's `config`. The password
 * is in a file of a Secret volume that redis-server includes: it is in no argument list (the
 * container runtime's config, /proc/PID/cmdline) and no environment. */
export function redisArgs(spec: RedisReplicationSpec): string[] {
  const args = [
    ...listenArgs(spec),
    '--bind', '0.0.0.0',
    '--protected-mode', 'no',
    '--dir', DATA_DIR,
    '--replica-read-only', 'yes',
    '--replicaof', BOOT_PARENT.host, String(BOOT_PARENT.port),
  ];
  // Replicas of one parent start together: a short diskless-sync delay still batches them, where
  // Redis's default of 5 s would add 5 s to every tier of a cascade. `config` may override it.
  args.push('--repl-diskless-sync-delay', '1');
  if (!spec.persistence.enabled) args.push('--save', '', '--appendonly', 'no');
  else args.push('--appendonly', 'yes');
  if (spec.auth.enabled) args.push('--include', `${AUTH_DIR}/${AUTH_CONF_KEY}`);
  for (const [directive, value] of Object.entries(spec.config)) args.push(`--${directive}`, value);
  return args;
}

/** Port 6379 speaks plain TCP, or with TLS on, TLS only: replication too, each pod checking its
 * parent's certificate against the CA. Clients need no certificate of their own (tls-auth-clients
 * no): they authenticate with the password, and a client with only the CA can connect. The paths are
 * not secret; the key is in a Secret volume only its group (the redis user) can read. */
function listenArgs(spec: RedisReplicationSpec): string[] {
  if (!spec.tls?.enabled) return ['--port', String(REDIS_PORT)];
  return [
    '--port', '0',
    '--tls-port', String(REDIS_PORT),
    '--tls-cert-file', `${TLS_DIR}/${TLS_KEYS.cert}`,
    '--tls-key-file', `${TLS_DIR}/${TLS_KEYS.key}`,
    '--tls-ca-cert-file', `${TLS_DIR}/${TLS_KEYS.ca}`,
    '--tls-replication', 'yes',
    '--tls-auth-clients', 'no',
  ];
}

export interface PodPlacement {
  name: string;
  tier: number;
  parent: string | undefined;
  /** The zone of the parent's node (zoneAware: a cascade replica runs there), if known. */
  parentZone?: string | undefined;
}

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
const LOST_NODE_TOLERATION_SECONDS = 30;
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Where a pod may run: the user's placement, else a spread of the resource's pods across nodes,
 * then zones (a preference: a small cluster still schedules them); with zoneAware, tier-1 replicas
 * spread across zones and a cascade replica is required in its parent's zone. */
function podScheduling(rr: RedisReplication, spec: RedisReplicationSpec, placement: PodPlacement): Partial<V1PodSpec> {
  const p = spec.placement;
  const instance = { [LABEL.name]: 'redis', [LABEL.instance]: rr.metadata.name };
  const spread = (topologyKey: string, matchLabels: Record<string, string>): V1TopologySpreadConstraint => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels },
  });
  const constraints = (p.topologySpreadConstraints as V1TopologySpreadConstraint[] | undefined) ?? [spread(HOSTNAME_LABEL, instance), spread(ZONE_LABEL, instance)];
  if (p.zoneAware && placement.tier === 1) constraints.push({ ...spread(ZONE_LABEL, { ...instance, [LABEL.tier]: '1' }), whenUnsatisfiable: 'DoNotSchedule' });
  let affinity = p.affinity as V1Affinity | undefined;
  if (p.zoneAware && placement.tier >= 2 && placement.parentZone) {
    const term = { matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: [placement.parentZone] }] };
    const required = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const terms = required?.nodeSelectorTerms?.length ? required.nodeSelectorTerms.map((t) => ({ ...t, matchExpressions: [...(t.matchExpressions ?? []), ...term.matchExpressions] })) : [term];
    affinity = { ...affinity, nodeAffinity: { ...affinity?.nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } };
  }
  // A pod on a lost node is evicted after 30 s instead of Kubernetes' 300, so that it is replaced on a
  // live node soon after the failover (a toleration of the user's for the same taint wins).
  const tolerations = (p.tolerations as V1Toleration[] | undefined) ?? [];
  for (const key of ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready']) {
    if (!tolerations.some((t) => t.key === key)) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: LOST_NODE_TOLERATION_SECONDS });
  }
  return {
    topologySpreadConstraints: constraints,
    tolerations,
    ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}),
    ...(affinity ? { affinity } : {}),
    ...(p.priorityClassName ? { priorityClassName: p.priorityClassName } : {}),
  };
}

export function buildPod(rr: RedisReplication, spec: RedisReplicationSpec, placement: PodPlacement): V1Pod {
  // The first pod of a resource being restored takes no client before it holds the backup: no
  // Service selects it until the pass that makes it the primary labels it.
  const role = placement.tier === 0 && !isRestoring(spec, rr.status) ? 'primary' : 'replica';
  const volumes: V1Volume[] = spec.persistence.enabled
    ? [{ name: 'data', persistentVolumeClaim: { claimName: dataClaimName(placement.name) } }]
    : [{ name: 'data', emptyDir: {} }];
  const mounts: V1VolumeMount[] = [{ name: 'data', mountPath: DATA_DIR }];
  if (spec.auth.enabled) {
    volumes.push({ name: 'auth', secret: { secretName: appliedAuthSecretName(rr.metadata.name), items: [{ key: AUTH_CONF_KEY, path: AUTH_CONF_KEY }], defaultMode: 0o440 } });
    mounts.push({ name: 'auth', mountPath: AUTH_DIR, readOnly: true });
  }
  if (spec.tls?.enabled) {
    const items = Object.values(TLS_KEYS).map((key) => ({ key, path: key }));
    volumes.push({ name: 'tls', secret: { secretName: tlsSecretName(rr.metadata.name), items, defaultMode: 0o440 } });
    mounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: placement.name,
      namespace: rr.metadata.namespace,
      labels: {
        ...baseLabels(rr.metadata.name),
        [LABEL.role]: role,
        [LABEL.tier]: String(placement.tier),
        [LABEL.read]: 'false',
      },
      annotations: {
        [ANNOTATION.revision]: podRevision(spec, rr.metadata.annotations?.[ANNOTATION.restartedAt]),
        ...(placement.parent ? { [ANNOTATION.parent]: placement.parent } : {}),
      },
      ownerReferences: [ownerReference(rr)],
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 10,
      ...podScheduling(rr, spec, placement),
      // Redis needs no API access.
      automountServiceAccountToken: false,
      // The restricted Pod Security Standard: non-root, no escalation, no capabilities, RuntimeDefault seccomp.
      securityContext: {
        runAsNonRoot: true,
        runAsUser: REDIS_UID,
        runAsGroup: REDIS_UID,
        fsGroup: REDIS_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: REDIS_CONTAINER,
          image: spec.image,
          command: ['redis-server'],
          args: redisArgs(spec),
          ports: [{ name: 'redis', containerPort: REDIS_PORT }],
          resources: spec.resources as V1ResourceRequirements,
          // A TCP connect needs no handshake nor password: the same probe with TLS on or off.
          readinessProbe: { tcpSocket: { port: REDIS_PORT }, periodSeconds: 2, timeoutSeconds: 1 },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: mounts,
        },
      ],
      volumes,
    },
  };
}

export function buildClaim(rr: RedisReplication, spec: RedisReplicationSpec, pod: string, tier: number): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: dataClaimName(pod),
      namespace: rr.metadata.namespace,
      labels: { ...baseLabels(rr.metadata.name), [LABEL.pod]: pod, [LABEL.tier]: String(tier) },
      ownerReferences: [ownerReference(rr)],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: spec.persistence.size } },
      ...(spec.persistence.storageClassName ? { storageClassName: spec.persistence.storageClassName } : {}),
    },
  };
}

/** A Secret of the operator's (the applied password, the TLS material), owned by the resource. */
export function buildOwnedSecret(rr: RedisReplication, name: string, stringData: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: rr.metadata.namespace,
      labels: baseLabels(rr.metadata.name),
      ownerReferences: [ownerReference(rr)],
    },
    type: 'Opaque',
    stringData,
  };
}

/**
 * PodDisruptionBudgets. `<name>-primary` admits no eviction of the primary: a drain waits until the
 * operator has switched the role over (it does so when the primary's node is cordoned), then evicts
 * the old primary as a replica. `<name>-replicas` lets one replica go at a time.
 */
export function buildDisruptionBudgets(rr: RedisReplication): V1PodDisruptionBudget[] {
  const name = rr.metadata.name;
  const budget = (budgetName: string, role: string, maxUnavailable: number): V1PodDisruptionBudget => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: budgetName, namespace: rr.metadata.namespace, labels: baseLabels(name), ownerReferences: [ownerReference(rr)] },
    spec: { maxUnavailable, selector: { matchLabels: { [LABEL.name]: 'redis', [LABEL.instance]: name, [LABEL.role]: role } } },
  });
  return [budget(primaryBudgetName(name), 'primary', 0), budget(replicasBudgetName(name), 'replica', 1)];
}

/** `<name>-read` selects by the read label, which the primary also carries when includePrimary. */
export function buildServices(rr: RedisReplication, spec: RedisReplicationSpec): V1Service[] {
  const name = rr.metadata.name;
  const service = (serviceName: string, selector: Record<string, string>): V1Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName,
      namespace: rr.metadata.namespace,
      labels: baseLabels(name),
      ownerReferences: [ownerReference(rr)],
    },
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'redis', port: REDIS_PORT, targetPort: REDIS_PORT, protocol: 'TCP' }],
      // Reads go to a replica in the client's zone when there is one (topology-aware routing).
      ...(serviceName === readServiceName(name) && spec.readService.preferClose ? { trafficDistribution: 'PreferClose' } : {}),
    },
  });
  const instance = { [LABEL.name]: 'redis', [LABEL.instance]: name };
  return [
    service(primaryServiceName(name), { ...instance, [LABEL.role]: 'primary' }),
    service(readServiceName(name), { ...instance, [LABEL.read]: 'true' }),
  ];
}

/** The role, tier and read labels and the parent annotation a pod should carry. */
export interface PodMeta {
  labels: Record<string, string>;
  parent: string | null;
}

/** Labels as the plan says, so that `<name>-primary` and `<name>-read` route by what is true now. */
export function desiredMeta(plan: Plan, primary: string | undefined, readable: ReadonlySet<string>): Map<string, PodMeta> {
  const desired = new Map<string, PodMeta>();
  const read = (name: string) => (readable.has(name) ? 'true' : 'false');
  for (const p of plan.layout) {
    desired.set(p.name, { labels: { [LABEL.role]: 'replica', [LABEL.tier]: String(p.tier), [LABEL.read]: read(p.name) }, parent: p.parent });
  }
  if (primary) desired.set(primary, { labels: { [LABEL.role]: 'primary', [LABEL.tier]: '0', [LABEL.read]: read(primary) }, parent: null });
  return desired;
}
