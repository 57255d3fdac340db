import { describe, expect, it } from 'vitest';
import type { V1Secret } from '@kubernetes/client-node';
import { passwordCache, SecretMissing } from '../../../src/controller/secrets.js';

function fakeApi(secrets: Record<string, Record<string, string>>) {
  const reads: string[] = [];
  const api = {
    readSecret: async (_namespace: string, name: string): Promise<V1Secret> => {
      reads.push(name);
      const data = secrets[name];
      if (!data) throw Object.assign(new Error('not found'), { code: 404 });
      return { data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    },
  };
  return { api, reads };
}

describe('passwordCache', () => {
  it('reads a Secret once for all its keys within the cache lifetime, and again after it or after forget', async () => {
    const { api, reads } = fakeApi({ tls: { 'tls.crt': 'c', 'tls.key': 'k', 'ca.crt': 'a' } });
    let now = 0;
    const cache = passwordCache(api, () => now);
    expect([await cache.get('ns', 'tls', 'tls.crt'), await cache.get('ns', 'tls', 'tls.key'), await cache.get('ns', 'tls', 'ca.crt')]).toEqual(['c', 'k', 'a']);
    expect(reads).toEqual(['tls']);
    now = 30_000;
    await cache.get('ns', 'tls', 'tls.crt');
    cache.forget('ns', 'tls');
    await cache.get('ns', 'tls', 'tls.crt');
    expect(reads).toEqual(['tls', 'tls', 'tls']);
  });

  it('says which Secret or key is missing', async () => {
    const { api } = fakeApi({ auth: { other: 'x' } });
    const cache = passwordCache(api, () => 0);
    await expect(cache.get('ns', 'auth')).rejects.toThrow(new SecretMissing('Secret auth has no key "password"'));
    await expect(cache.get('ns', 'gone')).rejects.toThrow(new SecretMissing('Secret gone does not exist'));
  });
});
