// The writes of one pass, counted whether they take or not: a settled pass that sent none found
// nothing to do, and is not followed by another until something changes (plan/next-pass.ts). A
// write is an API call other than a read, a Redis command other than the few that only read, and
// an Event.
import type { RedisCommands } from '../redis/client.js';
import type { Deps, KubeApi } from './pass.js';

/** The Redis commands a pass sends that change nothing, by method, and as raw commands. */
const REDIS_READS = new Set(['info', 'configGet', 'aclUsers', 'servedCertificate']);
function readsOnly(args: readonly string[]): boolean {
  const [command = '', sub = ''] = args.map((a) => a.toUpperCase());
  return command === 'INFO' || (command === 'CONFIG' && sub === 'GET') || (command === 'ACL' && sub === 'USERS');
}

/** The object with each method call that `writes` says is a write counted. */
function counted<T extends object>(target: T, writes: (method: string, args: unknown[]) => boolean, wrote: () => void): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (writes(String(property), args)) wrote();
        return method.apply(object, args);
      };
    },
  });
}

const kubeWrites = (method: string) => !method.startsWith('read');
const redisWrites = (method: string, args: unknown[]) => (method === 'command' ? !readsOnly(args[1] as string[]) : !REDIS_READS.has(method));

/** The dependencies of one pass, with its writes counted: `writes()` says how many it sent so far. */
export function countingWrites(deps: Deps): { deps: Deps; writes: () => number } {
  let count = 0;
  const wrote = () => void count++;
  return {
    deps: {
      ...deps,
      kube: counted<KubeApi>(deps.kube, kubeWrites, wrote),
      redis: counted<RedisCommands>(deps.redis, redisWrites, wrote),
      events: counted(deps.events, () => true, wrote),
    },
    writes: () => count,
  };
}
