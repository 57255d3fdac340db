// What a probe measures between passes (controller/measure.ts), called as the prober calls it (the
// prober itself turns a measurement that throws into a pass, which hides it): each replica's lag, the
// primary's offset and the backlog's coverage, each pod's memory now and then, and, with
// spec.replicationBacklog.auto, whether the write rate calls for a pass that raises the backlog.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseSpec, type NodeStatus } from '../../src/api/schema.js';
import { measure, MEMORY_POLL_MS, type Measured } from '../../src/controller/measure.js';
import type { ResourceMemory } from '../../src/controller/pass.js';
import { DEFAULT_BACKLOG_BYTES, MIN_RATE_SPAN_MS } from '../../src/plan/backlog.js';
import type { PrimaryInfo } from '../../src/redis/info.js';
import { World } from '../support/world.js';

const KEY = 'ns/cache';
const r = 'namespace="ns",resource="cache"';
const PODS = ['cache-0', 'cache-1', 'cache-2'];
const ipOf = (pod: string) => `10.0.0.${PODS.indexOf(pod) + 1}`;

/** `ns/cache` with a primary (cache-0) and two replicas, each a server of the Redis model that answers
 * without a password, in a world where a pass has looked at it (its memory exists) unless `looked`
 * is false. `probe` measures what its arguments say the probe found, as the prober does. */
function setup(spec: Record<string, unknown> = {}, looked = true) {
  const world = new World();
  const lines: Record<string, unknown>[] = [];
  world.deps.log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const memory: ResourceMemory = {};
  if (looked) world.deps.memory.set(KEY, memory);
  const servers = PODS.map((pod) => world.redis.start(ipOf(pod), { pod, persistent: false, authConf: undefined, config: {} }));
  const parsed = parseSpec({ replicas: 2, ...spec }, 'cache');
  if (!parsed.ok) throw new Error(parsed.message);
  const nodes: NodeStatus[] = [
    { name: 'cache-0', role: 'primary', tier: 0, read: false },
    { name: 'cache-1', role: 'replica', tier: 1, parent: 'cache-0', link: 'up', lagBytes: 120, lagSeconds: 2, read: true },
    { name: 'cache-2', role: 'replica', tier: 1, parent: 'cache-0', link: 'up', read: true },
  ];
  const probe = (primary: Partial<PrimaryInfo> | undefined, more: Partial<Measured> = {}) =>
    measure(
      { ...world.deps, redis: world.redis },
      {
        namespace: 'ns',
        name: 'cache',
        spec: parsed.spec,
        statusBacklogSize: undefined,
        nodes,
        primary: primary && { role: 'master', replId: 'replid-a', replOffset: 0, connectedReplicas: 2, replicas: [], backlogSize: DEFAULT_BACKLOG_BYTES, ...primary },
        answered: PODS.map((pod) => ({ pod, target: { host: ipOf(pod) } })),
        ...more,
      },
    );
  const series = () => world.deps.metrics.registry.metrics();
  const memoryAsked = () => world.redis.sent.filter((c) => c.endsWith(' INFO memory')).map((c) => c.split(' ')[0]);
  return { world, memory, servers, lines, probe, series, memoryAsked };
}

/** Two probes MIN_RATE_SPAN_MS apart, the primary's offset grown by `bytesPerSecond` in between
 * (the write rate known from the second on); what the second says. */
async function writingAt(s: ReturnType<typeof setup>, bytesPerSecond: number, more: Partial<Measured> = {}): Promise<boolean> {
  expect(await s.probe({ replOffset: 5000 }, more)).toBe(false);
  s.world.advance(MIN_RATE_SPAN_MS);
  return s.probe({ replOffset: 5000 + (bytesPerSecond * MIN_RATE_SPAN_MS) / 1000 }, more);
}

describe('measure: what a probe records between passes', () => {
  it('keeps and records nothing for a resource no pass has looked at yet, asks no pod anything, and asks for no pass', async () => {
    const s = setup({ replicationBacklog: { auto: true } }, false);
    expect(await s.probe({ replOffset: 5000 })).toBe(false);
    s.world.advance(MIN_RATE_SPAN_MS);
    expect(await s.probe({ replOffset: 50_000_000 })).toBe(false);
    expect(s.world.deps.memory.has(KEY)).toBe(false);
    expect(s.world.redis.sent).toEqual([]);
    expect(await s.series()).not.toMatch(/resource="cache"|name="cache"/);
  });

  it("records each replica's lag (0 when status has none), and none for the primary", async () => {
    const s = setup();
    await s.probe(undefined);
    const text = await s.series();
    expect(text).toContain(`rro_replication_lag_bytes{${r},pod="cache-1"} 120`);
    expect(text).toContain(`rro_replication_lag_seconds{${r},pod="cache-1"} 2`);
    expect(text).toContain(`rro_replication_lag_bytes{${r},pod="cache-2"} 0`);
    expect(text).toContain(`rro_replication_lag_seconds{${r},pod="cache-2"} 0`);
    expect(text).not.toMatch(/rro_replication_lag_\w+\{[^}]*pod="cache-0"/);
  });

  it("records the primary's offset and backlog size at once, and the backlog's coverage once the write rate is known (MIN_RATE_SPAN_MS of samples)", async () => {
    const s = setup();
    const startMs = s.world.nowMs;
    await s.probe({ replOffset: 5000 });
    let text = await s.series();
    expect(text).toContain(`rro_primary_replication_offset_bytes{${r}} 5000`);
    expect(text).toContain(`rro_replication_backlog_bytes{namespace="ns",name="cache"} ${DEFAULT_BACKLOG_BYTES}`);
    expect(text).not.toMatch(/rro_backlog_coverage_seconds\{/);
    expect(s.memory.offsetSamples).toEqual([{ atMs: startMs, offset: 5000, replId: 'replid-a' }]);
    s.world.advance(MIN_RATE_SPAN_MS);
    await s.probe({ replOffset: 5000 + 10 * 16 * 1024 });
    text = await s.series();
    expect(text).toContain(`rro_primary_replication_offset_bytes{${r}} ${5000 + 10 * 16 * 1024}`);
    // 1 MiB at 16 KiB a second.
    expect(text).toContain('rro_backlog_coverage_seconds{namespace="ns",name="cache"} 64');
    expect(s.memory.offsetSamples).toHaveLength(2);
  });

  it('a primary whose INFO gives no backlog size: its offset is recorded, no backlog series', async () => {
    const s = setup();
    await s.probe({ replOffset: 5000, backlogSize: undefined });
    s.world.advance(MIN_RATE_SPAN_MS);
    await s.probe({ replOffset: 6000, backlogSize: undefined });
    const text = await s.series();
    expect(text).toContain(`rro_primary_replication_offset_bytes{${r}} 6000`);
    expect(text).not.toMatch(/rro_(replication_backlog_bytes|backlog_coverage_seconds)\{/);
  });

  it('with replicationBacklog.auto, a write rate the backlog does not cover for minCoverageSeconds asks for a pass; one it covers does not, nor the first probe', async () => {
    // 1 MiB covers 64 s at 16 KiB/s, 32 s at 32 KiB/s.
    expect(await writingAt(setup({ replicationBacklog: { auto: true, minCoverageSeconds: 60 } }), 16 * 1024)).toBe(false);
    expect(await writingAt(setup({ replicationBacklog: { auto: true, minCoverageSeconds: 60 } }), 32 * 1024)).toBe(true);
    // The size status keeps is the backlog now, though the primary still reports the old one.
    expect(await writingAt(setup({ replicationBacklog: { auto: true, minCoverageSeconds: 60 } }), 32 * 1024, { statusBacklogSize: 4 * DEFAULT_BACKLOG_BYTES })).toBe(false);
  });

  it('without replicationBacklog.auto, no write rate asks for a pass', async () => {
    expect(await writingAt(setup(), 1024 * 1024)).toBe(false);
    expect(await writingAt(setup({ replicationBacklog: { auto: false } }), 1024 * 1024)).toBe(false);
  });

  it('with replicationBacklog.auto, a replica in a full-resync loop asks for a backlog that covers its longest disconnect, beyond minCoverageSeconds', async () => {
    const s = setup({ replicationBacklog: { auto: true, minCoverageSeconds: 60 } });
    s.memory.fullSyncs = { 'cache-1': [{ atMs: s.world.nowMs, awayMs: 90_000 }, { atMs: s.world.nowMs, awayMs: 80_000 }] };
    expect(await writingAt(s, 16 * 1024)).toBe(true);
    // One full sync is no loop.
    const once = setup({ replicationBacklog: { auto: true, minCoverageSeconds: 60 } });
    once.memory.fullSyncs = { 'cache-1': [{ atMs: once.world.nowMs, awayMs: 90_000 }] };
    expect(await writingAt(once, 16 * 1024)).toBe(false);
  });

  it("asks each pod that answered for its memory at most every MEMORY_POLL_MS, whether or not the primary answered", async () => {
    const s = setup();
    await s.probe(undefined);
    expect(s.memoryAsked()).toEqual(PODS.map(ipOf));
    expect(await s.series()).toContain(`rro_redis_memory_used_bytes{${r},pod="cache-1"} 1000000`);
    s.world.advance(MEMORY_POLL_MS - 1);
    await s.probe({ replOffset: 5000 });
    expect(s.memoryAsked()).toHaveLength(3);
    s.world.advance(1);
    await s.probe({ replOffset: 5000 });
    expect(s.memoryAsked()).toEqual([...PODS.map(ipOf), ...PODS.map(ipOf)]);
  });

  it('a pod that does not answer INFO memory loses its memory series (the others keep theirs), with a warning that names it', async () => {
    const s = setup();
    await s.probe(undefined);
    s.servers[1]!.unreachable = true;
    s.world.advance(MEMORY_POLL_MS);
    expect(await s.probe(undefined)).toBe(false);
    const text = await s.series();
    expect(text).toContain(`rro_redis_memory_used_bytes{${r},pod="cache-0"} 1000000`);
    expect(text).not.toContain(`rro_redis_memory_used_bytes{${r},pod="cache-1"}`);
    expect(s.lines.filter((l) => l['level'] === 40)).toEqual([
      expect.objectContaining({ resource: KEY, pod: 'cache-1', err: expect.stringContaining('no answer'), msg: expect.stringContaining('INFO memory failed') }),
    ]);
  });
});
