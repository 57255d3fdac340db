// Restore through the fake: a resource made from a backup keeps its first pod alone, with no role
// label and no client, until that pod holds the backup (served by the operator as its primary:
// support/fake-rdb-server.ts); then it becomes the primary and replicas sync from it. What cannot be
// restored is refused before any pod loads anything. (The transfer itself is
// test/integration/backup-stream.test.ts, against a real server.)
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../src/api/backup.js';
import { LABEL } from '../../src/plan/names.js';
import { World } from '../support/world.js';

const REPLID = 'b'.repeat(40);
const COMPLETED: RedisBackup['status'] = {
  phase: 'Completed', endpoint: 'http://127.0.0.1:1', bucket: 'rro-backups', region: 'us-east-1', credentialsSecret: 's3', key: 'src/base/x/dump.rdb',
  replid: REPLID, offset: 500, size: 1234, sha256: 'c'.repeat(64), rdbVersion: 10, engine: 'redis', engineVersion: '7.0.15',
};

function restored(status: RedisBackup['status'] = COMPLETED, spec: Record<string, unknown> = {}) {
  const { world, rr } = World.withResource({ replicas: 2, bootstrap: { recovery: { backup: 'b1' } }, ...spec });
  world.kube.backups.set('ns/b1', {
    apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name: 'b1', namespace: 'ns' }, spec: { replication: 'src' }, ...(status ? { status } : {}),
  });
  world.allowedSecret('s3', { accessKeyId: 'a', secretAccessKey: 'b' });
  return { world, rr };
}

/** Pods the primary Service selects. */
const primaryLabelled = (world: World) => [...world.kube.pods.values()].filter((p) => p.metadata?.labels?.[LABEL.role] === 'primary').map((p) => p.metadata!.name);

describe('spec.bootstrap.recovery', () => {
  it('loads the backup into the first pod alone, then makes it the primary, and only then the replicas, which hold the backup too', async () => {
    const { world, rr } = restored();
    let sawLoading = false;
    await world.settle(rr, () => {
      const restore = world.status(rr)?.restore;
      if (restore?.phase !== 'Completed') {
        // Until the backup is in: one pod, no role label (no Service sends it a client), not Ready.
        expect(world.kube.pods.size).toBeLessThanOrEqual(1);
        expect(primaryLabelled(world)).toEqual([]);
        expect(world.status(rr)?.phase).not.toBe('Ready');
        sawLoading ||= restore?.phase === 'Running';
      }
      return world.ready(rr);
    }, 40);
    expect(sawLoading).toBe(true);
    expect(world.rdbServer.jobs).toHaveLength(1);
    expect(world.rdbServer.jobs[0]).toMatchObject({ replid: REPLID, offset: 500, sha256: COMPLETED!.sha256, size: 1234 });
    const status = world.status(rr)!;
    expect(status.restore).toMatchObject({ backup: 'b1', phase: 'Completed', pod: 'cache-0', keys: 3 });
    expect(status.primary).toBe('cache-0');
    // Every pod holds exactly the backup's writes; the primary continues the backup's history.
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3]);
    expect(world.redis.servers.get(world.kube.pods.get('ns/cache-0')!.status!.podIP!)!.replId2).toBe(REPLID);
    expect(world.kube.events.some((e) => e.reason === 'Restored')).toBe(true);
  });

  it('an operator restarted in the middle serves the backup again; the pod ends with the backup, once', async () => {
    const { world, rr } = restored();
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Running');
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr), 40);
    expect(world.rdbServer.jobs.length).toBeGreaterThanOrEqual(1);
    for (const s of world.servers()) expect(s.log).toEqual([1, 2, 3]);
  });

  it('refuses an RDB the image cannot load, before any pod loads it, with a condition and an Event', async () => {
    const { world, rr } = restored({ ...COMPLETED, rdbVersion: 12 });
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)).toMatchObject({ phase: 'Failed', restore: { reason: 'RdbVersionUnsupported', message: expect.stringMatching(/redis 7\.0\.15 cannot load RDB version 12/) } });
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RestoreFailed' });
    expect(world.kube.events.some((e) => e.reason === 'RestoreFailed' && e.type === 'Warning')).toBe(true);
    expect(world.rdbServer.jobs).toEqual([]);
    expect(world.kube.pods.size).toBe(1);
  });

  it('a stored file that does not match its manifest fails the restore: no pod is made primary', async () => {
    const { world, rr } = restored();
    world.rdbServer.corrupt = true;
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'BackupCorrupt' });
    await world.passes(rr, 3);
    expect(world.status(rr)!.primary).toBeUndefined();
    expect(primaryLabelled(world)).toEqual([]);
  });

  it('waits while the backup is missing or not completed, and fails on a failed one', async () => {
    const { world, rr } = restored({ phase: 'Running' });
    await world.passes(rr, 2);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Pending', reason: 'BackupNotCompleted' });
    expect(world.kube.pods.size).toBe(0);
    world.kube.backups.get('ns/b1')!.status = { phase: 'Failed', reason: 'SyncFailed' };
    await world.passes(rr, 1);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Failed', reason: 'BackupFailed' });
    world.kube.backups.delete('ns/b1');
    await world.passes(rr, 1);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Pending', reason: 'BackupNotFound' });
  });

  it('waits for the password its pod starts with: no pod before the auth Secret exists', async () => {
    const { world, rr } = restored(COMPLETED, { auth: { secretName: 'cache-auth' } });
    await world.passes(rr, 3);
    expect(world.status(rr)?.restore).toMatchObject({ phase: 'Pending', reason: 'Preparing' });
    expect(world.kube.pods.size).toBe(0);
    world.allowedSecret('cache-auth', { password: 'p4ssw0rd-p4ssw0rd' });
    await world.settle(rr, () => world.kube.pods.size > 0);
  });

  it('an operator with no restore address says so instead of waiting for ever', async () => {
    const { world, rr } = restored();
    world.rdbServer.unaddressed = true;
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'NoRestoreAddress' });
  });
});

describe('the keys of the backup\'s object store', () => {
  it('come from the resource\'s own spec.backup.objectStore Secret when it has one, else the backup\'s; one it may not use fails, naming it', async () => {
    const { world, rr } = restored(COMPLETED, { backup: { objectStore: { endpoint: 'http://127.0.0.1:1', bucket: 'rro-backups', credentialsSecret: 'mine' } } });
    world.kube.setSecret('ns', 'mine', { accessKeyId: 'a', secretAccessKey: 'b' }, {});
    await world.settle(rr, () => world.status(rr)?.restore?.phase === 'Failed');
    expect(world.status(rr)!.restore).toMatchObject({ reason: 'SecretNotAllowed', message: expect.stringContaining('Secret mine') });
    world.kube.secrets.delete('ns/mine');
    world.allowedSecret('mine', { accessKeyId: 'a', secretAccessKey: 'b' });
    // Read again once the operator's cached copy expires (PASSWORD_TTL_MS).
    await world.settle(rr, () => world.ready(rr), 120);
    expect(world.status(rr)!.restore).toMatchObject({ phase: 'Completed' });
  });
});
