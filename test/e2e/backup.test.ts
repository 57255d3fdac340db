// Backups on the local cluster, into its object store (.cluster/s3.env): a RedisBackup of a resource
// with data ends Completed with the SHA-256 of what is stored, streamed from a replica; its dump.rdb,
// loaded into a server on this machine, holds exactly the keys written before the backup, none of
// those written after. Restored as a new resource, the backup is exactly what its primary and its
// replicas hold. Retention (count 1) deletes the older of two backups' files in the store, then its
// RedisBackup, and leaves the newer. Wrong keys end Failed with the store's refusal as the reason.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { objectStoreEnvFile, parseEnv } from '../../hack/local-cluster/object-store.js';
import { BACKUP_PLURAL, type RedisBackup } from '../../src/api/backup.js';
import { GROUP, VERSION, type ObjectStore } from '../../src/api/schema.js';
import { s3Client } from '../../src/backup/object-store.js';
import { isNotFound } from '../../src/kube/client.js';
import { kubectl, waitFor } from './support/cluster.js';
import { settle } from './support/invariants.js';
import { api, createAllowedSecret, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const PASSWORD = 'backup-e2e-password-7c1d';
const fixture = operatorNamespace('backup');
/** The Redis of the host's Debian package, 7.0: it loads the RDB of the image redis:7.0. */
const HOST_REDIS = '/usr/bin/redis-server';

async function createBackup(ns: string, name: string, replication: string): Promise<void> {
  await api().custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace: ns,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RedisBackup', metadata: { name }, spec: { replication } },
  });
}

/** The RedisBackup, or undefined once it is gone. */
async function backupOf(ns: string, name: string): Promise<RedisBackup | undefined> {
  return api().custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace: ns, name }).then(
    (b) => b as RedisBackup,
    (e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    },
  );
}

/** Waits until the backup has ended; returns it. */
async function ended(ns: string, name: string): Promise<RedisBackup> {
  let last: RedisBackup | undefined;
  await waitFor(async () => {
    last = (await api().custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace: ns, name })) as RedisBackup;
    return last.status?.phase === 'Completed' || last.status?.phase === 'Failed';
  }, { timeoutMs: 120_000, intervalMs: 500, what: `RedisBackup ${name} to end (last status: ${JSON.stringify(last?.status ?? {})})` });
  return last!;
}

/** The keys of an RDB file, as a redis-server of this machine loads it (loopback, stopped by PID). */
async function keysOf(rdb: Buffer): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rro-backup-e2e-'));
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  writeFileSync(join(dir, 'dump.rdb'), rdb);
  const server = spawn(HOST_REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await waitFor(async () => redisCommand('127.0.0.1', ['PING'], undefined, port).then(() => true, () => false), { timeoutMs: 20_000, intervalMs: 100, what: 'the host redis-server' });
    return ((await redisCommand('127.0.0.1', ['KEYS', '*'], undefined, port)) as string[]).sort();
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!localCluster)('backups to the local object store', () => {
  const s3 = localCluster ? parseEnv(readFileSync(objectStoreEnvFile(), 'utf8')) : {};
  const store = (credentialsSecret: string) => ({ endpoint: s3['S3_ENDPOINT'], bucket: s3['S3_BUCKET'], path: `e2e/${fixture.ns}`, region: s3['S3_REGION'], credentialsSecret });

  it('a RedisBackup holds exactly the keys written before it, streamed from a replica, with its SHA-256', async () => {
    const { ns } = fixture;
    await createAllowedSecret(ns, 'bk-auth', 'bk', { password: PASSWORD });
    await createAllowedSecret(ns, 's3', 'bk', { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    await createRR(ns, 'bk', { image: 'redis:7.0', replicas: 2, auth: { secretName: 'bk-auth' }, backup: { objectStore: store('s3') } });
    await waitReady(ns, 'bk');
    const primaryIP = (await getRR(ns, 'bk')).status!.nodes!.find((n) => n.role === 'primary')!.podIP!;
    const before = Array.from({ length: 500 }, (_, i) => `before:${i}`);
    await redisCommand(primaryIP, ['MSET', ...before.flatMap((k) => [k, `v-${k}`])], PASSWORD);
    await settle(ns, 'bk', PASSWORD);
    // Every replica has every key now: whichever the backup streams from holds them.
    await waitFor(async () => (await getRR(ns, 'bk')).status!.nodes!.every((n) => n.role === 'primary' || n.lagBytes === 0), { what: 'replicas caught up' });

    await createBackup(ns, 'bk-1', 'bk');
    const backup = await ended(ns, 'bk-1');
    expect(backup.status, JSON.stringify(backup.status)).toMatchObject({ phase: 'Completed', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), rdbVersion: 10 });
    const rr = await getRR(ns, 'bk');
    expect(rr.status!.nodes!.find((n) => n.name === backup.status!.sourcePod)?.role).toBe('replica');
    await redisCommand(primaryIP, ['MSET', ...Array.from({ length: 100 }, (_, i) => [`after:${i}`, 'x']).flat()], PASSWORD);

    const client = s3Client(store('s3') as ObjectStore, { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    const object = await client.send(new GetObjectCommand({ Bucket: backup.status!.bucket!, Key: backup.status!.key! }));
    const rdb = Buffer.from(await object.Body!.transformToByteArray());
    client.destroy();
    expect(createHash('sha256').update(rdb).digest('hex')).toBe(backup.status!.sha256);
    expect(rdb.length).toBe(backup.status!.size);
    expect(await keysOf(rdb)).toEqual([...before].sort());
  });

  it('restored as a new resource: its primary and replica hold exactly the backup\'s keys; an image too old for the RDB is refused before it loads anything', async () => {
    const { ns } = fixture;
    // A Secret allows one resource: the restored one reads the store with its own.
    await createAllowedSecret(ns, 's3-rs', 'rs', { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    await createAllowedSecret(ns, 'rs-auth', 'rs', { password: PASSWORD });
    const t0 = Date.now();
    await createRR(ns, 'rs', { image: 'redis:7.0', replicas: 1, auth: { secretName: 'rs-auth' }, backup: { objectStore: store('s3-rs') }, bootstrap: { recovery: { backup: 'bk-1' } } });
    await waitReady(ns, 'rs');
    const rr = await getRR(ns, 'rs');
    console.log(`[backup] restore of bk-1 (${(await ended(ns, 'bk-1')).status!.size} bytes) to Ready: ${Date.now() - t0} ms`);
    expect(rr.status!.restore).toMatchObject({ phase: 'Completed', backup: 'bk-1', keys: 500 });
    expect(rr.status!.nodes).toHaveLength(2);
    const before = Array.from({ length: 500 }, (_, i) => `before:${i}`).sort();
    for (const node of rr.status!.nodes!) {
      expect(((await redisCommand(node.podIP!, ['KEYS', '*'], PASSWORD)) as string[]).sort(), node.name).toEqual(before);
    }
    expect(await redisCommand(rr.status!.nodes!.find((n) => n.role === 'primary')!.podIP!, ['GET', 'before:7'], PASSWORD)).toBe('v-before:7');

    // Redis 6.2 loads RDB 9 at most; the backup is 10.
    await createAllowedSecret(ns, 's3-old', 'old', { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    await createRR(ns, 'old', { image: 'redis:6.2', replicas: 1, auth: { enabled: false }, backup: { objectStore: store('s3-old') }, bootstrap: { recovery: { backup: 'bk-1' } } });
    await waitFor(async () => (await getRR(ns, 'old')).status?.restore?.phase === 'Failed', { timeoutMs: 120_000, what: 'the restore into redis:6.2 refused' });
    const old = await getRR(ns, 'old');
    expect(old.status!.restore).toMatchObject({ reason: 'RdbVersionUnsupported', message: expect.stringMatching(/redis 6\.2\.\d+ cannot load RDB version 10/) });
    expect(old.status!.primary).toBeUndefined();
    const pods = await api().core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=old' });
    expect(pods.items).toHaveLength(1);
    expect(await redisCommand(pods.items[0]!.status!.podIP!, ['DBSIZE'])).toBe(0);
  });

  it('retention deletes the stored files of a backup it no longer keeps, then the RedisBackup; the newest stays, files and all', async () => {
    const { ns } = fixture;
    await createAllowedSecret(ns, 'ret-s3', 'ret', { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    await createRR(ns, 'ret', { image: 'redis:7.0', replicas: 1, backup: { objectStore: store('ret-s3') } });
    await waitReady(ns, 'ret');
    // By hand rather than with a schedule, which would take a minute a backup.
    await createBackup(ns, 'ret-1', 'ret');
    const older = await ended(ns, 'ret-1');
    await createBackup(ns, 'ret-2', 'ret');
    const newer = await ended(ns, 'ret-2');
    expect([older.status?.phase, newer.status?.phase]).toEqual(['Completed', 'Completed']);
    const folder = (b: RedisBackup) => b.status!.key!.slice(0, -'dump.rdb'.length);
    expect(folder(older)).not.toBe(folder(newer));

    const client = s3Client(store('ret-s3') as ObjectStore, { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
    const objects = async (prefix: string) => ((await client.send(new ListObjectsV2Command({ Bucket: s3['S3_BUCKET'], Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
    try {
      for (const b of [older, newer]) expect(await objects(folder(b))).toEqual([`${folder(b)}dump.rdb`, `${folder(b)}manifest.json`]);

      await kubectl(['-n', ns, 'patch', 'rr/ret', '--type=merge', '-p', '{"spec":{"backup":{"retention":1}}}']);
      // The files go in the background; the RedisBackup at a later pass (the resync, 30 s).
      await waitFor(async () => (await backupOf(ns, 'ret-1')) === undefined, { timeoutMs: 120_000, intervalMs: 1000, what: 'RedisBackup ret-1 deleted by retention' });
      expect(await objects(folder(older))).toEqual([]);
      expect(await objects(folder(newer))).toEqual([`${folder(newer)}dump.rdb`, `${folder(newer)}manifest.json`]);
      expect((await backupOf(ns, 'ret-2'))?.status?.phase).toBe('Completed');
    } finally {
      client.destroy();
    }
  }, 400_000);

  it('wrong keys: Failed, with the object store\'s refusal as the reason', async () => {
    const { ns } = fixture;
    await createAllowedSecret(ns, 'bad-s3', 'bad', { accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: 'not-the-secret-key' });
    await createRR(ns, 'bad', { image: 'redis:7.0', replicas: 1, backup: { objectStore: store('bad-s3') } });
    await waitReady(ns, 'bad');
    await createBackup(ns, 'bad-1', 'bad');
    const backup = await ended(ns, 'bad-1');
    expect(backup.status).toMatchObject({ phase: 'Failed', reason: 'ObjectStoreRefused', message: expect.stringContaining('403') });
    expect(backup.status!.sha256).toBeUndefined();
  });
});
