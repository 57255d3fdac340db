// The prober against the Redis model and the fake clock: what it enqueues (nothing while nothing
// changes; a lost primary at once, urgently, and again when its silence reaches primaryDownSeconds),
// and a controller in miniature whose passes come only from the prober, the passes' own requeues and
// a slow resync: a frozen primary is still failed over within its bound.
import { describe, expect, it, vi } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { measure } from '../../src/controller/measure.js';
import { PassRedis, Prober } from '../../src/controller/prober.js';
import { WorkQueue } from '../../src/kube/workqueue.js';
import { CONFIRM_SILENCE_MS } from '../../src/plan/probe.js';
import { World } from '../support/world.js';

const KEY = 'ns/cache';
const RESYNC_MS = 30_000;

/** A world whose passes reach Redis through PassRedis, and a prober over it that records what it enqueues. */
function probed(spec: Record<string, unknown>, enqueue?: (key: string, urgent: boolean) => void) {
  const { world, rr } = World.withResource(spec);
  const targets = new PassRedis(world.redis, world.deps.metrics);
  world.deps = { ...world.deps, redis: targets };
  const enqueued: { key: string; urgent: boolean }[] = [];
  const quiet: string[] = [];
  const prober = new Prober({
    redis: world.redis,
    targets,
    resources: () => [...['cache', 'other'].flatMap((name) => world.kube.cache.resource('ns', name) ?? [])],
    pods: world.kube.cache.pods,
    enqueue: enqueue ?? ((key, urgent) => enqueued.push({ key, urgent })),
    measure: (measured) => measure({ ...world.deps, redis: world.redis }, measured),
    quiet: (key) => quiet.push(key),
    intervalMs: 1000,
    now: () => world.nowMs,
    metrics: world.deps.metrics,
    log: world.deps.log,
  });
  /** One probe round, then a replication step and a second. */
  const tick = async () => {
    await prober.round();
    world.redis.replicate();
    world.advance(1000);
  };
  return { world, rr, prober, enqueued, quiet, tick };
}

const primaryServer = (world: World, rr: RedisReplication) => world.kube.serverOf('ns', world.status(rr)!.primary!)!;
const infoSent = (world: World) => world.redis.sent.filter((c) => / INFO replication$/.test(c)).length;

describe('the prober', () => {
  it('a quiet resource: one INFO per pod per round and nothing enqueued, while clients write', async () => {
    const { world, rr, enqueued, tick } = probed({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    // The first write is news (a pod that holds data has its claim marked): the rounds after it are not.
    world.redis.write(primaryServer(world, rr).ip, 0);
    world.redis.replicate();
    await tick();
    const before = infoSent(world);
    for (let i = 1; i <= 10; i++) {
      world.redis.write(primaryServer(world, rr).ip, i);
      await tick();
    }
    expect(enqueued).toEqual([]);
    expect(infoSent(world) - before).toBe(30);
  });

  it('between passes it keeps the measurements current (lag, memory, the backlog\'s coverage) and says the resource is quiet', async () => {
    const { world, rr, quiet, enqueued, tick } = probed({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    world.deps.metrics.forgetResource('ns', 'cache');
    const series = () => world.deps.metrics.registry.metrics();
    for (let i = 0; i < 12; i++) {
      world.redis.write(primaryServer(world, rr).ip, i);
      await tick();
    }
    const text = await series();
    expect(text).toMatch(/rro_replication_lag_seconds\{namespace="ns",resource="cache",pod="cache-\d"\} 0/);
    expect(text).toMatch(/rro_redis_memory_used_bytes\{namespace="ns",resource="cache",pod="cache-\d"\} \d+/);
    expect(text).toMatch(/rro_backlog_coverage_seconds\{namespace="ns",name="cache"\} \d+/);
    expect(text).toMatch(/rro_primary_replication_offset_bytes\{namespace="ns",resource="cache"\} [1-9]\d*/);
    expect(quiet.filter((k) => k === KEY).length).toBeGreaterThanOrEqual(10);
    expect(enqueued.filter((e) => e.key === KEY).length).toBeLessThanOrEqual(1);
  });

  it('with replicationBacklog.auto, a write rate the backlog does not cover is a reason for a pass, which raises it', async () => {
    const { world, rr, enqueued, tick } = probed({ replicas: 1, config: { 'repl-backlog-size': '1kb' }, replicationBacklog: { auto: true, minCoverageSeconds: 60 } });
    await world.settle(rr, () => world.ready(rr));
    await tick();
    enqueued.length = 0;
    let id = 0;
    for (let s = 0; s < 12 && enqueued.length === 0; s++) {
      for (let i = 0; i < 2000; i++) world.redis.write(primaryServer(world, rr).ip, id++);
      await tick();
    }
    expect(enqueued).toEqual([{ key: KEY, urgent: false }]);
    await world.reconcile(rr);
    expect(world.status(rr)!.replicationBacklog!.size).toBeGreaterThan(1024);
    expect(world.servers().every((srv) => srv.backlogSize === world.status(rr)!.replicationBacklog!.size)).toBe(true);
  });

  it('running, it probes each pod once per interval, its resources spread over the interval', async () => {
    const { world, rr, prober, enqueued } = probed({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    vi.useFakeTimers();
    try {
      const before = infoSent(world);
      prober.start();
      await vi.advanceTimersByTimeAsync(1000);
      expect(infoSent(world) - before).toBe(3);
      await vi.advanceTimersByTimeAsync(2000);
      expect(infoSent(world) - before).toBe(9);
      await prober.stop();
      await vi.advanceTimersByTimeAsync(2000);
      expect(infoSent(world) - before).toBe(9);
      expect(enqueued).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a replica re-pointed elsewhere (its link down) is enqueued, routinely: the prober speaks to each pod as the last pass did (auth is on by default)', async () => {
    const { world, rr, enqueued, tick } = probed({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    await tick();
    const replica = world.kube.serverOf('ns', world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name)!;
    replica.masterHost = '10.9.9.9';
    await tick();
    expect(enqueued).toEqual([{ key: KEY, urgent: false }]);
  });

  it('a primary that stops answering: enqueued urgently at once, and again once its silence reaches primaryDownSeconds', async () => {
    const { world, rr, enqueued, tick } = probed({ replicas: 2, failover: { primaryDownSeconds: 3 } });
    await world.settle(rr, () => world.ready(rr));
    await tick();
    primaryServer(world, rr).unreachable = true;
    const urgentAt: number[] = [];
    const stoppedAt = world.nowMs;
    for (let i = 0; i < 6; i++) {
      const n = enqueued.length;
      await tick();
      if (enqueued.slice(n).some((e) => e.urgent)) urgentAt.push(world.nowMs - 1000 - stoppedAt);
    }
    expect(enqueued[0]).toEqual({ key: KEY, urgent: true });
    expect(urgentAt).toEqual([0, 3000]);
    // In between, only its replicas' links going down (routine: nothing to add to an urgent pass).
    expect(enqueued.filter((e) => !e.urgent).length).toBeLessThanOrEqual(1);
  });

  it('a silent primary is enqueued as its silence reaches primaryDownSeconds (its pass confirming the silence until then), not when a later probe ends', async () => {
    const { world, rr, prober, enqueued } = probed({ replicas: 2, failover: { primaryDownSeconds: 3 } });
    await world.settle(rr, () => world.ready(rr));
    await prober.round();
    vi.useFakeTimers();
    try {
      primaryServer(world, rr).unreachable = true;
      // One probe finds it silent (since that probe's sending); none ends after it: a frozen pod's
      // probe waits out its command timeout, and the next one is skipped while it does.
      await prober.round();
      expect(enqueued).toEqual([{ key: KEY, urgent: true }]);
      await vi.advanceTimersByTimeAsync(2999 - CONFIRM_SILENCE_MS);
      expect(enqueued.length).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(enqueued).toEqual([{ key: KEY, urgent: true }, { key: KEY, urgent: true }]);
      // Said once: the probe that ends next does not enqueue it again.
      world.advance(3000);
      await prober.round();
      expect(enqueued.length).toBe(2);
      await prober.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a lost primary is taken from the work queue ahead of the routine work queued before it', async () => {
    const queue = new WorkQueue();
    const { world, rr, tick } = probed({ replicas: 1 }, (key, urgent) => (urgent ? queue.addUrgent(key) : queue.add(key)));
    await world.settle(rr, () => world.ready(rr));
    await tick();
    for (const key of ['ns/a', 'ns/b', 'ns/c']) queue.add(key);
    primaryServer(world, rr).unreachable = true;
    await tick();
    expect(await queue.get()).toBe(KEY);
    expect(await queue.get()).toBe('ns/a');
  });
});

describe('passes driven by the prober alone (and a slow resync)', () => {
  /** A controller in miniature on the fake clock, in 100 ms steps: a prober round each second, and a
   * pass for each key when it is due (enqueued now, or at the time its last pass asked for). */
  async function run(spec: Record<string, unknown>, seconds: number, fault: (world: World, rr: RedisReplication) => void) {
    const due = new Map<string, number>();
    const { world, rr, prober } = probed(spec, (key) => due.set(key, Math.min(due.get(key) ?? Infinity, world.nowMs)));
    world.deps.healthIntervalMs = RESYNC_MS;
    await world.settle(rr, () => world.ready(rr));
    await prober.round();
    let passes = 0;
    const start = world.nowMs;
    fault(world, rr);
    const old = world.status(rr)!.primary!;
    let movedAfterMs: number | undefined;
    for (let t = 0; t < seconds * 1000; t += 100) {
      if (t % 1000 === 0) await prober.round();
      const at = due.get(KEY);
      if (at !== undefined && at <= world.nowMs) {
        due.delete(KEY);
        passes++;
        const result = await world.reconcile(rr);
        if (result?.requeueAfterMs) due.set(KEY, Math.min(due.get(KEY) ?? Infinity, world.nowMs + result.requeueAfterMs));
      }
      world.redis.replicate();
      world.advance(100);
      if (movedAfterMs === undefined && world.status(rr)!.primary !== old) movedAfterMs = world.nowMs - start;
    }
    return { world, rr, passes, movedAfterMs };
  }

  it('nothing happening: no pass in a minute, not even the resync', async () => {
    const { passes } = await run({ replicas: 2 }, 60, () => undefined);
    expect(passes).toBe(0);
  });

  it('a frozen primary is failed over within primaryDownSeconds + 1.5 s', async () => {
    const { world, rr, movedAfterMs } = await run({ replicas: 2, failover: { primaryDownSeconds: 3 } }, 10, (w, r) => void (primaryServer(w, r).unreachable = true));
    expect(movedAfterMs).toBeDefined();
    expect(movedAfterMs!).toBeGreaterThanOrEqual(3000);
    expect(movedAfterMs!).toBeLessThanOrEqual(4500);
    expect(primaryServer(world, rr).role).toBe('master');
  });
});

describe('the controller on the timers: a pass takes as long as its Redis commands', () => {
  /** The prober on its own timers, one pass of the resource at a time (a key being processed is not
   * processed again until it is done: the work queue), a command to a frozen server failing only at
   * the client's command timeout (a second), and the world's clock the fake timers' (10 ms steps).
   * The primary freezes `phaseMs` into the prober's interval. */
  async function frozenPrimary(phaseMs: number) {
    let due = false;
    let dueAt: number | undefined;
    const { world, rr, prober } = probed({ replicas: 2, failover: { primaryDownSeconds: 3 } }, () => void (due = true));
    world.deps = { ...world.deps, silentSince: (key, pod, ip) => prober.silentSince(key, pod, ip) };
    await world.settle(rr, () => world.ready(rr));
    vi.useFakeTimers({ now: world.nowMs });
    try {
      world.redis.noAnswerAfterMs = 1000;
      const step = async () => {
        await vi.advanceTimersByTimeAsync(10);
        world.nowMs = Date.now();
        if (world.nowMs % 100 === 0) world.redis.replicate();
      };
      prober.start();
      for (let t = 0; t < 2000 + phaseMs; t += 10) await step();
      const oldName = world.status(rr)!.primary!;
      const old = primaryServer(world, rr);
      old.unreachable = true;
      const frozenAt = world.nowMs;
      let running = false;
      let silentSinceMs: number | undefined;
      let movedAtMs: number | undefined;
      while (movedAtMs === undefined && world.nowMs - frozenAt < 10_000) {
        if (!running && (due || (dueAt !== undefined && dueAt <= world.nowMs))) {
          due = false;
          dueAt = undefined;
          running = true;
          void world.reconcile(rr).then((result) => {
            running = false;
            if (result?.requeueAfterMs !== undefined) dueAt = Math.min(dueAt ?? Infinity, world.nowMs + result.requeueAfterMs);
          });
        }
        await step();
        silentSinceMs ??= prober.silentSince(KEY, oldName, old.ip);
        if (world.status(rr)!.primary !== oldName) movedAtMs = world.nowMs;
      }
      await prober.stop();
      return { world, rr, frozenAt, silentSinceMs, movedAtMs };
    } finally {
      vi.useRealTimers();
    }
  }

  // Measured on the local cluster before: a pass under way as the silence reached primaryDownSeconds
  // waited out its command timeout first, and the failover came a second late.
  it.each([0, 250, 500, 750])('a primary frozen %i ms into the interval is failed over as its silence reaches primaryDownSeconds, not a command timeout later', async (phaseMs) => {
    const { world, rr, frozenAt, silentSinceMs, movedAtMs } = await frozenPrimary(phaseMs);
    expect(silentSinceMs).toBeDefined();
    // The silence starts with the first probe sent after the freeze, within an interval.
    expect(silentSinceMs! - frozenAt).toBeLessThanOrEqual(1000);
    expect(movedAtMs).toBeDefined();
    expect(movedAtMs! - silentSinceMs!).toBeGreaterThanOrEqual(3000);
    expect(movedAtMs! - silentSinceMs!).toBeLessThanOrEqual(3100);
    expect(primaryServer(world, rr).role).toBe('master');
  });
});
