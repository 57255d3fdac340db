// Names, labels and annotations of the objects the operator owns: user-facing names that tests
// outside the repository rely on, so they change only together with docs/reference.md.

export const MANAGED_BY = 'redis-replication-operator';

/** The port redis-server listens on in every pod. */
export const REDIS_PORT = 6379;
/** The pod's Redis container: what the operator reads of a pod (its image, whether it runs) is this one's. */
export const REDIS_CONTAINER = 'redis';

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  role: 'redis.replication.dev/role',
  tier: 'redis.replication.dev/tier',
  read: 'redis.replication.dev/read',
  pod: 'redis.replication.dev/pod',
  /** On a Secret a spec names: the resource allowed to use it (see plan/secrets.ts). */
  allow: 'redis.replication.dev/allow',
} as const;

export const ANNOTATION = {
  /** The pod a replica is assigned to replicate from. */
  parent: 'redis.replication.dev/parent',
  switchover: 'redis.replication.dev/switchover',
  /** On a pod: the revision of the pod template it was built from (src/plan/rollout.ts). */
  revision: 'redis.replication.dev/revision',
  /** On the resource: change it (any value) to roll every pod, as `kubectl rollout restart` does. */
  restartedAt: 'redis.replication.dev/restartedAt',
  /** On a data claim: its pod has held replicated data, so the claim may hold data no other pod has. */
  holdsData: 'redis.replication.dev/holds-data',
} as const;

/** Every pod boots as a replica of this address, which refuses connections. A restarted pod
 * therefore can never serve a full sync (Redis answers NOMASTERLINK) until the operator decides
 * its role: an empty restarted primary never wipes the replicas that hold the data. */
export const BOOT_PARENT = { host: '127.0.0.1', port: 1 } as const;

export const podName = (resource: string, index: number): string => `${resource}-${index}`;

export function podIndex(resource: string, pod: string): number | undefined {
  const prefix = `${resource}-`;
  if (!pod.startsWith(prefix)) return undefined;
  const rest = pod.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

export const dataClaimName = (pod: string): string => `data-${pod}`;
export const primaryServiceName = (resource: string): string => `${resource}-primary`;
/** The operator's own copy of the password every pod has: pods read it, and it changes only once a
 * rotation reached every pod (the user's Secret holds the password wanted). */
export const appliedAuthSecretName = (resource: string): string => `${resource}-applied-auth`;
/** Without auth.secretName: the password the operator generated for the resource (key `password`),
 * where the user reads it (a name the contract fixes). */
export const generatedAuthSecretName = (resource: string): string => `${resource}-auth`;
export const readServiceName = (resource: string): string => `${resource}-read`;
/** TLS: the certificate, key and trusted CAs every pod mounts (the operator's copy, as for auth). */
export const tlsSecretName = (resource: string): string => `${resource}-tls`;
/** TLS, own CA: the CA certificate clients trust (a name the contract fixes), and the CA's key. */
export const tlsCaSecretName = (resource: string): string => `${resource}-tls-ca`;
export const tlsCaKeySecretName = (resource: string): string => `${resource}-tls-ca-key`;
/** The NetworkPolicy of the pods (`-redis`: a policy of the user's named after the app is not taken). */
export const networkPolicyName = (resource: string): string => `${resource}-redis`;
/** PodDisruptionBudgets: the primary (never evicted before the role has moved) and the replicas. */
export const primaryBudgetName = (resource: string): string => `${resource}-primary`;
export const replicasBudgetName = (resource: string): string => `${resource}-replicas`;

/** The longest a DNS-1035 label (a Service name) and a label value may be. */
export const LABEL_MAX_LENGTH = 63;

/** The names the operator derives from the resource's that must be DNS-1035 labels: its Services. */
export const labelNamesOf = (resource: string): string[] => [primaryServiceName(resource), readServiceName(resource)];

/** The longest resource name whose derived labels still fit: 63 less the longest suffix appended
 * (`-primary`), i.e. 55. A pod name (`<name>-<n>`, also a label value: redis.replication.dev/pod)
 * then fits for every pod number below 10,000,000. */
export const MAX_RESOURCE_NAME_LENGTH = LABEL_MAX_LENGTH - Math.max(...labelNamesOf('').map((suffix) => suffix.length));

export function baseLabels(resource: string): Record<string, string> {
  return { [LABEL.name]: 'redis', [LABEL.instance]: resource, [LABEL.managedBy]: MANAGED_BY };
}

/** The label selector of the scale subresource and of every owned pod. */
export function selectorString(resource: string): string {
  return `${LABEL.instance}=${resource},${LABEL.name}=redis`;
}
