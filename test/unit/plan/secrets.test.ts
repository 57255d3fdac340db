import { describe, expect, it } from 'vitest';
import { secretRefusal } from '../../../src/plan/secrets.js';

const cache = { name: 'cache', uid: 'uid-cache' };
const ownedByCache = { ownerReferences: [{ apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', name: 'cache', uid: 'uid-cache' }] };

describe('secretRefusal', () => {
  it('a Secret the spec names: used if labelled for the resource or owned by it', () => {
    expect(secretRefusal(cache, 'pw', { labels: { 'redis.replication.dev/allow': 'cache' } }, 'named')).toBeUndefined();
    expect(secretRefusal(cache, 'pw', ownedByCache, 'named')).toBeUndefined();
  });

  it('a Secret the spec names without the label (or labelled for another resource) is refused, saying which label to add', () => {
    const cases: (Record<string, string> | undefined)[] = [undefined, {}, { 'redis.replication.dev/allow': 'other' }];
    for (const labels of cases) {
      expect(secretRefusal(cache, 'pw', { labels }, 'named')).toEqual({
        reason: 'SecretNotAllowed',
        message: 'Secret pw does not allow RedisReplication cache to use it: add the label redis.replication.dev/allow=cache to it (kubectl label secret pw redis.replication.dev/allow=cache)',
      });
    }
  });

  it("one of the operator's own Secrets: used only if owned by the resource; the label does not make it so", () => {
    expect(secretRefusal(cache, 'cache-applied-auth', ownedByCache, 'owned')).toBeUndefined();
    for (const meta of [{}, { labels: { 'redis.replication.dev/allow': 'cache' } }, { ownerReferences: [{ ...ownedByCache.ownerReferences[0]!, uid: 'uid-of-an-older-cache' }] }]) {
      expect(secretRefusal(cache, 'cache-applied-auth', meta, 'owned')).toMatchObject({ reason: 'SecretNotOwned', message: expect.stringMatching(/^Secret cache-applied-auth was not created by the operator for RedisReplication cache/) });
    }
  });
});
