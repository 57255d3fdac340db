import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildBackupCrd, buildCrd, renderBackupCrd } from '../../../src/api/crd.js';
import { SCHEDULE } from '../../../src/plan/backup-schedule.js';
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

  it('refuses a recovery that names no source', () => {
    const r = parseSpec({ bootstrap: { recovery: {} } });
    expect(!r.ok && r.message).toContain('bootstrap.recovery.backup');
  });
});

describe('spec.backup.schedule and retention', () => {
  const backupSpec = (extra: Record<string, unknown>) => parseSpec({ backup: { objectStore: store, ...extra } });
  const field = (path: string) => ((buildCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.backup.properties as Record<string, any>)[path];

  it('takes a cron schedule and a count or an age, as written', () => {
    for (const retention of [5, '5', '12h', '7d']) {
      const r = backupSpec({ schedule: '0 3 * * *', retention });
      expect(r.ok && r.spec.backup).toMatchObject({ schedule: '0 3 * * *', retention });
    }
  });

  it.each([
    [{ schedule: '61 * * * *' }, /^spec\.backup\.schedule: must be a cron expression of 5 fields, in UTC: minute \(0-59\) hour \(0-23\)/],
    [{ schedule: '* * * *' }, /^spec\.backup\.schedule: must be a cron expression of 5 fields/],
    [{ schedule: 'H 3 * * *' }, /^spec\.backup\.schedule: must be a cron expression of 5 fields/],
    [{ schedule: '@daily' }, /^spec\.backup\.schedule: must be a cron expression/],
    [{ retention: 0 }, /^spec\.backup\.retention: must be how many/],
    [{ retention: 10_000 }, /^spec\.backup\.retention: must be how many/],
    [{ retention: 2.5 }, /^spec\.backup\.retention: must be how many/],
    [{ retention: '7w' }, /^spec\.backup\.retention: must be how many Completed backups to keep .* or how long to keep backups \(such as 12h or 7d\)/],
    [{ retention: '1.5d' }, /^spec\.backup\.retention: must be how many/],
    [{ retention: '-1' }, /^spec\.backup\.retention: must be how many/],
    [{ retention: '' }, /^spec\.backup\.retention: must be how many/],
  ])('refuses %j with a clear message', (extra, message) => {
    const r = backupSpec(extra);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(message);
  });

  it('the CRD refuses them too: the schedule\'s shape, and a count or an age (int-or-string)', () => {
    const schedule = field('schedule');
    expect(schedule['x-kubernetes-validations'][0]).toMatchObject({ rule: `self.matches('${SCHEDULE.source.replace(/\\/g, '\\\\')}')`, message: expect.stringContaining('5 fields') });
    const retention = field('retention');
    expect(retention['x-kubernetes-int-or-string']).toBe(true);
    expect(retention['x-kubernetes-validations'][0].rule).toBe("type(self) == int ? self >= 1 && self <= 9999 : self.matches('^[1-9][0-9]{0,3}[hd]?$')");
  });
});

describe('RedisBackup spec', () => {
  it('needs the name of a resource', () => {
    expect(backupSpecSchema.safeParse({ replication: 'cache' }).success).toBe(true);
    expect(backupSpecSchema.safeParse({}).success).toBe(false);
    expect(backupSpecSchema.safeParse({ replication: 'Not.A.Name' }).success).toBe(false);
  });
});
