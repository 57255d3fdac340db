// The backups phase through the fake: what a RedisBackup says before any byte is streamed (the
// streaming itself is test/integration/backup-stream.test.ts, against real servers).
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../src/api/backup.js';
import { World } from '../support/world.js';

const STORE = { endpoint: 'http://127.0.0.1:1', bucket: 'rro-backups', credentialsSecret: 's3' };

function backupOf(world: World, name = 'b1'): RedisBackup {
  return world.kube.backups.get(`ns/${name}`)!;
}

async function withBackup(spec: Record<string, unknown>, status?: RedisBackup['status']) {
  const { world, rr } = World.withResource({ replicas: 1, auth: { enabled: false }, ...spec });
  await world.settle(rr, () => world.ready(rr));
  world.kube.backups.set('ns/b1', {
    apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisBackup', metadata: { name: 'b1', namespace: 'ns' }, spec: { replication: 'cache' }, ...(status ? { status } : {}),
  });
  return { world, rr };
}

describe('RedisBackup', () => {
  it('waits, saying why, while the resource has no object store', async () => {
    const { world, rr } = await withBackup({});
    await world.passes(rr, 1);
    expect(backupOf(world).status).toMatchObject({ phase: 'Pending', reason: 'NoObjectStore' });
  });

  it('fails, naming the field, when the credentials Secret is missing; an Event says so', async () => {
    const { world, rr } = await withBackup({ backup: { objectStore: STORE } });
    await world.passes(rr, 1);
    expect(backupOf(world).status).toMatchObject({ phase: 'Failed', reason: 'SecretMissing', message: expect.stringContaining('spec.backup.objectStore.credentialsSecret') });
    expect(world.kube.events.some((e) => e.reason === 'BackupFailed' && e.type === 'Warning')).toBe(true);
  });

  it('found Running by an operator that did not start it (a restart cut it off) is Failed, not left Running', async () => {
    const { world, rr } = await withBackup({ backup: { objectStore: STORE } }, { phase: 'Running', sourcePod: 'cache-1' });
    world.restartOperator();
    await world.passes(rr, 1);
    expect(backupOf(world).status).toMatchObject({ phase: 'Failed', reason: 'Interrupted' });
  });

  it('an ended backup is left as it is', async () => {
    const { world, rr } = await withBackup({}, { phase: 'Completed', sha256: 'ab' });
    await world.passes(rr, 2);
    expect(backupOf(world).status).toEqual({ phase: 'Completed', sha256: 'ab' });
    expect(world.kube.writes.some((w) => w.includes('redisbackup'))).toBe(false);
  });
});
