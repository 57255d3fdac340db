import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildBackupCrd, renderBackupCrd } from '../../../src/api/crd.js';
import { parseSpec } from '../../../src/api/schema.js';
import { backupSpecSchema } from '../../../src/api/backup.js';

const store = { endpoint: 'http://198.18.0.1:8333', bucket: 'rro-backups', path: 'team/a', region: 'us-east-1', credentialsSecret: 's3' };

describe('crds/redisbackups.yaml', () => {
  it('is what buildBackupCrd() renders (run npm run crd:generate after changing src/api/backup.ts)', () => {
    const onDisk = readFileSync(new URL('../../../crds/redisbackups.yaml', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderBackupCrd());
  });

  it('names the kind as the contract does, with a status subresource', () => {
    const crd = buildBackupCrd() as any;
    expect(crd.metadata.name).toBe('redisbackups.redis.replication.dev');
    expect(crd.spec.names).toMatchObject({ kind: 'RedisBackup', plural: 'redisbackups' });
    expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    const status = crd.spec.versions[0].schema.openAPIV3Schema.properties.status.properties;
    expect(status.phase.enum).toEqual(['Pending', 'Running', 'Completed', 'Failed']);
    expect(status.sha256.type).toBe('string');
    expect(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.required).toEqual(['replication']);
  });
});

describe('spec.backup and spec.bootstrap', () => {
  it('takes an object store with the contract\'s fields', () => {
    const r = parseSpec({ backup: { objectStore: store } });
    expect(r.ok && r.spec.backup?.objectStore).toEqual(store);
  });

  it('defaults path and region', () => {
    const r = parseSpec({ backup: { objectStore: { endpoint: 'https://s3.example', bucket: 'b12', credentialsSecret: 's3' } } });
    expect(r.ok && r.spec.backup?.objectStore).toMatchObject({ path: '', region: 'us-east-1' });
  });

  it.each([
    [{ ...store, endpoint: 'ftp://x' }, 'backup.objectStore.endpoint'],
    [{ ...store, bucket: 'B' }, 'backup.objectStore.bucket'],
    [{ ...store, credentialsSecret: undefined }, 'backup.objectStore.credentialsSecret'],
    [{ ...store, path: 'a b' }, 'backup.objectStore.path'],
    [{ ...store, extra: 1 }, 'backup.objectStore'],
  ])('refuses %j naming %s', (objectStore, field) => {
    const r = parseSpec({ backup: { objectStore } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(field);
  });

  it('refuses a recovery without a backup name', () => {
    const r = parseSpec({ bootstrap: { recovery: {} } });
    expect(!r.ok && r.message).toContain('bootstrap.recovery.backup');
  });
});

describe('RedisBackup spec', () => {
  it('needs the name of a resource', () => {
    expect(backupSpecSchema.safeParse({ replication: 'cache' }).success).toBe(true);
    expect(backupSpecSchema.safeParse({}).success).toBe(false);
    expect(backupSpecSchema.safeParse({ replication: 'Not.A.Name' }).success).toBe(false);
  });
});
