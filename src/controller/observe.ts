// Observe phase: the resource's pods from the cache, and INFO replication of each, in parallel.
import { observePodObject, type ObservedPod } from '../plan/observation.js';
import { parseReplication } from '../redis/info.js';
import type { Pass } from './pass.js';

export async function observePods(pass: Pass): Promise<ObservedPod[]> {
  const { deps, namespace, name, password } = pass;
  const bases = deps.cache.pods(namespace, name).flatMap((p) => observePodObject(name, p) ?? []);
  return Promise.all(
    bases.map(async (base) => {
      if (!base.podIP) return { ...base, info: undefined };
      try {
        return { ...base, info: parseReplication(await deps.redis.info({ host: base.podIP, password })) };
      } catch {
        return { ...base, info: undefined };
      }
    }),
  );
}
