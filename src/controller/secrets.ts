// Secret values the pods are configured with (the auth password, the TLS material), read through the API and cached
// briefly: Secrets are not watched, so a changed value is seen within the cache's lifetime.
import { isNotFound } from '../kube/client.js';
import type { KubeApi, PasswordSource } from './pass.js';

/** The Secret (or its key) a resource names does not exist: a condition, not a retry storm. */
export class SecretMissing extends Error {}

const PASSWORD_TTL_MS = 30_000;

export function passwordCache(kube: Pick<KubeApi, 'readSecret'>, now: () => number): PasswordSource {
  // Whole Secrets: the TLS ones are read key by key, in one pass.
  const cache = new Map<string, { data: Record<string, string>; at: number }>();
  return {
    async get(namespace, secretName, field = 'password') {
      const key = `${namespace}/${secretName}`;
      let hit = cache.get(key);
      if (!hit || now() - hit.at >= PASSWORD_TTL_MS) {
        let secret;
        try {
          secret = await kube.readSecret(namespace, secretName);
        } catch (err) {
          if (isNotFound(err)) throw new SecretMissing(`Secret ${secretName} does not exist`);
          throw err;
        }
        cache.set(key, (hit = { data: secret.data ?? {}, at: now() }));
      }
      const encoded = hit.data[field];
      if (!encoded) throw new SecretMissing(`Secret ${secretName} has no key "${field}"`);
      return Buffer.from(encoded, 'base64').toString('utf8');
    },
    forget(namespace, secretName) {
      cache.delete(`${namespace}/${secretName}`);
    },
  };
}
