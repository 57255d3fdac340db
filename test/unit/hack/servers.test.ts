// The local cluster's image-to-server mapping (tooling, not product): which real server runs an image.
import { describe, expect, it } from 'vitest';
import { serverNameFor } from '../../../hack/local-cluster/node-agent/servers.js';

describe('serverNameFor', () => {
  it('runs redis:6.2* on Redis 6.2, other redis tags on Redis 7.0, and anything named valkey on Valkey 8.1', () => {
    expect(serverNameFor('redis:6.2')).toBe('redis-6.2');
    expect(serverNameFor('docker.io/library/redis:6.2.14-alpine')).toBe('redis-6.2');
    expect(serverNameFor('redis:7.0')).toBe('redis-7.0');
    expect(serverNameFor('redis:7.4')).toBe('redis-7.0');
    expect(serverNameFor('redis')).toBe('redis-7.0');
    expect(serverNameFor('redis:latest')).toBe('redis-7.0');
    expect(serverNameFor('valkey/valkey:8.1')).toBe('valkey-8.1');
    expect(serverNameFor('bitnami/valkey:8.0')).toBe('valkey-8.1');
  });

  it('refuses a redis older than 6.2 with a reason', () => {
    expect(serverNameFor('redis:6.0')).toMatchObject({ unsupported: 'ImageNotAvailableLocally' });
    expect(serverNameFor('redis:5')).toMatchObject({ unsupported: 'ImageNotAvailableLocally' });
  });
});
