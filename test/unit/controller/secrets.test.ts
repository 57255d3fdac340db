import { describe, expect, it } from 'vitest';
import type { V1Secret } from '@kubernetes/client-node';
import { passwordCache, SecretMissing, SecretProblem } from '../../../src/controller/secrets.js';

const cache = { namespace: 'ns', name: 'cache', uid: 'uid-cache' };
const ALLOWED = { 'redis.replication.dev/allow': 'cache' };

function fakeApi(secrets: Record<string, Record<string, string>>, labels: Record<string, string> = ALLOWED) {
  const reads: string[] = [];
  const api = {
    readSecret: async (_namespace: string, name: string): Promise<V1Secret> => {
      reads.push(name);
      const data = secrets[name];
      if (!data) throw Object.assign(new Error('not found'), { code: 404 });
      return { metadata: { name, labels }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    },
  };
  return { api, reads };
}

describe('passwordCache', () => {
  it('reads a Secret once for all its keys within the cache lifetime, and again after it or after forget', async () => {
    const { api, reads } = fakeApi({ tls: { 'tls.crt': 'c', 'tls.key': 'k', 'ca.crt': 'a' } });
    let now = 0;
    const secrets = passwordCache(api, () => now);
    const get = (key: string) => secrets.get(cache, 'tls', 'named', key);
    expect([await get('tls.crt'), await get('tls.key'), await get('ca.crt')]).toEqual(['c', 'k', 'a']);
    expect(reads).toEqual(['tls']);
    now = 30_000;
    await get('tls.crt');
    secrets.forget('ns', 'tls');
    await get('tls.crt');
    expect(reads).toEqual(['tls', 'tls', 'tls']);
  });

  it('says which Secret or key is missing', async () => {
    const { api } = fakeApi({ auth: { other: 'x' } });
    const secrets = passwordCache(api, () => 0);
    await expect(secrets.get(cache, 'auth', 'named')).rejects.toThrow(new SecretMissing('Secret auth has no key "password"'));
    await expect(secrets.get(cache, 'gone', 'named')).rejects.toThrow(new SecretMissing('Secret gone does not exist'));
  });

  it('returns nothing of a Secret the resource may not use: SecretProblem with the reason of plan/secrets.ts', async () => {
    const { api } = fakeApi({ auth: { password: 'pw' } }, {});
    const secrets = passwordCache(api, () => 0);
    await expect(secrets.get(cache, 'auth', 'named')).rejects.toMatchObject({ reason: 'SecretNotAllowed' });
    await expect(secrets.get(cache, 'auth', 'owned')).rejects.toBeInstanceOf(SecretProblem);
  });
});
