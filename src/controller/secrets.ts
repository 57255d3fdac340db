// Secret values the pods are configured with (the auth password), read through the API and cached
// briefly: Secrets are not watched, so a changed value is seen within the cache's lifetime.
import { isNotFound } from '../kube/client.js';
import type { KubeApi, PasswordSource } from './pass.js';

/** The Secret (or its key) a resource names does not exist: a condition, not a retry storm. */
export class SecretMissing extends Error {}

const PASSWORD_TTL_MS = 30_000;

export function passwordCache(kube: Pick<KubeApi, 'readSecret'>, now: () => number): PasswordSource {
  const cache = new Map<string, { value: string; at: number }>();
  return {
    async get(namespace, secretName, field = 'password') {
      const key = `${namespace}/${secretName}/${field}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < PASSWORD_TTL_MS) return hit.value;
      let secret;
      try {
        secret = await kube.readSecret(namespace, secretName);
      } catch (err) {
        if (isNotFound(err)) throw new SecretMissing(`Secret ${secretName} does not exist`);
        throw err;
      }
      const encoded = secret.data?.[field];
      if (!encoded) throw new SecretMissing(`Secret ${secretName} has no key "${field}"`);
      const value = Buffer.from(encoded, 'base64').toString('utf8');
      cache.set(key, { value, at: now() });
      return value;
    },
    forget(namespace, secretName) {
      for (const key of [...cache.keys()]) if (key.startsWith(`${namespace}/${secretName}/`)) cache.delete(key);
    },
  };
}
