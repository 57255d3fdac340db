// Secret values the pods are configured with (the auth password, the TLS material), read through the API and cached
// briefly. Secrets are not watched (the operator may only get them: a watch would hand it every Secret
// of the namespace): each Secret a pass read is read again at the resync interval, and the resources
// that read one that changed (or appeared, or went) are enqueued (controller.ts). Every read
// says who reads and why (plan/secrets.ts): a Secret the resource may not use is never returned.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { RedisReplication } from '../api/schema.js';
import { isConflict, isNotFound } from '../kube/client.js';
import { secretRefusal, type Read, type SecretUse } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import type { Deps, KubeApi, PasswordSource } from './pass.js';

/** A Secret the resource names or keeps that it cannot use (its reason: SecretMissing,
 * SecretNotAllowed, SecretNotOwned): a condition and an Event, not a retry storm. */
export class SecretProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The Secret (or its key) does not exist. */
export class SecretMissing extends SecretProblem {
  constructor(message: string) {
    super('SecretMissing', message);
  }
}

const PASSWORD_TTL_MS = 30_000;

export function passwordCache(kube: Pick<KubeApi, 'readSecret'>, now: () => number): PasswordSource {
  // Whole Secrets: the TLS ones are read key by key, in one pass.
  const cache = new Map<string, { data: Record<string, string>; meta: V1ObjectMeta; at: number }>();
  // Each Secret a pass read, as it was then (its resourceVersion; undefined: missing), and who read
  // it. `own`: the operator wrote it since; the version the poll reads next is its own write's (the
  // pass that wrote it is followed by another anyway: plan/next-pass.ts).
  const read = new Map<string, { version: string | undefined; readers: Set<string>; own?: boolean }>();
  const note = (key: string, reader: string, version: string | undefined) => {
    const entry = read.get(key) ?? { version, readers: new Set<string>() };
    entry.version = version;
    delete entry.own;
    entry.readers.add(reader);
    read.set(key, entry);
  };
  return {
    async get(user, secretName, use, field = 'password') {
      const key = `${user.namespace}/${secretName}`;
      const reader = `${user.namespace}/${user.name}`;
      let hit = cache.get(key);
      if (!hit || now() - hit.at >= PASSWORD_TTL_MS) {
        let secret;
        try {
          secret = await kube.readSecret(user.namespace, secretName);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          note(key, reader, undefined);
          throw new SecretMissing(`Secret ${secretName} does not exist`);
        }
        cache.set(key, (hit = { data: secret.data ?? {}, meta: secret.metadata ?? {}, at: now() }));
      }
      note(key, reader, hit.meta.resourceVersion);
      const refusal = secretRefusal(user, secretName, hit.meta, use);
      if (refusal) throw new SecretProblem(refusal.reason, refusal.message);
      const encoded = hit.data[field];
      if (!encoded) throw new SecretMissing(`Secret ${secretName} has no key "${field}"`);
      return Buffer.from(encoded, 'base64').toString('utf8');
    },
    forget(namespace, secretName) {
      const key = `${namespace}/${secretName}`;
      cache.delete(key);
      const entry = read.get(key);
      if (entry) entry.own = true;
    },
    async changed(live) {
      const due = new Set<string>();
      for (const [key, entry] of read) {
        for (const reader of entry.readers) if (!live(reader)) entry.readers.delete(reader);
        if (entry.readers.size === 0) {
          read.delete(key);
          continue;
        }
        const [namespace, name] = key.split('/') as [string, string];
        let version: string | undefined;
        try {
          version = (await kube.readSecret(namespace, name)).metadata?.resourceVersion;
        } catch (err) {
          // An API server in trouble: the next poll reads it again.
          if (!isNotFound(err)) continue;
        }
        if (version === entry.version) continue;
        entry.version = version;
        cache.delete(key);
        if (entry.own) delete entry.own;
        else entry.readers.forEach((r) => due.add(r));
      }
      return [...due];
    },
  };
}

/** Writes a Secret of the operator's (created, else its keys patched) and drops the cached copy. One
 * of that name that the operator did not make for the resource is not patched: SecretProblem. */
export async function upsertSecret(deps: Deps, rr: RedisReplication, secretName: string, data: Record<string, string>): Promise<void> {
  try {
    await deps.kube.createSecret(buildOwnedSecret(rr, secretName, data));
  } catch (err) {
    if (!isConflict(err)) throw err;
    const refusal = secretRefusal(rr.metadata, secretName, (await deps.kube.readSecret(rr.metadata.namespace, secretName)).metadata ?? {}, 'owned');
    if (refusal) throw new SecretProblem(refusal.reason, refusal.message);
    await deps.kube.patchSecretData(rr.metadata.namespace, secretName, data);
  }
  deps.passwords.forget(rr.metadata.namespace, secretName);
}

/** The value of a key, or undefined when the Secret or the key is missing. */
export async function optionalKey(deps: Pick<Deps, 'passwords'>, rr: RedisReplication, secretName: string, use: SecretUse, key?: string): Promise<string | undefined> {
  try {
    return await deps.passwords.get(rr.metadata, secretName, use, key);
  } catch (err) {
    if (err instanceof SecretMissing) return undefined;
    throw err;
  }
}

/** A read whose SecretProblem (a Secret missing, or one the resource may not use) is its result. */
export async function attempt<T>(read: () => Promise<T>): Promise<Read<T>> {
  try {
    return { value: await read() };
  } catch (err) {
    if (err instanceof SecretProblem) return { problem: { reason: err.reason, message: err.message } };
    throw err;
  }
}
