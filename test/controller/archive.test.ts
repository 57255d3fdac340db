// The archive phase through the fake (spec.backup.archive), with fake archivers (test/support/
// fake-archives.ts): where an archive starts, which pod it follows and when it moves, what its ends
// lead to, and what status.archive and retention make of it. The archiver itself is
// test/integration/archive.test.ts, against real servers and a real object store.
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../src/api/backup.js';
import type { RedisReplication } from '../../src/api/schema.js';
import { BACKUP_USER } from '../../src/plan/acl.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { segmentKey, type SegmentIndex } from '../../src/plan/archive.js';
import { World } from '../support/world.js';

const STORE = { endpoint: 'http://s3.test:8333', bucket: 'rro-backups', path: 'p', credentialsSecret: 's3' };
const ROOT = 'p/cache/wal/';
const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

/** Lets the background work of a pass (reading the archive, an archiver's end) run. */
const flush = () => new Promise((r) => setImmediate(r));

async function archiving(spec: Record<string, unknown> = {}, backup: Record<string, unknown> = {}) {
  const { world, rr } = World.withResource({ replicas: 2, ...spec });
  await world.settle(rr, () => world.ready(rr));
  world.allowedSecret('s3', { accessKeyId: 'k', secretAccessKey: 's' });
  respec(world, { backup: { objectStore: STORE, archive: true, ...backup } });
  return { world, rr };
}

/** The resource `cache` with these fields of its spec changed. */
function respec(world: World, fields: Record<string, unknown>): void {
  const rr = world.kube.resource('ns', 'cache');
  world.kube.apply({ ...rr, spec: { ...(rr.spec as Record<string, unknown>), ...fields } as RedisReplication['spec'] });
}

/** A Completed base backup of `cache` in STORE, taken at `startedAt`. */
function completed(world: World, name: string, startedAt: string, replid = R1, offset = 100): void {
  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+/, '');
  world.kube.backups.set(`ns/${name}`, {
    apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name, namespace: 'ns', creationTimestamp: startedAt }, spec: { replication: 'cache' },
    status: { phase: 'Completed', startedAt, completedAt: startedAt, endpoint: STORE.endpoint, bucket: STORE.bucket, key: `p/cache/base/${stamp}/dump.rdb`, replid, offset, size: 1, sha256: 'ab' },
  });
}

/** An archiving resource with one base, b1, and its archiver started. */
async function archived(spec: Record<string, unknown> = {}) {
  const { world, rr } = await archiving(spec);
  completed(world, 'b1', '2026-11-30T03:00:00Z');
  await world.passes(rr, 1);
  await flush();
  return { world, rr, archiver: world.archives.live! };
}

const seg = (replid: string, from: number, to: number, at: number): SegmentIndex => ({ replid, from, to, sha256: '', marks: [{ offset: to, at }] });
const iso = (ms: number) => new Date(ms).toISOString();
const backupNames = (world: World) => [...world.kube.backups.values()].map((b: RedisBackup) => b.metadata.name).sort();
const ipOf = (world: World, pod: string) => world.kube.pods.get(`ns/${pod}`)!.status!.podIP!;

describe('spec.backup.archive', () => {
  it('a deleted resource: its archiver is stopped, its memory dropped, nothing written; one an operator never knew is forgotten too', async () => {
    const { world, rr, archiver } = await archived();
    const before = world.kube.writes.length;
    world.kube.resource('ns', 'cache').metadata.deletionTimestamp = new Date(world.nowMs).toISOString();
    expect(await world.reconcile(rr)).toBeUndefined();
    expect(archiver.stopped).toBe(true);
    expect(world.deps.memory.has('ns/cache')).toBe(false);
    expect(world.kube.writes.slice(before)).toEqual([]);
    world.kube.resources.delete('ns/cache');
    world.restartOperator();
    expect(await world.reconcile(rr)).toBeUndefined();
    await flush();
    expect(world.deps.memory.has('ns/cache')).toBe(false);
  });

  it('starts from the newest Completed base, from where its archive already ends, following a replica as the backup user', async () => {
    const { world, rr } = await archiving();
    completed(world, 'b1', '2026-11-30T03:00:00Z', R1, 50);
    completed(world, 'b2', '2026-11-30T04:00:00Z', R1, 100);
    world.archives.listing = { chain: [{ previous: R1, replid: R2, offset: 150, at: 0 }], segments: [seg(R1, 100, 150, world.nowMs - 5000), seg(R2, 150, 180, world.nowMs - 2000)] };
    await world.passes(rr, 1);
    await flush();
    const archiver = world.archives.live!;
    expect(archiver.from).toEqual({ replid: R2, offset: 180 });
    expect(archiver.root).toBe(ROOT);
    expect(archiver.ackIntervalMs).toBe(45_000);
    const source = world.status(rr)!.nodes!.find((n) => n.podIP === archiver.targets[0]!.host)!;
    expect(source.role).toBe('replica');
    expect(archiver.targets[0]).toMatchObject({ username: BACKUP_USER, password: expect.any(String) });

    // Measurements alone are written every 5 minutes (as the replicas' lag).
    world.advance(300_000);
    archiver.stored = { replid: R2, offset: 300 };
    archiver.storedAt = world.nowMs - 3000;
    await world.passes(rr, 1);
    const primaryOffset = world.status(rr)!.nodes!.find((n) => n.role === 'primary')!.offset!;
    expect(world.status(rr)!.archive).toEqual({
      base: 'b2', replid: R2, lastArchivedOffset: 300, lastArchivedTime: iso(archiver.storedAt), sourcePod: source.name,
      lagBytes: Math.max(0, primaryOffset - 300), lagSeconds: 3,
    });
    expect(await world.deps.metrics.registry.metrics()).toContain('rro_archive_lag_seconds{namespace="ns",resource="cache"} 3');
    // One archiver per resource: later passes start none.
    await world.passes(rr, 3);
    expect(world.archives.started).toHaveLength(1);
  });

  it('an operator that restarts goes on from the archive\'s end, not from the base again', async () => {
    const { world, rr, archiver } = await archived();
    expect(archiver.from).toEqual({ replid: R1, offset: 100 });
    world.archives.listing = { chain: [], segments: [seg(R1, 100, 400, world.nowMs)] };
    world.restartOperator();
    await world.passes(rr, 1);
    await flush();
    expect(world.archives.started).toHaveLength(2);
    expect(world.archives.live!.from).toEqual({ replid: R1, offset: 400 });
  });

  it('follows the pod that stays a linked replica: a switchover to its source moves it to another replica', async () => {
    const { world, rr, archiver } = await archived();
    const source = world.status(rr)!.archive!.sourcePod!;
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: source } } });
    await world.settle(rr, () => world.status(rr)!.primary === source && world.ready(rr));
    await world.passes(rr, 1);
    const now = world.status(rr)!.archive!.sourcePod!;
    expect(now).not.toBe(source);
    expect(world.status(rr)!.nodes!.find((n) => n.name === now)).toMatchObject({ role: 'replica', link: 'up' });
    expect(archiver.targets.at(-1)!.host).toBe(ipOf(world, now));
    expect(world.archives.started).toHaveLength(1);
  });

  it('with one replica: a failover that promotes its source leaves it there (the primary, alone), then moves it to the new replica once linked', async () => {
    const { world, rr, archiver } = await archived({ replicas: 1 });
    const old = world.status(rr)!.primary!;
    const source = world.status(rr)!.archive!.sourcePod!;
    world.kube.serverOf('ns', old)!.unreachable = true;
    await world.settle(rr, () => world.status(rr)!.primary === source && world.ready(rr));
    await world.passes(rr, 1);
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!;
    expect(archiver.targets.map((t) => t.host)).toEqual([ipOf(world, source), replica.podIP]);
    expect(world.status(rr)!.archive!.sourcePod).toBe(replica.name);
  });

  it('under a write quorum it never follows the primary: it waits for a linked replica', async () => {
    const { world, rr } = await archiving({ replicas: 1, writeQuorum: { minReplicas: 1 } });
    completed(world, 'b1', '2026-11-30T03:00:00Z');
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!;
    world.kube.serverOf('ns', replica.name)!.unreachable = true;
    await world.passes(rr, 2);
    await flush();
    expect(world.archives.started).toHaveLength(0);
    expect(world.status(rr)!.archive?.lastError).toMatch(/writeQuorum/);
  });

  it('with no Completed backup, creates a base RedisBackup and waits; one that failed is tried again after a back-off', async () => {
    const { world, rr } = await archiving();
    world.kube.secrets.delete('ns/s3');
    await world.passes(rr, 1);
    const [base] = backupNames(world);
    expect(base).toBe(`cache-base-${iso(world.nowMs - 1000).slice(0, 19).replace(/[-T:]/g, '')}`);
    expect(world.kube.events.some((e) => e.reason === 'ArchiveBaseCreated')).toBe(true);
    // The backups phase took it up in the same pass: no credentials, Failed.
    expect(world.kube.backups.get(`ns/${base}`)!.status).toMatchObject({ phase: 'Failed', reason: 'SecretMissing' });
    await world.passes(rr, 5);
    expect(world.status(rr)!.archive!.lastError).toMatch(new RegExp(`^base backup ${base} failed: SecretMissing`));
    expect(world.kube.events.filter((e) => e.reason === 'ArchiveFailed')).toHaveLength(1);
    expect(backupNames(world)).toHaveLength(1);
    await world.passes(rr, 10);
    expect(backupNames(world)).toHaveLength(2);
    expect(world.archives.started).toHaveLength(0);
  });

  it('waits for a backup that has not ended rather than creating another', async () => {
    const { world, rr } = await archiving();
    world.kube.backups.set('ns/manual', { apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name: 'manual', namespace: 'ns' }, spec: { replication: 'cache' }, status: { phase: 'Running' } });
    world.deps.memory.get('ns/cache')!.backupsRunning = new Set(['manual']);
    await world.passes(rr, 3);
    expect(backupNames(world)).toEqual(['manual']);
    expect(world.status(rr)!.archive!.lastError).toBe('waiting for RedisBackup manual: the archive starts from it');
  });

  it('+FULLRESYNC (needs-base): takes a new base, and starts a new archiver from it, not from the old one', async () => {
    const { world, rr, archiver } = await archived();
    archiver.end({ reason: 'needs-base', stored: { replid: R1, offset: 500 }, message: 'cache-1 no longer has it' });
    await flush();
    await world.passes(rr, 1);
    expect(world.kube.events.some((e) => e.reason === 'ArchiveNeedsBase')).toBe(true);
    const created = backupNames(world).find((n) => n.startsWith('cache-base-'))!;
    expect(created).toBeDefined();
    expect(world.archives.started).toHaveLength(1);
    // The new base completes (the backups phase would record this).
    world.kube.backups.delete(`ns/${created}`);
    completed(world, created, iso(world.nowMs), R1, 900);
    await world.passes(rr, 1);
    await flush();
    expect(world.archives.started).toHaveLength(2);
    expect(world.archives.live!.from).toEqual({ replid: R1, offset: 900 });
    await world.passes(rr, 1);
    expect(world.status(rr)!.archive!.base).toBe(created);
  });

  it('a failed archiver is recorded and tried again after a back-off', async () => {
    const { world, rr, archiver } = await archived();
    archiver.end({ reason: 'failed', stored: { replid: R1, offset: 100 }, error: new Error('AccessDenied') });
    await flush();
    await world.passes(rr, 5);
    expect(world.archives.started).toHaveLength(1);
    expect(world.status(rr)!.archive!.lastError).toMatch(/AccessDenied/);
    await world.passes(rr, 6);
    await flush();
    expect(world.archives.started).toHaveLength(2);
  });

  it('turned off: the archiver stops (storing what it received) and status.archive goes', async () => {
    const { world, rr, archiver } = await archived();
    await world.passes(rr, 1);
    expect(world.status(rr)!.archive).toBeDefined();
    respec(world, { backup: { objectStore: STORE } });
    await world.passes(rr, 1);
    expect(archiver.stopped).toBe(true);
    expect(world.status(rr)!.archive).toBeUndefined();
  });

  it('retention keeps the base the live archive continues from, and deletes the segments older than the oldest kept base', async () => {
    const { world, rr } = await archiving({}, { retention: 1 });
    completed(world, 'b1', '2026-11-28T03:00:00Z', R1, 100);
    const old = Date.parse('2026-11-27T03:00:00Z');
    world.archives.listing = { chain: [], segments: [seg(R1, 50, 100, old), seg(R1, 100, 200, Date.parse('2026-11-28T05:00:00Z'))] };
    await world.passes(rr, 1);
    await flush();
    // A newer backup the archive has not reached: retention 1 keeps only it, but for the live base.
    completed(world, 'b2', '2026-11-30T03:00:00Z', R1, 10_000);
    await world.passes(rr, 3);
    await flush();
    expect(backupNames(world)).toEqual(['b1', 'b2']);
    expect(world.archives.deleted).toEqual([segmentKey(ROOT, R1, 50, 100).replace(/\.seg$/, '.json'), segmentKey(ROOT, R1, 50, 100)]);
  });
});
