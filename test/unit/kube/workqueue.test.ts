import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ExponentialFailureRateLimiter,
  TokenBucketRateLimiter,
  WorkQueue,
  defaultRateLimiter,
  runWorkers,
} from '../../../src/kube/workqueue.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WorkQueue', () => {
  it('collapses a burst of adds into one item', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is being processed, and requeues it once after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    expect(q.len()).toBe(0);
    const next = q.get();
    let got: string | undefined;
    void next.then((k) => (got = k));
    await Promise.resolve();
    expect(got).toBeUndefined();
    q.done('ns/a');
    expect(await next).toBe('ns/a');
    q.done('ns/a');
    expect(q.len()).toBe(0);
  });

  it('runs no key twice at once across workers', async () => {
    const q = new WorkQueue();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const reconcile = async () => {
      running++;
      calls++;
      maxRunning = Math.max(maxRunning, running);
      if (calls < 3) q.add('ns/a');
      await new Promise((r) => setTimeout(r, 10));
      running--;
    };
    q.add('ns/a');
    const workers = runWorkers(q, 4, reconcile, () => {});
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(3);
    expect(maxRunning).toBe(1);
    await q.shutDown();
    await workers;
  });

  it('hands out an urgent key before the routine keys queued earlier', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.addUrgent('ns/lost');
    q.add('ns/c');
    expect(q.len()).toBe(4);
    expect(await q.get()).toBe('ns/lost');
    expect(await q.get()).toBe('ns/a');
  });

  it('moves a key waiting in the routine lane up when it becomes urgent, and keeps it once', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/lost');
    q.addUrgent('ns/lost');
    q.addUrgent('ns/lost');
    q.add('ns/lost');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/lost');
    expect(await q.get()).toBe('ns/a');
    expect(q.len()).toBe(0);
  });

  it('never hands out an urgent key while it is processed; once done, it goes first', async () => {
    const q = new WorkQueue();
    q.add('ns/lost');
    expect(await q.get()).toBe('ns/lost');
    q.add('ns/a');
    q.addUrgent('ns/lost');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/b');
    q.done('ns/lost');
    expect(await q.get()).toBe('ns/lost');
    expect(await q.get()).toBe('ns/b');
  });

  it('an urgent key handed out is routine again when added next', async () => {
    const q = new WorkQueue();
    q.addUrgent('ns/lost');
    expect(await q.get()).toBe('ns/lost');
    q.done('ns/lost');
    q.add('ns/a');
    q.add('ns/lost');
    expect(await q.get()).toBe('ns/a');
  });

  it('getUrgent takes urgent keys only, and waits for one', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    let got: string | undefined;
    void q.getUrgent().then((k) => (got = k));
    await Promise.resolve();
    expect(got).toBeUndefined();
    q.addUrgent('ns/lost');
    await Promise.resolve();
    expect(got).toBe('ns/lost');
    expect(await q.get()).toBe('ns/a');
  });

  it('delays addAfter and keeps the earliest due time', async () => {
    const q = new WorkQueue();
    q.addAfter('ns/a', 100);
    q.addAfter('ns/a', 500);
    await vi.advanceTimersByTimeAsync(99);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    await q.get();
    q.done('ns/a');
    await vi.advanceTimersByTimeAsync(1000);
    expect(q.len()).toBe(0);
  });

  it('reports the time a key waited', async () => {
    const latencies: number[] = [];
    const q = new WorkQueue({ onLatency: (ms) => latencies.push(ms) });
    q.add('ns/a');
    await vi.advanceTimersByTimeAsync(250);
    await q.get();
    expect(latencies).toEqual([250]);
  });

  it('grows the rate-limited delay per key and resets it on forget', async () => {
    const q = new WorkQueue({ rateLimiter: new ExponentialFailureRateLimiter(5, 1_000_000) });
    q.addRateLimited('ns/a');
    q.addRateLimited('ns/a');
    q.addRateLimited('ns/a');
    expect(q.numRequeues('ns/a')).toBe(3);
    await vi.advanceTimersByTimeAsync(5);
    expect(q.len()).toBe(1);
    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
  });

  it('shutDown drops pending keys, wakes waiters and waits for keys in process', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.addAfter('ns/c', 100);
    await q.get();
    let drained = false;
    const down = q.shutDown().then(() => (drained = true));
    expect(await q.get()).toBeUndefined();
    q.add('ns/d');
    expect(q.len()).toBe(0);
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done('ns/a');
    await down;
    expect(drained).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(q.len()).toBe(0);
  });
});

describe('rate limiters', () => {
  it('backs off 5 ms doubling up to 1000 s', () => {
    const l = new ExponentialFailureRateLimiter();
    const delays = Array.from({ length: 30 }, () => l.when('k'));
    expect(delays.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(delays.at(-1)).toBe(1_000_000);
    l.forget('k');
    expect(l.when('k')).toBe(5);
  });

  it('lets a burst through then spaces retries at the qps', () => {
    let now = 0;
    const l = new TokenBucketRateLimiter(10, 100, () => now);
    for (let i = 0; i < 100; i++) expect(l.when()).toBe(0);
    expect(l.when()).toBeCloseTo(100);
    expect(l.when()).toBeCloseTo(200);
    now = 10_000;
    expect(l.when()).toBe(0);
  });

  it('default limiter takes the larger of the two', () => {
    const l = defaultRateLimiter(() => 0);
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(10);
    expect(l.numRequeues('a')).toBe(2);
  });

  it('caps the per-key backoff: a health-polled key is retried within the health period however often it failed', () => {
    const l = defaultRateLimiter(() => 0, 1000);
    const delays = Array.from({ length: 30 }, () => l.when('a'));
    expect(Math.max(...delays)).toBe(1000);
    expect(delays.at(-1)).toBe(1000);
  });
});

describe('runWorkers', () => {
  it('keeps a worker for urgent keys: a lost primary is reconciled while every other worker is busy', async () => {
    const q = new WorkQueue();
    const release: (() => void)[] = [];
    const done: string[] = [];
    const workers = runWorkers(
      q,
      2,
      async (key) => {
        if (key.startsWith('ns/slow')) await new Promise<void>((r) => release.push(r));
        done.push(key);
      },
      () => {},
    );
    for (const key of ['ns/slow-1', 'ns/slow-2', 'ns/slow-3']) q.add(key);
    await vi.advanceTimersByTimeAsync(0);
    q.addUrgent('ns/lost');
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toEqual(['ns/lost']);
    release.splice(0).forEach((r) => r());
    await vi.advanceTimersByTimeAsync(0);
    release.splice(0).forEach((r) => r());
    await vi.advanceTimersByTimeAsync(0);
    expect(done.sort()).toEqual(['ns/lost', 'ns/slow-1', 'ns/slow-2', 'ns/slow-3']);
    await q.shutDown();
    await workers;
  });


  it('applies controller-runtime result semantics', async () => {
    const q = new WorkQueue({ rateLimiter: new ExponentialFailureRateLimiter(1000, 1_000_000) });
    const calls: string[] = [];
    const errors: string[] = [];
    const results: Record<string, () => Promise<{ requeueAfterMs?: number } | void>> = {
      'ns/ok': async () => {},
      'ns/poll': async () => ({ requeueAfterMs: 500 }),
      'ns/fail': async () => {
        throw new Error('boom');
      },
    };
    const workers = runWorkers(
      q,
      2,
      async (key) => {
        calls.push(key);
        return results[key]!();
      },
      (key) => errors.push(key),
    );
    for (const key of Object.keys(results)) q.add(key);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['ns/fail', 'ns/ok', 'ns/poll']);
    expect(errors.sort()).toEqual(['ns/fail']);
    expect(q.numRequeues('ns/fail')).toBe(1);

    calls.length = 0;
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toEqual(['ns/poll']);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls.sort()).toEqual(['ns/fail', 'ns/poll', 'ns/poll']);
    expect(q.numRequeues('ns/fail')).toBe(2);

    await q.shutDown();
    await workers;
  });
});
