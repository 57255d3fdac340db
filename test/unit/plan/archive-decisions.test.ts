// The archive phase's pure decisions (plan/archive.ts): which base, where to resume, which pod to
// follow, how often to ACK, which base the archive has passed, and which segments retention removes.
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../../src/api/backup.js';
import type { NodeStatus } from '../../../src/api/schema.js';
import {
  archiveAckIntervalMs, archiveBase, archiveRetryMs, archiveSource, baseBackupName, coveredBase, indexKey, oldestKeptBase, prunableKeys, resumeFrom, segmentKey,
  type SegmentIndex,
} from '../../../src/plan/archive.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);
const STORE = { endpoint: 'http://s3:8333', bucket: 'bk', path: 'p/' };
const ROOT = 'p/cache/wal/';

function backup(name: string, startedAt: string, status: Partial<NonNullable<RedisBackup['status']>> = {}): RedisBackup {
  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+/, '');
  return {
    apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name, namespace: 'ns' }, spec: { replication: 'cache' },
    status: { phase: 'Completed', startedAt, endpoint: STORE.endpoint, bucket: STORE.bucket, key: `p/cache/base/${stamp}/dump.rdb`, replid: R1, offset: 100, ...status },
  };
}

const node = (name: string, role: 'primary' | 'replica', more: Partial<NodeStatus> = {}): NodeStatus => ({ name, role, tier: role === 'primary' ? 0 : 1, podIP: `10.0.0.${name.slice(-1)}`, offset: 1000, read: false, ...(role === 'replica' ? { link: 'up' } : {}), ...more });

describe('archiveBase', () => {
  it('is the newest Completed backup of this store with a replication position', () => {
    const backups = [
      backup('old', '2026-12-01T03:00:00Z'),
      backup('new', '2026-12-02T03:00:00Z'),
      backup('failed', '2026-12-03T03:00:00Z', { phase: 'Failed' }),
      backup('elsewhere', '2026-12-04T03:00:00Z', { bucket: 'other' }),
      backup('running', '2026-12-05T03:00:00Z', { phase: 'Running' }),
    ];
    expect(archiveBase(backups, STORE, 'cache')?.metadata.name).toBe('new');
  });

  it('after a +FULLRESYNC, none taken before it: they would leave the same gap', () => {
    const backups = [backup('b1', '2026-12-01T03:00:00Z')];
    expect(archiveBase(backups, STORE, 'cache', Date.parse('2026-12-01T04:00:00Z'))).toBeUndefined();
    expect(archiveBase([...backups, backup('b2', '2026-12-01T04:00:01Z')], STORE, 'cache', Date.parse('2026-12-01T04:00:00Z'))?.metadata.name).toBe('b2');
  });
});

it('baseBackupName is a Kubernetes name that sorts as time does', () => {
  expect(baseBackupName('cache', Date.parse('2026-12-04T10:15:07.123Z'))).toBe('cache-base-20261204101507');
});

describe('resumeFrom', () => {
  const seg = (replid: string, from: number, to: number, at: number): SegmentIndex => ({ replid, from, to, sha256: '', marks: [{ offset: to, at }] });

  it('goes on from the end of the archive that continues the base, across a failover, not from the base again', () => {
    const archive = { chain: [{ previous: R1, replid: R2, offset: 200, at: 0 }], segments: [seg(R1, 100, 200, 5), seg(R2, 200, 260, 9), seg(R2, 300, 400, 20)] };
    expect(resumeFrom({ replid: R1, offset: 100 }, archive)).toEqual({ replid: R2, offset: 260, at: 9 });
  });

  it('is the base itself when nothing was archived after it', () => {
    expect(resumeFrom({ replid: R1, offset: 100 }, { chain: [], segments: [seg(R1, 0, 50, 1)] })).toEqual({ replid: R1, offset: 100, at: undefined });
  });
});

describe('archiveSource', () => {
  it('prefers a linked replica, the most up to date, and keeps the current one while it stays linked', () => {
    const nodes = [node('cache-0', 'primary'), node('cache-1', 'replica', { offset: 900 }), node('cache-2', 'replica', { offset: 950 })];
    expect(archiveSource(nodes, undefined, false)).toMatchObject({ pod: { name: 'cache-2' } });
    expect(archiveSource(nodes, 'cache-1', false)).toMatchObject({ pod: { name: 'cache-1' } });
    expect(archiveSource(nodes, 'cache-0', false)).toMatchObject({ pod: { name: 'cache-2' } });
  });

  it('leaves a replica whose link is down', () => {
    const nodes = [node('cache-0', 'primary'), node('cache-1', 'replica', { link: 'down' }), node('cache-2', 'replica')];
    expect(archiveSource(nodes, 'cache-1', false)).toMatchObject({ pod: { name: 'cache-2' } });
  });

  it('the primary only without a linked replica, and never under a write quorum (its ACKs would count)', () => {
    const nodes = [node('cache-0', 'primary'), node('cache-1', 'replica', { link: 'syncing' })];
    expect(archiveSource(nodes, undefined, false)).toMatchObject({ pod: { name: 'cache-0' } });
    expect(archiveSource(nodes, undefined, true)).toMatchObject({ reason: 'NoSource', message: expect.stringContaining('writeQuorum') });
    expect(archiveSource([node('cache-0', 'primary', { podIP: undefined })], undefined, false)).toMatchObject({ reason: 'NoSource' });
  });
});

describe('archiveAckIntervalMs', () => {
  it('three quarters of repl-timeout: Redis\'s 60 s, or the spec\'s', () => {
    expect(archiveAckIntervalMs({})).toBe(45_000);
    expect(archiveAckIntervalMs({ 'repl-timeout': '20' })).toBe(15_000);
    expect(archiveAckIntervalMs({ 'repl-timeout': 'soon' })).toBe(45_000);
  });
});

it('archiveRetryMs doubles from 10 s up to 10 minutes', () => {
  expect([1, 2, 3, 10, 50].map(archiveRetryMs)).toEqual([10_000, 20_000, 40_000, 600_000, 600_000]);
});

describe('coveredBase', () => {
  const live = { base: 'b1', from: { replid: R1, offset: 100 }, replids: new Set([R1, R2]), stored: { replid: R2, offset: 500 } };

  it('moves to a newer base the archive passed, on a replid it was on', () => {
    const backups = [backup('b1', '2026-12-01T03:00:00Z'), backup('b2', '2026-12-02T03:00:00Z', { replid: R2, offset: 400 })];
    expect(coveredBase(backups, STORE, 'cache', live)).toBe('b2');
  });

  it('stays on its base for one the archive has not reached, or of another history', () => {
    const ahead = [backup('b1', '2026-12-01T03:00:00Z'), backup('b2', '2026-12-02T03:00:00Z', { replid: R2, offset: 600 })];
    expect(coveredBase(ahead, STORE, 'cache', live)).toBe('b1');
    const other = [backup('b1', '2026-12-01T03:00:00Z'), backup('b2', '2026-12-02T03:00:00Z', { replid: 'c'.repeat(40), offset: 300 })];
    expect(coveredBase(other, STORE, 'cache', live)).toBe('b1');
  });
});

describe('WAL retention', () => {
  const seg = (from: number, to: number, lastAt: string): SegmentIndex => ({ replid: R1, from, to, sha256: '', marks: [{ offset: to, at: Date.parse(lastAt) }] });

  it('oldestKeptBase: the start of the oldest kept Completed base of this store', () => {
    const kept = [backup('b2', '2026-12-02T03:00:00Z'), backup('b3', '2026-12-03T03:00:00Z'), backup('f', '2026-12-01T03:00:00Z', { phase: 'Failed' })];
    expect(oldestKeptBase(kept, STORE, 'cache')).toBe(Date.parse('2026-12-02T03:00:00Z'));
    expect(oldestKeptBase([], STORE, 'cache')).toBeUndefined();
  });

  it('removes the segments received before the oldest kept base (with a margin for clocks), index first', () => {
    const segments = [seg(200, 300, '2026-12-02T02:00:00Z'), seg(100, 200, '2026-12-01T12:00:00Z'), seg(300, 400, '2026-12-02T02:55:00Z'), seg(400, 500, '2026-12-02T04:00:00Z')];
    const key = (from: number, to: number) => segmentKey(ROOT, R1, from, to);
    expect(prunableKeys(ROOT, segments, Date.parse('2026-12-02T03:00:00Z'))).toEqual([indexKey(key(100, 200)), key(100, 200), indexKey(key(200, 300)), key(200, 300)]);
  });
});
