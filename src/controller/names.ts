// Names, labels and annotations of the objects the operator owns (CONTRACT §2).

export const MANAGED_BY = 'redis-replication-operator';

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  role: 'redis.replication.dev/role',
  tier: 'redis.replication.dev/tier',
  read: 'redis.replication.dev/read',
  pod: 'redis.replication.dev/pod',
} as const;

export const ANNOTATION = {
  /** The pod a replica is assigned to replicate from. */
  parent: 'redis.replication.dev/parent',
  switchover: 'redis.replication.dev/switchover',
} as const;

/** Every pod boots as a replica of this address, which refuses connections. A restarted pod
 * therefore can never serve a full sync (Redis answers NOMASTERLINK) until the operator decides
 * its role: an empty restarted primary never wipes the replicas that hold the data. */
export const BOOT_PARENT = { host: '127.0.0.1', port: 1 } as const;

export function podIndex(resource: string, pod: string): number | undefined {
  const prefix = `${resource}-`;
  if (!pod.startsWith(prefix)) return undefined;
  const rest = pod.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

export const dataClaimName = (pod: string): string => `data-${pod}`;
export const primaryServiceName = (resource: string): string => `${resource}-primary`;
export const readServiceName = (resource: string): string => `${resource}-read`;

export function baseLabels(resource: string): Record<string, string> {
  return { [LABEL.name]: 'redis', [LABEL.instance]: resource, [LABEL.managedBy]: MANAGED_BY };
}

/** The label selector of the scale subresource and of every owned pod. */
export function selectorString(resource: string): string {
  return `${LABEL.instance}=${resource},${LABEL.name}=redis`;
}
