import { ApiException, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, type LeaseApi } from '../../../src/kube/leader.js';

/** An in-memory Lease store with the API server's resourceVersion checks. */
class FakeLeaseApi implements LeaseApi {
  lease?: V1Lease;
  rv = 0;
  failing = false;
  writes = 0;

  private check(): void {
    if (this.failing) throw new Error('connection refused');
  }
  async readNamespacedLease(): Promise<V1Lease> {
    this.check();
    if (!this.lease) throw new ApiException(404, 'not found', '{"reason":"NotFound"}', {});
    return structuredClone(this.lease);
  }
  async createNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    this.check();
    if (this.lease) throw new ApiException(409, 'exists', '{}', {});
    return this.store(p.body);
  }
  async replaceNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    this.check();
    if (p.body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
      throw new ApiException(409, 'conflict', '{"reason":"Conflict"}', {});
    }
    return this.store(p.body);
  }
  private store(body: V1Lease): V1Lease {
    this.writes++;
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
}

function elector(api: LeaseApi, identity: string) {
  const log: string[] = [];
  const e = new LeaderElector({
    api,
    name: 'op',
    namespace: 'ops',
    identity,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: () => log.push('stopped'),
  });
  return { e, log };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LeaderElector', () => {
  it('creates a missing lease with MicroTime times and renews it', async () => {
    const api = new FakeLeaseApi();
    const { e, log } = elector(api, 'a');
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['started']);
    expect(e.isLeader()).toBe(true);
    expect(api.lease?.spec?.holderIdentity).toBe('a');
    expect(api.lease?.spec?.renewTime).toBeInstanceOf(V1MicroTime);
    expect(api.lease?.spec?.leaseDurationSeconds).toBe(15);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(api.writes).toBe(4);
    expect(api.lease?.spec?.leaseTransitions).toBe(0);
    await e.release();
  });

  it('waits for a held lease to expire by its own clock, then takes it over', async () => {
    const api = new FakeLeaseApi();
    const now = new V1MicroTime(Date.now());
    api.lease = {
      metadata: { name: 'op', namespace: 'ops', resourceVersion: '7' },
      spec: { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: now, acquireTime: now, leaseTransitions: 2 },
    };
    const { e, log } = elector(api, 'b');
    e.start();
    await vi.advanceTimersByTimeAsync(14_000);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['started']);
    expect(api.lease.spec?.holderIdentity).toBe('b');
    expect(api.lease.spec?.leaseTransitions).toBe(3);
    await e.release();
  });

  it('stops leading when renewals fail for the renew deadline', async () => {
    const api = new FakeLeaseApi();
    const { e, log } = elector(api, 'a');
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    api.failing = true;
    await vi.advanceTimersByTimeAsync(9_000);
    expect(log).toEqual(['started']);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['started', 'stopped']);
    api.failing = false;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['started', 'stopped', 'started']);
    await e.release();
  });

  it('stops leading at once when another holder won the lease', async () => {
    const api = new FakeLeaseApi();
    const { e, log } = elector(api, 'a');
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    // Someone else wrote the lease between our read and write: 409 on replace.
    const read = api.readNamespacedLease.bind(api);
    api.readNamespacedLease = async () => {
      const lease = await read();
      api.lease = { ...api.lease!, metadata: { ...api.lease!.metadata, resourceVersion: 'x' } };
      return lease;
    };
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['started', 'stopped']);
    await e.release();
  });

  it('release clears the holder so a successor takes over at once', async () => {
    const api = new FakeLeaseApi();
    const a = elector(api, 'a');
    const b = elector(api, 'b');
    a.e.start();
    await vi.advanceTimersByTimeAsync(0);
    b.e.start();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(b.log).toEqual([]);
    await a.e.release();
    expect(a.log).toEqual(['started', 'stopped']);
    expect(api.lease?.spec?.holderIdentity).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(b.log).toEqual(['started']);
    expect(api.lease?.spec?.leaseTransitions).toBe(1);
    await b.e.release();
  });
});
