// The replication backlog through reconcile: full-resync loops of a replica cut off longer than the
// backlog covers, and the backlog raised (spec.replicationBacklog.auto) until the same cut ends in a
// partial sync. In the model one write is one byte of replication stream.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import type { RedisServer } from '../support/redis-model.js';
import { World } from '../support/world.js';

let world: World;
let rr: RedisReplication;
let nextId = 1;

const status = () => world.status(rr)!;
const server = (pod: string) => world.kube.serverOf('ns', pod)!;
const primaryServer = () => server(status().primary!);
const firstReplica = () => status().nodes!.find((n) => n.role === 'replica')!.name;
const synced = () => status().conditions!.find((c) => c.type === 'ReplicasSynced')!;
const events = (reason: string) => world.kube.events.filter((e) => e.reason === reason);
/** The exported coverage of `cache`. The write rate spans the samples of the last minute, the quiet
 * time before the writes included, so it is at most the rate written. */
const coverage = async () => Number(/rro_backlog_coverage_seconds\{namespace="ns",name="cache"\} (\S+)/.exec(await world.deps.metrics.registry.metrics())?.[1]);

async function setUp(spec: Record<string, unknown>): Promise<void> {
  ({ world, rr } = World.withResource(spec));
  nextId = 1;
  await world.settle(rr, () => world.ready(rr));
}

/** `seconds` passes, each with `perSecond` client writes to the primary, a pass and a replication step. */
async function writeFor(seconds: number, perSecond: number): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    const ip = primaryServer().ip;
    for (let i = 0; i < perSecond; i++) expect(world.redis.write(ip, nextId++)).toBe(true);
    await world.reconcile(rr);
    world.redis.replicate();
    world.advance(1000);
  }
}

/** The replica is cut off for `seconds` under the write load; its link times out (a cut longer than
 * repl-timeout), and once healed it syncs again. Returns the primary's sync counters' rise. */
async function cutOff(pod: string, seconds: number, perSecond: number): Promise<{ full: number; partialOk: number }> {
  const replica: RedisServer = server(pod);
  const before = { ...primaryServer().syncs };
  replica.unreachable = true;
  replica.linkUp = false;
  await writeFor(seconds, perSecond);
  replica.unreachable = false;
  await writeFor(3, perSecond);
  expect(replica.linkUp).toBe(true);
  return { full: primaryServer().syncs.full - before.full, partialOk: primaryServer().syncs.partialOk - before.partialOk };
}

describe('replication backlog', () => {
  it('a replica cut off longer than the backlog covers, twice: FullResyncLoop, a Warning Event, the loop metric', async () => {
    // Redis takes no backlog under 16kb; the model takes any, which keeps the write load small here.
    await setUp({ replicas: 2, config: { 'repl-backlog-size': '1kb' } });
    const pod = firstReplica();
    await writeFor(5, 100);
    // 100 B/s for 20 s is more than 1 KiB: a full sync, but one is no loop.
    expect(await cutOff(pod, 20, 100)).toEqual({ full: 1, partialOk: 0 });
    // Synced once it acknowledged past its full sync (plan/sync.ts).
    await world.settle(rr, () => synced().status === 'True', 5);
    expect(events('FullResyncLoop')).toEqual([]);
    expect(await cutOff(pod, 20, 100)).toEqual({ full: 1, partialOk: 0 });
    expect(synced()).toMatchObject({ status: 'False', reason: 'FullResyncLoop' });
    expect(synced().message).toContain(`${pod} (2 full syncs in 10m`);
    expect(events('FullResyncLoop')).toHaveLength(1);
    expect(events('FullResyncLoop')[0]).toMatchObject({ type: 'Warning' });
    const metrics = await world.deps.metrics.registry.metrics();
    expect(metrics).toContain(`rro_full_resync_loop{namespace="ns",name="cache",pod="${pod}"} 1`);
    expect(metrics).toContain(`rro_replica_syncs_total{namespace="ns",name="cache",pod="${pod}",type="full"} 2`);
    // Without auto sizing the backlog stays as the user set it.
    expect(world.servers().every((s) => s.backlogSize === 1024)).toBe(true);
    const backlog = status().replicationBacklog!;
    expect(backlog.size).toBe(1024);
    expect(backlog.writeBytesPerSecond).toBeGreaterThanOrEqual(80);
    expect(backlog.writeBytesPerSecond).toBeLessThanOrEqual(101);
    expect(backlog.coverageSeconds).toBe(Math.floor(1024 / backlog.writeBytesPerSecond!));
    // Ten quiet minutes later the loop is over.
    world.advance(600_000);
    await writeFor(1, 0);
    await world.settle(rr, () => synced().status === 'True', 5);
    expect(synced()).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  it('a short cut resumes with a partial sync: counted as partial, no loop', async () => {
    await setUp({ replicas: 1, config: { 'repl-backlog-size': '16kb' } });
    const pod = firstReplica();
    await writeFor(5, 100);
    for (let i = 0; i < 3; i++) expect(await cutOff(pod, 10, 100)).toEqual({ full: 0, partialOk: 1 });
    expect(synced()).toMatchObject({ status: 'True' });
    expect(await world.deps.metrics.registry.metrics()).toContain(`rro_replica_syncs_total{namespace="ns",name="cache",pod="${pod}",type="partial"} 3`);
  });

  it('auto: a loop raises the backlog on every pod past the disconnects, and the same cut then ends in a partial sync', async () => {
    await setUp({ replicas: 2, config: { 'repl-backlog-size': '1kb' }, replicationBacklog: { auto: true, minCoverageSeconds: 5 } });
    const pod = firstReplica();
    // 100 B/s: 1 KiB covers 10 s, more than minCoverageSeconds: nothing to raise.
    await writeFor(15, 100);
    expect(await coverage()).toBeGreaterThanOrEqual(1024 / 100);
    expect(await coverage()).toBeLessThan(60);
    expect(events('BacklogResized')).toEqual([]);
    expect(await cutOff(pod, 30, 100)).toEqual({ full: 1, partialOk: 0 });
    expect(await cutOff(pod, 30, 100)).toEqual({ full: 1, partialOk: 0 });
    await writeFor(1, 100);
    const size = status().replicationBacklog!.size;
    expect(size).toBeGreaterThan(3000);
    expect(events('BacklogResized')).toHaveLength(1);
    expect(events('BacklogResized')[0]!.message).toMatch(/^raised repl-backlog-size from 1024 to \d+ bytes: .*a full-resync loop/);
    // On every pod: the primary and every replica that may be promoted.
    expect(world.servers().map((s) => s.backlogSize)).toEqual(world.servers().map(() => size));
    expect(await cutOff(pod, 30, 100)).toEqual({ full: 0, partialOk: 1 });
    // A restarted pod starts with spec.config's size again and gets the raised one back.
    const other = status().nodes!.filter((n) => n.role === 'replica')[1]!.name;
    world.kube.restartContainer('ns', other);
    expect(server(other).backlogSize).toBe(1024);
    await writeFor(5, 100);
    expect(server(other).backlogSize).toBe(size);
    // A new operator process keeps the size status holds: it never shrinks.
    world.restartOperator();
    await writeFor(15, 100);
    expect(status().replicationBacklog!.size).toBe(size);
    expect(world.servers().every((s) => s.backlogSize === size)).toBe(true);
  });

  it('auto: minCoverageSeconds raises a backlog too small for the write rate, within maxSize', async () => {
    await setUp({ replicas: 1, config: { 'repl-backlog-size': '1kb' }, replicationBacklog: { auto: true, minCoverageSeconds: 60, maxSize: '64Ki' } });
    // 2 KB/s for 60 s would want 240 KB: maxSize stops it at 64 KiB, which covers about 33 s.
    await writeFor(12, 2000);
    expect(status().replicationBacklog!.size).toBe(64 * 1024);
    expect(world.servers().every((s) => s.backlogSize === 64 * 1024)).toBe(true);
    expect(events('BacklogResized')).toHaveLength(1);
    await writeFor(1, 2000);
    // 64 KiB at no more than 2 KB/s covers at least 32 s; capped by maxSize, less than the 60 asked.
    expect(await coverage()).toBeGreaterThanOrEqual(65536 / 2000);
    expect(await coverage()).toBeLessThan(60);
  });

  it('with auto, a spec change does not put spec.config\'s smaller size back', async () => {
    await setUp({ replicas: 1, config: { 'repl-backlog-size': '16kb' }, replicationBacklog: { auto: true, minCoverageSeconds: 30 } });
    await writeFor(12, 1000);
    const size = status().replicationBacklog!.size;
    expect(size).toBeGreaterThan(16384);
    const sent = world.redis.sent.length;
    rr = world.kube.apply({ ...rr, spec: { ...(rr.spec as object), config: { 'repl-backlog-size': '16kb', 'maxmemory-policy': 'allkeys-lru' } } });
    await writeFor(3, 1000);
    expect(world.servers().map((s) => [s.config['maxmemory-policy'], s.backlogSize])).toEqual(world.servers().map(() => ['allkeys-lru', size]));
    // Not even for a pass (a smaller backlog loses what it held).
    expect(world.redis.sent.slice(sent).filter((c) => c.includes('repl-backlog-size'))).toEqual([]);
  });

  it('auto: the size is set on a pod that lost it (restarted) only under a settled primary, not while the primary is in doubt', async () => {
    await setUp({ replicas: 1, failover: { primaryDownSeconds: 30 }, config: { 'repl-backlog-size': '1kb' }, replicationBacklog: { auto: true, minCoverageSeconds: 60, maxSize: '64Ki' } });
    await writeFor(12, 2000);
    expect(status().replicationBacklog!.size).toBe(64 * 1024);
    const replica = firstReplica();
    primaryServer().unreachable = true;
    world.kube.restartContainer('ns', replica);
    expect(server(replica).backlogSize).toBeLessThan(64 * 1024);
    const sent = world.redis.sent.length;
    await world.passes(rr, 3);
    expect(world.redis.sent.slice(sent).filter((c) => c.includes('repl-backlog-size'))).toEqual([]);
    primaryServer().unreachable = false;
    await world.settle(rr, () => server(replica).backlogSize === 64 * 1024);
  });
});
