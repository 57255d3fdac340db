import { describe, expect, it } from 'vitest';
import { backupBeingRestored, canLoad, checkBackup, loaded } from '../../../src/plan/restore.js';
import type { ReplicationInfo } from '../../../src/redis/info.js';

describe('canLoad', () => {
  it.each([
    ['redis', '6.2.14', 9, true],
    ['redis', '6.2.14', 10, false],
    ['redis', '7.0.15', 10, true],
    ['redis', '7.0.15', 11, false],
    ['redis', '7.2.4', 11, true],
    ['redis', '7.4.1', 12, true],
    ['redis', '8.0.2', 12, true],
    ['redis', '8.0.2', 80, false],
    ['valkey', '8.1.1', 11, true],
    ['valkey', '8.1.1', 12, false],
    ['valkey', '9.0.0', 12, false],
    ['valkey', '9.0.0', 80, true],
    ['redis', '5.0.14', 9, false],
  ] as const)('%s %s, RDB %i: %s', (server, version, rdb, ok) => {
    expect(canLoad({ server, version }, rdb).ok).toBe(ok);
  });

  it('says which version it loads up to', () => {
    expect(canLoad({ server: 'redis', version: '7.0.15' }, 11)).toEqual({ ok: false, message: expect.stringMatching(/^redis 7\.0\.15 cannot load RDB version 11 \(it loads up to 10\)/) });
  });
});

describe('checkBackup', () => {
  it('waits for a missing or unfinished backup, fails on a failed or unrecorded one', () => {
    expect(checkBackup(undefined, 'b')).toMatchObject({ ok: false, wait: true, reason: 'BackupNotFound' });
    const of = (status: object) => ({ apiVersion: 'v', kind: 'RedisBackup', metadata: { name: 'b', namespace: 'ns' }, spec: { replication: 'r' }, status });
    expect(checkBackup(of({ phase: 'Running' }), 'b')).toMatchObject({ ok: false, wait: true, reason: 'BackupNotCompleted' });
    expect(checkBackup(of({ phase: 'Failed' }), 'b')).toMatchObject({ ok: false, wait: false, reason: 'BackupFailed' });
    expect(checkBackup(of({ phase: 'Completed', sha256: 'x' }), 'b')).toMatchObject({ ok: false, wait: false, reason: 'BackupIncomplete' });
  });
});

describe('backupBeingRestored', () => {
  it('names the backup of a resource not restored yet, whatever else its spec holds', () => {
    expect(backupBeingRestored({ spec: { bootstrap: { recovery: { backup: 'b1' } }, replicas: 'bad' } as never })).toBe('b1');
    expect(backupBeingRestored({ spec: { bootstrap: { recovery: { backup: 'b1' } } } as never, status: { restore: { phase: 'Completed' } } })).toBeUndefined();
    expect(backupBeingRestored({ spec: {} as never })).toBeUndefined();
  });
});

describe('loaded', () => {
  const replica = (over: Partial<Extract<ReplicationInfo, { role: 'replica' }>>): ReplicationInfo => ({
    role: 'replica', replId: 'r', replOffset: 10, connectedReplicas: 0, replicas: [], masterHost: 'h', masterPort: 6380, linkUp: true, syncInProgress: false,
    replicaOffset: 10, lastIoSecondsAgo: 0, readOnly: true, ...over,
  });
  it('only once linked, at the backup\'s replication ID and offset', () => {
    const source = { replid: 'r', offset: 10 };
    expect(loaded(replica({}), source)).toBe(true);
    expect(loaded(replica({ linkUp: false }), source)).toBe(false);
    expect(loaded(replica({ syncInProgress: true }), source)).toBe(false);
    expect(loaded(replica({ replId: 'other' }), source)).toBe(false);
    expect(loaded(replica({ replicaOffset: 9 }), source)).toBe(false);
    expect(loaded({ role: 'master', replId: 'r', replOffset: 10, connectedReplicas: 0, replicas: [] }, source)).toBe(false);
  });
});
