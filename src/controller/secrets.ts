// Secret values the pods are configured with (the auth password, the TLS material), read through the API and cached
// briefly: Secrets are not watched, so a changed value is seen within the cache's lifetime.
import type { RedisReplication } from '../api/schema.js';
import { isConflict, isNotFound } from '../kube/client.js';
import { buildOwnedSecret } from '../plan/specs.js';
import type { Deps, KubeApi, PasswordSource } from './pass.js';

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

/** Writes a Secret of the operator's (created, else its keys patched) and drops the cached copy. */
export async function upsertSecret(deps: Deps, rr: RedisReplication, secretName: string, data: Record<string, string>): Promise<void> {
  try {
    await deps.kube.createSecret(buildOwnedSecret(rr, secretName, data));
  } catch (err) {
    if (!isConflict(err)) throw err;
    await deps.kube.patchSecretData(rr.metadata.namespace, secretName, data);
  }
  deps.passwords.forget(rr.metadata.namespace, secretName);
}

/** The value of a key, or undefined when the Secret or the key is missing. */
export async function optionalKey(deps: Pick<Deps, 'passwords'>, namespace: string, secretName: string, key?: string): Promise<string | undefined> {
  try {
    return await deps.passwords.get(namespace, secretName, key);
  } catch (err) {
    if (err instanceof SecretMissing) return undefined;
    throw err;
  }
}
