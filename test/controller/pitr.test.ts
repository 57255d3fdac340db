// Point-in-time restore through the fake: the store holds a base backup of resource `src` (the
// writes 1..3 at offset 500) and its archive after it (one segment, 500-510, whose bytes are the
// writes 4..13: the model counts offsets in writes); the new resource's first pod is served the base
// and the archive up to the cut, and is made the primary only at the cut's offset. What cannot be
// restored is refused with a reason before any pod is made. (The bytes themselves, against real
// servers: test/integration/pitr.test.ts.)
import { describe, expect, it } from 'vitest';
import type { SegmentIndex } from '../../src/plan/archive.js';
import type { StoredBase } from '../../src/plan/pitr.js';
import { LABEL } from '../../src/plan/names.js';
import { World } from '../support/world.js';

const REPLID = 'b'.repeat(40);
const STORE = { endpoint: 'http://127.0.0.1:1', bucket: 'rro-backups', credentialsSecret: 's3' };
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A restore to `target` ms after the base's start (none: the latest point), an hour ago. */
function pitr(target: number | undefined, opts: { rdbVersion?: number; archive?: boolean } = {}) {
  const start = new World().nowMs - HOUR;
  const at = (ms: number) => start + ms;
  const targetTime = target === undefined ? undefined : iso(at(target));
  const { world, rr } = World.withResource({ replicas: 2, bootstrap: { recovery: { objectStore: STORE, resource: 'src', ...(targetTime ? { targetTime } : {}) } } });
  const base: StoredBase = {
    prefix: 'src/base/20261130T230000Z/',
    manifest: {
      engine: 'redis', engineVersion: '7.0.15', rdbVersion: opts.rdbVersion ?? 10, replid: REPLID, offset: 500, size: 1234, sha256: 'c'.repeat(64),
      startedAt: new Date(at(0)).toISOString(), completedAt: new Date(at(1000)).toISOString(), resource: 'src', sourcePod: 'src-1',
    },
  };
  const segment: SegmentIndex = { replid: REPLID, from: 500, to: 510, sha256: '', marks: [{ offset: 503, at: at(10_000) }, { offset: 507, at: at(20_000) }, { offset: 510, at: at(30_000) }] };
  world.objectStore.bases.set('rro-backups/src/base/', [base]);
  if (opts.archive !== false) {
    world.objectStore.archives.set('rro-backups/src/wal/', { segments: [segment], chain: [] });
    world.objectStore.segmentBytes.set(`rro-backups/src/wal/${REPLID}/00000000000000000500-00000000000000000510.seg`, Buffer.from([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
  }
  world.allowedSecret('s3', { accessKeyId: 'a', secretAccessKey: 'b' });
  return { world, rr, at };
}

const primaryLabelled = (world: World) => [...world.kube.pods.values()].filter((p) => p.metadata?.labels?.[LABEL.role] === 'primary').map((p) => p.metadata!.name);

describe('spec.bootstrap.recovery from a store, to a point in time', () => {
  it('loads the base and the archive up to the last mark at or before the target, makes that pod the primary only at the cut, then the replicas', async () => {
    const { world, rr, at } = pitr(25_000);
    await world.settle(rr, () => {
      const restore = world.status(rr)?.restore;
      if (restore?.phase !== 'Completed') {
        expect(world.kube.pods.size).toBeLessThanOrEqual(1);
        expect(primaryLabelled(world)).toEqual([]);
      }
      return world.ready(rr);
    }, 40);
    expect(world.rdbServer.jobs).toHaveLength(1);
    expect(world.rdbServer.jobs[0]).toMatchObject({ replid: REPLID, offset: 500, sha256: 'c'.repeat(64), size: 1234, stream: expect.any(Function) });
    expect(world.status(rr)!.restore).toMatchObject({
      phase: 'Completed', resource: 'src', base: '20261130T230000Z', targetTime: iso(at(25_000)), cutTime: iso(at(20_000)), cutOffset: 507, replayedBytes: 7, keys: 10,
      message: expect.stringMatching(/^10 keys from src's base backup 20261130T230000Z and 7 archived bytes up to .* loaded into cache-0, the primary$/),
    });
    // Every pod holds the base and the writes archived up to the cut (offset 507: writes 4..10), none after.
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(world.kube.events.some((e) => e.reason === 'Restored')).toBe(true);
    // The store was read once.
    expect(world.objectStore.reads).toBe(1);
  });

  it('without targetTime: the latest point archived', async () => {
    const { world, rr, at } = pitr(undefined);
    await world.settle(rr, () => world.ready(rr), 40);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Completed', cutTime: iso(at(30_000)), cutOffset: 510, replayedBytes: 10 });
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('an operator restarted in the middle reads the store and serves the base and the archive again; the pod ends at the cut, once', async () => {
    const { world, rr } = pitr(25_000);
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Running');
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr), 40);
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses a target before the base\'s point with a reason, a condition and an Event, and makes no pod', async () => {
    const { world, rr } = pitr(-HOUR);
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)).toMatchObject({ phase: 'Failed', restore: { reason: 'TargetBeforeBase', resource: 'src' } });
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RestoreFailed', message: expect.stringContaining('before the point of every base backup') });
    expect(world.kube.events.some((e) => e.reason === 'RestoreFailed' && e.type === 'Warning')).toBe(true);
    await world.passes(rr, 3);
    expect(world.kube.pods.size).toBe(0);
    expect(world.rdbServer.jobs).toEqual([]);
    expect(world.objectStore.reads).toBe(1);
  });

  it('waits while a recent target is past the archive, and goes on once the archive reaches it', async () => {
    const { world, rr, at } = pitr(25_000, { archive: false });
    world.advance(-HOUR + 60_000);
    await world.passes(rr, 3);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Pending', reason: 'ArchiveBehind' });
    expect(world.kube.pods.size).toBe(0);
    world.objectStore.archives.set('rro-backups/src/wal/', { segments: [{ replid: REPLID, from: 500, to: 510, sha256: '', marks: [{ offset: 507, at: at(20_000) }, { offset: 510, at: at(30_000) }] }], chain: [] });
    world.objectStore.segmentBytes.set(`rro-backups/src/wal/${REPLID}/00000000000000000500-00000000000000000510.seg`, Buffer.from([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
    await world.settle(rr, () => world.ready(rr), 60, 5000);
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('an archive that never reached the target fails the restore', async () => {
    const { world, rr } = pitr(25_000, { archive: false });
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'ArchiveBehind', message: expect.stringContaining('the archive holds nothing after the base') });
  });

  it('checks the RDB version against the image before any pod loads anything', async () => {
    const { world, rr } = pitr(25_000, { rdbVersion: 12 });
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'RdbVersionUnsupported', message: expect.stringMatching(/cannot load RDB version 12/) });
    expect(world.rdbServer.jobs).toEqual([]);
  });

  it('a stored segment that is not the one its index describes fails the restore: no pod is made primary', async () => {
    const { world, rr } = pitr(25_000);
    world.objectStore.segmentBytes.set(`rro-backups/src/wal/${REPLID}/00000000000000000500-00000000000000000510.seg`, Buffer.from([4, 5]));
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'ArchiveCorrupt' });
    await world.passes(rr, 3);
    expect(world.status(rr)!.primary).toBeUndefined();
    expect(primaryLabelled(world)).toEqual([]);
  });

  it('reads the store with the keys of the recovery\'s Secret in this namespace; a store that refuses fails until it answers', async () => {
    const { world, rr } = pitr(25_000);
    world.objectStore.refusal = 'InvalidAccessKeyId';
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'ObjectStoreError', message: expect.stringContaining('InvalidAccessKeyId') });
    expect(world.objectStore.credentials).toEqual({ accessKeyId: 'a', secretAccessKey: 'b' });
    world.objectStore.refusal = undefined;
    await world.settle(rr, () => world.ready(rr), 40);
  });
});
