// Scheduled backups and retention through the fake: which RedisBackups the schedule creates and when,
// what status.backup says, and what retention deletes, in the object store (a fake) and then in the API.
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../src/api/backup.js';
import { World } from '../support/world.js';

const STORE = { endpoint: 'http://s3.test:8333', bucket: 'rro-backups', credentialsSecret: 's3' };
const at = (iso: string) => Date.parse(iso);

async function resource(backup: Record<string, unknown>) {
  const { world, rr } = World.withResource({ replicas: 1, auth: { enabled: false }, backup: { objectStore: STORE, ...backup } });
  await world.settle(rr, () => world.ready(rr));
  return { world, rr };
}

const names = (world: World) => [...world.kube.backups.values()].map((b) => b.metadata.name).sort();
const creates = (world: World, name: string) => world.kube.writes.filter((w) => w === `create redisbackup/${name}`).length;

describe('spec.backup.schedule', () => {
  const daily = '0 3 * * *';

  it('waits for its first slot, then creates one RedisBackup named for it, which the backups phase takes up', async () => {
    const { world, rr } = await resource({ schedule: daily });
    expect(world.status(rr)?.backup).toEqual({ schedule: daily, nextScheduleTime: '2026-12-01T03:00:00Z' });
    expect(names(world)).toEqual([]);

    world.nowMs = at('2026-12-01T03:00:00Z');
    await world.passes(rr, 1);
    expect(names(world)).toEqual(['cache-202612010300']);
    expect(world.kube.backups.get('ns/cache-202612010300')!.spec).toEqual({ replication: 'cache' });
    expect(world.status(rr)?.backup).toEqual({ schedule: daily, lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-02T03:00:00Z' });

    await world.passes(rr, 3);
    expect(names(world)).toEqual(['cache-202612010300']);
    // Taken up like any RedisBackup (no credentials Secret here: it fails, saying so).
    expect(world.kube.backups.get('ns/cache-202612010300')!.status).toMatchObject({ phase: 'Failed', reason: 'SecretMissing' });
  });

  it('the pass asks to be looked at again when the next slot comes, if that is sooner than the resync', async () => {
    const { world, rr } = await resource({ schedule: daily });
    world.deps.healthIntervalMs = 600_000;
    world.nowMs = at('2026-12-01T02:59:30Z');
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 30_000 });
    world.nowMs = at('2026-12-01T02:00:00Z');
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 600_000 });
  });

  it('a slot that comes while the primary is in doubt is taken once it is settled again, not before', async () => {
    const { world, rr } = await resource({ schedule: daily });
    world.deps.healthIntervalMs = 600_000;
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    world.nowMs = at('2026-12-01T03:00:00Z');
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 200 });
    expect(names(world)).toEqual([]);
    world.kube.serverOf('ns', primary)!.unreachable = false;
    await world.passes(rr, 1);
    expect(names(world)).toEqual(['cache-202612010300']);
  });

  it('a second pass or operator working from the status before the slot was recorded creates no second backup', async () => {
    const { world, rr } = await resource({ schedule: daily });
    const waiting = world.status(rr)!.backup;
    world.nowMs = at('2026-12-01T03:00:10Z');
    await world.passes(rr, 1);
    // Another operator read the resource before that status write: it sees the slot still awaited.
    world.kube.resources.get('ns/cache')!.status!.backup = waiting;
    world.restartOperator();
    await world.passes(rr, 1);
    expect(creates(world, 'cache-202612010300')).toBe(2);
    expect(names(world)).toEqual(['cache-202612010300']);
    expect(world.status(rr)?.backup?.lastScheduleTime).toBe('2026-12-01T03:00:00Z');
  });

  it('after the operator was down for hours: one backup, for the latest slot, never one per missed slot', async () => {
    const { world, rr } = await resource({ schedule: '0 * * * *' });
    world.restartOperator();
    world.nowMs = at('2026-12-01T05:30:00Z');
    await world.passes(rr, 3);
    expect(names(world)).toEqual(['cache-202612010500']);
    expect(world.status(rr)?.backup).toMatchObject({ lastScheduleTime: '2026-12-01T05:00:00Z', nextScheduleTime: '2026-12-01T06:00:00Z' });
  });

  it('a slot that comes while a backup of the resource has not ended is skipped, with a Warning Event', async () => {
    const { world, rr } = await resource({ schedule: daily });
    world.kube.backups.set('ns/manual', {
      apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name: 'manual', namespace: 'ns' }, spec: { replication: 'cache' }, status: { phase: 'Running' },
    });
    // This operator streams it.
    world.deps.memory.get('ns/cache')!.backupsRunning = new Set(['manual']);
    world.nowMs = at('2026-12-01T03:00:05Z');
    await world.passes(rr, 2);
    expect(names(world)).toEqual(['manual']);
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'BackupSkipped', message: expect.stringContaining('RedisBackup manual has not ended') });
    expect(world.status(rr)?.backup).toEqual({ schedule: daily, nextScheduleTime: '2026-12-02T03:00:00Z' });
  });

  it('a schedule the API server let through but that never comes: no backup, a Warning Event, and the resource is still reconciled', async () => {
    const { world, rr } = await resource({ schedule: '0 0 30 2 *' });
    expect(world.ready(rr)).toBe(true);
    expect(world.status(rr)?.backup).toBeUndefined();
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'BackupScheduleInvalid', message: expect.stringContaining('spec.backup.schedule "0 0 30 2 *": Invalid explicit day of month definition') });
  });

  it('removed: nothing is awaited any more; when the last scheduled backup was taken stays', async () => {
    const { world, rr } = await resource({ schedule: daily });
    world.nowMs = at('2026-12-01T03:00:00Z');
    await world.passes(rr, 1);
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), spec: { replicas: 1, auth: { enabled: false }, backup: { objectStore: STORE } } });
    await world.passes(rr, 2);
    expect(world.status(rr)?.backup).toEqual({ lastScheduleTime: '2026-12-01T03:00:00Z' });
  });
});

describe('spec.backup.retention', () => {
  /** A backup of `cache` in STORE, and its files there. */
  function stored(world: World, name: string, startedAt: string, phase: 'Completed' | 'Failed' | 'Running' = 'Completed'): void {
    const prefix = `cache/base/${startedAt.replace(/[-:]/g, '')}/`;
    const backup: RedisBackup = {
      apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name, namespace: 'ns', creationTimestamp: startedAt }, spec: { replication: 'cache' },
      status: { phase, startedAt, endpoint: STORE.endpoint, bucket: STORE.bucket, key: `${prefix}dump.rdb` },
    };
    world.kube.backups.set(`ns/${name}`, backup);
    world.objectStore.storeBackup(STORE.bucket, prefix);
  }
  const filesOf = (world: World, startedAt: string) => [...world.objectStore.files].filter((f) => f.includes(startedAt.replace(/[-:]/g, ''))).length;
  /** Lets the background deletions of the last pass finish. */
  const flush = () => new Promise((r) => setImmediate(r));

  async function withBackups(retention: string | number) {
    const { world, rr } = await resource({ retention });
    world.allowedSecret('s3', { accessKeyId: 'AKTEST', secretAccessKey: 'sk-test' });
    stored(world, 'b1', '2026-11-01T03:00:00Z');
    stored(world, 'b2', '2026-11-02T03:00:00Z');
    stored(world, 'b3', '2026-11-03T03:00:00Z');
    stored(world, 'running', '2026-10-01T03:00:00Z', 'Running');
    world.deps.memory.get('ns/cache')!.backupsRunning = new Set(['running']);
    return { world, rr };
  }

  it('count: the older backups\' files are deleted first, with the keys of the Secret, then their RedisBackups; the newest and a Running one stay', async () => {
    const { world, rr } = await withBackups(1);
    await world.passes(rr, 1);
    await flush();
    expect(world.objectStore.deletedFolders).toEqual(['rro-backups/cache/base/20261101T030000Z/', 'rro-backups/cache/base/20261102T030000Z/']);
    expect(world.objectStore.credentials).toEqual({ accessKeyId: 'AKTEST', secretAccessKey: 'sk-test' });
    expect(names(world)).toEqual(['b1', 'b2', 'b3', 'running']);

    await world.passes(rr, 1);
    expect(names(world)).toEqual(['b3', 'running']);
    expect(filesOf(world, '2026-11-03T03:00:00Z')).toBe(2);
    expect(filesOf(world, '2026-10-01T03:00:00Z')).toBe(2);
    expect(world.kube.events.filter((e) => e.reason === 'BackupDeleted').map((e) => e.message)).toEqual([
      'RedisBackup b1 deleted: spec.backup.retention does not keep it',
      'RedisBackup b2 deleted: spec.backup.retention does not keep it',
    ]);
    await world.passes(rr, 2);
    expect(world.objectStore.deletedFolders).toHaveLength(2);
  });

  it('age: what was taken longer ago goes, Failed ones too; one that stored nothing goes without a call to the store', async () => {
    const { world, rr } = await withBackups('7d');
    world.nowMs = at('2026-11-09T12:00:00Z');
    // Cut off mid-upload: its parts may be left in the store.
    world.kube.backups.get('ns/b2')!.status!.phase = 'Failed';
    world.kube.backups.set('ns/never', {
      apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name: 'never', namespace: 'ns', creationTimestamp: '2026-11-01T00:00:00Z' }, spec: { replication: 'cache' },
      status: { phase: 'Failed', reason: 'SecretMissing' },
    });
    await world.passes(rr, 1);
    await flush();
    await world.passes(rr, 1);
    expect(names(world)).toEqual(['b3', 'running']);
    expect(world.objectStore.deletedFolders).toEqual(['rro-backups/cache/base/20261101T030000Z/', 'rro-backups/cache/base/20261102T030000Z/']);
  });

  it('a store that refuses: the RedisBackup stays, a Warning Event says why, and the deletion is tried again', async () => {
    const { world, rr } = await withBackups(2);
    world.objectStore.refusal = 'AccessDenied (HTTP 403)';
    await world.passes(rr, 1);
    await flush();
    await world.passes(rr, 1);
    expect(names(world)).toEqual(['b1', 'b2', 'b3', 'running']);
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'BackupRetentionFailed', message: expect.stringContaining('RedisBackup b1: its files could not be deleted, it is kept and tried again: AccessDenied (HTTP 403)') });

    world.objectStore.refusal = undefined;
    for (let i = 0; i < 3; i++) {
      await world.passes(rr, 1);
      await flush();
    }
    expect(names(world)).toEqual(['b2', 'b3', 'running']);
    expect(filesOf(world, '2026-11-01T03:00:00Z')).toBe(0);
  });

  it('a store that does not answer holds up no pass, and what is being deleted is not deleted twice', async () => {
    const { world, rr } = await withBackups(2);
    world.objectStore.hold();
    await world.passes(rr, 3);
    expect(names(world)).toEqual(['b1', 'b2', 'b3', 'running']);
    world.objectStore.release();
    await flush();
    await world.passes(rr, 1);
    expect(world.objectStore.deletedFolders).toEqual(['rro-backups/cache/base/20261101T030000Z/']);
    expect(names(world)).toEqual(['b2', 'b3', 'running']);
  });

  it('without usable keys nothing is deleted, and a Warning Event names the Secret', async () => {
    const { world, rr } = await withBackups(1);
    world.kube.secrets.delete('ns/s3');
    await world.passes(rr, 2);
    await flush();
    expect(names(world)).toEqual(['b1', 'b2', 'b3', 'running']);
    expect(world.objectStore.deletedFolders).toEqual([]);
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'BackupRetentionFailed', message: expect.stringContaining('spec.backup.objectStore.credentialsSecret') });
  });
});
