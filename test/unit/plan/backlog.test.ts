import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKLOG_BYTES,
  HEADROOM,
  LOOP_WINDOW_MS,
  MIN_RATE_SPAN_MS,
  RATE_WINDOW_MS,
  addSample,
  configuredBacklog,
  coverageSeconds,
  decideBacklogSize,
  quantityBytes,
  recordFullSyncs,
  redisBytes,
  resyncLoops,
  sizeCap,
  targetCoverage,
  watchSyncs,
  writeRate,
  type OffsetSample,
  type SizingInput,
  type SyncWatch,
} from '../../../src/plan/backlog.js';
import { BOOT_PARENT } from '../../../src/plan/names.js';
import type { ObservedPod } from '../../../src/plan/observation.js';
import type { ReplicationInfo } from '../../../src/redis/info.js';

describe('sizes', () => {
  it('reads Redis memory units as redis.conf does (k is 1000, kb 1024)', () => {
    expect(redisBytes('1048576')).toBe(1048576);
    expect(redisBytes('64kb')).toBe(65536);
    expect(redisBytes('64k')).toBe(64000);
    expect(redisBytes('1MB')).toBe(1048576);
    expect(redisBytes('2gb')).toBe(2 * 1024 ** 3);
    expect(redisBytes('1.5mb')).toBeUndefined();
    expect(redisBytes('lots')).toBeUndefined();
  });

  it('reads Kubernetes quantities', () => {
    expect(quantityBytes('256Mi')).toBe(256 * 1024 ** 2);
    expect(quantityBytes('1G')).toBe(1e9);
    expect(quantityBytes('0.5Gi')).toBe(512 * 1024 ** 2);
    expect(quantityBytes('5e6')).toBe(5e6);
    expect(quantityBytes(1000)).toBe(1000);
    expect(quantityBytes('-1Gi')).toBeUndefined();
  });

  it('takes repl-backlog-size from spec.config whatever its case', () => {
    expect(configuredBacklog({ 'REPL-BACKLOG-SIZE': '16kb' })).toBe(16384);
    expect(configuredBacklog({ 'maxmemory-policy': 'allkeys-lru' })).toBeUndefined();
  });
});

describe('write rate', () => {
  const sample = (s: number, offset: number, replId = 'a'): OffsetSample => ({ atMs: s * 1000, offset, replId });
  const fill = (samples: OffsetSample[]) => samples.reduce<OffsetSample[]>((acc, s) => addSample(acc, s), []);

  it('is unknown before MIN_RATE_SPAN_MS, then the offset growth per second over the window', () => {
    const short = fill([sample(0, 0), sample(5, 500)]);
    expect(writeRate(short)).toBeUndefined();
    expect(writeRate(fill([sample(0, 0), sample(5, 500), sample(10, 1000)]))).toBe(100);
  });

  it('starts over on another replication ID or an offset that went back', () => {
    const samples = fill([sample(0, 0), sample(10, 1000), sample(11, 5, 'b')]);
    expect(samples).toEqual([sample(11, 5, 'b')]);
    expect(fill([sample(0, 500), sample(10, 1000), sample(11, 10)])).toEqual([sample(11, 10)]);
  });

  it('property: keeps at most one sample older than the window, and the rate is that of the kept span', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 0, max: 10_000 })), { minLength: 1, maxLength: 80 }), (steps) => {
        let atMs = 0;
        let offset = 0;
        let samples: OffsetSample[] = [];
        for (const [dt, written] of steps) {
          atMs += dt;
          offset += written;
          samples = addSample(samples, { atMs, offset, replId: 'a' });
          expect(samples.filter((s) => s.atMs < atMs - RATE_WINDOW_MS).length).toBeLessThanOrEqual(1);
          expect(samples.at(-1)).toEqual({ atMs, offset, replId: 'a' });
          const rate = writeRate(samples);
          const span = atMs - samples[0]!.atMs;
          if (span < MIN_RATE_SPAN_MS) expect(rate).toBeUndefined();
          else expect(rate).toBeCloseTo(((offset - samples[0]!.offset) * 1000) / span, 6);
        }
      }),
    );
  });

  it('coverage is size over rate, and unbounded with no writes', () => {
    expect(coverageSeconds(1000, 100)).toBe(10);
    expect(coverageSeconds(1000, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('decideBacklogSize', () => {
  const input = (over: Partial<SizingInput>): SizingInput => ({
    current: DEFAULT_BACKLOG_BYTES,
    bytesPerSecond: 0,
    minCoverageSeconds: 60,
    maxSize: 256 * 1024 ** 2,
    memoryLimit: undefined,
    ...over,
  });

  it('keeps a backlog that covers the target', () => {
    expect(decideBacklogSize(input({ bytesPerSecond: 10_000 }))).toBe(DEFAULT_BACKLOG_BYTES);
  });

  it('raises one that does not to twice the target, in 16 KiB steps', () => {
    // 100 KB/s for 60 s needs 6 MB; twice that, rounded up to 16 KiB.
    expect(decideBacklogSize(input({ bytesPerSecond: 100_000 }))).toBe(Math.ceil(12_000_000 / 16384) * 16384);
  });

  it('covers a looping replica\'s disconnect when that is longer than minCoverageSeconds', () => {
    const size = decideBacklogSize(input({ current: 64 * 1024, bytesPerSecond: 5000, minCoverageSeconds: 5, loopDisconnectSeconds: 30 }));
    expect(coverageSeconds(size, 5000)).toBeGreaterThanOrEqual(60);
  });

  it('stops at maxSize and at a quarter of the memory limit', () => {
    expect(decideBacklogSize(input({ bytesPerSecond: 1e6, maxSize: 8 * 1024 ** 2 }))).toBe(8 * 1024 ** 2);
    expect(decideBacklogSize(input({ bytesPerSecond: 1e6, memoryLimit: 16 * 1024 ** 2 }))).toBe(4 * 1024 ** 2);
  });

  const sizing = fc.record({
    current: fc.integer({ min: 1, max: 2 ** 32 }),
    bytesPerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e8, noNaN: true })),
    minCoverageSeconds: fc.integer({ min: 1, max: 86_400 }),
    maxSize: fc.integer({ min: 1, max: 2 ** 34 }),
    memoryLimit: fc.option(fc.integer({ min: 1, max: 2 ** 36 }), { nil: undefined }),
    loopDisconnectSeconds: fc.option(fc.double({ min: 0, max: 7200, noNaN: true }), { nil: undefined }),
  });

  it('property: never shrinks, never raises past the bounds, and reaches the target when the bounds allow it', () => {
    fc.assert(
      fc.property(sizing, (s) => {
        const size = decideBacklogSize(s);
        const cap = sizeCap(s.maxSize, s.memoryLimit);
        const target = targetCoverage(s);
        expect(size).toBeGreaterThanOrEqual(s.current);
        expect(size === s.current || size <= cap).toBe(true);
        if (HEADROOM * target * s.bytesPerSecond + 16384 <= cap) expect(coverageSeconds(size, s.bytesPerSecond)).toBeGreaterThanOrEqual(target);
        // Once raised, the same conditions keep it: no resize on every pass.
        expect(decideBacklogSize({ ...s, current: size })).toBe(size);
      }),
    );
  });
});

// Pods of a resource `c`: c-0 the primary at 10.0.0.10, replicas c-1.. at 10.0.0.11...
const ip = (n: number) => `10.0.0.${10 + n}`;
const syncs = (full: number, partialOk: number) => ({ full, partialOk, partialErr: 0 });
function primary(offset: number, counters: { full: number; partialOk: number }, backlogSize = 100): ObservedPod {
  const info: ReplicationInfo = {
    role: 'master',
    replId: 'r1',
    replOffset: offset,
    connectedReplicas: 1,
    replicas: [],
    backlogSize,
    backlogFirstByte: Math.max(1, offset - backlogSize + 1),
    syncs: syncs(counters.full, counters.partialOk),
  };
  return { name: 'c-0', index: 0, tier: 0, role: 'primary', parent: undefined, podIP: ip(0), deleting: false, containerDown: false, info };
}
type Link = 'up' | 'down' | 'syncing' | 'booting' | 'silent';
function replica(n: number, link: Link, offset: number): ObservedPod {
  const booting = link === 'booting';
  const info: ReplicationInfo | undefined =
    link === 'silent'
      ? undefined
      : {
          role: 'replica',
          replId: 'r1',
          replOffset: offset,
          connectedReplicas: 0,
          replicas: [],
          masterHost: booting ? BOOT_PARENT.host : ip(0),
          masterPort: booting ? BOOT_PARENT.port : 6379,
          linkUp: link === 'up',
          syncInProgress: link === 'syncing',
          replicaOffset: offset,
          lastIoSecondsAgo: 0,
          readOnly: true,
        };
  return { name: `c-${n}`, index: n, tier: 1, role: 'replica', parent: 'c-0', podIP: ip(n), deleting: false, containerDown: false, info };
}

/** Runs watchSyncs over passes one second apart; returns the syncs each pass saw. */
function run(passes: ObservedPod[][]): string[][] {
  let watch: SyncWatch | undefined;
  return passes.map((observed, i) => {
    const r = watchSyncs(watch, observed, i * 1000);
    watch = r.watch;
    return r.syncs.map((s) => `${s.pod} ${s.full ? 'full' : 'partial'} ${s.awayMs / 1000}s`);
  });
}

describe('watchSyncs', () => {
  const P = primary;
  const cases: [string, ObservedPod[][], string[][]][] = [
    [
      'a replica away longer than the backlog covers: a full sync',
      [[P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100)], [P(200, { full: 1, partialOk: 0 }), replica(1, 'silent', 0)], [P(400, { full: 2, partialOk: 0 }), replica(1, 'up', 400)]],
      [[], [], ['c-1 full 2s']],
    ],
    [
      'a replica whose offset is still in the backlog: a partial sync',
      [[P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100)], [P(150, { full: 1, partialOk: 0 }), replica(1, 'down', 100)], [P(180, { full: 1, partialOk: 1 }), replica(1, 'up', 180)]],
      [[], [], ['c-1 partial 2s']],
    ],
    [
      'a backup client that full-syncs while a replica resumes is not counted against the replica',
      [[P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100)], [P(150, { full: 1, partialOk: 0 }), replica(1, 'down', 100)], [P(180, { full: 2, partialOk: 1 }), replica(1, 'up', 180)]],
      [[], [], ['c-1 partial 2s']],
    ],
    ['a backup client alone is no sync of any pod', [[P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100)], [P(500, { full: 5, partialOk: 0 }), replica(1, 'up', 500)]], [[], []]],
    [
      'a full sync seen in progress counts even with the offset in the backlog',
      [[P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100)], [P(110, { full: 2, partialOk: 0 }), replica(1, 'syncing', 100)], [P(120, { full: 2, partialOk: 0 }), replica(1, 'up', 120)]],
      [[], [], ['c-1 full 2s']],
    ],
    [
      'a restarted replica, or one seen first while away, is not counted',
      [
        [P(100, { full: 1, partialOk: 0 }), replica(1, 'up', 100), replica(2, 'down', 0)],
        [P(400, { full: 1, partialOk: 0 }), replica(1, 'booting', 0), replica(2, 'down', 0)],
        [P(500, { full: 3, partialOk: 0 }), replica(1, 'up', 500), replica(2, 'up', 500)],
      ],
      [[], [], []],
    ],
  ];
  it.each(cases)('%s', (_, passes, expected) => {
    expect(run(passes)).toEqual(expected);
  });

  it('property: never counts a sync without a rise of its parent\'s counters or a full sync seen, nor more than one per episode', () => {
    const step = fc.record({
      link: fc.constantFrom<Link>('up', 'down', 'syncing', 'booting', 'silent'),
      written: fc.integer({ min: 0, max: 300 }),
      full: fc.integer({ min: 0, max: 2 }),
      partial: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let offset = 0;
        let counters = { full: 0, partialOk: 0 };
        let watch: SyncWatch | undefined;
        let sawSyncing = false;
        let rose = false;
        steps.forEach((s, i) => {
          offset += s.written;
          counters = { full: counters.full + s.full, partialOk: counters.partialOk + s.partial };
          rose ||= s.full + s.partial > 0;
          sawSyncing ||= s.link === 'syncing';
          const r = watchSyncs(watch, [primary(offset, counters), replica(1, s.link, s.link === 'up' ? offset : 0)], i * 1000);
          watch = r.watch;
          expect(r.syncs.length).toBeLessThanOrEqual(1);
          if (r.syncs.length > 0) {
            expect(s.link).toBe('up');
            expect(rose || sawSyncing).toBe(true);
          }
          if (s.link === 'up') {
            rose = false;
            sawSyncing = false;
          }
        });
      }),
    );
  });
});

describe('full-resync loops', () => {
  it('two full syncs of one pod within the window are a loop; it ends when the window passes', () => {
    const live = new Set(['c-1', 'c-2']);
    let history = recordFullSyncs({}, [{ pod: 'c-1', full: true, awayMs: 20_000 }], live, 0);
    expect(resyncLoops(history)).toEqual([]);
    history = recordFullSyncs(history, [{ pod: 'c-1', full: true, awayMs: 30_000 }, { pod: 'c-2', full: false, awayMs: 5000 }], live, 60_000);
    expect(resyncLoops(history)).toEqual([{ pod: 'c-1', fullSyncs: 2, longestAwayMs: 30_000 }]);
    history = recordFullSyncs(history, [], live, 60_000 + LOOP_WINDOW_MS);
    expect(resyncLoops(history)).toEqual([]);
  });

  it('forgets pods that are gone', () => {
    const history = recordFullSyncs({ 'c-9': [{ atMs: 0, awayMs: 1 }, { atMs: 1, awayMs: 1 }] }, [], new Set(['c-1']), 2);
    expect(history).toEqual({});
  });

  it('property: a pod loops exactly when it has two or more full syncs within the window', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 120_000 }), fc.constantFrom('c-1', 'c-2'), fc.boolean()), { maxLength: 30 }), (events) => {
        const live = new Set(['c-1', 'c-2']);
        let now = 0;
        let history = {};
        const times: Record<string, number[]> = { 'c-1': [], 'c-2': [] };
        for (const [dt, pod, full] of events) {
          now += dt;
          history = recordFullSyncs(history, [{ pod, full, awayMs: 1000 }], live, now);
          if (full) times[pod]!.push(now);
          const looping = resyncLoops(history).map((l) => l.pod);
          for (const p of live) expect(looping.includes(p)).toBe(times[p]!.filter((t) => t > now - LOOP_WINDOW_MS).length >= 2);
        }
      }),
    );
  });
});
