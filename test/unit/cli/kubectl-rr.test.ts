import { describe, expect, it } from 'vitest';
import { backupName, parseCommand } from '../../../src/cli/kubectl-rr.js';
import { restorePlan, restoreProgress } from '../../../src/cli/restore.js';
import type { RedisReplication } from '../../../src/api/schema.js';

describe('kubectl rr arguments', () => {
  it('status, switchover and restart, with their options', () => {
    expect(parseCommand(['status', 'cache', '-n', 'ops', '--watch'])).toEqual({ command: 'status', name: 'cache', namespace: 'ops', watch: true, noColor: false });
    expect(parseCommand(['switchover', 'cache'])).toEqual({ command: 'switchover', name: 'cache', namespace: undefined, to: 'auto', timeoutSeconds: 60 });
    expect(parseCommand(['switchover', 'cache', '--to', 'cache-3', '--timeout', '30'])).toMatchObject({ to: 'cache-3', timeoutSeconds: 30 });
    expect(parseCommand(['restart', 'cache', '--no-wait'])).toEqual({ command: 'restart', name: 'cache', namespace: undefined, wait: false, timeoutSeconds: 900 });
  });

  it('backup NAME creates <NAME>-<UTC time> and waits unless --no-wait', () => {
    expect(parseCommand(['backup', 'cache', '-n', 'ops'])).toEqual({ command: 'backup', name: 'cache', namespace: 'ops', wait: true, timeoutSeconds: 900 });
    expect(parseCommand(['backup', 'cache', '--no-wait'])).toMatchObject({ command: 'backup', wait: false });
    expect(() => parseCommand(['backup', 'cache', '--to', 'x'])).toThrow(/--to does not apply/);
    expect(backupName('cache', new Date('2026-12-04T10:15:00.500Z'))).toBe('cache-20261204t101500z');
  });

  it('help with --help or nothing', () => {
    expect(parseCommand([])).toEqual({ command: 'help' });
    expect(parseCommand(['status', '--help'])).toEqual({ command: 'help' });
  });

  it('says clearly what is wrong', () => {
    expect(() => parseCommand(['promote', 'cache'])).toThrow(/unknown command "promote"/);
    expect(() => parseCommand(['status'])).toThrow(/name the RedisReplication/);
    expect(() => parseCommand(['status', 'a', 'b'])).toThrow(/one resource at a time/);
    expect(() => parseCommand(['status', 'cache', '--to', 'x'])).toThrow(/--to does not apply/);
    expect(() => parseCommand(['restart', 'cache', '--timeout', 'soon'])).toThrow(/seconds/);
    expect(() => parseCommand(['status', 'cache', '--bogus'])).toThrow(/unknown option --bogus/);
  });
});

describe('restore', () => {
  const backup = { apiVersion: 'v', kind: 'RedisBackup', metadata: { name: 'b1', namespace: 'ops' }, spec: { replication: 'cache' }, status: { phase: 'Completed' as const } };
  const source = {
    apiVersion: 'v', kind: 'RedisReplication', metadata: { name: 'cache', namespace: 'ops', uid: 'u' },
    spec: { image: 'redis:7.2', replicas: 2, tls: { enabled: true }, auth: { secretName: 'pw', users: [{ name: 'app', secretName: 'app-pw' }] }, backup: { objectStore: { credentialsSecret: 's3' } } },
  } as unknown as RedisReplication;

  it('parses NAME --from BACKUP; --from is required', () => {
    expect(parseCommand(['restore', 'new', '--from', 'b1', '-n', 'ops'])).toEqual({ command: 'restore', name: 'new', namespace: 'ops', from: 'b1', image: undefined, wait: true, timeoutSeconds: 900 });
    expect(() => parseCommand(['restore', 'new'])).toThrow(/--from names the RedisBackup/);
    expect(() => parseCommand(['backup', 'cache', '--from', 'b1'])).toThrow(/--from does not apply/);
  });

  it('copies the backed-up resource\'s spec, without TLS, names the Secrets to allow, and points bootstrap at the backup', () => {
    const plan = restorePlan('new', 'ops', { backup }, source, undefined);
    expect(plan.resource).toMatchObject({ metadata: { name: 'new', namespace: 'ops' }, spec: { image: 'redis:7.2', replicas: 2, bootstrap: { recovery: { backup: 'b1' } } } });
    expect(plan.resource.spec).not.toHaveProperty('tls');
    expect(plan.notes.join('\n')).toMatch(/TLS is off/);
    expect(plan.notes.join('\n')).toContain('kubectl label secret pw redis.replication.dev/allow=new --overwrite; kubectl label secret app-pw');
    expect(restorePlan('new', 'ops', { backup }, undefined, 'valkey/valkey:8.1')).toMatchObject({ resource: { spec: { image: 'valkey/valkey:8.1', bootstrap: { recovery: { backup: 'b1' } } } } });
  });

  it('parses NAME --from-resource SRC [--to-time T]: T in UTC; one source, and --to-time only with a resource', () => {
    expect(parseCommand(['restore', 'new', '--from-resource', 'cache', '--to-time', '2026-12-04T11:00:00+01:00'])).toEqual({
      command: 'restore', name: 'new', fromResource: 'cache', toTime: '2026-12-04T10:00:00.000Z', wait: true, timeoutSeconds: 900,
    });
    expect(parseCommand(['restore', 'new', '--from-resource', 'cache'])).toMatchObject({ fromResource: 'cache', toTime: undefined });
    expect(() => parseCommand(['restore', 'new', '--from', 'b1', '--from-resource', 'cache'])).toThrow(/not both/);
    expect(() => parseCommand(['restore', 'new', '--from', 'b1', '--to-time', '2026-12-04T10:00:00Z'])).toThrow(/--to-time goes with --from-resource/);
    expect(() => parseCommand(['restore', 'new', '--from-resource', 'cache', '--to-time', '2026-12-04T10:00:00'])).toThrow(/with its zone/);
    expect(() => parseCommand(['restore', 'new', '--from-resource', 'cache', '--to-time', 'yesterday'])).toThrow(/with its zone/);
  });

  it('from a resource\'s files: its store, the resource and the time in bootstrap.recovery; the store\'s Secret among those to allow', () => {
    const store = { endpoint: 'http://s3:8333', bucket: 'b', path: '', region: 'us-east-1', credentialsSecret: 's3' };
    const plan = restorePlan('new', 'ops', { store, resource: 'cache', targetTime: '2026-12-04T10:00:00.000Z' }, source, undefined);
    expect(plan.resource.spec).toMatchObject({ replicas: 2, bootstrap: { recovery: { objectStore: store, resource: 'cache', targetTime: '2026-12-04T10:00:00.000Z' } } });
    expect(plan.notes.join('\n').match(/kubectl label secret s3 /g)).toHaveLength(1);
    expect((restorePlan('new', 'ops', { store, resource: 'cache' }, source, undefined).resource.spec as { bootstrap: unknown }).bootstrap).toEqual({ recovery: { objectStore: store, resource: 'cache' } });
  });

  it('reports progress until Ready after the restore, or the failure', () => {
    expect(restoreProgress(undefined)).toEqual({ line: 'waiting for the operator' });
    const rr = (status: object) => ({ ...source, status } as unknown as RedisReplication);
    expect(restoreProgress(rr({ restore: { phase: 'Running', reason: 'Loading', message: 'x' } }))).toEqual({ line: 'Running: Loading: x' });
    expect(restoreProgress(rr({ restore: { phase: 'Failed', reason: 'RdbVersionUnsupported', message: 'too new' } }))).toMatchObject({ done: false });
    expect(restoreProgress(rr({ restore: { phase: 'Completed', keys: 3, pod: 'new-0' }, conditions: [{ type: 'Ready', status: 'False', reason: 'Scaling' }] })).done).toBeUndefined();
    expect(restoreProgress(rr({ restore: { phase: 'Completed', keys: 3, pod: 'new-0' }, ready: '2/2', conditions: [{ type: 'Ready', status: 'True' }] }))).toMatchObject({ done: true, line: expect.stringContaining('3 keys') });
    expect(restoreProgress(rr({ restore: { phase: 'Completed', keys: 3, pod: 'new-0', cutTime: '2026-12-04T09:59:59.500Z', replayedBytes: 120 }, ready: '2/2', conditions: [{ type: 'Ready', status: 'True' }] }))).toMatchObject({
      done: true, line: 'restored: 3 keys (up to 2026-12-04T09:59:59.500Z, 120 archived bytes replayed) into new-0, the primary; Ready with 2/2 replicas',
    });
  });
});
