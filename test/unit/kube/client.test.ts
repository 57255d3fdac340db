import { describe, expect, it } from 'vitest';
import { apiResource } from '../../../src/kube/client.js';

describe('apiResource', () => {
  it('names the kind and subresource of a path, never its namespace or object name', () => {
    expect(apiResource('/api/v1/namespaces/ns/pods')).toBe('pods');
    expect(apiResource('/api/v1/namespaces/ns/pods/cache-0')).toBe('pods');
    expect(apiResource('/api/v1/namespaces/ns/pods/cache-0/status')).toBe('pods/status');
    expect(apiResource('/apis/redis.example.com/v1/namespaces/ns/redisreplications/cache/status')).toBe('redisreplications/status');
    expect(apiResource('/apis/coordination.k8s.io/v1/namespaces/ns/leases/leader')).toBe('leases');
    expect(apiResource('/apis/redis.example.com/v1/redisreplications?watch=true')).toBe('redisreplications');
    expect(apiResource('/api/v1/namespaces/ns')).toBe('namespaces');
    expect(apiResource('/api/v1/nodes')).toBe('nodes');
  });
});
