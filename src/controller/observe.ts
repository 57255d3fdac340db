// Observe phase: the resource's pods from the cache, and INFO replication of each, in parallel.
import type { V1Pod } from '@kubernetes/client-node';
import { parseReplication } from '../redis/info.js';
import type { RedisTarget } from '../redis/client.js';
import type { Deps } from './deps.js';
import { ANNOTATION, LABEL, podIndex } from './names.js';
import type { ObservedPod } from './observed.js';

export function toObservedBase(resource: string, pod: V1Pod): Omit<ObservedPod, 'info'> | undefined {
  const name = pod.metadata?.name;
  const index = name ? podIndex(resource, name) : undefined;
  if (!name || index === undefined) return undefined;
  const labels = pod.metadata?.labels ?? {};
  const running = pod.status?.phase === 'Running';
  return {
    name,
    index,
    tier: Number(labels[LABEL.tier] ?? '1') || 0,
    role: labels[LABEL.role] === 'primary' ? 'primary' : 'replica',
    parent: pod.metadata?.annotations?.[ANNOTATION.parent],
    podIP: running ? pod.status?.podIP : undefined,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    containerDown: running && Boolean(pod.status?.containerStatuses?.some((c) => !c.state?.running)),
  };
}

export async function observePods(deps: Deps, resource: string, pods: V1Pod[], password: string | undefined): Promise<ObservedPod[]> {
  const bases = pods.map((p) => toObservedBase(resource, p)).filter((p) => p !== undefined);
  return Promise.all(
    bases.map(async (base) => {
      if (!base.podIP) return { ...base, info: undefined };
      const target: RedisTarget = { host: base.podIP, password };
      try {
        return { ...base, info: parseReplication(await deps.redis.info(target)) };
      } catch {
        return { ...base, info: undefined };
      }
    }),
  );
}
